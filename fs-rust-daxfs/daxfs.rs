// SPDX-License-Identifier: GPL-2.0-only

//! daxfs: a filesystem for persistent memory with sealed extents.
//!
//! This is the crate root of the kernel module. The filesystem proper is
//! added on top of the Rust VFS abstractions in `kernel::fs`.

use kernel::prelude::*;

module! {
    type: DaxFs,
    name: "daxfs",
    authors: ["daxfs developers"],
    description: "daxfs persistent memory filesystem",
    license: "GPL",
}

struct DaxFs;

impl kernel::Module for DaxFs {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        pr_info!("daxfs: module loaded (no filesystem type registered yet)\n");
        Ok(DaxFs)
    }
}

// SPDX-License-Identifier: GPL-2.0-only

//! daxfs: a filesystem for persistent memory with sealed extents.
//!
//! This is the crate root of the kernel module. The filesystem is written against the Rust VFS
//! abstractions in `kernel::fs` and uses no C bindings directly; its on-disk format is the
//! `format` module tree, compiled from the same source files as the userspace tools.
//!
//! Modules:
//! - [`mount`]: the filesystem type, mount options, superblock validation, `statfs`.
//! - [`inode`]: reading inodes into the inode cache, `getattr`, symlink targets.
//! - [`dir`]: `lookup` and `readdir`.
//! - [`file`]: DAX reads of regular files, the extent-to-iomap mapping.
//! - [`pmem`]: the persistent memory access layer.

#[path = "format/mod.rs"]
#[allow(dead_code)]
pub mod format;

mod dir;
mod file;
mod inode;
mod mount;
mod pmem;

#[cfg(CONFIG_DAXFS_KUNIT_TEST)]
mod tests;

use kernel::{fs, prelude::*};

module! {
    type: DaxFsModule,
    name: "daxfs",
    authors: ["daxfs developers"],
    description: "daxfs persistent memory filesystem",
    license: "GPL",
}

impl kernel::fmt::Display for format::Error {
    fn fmt(&self, f: &mut kernel::fmt::Formatter<'_>) -> kernel::fmt::Result {
        core::fmt::Display::fmt(self, f)
    }
}

#[pin_data]
struct DaxFsModule {
    #[pin]
    fs: fs::Registration,
}

impl kernel::InPlaceModule for DaxFsModule {
    fn init(module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            fs <- fs::Registration::new::<mount::DaxFs>(module),
        })
    }
}

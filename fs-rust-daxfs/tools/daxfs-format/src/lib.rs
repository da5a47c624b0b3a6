// SPDX-License-Identifier: GPL-2.0

//! Userspace build of the daxfs on-disk format.
//!
//! The source lives in `fs-rust-daxfs/format/` and is compiled unchanged
//! by the kernel module; this crate only wraps it as a `no_std` library so
//! the tools, tests and fuzzers use exactly the same code.

#![no_std]

#[cfg(test)]
extern crate std;

#[path = "../../../format/mod.rs"]
pub mod format;

pub use format::*;

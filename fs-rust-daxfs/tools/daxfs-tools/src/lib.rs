// SPDX-License-Identifier: GPL-2.0

//! Shared code of the daxfs userspace tools (`mkfs.daxfs`, `fsck.daxfs`,
//! `dump.daxfs`, `fuzzimg.daxfs`, `daxfs`): device access, an in-memory
//! allocator, a read/write [`daxfs_format::btree::NodeStore`] over an image, a
//! read-only reader ([`fs::Fs`]), the mkfs, fsck, dump and image fuzzer
//! ([`fuzz`]) implementations, and the sealing command line ([`seal`]). All
//! on-disk structures are encoded and decoded by the shared `daxfs_format`
//! crate.

pub mod alloc;
pub mod dev;
pub mod dump;
pub mod fs;
pub mod fsck;
pub mod fuzz;
pub mod mkfs;
pub mod seal;
pub mod util;

pub use daxfs_format as format;

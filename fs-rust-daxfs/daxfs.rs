// SPDX-License-Identifier: GPL-2.0-only

//! daxfs: a filesystem for persistent memory with sealed extents.
//!
//! This is the crate root of the kernel module. The filesystem is written against the Rust VFS
//! abstractions in `kernel::fs` and uses no C bindings directly; its on-disk format is the
//! `format` module tree, compiled from the same source files as the userspace tools.
//!
//! Modules:
//! - [`mount`]: the filesystem type, mount options, recovery, superblock, `statfs`.
//! - [`journal`]: transactions (every metadata change), committed before an operation returns.
//! - [`inode`]: the inode cache (reading inodes, symlink targets), `getattr`, lookups in the
//!   block map, eviction of orphans.
//! - [`inode_txn`]: the one way a change of inodes is committed: copies between VFS inodes and
//!   on-disk records, and which attributes need the inode lock.
//! - [`attr`]: `setattr`, the `chattr` flags, `dirty_inode`.
//! - [`truncate`]: truncation, and zeroing past the end of a file that grows.
//! - [`dir`]: `lookup`, `readdir` and the directory inode operations.
//! - [`namei`]: namespace changes: create, mknod, mkdir, symlink, link, unlink, rmdir, rename,
//!   `O_TMPFILE`.
//! - [`file`]: DAX reads and writes of regular files, block allocation for iomap, `fsync`.
//! - [`ahead`]: the policy for blocks allocated ahead of appending writes.
//! - [`falloc`]: `fallocate`: preallocation, hole punching, zeroing.
//! - [`bmap`]: the block map changes `fallocate` and sealing share (preallocate, free a range,
//!   set the size, keep faults out of a range).
//! - [`seal`]: sealing and unsealing block maps, and their recovery at mount.
//! - [`stats`]: per-mount counters and test knobs in `/sys/fs/daxfs/<device>/`.
//! - [`errors`]: what is done on corrupted metadata (`errors=`), rate-limited reports.
//! - [`pmem`]: the persistent memory access layer.

#[path = "format/mod.rs"]
mod format;

mod ahead;
mod attr;
mod bmap;
mod dir;
mod errors;
mod falloc;
mod file;
mod inode;
mod inode_txn;
mod journal;
mod mount;
mod namei;
mod pmem;
mod seal;
mod stats;
mod truncate;

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

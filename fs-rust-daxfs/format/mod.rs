// SPDX-License-Identifier: GPL-2.0

//! The daxfs on-disk format.
//!
//! This module tree is shared, file for file, by the kernel module
//! (`fs/daxfs/daxfs.rs` includes it with `#[path = "format/mod.rs"]`) and
//! by the userspace tools (`tools/daxfs-format`), so the layout can never
//! drift between them. It uses only `core`: no allocation, no `std`, no
//! external crates, no floating point and no `unsafe`. Every decoder takes
//! an arbitrary byte slice and returns a typed [`Error`] instead of
//! panicking; arithmetic on values read from the medium is checked.
//!
//! The layout is described field by field in `docs/on-disk-format.md`; the
//! `*_OFF_*` constants are asserted against that document by the tests.
//!
//! Submodules:
//! - [`crc32c`]: table-driven CRC-32C (Castagnoli) used by every checksum.
//! - [`siphash`]: SipHash-2-4, the keyed directory name hash.
//! - [`superblock`]: geometry, the superblock record and [`Layout`].
//! - [`inode`]: the 256-byte inode record.
//! - [`extent`]: extent records and the per-file extent map.
//! - [`btree`]: the generic 4 KiB B+tree node and tree algorithms.
//! - [`cache`]: the logic of the kernel's cache of verified B+tree nodes.
//! - [`dir`]: directory entries, name hashing and directory operations.
//! - `alloc` (userspace only): block/inode bitmaps and the per-2 MiB-group
//!   usage table, in memory.
//! - [`journal`]: the metadata redo journal.
//! - [`txn`]: transactions over a [`txn::Medium`], the block and inode
//!   allocators, the orphan list and mount-time recovery.
//! - [`ops`]: namespace and block-map operations (create, link, unlink,
//!   rename, allocate, truncate, free) inside one transaction.
//!
//! The kernel compiles this tree as a private module of fs/daxfs, with dead
//! code an error: it must use what it compiles. Items only the tools use are
//! left out of the kernel build with `#[cfg(not(CONFIG_DAXFS_FS))]`; items
//! stay `pub` for the userspace crate, which the kernel's `unreachable_pub`
//! would otherwise refuse. Without the KUnit tests, a few items are used by
//! nothing but those tests, so dead code is allowed in that configuration.
#![cfg_attr(CONFIG_DAXFS_FS, allow(unreachable_pub))]
#![cfg_attr(all(CONFIG_DAXFS_FS, not(CONFIG_DAXFS_KUNIT_TEST)), allow(dead_code))]

// In-memory bitmap helpers for mkfs and fsck; the kernel allocates through `txn`.
#[cfg(not(CONFIG_DAXFS_FS))]
pub mod alloc;
pub mod btree;
pub mod bytes;
pub mod cache;
pub mod crc32c;
pub mod dir;
pub mod error;
pub mod extent;
pub mod inode;
pub mod journal;
pub mod ops;
pub mod siphash;
pub mod superblock;
pub mod txn;

pub use error::{Error, Result};
pub use superblock::{FsCtx, Layout, Superblock};

/// Size of a filesystem block in bytes. Fixed: every area is addressed in
/// these units.
pub const BLOCK_SIZE: usize = 4096;
/// `log2(BLOCK_SIZE)`.
pub const BLOCK_SHIFT: u32 = 12;
/// [`BLOCK_SIZE`] as a `u64`, for byte-offset arithmetic.
pub const BLOCK_SIZE_U64: u64 = 4096;
/// Blocks per allocation group: one 2 MiB huge page.
pub const GROUP_BLOCKS: u64 = 512;

/// One filesystem block, the unit in which nodes are read and written.
pub type Block = [u8; BLOCK_SIZE];

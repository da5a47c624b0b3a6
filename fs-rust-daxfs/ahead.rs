// SPDX-License-Identifier: GPL-2.0

//! Blocks allocated ahead of appending writes: how many ([`ahead_blocks`]), and freeing what
//! a file has not grown into ([`trim_ahead`]). The range is recorded in the in-core inode
//! ([`crate::inode::InodeInfo::ahead`]); [`crate::file`] allocates it.

use crate::{bmap::free_range, format::BLOCK_SIZE_U64, mount::DaxFs};
use kernel::{fs::inode::Locked, prelude::*};

/// Blocks allocated ahead of an appending write at least (64 KiB) and at most (1 MiB).
const AHEAD_MIN: u64 = 16;
const AHEAD_MAX: u64 = 256;

/// How many blocks to allocate, past the `want` blocks it needs, for a write appending at block
/// `lblk` (past every extent of the file) when `free` blocks are free. Every allocation is a
/// synchronous transaction, so appending in small writes would commit one per block; allocating
/// ahead as much as the file already has (16 to 256 blocks, as XFS's speculative preallocation
/// grows with the file) makes it one per 64 KiB to 1 MiB. Nothing is allocated ahead when free
/// space is short (less than 64 times the amount), so that the blocks held ahead by open files
/// never make another allocation fail.
pub(crate) fn ahead_blocks(lblk: u64, want: u64, free: u64) -> u64 {
    let ahead = lblk.clamp(AHEAD_MIN, AHEAD_MAX);
    if want >= ahead || free / 64 < ahead {
        0
    } else {
        ahead - want
    }
}

/// Frees the blocks allocated ahead of appending writes that are still past the end of the
/// file (in bounded transactions, like a punch), and forgets them. Blocks past the end cannot
/// be mapped, so no mapping needs removing.
pub(crate) fn trim_ahead(inode: &Locked<'_, DaxFs>) -> Result {
    let (start, end) = inode.data().ahead();
    if end <= start {
        return Ok(());
    }
    let eof = u64::try_from(inode.size())
        .unwrap_or(0)
        .div_ceil(BLOCK_SIZE_U64);
    free_range(inode, start.max(eof), end)?;
    inode.data().set_ahead(0, 0);
    Ok(())
}

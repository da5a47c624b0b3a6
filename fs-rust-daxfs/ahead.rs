// SPDX-License-Identifier: GPL-2.0

//! Blocks allocated ahead of appending writes: how many ([`ahead_blocks`]), and freeing what
//! a file has not grown into ([`trim_ahead`]). The range is recorded in the in-core inode
//! ([`crate::inode::InodeInfo::ahead`]); [`crate::file`] allocates it.

use crate::{
    bmap::free_range,
    format::{BLOCK_SIZE_U64, GROUP_BLOCKS},
    mount::DaxFs,
};
use kernel::{fs::inode::Locked, prelude::*};

/// Blocks allocated ahead of an appending write at least (64 KiB) and at most (1 MiB); a file
/// smaller than the least gets none.
const AHEAD_MIN: u64 = 16;
const AHEAD_MAX: u64 = 256;

/// How many blocks to allocate, past the `want` blocks it needs, for a write appending at block
/// `lblk` (past every extent of the file) when `free` blocks are free. Every allocation is a
/// synchronous transaction, so appending in small writes would commit one per block; allocating
/// ahead as much as the file already has (16 to 256 blocks, as XFS's speculative preallocation
/// grows with the file) makes it one per 64 KiB to 1 MiB. Nothing is allocated ahead of a file
/// smaller than 64 KiB: as XFS, whose preallocation starts at its `allocsize` (64 KiB), most
/// small files are written once, and the blocks held ahead of each would cost their zeroing, a
/// transaction at the last close to free them, and free space cut into holes too short for
/// the next file's. Nor when free space is short (less than 64 times the amount), so that the
/// blocks held ahead by open files never make another allocation fail.
///
/// Once the amount is at its most (the file has 1 MiB), the allocation ends at a 2 MiB boundary
/// of the file when it crosses one, so that the next append's allocation starts a 2 MiB chunk
/// and, being half a chunk, is placed in the file's 2 MiB phase (`Txn::alloc_file_blocks`):
/// without it, one short run (free space running out in a partly used group) shifts every
/// later allocation off the chunk boundaries, and a file written by small appends never gets
/// huge-page faults.
pub(crate) fn ahead_blocks(lblk: u64, want: u64, free: u64) -> u64 {
    if lblk < AHEAD_MIN {
        return 0;
    }
    let ahead = lblk.min(AHEAD_MAX);
    if want >= ahead || free / 64 < ahead {
        return 0;
    }
    let n = ahead - want;
    if ahead == AHEAD_MAX {
        let end = (lblk + want + n) & !(GROUP_BLOCKS - 1);
        if end > lblk + want {
            return end - lblk - want;
        }
    }
    n
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

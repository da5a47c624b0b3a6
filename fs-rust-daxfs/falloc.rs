// SPDX-License-Identifier: GPL-2.0

//! `fallocate(2)`: preallocation (`0`, `FALLOC_FL_KEEP_SIZE`), `FALLOC_FL_PUNCH_HOLE` and
//! `FALLOC_FL_ZERO_RANGE`.
//!
//! Preallocated blocks are UNWRITTEN extents: they read as zeros without being zeroed, and a
//! write or a write fault zeroes and converts them (`file.rs`). Punching frees the whole
//! blocks of the range and zeroes the partial ones at its edges; zeroing punches the range and
//! preallocates it again, so its whole blocks end up UNWRITTEN (as on ext4 and XFS). Every change of the block map is a
//! transaction of bounded size, so each step leaves a consistent filesystem. A sealed file's
//! block map cannot change: every mode fails with `ETXTBSY`. Collapsing, inserting and
//! unsharing ranges are not supported (`EOPNOTSUPP`). Sealing and unsealing are in `seal.rs`.

use crate::{
    file::MAX_ALLOC_BLOCKS,
    format::{
        extent::{map_next, EXTENT_UNWRITTEN},
        ops, BLOCK_SIZE_U64,
    },
    inode::{map_txn, next_extent, raw_to_vfs, vfs_to_raw, FREE_BUDGET},
    mount::DaxFs,
};
use kernel::{
    fs::{
        dax::{self, InvalidateGuard},
        file::{self, falloc, File},
        inode::INode,
        Offset,
    },
    prelude::*,
};

/// `fallocate(2)` on a regular file.
pub(crate) fn fallocate(
    file: &File,
    inode: &INode<DaxFs>,
    mode: i32,
    offset: Offset,
    len: Offset,
) -> Result {
    let start = u64::try_from(offset).map_err(|_| EINVAL)?;
    let end = u64::try_from(len)
        .ok()
        .and_then(|l| start.checked_add(l))
        .ok_or(EINVAL)?;
    // The VFS passes each of these alone, and only with a privileged caller.
    if mode == falloc::SEAL_BLOCK_MAP {
        return crate::seal::seal(file, inode, end);
    }
    if mode == falloc::UNSEAL_BLOCK_MAP {
        return crate::seal::unseal(inode);
    }
    let supported = falloc::KEEP_SIZE | falloc::PUNCH_HOLE | falloc::ZERO_RANGE;
    if mode & !supported != 0 {
        return Err(EOPNOTSUPP);
    }
    let keep = mode & falloc::KEEP_SIZE != 0;
    let locked = inode.lock();
    if inode.data().get().is_sealed() {
        return Err(ETXTBSY);
    }
    let size = u64::try_from(inode.size()).unwrap_or(0);
    if !keep && end > size {
        inode.newsize_ok(end.try_into()?)?;
    }
    file::modified(file, &locked)?;
    // Blocks allocated ahead of appending writes are not the caller's preallocation: free them
    // first, so that none is kept past the end in their name or counted by the ENOSPC check.
    crate::file::trim_ahead(inode)?;
    if mode & falloc::PUNCH_HOLE != 0 {
        // The VFS only accepts punching together with KEEP_SIZE. Blocks preallocated past the
        // end of the file are freed too, as XFS does.
        return punch(inode, start, end, size);
    }
    if mode & falloc::ZERO_RANGE != 0 {
        // As ext4 and XFS do, the whole blocks become UNWRITTEN: punched here, preallocated
        // below (a crash in between leaves holes, which read as zeros too).
        punch(inode, start, end, size)?;
    }
    preallocate(inode, start / BLOCK_SIZE_U64, end.div_ceil(BLOCK_SIZE_U64))?;
    if !keep && end > size {
        crate::inode::zero_past_eof(inode, size, end)?;
        set_size(inode, end)?;
    }
    Ok(())
}

/// Counts the blocks of `[lblk, end)` that are holes.
fn hole_blocks(inode: &INode<DaxFs>, mut lblk: u64, end: u64) -> Result<u64> {
    let mut holes = 0;
    while lblk < end {
        match next_extent(inode, lblk)? {
            Some(e) if e.lblk < end => {
                holes += e.lblk.saturating_sub(lblk);
                lblk = e.lend();
            }
            _ => {
                holes += end - lblk;
                lblk = end;
            }
        }
    }
    Ok(holes)
}

/// Gives every hole of blocks `[lblk, end)` UNWRITTEN blocks, one bounded transaction per
/// hole (or per `MAX_ALLOC_BLOCKS` of one); mapped blocks cost no transaction. A request for more blocks than are free fails with `ENOSPC` before allocating any
/// (a concurrent allocation can still make it fail part way, keeping what was allocated).
pub(crate) fn preallocate(inode: &INode<DaxFs>, mut lblk: u64, end: u64) -> Result {
    let sb = inode.super_block();
    let info = sb.data().get_ref();
    if hole_blocks(inode, lblk, end)? > info.journal.sb().free_blocks {
        return Err(ENOSPC);
    }
    while lblk < end {
        // Skip what is already mapped without a transaction; the transaction looks again,
        // since a page fault may fill a hole meanwhile.
        if let Some(e) = next_extent(inode, lblk)? {
            if e.contains(lblk) {
                lblk = e.lend();
                continue;
            }
        }
        lblk = map_txn(inode, |t, s, raw| {
            let ctx = t.ctx();
            Ok(match map_next(raw, inode.ino(), &ctx, t, s, lblk)? {
                Some(e) if e.contains(lblk) => e.lend(),
                n => {
                    let hole_end = n.map_or(end, |e| e.lblk.min(end));
                    let want = (hole_end - lblk).min(MAX_ALLOC_BLOCKS);
                    ops::op_alloc(t, s, inode.ino(), raw, lblk, want, true)?.lend()
                }
            })
        })?;
    }
    Ok(())
}

/// Records a new size in a transaction (the blocks are already allocated).
pub(crate) fn set_size(inode: &INode<DaxFs>, size: u64) -> Result {
    let sb = inode.super_block();
    let info = sb.data();
    info.journal.run(
        &info.pmem,
        |t, _| {
            let mut raw = vfs_to_raw(inode, inode.data().get());
            raw.size = size;
            t.write_inode(inode.ino(), &raw)?;
            Ok(raw)
        },
        |raw| raw_to_vfs(inode, raw),
    )
}

/// Zeroes, in place, the bytes of `[start, end)` that are in written extents (holes and
/// UNWRITTEN extents already read as zeros). The caller holds the invalidate lock and has
/// removed the range's mappings.
fn zero_bytes(inode: &INode<DaxFs>, start: u64, end: u64) -> Result {
    let info = inode.super_block().data().get_ref();
    let mut pos = start;
    while pos < end {
        let Some(e) = next_extent(inode, pos / BLOCK_SIZE_U64)? else {
            break;
        };
        let e_start = e.lblk * BLOCK_SIZE_U64;
        let from = pos.max(e_start);
        if from >= end {
            break;
        }
        let to = end.min(e.lend() * BLOCK_SIZE_U64);
        if e.flags & EXTENT_UNWRITTEN == 0 {
            let dev = e.pblk * BLOCK_SIZE_U64 + (from - e_start);
            info.pmem.zero(dev, (to - from).try_into()?)?;
        }
        pos = to;
    }
    dax::fence();
    Ok(())
}

/// Keeps page faults out of `[start, end)` (the returned guard), waits for pinned DAX pages and
/// removes the range's mappings, before its data is zeroed or its blocks freed.
pub(crate) fn unmap<'a>(
    inode: &'a INode<DaxFs>,
    start: u64,
    end: u64,
) -> Result<InvalidateGuard<'a, DaxFs>> {
    let guard = InvalidateGuard::new(inode);
    dax::break_layouts(&guard)?;
    inode.truncate_pagecache_range(start.try_into()?, (end - 1).try_into()?);
    Ok(guard)
}

/// Punches `[start, end)`: zeroes the partial blocks at the edges (below `size`, the file
/// size; past it the file reads as nothing) and frees the whole ones.
fn punch(inode: &INode<DaxFs>, start: u64, end: u64, size: u64) -> Result {
    if start >= end {
        return Ok(());
    }
    let first = start.div_ceil(BLOCK_SIZE_U64);
    let last = end / BLOCK_SIZE_U64;
    let _guard = unmap(inode, start, end)?;
    if first >= last {
        return zero_bytes(inode, start, end.min(size));
    }
    zero_bytes(inode, start, (first * BLOCK_SIZE_U64).min(size))?;
    zero_bytes(inode, last * BLOCK_SIZE_U64, end.min(size))?;
    free_range(inode, first, last)
}

/// Frees the blocks of `[first, last)` of the file, in transactions of bounded size. The
/// caller holds the inode lock and has removed any mapping of the range.
pub(crate) fn free_range(inode: &INode<DaxFs>, first: u64, last: u64) -> Result {
    if first >= last {
        return Ok(());
    }
    while !map_txn(inode, |t, s, raw| {
        ops::op_punch(t, s, inode.ino(), raw, first, last, FREE_BUDGET)
    })? {}
    Ok(())
}

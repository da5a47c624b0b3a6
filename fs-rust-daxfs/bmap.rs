// SPDX-License-Identifier: GPL-2.0

//! Changes of a regular file's block map that `fallocate`, sealing and the release of blocks
//! allocated ahead share: preallocating holes, freeing ranges, recording a new size, and
//! keeping page faults out of a range while it changes. Each is made of bounded transactions
//! through [`inode_txn`], and the format's operations refuse every change of a sealed range
//! (`ETXTBSY`). The caller holds the inode lock, which the [`Locked`] arguments prove.

use crate::{
    file::MAX_ALLOC_BLOCKS,
    format::{extent::map_next, ops},
    inode::next_extent,
    inode_txn::inode_txn,
    mount::DaxFs,
    truncate::FREE_BUDGET,
};
use kernel::{
    fs::{
        dax::{self, InvalidateGuard},
        inode::{INode, Locked},
    },
    prelude::*,
};

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
/// hole (or per `MAX_ALLOC_BLOCKS` of one); mapped blocks cost no transaction. A request for
/// more blocks than are free fails with `ENOSPC` before allocating any (a concurrent
/// allocation can still make it fail part way, keeping what was allocated).
pub(crate) fn preallocate(inode: &Locked<'_, DaxFs>, mut lblk: u64, end: u64) -> Result {
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
        lblk = inode_txn(inode, |t, s, raw| {
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
pub(crate) fn set_size(inode: &Locked<'_, DaxFs>, size: u64) -> Result {
    inode_txn(inode, |t, _, raw| {
        raw.size = size;
        t.write_inode(inode.ino(), raw)
    })
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

/// Frees the blocks of `[first, last)` of the file, in transactions of bounded size. The
/// caller has removed any mapping of the range.
pub(crate) fn free_range(inode: &Locked<'_, DaxFs>, first: u64, last: u64) -> Result {
    if first >= last {
        return Ok(());
    }
    while !inode_txn(inode, |t, s, raw| {
        ops::op_punch(t, s, inode.ino(), raw, first, last, FREE_BUDGET)
    })? {}
    Ok(())
}

// SPDX-License-Identifier: GPL-2.0

//! Size changes of regular files: truncation, which frees the blocks past the new end, and the
//! zeroing that makes what lies past the old end read as zeros when a file grows.

use crate::{
    format::{
        extent::{map_lookup, EXTENT_UNWRITTEN},
        ops, BLOCK_SIZE, BLOCK_SIZE_U64,
    },
    inode::{corrupt, next_extent},
    inode_txn::inode_txn,
    mount::DaxFs,
};
use kernel::{
    fs::{
        dax::{self, InvalidateGuard},
        inode::{INode, Locked},
    },
    prelude::*,
};

/// Extents removed or freed per transaction by truncation and inode freeing: bounds the size
/// of each transaction (every step leaves a consistent filesystem).
pub(crate) const FREE_BUDGET: usize = 16;

/// Zeroes the bytes of the file's block containing byte `pos` from `pos` to the end of the
/// block, if that block is allocated and written: bytes past the end of the file must read as
/// zeros when the file grows again.
fn zero_tail(inode: &INode<DaxFs>, pos: u64) -> Result {
    let off = (pos % BLOCK_SIZE_U64) as usize;
    if off == 0 {
        return Ok(());
    }
    let sb = inode.super_block();
    let info = sb.data().get_ref();
    let lblk = pos / BLOCK_SIZE_U64;
    // The map is read under the on-disk inode's lock, as in `next_extent`: a write fault may
    // be committing an allocation in this file meanwhile (an extending write holds `i_rwsem`,
    // not the invalidate lock), and its transaction rewrites the nodes of the map.
    let e = {
        let raw = inode.data().lock();
        info.scratch
            .with(|s| map_lookup(&raw, inode.ino(), &info.ctx, &mut info.store(), s, lblk))?
            .map_err(|e| corrupt(sb, inode.ino(), e))?
    };
    match e {
        Some(e) if e.flags & EXTENT_UNWRITTEN == 0 => {
            let pblk = e.map(lblk).ok_or(EUCLEAN)?;
            info.pmem
                .zero(pblk * BLOCK_SIZE_U64 + off as u64, BLOCK_SIZE - off)?;
            dax::fence();
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Before the file grows from `old` to `new` bytes: makes what lies between read as zeros.
/// The tail of the old last block is zeroed ([`zero_tail`]), and so is every written block
/// past it and before `new` except the blocks allocated ahead of appends
/// ([`InodeInfo::ahead`]), which are zero: they were zeroed when allocated and nothing writes
/// past the end of a file. Other written blocks past the end exist only after a crash, when a
/// write had copied its data but its new size was not committed; growing the file must not show
/// that data (holes and UNWRITTEN extents already read as zeros). The caller holds the inode
/// lock.
pub(crate) fn zero_past_eof(inode: &INode<DaxFs>, old: u64, new: u64) -> Result {
    if new <= old {
        return Ok(());
    }
    zero_tail(inode, old)?;
    let info = inode.super_block().data().get_ref();
    let (a_start, a_end) = inode.data().ahead();
    let mut lblk = old.div_ceil(BLOCK_SIZE_U64);
    let end = new.div_ceil(BLOCK_SIZE_U64);
    let mut zeroed = false;
    while lblk < end {
        let Some(e) = next_extent(inode, lblk)? else {
            break;
        };
        if e.lblk >= end {
            break;
        }
        let from = lblk.max(e.lblk);
        let to = e.lend().min(end);
        if e.flags & EXTENT_UNWRITTEN == 0 {
            // The parts of [from, to) outside the range allocated ahead.
            for (s, t) in [(from, to.min(a_start)), (from.max(a_end), to)] {
                if s < t {
                    let pblk = e.pblk + (s - e.lblk);
                    info.pmem.zero(
                        pblk * BLOCK_SIZE_U64,
                        ((t - s) * BLOCK_SIZE_U64).try_into()?,
                    )?;
                    zeroed = true;
                }
            }
        }
        lblk = to;
    }
    if zeroed {
        dax::fence();
    }
    Ok(())
}

/// Changes the size of a regular file: shrinking frees the blocks past the new end (in as
/// many transactions as needed, each consistent) after zeroing the tail of the last block;
/// growing only records the size (the new range is a hole). Page faults are kept out (the
/// mapping's invalidate lock) and pinned DAX pages waited for before any block is freed.
pub(crate) fn truncate(inode: &Locked<'_, DaxFs>, size: i64) -> Result {
    let new = u64::try_from(size).map_err(|_| EINVAL)?;
    let old = u64::try_from(inode.size()).unwrap_or(0);
    if inode.data().get().is_sealed() {
        return Err(ETXTBSY);
    }
    let guard = InvalidateGuard::new(inode);
    dax::break_layouts(&guard)?;
    if new < old {
        zero_tail(inode, new)?;
        // Removes mappings of the pages past the end before their blocks are freed.
        inode.truncate_setsize(size);
    } else {
        zero_past_eof(inode, old, new)?;
    }
    loop {
        // Under the on-disk inode's lock, as every change of the map: FIEMAP reads the map
        // without `i_rwsem`, holding only that lock.
        let done = inode_txn(inode, |t, s, raw| {
            ops::op_truncate(t, s, inode.ino(), raw, new, FREE_BUDGET)
        })?;
        if done {
            break;
        }
    }
    if new >= old {
        inode.truncate_setsize(size);
    }
    drop(guard);
    Ok(())
}

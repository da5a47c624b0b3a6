// SPDX-License-Identifier: GPL-2.0

//! Sealed block maps: `FALLOC_FL_SEAL_BLOCK_MAP` and `FALLOC_FL_UNSEAL_BLOCK_MAP`.
//!
//! Sealing makes every block of the file up to the end of the range allocated, zeroed and
//! written and frees the blocks past the end (ordinary transactions: what a failed or crashed
//! seal allocated stays as preallocation). Then, under an intent (`INODE_FLAG_SEAL_INTENT`,
//! which puts the inode on the orphan list), it sets `EXTENT_SEALED` on every extent in
//! bounded transactions, and last sets `INODE_FLAG_SEALED` and clears the intent in one
//! transaction, mirrored in the VFS inode (`S_IOMAP_IMMUTABLE`) once it has committed. From
//! then on the format's map functions refuse every change of the map (`ETXTBSY`), the VFS
//! refuses size changes and extending writes, and a write fault finds every block written, so
//! it never allocates and never needs a metadata sync.
//!
//! Unsealing fails with `EBUSY` while the file has a writable shared mapping, whose owner may
//! rely on the seal, and denies new ones until the inode flag is cleared. Its first
//! transaction clears the inode flag and records the intent; the extent flags are cleared
//! after it, and the intent last.
//!
//! A crash anywhere in either sequence is rolled back by the next mount ([`recover`]): a file
//! whose intent is pending ends up not sealed, with no SEALED extent (`docs/on-disk-format.md`,
//! "Sealed files"). An error in the middle of sealing rolls back the same way at once.

use crate::{
    bmap::{free_range, preallocate, set_size, unmap},
    format::{
        extent::{EXTENT_UNWRITTEN, MAX_FILE_BLOCKS},
        inode::Inode,
        ops, BLOCK_SIZE_U64,
    },
    inode::next_extent,
    inode_txn::{fmt_time, inode_txn},
    mount::{DaxFs, SbInfo},
    truncate::FREE_BUDGET,
};
use kernel::{
    fs::{
        file::{self, File},
        inode::{flags, INode, Locked},
    },
    prelude::*,
};

/// Seals the block map of the file, first making it `end` bytes long if it is shorter. The
/// VFS has checked the caller's `CAP_LINUX_IMMUTABLE`. Sealing a sealed file succeeds without
/// changing anything unless it would grow the file (`ETXTBSY`).
pub(crate) fn seal(file: &File, inode: &INode<DaxFs>, end: u64) -> Result {
    let locked = inode.lock();
    let inode = &*locked;
    let size = u64::try_from(inode.size()).unwrap_or(0);
    if inode.data().get().is_sealed() {
        return if end > size { Err(ETXTBSY) } else { Ok(()) };
    }
    let new_size = size.max(end);
    if new_size > size {
        inode.newsize_ok(new_size.try_into()?)?;
    }
    file::modified(file, inode)?;
    // A seal rolled back after an error whose roll-back failed too: finish that first.
    if inode.data().get().seal_intent() {
        end_intent(inode)?;
    }
    crate::ahead::trim_ahead(inode)?;
    let blocks = new_size.div_ceil(BLOCK_SIZE_U64);
    // Faults stay out until the seal is set: none may allocate, and the zero pages mapped
    // for holes are removed before the holes get blocks.
    let guard = unmap(inode, 0, blocks * BLOCK_SIZE_U64)?;
    // Allocating first: a seal refused with ENOSPC leaves what lies past the end in place.
    preallocate(inode, 0, blocks)?;
    free_range(inode, blocks, MAX_FILE_BLOCKS)?;
    if new_size > size {
        crate::truncate::zero_past_eof(inode, size, new_size)?;
        set_size(inode, new_size)?;
    }
    convert_unwritten(inode, blocks)?;
    inode_txn(inode, |t, _, raw| ops::op_seal_begin(t, inode.ino(), raw))?;
    if let Err(e) = mark_extents(inode, true).and_then(|()| commit_seal(inode)) {
        if let Err(e2) = end_intent(inode) {
            pr_warn!(
                "{}: inode {}: cannot roll back a failed seal ({:?}); the next mount rolls it back\n",
                inode.super_block().id().to_str().unwrap_or("?"),
                inode.ino(),
                e2
            );
        }
        return Err(e);
    }
    drop(guard);
    Ok(())
}

/// Clears the seal of the file's block map (and finishes an unseal or a roll-back that an
/// error interrupted). Fails with `EBUSY` while the file has a writable shared mapping; from
/// that check until the inode flag is cleared, no new one can be created (`mmap` fails with
/// `EPERM`, as for a memfd with `F_SEAL_WRITE`).
pub(crate) fn unseal(inode: &INode<DaxFs>) -> Result {
    let locked = inode.lock();
    let inode = &*locked;
    let raw = inode.data().get();
    if raw.is_sealed() {
        let denied = inode.deny_writable_mappings().map_err(|_| EBUSY)?;
        inode.super_block().data().stats.unseal_window();
        let now = fmt_time(inode.current_time());
        inode_txn(inode, |t, _, raw| {
            ops::op_unseal_begin(t, inode.ino(), raw, now)
        })?;
        inode.set_flags(0, flags::IOMAP_IMMUTABLE);
        drop(denied);
    } else if !raw.seal_intent() {
        return Ok(());
    }
    end_intent(inode)
}

/// Zeroes the blocks of every UNWRITTEN extent below block `end` and makes them written, one
/// extent (of at most a conversion's worth of blocks) per transaction.
fn convert_unwritten(inode: &Locked<'_, DaxFs>, end: u64) -> Result {
    let info = inode.super_block().data();
    let mut lblk = 0;
    while lblk < end {
        let Some(e) = next_extent(inode, lblk)? else {
            break;
        };
        if e.flags & EXTENT_UNWRITTEN == 0 {
            lblk = e.lend();
            continue;
        }
        let from = e.lblk.max(lblk);
        let len = (e.lend().min(end) - from).min(crate::file::MAX_ALLOC_BLOCKS);
        info.pmem.zero_blocks(e.pblk + (from - e.lblk), len)?;
        inode_txn(inode, |t, s, raw| {
            ops::op_convert(t, s, inode.ino(), raw, from, len)
        })?;
        lblk = from + len;
    }
    Ok(())
}

/// Sets (`seal`) or clears `EXTENT_SEALED` on every extent of the file, in transactions of
/// bounded size, under a pending intent.
fn mark_extents(inode: &Locked<'_, DaxFs>, seal: bool) -> Result {
    let mut at = Some(0);
    while let Some(from) = at {
        at = inode_txn(inode, |t, s, raw| {
            ops::op_seal_extents(t, s, inode.ino(), raw, from, seal, FREE_BUDGET)
        })?;
    }
    Ok(())
}

/// The last transaction of a seal: sets the inode's SEALED flag and its change time and clears
/// the intent, and mirrors the flag in the VFS inode once the transaction has committed.
fn commit_seal(inode: &Locked<'_, DaxFs>) -> Result {
    let now = fmt_time(inode.current_time());
    inode_txn(inode, |t, s, raw| {
        ops::op_seal_inode(t, s, inode.ino(), raw, now)
    })?;
    inode.set_flags(flags::IOMAP_IMMUTABLE, flags::IOMAP_IMMUTABLE);
    Ok(())
}

/// Carries out a pending intent of an unsealed file: clears every extent's SEALED flag, then
/// the intent.
fn end_intent(inode: &Locked<'_, DaxFs>) -> Result {
    mark_extents(inode, false)?;
    inode_txn(inode, |t, s, raw| ops::op_seal_end(t, s, inode.ino(), raw))
}

/// Recovery at mount of inode `ino` (`raw`), found on the orphan list with links and a pending
/// seal intent (a seal or unseal interrupted by a crash): rolls it to *not sealed*, in bounded
/// transactions, as [`end_intent`] does for an inode in memory.
pub(crate) fn recover(info: &SbInfo, ino: u64, mut raw: Inode) -> Result {
    let mut at = Some(0);
    while let Some(from) = at {
        at = info.journal.run(
            &info.pmem,
            |t, s| ops::op_seal_extents(t, s, ino, &mut raw, from, false, FREE_BUDGET),
            |at| at,
        )?;
    }
    info.journal.run(
        &info.pmem,
        |t, s| ops::op_seal_end(t, s, ino, &mut raw),
        |()| (),
    )
}

// SPDX-License-Identifier: GPL-2.0

//! Sealed block maps: `FALLOC_FL_SEAL_BLOCK_MAP` and `FALLOC_FL_UNSEAL_BLOCK_MAP`.
//!
//! Sealing makes every block of the file up to the end of the range allocated, zeroed and
//! written, frees the blocks past the end, and then, in the documented order
//! (`docs/on-disk-format.md`, "Sealed files"), sets `EXTENT_SEALED` on every extent and last
//! `INODE_FLAG_SEALED` on the inode, mirrored in the VFS inode (`S_IOMAP_IMMUTABLE`) once that
//! transaction has committed. From then on the format's map functions refuse every change
//! of the map (`ETXTBSY`), the VFS refuses size changes and extending writes, and a write
//! fault finds every block written, so it never allocates and never needs a metadata sync.
//!
//! Unsealing clears the inode flag first, then the extent flags; it fails with `EBUSY` while
//! the file has a writable shared mapping, whose owner may rely on the seal. A crash in the
//! middle of either sequence leaves SEALED extents in an unsealed inode, which unsealing (or
//! fsck) clears.

use crate::{
    falloc,
    format::{
        extent::{EXTENT_UNWRITTEN, MAX_FILE_BLOCKS},
        ops, BLOCK_SIZE_U64,
    },
    inode::{fmt_time, map_txn, next_extent, FREE_BUDGET},
    mount::DaxFs,
};
use kernel::{
    fs::{
        file::{self, File},
        inode::{flags, INode},
    },
    prelude::*,
};

/// Seals the block map of the file, first making it `end` bytes long if it is shorter. The
/// VFS has checked the caller's `CAP_LINUX_IMMUTABLE`. Sealing a sealed file succeeds without
/// changing anything unless it would grow the file (`ETXTBSY`).
pub(crate) fn seal(file: &File, inode: &INode<DaxFs>, end: u64) -> Result {
    let locked = inode.lock();
    let size = u64::try_from(inode.size()).unwrap_or(0);
    if inode.data().get().is_sealed() {
        return if end > size { Err(ETXTBSY) } else { Ok(()) };
    }
    let new_size = size.max(end);
    if new_size > size {
        inode.newsize_ok(new_size.try_into()?)?;
    }
    file::modified(file, &locked)?;
    crate::file::trim_ahead(inode)?;
    let blocks = new_size.div_ceil(BLOCK_SIZE_U64);
    // Faults stay out until the seal is set: none may allocate, and the zero pages mapped
    // for holes are removed before the holes get blocks.
    let guard = falloc::unmap(inode, 0, blocks * BLOCK_SIZE_U64)?;
    // Allocating first: a seal refused with ENOSPC leaves what lies past the end in place.
    falloc::preallocate(inode, 0, blocks)?;
    falloc::free_range(inode, blocks, MAX_FILE_BLOCKS)?;
    if new_size > size {
        crate::inode::zero_past_eof(inode, size, new_size)?;
        falloc::set_size(inode, new_size)?;
    }
    convert_unwritten(inode, blocks)?;
    mark_extents(inode, true)?;
    set_inode_flag(inode, true)?;
    drop(guard);
    Ok(())
}

/// Clears the seal of the file's block map (and any SEALED extent a crash left in an
/// unsealed file). Fails with `EBUSY` while the file has a writable shared mapping.
pub(crate) fn unseal(inode: &INode<DaxFs>) -> Result {
    let _locked = inode.lock();
    if inode.data().get().is_sealed() {
        if inode.writably_mapped() {
            return Err(EBUSY);
        }
        set_inode_flag(inode, false)?;
    }
    mark_extents(inode, false)
}

/// Zeroes the blocks of every UNWRITTEN extent below block `end` and makes them written, one
/// extent (of at most a conversion's worth of blocks) per transaction.
fn convert_unwritten(inode: &INode<DaxFs>, end: u64) -> Result {
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
        map_txn(inode, |t, s, raw| {
            ops::op_convert(t, s, inode.ino(), raw, from, len)
        })?;
        lblk = from + len;
    }
    Ok(())
}

/// Sets (`seal`) or clears `EXTENT_SEALED` on every extent of the file, in transactions of
/// bounded size.
fn mark_extents(inode: &INode<DaxFs>, seal: bool) -> Result {
    let mut at = Some(0);
    while let Some(from) = at {
        at = map_txn(inode, |t, s, raw| {
            ops::op_seal_extents(t, s, inode.ino(), raw, from, seal, FREE_BUDGET)
        })?;
    }
    Ok(())
}

/// Sets or clears the inode's SEALED flag with its change time, and mirrors it in the VFS
/// inode once the transaction has committed.
fn set_inode_flag(inode: &INode<DaxFs>, seal: bool) -> Result {
    let now = fmt_time(inode.current_time());
    map_txn(inode, |t, s, raw| {
        ops::op_seal_inode(t, s, inode.ino(), raw, seal, now)
    })?;
    inode.set_flags(
        if seal { flags::IOMAP_IMMUTABLE } else { 0 },
        flags::IOMAP_IMMUTABLE,
    );
    Ok(())
}

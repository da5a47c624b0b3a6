// SPDX-License-Identifier: GPL-2.0

//! `fallocate(2)`: preallocation (`0`, `FALLOC_FL_KEEP_SIZE`), `FALLOC_FL_PUNCH_HOLE` and
//! `FALLOC_FL_ZERO_RANGE`.
//!
//! Preallocated blocks are UNWRITTEN extents: they read as zeros without being zeroed, and a
//! write or a write fault zeroes and converts them (`file.rs`). Punching frees the whole
//! blocks of the range and zeroes the partial ones at its edges; zeroing punches the range and
//! preallocates it again, so its whole blocks end up UNWRITTEN (as on ext4 and XFS). Every change of the block map is a
//! transaction of bounded size, so each step leaves a consistent filesystem. A sealed file's
//! block map cannot change: every mode fails with `ETXTBSY`, except preallocation within its
//! size, which changes nothing and succeeds. Collapsing, inserting and
//! unsharing ranges are not supported (`EOPNOTSUPP`). Sealing and unsealing are in `seal.rs`;
//! the block map changes both use are in `bmap.rs`.

use crate::{
    bmap::{free_range, preallocate, set_size, unmap},
    format::{extent::EXTENT_UNWRITTEN, BLOCK_SIZE_U64},
    inode::next_extent,
    mount::DaxFs,
};
use kernel::{
    fs::{
        dax,
        file::{self, falloc, File},
        inode::{INode, Locked},
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
    let size = u64::try_from(inode.size()).unwrap_or(0);
    if inode.data().get().is_sealed() {
        // Every block of a sealed file below its size is allocated and written: preallocating
        // there changes nothing (the VFS already answers it, unless the file was sealed after
        // its check). Anything else would change the block map.
        return if mode & !falloc::KEEP_SIZE == 0 && end <= size {
            Ok(())
        } else {
            Err(ETXTBSY)
        };
    }
    if !keep && end > size {
        inode.newsize_ok(end.try_into()?)?;
    }
    file::modified(file, &locked)?;
    // Blocks allocated ahead of appending writes are not the caller's preallocation: free them
    // first, so that none is kept past the end in their name or counted by the ENOSPC check.
    crate::ahead::trim_ahead(&locked)?;
    if mode & falloc::PUNCH_HOLE != 0 {
        // The VFS only accepts punching together with KEEP_SIZE. Blocks preallocated past the
        // end of the file are freed too, as XFS does.
        return punch(&locked, start, end, size);
    }
    if mode & falloc::ZERO_RANGE != 0 {
        // As ext4 and XFS do, the whole blocks become UNWRITTEN: punched here, preallocated
        // below (a crash in between leaves holes, which read as zeros too).
        punch(&locked, start, end, size)?;
    }
    preallocate(
        &locked,
        start / BLOCK_SIZE_U64,
        end.div_ceil(BLOCK_SIZE_U64),
    )?;
    if !keep && end > size {
        crate::truncate::zero_past_eof(inode, size, end)?;
        set_size(&locked, end)?;
    }
    Ok(())
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

/// Punches `[start, end)`: zeroes the partial blocks at the edges (below `size`, the file
/// size; past it the file reads as nothing) and frees the whole ones.
fn punch(inode: &Locked<'_, DaxFs>, start: u64, end: u64, size: u64) -> Result {
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

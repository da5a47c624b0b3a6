// SPDX-License-Identifier: GPL-2.0

//! Regular files: DAX reads through iomap, and the extent map lookup behind them.
//!
//! `read(2)` and friends go through `dax_iomap_rw`, which asks [`FileIomap::begin`] how each
//! part of the file maps to persistent memory: a mapped extent, an unwritten extent or a hole
//! (both of which read as zeros). Reads stop at the file size.

use crate::{
    ahead::{ahead_blocks, trim_ahead},
    format::{
        btree::Scratch,
        extent::{map_next, Extent, EXTENT_UNWRITTEN, MAX_FILE_BLOCKS},
        inode::Inode,
        ops, BLOCK_SHIFT, BLOCK_SIZE_U64,
    },
    inode::{corrupt, getattr, next_extent},
    inode_txn::{fmt_time, inode_txn, vfs_to_raw},
    journal::DTxn,
    mount::{DaxFs, SbInfo},
};
use kernel::{
    fs::{
        address_space,
        dax::{self, DaxDevice, VmAreaDesc},
        file::{self, whence, File},
        inode::{self, FiemapInfo, FileAttr, IAttr, INode, Idmap, Kstat, Locked, TimeUpdate},
        iomap::{self, Map},
        Kiocb, Offset,
    },
    iov::{IovIterDest, IovIterSource},
    prelude::*,
};

/// Inode operations of regular files, symlinks and special files.
pub(crate) struct FileInodeOps;

/// File operations of regular files.
pub(crate) struct FileOps;

/// Address space operations of regular files.
pub(crate) struct FileAops;

/// The block mapping of regular files.
pub(crate) struct FileIomap;

/// The inode operations table of non-directories.
pub(crate) const FILE_IOPS: inode::Ops<DaxFs> = inode::Ops::new::<FileInodeOps>();

/// The file operations table of regular files.
pub(crate) const FILE_FOPS: file::Ops<DaxFs> = file::Ops::new::<FileOps>();

/// The address space operations table of regular files.
pub(crate) const FILE_AOPS: address_space::Ops<DaxFs> = address_space::Ops::new::<FileAops>();

#[vtable]
impl inode::Operations for FileInodeOps {
    type FileSystem = DaxFs;

    fn update_time(inode: &INode<DaxFs>, kind: TimeUpdate, flags: u32) -> Result {
        // Never a transaction per update (a write fault of a sealed file must do no metadata
        // work): the times are written by the next transaction of the inode, fsync, sync, or
        // the writeback of dirty times (`docs/design.md`, "Timestamps").
        inode.update_time_lazily(kind, flags)
    }

    fn getattr(inode: &INode<DaxFs>, stat: &mut Kstat, _mask: u32) -> Result {
        getattr(inode, stat)
    }

    fn fileattr_get(inode: &INode<DaxFs>, fa: &mut FileAttr) -> Result {
        crate::attr::fileattr_get(inode, fa)
    }

    fn fileattr_set(_idmap: &Idmap, inode: &Locked<'_, DaxFs>, fa: &FileAttr) -> Result {
        crate::attr::fileattr_set(inode, fa)
    }

    fn fiemap(inode: &INode<DaxFs>, info: &mut FiemapInfo, start: u64, len: u64) -> Result {
        iomap::fiemap::<FileIomap>(inode, info, start, len)
    }

    fn setattr(idmap: &Idmap, inode: &Locked<'_, DaxFs>, attr: &IAttr) -> Result {
        crate::attr::setattr(idmap, inode, attr)
    }
}

#[vtable]
impl file::Operations for FileOps {
    type FileSystem = DaxFs;
    const LEASES: bool = true;
    const SEAL_BLOCK_MAP: bool = true;

    fn seek(file: &File, inode: &INode<DaxFs>, offset: Offset, whence: u32) -> Result<Offset> {
        match whence {
            whence::HOLE | whence::DATA => {
                iomap::seek_hole_data::<FileIomap>(file, inode, offset, whence)
            }
            _ => file::generic_llseek(file, offset, whence),
        }
    }

    fn read_iter(
        inode: &INode<DaxFs>,
        kiocb: &mut Kiocb<'_, ()>,
        iov: &mut IovIterDest<'_>,
    ) -> Result<usize> {
        dax::iomap_rw::<FileIomap>(inode, kiocb, iov)
    }

    fn write_iter(
        inode: &INode<DaxFs>,
        kiocb: &mut Kiocb<'_, ()>,
        iov: &mut IovIterSource<'_>,
    ) -> Result<usize> {
        let prepare = |inode: &Locked<'_, DaxFs>, start: Offset| {
            // A write starting past the end of the file grows it over what lies between.
            let start = u64::try_from(start).map_err(|_| EINVAL)?;
            crate::truncate::zero_past_eof(inode, u64::try_from(inode.size()).unwrap_or(0), start)
        };
        dax::iomap_write::<FileIomap>(inode, kiocb, iov, prepare, |inode, start, written| {
            // The data is in place (allocations committed in `begin`); one transaction now
            // records a new size (with the times). A write within the size commits nothing:
            // its times were set by `update_time`, lazily, like those of a write fault.
            let end = u64::try_from(start.saturating_add(written as Offset)).unwrap_or(0);
            let now = fmt_time(inode.current_time());
            let cur = vfs_to_raw(inode, inode.data().get());
            if cur.size >= end && cur.mtime == now && cur.ctime == cur.mtime {
                return Ok(());
            }
            inode_txn(inode, |t, _, raw| {
                raw.mtime = now;
                raw.ctime = now;
                raw.size = raw.size.max(end);
                t.write_inode(inode.ino(), raw)
            })
        })
    }

    fn release(inode: &INode<DaxFs>, writable: bool) {
        // An unlinked file loses all its blocks at eviction anyway.
        if !writable || inode.nlink() == 0 {
            return;
        }
        let locked = inode.lock();
        if let Err(e) = crate::errors::quiet_when_stopped(trim_ahead(&locked)) {
            // The blocks stay allocated past the end of the file (legal: a truncate or the
            // file's removal frees them); the journal has reported why.
            pr_warn!(
                "inode {}: cannot free blocks allocated ahead: {:?}\n",
                inode.ino(),
                e
            );
        }
    }

    fn fallocate(
        file: &File,
        inode: &INode<DaxFs>,
        mode: i32,
        offset: Offset,
        len: Offset,
    ) -> Result {
        crate::falloc::fallocate(file, inode, mode, offset, len)
    }

    fn mmap(inode: &INode<DaxFs>, desc: &mut VmAreaDesc) -> Result {
        let info = inode.super_block().data().get_ref();
        dax::mmap_prepare::<FileIomap>(inode, info.pmem.dax(), desc)
    }

    fn fsync(
        file: &File,
        _inode: &INode<DaxFs>,
        start: Offset,
        end: Offset,
        _datasync: bool,
    ) -> Result {
        // Metadata is committed by every operation before it returns; what may remain is data
        // written through shared mappings, still in the CPU caches, and non-temporal stores of
        // `write` that are not fenced yet.
        file::write_and_wait_range(file, start, end)?;
        dax::fence();
        Ok(())
    }
}

#[vtable]
impl address_space::Operations for FileAops {
    type FileSystem = DaxFs;
    type IoMap = FileIomap;

    fn dax_device(inode: &INode<DaxFs>) -> &DaxDevice {
        inode.super_block().data().get_ref().pmem.dax()
    }
}

/// Blocks allocated per `iomap_begin` call at most (128 MiB): bounds the work, and the zeroing
/// latency, of one transaction.
pub(crate) const MAX_ALLOC_BLOCKS: u64 = 32768;

impl FileIomap {
    /// Maps the extent `e` (containing `lblk`) into `map`.
    fn map_extent<'a>(
        inode: &'a INode<DaxFs>,
        e: &Extent,
        lblk: u64,
        flags: u32,
        map: &mut Map<'a>,
    ) -> Result {
        let sb = inode.super_block();
        let info = sb.data().get_ref();
        e.check_shape()
            .and_then(|()| e.check_range(&info.sb.layout))
            .map_err(|err| corrupt(sb, inode.ino(), err))?;
        let skip = lblk - e.lblk;
        let mut addr = (e.pblk + skip) << BLOCK_SHIFT;
        if flags & iomap::flags::DAX != 0 {
            addr += info.pmem.dax().part_off();
        }
        map.set_length((u64::from(e.len) - skip) << BLOCK_SHIFT)
            .set_addr(addr)
            .set_dax(info.pmem.dax())
            .set_type(if e.flags & EXTENT_UNWRITTEN != 0 {
                iomap::Type::Unwritten
            } else {
                iomap::Type::Mapped
            });
        Ok(())
    }

    /// Makes block `lblk` of the file allocated and written, in one transaction: allocates
    /// zeroed blocks for a hole there (up to `end`, exclusive, in blocks, and the next extent)
    /// or zeroes and converts an unwritten extent. The mapping is looked up again inside the
    /// transaction, since a page fault (which does not hold the inode lock) may have allocated
    /// the block meanwhile. Returns the written extent now mapping `lblk` and whether its
    /// blocks are new.
    ///
    /// A `write` (`append`: not a page fault; it holds the inode lock) into the hole past every
    /// extent and past the end of the file also allocates blocks ahead ([`ahead_blocks`]),
    /// zeroed and written like the others, and records them in the inode
    /// ([`crate::inode::InodeInfo::set_ahead`]) so that what the file has not grown into is
    /// freed at its release ([`trim_ahead`]).
    fn allocate(inode: &INode<DaxFs>, lblk: u64, end: u64, append: bool) -> Result<(Extent, bool)> {
        let sb = inode.super_block();
        let info = sb.data().get_ref();
        let (e, new, past_eof) = inode_txn(inode, |t, s, raw| {
            allocate_in(t, s, info, inode.ino(), raw, lblk, end, append)
        })?;
        if new && past_eof {
            let (start, old_end) = inode.data().ahead();
            let start = if old_end > start {
                start.min(e.lblk)
            } else {
                e.lblk
            };
            inode.data().set_ahead(start, old_end.max(e.lend()));
        }
        Ok((e, new))
    }
}

/// The transaction of [`FileIomap::allocate`]: the extent, whether its blocks are new, and
/// whether they were allocated for an `append` past the end of the file and every extent.
#[allow(clippy::too_many_arguments)]
fn allocate_in(
    t: &mut DTxn<'_, '_>,
    s: &mut Scratch,
    info: &SbInfo,
    ino: u64,
    raw: &mut Inode,
    lblk: u64,
    end: u64,
    append: bool,
) -> crate::format::Result<(Extent, bool, bool)> {
    let ctx = t.ctx();
    match map_next(raw, ino, &ctx, t, s, lblk)? {
        Some(e) if e.contains(lblk) && e.flags & EXTENT_UNWRITTEN == 0 => Ok((e, false, false)),
        Some(u) if u.contains(lblk) => {
            let len = (u.lend().min(end.max(lblk + 1)) - lblk).min(MAX_ALLOC_BLOCKS);
            let pblk = u.pblk + (lblk - u.lblk);
            info.pmem
                .zero_blocks(pblk, len)
                .map_err(|_| crate::format::Error::Io)?;
            ops::op_convert(t, s, ino, raw, lblk, len)?;
            let e = Extent {
                lblk,
                pblk,
                len: len as u32,
                flags: 0,
            };
            Ok((e, false, false))
        }
        next => {
            // A hole up to the next extent (which starts after `lblk`) or `end`.
            let hole_end = next.map_or(end, |n| n.lblk.min(end)).max(lblk + 1);
            let want = (hole_end - lblk).min(MAX_ALLOC_BLOCKS);
            let past_eof = append && next.is_none() && lblk >= raw.size.div_ceil(BLOCK_SIZE_U64);
            let ahead = if past_eof {
                ahead_blocks(lblk, want, t.sb().free_blocks)
                    .min(MAX_FILE_BLOCKS.saturating_sub(lblk + want))
            } else {
                0
            };
            let e = ops::op_alloc(t, s, ino, raw, lblk, want + ahead, false)?;
            // No stale data may ever be visible: the blocks are zeroed before the transaction
            // that hands them to the file commits.
            info.pmem
                .zero_blocks(e.pblk, e.len.into())
                .map_err(|_| crate::format::Error::Io)?;
            Ok((e, true, past_eof))
        }
    }
}

impl iomap::Operations for FileIomap {
    type FileSystem = DaxFs;

    fn begin<'a>(
        inode: &'a INode<DaxFs>,
        pos: Offset,
        length: Offset,
        flags: u32,
        map: &mut Map<'a>,
        _srcmap: &mut Map<'a>,
    ) -> Result {
        let pos = u64::try_from(pos).map_err(|_| EINVAL)?;
        let len = u64::try_from(length).unwrap_or(0).max(1);
        let lblk = pos >> BLOCK_SHIFT;
        let start = lblk << BLOCK_SHIFT;
        let end_lblk = pos.saturating_add(len).div_ceil(BLOCK_SIZE_U64);

        let next = next_extent(inode, lblk)?;

        map.set_offset(start as Offset).set_flags(0);
        let write = flags & iomap::flags::WRITE != 0;
        let zero = flags & iomap::flags::ZERO != 0;
        let fault = flags & iomap::flags::FAULT != 0;
        if write {
            // Nothing is written once an error stopped writing (`errors=remount-ro`).
            inode.super_block().data().errors.check_writable()?;
        }
        let stats = &inode.super_block().data().stats;
        if write && fault {
            stats.write_fault(inode.data().get().is_sealed());
        }
        let written =
            matches!(next, Some(e) if e.contains(lblk) && e.flags & EXTENT_UNWRITTEN == 0);
        if write && !zero && !written {
            let (e, new) = Self::allocate(inode, lblk, end_lblk, !fault)?;
            if fault {
                stats.fault_alloc();
            }
            Self::map_extent(inode, &e, lblk, flags, map)?;
            if new {
                map.set_flags(iomap::map_flags::NEW);
            }
            return Ok(());
        }
        match next {
            Some(e) if e.contains(lblk) => Self::map_extent(inode, &e, lblk, flags, map),
            other => {
                // A hole up to the next extent, or up to the end of the request.
                let hole_end = match other {
                    Some(e) => e.lblk,
                    None => end_lblk.max(lblk + 1),
                };
                map.set_length(((hole_end - lblk) << BLOCK_SHIFT).max(BLOCK_SIZE_U64))
                    .clear_addr()
                    .set_type(iomap::Type::Hole);
                Ok(())
            }
        }
    }
}

// SPDX-License-Identifier: GPL-2.0

//! Regular files: DAX reads through iomap, and the extent map lookup behind them.
//!
//! `read(2)` and friends go through `dax_iomap_rw`, which asks [`FileIomap::begin`] how each
//! part of the file maps to persistent memory: a mapped extent, an unwritten extent or a hole
//! (both of which read as zeros). Reads stop at the file size.

use crate::{
    format::{
        extent::{map_next, EXTENT_UNWRITTEN},
        BLOCK_SHIFT, BLOCK_SIZE_U64,
    },
    inode::{corrupt, getattr},
    mount::DaxFs,
};
use kernel::{
    fs::{
        address_space, dax,
        file::{self, whence, File},
        inode::{self, FiemapInfo, INode, Kstat},
        iomap::{self, Map},
        Kiocb, Offset,
    },
    iov::IovIterDest,
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

    fn getattr(inode: &INode<DaxFs>, stat: &mut Kstat, _mask: u32) -> Result {
        getattr(inode, stat)
    }

    fn fiemap(inode: &INode<DaxFs>, info: &mut FiemapInfo, start: u64, len: u64) -> Result {
        iomap::fiemap::<FileIomap>(inode, info, start, len)
    }
}

#[vtable]
impl file::Operations for FileOps {
    type FileSystem = DaxFs;

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
}

#[vtable]
impl address_space::Operations for FileAops {
    type FileSystem = DaxFs;
    type IoMap = FileIomap;
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
        if flags & (iomap::flags::WRITE | iomap::flags::ZERO) != 0 {
            return Err(EROFS);
        }
        let sb = inode.super_block();
        let info = sb.data().get_ref();
        let raw = &inode.data().raw;
        let pos = u64::try_from(pos).map_err(|_| EINVAL)?;
        let lblk = pos >> BLOCK_SHIFT;
        let start = lblk << BLOCK_SHIFT;

        let next = info
            .scratch
            .with(|s| map_next(raw, inode.ino(), &info.ctx, &mut info.store(), s, lblk))?
            .map_err(|e| corrupt(sb, inode.ino(), e))?;

        map.set_offset(start as Offset).set_flags(0);
        match next {
            Some(e) if e.contains(lblk) => {
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
            }
            other => {
                // A hole up to the next extent, or up to the end of the request.
                let end = match other {
                    Some(e) => e.lblk << BLOCK_SHIFT,
                    None => {
                        let len = u64::try_from(length).unwrap_or(0).max(1);
                        pos.saturating_add(len).next_multiple_of(BLOCK_SIZE_U64)
                    }
                };
                map.set_length(end.saturating_sub(start).max(BLOCK_SIZE_U64))
                    .clear_addr()
                    .set_type(iomap::Type::Hole);
            }
        }
        Ok(())
    }
}

// SPDX-License-Identifier: GPL-2.0

//! Inodes: reading them from the inode table into the inode cache, and `getattr`.

use crate::{
    dir, file,
    format::{
        self,
        extent::Extent,
        inode::{
            Inode, Timespec as FmtTime, INODE_FLAG_APPEND, INODE_FLAG_IMMUTABLE,
            INODE_FLAG_NOATIME, MAP_EXTENTS, MAP_INLINE_DATA, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO,
            S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK,
        },
        superblock::INODE_SIZE,
        BLOCK_SIZE_U64,
    },
    mount::{DaxFs, SbInfo},
};
use kernel::{
    fs::{
        inode::{self, flags, INode, Ino, Kstat, Params, Type},
        sb::{IGet, SuperBlock},
        Timespec,
    },
    prelude::*,
    sync::aref::ARef,
};

/// What daxfs keeps in each in-core inode: the decoded on-disk inode.
pub(crate) struct InodeInfo {
    /// The on-disk inode as read when the inode entered the cache (the mount is read-only, so
    /// it does not change).
    pub(crate) raw: Inode,
}

/// Reads and validates on-disk inode `ino`. A free inode slot is an error (`EUCLEAN`): nothing
/// may reference it.
pub(crate) fn read_inode(info: &SbInfo, ino: Ino) -> Result<Inode, format::Error> {
    let off = info.sb.layout.inode_offset(ino)?;
    let mut buf = [0u8; INODE_SIZE];
    info.pmem
        .read(off, &mut buf)
        .map_err(|_| format::Error::Io)?;
    Inode::decode(&buf, ino, info.ctx.csum_seed)?.ok_or(format::Error::Corrupt("free inode"))
}

/// Converts an error of the shared format into a kernel error.
pub(crate) fn to_kernel(e: format::Error) -> Error {
    Error::from_errno(-e.errno())
}

/// Reports a corrupted inode and returns its error.
pub(crate) fn corrupt(sb: &SuperBlock<DaxFs>, ino: Ino, e: format::Error) -> Error {
    pr_err!(
        "{}: inode {}: {}\n",
        sb.id().to_str().unwrap_or("?"),
        ino,
        e
    );
    to_kernel(e)
}

fn ts(t: FmtTime) -> Timespec {
    Timespec {
        sec: t.sec,
        nsec: t.nsec,
    }
}

/// Reads the target of a symlink: inline in the inode, or in its single data block.
fn symlink_target(info: &SbInfo, raw: &Inode) -> Result<KVec<u8>, format::Error> {
    let mut v = KVec::new();
    if raw.map_kind == MAP_INLINE_DATA {
        v.extend_from_slice(raw.inline_data()?, GFP_KERNEL)
            .map_err(|_| format::Error::NoSpace)?;
        return Ok(v);
    }
    if raw.map_kind != MAP_EXTENTS {
        return Err(format::Error::BadField("symlink map_kind"));
    }
    let e = Extent::decode_inline(&raw.map, 0)?;
    e.check_shape()?;
    e.check_range(&info.sb.layout)?;
    if e.lblk != 0 || e.len != 1 {
        return Err(format::Error::Corrupt("symlink extent"));
    }
    // `validate` bounded the size by `SYMLINK_MAX`, less than a block.
    let n = raw.size as usize;
    v.extend_with(n, 0, GFP_KERNEL)
        .map_err(|_| format::Error::NoSpace)?;
    info.pmem
        .read(e.pblk * BLOCK_SIZE_U64, &mut v)
        .map_err(|_| format::Error::Io)?;
    Ok(v)
}

/// Returns inode `ino` from the inode cache, reading it from persistent memory if needed.
pub(crate) fn iget(sb: &SuperBlock<DaxFs>, ino: Ino) -> Result<ARef<INode<DaxFs>>> {
    let mut new = match sb.iget(ino)? {
        IGet::Cached(i) => return Ok(i),
        IGet::New(n) => n,
    };
    let info = sb.data();
    let raw = read_inode(&info, ino).map_err(|e| corrupt(sb, ino, e))?;

    let typ = match raw.mode & S_IFMT {
        S_IFDIR => {
            new.set_iops(dir::DIR_IOPS).set_fops(dir::DIR_FOPS);
            Type::Dir
        }
        S_IFREG => {
            new.set_iops(file::FILE_IOPS)
                .set_fops(file::FILE_FOPS)
                .set_aops(file::FILE_AOPS);
            Type::Reg
        }
        S_IFLNK => {
            new.set_iops(file::FILE_IOPS);
            Type::Lnk(symlink_target(&info, &raw).map_err(|e| corrupt(sb, ino, e))?)
        }
        S_IFCHR => {
            new.set_iops(file::FILE_IOPS);
            Type::Chr(inode::new_decode_dev(raw.rdev))
        }
        S_IFBLK => {
            new.set_iops(file::FILE_IOPS);
            Type::Blk(inode::new_decode_dev(raw.rdev))
        }
        S_IFIFO => {
            new.set_iops(file::FILE_IOPS);
            Type::Fifo
        }
        S_IFSOCK => {
            new.set_iops(file::FILE_IOPS);
            Type::Sock
        }
        // `Inode::decode` validated the type.
        _ => return Err(corrupt(sb, ino, format::Error::BadField("mode"))),
    };

    let mut iflags = 0;
    if raw.is_reg() {
        iflags |= flags::DAX;
    }
    if raw.flags & INODE_FLAG_IMMUTABLE != 0 {
        iflags |= flags::IMMUTABLE;
    }
    if raw.flags & INODE_FLAG_APPEND != 0 {
        iflags |= flags::APPEND;
    }
    if raw.flags & INODE_FLAG_NOATIME != 0 {
        iflags |= flags::NOATIME;
    }

    new.init(Params {
        typ,
        mode: raw.mode & 0o7777,
        size: raw.size.try_into()?,
        blocks: raw.blocks.saturating_mul(BLOCK_SIZE_U64 / 512),
        nlink: raw.nlink,
        uid: raw.uid,
        gid: raw.gid,
        atime: ts(raw.atime),
        mtime: ts(raw.mtime),
        ctime: ts(raw.ctime),
        generation: raw.generation,
        flags: iflags,
        value: InodeInfo { raw },
    })
}

/// `getattr` common to all inodes: adds the creation time.
pub(crate) fn getattr(inode: &INode<DaxFs>, stat: &mut Kstat) -> Result {
    stat.set_btime(ts(inode.data().raw.btime));
    Ok(())
}

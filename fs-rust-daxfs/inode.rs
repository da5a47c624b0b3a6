// SPDX-License-Identifier: GPL-2.0

//! Inodes: reading them from the inode table into the inode cache, `getattr`, lookups in the
//! block map, and freeing inodes without links at eviction.

use crate::{
    dir,
    errors::quiet_when_stopped,
    file,
    format::{
        self,
        extent::{map_next, Extent},
        inode::{
            Inode, Timespec as FmtTime, INODE_FLAG_APPEND, INODE_FLAG_IMMUTABLE,
            INODE_FLAG_NOATIME, INODE_FLAG_NODUMP, MAP_EXTENTS, MAP_INLINE_DATA, S_IFBLK, S_IFCHR,
            S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK,
        },
        ops,
        superblock::INODE_SIZE,
        BLOCK_SIZE_U64,
    },
    inode_txn::vfs_to_raw,
    mount::{DaxFs, SbInfo},
    truncate::FREE_BUDGET,
};
use kernel::{
    fs::{
        inode::{self, flags, statx_attr, INode, Ino, Kstat, Params, Type},
        sb::{IGet, SuperBlock},
        Timespec,
    },
    new_mutex,
    prelude::*,
    sync::{
        aref::ARef,
        atomic::{Atomic, Relaxed},
        Mutex, MutexGuard,
    },
};

/// What daxfs keeps in each in-core inode: the decoded on-disk inode.
///
/// The VFS inode holds the attributes (mode, owner, link count, size, times): they are copied
/// into this record whenever the inode is written ([`crate::inode_txn::vfs_to_raw`]). The block map, flags and
/// parent here are daxfs's own and change only with the inode locked (`i_rwsem`), in a
/// transaction; the copy is installed after the transaction commits.
#[pin_data]
pub(crate) struct InodeInfo {
    #[pin]
    raw: Mutex<Inode>,
    /// Blocks `[ahead_start, ahead_end)` were allocated ahead of appending writes, past the end
    /// of the file (see `file::FileIomap::allocate`); empty if `ahead_end <= ahead_start`.
    /// What is still past the end is freed at the release of a writable file or before a
    /// `fallocate`. Changed only with the inode locked (`i_rwsem`).
    ahead_start: Atomic<u64>,
    ahead_end: Atomic<u64>,
}

impl InodeInfo {
    fn new(raw: Inode) -> impl PinInit<Self, Error> {
        try_pin_init!(InodeInfo {
            raw <- new_mutex!(raw),
            ahead_start: Atomic::new(0),
            ahead_end: Atomic::new(0),
        })
    }

    /// The blocks allocated ahead of appending writes, `[start, end)` (empty if none).
    pub(crate) fn ahead(&self) -> (u64, u64) {
        (self.ahead_start.load(Relaxed), self.ahead_end.load(Relaxed))
    }

    /// Records blocks allocated ahead of appending writes, `[start, end)` (`(0, 0)`: none).
    /// The caller holds the inode lock.
    pub(crate) fn set_ahead(&self, start: u64, end: u64) {
        self.ahead_start.store(start, Relaxed);
        self.ahead_end.store(end, Relaxed);
    }

    /// A copy of the on-disk inode as last committed.
    pub(crate) fn get(&self) -> Inode {
        *self.raw.lock()
    }

    /// Installs `raw`, which a transaction has just committed.
    pub(crate) fn set(&self, raw: Inode) {
        *self.raw.lock() = raw;
    }

    /// Locks the on-disk inode. Held across a lookup in the block map and across the commit of
    /// a transaction that changes the map, it keeps lookups from reading tree nodes while the
    /// transaction rewrites them (page faults change the map without the inode lock). Taken
    /// after the journal lock, never before it.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inode> {
        self.raw.lock()
    }
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

/// Returns the extent of `inode` that contains block `lblk` or else the first one after it.
/// The map is read under the on-disk inode's lock, so no transaction (a write fault's
/// allocation, say) rewrites its nodes meanwhile.
pub(crate) fn next_extent(inode: &INode<DaxFs>, lblk: u64) -> Result<Option<Extent>> {
    let sb = inode.super_block();
    let info = sb.data().get_ref();
    let raw = inode.data().lock();
    info.scratch
        .with(|s| map_next(&raw, inode.ino(), &info.ctx, &mut info.store(), s, lblk))?
        .map_err(|e| corrupt(sb, inode.ino(), e))
}

/// Reports a corrupted inode ([`crate::errors::Errors::report`]) and returns its error.
pub(crate) fn corrupt(sb: &SuperBlock<DaxFs>, ino: Ino, e: format::Error) -> Error {
    sb.data().errors.report(ino, e)
}

pub(crate) fn ts(t: FmtTime) -> Timespec {
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
    let new = match sb.iget(ino)? {
        IGet::Cached(i) => return Ok(i),
        IGet::New(n) => n,
    };
    let info = sb.data();
    let raw = read_inode(&info, ino).map_err(|e| corrupt(sb, ino, e))?;
    let target = if raw.is_symlink() {
        Some(symlink_target(&info, &raw).map_err(|e| corrupt(sb, ino, e))?)
    } else {
        None
    };
    install(sb, new, raw, target)
}

/// Puts a just-created inode `ino` with on-disk record `raw` (committed) into the inode cache;
/// `target` is a symlink's target.
pub(crate) fn iget_new(
    sb: &SuperBlock<DaxFs>,
    ino: Ino,
    raw: Inode,
    target: Option<KVec<u8>>,
) -> Result<ARef<INode<DaxFs>>> {
    match sb.iget(ino)? {
        IGet::New(n) => install(sb, n, raw, target),
        IGet::Cached(_) => Err(corrupt(
            sb,
            ino,
            format::Error::Corrupt("newly allocated inode is in use"),
        )),
    }
}

fn install(
    sb: &SuperBlock<DaxFs>,
    mut new: inode::New<DaxFs>,
    raw: Inode,
    target: Option<KVec<u8>>,
) -> Result<ARef<INode<DaxFs>>> {
    let ino = new.ino();
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
            match target {
                Some(t) => Type::Lnk(t),
                None => return Err(corrupt(sb, ino, format::Error::BadField("symlink"))),
            }
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
    if raw.is_sealed() {
        iflags |= flags::IOMAP_IMMUTABLE;
    }

    new.init(
        Params {
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
        },
        InodeInfo::new(raw),
    )
}

/// `getattr` common to all inodes: adds the creation time and the `statx` attributes of the
/// inode's flags.
pub(crate) fn getattr(inode: &INode<DaxFs>, stat: &mut Kstat) -> Result {
    let raw = inode.data().get();
    stat.set_btime(ts(raw.btime));
    let mut attrs = 0;
    for (flag, attr) in [
        (INODE_FLAG_IMMUTABLE, statx_attr::IMMUTABLE),
        (INODE_FLAG_APPEND, statx_attr::APPEND),
        (INODE_FLAG_NODUMP, statx_attr::NODUMP),
    ] {
        if raw.flags & flag != 0 {
            attrs |= attr;
        }
    }
    stat.set_attributes(
        attrs,
        statx_attr::IMMUTABLE | statx_attr::APPEND | statx_attr::NODUMP,
    );
    Ok(())
}

/// Frees the storage of on-disk inode `ino` (`raw`), which has no links and is on the orphan
/// list, in as many transactions as needed.
pub(crate) fn free_inode(info: &SbInfo, ino: Ino, mut raw: Inode) -> Result {
    loop {
        let done = info.journal.run(
            &info.pmem,
            |t, s| ops::op_free_inode(t, s, ino, &mut raw, FREE_BUDGET),
            |done| done,
        )?;
        if done {
            return Ok(());
        }
    }
}

/// `evict_inode`: an inode without links is freed when it leaves memory (its last user is
/// gone). If that fails, it stays on the orphan list and the next mount frees it.
pub(crate) fn evict(inode: &INode<DaxFs>) {
    let sb = inode.super_block();
    if inode.nlink() != 0 || sb.is_read_only() {
        return;
    }
    let info = sb.data();
    let raw = vfs_to_raw(inode, inode.data().get());
    if let Err(e) = quiet_when_stopped(free_inode(&info, inode.ino(), raw)) {
        pr_err!(
            "{}: inode {}: cannot free it ({:?}); the next mount will\n",
            sb.id().to_str().unwrap_or("?"),
            inode.ino(),
            e
        );
    }
}

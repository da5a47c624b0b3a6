// SPDX-License-Identifier: GPL-2.0

//! Inodes: reading them from the inode table into the inode cache, and `getattr`.

use crate::{
    dir,
    errors::quiet_when_stopped,
    file,
    format::{
        self,
        btree::Scratch,
        extent::{map_lookup, map_next, Extent, EXTENT_UNWRITTEN},
        inode::{
            Inode, Timespec as FmtTime, INODE_FLAG_APPEND, INODE_FLAG_IMMUTABLE,
            INODE_FLAG_NOATIME, INODE_FLAG_NODUMP, MAP_EXTENTS, MAP_INLINE_DATA, S_IFBLK, S_IFCHR,
            S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK,
        },
        ops,
        superblock::INODE_SIZE,
        BLOCK_SIZE, BLOCK_SIZE_U64,
    },
    journal::DTxn,
    mount::{DaxFs, SbInfo},
};
use kernel::{
    fs::{
        dax::{self, InvalidateGuard},
        inode::{
            self, attr as iattr, fileattr, flags, statx_attr, FileAttr, IAttr, INode, Idmap, Ino,
            Kstat, Params, Type,
        },
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
/// into this record whenever the inode is written ([`vfs_to_raw`]). The block map, flags and
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

/// The on-disk timestamp of a VFS timestamp.
pub(crate) fn fmt_time(t: Timespec) -> FmtTime {
    FmtTime {
        sec: t.sec,
        nsec: t.nsec,
    }
}

/// Returns `raw` with the attributes the VFS inode holds (mode, owner, links, size, times).
pub(crate) fn vfs_to_raw(inode: &INode<DaxFs>, mut raw: Inode) -> Inode {
    raw.mode = inode.mode();
    raw.uid = inode.uid();
    raw.gid = inode.gid();
    raw.nlink = inode.nlink();
    raw.size = u64::try_from(inode.size()).unwrap_or(0);
    raw.atime = fmt_time(inode.atime());
    raw.mtime = fmt_time(inode.mtime());
    raw.ctime = fmt_time(inode.ctime());
    raw
}

/// Copies the attributes a transaction may have changed from `raw` into the VFS inode, and
/// installs `raw` through `guard`, the locked on-disk inode.
fn raw_to_vfs_locked(inode: &INode<DaxFs>, guard: &mut MutexGuard<'_, Inode>, raw: Inode) {
    set_vfs_attrs(inode, &raw);
    **guard = raw;
}

fn set_vfs_attrs(inode: &INode<DaxFs>, raw: &Inode) {
    inode.set_nlink(raw.nlink);
    inode.set_size(raw.size.try_into().unwrap_or(i64::MAX));
    inode.set_blocks(raw.blocks.saturating_mul(BLOCK_SIZE_U64 / 512));
    inode.set_atime(ts(raw.atime));
    inode.set_mtime(ts(raw.mtime));
    inode.set_ctime(ts(raw.ctime));
}

/// Copies the attributes a transaction may have changed from `raw` into the VFS inode, and
/// installs `raw`.
pub(crate) fn raw_to_vfs(inode: &INode<DaxFs>, raw: Inode) {
    set_vfs_attrs(inode, &raw);
    inode.data().set(raw);
}

/// Runs `f` in one transaction on a copy of the file's on-disk inode and installs the copy
/// once the transaction is applied. The on-disk inode's lock is held from the copy to the
/// install (see `InodeInfo::lock`), so a page fault's transaction can neither come in between
/// nor work from a stale copy. Every block-map change of a regular file goes through here.
pub(crate) fn map_txn<R>(
    inode: &INode<DaxFs>,
    f: impl FnOnce(&mut DTxn<'_, '_>, &mut Scratch, &mut Inode) -> format::Result<R>,
) -> Result<R> {
    let sb = inode.super_block();
    let info = sb.data();
    info.journal.run(
        &info.pmem,
        |t, s| {
            let guard = inode.data().lock();
            let mut raw = vfs_to_raw(inode, *guard);
            let r = f(t, s, &mut raw)?;
            Ok((r, raw, guard))
        },
        |(r, raw, mut guard)| {
            raw_to_vfs_locked(inode, &mut guard, raw);
            r
        },
    )
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

/// The inode flags `chattr` can change, with their `FS_*_FL` and (but for NODUMP) VFS `S_*`
/// counterparts.
const USER_FLAGS: [(u32, u32, u32); 4] = [
    (INODE_FLAG_IMMUTABLE, fileattr::IMMUTABLE, flags::IMMUTABLE),
    (INODE_FLAG_APPEND, fileattr::APPEND, flags::APPEND),
    (INODE_FLAG_NOATIME, fileattr::NOATIME, flags::NOATIME),
    (INODE_FLAG_NODUMP, fileattr::NODUMP, 0),
];

/// `fileattr_get` (`FS_IOC_GETFLAGS`, `FS_IOC_FSGETXATTR`): the flags `chattr` can change.
/// DAX is not reported as a flag: every regular file is DAX, which `statx` reports
/// (`STATX_ATTR_DAX`), and it cannot be turned off.
pub(crate) fn fileattr_get(inode: &INode<DaxFs>, fa: &mut FileAttr) -> Result {
    let raw = inode.data().get();
    let mut f = 0;
    for (disk, user, _) in USER_FLAGS {
        if raw.flags & disk != 0 {
            f |= user;
        }
    }
    fa.fill_flags(f);
    Ok(())
}

/// `fileattr_set` (`FS_IOC_SETFLAGS`, `FS_IOC_FSSETXATTR`): immutable, append-only, noatime
/// and nodump, committed with the change time in one transaction; any other flag or xattr
/// field fails with `EOPNOTSUPP` (the VFS has checked ownership and `CAP_LINUX_IMMUTABLE`, and
/// holds the inode lock). Other daxfs flags (SEALED) are kept.
pub(crate) fn fileattr_set(inode: &INode<DaxFs>, fa: &FileAttr) -> Result {
    let want = fa.flags();
    let known = USER_FLAGS.iter().fold(0, |a, f| a | f.1);
    if fa.has_fsx() || want & !known != 0 {
        return Err(EOPNOTSUPP);
    }
    let (mut disk, mut vfs, mut vfs_mask) = (0, 0, 0);
    for (d, user, v) in USER_FLAGS {
        vfs_mask |= v;
        if want & user != 0 {
            disk |= d;
            vfs |= v;
        }
    }
    let disk_mask = USER_FLAGS.iter().fold(0, |a, f| a | f.0);
    let sb = inode.super_block();
    let info = sb.data();
    let now = fmt_time(inode.current_time());
    info.journal.run(
        &info.pmem,
        |t, _| {
            let mut raw = vfs_to_raw(inode, inode.data().get());
            raw.flags = (raw.flags & !disk_mask) | disk;
            raw.ctime = now;
            t.write_inode(inode.ino(), &raw)?;
            Ok(raw)
        },
        |raw| raw_to_vfs(inode, raw),
    )?;
    inode.set_flags(vfs, vfs_mask);
    Ok(())
}

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
fn truncate(inode: &INode<DaxFs>, size: i64) -> Result {
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
        let done = map_txn(inode, |t, s, raw| {
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

/// Writes the VFS attributes of `inode` in a transaction.
fn write_attrs(inode: &INode<DaxFs>) -> Result {
    let sb = inode.super_block();
    let info = sb.data();
    info.journal.run(
        &info.pmem,
        |t, _| {
            let raw = vfs_to_raw(inode, inode.data().get());
            t.write_inode(inode.ino(), &raw)?;
            Ok(raw)
        },
        |raw| inode.data().set(raw),
    )
}

/// `setattr`: `truncate`, `chmod`, `chown`, `utimes`; each change is committed before
/// returning.
pub(crate) fn setattr(idmap: &Idmap, inode: &INode<DaxFs>, attr: &IAttr) -> Result {
    if attr.valid() & iattr::SIZE != 0 {
        let raw = inode.data().get();
        if !raw.is_reg() {
            return Err(EINVAL);
        }
        // A truncate to the current size still frees the blocks preallocated past it, as on
        // ext4 and XFS (generic/092), except on a sealed file, whose block map is fixed.
        let changed = attr.size() != inode.size();
        if changed || !raw.is_sealed() {
            truncate(inode, attr.size())?;
        }
        if changed {
            // truncate(2) passes no time attributes: a size change updates both times
            // (POSIX; generic/313). Times the caller set are copied below.
            let now = inode.current_time();
            inode.set_mtime(now);
            inode.set_ctime(now);
        }
    }
    attr.copy_to(idmap, inode);
    write_attrs(inode)
}

/// Writes the VFS attributes of `inode` (access time updates and the like) in a transaction.
pub(crate) fn dirty_inode(inode: &INode<DaxFs>) {
    let sb = inode.super_block();
    if sb.is_read_only() {
        return;
    }
    if let Err(e) = quiet_when_stopped(write_attrs(inode)) {
        pr_err!(
            "{}: inode {}: cannot write attributes: {:?}\n",
            sb.id().to_str().unwrap_or("?"),
            inode.ino(),
            e
        );
    }
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

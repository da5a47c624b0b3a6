// SPDX-License-Identifier: GPL-2.0

//! Attribute changes: `setattr` (`chmod`, `chown`, `utimes`, `truncate`), the flags `chattr`
//! changes (`fileattr_get`, `fileattr_set`), and `dirty_inode`, each committed in one
//! transaction before it returns.

use crate::{
    errors::quiet_when_stopped,
    format::inode::{
        INODE_FLAG_APPEND, INODE_FLAG_IMMUTABLE, INODE_FLAG_NOATIME, INODE_FLAG_NODUMP,
    },
    inode_txn::{fmt_time, inode_txn, TxInode},
    mount::DaxFs,
    truncate,
};
use kernel::{
    fs::inode::{attr as iattr, fileattr, flags, FileAttr, IAttr, INode, Idmap, Locked},
    prelude::*,
};

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
pub(crate) fn fileattr_set(inode: &Locked<'_, DaxFs>, fa: &FileAttr) -> Result {
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
    let now = fmt_time(inode.current_time());
    inode_txn(inode, |t, _, raw| {
        raw.flags = (raw.flags & !disk_mask) | disk;
        raw.ctime = now;
        t.write_inode(inode.ino(), raw)
    })?;
    inode.set_flags(vfs, vfs_mask);
    Ok(())
}

/// Writes the VFS attributes of `inode` in a transaction.
fn write_attrs<'a>(inode: impl Into<TxInode<'a>>) -> Result {
    let ti = inode.into();
    let ino = match ti {
        TxInode::Locked(l) => l.ino(),
        TxInode::Shared(i) => i.ino(),
        TxInode::None => return Err(EINVAL),
    };
    inode_txn(ti, |t, _, raw| t.write_inode(ino, raw))
}

/// `setattr`: `truncate`, `chmod`, `chown`, `utimes`; each change is committed before
/// returning.
pub(crate) fn setattr(idmap: &Idmap, inode: &Locked<'_, DaxFs>, attr: &IAttr) -> Result {
    if attr.valid() & iattr::SIZE != 0 {
        let raw = inode.data().get();
        if !raw.is_reg() {
            return Err(EINVAL);
        }
        // A truncate to the current size still frees the blocks preallocated past it, as on
        // ext4 and XFS (generic/092), except on a sealed file, whose block map is fixed.
        let changed = attr.size() != inode.size();
        if changed || !raw.is_sealed() {
            truncate::truncate(inode, attr.size())?;
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

// SPDX-License-Identifier: GPL-2.0

//! Namespace operations: create, mknod, mkdir, symlink, link, unlink, rmdir, rename and
//! `O_TMPFILE`.
//!
//! Each operation is one transaction built from the shared format's `ops` (which change the
//! directory index, the inodes, the inode bitmap and the orphan list together), so it is
//! atomic with respect to a crash. The VFS has locked the directories involved and checked
//! permissions, name validity, `RENAME_NOREPLACE` and rename loops; what is left here is what
//! only the filesystem knows (`ENOTEMPTY`, `ENOSPC`, ...).

use crate::{
    format::{
        dir::NAME_MAX,
        inode::{Inode, S_IFDIR, S_IFMT, S_IFREG},
        ops,
    },
    inode::iget_new,
    inode_txn::{fmt_time, inode_txn, inodes_txn, TxInode},
    mount::DaxFs,
};
use kernel::{
    fs::{
        dentry::Named,
        inode::{self, new_owner, rename, INode, Idmap, Locked, TmpFile},
    },
    prelude::*,
    sync::aref::ARef,
};

fn check_name(name: &[u8]) -> Result {
    if name.len() > NAME_MAX {
        return Err(ENAMETOOLONG);
    }
    Ok(())
}

/// A new on-disk inode of type and permissions `mode` owned as the VFS rules say.
fn new_raw(idmap: &Idmap, dir: &INode<DaxFs>, mode: u16, rdev: u32) -> Inode {
    let owner = new_owner(idmap, dir, mode);
    let mut raw = Inode::new(
        owner.mode,
        owner.uid,
        owner.gid,
        fmt_time(dir.current_time()),
    );
    raw.rdev = inode::new_encode_dev(rdev);
    raw
}

/// Creates an inode for `dentry` in `dir`: one transaction adds the inode and the entry.
fn create_common(
    idmap: &Idmap,
    dir: &Locked<'_, DaxFs>,
    dentry: &Named<'_, DaxFs>,
    mode: u16,
    rdev: u32,
    target: Option<&[u8]>,
) -> Result {
    let name = dentry.name();
    check_name(name)?;
    let sb = dir.super_block();
    let mut new = new_raw(idmap, dir, mode, rdev);
    let now = new.ctime;
    let ino = inode_txn(dir, |t, s, d| match target {
        Some(tg) => ops::op_symlink(t, s, dir.ino(), d, name, &mut new, tg, now),
        None => ops::op_create(t, s, dir.ino(), d, name, &mut new, now),
    })?;
    let link = match target {
        Some(tg) => {
            let mut v = KVec::new();
            v.extend_from_slice(tg, GFP_KERNEL)?;
            Some(v)
        }
        None => None,
    };
    let inode = iget_new(sb, ino, new, link)?;
    dentry.instantiate(inode);
    Ok(())
}

/// Directory inode operations that change the namespace.
pub(crate) fn create(
    idmap: &Idmap,
    dir: &Locked<'_, DaxFs>,
    dentry: &Named<'_, DaxFs>,
    mode: u16,
) -> Result {
    create_common(idmap, dir, dentry, (mode & 0o7777) | S_IFREG, 0, None)
}

/// `mknod`: FIFOs, sockets, device nodes and regular files.
pub(crate) fn mknod(
    idmap: &Idmap,
    dir: &Locked<'_, DaxFs>,
    dentry: &Named<'_, DaxFs>,
    mode: u16,
    rdev: u32,
) -> Result {
    create_common(idmap, dir, dentry, mode, rdev, None)
}

/// `mkdir`.
pub(crate) fn mkdir(
    idmap: &Idmap,
    dir: &Locked<'_, DaxFs>,
    dentry: &Named<'_, DaxFs>,
    mode: u16,
) -> Result {
    create_common(idmap, dir, dentry, (mode & 0o7777) | S_IFDIR, 0, None)
}

/// `symlink`: targets up to 144 bytes live in the inode, longer ones in one block.
pub(crate) fn symlink(
    idmap: &Idmap,
    dir: &Locked<'_, DaxFs>,
    dentry: &Named<'_, DaxFs>,
    target: &[u8],
) -> Result {
    if target.is_empty() {
        return Err(ENOENT);
    }
    if target.len() as u64 > crate::format::inode::SYMLINK_MAX {
        return Err(ENAMETOOLONG);
    }
    create_common(
        idmap,
        dir,
        dentry,
        0o777 | crate::format::inode::S_IFLNK,
        0,
        Some(target),
    )
}

/// `link`; also links an `O_TMPFILE` inode, taking it off the orphan list.
pub(crate) fn link(
    inode: &Locked<'_, DaxFs>,
    dir: &Locked<'_, DaxFs>,
    dentry: &Named<'_, DaxFs>,
) -> Result {
    let name = dentry.name();
    check_name(name)?;
    let now = fmt_time(dir.current_time());
    inodes_txn([dir.into(), inode.into()], |t, s, [d, r]| {
        ops::op_link(t, s, dir.ino(), d, name, inode.ino(), r, now)
    })?;
    dentry.instantiate(ARef::from(inode.inode()));
    Ok(())
}

/// `unlink`: an inode left without links goes on the orphan list and is freed at its last
/// close (`evict_inode`), or at the next mount after a crash.
pub(crate) fn unlink(
    dir: &Locked<'_, DaxFs>,
    dentry: &Named<'_, DaxFs>,
    inode: &Locked<'_, DaxFs>,
) -> Result {
    remove_common(dir, dentry, inode, false)
}

/// `rmdir` (`ENOTEMPTY` unless empty).
pub(crate) fn rmdir(
    dir: &Locked<'_, DaxFs>,
    dentry: &Named<'_, DaxFs>,
    inode: &Locked<'_, DaxFs>,
) -> Result {
    remove_common(dir, dentry, inode, true)
}

fn remove_common(
    dir: &Locked<'_, DaxFs>,
    dentry: &Named<'_, DaxFs>,
    inode: &Locked<'_, DaxFs>,
    is_dir: bool,
) -> Result {
    let name = dentry.name();
    let now = fmt_time(dir.current_time());
    inodes_txn([dir.into(), inode.into()], |t, s, [d, r]| {
        if is_dir {
            ops::op_rmdir(t, s, dir.ino(), d, name, inode.ino(), r, now)
        } else {
            ops::op_unlink(t, s, dir.ino(), d, name, inode.ino(), r, now)
        }
    })
}

/// `rename`, including `RENAME_NOREPLACE` (checked by the VFS) and `RENAME_EXCHANGE`, in one
/// transaction.
pub(crate) fn rename(
    _idmap: &Idmap,
    old_dir: &Locked<'_, DaxFs>,
    old: &Named<'_, DaxFs>,
    new_dir: &Locked<'_, DaxFs>,
    new: &Named<'_, DaxFs>,
    replaced: Option<&Locked<'_, DaxFs>>,
    flags: u32,
) -> Result {
    if flags & !(rename::NOREPLACE | rename::EXCHANGE) != 0 {
        return Err(EINVAL);
    }
    let exchange = flags & rename::EXCHANGE != 0;
    check_name(new.name())?;
    let src = old.inode().ok_or(ENOENT)?;
    let tgt = new.inode();
    if exchange && tgt.is_none() {
        return Err(ENOENT);
    }
    let same = old_dir.ino() == new_dir.ino();
    let now = fmt_time(old_dir.current_time());
    if let Some(t) = tgt {
        if !exchange {
            // The VFS checked that a directory only replaces a directory and a non-directory a
            // non-directory; the format checks it again.
            let (tdir, sdir) = (t.mode() & S_IFMT == S_IFDIR, src.mode() & S_IFMT == S_IFDIR);
            if tdir != sdir {
                return Err(if sdir { ENOTDIR } else { EISDIR });
            }
        }
    }
    // The inode moved is not always locked (a directory renamed within its parent is not):
    // only its times and its parent change. The inode replaced loses a link and is locked.
    let tgt_tx = match (tgt, replaced) {
        (_, Some(r)) => TxInode::from(r),
        (Some(t), None) => TxInode::from(t),
        (None, None) => TxInode::None,
    };
    let nd_tx = if same {
        TxInode::None
    } else {
        TxInode::from(new_dir)
    };
    inodes_txn(
        [old_dir.into(), nd_tx, src.into(), tgt_tx],
        |t, s, [od, nd, sr, tr]| {
            ops::op_rename(
                t,
                s,
                ops::Rename {
                    src_dir_ino: old_dir.ino(),
                    src_dir: od,
                    src_name: old.name(),
                    dst_dir_ino: new_dir.ino(),
                    dst_dir: (!same).then_some(nd),
                    dst_name: new.name(),
                    ino: src.ino(),
                    inode: sr,
                    target: tgt.map(|ti| (ti.ino(), tr)),
                    exchange,
                },
                now,
            )
        },
    )
}

/// `O_TMPFILE`: an inode without links, on the orphan list until `linkat` or its last close.
pub(crate) fn tmpfile(
    idmap: &Idmap,
    dir: &INode<DaxFs>,
    file: TmpFile<'_, DaxFs>,
    mode: u16,
) -> Result {
    let sb = dir.super_block();
    let info = sb.data();
    let mut new = new_raw(idmap, dir, (mode & 0o7777) | S_IFREG, 0);
    let ino = info.journal.run(
        &info.pmem,
        |t, s| ops::op_tmpfile(t, s, &mut new),
        |ino| ino,
    )?;
    // `d_tmpfile` expects one link and drops it, matching the on-disk count of zero.
    new.nlink = 1;
    let inode = iget_new(sb, ino, new, None)?;
    file.finish(inode)
}

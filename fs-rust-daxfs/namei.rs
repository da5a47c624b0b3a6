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
    inode::{fmt_time, iget_new, raw_to_vfs, vfs_to_raw},
    mount::DaxFs,
};
use kernel::{
    fs::{
        dentry::Named,
        inode::{self, new_owner, rename, INode, Idmap, TmpFile},
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
    dir: &INode<DaxFs>,
    dentry: &Named<'_, DaxFs>,
    mode: u16,
    rdev: u32,
    target: Option<&[u8]>,
) -> Result {
    let name = dentry.name();
    check_name(name)?;
    let sb = dir.super_block();
    let info = sb.data();
    let mut new = new_raw(idmap, dir, mode, rdev);
    let now = new.ctime;
    let ino = info.journal.run(
        &info.pmem,
        |t, s| {
            let mut d = vfs_to_raw(dir, dir.data().get());
            let ino = match target {
                Some(tg) => ops::op_symlink(t, s, dir.ino(), &mut d, name, &mut new, tg, now)?,
                None => ops::op_create(t, s, dir.ino(), &mut d, name, &mut new, now)?,
            };
            Ok((ino, d))
        },
        |(ino, d)| {
            raw_to_vfs(dir, d);
            ino
        },
    )?;
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
    dir: &INode<DaxFs>,
    dentry: &Named<'_, DaxFs>,
    mode: u16,
) -> Result {
    create_common(idmap, dir, dentry, (mode & 0o7777) | S_IFREG, 0, None)
}

/// `mknod`: FIFOs, sockets, device nodes and regular files.
pub(crate) fn mknod(
    idmap: &Idmap,
    dir: &INode<DaxFs>,
    dentry: &Named<'_, DaxFs>,
    mode: u16,
    rdev: u32,
) -> Result {
    create_common(idmap, dir, dentry, mode, rdev, None)
}

/// `mkdir`.
pub(crate) fn mkdir(
    idmap: &Idmap,
    dir: &INode<DaxFs>,
    dentry: &Named<'_, DaxFs>,
    mode: u16,
) -> Result {
    create_common(idmap, dir, dentry, (mode & 0o7777) | S_IFDIR, 0, None)
}

/// `symlink`: targets up to 144 bytes live in the inode, longer ones in one block.
pub(crate) fn symlink(
    idmap: &Idmap,
    dir: &INode<DaxFs>,
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
    old: &Named<'_, DaxFs>,
    dir: &INode<DaxFs>,
    dentry: &Named<'_, DaxFs>,
) -> Result {
    let name = dentry.name();
    check_name(name)?;
    let inode = old.inode().ok_or(ENOENT)?;
    let sb = dir.super_block();
    let info = sb.data();
    let now = fmt_time(dir.current_time());
    info.journal.run(
        &info.pmem,
        |t, s| {
            let mut d = vfs_to_raw(dir, dir.data().get());
            let mut r = vfs_to_raw(inode, inode.data().get());
            ops::op_link(t, s, dir.ino(), &mut d, name, inode.ino(), &mut r, now)?;
            Ok((d, r))
        },
        |(d, r)| {
            raw_to_vfs(dir, d);
            raw_to_vfs(inode, r);
        },
    )?;
    dentry.instantiate(ARef::from(inode));
    Ok(())
}

/// `unlink`: an inode left without links goes on the orphan list and is freed at its last
/// close (`evict_inode`), or at the next mount after a crash.
pub(crate) fn unlink(dir: &INode<DaxFs>, dentry: &Named<'_, DaxFs>) -> Result {
    remove_common(dir, dentry, false)
}

/// `rmdir` (`ENOTEMPTY` unless empty).
pub(crate) fn rmdir(dir: &INode<DaxFs>, dentry: &Named<'_, DaxFs>) -> Result {
    remove_common(dir, dentry, true)
}

fn remove_common(dir: &INode<DaxFs>, dentry: &Named<'_, DaxFs>, is_dir: bool) -> Result {
    let name = dentry.name();
    let inode = dentry.inode().ok_or(ENOENT)?;
    let sb = dir.super_block();
    let info = sb.data();
    let now = fmt_time(dir.current_time());
    info.journal.run(
        &info.pmem,
        |t, s| {
            let mut d = vfs_to_raw(dir, dir.data().get());
            let mut r = vfs_to_raw(inode, inode.data().get());
            if is_dir {
                ops::op_rmdir(t, s, dir.ino(), &mut d, name, inode.ino(), &mut r, now)?;
            } else {
                ops::op_unlink(t, s, dir.ino(), &mut d, name, inode.ino(), &mut r, now)?;
            }
            Ok((d, r))
        },
        |(d, r)| {
            raw_to_vfs(dir, d);
            raw_to_vfs(inode, r);
        },
    )?;
    Ok(())
}

/// `rename`, including `RENAME_NOREPLACE` (checked by the VFS) and `RENAME_EXCHANGE`, in one
/// transaction.
pub(crate) fn rename(
    _idmap: &Idmap,
    old_dir: &INode<DaxFs>,
    old: &Named<'_, DaxFs>,
    new_dir: &INode<DaxFs>,
    new: &Named<'_, DaxFs>,
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
    let sb = old_dir.super_block();
    let info = sb.data();
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
    info.journal.run(
        &info.pmem,
        |t, s| {
            let mut od = vfs_to_raw(old_dir, old_dir.data().get());
            let mut nd = if same {
                None
            } else {
                Some(vfs_to_raw(new_dir, new_dir.data().get()))
            };
            let mut sr = vfs_to_raw(src, src.data().get());
            let mut tr = tgt.map(|ti| vfs_to_raw(ti, ti.data().get()));
            ops::op_rename(
                t,
                s,
                ops::Rename {
                    src_dir_ino: old_dir.ino(),
                    src_dir: &mut od,
                    src_name: old.name(),
                    dst_dir_ino: new_dir.ino(),
                    dst_dir: nd.as_mut(),
                    dst_name: new.name(),
                    ino: src.ino(),
                    inode: &mut sr,
                    target: match (tgt, tr.as_mut()) {
                        (Some(ti), Some(r)) => Some((ti.ino(), r)),
                        _ => None,
                    },
                    exchange,
                },
                now,
            )?;
            Ok((od, nd, sr, tr))
        },
        |(od, nd, sr, tr)| {
            raw_to_vfs(old_dir, od);
            if let Some(n) = nd {
                raw_to_vfs(new_dir, n);
            }
            raw_to_vfs(src, sr);
            if let (Some(ti), Some(r)) = (tgt, tr) {
                raw_to_vfs(ti, r);
            }
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

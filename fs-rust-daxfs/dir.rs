// SPDX-License-Identifier: GPL-2.0

//! Directories: `lookup` and `readdir`.
//!
//! A directory is a B+tree of fixed-size entries keyed by a hash cookie (see `format::dir`).
//! The cookie is also the `readdir` position: `.` is at 0, `..` at 1, and after the entry with
//! key `k` the position is `k + 1`, so positions stay valid across calls and `telldir`/`seekdir`
//! work. `readdir` walks the tree leaf by leaf: one descent per leaf, not per entry.

use crate::{
    attr,
    format::{
        self,
        btree::{node_header, node_key, node_search, node_value},
        btree::{Scratch, Tree, TreeType},
        dir::{dir_lookup, DirEntry, COOKIE_DOT, COOKIE_DOTDOT, COOKIE_EOF, COOKIE_MIN, NAME_MAX},
        inode::mode_to_dtype,
    },
    inode::{self as dinode, corrupt},
    mount::DaxFs,
    namei,
};
use kernel::{
    fs::{
        dentry::{Named, Unhashed},
        dir::{DirEmitter, DirEntryType},
        file::{self, File},
        inode::{self, FileAttr, IAttr, INode, Idmap, Kstat, Locked, TimeUpdate, TmpFile},
        Offset,
    },
    prelude::*,
    sync::aref::ARef,
};

/// Inode operations of directories.
pub(crate) struct DirInodeOps;

/// File operations of directories.
pub(crate) struct DirFileOps;

/// The inode operations table of directories.
pub(crate) const DIR_IOPS: inode::Ops<DaxFs> = inode::Ops::new::<DirInodeOps>();

/// The file operations table of directories.
pub(crate) const DIR_FOPS: file::Ops<DaxFs> = file::Ops::new::<DirFileOps>();

fn tree_of(inode: &INode<DaxFs>) -> Tree {
    Tree {
        tree: TreeType::Dir,
        owner: inode.ino(),
        seed: inode.super_block().data().ctx.csum_seed,
        root: inode.data().get().btree_root(),
    }
}

#[vtable]
impl inode::Operations for DirInodeOps {
    type FileSystem = DaxFs;

    fn update_time(inode: &INode<DaxFs>, kind: TimeUpdate, flags: u32) -> Result {
        // Never a transaction per update (a write fault of a sealed file must do no metadata
        // work): the times are written by the next transaction of the inode, fsync, sync, or
        // the writeback of dirty times (`docs/design.md`, "Timestamps").
        inode.update_time_lazily(kind, flags)
    }

    fn lookup(
        parent: &INode<DaxFs>,
        dentry: &Unhashed<'_, DaxFs>,
    ) -> Result<Option<ARef<INode<DaxFs>>>> {
        let name = dentry.name();
        if name.len() > NAME_MAX {
            return Err(ENAMETOOLONG);
        }
        let sb = parent.super_block();
        let info = sb.data();
        let found = info.scratch.with(|s| {
            dir_lookup(
                &parent.data().get(),
                parent.ino(),
                &info.ctx,
                &mut info.store(),
                s,
                name,
            )
        })?;
        let entry = match found {
            Ok(Some((_, e))) => e,
            Ok(None) | Err(format::Error::InvalidName) => return Ok(None),
            Err(e) => return Err(corrupt(sb, parent.ino(), e)),
        };
        let child = dinode::iget(sb, entry.ino)?;
        if mode_to_dtype(child.data().get().mode) != entry.file_type {
            return Err(corrupt(
                sb,
                parent.ino(),
                format::Error::Corrupt("entry type does not match its inode"),
            ));
        }
        Ok(Some(child))
    }

    fn getattr(inode: &INode<DaxFs>, stat: &mut Kstat, _mask: u32) -> Result {
        dinode::getattr(inode, stat)
    }

    fn fileattr_get(inode: &INode<DaxFs>, fa: &mut FileAttr) -> Result {
        attr::fileattr_get(inode, fa)
    }

    fn fileattr_set(_idmap: &Idmap, inode: &Locked<'_, DaxFs>, fa: &FileAttr) -> Result {
        attr::fileattr_set(inode, fa)
    }

    fn create(
        idmap: &Idmap,
        dir: &Locked<'_, DaxFs>,
        dentry: &Named<'_, DaxFs>,
        mode: u16,
        _excl: bool,
    ) -> Result {
        namei::create(idmap, dir, dentry, mode)
    }

    fn mknod(
        idmap: &Idmap,
        dir: &Locked<'_, DaxFs>,
        dentry: &Named<'_, DaxFs>,
        mode: u16,
        rdev: u32,
    ) -> Result {
        namei::mknod(idmap, dir, dentry, mode, rdev)
    }

    fn mkdir(
        idmap: &Idmap,
        dir: &Locked<'_, DaxFs>,
        dentry: &Named<'_, DaxFs>,
        mode: u16,
    ) -> Result {
        namei::mkdir(idmap, dir, dentry, mode)
    }

    fn symlink(
        idmap: &Idmap,
        dir: &Locked<'_, DaxFs>,
        dentry: &Named<'_, DaxFs>,
        target: &[u8],
    ) -> Result {
        namei::symlink(idmap, dir, dentry, target)
    }

    fn link(
        _old: &Named<'_, DaxFs>,
        inode: &Locked<'_, DaxFs>,
        dir: &Locked<'_, DaxFs>,
        dentry: &Named<'_, DaxFs>,
    ) -> Result {
        namei::link(inode, dir, dentry)
    }

    fn unlink(
        dir: &Locked<'_, DaxFs>,
        dentry: &Named<'_, DaxFs>,
        inode: &Locked<'_, DaxFs>,
    ) -> Result {
        namei::unlink(dir, dentry, inode)
    }

    fn rmdir(
        dir: &Locked<'_, DaxFs>,
        dentry: &Named<'_, DaxFs>,
        inode: &Locked<'_, DaxFs>,
    ) -> Result {
        namei::rmdir(dir, dentry, inode)
    }

    fn rename(
        idmap: &Idmap,
        old_dir: &Locked<'_, DaxFs>,
        old: &Named<'_, DaxFs>,
        new_dir: &Locked<'_, DaxFs>,
        new: &Named<'_, DaxFs>,
        replaced: Option<&Locked<'_, DaxFs>>,
        flags: u32,
    ) -> Result {
        namei::rename(idmap, old_dir, old, new_dir, new, replaced, flags)
    }

    fn tmpfile(idmap: &Idmap, dir: &INode<DaxFs>, file: TmpFile<'_, DaxFs>, mode: u16) -> Result {
        namei::tmpfile(idmap, dir, file, mode)
    }

    fn setattr(idmap: &Idmap, inode: &Locked<'_, DaxFs>, iattr: &IAttr) -> Result {
        attr::setattr(idmap, inode, iattr)
    }
}

fn dtype(t: u8) -> DirEntryType {
    DirEntryType::from_raw(t.into())
}

/// Emits the stored entries from position `pos` on; returns `false` when the buffer is full.
fn emit_entries(
    inode: &INode<DaxFs>,
    emitter: &mut DirEmitter,
    s: &mut Scratch,
    mut pos: u64,
) -> format::Result<bool> {
    let info = inode.super_block().data();
    let t = tree_of(inode);
    let mut st = info.store();
    let mut v = [0u8; format::dir::DIRENT_VALUE_SIZE];
    // Set when `pos` is a key `find_ge` returned: the leaf it belongs to must hold it.
    let mut jumped = false;
    while pos < COOKIE_EOF {
        t.leaf(&mut st, &mut s.a, pos)?;
        let nr = usize::from(node_header(&s.a)?.nr);
        let start = match node_search(&s.a, pos)? {
            Ok(i) => i,
            // A separator that sends a key elsewhere than where `find_ge` found it would
            // make this loop stand still.
            Err(_) if jumped => return Err(format::Error::Corrupt("directory index separator")),
            Err(i) => i,
        };
        jumped = false;
        if start >= nr {
            // Every key of this leaf is below `pos`: the next entry, if any, is in a later
            // leaf, which `find_ge` finds; continue from its key.
            match t.find_ge(&mut st, s, pos, &mut v)? {
                Some(k) if k >= pos => {
                    pos = k;
                    jumped = true;
                    continue;
                }
                Some(_) => return Err(format::Error::Corrupt("directory keys out of order")),
                None => break,
            }
        }
        for i in start..nr {
            let k = node_key(&s.a, i)?;
            let e = DirEntry::decode(node_value(&s.a, i)?)?;
            let next = k
                .checked_add(1)
                .ok_or(format::Error::Corrupt("directory key"))?;
            if !emitter.emit(next as Offset, e.name(), e.ino, dtype(e.file_type)) {
                return Ok(false);
            }
            pos = next;
        }
    }
    Ok(true)
}

#[vtable]
impl file::Operations for DirFileOps {
    type FileSystem = DaxFs;
    const LEASES: bool = true;

    fn fsync(
        _file: &File,
        _inode: &INode<DaxFs>,
        _start: Offset,
        _end: Offset,
        _ds: bool,
    ) -> Result {
        // Every change of a directory is committed before the operation that made it
        // returned: there is nothing left to write.
        Ok(())
    }

    fn read_dir(_file: &File, inode: &INode<DaxFs>, emitter: &mut DirEmitter) -> Result {
        let raw = inode.data().get();
        if emitter.pos() == COOKIE_DOT as Offset {
            if !emitter.emit(
                COOKIE_DOTDOT as Offset,
                b".",
                inode.ino(),
                DirEntryType::Dir,
            ) {
                return Ok(());
            }
        }
        if emitter.pos() == COOKIE_DOTDOT as Offset {
            if !emitter.emit(COOKIE_MIN as Offset, b"..", raw.parent, DirEntryType::Dir) {
                return Ok(());
            }
        }
        let Ok(pos) = u64::try_from(emitter.pos()) else {
            return Err(EINVAL);
        };
        let info = inode.super_block().data();
        let done = info
            .scratch
            .with(|s| emit_entries(inode, emitter, s, pos.max(COOKIE_MIN)))?;
        match done {
            Ok(true) => {
                emitter.set_pos(COOKIE_EOF as Offset);
                Ok(())
            }
            Ok(false) => Ok(()),
            Err(e) => Err(corrupt(inode.super_block(), inode.ino(), e)),
        }
    }
}

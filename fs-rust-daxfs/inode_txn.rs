// SPDX-License-Identifier: GPL-2.0

//! Transactions on inodes: the one way a change of an inode reaches persistent memory.
//!
//! The VFS inode holds the attributes (mode, owner, link count, size, times); the in-core
//! on-disk record ([`crate::inode::InodeInfo`]) holds the block map, the flags and the parent.
//! A change copies the VFS attributes into a copy of the record ([`vfs_to_raw`]), changes the
//! copy in a transaction, and once the transaction is applied installs the copy and the
//! attributes it changed back into the VFS inode. [`inode_txn`] (one inode) and
//! [`inodes_txn`] (a namespace change of up to four inodes) do that; nothing else writes an
//! inode.
//!
//! The VFS inode's size and link count may only be set with its `i_rwsem` held
//! ([`Locked`]): a [`TxInode::Shared`] inode (a page fault allocating blocks, `dirty_inode`,
//! the inode a `rename` moves) keeps them.

use crate::{
    format::{
        self,
        btree::Scratch,
        inode::{Inode, Timespec as FmtTime},
        BLOCK_SIZE_U64,
    },
    inode::ts,
    journal::DTxn,
    mount::DaxFs,
};
use kernel::{
    fs::{
        inode::{INode, Locked},
        Timespec,
    },
    prelude::*,
    sync::MutexGuard,
};

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

/// An inode a transaction changes, as its caller holds it.
#[derive(Clone, Copy)]
pub(crate) enum TxInode<'a> {
    /// Its `i_rwsem` is held: the transaction may change every attribute.
    Locked(&'a Locked<'a, DaxFs>),
    /// Its `i_rwsem` is not held (a page fault allocating blocks, `dirty_inode`, the inode a
    /// `rename` moves): the transaction may change the block map, the block count, the times
    /// and daxfs's own fields, but not the size or the link count. A change of either is a bug
    /// in daxfs: it warns and leaves the VFS inode's value.
    Shared(&'a INode<DaxFs>),
    /// An unused place in [`inodes_txn`]'s list: never copied or installed.
    None,
}

impl<'a> From<&'a Locked<'a, DaxFs>> for TxInode<'a> {
    fn from(l: &'a Locked<'a, DaxFs>) -> Self {
        TxInode::Locked(l)
    }
}

impl<'a> From<&'a INode<DaxFs>> for TxInode<'a> {
    fn from(i: &'a INode<DaxFs>) -> Self {
        TxInode::Shared(i)
    }
}

impl TxInode<'_> {
    fn inode(&self) -> Option<&INode<DaxFs>> {
        match *self {
            TxInode::Locked(l) => Some(l.inode()),
            TxInode::Shared(i) => Some(i),
            TxInode::None => None,
        }
    }

    /// Copies the attributes the transaction changed into the VFS inode, once it is applied.
    fn install_attrs(&self, raw: &Inode) {
        let inode = match *self {
            TxInode::Locked(l) => {
                l.set_nlink(raw.nlink);
                l.set_size(raw.size.try_into().unwrap_or(i64::MAX));
                l.inode()
            }
            TxInode::Shared(i) => {
                kernel::warn_on!(
                    u64::try_from(i.size()).unwrap_or(0) != raw.size || i.nlink() != raw.nlink
                );
                i
            }
            TxInode::None => return,
        };
        inode.set_blocks(raw.blocks.saturating_mul(BLOCK_SIZE_U64 / 512));
        inode.set_atime(ts(raw.atime));
        inode.set_mtime(ts(raw.mtime));
        inode.set_ctime(ts(raw.ctime));
    }
}

/// Runs `f` in one transaction on a copy of the on-disk inode of `inode`, with the attributes
/// its VFS inode holds, and installs the copy once the transaction is applied.
///
/// The on-disk inode's lock ([`crate::inode::InodeInfo::lock`]) is held from the copy to the
/// install: a reader of the block map without the journal lock (FIEMAP, a page fault's
/// lookup) never reads a tree node the transaction is rewriting. Every change of a regular
/// file's block map goes through here.
pub(crate) fn inode_txn<'a, R>(
    inode: impl Into<TxInode<'a>>,
    f: impl FnOnce(&mut DTxn<'_, '_>, &mut Scratch, &mut Inode) -> format::Result<R>,
) -> Result<R> {
    let ti = inode.into();
    let Some(vfs) = ti.inode() else {
        return Err(EINVAL);
    };
    let info = vfs.super_block().data().get_ref();
    info.journal.run(
        &info.pmem,
        |t, s| {
            let guard = vfs.data().lock();
            let mut raw = vfs_to_raw(vfs, *guard);
            let r = f(t, s, &mut raw)?;
            Ok((r, raw, guard))
        },
        |(r, raw, mut guard): (R, Inode, MutexGuard<'_, Inode>)| {
            ti.install_attrs(&raw);
            *guard = raw;
            r
        },
    )
}

/// Runs `f` in one transaction on copies of the on-disk inodes of `inodes` (a namespace change:
/// a directory and the inodes its entries name), each with the attributes its VFS inode holds,
/// and installs the copies once it is applied. The copy of a [`TxInode::None`] place is a
/// blank record that is never installed.
///
/// Transactions are serialised by the journal lock, so the copies are current. The on-disk
/// inodes' locks are taken one at a time (they are of one lock class, and never nested): none
/// of these changes rewrites a regular file's block map, and a directory's map is read only
/// under its `i_rwsem`, which the namespace change holds.
pub(crate) fn inodes_txn<R, const N: usize>(
    inodes: [TxInode<'_>; N],
    f: impl FnOnce(&mut DTxn<'_, '_>, &mut Scratch, &mut [Inode; N]) -> format::Result<R>,
) -> Result<R> {
    let Some(first) = inodes.iter().find_map(|i| i.inode()) else {
        return Err(EINVAL);
    };
    let info = first.super_block().data().get_ref();
    info.journal.run(
        &info.pmem,
        |t, s| {
            let mut raws = [Inode::new(0, 0, 0, FmtTime::default()); N];
            for (raw, ti) in raws.iter_mut().zip(inodes.iter()) {
                if let Some(vfs) = ti.inode() {
                    *raw = vfs_to_raw(vfs, vfs.data().get());
                }
            }
            let r = f(t, s, &mut raws)?;
            Ok((r, raws))
        },
        |(r, raws)| {
            for (raw, ti) in raws.iter().zip(inodes.iter()) {
                if let Some(vfs) = ti.inode() {
                    ti.install_attrs(raw);
                    vfs.data().set(*raw);
                }
            }
            r
        },
    )
}

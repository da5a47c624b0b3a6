// SPDX-License-Identifier: GPL-2.0

//! Namespace and block-map operations, each inside one running
//! [`Txn`] (they never commit): create, symlink, tmpfile, link, unlink,
//! rmdir, rename, block allocation, unwritten conversion, truncate, hole
//! punching and freeing an unlinked inode.
//!
//! Every operation takes the caller's copies of the in-core inodes it
//! involves, updates them and writes every changed inode with
//! [`Txn::write_inode`]; the caller installs the copies (and the
//! superblock returned by [`Txn::commit`]) only once the commit succeeded,
//! and otherwise drops the transaction, which leaves the medium untouched.
//!
//! Times follow POSIX from the caller's `now`: a directory gains or loses
//! an entry: its `mtime` and `ctime`; an inode gains or loses a link or is
//! renamed: its `ctime`. Block-map operations ([`op_alloc`],
//! [`op_convert`], [`op_truncate`], [`op_punch`]) change no time; the
//! caller sets `mtime`/`ctime` for writes, truncation and hole punching.
//!
//! Link counts: a directory has `2 + subdirectories`, its `parent` field
//! is its parent directory. An inode whose count drops to 0 goes on the
//! orphan list in the same transaction; [`op_free_inode`] frees it (at
//! its last close, or at mount for every member of the list).
//!
//! What the VFS checks is not repeated here: permissions, a directory
//! moved below itself, rename of two links of the same inode (a no-op
//! here), the maximum link count.

use super::btree::{NodeStore, Scratch, Tree, TreeType};
use super::dir::{dir_destroy, dir_init, dir_insert, dir_remove, validate_name};
use super::extent::{
    map_destroy, map_insert, map_next, map_remove, map_update, Extent, EXTENT_SEALED,
    EXTENT_UNWRITTEN, EXTENT_VALUE_SIZE, INLINE_EXTENTS, MAX_FILE_BLOCKS,
};
use super::inode::{
    mode_to_dtype, Inode, Timespec, INODE_FLAG_SEALED, INODE_FLAG_SEAL_INTENT, INODE_MAP_SIZE,
    MAP_BTREE, MAP_EXTENTS, SYMLINK_MAX,
};
use super::superblock::BITS_PER_BLOCK;
use super::txn::{Medium, Txn};
use super::{Error, FsCtx, Result, BLOCK_SIZE_U64};

/// Most blocks [`op_truncate`] and [`op_free_inode`] free in one step
/// (one bitmap block's worth), so that a step touches at most two bitmap
/// blocks and two group-table blocks however long the extent is.
pub const FREE_CHUNK: u64 = BITS_PER_BLOCK;

/// Free slots a truncation step may need in the worst case (a tree
/// path, freed nodes, bitmaps, group table, the inode); a budgeted loop
/// stops before a step when fewer remain.
pub const STEP_SLOTS: usize = 24;

fn check_dir(dir: &Inode) -> Result<()> {
    if dir.is_dir() {
        Ok(())
    } else {
        Err(Error::BadField("not a directory"))
    }
}

fn touch_dir(dir: &mut Inode, now: Timespec) {
    dir.mtime = now;
    dir.ctime = now;
}

fn inc_nlink(i: &mut Inode) -> Result<()> {
    i.nlink = i
        .nlink
        .checked_add(1)
        .ok_or(Error::BadField("too many links"))?;
    Ok(())
}

fn dec_nlink(i: &mut Inode) -> Result<()> {
    i.nlink = i.nlink.checked_sub(1).ok_or(Error::Corrupt("nlink"))?;
    Ok(())
}

/// A directory loses a subdirectory: its count stays at least 2.
fn dec_dir_nlink(d: &mut Inode) -> Result<()> {
    d.nlink = d
        .nlink
        .checked_sub(1)
        .filter(|&n| n >= 2)
        .ok_or(Error::Corrupt("directory nlink"))?;
    Ok(())
}

fn dtype(i: &Inode) -> Result<u8> {
    match mode_to_dtype(i.mode) {
        0 => Err(Error::BadField("mode")),
        t => Ok(t),
    }
}

/// The last extent that starts before `lblk`.
fn map_prev<S: NodeStore + ?Sized>(
    inode: &Inode,
    ino: u64,
    ctx: &FsCtx,
    st: &mut S,
    s: &mut Scratch,
    lblk: u64,
) -> Result<Option<Extent>> {
    if lblk == 0 {
        return Ok(None);
    }
    match inode.map_kind {
        MAP_EXTENTS => {
            let n = inode.map_count as usize;
            if n > INLINE_EXTENTS {
                return Err(Error::BadField("map_count"));
            }
            let mut best = None;
            for i in 0..n {
                let e = Extent::decode_inline(&inode.map, i)?;
                if e.lblk >= lblk {
                    break;
                }
                best = Some(e);
            }
            Ok(best)
        }
        MAP_BTREE => {
            let t = Tree {
                tree: TreeType::Extent,
                owner: ino,
                seed: ctx.csum_seed,
                root: inode.btree_root(),
            };
            let mut v = [0u8; EXTENT_VALUE_SIZE];
            match t.find_le(st, s, lblk - 1, &mut v)? {
                Some(k) => Ok(Some(Extent::decode_value(k, &v)?)),
                None => Ok(None),
            }
        }
        _ => Ok(None),
    }
}

/// First physical block after extent `e`.
fn pend(e: &Extent) -> u64 {
    e.pblk.saturating_add(u64::from(e.len))
}

/// Inserts the entry of the freshly allocated inode `ino` and writes both
/// inodes.
#[allow(clippy::too_many_arguments)]
fn link_new<M: Medium + ?Sized>(
    t: &mut Txn<'_, M>,
    s: &mut Scratch,
    dir_ino: u64,
    dir: &mut Inode,
    name: &[u8],
    ino: u64,
    new: &Inode,
    now: Timespec,
) -> Result<()> {
    let ctx = t.ctx();
    dir_insert(dir, dir_ino, &ctx, t, s, name, ino, dtype(new)?)?;
    touch_dir(dir, now);
    t.write_inode(ino, new)?;
    t.write_inode(dir_ino, dir)
}

/// Creates `name` in directory `dir_ino` for the new inode `new` (the
/// caller set its mode, owner, `rdev` and times, e.g. with
/// [`Inode::new`]): allocates the inode (setting `new.generation`), gives
/// a directory its empty index, `parent = dir_ino` and one more link in
/// `dir`, inserts the entry and writes both inodes. Returns the new inode
/// number. Symlinks are created with [`op_symlink`].
#[allow(clippy::too_many_arguments)]
pub fn op_create<M: Medium + ?Sized>(
    t: &mut Txn<'_, M>,
    s: &mut Scratch,
    dir_ino: u64,
    dir: &mut Inode,
    name: &[u8],
    new: &mut Inode,
    now: Timespec,
) -> Result<u64> {
    check_dir(dir)?;
    validate_name(name)?;
    dtype(new)?;
    if new.is_symlink() {
        return Err(Error::BadField("symlink created without a target"));
    }
    let (ino, gen) = t.alloc_ino()?;
    new.generation = gen;
    new.next_orphan = 0;
    new.prev_orphan = 0;
    if new.is_dir() {
        let ctx = t.ctx();
        dir_init(new, ino, &ctx, t, s)?;
        new.parent = dir_ino;
        new.nlink = 2;
        inc_nlink(dir)?;
    } else {
        new.parent = 0;
    }
    link_new(t, s, dir_ino, dir, name, ino, new, now)?;
    Ok(ino)
}

/// Creates symlink `name -> target` in `dir_ino` (`new` must have a
/// symlink mode). Targets of 1 to 144 bytes are stored inline; longer
/// ones (up to 4095) in one data block, written through the journal so
/// that the creation is atomic. Returns the new inode number.
#[allow(clippy::too_many_arguments)]
pub fn op_symlink<M: Medium + ?Sized>(
    t: &mut Txn<'_, M>,
    s: &mut Scratch,
    dir_ino: u64,
    dir: &mut Inode,
    name: &[u8],
    new: &mut Inode,
    target: &[u8],
    now: Timespec,
) -> Result<u64> {
    check_dir(dir)?;
    validate_name(name)?;
    if !new.is_symlink() {
        return Err(Error::BadField("mode"));
    }
    if target.is_empty() || target.contains(&0) {
        return Err(Error::InvalidName);
    }
    if target.len() as u64 > SYMLINK_MAX {
        return Err(Error::NameTooLong);
    }
    let (ino, gen) = t.alloc_ino()?;
    new.generation = gen;
    new.next_orphan = 0;
    new.prev_orphan = 0;
    new.parent = 0;
    new.blocks = 0;
    if target.len() <= INODE_MAP_SIZE {
        new.set_inline_data(target)?;
    } else {
        new.map = [0; INODE_MAP_SIZE];
        new.map_kind = MAP_EXTENTS;
        new.map_count = 0;
        let (pblk, _) = t.alloc_blocks(0, 1)?;
        let ctx = t.ctx();
        map_insert(
            new,
            ino,
            &ctx,
            t,
            s,
            Extent {
                lblk: 0,
                pblk,
                len: 1,
                flags: 0,
            },
        )?;
        let b = t.block_mut(pblk)?;
        b.fill(0);
        b.get_mut(..target.len())
            .ok_or(Error::Truncated)?
            .copy_from_slice(target);
        new.size = target.len() as u64;
    }
    link_new(t, s, dir_ino, dir, name, ino, new, now)?;
    Ok(ino)
}

/// `O_TMPFILE`: allocates an inode for `new` (not a directory) with no
/// links and no entry, on the orphan list; [`op_link`] may link it later.
/// Returns the new inode number.
pub fn op_tmpfile<M: Medium + ?Sized>(
    t: &mut Txn<'_, M>,
    _s: &mut Scratch,
    new: &mut Inode,
) -> Result<u64> {
    dtype(new)?;
    if new.is_dir() || new.is_symlink() {
        return Err(Error::BadField("tmpfile of a directory or symlink"));
    }
    let (ino, gen) = t.alloc_ino()?;
    new.generation = gen;
    new.nlink = 0;
    new.next_orphan = 0;
    new.prev_orphan = 0;
    new.parent = 0;
    t.orphan_add(ino, new)?;
    Ok(ino)
}

/// Adds the hard link `name` in `dir_ino` to inode `ino` (not a
/// directory). An inode with no links (an `O_TMPFILE` being linked) is
/// taken off the orphan list first.
#[allow(clippy::too_many_arguments)]
pub fn op_link<M: Medium + ?Sized>(
    t: &mut Txn<'_, M>,
    s: &mut Scratch,
    dir_ino: u64,
    dir: &mut Inode,
    name: &[u8],
    ino: u64,
    inode: &mut Inode,
    now: Timespec,
) -> Result<()> {
    check_dir(dir)?;
    if inode.is_dir() {
        return Err(Error::BadField("hard link to a directory"));
    }
    let listed = inode.belongs_on_orphan_list();
    let ctx = t.ctx();
    dir_insert(dir, dir_ino, &ctx, t, s, name, ino, dtype(inode)?)?;
    inc_nlink(inode)?;
    if listed && !inode.belongs_on_orphan_list() {
        t.orphan_remove(ino, inode)?;
    }
    inode.ctime = now;
    touch_dir(dir, now);
    t.write_inode(ino, inode)?;
    t.write_inode(dir_ino, dir)
}

/// Removes entry `name` (which must name `ino`, not a directory) from
/// `dir_ino`. At zero links the inode goes on the orphan list; the caller
/// frees it with [`op_free_inode`] at its last close.
#[allow(clippy::too_many_arguments)]
pub fn op_unlink<M: Medium + ?Sized>(
    t: &mut Txn<'_, M>,
    s: &mut Scratch,
    dir_ino: u64,
    dir: &mut Inode,
    name: &[u8],
    ino: u64,
    inode: &mut Inode,
    now: Timespec,
) -> Result<()> {
    check_dir(dir)?;
    if inode.is_dir() {
        return Err(Error::BadField("unlink of a directory"));
    }
    let ctx = t.ctx();
    let e = dir_remove(dir, dir_ino, &ctx, t, s, name)?;
    if e.ino != ino {
        return Err(Error::Corrupt("directory entry names another inode"));
    }
    let listed = inode.belongs_on_orphan_list();
    dec_nlink(inode)?;
    inode.ctime = now;
    touch_dir(dir, now);
    if !listed && inode.belongs_on_orphan_list() {
        t.orphan_add(ino, inode)?;
    }
    t.write_inode(ino, inode)?;
    t.write_inode(dir_ino, dir)
}

/// Removes the empty directory `name` (inode `ino`) from `dir_ino`:
/// [`Error::NotEmpty`] if it has entries. Its link count becomes 0 (it
/// goes on the orphan list) and `dir` loses a link.
#[allow(clippy::too_many_arguments)]
pub fn op_rmdir<M: Medium + ?Sized>(
    t: &mut Txn<'_, M>,
    s: &mut Scratch,
    dir_ino: u64,
    dir: &mut Inode,
    name: &[u8],
    ino: u64,
    inode: &mut Inode,
    now: Timespec,
) -> Result<()> {
    check_dir(dir)?;
    if !inode.is_dir() {
        return Err(Error::BadField("rmdir of a non-directory"));
    }
    if inode.map_count != 0 {
        return Err(Error::NotEmpty);
    }
    let ctx = t.ctx();
    let e = dir_remove(dir, dir_ino, &ctx, t, s, name)?;
    if e.ino != ino {
        return Err(Error::Corrupt("directory entry names another inode"));
    }
    inode.nlink = 0;
    inode.ctime = now;
    dec_dir_nlink(dir)?;
    touch_dir(dir, now);
    t.orphan_add(ino, inode)?;
    t.write_inode(dir_ino, dir)
}

/// The inodes and names of a rename, for [`op_rename`].
///
/// Rust's borrowing rules forbid two `&mut` to one inode, so a rename
/// within one directory passes `dst_dir: None` (then `dst_dir_ino` is
/// ignored and `src_dir` is the destination too); a cross-directory
/// rename passes the destination directory's copy in `dst_dir` (its inode
/// number must differ from `src_dir_ino`).
pub struct Rename<'x> {
    /// Source directory.
    pub src_dir_ino: u64,
    /// Copy of the source directory inode.
    pub src_dir: &'x mut Inode,
    /// Source name.
    pub src_name: &'x [u8],
    /// Destination directory (ignored when `dst_dir` is `None`).
    pub dst_dir_ino: u64,
    /// Copy of the destination directory inode, `None` if it is the
    /// source directory.
    pub dst_dir: Option<&'x mut Inode>,
    /// Destination name.
    pub dst_name: &'x [u8],
    /// The inode `src_name` names.
    pub ino: u64,
    /// Copy of that inode.
    pub inode: &'x mut Inode,
    /// The inode `dst_name` names, if it exists: replaced (its link count
    /// drops; at zero it goes on the orphan list), or exchanged.
    pub target: Option<(u64, &'x mut Inode)>,
    /// `RENAME_EXCHANGE`: swap the two entries (requires `target`).
    pub exchange: bool,
}

fn pick<'b>(dst: &'b mut Option<&mut Inode>, src: &'b mut Inode) -> &'b mut Inode {
    match dst {
        Some(d) => d,
        None => src,
    }
}

/// `rename(2)` and `renameat2(RENAME_EXCHANGE)`, atomically in the
/// running transaction; see [`Rename`] for the arguments.
///
/// - The entry `src_name` must name `ino` and, if given, `dst_name` must
///   name `target.0` ([`Error::Corrupt`] otherwise, [`Error::NotFound`] if
///   a name is missing; [`Error::Exists`] if `dst_name` exists but no
///   `target` was given).
/// - Replacing: a directory only replaces an empty directory
///   ([`Error::NotEmpty`]) and a non-directory only a non-directory
///   ([`Error::BadField`] for mismatched types; the VFS reports these as
///   `EISDIR`/`ENOTDIR` before calling). The replaced inode loses a link
///   (a directory all of them, and its parent one); at zero it goes on the
///   orphan list for [`op_free_inode`].
/// - A directory that changes parent gets `parent = dst_dir_ino`, and the
///   parents' link counts move with it (for an exchange, in both
///   directions).
/// - Times: both directories' `mtime`/`ctime`, the moved inodes' (and the
///   replaced inode's) `ctime`.
///
/// If `target` is `ino` itself (two links to one inode) nothing changes.
pub fn op_rename<M: Medium + ?Sized>(
    t: &mut Txn<'_, M>,
    s: &mut Scratch,
    r: Rename<'_>,
    now: Timespec,
) -> Result<()> {
    let Rename {
        src_dir_ino,
        src_dir,
        src_name,
        dst_dir_ino,
        mut dst_dir,
        dst_name,
        ino,
        inode,
        mut target,
        exchange,
    } = r;
    check_dir(src_dir)?;
    let cross = dst_dir.is_some();
    if let Some(d) = dst_dir.as_deref() {
        check_dir(d)?;
        if dst_dir_ino == src_dir_ino {
            return Err(Error::BadField("rename: same directory passed twice"));
        }
    }
    let dst_ino = if cross { dst_dir_ino } else { src_dir_ino };
    validate_name(src_name)?;
    validate_name(dst_name)?;
    if exchange && target.is_none() {
        return Err(Error::BadField("exchange without a target"));
    }
    if let Some((tino, tinode)) = target.as_ref() {
        if *tino == ino {
            return Ok(());
        }
        if !exchange {
            if inode.is_dir() != tinode.is_dir() {
                return Err(Error::BadField("rename: file and directory"));
            }
            if tinode.is_dir() && tinode.map_count != 0 {
                return Err(Error::NotEmpty);
            }
        }
    }
    let ctx = t.ctx();
    // Take both names out, then put them back.
    let e = dir_remove(src_dir, src_dir_ino, &ctx, t, s, src_name)?;
    if e.ino != ino {
        return Err(Error::Corrupt("directory entry names another inode"));
    }
    if let Some((tino, _)) = target.as_ref() {
        let dd = pick(&mut dst_dir, src_dir);
        let e2 = dir_remove(dd, dst_ino, &ctx, t, s, dst_name)?;
        if e2.ino != *tino {
            return Err(Error::Corrupt("directory entry names another inode"));
        }
    }
    {
        let dd = pick(&mut dst_dir, src_dir);
        dir_insert(dd, dst_ino, &ctx, t, s, dst_name, ino, dtype(inode)?)?;
    }
    if exchange {
        if let Some((tino, tinode)) = target.as_ref() {
            dir_insert(
                src_dir,
                src_dir_ino,
                &ctx,
                t,
                s,
                src_name,
                *tino,
                dtype(tinode)?,
            )?;
        }
    }
    // Link counts and parents.
    if exchange {
        if let Some((tino, tinode)) = target.as_mut() {
            if cross {
                if inode.is_dir() {
                    inode.parent = dst_ino;
                    dec_dir_nlink(src_dir)?;
                    inc_nlink(pick(&mut dst_dir, src_dir))?;
                }
                if tinode.is_dir() {
                    tinode.parent = src_dir_ino;
                    dec_dir_nlink(pick(&mut dst_dir, src_dir))?;
                    inc_nlink(src_dir)?;
                }
            }
            tinode.ctime = now;
            t.write_inode(*tino, tinode)?;
        }
    } else {
        if let Some((tino, tinode)) = target.as_mut() {
            let listed = tinode.belongs_on_orphan_list();
            if tinode.is_dir() {
                tinode.nlink = 0;
                dec_dir_nlink(pick(&mut dst_dir, src_dir))?;
            } else {
                dec_nlink(tinode)?;
            }
            tinode.ctime = now;
            if !listed && tinode.belongs_on_orphan_list() {
                t.orphan_add(*tino, tinode)?;
            }
            t.write_inode(*tino, tinode)?;
        }
        if inode.is_dir() && cross {
            inode.parent = dst_ino;
            dec_dir_nlink(src_dir)?;
            inc_nlink(pick(&mut dst_dir, src_dir))?;
        }
    }
    inode.ctime = now;
    touch_dir(src_dir, now);
    t.write_inode(ino, inode)?;
    t.write_inode(src_dir_ino, src_dir)?;
    if let Some(d) = dst_dir {
        touch_dir(d, now);
        t.write_inode(dst_ino, d)?;
    }
    Ok(())
}

/// Allocates blocks for the hole at `[lblk, lblk + want)` of regular file
/// `ino` (the caller guarantees it is a hole and does not reach the next
/// extent). The goal is the physical block that continues the extent
/// before `lblk`, and [`Txn::alloc_file_blocks`] keeps the file in its
/// 2 MiB phase where the allocation can fill 2 MiB chunks; the run found
/// may be shorter than `want`. If that
/// extent ends at `lblk`, is physically contiguous and has the same
/// flags, it is extended ([`map_update`]) instead of adding an extent, so
/// appending writes keep one extent. Returns the newly allocated range
/// (which the caller zeroes before commit unless `unwritten`). Writes the
/// inode; a sealed inode fails with [`Error::Sealed`].
#[allow(clippy::too_many_arguments)]
pub fn op_alloc<M: Medium + ?Sized>(
    t: &mut Txn<'_, M>,
    s: &mut Scratch,
    ino: u64,
    inode: &mut Inode,
    lblk: u64,
    want: u64,
    unwritten: bool,
) -> Result<Extent> {
    if !inode.is_reg() {
        return Err(Error::BadField("allocation for a non-regular file"));
    }
    if want == 0 {
        return Err(Error::BadField("allocation length"));
    }
    let want = want.min(u64::from(u32::MAX));
    lblk.checked_add(want)
        .filter(|&e| e <= MAX_FILE_BLOCKS)
        .ok_or(Error::BadField("extent lblk"))?;
    let ctx = t.ctx();
    let prev = map_prev(inode, ino, &ctx, t, s, lblk)?;
    let goal = match prev {
        Some(p) => pend(&p).saturating_add(lblk.saturating_sub(p.lend())),
        None => 0,
    };
    let (pblk, n) = t.alloc_file_blocks(goal, lblk, want)?;
    let len = u32::try_from(n).map_err(|_| Error::Corrupt("allocation length"))?;
    let flags = if unwritten { EXTENT_UNWRITTEN } else { 0 };
    let new = Extent {
        lblk,
        pblk,
        len,
        flags,
    };
    match prev {
        Some(p)
            if p.lend() == lblk
                && pend(&p) == pblk
                && p.flags == flags
                && p.len.checked_add(len).is_some() =>
        {
            let grown = Extent {
                len: p.len + len,
                ..p
            };
            map_update(inode, ino, &ctx, t, s, grown)?;
        }
        _ => map_insert(inode, ino, &ctx, t, s, new)?,
    }
    t.write_inode(ino, inode)?;
    Ok(new)
}

/// Clears `UNWRITTEN` on `[lblk, lblk + len)` of file `ino` (after the
/// caller wrote or zeroed those blocks), splitting extents at the range
/// ends; a converted piece that continues the written extent before it
/// (logically and physically) is merged into it. Writes the inode.
pub fn op_convert<M: Medium + ?Sized>(
    t: &mut Txn<'_, M>,
    s: &mut Scratch,
    ino: u64,
    inode: &mut Inode,
    lblk: u64,
    len: u64,
) -> Result<()> {
    let end = lblk
        .checked_add(len)
        .ok_or(Error::BadField("convert range"))?;
    let ctx = t.ctx();
    let mut at = lblk;
    while at < end {
        let e = match map_next(inode, ino, &ctx, t, s, at)? {
            Some(e) if e.lblk < end => e,
            _ => break,
        };
        if e.flags & EXTENT_UNWRITTEN == 0 {
            at = e.lend();
            continue;
        }
        let cs = e.lblk.max(at);
        let ce = e.lend().min(end);
        let written = e.flags & !EXTENT_UNWRITTEN;
        let mid = Extent {
            lblk: cs,
            pblk: e.pblk.saturating_add(cs - e.lblk),
            len: (ce - cs) as u32,
            flags: written,
        };
        let right = if ce < e.lend() {
            Some(Extent {
                lblk: ce,
                pblk: e.pblk.saturating_add(ce - e.lblk),
                len: (e.lend() - ce) as u32,
                flags: e.flags,
            })
        } else {
            None
        };
        if cs > e.lblk {
            let left = Extent {
                len: (cs - e.lblk) as u32,
                ..e
            };
            map_update(inode, ino, &ctx, t, s, left)?;
            map_insert(inode, ino, &ctx, t, s, mid)?;
        } else {
            match map_prev(inode, ino, &ctx, t, s, cs)? {
                Some(p)
                    if p.lend() == cs
                        && pend(&p) == mid.pblk
                        && p.flags == written
                        && p.len.checked_add(mid.len).is_some() =>
                {
                    map_remove(inode, ino, &ctx, t, s, e.lblk)?;
                    let grown = Extent {
                        len: p.len + mid.len,
                        ..p
                    };
                    map_update(inode, ino, &ctx, t, s, grown)?;
                }
                _ => {
                    map_update(inode, ino, &ctx, t, s, mid)?;
                }
            }
        }
        if let Some(r) = right {
            map_insert(inode, ino, &ctx, t, s, r)?;
        }
        at = ce;
    }
    t.write_inode(ino, inode)
}

/// Removes (or trims) the extents at or beyond logical block `boundary`
/// and frees their blocks, last blocks of an extent first and at most
/// [`FREE_CHUNK`] blocks per step; stops after `budget` steps (at least
/// one) or when fewer than [`STEP_SLOTS`] slots remain. `Ok(true)` when
/// nothing is left beyond `boundary`. Every step leaves a consistent map.
fn free_extents_from<M: Medium + ?Sized>(
    t: &mut Txn<'_, M>,
    s: &mut Scratch,
    ino: u64,
    inode: &mut Inode,
    boundary: u64,
    budget: usize,
) -> Result<bool> {
    let ctx = t.ctx();
    let mut steps = 0usize;
    loop {
        let e = match map_next(inode, ino, &ctx, t, s, boundary)? {
            Some(e) => e,
            None => return Ok(true),
        };
        if steps >= budget.max(1) || (steps > 0 && t.slots_free() < STEP_SLOTS) {
            return Ok(false);
        }
        let beyond = if e.lblk >= boundary {
            u64::from(e.len)
        } else {
            e.lend() - boundary
        };
        let cut = beyond.min(FREE_CHUNK);
        if cut == u64::from(e.len) {
            map_remove(inode, ino, &ctx, t, s, e.lblk)?;
            t.free_blocks(e.pblk, cut)?;
        } else {
            let keep = e.len - cut as u32;
            map_update(inode, ino, &ctx, t, s, Extent { len: keep, ..e })?;
            t.free_blocks(e.pblk.saturating_add(u64::from(keep)), cut)?;
        }
        steps += 1;
    }
}

/// Sets the size of regular file `ino` to `new_size` and, when shrinking
/// or keeping the size, removes or trims the extents beyond
/// `ceil(new_size / 4096)` (preallocated ones included) and frees their
/// blocks. Does at most about `budget` extent steps (see
/// [`FREE_CHUNK`], [`STEP_SLOTS`]) so the transaction fits: `Ok(false)`
/// means "commit and call again in a new transaction"; the filesystem is
/// consistent after every step (extents beyond the size are legal). An
/// extent tree left empty is released. Growing only sets the size, keeping
/// blocks preallocated past it. A
/// sealed file's size cannot change ([`Error::Sealed`]). Writes the inode;
/// times are the caller's.
pub fn op_truncate<M: Medium + ?Sized>(
    t: &mut Txn<'_, M>,
    s: &mut Scratch,
    ino: u64,
    inode: &mut Inode,
    new_size: u64,
    budget: usize,
) -> Result<bool> {
    if !inode.is_reg() {
        return Err(Error::BadField("truncate of a non-regular file"));
    }
    if new_size > MAX_FILE_BLOCKS * BLOCK_SIZE_U64 - 1 {
        return Err(Error::BadField("size"));
    }
    if inode.is_sealed() && new_size != inode.size {
        return Err(Error::Sealed);
    }
    let shrink = new_size <= inode.size;
    inode.size = new_size;
    let boundary = new_size.div_ceil(BLOCK_SIZE_U64);
    // Growing keeps blocks preallocated past the old size (generic/092).
    let done = !shrink || free_extents_from(t, s, ino, inode, boundary, budget)?;
    if done && inode.map_kind == MAP_BTREE && inode.map_count == 0 {
        let ctx = t.ctx();
        map_destroy(inode, ino, &ctx, t, s)?;
    }
    t.write_inode(ino, inode)?;
    Ok(done)
}

/// Free slots a hole-punching step that splits an extent may need: the
/// removal or trim, the insertion of the right part (a tree path whose
/// nodes may all split, or the conversion of a full inline map into a
/// tree), the freed blocks' bitmaps and group table, the inode.
const SPLIT_SLOTS: usize = 2 * STEP_SLOTS;

/// Removes the mapping of file blocks `[lblk, end)` of regular file `ino`
/// (`fallocate(FALLOC_FL_PUNCH_HOLE)`), freeing their blocks: extents
/// inside the range are removed, an extent straddling a boundary is
/// trimmed ([`map_update`]) and one straddling both is split in two (a
/// trim and a [`map_insert`] of the right part with the same flags, so an
/// `UNWRITTEN` extent stays unwritten on both sides and keeps its physical
/// blocks; a split of a full inline map converts it into a tree). Leaves
/// `size` alone: a punch past the end of the file frees preallocated
/// blocks there.
///
/// Works in steps like [`op_truncate`]: each step frees at most
/// [`FREE_CHUNK`] blocks of one extent (the last blocks of its part inside
/// the range first, so an extent's own mapping only ever shrinks at its
/// end and its key never changes), at most `budget` steps per call (at
/// least one), and no step after the first starts with fewer than
/// [`STEP_SLOTS`] free slots (twice that for a split); `Ok(false)` =
/// commit and call again, with the same range, in a new transaction;
/// `Ok(true)` = nothing is mapped in the range any more. Every step unmaps
/// and frees in the same transaction, so the filesystem is consistent
/// after each (a crash between transactions leaves the range partly
/// punched). An empty range (`lblk >= end`), a hole or a range past the
/// last extent changes nothing (`Ok(true)`); `end` may exceed the largest
/// file block. An extent tree left empty is released. Writes the inode;
/// times are the caller's.
///
/// Sealing: a sealed inode fails with [`Error::Sealed`] (`ETXTBSY`)
/// before anything changes, whatever the range. As everywhere in the
/// format, only the inode flag seals: a SEALED extent of an unsealed inode
/// (one whose seal or unseal is in progress, [`INODE_FLAG_SEAL_INTENT`])
/// is trimmed, split and freed like any other, and the pieces that stay
/// keep their flags until the seal sequence or its recovery clears them.
pub fn op_punch<M: Medium + ?Sized>(
    t: &mut Txn<'_, M>,
    s: &mut Scratch,
    ino: u64,
    inode: &mut Inode,
    lblk: u64,
    end: u64,
    budget: usize,
) -> Result<bool> {
    if !inode.is_reg() {
        return Err(Error::BadField("hole punch in a non-regular file"));
    }
    if inode.is_sealed() {
        return Err(Error::Sealed);
    }
    let end = end.min(MAX_FILE_BLOCKS);
    if lblk >= end {
        return Ok(true);
    }
    let ctx = t.ctx();
    let mut steps = 0usize;
    let done = loop {
        let e = match map_next(inode, ino, &ctx, t, s, lblk)? {
            Some(e) if e.lblk < end => e,
            _ => break true,
        };
        // The part of `e` inside the range is [cs, ce); this step frees
        // its last `cut` blocks and keeps `e`'s first `keep` blocks.
        let cs = e.lblk.max(lblk);
        let ce = e.lend().min(end);
        let cut = (ce - cs).min(FREE_CHUNK);
        let keep = u32::try_from(ce - cut - e.lblk).map_err(|_| Error::Corrupt("extent len"))?;
        let right = if e.lend() > ce {
            Some(Extent {
                lblk: ce,
                pblk: e.pblk.saturating_add(ce - e.lblk),
                len: u32::try_from(e.lend() - ce).map_err(|_| Error::Corrupt("extent len"))?,
                flags: e.flags,
            })
        } else {
            None
        };
        let need = if right.is_some() {
            SPLIT_SLOTS
        } else {
            STEP_SLOTS
        };
        if steps >= budget.max(1) || (steps > 0 && t.slots_free() < need) {
            break false;
        }
        if keep == 0 {
            map_remove(inode, ino, &ctx, t, s, e.lblk)?;
        } else {
            map_update(inode, ino, &ctx, t, s, Extent { len: keep, ..e })?;
        }
        // Free before inserting the right part, so that a tree node the
        // insertion needs can come from the blocks just freed on a full
        // device.
        t.free_blocks(e.pblk.saturating_add(u64::from(keep)), cut)?;
        if let Some(r) = right {
            map_insert(inode, ino, &ctx, t, s, r)?;
        }
        steps += 1;
    };
    if done && inode.map_kind == MAP_BTREE && inode.map_count == 0 {
        map_destroy(inode, ino, &ctx, t, s)?;
    }
    t.write_inode(ino, inode)?;
    Ok(done)
}

/// Frees inode `ino`, which has no links (an orphan, at its last close or
/// at mount): its data blocks in steps of about `budget` extents
/// (`Ok(false)`: commit and call again in a new transaction; the inode
/// stays a consistent orphan in between), then its extent tree, directory
/// index or long symlink block, and finally takes it off the orphan list
/// and frees the slot (`Ok(true)`). A sealed file is unsealed first (the
/// documented order: inode flag, then extents), since it is being
/// destroyed.
pub fn op_free_inode<M: Medium + ?Sized>(
    t: &mut Txn<'_, M>,
    s: &mut Scratch,
    ino: u64,
    inode: &mut Inode,
    budget: usize,
) -> Result<bool> {
    if inode.nlink != 0 {
        return Err(Error::BadField("freeing an inode that has links"));
    }
    let ctx = t.ctx();
    if inode.is_dir() {
        dir_destroy(inode, ino, &ctx, t, s).map_err(|e| match e {
            Error::Exists => Error::NotEmpty,
            e => e,
        })?;
    } else if inode.map_kind == MAP_EXTENTS || inode.map_kind == MAP_BTREE {
        inode.flags &= !(INODE_FLAG_SEALED | INODE_FLAG_SEAL_INTENT);
        // A long symlink has one one-block extent: always in one step.
        let budget = if inode.is_symlink() {
            usize::MAX
        } else {
            budget
        };
        if !free_extents_from(t, s, ino, inode, 0, budget)? {
            t.write_inode(ino, inode)?;
            return Ok(false);
        }
        map_destroy(inode, ino, &ctx, t, s)?;
    }
    t.orphan_remove(ino, inode)?;
    t.free_ino(ino)?;
    Ok(true)
}

/// The first transaction of sealing regular file `ino`: records the intent
/// ([`INODE_FLAG_SEAL_INTENT`]) and puts the inode on the orphan list (if
/// its links do not already keep it there), so that a crash before
/// [`op_seal_inode`] commits is rolled back at mount. Needs an unsealed
/// inode without a pending intent. Writes the inode.
pub fn op_seal_begin<M: Medium + ?Sized>(
    t: &mut Txn<'_, M>,
    ino: u64,
    inode: &mut Inode,
) -> Result<()> {
    if !inode.is_reg() {
        return Err(Error::BadField("sealing a file that is not regular"));
    }
    if inode.is_sealed() || inode.seal_intent() {
        return Err(Error::BadField("sealing a sealed file or one being sealed"));
    }
    let listed = inode.belongs_on_orphan_list();
    inode.flags |= INODE_FLAG_SEAL_INTENT;
    if !listed {
        t.orphan_add(ino, inode)?;
    }
    t.write_inode(ino, inode)
}

/// One step of sealing or unsealing the block map of regular file `ino`:
/// sets (`seal`) or clears `EXTENT_SEALED` on at most `budget` extents,
/// starting with the first one that ends after block `lblk`, and writes
/// the inode if an extent changed. Returns the block to continue from in
/// a new transaction, or `None` when the last extent is done. Both need a
/// pending intent ([`op_seal_begin`], [`op_unseal_begin`]), so a crash
/// between the steps is rolled back at mount; sealing needs every extent
/// written (the caller filled the holes and zeroed the unwritten extents
/// first).
pub fn op_seal_extents<M: Medium + ?Sized>(
    t: &mut Txn<'_, M>,
    s: &mut Scratch,
    ino: u64,
    inode: &mut Inode,
    lblk: u64,
    seal: bool,
    budget: usize,
) -> Result<Option<u64>> {
    if !inode.is_reg() {
        return Err(Error::BadField("sealing a file that is not regular"));
    }
    if !inode.seal_intent() || inode.is_sealed() {
        return Err(Error::BadField(
            "changing extent seals without a seal intent",
        ));
    }
    let ctx = t.ctx();
    let mut at = lblk;
    let mut changed = false;
    for _ in 0..budget.max(1) {
        let Some(e) = map_next(inode, ino, &ctx, t, s, at)? else {
            if changed {
                t.write_inode(ino, inode)?;
            }
            return Ok(None);
        };
        if seal && e.flags & EXTENT_UNWRITTEN != 0 {
            return Err(Error::BadField("sealing an unwritten extent"));
        }
        let flags = if seal {
            e.flags | EXTENT_SEALED
        } else {
            e.flags & !EXTENT_SEALED
        };
        if flags != e.flags {
            map_update(inode, ino, &ctx, t, s, Extent { flags, ..e })?;
            changed = true;
        }
        at = e.lend();
    }
    if changed {
        t.write_inode(ino, inode)?;
    }
    Ok(Some(at))
}

/// The last transaction of sealing regular file `ino`: checks the
/// invariants of a sealed file and fails with `Error::BadField` if one
/// does not hold (every extent SEALED by [`op_seal_extents`] and written,
/// the extents cover blocks `0 .. ceil(size / 4096)` exactly, without a
/// hole and with nothing past them), then sets [`INODE_FLAG_SEALED`] and
/// the change time, clears the intent and takes the inode off the orphan
/// list if only the intent kept it there. Writes the inode. This commit is
/// the instant the file becomes sealed.
pub fn op_seal_inode<M: Medium + ?Sized>(
    t: &mut Txn<'_, M>,
    s: &mut Scratch,
    ino: u64,
    inode: &mut Inode,
    now: Timespec,
) -> Result<()> {
    if !inode.is_reg() {
        return Err(Error::BadField("sealing a file that is not regular"));
    }
    if !inode.seal_intent() || inode.is_sealed() {
        return Err(Error::BadField("sealing without a seal intent"));
    }
    let ctx = t.ctx();
    let blocks = inode.size.div_ceil(BLOCK_SIZE_U64);
    let mut at = 0;
    while let Some(e) = map_next(inode, ino, &ctx, t, s, at)? {
        if e.lblk != at || e.lend() > blocks {
            return Err(Error::BadField(
                "sealing a file with a hole or blocks past its end",
            ));
        }
        if e.flags & EXTENT_SEALED == 0 || e.flags & EXTENT_UNWRITTEN != 0 {
            return Err(Error::BadField("sealing an extent not sealed or unwritten"));
        }
        at = e.lend();
    }
    if at != blocks {
        return Err(Error::BadField("sealing a file with a hole at its end"));
    }
    inode.flags = (inode.flags | INODE_FLAG_SEALED) & !INODE_FLAG_SEAL_INTENT;
    inode.ctime = now;
    if !inode.belongs_on_orphan_list() {
        t.orphan_remove(ino, inode)?;
    }
    t.write_inode(ino, inode)
}

/// The first transaction of unsealing regular file `ino`: clears
/// [`INODE_FLAG_SEALED`] (this commit is the instant the file stops being
/// sealed), sets the change time and records the intent of clearing the
/// extent flags ([`INODE_FLAG_SEAL_INTENT`], the inode goes on the orphan
/// list), which [`op_seal_extents`] and [`op_seal_end`] then carry out, or
/// recovery at mount. Needs a sealed inode. Writes the inode.
pub fn op_unseal_begin<M: Medium + ?Sized>(
    t: &mut Txn<'_, M>,
    ino: u64,
    inode: &mut Inode,
    now: Timespec,
) -> Result<()> {
    if !inode.is_reg() || !inode.is_sealed() {
        return Err(Error::BadField("unsealing a file that is not sealed"));
    }
    let listed = inode.belongs_on_orphan_list();
    inode.flags = (inode.flags & !INODE_FLAG_SEALED) | INODE_FLAG_SEAL_INTENT;
    inode.ctime = now;
    if !listed {
        t.orphan_add(ino, inode)?;
    }
    t.write_inode(ino, inode)
}

/// The last transaction of unsealing, and of rolling back a seal (at run
/// time after an error, or in recovery at mount): checks that no extent of
/// regular file `ino` is SEALED any more (`Error::BadField` otherwise: call
/// [`op_seal_extents`] until it returns `None` first), clears the intent
/// and takes the inode off the orphan list if only the intent kept it
/// there. Writes the inode.
pub fn op_seal_end<M: Medium + ?Sized>(
    t: &mut Txn<'_, M>,
    s: &mut Scratch,
    ino: u64,
    inode: &mut Inode,
) -> Result<()> {
    if !inode.is_reg() || !inode.seal_intent() || inode.is_sealed() {
        return Err(Error::BadField("ending a seal intent that is not pending"));
    }
    let ctx = t.ctx();
    let mut at = 0;
    while let Some(e) = map_next(inode, ino, &ctx, t, s, at)? {
        if e.flags & EXTENT_SEALED != 0 {
            return Err(Error::BadField("ending a seal intent with SEALED extents"));
        }
        at = e.lend();
    }
    inode.flags &= !INODE_FLAG_SEAL_INTENT;
    if !inode.belongs_on_orphan_list() {
        t.orphan_remove(ino, inode)?;
    }
    t.write_inode(ino, inode)
}

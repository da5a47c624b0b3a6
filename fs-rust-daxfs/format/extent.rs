// SPDX-License-Identifier: GPL-2.0

//! Extent records and the per-file extent map.
//!
//! An extent maps `len` file blocks starting at logical block `lblk` to
//! physical blocks starting at `pblk` (absolute block numbers in the data
//! area, so a DAX mapping is `pblk * 4096` bytes into the device). Up to
//! [`INLINE_EXTENTS`] extents live in the inode's map area
//! (`map_kind == MAP_EXTENTS`), sorted by `lblk`; the seventh converts
//! the map into an extent B+tree (`MAP_BTREE`, key = `lblk`, value =
//! 16 bytes `pblk, len, flags`) with logarithmic lookup.
//!
//! Every map-changing operation here refuses a sealed inode with
//! [`Error::Sealed`] (the kernel returns `ETXTBSY`): this is the one
//! central check that makes a sealed block map immutable. Sealing sets the
//! extents' [`EXTENT_SEALED`] flag with [`map_update`] first and the
//! inode's `INODE_FLAG_SEALED` last; unsealing clears the inode flag
//! first.

use super::btree::{CountingStore, NodeStore, Scratch, Tree, TreeType};
use super::bytes::*;
use super::inode::{Inode, MAP_BTREE, MAP_EXTENTS};
use super::superblock::Layout;
use super::{Error, FsCtx, Result};

/// Size of an inline extent record.
pub const EXTENT_SIZE: usize = 24;
/// Offset of `lblk` (u64, first logical block).
pub const EXT_OFF_LBLK: usize = 0;
/// Offset of `pblk` (u64, first physical block).
pub const EXT_OFF_PBLK: usize = 8;
/// Offset of `len` (u32 blocks, > 0).
pub const EXT_OFF_LEN: usize = 16;
/// Offset of `flags` (u32, `EXTENT_*`).
pub const EXT_OFF_FLAGS: usize = 20;
/// Size of an extent-tree leaf value (the record without `lblk`, which
/// is the key).
pub const EXTENT_VALUE_SIZE: usize = 16;
/// Extents that fit in the inode map area.
pub const INLINE_EXTENTS: usize = 6;

/// Extent flag: allocated but not written; reads return zeros.
pub const EXTENT_UNWRITTEN: u32 = 1 << 0;
/// Extent flag: sealed. Written (zeroed or filled), never shared with
/// another extent, never moved, split, merged or freed while the inode is
/// sealed. Never combined with [`EXTENT_UNWRITTEN`].
pub const EXTENT_SEALED: u32 = 1 << 1;
/// All extent flags defined by this version.
pub const EXTENT_FLAGS_KNOWN: u32 = EXTENT_UNWRITTEN | EXTENT_SEALED;
/// Highest logical block + 1: file sizes stay below 2^63 bytes.
pub const MAX_FILE_BLOCKS: u64 = 1 << 51;

/// One extent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Extent {
    /// First logical block.
    pub lblk: u64,
    /// First physical block.
    pub pblk: u64,
    /// Length in blocks.
    pub len: u32,
    /// `EXTENT_*` flags.
    pub flags: u32,
}

impl Extent {
    /// Decodes inline extent `i` from an inode map area.
    pub fn decode_inline(map: &[u8], i: usize) -> Result<Extent> {
        let off = i.checked_mul(EXTENT_SIZE).ok_or(Error::Truncated)?;
        let r = slice(map, off, EXTENT_SIZE)?;
        Ok(Extent {
            lblk: get_u64(r, EXT_OFF_LBLK),
            pblk: get_u64(r, EXT_OFF_PBLK),
            len: get_u32(r, EXT_OFF_LEN),
            flags: get_u32(r, EXT_OFF_FLAGS),
        })
    }

    /// Encodes as inline extent `i` of a map area.
    pub fn encode_inline(&self, map: &mut [u8], i: usize) {
        let off = i * EXTENT_SIZE;
        put_u64(map, off + EXT_OFF_LBLK, self.lblk);
        put_u64(map, off + EXT_OFF_PBLK, self.pblk);
        put_u32(map, off + EXT_OFF_LEN, self.len);
        put_u32(map, off + EXT_OFF_FLAGS, self.flags);
    }

    /// Decodes a tree leaf entry (`key` = `lblk`).
    pub fn decode_value(key: u64, v: &[u8]) -> Result<Extent> {
        let r = slice(v, 0, EXTENT_VALUE_SIZE)?;
        Ok(Extent {
            lblk: key,
            pblk: get_u64(r, 0),
            len: get_u32(r, 8),
            flags: get_u32(r, 12),
        })
    }

    /// Encodes the tree leaf value.
    pub fn encode_value(&self) -> [u8; EXTENT_VALUE_SIZE] {
        let mut v = [0u8; EXTENT_VALUE_SIZE];
        put_u64(&mut v, 0, self.pblk);
        put_u32(&mut v, 8, self.len);
        put_u32(&mut v, 12, self.flags);
        v
    }

    /// Checks the extent on its own: non-zero length, known flags, not
    /// both SEALED and UNWRITTEN, logical and physical ends in range.
    pub fn check_shape(&self) -> Result<()> {
        if self.len == 0 {
            return Err(Error::BadField("extent len"));
        }
        if self.flags & !EXTENT_FLAGS_KNOWN != 0 {
            return Err(Error::BadField("extent flags"));
        }
        if self.flags & EXTENT_SEALED != 0 && self.flags & EXTENT_UNWRITTEN != 0 {
            return Err(Error::BadField("extent flags"));
        }
        match self.lblk.checked_add(u64::from(self.len)) {
            Some(e) if e <= MAX_FILE_BLOCKS => {}
            _ => return Err(Error::BadField("extent lblk")),
        }
        if self.pblk == 0 || self.pblk.checked_add(u64::from(self.len)).is_none() {
            return Err(Error::BadField("extent pblk"));
        }
        Ok(())
    }

    /// Checks the extent as [`Extent::check_shape`] does, and that its
    /// physical range is inside the data area of the filesystem of `ctx`.
    /// Every extent the map functions return has passed this check.
    pub fn check(&self, ctx: &FsCtx) -> Result<()> {
        self.check_shape()?;
        if ctx.in_data(self.pblk, u64::from(self.len)) {
            Ok(())
        } else {
            Err(Error::OutOfRange("extent pblk"))
        }
    }

    /// Checks that the physical range is inside the data area.
    pub fn check_range(&self, layout: &Layout) -> Result<()> {
        if layout.in_data(self.pblk, u64::from(self.len)) {
            Ok(())
        } else {
            Err(Error::OutOfRange("extent pblk"))
        }
    }

    /// One past the last logical block (saturating).
    pub fn lend(&self) -> u64 {
        self.lblk.saturating_add(u64::from(self.len))
    }

    /// True if logical block `l` is inside the extent.
    pub fn contains(&self, l: u64) -> bool {
        l >= self.lblk && l < self.lend()
    }

    /// The physical block holding logical block `l` (which must be inside).
    pub fn map(&self, l: u64) -> Option<u64> {
        if self.contains(l) {
            self.pblk.checked_add(l - self.lblk)
        } else {
            None
        }
    }
}

fn inline_count(inode: &Inode) -> Result<usize> {
    let n = inode.map_count as usize;
    if n > INLINE_EXTENTS {
        return Err(Error::BadField("map_count"));
    }
    Ok(n)
}

fn tree_of(inode: &Inode, ino: u64, ctx: &FsCtx) -> Tree {
    Tree {
        tree: TreeType::Extent,
        owner: ino,
        seed: ctx.csum_seed,
        root: inode.btree_root(),
    }
}

/// The extent containing logical block `lblk`, or `None` for a hole.
pub fn map_lookup<S: NodeStore + ?Sized>(
    inode: &Inode,
    ino: u64,
    ctx: &FsCtx,
    st: &mut S,
    s: &mut Scratch,
    lblk: u64,
) -> Result<Option<Extent>> {
    match map_next(inode, ino, ctx, st, s, lblk)? {
        Some(e) if e.contains(lblk) => Ok(Some(e)),
        _ => Ok(None),
    }
}

/// The first extent ending after `lblk`: the one containing it, or else
/// the next one (for hole sizes, `SEEK_DATA`, and ordered iteration with
/// `lblk = previous.lend()`). The extent is validated as it is decoded
/// ([`Extent::check`]): a damaged record is an error here, never a block
/// number handed to the caller.
pub fn map_next<S: NodeStore + ?Sized>(
    inode: &Inode,
    ino: u64,
    ctx: &FsCtx,
    st: &mut S,
    s: &mut Scratch,
    lblk: u64,
) -> Result<Option<Extent>> {
    match inode.map_kind {
        MAP_EXTENTS => {
            for i in 0..inline_count(inode)? {
                let e = Extent::decode_inline(&inode.map, i)?;
                if e.lend() > lblk {
                    e.check(ctx)?;
                    return Ok(Some(e));
                }
            }
            Ok(None)
        }
        MAP_BTREE => {
            let t = tree_of(inode, ino, ctx);
            let mut v = [0u8; EXTENT_VALUE_SIZE];
            if let Some(k) = t.find_le(st, s, lblk, &mut v)? {
                let e = Extent::decode_value(k, &v)?;
                if e.lend() > lblk {
                    e.check(ctx)?;
                    return Ok(Some(e));
                }
            }
            match lblk.checked_add(1) {
                Some(n) => match t.find_ge(st, s, n, &mut v)? {
                    Some(k) => {
                        let e = Extent::decode_value(k, &v)?;
                        e.check(ctx)?;
                        // The callers rely on it: the extent ends past `lblk`.
                        if e.lend() <= lblk {
                            return Err(Error::Corrupt("extent keys out of order"));
                        }
                        Ok(Some(e))
                    }
                    None => Ok(None),
                },
                None => Ok(None),
            }
        }
        _ => Ok(None),
    }
}

fn check_mutable(inode: &Inode) -> Result<()> {
    if inode.is_sealed() {
        return Err(Error::Sealed);
    }
    if inode.map_kind != MAP_EXTENTS && inode.map_kind != MAP_BTREE {
        return Err(Error::BadField("map_kind"));
    }
    Ok(())
}

/// Adds extent `e`, which must not overlap any existing extent. Converts
/// the inline map to a B+tree when it overflows. Updates `map_count` and
/// `blocks` (extent length plus tree nodes). The caller has allocated the
/// physical blocks.
pub fn map_insert<S: NodeStore + ?Sized>(
    inode: &mut Inode,
    ino: u64,
    ctx: &FsCtx,
    st: &mut S,
    s: &mut Scratch,
    e: Extent,
) -> Result<()> {
    check_mutable(inode)?;
    e.check_shape()?;
    if let Some(n) = map_next(inode, ino, ctx, st, s, e.lblk)? {
        if n.lblk < e.lend() {
            return Err(Error::Overlap);
        }
    }
    let mut cs = CountingStore::new(st);
    if inode.map_kind == MAP_EXTENTS {
        let n = inline_count(inode)?;
        if n < INLINE_EXTENTS {
            let mut all = [Extent::default(); INLINE_EXTENTS + 1];
            let mut k = 0;
            let mut placed = false;
            for i in 0..n {
                let x = Extent::decode_inline(&inode.map, i)?;
                if !placed && e.lblk < x.lblk {
                    all[k] = e;
                    k += 1;
                    placed = true;
                }
                all[k] = x;
                k += 1;
            }
            if !placed {
                all[k] = e;
                k += 1;
            }
            inode.map = [0; super::inode::INODE_MAP_SIZE];
            for (i, x) in all.iter().take(k).enumerate() {
                x.encode_inline(&mut inode.map, i);
            }
        } else {
            // Convert to a tree holding the six inline extents plus `e`.
            let mut t = Tree::create(&mut cs, s, TreeType::Extent, ino, ctx.csum_seed)?;
            for i in 0..n {
                let x = Extent::decode_inline(&inode.map, i)?;
                t.insert(&mut cs, s, x.lblk, &x.encode_value())?;
            }
            t.insert(&mut cs, s, e.lblk, &e.encode_value())?;
            inode.set_btree_root(t.root);
        }
    } else {
        let mut t = tree_of(inode, ino, ctx);
        t.insert(&mut cs, s, e.lblk, &e.encode_value())?;
        inode.set_btree_root(t.root);
    }
    inode.map_count = inode
        .map_count
        .checked_add(1)
        .ok_or(Error::Corrupt("map_count"))?;
    inode.blocks = cs
        .adjust(inode.blocks)?
        .checked_add(u64::from(e.len))
        .ok_or(Error::Corrupt("inode block count"))?;
    Ok(())
}

/// Removes the extent starting exactly at `lblk` and returns it (the
/// caller frees its physical blocks). Updates `map_count` and `blocks`.
pub fn map_remove<S: NodeStore + ?Sized>(
    inode: &mut Inode,
    ino: u64,
    ctx: &FsCtx,
    st: &mut S,
    s: &mut Scratch,
    lblk: u64,
) -> Result<Extent> {
    check_mutable(inode)?;
    let old = match map_lookup(inode, ino, ctx, st, s, lblk)? {
        Some(x) if x.lblk == lblk => x,
        _ => return Err(Error::NotFound),
    };
    let mut cs = CountingStore::new(st);
    if inode.map_kind == MAP_EXTENTS {
        let n = inline_count(inode)?;
        let mut all = [Extent::default(); INLINE_EXTENTS];
        let mut k = 0;
        for i in 0..n {
            let x = Extent::decode_inline(&inode.map, i)?;
            if x.lblk != lblk {
                all[k] = x;
                k += 1;
            }
        }
        inode.map = [0; super::inode::INODE_MAP_SIZE];
        for (i, x) in all.iter().take(k).enumerate() {
            x.encode_inline(&mut inode.map, i);
        }
    } else {
        let mut t = tree_of(inode, ino, ctx);
        t.remove(&mut cs, s, lblk)?;
        inode.set_btree_root(t.root);
    }
    inode.map_count = inode
        .map_count
        .checked_sub(1)
        .ok_or(Error::Corrupt("map_count"))?;
    inode.blocks = cs
        .adjust(inode.blocks)?
        .checked_sub(u64::from(old.len))
        .ok_or(Error::Corrupt("inode block count"))?;
    Ok(old)
}

/// Replaces the extent starting at `e.lblk` (new `pblk`, `len` or
/// `flags`, e.g. clearing UNWRITTEN after zeroing, or setting SEALED while
/// sealing); the new extent must not overlap the next one. Returns the
/// old extent.
pub fn map_update<S: NodeStore + ?Sized>(
    inode: &mut Inode,
    ino: u64,
    ctx: &FsCtx,
    st: &mut S,
    s: &mut Scratch,
    e: Extent,
) -> Result<Extent> {
    check_mutable(inode)?;
    e.check_shape()?;
    let old = match map_lookup(inode, ino, ctx, st, s, e.lblk)? {
        Some(x) if x.lblk == e.lblk => x,
        _ => return Err(Error::NotFound),
    };
    if let Some(n) = map_next(inode, ino, ctx, st, s, old.lend())? {
        if n.lblk != old.lblk && n.lblk < e.lend() {
            return Err(Error::Overlap);
        }
    }
    if inode.map_kind == MAP_EXTENTS {
        for i in 0..inline_count(inode)? {
            if Extent::decode_inline(&inode.map, i)?.lblk == e.lblk {
                e.encode_inline(&mut inode.map, i);
            }
        }
    } else {
        tree_of(inode, ino, ctx).update(st, s, e.lblk, &e.encode_value())?;
    }
    inode.blocks = inode
        .blocks
        .checked_sub(u64::from(old.len))
        .and_then(|b| b.checked_add(u64::from(e.len)))
        .ok_or(Error::Corrupt("inode block count"))?;
    Ok(old)
}

/// Frees the extent tree's nodes (not the data blocks, which the caller
/// frees first by iterating with [`map_next`]) and resets the map to an
/// empty inline list with `blocks == 0`.
pub fn map_destroy<S: NodeStore + ?Sized>(
    inode: &mut Inode,
    ino: u64,
    ctx: &FsCtx,
    st: &mut S,
    s: &mut Scratch,
) -> Result<()> {
    check_mutable(inode)?;
    if inode.map_kind == MAP_BTREE {
        tree_of(inode, ino, ctx).destroy(st, s)?;
    }
    inode.map = [0; super::inode::INODE_MAP_SIZE];
    inode.map_kind = MAP_EXTENTS;
    inode.map_count = 0;
    inode.blocks = 0;
    Ok(())
}

// SPDX-License-Identifier: GPL-2.0

//! The generic B+tree: one 4 KiB node layout shared by the per-file extent
//! tree and the directory index, plus pure node functions and the
//! tree-level algorithms (lookup, ordered iteration, insert with
//! preemptive top-down splits, remove with freeing of empty nodes and
//! root collapse).
//!
//! Node layout: a 32-byte header followed by `nr` entries, each an 8-byte
//! little-endian key followed by a fixed-size value. Interior nodes
//! (level above 0) have 8-byte values, the child block number; the key of entry `i`
//! is a lower bound of every key in child `i`'s subtree, and child `i`'s
//! keys are below key `i + 1`. Leaves (level 0) hold the tree's records in
//! strictly ascending key order. Nodes are never merged: an emptied
//! non-root node is freed, and a root with a single child is replaced by
//! that child, so depth stays logarithmic in the peak size.
//!
//! The algorithms need at most three node buffers ([`Scratch`], 12 KiB,
//! which the kernel allocates on the heap) and reach storage only through
//! [`NodeStore`], so the kernel can log every node write in its running
//! journal transaction. Every node read is verified ([`node_verify`]):
//! magic, checksum, tree type, owner inode, its own block number, level
//! and key order, so a corrupted pointer can never make an algorithm loop
//! or index out of bounds.

use super::bytes::*;
use super::crc32c::crc32c_record;
use super::{Block, Error, Result, BLOCK_SIZE};

/// Node magic, the bytes `"DXBT"` as a little-endian u32.
pub const NODE_MAGIC: u32 = u32::from_le_bytes(*b"DXBT");
/// Offset of `magic` (u32).
pub const NODE_OFF_MAGIC: usize = 0;
/// Offset of `checksum` (u32): CRC-32C of the block with this field zero,
/// seeded with the UUID.
pub const NODE_OFF_CHECKSUM: usize = 4;
/// Offset of `tree_type` (u8, [`TreeType`]).
pub const NODE_OFF_TREE_TYPE: usize = 8;
/// Offset of `level` (u8, 0 for leaves).
pub const NODE_OFF_LEVEL: usize = 9;
/// Offset of `nr` (u16, entries in use).
pub const NODE_OFF_NR: usize = 10;
/// Offset of a reserved u32 (zero).
pub const NODE_OFF_RESERVED: usize = 12;
/// Offset of `owner` (u64, the inode the tree belongs to).
pub const NODE_OFF_OWNER: usize = 16;
/// Offset of `blkno` (u64, the node's own block number).
pub const NODE_OFF_BLKNO: usize = 24;
/// Size of the node header; entries start here.
pub const NODE_HEADER_SIZE: usize = 32;
/// Size of an interior node value (child block number).
pub const CHILD_VALUE_SIZE: usize = 8;
/// Maximum tree depth (levels 0 to `MAX_DEPTH - 1`).
pub const MAX_DEPTH: usize = 8;

/// What a tree indexes; decides the leaf value size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TreeType {
    /// A file's extent map: key = logical block, value = 16-byte extent.
    Extent = 1,
    /// A directory index: key = hash cookie, value = 272-byte entry.
    Dir = 2,
}

impl TreeType {
    /// Decodes a `tree_type` byte.
    pub fn from_u8(v: u8) -> Result<TreeType> {
        match v {
            1 => Ok(TreeType::Extent),
            2 => Ok(TreeType::Dir),
            _ => Err(Error::BadField("node tree_type")),
        }
    }

    /// Value size of this tree's leaves.
    pub const fn leaf_value_size(self) -> usize {
        match self {
            TreeType::Extent => super::extent::EXTENT_VALUE_SIZE,
            TreeType::Dir => super::dir::DIRENT_VALUE_SIZE,
        }
    }

    /// Value size of a node of this tree at `level`.
    pub const fn value_size(self, level: u8) -> usize {
        if level == 0 {
            self.leaf_value_size()
        } else {
            CHILD_VALUE_SIZE
        }
    }
}

/// Entries that fit in a node whose values are `value_size` bytes:
/// 254 interior, 169 extent-leaf, 14 directory-leaf entries.
pub const fn node_capacity(value_size: usize) -> usize {
    (BLOCK_SIZE - NODE_HEADER_SIZE) / (8 + value_size)
}

/// A decoded node header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeHeader {
    /// Tree type.
    pub tree: TreeType,
    /// Level (0 = leaf).
    pub level: u8,
    /// Entries in use.
    pub nr: u16,
    /// Owning inode.
    pub owner: u64,
    /// The node's own block number.
    pub blkno: u64,
}

impl NodeHeader {
    /// Value size of this node.
    pub fn value_size(&self) -> usize {
        self.tree.value_size(self.level)
    }

    /// Entry capacity of this node.
    pub fn capacity(&self) -> usize {
        node_capacity(self.value_size())
    }
}

/// Initialises `buf` as an empty node.
pub fn node_init(buf: &mut Block, tree: TreeType, level: u8, owner: u64, blkno: u64) {
    buf.fill(0);
    put_u32(buf, NODE_OFF_MAGIC, NODE_MAGIC);
    put_u8(buf, NODE_OFF_TREE_TYPE, tree as u8);
    put_u8(buf, NODE_OFF_LEVEL, level);
    put_u16(buf, NODE_OFF_NR, 0);
    put_u64(buf, NODE_OFF_OWNER, owner);
    put_u64(buf, NODE_OFF_BLKNO, blkno);
}

/// Decodes and checks the header alone: magic, tree type, level below
/// [`MAX_DEPTH`], `nr` within capacity, reserved field zero.
pub fn node_header(buf: &[u8]) -> Result<NodeHeader> {
    if buf.len() < BLOCK_SIZE {
        return Err(Error::Truncated);
    }
    if get_u32(buf, NODE_OFF_MAGIC) != NODE_MAGIC {
        return Err(Error::BadMagic("btree node"));
    }
    let tree = TreeType::from_u8(get_u8(buf, NODE_OFF_TREE_TYPE))?;
    let level = get_u8(buf, NODE_OFF_LEVEL);
    if usize::from(level) >= MAX_DEPTH {
        return Err(Error::BadField("node level"));
    }
    let h = NodeHeader {
        tree,
        level,
        nr: get_u16(buf, NODE_OFF_NR),
        owner: get_u64(buf, NODE_OFF_OWNER),
        blkno: get_u64(buf, NODE_OFF_BLKNO),
    };
    if usize::from(h.nr) > h.capacity() {
        return Err(Error::BadField("node nr"));
    }
    if get_u32(buf, NODE_OFF_RESERVED) != 0 {
        return Err(Error::BadField("node reserved"));
    }
    Ok(h)
}

/// The checksum a node should carry.
pub fn node_checksum(buf: &[u8], seed: u32) -> u32 {
    crc32c_record(seed, &[], buf, NODE_OFF_CHECKSUM)
}

/// Stores the checksum into the node (call after every modification).
pub fn node_seal(buf: &mut Block, seed: u32) {
    let c = node_checksum(buf, seed);
    put_u32(buf, NODE_OFF_CHECKSUM, c);
}

/// Fully verifies a node read from block `blkno` that must belong to the
/// `tree` of inode `owner`: header, checksum, identity, strictly ascending
/// keys, and (for interior nodes) non-zero children.
pub fn node_verify(
    buf: &[u8],
    seed: u32,
    tree: TreeType,
    owner: u64,
    blkno: u64,
) -> Result<NodeHeader> {
    let h = node_header(buf)?;
    if get_u32(buf, NODE_OFF_CHECKSUM) != node_checksum(buf, seed) {
        return Err(Error::BadChecksum("btree node"));
    }
    node_verify_fields(buf, h, tree, owner, blkno)
}

/// [`node_verify`] without the checksum, for a node whose checksum its
/// [`NodeStore`] vouches for ([`NodeStore::read_node`]); `h` is
/// [`node_header`]`(buf)`.
pub fn node_verify_fields(
    buf: &[u8],
    h: NodeHeader,
    tree: TreeType,
    owner: u64,
    blkno: u64,
) -> Result<NodeHeader> {
    if h.tree != tree {
        return Err(Error::Corrupt("node tree type"));
    }
    if h.owner != owner {
        return Err(Error::Corrupt("node owner"));
    }
    if h.blkno != blkno {
        return Err(Error::Corrupt("node block number"));
    }
    let vs = h.value_size();
    let mut prev: Option<u64> = None;
    for i in 0..usize::from(h.nr) {
        let off = entry_off(vs, i);
        let k = get_u64(buf, off);
        if let Some(p) = prev {
            if k <= p {
                return Err(Error::Corrupt("node keys out of order"));
            }
        }
        prev = Some(k);
        if h.level > 0 && get_u64(buf, off + 8) == 0 {
            return Err(Error::Corrupt("node child is zero"));
        }
    }
    Ok(h)
}

/// The key range `[lo, hi)` (`hi`: `None` for no bound) of child `i` of
/// interior node `buf`, whose own range is `[lo, hi)`: from its separator
/// (the first child takes everything below the second separator: keys
/// smaller than every separator go there) to the next one.
fn child_range(buf: &[u8], i: usize, lo: u64, hi: Option<u64>) -> Result<(u64, Option<u64>)> {
    let lo = if i > 0 { node_key(buf, i)? } else { lo };
    let hi = if i + 1 < nr_of(buf) {
        Some(node_key(buf, i + 1)?)
    } else {
        hi
    };
    Ok((lo, hi))
}

/// Checks that every key of node `buf` lies in `[lo, hi)` (its keys are
/// in order: the node was verified).
fn check_range(buf: &[u8], lo: u64, hi: Option<u64>) -> Result<()> {
    let nr = nr_of(buf);
    if nr == 0 {
        return Ok(());
    }
    let (first, last) = (node_key(buf, 0)?, node_key(buf, nr - 1)?);
    if first < lo || hi.is_some_and(|h| last >= h) {
        return Err(Error::Corrupt("node keys outside the parent's range"));
    }
    Ok(())
}

fn entry_off(vs: usize, i: usize) -> usize {
    NODE_HEADER_SIZE + i * (8 + vs)
}

fn nr_of(buf: &[u8]) -> usize {
    usize::from(get_u16(buf, NODE_OFF_NR))
}

/// Key of entry `i`.
pub fn node_key(buf: &[u8], i: usize) -> Result<u64> {
    let h = node_header(buf)?;
    if i >= usize::from(h.nr) {
        return Err(Error::OutOfRange("node index"));
    }
    Ok(get_u64(buf, entry_off(h.value_size(), i)))
}

/// Value of entry `i`.
pub fn node_value(buf: &[u8], i: usize) -> Result<&[u8]> {
    let h = node_header(buf)?;
    if i >= usize::from(h.nr) {
        return Err(Error::OutOfRange("node index"));
    }
    let vs = h.value_size();
    slice(buf, entry_off(vs, i) + 8, vs)
}

/// Child block of interior entry `i`.
pub fn node_child(buf: &[u8], i: usize) -> Result<u64> {
    let v = node_value(buf, i)?;
    if v.len() != CHILD_VALUE_SIZE {
        return Err(Error::Corrupt("child of a leaf"));
    }
    Ok(get_u64(v, 0))
}

/// Replaces the key of entry `i` (the caller keeps the order).
pub fn node_set_key(buf: &mut Block, i: usize, key: u64) -> Result<()> {
    let h = node_header(buf)?;
    if i >= usize::from(h.nr) {
        return Err(Error::OutOfRange("node index"));
    }
    put_u64(buf, entry_off(h.value_size(), i), key);
    Ok(())
}

/// Replaces the value of entry `i`.
pub fn node_set_value(buf: &mut Block, i: usize, v: &[u8]) -> Result<()> {
    let h = node_header(buf)?;
    if i >= usize::from(h.nr) {
        return Err(Error::OutOfRange("node index"));
    }
    if v.len() != h.value_size() {
        return Err(Error::BadField("value size"));
    }
    put_bytes(buf, entry_off(h.value_size(), i) + 8, v);
    Ok(())
}

/// Binary search: `Ok(Ok(i))` if entry `i` has `key`, `Ok(Err(i))` with the
/// insertion position otherwise.
pub fn node_search(buf: &[u8], key: u64) -> Result<core::result::Result<usize, usize>> {
    let h = node_header(buf)?;
    let vs = h.value_size();
    let (mut lo, mut hi) = (0usize, usize::from(h.nr));
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let k = get_u64(buf, entry_off(vs, mid));
        if k == key {
            return Ok(Ok(mid));
        } else if k < key {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    Ok(Err(lo))
}

/// Interior node: index of the child whose subtree may hold `key` (the
/// last entry whose key is `<= key`, or 0).
pub fn node_child_index(buf: &[u8], key: u64) -> Result<usize> {
    match node_search(buf, key)? {
        Ok(i) => Ok(i),
        Err(0) => Ok(0),
        Err(i) => Ok(i - 1),
    }
}

/// Inserts `(key, value)` at position `idx`, shifting later entries.
/// Fails with [`Error::NoSpace`] if the node is full.
pub fn node_insert(buf: &mut Block, idx: usize, key: u64, value: &[u8]) -> Result<()> {
    let h = node_header(buf)?;
    let vs = h.value_size();
    let nr = usize::from(h.nr);
    if value.len() != vs {
        return Err(Error::BadField("value size"));
    }
    if nr >= h.capacity() {
        return Err(Error::NoSpace);
    }
    if idx > nr {
        return Err(Error::OutOfRange("node index"));
    }
    let from = entry_off(vs, idx);
    let to = entry_off(vs, nr);
    buf.copy_within(from..to, from + 8 + vs);
    put_u64(buf, from, key);
    put_bytes(buf, from + 8, value);
    put_u16(buf, NODE_OFF_NR, (nr + 1) as u16);
    Ok(())
}

/// Removes entry `idx`, shifting later entries down and zeroing the freed
/// slot.
pub fn node_remove(buf: &mut Block, idx: usize) -> Result<()> {
    let h = node_header(buf)?;
    let vs = h.value_size();
    let nr = usize::from(h.nr);
    if idx >= nr {
        return Err(Error::OutOfRange("node index"));
    }
    let at = entry_off(vs, idx);
    let end = entry_off(vs, nr);
    buf.copy_within(at + 8 + vs..end, at);
    if let Some(t) = buf.get_mut(end - 8 - vs..end) {
        t.fill(0);
    }
    put_u16(buf, NODE_OFF_NR, (nr - 1) as u16);
    Ok(())
}

/// Splits a node: the upper half of `left`'s entries move to `right`,
/// which is initialised as node `right_blkno` of the same tree and level.
/// Returns the first key of `right` (the separator for the parent).
pub fn node_split(left: &mut Block, right: &mut Block, right_blkno: u64) -> Result<u64> {
    let h = node_header(left)?;
    let vs = h.value_size();
    let nr = usize::from(h.nr);
    if nr < 2 {
        return Err(Error::Corrupt("split of a node with < 2 entries"));
    }
    let keep = nr / 2;
    node_init(right, h.tree, h.level, h.owner, right_blkno);
    let from = entry_off(vs, keep);
    let to = entry_off(vs, nr);
    let moved = slice(left, from, to - from)?;
    put_bytes(right, NODE_HEADER_SIZE, moved);
    put_u16(right, NODE_OFF_NR, (nr - keep) as u16);
    if let Some(t) = left.get_mut(from..to) {
        t.fill(0);
    }
    put_u16(left, NODE_OFF_NR, keep as u16);
    Ok(get_u64(right, NODE_HEADER_SIZE))
}

/// Where nodes come from. The kernel implements it over the DAX mapping
/// (writes go into the running journal transaction); the tools over an
/// image file.
pub trait NodeStore {
    /// Copies block `blk` into `buf`.
    fn read(&mut self, blk: u64, buf: &mut Block) -> Result<()>;
    /// Copies node block `blk` into `buf` for [`Tree::load`]; `Ok(true)`
    /// if the store vouches that `buf` carries a valid node checksum (it
    /// comes from a cache of nodes whose checksum was verified when they
    /// were read), so that it need not be computed again. Every other
    /// check of [`node_verify`] still runs.
    fn read_node(&mut self, blk: u64, buf: &mut Block) -> Result<bool> {
        self.read(blk, buf)?;
        Ok(false)
    }
    /// Writes `buf` (already checksummed) to block `blk`.
    fn write(&mut self, blk: u64, buf: &Block) -> Result<()>;
    /// Allocates a block for a new node.
    fn alloc(&mut self) -> Result<u64>;
    /// Frees the block of a node that is no longer referenced.
    fn free(&mut self, blk: u64) -> Result<()>;
}

/// Node buffers for the tree algorithms.
pub struct Scratch {
    /// Current node.
    pub a: Block,
    /// Child node.
    pub b: Block,
    /// New sibling during a split.
    pub c: Block,
}

impl Scratch {
    /// Zeroed buffers.
    pub const fn new() -> Scratch {
        Scratch {
            a: [0; BLOCK_SIZE],
            b: [0; BLOCK_SIZE],
            c: [0; BLOCK_SIZE],
        }
    }
}

impl Default for Scratch {
    fn default() -> Self {
        Scratch::new()
    }
}

/// A handle on one tree: its type, owner, checksum seed and root block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tree {
    /// Tree type.
    pub tree: TreeType,
    /// Owning inode.
    pub owner: u64,
    /// Checksum seed.
    pub seed: u32,
    /// Root block (changes when the root splits or collapses).
    pub root: u64,
}

type Path = [(u64, usize); MAX_DEPTH];

impl Tree {
    /// Creates an empty tree (one empty leaf as root).
    pub fn create<S: NodeStore + ?Sized>(
        st: &mut S,
        s: &mut Scratch,
        tree: TreeType,
        owner: u64,
        seed: u32,
    ) -> Result<Tree> {
        let blk = st.alloc()?;
        node_init(&mut s.a, tree, 0, owner, blk);
        node_seal(&mut s.a, seed);
        st.write(blk, &s.a)?;
        Ok(Tree {
            tree,
            owner,
            seed,
            root: blk,
        })
    }

    /// Reads and verifies node `blk`, which must be at `level` if given.
    pub fn load<S: NodeStore + ?Sized>(
        &self,
        st: &mut S,
        blk: u64,
        buf: &mut Block,
        level: Option<u8>,
    ) -> Result<NodeHeader> {
        let h = if st.read_node(blk, buf)? {
            node_verify_fields(buf, node_header(buf)?, self.tree, self.owner, blk)?
        } else {
            node_verify(buf, self.seed, self.tree, self.owner, blk)?
        };
        if let Some(l) = level {
            if h.level != l {
                return Err(Error::Corrupt("node at wrong level"));
            }
        }
        Ok(h)
    }

    fn put<S: NodeStore + ?Sized>(&self, st: &mut S, blk: u64, buf: &mut Block) -> Result<()> {
        node_seal(buf, self.seed);
        st.write(blk, buf)
    }

    /// Descends from the root towards `key`, leaving the leaf in `buf`.
    /// Returns the number of interior levels recorded in `path` and the
    /// leaf's block. Every node on the way must hold keys inside the range
    /// its parent's separators give it ([`check_range`]): a damaged
    /// separator is an error here, never a descent into the wrong subtree.
    fn descend<S: NodeStore + ?Sized>(
        &self,
        st: &mut S,
        buf: &mut Block,
        key: u64,
        path: &mut Path,
    ) -> Result<(usize, u64)> {
        let mut blk = self.root;
        let mut h = self.load(st, blk, buf, None)?;
        let (mut lo, mut hi) = (0, None);
        let mut n = 0;
        while h.level > 0 {
            let i = node_child_index(buf, key)?;
            let child = node_child(buf, i)?;
            (lo, hi) = child_range(buf, i, lo, hi)?;
            let slot = path.get_mut(n).ok_or(Error::TooDeep)?;
            *slot = (blk, i);
            n += 1;
            blk = child;
            h = self.load(st, blk, buf, Some(h.level - 1))?;
            check_range(buf, lo, hi)?;
        }
        Ok((n, blk))
    }

    /// Leaves in `buf` the leaf where `key` belongs (whether it is there or
    /// not), checked as [`Tree::descend`] checks.
    pub fn leaf<S: NodeStore + ?Sized>(&self, st: &mut S, buf: &mut Block, key: u64) -> Result<()> {
        let mut path = [(0, 0); MAX_DEPTH];
        self.descend(st, buf, key, &mut path).map(|_| ())
    }

    /// From node `blk` at `level`, child `idx` of `parent` (in `pbuf`),
    /// descends always to the first (or last, if `last`) child; leaves the
    /// leaf in `buf`. Each node must hold keys in the range its parent gives
    /// it, starting from the range `idx` has in `parent` (whose own upper
    /// bound is not known here: that end is not checked for the first node).
    fn edge<S: NodeStore + ?Sized>(
        &self,
        st: &mut S,
        buf: &mut Block,
        pbuf: &Block,
        idx: usize,
        last: bool,
    ) -> Result<()> {
        let ph = node_header(pbuf)?;
        if ph.level == 0 {
            return Err(Error::Corrupt("child of a leaf"));
        }
        let mut blk = node_child(pbuf, idx)?;
        let (mut lo, mut hi) = child_range(pbuf, idx, 0, None)?;
        let mut h = self.load(st, blk, buf, Some(ph.level - 1))?;
        loop {
            if h.nr == 0 {
                return Err(Error::Corrupt("empty non-root node"));
            }
            check_range(buf, lo, hi)?;
            if h.level == 0 {
                return Ok(());
            }
            let i = if last { usize::from(h.nr) - 1 } else { 0 };
            blk = node_child(buf, i)?;
            (lo, hi) = child_range(buf, i, lo, hi)?;
            h = self.load(st, blk, buf, Some(h.level - 1))?;
        }
    }

    fn copy_out(buf: &Block, i: usize, out: &mut [u8]) -> Result<u64> {
        let k = node_key(buf, i)?;
        let v = node_value(buf, i)?;
        if out.len() != v.len() {
            return Err(Error::BadField("value size"));
        }
        out.copy_from_slice(v);
        Ok(k)
    }

    /// Exact lookup: copies the value of `key` into `out`; `Ok(false)` if
    /// absent.
    #[cfg(not(CONFIG_DAXFS_FS))]
    pub fn get<S: NodeStore + ?Sized>(
        &self,
        st: &mut S,
        s: &mut Scratch,
        key: u64,
        out: &mut [u8],
    ) -> Result<bool> {
        let mut path = [(0, 0); MAX_DEPTH];
        self.descend(st, &mut s.a, key, &mut path)?;
        match node_search(&s.a, key)? {
            Ok(i) => {
                Self::copy_out(&s.a, i, out)?;
                Ok(true)
            }
            Err(_) => Ok(false),
        }
    }

    /// The smallest key `>= key`, its value copied into `out`.
    pub fn find_ge<S: NodeStore + ?Sized>(
        &self,
        st: &mut S,
        s: &mut Scratch,
        key: u64,
        out: &mut [u8],
    ) -> Result<Option<u64>> {
        let mut path = [(0, 0); MAX_DEPTH];
        let (n, _) = self.descend(st, &mut s.a, key, &mut path)?;
        let i = match node_search(&s.a, key)? {
            Ok(i) => i,
            Err(i) => i,
        };
        if i < nr_of(&s.a) {
            return Ok(Some(Self::copy_out(&s.a, i, out)?));
        }
        // Climb to the deepest ancestor with a right sibling subtree.
        let mut d = n;
        while d > 0 {
            d -= 1;
            let (blk, idx) = path.get(d).copied().ok_or(Error::TooDeep)?;
            let h = self.load(st, blk, &mut s.b, None)?;
            if idx + 1 < usize::from(h.nr) {
                self.edge(st, &mut s.a, &s.b, idx + 1, false)?;
                let k = Self::copy_out(&s.a, 0, out)?;
                // An ordered walk must move forward.
                if k < key {
                    return Err(Error::Corrupt("node keys out of order"));
                }
                return Ok(Some(k));
            }
        }
        Ok(None)
    }

    /// The largest key `<= key`, its value copied into `out`.
    pub fn find_le<S: NodeStore + ?Sized>(
        &self,
        st: &mut S,
        s: &mut Scratch,
        key: u64,
        out: &mut [u8],
    ) -> Result<Option<u64>> {
        let mut path = [(0, 0); MAX_DEPTH];
        let (n, _) = self.descend(st, &mut s.a, key, &mut path)?;
        match node_search(&s.a, key)? {
            Ok(i) => return Ok(Some(Self::copy_out(&s.a, i, out)?)),
            Err(i) if i > 0 => return Ok(Some(Self::copy_out(&s.a, i - 1, out)?)),
            Err(_) => {}
        }
        let mut d = n;
        while d > 0 {
            d -= 1;
            let (blk, idx) = path.get(d).copied().ok_or(Error::TooDeep)?;
            let h = self.load(st, blk, &mut s.b, None)?;
            if idx > 0 && h.level > 0 {
                self.edge(st, &mut s.a, &s.b, idx - 1, true)?;
                let last = nr_of(&s.a) - 1;
                let k = Self::copy_out(&s.a, last, out)?;
                if k > key {
                    return Err(Error::Corrupt("node keys out of order"));
                }
                return Ok(Some(k));
            }
        }
        Ok(None)
    }

    /// Replaces the value of an existing `key`.
    pub fn update<S: NodeStore + ?Sized>(
        &self,
        st: &mut S,
        s: &mut Scratch,
        key: u64,
        value: &[u8],
    ) -> Result<()> {
        let mut path = [(0, 0); MAX_DEPTH];
        let (_, leaf) = self.descend(st, &mut s.a, key, &mut path)?;
        match node_search(&s.a, key)? {
            Ok(i) => {
                node_set_value(&mut s.a, i, value)?;
                self.put(st, leaf, &mut s.a)
            }
            Err(_) => Err(Error::NotFound),
        }
    }

    /// Inserts a new `key`. Fails with [`Error::Exists`] (before changing
    /// anything) if present. Allocates at most `MAX_DEPTH + 1` nodes; the
    /// kernel reserves that many blocks before starting.
    pub fn insert<S: NodeStore + ?Sized>(
        &mut self,
        st: &mut S,
        s: &mut Scratch,
        key: u64,
        value: &[u8],
    ) -> Result<()> {
        if value.len() != self.tree.leaf_value_size() {
            return Err(Error::BadField("value size"));
        }
        {
            let mut path = [(0, 0); MAX_DEPTH];
            self.descend(st, &mut s.a, key, &mut path)?;
            if node_search(&s.a, key)?.is_ok() {
                return Err(Error::Exists);
            }
        }
        // Split a full root first: the tree grows at the top.
        let rh = self.load(st, self.root, &mut s.a, None)?;
        if usize::from(rh.nr) >= rh.capacity() {
            if usize::from(rh.level) + 1 >= MAX_DEPTH {
                return Err(Error::TooDeep);
            }
            let sib = st.alloc()?;
            let new_root = st.alloc()?;
            let sep = node_split(&mut s.a, &mut s.b, sib)?;
            let first = node_key(&s.a, 0)?;
            node_init(&mut s.c, self.tree, rh.level + 1, self.owner, new_root);
            node_insert(&mut s.c, 0, first, &self.root.to_le_bytes())?;
            node_insert(&mut s.c, 1, sep, &sib.to_le_bytes())?;
            self.put(st, self.root, &mut s.a)?;
            self.put(st, sib, &mut s.b)?;
            self.put(st, new_root, &mut s.c)?;
            self.root = new_root;
        }
        let mut cur = self.root;
        let mut level: Option<u8> = None;
        loop {
            let h = self.load(st, cur, &mut s.a, level)?;
            if h.level == 0 {
                let i = match node_search(&s.a, key)? {
                    Ok(_) => return Err(Error::Exists),
                    Err(i) => i,
                };
                node_insert(&mut s.a, i, key, value)?;
                return self.put(st, cur, &mut s.a);
            }
            let i = node_child_index(&s.a, key)?;
            let mut dirty = false;
            if key < node_key(&s.a, 0)? {
                node_set_key(&mut s.a, 0, key)?;
                dirty = true;
            }
            let child = node_child(&s.a, i)?;
            let ch = self.load(st, child, &mut s.b, Some(h.level - 1))?;
            if usize::from(ch.nr) >= ch.capacity() {
                let sib = st.alloc()?;
                let sep = node_split(&mut s.b, &mut s.c, sib)?;
                node_insert(&mut s.a, i + 1, sep, &sib.to_le_bytes())?;
                self.put(st, cur, &mut s.a)?;
                self.put(st, child, &mut s.b)?;
                self.put(st, sib, &mut s.c)?;
                cur = if key >= sep { sib } else { child };
            } else {
                if dirty {
                    self.put(st, cur, &mut s.a)?;
                }
                cur = child;
            }
            level = Some(h.level - 1);
        }
    }

    /// Removes `key` ([`Error::NotFound`] if absent). Emptied non-root
    /// nodes are freed; a root left with one child is replaced by it.
    pub fn remove<S: NodeStore + ?Sized>(
        &mut self,
        st: &mut S,
        s: &mut Scratch,
        key: u64,
    ) -> Result<()> {
        let mut path = [(0, 0); MAX_DEPTH];
        let (n, leaf) = self.descend(st, &mut s.a, key, &mut path)?;
        let i = match node_search(&s.a, key)? {
            Ok(i) => i,
            Err(_) => return Err(Error::NotFound),
        };
        node_remove(&mut s.a, i)?;
        if nr_of(&s.a) > 0 || n == 0 {
            return self.put(st, leaf, &mut s.a);
        }
        st.free(leaf)?;
        let mut d = n;
        while d > 0 {
            d -= 1;
            let (blk, idx) = path.get(d).copied().ok_or(Error::TooDeep)?;
            self.load(st, blk, &mut s.a, None)?;
            node_remove(&mut s.a, idx)?;
            if nr_of(&s.a) > 0 {
                self.put(st, blk, &mut s.a)?;
                break;
            }
            if d == 0 {
                // The whole tree is empty: the root becomes an empty leaf.
                node_init(&mut s.a, self.tree, 0, self.owner, blk);
                self.put(st, blk, &mut s.a)?;
                return Ok(());
            }
            st.free(blk)?;
        }
        // Collapse a root with a single child.
        loop {
            let h = self.load(st, self.root, &mut s.a, None)?;
            if h.level == 0 || h.nr != 1 {
                return Ok(());
            }
            let child = node_child(&s.a, 0)?;
            st.free(self.root)?;
            self.root = child;
        }
    }

    /// Frees every node of the tree; returns how many were freed.
    pub fn destroy<S: NodeStore + ?Sized>(&self, st: &mut S, s: &mut Scratch) -> Result<u64> {
        let mut stack: Path = [(0, 0); MAX_DEPTH];
        let mut levels = [0u8; MAX_DEPTH];
        let root_h = self.load(st, self.root, &mut s.a, None)?;
        stack[0] = (self.root, 0);
        levels[0] = root_h.level;
        let mut sp = 1usize;
        let mut freed = 0u64;
        while sp > 0 {
            let top = sp - 1;
            let (blk, idx) = stack.get(top).copied().ok_or(Error::TooDeep)?;
            let level = levels.get(top).copied().ok_or(Error::TooDeep)?;
            let h = self.load(st, blk, &mut s.a, Some(level))?;
            if h.level == 0 || idx >= usize::from(h.nr) {
                st.free(blk)?;
                freed += 1;
                sp -= 1;
                continue;
            }
            let child = node_child(&s.a, idx)?;
            if let Some(t) = stack.get_mut(top) {
                t.1 = idx + 1;
            }
            let slot = stack.get_mut(sp).ok_or(Error::TooDeep)?;
            *slot = (child, 0);
            let lslot = levels.get_mut(sp).ok_or(Error::TooDeep)?;
            *lslot = h.level - 1;
            sp += 1;
        }
        Ok(freed)
    }
}

/// A [`NodeStore`] wrapper counting allocations and frees, used by the
/// extent-map and directory operations to keep `Inode::blocks` exact.
pub struct CountingStore<'a, S: NodeStore + ?Sized> {
    /// The wrapped store.
    pub inner: &'a mut S,
    /// Nodes allocated through this wrapper.
    pub allocated: u64,
    /// Nodes freed through this wrapper.
    pub freed: u64,
}

impl<'a, S: NodeStore + ?Sized> CountingStore<'a, S> {
    /// Wraps `inner` with zero counts.
    pub fn new(inner: &'a mut S) -> Self {
        CountingStore {
            inner,
            allocated: 0,
            freed: 0,
        }
    }

    /// Applies the net change to a block count.
    pub fn adjust(&self, blocks: u64) -> Result<u64> {
        blocks
            .checked_add(self.allocated)
            .and_then(|b| b.checked_sub(self.freed))
            .ok_or(Error::Corrupt("inode block count"))
    }
}

impl<S: NodeStore + ?Sized> NodeStore for CountingStore<'_, S> {
    fn read(&mut self, blk: u64, buf: &mut Block) -> Result<()> {
        self.inner.read(blk, buf)
    }
    fn read_node(&mut self, blk: u64, buf: &mut Block) -> Result<bool> {
        self.inner.read_node(blk, buf)
    }
    fn write(&mut self, blk: u64, buf: &Block) -> Result<()> {
        self.inner.write(blk, buf)
    }
    fn alloc(&mut self) -> Result<u64> {
        let b = self.inner.alloc()?;
        self.allocated += 1;
        Ok(b)
    }
    fn free(&mut self, blk: u64) -> Result<()> {
        self.inner.free(blk)?;
        self.freed += 1;
        Ok(())
    }
}

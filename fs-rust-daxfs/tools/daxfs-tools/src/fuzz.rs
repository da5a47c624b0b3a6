// SPDX-License-Identifier: GPL-2.0

//! Structured image fuzzing (`fuzzimg.daxfs`): damaged daxfs images, each
//! reproducible from a seed and an index, to test that mount, the kernel's
//! reads and writes, and fsck survive hostile metadata.
//!
//! [`Base::build`] makes a small populated filesystem in memory with the
//! shared format code ([`daxfs_format::ops`] in [`daxfs_format::txn`]
//! transactions, the code the kernel runs): a 2-level extent tree, smaller
//! trees and inline maps, preallocated (unwritten) blocks and blocks past
//! the end of a file, a multi-node directory index, inline and block
//! symlinks, hard links, device nodes, two files sealed the way the
//! kernel's seal leaves them, an orphan list holding a file with an interrupted seal,
//! an unlinked file and an `O_TMPFILE`, and last a committed transaction
//! that was not applied (the journal must be replayed at mount). Its
//! superblock says the filesystem was mounted (a crash).
//!
//! [`generate`] makes image `index` of `seed`: a copy of the base with one
//! mutation (sometimes two) aimed at one structure ([`Class`]): a field
//! set to a boundary value (0, 1, max, max - 1, the device's end and just
//! past it, blocks of the superblock, journal, bitmaps or inode table,
//! another tree's node, the node itself or its parent), or a few random
//! bit flips. Every other image then gets every checksum the format
//! defines recomputed ([`recompute_checksums`]), so that its mutation gets
//! past the checksum checks; the others keep stale checksums.
//! [`FuzzImage::describe`] says what was changed, old and new value.

use std::collections::BTreeMap;
use std::fmt;

use daxfs_format::btree::{node_capacity, Scratch, NODE_HEADER_SIZE};
use daxfs_format::btree::{
    node_child, node_key, node_seal, node_value, node_verify, TreeType, NODE_MAGIC, NODE_OFF_BLKNO,
    NODE_OFF_CHECKSUM, NODE_OFF_LEVEL, NODE_OFF_MAGIC, NODE_OFF_NR, NODE_OFF_OWNER,
    NODE_OFF_RESERVED, NODE_OFF_TREE_TYPE,
};
use daxfs_format::bytes::{get_u16, get_u32, get_u64, get_u8, is_zero, put_u16, put_u32, put_u64};
use daxfs_format::bytes::{put_u8, slice};
use daxfs_format::crc32c::{crc32c, crc32c_record, csum_seed};
use daxfs_format::dir::{
    DirEntry, DE_OFF_FILE_TYPE, DE_OFF_INO, DE_OFF_NAME, DE_OFF_NAME_LEN, DE_OFF_RESERVED, DT_DIR,
    DT_REG, NAME_MAX,
};
use daxfs_format::extent::{
    Extent, EXTENT_SEALED, EXTENT_SIZE, EXTENT_UNWRITTEN, EXTENT_VALUE_SIZE, MAX_FILE_BLOCKS,
};
use daxfs_format::inode::*;
use daxfs_format::journal::{
    commit_seq, commit_word, journal_state, JournalHeader, JournalState, JH_OFF_APPLIED,
    JH_OFF_COMMIT, JH_OFF_LOG_BLOCKS, JH_OFF_LOG_START, JH_OFF_MAGIC, JH_SIZE, REC_HEADER_SIZE,
    REC_OFF_LEN, REC_OFF_OFFSET, REC_OFF_RESERVED, TXN_HEADER_SIZE, TXN_OFF_BODY_LEN,
    TXN_OFF_MAGIC, TXN_OFF_NR, TXN_OFF_RESERVED, TXN_OFF_RESERVED2, TXN_OFF_SEQ,
};
use daxfs_format::ops::*;
use daxfs_format::superblock::*;
use daxfs_format::txn::{
    recover, txn_staging_size, Cursors, JournalCursor, Medium, Txn, TxnSpace, TXN_MAX_BLOCKS,
};
use daxfs_format::{Block, Error, Layout, Result, BLOCK_SIZE, BLOCK_SIZE_U64};

use crate::alloc::Alloc;

/// Size of the base filesystem (and of every generated image) in blocks:
/// 4 MiB, the smallest daxfs (2 MiB of metadata, one partial 2 MiB group
/// of data). Small, because a series writes it to the device once per
/// image under an emulated CPU.
pub const BASE_BLOCKS: u64 = 1024;
/// Inode slots of the base filesystem (slot 0 included).
pub const BASE_INODES: u64 = 256;
/// The seed the guest suite uses unless told otherwise.
pub const DEFAULT_SEED: u64 = 20261203;

const UUID: [u8; 16] = *b"daxfs-fuzz-image";
const HASH_KEY: [u8; 16] = *b"fuzz-dirhash-key";
/// 2026-12-03T00:00:00Z: every time in the base image counts from here.
const T0: i64 = 1_796_256_000;
/// Entries of the big directory: enough for an index of several leaves
/// (14 entries each) under an interior root.
const BIG_DIR_ENTRIES: usize = 64;
/// Extents of the big file: more than one extent leaf holds (169), so its
/// tree has an interior root.
const TREE_EXTENTS: u64 = 200;

// ---------------------------------------------------------------------------
// Randomness

/// A small deterministic PRNG (SplitMix64): the same seed gives the same
/// images on every machine.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator started from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The generator of image `index` of `seed`.
    pub fn for_image(seed: u64, index: u64) -> Rng {
        let mut r = Rng(seed ^ 0x6461_7866_735f_667a);
        let a = r.next_u64();
        Rng(a ^ index.wrapping_mul(0xD6E8_FEB8_6659_FD93))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0 .. n` (0 if `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }

    /// True with probability `pct` percent.
    pub fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }

    /// A random element of `v`.
    pub fn pick<'v, T>(&mut self, v: &'v [T]) -> Option<&'v T> {
        v.get(self.below(v.len() as u64) as usize)
    }
}

// ---------------------------------------------------------------------------
// An in-memory medium

/// A [`Medium`] over an image in memory. With `crash_after_commit` set,
/// every write after the next commit-word store is dropped: the image is
/// left with a committed transaction that was not applied, as a crash
/// right after the commit point leaves it.
pub struct MemMedium {
    /// The image.
    pub img: Vec<u8>,
    /// Drop every write after the next store of the commit word.
    pub crash_after_commit: bool,
    /// Byte offset of the journal's commit word.
    commit_off: u64,
    crashed: bool,
}

impl MemMedium {
    fn range(&self, off: u64, len: usize) -> Result<std::ops::Range<usize>> {
        let s = usize::try_from(off).map_err(|_| Error::Io)?;
        let e = s.checked_add(len).ok_or(Error::Io)?;
        if e > self.img.len() {
            return Err(Error::Io);
        }
        Ok(s..e)
    }
}

impl Medium for MemMedium {
    fn read(&mut self, off: u64, buf: &mut [u8]) -> Result<()> {
        let r = self.range(off, buf.len())?;
        buf.copy_from_slice(self.img.get(r).ok_or(Error::Io)?);
        Ok(())
    }

    fn write(&mut self, off: u64, data: &[u8]) -> Result<()> {
        if self.crashed {
            return Ok(());
        }
        let r = self.range(off, data.len())?;
        self.img.get_mut(r).ok_or(Error::Io)?.copy_from_slice(data);
        Ok(())
    }

    fn store_u64(&mut self, off: u64, v: u64) -> Result<()> {
        self.write(off, &v.to_le_bytes())?;
        if self.crash_after_commit && off == self.commit_off {
            self.crashed = true;
        }
        Ok(())
    }

    fn fence(&mut self) {}
}

// ---------------------------------------------------------------------------
// Building the base image

/// Runs the shared operations on an in-memory filesystem, one
/// transaction per call of [`Builder::txn`].
struct Builder {
    m: MemMedium,
    sb: Superblock,
    cur: Cursors,
    j: JournalCursor,
    blks: Vec<u64>,
    data: Vec<u8>,
    orig: Vec<u8>,
    staging: Vec<u8>,
    s: Box<Scratch>,
    now: i64,
    names: BTreeMap<u64, String>,
}

/// The 8-byte pattern every word of data block `lblk` of file `ino` holds
/// (its first four bytes are the block number, never the node magic, so
/// no data block looks like a B+tree node).
fn tag(ino: u64, lblk: u64) -> u64 {
    0xDA00_0000_0000_0000 | (ino << 32) | (lblk & 0xFFFF_FFFF)
}

fn tag_block(ino: u64, lblk: u64) -> Vec<u8> {
    tag(ino, lblk).to_le_bytes().repeat(BLOCK_SIZE / 8)
}

impl Builder {
    /// A fresh filesystem of `blocks` blocks and `inodes` inode slots with
    /// an empty root, as mkfs makes it, in memory.
    fn fresh(blocks: u64, inodes: u64) -> Result<Builder> {
        let layout = Layout::compute(blocks, inodes, default_journal_blocks(blocks))?;
        let size = usize::try_from(blocks * BLOCK_SIZE_U64).map_err(|_| Error::NoSpace)?;
        let mut img = vec![0u8; size];
        let mut sb = Superblock::new(layout, UUID, HASH_KEY, T0);
        sb.set_label(b"fuzz")?;
        let a = Alloc::new(layout);
        let put = |img: &mut Vec<u8>, blk: u64, b: &[u8]| -> Result<()> {
            let o = usize::try_from(blk * BLOCK_SIZE_U64).map_err(|_| Error::Io)?;
            img.get_mut(o..o + b.len())
                .ok_or(Error::Io)?
                .copy_from_slice(b);
            Ok(())
        };
        put(&mut img, layout.inode_bitmap_start, &a.ibm)?;
        put(&mut img, layout.block_bitmap_start, &a.bm)?;
        put(&mut img, layout.group_table_start, &a.gt)?;
        let mut jb = [0u8; JH_SIZE];
        JournalHeader::new(&layout).encode(&mut jb);
        put(&mut img, layout.journal_start, &jb)?;
        let mut sbb = [0u8; SB_SIZE];
        sb.encode(&mut sbb);
        put(&mut img, 0, &sbb)?;
        put(&mut img, layout.backup_sb_block, &sbb)?;
        let mut m = MemMedium {
            img,
            crash_after_commit: false,
            commit_off: layout.journal_start * BLOCK_SIZE_U64 + JH_OFF_COMMIT as u64,
            crashed: false,
        };
        let mut staging = vec![0u8; txn_staging_size(TXN_MAX_BLOCKS)];
        let (j, _) = recover(&mut m, &sb, &mut staging)?;
        let mut b = Builder {
            m,
            sb,
            cur: Cursors::default(),
            j,
            blks: vec![0; TXN_MAX_BLOCKS],
            data: vec![0; TXN_MAX_BLOCKS * BLOCK_SIZE],
            orig: vec![0; TXN_MAX_BLOCKS * BLOCK_SIZE],
            staging,
            s: Box::new(Scratch::new()),
            now: T0,
            names: BTreeMap::new(),
        };
        let now = b.tick();
        let root = b.txn(|t, s| {
            let (ino, gen) = t.alloc_ino()?;
            let mut root = Inode::new(S_IFDIR | 0o755, 0, 0, now);
            root.generation = gen;
            let ctx = t.ctx();
            daxfs_format::dir::dir_init(&mut root, ino, &ctx, t, s)?;
            root.parent = ino;
            t.write_inode(ino, &root)?;
            Ok(ino)
        })?;
        if root != ROOT_INO {
            return Err(Error::Corrupt("the root is not inode 1"));
        }
        b.names.insert(ROOT_INO, "/".into());
        Ok(b)
    }

    fn tick(&mut self) -> Timespec {
        self.now += 7;
        Timespec {
            sec: self.now,
            nsec: ((self.now as u64).wrapping_mul(2_654_435_761) % 1_000_000_000) as u32,
        }
    }

    /// Runs `f` in one transaction and commits it.
    fn txn<R>(
        &mut self,
        f: impl FnOnce(&mut Txn<'_, MemMedium>, &mut Scratch) -> Result<R>,
    ) -> Result<R> {
        let space = TxnSpace {
            blks: &mut self.blks,
            data: &mut self.data,
            orig: &mut self.orig,
            staging: &mut self.staging,
        };
        let mut t = Txn::new(&mut self.m, &self.sb, space, &mut self.cur);
        let r = f(&mut t, &mut self.s)?;
        self.sb = t.commit(&mut self.j)?;
        Ok(r)
    }

    fn path(&self, dir: u64, name: &[u8]) -> String {
        let d = self.names.get(&dir).map_or("?", |s| s.as_str());
        let n = String::from_utf8_lossy(name);
        if d == "/" {
            format!("/{}", n)
        } else {
            format!("{}/{}", d, n)
        }
    }

    /// Creates `name` in `dir` with `mode` (and `rdev`).
    fn create(&mut self, dir: u64, name: &[u8], mode: u16, rdev: u32) -> Result<u64> {
        let now = self.tick();
        let ino = self.txn(|t, s| {
            let mut d = t.read_inode(dir)?;
            let mut new = Inode::new(mode, 1000, 1000, now);
            new.rdev = rdev;
            op_create(t, s, dir, &mut d, name, &mut new, now)
        })?;
        let p = self.path(dir, name);
        self.names.insert(ino, p);
        Ok(ino)
    }

    fn symlink(&mut self, dir: u64, name: &[u8], target: &[u8]) -> Result<u64> {
        let now = self.tick();
        let ino = self.txn(|t, s| {
            let mut d = t.read_inode(dir)?;
            let mut new = Inode::new(S_IFLNK | 0o777, 0, 0, now);
            op_symlink(t, s, dir, &mut d, name, &mut new, target, now)
        })?;
        let p = self.path(dir, name);
        self.names.insert(ino, p);
        Ok(ino)
    }

    fn link(&mut self, dir: u64, name: &[u8], ino: u64) -> Result<()> {
        let now = self.tick();
        self.txn(|t, s| {
            let mut d = t.read_inode(dir)?;
            let mut i = t.read_inode(ino)?;
            op_link(t, s, dir, &mut d, name, ino, &mut i, now)
        })
    }

    fn unlink(&mut self, dir: u64, name: &[u8], ino: u64) -> Result<()> {
        let now = self.tick();
        self.txn(|t, s| {
            let mut d = t.read_inode(dir)?;
            let mut i = t.read_inode(ino)?;
            op_unlink(t, s, dir, &mut d, name, ino, &mut i, now)
        })
    }

    /// Allocates file blocks `[lblk, lblk + n)` of `ino` (a hole), writing
    /// each block's tag unless `unwritten`, in as many transactions as
    /// the allocator needs.
    fn alloc(&mut self, ino: u64, lblk: u64, n: u64, unwritten: bool) -> Result<()> {
        let mut at = lblk;
        while at < lblk + n {
            let want = lblk + n - at;
            let e = self.txn(|t, s| {
                let mut i = t.read_inode(ino)?;
                let e = op_alloc(t, s, ino, &mut i, at, want, unwritten)?;
                if !unwritten {
                    for k in 0..u64::from(e.len) {
                        t.medium()
                            .write((e.pblk + k) * BLOCK_SIZE_U64, &tag_block(ino, e.lblk + k))?;
                    }
                }
                Ok(e)
            })?;
            at += u64::from(e.len);
        }
        Ok(())
    }

    fn set_size(&mut self, ino: u64, size: u64) -> Result<()> {
        let now = self.tick();
        self.txn(|t, _| {
            let mut i = t.read_inode(ino)?;
            i.size = size;
            i.mtime = now;
            i.ctime = now;
            t.write_inode(ino, &i)
        })
    }

    /// Seals `ino` as the kernel does once the file is prepared (every
    /// block up to its size written, nothing past it): the intent, the
    /// extent flags in steps of 3, the inode flag.
    fn seal(&mut self, ino: u64) -> Result<()> {
        self.txn(|t, _| {
            let mut i = t.read_inode(ino)?;
            op_seal_begin(t, ino, &mut i)
        })?;
        let mut at = Some(0);
        while let Some(from) = at {
            at = self.txn(|t, s| {
                let mut i = t.read_inode(ino)?;
                op_seal_extents(t, s, ino, &mut i, from, true, 3)
            })?;
        }
        let now = self.tick();
        self.txn(|t, s| {
            let mut i = t.read_inode(ino)?;
            op_seal_inode(t, s, ino, &mut i, now)
        })
    }
}

// ---------------------------------------------------------------------------
// What the base image holds

/// One inode in use in the base image.
#[derive(Clone, Debug)]
pub struct InodeInfo {
    /// Inode number.
    pub ino: u64,
    /// Byte offset of its record.
    pub off: u64,
    /// Its decoded record.
    pub inode: Inode,
    /// Its path (or what it is, for an inode without a name).
    pub name: String,
}

/// One B+tree node of the base image.
#[derive(Clone, Debug)]
pub struct NodeInfo {
    /// Block number.
    pub blk: u64,
    /// Owning inode.
    pub owner: u64,
    /// Extent tree or directory index.
    pub tree: TreeType,
    /// Level (0 = leaf).
    pub level: u8,
    /// Entries in use.
    pub nr: u16,
    /// The node pointing to it (`None` for a root).
    pub parent: Option<u64>,
    /// The tree's root block.
    pub root: u64,
}

/// Where an extent record lives.
#[derive(Clone, Copy, Debug)]
pub enum ExtentLoc {
    /// Slot `slot` of the inode's map area (record at byte `off`).
    Inline {
        /// Slot.
        slot: usize,
        /// Byte offset of the 24-byte record.
        off: u64,
    },
    /// Entry `idx` of the extent leaf in block `blk`.
    Leaf {
        /// Leaf block.
        blk: u64,
        /// Entry index.
        idx: usize,
    },
}

/// One extent of the base image.
#[derive(Clone, Copy, Debug)]
pub struct ExtentRef {
    /// Owning inode.
    pub ino: u64,
    /// The record.
    pub loc: ExtentLoc,
    /// The extent.
    pub ext: Extent,
}

/// One directory entry of the base image.
#[derive(Clone, Copy, Debug)]
pub struct DirentRef {
    /// Directory inode.
    pub dir: u64,
    /// Leaf block.
    pub blk: u64,
    /// Entry index in the leaf.
    pub idx: usize,
    /// Its key (hash cookie).
    pub key: u64,
    /// The entry.
    pub entry: DirEntry,
}

/// The committed, unapplied journal transaction of the base image.
#[derive(Clone, Debug)]
pub struct PendingTxn {
    /// Byte offset of the transaction in the image (the log's start).
    pub off: u64,
    /// Bytes of records after the header.
    pub body_len: u64,
    /// Byte offset of every record header, its target and its length.
    pub records: Vec<(u64, u64, u32)>,
}

/// The base image and a map of its structures, to aim mutations at.
#[derive(Clone, Debug)]
pub struct Base {
    /// The image bytes.
    pub img: Vec<u8>,
    /// Its primary superblock.
    pub sb: Superblock,
    /// Every inode in use.
    pub inodes: Vec<InodeInfo>,
    /// Some free inode slots.
    pub free_inodes: Vec<u64>,
    /// Every B+tree node, parents before children.
    pub nodes: Vec<NodeInfo>,
    /// Every extent (inline and in tree leaves).
    pub extents: Vec<ExtentRef>,
    /// Every directory entry.
    pub dirents: Vec<DirentRef>,
    /// The orphan list, head first.
    pub orphans: Vec<u64>,
    /// The pending journal transaction.
    pub txn: Option<PendingTxn>,
    /// Data blocks in use (extents, nodes), sorted.
    pub used_blocks: Vec<u64>,
}

/// `s`, cut to 40 characters.
fn short(s: &str) -> String {
    if s.chars().count() > 40 {
        let mut t: String = s.chars().take(37).collect();
        t.push_str("...");
        t
    } else {
        s.to_string()
    }
}

fn err(e: Error, what: &str) -> String {
    format!("building the base image: {}: {}", what, e)
}

impl Base {
    /// Builds the base image (always the same bytes) and maps it.
    pub fn build() -> std::result::Result<Base, String> {
        let (img, names) = build_image().map_err(|e| err(e, "operations"))?;
        Base::scan(img, &names)
    }

    /// Maps the structures of `img` (as it is on the medium: without the
    /// pending transaction applied).
    pub fn scan(img: Vec<u8>, names: &BTreeMap<u64, String>) -> std::result::Result<Base, String> {
        let sb = Superblock::decode(img.get(..SB_SIZE).unwrap_or(&[]))
            .map_err(|e| err(e, "superblock"))?;
        let l = sb.layout;
        let seed = sb.ctx().csum_seed;
        let mut b = Base {
            img: Vec::new(),
            sb,
            inodes: Vec::new(),
            free_inodes: Vec::new(),
            nodes: Vec::new(),
            extents: Vec::new(),
            dirents: Vec::new(),
            orphans: Vec::new(),
            txn: None,
            used_blocks: Vec::new(),
        };
        for ino in 1..l.inode_count {
            let off = l.inode_offset(ino).map_err(|e| err(e, "inode"))?;
            let rec = slice(&img, off as usize, INODE_SIZE).map_err(|e| err(e, "inode"))?;
            match Inode::decode(rec, ino, seed).map_err(|e| err(e, "inode"))? {
                None => {
                    if b.free_inodes.len() < 16 {
                        b.free_inodes.push(ino);
                    }
                }
                Some(inode) => {
                    let name = names
                        .get(&ino)
                        .cloned()
                        .unwrap_or_else(|| "(no name)".into());
                    b.inodes.push(InodeInfo {
                        ino,
                        off,
                        inode,
                        name,
                    });
                }
            }
        }
        for i in b.inodes.clone() {
            match i.inode.map_kind {
                MAP_BTREE => {
                    let tree = if i.inode.is_dir() {
                        TreeType::Dir
                    } else {
                        TreeType::Extent
                    };
                    let root = i.inode.btree_root();
                    b.walk(&img, seed, tree, i.ino, root, None, root, 0)
                        .map_err(|e| err(e, "tree"))?;
                }
                MAP_EXTENTS => {
                    for slot in 0..i.inode.map_count as usize {
                        let ext = Extent::decode_inline(&i.inode.map, slot)
                            .map_err(|e| err(e, "extent"))?;
                        let off = i.off + (INO_OFF_MAP + slot * EXTENT_SIZE) as u64;
                        b.extents.push(ExtentRef {
                            ino: i.ino,
                            loc: ExtentLoc::Inline { slot, off },
                            ext,
                        });
                    }
                }
                _ => {}
            }
        }
        let mut used: Vec<u64> = b.nodes.iter().map(|n| n.blk).collect();
        for e in &b.extents {
            used.extend(e.ext.pblk..e.ext.pblk + u64::from(e.ext.len));
        }
        used.sort_unstable();
        used.dedup();
        b.used_blocks = used;
        let mut o = sb.orphan_head;
        while o != 0 && b.orphans.len() < 64 {
            b.orphans.push(o);
            o = b.inode(o).map_or(0, |i| u64::from(i.inode.next_orphan));
        }
        b.txn = pending_txn(&img, &l).map_err(|e| err(e, "journal"))?;
        b.img = img;
        Ok(b)
    }

    #[allow(clippy::too_many_arguments)]
    fn walk(
        &mut self,
        img: &[u8],
        seed: u32,
        tree: TreeType,
        owner: u64,
        blk: u64,
        parent: Option<u64>,
        root: u64,
        depth: usize,
    ) -> Result<()> {
        if depth > 8 {
            return Err(Error::TooDeep);
        }
        let off = usize::try_from(blk * BLOCK_SIZE_U64).map_err(|_| Error::Io)?;
        let buf = slice(img, off, BLOCK_SIZE)?;
        let h = node_verify(buf, seed, tree, owner, blk)?;
        self.nodes.push(NodeInfo {
            blk,
            owner,
            tree,
            level: h.level,
            nr: h.nr,
            parent,
            root,
        });
        for i in 0..usize::from(h.nr) {
            if h.level > 0 {
                let c = node_child(buf, i)?;
                self.walk(img, seed, tree, owner, c, Some(blk), root, depth + 1)?;
            } else {
                let key = node_key(buf, i)?;
                let v = node_value(buf, i)?;
                match tree {
                    TreeType::Extent => self.extents.push(ExtentRef {
                        ino: owner,
                        loc: ExtentLoc::Leaf { blk, idx: i },
                        ext: Extent::decode_value(key, v)?,
                    }),
                    TreeType::Dir => self.dirents.push(DirentRef {
                        dir: owner,
                        blk,
                        idx: i,
                        key,
                        entry: DirEntry::decode(v)?,
                    }),
                }
            }
        }
        Ok(())
    }

    /// The base's record of inode `ino`.
    pub fn inode(&self, ino: u64) -> Option<&InodeInfo> {
        self.inodes.iter().find(|i| i.ino == ino)
    }

    fn name(&self, ino: u64) -> String {
        self.inode(ino).map_or_else(
            || format!("inode {}", ino),
            |i| format!("inode {} {}", ino, short(&i.name)),
        )
    }

    fn by_name(&self, name: &str) -> Option<u64> {
        self.inodes.iter().find(|i| i.name == name).map(|i| i.ino)
    }

    fn layout(&self) -> Layout {
        self.sb.layout
    }
}

/// The committed, unapplied transaction in the log of `img`, if any.
fn pending_txn(img: &[u8], l: &Layout) -> Result<Option<PendingTxn>> {
    let jh = (l.journal_start * BLOCK_SIZE_U64) as usize;
    let h = JournalHeader::decode(slice(img, jh, JH_SIZE)?, l)?;
    if !matches!(journal_state(&h)?, JournalState::NeedsReplay { .. }) {
        return Ok(None);
    }
    let off = h.log_start * BLOCK_SIZE_U64;
    let log = slice(img, off as usize, h.log_bytes() as usize)?;
    let body_len = get_u64(log, TXN_OFF_BODY_LEN);
    let mut records = Vec::new();
    let mut pos = TXN_HEADER_SIZE as u64;
    while pos < TXN_HEADER_SIZE as u64 + body_len {
        let p = pos as usize;
        let target = get_u64(log, p + REC_OFF_OFFSET);
        let len = get_u32(log, p + REC_OFF_LEN);
        records.push((off + pos, target, len));
        pos += (REC_HEADER_SIZE as u64) + ((u64::from(len) + 7) & !7);
    }
    Ok(Some(PendingTxn {
        off,
        body_len,
        records,
    }))
}

/// The operations that make the base image; returns it and the names of
/// its inodes.
fn build_image() -> Result<(Vec<u8>, BTreeMap<u64, String>)> {
    let mut b = Builder::fresh(BASE_BLOCKS, BASE_INODES)?;
    // The filesystem was mounted when it "crashed".
    b.txn(|t, _| {
        let s = t.sb_mut();
        s.state = STATE_DIRTY;
        s.mount_count = 1;
        s.mount_time = T0;
        s.write_time = T0;
        Ok(())
    })?;
    let root = ROOT_INO;

    // A 2-level extent tree: one-block extents with holes between them.
    let tree = b.create(root, b"tree", S_IFREG | 0o644, 0)?;
    for k in 0..TREE_EXTENTS {
        b.alloc(tree, 2 * k, 1, k % 5 == 4)?;
    }
    b.set_size(tree, (2 * TREE_EXTENTS - 1) * BLOCK_SIZE_U64 + 100)?;
    // A one-leaf tree of alternately written and unwritten extents, with
    // preallocated blocks past its end.
    let small = b.create(root, b"small-tree", S_IFREG | 0o600, 0)?;
    for k in 0..10 {
        b.alloc(small, k, 1, k % 2 == 1)?;
    }
    b.set_size(small, 7 * BLOCK_SIZE_U64 + 5)?;
    // An inline map: written, hole, unwritten, written.
    let inline = b.create(root, b"inline", S_IFREG | 0o640, 0)?;
    b.alloc(inline, 0, 2, false)?;
    b.alloc(inline, 3, 2, true)?;
    b.alloc(inline, 6, 1, false)?;
    b.set_size(inline, 7 * BLOCK_SIZE_U64)?;
    // fallocate(KEEP_SIZE) past the end of a short file.
    let prealloc = b.create(root, b"prealloc", S_IFREG | 0o644, 0)?;
    b.alloc(prealloc, 0, 2, false)?;
    b.alloc(prealloc, 2, 6, true)?;
    b.set_size(prealloc, BLOCK_SIZE_U64 + 1000)?;
    // A sealed file of 8 extents (a tree): each allocation is followed by
    // one for another file, so that the next cannot extend it.
    let sealed = b.create(root, b"sealed", S_IFREG | 0o600, 0)?;
    let filler = b.create(root, b"filler", S_IFREG | 0o644, 0)?;
    for k in 0..8 {
        b.alloc(sealed, 2 * k, 2, false)?;
        b.alloc(filler, k, 1, false)?;
    }
    b.set_size(sealed, 16 * BLOCK_SIZE_U64)?;
    b.set_size(filler, 8 * BLOCK_SIZE_U64)?;
    b.seal(sealed)?;
    // A small sealed file (inline map).
    let sealed1 = b.create(root, b"sealed-small", S_IFREG | 0o600, 0)?;
    b.alloc(sealed1, 0, 3, false)?;
    b.set_size(sealed1, 3 * BLOCK_SIZE_U64)?;
    b.seal(sealed1)?;

    // The big directory, and things of every type in it.
    let dir = b.create(root, b"dir", S_IFDIR | 0o755, 0)?;
    let mut files = Vec::new();
    for k in 0..BIG_DIR_ENTRIES {
        let name = match k % 16 {
            7 => format!("long-{:03}-{}", k, "n".repeat(200)),
            _ => format!("entry-{:03}", k),
        };
        let (mode, rdev) = match k % 16 {
            3 => (S_IFIFO | 0o644, 0),
            5 => (S_IFCHR | 0o600, (1 << 8) | 3),
            9 => (S_IFBLK | 0o660, (7 << 8) | 1),
            11 => (S_IFSOCK | 0o755, 0),
            13 => (S_IFDIR | 0o700, 0),
            _ => (S_IFREG | 0o644, 0),
        };
        let ino = b.create(dir, name.as_bytes(), mode, rdev)?;
        if mode & S_IFMT == S_IFREG {
            files.push(ino);
            if k % 4 == 0 {
                b.alloc(ino, 0, 1, false)?;
                b.set_size(ino, 100 + k as u64)?;
            }
        }
    }
    // Hard links, in the root and in the directory.
    let shared = files.first().copied().ok_or(Error::NotFound)?;
    b.link(root, b"hard", shared)?;
    b.link(dir, b"hard-too", shared)?;
    // Symlinks: inline and in a block.
    b.symlink(root, b"short-link", b"dir/entry-000")?;
    let long: Vec<u8> = b"../".iter().copied().cycle().take(300).collect();
    b.symlink(root, b"long-link", &long)?;
    b.symlink(dir, b"max-link", &[b'x'; 4095])?;
    // Nested directories.
    let sub = b.create(root, b"sub", S_IFDIR | 0o755, 0)?;
    let deeper = b.create(sub, b"deeper", S_IFDIR | 0o750, 0)?;
    let leaf = b.create(deeper, b"leaf", S_IFREG | 0o644, 0)?;
    b.alloc(leaf, 0, 1, false)?;
    b.set_size(leaf, 12)?;
    b.create(root, b"empty", S_IFDIR | 0o755, 0)?;
    let name255 = vec![b'N'; NAME_MAX];
    b.create(root, &name255, S_IFREG | 0o644, 0)?;

    // The orphan list: a seal interrupted half way (linked, with the
    // intent), a file unlinked while open and an O_TMPFILE.
    let intent = b.create(root, b"intent", S_IFREG | 0o644, 0)?;
    for k in 0..4 {
        b.alloc(intent, k, 1, false)?;
        b.alloc(filler, 8 + k, 1, false)?;
    }
    b.set_size(intent, 4 * BLOCK_SIZE_U64)?;
    b.txn(|t, _| {
        let mut i = t.read_inode(intent)?;
        op_seal_begin(t, intent, &mut i)
    })?;
    b.txn(|t, s| {
        let mut i = t.read_inode(intent)?;
        op_seal_extents(t, s, intent, &mut i, 0, true, 2)
    })?;
    b.set_size(filler, 12 * BLOCK_SIZE_U64)?;
    let gone = b.create(root, b"gone", S_IFREG | 0o644, 0)?;
    b.alloc(gone, 0, 3, false)?;
    b.set_size(gone, 3 * BLOCK_SIZE_U64)?;
    b.unlink(root, b"gone", gone)?;
    b.names
        .insert(gone, "(unlinked while open, was /gone)".into());
    let now = b.tick();
    let tmp = b.txn(|t, s| {
        let mut new = Inode::new(S_IFREG | 0o600, 0, 0, now);
        op_tmpfile(t, s, &mut new)
    })?;
    b.names.insert(tmp, "(O_TMPFILE)".into());
    b.alloc(tmp, 0, 2, false)?;
    b.set_size(tmp, 2 * BLOCK_SIZE_U64)?;

    // Last, a transaction committed but not applied: a file created in
    // the big directory with two blocks of data.
    let now = b.tick();
    b.m.crash_after_commit = true;
    b.txn(|t, s| {
        let mut d = t.read_inode(dir)?;
        let mut new = Inode::new(S_IFREG | 0o644, 0, 0, now);
        let ino = op_create(t, s, dir, &mut d, b"pending", &mut new, now)?;
        let e = op_alloc(t, s, ino, &mut new, 0, 2, false)?;
        for k in 0..u64::from(e.len) {
            t.medium()
                .write((e.pblk + k) * BLOCK_SIZE_U64, &tag_block(ino, k))?;
        }
        new.size = 2 * BLOCK_SIZE_U64 - 96;
        t.write_inode(ino, &new)
    })?;
    if !b.m.crashed {
        return Err(Error::Corrupt("the pending transaction was applied"));
    }
    Ok((b.m.img, b.names))
}

// ---------------------------------------------------------------------------
// Checksums

/// Recomputes every checksum the format defines, in the places the base
/// layout puts them: both superblocks, every inode record that is not
/// zero, every block of the data area that starts with the node magic,
/// and the CRC of a committed transaction in the journal's commit word
/// (if the transaction's length fits the log). The seed is that of the
/// (possibly changed) UUID of the primary superblock.
pub fn recompute_checksums(img: &mut [u8], l: &Layout) {
    let _ = checksums(img, l, true);
}

/// The checksums of `img` that [`recompute_checksums`] would change, one
/// line each (empty: every checksum is right).
pub fn checksum_errors(img: &mut [u8], l: &Layout) -> Vec<String> {
    checksums(img, l, false)
}

fn checksums(img: &mut [u8], l: &Layout, fix: bool) -> Vec<String> {
    let mut bad = Vec::new();
    let check = |img: &mut [u8], what: String, off: usize, want: u32, bad: &mut Vec<String>| {
        if get_u32(img, off) != want {
            if fix {
                put_u32(img, off, want);
            } else {
                bad.push(what);
            }
        }
    };
    for blk in [0, l.backup_sb_block] {
        let o = (blk * BLOCK_SIZE_U64) as usize;
        let Some(rec) = img.get(o..o + SB_OFF_CHECKSUM) else {
            continue;
        };
        let c = crc32c(rec);
        check(
            img,
            format!("superblock in block {}", blk),
            o + SB_OFF_CHECKSUM,
            c,
            &mut bad,
        );
    }
    let mut uuid = [0u8; 16];
    if let Ok(u) = slice(img, SB_OFF_UUID, 16) {
        uuid.copy_from_slice(u);
    }
    let seed = csum_seed(&uuid);
    for ino in 1..l.inode_count {
        let Ok(off) = l.inode_offset(ino) else {
            continue;
        };
        let o = off as usize;
        let Some(rec) = img.get(o..o + INODE_SIZE) else {
            continue;
        };
        if is_zero(rec) {
            continue;
        }
        let c = inode_checksum(ino, seed, rec);
        check(
            img,
            format!("inode {}", ino),
            o + INO_OFF_CHECKSUM,
            c,
            &mut bad,
        );
    }
    for blk in l.data_start..l.data_end() {
        let o = (blk * BLOCK_SIZE_U64) as usize;
        let Some(b) = img.get_mut(o..o + BLOCK_SIZE) else {
            continue;
        };
        if get_u32(b, NODE_OFF_MAGIC) != NODE_MAGIC {
            continue;
        }
        let Ok(b) = <&mut Block>::try_from(b) else {
            continue;
        };
        let c = daxfs_format::btree::node_checksum(b, seed);
        if get_u32(b, NODE_OFF_CHECKSUM) != c {
            if fix {
                node_seal(b, seed);
            } else {
                bad.push(format!("node in block {}", blk));
            }
        }
    }
    // The transaction CRC: seeded CRC-32C of its header and body
    // (docs/on-disk-format.md, "Crash consistency"), in the high half of
    // the commit word.
    let jh = (l.journal_start * BLOCK_SIZE_U64) as usize;
    let log = ((l.journal_start + 1) * BLOCK_SIZE_U64) as usize;
    let log_bytes = l.journal_blocks.saturating_sub(1) * BLOCK_SIZE_U64;
    let body = img
        .get(log..)
        .map_or(u64::MAX, |b| get_u64(b, TXN_OFF_BODY_LEN));
    if let Some(total) = body
        .checked_add(TXN_HEADER_SIZE as u64)
        .filter(|&t| t <= log_bytes)
    {
        if let Some(txn) = img.get(log..log + total as usize) {
            let crc = crc32c_record(seed, &[], txn, usize::MAX);
            let commit = get_u64(img, jh + JH_OFF_COMMIT);
            let want = commit_word(commit_seq(commit), crc);
            if commit != want {
                if fix {
                    put_u64(img, jh + JH_OFF_COMMIT, want);
                } else {
                    bad.push("journal transaction (commit word CRC)".into());
                }
            }
        }
    }
    bad
}

// ---------------------------------------------------------------------------
// Mutations

/// The structure a mutation is aimed at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    /// A field of the primary or backup superblock.
    Superblock,
    /// A field of an inode record.
    Inode,
    /// A field of an extent record (inline or in a tree leaf).
    Extent,
    /// A header field, key or child pointer of an extent tree node.
    ExtentNode,
    /// A header field, key or child pointer of a directory index node.
    DirNode,
    /// A field of a directory entry.
    Dirent,
    /// The journal header or a field of the pending transaction.
    Journal,
    /// The orphan list: its head, an inode's links, what keeps an inode
    /// on it.
    Orphan,
    /// The inode or block bitmap or the group table.
    Alloc,
    /// Random bit flips and bytes anywhere in the metadata.
    Random,
}

impl Class {
    /// Every class.
    pub const ALL: [Class; 10] = [
        Class::Superblock,
        Class::Inode,
        Class::Extent,
        Class::ExtentNode,
        Class::DirNode,
        Class::Dirent,
        Class::Journal,
        Class::Orphan,
        Class::Alloc,
        Class::Random,
    ];

    /// Its name in descriptions.
    pub fn name(self) -> &'static str {
        match self {
            Class::Superblock => "superblock",
            Class::Inode => "inode",
            Class::Extent => "extent",
            Class::ExtentNode => "extent-node",
            Class::DirNode => "dir-node",
            Class::Dirent => "dirent",
            Class::Journal => "journal",
            Class::Orphan => "orphan",
            Class::Alloc => "alloc",
            Class::Random => "random",
        }
    }

    /// How often (out of 100) a class is chosen.
    fn weight(self) -> u64 {
        match self {
            Class::Superblock => 12,
            Class::Inode => 14,
            Class::Extent => 13,
            Class::ExtentNode => 9,
            Class::DirNode => 8,
            Class::Dirent => 11,
            Class::Journal => 11,
            Class::Orphan => 8,
            Class::Alloc => 8,
            Class::Random => 6,
        }
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One change made to an image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mutation {
    /// The structure class.
    pub class: Class,
    /// The structure (which superblock, inode, node, entry, record).
    pub target: String,
    /// The field (or byte) changed.
    pub field: String,
    /// Its value in the base image.
    pub old: String,
    /// Its new value.
    pub new: String,
}

impl fmt::Display for Mutation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.old.is_empty() {
            write!(
                f,
                "{}: {}: {}: {}",
                self.class, self.target, self.field, self.new
            )
        } else {
            write!(
                f,
                "{}: {}: {}: {} -> {}",
                self.class, self.target, self.field, self.old, self.new
            )
        }
    }
}

/// A generated image.
#[derive(Clone, Debug)]
pub struct FuzzImage {
    /// The seed.
    pub seed: u64,
    /// The index.
    pub index: u64,
    /// The image bytes ([`BASE_BLOCKS`] blocks).
    pub img: Vec<u8>,
    /// What was changed, in order.
    pub mutations: Vec<Mutation>,
    /// Whether every checksum was recomputed after the changes.
    pub checksums: bool,
}

impl FuzzImage {
    /// One line: seed, index, the changes and whether the checksums were
    /// recomputed.
    pub fn describe(&self) -> String {
        let m: Vec<String> = self.mutations.iter().map(|m| m.to_string()).collect();
        format!(
            "seed {} index {}: {} [checksums {}]",
            self.seed,
            self.index,
            m.join(" + "),
            if self.checksums {
                "recomputed"
            } else {
                "stale"
            }
        )
    }

    /// The classes of its mutations.
    pub fn classes(&self) -> Vec<Class> {
        self.mutations.iter().map(|m| m.class).collect()
    }
}

/// How a field's value is printed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Show {
    Dec,
    Hex,
    Signed,
}

fn show(v: u64, width: usize, how: Show) -> String {
    match how {
        Show::Hex => format!("{:#x}", v),
        Show::Signed if width == 8 => format!("{}", v as i64),
        _ if v > 0xFFFF => format!("{} ({:#x})", v, v),
        _ => format!("{}", v),
    }
}

fn max_of(width: usize) -> u64 {
    if width >= 8 {
        u64::MAX
    } else {
        (1u64 << (8 * width)) - 1
    }
}

fn get_w(img: &[u8], off: u64, width: usize) -> u64 {
    let o = off as usize;
    match width {
        1 => u64::from(get_u8(img, o)),
        2 => u64::from(get_u16(img, o)),
        4 => u64::from(get_u32(img, o)),
        _ => get_u64(img, o),
    }
}

fn put_w(img: &mut [u8], off: u64, width: usize, v: u64) {
    let o = off as usize;
    match width {
        1 => put_u8(img, o, v as u8),
        2 => put_u16(img, o, v as u16),
        4 => put_u32(img, o, v as u32),
        _ => put_u64(img, o, v),
    }
}

/// Boundary values of a field of `width` bytes.
fn boundaries(width: usize) -> Vec<u64> {
    let m = max_of(width);
    vec![0, 1, 2, m, m - 1, m >> 1, (m >> 1) + 1]
}

/// Applies mutations to a copy of the base.
struct Mutator<'a> {
    base: &'a Base,
    img: Vec<u8>,
    rng: Rng,
    muts: Vec<Mutation>,
    /// Checksums will be recomputed: mutating a checksum is pointless.
    recsum: bool,
}

impl Mutator<'_> {
    /// Block numbers worth pointing at.
    fn block_values(&mut self) -> Vec<u64> {
        let l = self.base.layout();
        let mut v = vec![
            0,
            1,
            l.journal_start + 1,
            l.inode_bitmap_start,
            l.block_bitmap_start,
            l.group_table_start,
            l.inode_table_start,
            l.inode_table_start + l.inode_table_blocks - 1,
            l.data_start - 1,
            l.data_start,
            l.data_end() - 1,
            l.backup_sb_block,
            l.block_count,
            l.block_count + 1,
            l.block_count + 512,
            u64::MAX,
            u64::MAX - 1,
            1 << 40,
        ];
        if let Some(n) = self.rng.pick(&self.base.nodes) {
            v.push(n.blk);
        }
        if let Some(&b) = self.rng.pick(&self.base.used_blocks) {
            v.push(b);
        }
        // A free data block.
        let free = l.data_end() - 2 - self.rng.below(64);
        v.push(free);
        v
    }

    /// Inode numbers worth pointing at.
    fn ino_values(&mut self, own: u64) -> Vec<u64> {
        let l = self.base.layout();
        let mut v = vec![
            0,
            ROOT_INO,
            own,
            l.inode_count - 1,
            l.inode_count,
            l.inode_count + 1,
            u64::from(u32::MAX),
            u64::MAX,
        ];
        if let Some(&f) = self.rng.pick(&self.base.free_inodes) {
            v.push(f);
        }
        if let Some(i) = self.rng.pick(&self.base.inodes) {
            v.push(i.ino);
        }
        if let Some(&o) = self.rng.pick(&self.base.orphans) {
            v.push(o);
        }
        for n in ["/dir", "/sub", "/tree", "/sealed"] {
            if let Some(i) = self.base.by_name(n) {
                v.push(i);
            }
        }
        v
    }

    /// Sets the `width`-byte field at `off` to a value from `cands`
    /// (usually), a boundary, a nearby or a random value, different from
    /// the old one, and records the mutation.
    #[allow(clippy::too_many_arguments)]
    fn field(
        &mut self,
        class: Class,
        target: &str,
        field: &str,
        off: u64,
        width: usize,
        cands: &[u64],
        how: Show,
    ) {
        let old = get_w(&self.img, off, width);
        let m = max_of(width);
        let mut new = old;
        for _ in 0..16 {
            new = match self.rng.below(100) {
                0..=64 if !cands.is_empty() => *self.rng.pick(cands).unwrap_or(&0),
                0..=79 => *self.rng.pick(&boundaries(width)).unwrap_or(&0),
                80..=89 => {
                    let d = *self.rng.pick(&[1u64, 2, 8, 512, 4096]).unwrap_or(&1);
                    if self.rng.chance(50) {
                        old.wrapping_add(d)
                    } else {
                        old.wrapping_sub(d)
                    }
                }
                90..=94 => old ^ (1 << self.rng.below(8 * width as u64)),
                _ => self.rng.next_u64(),
            } & m;
            if new != old {
                break;
            }
        }
        if new == old {
            new = old ^ 1;
        }
        put_w(&mut self.img, off, width, new);
        self.muts.push(Mutation {
            class,
            target: target.to_string(),
            field: field.to_string(),
            old: show(old, width, how),
            new: show(new, width, how),
        });
    }

    /// Records a mutation made by hand.
    fn note(&mut self, class: Class, target: &str, field: &str, old: String, new: String) {
        self.muts.push(Mutation {
            class,
            target: target.to_string(),
            field: field.to_string(),
            old,
            new,
        });
    }

    fn mutate(&mut self, class: Class) {
        match class {
            Class::Superblock => self.superblock(),
            Class::Inode => self.inode(),
            Class::Extent => self.extent(),
            Class::ExtentNode => self.node(TreeType::Extent, Class::ExtentNode),
            Class::DirNode => self.node(TreeType::Dir, Class::DirNode),
            Class::Dirent => self.dirent(),
            Class::Journal => self.journal(),
            Class::Orphan => self.orphan(),
            Class::Alloc => self.alloc(),
            Class::Random => self.random(),
        }
    }

    // ---- superblock ----

    fn superblock(&mut self) {
        let l = self.base.layout();
        let sb = self.base.sb;
        let backup = self.rng.chance(25);
        let (base, target) = if backup {
            (
                l.backup_sb_block * BLOCK_SIZE_U64,
                format!("backup superblock (block {})", l.backup_sb_block),
            )
        } else {
            (0, "primary superblock".to_string())
        };
        if self.rng.chance(8) {
            return self.geometry(base, &target);
        }
        let blocks = self.block_values();
        let inos = self.ino_values(0);
        let counts = vec![
            0,
            1,
            l.data_blocks,
            l.data_blocks - 1,
            l.data_blocks + 1,
            l.inode_count,
            l.inode_count - 1,
            l.inode_count + 1,
            sb.free_blocks + 1,
            sb.free_blocks.saturating_sub(1),
            sb.free_inodes + 1,
            sb.free_inodes.saturating_sub(1),
            l.block_count,
            l.block_count - 1,
            l.block_count + 1,
            MIN_BLOCKS - 1,
            MIN_BLOCKS,
            JOURNAL_MIN_BLOCKS - 1,
            JOURNAL_MAX_BLOCKS + 1,
            l.group_count + 1,
            MAX_BLOCKS + 1,
        ];
        let feats = vec![
            0,
            INCOMPAT_SUPPORTED,
            INCOMPAT_SEAL,
            INCOMPAT_DIRHASH_SIP24,
            INCOMPAT_SUPPORTED | 1 << 2,
            INCOMPAT_SUPPORTED | 1 << 40,
            1 << 63,
        ];
        let times = vec![
            0,
            1,
            i64::MAX as u64,
            i64::MIN as u64,
            (-1i64) as u64,
            T0 as u64 + 1,
        ];
        let versions = vec![0, 1, 2, u64::from(VERSION_MAJOR) + 1, u64::from(u32::MAX)];
        type F = (&'static str, usize, usize, u8);
        // (name, offset, width, kind): 0 raw, 1 block, 2 count, 3 ino,
        // 4 features, 5 time, 6 version, 7 state, 8 checksum.
        let fields: [F; 40] = [
            ("magic", SB_OFF_MAGIC, 8, 0),
            ("version_major", SB_OFF_VERSION_MAJOR, 4, 6),
            ("version_minor", SB_OFF_VERSION_MINOR, 4, 6),
            ("feature_compat", SB_OFF_COMPAT, 8, 4),
            ("feature_ro_compat", SB_OFF_RO_COMPAT, 8, 4),
            ("feature_incompat", SB_OFF_INCOMPAT, 8, 4),
            ("block_size", SB_OFF_BLOCK_SIZE, 4, 2),
            ("inode_size", SB_OFF_INODE_SIZE, 4, 2),
            ("block_count", SB_OFF_BLOCK_COUNT, 8, 2),
            ("inode_count", SB_OFF_INODE_COUNT, 8, 2),
            ("free_blocks", SB_OFF_FREE_BLOCKS, 8, 2),
            ("free_inodes", SB_OFF_FREE_INODES, 8, 2),
            ("uuid[0..8]", SB_OFF_UUID, 8, 0),
            ("uuid[8..16]", SB_OFF_UUID + 8, 8, 0),
            ("label[0..8]", SB_OFF_LABEL, 8, 0),
            ("journal_start", SB_OFF_JOURNAL_START, 8, 1),
            ("journal_blocks", SB_OFF_JOURNAL_BLOCKS, 8, 2),
            ("inode_bitmap_start", SB_OFF_INODE_BITMAP_START, 8, 1),
            ("inode_bitmap_blocks", SB_OFF_INODE_BITMAP_BLOCKS, 8, 2),
            ("block_bitmap_start", SB_OFF_BLOCK_BITMAP_START, 8, 1),
            ("block_bitmap_blocks", SB_OFF_BLOCK_BITMAP_BLOCKS, 8, 2),
            ("group_table_start", SB_OFF_GROUP_TABLE_START, 8, 1),
            ("group_table_blocks", SB_OFF_GROUP_TABLE_BLOCKS, 8, 2),
            ("inode_table_start", SB_OFF_INODE_TABLE_START, 8, 1),
            ("inode_table_blocks", SB_OFF_INODE_TABLE_BLOCKS, 8, 2),
            ("data_start", SB_OFF_DATA_START, 8, 1),
            ("data_blocks", SB_OFF_DATA_BLOCKS, 8, 2),
            ("group_count", SB_OFF_GROUP_COUNT, 8, 2),
            ("backup_sb_block", SB_OFF_BACKUP_SB_BLOCK, 8, 1),
            ("root_ino", SB_OFF_ROOT_INO, 8, 3),
            ("state", SB_OFF_STATE, 4, 7),
            ("errors", SB_OFF_ERRORS, 4, 2),
            ("mkfs_time", SB_OFF_MKFS_TIME, 8, 5),
            ("mount_time", SB_OFF_MOUNT_TIME, 8, 5),
            ("write_time", SB_OFF_WRITE_TIME, 8, 5),
            ("mount_count", SB_OFF_MOUNT_COUNT, 4, 2),
            ("flags", SB_OFF_FLAGS, 4, 2),
            ("dir_hash_key[0..8]", SB_OFF_DIR_HASH_KEY, 8, 0),
            ("next_generation", SB_OFF_NEXT_GENERATION, 8, 2),
            ("orphan_head", SB_OFF_ORPHAN_HEAD, 8, 3),
        ];
        // The reserved tail and the checksum, now and then.
        match self.rng.below(20) {
            0 => {
                let k = self.rng.below((SB_OFF_CHECKSUM - SB_OFF_RESERVED) as u64) as usize;
                let name = format!("reserved byte {:#x}", SB_OFF_RESERVED + k);
                return self.field(
                    Class::Superblock,
                    &target,
                    &name,
                    base + (SB_OFF_RESERVED + k) as u64,
                    1,
                    &[1, 0xFF],
                    Show::Hex,
                );
            }
            1 if !self.recsum => {
                return self.field(
                    Class::Superblock,
                    &target,
                    "checksum",
                    base + SB_OFF_CHECKSUM as u64,
                    4,
                    &[],
                    Show::Hex,
                );
            }
            _ => {}
        }
        let &(name, off, width, kind) = self.rng.pick(&fields).unwrap_or(&fields[0]);
        let (cands, how) = match kind {
            1 => (blocks, Show::Dec),
            2 => (counts, Show::Dec),
            3 => (inos, Show::Dec),
            4 => (feats, Show::Hex),
            5 => (times, Show::Signed),
            6 => (versions, Show::Dec),
            7 => (
                vec![0, STATE_CLEAN.into(), STATE_DIRTY.into(), 3],
                Show::Dec,
            ),
            _ => (vec![], Show::Hex),
        };
        self.field(
            Class::Superblock,
            &target,
            name,
            base + off as u64,
            width,
            &cands,
            how,
        );
    }

    /// A self-consistent geometry for another size: the superblock
    /// describes a bigger or smaller filesystem than the image holds.
    fn geometry(&mut self, base: u64, target: &str) {
        let l = self.base.layout();
        let (bc, ic, jb) = match self.rng.below(5) {
            0 => (l.block_count * 2, l.inode_count, l.journal_blocks),
            1 => (l.block_count / 2, l.inode_count, l.journal_blocks),
            2 => (l.block_count - 1, l.inode_count, l.journal_blocks),
            3 => (l.block_count, l.inode_count * 8, l.journal_blocks),
            _ => (l.block_count, l.inode_count, l.journal_blocks * 2),
        };
        let Ok(nl) = Layout::compute(bc, ic, jb) else {
            return self.field(
                Class::Superblock,
                target,
                "block_count",
                base + SB_OFF_BLOCK_COUNT as u64,
                8,
                &[bc],
                Show::Dec,
            );
        };
        let o = base as usize;
        let Some(rec) = self.img.get(o..o + SB_SIZE) else {
            return;
        };
        let Ok(mut sb) = Superblock::decode_raw(rec) else {
            return;
        };
        sb.layout = nl;
        sb.free_blocks = sb.free_blocks.min(nl.data_blocks);
        sb.free_inodes = sb.free_inodes.min(nl.inode_count - 1);
        let mut out = [0u8; SB_SIZE];
        sb.encode(&mut out);
        if let Some(d) = self.img.get_mut(o..o + SB_SIZE) {
            d.copy_from_slice(&out);
        }
        self.note(
            Class::Superblock,
            target,
            "geometry (blocks, inodes, journal; whole layout recomputed, checksum too)",
            format!("{}, {}, {}", l.block_count, l.inode_count, l.journal_blocks),
            format!("{}, {}, {}", bc, nl.inode_count, jb),
        );
    }

    // ---- inodes ----

    fn pick_inode(&mut self) -> InodeInfo {
        let b = self.base;
        let interesting = [
            "/",
            "/tree",
            "/sealed",
            "/sealed-small",
            "/intent",
            "/dir",
            "/prealloc",
            "/inline",
            "/small-tree",
            "/long-link",
            "/short-link",
        ];
        let pick = if self.rng.chance(50) {
            let n = *self.rng.pick(&interesting).unwrap_or(&"/");
            b.by_name(n)
        } else if self.rng.chance(20) {
            self.rng.pick(&b.orphans).copied()
        } else {
            self.rng.pick(&b.inodes).map(|i| i.ino)
        };
        pick.and_then(|i| b.inode(i))
            .or_else(|| b.inodes.first())
            .cloned()
            .unwrap_or(InodeInfo {
                ino: ROOT_INO,
                off: 0,
                inode: Inode::new(S_IFDIR, 0, 0, Timespec::default()),
                name: "/".into(),
            })
    }

    fn inode(&mut self) {
        let i = self.pick_inode();
        let target = format!("inode {} {}", i.ino, short(&i.name));
        let n = i.inode;
        let o = i.off;
        let sizes = vec![
            0,
            1,
            144,
            145,
            4095,
            4096,
            n.size + 1,
            n.size.saturating_sub(1),
            n.size + 100 * BLOCK_SIZE_U64,
            n.size * 2,
            MAX_FILE_BLOCKS * BLOCK_SIZE_U64 - 1,
            MAX_FILE_BLOCKS * BLOCK_SIZE_U64,
            1 << 62,
            i64::MAX as u64,
            1 << 63,
            u64::MAX,
        ];
        let kinds = [
            0u64, 0o010000, 0o020000, 0o040000, 0o060000, 0o100000, 0o120000, 0o140000, 0o170000,
            0o030000,
        ];
        let modes: Vec<u64> = kinds
            .iter()
            .map(|k| k | (u64::from(n.mode) & 0o7777))
            .chain([0, 0xFFFF, 0o777])
            .collect();
        let flags = vec![
            0,
            INODE_FLAG_SEALED.into(),
            INODE_FLAG_SEAL_INTENT.into(),
            (INODE_FLAG_SEALED | INODE_FLAG_SEAL_INTENT).into(),
            INODE_FLAG_IMMUTABLE.into(),
            INODE_FLAG_APPEND.into(),
            (INODE_FLAG_IMMUTABLE | INODE_FLAG_APPEND).into(),
            1 << 6,
            1 << 31,
            u32::MAX.into(),
            (n.flags ^ INODE_FLAG_SEALED).into(),
            (n.flags ^ INODE_FLAG_SEAL_INTENT).into(),
        ];
        let nlinks = vec![
            0,
            1,
            2,
            u64::from(n.nlink) + 1,
            u64::from(n.nlink).saturating_sub(1),
            65000,
            u32::MAX.into(),
        ];
        let counts = vec![
            0,
            1,
            6,
            7,
            14,
            15,
            169,
            170,
            u64::from(n.map_count) + 1,
            u64::from(n.map_count).saturating_sub(1),
            u32::MAX.into(),
        ];
        let blocks = vec![
            0,
            n.blocks + 1,
            n.blocks.saturating_sub(1),
            self.base.layout().data_blocks + 1,
            u64::MAX,
        ];
        let secs = vec![
            0,
            1,
            i64::MAX as u64,
            i64::MIN as u64,
            (-1i64) as u64,
            1 << 33,
        ];
        let nsecs = vec![0, 999_999_999, 1_000_000_000, u32::MAX.into()];
        let inos = self.ino_values(i.ino);
        let kinds_map = vec![0u64, 1, 2, 3, 4, 0xFF];
        type F = (&'static str, usize, usize, u8);
        // kinds: 0 raw, 1 mode, 2 map_kind, 3 flags, 4 nlink, 5 size,
        // 6 blocks, 7 sec, 8 nsec, 9 ino, 10 map_count, 11 checksum.
        let fields: [F; 23] = [
            ("mode", INO_OFF_MODE, 2, 1),
            ("map_kind", INO_OFF_MAP_KIND, 1, 2),
            ("reserved", INO_OFF_RESERVED0, 1, 0),
            ("flags", INO_OFF_FLAGS, 4, 3),
            ("uid", INO_OFF_UID, 4, 0),
            ("nlink", INO_OFF_NLINK, 4, 4),
            ("generation", INO_OFF_GENERATION, 4, 0),
            ("size", INO_OFF_SIZE, 8, 5),
            ("blocks", INO_OFF_BLOCKS, 8, 6),
            ("atime_sec", INO_OFF_ATIME_SEC, 8, 7),
            ("mtime_sec", INO_OFF_MTIME_SEC, 8, 7),
            ("ctime_sec", INO_OFF_CTIME_SEC, 8, 7),
            ("btime_sec", INO_OFF_BTIME_SEC, 8, 7),
            ("atime_nsec", INO_OFF_ATIME_NSEC, 4, 8),
            ("mtime_nsec", INO_OFF_MTIME_NSEC, 4, 8),
            ("ctime_nsec", INO_OFF_CTIME_NSEC, 4, 8),
            ("btime_nsec", INO_OFF_BTIME_NSEC, 4, 8),
            ("rdev", INO_OFF_RDEV, 4, 0),
            ("parent", INO_OFF_PARENT, 4, 9),
            ("map_count", INO_OFF_MAP_COUNT, 4, 10),
            ("checksum", INO_OFF_CHECKSUM, 4, 11),
            ("map", INO_OFF_MAP, 8, 12),
            ("map", INO_OFF_MAP, 8, 12),
        ];
        let mut f = *self.rng.pick(&fields).unwrap_or(&fields[0]);
        if f.3 == 11 && self.recsum {
            f = fields[7];
        }
        let (name, off, width, kind) = f;
        if kind == 12 {
            return self.inode_map(&i, &target);
        }
        let (cands, how) = match kind {
            1 => (modes, Show::Hex),
            2 => (kinds_map, Show::Dec),
            3 => (flags, Show::Hex),
            4 => (nlinks, Show::Dec),
            5 => (sizes, Show::Dec),
            6 => (blocks, Show::Dec),
            7 => (secs, Show::Signed),
            8 => (nsecs, Show::Dec),
            9 => (inos, Show::Dec),
            10 => (counts, Show::Dec),
            _ => (vec![], Show::Hex),
        };
        self.field(
            Class::Inode,
            &target,
            name,
            o + off as u64,
            width,
            &cands,
            how,
        );
    }

    /// The map area: the tree root, an inline symlink target, or an
    /// unused inline extent slot.
    fn inode_map(&mut self, i: &InodeInfo, target: &str) {
        let map = i.off + INO_OFF_MAP as u64;
        match i.inode.map_kind {
            MAP_BTREE if self.rng.chance(80) => {
                let mut v = self.block_values();
                for n in &self.base.nodes {
                    if n.owner == i.ino && n.parent.is_some() {
                        v.push(n.blk);
                    }
                }
                if let Some(n) = self.base.nodes.iter().find(|n| n.owner != i.ino) {
                    v.push(n.blk);
                }
                self.field(
                    Class::Inode,
                    target,
                    "map: tree root block",
                    map,
                    8,
                    &v,
                    Show::Dec,
                )
            }
            MAP_INLINE_DATA if self.rng.chance(80) => {
                let len = i.inode.size.max(1);
                let k = self.rng.below(len + 2).min(INODE_MAP_SIZE as u64 - 1);
                let name = format!("map: symlink target byte {}", k);
                self.field(
                    Class::Inode,
                    target,
                    &name,
                    map + k,
                    1,
                    &[0, b'/'.into(), 0xFF],
                    Show::Hex,
                )
            }
            MAP_EXTENTS if i.inode.map_count < 6 && self.rng.chance(60) => {
                let slot = (i.inode.map_count as u64
                    + self.rng.below(6 - u64::from(i.inode.map_count)))
                .min(5);
                let k = self.rng.below(EXTENT_SIZE as u64);
                let name = format!("map: unused extent slot {} byte {}", slot, k);
                self.field(
                    Class::Inode,
                    target,
                    &name,
                    map + slot * EXTENT_SIZE as u64 + k,
                    1,
                    &[1, 0x80, 0xFF],
                    Show::Hex,
                )
            }
            _ => {
                let k = self.rng.below(INODE_MAP_SIZE as u64);
                let name = format!("map byte {}", k);
                self.field(
                    Class::Inode,
                    target,
                    &name,
                    map + k,
                    1,
                    &[0, 1, 0xFF],
                    Show::Hex,
                )
            }
        }
    }

    // ---- extents ----

    fn extent(&mut self) {
        let b = self.base;
        if b.extents.is_empty() {
            return self.random();
        }
        // Inline maps are few; give them a fair share.
        let inline: Vec<&ExtentRef> = b
            .extents
            .iter()
            .filter(|e| matches!(e.loc, ExtentLoc::Inline { .. }))
            .collect();
        let r = if !inline.is_empty() && self.rng.chance(40) {
            **self.rng.pick(&inline).unwrap_or(&&b.extents[0])
        } else {
            *self.rng.pick(&b.extents).unwrap_or(&b.extents[0])
        };
        let e = r.ext;
        let same: Vec<&ExtentRef> = b.extents.iter().filter(|x| x.ino == r.ino).collect();
        let pos = same.iter().position(|x| x.ext.lblk == e.lblk).unwrap_or(0);
        let prev = pos.checked_sub(1).and_then(|p| same.get(p)).map(|x| x.ext);
        let next = same.get(pos + 1).map(|x| x.ext);
        let other = self.rng.pick(&b.extents).map(|x| x.ext);
        let l = b.layout();
        let where_ = match r.loc {
            ExtentLoc::Inline { slot, .. } => format!("inline extent {}", slot),
            ExtentLoc::Leaf { blk, idx } => format!("leaf {} entry {}", blk, idx),
        };
        let target = format!("{} {}", b.name(r.ino), where_);
        let mut n = e;
        let field: &str;
        match self.rng.below(4) {
            0 => {
                field = "lblk";
                let mut c = vec![
                    0,
                    MAX_FILE_BLOCKS - 1,
                    MAX_FILE_BLOCKS,
                    MAX_FILE_BLOCKS - u64::from(e.len) + 1,
                    u64::MAX,
                    u64::MAX - u64::from(e.len) + 1,
                    e.lblk + 1,
                    e.lblk.saturating_sub(1),
                ];
                if let Some(p) = prev {
                    c.extend([p.lblk, p.lend() - 1]);
                }
                if let Some(x) = next {
                    c.extend([x.lblk, x.lblk + 1, x.lend()]);
                }
                n.lblk = self.value(&c, e.lblk, 8);
            }
            1 => {
                field = "pblk";
                let mut c = self.block_values();
                c.extend([
                    l.data_end() - 1,
                    l.data_end() - u64::from(e.len),
                    l.data_end() - u64::from(e.len) + 1,
                    // Past the end of the address space by one block (wraps for a
                    // one-block extent, to 0, which is also a value worth trying).
                    (u64::MAX - u64::from(e.len)).wrapping_add(2),
                    e.pblk + 1,
                    e.pblk - 1,
                ]);
                if let Some(o) = other {
                    c.extend([o.pblk, o.pblk + 1]);
                }
                if let Some(p) = prev {
                    c.push(p.pblk);
                }
                n.pblk = self.value(&c, e.pblk, 8);
            }
            2 => {
                field = "len";
                let mut c = vec![
                    0,
                    1,
                    u64::from(e.len) + 1,
                    u64::from(e.len) * 2,
                    u64::from(e.len).saturating_sub(1),
                    512,
                    l.data_blocks,
                    l.data_end() - e.pblk,
                    l.data_end() - e.pblk + 1,
                    u32::MAX.into(),
                ];
                if let Some(x) = next {
                    c.push(x.lend() - e.lblk);
                }
                n.len = self.value(&c, e.len.into(), 4) as u32;
            }
            _ => {
                field = "flags";
                let c = vec![
                    0,
                    EXTENT_UNWRITTEN.into(),
                    EXTENT_SEALED.into(),
                    (EXTENT_UNWRITTEN | EXTENT_SEALED).into(),
                    4,
                    1 << 31,
                    u32::MAX.into(),
                    (e.flags ^ EXTENT_SEALED).into(),
                    (e.flags ^ EXTENT_UNWRITTEN).into(),
                ];
                n.flags = self.value(&c, e.flags.into(), 4) as u32;
            }
        }
        self.write_extent(&r, &n);
        let (old, new) = match field {
            "lblk" => (e.lblk, n.lblk),
            "pblk" => (e.pblk, n.pblk),
            "len" => (e.len.into(), n.len.into()),
            _ => (e.flags.into(), n.flags.into()),
        };
        let how = if field == "flags" {
            Show::Hex
        } else {
            Show::Dec
        };
        self.note(
            Class::Extent,
            &target,
            field,
            show(old, 8, how),
            show(new, 8, how),
        );
    }

    /// A value from `cands` (mostly) or a boundary, different from `old`.
    fn value(&mut self, cands: &[u64], old: u64, width: usize) -> u64 {
        let m = max_of(width);
        for _ in 0..16 {
            let v = if self.rng.chance(80) {
                *self.rng.pick(cands).unwrap_or(&0)
            } else {
                *self.rng.pick(&boundaries(width)).unwrap_or(&0)
            } & m;
            if v != old {
                return v;
            }
        }
        old ^ 1
    }

    fn write_extent(&mut self, r: &ExtentRef, e: &Extent) {
        match r.loc {
            ExtentLoc::Inline { off, .. } => {
                let mut rec = [0u8; EXTENT_SIZE];
                e.encode_inline(&mut rec, 0);
                let o = off as usize;
                if let Some(d) = self.img.get_mut(o..o + EXTENT_SIZE) {
                    d.copy_from_slice(&rec);
                }
            }
            ExtentLoc::Leaf { blk, idx } => {
                let eo = blk * BLOCK_SIZE_U64 + entry_off(TreeType::Extent, 0, idx) as u64;
                put_u64(&mut self.img, eo as usize, e.lblk);
                let v = e.encode_value();
                let o = eo as usize + KEY_SIZE;
                if let Some(d) = self.img.get_mut(o..o + EXTENT_VALUE_SIZE) {
                    d.copy_from_slice(&v);
                }
            }
        }
    }

    // ---- B+tree nodes ----

    fn node(&mut self, tree: TreeType, class: Class) {
        let b = self.base;
        let nodes: Vec<&NodeInfo> = b.nodes.iter().filter(|n| n.tree == tree).collect();
        // Interior nodes are few and have the child pointers: aim at them.
        let interior: Vec<&NodeInfo> = nodes.iter().copied().filter(|n| n.level > 0).collect();
        let n = if !interior.is_empty() && self.rng.chance(40) {
            *self.rng.pick(&interior).unwrap_or(&nodes[0])
        } else {
            match self.rng.pick(&nodes) {
                Some(n) => *n,
                None => return self.random(),
            }
        };
        let n = n.clone();
        let target = format!(
            "{} {} node {} (level {}, {} entries)",
            b.name(n.owner),
            if tree == TreeType::Dir {
                "index"
            } else {
                "extent tree"
            },
            n.blk,
            n.level,
            n.nr
        );
        let base = n.blk * BLOCK_SIZE_U64;
        let cap = node_capacity(tree.value_size(n.level)) as u64;
        let other_nodes: Vec<u64> = b
            .nodes
            .iter()
            .filter(|x| x.owner != n.owner)
            .map(|x| x.blk)
            .collect();
        let siblings: Vec<u64> = b
            .nodes
            .iter()
            .filter(|x| x.owner == n.owner && x.blk != n.blk)
            .map(|x| x.blk)
            .collect();
        match self.rng.below(if n.level > 0 { 12 } else { 9 }) {
            0 => self.field(
                class,
                &target,
                "magic",
                base + NODE_OFF_MAGIC as u64,
                4,
                &[0, u64::from(NODE_MAGIC) ^ 0x100],
                Show::Hex,
            ),
            1 if !self.recsum => self.field(
                class,
                &target,
                "checksum",
                base + NODE_OFF_CHECKSUM as u64,
                4,
                &[],
                Show::Hex,
            ),
            1 | 2 => self.field(
                class,
                &target,
                "tree_type",
                base + NODE_OFF_TREE_TYPE as u64,
                1,
                &[0, 1, 2, 3, 0xFF],
                Show::Dec,
            ),
            3 => self.field(
                class,
                &target,
                "level",
                base + NODE_OFF_LEVEL as u64,
                1,
                &[
                    0,
                    1,
                    2,
                    u64::from(n.level) + 1,
                    u64::from(n.level).saturating_sub(1),
                    7,
                    8,
                    0xFF,
                ],
                Show::Dec,
            ),
            4 => self.field(
                class,
                &target,
                "nr",
                base + NODE_OFF_NR as u64,
                2,
                &[
                    0,
                    1,
                    u64::from(n.nr) + 1,
                    u64::from(n.nr).saturating_sub(1),
                    cap,
                    cap + 1,
                    0xFFFF,
                ],
                Show::Dec,
            ),
            5 => {
                let mut c = vec![0, ROOT_INO, u64::MAX];
                if let Some(i) = self.rng.pick(&b.inodes) {
                    c.push(i.ino);
                }
                if let Some(o) = b.nodes.iter().find(|x| x.owner != n.owner) {
                    c.push(o.owner);
                }
                if self.rng.chance(30) {
                    self.field(
                        class,
                        &target,
                        "reserved",
                        base + NODE_OFF_RESERVED as u64,
                        4,
                        &[1, u32::MAX.into()],
                        Show::Hex,
                    )
                } else {
                    self.field(
                        class,
                        &target,
                        "owner",
                        base + NODE_OFF_OWNER as u64,
                        8,
                        &c,
                        Show::Dec,
                    )
                }
            }
            6 => {
                let mut c = self.block_values();
                c.extend(siblings.iter().copied());
                self.field(
                    class,
                    &target,
                    "blkno",
                    base + NODE_OFF_BLKNO as u64,
                    8,
                    &c,
                    Show::Dec,
                )
            }
            7 => self.node_key(&n, &target, class),
            8 => {
                // Bytes past the last entry, or a whole node copied here.
                if self.rng.chance(50) && !siblings.is_empty() {
                    let from = *self.rng.pick(&siblings).unwrap_or(&n.blk);
                    self.copy_block(from, n.blk);
                    self.note(
                        class,
                        &target,
                        "whole node",
                        format!("block {}", n.blk),
                        format!("copy of block {}", from),
                    );
                } else {
                    let end = entry_off(tree, n.level, usize::from(n.nr));
                    let k = end as u64 + self.rng.below((BLOCK_SIZE - end) as u64);
                    let name = format!("unused byte {}", k);
                    self.field(class, &target, &name, base + k, 1, &[1, 0xFF], Show::Hex)
                }
            }
            _ => {
                // A child pointer of an interior node.
                let idx = self.rng.below(u64::from(n.nr)) as usize;
                let off = base + (entry_off(tree, n.level, idx) + KEY_SIZE) as u64;
                let mut c = self.block_values();
                c.push(n.blk);
                c.push(n.root);
                if let Some(p) = n.parent {
                    c.push(p);
                }
                c.extend(siblings.iter().copied());
                c.extend(other_nodes.iter().take(4).copied());
                // A data block of the same file.
                if let Some(e) = b.extents.iter().find(|e| e.ino == n.owner) {
                    c.push(e.ext.pblk);
                }
                let name = format!("child {}", idx);
                self.field(class, &target, &name, off, 8, &c, Show::Dec)
            }
        }
    }

    fn node_key(&mut self, n: &NodeInfo, target: &str, class: Class) {
        if n.nr == 0 {
            return self.field(
                class,
                target,
                "nr",
                n.blk * BLOCK_SIZE_U64 + NODE_OFF_NR as u64,
                2,
                &[1, 2],
                Show::Dec,
            );
        }
        let idx = self.rng.below(u64::from(n.nr)) as usize;
        let o = |i: usize| n.blk * BLOCK_SIZE_U64 + entry_off(n.tree, n.level, i) as u64;
        let key = get_u64(&self.img, o(idx) as usize);
        let mut c = vec![
            0,
            1,
            255,
            256,
            key + 1,
            key.saturating_sub(1),
            u64::MAX,
            1 << 62,
            key ^ (1 << 20),
        ];
        if idx > 0 {
            c.push(get_u64(&self.img, o(idx - 1) as usize));
        }
        if idx + 1 < usize::from(n.nr) {
            c.push(get_u64(&self.img, o(idx + 1) as usize));
        }
        let name = format!("key {}", idx);
        self.field(class, target, &name, o(idx), 8, &c, Show::Dec)
    }

    fn copy_block(&mut self, from: u64, to: u64) {
        let (f, t) = (
            (from * BLOCK_SIZE_U64) as usize,
            (to * BLOCK_SIZE_U64) as usize,
        );
        if f + BLOCK_SIZE <= self.img.len() && t + BLOCK_SIZE <= self.img.len() {
            self.img.copy_within(f..f + BLOCK_SIZE, t);
        }
    }

    // ---- directory entries ----

    fn dirent(&mut self) {
        let b = self.base;
        let Some(d) = self.rng.pick(&b.dirents).copied() else {
            return self.random();
        };
        let target = format!(
            "{} entry \"{}\" (leaf {} entry {})",
            b.name(d.dir),
            String::from_utf8_lossy(d.entry.name())
                .chars()
                .take(40)
                .collect::<String>(),
            d.blk,
            d.idx
        );
        let eo = d.blk * BLOCK_SIZE_U64 + entry_off(TreeType::Dir, 0, d.idx) as u64;
        let v = eo + KEY_SIZE as u64;
        let nl = u64::from(d.entry.name_len);
        match self.rng.below(8) {
            0 => {
                let mut c = vec![
                    0,
                    1,
                    255,
                    256,
                    d.key + 1,
                    d.key.saturating_sub(1),
                    d.key ^ (1 << 20),
                    1 << 62,
                    u64::MAX,
                ];
                let same: Vec<&DirentRef> = b.dirents.iter().filter(|x| x.blk == d.blk).collect();
                if let Some(x) = same.iter().find(|x| x.idx + 1 == d.idx) {
                    c.push(x.key);
                }
                if let Some(x) = same.iter().find(|x| x.idx == d.idx + 1) {
                    c.push(x.key);
                }
                self.field(Class::Dirent, &target, "key", eo, 8, &c, Show::Dec)
            }
            1 | 2 => {
                let mut c = self.ino_values(d.entry.ino);
                c.push(d.dir);
                if let Some(p) = b.inode(d.dir) {
                    c.push(p.inode.parent);
                }
                self.field(
                    Class::Dirent,
                    &target,
                    "ino",
                    v + DE_OFF_INO as u64,
                    8,
                    &c,
                    Show::Dec,
                )
            }
            3 => self.field(
                Class::Dirent,
                &target,
                "name_len",
                v + DE_OFF_NAME_LEN as u64,
                1,
                &[0, 1, 2, nl + 1, nl.saturating_sub(1), 255],
                Show::Dec,
            ),
            4 => self.field(
                Class::Dirent,
                &target,
                "file_type",
                v + DE_OFF_FILE_TYPE as u64,
                1,
                &[0, 3, DT_DIR.into(), DT_REG.into(), 10, 12, 0xFF],
                Show::Dec,
            ),
            5 => {
                let k = self.rng.below((DE_OFF_NAME - DE_OFF_RESERVED) as u64);
                let name = format!("reserved byte {}", k);
                self.field(
                    Class::Dirent,
                    &target,
                    &name,
                    v + DE_OFF_RESERVED as u64 + k,
                    1,
                    &[1, 0xFF],
                    Show::Hex,
                )
            }
            6 => {
                // A name byte: '/', NUL, or the name made "." or "..".
                if self.rng.chance(30) {
                    let dots = if self.rng.chance(50) { 1 } else { 2 };
                    let old = String::from_utf8_lossy(d.entry.name()).to_string();
                    put_u8(&mut self.img, (v + DE_OFF_NAME_LEN as u64) as usize, dots);
                    for k in 0..NAME_MAX {
                        let c = if k < usize::from(dots) { b'.' } else { 0 };
                        put_u8(&mut self.img, v as usize + DE_OFF_NAME + k, c);
                    }
                    self.note(Class::Dirent, &target, "name", old, ".".repeat(dots.into()));
                } else {
                    let k = self.rng.below(nl);
                    let name = format!("name byte {}", k);
                    self.field(
                        Class::Dirent,
                        &target,
                        &name,
                        v + DE_OFF_NAME as u64 + k,
                        1,
                        &[0, b'/'.into(), b'.'.into(), 0xFF],
                        Show::Hex,
                    )
                }
            }
            _ => {
                // A byte past the name.
                let k = nl + self.rng.below(NAME_MAX as u64 + 1 - nl);
                let name = format!("name padding byte {}", k);
                self.field(
                    Class::Dirent,
                    &target,
                    &name,
                    v + DE_OFF_NAME as u64 + k,
                    1,
                    &[b'x'.into(), 0xFF],
                    Show::Hex,
                )
            }
        }
    }

    // ---- journal ----

    fn journal(&mut self) {
        let l = self.base.layout();
        let jh = l.journal_start * BLOCK_SIZE_U64;
        let commit = get_u64(&self.img, (jh + JH_OFF_COMMIT as u64) as usize);
        let seq = u64::from(commit_seq(commit));
        let applied = get_u64(&self.img, (jh + JH_OFF_APPLIED as u64) as usize);
        let Some(txn) = self.base.txn.clone() else {
            return self.field(
                Class::Journal,
                "journal header",
                "applied",
                jh + JH_OFF_APPLIED as u64,
                8,
                &[applied + 1],
                Show::Dec,
            );
        };
        let log_bytes = (l.journal_blocks - 1) * BLOCK_SIZE_U64;
        let dev = l.block_count * BLOCK_SIZE_U64;
        match self.rng.below(10) {
            0 => {
                let hdr = "journal header";
                match self.rng.below(5) {
                    0 => self.field(
                        Class::Journal,
                        hdr,
                        "magic",
                        jh + JH_OFF_MAGIC as u64,
                        8,
                        &[0],
                        Show::Hex,
                    ),
                    1 => self.field(
                        Class::Journal,
                        hdr,
                        "log_start",
                        jh + JH_OFF_LOG_START as u64,
                        8,
                        &[0, 1, l.journal_start + 2, l.data_start, u64::MAX],
                        Show::Dec,
                    ),
                    2 => self.field(
                        Class::Journal,
                        hdr,
                        "log_blocks",
                        jh + JH_OFF_LOG_BLOCKS as u64,
                        8,
                        &[
                            0,
                            1,
                            l.journal_blocks,
                            l.journal_blocks - 2,
                            l.block_count,
                            u64::MAX,
                        ],
                        Show::Dec,
                    ),
                    _ => self.field(
                        Class::Journal,
                        hdr,
                        "applied",
                        jh + JH_OFF_APPLIED as u64,
                        8,
                        &[
                            seq,
                            seq + 1,
                            applied.wrapping_sub(1),
                            u32::MAX.into(),
                            1 << 32,
                            0,
                        ],
                        Show::Dec,
                    ),
                }
            }
            1 => {
                // The commit word: its sequence (the CRC only when it stays
                // stale).
                let crc = commit & !0xFFFF_FFFF;
                let mut c = vec![
                    crc | applied,
                    crc | (applied + 2),
                    crc | ((applied + 1) ^ 0x8000_0000),
                    0,
                ];
                if !self.recsum {
                    c.extend([commit ^ (1 << 40), seq, u64::MAX]);
                }
                self.field(
                    Class::Journal,
                    "journal header",
                    "commit word",
                    jh + JH_OFF_COMMIT as u64,
                    8,
                    &c,
                    Show::Hex,
                )
            }
            2 | 3 => {
                let t = format!("pending transaction (seq {})", seq);
                let o = txn.off;
                let nr = txn.records.len() as u64;
                match self.rng.below(6) {
                    0 => self.field(
                        Class::Journal,
                        &t,
                        "magic",
                        o + TXN_OFF_MAGIC as u64,
                        4,
                        &[0],
                        Show::Hex,
                    ),
                    1 => self.field(
                        Class::Journal,
                        &t,
                        "seq",
                        o + TXN_OFF_SEQ as u64,
                        4,
                        &[seq + 1, seq - 1, 0],
                        Show::Dec,
                    ),
                    2 => self.field(
                        Class::Journal,
                        &t,
                        "nr_records",
                        o + TXN_OFF_NR as u64,
                        4,
                        &[0, nr + 1, nr - 1, u32::MAX.into()],
                        Show::Dec,
                    ),
                    3 => self.field(
                        Class::Journal,
                        &t,
                        "reserved",
                        o + TXN_OFF_RESERVED as u64,
                        4,
                        &[1],
                        Show::Hex,
                    ),
                    4 => self.field(
                        Class::Journal,
                        &t,
                        "reserved2",
                        o + TXN_OFF_RESERVED2 as u64,
                        8,
                        &[1],
                        Show::Hex,
                    ),
                    _ => self.field(
                        Class::Journal,
                        &t,
                        "body_len",
                        o + TXN_OFF_BODY_LEN as u64,
                        8,
                        &[
                            0,
                            txn.body_len + 8,
                            txn.body_len - 8,
                            txn.body_len + 1,
                            log_bytes - TXN_HEADER_SIZE as u64,
                            log_bytes,
                            u64::MAX,
                            u64::MAX - TXN_HEADER_SIZE as u64 + 1,
                        ],
                        Show::Dec,
                    ),
                }
            }
            _ => {
                let Some(&(ro, target_off, len)) = self.rng.pick(&txn.records) else {
                    return;
                };
                let t = format!(
                    "pending transaction record at log byte {} (writes {} bytes at {})",
                    ro - txn.off,
                    len,
                    target_off
                );
                let len64 = u64::from(len);
                match self.rng.below(5) {
                    0 | 1 => {
                        let inode_tab = l.inode_table_start * BLOCK_SIZE_U64;
                        let node = self
                            .rng
                            .pick(&self.base.nodes)
                            .map_or(0, |n| n.blk * BLOCK_SIZE_U64);
                        self.field(
                            Class::Journal,
                            &t,
                            "offset",
                            ro + REC_OFF_OFFSET as u64,
                            8,
                            &[
                                0,
                                8,
                                4,
                                jh,
                                jh + BLOCK_SIZE_U64,
                                l.backup_sb_block * BLOCK_SIZE_U64,
                                dev - len64,
                                dev - len64 + 1,
                                dev,
                                dev + BLOCK_SIZE_U64,
                                u64::MAX,
                                u64::MAX - len64 + 1,
                                inode_tab,
                                node,
                                target_off + 1,
                                target_off + BLOCK_SIZE_U64,
                            ],
                            Show::Dec,
                        )
                    }
                    2 => self.field(
                        Class::Journal,
                        &t,
                        "len",
                        ro + REC_OFF_LEN as u64,
                        4,
                        &[
                            0,
                            len64 + 1,
                            len64 - 1,
                            len64 + 8,
                            txn.body_len,
                            u32::MAX.into(),
                        ],
                        Show::Dec,
                    ),
                    3 => self.field(
                        Class::Journal,
                        &t,
                        "reserved",
                        ro + REC_OFF_RESERVED as u64,
                        4,
                        &[1],
                        Show::Hex,
                    ),
                    _ => {
                        // The data replay writes: what lands in the metadata.
                        let k = self.rng.below(len64.max(1));
                        let name = format!("data byte {} (device byte {})", k, target_off + k);
                        self.field(
                            Class::Journal,
                            &t,
                            &name,
                            ro + REC_HEADER_SIZE as u64 + k,
                            1,
                            &[0, 0xFF],
                            Show::Hex,
                        )
                    }
                }
            }
        }
    }

    // ---- the orphan list ----

    fn orphan(&mut self) {
        let b = self.base;
        let l = b.layout();
        let list = b.orphans.clone();
        let head = list.first().copied().unwrap_or(0);
        let tail = list.last().copied().unwrap_or(0);
        let linked: Vec<u64> = b
            .inodes
            .iter()
            .filter(|i| !i.inode.belongs_on_orphan_list() && i.ino != ROOT_INO)
            .map(|i| i.ino)
            .collect();
        let files: Vec<u64> = b
            .inodes
            .iter()
            .filter(|i| i.inode.is_reg() && !i.inode.belongs_on_orphan_list())
            .map(|i| i.ino)
            .collect();
        let some_linked = *self.rng.pick(&linked).unwrap_or(&ROOT_INO);
        let mut inos = vec![
            0,
            ROOT_INO,
            l.inode_count,
            l.inode_count + 5,
            u64::from(u32::MAX),
            some_linked,
        ];
        inos.extend(list.iter().copied());
        inos.extend(b.free_inodes.first().copied());
        inos.extend(b.by_name("/dir"));
        let links32: Vec<u64> = inos.iter().map(|&x| x & 0xFFFF_FFFF).collect();
        match self.rng.below(9) {
            0 | 1 => self.field(
                Class::Orphan,
                "primary superblock",
                "orphan_head",
                SB_OFF_ORPHAN_HEAD as u64,
                8,
                &inos,
                Show::Dec,
            ),
            2 | 3 => {
                let m = *self.rng.pick(&list).unwrap_or(&head);
                let Some(i) = b.inode(m) else { return };
                let mut c = links32.clone();
                c.extend([m, head, tail]);
                let t = format!("orphan {}", b.name(m));
                self.field(
                    Class::Orphan,
                    &t,
                    "next_orphan",
                    i.off + INO_OFF_NEXT_ORPHAN as u64,
                    4,
                    &c,
                    Show::Dec,
                )
            }
            4 => {
                let m = *self.rng.pick(&list).unwrap_or(&head);
                let Some(i) = b.inode(m) else { return };
                let mut c = links32.clone();
                c.extend([m, head, tail]);
                let t = format!("orphan {}", b.name(m));
                self.field(
                    Class::Orphan,
                    &t,
                    "prev_orphan",
                    i.off + INO_OFF_PREV_ORPHAN as u64,
                    4,
                    &c,
                    Show::Dec,
                )
            }
            5 => {
                // A stale link in an inode that is not listed.
                let Some(i) = b.inode(some_linked) else {
                    return;
                };
                let f = if self.rng.chance(50) {
                    ("next_orphan", INO_OFF_NEXT_ORPHAN)
                } else {
                    ("prev_orphan", INO_OFF_PREV_ORPHAN)
                };
                let t = format!("unlisted {}", b.name(some_linked));
                self.field(
                    Class::Orphan,
                    &t,
                    f.0,
                    i.off + f.1 as u64,
                    4,
                    &links32,
                    Show::Dec,
                )
            }
            6 => {
                // What keeps a member on the list: links and the intent.
                let m = *self.rng.pick(&list).unwrap_or(&head);
                let Some(i) = b.inode(m) else { return };
                let t = format!("orphan {}", b.name(m));
                if i.inode.seal_intent() {
                    self.field(
                        Class::Orphan,
                        &t,
                        "flags",
                        i.off + INO_OFF_FLAGS as u64,
                        4,
                        &[
                            0,
                            INODE_FLAG_SEALED.into(),
                            (INODE_FLAG_SEALED | INODE_FLAG_SEAL_INTENT).into(),
                        ],
                        Show::Hex,
                    )
                } else {
                    self.field(
                        Class::Orphan,
                        &t,
                        "nlink",
                        i.off + INO_OFF_NLINK as u64,
                        4,
                        &[1, 2, u32::MAX.into()],
                        Show::Dec,
                    )
                }
            }
            7 => {
                // A seal intent on a file that is not listed.
                let f = *self.rng.pick(&files).unwrap_or(&ROOT_INO);
                let Some(i) = b.inode(f) else { return };
                let t = format!("unlisted {}", b.name(f));
                let fl = u64::from(i.inode.flags);
                self.field(
                    Class::Orphan,
                    &t,
                    "flags",
                    i.off + INO_OFF_FLAGS as u64,
                    4,
                    &[
                        fl | u64::from(INODE_FLAG_SEAL_INTENT),
                        u64::from(INODE_FLAG_SEAL_INTENT),
                    ],
                    Show::Hex,
                )
            }
            _ => {
                // No links, yet not listed (and maybe still named).
                let f = *self.rng.pick(&linked).unwrap_or(&ROOT_INO);
                let Some(i) = b.inode(f) else { return };
                let t = format!("unlisted {}", b.name(f));
                self.field(
                    Class::Orphan,
                    &t,
                    "nlink",
                    i.off + INO_OFF_NLINK as u64,
                    4,
                    &[0],
                    Show::Dec,
                )
            }
        }
    }

    // ---- bitmaps and the group table ----

    fn alloc(&mut self) {
        let b = self.base;
        let l = b.layout();
        let bbm = l.block_bitmap_start * BLOCK_SIZE_U64;
        let ibm = l.inode_bitmap_start * BLOCK_SIZE_U64;
        let gt = l.group_table_start * BLOCK_SIZE_U64;
        match self.rng.below(8) {
            0 | 1 => {
                // The bit of a used block cleared (a node's, some data's).
                let blk = if self.rng.chance(40) {
                    self.rng.pick(&b.nodes).map_or(l.data_start, |n| n.blk)
                } else {
                    *self.rng.pick(&b.used_blocks).unwrap_or(&l.data_start)
                };
                self.bit(
                    Class::Alloc,
                    "block bitmap",
                    bbm,
                    blk - l.data_start,
                    false,
                    &format!("block {} (in use)", blk),
                );
            }
            2 => {
                // A free block marked used, or a bit past the data area.
                let bit = if self.rng.chance(50) {
                    l.data_blocks - 1 - self.rng.below(64)
                } else {
                    l.data_blocks
                        + self
                            .rng
                            .below(l.block_bitmap_blocks * BLOCK_SIZE_U64 * 8 - l.data_blocks)
                };
                self.bit(
                    Class::Alloc,
                    "block bitmap",
                    bbm,
                    bit,
                    true,
                    &format!("block {}", l.data_start + bit),
                );
            }
            3 => {
                let k = self.rng.below(l.data_blocks / 8);
                let name = format!(
                    "byte {} (blocks {}..{})",
                    k,
                    l.data_start + 8 * k,
                    l.data_start + 8 * k + 8
                );
                self.field(
                    Class::Alloc,
                    "block bitmap",
                    &name,
                    bbm + k,
                    1,
                    &[0, 0xFF, 0x55],
                    Show::Hex,
                )
            }
            4 => {
                let used = self.rng.pick(&b.inodes).map_or(ROOT_INO, |i| i.ino);
                let ino = *self.rng.pick(&[0, ROOT_INO, used, used]).unwrap_or(&used);
                self.bit(
                    Class::Alloc,
                    "inode bitmap",
                    ibm,
                    ino,
                    false,
                    &format!("inode {} (in use)", ino),
                );
            }
            5 => {
                let free = self
                    .rng
                    .pick(&b.free_inodes)
                    .copied()
                    .unwrap_or(l.inode_count - 1);
                let ino = if self.rng.chance(30) {
                    l.inode_count + self.rng.below(64)
                } else {
                    free
                };
                self.bit(
                    Class::Alloc,
                    "inode bitmap",
                    ibm,
                    ino,
                    true,
                    &format!("inode {}", ino),
                );
            }
            _ => {
                let g = self.rng.below(l.group_count);
                let o = gt + g * GROUP_ENTRY_SIZE;
                let cur = get_w(&self.img, o, 2);
                let name = format!(
                    "group {}{}",
                    g,
                    if g + 1 == l.group_count {
                        " (the partial last)"
                    } else {
                        ""
                    }
                );
                let c = [
                    0,
                    1,
                    511,
                    512,
                    513,
                    0xFFFF,
                    cur + 1,
                    cur.saturating_sub(1),
                    l.tail_missing().saturating_sub(1),
                ];
                self.field(Class::Alloc, "group table", &name, o, 2, &c, Show::Dec)
            }
        }
    }

    /// Sets bit `bit` of the bitmap at byte `start` to `v`.
    fn bit(&mut self, class: Class, target: &str, start: u64, bit: u64, v: bool, what: &str) {
        let o = (start + bit / 8) as usize;
        let mask = 1u8 << (bit % 8);
        let old = get_u8(&self.img, o);
        let new = if v { old | mask } else { old & !mask };
        let new = if new == old { old ^ mask } else { new };
        put_u8(&mut self.img, o, new);
        self.note(
            class,
            target,
            &format!("bit {} ({})", bit, what),
            u8::from(old & mask != 0).to_string(),
            u8::from(new & mask != 0).to_string(),
        );
    }

    // ---- random damage ----

    fn random(&mut self) {
        let b = self.base;
        let l = b.layout();
        let mut regions: Vec<(u64, u64)> = vec![
            (0, SB_SIZE as u64),
            (l.backup_sb_block * BLOCK_SIZE_U64, SB_SIZE as u64),
            (l.journal_start * BLOCK_SIZE_U64, JH_SIZE as u64),
            (l.inode_bitmap_start * BLOCK_SIZE_U64, 64),
            (l.block_bitmap_start * BLOCK_SIZE_U64, l.data_blocks / 8),
            (
                l.group_table_start * BLOCK_SIZE_U64,
                l.group_count * GROUP_ENTRY_SIZE,
            ),
        ];
        if let Some(t) = &b.txn {
            regions.push((t.off, TXN_HEADER_SIZE as u64 + t.body_len));
        }
        let last_ino = b.inodes.last().map_or(1, |i| i.ino);
        regions.push((
            l.inode_table_start * BLOCK_SIZE_U64,
            (last_ino + 1) * INODE_SIZE as u64,
        ));
        for n in &b.nodes {
            regions.push((n.blk * BLOCK_SIZE_U64, BLOCK_SIZE_U64));
        }
        let flips = 1 + self.rng.below(8);
        let mut desc = Vec::new();
        for _ in 0..flips {
            let Some(&(start, len)) = self.rng.pick(&regions) else {
                return;
            };
            let off = start + self.rng.below(len.max(1));
            let o = off as usize;
            let old = get_u8(&self.img, o);
            let new = if self.rng.chance(75) {
                old ^ (1 << self.rng.below(8))
            } else {
                let r = self.rng.next_u64() as u8;
                if r == old {
                    !old
                } else {
                    r
                }
            };
            put_u8(&mut self.img, o, new);
            desc.push(format!(
                "byte {} ({}) {:#04x}->{:#04x}",
                off,
                region_name(&l, off),
                old,
                new
            ));
        }
        self.note(
            Class::Random,
            "metadata",
            &format!("{} byte(s)", flips),
            String::new(),
            desc.join(", "),
        );
    }
}

/// Size of a B+tree key.
const KEY_SIZE: usize = core::mem::size_of::<u64>();

/// Byte offset of entry `i` in a node of `tree` at `level`: the header,
/// then entries of a key and a value (`docs/on-disk-format.md`, "B+tree
/// nodes").
fn entry_off(tree: TreeType, level: u8, i: usize) -> usize {
    NODE_HEADER_SIZE + i * (KEY_SIZE + tree.value_size(level))
}

/// What lives at device byte `off`.
fn region_name(l: &Layout, off: u64) -> String {
    let blk = off / BLOCK_SIZE_U64;
    let what = if blk == 0 {
        "superblock"
    } else if blk == l.backup_sb_block {
        "backup superblock"
    } else if blk == l.journal_start {
        "journal header"
    } else if blk < l.inode_bitmap_start {
        "journal log"
    } else if blk < l.block_bitmap_start {
        "inode bitmap"
    } else if blk < l.group_table_start {
        "block bitmap"
    } else if blk < l.inode_table_start {
        "group table"
    } else if blk < l.inode_table_start + l.inode_table_blocks {
        return format!(
            "inode {} byte {}",
            (off - l.inode_table_start * BLOCK_SIZE_U64) / INODE_SIZE as u64,
            off % INODE_SIZE as u64
        );
    } else {
        return format!("block {}", blk);
    };
    what.to_string()
}

/// Image `index` of `seed`: a copy of `base` with its mutations and, for
/// about half of the images, every checksum recomputed. Deterministic.
pub fn generate(base: &Base, seed: u64, index: u64) -> FuzzImage {
    generate_into(base, seed, index, Vec::new())
}

/// [`generate`] into `buf`, whose allocation is reused (a series of images
/// in one process then touches no fresh memory: page faults are what is
/// slow under an emulated CPU).
pub fn generate_into(base: &Base, seed: u64, index: u64, mut buf: Vec<u8>) -> FuzzImage {
    buf.clear();
    buf.extend_from_slice(&base.img);
    let mut rng = Rng::for_image(seed, index);
    let recsum = rng.chance(50);
    let mut m = Mutator {
        base,
        img: buf,
        rng,
        muts: Vec::new(),
        recsum,
    };
    let first = pick_class(&mut m.rng);
    m.mutate(first);
    if m.rng.chance(12) {
        let second = pick_class(&mut m.rng);
        if second != first && second != Class::Random {
            m.mutate(second);
        }
    }
    let mut img = m.img;
    if recsum {
        recompute_checksums(&mut img, &base.sb.layout);
    }
    FuzzImage {
        seed,
        index,
        img,
        mutations: m.muts,
        checksums: recsum,
    }
}

fn pick_class(rng: &mut Rng) -> Class {
    let total: u64 = Class::ALL.iter().map(|c| c.weight()).sum();
    let mut r = rng.below(total);
    for c in Class::ALL {
        if r < c.weight() {
            return c;
        }
        r -= c.weight();
    }
    Class::Random
}

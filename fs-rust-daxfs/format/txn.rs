// SPDX-License-Identifier: GPL-2.0

//! Metadata transactions, the block and inode allocators, and mount-time
//! journal recovery: the layer between the pure on-disk structures and a
//! filesystem that changes them (the libxfs model: the kernel and the
//! tests run exactly this code).
//!
//! A [`Txn`] collects every metadata change of one operation in memory:
//! the first time a block is touched it is copied into a slot of the
//! caller-provided [`TxnSpace`] (its new contents in `data`, the contents
//! before the transaction in `orig`), and every later read of that block
//! sees the slot. Nothing reaches the [`Medium`] before [`Txn::commit`],
//! which logs only the changed byte ranges of each slot (so an inode update
//! costs about 256 bytes of log, not 4 KiB) and runs the four-step commit
//! protocol of the journal (see [`super::journal`]). Dropping a `Txn`
//! without committing it abandons every change.
//!
//! The superblock is held decoded ([`Txn::sb_mut`]) and re-encoded into
//! block 0 at commit. The allocators update the block bitmap, the group
//! table, the inode bitmap and the superblock counters inside the same
//! transaction as the structures that own the blocks.
//!
//! No function here allocates memory or keeps a block on the stack: the
//! big buffers are the caller's ([`TxnSpace`], and the [`super::btree::Scratch`]
//! of the tree operations), the largest stack buffer is an inode record.

use super::btree::NodeStore;
use super::bytes::*;
use super::inode::{Inode, INO_OFF_NEXT_ORPHAN, INO_OFF_PREV_ORPHAN};
use super::journal::{
    journal_state, JournalHeader, JournalState, TxnWriter, JH_OFF_APPLIED, JH_OFF_COMMIT, JH_SIZE,
    REC_HEADER_SIZE, TXN_HEADER_SIZE, TXN_OFF_BODY_LEN,
};
use super::superblock::{
    Superblock, BITS_PER_BLOCK, INODE_SIZE, JOURNAL_MIN_BLOCKS, ROOT_INO, SB_SIZE,
};
use super::{Block, Error, FsCtx, Layout, Result, BLOCK_SIZE, BLOCK_SIZE_U64, GROUP_BLOCKS};

/// Byte access to the device, as the kernel and the tests provide it.
pub trait Medium {
    /// Copies bytes at device byte offset `off` into `buf`.
    fn read(&mut self, off: u64, buf: &mut [u8]) -> Result<()>;
    /// Writes `data` at `off` (and writes back the CPU cache lines);
    /// durable after the next [`Medium::fence`].
    fn write(&mut self, off: u64, data: &[u8]) -> Result<()>;
    /// One aligned 8-byte store of `v` at `off` (a multiple of 8), which
    /// reaches persistence whole; durable after the next [`Medium::fence`].
    fn store_u64(&mut self, off: u64, v: u64) -> Result<()>;
    /// Orders and makes durable every preceding write and store (the
    /// flush was done by `write`; this is the `sfence`).
    fn fence(&mut self);
    /// Copies B+tree node block `blk` into `buf` for a tree walk;
    /// `Ok(true)` if `buf` comes from a cache of nodes whose checksum was
    /// verified ([`super::btree::NodeStore::read_node`]). The default
    /// reads the medium.
    fn read_node(&mut self, blk: u64, buf: &mut Block) -> Result<bool> {
        self.read(blk.checked_mul(BLOCK_SIZE_U64).ok_or(Error::Io)?, buf)?;
        Ok(false)
    }
    /// Blocks `blk..blk + len` are being freed: a cache of their contents
    /// must drop them. The default has no cache.
    fn forget(&mut self, _blk: u64, _len: u64) {}
}

/// Caller-owned transaction buffers. The kernel allocates them once at
/// mount and reuses them under its journal mutex; `N = blks.len()` is the
/// number of blocks one transaction may touch (one slot is kept for the
/// superblock block).
pub struct TxnSpace<'a> {
    /// Block number of each slot.
    pub blks: &'a mut [u64],
    /// `N * BLOCK_SIZE` bytes: the new contents of each touched block.
    pub data: &'a mut [u8],
    /// `N * BLOCK_SIZE` bytes: each block's contents before the
    /// transaction, which [`Txn::commit`] diffs against.
    pub orig: &'a mut [u8],
    /// The log image being built; at least [`txn_staging_size`]`(N)`
    /// bytes.
    pub staging: &'a mut [u8],
}

/// Default number of slots (blocks one transaction may touch, the
/// superblock's included): the most for which even a transaction that
/// changes every touched block in full fits the smallest log
/// (`JOURNAL_MIN_BLOCKS - 1` blocks), so [`Txn::commit`] never fails for
/// the log's size.
pub const TXN_MAX_BLOCKS: usize = 62;

/// Worst-case size of the log image of a transaction touching `nblocks`
/// blocks: every block changed in full. Changed ranges closer than
/// [`DIFF_MERGE_GAP`] are merged, so the records of one block never take
/// more than one whole-block record. The image must also fit in the log
/// (`journal_blocks - 1` blocks), which [`Txn::commit`] checks.
pub const fn txn_staging_size(nblocks: usize) -> usize {
    TXN_HEADER_SIZE + nblocks * (REC_HEADER_SIZE + BLOCK_SIZE)
}

const _: () =
    assert!(txn_staging_size(TXN_MAX_BLOCKS) <= (JOURNAL_MIN_BLOCKS as usize - 1) * BLOCK_SIZE);

/// Two changed ranges of a block separated by fewer unchanged bytes than
/// this are logged as one record (a record header costs 16 bytes).
pub const DIFF_MERGE_GAP: usize = 24;

/// How many partly used groups a small allocation looks at for a free run
/// of its length before it takes the first free block after the cursor
/// (which may start a wholly free group): bounds the cost of one
/// allocation on a fragmented filesystem.
pub const PARTIAL_GROUPS_SCANNED: usize = 16;

/// Allocation cursors, kept in memory by the caller across transactions
/// (hints only: any value is safe).
#[derive(Clone, Copy, Debug, Default)]
pub struct Cursors {
    /// Absolute block where the next first-fit block search starts.
    pub block: u64,
    /// Inode number where the next inode search starts.
    pub ino: u64,
}

/// Where the next transaction goes; returned by [`recover`] and kept by
/// the caller (under its journal mutex) across commits.
#[derive(Clone, Copy, Debug)]
pub struct JournalCursor {
    /// Sequence number of the next transaction.
    pub next_seq: u32,
    /// Set when a commit failed after its commit point: the state in
    /// memory and on the medium may differ until recovery replays the
    /// journal at the next mount, so every later commit fails with
    /// [`Error::Io`].
    pub broken: bool,
}

impl JournalCursor {
    /// A cursor whose next transaction is `next_seq` (what [`recover`]
    /// returns on a clean journal whose `applied` is `next_seq - 1`).
    pub const fn new(next_seq: u32) -> JournalCursor {
        JournalCursor {
            next_seq,
            broken: false,
        }
    }
}

/// Byte ranges `[start, end)` in which `new` differs from `old`, 8-byte
/// aligned; ranges closer than [`DIFF_MERGE_GAP`] are merged.
struct DiffRanges<'b> {
    new: &'b [u8],
    old: &'b [u8],
    pos: usize,
}

impl DiffRanges<'_> {
    /// The 8-byte word at `w` of `s`, if `s` holds all of it. An array, not a slice: comparing
    /// two is one 64-bit compare, where comparing slices is a call to `bcmp` (that call, 512
    /// times per block, was 8% of a metadata benchmark's time).
    fn word(s: &[u8], w: usize) -> Option<[u8; 8]> {
        s.get(w..w.checked_add(8)?)?.try_into().ok()
    }

    fn word_differs(&self, w: usize) -> bool {
        Self::word(self.new, w) != Self::word(self.old, w)
    }

    /// Whether the [`DIFF_SKIP`] bytes at `w` are equal in both (false if either is shorter):
    /// one OR of the words' XORs, without a branch per word.
    fn chunk_equal(&self, w: usize) -> bool {
        let end = w.saturating_add(DIFF_SKIP);
        let (Some(a), Some(b)) = (self.new.get(w..end), self.old.get(w..end)) else {
            return false;
        };
        let mut acc = 0u64;
        for (x, y) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
            let x = u64::from_ne_bytes(x.try_into().unwrap_or([0; 8]));
            let y = u64::from_ne_bytes(y.try_into().unwrap_or([0; 8]));
            acc |= x ^ y;
        }
        acc == 0
    }
}

/// Bytes [`DiffRanges`] compares at once while it skips unchanged data (most of a block: an
/// inode update changes 256 bytes of 4 KiB).
const DIFF_SKIP: usize = 64;

impl Iterator for DiffRanges<'_> {
    type Item = (usize, usize);

    fn next(&mut self) -> Option<(usize, usize)> {
        let len = self.new.len().min(self.old.len());
        let mut w = self.pos;
        while w < len && w % DIFF_SKIP != 0 && !self.word_differs(w) {
            w += 8;
        }
        if w % DIFF_SKIP == 0 {
            while self.chunk_equal(w) {
                w += DIFF_SKIP;
            }
        }
        while w < len && !self.word_differs(w) {
            w += 8;
        }
        if w >= len {
            self.pos = len;
            return None;
        }
        let start = w;
        let mut end = w + 8;
        let mut gap = 0;
        w = end;
        while w < len && gap < DIFF_MERGE_GAP {
            if self.word_differs(w) {
                end = w + 8;
                gap = 0;
            } else {
                gap += 8;
            }
            w += 8;
        }
        let end = end.min(len);
        self.pos = end;
        Some((start, end))
    }
}

fn diff_ranges<'b>(new: &'b [u8], old: &'b [u8]) -> DiffRanges<'b> {
    DiffRanges { new, old, pos: 0 }
}

fn block_range(i: usize) -> core::ops::Range<usize> {
    let s = i.saturating_mul(BLOCK_SIZE);
    s..s.saturating_add(BLOCK_SIZE)
}

fn as_block(b: &mut [u8]) -> Result<&mut Block> {
    <&mut Block>::try_from(b).map_err(|_| Error::Corrupt("transaction slot"))
}

/// One metadata transaction (see the module documentation).
pub struct Txn<'a, M: Medium + ?Sized> {
    m: &'a mut M,
    sb: Superblock,
    sb_dirty: bool,
    ctx: FsCtx,
    space: TxnSpace<'a>,
    cap: usize,
    n: usize,
    cursors: &'a mut Cursors,
    node_goal: u64,
}

impl<'a, M: Medium + ?Sized> Txn<'a, M> {
    /// Starts a transaction on `m` whose filesystem state is `sb` (the
    /// caller's current superblock). Slots are the smallest of
    /// `space.blks.len()`, `space.data.len() / 4096` and
    /// `space.orig.len() / 4096`.
    pub fn new(
        m: &'a mut M,
        sb: &Superblock,
        space: TxnSpace<'a>,
        cursors: &'a mut Cursors,
    ) -> Self {
        let cap = space
            .blks
            .len()
            .min(space.data.len() / BLOCK_SIZE)
            .min(space.orig.len() / BLOCK_SIZE);
        Txn {
            m,
            sb: *sb,
            sb_dirty: false,
            ctx: sb.ctx(),
            space,
            cap,
            n: 0,
            cursors,
            node_goal: 0,
        }
    }

    /// The superblock as this transaction will leave it.
    pub fn sb(&self) -> &Superblock {
        &self.sb
    }

    /// The superblock, for changing; it is re-encoded (with its checksum)
    /// into block 0 at commit.
    pub fn sb_mut(&mut self) -> &mut Superblock {
        self.sb_dirty = true;
        &mut self.sb
    }

    /// The medium, for unjournaled data writes inside the transaction
    /// (zeroing or filling newly allocated data blocks before the commit,
    /// whose first fence orders them before the commit point). Never use
    /// it for metadata: those writes would bypass the journal.
    #[cfg(not(CONFIG_DAXFS_FS))]
    pub fn medium(&mut self) -> &mut M {
        self.m
    }

    /// Checksum seed and directory hash key.
    pub fn ctx(&self) -> FsCtx {
        self.ctx
    }

    fn layout(&self) -> &Layout {
        &self.sb.layout
    }

    /// True if nothing has been touched yet.
    #[cfg(not(CONFIG_DAXFS_FS))]
    pub fn is_empty(&self) -> bool {
        self.n == 0 && !self.sb_dirty
    }

    /// Slots still available for blocks other than the superblock's: an
    /// operation that may touch `k` more blocks should check this first
    /// (or be prepared for [`Error::TxnTooLarge`]).
    pub fn slots_free(&self) -> usize {
        let reserve = usize::from(self.find(0).is_none());
        self.cap.saturating_sub(self.n).saturating_sub(reserve)
    }

    fn find(&self, blk: u64) -> Option<usize> {
        self.space
            .blks
            .get(..self.n)
            .and_then(|b| b.iter().position(|&x| x == blk))
    }

    /// The slot of `blk`, copying the block in on first touch. Block 0 is
    /// only reachable with `sb_ok` (commit), and one slot is kept for it.
    fn slot(&mut self, blk: u64, sb_ok: bool) -> Result<usize> {
        if let Some(i) = self.find(blk) {
            return Ok(i);
        }
        let l = self.layout();
        let meta_start = l.journal_start.saturating_add(l.journal_blocks);
        let ok = if blk == 0 {
            sb_ok
        } else {
            blk >= meta_start && blk < l.backup_sb_block
        };
        if !ok {
            return Err(Error::OutOfRange("transaction block"));
        }
        let reserve = usize::from(!sb_ok);
        if self.n.saturating_add(reserve) >= self.cap {
            return Err(Error::TxnTooLarge);
        }
        let i = self.n;
        let r = block_range(i);
        let off = blk.checked_mul(BLOCK_SIZE_U64).ok_or(Error::Io)?;
        let d = self
            .space
            .data
            .get_mut(r.clone())
            .ok_or(Error::TxnTooLarge)?;
        self.m.read(off, d)?;
        let o = self.space.orig.get_mut(r).ok_or(Error::TxnTooLarge)?;
        o.copy_from_slice(d);
        let b = self.space.blks.get_mut(i).ok_or(Error::TxnTooLarge)?;
        *b = blk;
        self.n += 1;
        Ok(i)
    }

    /// Reads `buf.len()` bytes at device offset `off`, seeing this
    /// transaction's own changes.
    pub fn read_bytes(&mut self, off: u64, buf: &mut [u8]) -> Result<()> {
        let mut done = 0usize;
        while done < buf.len() {
            let pos = off
                .checked_add(done as u64)
                .ok_or(Error::OutOfRange("read offset"))?;
            let blk = pos / BLOCK_SIZE_U64;
            let in_blk = (pos % BLOCK_SIZE_U64) as usize;
            let n = (BLOCK_SIZE - in_blk).min(buf.len() - done);
            let dst = buf.get_mut(done..done + n).ok_or(Error::Truncated)?;
            match self.find(blk) {
                Some(i) => {
                    let s = i * BLOCK_SIZE + in_blk;
                    let src = self.space.data.get(s..s + n).ok_or(Error::Truncated)?;
                    dst.copy_from_slice(src);
                }
                None => self.m.read(pos, dst)?,
            }
            done += n;
        }
        Ok(())
    }

    /// Reads block `blk`, seeing this transaction's own changes.
    pub fn read_block(&mut self, blk: u64, out: &mut Block) -> Result<()> {
        if blk >= self.layout().block_count {
            return Err(Error::OutOfRange("block"));
        }
        self.read_bytes(blk * BLOCK_SIZE_U64, out)
    }

    /// The new contents of block `blk`, for changing in place: copied into
    /// a slot on first touch. Only blocks after the journal and before the
    /// backup superblock may be changed ([`Error::OutOfRange`]; the
    /// superblock goes through [`Txn::sb_mut`]); [`Error::TxnTooLarge`]
    /// when the slots run out.
    pub fn block_mut(&mut self, blk: u64) -> Result<&mut Block> {
        let i = self.slot(blk, false)?;
        as_block(
            self.space
                .data
                .get_mut(block_range(i))
                .ok_or(Error::TxnTooLarge)?,
        )
    }

    /// Journaled write of `data` at device offset `off`; the bytes must
    /// lie inside one block (for example a long symlink target).
    #[cfg(not(CONFIG_DAXFS_FS))]
    pub fn write_bytes(&mut self, off: u64, data: &[u8]) -> Result<()> {
        let blk = off / BLOCK_SIZE_U64;
        let o = (off % BLOCK_SIZE_U64) as usize;
        let end = o
            .checked_add(data.len())
            .filter(|&e| e <= BLOCK_SIZE)
            .ok_or(Error::OutOfRange("write crosses a block"))?;
        let b = self.block_mut(blk)?;
        b.get_mut(o..end)
            .ok_or(Error::Truncated)?
            .copy_from_slice(data);
        Ok(())
    }

    /// Reads and verifies (checksum, fields) inode `ino`;
    /// [`Error::Corrupt`] if the slot is free.
    pub fn read_inode(&mut self, ino: u64) -> Result<Inode> {
        let off = self.layout().inode_offset(ino)?;
        let mut b = [0u8; INODE_SIZE];
        self.read_bytes(off, &mut b)?;
        Inode::decode(&b, ino, self.ctx.csum_seed)?.ok_or(Error::Corrupt("inode is free"))
    }

    fn inode_rec(&mut self, ino: u64) -> Result<&mut [u8; INODE_SIZE]> {
        let off = self.layout().inode_offset(ino)?;
        let o = (off % BLOCK_SIZE_U64) as usize;
        let b = self.block_mut(off / BLOCK_SIZE_U64)?;
        <&mut [u8; INODE_SIZE]>::try_from(b.get_mut(o..o + INODE_SIZE).ok_or(Error::Truncated)?)
            .map_err(|_| Error::Truncated)
    }

    /// Encodes and writes inode `ino`. The orphan-list links
    /// (`next_orphan`, `prev_orphan`) are kept as stored: they belong to
    /// [`Txn::orphan_add`] and [`Txn::orphan_remove`], which may change
    /// them in an inode the caller holds a copy of (a neighbour of an
    /// added or removed orphan), so a stale copy never corrupts the list.
    pub fn write_inode(&mut self, ino: u64, inode: &Inode) -> Result<()> {
        let seed = self.ctx.csum_seed;
        let rec = self.inode_rec(ino)?;
        let mut c = *inode;
        c.next_orphan = get_u32(rec, INO_OFF_NEXT_ORPHAN);
        c.prev_orphan = get_u32(rec, INO_OFF_PREV_ORPHAN);
        c.encode(ino, seed, rec);
        Ok(())
    }

    fn write_inode_raw(&mut self, ino: u64, inode: &Inode) -> Result<()> {
        let seed = self.ctx.csum_seed;
        let rec = self.inode_rec(ino)?;
        inode.encode(ino, seed, rec);
        Ok(())
    }

    /// The stored orphan-list links of inode `ino`: (`next`, `prev`).
    fn stored_orphan_links(&mut self, ino: u64) -> Result<(u64, u64)> {
        let off = self.layout().inode_offset(ino)?;
        let mut n = [0u8; 4];
        let mut p = [0u8; 4];
        self.read_bytes(off + INO_OFF_NEXT_ORPHAN as u64, &mut n)?;
        self.read_bytes(off + INO_OFF_PREV_ORPHAN as u64, &mut p)?;
        Ok((
            u64::from(u32::from_le_bytes(n)),
            u64::from(u32::from_le_bytes(p)),
        ))
    }

    /// Sets the stored orphan-list links of the listed orphan `ino` (a
    /// neighbour of an orphan being added or removed), passing `None` to
    /// keep a link. [`Error::Corrupt`] if `ino` is not an orphan.
    fn set_orphan_links(&mut self, ino: u64, next: Option<u64>, prev: Option<u64>) -> Result<()> {
        let mut i = self.read_inode(ino)?;
        if !i.belongs_on_orphan_list() {
            return Err(Error::Corrupt("orphan list links a linked inode"));
        }
        let to32 = |v: u64| u32::try_from(v).map_err(|_| Error::BadField("orphan link"));
        if let Some(n) = next {
            i.next_orphan = to32(n)?;
        }
        if let Some(p) = prev {
            i.prev_orphan = to32(p)?;
        }
        self.write_inode_raw(ino, &i)
    }

    // ---- bitmaps ----

    /// Length of the run of bits equal to `set` starting at bit `start`
    /// of the bitmap at block `bm_start`, at most `max` and not past bit
    /// `limit`.
    fn bit_run(
        &mut self,
        bm_start: u64,
        start: u64,
        max: u64,
        limit: u64,
        set: bool,
    ) -> Result<u64> {
        let end = start.saturating_add(max).min(limit);
        let base = bm_start * BLOCK_SIZE_U64;
        let mut i = start;
        let mut buf = [0u8; 64];
        while i < end {
            let byte = i / 8;
            let last_byte = (end - 1) / 8;
            let n = (last_byte - byte + 1).min(buf.len() as u64) as usize;
            let chunk = buf.get_mut(..n).ok_or(Error::Truncated)?;
            self.read_bytes(base + byte, chunk)?;
            for &x in chunk.iter() {
                let want = if set { 0xFF } else { 0x00 };
                if i & 7 == 0 && x == want && i + 8 <= end {
                    i += 8;
                    continue;
                }
                let mut bit = i % 8;
                while bit < 8 && i < end {
                    if (x >> bit) & 1 != u8::from(set) {
                        return Ok(i - start);
                    }
                    bit += 1;
                    i += 1;
                }
                if i >= end {
                    break;
                }
            }
        }
        Ok(end.saturating_sub(start))
    }

    /// The first clear bit in `[from, to)` of the bitmap at `bm_start`.
    fn find_clear(&mut self, bm_start: u64, from: u64, to: u64) -> Result<Option<u64>> {
        let base = bm_start * BLOCK_SIZE_U64;
        let mut i = from;
        let mut buf = [0u8; 64];
        while i < to {
            let byte = i / 8;
            let last_byte = (to - 1) / 8;
            let n = (last_byte - byte + 1).min(buf.len() as u64) as usize;
            let chunk = buf.get_mut(..n).ok_or(Error::Truncated)?;
            self.read_bytes(base + byte, chunk)?;
            for &x in chunk.iter() {
                if x == 0xFF {
                    i = (i / 8 + 1) * 8;
                    continue;
                }
                let mut bit = i % 8;
                while bit < 8 {
                    if i >= to {
                        return Ok(None);
                    }
                    if (x >> bit) & 1 == 0 {
                        return Ok(Some(i));
                    }
                    bit += 1;
                    i += 1;
                }
            }
        }
        Ok(None)
    }

    /// Sets or clears bits `[start, start + len)` of the bitmap at
    /// `bm_start` (the caller has checked that they all have the other
    /// value).
    fn set_bits(&mut self, bm_start: u64, start: u64, len: u64, v: bool) -> Result<()> {
        let mut i = start;
        let end = start.checked_add(len).ok_or(Error::OutOfRange("bitmap"))?;
        while i < end {
            let blk = bm_start + i / BITS_PER_BLOCK;
            let first = i % BITS_PER_BLOCK;
            let n = (BITS_PER_BLOCK - first).min(end - i);
            let b = self.block_mut(blk)?;
            for k in first..first + n {
                let (byte, mask) = ((k / 8) as usize, 1u8 << (k % 8));
                let x = b.get_mut(byte).ok_or(Error::Truncated)?;
                if (*x & mask != 0) == v {
                    return Err(Error::Corrupt("bitmap bit already in that state"));
                }
                if v {
                    *x |= mask;
                } else {
                    *x &= !mask;
                }
            }
            i += n;
        }
        Ok(())
    }

    /// Adds (`used`) or subtracts the blocks of `[blk, blk + len)` to the
    /// group usage counters.
    fn adjust_groups(&mut self, blk: u64, len: u64, used: bool) -> Result<()> {
        let l = *self.layout();
        let mut b = blk;
        let end = blk.checked_add(len).ok_or(Error::OutOfRange("group"))?;
        while b < end {
            let rel = b - l.data_start;
            let g = rel / GROUP_BLOCKS;
            let n = (GROUP_BLOCKS - rel % GROUP_BLOCKS).min(end - b);
            let off = l.group_table_start * BLOCK_SIZE_U64 + g * 2;
            let o = (off % BLOCK_SIZE_U64) as usize;
            let t = self.block_mut(off / BLOCK_SIZE_U64)?;
            let cur = u64::from(get_u16(t, o));
            let new = if used {
                cur.checked_add(n).filter(|&x| x <= GROUP_BLOCKS)
            } else {
                cur.checked_sub(n)
            }
            .ok_or(Error::Corrupt("group usage counter"))?;
            put_u16(t, o, new as u16);
            b += n;
        }
        Ok(())
    }

    fn mark_used(&mut self, pblk: u64, len: u64) -> Result<()> {
        let l = *self.layout();
        self.set_bits(l.block_bitmap_start, pblk - l.data_start, len, true)?;
        self.adjust_groups(pblk, len, true)?;
        let f = self
            .sb
            .free_blocks
            .checked_sub(len)
            .ok_or(Error::Corrupt("free block count"))?;
        self.sb_mut().free_blocks = f;
        Ok(())
    }

    /// The first group at or after group `from` (wrapping) whose usage
    /// count `used` satisfies `pick(used)`.
    fn find_group(&mut self, from: u64, pick: impl Fn(u16) -> bool) -> Result<Option<u64>> {
        let l = *self.layout();
        let base = l.group_table_start * BLOCK_SIZE_U64;
        let mut buf = [0u8; 64];
        for (lo, hi) in [(from, l.group_count), (0, from.min(l.group_count))] {
            let mut g = lo;
            while g < hi {
                let n = (hi - g).min(32) as usize;
                let chunk = buf.get_mut(..n * 2).ok_or(Error::Truncated)?;
                self.read_bytes(base + g * 2, chunk)?;
                for k in 0..n {
                    if pick(get_u16(chunk, k * 2)) {
                        return Ok(Some(g + k as u64));
                    }
                }
                g += n as u64;
            }
        }
        Ok(None)
    }

    /// The start (bitmap index) of a free run of at least `want` blocks
    /// (`want` < 512) in a group that is partly used: the cursor's group
    /// from bitmap index `cur` first, then the next partly used groups
    /// (wrapping), at most [`PARTIAL_GROUPS_SCANNED`] of them. `None` if
    /// there is none (the caller then takes the first free block after
    /// the cursor), also when the group table names a group whose bits
    /// say otherwise.
    fn find_in_partial_group(&mut self, cur: u64, want: u64) -> Result<Option<u64>> {
        let l = *self.layout();
        let (bm, nbits) = (l.block_bitmap_start, l.data_blocks);
        let partial = |used: u16| used != 0 && u64::from(used) < GROUP_BLOCKS;
        let mut g = cur / GROUP_BLOCKS;
        for _ in 0..PARTIAL_GROUPS_SCANNED {
            let Some(found) = self.find_group(g, partial)? else {
                return Ok(None);
            };
            let (lo, hi) = (
                found * GROUP_BLOCKS,
                ((found + 1) * GROUP_BLOCKS).min(nbits),
            );
            let mut at = if (lo..hi).contains(&cur) { cur } else { lo };
            while let Some(b) = self.find_clear(bm, at, hi)? {
                let run = self.bit_run(bm, b, want, hi, false)?;
                if run >= want {
                    return Ok(Some(b));
                }
                at = b + run.max(1);
            }
            g = found + 1;
            if g >= l.group_count {
                g = 0;
            }
        }
        Ok(None)
    }

    /// Allocates a contiguous run of 1 to `want` blocks for metadata (a tree
    /// node, a symlink's block): as [`Txn::alloc_file_blocks`] for a small
    /// request that no file offset constrains.
    /// Updates the block bitmap, the group table and `free_blocks`.
    /// Returns `(pblk, len)`; [`Error::NoSpace`] if no block is free.
    pub fn alloc_blocks(&mut self, goal: u64, want: u64) -> Result<(u64, u64)> {
        self.alloc_run(goal, want, None)
    }

    /// Allocates a contiguous run of 1 to `want` blocks (as many as are
    /// free there, up to `want` and `u32::MAX`) for file block `lblk`.
    ///
    /// A DAX fault maps 2 MiB of a file with one huge page only where the
    /// file's 2 MiB chunk lies in one physically 2 MiB-aligned run, that is
    /// where block `lblk` sits at a physical block `p` with
    /// `p % 512 == lblk % 512` (the file's *phase*). So an allocation that
    /// can fill chunks (`want >= 512`, or at least half a chunk starting at
    /// a chunk boundary, as appends past 1 MiB and 1 MiB writes are) is
    /// placed in phase: at `goal` if `goal` is in phase and the rest of
    /// its group is free; else in a wholly free 2 MiB group (found in the
    /// group table from the cursor on), at the block of the file's phase;
    /// else at `goal` if it is free; a short run of such an allocation ends
    /// at a group boundary when it can, so that the next run, from a free
    /// group, stays in phase. A smaller allocation is taken at `goal` if
    /// that block is free; else at a free run of `want` blocks in a partly
    /// used group (the cursor's first; [`PARTIAL_GROUPS_SCANNED`] at most),
    /// so that small allocations do not break up the wholly free groups
    /// huge-page files need as the filesystem ages (the WineFS policy).
    /// Either falls back to the first free block at or after
    /// `cursors.block` (wrapping).
    /// Updates the block bitmap, the group table and `free_blocks`.
    /// Returns `(pblk, len)`; [`Error::NoSpace`] if no block is free.
    pub fn alloc_file_blocks(&mut self, goal: u64, lblk: u64, want: u64) -> Result<(u64, u64)> {
        let phase = lblk % GROUP_BLOCKS;
        let fills = want >= GROUP_BLOCKS || (phase == 0 && want >= GROUP_BLOCKS / 2);
        self.alloc_run(goal, want, fills.then_some(phase))
    }

    /// The allocator of [`Txn::alloc_blocks`] and [`Txn::alloc_file_blocks`]:
    /// `phase` is the bitmap index modulo 512 that the run must start at to
    /// fill 2 MiB chunks, `None` for a small allocation.
    fn alloc_run(&mut self, goal: u64, want: u64, phase: Option<u64>) -> Result<(u64, u64)> {
        if want == 0 {
            return Err(Error::BadField("allocation length"));
        }
        if self.sb.free_blocks == 0 {
            return Err(Error::NoSpace);
        }
        let want = want.min(u64::from(u32::MAX));
        let l = *self.layout();
        let nbits = l.data_blocks;
        let bm = l.block_bitmap_start;
        let mut start = None;
        let goal_rel = if l.in_data(goal, 1) {
            Some(goal - l.data_start)
        } else {
            None
        };
        match (goal_rel, phase) {
            // An allocation that fills chunks continues at `goal` only in
            // phase and if the rest of its group is free: a file mapped
            // 2 MiB-aligned so far stays so.
            (Some(rel), Some(ph)) if rel % GROUP_BLOCKS == ph => {
                let need = GROUP_BLOCKS - ph;
                if self.bit_run(bm, rel, need, nbits, false)? == need.min(nbits - rel) {
                    start = Some(rel);
                }
            }
            (Some(rel), None) => {
                if self.bit_run(bm, rel, 1, nbits, false)? == 1 {
                    start = Some(rel);
                }
            }
            _ => {}
        }
        let cur = if l.in_data(self.cursors.block, 1) {
            self.cursors.block - l.data_start
        } else {
            0
        };
        if let (None, Some(ph)) = (start, phase) {
            if let Some(g) = self.find_group(cur / GROUP_BLOCKS, |used| used == 0)? {
                let at = g * GROUP_BLOCKS + ph;
                if at < nbits {
                    start = Some(at);
                }
            }
            if start.is_none() {
                if let Some(rel) = goal_rel {
                    if self.bit_run(bm, rel, 1, nbits, false)? == 1 {
                        start = Some(rel);
                    }
                }
            }
        }
        if start.is_none() && phase.is_none() {
            start = self.find_in_partial_group(cur, want)?;
        }
        if start.is_none() {
            start = match self.find_clear(bm, cur, nbits)? {
                Some(b) => Some(b),
                None => self.find_clear(bm, 0, cur)?,
            };
        }
        let bit = start.ok_or(Error::NoSpace)?;
        let mut len = self.bit_run(bm, bit, want, nbits, false)?;
        if len == 0 {
            return Err(Error::Corrupt("block bitmap"));
        }
        if phase.is_some() && len < want {
            // A short run of a chunk-filling allocation ends at a group boundary, so
            // that the caller's next run, from a free group, keeps the
            // file's blocks and its offsets in the same 2 MiB phase.
            let end = (bit + len) / GROUP_BLOCKS * GROUP_BLOCKS;
            if end > bit {
                len = end - bit;
            }
        }
        let pblk = l.data_start + bit;
        self.mark_used(pblk, len)?;
        self.cursors.block = pblk + len;
        Ok((pblk, len))
    }

    /// Frees `[pblk, pblk + len)`: [`Error::Corrupt`] if the range leaves
    /// the data area or a block is already free (nothing is changed
    /// then). A block of the range that this transaction had touched (a
    /// freed tree node) is reverted, so that its stale contents are never
    /// written over whatever the block is reused for.
    pub fn free_blocks(&mut self, pblk: u64, len: u64) -> Result<()> {
        let l = *self.layout();
        if !l.in_data(pblk, len) {
            return Err(Error::Corrupt("freeing blocks outside the data area"));
        }
        let bit = pblk - l.data_start;
        if self.bit_run(l.block_bitmap_start, bit, len, l.data_blocks, true)? != len {
            return Err(Error::Corrupt("freeing a free block"));
        }
        self.set_bits(l.block_bitmap_start, bit, len, false)?;
        self.adjust_groups(pblk, len, false)?;
        let f = self
            .sb
            .free_blocks
            .checked_add(len)
            .filter(|&f| f <= l.data_blocks)
            .ok_or(Error::Corrupt("free block count"))?;
        self.sb_mut().free_blocks = f;
        let end = pblk + len;
        for i in 0..self.n {
            let b = self.space.blks.get(i).copied().unwrap_or(0);
            if b >= pblk && b < end {
                let r = block_range(i);
                let (Some(d), Some(o)) =
                    (self.space.data.get_mut(r.clone()), self.space.orig.get(r))
                else {
                    return Err(Error::Truncated);
                };
                d.copy_from_slice(o);
            }
        }
        self.m.forget(pblk, len);
        Ok(())
    }

    /// Allocates an inode: the first free slot at or after `cursors.ino`
    /// (wrapping). Returns `(ino, generation)`, the generation taken from
    /// `next_generation`. Updates the inode bitmap, `free_inodes` and
    /// `next_generation`; [`Error::NoSpace`] if none is free,
    /// [`Error::Corrupt`] if the chosen slot is not zero.
    pub fn alloc_ino(&mut self) -> Result<(u64, u32)> {
        if self.sb.free_inodes == 0 {
            return Err(Error::NoSpace);
        }
        let l = *self.layout();
        let ibm = l.inode_bitmap_start;
        let cur = if self.cursors.ino > 0 && self.cursors.ino < l.inode_count {
            self.cursors.ino
        } else {
            1
        };
        let ino = match self.find_clear(ibm, cur, l.inode_count)? {
            Some(i) => i,
            None => self
                .find_clear(ibm, 1, cur)?
                .ok_or(Error::Corrupt("inode bitmap full but free_inodes > 0"))?,
        };
        let off = l.inode_offset(ino)?;
        let mut rec = [0u8; INODE_SIZE];
        self.read_bytes(off, &mut rec)?;
        if !is_zero(&rec) {
            return Err(Error::Corrupt("free inode slot is not zero"));
        }
        self.set_bits(ibm, ino, 1, true)?;
        let gen = self.sb.next_generation as u32;
        let sb = self.sb_mut();
        sb.free_inodes -= 1;
        sb.next_generation = sb.next_generation.wrapping_add(1);
        self.cursors.ino = ino + 1;
        Ok((ino, gen))
    }

    /// Frees inode `ino`: clears its bitmap bit, zeroes its record and
    /// counts it free. [`Error::Corrupt`] if it is already free or still
    /// the head of the orphan list; the root cannot be freed.
    pub fn free_ino(&mut self, ino: u64) -> Result<()> {
        let l = *self.layout();
        l.inode_offset(ino)?;
        if ino == ROOT_INO {
            return Err(Error::BadField("freeing the root inode"));
        }
        if self.sb.orphan_head == ino {
            return Err(Error::Corrupt("freeing an inode on the orphan list"));
        }
        if self.bit_run(l.inode_bitmap_start, ino, 1, l.inode_count, true)? != 1 {
            return Err(Error::Corrupt("freeing a free inode"));
        }
        self.set_bits(l.inode_bitmap_start, ino, 1, false)?;
        self.inode_rec(ino)?.fill(0);
        let f = self
            .sb
            .free_inodes
            .checked_add(1)
            .filter(|&f| f < l.inode_count)
            .ok_or(Error::Corrupt("free inode count"))?;
        self.sb_mut().free_inodes = f;
        Ok(())
    }

    /// Pushes inode `ino` (which must have no links or a seal intent, see
    /// [`Inode::belongs_on_orphan_list`]) on the orphan list,
    /// a doubly linked list through `next_orphan` and `prev_orphan`:
    /// `ino` becomes the head and the old head's `prev_orphan` points to
    /// it. Writes the inode and updates the caller's copy.
    pub fn orphan_add(&mut self, ino: u64, inode: &mut Inode) -> Result<()> {
        self.layout().inode_offset(ino)?;
        if !inode.belongs_on_orphan_list() {
            return Err(Error::BadField("orphan with links"));
        }
        if ino == ROOT_INO || self.sb.orphan_head == ino || self.stored_orphan_links(ino)? != (0, 0)
        {
            return Err(Error::Corrupt("inode already on the orphan list"));
        }
        let head = self.sb.orphan_head;
        inode.next_orphan = u32::try_from(head).map_err(|_| Error::BadField("orphan_head"))?;
        inode.prev_orphan = 0;
        if head != 0 {
            if self.stored_orphan_links(head)?.1 != 0 {
                return Err(Error::Corrupt("orphan list head has a predecessor"));
            }
            self.set_orphan_links(head, None, Some(ino))?;
        }
        self.write_inode_raw(ino, inode)?;
        self.sb_mut().orphan_head = ino;
        Ok(())
    }

    /// Unlinks inode `ino` from the orphan list in O(1): its stored links
    /// (not the caller's copy) name its neighbours, and each neighbour must
    /// link back to it. Writes the inode with both links 0 and updates the
    /// caller's copy; [`Error::Corrupt`] if `ino` is not on the list or the
    /// links disagree.
    pub fn orphan_remove(&mut self, ino: u64, inode: &mut Inode) -> Result<()> {
        self.layout().inode_offset(ino)?;
        let (next, prev) = self.stored_orphan_links(ino)?;
        if prev == 0 {
            if self.sb.orphan_head != ino {
                return Err(Error::Corrupt("inode not on the orphan list"));
            }
        } else if prev == ino || self.stored_orphan_links(prev)?.0 != ino {
            return Err(Error::Corrupt(
                "orphan list: predecessor does not link back",
            ));
        }
        if next != 0 && (next == ino || self.stored_orphan_links(next)?.1 != ino) {
            return Err(Error::Corrupt("orphan list: successor does not link back"));
        }
        if prev == 0 {
            self.sb_mut().orphan_head = next;
        } else {
            self.set_orphan_links(prev, Some(next), None)?;
        }
        if next != 0 {
            self.set_orphan_links(next, None, Some(prev))?;
        }
        inode.next_orphan = 0;
        inode.prev_orphan = 0;
        self.write_inode_raw(ino, inode)
    }

    /// Commits: logs the changed byte ranges of every touched block and of
    /// the superblock, then runs the commit protocol (log, fence, commit
    /// word, fence, apply, fence, `applied`, fence). Returns the committed
    /// superblock, which the caller installs as its in-memory copy. An
    /// empty transaction (or one whose changes cancel out) writes nothing.
    ///
    /// Errors before the commit point ([`Error::TxnTooLarge`] when the
    /// image exceeds the staging buffer or the log, or a failed log write)
    /// leave everything outside the log untouched. A failure at or after
    /// the commit point returns [`Error::Io`] and marks `j` broken: the
    /// caller must stop writing; recovery at the next mount completes it.
    pub fn commit(self, j: &mut JournalCursor) -> Result<Superblock> {
        if j.broken {
            return Err(Error::Io);
        }
        let mut me = self;
        if me.sb_dirty {
            let i = me.slot(0, true)?;
            let d = me
                .space
                .data
                .get_mut(i * BLOCK_SIZE..i * BLOCK_SIZE + SB_SIZE)
                .ok_or(Error::Truncated)?;
            let rec = <&mut [u8; SB_SIZE]>::try_from(d).map_err(|_| Error::Truncated)?;
            me.sb.encode(rec);
        }
        let l = *me.layout();
        let seq = j.next_seq;
        let TxnSpace {
            blks,
            data,
            orig,
            staging,
        } = me.space;
        let n = me.n;
        let blks = blks.get(..n).ok_or(Error::Truncated)?;
        let (len, word) = {
            let mut w = TxnWriter::new(staging, seq).map_err(|_| Error::TxnTooLarge)?;
            for (i, &blk) in blks.iter().enumerate() {
                let r = block_range(i);
                let (Some(d), Some(o)) = (data.get(r.clone()), orig.get(r)) else {
                    return Err(Error::Truncated);
                };
                for (s, e) in diff_ranges(d, o) {
                    let bytes = d.get(s..e).ok_or(Error::Truncated)?;
                    w.add(blk * BLOCK_SIZE_U64 + s as u64, bytes)
                        .map_err(|_| Error::TxnTooLarge)?;
                }
            }
            if w.is_empty() {
                return Ok(me.sb);
            }
            w.finish(me.ctx.csum_seed)
        };
        let log_bytes = l.journal_blocks.saturating_sub(1) * BLOCK_SIZE_U64;
        if len as u64 > log_bytes {
            return Err(Error::TxnTooLarge);
        }
        let jh = l.journal_start * BLOCK_SIZE_U64;
        let m = me.m;
        // 1. The log.
        let img = staging.get(..len).ok_or(Error::Truncated)?;
        m.write(jh + BLOCK_SIZE_U64, img).map_err(|_| Error::Io)?;
        m.fence();
        // 2. The commit point.
        if m.store_u64(jh + JH_OFF_COMMIT as u64, word).is_err() {
            j.broken = true;
            return Err(Error::Io);
        }
        m.fence();
        // 3. Apply in place (the same ranges as logged).
        let mut apply = || -> Result<()> {
            for (i, &blk) in blks.iter().enumerate() {
                let r = block_range(i);
                let (Some(d), Some(o)) = (data.get(r.clone()), orig.get(r)) else {
                    return Err(Error::Truncated);
                };
                for (s, e) in diff_ranges(d, o) {
                    let bytes = d.get(s..e).ok_or(Error::Truncated)?;
                    m.write(blk * BLOCK_SIZE_U64 + s as u64, bytes)?;
                }
            }
            m.fence();
            // 4. Applied.
            m.store_u64(jh + JH_OFF_APPLIED as u64, u64::from(seq))?;
            m.fence();
            Ok(())
        };
        if apply().is_err() {
            j.broken = true;
            return Err(Error::Io);
        }
        j.next_seq = seq.wrapping_add(1);
        Ok(me.sb)
    }
}

impl<M: Medium + ?Sized> NodeStore for Txn<'_, M> {
    fn read(&mut self, blk: u64, buf: &mut Block) -> Result<()> {
        if !self.layout().in_data(blk, 1) {
            return Err(Error::OutOfRange("btree node block"));
        }
        self.read_block(blk, buf)
    }

    /// A node this transaction changed comes from its slot (checksum
    /// verified again); any other from [`Medium::read_node`].
    fn read_node(&mut self, blk: u64, buf: &mut Block) -> Result<bool> {
        if !self.layout().in_data(blk, 1) {
            return Err(Error::OutOfRange("btree node block"));
        }
        match self.find(blk) {
            Some(_) => {
                self.read_block(blk, buf)?;
                Ok(false)
            }
            None => self.m.read_node(blk, buf),
        }
    }

    fn write(&mut self, blk: u64, buf: &Block) -> Result<()> {
        if !self.layout().in_data(blk, 1) {
            return Err(Error::OutOfRange("btree node block"));
        }
        self.block_mut(blk)?.copy_from_slice(buf);
        Ok(())
    }

    fn alloc(&mut self) -> Result<u64> {
        let (b, _) = self.alloc_blocks(self.node_goal, 1)?;
        self.node_goal = b + 1;
        Ok(b)
    }

    fn free(&mut self, blk: u64) -> Result<()> {
        self.free_blocks(blk, 1)
    }
}

/// Reads the superblock for mounting: the primary, or if it does not
/// decode, the backup (in the block the primary's raw fields name, else
/// the last block of a `dev_blocks`-block device). A crash while a
/// committed transaction was being applied can leave the primary torn
/// (new counters, old checksum); the backup's static fields, which are all
/// [`recover`] needs, are the same, and replay rewrites the primary whole.
/// Returns the superblock and whether it is the backup (then re-read the
/// primary after [`recover`]).
///
/// A backup whose UUID differs from the primary's (its UUID is static, so
/// a torn primary still has the right one) belongs to an earlier
/// filesystem on the device and is not taken: laying that layout over
/// this filesystem would corrupt it. `fsck.daxfs -b` can still use it.
pub fn read_superblock<M: Medium + ?Sized>(
    m: &mut M,
    dev_blocks: u64,
) -> Result<(Superblock, bool)> {
    let mut b = [0u8; SB_SIZE];
    m.read(0, &mut b)?;
    let perr = match Superblock::decode(&b) {
        Ok(sb) => return Ok((sb, false)),
        Err(e) => e,
    };
    let primary = Superblock::decode_raw(&b).ok();
    let mut tried = 0u64;
    for blk in [
        primary.as_ref().map_or(0, |s| s.layout.backup_sb_block),
        dev_blocks.saturating_sub(1),
    ] {
        if blk == 0 || blk >= dev_blocks || blk == tried {
            continue;
        }
        tried = blk;
        m.read(blk * BLOCK_SIZE_U64, &mut b)?;
        if let Ok(sb) = Superblock::decode(&b) {
            let same_fs = primary.as_ref().is_none_or(|p| p.uuid == sb.uuid);
            if sb.layout.backup_sb_block == blk && same_fs {
                return Ok((sb, true));
            }
        }
    }
    Err(perr)
}

/// Mount-time recovery. Reads the journal header; if a committed
/// transaction was not applied, reads it into `staging`, validates all of
/// it ([`super::journal::Txn::parse`]: magic, sequence, length, CRC, every
/// record) before writing anything, re-applies every record, fences and
/// stores `applied`. Returns where the next transaction goes and whether
/// a transaction was replayed (then the superblock must be read again:
/// the replay may have changed it).
///
/// `sb` supplies the layout and the checksum seed (the backup superblock
/// will do, see [`read_superblock`]). A transaction longer than `staging`
/// is [`Error::TxnTooLarge`]; an invalid header, an inconsistent
/// commit/applied pair or an invalid committed transaction is an error
/// (refuse the mount; fsck repairs it).
pub fn recover<M: Medium + ?Sized>(
    m: &mut M,
    sb: &Superblock,
    staging: &mut [u8],
) -> Result<(JournalCursor, bool)> {
    let l = sb.layout;
    let jh = l.journal_start * BLOCK_SIZE_U64;
    let mut hb = [0u8; JH_SIZE];
    m.read(jh, &mut hb)?;
    let h = JournalHeader::decode(&hb, &l)?;
    match journal_state(&h)? {
        JournalState::Clean { next_seq } => Ok((JournalCursor::new(next_seq), false)),
        JournalState::NeedsReplay { seq } => {
            let log_off = h.log_start * BLOCK_SIZE_U64;
            let mut th = [0u8; TXN_HEADER_SIZE];
            m.read(log_off, &mut th)?;
            let total = get_u64(&th, TXN_OFF_BODY_LEN)
                .checked_add(TXN_HEADER_SIZE as u64)
                .filter(|&t| t <= h.log_bytes())
                .ok_or(Error::Corrupt("journal transaction length"))?;
            let total = usize::try_from(total).map_err(|_| Error::TxnTooLarge)?;
            let buf = staging.get_mut(..total).ok_or(Error::TxnTooLarge)?;
            m.read(log_off, buf)?;
            let t = super::journal::Txn::parse(buf, h.commit, sb.ctx().csum_seed, &l)?;
            for r in t.records() {
                let r = r?;
                m.write(r.offset, r.data)?;
            }
            m.fence();
            m.store_u64(jh + JH_OFF_APPLIED as u64, u64::from(seq))?;
            m.fence();
            Ok((JournalCursor::new(seq.wrapping_add(1)), true))
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::{diff_ranges, DIFF_MERGE_GAP};
    use std::{vec, vec::Vec};

    /// The differing 8-byte words of `new` and `old`, merged when fewer than
    /// [`DIFF_MERGE_GAP`] equal bytes lie between them: what [`diff_ranges`] must return.
    fn reference(new: &[u8], old: &[u8]) -> Vec<(usize, usize)> {
        let mut out: Vec<(usize, usize)> = vec![];
        for (i, (a, b)) in new.chunks_exact(8).zip(old.chunks_exact(8)).enumerate() {
            if a == b {
                continue;
            }
            let (s, e) = (i * 8, i * 8 + 8);
            match out.last_mut() {
                Some(last) if s - last.1 < DIFF_MERGE_GAP => last.1 = e,
                _ => out.push((s, e)),
            }
        }
        out
    }

    #[test]
    fn diff_ranges_match_a_word_by_word_reference() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for round in 0..2000 {
            let old: Vec<u8> = (0..4096).map(|_| rnd().to_le_bytes()[0]).collect();
            let mut new = old.clone();
            // From no change at all to most of the block changed, in runs and single bytes.
            let changes = round % 40;
            for _ in 0..changes {
                let at = (rnd() % 4096) as usize;
                let len = if rnd() % 2 == 0 {
                    1
                } else {
                    (rnd() % 64) as usize
                };
                for b in new.iter_mut().skip(at).take(len) {
                    *b = b.wrapping_add(1);
                }
            }
            let got: Vec<(usize, usize)> = diff_ranges(&new, &old).collect();
            assert_eq!(got, reference(&new, &old), "round {round}");
        }
    }
}

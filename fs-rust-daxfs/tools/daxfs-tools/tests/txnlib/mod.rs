// SPDX-License-Identifier: GPL-2.0

//! Shared code of the transaction-layer tests (`txn.rs`, `ops.rs`,
//! `ops_crash.rs`):
//!
//! - [`MemMedium`], an in-memory [`Medium`] that can record every
//!   mutating call (a trace), an undo log and the touched ranges, and
//!   inject I/O errors;
//! - crash images: from a trace, the state after a crash at any event,
//!   keeping every fenced write and a random subset of the unfenced 8-byte
//!   words;
//! - [`Env`], a mounted filesystem over a `MemMedium` (superblock,
//!   cursors, journal cursor, transaction buffers) that runs one closure
//!   per transaction, optionally exploring a crash at every event of every
//!   commit;
//! - [`snapshot`], a description of the namespace read back from an image
//!   with the format code, and [`Model`], the same description maintained
//!   by the tests;
//! - [`fsck_image`], the real fsck on an image;
//! - [`Env::mount_recovery`], what the kernel's read-write mount does with
//!   the orphan list (free the unlinked, roll back interrupted seals).

#![allow(dead_code)]

pub mod world;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use daxfs_format::btree::{NodeStore, Scratch};
use daxfs_format::cache::{Lookup, NodeCache};
use daxfs_format::dir::dir_next;
use daxfs_format::extent::{map_next, Extent, EXTENT_UNWRITTEN};
use daxfs_format::inode::{Inode, MAP_EXTENTS, MAP_INLINE_DATA};
use daxfs_format::journal::{commit_seq, JournalHeader, JH_OFF_COMMIT, JH_SIZE};
use daxfs_format::ops::{op_free_inode, op_seal_end, op_seal_extents};
use daxfs_format::superblock::{Superblock, ROOT_INO};
use daxfs_format::txn::{
    read_superblock, recover, txn_staging_size, Cursors, JournalCursor, Medium, Txn, TxnSpace,
    TXN_MAX_BLOCKS,
};
use daxfs_format::{Block, Error, Layout, Result, BLOCK_SIZE, BLOCK_SIZE_U64};
use daxfs_tools::fsck::{code, fsck, Mode, Options, Report};
use daxfs_tools::mkfs::{mkfs, MkfsOptions};

use crate::common::{scratch, Rng};

/// One mutating call on a medium.
#[derive(Clone, Debug)]
pub enum Ev {
    /// `write` or `store_u64` (8 bytes).
    Write(u64, Vec<u8>),
    /// `fence`.
    Fence,
}

/// An in-memory medium.
#[derive(Default)]
pub struct MemMedium {
    /// The contents (as the CPU sees them).
    pub cur: Vec<u8>,
    /// Mutating calls that changed something.
    pub writes: u64,
    /// Every `write`/`store_u64`/`fence`, if recording.
    pub trace: Option<Vec<Ev>>,
    /// `(offset, old bytes)` of every write, if recording.
    pub undo: Option<Vec<(u64, Vec<u8>)>>,
    /// `(offset, len)` of every write, if recording.
    pub touched: Option<Vec<(u64, u64)>>,
    /// Fail (`Error::Io`) every mutating call once `writes` reaches this.
    pub fail_at: Option<u64>,
    /// A node cache kept as the kernel keeps its own (`pmem.rs`): filled by
    /// `read_node`, forgotten after every write and on `forget`.
    pub cache: Option<NodeCache<Vec<u64>, Vec<u8>>>,
    /// `read_node` calls the cache answered.
    pub cache_hits: u64,
}

impl MemMedium {
    pub fn new(img: Vec<u8>) -> MemMedium {
        MemMedium {
            cur: img,
            ..Default::default()
        }
    }

    fn mutate(&mut self, off: u64, data: &[u8]) -> Result<()> {
        if self.fail_at.is_some_and(|n| self.writes >= n) {
            return Err(Error::Io);
        }
        let s = usize::try_from(off).map_err(|_| Error::Io)?;
        let e = s.checked_add(data.len()).ok_or(Error::Io)?;
        let dst = self.cur.get_mut(s..e).ok_or(Error::Io)?;
        if let Some(u) = &mut self.undo {
            u.push((off, dst.to_vec()));
        }
        if let Some(t) = &mut self.touched {
            t.push((off, data.len() as u64));
        }
        if let Some(t) = &mut self.trace {
            t.push(Ev::Write(off, data.to_vec()));
        }
        dst.copy_from_slice(data);
        self.writes += 1;
        if let Some(c) = &mut self.cache {
            let first = off / BLOCK_SIZE_U64;
            let last = (off + data.len().max(1) as u64 - 1) / BLOCK_SIZE_U64;
            c.forget(first, last - first + 1);
        }
        Ok(())
    }

    /// Turns on a node cache of `slots` slots for checksum seed `seed`.
    pub fn enable_cache(&mut self, slots: usize, seed: u32) {
        self.cache = NodeCache::new(
            vec![0; slots],
            vec![0; slots],
            vec![0; slots * BLOCK_SIZE],
            seed,
        );
        assert!(self.cache.is_some());
    }

    /// Every cached node equals the medium's block.
    pub fn check_cache(&self, what: &str) {
        let Some(c) = &self.cache else { return };
        for (blk, d) in c.entries() {
            let o = (blk * BLOCK_SIZE_U64) as usize;
            assert!(
                self.cur[o..o + BLOCK_SIZE] == *d,
                "{what}: cached block {blk} differs from the medium"
            );
        }
    }
}

impl Medium for MemMedium {
    fn read(&mut self, off: u64, buf: &mut [u8]) -> Result<()> {
        let s = usize::try_from(off).map_err(|_| Error::Io)?;
        let e = s.checked_add(buf.len()).ok_or(Error::Io)?;
        buf.copy_from_slice(self.cur.get(s..e).ok_or(Error::Io)?);
        Ok(())
    }
    fn write(&mut self, off: u64, data: &[u8]) -> Result<()> {
        self.mutate(off, data)
    }
    fn store_u64(&mut self, off: u64, v: u64) -> Result<()> {
        assert_eq!(off % 8, 0, "unaligned 8-byte store at {}", off);
        self.mutate(off, &v.to_le_bytes())
    }
    fn fence(&mut self) {
        if let Some(t) = &mut self.trace {
            t.push(Ev::Fence);
        }
    }
    fn read_node(&mut self, blk: u64, buf: &mut Block) -> Result<bool> {
        let Some(c) = &mut self.cache else {
            self.read(blk * BLOCK_SIZE_U64, buf)?;
            return Ok(false);
        };
        let gen = match c.get(blk, buf) {
            Lookup::Hit => {
                self.cache_hits += 1;
                return Ok(true);
            }
            Lookup::Miss(g) => g,
        };
        self.read(blk * BLOCK_SIZE_U64, buf)?;
        let c = self.cache.as_mut().ok_or(Error::Io)?;
        Ok(c.insert(blk, gen, buf))
    }
    fn forget(&mut self, blk: u64, len: u64) {
        if let Some(c) = &mut self.cache {
            c.forget(blk, len);
        }
    }
}

/// A read-only node store over an image.
pub struct SliceStore<'a>(pub &'a [u8]);

impl NodeStore for SliceStore<'_> {
    fn read(&mut self, blk: u64, buf: &mut Block) -> Result<()> {
        let s = (blk * BLOCK_SIZE_U64) as usize;
        buf.copy_from_slice(self.0.get(s..s + BLOCK_SIZE).ok_or(Error::Io)?);
        Ok(())
    }
    fn write(&mut self, _: u64, _: &Block) -> Result<()> {
        Err(Error::Io)
    }
    fn alloc(&mut self) -> Result<u64> {
        Err(Error::Io)
    }
    fn free(&mut self, _: u64) -> Result<()> {
        Err(Error::Io)
    }
}

/// A fresh image of `size` bytes made by the real mkfs (fixed UUID and
/// hash key, so runs are reproducible).
pub fn fresh_image(size: u64, inodes: Option<u64>) -> Vec<u8> {
    let d = scratch("txn-mkfs");
    let p = d.join("img");
    mkfs(&MkfsOptions {
        device: p.clone(),
        size: Some(size),
        force: true,
        quiet: true,
        uuid: Some(*b"daxfs-txn-tests!"),
        hash_key: Some(*b"0123456789abcdef"),
        inode_count: inodes,
        ..Default::default()
    })
    .unwrap();
    let img = std::fs::read(&p).unwrap();
    std::fs::remove_dir_all(&d).unwrap();
    img
}

/// Byte range of the journal area.
pub fn journal_range(l: &Layout) -> (u64, u64) {
    (
        l.journal_start * BLOCK_SIZE_U64,
        (l.journal_start + l.journal_blocks) * BLOCK_SIZE_U64,
    )
}

/// The decoded journal header of an image.
pub fn journal_header(img: &[u8], l: &Layout) -> JournalHeader {
    let o = (l.journal_start * BLOCK_SIZE_U64) as usize;
    JournalHeader::decode(&img[o..o + JH_SIZE], l).unwrap()
}

/// Runs fsck -n on a copy of `img` written to `path`.
pub fn fsck_image(img: &[u8], path: &Path) -> Report {
    std::fs::write(path, img).unwrap();
    fsck(
        path,
        Options {
            mode: Mode::No,
            ..Default::default()
        },
    )
}

/// fsck must find nothing but `orphans` orphans (unlinked inodes still
/// open when the image was taken; `None`: any number).
pub fn assert_fsck_clean(img: &[u8], path: &Path, orphans: Option<usize>, what: &str) {
    let r = fsck_image(img, path);
    let others: Vec<_> = r
        .problems
        .iter()
        .filter(|p| p.code != code::ORPHAN)
        .collect();
    let n = r.problems.len() - others.len();
    assert!(
        others.is_empty() && orphans.is_none_or(|o| o == n),
        "{}: fsck found problems (expected {:?} orphans): {:#?}",
        what,
        orphans,
        r.lines
    );
    if n == 0 {
        assert_eq!(r.exit, 0, "{}: {:?}", what, r.lines);
    }
}

/// Counters of the crash exploration.
#[derive(Debug, Default, Clone)]
pub struct CrashStats {
    /// Transactions explored.
    pub txns: u64,
    /// Crash points tried.
    pub points: u64,
    /// Recoveries that replayed a transaction.
    pub replays: u64,
    /// Outcomes equal to the state before the transaction.
    pub old: u64,
    /// Outcomes equal to the state after it.
    pub new: u64,
    /// Recoveries that had to use the backup superblock (torn primary).
    pub torn_primary: u64,
    /// Crash images checked by fsck.
    pub fscked: u64,
    /// Times the run continued from a recovered image.
    pub continued: u64,
}

/// Crash exploration settings of an [`Env`].
pub struct CrashCfg {
    pub rng: Rng,
    /// Run fsck on every n-th crash image.
    pub fsck_every: u64,
    /// Percentage of transactions after which the run continues from a
    /// recovered post-commit crash image instead of the clean one.
    pub continue_pct: u64,
    pub img_path: PathBuf,
    pub stats: CrashStats,
}

/// A mounted filesystem on a [`MemMedium`].
pub struct Env {
    pub m: MemMedium,
    pub sb: Superblock,
    pub cur: Cursors,
    pub j: JournalCursor,
    pub blks: Vec<u64>,
    pub data: Vec<u8>,
    pub orig: Vec<u8>,
    pub staging: Vec<u8>,
    pub s: Box<Scratch>,
    pub crash: Option<CrashCfg>,
    pub commits: u64,
}

impl Env {
    /// "Mounts" `img`: superblock (the backup if the primary is torn),
    /// recovery, superblock again. Returns the environment and whether a
    /// transaction was replayed.
    pub fn open(img: Vec<u8>) -> Result<(Env, bool)> {
        Env::open_with(img, TXN_MAX_BLOCKS)
    }

    /// [`Env::open`] with `nslots` transaction slots.
    pub fn open_with(img: Vec<u8>, nslots: usize) -> Result<(Env, bool)> {
        let mut m = MemMedium::new(img);
        let blocks = m.cur.len() as u64 / BLOCK_SIZE_U64;
        let (sb, backup) = read_superblock(&mut m, blocks)?;
        let mut staging = vec![0u8; txn_staging_size(nslots)];
        let (j, replayed) = recover(&mut m, &sb, &mut staging)?;
        let sb = if replayed || backup {
            let (sb2, b2) = read_superblock(&mut m, blocks)?;
            assert!(!b2, "primary superblock still torn after recovery");
            sb2
        } else {
            sb
        };
        Ok((
            Env {
                m,
                sb,
                cur: Cursors::default(),
                j,
                blks: vec![0; nslots],
                data: vec![0; nslots * BLOCK_SIZE],
                orig: vec![0; nslots * BLOCK_SIZE],
                staging,
                s: Box::new(Scratch::new()),
                crash: None,
                commits: 0,
            },
            replayed,
        ))
    }

    pub fn layout(&self) -> Layout {
        self.sb.layout
    }

    /// What the kernel does with the orphan list when a mount starts
    /// writing (`mount.rs` `start_writing`, `seal.rs` `recover`), with the
    /// shared format functions, one transaction each (explored for crashes
    /// if crash exploration is on): until the list is empty, its head is
    /// freed if it has no links (`op_free_inode` in steps of `budget`
    /// extents), or, if it has links and a seal intent, rolled back to not
    /// sealed (`op_seal_extents(.., false, budget)` until done, then
    /// `op_seal_end`, which takes it off the list); anything else on the
    /// list, or a list longer than the inode table, is corruption.
    /// Returns (inodes freed, seals rolled back).
    pub fn mount_recovery(&mut self, budget: usize) -> Result<(u64, u64)> {
        let max = self.sb.layout.inode_count;
        let (mut freed, mut healed) = (0u64, 0u64);
        loop {
            let head = self.sb.orphan_head;
            if head == 0 {
                return Ok((freed, healed));
            }
            if freed + healed >= max {
                return Err(Error::Corrupt("orphan list longer than the inode table"));
            }
            let raw = inode_of(&self.m.cur, &self.sb, head)
                .ok_or(Error::Corrupt("free inode on the orphan list"))?;
            if raw.nlink == 0 {
                while !self.txn(|t, s| {
                    let mut i = t.read_inode(head)?;
                    op_free_inode(t, s, head, &mut i, budget)
                })? {}
                freed += 1;
            } else if raw.seal_intent() {
                let mut at = Some(0);
                while let Some(from) = at {
                    at = self.txn(|t, s| {
                        let mut i = t.read_inode(head)?;
                        op_seal_extents(t, s, head, &mut i, from, false, budget)
                    })?;
                }
                self.txn(|t, s| {
                    let mut i = t.read_inode(head)?;
                    op_seal_end(t, s, head, &mut i)
                })?;
                healed += 1;
            } else {
                return Err(Error::Corrupt(
                    "a linked inode without a seal intent is listed",
                ));
            }
        }
    }

    /// Runs `f` in one transaction and commits it; on error the
    /// transaction is dropped and the medium must be untouched. With
    /// crash exploration on, `f` must be deterministic (it is re-run).
    pub fn txn<R>(
        &mut self,
        mut f: impl FnMut(&mut Txn<'_, MemMedium>, &mut Scratch) -> Result<R>,
    ) -> Result<R> {
        if self.crash.is_none() {
            return self.run(&mut f);
        }
        let before = self.m.cur.clone();
        self.m.trace = Some(Vec::new());
        let r = self.run(&mut f);
        let trace = self.m.trace.take().unwrap();
        if !trace.is_empty() {
            self.explore(&before, &trace);
        }
        r
    }

    fn run<R>(
        &mut self,
        f: &mut impl FnMut(&mut Txn<'_, MemMedium>, &mut Scratch) -> Result<R>,
    ) -> Result<R> {
        let w0 = self.m.writes;
        let space = TxnSpace {
            blks: &mut self.blks,
            data: &mut self.data,
            orig: &mut self.orig,
            staging: &mut self.staging,
        };
        let mut t = Txn::new(&mut self.m, &self.sb, space, &mut self.cur);
        match f(&mut t, &mut self.s) {
            Ok(v) => match t.commit(&mut self.j) {
                Ok(sb) => {
                    self.sb = sb;
                    self.commits += 1;
                    let on_disk = Superblock::decode(&self.m.cur[..512]).unwrap();
                    assert_eq!(on_disk, sb, "committed superblock differs from block 0");
                    let h = journal_header(&self.m.cur, &sb.layout);
                    assert_eq!(commit_seq(h.commit) as u64, h.applied, "journal not clean");
                    Ok(v)
                }
                Err(e) => {
                    if e != Error::Io {
                        assert_eq!(self.m.writes, w0, "commit failed with {:?} but wrote", e);
                    }
                    Err(e)
                }
            },
            Err(e) => {
                let _ = t;
                assert_eq!(self.m.writes, w0, "failed operation ({:?}) wrote", e);
                Err(e)
            }
        }
    }

    /// Crashes at every event of `trace` (which took the image from
    /// `before` to `self.m.cur`), recovers, and checks that the result is
    /// the old or the new state (byte for byte outside the journal), the
    /// old one when the commit word cannot have been durable, the new one
    /// when it must have been.
    fn explore(&mut self, before: &[u8], trace: &[Ev]) {
        let l = self.layout();
        let (j0, j1) = journal_range(&l);
        let commit_off = l.journal_start * BLOCK_SIZE_U64 + JH_OFF_COMMIT as u64;
        let store = trace
            .iter()
            .position(|e| matches!(e, Ev::Write(o, d) if *o == commit_off && d.len() == 8))
            .expect("no commit store in the trace");
        let fence_after = store
            + trace[store..]
                .iter()
                .position(|e| matches!(e, Ev::Fence))
                .unwrap();
        // Writes before the log are unjournaled file data (to blocks the
        // transaction allocates, free in the old state): they only have
        // to be there in the new state.
        let log_off = (l.journal_start + 1) * BLOCK_SIZE_U64;
        let log_ev = trace
            .iter()
            .position(|e| matches!(e, Ev::Write(o, _) if *o == log_off))
            .expect("no log write in the trace");
        let ranges_of = |evs: &[Ev]| {
            let mut r: Vec<(u64, u64)> = evs
                .iter()
                .filter_map(|e| match e {
                    Ev::Write(o, d) => Some((*o, d.len() as u64)),
                    Ev::Fence => None,
                })
                .collect();
            r.sort();
            r.dedup();
            r
        };
        let data_ranges = ranges_of(&trace[..log_ev]);
        let ranges = ranges_of(&trace[log_ev..]);
        let after = self.m.cur.clone();
        let mut cfg = self.crash.take().unwrap();
        cfg.stats.txns += 1;
        let mut w = before.to_vec();
        let mut staging = vec![0u8; self.staging.len()];
        let blocks = w.len() as u64 / BLOCK_SIZE_U64;
        let mut cont: Option<Vec<u8>> = None;
        let want_cont = cfg.rng.below(100) < cfg.continue_pct;
        let mut seen = vec![0u64; w.len().div_ceil(8 * 64)];
        // Every event, except that of the unjournaled data writes before
        // the log (all before the commit point, where only the old state
        // is possible) only the first, the last and two random ones.
        let mut points: Vec<usize> = (0..=trace.len())
            .filter(|&k| k == 0 || k > log_ev)
            .collect();
        if log_ev > 0 {
            points.extend([1, log_ev]);
            points.push(1 + cfg.rng.below(log_ev as u64) as usize);
            points.push(1 + cfg.rng.below(log_ev as u64) as usize);
        }
        points.sort();
        points.dedup();
        for k in points {
            let undo = crash_image(&mut w, trace, k, &mut cfg.rng, &mut seen);
            let mut m = MemMedium::new(std::mem::take(&mut w));
            m.undo = Some(Vec::new());
            m.touched = Some(Vec::new());
            let (sb, backup) = read_superblock(&mut m, blocks)
                .unwrap_or_else(|e| panic!("crash at event {}: no superblock: {:?}", k, e));
            let (jc, replayed) = recover(&mut m, &sb, &mut staging)
                .unwrap_or_else(|e| panic!("crash at event {}: recovery failed: {:?}", k, e));
            cfg.stats.points += 1;
            if backup {
                cfg.stats.torn_primary += 1;
                assert!(
                    replayed,
                    "crash at event {}: torn primary without replay",
                    k
                );
                assert!(!read_superblock(&mut m, blocks).unwrap().1);
            }
            if replayed {
                cfg.stats.replays += 1;
            }
            let h = journal_header(&m.cur, &l);
            assert_eq!(commit_seq(h.commit) as u64, h.applied);
            assert_eq!(jc.next_seq, commit_seq(h.commit).wrapping_add(1));
            let mut all = ranges.clone();
            all.extend(m.touched.as_ref().unwrap().iter().copied());
            let same = |img: &[u8]| {
                all.iter().all(|&(o, n)| {
                    let (a, b) = (o, o + n);
                    let mut eq = true;
                    for (s, e) in [(a, b.min(j0)), (a.max(j1), b)] {
                        if s < e {
                            eq &= m.cur[s as usize..e as usize] == img[s as usize..e as usize];
                        }
                    }
                    eq
                })
            };
            let (is_old, is_new) = (same(before), same(&after));
            if is_new && !is_old {
                for &(o, n) in &data_ranges {
                    let (a, b) = (o as usize, (o + n) as usize);
                    assert!(
                        m.cur[a..b] == after[a..b],
                        "crash at event {}: committed, but the file data written before it is lost",
                        k
                    );
                }
            }
            assert!(
                is_old || is_new,
                "crash at event {} of {}: a mix of the old and the new state",
                k,
                trace.len()
            );
            if k <= store {
                assert!(
                    is_old,
                    "crash at event {} before the commit point: not old",
                    k
                );
            }
            if k > fence_after {
                assert!(
                    is_new,
                    "crash at event {} after the commit point: not new",
                    k
                );
            }
            if is_new && !is_old {
                cfg.stats.new += 1;
            } else {
                cfg.stats.old += 1;
            }
            if (cfg.stats.points % cfg.fsck_every) == 0 {
                cfg.stats.fscked += 1;
                assert_fsck_clean(
                    &m.cur,
                    &cfg.img_path,
                    None,
                    &format!("crash at event {}", k),
                );
            }
            if want_cont && cont.is_none() && k > fence_after && cfg.rng.below(3) == 0 {
                cont = Some(m.cur.clone());
            }
            // Undo recovery, then the crash.
            w = std::mem::take(&mut m.cur);
            for (o, d) in m.undo.take().unwrap().into_iter().rev() {
                w[o as usize..o as usize + d.len()].copy_from_slice(&d);
            }
            for (o, d) in undo.into_iter().rev() {
                w[o..o + d.len()].copy_from_slice(&d);
            }
        }
        debug_assert!(w == before);
        if let Some(img) = cont {
            cfg.stats.continued += 1;
            let (e, replayed) = Env::open_with(img, self.blks.len()).unwrap();
            assert!(!replayed, "recovered image needs a second replay");
            let cur = self.cur;
            self.m = e.m;
            self.sb = e.sb;
            self.j = e.j;
            self.cur = cur;
        }
        self.crash = Some(cfg);
    }
}

/// Turns `w` (the state before `trace`) into the state after a crash just
/// before event `k`: every write up to the last fence before `k` is
/// durable; of the later ones, each 8-byte word they touched keeps its
/// new value or reverts to its last durable value at random. Returns the
/// undo log `(offset, old bytes)`.
///
/// `seen` is a zeroed bitmap of the image's words, left zeroed.
pub fn crash_image(
    w: &mut [u8],
    trace: &[Ev],
    k: usize,
    rng: &mut Rng,
    seen: &mut [u64],
) -> Vec<(usize, Vec<u8>)> {
    let mut undo = Vec::new();
    let durable_end = trace[..k]
        .iter()
        .rposition(|e| matches!(e, Ev::Fence))
        .map_or(0, |i| i + 1);
    let apply = |w: &mut [u8], o: usize, d: &[u8], undo: &mut Vec<(usize, Vec<u8>)>| {
        undo.push((o, w[o..o + d.len()].to_vec()));
        w[o..o + d.len()].copy_from_slice(d);
    };
    for e in &trace[..durable_end] {
        if let Ev::Write(o, d) = e {
            apply(w, *o as usize, d, &mut undo);
        }
    }
    let mut saved: Vec<(usize, [u8; 8])> = Vec::new();
    for e in &trace[durable_end..k] {
        if let Ev::Write(o, d) = e {
            let o = *o as usize;
            for word in o / 8..(o + d.len()).div_ceil(8) {
                let (i, bit) = (word / 64, 1u64 << (word % 64));
                if seen[i] & bit == 0 {
                    seen[i] |= bit;
                    saved.push((word, w[word * 8..word * 8 + 8].try_into().unwrap()));
                }
            }
            apply(w, o, d, &mut undo);
        }
    }
    for (word, old) in saved {
        seen[word / 64] = 0;
        if rng.below(2) == 0 {
            apply(w, word * 8, &old, &mut undo);
        }
    }
    undo
}

// ---- Reading the namespace back ----

/// One inode as the tests compare it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SInode {
    pub mode: u16,
    pub nlink: u32,
    /// Size (0 for directories, whose size depends on their index).
    pub size: u64,
    pub parent: u64,
    pub rdev: u32,
    /// Mapped logical runs `(lblk, len, unwritten)`, adjacent runs of the
    /// same kind merged.
    pub ext: Vec<(u64, u64, bool)>,
    pub target: Option<Vec<u8>>,
}

/// The namespace: inodes reachable from the root plus the orphan list,
/// and the entries of every reachable directory.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snap {
    pub inodes: BTreeMap<u64, SInode>,
    pub dirs: BTreeMap<u64, BTreeMap<Vec<u8>, u64>>,
    pub orphans: BTreeSet<u64>,
}

fn runs(blocks: impl Iterator<Item = (u64, bool)>) -> Vec<(u64, u64, bool)> {
    let mut out: Vec<(u64, u64, bool)> = Vec::new();
    for (b, u) in blocks {
        match out.last_mut() {
            Some(r) if r.0 + r.1 == b && r.2 == u => r.1 += 1,
            _ => out.push((b, 1, u)),
        }
    }
    out
}

/// All extents of an inode, in order.
pub fn extents_of(img: &[u8], ctx: &daxfs_format::FsCtx, ino: u64, i: &Inode) -> Vec<Extent> {
    let mut st = SliceStore(img);
    let mut s = Box::new(Scratch::new());
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(e) = map_next(i, ino, ctx, &mut st, &mut s, at).unwrap() {
        assert!(e.lend() > at);
        at = e.lend();
        out.push(e);
    }
    out
}

fn describe(img: &[u8], ctx: &daxfs_format::FsCtx, ino: u64, i: &Inode) -> SInode {
    let mut ext = Vec::new();
    let mut target = None;
    if i.is_reg() {
        let mut blocks = Vec::new();
        for e in extents_of(img, ctx, ino, i) {
            for b in e.lblk..e.lend() {
                blocks.push((b, e.flags & EXTENT_UNWRITTEN != 0));
            }
        }
        ext = runs(blocks.into_iter());
    } else if i.is_symlink() {
        target = Some(match i.map_kind {
            MAP_INLINE_DATA => i.inline_data().unwrap().to_vec(),
            MAP_EXTENTS => {
                let e = Extent::decode_inline(&i.map, 0).unwrap();
                let o = (e.pblk * BLOCK_SIZE_U64) as usize;
                img[o..o + i.size as usize].to_vec()
            }
            k => panic!("symlink {} with map kind {}", ino, k),
        });
    }
    SInode {
        mode: i.mode,
        nlink: i.nlink,
        size: if i.is_dir() { 0 } else { i.size },
        parent: i.parent,
        rdev: i.rdev,
        ext,
        target,
    }
}

/// Reads inode `ino` of an image.
pub fn inode_of(img: &[u8], sb: &Superblock, ino: u64) -> Option<Inode> {
    let o = sb.layout.inode_offset(ino).unwrap() as usize;
    Inode::decode(&img[o..o + 256], ino, sb.ctx().csum_seed).unwrap()
}

/// Describes the namespace of an image.
pub fn snapshot(img: &[u8]) -> Snap {
    let sb = Superblock::decode(&img[..512]).unwrap();
    let ctx = sb.ctx();
    let mut snap = Snap::default();
    let mut st = SliceStore(img);
    let mut s = Box::new(Scratch::new());
    let mut stack = vec![ROOT_INO];
    while let Some(d) = stack.pop() {
        let di = inode_of(img, &sb, d).unwrap();
        snap.inodes.insert(d, describe(img, &ctx, d, &di));
        let mut ents = BTreeMap::new();
        let mut pos = 0;
        while let Some((k, e)) = dir_next(&di, d, &ctx, &mut st, &mut s, pos).unwrap() {
            pos = k + 1;
            ents.insert(e.name().to_vec(), e.ino);
            let ci = inode_of(img, &sb, e.ino).expect("entry to a free inode");
            if ci.is_dir() {
                stack.push(e.ino);
            } else {
                snap.inodes.insert(e.ino, describe(img, &ctx, e.ino, &ci));
            }
        }
        snap.dirs.insert(d, ents);
    }
    // The orphan list: unlinked inodes (`orphans`) and linked files with a
    // pending seal intent (reachable, so already described).
    let mut cur = sb.orphan_head;
    let mut prev = 0u64;
    let mut listed = BTreeSet::new();
    while cur != 0 {
        assert!(listed.insert(cur), "orphan list loops at {}", cur);
        let i = inode_of(img, &sb, cur).expect("free inode on the orphan list");
        assert!(
            i.belongs_on_orphan_list(),
            "orphan {} has links and no seal intent",
            cur
        );
        assert_eq!(
            u64::from(i.prev_orphan),
            prev,
            "orphan {} links back wrong",
            cur
        );
        prev = cur;
        if i.nlink == 0 {
            snap.orphans.insert(cur);
            snap.inodes.insert(cur, describe(img, &ctx, cur, &i));
        }
        cur = u64::from(i.next_orphan);
    }
    snap
}

/// First difference between two snapshots.
pub fn diff(model: &Snap, disk: &Snap) -> Option<String> {
    if model.orphans != disk.orphans {
        return Some(format!(
            "orphans: model {:?}, disk {:?}",
            model.orphans, disk.orphans
        ));
    }
    for (k, v) in &model.inodes {
        match disk.inodes.get(k) {
            None => return Some(format!("inode {} missing on disk: {:?}", k, v)),
            Some(d) if d != v => {
                return Some(format!("inode {}:\n model {:?}\n disk  {:?}", k, v, d))
            }
            _ => {}
        }
    }
    for k in disk.inodes.keys() {
        if !model.inodes.contains_key(k) {
            return Some(format!("inode {} on disk only: {:?}", k, disk.inodes[k]));
        }
    }
    if model.dirs != disk.dirs {
        for (k, v) in &model.dirs {
            if disk.dirs.get(k) != Some(v) {
                return Some(format!(
                    "directory {}:\n model {:?}\n disk  {:?}",
                    k,
                    v,
                    disk.dirs.get(k)
                ));
            }
        }
        return Some("directory sets differ".into());
    }
    None
}

// ---- The model ----

/// A model inode.
#[derive(Clone, Debug)]
pub struct MInode {
    pub mode: u16,
    pub nlink: u32,
    pub size: u64,
    pub parent: u64,
    pub rdev: u32,
    /// Mapped logical block -> unwritten.
    pub blocks: BTreeMap<u64, bool>,
    /// Written logical block -> the tag every 8-byte word of it holds.
    pub tags: BTreeMap<u64, u64>,
    pub target: Option<Vec<u8>>,
}

impl MInode {
    pub fn is_dir(&self) -> bool {
        self.mode & 0o170000 == 0o040000
    }
    pub fn is_reg(&self) -> bool {
        self.mode & 0o170000 == 0o100000
    }
}

/// The expected namespace.
#[derive(Clone, Debug, Default)]
pub struct Model {
    pub inodes: BTreeMap<u64, MInode>,
    pub dirs: BTreeMap<u64, BTreeMap<Vec<u8>, u64>>,
    pub orphans: BTreeSet<u64>,
}

impl Model {
    /// The model of a fresh filesystem (an empty root).
    pub fn fresh(img: &[u8]) -> Model {
        let sb = Superblock::decode(&img[..512]).unwrap();
        let r = inode_of(img, &sb, ROOT_INO).unwrap();
        let mut m = Model::default();
        m.inodes.insert(
            ROOT_INO,
            MInode {
                mode: r.mode,
                nlink: 2,
                size: 0,
                parent: ROOT_INO,
                rdev: 0,
                blocks: BTreeMap::new(),
                tags: BTreeMap::new(),
                target: None,
            },
        );
        m.dirs.insert(ROOT_INO, BTreeMap::new());
        m
    }

    pub fn snap(&self) -> Snap {
        let mut s = Snap {
            orphans: self.orphans.clone(),
            dirs: self.dirs.clone(),
            ..Default::default()
        };
        for (k, i) in &self.inodes {
            s.inodes.insert(
                *k,
                SInode {
                    mode: i.mode,
                    nlink: i.nlink,
                    size: if i.is_dir() { 0 } else { i.size },
                    parent: i.parent,
                    rdev: i.rdev,
                    ext: runs(i.blocks.iter().map(|(b, u)| (*b, *u))),
                    target: i.target.clone(),
                },
            );
        }
        s
    }

    /// True if `a` is `d` or one of its ancestors.
    pub fn is_ancestor_or_self(&self, a: u64, mut d: u64) -> bool {
        for _ in 0..10_000 {
            if d == a {
                return true;
            }
            if d == ROOT_INO {
                return false;
            }
            d = self.inodes[&d].parent;
        }
        panic!("parent loop");
    }
}

/// A block whose every 8-byte word is `tag`.
pub fn tag_block(tag: u64) -> Vec<u8> {
    tag.to_le_bytes().repeat(BLOCK_SIZE / 8)
}

/// Asserts that every written block of every file holds its tag.
pub fn assert_data(model: &Model, img: &[u8], what: &str) {
    let sb = Superblock::decode(&img[..512]).unwrap();
    let ctx = sb.ctx();
    for (ino, m) in &model.inodes {
        if m.tags.is_empty() {
            continue;
        }
        let i = inode_of(img, &sb, *ino).unwrap();
        for e in extents_of(img, &ctx, *ino, &i) {
            for b in e.lblk..e.lend() {
                if let Some(tag) = m.tags.get(&b) {
                    let o = ((e.pblk + b - e.lblk) * BLOCK_SIZE_U64) as usize;
                    let blk = &img[o..o + BLOCK_SIZE];
                    assert!(
                        blk.chunks(8).all(|w| w == tag.to_le_bytes()),
                        "{}: inode {} block {} (pblk {}) lost its data",
                        what,
                        ino,
                        b,
                        e.pblk + b - e.lblk
                    );
                }
            }
        }
    }
}

/// Asserts that the image holds what the model expects.
pub fn assert_matches(model: &Model, img: &[u8], what: &str) {
    if let Some(d) = diff(&model.snap(), &snapshot(img)) {
        panic!("{}: model and disk differ: {}", what, d);
    }
}

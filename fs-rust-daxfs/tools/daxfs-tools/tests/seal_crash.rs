// SPDX-License-Identifier: GPL-2.0

//! Crash atomicity of sealing and unsealing a block map, at the format
//! level. A regular file of many extents (an extent tree, with holes,
//! unwritten extents and a preallocation past its end) is sealed the way
//! `seal.rs` does it (preparation: fill the holes, free what lies past the
//! end, zero and convert the unwritten extents; then `op_seal_begin`,
//! `op_seal_extents` with a small budget in many transactions,
//! `op_seal_inode`), then unsealed (`op_unseal_begin`, `op_seal_extents`,
//! `op_seal_end`). Every transaction is traced and, for every event of its
//! trace (inside the commit protocol too), the image a crash just before
//! that event leaves is built (`txnlib::crash_image`) and checked:
//!
//! - the journal recovery (mount) gives the state before or after the
//!   transaction, the old one when the commit word cannot be durable, the
//!   new one when it must be;
//! - `fsck -n` finds no damage: on the raw image at most the pending
//!   journal transaction (and a torn primary superblock it repairs), on the
//!   recovered image nothing at all, a pending seal intent included;
//! - the mount's orphan-list recovery ([`Env::mount_recovery`]) leaves the
//!   file either fully sealed (flag set, no intent, every extent SEALED and
//!   written, covering exactly `[0, ceil(size / 4096))`) or not sealed
//!   with no SEALED extent anywhere, and off the orphan list; sealed
//!   exactly when the crash came after `op_seal_inode` committed and
//!   before `op_unseal_begin` did; with the block map of the crash image
//!   (the roll-back changes only flags); and `fsck -n` clean;
//! - `fsck -y` on the raw crash image heals it to the same state (inode,
//!   map, free counters, namespace, and every byte of the bitmaps, group
//!   table, inode table and data area).
//!
//! Finally the recovery itself is crash-explored from two interrupted
//! states (half sealed, half unsealed).

#![allow(missing_docs)]

mod common;
mod txnlib;

use std::path::{Path, PathBuf};

use daxfs_format::btree::Scratch;
use daxfs_format::extent::{Extent, EXTENT_SEALED, EXTENT_UNWRITTEN, MAX_FILE_BLOCKS};
use daxfs_format::inode::{Inode, Timespec};
use daxfs_format::journal::JH_OFF_COMMIT;
use daxfs_format::ops::*;
use daxfs_format::superblock::Superblock;
use daxfs_format::txn::{Medium, Txn};
use daxfs_format::{Result, BLOCK_SIZE, BLOCK_SIZE_U64};
use daxfs_tools::fsck::{code, fsck, Mode, Options, EXIT_CORRECTED, EXIT_OK};

use txnlib::world::World;
use txnlib::*;

/// Extents per `op_seal_extents` transaction of the sequence.
const SEAL_BUDGET: usize = 3;
/// Extents per transaction of the mount's recovery.
const RECOVERY_BUDGET: usize = 4;
/// Whether the file must be sealed after recovery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Sealed,
    Unsealed,
}

/// What the test compares between a recovered image and the states
/// before and after a transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
struct State {
    inode: Inode,
    ext: Vec<Extent>,
    orphan_head: u64,
    free_blocks: u64,
    free_inodes: u64,
}

fn state(img: &[u8], ino: u64) -> State {
    let sb = Superblock::decode(&img[..512]).unwrap();
    let inode = inode_of(img, &sb, ino).unwrap();
    State {
        inode,
        ext: extents_of(img, &sb.ctx(), ino, &inode),
        orphan_head: sb.orphan_head,
        free_blocks: sb.free_blocks,
        free_inodes: sb.free_inodes,
    }
}

/// The extents without their SEALED flags.
fn unsealed(ext: &[Extent]) -> Vec<Extent> {
    ext.iter()
        .map(|e| Extent {
            flags: e.flags & !EXTENT_SEALED,
            ..*e
        })
        .collect()
}

/// Asserts what recovery guarantees for file `ino` of `img`: no intent,
/// off the orphan list, and either fully sealed or not sealed without a
/// SEALED extent. Returns whether it is sealed.
fn assert_healed(img: &[u8], ino: u64, what: &str) -> bool {
    let sb = Superblock::decode(&img[..512]).unwrap();
    let i = inode_of(img, &sb, ino).unwrap();
    assert!(!i.seal_intent(), "{}: intent left", what);
    assert_eq!(
        (sb.orphan_head, i.next_orphan, i.prev_orphan),
        (0, 0, 0),
        "{}: still listed",
        what
    );
    let ext = extents_of(img, &sb.ctx(), ino, &i);
    if !i.is_sealed() {
        assert!(
            ext.iter().all(|e| e.flags & EXTENT_SEALED == 0),
            "{}: not sealed, with SEALED extents: {:?}",
            what,
            ext
        );
        return false;
    }
    let mut at = 0;
    for e in &ext {
        assert_eq!(e.lblk, at, "{}: sealed file with a hole: {:?}", what, ext);
        assert_eq!(e.flags, EXTENT_SEALED, "{}: {:?}", what, ext);
        at = e.lend();
    }
    assert_eq!(
        at,
        i.size.div_ceil(BLOCK_SIZE_U64),
        "{}: sealed map does not cover the size",
        what
    );
    true
}

/// fsck -n of the file `path` (already written).
fn fsck_n(path: &Path) -> daxfs_tools::fsck::Report {
    fsck(
        path,
        Options {
            mode: Mode::No,
            ..Default::default()
        },
    )
}

#[derive(Debug, Default)]
struct Stats {
    txns: u64,
    points: u64,
    old: u64,
    new: u64,
    replays: u64,
    /// Crash images whose file had a pending intent.
    intents: u64,
    /// Crash images that recovered to a sealed file.
    sealed: u64,
    /// Crash images that went through fsck -y.
    fsck_y: u64,
    /// fsck -y runs that rolled a seal back.
    fsck_y_rollbacks: u64,
    /// Crash images with a torn primary superblock.
    torn: u64,
}

struct Run {
    w: World,
    ino: u64,
    rng: common::Rng,
    raw_path: PathBuf,
    img_path: PathBuf,
    st: Stats,
    /// Crash images (journal recovered) kept to explore the recovery.
    half: Vec<Vec<u8>>,
}

impl Run {
    /// Runs `f` in one transaction and explores a crash at every event
    /// of its commit; `outcome` is what recovery must give from the state
    /// before and from the state after it. Returns what `f` returned.
    fn txn<R>(
        &mut self,
        what: &str,
        outcome: (Outcome, Outcome),
        f: impl FnMut(&mut Txn<'_, MemMedium>, &mut Scratch) -> Result<R>,
    ) -> R {
        let ino = self.ino;
        let before = self.w.env.m.cur.clone();
        let old = state(&before, ino);
        self.w.env.m.trace = Some(Vec::new());
        let r = self
            .w
            .env
            .txn(f)
            .unwrap_or_else(|e| panic!("{}: {:?}", what, e));
        let trace = self.w.env.m.trace.take().unwrap();
        let after = self.w.env.m.cur.clone();
        let new = state(&after, ino);
        assert_ne!(old, new, "{}: the transaction changed nothing", what);
        let l = self.w.env.layout();
        let commit_off = l.journal_start * BLOCK_SIZE_U64 + JH_OFF_COMMIT as u64;
        let store = trace
            .iter()
            .position(|e| matches!(e, Ev::Write(o, d) if *o == commit_off && d.len() == 8))
            .expect("no commit store in the trace");
        let fence_after = store
            + trace[store..]
                .iter()
                .position(|e| matches!(e, Ev::Fence))
                .expect("no fence after the commit store");
        let mut img = before.clone();
        let mut seen = vec![0u64; img.len().div_ceil(8 * 64)];
        for k in 0..=trace.len() {
            let at = format!("{}, crash at event {} of {}", what, k, trace.len());
            let undo = crash_image(&mut img, &trace, k, &mut self.rng, &mut seen);
            let y = self.fsck_raw(&img, &at);
            // Mount: journal recovery.
            let (mut env, replayed) =
                Env::open(img.clone()).unwrap_or_else(|e| panic!("{}: mount failed: {:?}", at, e));
            self.st.replays += u64::from(replayed);
            let got = state(&env.m.cur, ino);
            let is_old = got == old;
            assert!(
                is_old || got == new,
                "{}: neither the old nor the new state: {:?}\nold {:?}\nnew {:?}",
                at,
                got,
                old,
                new
            );
            if k <= store {
                assert!(is_old, "{}: before the commit point, not old", at);
            }
            if k > fence_after {
                assert!(!is_old, "{}: after the commit point, not new", at);
            }
            if is_old {
                self.st.old += 1;
            } else {
                self.st.new += 1;
            }
            // A pending intent is no damage.
            assert_fsck_clean(&env.m.cur, &self.img_path, Some(0), &at);
            let intent = got.inode.seal_intent();
            if intent {
                self.st.intents += 1;
                if self.half.len() < 2
                    && got.ext.iter().any(|e| e.flags & EXTENT_SEALED != 0)
                    && got.ext.iter().any(|e| e.flags & EXTENT_SEALED == 0)
                    && self.half.iter().all(|h| {
                        state(h, ino).inode.is_sealed() != got.inode.is_sealed()
                            || state(h, ino).inode.ctime != got.inode.ctime
                    })
                {
                    self.half.push(env.m.cur.clone());
                }
            }
            // Mount: the orphan list.
            let (freed, healed) = env
                .mount_recovery(RECOVERY_BUDGET)
                .unwrap_or_else(|e| panic!("{}: recovery failed: {:?}", at, e));
            assert_eq!((freed, healed), (0, u64::from(intent)), "{}", at);
            let sealed = assert_healed(&env.m.cur, ino, &at);
            let want = if is_old { outcome.0 } else { outcome.1 };
            assert_eq!(
                sealed,
                want == Outcome::Sealed,
                "{}: recovered to {} (from {:?})",
                at,
                if sealed { "sealed" } else { "not sealed" },
                got.inode
            );
            self.st.sealed += u64::from(sealed);
            let healed_state = state(&env.m.cur, ino);
            assert_eq!(
                unsealed(&healed_state.ext),
                unsealed(&got.ext),
                "{}: recovery changed the map",
                at
            );
            assert_fsck_clean(&env.m.cur, &self.img_path, Some(0), &at);
            // fsck -y healed the raw image the same way.
            self.st.fsck_y += 1;
            assert_eq!(
                state(&y, ino),
                healed_state,
                "{}: fsck -y healed otherwise",
                at
            );
            assert_eq!(snapshot(&y), snapshot(&env.m.cur), "{}: namespace", at);
            let l = env.layout();
            let (a, b) = (
                (l.inode_bitmap_start * BLOCK_SIZE_U64) as usize,
                (l.data_end() * BLOCK_SIZE_U64) as usize,
            );
            if y[a..b] != env.m.cur[a..b] {
                let first = (a..b).find(|&o| y[o] != env.m.cur[o]).unwrap();
                panic!(
                    "{}: fsck -y and mount differ first at byte {} (block {})",
                    at,
                    first,
                    first / BLOCK_SIZE
                );
            }
            self.st.points += 1;
            for (o, d) in undo.into_iter().rev() {
                img[o..o + d.len()].copy_from_slice(&d);
            }
        }
        assert!(img == before);
        self.st.txns += 1;
        r
    }

    /// fsck -n of the raw crash image `img` (no journal recovery): at most
    /// the pending transaction and a primary superblock torn while it was
    /// applied. Then fsck -y heals it: returns the healed image.
    fn fsck_raw(&mut self, img: &[u8], at: &str) -> Vec<u8> {
        std::fs::write(&self.raw_path, img).unwrap();
        let r = fsck_n(&self.raw_path);
        assert!(
            r.problems
                .iter()
                .all(|p| p.code == code::JOURNAL_REPLAY || p.code == code::SB_PRIMARY),
            "{}: fsck -n of the crash image: {:#?}",
            at,
            r.lines
        );
        let y = fsck(
            &self.raw_path,
            Options {
                mode: Mode::Yes,
                ..Default::default()
            },
        );
        assert!(
            (r.problems.is_empty() && y.problems.is_empty() && y.exit == EXIT_OK)
                || y.exit == EXIT_CORRECTED,
            "{}: fsck -n {:#?} then fsck -y (exit {}): {:#?}",
            at,
            r.lines,
            y.exit,
            y.lines
        );
        // A primary torn while the transaction was applied is completed by
        // the replay (not overwritten by the older backup, whose counters
        // and orphan list would then be wrong): nothing else to fix.
        let fixed: Vec<&str> = y
            .problems
            .iter()
            .map(|p| p.code)
            .filter(|&c| c != code::JOURNAL_REPLAY && c != code::SB_PRIMARY)
            .collect();
        assert!(
            fixed.iter().all(|&c| c == code::SEAL_INTENT) && fixed.len() <= 1,
            "{}: fsck -y: {:#?}",
            at,
            y.lines
        );
        self.st.fsck_y_rollbacks += fixed.len() as u64;
        self.st.torn += u64::from(y.has(code::SB_PRIMARY));
        // (Exit 0 or 1: its last pass found nothing left.)
        std::fs::read(&self.raw_path).unwrap()
    }

    fn extents(&self) -> Vec<Extent> {
        state(&self.w.env.m.cur, self.ino).ext
    }

    /// The seal sequence of `seal.rs` (the file keeps its size).
    fn seal(&mut self, now: Timespec) {
        let ino = self.ino;
        let u = Outcome::Unsealed;
        let size = state(&self.w.env.m.cur, ino).inode.size;
        let blocks = size.div_ceil(BLOCK_SIZE_U64);
        // Preparation, in ordinary transactions: allocate the holes
        // (unwritten), free what lies past the end, zero and convert.
        let mut holes = Vec::new();
        let mut at = 0;
        for e in self.extents() {
            if e.lblk >= blocks {
                break;
            }
            if e.lblk > at {
                holes.push((at, e.lblk));
            }
            at = e.lend();
        }
        if at < blocks {
            holes.push((at, blocks));
        }
        assert!(holes.len() >= 2, "{:?}", holes);
        for (mut from, end) in holes {
            while from < end {
                let e = self.txn("preallocate", (u, u), |t, s| {
                    let mut i = t.read_inode(ino)?;
                    op_alloc(t, s, ino, &mut i, from, end - from, true)
                });
                from = e.lend();
            }
        }
        while !self.txn("free past the end", (u, u), |t, s| {
            let mut i = t.read_inode(ino)?;
            op_punch(t, s, ino, &mut i, blocks, MAX_FILE_BLOCKS, 1)
        }) {}
        let unwritten: Vec<Extent> = self
            .extents()
            .into_iter()
            .filter(|e| e.flags & EXTENT_UNWRITTEN != 0)
            .collect();
        assert!(unwritten.len() >= 3, "{:?}", unwritten);
        for e in unwritten {
            self.txn("zero and convert", (u, u), |t, s| {
                let zero = vec![0u8; BLOCK_SIZE];
                for b in 0..u64::from(e.len) {
                    t.medium().write((e.pblk + b) * BLOCK_SIZE_U64, &zero)?;
                }
                let mut i = t.read_inode(ino)?;
                op_convert(t, s, ino, &mut i, e.lblk, u64::from(e.len))
            });
        }
        // Under the intent.
        self.txn("op_seal_begin", (u, u), |t, _| {
            let mut i = t.read_inode(ino)?;
            op_seal_begin(t, ino, &mut i)
        });
        let mut at = Some(0);
        let mut steps = 0;
        while let Some(from) = at {
            at = self.txn("op_seal_extents(true)", (u, u), |t, s| {
                let mut i = t.read_inode(ino)?;
                op_seal_extents(t, s, ino, &mut i, from, true, SEAL_BUDGET)
            });
            steps += 1;
        }
        assert!(steps >= 6, "{} sealing steps", steps);
        self.txn("op_seal_inode", (u, Outcome::Sealed), |t, s| {
            let mut i = t.read_inode(ino)?;
            op_seal_inode(t, s, ino, &mut i, now)
        });
        assert!(assert_healed(&self.w.env.m.cur, ino, "sealed"));
    }

    /// The unseal sequence of `seal.rs`.
    fn unseal(&mut self, now: Timespec) {
        let ino = self.ino;
        let u = Outcome::Unsealed;
        self.txn("op_unseal_begin", (Outcome::Sealed, u), |t, _| {
            let mut i = t.read_inode(ino)?;
            op_unseal_begin(t, ino, &mut i, now)
        });
        let mut at = Some(0);
        let mut steps = 0;
        while let Some(from) = at {
            at = self.txn("op_seal_extents(false)", (u, u), |t, s| {
                let mut i = t.read_inode(ino)?;
                op_seal_extents(t, s, ino, &mut i, from, false, SEAL_BUDGET)
            });
            steps += 1;
        }
        assert!(steps >= 6, "{} unsealing steps", steps);
        self.txn("op_seal_end", (u, u), |t, s| {
            let mut i = t.read_inode(ino)?;
            op_seal_end(t, s, ino, &mut i)
        });
        assert!(!assert_healed(&self.w.env.m.cur, ino, "unsealed"));
    }
}

/// The file: 24 blocks mapped one block per extent (another file takes
/// the physical block between two of them, so none merge), every fourth
/// one unwritten, blocks 9 and 10 a hole; a size of 27 blocks less 100
/// bytes (a hole at the end); a preallocated extent past the end.
fn setup(dir: &Path) -> Run {
    let (env, _) = Env::open(fresh_image(6 << 20, Some(32))).unwrap();
    let mut w = World::new(env, 0x5ea1);
    let f = w.new_file("f");
    let other = w.new_file("other");
    for b in 0..26u64 {
        if b == 9 || b == 10 {
            continue;
        }
        w.map_range(f, b, 1, b % 4 == 2);
        w.map_range(other, b, 1, false);
    }
    w.truncate_to(f, 27 * BLOCK_SIZE_U64 - 100, 4);
    w.env
        .txn(|t, s| {
            let mut i = t.read_inode(f)?;
            op_alloc(t, s, f, &mut i, 30, 3, true)
        })
        .unwrap();
    let run = Run {
        w,
        ino: f,
        rng: common::Rng(0x5ea1_c0de),
        raw_path: dir.join("raw"),
        img_path: dir.join("img"),
        st: Stats::default(),
        half: Vec::new(),
    };
    let s = state(&run.w.env.m.cur, f);
    assert_eq!(s.ext.len(), 25);
    assert_eq!(s.inode.map_kind, daxfs_format::inode::MAP_BTREE);
    assert_fsck_clean(&run.w.env.m.cur, &run.img_path, Some(0), "setup");
    run
}

/// Sealing and then unsealing, a crash explored at every event of every
/// transaction, each crash image recovered as mount does and by fsck -y.
#[test]
fn seal_and_unseal_are_atomic_at_every_crash_point() {
    let dir = common::scratch("seal-crash");
    let mut run = setup(&dir);
    let ino = run.ino;
    run.seal(Timespec { sec: 100, nsec: 1 });
    let st = &run.st;
    eprintln!("after sealing: {:?}", st);
    assert!(st.sealed >= 5 && st.intents > 50, "{:?}", st);
    run.unseal(Timespec { sec: 200, nsec: 2 });
    let st = &run.st;
    eprintln!("after unsealing: {:?}", st);
    assert!(st.txns > 30, "{:?}", st);
    assert!(st.points > 8 * st.txns, "{:?}", st);
    assert!(st.old > 100 && st.new > 200 && st.replays > 150, "{:?}", st);
    assert!(st.sealed >= 10 && st.intents > 150, "{:?}", st);
    assert_eq!(st.fsck_y, st.points, "{:?}", st);
    assert!(st.fsck_y_rollbacks > 100 && st.torn >= 3, "{:?}", st);
    // The crash-free sequence is clean as well, and the unsealed file
    // can be truncated again.
    assert_fsck_clean(&run.w.env.m.cur, &run.img_path, Some(0), "unsealed");
    run.w.truncate_to(ino, 0, 4);
    assert_fsck_clean(&run.w.env.m.cur, &run.img_path, Some(0), "truncated");

    // The recovery is crash-atomic too: from a half-sealed and a
    // half-unsealed image, every transaction of the roll-back explored at
    // every crash point (old or new state, fsck clean), ending not sealed.
    assert_eq!(run.half.len(), 2, "no half-sealed crash images kept");
    for (n, img) in std::mem::take(&mut run.half).into_iter().enumerate() {
        let (mut env, replayed) = Env::open(img).unwrap();
        assert!(!replayed);
        env.crash = Some(CrashCfg {
            rng: common::Rng(0xabc + n as u64),
            fsck_every: 3,
            continue_pct: 0,
            img_path: run.img_path.clone(),
            stats: CrashStats::default(),
        });
        let (freed, healed) = env.mount_recovery(1).unwrap();
        assert_eq!((freed, healed), (0, 1));
        assert!(!assert_healed(&env.m.cur, ino, "recovered under crashes"));
        let cs = env.crash.take().unwrap().stats;
        eprintln!("recovery {}: {:?}", n, cs);
        assert!(cs.txns >= 3 && cs.fscked > 10, "{:?}", cs);
        assert_fsck_clean(&env.m.cur, &run.img_path, Some(0), "after recovery");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

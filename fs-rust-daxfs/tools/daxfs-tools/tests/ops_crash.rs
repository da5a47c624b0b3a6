// SPDX-License-Identifier: GPL-2.0

//! Crash atomicity of every transaction of random operation sequences:
//! each commit is recorded as a trace of writes, stores and fences, and
//! for every event of the trace the test builds the image a crash just
//! before that event would leave (every fenced write, plus a random
//! subset of the 8-byte words written since the last fence), mounts it
//! (superblock, backup if the primary is torn, recovery), and checks
//! that the result is byte for byte (outside the journal) the state
//! before or the state after the transaction: the old one when the
//! commit word cannot be durable, the new one when it must be. Every
//! few crash images also go through the real fsck. Now and then the run
//! continues from a recovered crash image instead of the clean one.

#![allow(missing_docs)]

mod common;
mod txnlib;

use daxfs_format::extent::Extent;
use daxfs_format::inode::{MAP_BTREE, MAP_EXTENTS};
use daxfs_format::journal::JH_OFF_COMMIT;
use daxfs_format::ops::op_punch;
use daxfs_format::BLOCK_SIZE_U64;

use txnlib::world::{count, punch_ref, World};
use txnlib::*;

fn crash_run(seed: u64, size: u64, ops: usize, punch: bool) -> CrashStats {
    let dir = common::scratch("ops-crash");
    let img_path = dir.join("img");
    let (mut env, _) = Env::open(fresh_image(size, Some(256))).unwrap();
    env.crash = Some(CrashCfg {
        rng: common::Rng(seed ^ 0x5555),
        fsck_every: 61,
        continue_pct: 10,
        img_path: img_path.clone(),
        stats: CrashStats::default(),
    });
    let mut w = World::new(env, seed);
    for n in 0..ops {
        if punch {
            w.step_punch();
        } else {
            w.step();
        }
        assert_matches(
            &w.model,
            &w.env.m.cur,
            &format!("seed {:#x} op {}", seed, n),
        );
    }
    assert_data(&w.model, &w.env.m.cur, "end");
    if punch {
        for k in ["punch", "punch split", "punch tree"] {
            assert!(count(&w, k) > 5, "{} ran too rarely:\n{}", k, w.report());
        }
    }
    w.close_all();
    assert_fsck_clean(&w.env.m.cur, &img_path, Some(0), "end of the crash run");
    let st = w.env.crash.take().unwrap().stats;
    eprintln!("seed {:#x}: {:?}\n{}", seed, st, w.report());
    std::fs::remove_dir_all(&dir).unwrap();
    st
}

fn check(s: &CrashStats) {
    assert!(s.txns > 300, "{:?}", s);
    assert!(s.points > 10 * s.txns, "{:?}", s);
    assert!(s.old > 1000 && s.new > 3000, "{:?}", s);
    assert!(s.replays > 3000, "{:?}", s);
    assert!(
        s.torn_primary > 100,
        "no crash tore the primary superblock: {:?}",
        s
    );
    assert!(s.fscked > 50 && s.continued > 10, "{:?}", s);
}

#[test]
fn every_commit_is_atomic_at_every_crash_point_8m() {
    check(&crash_run(0xc0ffee, 8 << 20, 500, false));
}

#[test]
fn every_commit_is_atomic_at_every_crash_point_6m() {
    check(&crash_run(0xfeed, 6 << 20, 500, false));
}

#[test]
fn every_commit_is_atomic_at_every_crash_point_16m() {
    check(&crash_run(0xabcdef, 16 << 20, 400, false));
}

/// Random operations with hole punching mixed in (`World::step_punch`),
/// every commit explored at every crash point as above.
#[test]
fn every_commit_with_hole_punching_is_atomic_at_every_crash_point() {
    check(&crash_run(0x0dd_ba11, 8 << 20, 500, true));
}

/// Counters of [`punch_call_crashes`].
#[derive(Debug, Default)]
struct PunchCrashes {
    calls: u64,
    points: u64,
    old: u64,
    new: u64,
    replays: u64,
}

/// The extent map and free-block count of `ino` in `img`.
fn map_state(img: &[u8], ino: u64) -> (Vec<Extent>, u64, Snap) {
    let sb = daxfs_format::Superblock::decode(&img[..512]).unwrap();
    let i = inode_of(img, &sb, ino).unwrap();
    (
        extents_of(img, &sb.ctx(), ino, &i),
        sb.free_blocks,
        snapshot(img),
    )
}

/// One `op_punch` call as one committed transaction, its writes traced;
/// then, for every event of the trace, the image a crash just before it
/// leaves (every fenced write, a random subset of the 8-byte words
/// written since the last fence) is mounted (superblock or backup,
/// journal recovery) and must hold the extent map of `ino` (physical
/// blocks and flags included), the free-block count and the namespace of
/// before the call or of after it (before when the commit word cannot be
/// durable, after when it must be), and fsck must find it clean. Returns
/// what the call returned.
fn punch_call_crashes(
    w: &mut World,
    ino: u64,
    (first, end, budget): (u64, u64, usize),
    rng: &mut common::Rng,
    img_path: &std::path::Path,
    st: &mut PunchCrashes,
) -> bool {
    let before = w.env.m.cur.clone();
    let old = map_state(&before, ino);
    w.env.m.trace = Some(Vec::new());
    let done = w
        .env
        .txn(|t, s| {
            let mut i = t.read_inode(ino)?;
            op_punch(t, s, ino, &mut i, first, end, budget)
        })
        .unwrap();
    let trace = w.env.m.trace.take().unwrap();
    let new = map_state(&w.env.m.cur, ino);
    assert_ne!((&old.0, old.1), (&new.0, new.1), "the call changed nothing");
    let l = w.env.layout();
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
        let undo = crash_image(&mut img, &trace, k, rng, &mut seen);
        let (env, replayed) = Env::open(img.clone())
            .unwrap_or_else(|e| panic!("crash at event {}: mount failed: {:?}", k, e));
        let got = map_state(&env.m.cur, ino);
        let is_old = got == old;
        let is_new = got == new;
        let what = format!(
            "punch [{}, {}) budget {}, crash at event {} of {}",
            first,
            end,
            budget,
            k,
            trace.len()
        );
        assert!(
            is_old || is_new,
            "{}: neither the old nor the new map: {:?} (old {:?}, new {:?})",
            what,
            got.0,
            old.0,
            new.0
        );
        if k <= store {
            assert!(is_old, "{}: before the commit point, not old", what);
        }
        if k > fence_after {
            assert!(is_new, "{}: after the commit point, not new", what);
        }
        if is_new {
            st.new += 1;
        } else {
            st.old += 1;
        }
        st.replays += u64::from(replayed);
        assert_fsck_clean(&env.m.cur, img_path, Some(0), &what);
        st.points += 1;
        for (o, d) in undo.into_iter().rev() {
            img[o..o + d.len()].copy_from_slice(&d);
        }
    }
    assert!(img == before);
    st.calls += 1;
    done
}

/// Hole punching on an inline map and on an extent tree (splits, the
/// conversion of a full inline map into a tree, edges, several extents,
/// budgets of one to eight steps, the release of an emptied tree), every
/// call crashed at every event of its commit, recovered and checked: the
/// map is the old or the new one, and fsck is clean.
#[test]
fn every_punch_transaction_leaves_the_old_or_the_new_map() {
    let dir = common::scratch("ops-crash-punch");
    let img_path = dir.join("img");
    let (env, _) = Env::open(fresh_image(6 << 20, Some(32))).unwrap();
    let mut w = World::new(env, 21);
    let inline = w.new_file("inline");
    let tree = w.new_file("tree");
    let other = w.new_file("other");
    for (l, n, u) in [
        (0, 10, false),
        (10, 10, true),
        (30, 10, false),
        (40, 5, true),
        (50, 20, false),
        (100, 1, true),
    ] {
        w.map_range(inline, l, n, u);
        w.map_range(tree, l, n, u);
        w.map_range(other, l, n, !u);
    }
    for k in 0..30 {
        w.map_range(tree, 1000 + 3 * k, 2, k % 3 == 0);
    }
    let kind = |w: &World, ino| inode_of(&w.env.m.cur, &w.env.sb, ino).unwrap().map_kind;
    assert_eq!(kind(&w, inline), MAP_EXTENTS);
    assert_eq!(kind(&w, tree), MAP_BTREE);
    let mut rng = common::Rng(0x5eed);
    let mut st = PunchCrashes::default();
    let punches: &[(u64, (u64, u64, usize))] = &[
        (inline, (3, 7, 4)),        // split of a full inline map: a tree
        (inline, (12, 18, 4)),      // split of an unwritten extent
        (inline, (0, u64::MAX, 2)), // everything, tree released
        (tree, (5, 35, 1)),         // trim, remove, trim
        (tree, (41, 43, 1)),        // split in the tree
        (tree, (999, 1050, 3)),     // several tree extents
        (tree, (1060, 1061, 3)),    // the left edge of an extent
        (tree, (0, u64::MAX, 8)),   // everything, tree released
        (other, (69, 10_000, 1)),   // past the end
    ];
    for &(ino, (first, end, budget)) in punches {
        let sb = w.env.sb;
        let i0 = inode_of(&w.env.m.cur, &sb, ino).unwrap();
        let before = extents_of(&w.env.m.cur, &sb.ctx(), ino, &i0);
        let mut calls = 0;
        while !punch_call_crashes(
            &mut w,
            ino,
            (first, end, budget),
            &mut rng,
            &img_path,
            &mut st,
        ) {
            calls += 1;
            assert!(calls < 1000);
        }
        let m = w.model.inodes.get_mut(&ino).unwrap();
        m.blocks.retain(|b, _| *b < first || *b >= end);
        m.tags.retain(|b, _| *b < first || *b >= end);
        let what = format!("after punching [{}, {}) of {}", first, end, ino);
        let sb = w.env.sb;
        let i1 = inode_of(&w.env.m.cur, &sb, ino).unwrap();
        assert_eq!(
            extents_of(&w.env.m.cur, &sb.ctx(), ino, &i1),
            punch_ref(&before, first, end),
            "{}",
            what
        );
        assert_matches(&w.model, &w.env.m.cur, &what);
        assert_data(&w.model, &w.env.m.cur, &what);
    }
    assert_eq!(kind(&w, inline), MAP_EXTENTS);
    assert_eq!(kind(&w, tree), MAP_EXTENTS);
    eprintln!("{:?}", st);
    assert!(st.calls >= 20, "{:?}", st);
    assert!(st.points > 10 * st.calls, "{:?}", st);
    assert!(st.old > 40 && st.new > 150 && st.replays > 150, "{:?}", st);
    std::fs::remove_dir_all(&dir).unwrap();
}

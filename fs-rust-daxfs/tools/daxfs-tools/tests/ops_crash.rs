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

use txnlib::world::World;
use txnlib::*;

fn crash_run(seed: u64, size: u64, ops: usize) -> CrashStats {
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
        w.step();
        assert_matches(
            &w.model,
            &w.env.m.cur,
            &format!("seed {:#x} op {}", seed, n),
        );
    }
    assert_data(&w.model, &w.env.m.cur, "end");
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
    check(&crash_run(0xc0ffee, 8 << 20, 500));
}

#[test]
fn every_commit_is_atomic_at_every_crash_point_6m() {
    check(&crash_run(0xfeed, 6 << 20, 500));
}

#[test]
fn every_commit_is_atomic_at_every_crash_point_16m() {
    check(&crash_run(0xabcdef, 16 << 20, 400));
}

// SPDX-License-Identifier: GPL-2.0

//! The namespace and block-map operations of `format::ops`, run the way
//! the kernel runs them (one `format::txn::Txn` per operation, committed
//! through the journal on an in-memory medium), in long random sequences
//! checked against a model after every operation and by the real fsck;
//! plus filling the device until ENOSPC and freeing everything again.

#![allow(missing_docs)]

mod common;
mod txnlib;

use daxfs_format::alloc::{bit_test, count_ones, group_used};
use daxfs_format::inode::{Inode, Timespec, S_IFREG};
use daxfs_format::ops::*;
use daxfs_format::superblock::ROOT_INO;
use daxfs_format::{Error, BLOCK_SIZE_U64, GROUP_BLOCKS};

use txnlib::world::{count, World};
use txnlib::*;

/// Counts the free blocks and inodes in the bitmaps of an image and
/// checks the group table against the block bitmap.
fn bitmap_free(img: &[u8]) -> (u64, u64) {
    let sb = daxfs_format::Superblock::decode(&img[..512]).unwrap();
    let l = sb.layout;
    let bm_off = (l.block_bitmap_start * BLOCK_SIZE_U64) as usize;
    let bm = &img[bm_off..bm_off + (l.block_bitmap_blocks * BLOCK_SIZE_U64) as usize];
    let gt_off = (l.group_table_start * BLOCK_SIZE_U64) as usize;
    let gt = &img[gt_off..gt_off + (l.group_table_blocks * BLOCK_SIZE_U64) as usize];
    let ibm_off = (l.inode_bitmap_start * BLOCK_SIZE_U64) as usize;
    let ibm = &img[ibm_off..ibm_off + (l.inode_bitmap_blocks * BLOCK_SIZE_U64) as usize];
    for g in 0..l.group_count {
        let mut used = 0;
        for b in g * GROUP_BLOCKS..(g + 1) * GROUP_BLOCKS {
            if b >= l.data_blocks || bit_test(bm, b) {
                used += 1;
            }
        }
        assert_eq!(u64::from(group_used(gt, g)), used, "group {}", g);
    }
    (
        l.data_blocks - count_ones(bm, l.data_blocks),
        l.inode_count - count_ones(ibm, l.inode_count),
    )
}

fn random_run(seed: u64, size: u64, ops: usize, fsck_every: usize) -> World {
    let dir = common::scratch("ops-random");
    let img_path = dir.join("img");
    let img = fresh_image(size, Some(512));
    let start = bitmap_free(&img);
    let (env, _) = Env::open(img).unwrap();
    let mut w = World::new(env, seed);
    for n in 0..ops {
        w.step();
        assert_matches(
            &w.model,
            &w.env.m.cur,
            &format!("seed {:#x} op {}", seed, n),
        );
        if (n + 1) % fsck_every == 0 {
            assert_data(
                &w.model,
                &w.env.m.cur,
                &format!("seed {:#x} op {}", seed, n),
            );
            assert_fsck_clean(
                &w.env.m.cur,
                &img_path,
                Some(w.model.orphans.len()),
                &format!("seed {:#x} after op {}", seed, n),
            );
        }
        let (fb, fi) = bitmap_free(&w.env.m.cur);
        assert_eq!((fb, fi), (w.env.sb.free_blocks, w.env.sb.free_inodes));
    }
    assert_data(&w.model, &w.env.m.cur, "end");
    w.close_all();
    assert_matches(&w.model, &w.env.m.cur, "after closing every orphan");
    assert_fsck_clean(
        &w.env.m.cur,
        &img_path,
        Some(0),
        "after closing every orphan",
    );
    w.remove_all();
    assert_matches(&w.model, &w.env.m.cur, "after removing everything");
    assert_fsck_clean(&w.env.m.cur, &img_path, Some(0), "empty again");
    // Everything freed: the counters and bitmaps are back where mkfs
    // left them.
    assert_eq!(bitmap_free(&w.env.m.cur), start);
    assert_eq!(
        (w.env.sb.free_blocks, w.env.sb.free_inodes),
        start,
        "free counters after removing everything"
    );
    std::fs::remove_dir_all(&dir).unwrap();
    eprintln!(
        "seed {:#x}: {} commits\n{}",
        seed,
        w.env.commits,
        w.report()
    );
    w
}

#[test]
fn random_operations_match_the_model_and_fsck() {
    let mut total = std::collections::BTreeMap::new();
    for (seed, size, ops) in [
        (0x1234_5678u64, 16u64 << 20, 700usize),
        (0xdead_beef, 8 << 20, 700),
        (0x0bad_cafe, 6 << 20, 700),
    ] {
        let w = random_run(seed, size, ops, 50);
        for (k, v) in &w.stats {
            let t: &mut (u64, u64, u64) = total.entry(*k).or_default();
            t.0 += v.0;
            t.1 += v.1;
            t.2 += v.2;
        }
    }
    // Every kind of operation really ran, and the refusals happened.
    for k in txnlib::world::KINDS {
        assert!(
            total.get(k).is_some_and(|t| t.0 > 0),
            "operation {} never succeeded: {:?}",
            k,
            total
        );
    }
    for k in [
        "exchange dirs across",
        "exchange across",
        "exchange within",
        "rename over dir",
        "rename over file",
        "rename dir across",
    ] {
        assert!(total.get(k).is_some_and(|t| t.0 > 0), "{} never ran", k);
    }
    for k in ["create", "rmdir", "rename"] {
        assert!(total[k].1 > 0, "{} never refused", k);
    }
}

/// A tree-shaped extent map: many one-block extents interleaved between
/// two files (so they cannot merge), then truncation in small budgets,
/// each step a committed and fsck-clean filesystem.
#[test]
fn extent_trees_grow_and_truncate_in_budgeted_steps() {
    let dir = common::scratch("ops-tree");
    let img_path = dir.join("img");
    let (env, _) = Env::open(fresh_image(32 << 20, None)).unwrap();
    let mut w = World::new(env, 7);
    w.create(S_IFREG | 0o644, "create");
    w.create(S_IFREG | 0o644, "create");
    let files: Vec<u64> = w.model.dirs[&ROOT_INO].values().copied().collect();
    assert_eq!(files.len(), 2);
    for i in 0..900u64 {
        for &f in &files {
            let r = w.env.txn(|t, s| {
                let mut ino = t.read_inode(f)?;
                op_alloc(t, s, f, &mut ino, i * 2, 1, i % 5 == 0)
            });
            let e = r.unwrap();
            assert_eq!(e.len, 1);
            w.model
                .inodes
                .get_mut(&f)
                .unwrap()
                .blocks
                .insert(i * 2, i % 5 == 0);
        }
    }
    assert_matches(&w.model, &w.env.m.cur, "900 extents each");
    let f0 = w.env.txn(|t, _| t.read_inode(files[0])).unwrap();
    assert_eq!(f0.map_count, 900);
    assert!(f0.blocks > 900, "tree nodes counted: {}", f0.blocks);
    assert_fsck_clean(&w.env.m.cur, &img_path, Some(0), "900 extents");
    // Converting every other unwritten extent and appending to the last
    // one keeps the map consistent.
    let r = w.env.txn(|t, s| {
        let mut ino = t.read_inode(files[0])?;
        op_convert(t, s, files[0], &mut ino, 0, 200)
    });
    r.unwrap();
    for (b, u) in w
        .model
        .inodes
        .get_mut(&files[0])
        .unwrap()
        .blocks
        .range_mut(0..200)
    {
        let _ = b;
        *u = false;
    }
    assert_matches(&w.model, &w.env.m.cur, "after convert");
    // Truncate in steps of 7 extents, checking every step.
    let target = 301 * BLOCK_SIZE_U64 - 5;
    let mut steps = 0;
    loop {
        let done = w
            .env
            .txn(|t, s| {
                let mut ino = t.read_inode(files[0])?;
                op_truncate(t, s, files[0], &mut ino, target, 7)
            })
            .unwrap();
        steps += 1;
        if steps % 10 == 0 {
            assert_fsck_clean(&w.env.m.cur, &img_path, Some(0), "truncation step");
        }
        if done {
            break;
        }
    }
    assert!(steps >= 600 / 7, "only {} steps", steps);
    let i = w.model.inodes.get_mut(&files[0]).unwrap();
    i.size = target;
    i.blocks = i.blocks.range(..301).map(|(b, u)| (*b, *u)).collect();
    assert_matches(&w.model, &w.env.m.cur, "after truncation");
    assert_fsck_clean(&w.env.m.cur, &img_path, Some(0), "after truncation");
    // Unlinking the other file and freeing it in steps.
    w.remove_all();
    assert_fsck_clean(&w.env.m.cur, &img_path, Some(0), "after removal");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Appending writes keep one extent; a huge allocation starts on a 2 MiB
/// boundary; allocation honours the goal.
#[test]
fn allocation_policy() {
    let (mut env, _) = Env::open(fresh_image(64 << 20, None)).unwrap();
    let now = Timespec { sec: 5, nsec: 0 };
    let f = env
        .txn(|t, s| {
            let mut root = t.read_inode(ROOT_INO)?;
            let mut new = Inode::new(S_IFREG | 0o644, 0, 0, now);
            op_create(t, s, ROOT_INO, &mut root, b"append", &mut new, now)
        })
        .unwrap();
    let mut first = None;
    for i in 0..50u64 {
        let e = env
            .txn(|t, s| {
                let mut ino = t.read_inode(f)?;
                op_alloc(t, s, f, &mut ino, i * 3, 3, false)
            })
            .unwrap();
        let p0 = *first.get_or_insert(e.pblk);
        assert_eq!(e.pblk, p0 + i * 3, "append {} not contiguous", i);
    }
    let ino = env.txn(|t, _| t.read_inode(f)).unwrap();
    assert_eq!(ino.map_count, 1, "appends merged into one extent");
    assert_eq!(ino.blocks, 150);
    // A 2 MiB allocation lands on a group boundary (the goal, right after
    // the file, is taken first: use a new file).
    let g = env
        .txn(|t, s| {
            let mut root = t.read_inode(ROOT_INO)?;
            let mut new = Inode::new(S_IFREG | 0o644, 0, 0, now);
            op_create(t, s, ROOT_INO, &mut root, b"huge", &mut new, now)
        })
        .unwrap();
    let e = env
        .txn(|t, s| {
            let mut ino = t.read_inode(g)?;
            op_alloc(t, s, g, &mut ino, 0, 1024, false)
        })
        .unwrap();
    assert_eq!(e.len, 1024);
    assert_eq!(
        e.pblk % GROUP_BLOCKS,
        0,
        "huge allocation not 2 MiB aligned"
    );
    // Unwritten and written neighbours do not merge; converting merges
    // the converted piece into the written extent before it.
    let e2 = env
        .txn(|t, s| {
            let mut ino = t.read_inode(g)?;
            op_alloc(t, s, g, &mut ino, 1024, 10, true)
        })
        .unwrap();
    assert_eq!(e2.pblk, e.pblk + 1024);
    assert_eq!(env.txn(|t, _| t.read_inode(g)).unwrap().map_count, 2);
    env.txn(|t, s| {
        let mut ino = t.read_inode(g)?;
        op_convert(t, s, g, &mut ino, 1024, 4)
    })
    .unwrap();
    let gi = env.txn(|t, _| t.read_inode(g)).unwrap();
    let ext = extents_of(&env.m.cur, &env.sb.ctx(), g, &gi);
    assert_eq!(ext.len(), 2, "{:?}", ext);
    assert_eq!((ext[0].lblk, ext[0].len, ext[0].flags), (0, 1028, 0));
    assert_eq!((ext[1].lblk, ext[1].len, ext[1].flags), (1028, 6, 1));
    // Sealed files refuse allocation.
    env.txn(|t, _| {
        let mut ino = t.read_inode(f)?;
        ino.flags |= daxfs_format::inode::INODE_FLAG_SEALED;
        t.write_inode(f, &ino)
    })
    .unwrap();
    let r = env.txn(|t, s| {
        let mut ino = t.read_inode(f)?;
        op_alloc(t, s, f, &mut ino, 1000, 1, false)
    });
    assert_eq!(r.unwrap_err(), Error::Sealed);
    let r = env.txn(|t, s| {
        let mut ino = t.read_inode(f)?;
        op_truncate(t, s, f, &mut ino, 0, 4)
    });
    assert_eq!(r.unwrap_err(), Error::Sealed);
}

/// Fill the device with allocations until ENOSPC: nothing leaks, the
/// counters match the bitmaps, fsck is clean; the refused transaction
/// wrote nothing; freeing everything restores the counters. Then the
/// same with inodes.
#[test]
fn enospc_fill_and_free() {
    let dir = common::scratch("ops-enospc");
    let img_path = dir.join("img");
    let img = fresh_image(8 << 20, Some(64));
    let start = bitmap_free(&img);
    let (env, _) = Env::open(img).unwrap();
    let mut w = World::new(env, 99);
    let now = Timespec { sec: 9, nsec: 0 };
    let mut files = Vec::new();
    for n in 0..3 {
        let name = format!("fill{}", n);
        let ino = w
            .env
            .txn(|t, s| {
                let mut root = t.read_inode(ROOT_INO)?;
                let mut new = Inode::new(S_IFREG | 0o644, 0, 0, now);
                op_create(t, s, ROOT_INO, &mut root, name.as_bytes(), &mut new, now)
            })
            .unwrap();
        files.push(ino);
    }
    let mut next = [0u64; 3];
    let mut rng = common::Rng(5);
    let mut allocs = 0;
    loop {
        let k = rng.below(3) as usize;
        let f = files[k];
        // Leave holes now and then so the extents fragment into trees.
        let lblk = next[k] + rng.below(2);
        let big = rng.below(4) == 0;
        let want = 1 + rng.below(if big { 100 } else { 9 });
        let r = w.env.txn(|t, s| {
            let mut ino = t.read_inode(f)?;
            op_alloc(t, s, f, &mut ino, lblk, want, rng.0 % 2 == 0)
        });
        match r {
            Ok(e) => {
                next[k] = e.lend();
                allocs += 1;
            }
            Err(Error::NoSpace) => break,
            Err(e) => panic!("{:?}", e),
        }
    }
    assert!(allocs > 50, "{} allocations", allocs);
    let (fb, fi) = bitmap_free(&w.env.m.cur);
    assert_eq!(fb, w.env.sb.free_blocks);
    assert_eq!(fi, w.env.sb.free_inodes);
    assert!(fb < 10, "ENOSPC with {} free blocks", fb);
    assert_fsck_clean(&w.env.m.cur, &img_path, Some(0), "full device");
    // More small allocations until the very last block is used (a
    // one-block allocation needs no new tree node if it extends an
    // extent... or fails cleanly).
    for f in &files {
        let mut at = 1u64 << 30;
        loop {
            let f = *f;
            at += 1;
            let r = w.env.txn(|t, s| {
                let mut ino = t.read_inode(f)?;
                op_alloc(t, s, f, &mut ino, at, 1, false)
            });
            if let Err(e) = r {
                assert_eq!(e, Error::NoSpace);
                break;
            }
        }
    }
    assert_fsck_clean(
        &w.env.m.cur,
        &img_path,
        Some(0),
        "full device, small allocations",
    );
    // Creating a directory needs a block: refused, nothing written.
    let r = w.env.txn(|t, s| {
        let mut root = t.read_inode(ROOT_INO)?;
        let mut new = Inode::new(daxfs_format::inode::S_IFDIR | 0o755, 0, 0, now);
        op_create(t, s, ROOT_INO, &mut root, b"newdir", &mut new, now)
    });
    if w.env.sb.free_blocks == 0 {
        assert_eq!(r.unwrap_err(), Error::NoSpace);
    }
    // Free everything: truncate to zero in small budgets, then unlink.
    for f in &files {
        let f = *f;
        loop {
            let done = w
                .env
                .txn(|t, s| {
                    let mut ino = t.read_inode(f)?;
                    op_truncate(t, s, f, &mut ino, 0, 3)
                })
                .unwrap();
            if done {
                break;
            }
        }
        let ino = w.env.txn(|t, _| t.read_inode(f)).unwrap();
        assert_eq!((ino.blocks, ino.map_count), (0, 0));
    }
    let _ = w.env.txn(|t, _| {
        // Whatever the directory test above left behind.
        let _ = t;
        Ok(())
    });
    for (n, f) in files.iter().enumerate() {
        let f = *f;
        let name = format!("fill{}", n);
        w.env
            .txn(|t, s| {
                let mut root = t.read_inode(ROOT_INO)?;
                let mut ino = t.read_inode(f)?;
                op_unlink(t, s, ROOT_INO, &mut root, name.as_bytes(), f, &mut ino, now)?;
                op_free_inode(t, s, f, &mut ino, 4)
            })
            .unwrap();
    }
    // Remove "newdir" if it was created.
    let root = w.env.txn(|t, _| t.read_inode(ROOT_INO)).unwrap();
    if root.map_count == 1 {
        let d = txnlib::snapshot(&w.env.m.cur).dirs[&ROOT_INO][b"newdir".as_slice()];
        w.env
            .txn(|t, s| {
                let mut root = t.read_inode(ROOT_INO)?;
                let mut ino = t.read_inode(d)?;
                op_rmdir(t, s, ROOT_INO, &mut root, b"newdir", d, &mut ino, now)?;
                op_free_inode(t, s, d, &mut ino, 4)
            })
            .unwrap();
    }
    assert_eq!(bitmap_free(&w.env.m.cur), start);
    assert_eq!((w.env.sb.free_blocks, w.env.sb.free_inodes), start);
    assert_fsck_clean(&w.env.m.cur, &img_path, Some(0), "emptied");

    // Inodes: create until NoSpace.
    let mut made = Vec::new();
    loop {
        let name = format!("i{}", made.len());
        let r = w.env.txn(|t, s| {
            let mut root = t.read_inode(ROOT_INO)?;
            let mut new = Inode::new(S_IFREG | 0o644, 0, 0, now);
            op_create(t, s, ROOT_INO, &mut root, name.as_bytes(), &mut new, now)
        });
        match r {
            Ok(i) => made.push((name, i)),
            Err(Error::NoSpace) => break,
            Err(e) => panic!("{:?}", e),
        }
    }
    assert_eq!(w.env.sb.free_inodes, 0);
    assert_eq!(made.len() as u64, start.1);
    assert_fsck_clean(&w.env.m.cur, &img_path, Some(0), "inodes exhausted");
    let r = w.env.txn(|t, s| {
        let mut new = Inode::new(S_IFREG | 0o644, 0, 0, now);
        op_tmpfile(t, s, &mut new)
    });
    assert_eq!(r.unwrap_err(), Error::NoSpace);
    for (name, i) in made {
        w.env
            .txn(|t, s| {
                let mut root = t.read_inode(ROOT_INO)?;
                let mut ino = t.read_inode(i)?;
                op_unlink(t, s, ROOT_INO, &mut root, name.as_bytes(), i, &mut ino, now)?;
                op_free_inode(t, s, i, &mut ino, 4)
            })
            .unwrap();
    }
    assert_eq!(bitmap_free(&w.env.m.cur), start);
    assert_eq!((w.env.sb.free_blocks, w.env.sb.free_inodes), start);
    assert_fsck_clean(&w.env.m.cur, &img_path, Some(0), "emptied again");
    let _ = count(&w, "create");
    std::fs::remove_dir_all(&dir).unwrap();
}

// SPDX-License-Identifier: GPL-2.0

//! The namespace and block-map operations of `format::ops`, run the way
//! the kernel runs them (one `format::txn::Txn` per operation, committed
//! through the journal on an in-memory medium), in long random sequences
//! checked against a model after every operation and by the real fsck;
//! plus filling the device until ENOSPC and freeing everything again.

#![allow(missing_docs)]

mod common;
mod txnlib;

use std::collections::BTreeMap;

use daxfs_format::alloc::{bit_test, count_ones, group_used};
use daxfs_format::extent::{map_update, Extent, EXTENT_SEALED, EXTENT_UNWRITTEN, MAX_FILE_BLOCKS};
use daxfs_format::inode::{Inode, Timespec, INODE_FLAG_SEALED, MAP_BTREE, MAP_EXTENTS, S_IFREG};
use daxfs_format::ops::*;
use daxfs_format::superblock::ROOT_INO;
use daxfs_format::{Error, BLOCK_SIZE_U64, GROUP_BLOCKS};

use txnlib::world::{count, punch_ref, World};
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

fn random_run(seed: u64, size: u64, ops: usize, fsck_every: usize, punch: bool) -> World {
    random_run_cached(seed, size, ops, fsck_every, punch, None)
}

/// [`random_run`], with a node cache of `cache` slots in the medium (as the
/// kernel has one): after every operation each cached node must equal the
/// medium's block.
fn random_run_cached(
    seed: u64,
    size: u64,
    ops: usize,
    fsck_every: usize,
    punch: bool,
    cache: Option<usize>,
) -> World {
    let dir = common::scratch("ops-random");
    let img_path = dir.join("img");
    let img = fresh_image(size, Some(512));
    let start = bitmap_free(&img);
    let (mut env, _) = Env::open(img).unwrap();
    if let Some(slots) = cache {
        let seed = env.sb.ctx().csum_seed;
        env.m.enable_cache(slots, seed);
    }
    let mut w = World::new(env, seed);
    for n in 0..ops {
        if punch {
            w.step_punch();
        } else {
            w.step();
        }
        w.env.m.check_cache(&format!("seed {:#x} op {}", seed, n));
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
        let w = random_run(seed, size, ops, 50, false);
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

/// The same random operations with a node cache in the medium, a small one
/// (many collisions) and one as large as the kernel's: every cached node
/// stays equal to the medium, and the cache answers most node reads.
#[test]
fn random_operations_with_a_node_cache_stay_coherent() {
    for (seed, slots, punch) in [
        (0x5eed_0001u64, 64usize, false),
        (0x5eed_0002, 4096, false),
        (0x5eed_0003, 256, true),
    ] {
        let w = random_run_cached(seed, 8 << 20, 500, 100, punch, Some(slots));
        assert!(
            w.env.m.cache_hits > 300,
            "seed {seed:#x}: only {} cache hits",
            w.env.m.cache_hits
        );
        eprintln!(
            "seed {seed:#x}, {slots} slots: {} cache hits",
            w.env.m.cache_hits
        );
        w.env.m.check_cache("end");
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
    // Growing the file keeps the preallocated blocks past its old size.
    let grown = 2000 * BLOCK_SIZE_U64;
    let done = w
        .env
        .txn(|t, s| {
            let mut ino = t.read_inode(files[0])?;
            op_truncate(t, s, files[0], &mut ino, grown, 7)
        })
        .unwrap();
    assert!(done, "growing is one step");
    w.model.inodes.get_mut(&files[0]).unwrap().size = grown;
    assert_matches(&w.model, &w.env.m.cur, "after growing");
    // Truncate down in steps of 7 extents, checking every step.
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

// ---- Hole punching ----

fn inode(w: &World, ino: u64) -> Inode {
    inode_of(&w.env.m.cur, &w.env.sb, ino).unwrap()
}

fn extents(w: &World, ino: u64) -> Vec<Extent> {
    extents_of(&w.env.m.cur, &w.env.sb.ctx(), ino, &inode(w, ino))
}

/// Everything a test checks after a change: the model (namespace,
/// extents, unwritten flags), the data of every written block, free
/// counters equal to the bitmaps (no leak, nothing freed twice), fsck.
fn check_all(w: &World, img_path: &std::path::Path, what: &str) {
    assert_matches(&w.model, &w.env.m.cur, what);
    assert_data(&w.model, &w.env.m.cur, what);
    assert_eq!(
        bitmap_free(&w.env.m.cur),
        (w.env.sb.free_blocks, w.env.sb.free_inodes),
        "{}: free counters differ from the bitmaps",
        what
    );
    assert_fsck_clean(&w.env.m.cur, img_path, Some(0), what);
}

/// Extents of the shape tests `(lblk, len, unwritten)`: neighbours of
/// different kinds (which never merge) and holes; six of them fill the
/// inline map.
const LAYOUT: [(u64, u64, bool); 6] = [
    (0, 10, false),
    (10, 10, true),
    (30, 10, false),
    (40, 5, true),
    (50, 20, false),
    (100, 1, true),
];

/// Hole punching of every shape, on an inline map and on an extent tree,
/// in one transaction and one step per transaction, each checked against
/// the reference (`punch_ref`: exact extents, physical blocks and flags),
/// the model, the data, the free counts and fsck; afterwards removing the
/// files gives back exactly mkfs's free counts.
#[test]
fn punch_shapes_inline_and_tree() {
    let dir = common::scratch("ops-punch-shapes");
    let img_path = dir.join("img");
    let img = fresh_image(8 << 20, Some(64));
    let start = bitmap_free(&img);
    let (env, _) = Env::open(img).unwrap();
    let mut w = World::new(env, 3);
    let inline = w.new_file("inline");
    let tree = w.new_file("tree");
    for &(l, n, u) in &LAYOUT {
        w.map_range(inline, l, n, u);
        w.map_range(tree, l, n, u);
    }
    // 40 more two-block extents (holes between) make the second map a
    // tree.
    for k in 0..40 {
        w.map_range(tree, 1000 + 3 * k, 2, k % 2 == 0);
    }
    let i = inode(&w, inline);
    assert_eq!((i.map_kind, i.map_count), (MAP_EXTENTS, 6));
    let i = inode(&w, tree);
    assert_eq!((i.map_kind, i.map_count), (MAP_BTREE, 46));
    check_all(&w, &img_path, "layout");
    let base_img = w.env.m.cur.clone();
    let base_model = w.model.clone();

    // (first, end) in file blocks.
    let cases: &[(u64, u64)] = &[
        (3, 7),                          // middle of a written extent: split
        (12, 18),                        // middle of an unwritten one: split
        (41, 43),                        // middle of a short unwritten one
        (0, 4),                          // left edge
        (6, 10),                         // right edge
        (0, 10),                         // exactly one extent
        (10, 20),                        // exactly one unwritten extent
        (5, 35),                         // trim, remove, hole, trim
        (15, 45),                        // across four, unwritten pieces
        (0, 101),                        // every extent of the layout
        (20, 30),                        // a hole
        (71, 99),                        // a hole between extents
        (69, 71),                        // last block of an extent and a hole
        (100, 101),                      // a one-block extent
        (101, 200),                      // past the layout
        (5000, 6000),                    // past every extent
        (15, 10_000_000),                // to far past the end
        (0, u64::MAX),                   // everything
        (1001, 1002),                    // (tree) one block of a tree extent
        (999, 1050),                     // (tree) several tree extents
        (7, 7),                          // empty range
        (9, 3),                          // reversed range
        (MAX_FILE_BLOCKS - 1, u64::MAX), // last file block
        (u64::MAX - 5, u64::MAX),        // clamped to nothing
    ];
    let mut runs = 0;
    for &(first, end) in cases {
        for f in [inline, tree] {
            for budget in [usize::MAX, 1] {
                let what = format!(
                    "punch [{}, {}) of the {} map, budget {}",
                    first,
                    end,
                    if f == inline { "inline" } else { "tree" },
                    budget
                );
                let (env, _) = Env::open(base_img.clone()).unwrap();
                let mut cw = World::new(env, 3);
                cw.model = base_model.clone();
                let before = extents(&cw, f);
                let want = punch_ref(&before, first, end);
                let free0 = cw.env.sb.free_blocks;
                let txns = cw.punch_range(f, first, end, budget);
                if budget == usize::MAX {
                    assert_eq!(txns, 1, "{}", what);
                } else {
                    // One step per transaction, one step per extent
                    // the range overlaps (an empty range or a hole still
                    // takes one call).
                    let overlapping = before
                        .iter()
                        .filter(|e| e.lblk < end && e.lend() > first)
                        .count();
                    assert_eq!(txns as usize, overlapping.max(1), "{}", what);
                }
                let i = inode(&cw, f);
                assert_eq!(i.size, base_model.inodes[&f].size, "{}", what);
                if f == inline {
                    // Inline maps are full: a split converts to a tree;
                    // the freed data is exactly what left the map.
                    let kind = if want.len() > 6 {
                        MAP_BTREE
                    } else {
                        MAP_EXTENTS
                    };
                    assert_eq!(i.map_kind, kind, "{}", what);
                    if kind == MAP_EXTENTS {
                        let freed: u64 = before.iter().map(|e| u64::from(e.len)).sum::<u64>()
                            - want.iter().map(|e| u64::from(e.len)).sum::<u64>();
                        assert_eq!(cw.env.sb.free_blocks, free0 + freed, "{}", what);
                    }
                }
                check_all(&cw, &img_path, &what);
                // The punched range is a hole again: it can be refilled.
                if first < end && end - first < 100 && first < 2000 {
                    cw.map_range(f, first, end - first, true);
                    check_all(&cw, &img_path, &format!("{}, refilled", what));
                }
                cw.remove_all();
                assert_eq!(bitmap_free(&cw.env.m.cur), start, "{}", what);
                assert_eq!(
                    (cw.env.sb.free_blocks, cw.env.sb.free_inodes),
                    start,
                    "{}: free counters after removing everything",
                    what
                );
                runs += 1;
            }
        }
    }
    assert_eq!(runs, cases.len() * 4);
    // Directories and symlinks have no holes to punch.
    let r = w.env.txn(|t, s| {
        let mut root = t.read_inode(ROOT_INO)?;
        op_punch(t, s, ROOT_INO, &mut root, 0, 10, 4)
    });
    assert_eq!(
        r.unwrap_err(),
        Error::BadField("hole punch in a non-regular file")
    );
    assert_eq!(w.env.m.cur, base_img);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Two files of 900 three-block extents each (interleaved, so they never
/// merge; every fifth unwritten): a punch across about 700 of them, both
/// ends inside an extent, in transactions of at most 7 steps, with every
/// intermediate state a committed, consistent filesystem in which exactly
/// a prefix of the range has been punched; a split inside the tree; then
/// everything with an unlimited budget (the free slots end each
/// transaction), which releases the tree.
#[test]
fn punch_900_extent_tree_in_budgeted_transactions() {
    let dir = common::scratch("ops-punch-tree");
    let img_path = dir.join("img");
    let img = fresh_image(32 << 20, Some(64));
    let start = bitmap_free(&img);
    let (env, _) = Env::open(img).unwrap();
    let mut w = World::new(env, 5);
    let f = w.new_file("f");
    let g = w.new_file("g");
    for i in 0..900u64 {
        w.map_range(f, 4 * i, 3, i % 5 == 0);
        w.map_range(g, 4 * i, 3, i % 5 == 0);
    }
    assert_eq!(inode(&w, f).map_count, 900);
    assert_eq!(inode(&w, f).map_kind, MAP_BTREE);
    check_all(&w, &img_path, "900 extents");

    // [401, 3202): keeps block 400 of extent 100, removes extents 101 to
    // 799, keeps blocks 3202 of extent 800.
    let (first, end) = (4 * 100 + 1, 4 * 800 + 2);
    let before = extents(&w, f);
    let i0 = inode(&w, f);
    let free0 = w.env.sb.free_blocks;
    let mut txns = 0;
    loop {
        let done = w
            .env
            .txn(|t, s| {
                let mut i = t.read_inode(f)?;
                op_punch(t, s, f, &mut i, first, end, 7)
            })
            .unwrap();
        txns += 1;
        // What is punched so far is [first, x): x is where the first
        // extent still overlapping the range starts.
        let now = extents(&w, f);
        let x = now
            .iter()
            .find(|e| e.lend() > first)
            .map_or(end, |e| e.lblk.clamp(first, end));
        assert_eq!(
            now,
            punch_ref(&before, first, x),
            "after transaction {}",
            txns
        );
        let i = inode(&w, f);
        assert_eq!(
            w.env.sb.free_blocks + i.blocks,
            free0 + i0.blocks,
            "after transaction {}",
            txns
        );
        assert_eq!(i.size, i0.size);
        if txns % 10 == 0 {
            assert_fsck_clean(&w.env.m.cur, &img_path, Some(0), "punch transaction");
        }
        if done {
            break;
        }
        assert!(x < end, "Ok(false) with nothing left");
    }
    // 701 extents, 7 per transaction.
    assert_eq!(txns, 701usize.div_ceil(7), "transactions");
    let m = w.model.inodes.get_mut(&f).unwrap();
    m.blocks.retain(|b, _| *b < first || *b >= end);
    m.tags.retain(|b, _| *b < first || *b >= end);
    assert_eq!(extents(&w, f).len(), 900 - 699);
    check_all(&w, &img_path, "after the budgeted punch");

    // A split inside the tree, an unwritten one too (extent 850 is
    // unwritten, 851 written).
    w.punch_range(f, 4 * 850 + 1, 4 * 850 + 2, 7);
    w.punch_range(f, 4 * 851 + 1, 4 * 851 + 2, 7);
    let e = extents(&w, f);
    assert_eq!(e.len(), 900 - 699 + 2);
    assert!(e
        .iter()
        .filter(|x| x.lblk / 4 == 850)
        .all(|x| x.flags == EXTENT_UNWRITTEN));
    check_all(&w, &img_path, "after the splits");

    // Everything at once, with an unlimited budget, in transactions of
    // 26 slots: after one step (a leaf, a bitmap and a group-table block
    // at least) fewer than STEP_SLOTS are left, so the free slots end
    // each transaction, never TxnTooLarge; the emptied tree is released.
    let (env, _) = Env::open_with(w.env.m.cur.clone(), 26).unwrap();
    w.env = env;
    let txns = w.punch_range(f, 0, u64::MAX, usize::MAX);
    assert_eq!(txns, 203, "203 extents removed in {} transactions", txns);
    let i = inode(&w, f);
    assert_eq!((i.map_kind, i.map_count, i.blocks), (MAP_EXTENTS, 0, 0));
    assert_eq!(i.size, i0.size);
    check_all(&w, &img_path, "after punching everything");
    // The other file is untouched (its data too: check_all).
    assert_eq!(extents(&w, g).len(), 900);
    // With the default slots, a split after other steps in the same
    // transaction (the right part of extent 700 is inserted last).
    let (env, _) = Env::open(w.env.m.cur.clone()).unwrap();
    w.env = env;
    let txns = w.punch_range(g, 4 * 600, 4 * 700 + 1, usize::MAX);
    assert_eq!(txns, 1);
    check_all(&w, &img_path, "after a long punch of the other file");
    w.remove_all();
    assert_eq!(bitmap_free(&w.env.m.cur), start);
    assert_eq!((w.env.sb.free_blocks, w.env.sb.free_inodes), start);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An extent longer than `FREE_CHUNK`: punching its middle takes two
/// steps (the split with the range's last `FREE_CHUNK` blocks, then the
/// rest), each its own transaction with a budget of one; the pieces stay
/// unwritten.
#[test]
fn punch_longer_than_a_free_chunk() {
    let dir = common::scratch("ops-punch-chunk");
    let img_path = dir.join("img");
    let img = fresh_image(144 << 20, Some(64));
    let start = bitmap_free(&img);
    let (env, _) = Env::open(img).unwrap();
    let mut w = World::new(env, 9);
    let f = w.new_file("big");
    let len = FREE_CHUNK + 300;
    w.map_range(f, 0, len, true);
    let before = extents(&w, f);
    assert_eq!(before.len(), 1, "{:?}", before);
    let (first, end) = (10, len - 10);
    let free0 = w.env.sb.free_blocks;
    let done = w
        .env
        .txn(|t, s| {
            let mut i = t.read_inode(f)?;
            op_punch(t, s, f, &mut i, first, end, 1)
        })
        .unwrap();
    assert!(!done);
    // The last FREE_CHUNK blocks of the range went first.
    let e0 = before[0];
    let mid = end - FREE_CHUNK;
    assert_eq!(
        extents(&w, f),
        vec![
            Extent {
                len: mid as u32,
                ..e0
            },
            Extent {
                lblk: end,
                pblk: e0.pblk + end,
                len: 10,
                flags: EXTENT_UNWRITTEN
            }
        ]
    );
    assert_eq!(w.env.sb.free_blocks, free0 + FREE_CHUNK);
    assert_fsck_clean(&w.env.m.cur, &img_path, Some(0), "first step");
    let done = w
        .env
        .txn(|t, s| {
            let mut i = t.read_inode(f)?;
            op_punch(t, s, f, &mut i, first, end, 1)
        })
        .unwrap();
    assert!(done);
    assert_eq!(extents(&w, f), punch_ref(&before, first, end));
    assert!(extents(&w, f).iter().all(|e| e.flags == EXTENT_UNWRITTEN));
    assert_eq!(w.env.sb.free_blocks, free0 + (end - first));
    let m = w.model.inodes.get_mut(&f).unwrap();
    m.blocks.retain(|b, _| *b < first || *b >= end);
    check_all(&w, &img_path, "after the punch");
    w.remove_all();
    assert_eq!((w.env.sb.free_blocks, w.env.sb.free_inodes), start);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Sets or clears `EXTENT_SEALED` on every extent of `ino` overlapping
/// `[first, end)` directly with `map_update` (what `op_seal_extents` does,
/// without its checks: the state a crash half way through a seal leaves).
fn set_sealed(w: &mut World, ino: u64, first: u64, end: u64, on: bool) {
    w.env
        .txn(|t, s| {
            let mut i = t.read_inode(ino)?;
            let ctx = t.ctx();
            let mut at = first;
            while let Some(e) = daxfs_format::extent::map_next(&i, ino, &ctx, t, s, at)? {
                if e.lblk >= end {
                    break;
                }
                let flags = if on {
                    e.flags | EXTENT_SEALED
                } else {
                    e.flags & !EXTENT_SEALED
                };
                map_update(&mut i, ino, &ctx, t, s, Extent { flags, ..e })?;
                at = e.lend();
            }
            t.write_inode(ino, &i)
        })
        .unwrap();
}

/// Punching is refused (`Error::Sealed`, the kernel's `ETXTBSY`) in a
/// sealed file whatever the range, holes and the space past the end
/// included, and the refused transaction writes nothing. Only the inode
/// flag seals: SEALED extents of an unsealed file (one being sealed, under
/// its intent) are trimmed, split and freed like others, the pieces keeping
/// their flags until the roll-back clears them.
#[test]
fn punch_refuses_a_sealed_file_not_sealed_extents() {
    let dir = common::scratch("ops-punch-sealed");
    let img_path = dir.join("img");
    let (env, _) = Env::open(fresh_image(8 << 20, Some(64))).unwrap();
    let mut w = World::new(env, 13);
    let s = w.new_file("sealed");
    let t = w.new_file("stray");
    let x = w.new_file("other");
    // Interleaved with `other`, so that every extent stays separate.
    w.map_range(s, 0, 4, false);
    w.map_range(x, 0, 4, false);
    w.map_range(s, 4, 4, false);
    w.map_range(t, 0, 4, false);
    w.map_range(x, 4, 4, false);
    w.map_range(t, 4, 4, false);
    w.map_range(x, 8, 4, false);
    w.map_range(t, 10, 2, true);
    assert_eq!(extents(&w, s).len(), 2);
    assert_eq!(extents(&w, t).len(), 3);
    // Seal `s` as the kernel does: extents first, then the inode flag.
    set_sealed(&mut w, s, 0, u64::MAX, true);
    w.env
        .txn(|tx, _| {
            let mut i = tx.read_inode(s)?;
            i.flags |= INODE_FLAG_SEALED;
            tx.write_inode(s, &i)
        })
        .unwrap();
    check_all(&w, &img_path, "sealed");
    let mut refused = 0;
    for (first, end) in [
        (1, 3),
        (0, 4),
        (3, 5),
        (0, u64::MAX),
        (8, 9),
        (100, 200),
        (5, 5),
    ] {
        for budget in [1, usize::MAX] {
            let img = w.env.m.cur.clone();
            let r = w.env.txn(|tx, sc| {
                let mut i = tx.read_inode(s)?;
                op_punch(tx, sc, s, &mut i, first, end, budget)
            });
            assert_eq!(r, Err(Error::Sealed), "punch [{}, {})", first, end);
            assert!(w.env.m.cur == img, "refused punch wrote");
            refused += 1;
        }
    }
    assert_eq!(refused, 14);
    check_all(&w, &img_path, "sealed, after the refusals");

    // A file half way through its seal (a crash between the sealing
    // transactions): under the intent, with one SEALED extent, fsck is
    // clean and punching cuts the SEALED extent like any other.
    w.env
        .txn(|tx, _| {
            let mut i = tx.read_inode(t)?;
            op_seal_begin(tx, t, &mut i)
        })
        .unwrap();
    set_sealed(&mut w, t, 5, 6, true);
    assert_eq!(
        extents(&w, t)
            .iter()
            .map(|e| (e.lblk, e.len, e.flags))
            .collect::<Vec<_>>(),
        vec![(0, 4, 0), (4, 4, EXTENT_SEALED), (10, 2, EXTENT_UNWRITTEN)]
    );
    check_all(&w, &img_path, "half sealed");
    w.punch_range(t, 5, 6, 1);
    w.punch_range(t, 1, 2, 4);
    w.punch_range(t, 10, 11, 4);
    assert_eq!(
        extents(&w, t)
            .iter()
            .map(|e| (e.lblk, e.len, e.flags))
            .collect::<Vec<_>>(),
        vec![
            (0, 1, 0),
            (2, 2, 0),
            (4, 1, EXTENT_SEALED),
            (6, 2, EXTENT_SEALED),
            (11, 1, EXTENT_UNWRITTEN)
        ]
    );
    check_all(&w, &img_path, "half sealed, punched");
    // Truncation frees SEALED extents of an unsealed file too.
    w.truncate_to(t, 7 * BLOCK_SIZE_U64, 1);
    assert_eq!(
        extents(&w, t).last().map(|e| (e.lblk, e.len, e.flags)),
        Some((6, 1, EXTENT_SEALED))
    );
    check_all(&w, &img_path, "half sealed, truncated");
    // The roll-back (what mount does after the crash) clears the flags.
    let (freed, healed) = w.env.mount_recovery(1).unwrap();
    assert_eq!((freed, healed), (0, 1));
    let i = inode(&w, t);
    assert!(!i.is_sealed() && !i.seal_intent());
    assert!(extents(&w, t).iter().all(|e| e.flags & EXTENT_SEALED == 0));
    assert_eq!(w.env.sb.orphan_head, 0);
    w.punch_range(t, 0, u64::MAX, 1);
    assert_eq!(extents(&w, t), vec![]);
    check_all(&w, &img_path, "rolled back and punched");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Random operations with hole punching mixed in (ranges inside one
/// extent, across many, past the end, everything; budgets of 1 to 3
/// steps), each punch checked exactly against the reference, everything
/// against the model after every operation and by fsck every 50.
#[test]
fn random_operations_with_hole_punching_match_the_model_and_fsck() {
    let mut total = BTreeMap::new();
    for (seed, size, ops) in [
        (0x9e37_79b9u64, 16u64 << 20, 600usize),
        (0x7f4a_7c15, 6 << 20, 600),
    ] {
        let w = random_run(seed, size, ops, 50, true);
        for (k, v) in &w.stats {
            let t: &mut u64 = total.entry(*k).or_default();
            *t += v.0;
        }
    }
    for k in [
        "punch",
        "punch split",
        "punch tree",
        "punch txns",
        "alloc",
        "truncate",
    ] {
        assert!(
            total.get(k).is_some_and(|n| *n > 5),
            "{} ran too rarely: {:?}",
            k,
            total
        );
    }
}

/// On a full device, splitting an extent of a full inline map needs a
/// tree node: it comes from the blocks the punch frees in the same
/// transaction. Punching frees exactly the punched blocks' worth.
#[test]
fn punch_on_a_full_device() {
    let dir = common::scratch("ops-punch-full");
    let img_path = dir.join("img");
    let (env, _) = Env::open(fresh_image(6 << 20, Some(32))).unwrap();
    let mut w = World::new(env, 17);
    let f = w.new_file("f");
    for &(l, n, u) in &LAYOUT {
        w.map_range(f, l, n, u);
    }
    // Fill the rest of the device with one unwritten file.
    let fill = w.new_file("fill");
    let mut at = 0;
    while w.env.sb.free_blocks > 0 {
        let want = w.env.sb.free_blocks;
        let r = w.env.txn(|t, s| {
            let mut i = t.read_inode(fill)?;
            op_alloc(t, s, fill, &mut i, at, want, true)
        });
        let e = r.unwrap();
        let m = w.model.inodes.get_mut(&fill).unwrap();
        for b in e.lblk..e.lend() {
            m.blocks.insert(b, true);
        }
        at = e.lend() + 1;
    }
    assert_eq!(w.env.sb.free_blocks, 0);
    check_all(&w, &img_path, "full device");
    assert_eq!(inode(&w, f).map_kind, MAP_EXTENTS);
    // One block out of the middle of the first extent: seven extents,
    // the tree's root is the block just freed.
    let txns = w.punch_range(f, 5, 6, 1);
    assert_eq!(txns, 1);
    let i = inode(&w, f);
    assert_eq!((i.map_kind, i.map_count), (MAP_BTREE, 7));
    assert_eq!(w.env.sb.free_blocks, 0);
    check_all(&w, &img_path, "split on a full device");
    w.punch_range(f, 60, 62, 1);
    assert_eq!(w.env.sb.free_blocks, 2);
    check_all(&w, &img_path, "second split");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Sealing a file in steps under an intent (`op_seal_begin`,
/// `op_seal_extents`, `op_seal_inode`) and unsealing it (`op_unseal_begin`,
/// `op_seal_extents`, `op_seal_end`): each step refuses to run out of
/// order; the invariants are checked before the inode flag is set; the
/// intent puts the file on the orphan list and the last step takes it off;
/// every map change of a sealed file is refused; fsck is clean in every
/// state; unsealing gives the map back.
#[test]
fn seal_and_unseal_in_steps() {
    let dir = common::scratch("ops-seal");
    let img_path = dir.join("img");
    let (mut env, _) = Env::open(fresh_image(64 << 20, None)).unwrap();
    let now = Timespec { sec: 7, nsec: 0 };
    let later = Timespec { sec: 9, nsec: 5 };
    let f = env
        .txn(|t, s| {
            let mut root = t.read_inode(ROOT_INO)?;
            let mut new = Inode::new(S_IFREG | 0o600, 0, 0, now);
            op_create(t, s, ROOT_INO, &mut root, b"sealed", &mut new, now)
        })
        .unwrap();
    // 20 one-block extents with holes between them: more than the inline
    // map holds, so the map is a tree.
    for i in 0..20u64 {
        env.txn(|t, s| {
            let mut ino = t.read_inode(f)?;
            op_alloc(t, s, f, &mut ino, i * 2, 1, i % 3 == 0)
        })
        .unwrap();
    }
    env.txn(|t, _| {
        let mut ino = t.read_inode(f)?;
        ino.size = 40 * BLOCK_SIZE_U64;
        t.write_inode(f, &ino)
    })
    .unwrap();
    assert_eq!(env.txn(|t, _| t.read_inode(f)).unwrap().map_kind, MAP_BTREE);
    let bad = |r: daxfs_format::Result<()>, what: &str| {
        assert!(matches!(r, Err(Error::BadField(_))), "{}: {:?}", what, r);
    };
    // Without an intent no step but the first runs.
    let img = env.m.cur.clone();
    bad(
        env.txn(|t, s| {
            let mut ino = t.read_inode(f)?;
            op_seal_extents(t, s, f, &mut ino, 0, true, 100).map(|_| ())
        }),
        "extents without an intent",
    );
    bad(
        env.txn(|t, s| {
            let mut ino = t.read_inode(f)?;
            op_seal_inode(t, s, f, &mut ino, now)
        }),
        "inode flag without an intent",
    );
    bad(
        env.txn(|t, s| {
            let mut ino = t.read_inode(f)?;
            op_seal_end(t, s, f, &mut ino)
        }),
        "end without an intent",
    );
    bad(
        env.txn(|t, _| {
            let mut ino = t.read_inode(f)?;
            op_unseal_begin(t, f, &mut ino, now)
        }),
        "unsealing an unsealed file",
    );
    assert!(env.m.cur == img, "a refused step wrote");
    // The intent: the file goes on the orphan list, and fsck -n finds the
    // filesystem consistent.
    env.txn(|t, _| {
        let mut ino = t.read_inode(f)?;
        op_seal_begin(t, f, &mut ino)
    })
    .unwrap();
    let ino = env.txn(|t, _| t.read_inode(f)).unwrap();
    assert!(ino.seal_intent() && !ino.is_sealed());
    assert_eq!(env.sb.orphan_head, f);
    assert_fsck_clean(&env.m.cur, &img_path, Some(0), "seal intent");
    bad(
        env.txn(|t, _| {
            let mut ino = t.read_inode(f)?;
            op_seal_begin(t, f, &mut ino)
        }),
        "a second intent",
    );
    // Unwritten extents cannot be sealed.
    bad(
        env.txn(|t, s| {
            let mut ino = t.read_inode(f)?;
            op_seal_extents(t, s, f, &mut ino, 0, true, 100).map(|_| ())
        }),
        "an unwritten extent",
    );
    env.txn(|t, s| {
        let mut ino = t.read_inode(f)?;
        op_convert(t, s, f, &mut ino, 0, 40)
    })
    .unwrap();
    let mut at = Some(0);
    let mut steps = 0;
    while let Some(from) = at {
        at = env
            .txn(|t, s| {
                let mut ino = t.read_inode(f)?;
                op_seal_extents(t, s, f, &mut ino, from, true, 4)
            })
            .unwrap();
        steps += 1;
        if steps == 2 {
            assert_fsck_clean(&env.m.cur, &img_path, Some(0), "half way");
        }
    }
    assert!(steps >= 5, "{} steps for 20 extents, budget 4", steps);
    bad(
        env.txn(|t, s| {
            let mut ino = t.read_inode(f)?;
            op_seal_inode(t, s, f, &mut ino, now)
        }),
        "holes",
    );
    // Fill the holes, seal the new extents, then the inode.
    for i in 0..20u64 {
        env.txn(|t, s| {
            let mut ino = t.read_inode(f)?;
            op_alloc(t, s, f, &mut ino, i * 2 + 1, 1, false)?;
            op_seal_extents(t, s, f, &mut ino, i * 2 + 1, true, 1)
        })
        .unwrap();
    }
    env.txn(|t, s| {
        let mut ino = t.read_inode(f)?;
        op_seal_inode(t, s, f, &mut ino, now)
    })
    .unwrap();
    let ino = env.txn(|t, _| t.read_inode(f)).unwrap();
    assert!(ino.is_sealed() && !ino.seal_intent());
    assert_eq!(ino.ctime, now);
    assert_eq!(
        (env.sb.orphan_head, ino.next_orphan, ino.prev_orphan),
        (0, 0, 0)
    );
    for e in extents_of(&env.m.cur, &env.sb.ctx(), f, &ino) {
        assert_eq!(e.flags, EXTENT_SEALED, "{:?}", e);
    }
    assert_fsck_clean(&env.m.cur, &img_path, Some(0), "sealed");
    let img = env.m.cur.clone();
    for r in [
        env.txn(|t, s| {
            let mut ino = t.read_inode(f)?;
            op_alloc(t, s, f, &mut ino, 40, 1, false).map(|_| ())
        }),
        env.txn(|t, s| {
            let mut ino = t.read_inode(f)?;
            op_punch(t, s, f, &mut ino, 0, 1, 4).map(|_| ())
        }),
        env.txn(|t, s| {
            let mut ino = t.read_inode(f)?;
            op_truncate(t, s, f, &mut ino, 0, 4).map(|_| ())
        }),
    ] {
        assert_eq!(r.unwrap_err(), Error::Sealed);
    }
    bad(
        env.txn(|t, s| {
            let mut ino = t.read_inode(f)?;
            op_seal_extents(t, s, f, &mut ino, 0, false, 4).map(|_| ())
        }),
        "clearing extent flags of a sealed file",
    );
    bad(
        env.txn(|t, _| {
            let mut ino = t.read_inode(f)?;
            op_seal_begin(t, f, &mut ino)
        }),
        "sealing a sealed file",
    );
    assert!(env.m.cur == img, "a refused change wrote");
    // Unseal: the inode flag goes with the intent, then the extent flags,
    // then the intent.
    env.txn(|t, _| {
        let mut ino = t.read_inode(f)?;
        op_unseal_begin(t, f, &mut ino, later)
    })
    .unwrap();
    let ino = env.txn(|t, _| t.read_inode(f)).unwrap();
    assert!(!ino.is_sealed() && ino.seal_intent());
    assert_eq!((ino.ctime, env.sb.orphan_head), (later, f));
    assert_fsck_clean(&env.m.cur, &img_path, Some(0), "unseal intent");
    let mut at = Some(0);
    let mut steps = 0;
    while let Some(from) = at {
        at = env
            .txn(|t, s| {
                let mut ino = t.read_inode(f)?;
                op_seal_extents(t, s, f, &mut ino, from, false, 16)
            })
            .unwrap();
        steps += 1;
        if at.is_some() {
            bad(
                env.txn(|t, s| {
                    let mut ino = t.read_inode(f)?;
                    op_seal_end(t, s, f, &mut ino)
                }),
                "end with SEALED extents left",
            );
        }
    }
    assert!(steps >= 3, "{} steps for 40 extents, budget 16", steps);
    env.txn(|t, s| {
        let mut ino = t.read_inode(f)?;
        op_seal_end(t, s, f, &mut ino)
    })
    .unwrap();
    let ino = env.txn(|t, _| t.read_inode(f)).unwrap();
    assert!(!ino.is_sealed() && !ino.seal_intent());
    assert_eq!(
        (env.sb.orphan_head, ino.next_orphan, ino.prev_orphan),
        (0, 0, 0)
    );
    for e in extents_of(&env.m.cur, &env.sb.ctx(), f, &ino) {
        assert_eq!(e.flags, 0, "{:?}", e);
    }
    assert_fsck_clean(&env.m.cur, &img_path, Some(0), "unsealed");
    env.txn(|t, s| {
        let mut ino = t.read_inode(f)?;
        op_truncate(t, s, f, &mut ino, 0, 64).map(|_| ())
    })
    .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A seal intent and the orphan list: an inode is listed exactly while it
/// has no links or an intent. Sealing an unlinked (`O_TMPFILE`) file
/// keeps it listed through the whole sequence; linking it, or unlinking a
/// file whose intent is pending, never lists or unlists it twice; the
/// list stays doubly linked with several members; mount recovery frees
/// the unlinked members and rolls the intents back.
#[test]
fn seal_intent_and_the_orphan_list() {
    let dir = common::scratch("ops-seal-orphans");
    let img_path = dir.join("img");
    let (env, _) = Env::open(fresh_image(8 << 20, Some(64))).unwrap();
    let mut w = World::new(env, 5);
    let now = Timespec { sec: 8, nsec: 0 };
    let a = w.new_file("a");
    let b = w.new_file("b");
    w.map_range(a, 0, 3, false);
    w.map_range(b, 0, 2, false);
    let tmp = w
        .env
        .txn(|t, s| {
            let mut new = Inode::new(S_IFREG | 0o600, 0, 0, now);
            op_tmpfile(t, s, &mut new)
        })
        .unwrap();
    let tmp_blocks = w
        .env
        .txn(|t, s| {
            let mut i = t.read_inode(tmp)?;
            let e = op_alloc(t, s, tmp, &mut i, 0, 4, false)?;
            i.size = 4 * BLOCK_SIZE_U64;
            t.write_inode(tmp, &i)?;
            Ok(e)
        })
        .unwrap();
    assert_eq!(tmp_blocks.len, 4);
    let list = |w: &World| {
        let mut v = Vec::new();
        let mut cur = w.env.sb.orphan_head;
        let mut prev = 0;
        while cur != 0 {
            let i = inode(w, cur);
            assert_eq!(u64::from(i.prev_orphan), prev, "back link of {}", cur);
            v.push(cur);
            prev = cur;
            cur = u64::from(i.next_orphan);
        }
        v
    };
    let begin = |w: &mut World, ino: u64| {
        w.env
            .txn(|t, _| {
                let mut i = t.read_inode(ino)?;
                op_seal_begin(t, ino, &mut i)
            })
            .unwrap()
    };
    let mark = |w: &mut World, ino: u64| {
        let mut at = Some(0);
        while let Some(from) = at {
            at = w
                .env
                .txn(|t, s| {
                    let mut i = t.read_inode(ino)?;
                    op_seal_extents(t, s, ino, &mut i, from, true, 1)
                })
                .unwrap();
        }
    };
    assert_eq!(list(&w), vec![tmp]);
    // The tmpfile is sealed while unlinked: listed all along.
    begin(&mut w, tmp);
    assert_eq!(list(&w), vec![tmp]);
    mark(&mut w, tmp);
    w.env
        .txn(|t, s| {
            let mut i = t.read_inode(tmp)?;
            op_seal_inode(t, s, tmp, &mut i, now)
        })
        .unwrap();
    assert!(inode(&w, tmp).is_sealed());
    assert_eq!(list(&w), vec![tmp]);
    // Intents on two linked files: three members.
    begin(&mut w, a);
    begin(&mut w, b);
    assert_eq!(list(&w), vec![b, a, tmp]);
    mark(&mut w, a);
    assert_fsck_clean(
        &w.env.m.cur,
        &img_path,
        Some(1),
        "two intents and an orphan",
    );
    // Unlinking `b` (intent pending) keeps it listed once; it is now an
    // orphan. Linking the sealed tmpfile takes it off the list.
    w.env
        .txn(|t, s| {
            let mut root = t.read_inode(ROOT_INO)?;
            let mut i = t.read_inode(b)?;
            op_unlink(t, s, ROOT_INO, &mut root, b"b", b, &mut i, now)
        })
        .unwrap();
    assert_eq!(list(&w), vec![b, a, tmp]);
    w.env
        .txn(|t, s| {
            let mut root = t.read_inode(ROOT_INO)?;
            let mut i = t.read_inode(tmp)?;
            op_link(t, s, ROOT_INO, &mut root, b"t", tmp, &mut i, now)
        })
        .unwrap();
    assert_eq!(list(&w), vec![b, a]);
    assert_eq!(inode(&w, tmp).nlink, 1);
    // Linking `b` back: its intent keeps it listed.
    w.env
        .txn(|t, s| {
            let mut root = t.read_inode(ROOT_INO)?;
            let mut i = t.read_inode(b)?;
            op_link(t, s, ROOT_INO, &mut root, b"b2", b, &mut i, now)
        })
        .unwrap();
    assert_eq!(list(&w), vec![b, a]);
    // Unlink it for good: mount frees it and rolls `a` back.
    w.env
        .txn(|t, s| {
            let mut root = t.read_inode(ROOT_INO)?;
            let mut i = t.read_inode(b)?;
            op_unlink(t, s, ROOT_INO, &mut root, b"b2", b, &mut i, now)
        })
        .unwrap();
    assert_eq!(list(&w), vec![b, a]);
    let (freed, healed) = w.env.mount_recovery(1).unwrap();
    assert_eq!((freed, healed), (1, 1));
    assert_eq!(list(&w), Vec::<u64>::new());
    let ia = inode(&w, a);
    assert!(!ia.is_sealed() && !ia.seal_intent());
    assert!(extents(&w, a).iter().all(|e| e.flags & EXTENT_SEALED == 0));
    assert!(inode(&w, tmp).is_sealed());
    assert_fsck_clean(&w.env.m.cur, &img_path, Some(0), "after recovery");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The fraction of `[0, blocks)` of `ino` that a DAX fault can map with
/// 2 MiB pages: each 512-block chunk lies in one extent that is
/// physically 2 MiB-aligned at the chunk's start.
fn huge_chunks(w: &World, ino: u64, blocks: u64) -> (u64, u64) {
    let sb = w.env.sb;
    let i = inode_of(&w.env.m.cur, &sb, ino).unwrap();
    let ext = extents_of(&w.env.m.cur, &sb.ctx(), ino, &i);
    let chunks = blocks / GROUP_BLOCKS;
    let huge = (0..chunks)
        .filter(|k| {
            let lblk = k * GROUP_BLOCKS;
            ext.iter().any(|e| {
                e.lblk <= lblk
                    && e.lend() >= lblk + GROUP_BLOCKS
                    && (e.pblk + (lblk - e.lblk)) % GROUP_BLOCKS == 0
            })
        })
        .count() as u64;
    (huge, chunks)
}

/// Aging (the WineFS lesson): a 512 MiB filesystem filled to 75% by
/// interleaved creates, appends of 1 to 64 blocks, deletes and punches,
/// then a 64 MiB file allocated as fallocate and seal allocate it (from
/// block 0, as many runs as the allocator gives): every 2 MiB of it can
/// be one huge-page mapping. Small allocations fill partly used groups
/// before breaking up a free one, and a big allocation's runs end at
/// group boundaries. Before (appends at the first free block after the
/// cursor; a big allocation's run ending anywhere), this workload left 28
/// wholly free groups of 254 and 26 of the 32 chunks were 2 MiB-aligned.
#[test]
fn aging_keeps_free_groups_for_huge_pages() {
    let img = fresh_image(512 << 20, Some(8192));
    let (env, _) = Env::open(img).unwrap();
    let mut w = World::new(env, 7);
    let l = w.env.layout();
    assert_eq!(l.data_start % GROUP_BLOCKS, 0);
    let now = Timespec { sec: 12, nsec: 0 };
    let mut rng = common::Rng(11);
    // (inode, name, next block)
    let mut files: Vec<(u64, String, u64)> = Vec::new();
    let (mut n, mut deleted, mut punched) = (0, 0, 0);
    // A fresh filesystem: the same file is all huge chunks.
    let probe = w.new_file("probe");
    w.map_range(probe, 0, 16 * GROUP_BLOCKS, true);
    assert_eq!(huge_chunks(&w, probe, 16 * GROUP_BLOCKS), (16, 16));
    while w.env.sb.free_blocks > l.data_blocks / 4 {
        match rng.below(10) {
            0 | 1 => {
                let name = format!("a{}", n);
                n += 1;
                let ino = w.new_file(&name);
                files.push((ino, name, 0));
            }
            2..=6 if !files.is_empty() => {
                let k = rng.below(files.len() as u64) as usize;
                let (ino, _, at) = files[k].clone();
                let len = 1 + rng.below(64);
                w.map_range(ino, at, len, false);
                files[k].2 = at + len;
            }
            7 if files.len() > 8 => {
                let k = rng.below(files.len() as u64) as usize;
                let (ino, name, _) = files.swap_remove(k);
                w.env
                    .txn(|t, s| {
                        let mut root = t.read_inode(ROOT_INO)?;
                        let mut i = t.read_inode(ino)?;
                        op_unlink(t, s, ROOT_INO, &mut root, name.as_bytes(), ino, &mut i, now)
                    })
                    .unwrap();
                w.model
                    .dirs
                    .get_mut(&ROOT_INO)
                    .unwrap()
                    .remove(name.as_bytes());
                w.model.inodes.get_mut(&ino).unwrap().nlink = 0;
                w.model.orphans.insert(ino);
                w.free_inode(ino);
                deleted += 1;
            }
            8 if !files.is_empty() => {
                let k = rng.below(files.len() as u64) as usize;
                let (ino, _, end) = files[k].clone();
                if end > 2 {
                    let first = rng.below(end - 1);
                    let last = first + 1 + rng.below((end - first).min(16));
                    w.punch_range(ino, first, last, 4);
                    punched += 1;
                }
            }
            _ => {}
        }
    }
    assert!(
        n > 100 && deleted > 20 && punched > 20,
        "{} {} {}",
        n,
        deleted,
        punched
    );
    let free_groups = (0..l.group_count)
        .filter(|&g| {
            let gt_off = (l.group_table_start * BLOCK_SIZE_U64) as usize;
            group_used(&w.env.m.cur[gt_off..], g) == 0
        })
        .count();
    // 64 MiB, unwritten, as fallocate and a seal allocate it.
    let big = w.new_file("big");
    w.map_range(big, 0, 32 * GROUP_BLOCKS, true);
    let (huge, chunks) = huge_chunks(&w, big, 32 * GROUP_BLOCKS);
    eprintln!(
        "aged to 75%: {} files, {} deleted, {} punches; {} wholly free groups of {}; {} of {} chunks 2 MiB-aligned",
        n, deleted, punched, free_groups, l.group_count, huge, chunks
    );
    assert_eq!(
        (huge, chunks),
        (32, 32),
        "after aging to 75% ({} files, {} deleted, {} punches; {} wholly free groups of {}): {} of {} chunks of the 64 MiB file are 2 MiB-aligned",
        n,
        deleted,
        punched,
        free_groups,
        l.group_count,
        huge,
        chunks
    );
    assert_fsck_clean(
        &w.env.m.cur,
        &common::scratch("ops-aging").join("img"),
        Some(0),
        "aged filesystem",
    );
}

/// Files written by appends, as `write(2)` allocates for them (the write
/// path's request: the blocks written, plus the blocks allocated ahead of
/// appends, `ahead.rs`: none under 16 blocks, then as many as the file
/// has, at most 256, up to a 2 MiB boundary of the file at most), on a
/// filesystem whose allocation cursor sits in a partly used group: a file
/// written 1 MiB at a time is 2 MiB-aligned in every chunk, and one written
/// 4 KiB at a time in every chunk after its first 2 MiB. Before, both kept
/// the phase of their first small allocation, and no chunk could be mapped
/// with a huge page (0 of 16 for both).
#[test]
fn appended_files_keep_the_2mib_phase() {
    let img = fresh_image(256 << 20, Some(4096));
    let (env, _) = Env::open(img).unwrap();
    let mut w = World::new(env, 9);
    // Small files: the cursor ends inside a partly used group.
    for k in 0..20 {
        let f = w.new_file(&format!("s{}", k));
        w.map_range(f, 0, 1 + k * 7, false);
    }
    let chunks = 16;
    let big = w.new_file("mib-writes");
    for k in 0..chunks * 2 {
        w.map_range(big, k * 256, 256, false);
    }
    assert_eq!(
        huge_chunks(&w, big, chunks * GROUP_BLOCKS),
        (chunks, chunks)
    );
    let small = w.new_file("4k-writes");
    let mut at = 0;
    while at < chunks * GROUP_BLOCKS {
        // ahead_blocks(): one block (the write's) while the file is under 16 blocks, then the
        // file's size, at most 256, in all; at 256, ending at a 2 MiB boundary of the file when
        // it crosses one.
        let mut want = if at < 16 { 1 } else { at.min(256) };
        let end = (at + want) & !(GROUP_BLOCKS - 1);
        if want == 256 && end > at + 1 {
            want = end - at;
        }
        let want = want.min(chunks * GROUP_BLOCKS - at);
        w.map_range(small, at, want, false);
        at += want;
    }
    let (huge, _) = huge_chunks(&w, small, chunks * GROUP_BLOCKS);
    assert!(huge >= chunks - 1, "{} of {} chunks in phase", huge, chunks);
    assert_fsck_clean(
        &w.env.m.cur,
        &common::scratch("ops-append-phase").join("img"),
        Some(0),
        "appended files",
    );
}

// SPDX-License-Identifier: GPL-2.0

//! The transaction layer of the format (`format::txn`): slots and the
//! overlay, the block and inode allocators, the orphan list, the commit
//! protocol and its error paths, log size, recovery, and a transaction
//! that exceeds its slots or its log.

#![allow(missing_docs)]

mod common;
mod txnlib;

use daxfs_format::alloc::{bit_test, group_used};
use daxfs_format::btree::NodeStore;
use daxfs_format::inode::{Inode, Timespec, S_IFREG};
use daxfs_format::journal::{commit_seq, JH_OFF_COMMIT, TXN_HEADER_SIZE, TXN_OFF_BODY_LEN};
use daxfs_format::ops::*;
use daxfs_format::superblock::{Superblock, ROOT_INO};
use daxfs_format::txn::*;
use daxfs_format::{Block, Error, BLOCK_SIZE, BLOCK_SIZE_U64, GROUP_BLOCKS};

use txnlib::*;

const NOW: Timespec = Timespec { sec: 77, nsec: 5 };

fn env(size: u64) -> Env {
    Env::open(fresh_image(size, None)).unwrap().0
}

fn create(e: &mut Env, name: &str) -> u64 {
    e.txn(|t, s| {
        let mut root = t.read_inode(ROOT_INO)?;
        let mut new = Inode::new(S_IFREG | 0o644, 0, 0, NOW);
        op_create(t, s, ROOT_INO, &mut root, name.as_bytes(), &mut new, NOW)
    })
    .unwrap()
}

fn body_len(img: &[u8], e: &Env) -> u64 {
    let o = ((e.sb.layout.journal_start + 1) * BLOCK_SIZE_U64) as usize + TXN_OFF_BODY_LEN;
    u64::from_le_bytes(img[o..o + 8].try_into().unwrap())
}

#[test]
fn overlay_reads_see_the_transaction_and_drop_discards_it() {
    let mut e = env(8 << 20);
    let before = e.m.cur.clone();
    let l = e.sb.layout;
    let blk = l.data_start + 5;
    let r: Result<(), Error> = e.txn(|t, _| {
        assert!(t.is_empty());
        t.block_mut(blk)?.fill(0xAB);
        assert!(!t.is_empty());
        let mut b: Box<Block> = Box::new([0; BLOCK_SIZE]);
        t.read_block(blk, &mut b)?;
        assert!(b.iter().all(|&x| x == 0xAB));
        let mut x = [0u8; 3];
        t.read_bytes(blk * BLOCK_SIZE_U64 + 4094, &mut x[..2])?;
        assert_eq!(&x[..2], &[0xAB, 0xAB]);
        // Protected areas.
        assert_eq!(
            t.block_mut(0).unwrap_err(),
            Error::OutOfRange("transaction block")
        );
        assert!(t.block_mut(l.journal_start).is_err());
        assert!(t.block_mut(l.journal_start + l.journal_blocks - 1).is_err());
        assert!(t.block_mut(l.backup_sb_block).is_err());
        assert!(t.write_bytes(blk * BLOCK_SIZE_U64 + 4090, &[1; 8]).is_err());
        Err(Error::NotFound)
    });
    assert_eq!(r.unwrap_err(), Error::NotFound);
    assert!(
        e.m.cur == before,
        "a dropped transaction changed the medium"
    );
    // An empty transaction, and one whose changes cancel out, write
    // nothing.
    e.txn(|_, _| Ok(())).unwrap();
    e.txn(|t, _| {
        let b = t.block_mut(blk)?;
        let old = b[7];
        b[7] = old ^ 1;
        b[7] = old;
        Ok(())
    })
    .unwrap();
    assert_eq!(e.m.writes, 0);
    assert_eq!(e.commits, 2);
}

#[test]
fn an_inode_update_logs_a_few_hundred_bytes() {
    let mut e = env(8 << 20);
    let f = create(&mut e, "f");
    e.txn(|t, _| {
        let mut i = t.read_inode(f)?;
        i.mtime = Timespec { sec: 1, nsec: 1 };
        t.write_inode(f, &i)
    })
    .unwrap();
    let n = body_len(&e.m.cur, &e);
    assert!(n <= 64, "one changed time logged in {} bytes", n);
    e.txn(|t, _| {
        let mut i = t.read_inode(f)?;
        i.uid = 1;
        i.size = 1 << 40;
        i.atime = Timespec { sec: 9, nsec: 9 };
        i.map[100] = 0;
        t.write_inode(f, &i)?;
        t.sb_mut().write_time = 12345;
        Ok(())
    })
    .unwrap();
    let n = body_len(&e.m.cur, &e);
    assert!(
        n <= 256 + 64,
        "an inode and the superblock logged in {} bytes",
        n
    );
    let sb = Superblock::decode(&e.m.cur[..512]).unwrap();
    assert_eq!(sb.write_time, 12345);
    assert_eq!(sb, e.sb);
}

#[test]
fn block_allocator() {
    let mut e = env(16 << 20);
    let l = e.sb.layout;
    let free0 = e.sb.free_blocks;
    // Goal honoured, run as long as requested.
    let goal = l.data_start + 700;
    let (p, n) = e.txn(|t, _| t.alloc_blocks(goal, 10)).unwrap();
    assert_eq!((p, n), (goal, 10));
    // Goal taken: first fit from the cursor (just after the last run).
    let (p2, n2) = e.txn(|t, _| t.alloc_blocks(goal + 3, 5)).unwrap();
    assert_eq!((p2, n2), (goal + 10, 5));
    // A run at the goal stops at a used block: ask for more than fits
    // before `goal`.
    let (p3, n3) = e.txn(|t, _| t.alloc_blocks(goal - 4, 100)).unwrap();
    assert_eq!((p3, n3), (goal - 4, 4));
    // Without a goal, a small allocation takes a free run of its whole
    // length in a partly used group (the cursor's), not the first free
    // block: here 100 blocks right after the last run, in group 1.
    e.cur.block = goal - 8;
    let (p5, n5) = e.txn(|t, _| t.alloc_blocks(0, 100)).unwrap();
    assert_eq!((p5, n5), (goal + 15, 100));
    assert_eq!((p5 - l.data_start) / GROUP_BLOCKS, 1);
    e.txn(|t, _| t.free_blocks(p5, n5)).unwrap();
    // >= 512 blocks of a file from block 0: start of a wholly free group.
    let (p4, n4) = e.txn(|t, _| t.alloc_file_blocks(0, 0, 600)).unwrap();
    assert_eq!((p4 - l.data_start) % GROUP_BLOCKS, 0);
    assert_eq!(n4, 600);
    assert_eq!(e.sb.free_blocks, free0 - 10 - 5 - 4 - 600);
    let bm = (l.block_bitmap_start * BLOCK_SIZE_U64) as usize;
    let gt = (l.group_table_start * BLOCK_SIZE_U64) as usize;
    for b in [goal, goal + 14, goal - 4, p4, p4 + 599] {
        assert!(bit_test(&e.m.cur[bm..], b - l.data_start));
    }
    assert!(!bit_test(&e.m.cur[bm..], goal + 15 - l.data_start));
    let g = (p4 - l.data_start) / GROUP_BLOCKS;
    assert_eq!(group_used(&e.m.cur[gt..], g), 512);
    assert_eq!(group_used(&e.m.cur[gt..], g + 1), 88);
    // Frees: double free and outside the data area are refused without
    // any change.
    e.txn(|t, _| t.free_blocks(goal, 10)).unwrap();
    let r = e.txn(|t, _| t.free_blocks(goal + 9, 2));
    assert_eq!(r.unwrap_err(), Error::Corrupt("freeing a free block"));
    let r = e.txn(|t, _| t.free_blocks(l.data_start - 1, 2));
    assert!(matches!(r.unwrap_err(), Error::Corrupt(_)));
    let r = e.txn(|t, _| t.free_blocks(l.data_end() - 1, 2));
    assert!(matches!(r.unwrap_err(), Error::Corrupt(_)));
    let r = e.txn(|t, _| t.alloc_blocks(0, 0));
    assert!(r.is_err());
    e.txn(|t, _| {
        t.free_blocks(goal + 10, 5)?;
        t.free_blocks(goal - 4, 4)?;
        t.free_blocks(p4, 600)
    })
    .unwrap();
    assert_eq!(e.sb.free_blocks, free0);
    // Everything (including a run crossing bitmap-block and group
    // boundaries) until NoSpace, then everything back.
    let mut runs = Vec::new();
    loop {
        match e.txn(|t, _| t.alloc_blocks(0, 3000)) {
            Ok(r) => runs.push(r),
            Err(Error::NoSpace) => break,
            Err(x) => panic!("{:?}", x),
        }
    }
    assert_eq!(e.sb.free_blocks, 0);
    assert_eq!(runs.iter().map(|r| r.1).sum::<u64>(), free0);
    for r in runs {
        e.txn(|t, _| t.free_blocks(r.0, r.1)).unwrap();
    }
    assert_eq!(e.sb.free_blocks, free0);
    let dir = common::scratch("txn-alloc");
    assert_fsck_clean(&e.m.cur, &dir.join("img"), Some(0), "allocator");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// File allocations that can fill 2 MiB chunks are placed in the file's
/// 2 MiB phase (physical block = file block modulo 512), so that a DAX
/// fault can map each chunk with one huge page; small ones are not.
#[test]
fn file_allocations_keep_the_2mib_phase() {
    let mut e = env(64 << 20);
    let l = e.sb.layout;
    let rel = |p: u64| p - l.data_start;
    // A partly used group at the cursor, out of phase.
    let mut all = Vec::new();
    let mut take = |e: &mut Env, goal: u64, lblk: u64, want: u64| {
        let r = e.txn(|t, _| t.alloc_file_blocks(goal, lblk, want)).unwrap();
        all.push(r);
        r
    };
    let (small, _) = take(&mut e, 0, 0, 37);
    let (mid, _) = take(&mut e, 0, 3, 100);
    assert_eq!(
        mid,
        small + 37,
        "a small allocation packs into the partly used group"
    );
    // Half a chunk from a chunk boundary (a 1 MiB write at offset 0, or an
    // append past 1 MiB): a free group, at its start; not the free blocks
    // after `mid` in the partly used group.
    let (p, n) = take(&mut e, 0, 0, 256);
    assert_eq!((rel(p) % GROUP_BLOCKS, n), (0, 256));
    assert_ne!(rel(p) / GROUP_BLOCKS, rel(small) / GROUP_BLOCKS);
    // Its continuation in phase at the goal (the rest of the group is
    // free) ...
    let (p2, _) = take(&mut e, p + 256, 256, 256);
    assert_eq!(p2, p + 256);
    // ... but a goal out of phase is not taken by a chunk-filling
    // allocation: the file realigns in a free group.
    let goal = mid + 100;
    let (p3, n3) = take(&mut e, goal, 512, 256);
    assert_eq!((rel(p3) % GROUP_BLOCKS, n3), (0, 256));
    // A big allocation from the middle of a chunk starts at that offset
    // of a free group, and its short runs end at group boundaries.
    let (p4, n4) = take(&mut e, 0, 512 * 7 + 200, 2000);
    assert_eq!(rel(p4) % GROUP_BLOCKS, 200);
    assert!(n4 == 2000 || (rel(p4) + n4) % GROUP_BLOCKS == 0, "{}", n4);
    // Without a goal, a small allocation is not phase-aligned: it packs
    // into the partly used group at the cursor, where the last run ended.
    let (p5, _) = take(&mut e, 0, 512, 16);
    assert_eq!(p5, p4 + n4);
    assert_ne!(rel(p5) % GROUP_BLOCKS, 0);
    // With no free group left, a chunk-filling allocation still continues
    // at its goal rather than anywhere.
    let mut held = Vec::new();
    loop {
        match e.txn(|t, _| t.alloc_file_blocks(0, 0, GROUP_BLOCKS)) {
            Ok((q, m)) if m == GROUP_BLOCKS && rel(q) % GROUP_BLOCKS == 0 => held.push((q, m)),
            Ok(r) => {
                e.txn(|t, _| t.free_blocks(r.0, r.1)).unwrap();
                break;
            }
            Err(x) => panic!("{:?}", x),
        }
    }
    let (q, m) = held.pop().unwrap();
    e.txn(|t, _| t.free_blocks(q + 300, m - 300)).unwrap();
    held.push((q, 300));
    let (p6, _) = take(&mut e, q + 300, 300, 1024);
    assert_eq!(p6, q + 300);
    for (b, n) in all.into_iter().chain(held) {
        e.txn(|t, _| t.free_blocks(b, n)).unwrap();
    }
    let dir = common::scratch("txn-phase");
    assert_fsck_clean(&e.m.cur, &dir.join("img"), Some(0), "phase");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn inode_allocator_and_generations() {
    let mut e = env(8 << 20);
    let free0 = e.sb.free_inodes;
    let g0 = e.sb.next_generation;
    let (a, ga) = e.txn(|t, _| t.alloc_ino()).unwrap();
    assert_eq!(a, 2);
    assert_eq!(u64::from(ga), g0);
    assert_eq!(e.sb.next_generation, g0 + 1);
    assert_eq!(e.sb.free_inodes, free0 - 1);
    // The slot was allocated but never written: a free record.
    assert_eq!(
        e.txn(|t, _| t.read_inode(a)).unwrap_err(),
        Error::Corrupt("inode is free")
    );
    e.txn(|t, _| t.free_ino(a)).unwrap();
    assert_eq!(
        e.txn(|t, _| t.free_ino(a)).unwrap_err(),
        Error::Corrupt("freeing a free inode")
    );
    assert!(e.txn(|t, _| t.free_ino(ROOT_INO)).is_err());
    assert!(e.txn(|t, _| t.free_ino(0)).is_err());
    assert!(e.txn(|t, _| t.free_ino(1 << 40)).is_err());
    // A free bit over a non-zero record is corruption, not a new inode.
    let l = e.sb.layout;
    e.cur.ino = 3;
    let off = l.inode_offset(3).unwrap() as usize;
    e.m.cur[off + 7] = 1;
    assert_eq!(
        e.txn(|t, _| t.alloc_ino()).unwrap_err(),
        Error::Corrupt("free inode slot is not zero")
    );
    e.m.cur[off + 7] = 0;
    // The cursor wraps.
    e.cur.ino = l.inode_count - 1;
    let (x, _) = e.txn(|t, _| t.alloc_ino()).unwrap();
    assert_eq!(x, l.inode_count - 1);
    let (y, _) = e.txn(|t, _| t.alloc_ino()).unwrap();
    assert_eq!(y, 2);
}

/// The orphan list: push, remove from the head, the middle and the tail,
/// with the caller holding stale copies of the inodes (the kernel's
/// in-core inodes): `write_inode` of a stale copy must not undo a link
/// that `orphan_remove` changed.
/// The orphan list from the head, checking every backward link.
fn orphan_list(e: &Env) -> Vec<u64> {
    let mut v = Vec::new();
    let mut c = e.sb.orphan_head;
    let mut prev = 0;
    while c != 0 {
        let i = inode_of(&e.m.cur, &e.sb, c).unwrap();
        assert_eq!(u64::from(i.prev_orphan), prev, "back link of {}", c);
        v.push(c);
        prev = c;
        c = u64::from(i.next_orphan);
    }
    v
}

fn tmpfiles(e: &mut Env, n: usize) -> (Vec<u64>, Vec<Inode>) {
    (0..n)
        .map(|_| {
            e.txn(|t, s| {
                let mut new = Inode::new(S_IFREG | 0o600, 0, 0, NOW);
                let ino = op_tmpfile(t, s, &mut new)?;
                Ok((ino, new))
            })
            .unwrap()
        })
        .unzip()
}

/// Removing an orphan reads and writes only the orphan and its two
/// neighbours (the list is doubly linked), never walks from the head:
/// generic/531 evicts ~16k tmpfiles in creation order, the tail first,
/// which was O(n^2) with a walk. Shown by corrupting every other listed
/// inode: a walk would fail on them.
#[test]
fn orphan_remove_touches_only_neighbours() {
    let mut e = env(8 << 20);
    let (ids, mut copies) = tmpfiles(&mut e, 6);
    // List: 5 -> 4 -> 3 -> 2 -> 1 -> 0 (indexes into ids).
    let mut want: Vec<u64> = ids.iter().rev().copied().collect();
    assert_eq!(orphan_list(&e), want);
    // Remove ids[1] (neighbours ids[2] and ids[0]) with ids[3..] corrupt.
    let saved = e.m.cur.clone();
    for &x in &ids[3..] {
        let o = e.sb.layout.inode_offset(x).unwrap() as usize;
        e.m.cur[o + 0x5C] ^= 0xFF; // checksum
    }
    e.txn(|t, _| t.orphan_remove(ids[1], &mut copies[1]))
        .unwrap();
    assert_eq!((copies[1].next_orphan, copies[1].prev_orphan), (0, 0));
    let mut after = e.m.cur.clone();
    for &x in &ids[3..] {
        let o = e.sb.layout.inode_offset(x).unwrap() as usize;
        after[o + 0x5C] ^= 0xFF;
    }
    e.m.cur = after;
    want.retain(|&x| x != ids[1]);
    assert_eq!(orphan_list(&e), want);
    drop(saved);
    // The tail (creation order, as at process exit), then the head.
    for k in [0usize, 5, 2, 4, 3] {
        let mut c = copies[k];
        assert!(e
            .txn(|t, s| op_free_inode(t, s, ids[k], &mut c, 4))
            .unwrap());
        want.retain(|&x| x != ids[k]);
        assert_eq!(orphan_list(&e), want);
    }
    assert_eq!(e.sb.orphan_head, 0);
}

/// The links of an orphan's neighbours are checked, so a damaged list is
/// reported, not made worse.
#[test]
fn orphan_remove_refuses_inconsistent_links() {
    let mut e = env(8 << 20);
    let (ids, mut copies) = tmpfiles(&mut e, 3);
    // List: 2 -> 1 -> 0. Break ids[0]'s back link (to ids[2], not ids[1]).
    let seed = e.sb.ctx().csum_seed;
    let edit = |e: &mut Env, ino: u64, f: &dyn Fn(&mut Inode)| {
        let o = e.sb.layout.inode_offset(ino).unwrap() as usize;
        let mut i = inode_of(&e.m.cur, &e.sb, ino).unwrap();
        f(&mut i);
        let rec: &mut [u8; 256] = (&mut e.m.cur[o..o + 256]).try_into().unwrap();
        i.encode(ino, seed, rec);
    };
    let back = ids[2] as u32;
    edit(&mut e, ids[0], &|i| i.prev_orphan = back);
    let r = e.txn(|t, _| t.orphan_remove(ids[1], &mut copies[1]));
    assert_eq!(
        r.unwrap_err(),
        Error::Corrupt("orphan list: successor does not link back")
    );
    let r = e.txn(|t, _| t.orphan_remove(ids[0], &mut copies[0]));
    assert_eq!(
        r.unwrap_err(),
        Error::Corrupt("orphan list: predecessor does not link back")
    );
    // A head with a predecessor cannot take a new orphan in front of it.
    let back = ids[1] as u32;
    edit(&mut e, ids[2], &|i| i.prev_orphan = back);
    let r = e.txn(|t, s| {
        let mut new = Inode::new(S_IFREG | 0o600, 0, 0, NOW);
        op_tmpfile(t, s, &mut new)
    });
    assert_eq!(
        r.unwrap_err(),
        Error::Corrupt("orphan list head has a predecessor")
    );
    // Not listed at all (links 0, not the head).
    edit(&mut e, ids[2], &|i| i.prev_orphan = 0);
    let f = create(&mut e, "linked");
    let r = e.txn(|t, _| {
        let mut i = t.read_inode(f)?;
        i.nlink = 0;
        t.orphan_remove(f, &mut i)
    });
    assert_eq!(
        r.unwrap_err(),
        Error::Corrupt("inode not on the orphan list")
    );
}

#[test]
fn orphan_list_with_stale_copies() {
    let mut e = env(8 << 20);
    let mut ids = Vec::new();
    let mut copies = Vec::new();
    for _ in 0..4 {
        let (ino, i) = e
            .txn(|t, s| {
                let mut new = Inode::new(S_IFREG | 0o600, 0, 0, NOW);
                let ino = op_tmpfile(t, s, &mut new)?;
                Ok((ino, new))
            })
            .unwrap();
        ids.push(ino);
        copies.push(i);
    }
    // List: 3 -> 2 -> 1 -> 0 (indexes into ids).
    assert_eq!(e.sb.orphan_head, ids[3]);
    let list = |e: &Env| orphan_list(e);
    assert_eq!(list(&e), vec![ids[3], ids[2], ids[1], ids[0]]);
    // Remove the middle one (ids[1]): ids[2]'s stored link changes, the
    // caller's copy of ids[2] is now stale.
    let mut c1 = copies[1];
    e.txn(|t, _| t.orphan_remove(ids[1], &mut c1)).unwrap();
    assert_eq!(c1.next_orphan, 0);
    assert_eq!(list(&e), vec![ids[3], ids[2], ids[0]]);
    // Writing the stale copy of ids[2] (e.g. a time update of the open,
    // unlinked file) keeps the list intact.
    let mut stale = copies[2];
    stale.mtime = Timespec { sec: 1000, nsec: 0 };
    e.txn(|t, _| t.write_inode(ids[2], &stale)).unwrap();
    assert_eq!(list(&e), vec![ids[3], ids[2], ids[0]]);
    // Free the tail, then the head, then the rest, with stale copies.
    for k in [0usize, 3, 2] {
        let mut c = copies[k];
        assert!(e
            .txn(|t, s| op_free_inode(t, s, ids[k], &mut c, 4))
            .unwrap());
    }
    assert_eq!(e.sb.orphan_head, 0);
    // ids[1] is off the list but has no links: free it without the list.
    let mut c = c1;
    let r = e.txn(|t, s| op_free_inode(t, s, ids[1], &mut c, 4));
    assert_eq!(
        r.unwrap_err(),
        Error::Corrupt("inode not on the orphan list")
    );
    // Errors: adding a linked inode, adding twice.
    let f = create(&mut e, "linked");
    let r = e.txn(|t, _| {
        let mut i = t.read_inode(f)?;
        t.orphan_add(f, &mut i)
    });
    assert_eq!(r.unwrap_err(), Error::BadField("orphan with links"));
    let r = e.txn(|t, _| {
        let mut new = Inode::new(S_IFREG | 0o600, 0, 0, NOW);
        let (ino, _) = t.alloc_ino()?;
        new.nlink = 0;
        t.orphan_add(ino, &mut new)?;
        t.orphan_add(ino, &mut new)
    });
    assert_eq!(
        r.unwrap_err(),
        Error::Corrupt("inode already on the orphan list")
    );
    // Clean up ids[1] the way fsck would: it is an unlisted orphan.
    let dir = common::scratch("txn-orphans");
    let rep = fsck_image(&e.m.cur, &dir.join("img"));
    assert_eq!(rep.problems.len(), 1, "{:?}", rep.lines);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A tree node written, then freed, then its block reused for file data
/// in the same transaction: the node's contents must not be written over
/// the data at commit.
#[test]
fn freed_block_is_not_written_back() {
    let mut e = env(8 << 20);
    let f = create(&mut e, "f");
    let (blk, data_at) = e
        .txn(|t, _| {
            let b = NodeStore::alloc(t)?;
            let node: Box<Block> = Box::new([0x5A; BLOCK_SIZE]);
            NodeStore::write(t, b, &node)?;
            NodeStore::free(t, b)?;
            // Reallocated as a data block, filled directly.
            let (p, n) = t.alloc_blocks(b, 1)?;
            assert_eq!((p, n), (b, 1));
            t.medium().write(p * BLOCK_SIZE_U64, &tag_block(42))?;
            let mut i = t.read_inode(f)?;
            daxfs_format::extent::map_insert(
                &mut i,
                f,
                &t.ctx(),
                t,
                &mut daxfs_format::btree::Scratch::new(),
                daxfs_format::extent::Extent {
                    lblk: 0,
                    pblk: p,
                    len: 1,
                    flags: 0,
                },
            )?;
            i.size = 4096;
            t.write_inode(f, &i)?;
            Ok((b, p))
        })
        .unwrap();
    assert_eq!(blk, data_at);
    let o = (data_at * BLOCK_SIZE_U64) as usize;
    assert!(e.m.cur[o..o + BLOCK_SIZE] == tag_block(42)[..]);
}

#[test]
fn too_many_blocks_is_refused_and_writes_nothing() {
    let img = fresh_image(8 << 20, None);
    let (mut e, _) = Env::open_with(img, 4).unwrap();
    let l = e.sb.layout;
    // Four slots: one kept for the superblock, three for the rest.
    let r = e.txn(|t, _| {
        assert_eq!(t.slots_free(), 3);
        for k in 0..3 {
            t.block_mut(l.data_start + k)?[0] = 1;
        }
        assert_eq!(t.slots_free(), 0);
        t.block_mut(l.data_start + 3)?[0] = 1;
        Ok(())
    });
    assert_eq!(r.unwrap_err(), Error::TxnTooLarge);
    assert_eq!(e.m.writes, 0);
    // Same with a real operation: creating a file touches the inode
    // bitmap, the inode table and the directory: more than 3 blocks.
    let r: Result<(), Error> = e.txn(|t, s| {
        let mut root = t.read_inode(ROOT_INO)?;
        let mut new = Inode::new(S_IFREG | 0o644, 0, 0, NOW);
        let mut n = 0;
        loop {
            op_create(
                t,
                s,
                ROOT_INO,
                &mut root,
                format!("f{}", n).as_bytes(),
                &mut new,
                NOW,
            )?;
            n += 1;
        }
    });
    assert_eq!(r.unwrap_err(), Error::TxnTooLarge);
    assert_eq!(e.m.writes, 0);
    // A staging buffer too small for the log image.
    let (mut e, _) = Env::open(fresh_image(8 << 20, None)).unwrap();
    e.staging.truncate(TXN_HEADER_SIZE + 100);
    let r = e.txn(|t, _| {
        t.block_mut(l.data_start)?.fill(7);
        Ok(())
    });
    assert_eq!(r.unwrap_err(), Error::TxnTooLarge);
    assert_eq!(e.m.writes, 0);
    // More than the log holds (64-block journal: 63 log blocks) with
    // large enough buffers.
    let img = fresh_image(8 << 20, None);
    let (mut e, _) = Env::open_with(img, 80).unwrap();
    assert_eq!(e.sb.layout.journal_blocks, 64);
    let r = e.txn(|t, _| {
        for k in 0..70 {
            t.block_mut(l.data_start + k)?.fill(k as u8 + 1);
        }
        Ok(())
    });
    assert_eq!(r.unwrap_err(), Error::TxnTooLarge);
    assert_eq!(e.m.writes, 0);
    // The largest transaction the default slots allow fits the smallest
    // log.
    assert!(txn_staging_size(TXN_MAX_BLOCKS) <= 63 * BLOCK_SIZE);
}

/// A write error before the commit point leaves the old state; at or
/// after it, the journal cursor is broken and recovery produces the new
/// state.
#[test]
fn commit_errors() {
    let base = fresh_image(8 << 20, None);
    // How many writes does the commit of one creation do?
    let (mut e, _) = Env::open(base.clone()).unwrap();
    create(&mut e, "x");
    let total = e.m.writes;
    let after = e.m.cur.clone();
    assert!(total >= 4);
    for fail_at in 0..total {
        let (mut e, _) = Env::open(base.clone()).unwrap();
        e.m.fail_at = Some(fail_at);
        let r = e.txn(|t, s| {
            let mut root = t.read_inode(ROOT_INO)?;
            let mut new = Inode::new(S_IFREG | 0o644, 0, 0, NOW);
            op_create(t, s, ROOT_INO, &mut root, b"x", &mut new, NOW)
        });
        assert_eq!(r.unwrap_err(), Error::Io);
        let committed = fail_at >= 2; // 0: the log, 1: the commit word
        assert_eq!(e.j.broken, fail_at >= 1, "fail at write {}", fail_at);
        // Nothing more can be committed.
        if e.j.broken {
            e.m.fail_at = None;
            let r = e.txn(|t, _| t.alloc_blocks(0, 1));
            assert_eq!(r.unwrap_err(), Error::Io);
        }
        let (r, replayed) = Env::open(e.m.cur.clone()).unwrap();
        assert_eq!(replayed, committed, "fail at write {}", fail_at);
        let (l0, l1) = journal_range(&r.sb.layout);
        let same = |a: &[u8], b: &[u8]| {
            a[..l0 as usize] == b[..l0 as usize] && a[l1 as usize..] == b[l1 as usize..]
        };
        if committed {
            assert!(
                same(&r.m.cur, &after),
                "fail at write {}: not the new state",
                fail_at
            );
        } else {
            assert!(
                same(&r.m.cur, &base),
                "fail at write {}: not the old state",
                fail_at
            );
        }
    }
}

#[test]
fn recovery() {
    let base = fresh_image(8 << 20, None);
    let (mut e, replayed) = Env::open(base.clone()).unwrap();
    assert!(!replayed);
    assert_eq!(e.j.next_seq, 1);
    create(&mut e, "a");
    create(&mut e, "b");
    assert_eq!(e.j.next_seq, 3);
    let l = e.sb.layout;
    let jh = (l.journal_start * BLOCK_SIZE_U64) as usize;
    let h = journal_header(&e.m.cur, &l);
    assert_eq!(commit_seq(h.commit), 2);
    assert_eq!(h.applied, 2);
    // Clean: the next transaction continues the sequence.
    let (mut e2, replayed) = Env::open(e.m.cur.clone()).unwrap();
    assert!(!replayed);
    assert_eq!(e2.j.next_seq, 3);
    create(&mut e2, "c");
    assert_eq!(e2.j.next_seq, 4);

    // A committed, unapplied transaction: the trace of a commit up to
    // (and including) the commit word, nothing applied.
    let before = e.m.cur.clone();
    e.m.trace = Some(Vec::new());
    let c = create(&mut e, "c");
    let trace = e.m.trace.take().unwrap();
    let new = e.m.cur.clone();
    let commit_off = (jh + JH_OFF_COMMIT) as u64;
    let store = trace
        .iter()
        .position(|x| matches!(x, Ev::Write(o, _) if *o == commit_off))
        .unwrap();
    let mut img = before.clone();
    for ev in &trace[..=store] {
        if let Ev::Write(o, d) = ev {
            img[*o as usize..*o as usize + d.len()].copy_from_slice(d);
        }
    }
    let (r, replayed) = Env::open(img.clone()).unwrap();
    assert!(replayed);
    assert_eq!(r.j.next_seq, 4);
    assert!(r.m.cur == new, "replay differs from the committed state");
    assert_eq!(snapshot(&r.m.cur).dirs[&ROOT_INO][b"c".as_slice()], c);
    // Replay is idempotent: an image replayed twice (a crash during
    // recovery) is the same.
    let mut m = MemMedium::new(img.clone());
    let sb = Superblock::decode(&img[..512]).unwrap();
    let mut st = vec![0u8; txn_staging_size(TXN_MAX_BLOCKS)];
    // First recovery "crashes" before storing `applied`: fail the store.
    let nrec = trace[store + 1..]
        .iter()
        .filter(|x| matches!(x, Ev::Write(..)))
        .count() as u64
        - 1;
    m.fail_at = Some(nrec);
    assert_eq!(recover(&mut m, &sb, &mut st).unwrap_err(), Error::Io);
    m.fail_at = None;
    let (_, again) = recover(&mut m, &sb, &mut st).unwrap();
    assert!(again);
    assert!(m.cur == new);
    // Staging too small for the committed transaction.
    let mut m = MemMedium::new(img.clone());
    let mut small = vec![0u8; 64];
    assert_eq!(
        recover(&mut m, &sb, &mut small).unwrap_err(),
        Error::TxnTooLarge
    );
    assert_eq!(m.writes, 0);
    // A corrupt log under a valid commit word is refused before anything
    // is written: every byte of the log in turn.
    let log0 = (l.journal_start + 1) * BLOCK_SIZE_U64;
    let log_len = trace
        .iter()
        .find_map(|x| match x {
            Ev::Write(o, d) if *o == log0 => Some(d.len()),
            _ => None,
        })
        .unwrap();
    let mut m = MemMedium::new(img.clone());
    for k in 0..log_len {
        let x = log0 as usize + k;
        m.cur[x] ^= 0x10;
        assert!(
            recover(&mut m, &sb, &mut st).is_err(),
            "flipped log byte {}",
            k
        );
        assert_eq!(m.writes, 0);
        m.cur[x] ^= 0x10;
    }
    // A commit word two ahead of applied.
    let mut bad = img.clone();
    let o = jh + JH_OFF_COMMIT;
    let w = u64::from_le_bytes(bad[o..o + 8].try_into().unwrap()) + 1;
    bad[o..o + 8].copy_from_slice(&w.to_le_bytes());
    let mut m = MemMedium::new(bad);
    assert!(matches!(
        recover(&mut m, &sb, &mut st).unwrap_err(),
        Error::Corrupt(_) | Error::BadChecksum(_)
    ));
    // A torn primary superblock: the backup serves recovery.
    let mut torn = img.clone();
    let rec = trace[store + 1..]
        .iter()
        .find_map(|x| match x {
            Ev::Write(o, d) if *o < 512 => Some((*o as usize, d.clone())),
            _ => None,
        })
        .expect("no superblock record");
    torn[rec.0..rec.0 + rec.1.len()].copy_from_slice(&rec.1);
    assert!(Superblock::decode(&torn[..512]).is_err());
    let mut m = MemMedium::new(torn.clone());
    let (bsb, backup) = read_superblock(&mut m, torn.len() as u64 / BLOCK_SIZE_U64).unwrap();
    assert!(backup);
    assert!(bsb.same_static(&sb));
    // The same, but the backup is another filesystem's (another UUID): not taken.
    let mut other = torn.clone();
    let bo = (sb.layout.backup_sb_block * BLOCK_SIZE_U64) as usize;
    let mut osb = Superblock::decode(&other[bo..bo + 512]).unwrap();
    osb.uuid[0] ^= 0x5A;
    let mut rec = [0u8; 512];
    osb.encode(&mut rec);
    other[bo..bo + 512].copy_from_slice(&rec);
    let mut m = MemMedium::new(other);
    assert!(read_superblock(&mut m, torn.len() as u64 / BLOCK_SIZE_U64).is_err());
    let (r, replayed) = Env::open(torn).unwrap();
    assert!(replayed);
    assert!(r.m.cur == new);
    assert_eq!(r.sb, Superblock::decode(&new[..512]).unwrap());
    let _ = before;
}

/// What the kernel keeps on its 16 KiB stack stays small: the
/// transaction (it holds the decoded superblock) and the records the
/// operations copy.
#[test]
fn stack_footprint() {
    use std::mem::size_of;
    let t = size_of::<Txn<'static, MemMedium>>();
    let sb = size_of::<Superblock>();
    let i = size_of::<Inode>();
    eprintln!("Txn {} bytes, Superblock {}, Inode {}", t, sb, i);
    assert!(t <= 512 && sb <= 400 && i <= 288);
}

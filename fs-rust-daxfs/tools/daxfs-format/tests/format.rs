// SPDX-License-Identifier: GPL-2.0

//! Unit tests of the shared format: checksums, round trips of every
//! record, layout invariants, B+tree, extent map, directories, journal,
//! and no-panic decoding of arbitrary bytes.

#![allow(
    missing_docs,
    clippy::too_many_arguments,
    clippy::map_entry,
    clippy::cast_lossless
)]

mod common;

use std::collections::BTreeMap;

use common::{Mem, Rng};
use daxfs_format::alloc::*;
use daxfs_format::btree::*;
use daxfs_format::crc32c::*;
use daxfs_format::dir::*;
use daxfs_format::extent::*;
use daxfs_format::inode::*;
use daxfs_format::journal::*;
use daxfs_format::siphash::siphash24;
use daxfs_format::superblock::*;
use daxfs_format::*;

fn ctx() -> FsCtx {
    FsCtx {
        csum_seed: csum_seed(&[7u8; 16]),
        hash_key: [3u8; 16],
        data_start: 1,
        data_end: u64::MAX,
    }
}

#[test]
fn crc32c_vectors() {
    assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    assert_eq!(crc32c(b""), 0);
    assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
    assert_eq!(crc32c(&[0xFFu8; 32]), 0x62A8_AB43);
    // Slicing-by-8 agrees with a bitwise reference, at every length and
    // split point.
    fn reference(data: &[u8]) -> u32 {
        let mut c = !0u32;
        for &b in data {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    (c >> 1) ^ 0x82F6_3B78
                } else {
                    c >> 1
                };
            }
        }
        !c
    }
    let mut r = Rng(2);
    for len in 0..300 {
        let mut d = vec![0u8; len];
        r.bytes(&mut d);
        assert_eq!(crc32c(&d), reference(&d), "len {}", len);
        let cut = r.below(len as u64 + 1) as usize;
        assert_eq!(
            !crc32c_update(crc32c_update(!0, &d[..cut]), &d[cut..]),
            reference(&d)
        );
    }
    // A record checksum equals the plain CRC of the record with the field
    // zeroed.
    let mut r = [0u8; 64];
    Rng(1).bytes(&mut r);
    let c = crc32c_record(!0, &[], &r, 8);
    r[8..12].fill(0);
    assert_eq!(c, crc32c(&r));
}

#[test]
fn siphash_vector() {
    // Reference vector from the SipHash paper (key 00..0f, msg 00..0e).
    let key: [u8; 16] = core::array::from_fn(|i| i as u8);
    let msg: Vec<u8> = (0u8..15).collect();
    assert_eq!(siphash24(&key, &msg), 0xa129_ca61_49be_45e5);
    // Empty message vector.
    assert_eq!(siphash24(&key, b""), 0x726f_db47_dd0e_0e31);
}

#[test]
fn record_sizes() {
    assert_eq!(SB_SIZE, 512);
    assert_eq!(INODE_SIZE, 256);
    assert_eq!(INO_OFF_MAP + INODE_MAP_SIZE, INODE_SIZE);
    assert_eq!(INLINE_EXTENTS * EXTENT_SIZE, INODE_MAP_SIZE);
    assert_eq!(DE_OFF_NAME + NAME_MAX + 1, DIRENT_VALUE_SIZE);
    assert_eq!(node_capacity(CHILD_VALUE_SIZE), 254);
    assert_eq!(node_capacity(EXTENT_VALUE_SIZE), 169);
    assert_eq!(node_capacity(DIRENT_VALUE_SIZE), 14);
    assert_eq!(SB_OFF_CHECKSUM + 4, SB_SIZE);
    assert_eq!(TXN_HEADER_SIZE, 32);
    assert_eq!(REC_HEADER_SIZE, 16);
    assert_eq!(JH_OFF_COMMIT % 8, 0, "commit word must be 8-byte aligned");
    assert_eq!(JH_OFF_APPLIED % 8, 0);
    assert_eq!(SB_MAGIC.to_le_bytes(), *b"DAXFS\0SB");
}

fn sample_sb() -> Superblock {
    let l = Layout::compute(1 << 20, default_inode_count(1 << 20), 256).unwrap();
    let mut sb = Superblock::new(l, [9u8; 16], [4u8; 16], 1_700_000_000);
    sb.set_label(b"pmem-test").unwrap();
    sb.free_blocks = 12345;
    sb.free_inodes = 777;
    sb.state = STATE_DIRTY;
    sb.mount_count = 3;
    sb.next_generation = 99;
    sb
}

#[test]
fn superblock_round_trip() {
    let sb = sample_sb();
    let mut b = [0u8; SB_SIZE];
    sb.encode(&mut b);
    assert_eq!(Superblock::decode(&b).unwrap(), sb);
    assert_eq!(Superblock::decode_raw(&b).unwrap(), sb);
    assert_eq!(sb.label_bytes(), b"pmem-test");
    // Every single-bit flip is detected.
    for bit in 0..SB_SIZE * 8 {
        let mut c = b;
        c[bit / 8] ^= 1 << (bit % 8);
        assert!(
            Superblock::decode(&c).is_err(),
            "flip of bit {} undetected",
            bit
        );
    }
    assert_eq!(Superblock::decode(&b[..100]), Err(Error::Truncated));
}

#[test]
fn superblock_rejects_bad_geometry() {
    let mut sb = sample_sb();
    sb.layout.data_start += 512;
    let mut b = [0u8; SB_SIZE];
    sb.encode(&mut b);
    assert_eq!(Superblock::decode(&b), Err(Error::BadField("geometry")));
    let mut sb = sample_sb();
    sb.feature_incompat |= 1 << 40;
    sb.encode(&mut b);
    assert_eq!(Superblock::decode(&b), Err(Error::UnsupportedFeature));
}

#[test]
fn layout_invariants() {
    let mut sizes = vec![MIN_BLOCKS, MIN_BLOCKS + 1, 2048, 4095, 65536, 1 << 20];
    let mut r = Rng(5);
    for _ in 0..200 {
        sizes.push(MIN_BLOCKS + r.below(1 << 26));
    }
    sizes.push(16 << 18); // 16 GiB
    sizes.push(64 << 18); // 64 GiB
    sizes.push(MAX_BLOCKS);
    for bc in sizes {
        let ic = default_inode_count(bc);
        let jb = default_journal_blocks(bc);
        let l = match Layout::compute(bc, ic, jb) {
            Ok(l) => l,
            Err(_) => Layout::compute(bc, 64, JOURNAL_MIN_BLOCKS).unwrap(),
        };
        assert_eq!(l.journal_start, 1);
        assert_eq!(l.inode_bitmap_start, l.journal_start + l.journal_blocks);
        assert_eq!(
            l.block_bitmap_start,
            l.inode_bitmap_start + l.inode_bitmap_blocks
        );
        assert_eq!(
            l.group_table_start,
            l.block_bitmap_start + l.block_bitmap_blocks
        );
        assert_eq!(
            l.inode_table_start,
            l.group_table_start + l.group_table_blocks
        );
        assert!(l.inode_table_start + l.inode_table_blocks <= l.data_start);
        assert_eq!(
            l.data_start % GROUP_BLOCKS,
            0,
            "data area must be 2 MiB aligned"
        );
        assert_eq!(l.data_start + l.data_blocks + 1, l.block_count);
        assert_eq!(l.backup_sb_block, l.block_count - 1);
        assert!(l.inode_bitmap_blocks * 32768 >= l.inode_count);
        assert!(l.block_bitmap_blocks * 32768 >= l.data_blocks);
        assert!(l.group_table_blocks * 2048 >= l.group_count);
        assert_eq!(l.inode_table_blocks * 16, l.inode_count);
        assert!(l.group_count * 512 >= l.data_blocks);
        assert!(l.tail_missing() < 512);
        // Mount reads a bounded amount regardless of the device size.
        assert!(l.mount_read_blocks() <= 1 + JOURNAL_MAX_BLOCKS);
    }
    // With default parameters, what mount may read is the same for every
    // device from 4 GiB to 4 PiB: 1 superblock block + the journal.
    let mut reads = std::collections::BTreeSet::new();
    for shift in 20..=40 {
        let bc: u64 = 1 << shift;
        let l = Layout::compute(bc, default_inode_count(bc), default_journal_blocks(bc)).unwrap();
        reads.insert(l.mount_read_blocks());
    }
    assert_eq!(reads.into_iter().collect::<Vec<_>>(), vec![1 + 2048]);
    assert!(Layout::compute(MIN_BLOCKS - 1, 64, 64).is_err());
    assert!(Layout::compute(MIN_BLOCKS, 1 << 20, 64).is_err());
}

fn sample_inode(r: &mut Rng) -> Inode {
    let mut i = Inode::new(
        S_IFREG | 0o644,
        r.next() as u32,
        r.next() as u32,
        Timespec {
            sec: r.next() as i64 >> 2,
            nsec: (r.next() % 1_000_000_000) as u32,
        },
    );
    i.generation = r.next() as u32;
    i.size = r.below(1 << 40);
    i.blocks = r.below(1 << 30);
    i.flags = INODE_FLAG_NOATIME;
    i.atime = Timespec {
        sec: -5,
        nsec: 999_999_999,
    };
    i.btime.sec = i64::MIN;
    let n = r.below(7) as usize;
    let mut l = 0;
    for k in 0..n {
        l += r.below(100);
        let e = Extent {
            lblk: l,
            pblk: 1 + r.below(1 << 30),
            len: 1 + r.below(1000) as u32,
            flags: if r.below(2) == 0 { EXTENT_UNWRITTEN } else { 0 },
        };
        l = e.lend();
        e.encode_inline(&mut i.map, k);
    }
    i.map_count = n as u32;
    i
}

#[test]
fn inode_round_trip() {
    let mut r = Rng(11);
    let seed = ctx().csum_seed;
    for n in 0..500 {
        let i = sample_inode(&mut r);
        let ino = 1 + n;
        let mut b = [0u8; INODE_SIZE];
        i.encode(ino, seed, &mut b);
        assert_eq!(Inode::decode(&b, ino, seed).unwrap(), Some(i));
        // Wrong slot or wrong filesystem: checksum fails.
        assert!(Inode::decode(&b, ino + 1, seed).is_err());
        assert!(Inode::decode(&b, ino, seed ^ 1).is_err());
    }
    assert_eq!(Inode::decode(&[0u8; INODE_SIZE], 5, seed), Ok(None));
    // Symlink inline data.
    let mut s = Inode::new(S_IFLNK | 0o777, 0, 0, Timespec::default());
    s.set_inline_data(b"../target").unwrap();
    let mut b = [0u8; INODE_SIZE];
    s.encode(3, seed, &mut b);
    let d = Inode::decode(&b, 3, seed).unwrap().unwrap();
    assert_eq!(d.inline_data().unwrap(), b"../target");
    // Every bit flip of a used inode is detected.
    let i = sample_inode(&mut r);
    i.encode(9, seed, &mut b);
    for bit in 0..INODE_SIZE * 8 {
        let mut c = b;
        c[bit / 8] ^= 1 << (bit % 8);
        assert!(Inode::decode(&c, 9, seed).is_err(), "bit {}", bit);
    }
}

#[test]
fn inode_validation() {
    let seed = 0;
    let t = Timespec::default();
    let mut b = [0u8; INODE_SIZE];
    let mut bad = Inode::new(S_IFREG | 0o644, 0, 0, t);
    bad.flags = 1 << 31;
    bad.encode(2, seed, &mut b);
    assert_eq!(Inode::decode(&b, 2, seed), Err(Error::BadField("flags")));
    let mut d = Inode::new(S_IFDIR | 0o755, 0, 0, t);
    d.set_btree_root(600);
    d.parent = 1;
    d.flags = INODE_FLAG_SEALED;
    d.encode(2, seed, &mut b);
    assert_eq!(Inode::decode(&b, 2, seed), Err(Error::BadField("flags")));
    let mut o = Inode::new(S_IFREG | 0o644, 0, 0, t);
    Extent {
        lblk: 0,
        pblk: 600,
        len: 10,
        flags: 0,
    }
    .encode_inline(&mut o.map, 0);
    Extent {
        lblk: 5,
        pblk: 900,
        len: 10,
        flags: 0,
    }
    .encode_inline(&mut o.map, 1);
    o.map_count = 2;
    o.encode(2, seed, &mut b);
    assert_eq!(Inode::decode(&b, 2, seed), Err(Error::Overlap));
}

#[test]
fn extent_round_trip_and_shape() {
    let e = Extent {
        lblk: 77,
        pblk: 123_456,
        len: 512,
        flags: EXTENT_SEALED,
    };
    let mut m = [0u8; INODE_MAP_SIZE];
    e.encode_inline(&mut m, 5);
    assert_eq!(Extent::decode_inline(&m, 5).unwrap(), e);
    assert_eq!(Extent::decode_inline(&m, 6), Err(Error::Truncated));
    assert_eq!(Extent::decode_value(77, &e.encode_value()).unwrap(), e);
    assert!(e.check_shape().is_ok());
    let bad = Extent {
        flags: EXTENT_SEALED | EXTENT_UNWRITTEN,
        ..e
    };
    assert!(bad.check_shape().is_err());
    assert!(Extent { len: 0, ..e }.check_shape().is_err());
    assert!(Extent { flags: 4, ..e }.check_shape().is_err());
    assert!(Extent {
        lblk: u64::MAX,
        ..e
    }
    .check_shape()
    .is_err());
    assert!(Extent {
        pblk: u64::MAX,
        ..e
    }
    .check_shape()
    .is_err());
    assert_eq!(e.map(78), Some(123_457));
    assert_eq!(e.map(77 + 512), None);
}

#[test]
fn dirent_round_trip() {
    let long = vec![b'x'; 255];
    for name in [&b"a"[..], b"hello world", &long, "日本語".as_bytes()] {
        let e = DirEntry::new(name, 42, DT_REG).unwrap();
        let v = e.encode();
        let d = DirEntry::decode(&v).unwrap();
        assert_eq!(d, e);
        assert_eq!(d.name(), name);
    }
    assert_eq!(
        DirEntry::new(&[b'x'; 256], 1, DT_REG),
        Err(Error::NameTooLong)
    );
    assert_eq!(DirEntry::new(b"a/b", 1, DT_REG), Err(Error::InvalidName));
    assert_eq!(DirEntry::new(b"..", 1, DT_REG), Err(Error::InvalidName));
    assert_eq!(DirEntry::new(b"", 1, DT_REG), Err(Error::InvalidName));
    assert!(DirEntry::new(b"x", 1, 3).is_err());
    assert!(DirEntry::new(b"x", 0, DT_REG).is_err());
    let mut v = DirEntry::new(b"abc", 5, DT_DIR).unwrap().encode();
    v[DE_OFF_NAME + 10] = 1; // garbage after the name
    assert!(DirEntry::decode(&v).is_err());
}

#[test]
fn name_keys() {
    let k = [1u8; 16];
    let mut r = Rng(3);
    for _ in 0..10_000 {
        let mut n = [0u8; 12];
        r.bytes(&mut n);
        let b = name_key_base(&k, &n);
        assert_eq!(b & 0xFF, 0);
        assert!(b >= COOKIE_MIN);
        assert!(b + 255 < COOKIE_EOF);
    }
    // The key depends on the per-filesystem hash key.
    assert_ne!(name_key_base(&[1; 16], b"x"), name_key_base(&[2; 16], b"x"));
}

#[test]
fn node_functions() {
    let mut n = [0u8; BLOCK_SIZE];
    node_init(&mut n, TreeType::Extent, 0, 5, 100);
    for k in (0..169u64).rev() {
        let e = Extent {
            lblk: k * 10,
            pblk: 1000 + k,
            len: 1,
            flags: 0,
        };
        let pos = node_search(&n, k * 10).unwrap().unwrap_err();
        node_insert(&mut n, pos, k * 10, &e.encode_value()).unwrap();
    }
    assert_eq!(node_insert(&mut n, 0, 1, &[0u8; 16]), Err(Error::NoSpace));
    node_seal(&mut n, 9);
    let h = node_verify(&n, 9, TreeType::Extent, 5, 100).unwrap();
    assert_eq!(h.nr, 169);
    assert_eq!(
        node_verify(&n, 9, TreeType::Extent, 6, 100),
        Err(Error::Corrupt("node owner"))
    );
    assert_eq!(
        node_verify(&n, 9, TreeType::Extent, 5, 101),
        Err(Error::Corrupt("node block number"))
    );
    assert_eq!(
        node_verify(&n, 9, TreeType::Dir, 5, 100),
        Err(Error::Corrupt("node tree type"))
    );
    assert_eq!(node_search(&n, 50).unwrap(), Ok(5));
    assert_eq!(node_search(&n, 55).unwrap(), Err(6));
    let mut right = [0u8; BLOCK_SIZE];
    let sep = node_split(&mut n, &mut right, 101).unwrap();
    assert_eq!(sep, 840);
    assert_eq!(node_header(&n).unwrap().nr, 84);
    assert_eq!(node_header(&right).unwrap().nr, 85);
    node_remove(&mut right, 0).unwrap();
    assert_eq!(node_key(&right, 0).unwrap(), 850);
    // Header round trip.
    let h = node_header(&right).unwrap();
    assert_eq!(
        (h.tree, h.level, h.owner, h.blkno),
        (TreeType::Extent, 0, 5, 101)
    );
    // Out-of-order keys are caught.
    let mut bad = right;
    node_set_key(&mut bad, 3, 1).unwrap();
    node_seal(&mut bad, 9);
    assert_eq!(
        node_verify(&bad, 9, TreeType::Extent, 5, 101),
        Err(Error::Corrupt("node keys out of order"))
    );
}

/// Checks the structural invariants of a whole tree; returns (entries, nodes, depth).
fn check_tree(st: &mut Mem, t: &Tree) -> (Vec<u64>, usize, u8) {
    fn rec(
        st: &mut Mem,
        t: &Tree,
        blk: u64,
        lo: u64,
        hi: Option<u64>,
        keys: &mut Vec<u64>,
        nodes: &mut usize,
        root: bool,
    ) -> u8 {
        let mut b = [0u8; BLOCK_SIZE];
        st.read(blk, &mut b).unwrap();
        let h = node_verify(&b, t.seed, t.tree, t.owner, blk).unwrap();
        *nodes += 1;
        assert!(root || h.nr > 0, "empty non-root node");
        let ks: Vec<u64> = (0..h.nr as usize)
            .map(|i| node_key(&b, i).unwrap())
            .collect();
        for &k in &ks {
            assert!(
                k >= lo && hi.is_none_or(|h| k < h),
                "key {} outside [{}, {:?})",
                k,
                lo,
                hi
            );
        }
        if h.level == 0 {
            keys.extend(ks);
            return 0;
        }
        let mut lv = None;
        for i in 0..ks.len() {
            let c = node_child(&b, i).unwrap();
            let l = rec(
                st,
                t,
                c,
                ks[i],
                ks.get(i + 1).copied().or(hi),
                keys,
                nodes,
                false,
            );
            assert_eq!(l + 1, h.level);
            lv = Some(l);
        }
        lv.unwrap() + 1
    }
    let mut keys = Vec::new();
    let mut nodes = 0;
    let depth = rec(st, t, t.root, 0, None, &mut keys, &mut nodes, true);
    (keys, nodes, depth)
}

#[test]
fn btree_random_model() {
    for (tt, n) in [(TreeType::Extent, 20_000u64), (TreeType::Dir, 3_000)] {
        let mut st = Mem::new();
        let mut s = Box::new(Scratch::new());
        let mut t = Tree::create(&mut st, &mut s, tt, 7, 1234).unwrap();
        let vs = tt.leaf_value_size();
        let mut model: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
        let mut r = Rng(77 + n);
        for step in 0..n * 2 {
            let k = r.below(n * 4);
            let insert = step < n || r.below(3) != 0;
            let mut v = vec![0u8; vs];
            r.bytes(&mut v);
            if insert {
                let res = t.insert(&mut st, &mut s, k, &v);
                if model.contains_key(&k) {
                    assert_eq!(res, Err(Error::Exists));
                } else {
                    res.unwrap();
                    model.insert(k, v);
                }
            } else {
                let res = t.remove(&mut st, &mut s, k);
                if model.remove(&k).is_some() {
                    res.unwrap();
                } else {
                    assert_eq!(res, Err(Error::NotFound));
                }
            }
            if step % 997 == 0 {
                let (keys, nodes, _) = check_tree(&mut st, &t);
                assert_eq!(keys, model.keys().copied().collect::<Vec<_>>());
                assert_eq!(nodes, st.live.len(), "leaked or lost nodes");
            }
        }
        let (keys, nodes, depth) = check_tree(&mut st, &t);
        assert_eq!(keys.len(), model.len());
        assert_eq!(nodes, st.live.len());
        // Logarithmic depth: at most ceil(log_127(n)) + 1 levels.
        assert!(depth <= 4, "depth {}", depth);
        // Lookups against the model.
        let mut out = vec![0u8; vs];
        for _ in 0..2000 {
            let k = r.below(n * 4 + 10);
            let got = t.get(&mut st, &mut s, k, &mut out).unwrap();
            assert_eq!(got, model.contains_key(&k));
            if got {
                assert_eq!(&out, &model[&k]);
            }
            let ge = t.find_ge(&mut st, &mut s, k, &mut out).unwrap();
            assert_eq!(ge, model.range(k..).next().map(|(k, _)| *k));
            let le = t.find_le(&mut st, &mut s, k, &mut out).unwrap();
            assert_eq!(le, model.range(..=k).next_back().map(|(k, _)| *k));
        }
        // Update.
        if let Some((&k, _)) = model.iter().next() {
            let v = vec![0xAB; vs];
            t.update(&mut st, &mut s, k, &v).unwrap();
            t.get(&mut st, &mut s, k, &mut out).unwrap();
            assert_eq!(out, v);
        }
        // Remove everything: the tree shrinks back to one empty leaf.
        for k in model.keys().copied().collect::<Vec<_>>() {
            t.remove(&mut st, &mut s, k).unwrap();
        }
        let (keys, nodes, depth) = check_tree(&mut st, &t);
        assert!(keys.is_empty());
        assert_eq!((nodes, depth), (1, 0));
        assert_eq!(st.live.len(), 1);
        assert_eq!(t.destroy(&mut st, &mut s).unwrap(), 1);
        assert!(st.live.is_empty());
    }
}

#[test]
fn btree_destroy_frees_all() {
    let mut st = Mem::new();
    let mut s = Box::new(Scratch::new());
    let mut t = Tree::create(&mut st, &mut s, TreeType::Dir, 3, 0).unwrap();
    for k in 0..5000u64 {
        t.insert(&mut st, &mut s, k * 3, &[1u8; DIRENT_VALUE_SIZE])
            .unwrap();
    }
    let live = st.live.len() as u64;
    assert!(live > 300);
    assert_eq!(t.destroy(&mut st, &mut s).unwrap(), live);
    assert!(st.live.is_empty());
}

fn new_file() -> Inode {
    Inode::new(S_IFREG | 0o644, 0, 0, Timespec::default())
}

#[test]
fn extent_map_inline_to_tree_and_back() {
    let c = ctx();
    let mut st = Mem::new();
    let mut s = Box::new(Scratch::new());
    let mut i = new_file();
    let ino = 12;
    // Insert 10_000 two-block extents in a scrambled order.
    let n = 10_000u64;
    let mut order: Vec<u64> = (0..n).collect();
    let mut r = Rng(99);
    for k in (1..order.len()).rev() {
        order.swap(k, r.below(k as u64 + 1) as usize);
    }
    for (step, &k) in order.iter().enumerate() {
        let e = Extent {
            lblk: k * 3,
            pblk: 10_000 + k * 2,
            len: 2,
            flags: 0,
        };
        map_insert(&mut i, ino, &c, &mut st, &mut s, e).unwrap();
        if step == 5 {
            assert_eq!(i.map_kind, MAP_EXTENTS);
        }
        if step == 6 {
            assert_eq!(i.map_kind, MAP_BTREE);
        }
    }
    assert_eq!(i.map_count as u64, n);
    assert_eq!(i.blocks, n * 2 + st.live.len() as u64);
    // Overlaps are refused.
    let ov = Extent {
        lblk: 31,
        pblk: 1,
        len: 2,
        flags: 0,
    };
    assert_eq!(
        map_insert(&mut i, ino, &c, &mut st, &mut s, ov),
        Err(Error::Overlap)
    );
    // Lookups: inside, holes, next.
    for k in [0u64, 1, 2, 3, 4, 5, 2999, 29_997, 29_998, 29_999, 30_000] {
        let got = map_lookup(&i, ino, &c, &mut st, &mut s, k).unwrap();
        if k % 3 < 2 && k / 3 < n {
            let e = got.unwrap();
            assert_eq!(e.lblk, k / 3 * 3);
            assert_eq!(e.map(k), Some(10_000 + (k / 3) * 2 + k % 3));
        } else {
            assert!(got.is_none(), "{}", k);
        }
        let nx = map_next(&i, ino, &c, &mut st, &mut s, k).unwrap();
        if k / 3 < n - 1 || (k / 3 == n - 1 && k % 3 < 2) {
            assert!(nx.unwrap().lend() > k);
        }
    }
    // Iterate.
    let mut at = 0;
    let mut cnt = 0;
    while let Some(e) = map_next(&i, ino, &c, &mut st, &mut s, at).unwrap() {
        at = e.lend();
        cnt += 1;
    }
    assert_eq!(cnt, n);
    // Seal the extents (as the kernel does) and then the inode: every
    // block-map change is refused.
    for k in 0..n {
        let mut e = map_lookup(&i, ino, &c, &mut st, &mut s, k * 3)
            .unwrap()
            .unwrap();
        e.flags |= EXTENT_SEALED;
        map_update(&mut i, ino, &c, &mut st, &mut s, e).unwrap();
    }
    i.flags |= INODE_FLAG_SEALED;
    let e = Extent {
        lblk: n * 10,
        pblk: 1,
        len: 1,
        flags: 0,
    };
    assert_eq!(
        map_insert(&mut i, ino, &c, &mut st, &mut s, e),
        Err(Error::Sealed)
    );
    assert_eq!(
        map_remove(&mut i, ino, &c, &mut st, &mut s, 0),
        Err(Error::Sealed)
    );
    assert_eq!(
        map_update(&mut i, ino, &c, &mut st, &mut s, e),
        Err(Error::Sealed)
    );
    assert_eq!(
        map_destroy(&mut i, ino, &c, &mut st, &mut s),
        Err(Error::Sealed)
    );
    assert_eq!(Error::Sealed.errno(), 26); // ETXTBSY
                                           // Lookups still work.
    assert!(
        map_lookup(&i, ino, &c, &mut st, &mut s, 3)
            .unwrap()
            .unwrap()
            .flags
            & EXTENT_SEALED
            != 0
    );
    // Unseal, remove everything.
    i.flags &= !INODE_FLAG_SEALED;
    for k in 0..n {
        let old = map_remove(&mut i, ino, &c, &mut st, &mut s, k * 3).unwrap();
        assert_eq!(old.len, 2);
    }
    assert_eq!(i.map_count, 0);
    assert_eq!(i.blocks, st.live.len() as u64);
    map_destroy(&mut i, ino, &c, &mut st, &mut s).unwrap();
    assert!(st.live.is_empty());
    assert_eq!(i.blocks, 0);
}

#[test]
fn extent_map_inline_ops() {
    let c = ctx();
    let mut st = Mem::new();
    let mut s = Box::new(Scratch::new());
    let mut i = new_file();
    for k in [5u64, 1, 3] {
        map_insert(
            &mut i,
            2,
            &c,
            &mut st,
            &mut s,
            Extent {
                lblk: k * 10,
                pblk: 600 + k,
                len: 4,
                flags: EXTENT_UNWRITTEN,
            },
        )
        .unwrap();
    }
    let e0 = Extent::decode_inline(&i.map, 0).unwrap();
    assert_eq!(e0.lblk, 10);
    let old = map_update(
        &mut i,
        2,
        &c,
        &mut st,
        &mut s,
        Extent {
            lblk: 30,
            pblk: 700,
            len: 8,
            flags: 0,
        },
    )
    .unwrap();
    assert_eq!(old.len, 4);
    assert_eq!(i.blocks, 16);
    assert_eq!(
        map_update(
            &mut i,
            2,
            &c,
            &mut st,
            &mut s,
            Extent {
                lblk: 30,
                pblk: 700,
                len: 30,
                flags: 0
            }
        ),
        Err(Error::Overlap)
    );
    map_remove(&mut i, 2, &c, &mut st, &mut s, 10).unwrap();
    assert_eq!(i.map_count, 2);
    assert_eq!(
        map_remove(&mut i, 2, &c, &mut st, &mut s, 11),
        Err(Error::NotFound)
    );
    let mut b = [0u8; INODE_SIZE];
    i.encode(2, c.csum_seed, &mut b);
    assert_eq!(Inode::decode(&b, 2, c.csum_seed).unwrap().unwrap(), i);
}

#[test]
fn directory_ops() {
    let c = ctx();
    let mut st = Mem::new();
    let mut s = Box::new(Scratch::new());
    let mut d = Inode::new(S_IFDIR | 0o755, 0, 0, Timespec::default());
    d.parent = 1;
    dir_init(&mut d, 1, &c, &mut st, &mut s).unwrap();
    let n = 5000;
    let mut cookies = BTreeMap::new();
    for k in 0..n {
        let name = format!("file-{:05}", k);
        let ck = dir_insert(
            &mut d,
            1,
            &c,
            &mut st,
            &mut s,
            name.as_bytes(),
            100 + k,
            DT_REG,
        )
        .unwrap();
        assert!((COOKIE_MIN..COOKIE_EOF).contains(&ck));
        cookies.insert(ck, name);
    }
    assert_eq!(d.map_count as u64, n);
    assert_eq!(d.size, d.blocks * 4096);
    assert_eq!(d.blocks, st.live.len() as u64);
    assert_eq!(
        dir_insert(&mut d, 1, &c, &mut st, &mut s, b"file-00007", 9, DT_REG),
        Err(Error::Exists)
    );
    for k in (0..n).step_by(7) {
        let name = format!("file-{:05}", k);
        let (ck, e) = dir_lookup(&d, 1, &c, &mut st, &mut s, name.as_bytes())
            .unwrap()
            .unwrap();
        assert_eq!(e.ino, 100 + k);
        assert_eq!(cookies[&ck], name);
    }
    assert!(dir_lookup(&d, 1, &c, &mut st, &mut s, b"nope")
        .unwrap()
        .is_none());
    // readdir returns every entry once, in cookie order; a saved cookie
    // resumes exactly after removals of other entries (telldir/seekdir).
    let mut pos = 0;
    let mut seen = Vec::new();
    while let Some((k, e)) = dir_next(&d, 1, &c, &mut st, &mut s, pos).unwrap() {
        seen.push((k, e.ino));
        pos = k + 1;
    }
    assert_eq!(seen.len() as u64, n);
    assert!(seen.windows(2).all(|w| w[0].0 < w[1].0));
    let mid = seen[2500].0 + 1;
    for (ck, name) in cookies.iter().take(100) {
        if *ck < mid {
            dir_remove(&mut d, 1, &c, &mut st, &mut s, name.as_bytes()).unwrap();
        }
    }
    let (k, _) = dir_next(&d, 1, &c, &mut st, &mut s, mid).unwrap().unwrap();
    assert_eq!(k, seen[2501].0);
    // Remove everything; the index shrinks to one leaf and can be freed.
    for name in cookies.values() {
        let _ = dir_remove(&mut d, 1, &c, &mut st, &mut s, name.as_bytes());
    }
    assert_eq!(d.map_count, 0);
    assert_eq!(st.live.len(), 1);
    dir_destroy(&mut d, 1, &c, &mut st, &mut s).unwrap();
    assert!(st.live.is_empty());
}

#[test]
fn bitmaps_and_groups() {
    let mut bm = vec![0u8; 4096];
    assert_eq!(find_zero(&bm, 0, 32768), Some(0));
    for i in 0..1000 {
        bit_set(&mut bm, i, true);
    }
    assert!(bit_test(&bm, 999));
    assert!(!bit_test(&bm, 1000));
    assert!(!bit_test(&bm, u64::MAX));
    assert!(!bit_set(&mut bm, u64::MAX, true));
    assert_eq!(find_zero(&bm, 0, 32768), Some(1000));
    bit_set(&mut bm, 1005, true);
    assert_eq!(find_zero_run(&bm, 0, 32768, 10), Some(1006));
    assert_eq!(find_zero_run(&bm, 0, 1010, 10), None);
    assert_eq!(count_ones(&bm, 32768), 1001);
    let l = Layout::compute(1 << 16, 1024, 64).unwrap();
    let mut gt = vec![0u8; 4096];
    let mut bm = vec![0u8; 4096];
    assert_eq!(
        mark_blocks(&l, &mut bm, &mut gt, l.data_start + 510, 4, true),
        4
    );
    assert_eq!(group_used(&gt, 0), 2);
    assert_eq!(group_used(&gt, 1), 2);
    assert_eq!(find_free_group(&gt, 0, l.group_count), Some(2));
    assert_eq!(find_free_groups(&gt, 0, l.group_count, 3), Some(2));
    assert_eq!(
        mark_blocks(&l, &mut bm, &mut gt, l.data_start + 510, 4, true),
        0
    );
    assert_eq!(
        mark_blocks(&l, &mut bm, &mut gt, l.data_start + 511, 1, false),
        1
    );
    assert_eq!(group_used(&gt, 0), 1);
    assert_eq!(group_of(&l, l.data_start + 1024), Some(2));
    assert_eq!(group_of(&l, 5), None);
}

fn test_layout() -> Layout {
    Layout::compute(1 << 16, 4096, 64).unwrap()
}

#[test]
fn journal_round_trip_and_replay() {
    let l = test_layout();
    let seed = 0xABCD;
    let mut log = vec![0u8; 63 * 4096];
    let mut w = TxnWriter::new(&mut log, 7).unwrap();
    w.add(0, &[1, 2, 3]).unwrap();
    w.add(l.inode_table_start * 4096 + 256, &[9u8; 256])
        .unwrap();
    w.add(l.data_start * 4096, &[5u8; 4096]).unwrap();
    let (len, commit) = w.finish(seed);
    assert_eq!(len, 32 + (16 + 8) + (16 + 256) + (16 + 4096));
    assert_eq!(commit_seq(commit), 7);
    let t = Txn::parse(&log, commit, seed, &l).unwrap();
    let recs: Vec<_> = t.records().map(|r| r.unwrap()).collect();
    assert_eq!(recs.len(), 3);
    assert_eq!(recs[0].offset, 0);
    assert_eq!(recs[0].data, &[1, 2, 3]);
    assert_eq!(recs[2].data.len(), 4096);
    // Replay onto a device image.
    let mut dev = vec![0u8; (l.block_count * 4096) as usize];
    for r in t.records() {
        let r = r.unwrap();
        dev[r.offset as usize..r.offset as usize + r.data.len()].copy_from_slice(r.data);
    }
    assert_eq!(&dev[0..3], &[1, 2, 3]);
    // Any bit flip in the transaction, or a stale commit word, is caught.
    for bit in (0..len * 8).step_by(13) {
        let mut c = log.clone();
        c[bit / 8] ^= 1 << (bit % 8);
        assert!(Txn::parse(&c, commit, seed, &l).is_err(), "bit {}", bit);
    }
    assert!(Txn::parse(&log, commit_word(8, commit_crc(commit)), seed, &l).is_err());
    assert!(Txn::parse(&log, commit, seed + 1, &l).is_err());
    // Records may not target the journal or the backup superblock.
    let mut log2 = vec![0u8; 8192];
    let mut w = TxnWriter::new(&mut log2, 1).unwrap();
    w.add(4096 * 2, &[0u8; 8]).unwrap();
    let (_, c2) = w.finish(seed);
    assert_eq!(
        Txn::parse(&log2, c2, seed, &l).unwrap_err(),
        Error::OutOfRange("journal record target")
    );
    assert!(!record_target_ok(&l, l.backup_sb_block * 4096, 8));
    assert!(!record_target_ok(&l, u64::MAX - 2, 8));
    // A full log refuses more records.
    let mut small = vec![0u8; 100];
    let mut w = TxnWriter::new(&mut small, 1).unwrap();
    assert_eq!(w.add(0, &[0u8; 100]), Err(Error::NoSpace));
}

#[test]
fn journal_header_and_state() {
    let l = test_layout();
    let mut h = JournalHeader::new(&l);
    let mut b = [0u8; 4096];
    h.encode(&mut b);
    assert_eq!(JournalHeader::decode(&b, &l).unwrap(), h);
    assert_eq!(
        journal_state(&h).unwrap(),
        JournalState::Clean { next_seq: 1 }
    );
    h.commit = commit_word(1, 0x1234);
    assert_eq!(
        journal_state(&h).unwrap(),
        JournalState::NeedsReplay { seq: 1 }
    );
    h.applied = 1;
    assert_eq!(
        journal_state(&h).unwrap(),
        JournalState::Clean { next_seq: 2 }
    );
    h.commit = commit_word(5, 0);
    assert!(journal_state(&h).is_err());
    // Sequence numbers wrap.
    h.applied = u64::from(u32::MAX);
    h.commit = commit_word(0, 1);
    assert_eq!(
        journal_state(&h).unwrap(),
        JournalState::NeedsReplay { seq: 0 }
    );
    b[0] ^= 1;
    assert!(JournalHeader::decode(&b, &l).is_err());
}

/// Property test: decoders and node functions on random bytes and on
/// bit-flipped valid records never panic.
#[test]
fn random_bytes_never_panic() {
    let l = test_layout();
    let mut r = Rng(0xDEAD_BEEF);
    let mut valid_sb = [0u8; SB_SIZE];
    sample_sb().encode(&mut valid_sb);
    let mut valid_ino = [0u8; INODE_SIZE];
    sample_inode(&mut r).encode(3, 5, &mut valid_ino);
    let mut valid_node = [0u8; BLOCK_SIZE];
    node_init(&mut valid_node, TreeType::Dir, 0, 3, 600);
    for k in 0..10u64 {
        let e = DirEntry::new(format!("n{}", k).as_bytes(), 9, DT_REG).unwrap();
        node_insert(&mut valid_node, k as usize, 1000 + k, &e.encode()).unwrap();
    }
    node_seal(&mut valid_node, 5);
    for iter in 0..20_000u32 {
        let mut buf = vec![0u8; (r.below(5000) + 1) as usize];
        match iter % 4 {
            0 => r.bytes(&mut buf),
            1 => {
                buf = valid_sb.to_vec();
                let bit = r.below(buf.len() as u64 * 8) as usize;
                buf[bit / 8] ^= 1 << (bit % 8);
            }
            2 => {
                buf = valid_ino.to_vec();
                for _ in 0..1 + r.below(3) {
                    let bit = r.below(buf.len() as u64 * 8) as usize;
                    buf[bit / 8] ^= 1 << (bit % 8);
                }
            }
            _ => {
                buf = valid_node.to_vec();
                let bit = r.below(buf.len() as u64 * 8) as usize;
                buf[bit / 8] ^= 1 << (bit % 8);
                if r.below(2) == 0 {
                    let nr = r.below(400) as u16;
                    buf[NODE_OFF_NR..NODE_OFF_NR + 2].copy_from_slice(&nr.to_le_bytes());
                }
            }
        }
        let _ = Superblock::decode(&buf);
        let _ = Superblock::decode_raw(&buf);
        if let Ok(i) = Inode::decode_raw(&buf) {
            let _ = i.validate();
            let _ = i.inline_data();
        }
        let _ = Inode::decode(&buf, 3, 5);
        let _ = DirEntry::decode(&buf);
        let _ = Extent::decode_value(r.next(), &buf);
        let _ = JournalHeader::decode(&buf, &l);
        let _ = Txn::parse(&buf, r.next(), 5, &l).map(|t| t.records().count());
        let _ = node_header(&buf);
        let _ = node_verify(&buf, 5, TreeType::Dir, 3, 600);
        if buf.len() >= BLOCK_SIZE {
            let mut n = [0u8; BLOCK_SIZE];
            n.copy_from_slice(&buf[..BLOCK_SIZE]);
            let _ = node_search(&n, r.next());
            let _ = node_child_index(&n, r.next());
            let _ = node_key(&n, r.below(300) as usize);
            let _ = node_value(&n, r.below(300) as usize);
            let _ = node_child(&n, r.below(300) as usize);
            let mut n2 = n;
            let _ = node_insert(
                &mut n2,
                r.below(300) as usize,
                r.next(),
                &[0u8; DIRENT_VALUE_SIZE],
            );
            let mut n3 = n;
            let _ = node_remove(&mut n3, r.below(300) as usize);
            let mut right = [0u8; BLOCK_SIZE];
            let _ = node_split(&mut n, &mut right, 5);
        }
        let _ = bit_test(&buf, r.next());
        let _ = find_zero_run(&buf, r.below(100_000), r.below(100_000), r.below(100));
        let _ = group_used(&buf, r.next());
    }
}

/// Tree algorithms on a store whose nodes are randomly corrupted return
/// errors and never panic or loop.
#[test]
fn corrupted_tree_never_panics() {
    let c = ctx();
    let mut r = Rng(4242);
    for round in 0..120 {
        let mut st = Mem::new();
        let mut s = Box::new(Scratch::new());
        let mut i = new_file();
        for k in 0..(20 + round * 4) {
            let e = Extent {
                lblk: k * 2,
                pblk: 10_000 + k,
                len: 1,
                flags: 0,
            };
            map_insert(&mut i, 5, &c, &mut st, &mut s, e).unwrap();
        }
        // Corrupt a random node: bit flips, or rewrite it validly with
        // hostile contents (bad child pointers, self loops).
        let blks: Vec<u64> = st.live.iter().copied().collect();
        let victim = blks[r.below(blks.len() as u64) as usize];
        let b = st.blocks.get_mut(&victim).unwrap();
        if round % 2 == 0 {
            for _ in 0..1 + r.below(8) {
                let bit = r.below(4096 * 8) as usize;
                b[bit / 8] ^= 1 << (bit % 8);
            }
        } else if node_header(b).is_ok_and(|h| h.level > 0) {
            let _ = node_set_value(b, 0, &victim.to_le_bytes());
            node_seal(b, c.csum_seed);
        } else {
            r.bytes(&mut b[NODE_HEADER_SIZE..]);
            node_seal(b, c.csum_seed);
        }
        for _ in 0..50 {
            let k = r.below(2000);
            let _ = map_lookup(&i, 5, &c, &mut st, &mut s, k);
            let _ = map_next(&i, 5, &c, &mut st, &mut s, k);
        }
        let mut j = i;
        let _ = map_insert(
            &mut j,
            5,
            &c,
            &mut st,
            &mut s,
            Extent {
                lblk: 1_000_001,
                pblk: 5,
                len: 1,
                flags: 0,
            },
        );
        let mut j = i;
        let _ = map_remove(&mut j, 5, &c, &mut st, &mut s, r.below(200) * 2);
    }
}

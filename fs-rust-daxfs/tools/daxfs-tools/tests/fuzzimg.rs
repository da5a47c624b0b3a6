// SPDX-License-Identifier: GPL-2.0

//! The structured image fuzzer (`daxfs_tools::fuzz`, `fuzzimg.daxfs`):
//! its base image holds every structure it claims and is consistent but
//! for what a crash leaves (a journal transaction to replay, orphans);
//! generation is deterministic; every structure class is mutated within
//! the first 1000 images; images with recomputed checksums pass every
//! checksum check of the format; fsck never panics on them.

#![allow(missing_docs)]

mod common;

use std::collections::BTreeSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::process::Command;

use daxfs_format::btree::{node_verify, TreeType, NODE_MAGIC, NODE_OFF_TREE_TYPE};
use daxfs_format::bytes::{get_u32, get_u64, get_u8};
use daxfs_format::extent::{EXTENT_SEALED, EXTENT_UNWRITTEN};
use daxfs_format::inode::{Inode, MAP_BTREE, MAP_EXTENTS, MAP_INLINE_DATA};
use daxfs_format::journal::{JournalHeader, Txn, JH_OFF_COMMIT, JH_SIZE};
use daxfs_format::superblock::{Superblock, INODE_SIZE, SB_SIZE};
use daxfs_format::{Error, BLOCK_SIZE, BLOCK_SIZE_U64};
use daxfs_tools::fsck::{code, Mode, EXIT_CORRECTED, EXIT_OK};
use daxfs_tools::fuzz::{
    checksum_errors, generate, Base, Class, ExtentLoc, BASE_BLOCKS, DEFAULT_SEED,
};

fn base() -> Base {
    Base::build().expect("base image")
}

#[test]
fn base_image_holds_every_structure() {
    let b = base();
    let l = b.sb.layout;
    assert_eq!(b.img.len() as u64, BASE_BLOCKS * BLOCK_SIZE_U64);
    let by = |n: &str| {
        b.inodes
            .iter()
            .find(|i| i.name == n)
            .unwrap_or_else(|| panic!("no {} in the base image", n))
            .clone()
    };
    // A 2-level extent tree, and a directory index with an interior root
    // over several leaves.
    let tree = by("/tree");
    assert_eq!(tree.inode.map_kind, MAP_BTREE);
    assert!(b
        .nodes
        .iter()
        .any(|n| n.owner == tree.ino && n.level == 1 && n.parent.is_none()));
    assert!(b.nodes.iter().filter(|n| n.owner == tree.ino).count() >= 3);
    let dir = by("/dir");
    assert!(b
        .nodes
        .iter()
        .any(|n| n.owner == dir.ino && n.level == 1 && n.tree == TreeType::Dir));
    assert!(
        b.nodes
            .iter()
            .filter(|n| n.owner == dir.ino && n.level == 0)
            .count()
            >= 4
    );
    // Inline extent maps, unwritten extents, blocks past the end.
    let inline = by("/inline");
    assert_eq!(inline.inode.map_kind, MAP_EXTENTS);
    assert!(b
        .extents
        .iter()
        .any(|e| matches!(e.loc, ExtentLoc::Inline { .. })));
    assert!(b
        .extents
        .iter()
        .any(|e| e.ext.flags & EXTENT_UNWRITTEN != 0));
    let pre = by("/prealloc");
    let past = b
        .extents
        .iter()
        .filter(|e| e.ino == pre.ino)
        .map(|e| e.ext.lend())
        .max()
        .unwrap();
    assert!(past * BLOCK_SIZE_U64 > pre.inode.size + BLOCK_SIZE_U64);
    // Sealed files: the inode flag and every extent SEALED.
    for n in ["/sealed", "/sealed-small"] {
        let s = by(n);
        assert!(s.inode.is_sealed() && !s.inode.seal_intent(), "{}", n);
        let ext: Vec<_> = b.extents.iter().filter(|e| e.ino == s.ino).collect();
        assert!(!ext.is_empty());
        assert!(ext.iter().all(|e| e.ext.flags == EXTENT_SEALED), "{}", n);
    }
    assert_eq!(by("/sealed").inode.map_kind, MAP_BTREE);
    // Symlinks, inline and in a block; a hard link.
    assert_eq!(by("/short-link").inode.map_kind, MAP_INLINE_DATA);
    assert_eq!(by("/long-link").inode.map_kind, MAP_EXTENTS);
    assert!(b
        .inodes
        .iter()
        .any(|i| i.inode.is_reg() && i.inode.nlink == 3));
    // The orphan list: an interrupted seal (linked, with the intent and
    // some SEALED extents) and two unlinked files, doubly linked.
    assert_eq!(b.orphans.len(), 3);
    let intent = by("/intent");
    assert!(b.orphans.contains(&intent.ino));
    assert!(intent.inode.seal_intent() && intent.inode.nlink == 1);
    assert!(b
        .extents
        .iter()
        .any(|e| e.ino == intent.ino && e.ext.flags & EXTENT_SEALED != 0));
    assert!(b
        .extents
        .iter()
        .any(|e| e.ino == intent.ino && e.ext.flags & EXTENT_SEALED == 0));
    let unlinked = b
        .orphans
        .iter()
        .filter(|&&o| b.inode(o).unwrap().inode.nlink == 0)
        .count();
    assert_eq!(unlinked, 2);
    let mut prev = 0;
    for &o in &b.orphans {
        assert_eq!(u64::from(b.inode(o).unwrap().inode.prev_orphan), prev);
        prev = o;
    }
    // A committed transaction that was not applied, which replay accepts.
    let t = b.txn.as_ref().expect("no pending transaction");
    assert!(t.records.len() > 3);
    let jh = (l.journal_start * BLOCK_SIZE_U64) as usize;
    let h = JournalHeader::decode(&b.img[jh..jh + JH_SIZE], &l).unwrap();
    assert_eq!(u64::from(h.commit as u32), h.applied + 1);
    let log = &b.img[t.off as usize..(t.off + h.log_bytes()) as usize];
    Txn::parse(log, h.commit, b.sb.ctx().csum_seed, &l).unwrap();
    // It was mounted when it "crashed".
    assert_eq!(b.sb.state, daxfs_format::superblock::STATE_DIRTY);
}

/// Writes `img` to `path` and runs fsck there.
fn fsck_img(img: &[u8], path: &Path, mode: Mode) -> daxfs_tools::fsck::Report {
    std::fs::write(path, img).unwrap();
    common::check(path, mode)
}

#[test]
fn base_image_is_clean_but_for_the_crash() {
    let b = base();
    let d = common::scratch("fuzz-base");
    let p = d.join("img");
    // fsck -n: the transaction to replay and the two unlinked files
    // (what a crash leaves), nothing else; the seal intent is consistent.
    let r = fsck_img(&b.img, &p, Mode::No);
    let classes: BTreeSet<&str> = r.problems.iter().map(|p| p.code).collect();
    assert_eq!(
        classes,
        BTreeSet::from([code::JOURNAL_REPLAY, code::ORPHAN]),
        "{:#?}",
        r.lines
    );
    assert_eq!(
        r.problems.iter().filter(|p| p.code == code::ORPHAN).count(),
        2
    );
    assert_eq!(std::fs::read(&p).unwrap(), b.img, "fsck -n wrote");
    // fsck -y finishes what mount would (replay, orphans, the seal
    // roll-back) and leaves a clean filesystem.
    let y = common::check(&p, Mode::Yes);
    assert_eq!(y.exit, EXIT_CORRECTED, "{:#?}", y.lines);
    assert!(y.has(code::SEAL_INTENT), "{:#?}", y.lines);
    let n = common::check(&p, Mode::No);
    assert_eq!(n.exit, EXIT_OK, "{:#?}", n.lines);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn generation_is_deterministic() {
    let a = base();
    let b = base();
    assert!(a.img == b.img, "two builds of the base image differ");
    let mut seen = BTreeSet::new();
    for i in [0u64, 1, 2, 17, 500, 999, 123_456] {
        let x = generate(&a, DEFAULT_SEED, i);
        let y = generate(&b, DEFAULT_SEED, i);
        assert!(x.img == y.img, "image {} differs between two runs", i);
        assert_eq!(x.describe(), y.describe());
        assert!(x.img != a.img, "image {} is the base image", i);
        assert!(!x.mutations.is_empty());
        seen.insert(x.describe());
    }
    assert_eq!(seen.len(), 7);
    // Another seed, another series.
    let o = generate(&a, DEFAULT_SEED + 1, 0);
    assert!(o.img != generate(&a, DEFAULT_SEED, 0).img);
}

#[test]
fn every_class_within_1000_images() {
    let b = base();
    let mut hit = BTreeSet::new();
    let mut recomputed = 0;
    let mut fields = BTreeSet::new();
    for i in 0..1000 {
        let g = generate(&b, DEFAULT_SEED, i);
        for m in &g.mutations {
            hit.insert(m.class);
            fields.insert((m.class, m.field.split(' ').next().unwrap_or("").to_string()));
        }
        recomputed += usize::from(g.checksums);
    }
    for c in Class::ALL {
        assert!(hit.contains(&c), "class {} never mutated", c);
    }
    assert!((400..600).contains(&recomputed), "{} of 1000", recomputed);
    // Some fields that must come up.
    for (c, f) in [
        (Class::Superblock, "magic"),
        (Class::Superblock, "orphan_head"),
        (Class::Inode, "flags"),
        (Class::Inode, "size"),
        (Class::Extent, "pblk"),
        (Class::Extent, "len"),
        (Class::ExtentNode, "child"),
        (Class::ExtentNode, "level"),
        (Class::DirNode, "key"),
        (Class::Dirent, "ino"),
        (Class::Dirent, "name_len"),
        (Class::Journal, "offset"),
        (Class::Journal, "body_len"),
        (Class::Orphan, "next_orphan"),
        (Class::Alloc, "group"),
        (Class::Alloc, "bit"),
    ] {
        assert!(
            fields.contains(&(c, f.to_string())),
            "{} {} never mutated",
            c,
            f
        );
    }
}

/// Checks with the format's own decoders that no checksum of `img` is
/// wrong (the superblocks, every inode in use, every node, the pending
/// transaction's CRC).
fn assert_checksums_right(img: &[u8], b: &Base, what: &str) {
    let l = b.sb.layout;
    for blk in [0, l.backup_sb_block] {
        let o = (blk * BLOCK_SIZE_U64) as usize;
        if let Err(Error::BadChecksum(w)) = Superblock::decode(&img[o..o + SB_SIZE]) {
            panic!(
                "{}: superblock in block {}: bad checksum ({})",
                what, blk, w
            );
        }
    }
    let raw = Superblock::decode_raw(&img[..SB_SIZE]).unwrap();
    let seed = raw.ctx().csum_seed;
    for ino in 1..l.inode_count {
        let o = l.inode_offset(ino).unwrap() as usize;
        if let Err(Error::BadChecksum(_)) = Inode::decode(&img[o..o + INODE_SIZE], ino, seed) {
            panic!("{}: inode {}: bad checksum", what, ino);
        }
    }
    for blk in l.data_start..l.data_end() {
        let o = (blk * BLOCK_SIZE_U64) as usize;
        let buf = &img[o..o + BLOCK_SIZE];
        if get_u32(buf, 0) != NODE_MAGIC {
            continue;
        }
        let tree = match TreeType::from_u8(get_u8(buf, NODE_OFF_TREE_TYPE)) {
            Ok(t) => t,
            Err(_) => continue,
        };
        let owner = get_u64(buf, daxfs_format::btree::NODE_OFF_OWNER);
        if let Err(Error::BadChecksum(_)) = node_verify(buf, seed, tree, owner, blk) {
            panic!("{}: node in block {}: bad checksum", what, blk);
        }
    }
    let jh = (l.journal_start * BLOCK_SIZE_U64) as usize;
    let commit = get_u64(img, jh + JH_OFF_COMMIT);
    let log = &img[jh + BLOCK_SIZE..jh + (l.journal_blocks as usize) * BLOCK_SIZE];
    if let Err(Error::BadChecksum(w)) = Txn::parse(log, commit, seed, &l) {
        panic!("{}: {}: bad checksum", what, w);
    }
}

#[test]
fn recomputed_checksums_verify() {
    let b = base();
    let mut n = 0;
    let mut stale_caught = 0;
    for i in 0..400 {
        let mut g = generate(&b, DEFAULT_SEED, i);
        let what = g.describe();
        let errs = checksum_errors(&mut g.img, &b.sb.layout);
        if g.checksums {
            assert!(errs.is_empty(), "{}: {:?}", what, errs);
            assert_checksums_right(&g.img, &b, &what);
            n += 1;
        } else if !errs.is_empty() {
            stale_caught += 1;
        }
    }
    assert!(n > 150, "{} images with recomputed checksums", n);
    // Most stale images fail a checksum (those that do not changed only
    // bitmaps, the group table or checksummed bytes back to their value).
    assert!(stale_caught > 100, "{} stale images caught", stale_caught);
}

/// fsck in `mode` on `img` at `path`: never a panic, always an fsck(8)
/// exit code.
fn fsck_no_panic(img: Option<&[u8]>, path: &Path, mode: Mode, what: &str) -> i32 {
    if let Some(img) = img {
        std::fs::write(path, img).unwrap();
    }
    let r = catch_unwind(AssertUnwindSafe(|| common::check(path, mode)))
        .unwrap_or_else(|_| panic!("{}: fsck {:?} panicked", what, mode));
    assert!(
        [0, 1, 4, 8].contains(&r.exit),
        "{}: fsck {:?} exit {}",
        what,
        mode,
        r.exit
    );
    r.exit
}

#[test]
fn fsck_never_panics_on_200_images() {
    let b = base();
    let d = common::scratch("fuzz-fsck");
    let p = d.join("img");
    let mut exits = std::collections::BTreeMap::new();
    for i in 0..200 {
        let g = generate(&b, DEFAULT_SEED, i);
        let what = g.describe();
        let n = fsck_no_panic(Some(&g.img), &p, Mode::No, &what);
        let y = fsck_no_panic(None, &p, Mode::Yes, &what);
        let again = fsck_no_panic(None, &p, Mode::No, &what);
        // What -y says it fixed stays fixed.
        if y == EXIT_CORRECTED {
            assert_eq!(again, EXIT_OK, "{}: -y corrected, then -n: {}", what, again);
        }
        *exits.entry((n, y)).or_insert(0) += 1;
    }
    eprintln!("fsck exit codes (-n, -y): {:?}", exits);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn the_binary_writes_what_the_library_generates() {
    let exe = env!("CARGO_BIN_EXE_fuzzimg-daxfs");
    let b = base();
    let d = common::scratch("fuzz-bin");
    let out = d.join("one.img");
    let st = Command::new(exe)
        .args(["--seed", "7", "--index", "42"])
        .arg(&out)
        .status()
        .unwrap();
    assert!(st.success());
    assert!(std::fs::read(&out).unwrap() == generate(&b, 7, 42).img);
    // --describe, one line per image.
    let o = Command::new(exe)
        .args(["--seed", "7", "--index", "40", "--count", "3", "--describe"])
        .output()
        .unwrap();
    assert!(o.status.success());
    let text = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[2], generate(&b, 7, 42).describe());
    // --count with a directory; --base.
    let st = Command::new(exe)
        .args(["--seed", "7", "--count", "2"])
        .arg(d.join("many"))
        .status()
        .unwrap();
    assert!(st.success());
    assert!(std::fs::read(d.join("many/fuzz-7-1.img")).unwrap() == generate(&b, 7, 1).img);
    let st = Command::new(exe)
        .arg("--base")
        .arg(d.join("base.img"))
        .status()
        .unwrap();
    assert!(st.success());
    assert!(std::fs::read(d.join("base.img")).unwrap() == b.img);
    // Overwriting a longer file leaves exactly the image.
    std::fs::write(&out, vec![1u8; b.img.len() + 4096]).unwrap();
    assert!(Command::new(exe)
        .args(["--index", "3"])
        .arg(&out)
        .status()
        .unwrap()
        .success());
    assert_eq!(std::fs::metadata(&out).unwrap().len(), b.img.len() as u64);
    // Usage errors.
    assert!(!Command::new(exe).output().unwrap().status.success());
    assert!(!Command::new(exe).arg(&out).status().unwrap().success());
    std::fs::remove_dir_all(&d).unwrap();
}

/// Regression (found by the fuzzer in the booted kernel): a damaged
/// separator in an extent tree node (seed 20261203, images 46 and 141)
/// made `map_next(169)` return the extent at block 168, which ends before
/// 169, and the kernel's hole arithmetic overflowed (a Rust panic in
/// `iomap_begin`). The map functions must return an error or an extent
/// that ends past the block asked for.
#[test]
fn damaged_extent_separator_is_an_error() {
    use daxfs_format::btree::Scratch;
    use daxfs_format::extent::map_next;
    let b = base();
    let dir = std::env::temp_dir().join(format!("fuzz-regress-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for idx in [46u64, 141] {
        let f = generate(&b, 20261203, idx);
        let path = dir.join(format!("img-{}", idx));
        std::fs::write(&path, &f.img).unwrap();
        let fs = daxfs_tools::fs::Fs::open(&path, true).unwrap();
        let ino = fs.lookup_path("tree").unwrap();
        let inode = fs.inode(ino).unwrap();
        let mut s = Box::new(Scratch::new());
        let mut errors = 0;
        for lblk in 0..512 {
            match map_next(&inode, ino, &fs.ctx, &mut fs.store(), &mut s, lblk) {
                Ok(Some(e)) => assert!(e.lend() > lblk, "image {}: block {}: {:?}", idx, lblk, e),
                Ok(None) => {}
                Err(_) => errors += 1,
            }
        }
        assert!(errors > 0, "image {}: the damage went unnoticed", idx);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Regression (found by the fuzzer in the booted kernel): a damaged
/// separator in the root directory's index (seed 2, image 714) sent the
/// descent for a key `find_ge` had returned to another leaf, and the
/// kernel's `readdir` stood still forever. The descent must refuse a node
/// whose keys lie outside its parent's range.
#[test]
fn damaged_directory_separator_is_an_error() {
    use daxfs_format::btree::{node_search, Scratch, Tree};
    let b = base();
    let f = generate(&b, 2, 714);
    let dir = std::env::temp_dir().join(format!("fuzz-regress-dir-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("img");
    std::fs::write(&path, &f.img).unwrap();
    let fs = daxfs_tools::fs::Fs::open(&path, true).unwrap();
    let root = fs.inode(1).unwrap();
    let t = Tree {
        tree: TreeType::Dir,
        owner: 1,
        seed: fs.ctx.csum_seed,
        root: root.btree_root(),
    };
    let mut s = Box::new(Scratch::new());
    let mut v = vec![0u8; daxfs_format::dir::DIRENT_VALUE_SIZE];
    let (mut pos, mut steps, mut error) = (0u64, 0, false);
    // What the kernel's readdir does: find the next key, then the leaf it is in.
    while steps < 10_000 {
        steps += 1;
        let k = match t.find_ge(&mut fs.store(), &mut s, pos, &mut v) {
            Ok(Some(k)) => k,
            Ok(None) => break,
            Err(_) => {
                error = true;
                break;
            }
        };
        let mut leaf = s.a;
        match t.leaf(&mut fs.store(), &mut leaf, k) {
            Ok(()) => assert!(
                matches!(node_search(&leaf, k), Ok(Ok(_))),
                "key {:#x} is not in the leaf the descent reaches",
                k
            ),
            Err(_) => {
                error = true;
                break;
            }
        }
        pos = k + 1;
    }
    assert!(steps < 10_000, "the walk does not end");
    assert!(error, "the damage went unnoticed");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `fuzzimg.daxfs --serve`: an index writes that image (byte for byte what
/// `generate` makes) and answers its description; `fsck -n`/`fsck -y`
/// answer what fsck's checker reports on the image written, and `-y`
/// repairs it in place; anything else is an error line, and the server
/// goes on.
#[test]
fn serve_writes_images_and_checks_them() {
    use std::io::Write;
    use std::process::Stdio;
    let b = base();
    let d = common::scratch("fuzz-serve");
    let out = d.join("img");
    let mut child = Command::new(env!("CARGO_BIN_EXE_fuzzimg-daxfs"))
        .args(["--serve", out.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"3\nfsck -n\nfsck -y\nbogus\nfsck -n\n")
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{:?}", o);
    let text = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{:#?}", lines);
    let g = generate(&b, DEFAULT_SEED, 3);
    assert_eq!(lines[0], g.describe());
    // What fsck's checker says on a copy of image 3, in the same order.
    let copy = d.join("copy");
    let answer = |r: &daxfs_tools::fsck::Report| {
        format!(
            "fsck {} {}: {}",
            r.exit,
            r.lines.len(),
            r.lines.last().map(String::as_str).unwrap_or("")
        )
        .replace(copy.to_str().unwrap(), out.to_str().unwrap())
    };
    let n = fsck_img(&g.img, &copy, Mode::No);
    assert_eq!(lines[1], answer(&n));
    let y = common::check(&copy, Mode::Yes);
    assert_eq!(lines[2], answer(&y));
    assert!(lines[3].starts_with("error: "), "{}", lines[3]);
    let n2 = common::check(&copy, Mode::No);
    assert_eq!(lines[4], answer(&n2));
    // -y wrote its repairs to the served image as to the copy.
    assert!(std::fs::read(&out).unwrap() == std::fs::read(&copy).unwrap());
    std::fs::remove_dir_all(&d).unwrap();
}

// SPDX-License-Identifier: GPL-2.0

//! Property test: random single- and multi-bit flips of valid images,
//! hostile records with valid checksums, random garbage and truncated
//! images never make the decoder or fsck panic, and fsck always returns
//! one of the fsck(8) codes. `-y` on a damaged image never panics either,
//! and a second check after it never finds more than the first did
//! (beyond what cannot be fixed).

#![allow(missing_docs)]

mod common;

use std::os::unix::fs::FileExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use common::Rng;
use daxfs_format::btree::node_seal;
use daxfs_format::crc32c::crc32c;
use daxfs_format::inode::{inode_checksum, INO_OFF_CHECKSUM};
use daxfs_format::superblock::{SB_OFF_CHECKSUM, SB_SIZE};
use daxfs_format::Block;
use daxfs_tools::fs::Fs;
use daxfs_tools::fsck::Mode;

const ITER: u64 = 5000;

fn image(dir: &Path) -> std::path::PathBuf {
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("d/e")).unwrap();
    for i in 0..30 {
        std::fs::write(src.join(format!("d/f{}", i)), vec![i as u8; i * 700]).unwrap();
    }
    std::fs::write(src.join("d/e/big"), vec![7u8; 300_000]).unwrap();
    std::os::unix::fs::symlink("x".repeat(300), src.join("ll")).unwrap();
    std::os::unix::fs::symlink("short", src.join("sl")).unwrap();
    let img = dir.join("img");
    common::make_image(&img, 6 << 20, Some(&src));
    img
}

/// Metadata byte ranges worth flipping: superblocks, journal header,
/// bitmaps, group table, the used part of the inode table, tree nodes.
fn targets(img: &Path) -> Vec<(u64, u64)> {
    let fs = Fs::open(img, false).unwrap();
    let l = *fs.layout();
    let mut t = vec![
        (0, SB_SIZE as u64),
        (l.backup_sb_block * 4096, SB_SIZE as u64),
        (l.journal_start * 4096, 64),
        (l.inode_bitmap_start * 4096, 64),
        (l.block_bitmap_start * 4096, 256),
        (l.group_table_start * 4096, 64),
        (l.inode_table_start * 4096, 60 * 256),
    ];
    // Directory index nodes and symlink blocks are at the start of the
    // data area.
    t.push((l.data_start * 4096, 8 * 4096));
    t
}

fn check_no_panic(img: &Path, what: &str) -> i32 {
    let r = catch_unwind(AssertUnwindSafe(|| common::check(img, Mode::No)));
    match r {
        Ok(rep) => {
            assert!(
                [0, 1, 4, 8].contains(&rep.exit),
                "{}: exit {}",
                what,
                rep.exit
            );
            // The reader used by dump must not panic either.
            catch_unwind(AssertUnwindSafe(|| {
                if let Ok(fs) = Fs::open(img, false) {
                    let _ = daxfs_tools::dump::dump(
                        &fs,
                        &daxfs_tools::dump::DumpOptions {
                            inodes: true,
                            groups: true,
                            inode: None,
                        },
                    );
                    if let Ok(ents) = fs.readdir(1) {
                        for (_, e) in ents {
                            let _ = fs.read_file(e.ino);
                            let _ = fs.read_link(e.ino);
                        }
                    }
                }
            }))
            .unwrap_or_else(|_| panic!("{}: reader panicked", what));
            rep.exit
        }
        Err(_) => panic!("{}: fsck panicked", what),
    }
}

#[test]
fn bit_flips_never_panic() {
    let dir = common::scratch("prop");
    let img = image(&dir);
    let t = targets(&img);
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&img)
        .unwrap();
    let mut r = Rng(0xF119);
    let mut detected = 0;
    for it in 0..ITER {
        let nflips = 1 + r.below(if it % 2 == 0 { 1 } else { 4 });
        let mut saved = Vec::new();
        for _ in 0..nflips {
            let (start, len) = t[r.below(t.len() as u64) as usize];
            let off = start + r.below(len);
            let mut b = [0u8];
            f.read_exact_at(&mut b, off).unwrap();
            saved.push((off, b[0]));
            b[0] ^= 1 << r.below(8);
            f.write_all_at(&b, off).unwrap();
        }
        let code = check_no_panic(&img, &format!("iteration {} flips {:?}", it, saved));
        if code != 0 {
            detected += 1;
        }
        for (off, v) in saved.into_iter().rev() {
            f.write_all_at(&[v], off).unwrap();
        }
    }
    assert_eq!(common::check(&img, Mode::No).exit, 0);
    eprintln!("{} of {} corrupted images detected", detected, ITER);
    // Nearly every flip of checked metadata is detected (flips in unused
    // bits of a bitmap beyond the data area or in label padding may not
    // be semantically wrong).
    assert!(detected * 10 >= ITER * 8, "only {} detected", detected);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn hostile_records_with_valid_checksums() {
    let dir = common::scratch("hostile");
    let img = image(&dir);
    let fs = Fs::open(&img, false).unwrap();
    let l = *fs.layout();
    let seed = fs.ctx.csum_seed;
    drop(fs);
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&img)
        .unwrap();
    let mut r = Rng(77);
    for it in 0..2000 {
        let kind = it % 3;
        let (off, len) = match kind {
            0 => (0u64, SB_SIZE),
            1 => (l.inode_table_start * 4096 + (1 + r.below(40)) * 256, 256),
            _ => ((l.data_start + r.below(8)) * 4096, 4096),
        };
        let mut orig = vec![0u8; len];
        f.read_exact_at(&mut orig, off).unwrap();
        let mut b = orig.clone();
        // Randomise a few fields (whole bytes), then fix the checksum.
        for _ in 0..1 + r.below(6) {
            let i = r.below(len as u64) as usize;
            b[i] = r.next() as u8;
        }
        if r.below(4) == 0 {
            r.bytes(&mut b[32..]);
        }
        match kind {
            0 => {
                let c = crc32c(&b[..SB_OFF_CHECKSUM]);
                b[SB_OFF_CHECKSUM..SB_OFF_CHECKSUM + 4].copy_from_slice(&c.to_le_bytes());
            }
            1 => {
                let ino = (off - l.inode_table_start * 4096) / 256;
                let c = inode_checksum(ino, seed, &b);
                b[INO_OFF_CHECKSUM..INO_OFF_CHECKSUM + 4].copy_from_slice(&c.to_le_bytes());
            }
            _ => {
                let mut n: Block = [0; 4096];
                n.copy_from_slice(&b);
                node_seal(&mut n, seed);
                b.copy_from_slice(&n);
            }
        }
        f.write_all_at(&b, off).unwrap();
        check_no_panic(&img, &format!("hostile iteration {}", it));
        f.write_all_at(&orig, off).unwrap();
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn repair_of_random_damage_never_panics() {
    let dir = common::scratch("repair");
    let img = image(&dir);
    let t = targets(&img);
    let mut r = Rng(31337);
    let work = dir.join("work");
    for it in 0..60 {
        std::fs::copy(&img, &work).unwrap();
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&work)
            .unwrap();
        for _ in 0..1 + r.below(6) {
            let (start, len) = t[r.below(t.len() as u64) as usize];
            let off = start + r.below(len);
            let mut b = [0u8];
            f.read_exact_at(&mut b, off).unwrap();
            b[0] ^= 1 << r.below(8);
            f.write_all_at(&b, off).unwrap();
        }
        drop(f);
        for mode in [Mode::Preen, Mode::Yes] {
            let rep = catch_unwind(AssertUnwindSafe(|| common::check(&work, mode)))
                .unwrap_or_else(|_| panic!("repair iteration {} panicked", it));
            assert!([0, 1, 4, 8].contains(&rep.exit), "exit {}", rep.exit);
        }
        let after = check_no_panic(&work, &format!("after repair {}", it));
        assert!(after == 0 || after == 4 || after == 8, "{}", after);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn garbage_and_truncated_images() {
    let dir = common::scratch("garbage");
    let img = image(&dir);
    let valid = std::fs::read(&img).unwrap();
    let work = dir.join("work");
    let mut r = Rng(99);
    for it in 0..40 {
        // Truncated copies of a valid image.
        let n = r.below(valid.len() as u64) as usize;
        std::fs::write(&work, &valid[..n]).unwrap();
        let c = check_no_panic(&work, &format!("truncated to {}", n));
        assert_ne!(c, 0, "truncated image to {} bytes passed", n);
        // Random bytes, sometimes with a valid superblock in front.
        let mut g = vec![0u8; (1 << 20) + r.below(8 << 20) as usize];
        r.bytes(&mut g);
        if it % 2 == 0 {
            g[..4096].copy_from_slice(&valid[..4096]);
        }
        std::fs::write(&work, &g).unwrap();
        check_no_panic(&work, &format!("garbage {}", it));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

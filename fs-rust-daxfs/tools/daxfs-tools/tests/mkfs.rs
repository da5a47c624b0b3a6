// SPDX-License-Identifier: GPL-2.0

//! mkfs.daxfs: sizes from the minimum to 64 GiB, the 16 GiB timing and
//! space budget through the real binary, signature detection, options.

#![allow(missing_docs)]

mod common;

use std::process::Command;
use std::time::Instant;

use daxfs_format::superblock::{Superblock, MIN_BLOCKS, SB_SIZE};
use daxfs_tools::fs::Fs;
use daxfs_tools::fsck::{Mode, EXIT_OK};

const MKFS: &str = env!("CARGO_BIN_EXE_mkfs-daxfs");
const FSCK: &str = env!("CARGO_BIN_EXE_fsck-daxfs");
const DUMP: &str = env!("CARGO_BIN_EXE_dump-daxfs");

#[test]
fn mkfs_then_fsck_clean_min_to_64g() {
    let dir = common::scratch("sizes");
    let min = MIN_BLOCKS * 4096;
    for size in [
        min,
        min + 4096,
        min + 1000, // not a multiple of the block size
        5 << 20,
        (6 << 20) + 4096 * 511,
        17 << 20,
        100 << 20,
        1 << 30,
        (3 << 30) + (5 << 20),
        16 << 30,
        64 << 30,
    ] {
        let img = dir.join(format!("img-{}", size));
        let sb = common::make_image(&img, size, None);
        assert_eq!(sb.layout.block_count, size / 4096);
        let r = common::check(&img, Mode::No);
        assert_eq!(r.exit, EXIT_OK, "size {}: {:?}", size, r.lines);
        // Sparse: metadata written stays tiny.
        assert!(
            common::du(&img) < (size / 100).max(1 << 20),
            "size {} du {}",
            size,
            common::du(&img)
        );
        std::fs::remove_file(&img).unwrap();
    }
    let too_small = dir.join("small");
    let o = daxfs_tools::mkfs::MkfsOptions {
        device: too_small,
        size: Some(min - 4096),
        force: true,
        ..Default::default()
    };
    assert!(daxfs_tools::mkfs::mkfs(&o)
        .err()
        .unwrap()
        .contains("too small"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn binary_16g_under_1s_and_1_percent() {
    let dir = common::scratch("bin16g");
    let img = dir.join("img");
    let f = std::fs::File::create(&img).unwrap();
    f.set_len(16 << 30).unwrap();
    drop(f);
    let t = Instant::now();
    let out = Command::new(MKFS).arg("-q").arg(&img).output().unwrap();
    let took = t.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(took.as_secs_f64() < 1.0, "mkfs took {:?}", took);
    let du = common::du(&img);
    assert!(du < (16 << 30) / 100, "du {} bytes", du);
    eprintln!("mkfs 16 GiB: {:?}, {} KiB on disk", took, du / 1024);
    let out = Command::new(FSCK).arg("-n").arg(&img).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // The same through fsck's -p and -a spellings (as fsck -t daxfs does).
    for m in ["-p", "-a", "-y"] {
        let out = Command::new(FSCK).arg(m).arg(&img).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", m);
    }
    assert!(common::du(&img) < (16 << 30) / 100);
    // What mount reads does not depend on the device size.
    let fs = Fs::open(&img, false).unwrap();
    assert!(fs.layout().mount_read_blocks() * 4096 <= (8 << 20) + 4096);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn signatures_refused_without_force() {
    let dir = common::scratch("sig");
    let img = dir.join("img");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(64 << 20)
        .unwrap();
    // A fresh file has no signature.
    let out = Command::new(MKFS).args(["-q"]).arg(&img).output().unwrap();
    assert!(out.status.success());
    // Our own signature.
    let out = Command::new(MKFS).args(["-q"]).arg(&img).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("existing daxfs filesystem") && err.contains("-f"),
        "{}",
        err
    );
    // Synthetic foreign signatures (blkid may or may not recognise them:
    // the built-in probes catch them either way).
    for (off, magic, name) in [
        (0usize, &b"XFSB"[..], "xfs"),
        (1080, &[0x53, 0xEF][..], "ext"),
        (0x10040, &b"_BHRfS_M"[..], "btrfs"),
        (4086, &b"SWAPSPACE2"[..], "swap"),
    ] {
        let f = std::fs::File::create(&img).unwrap();
        f.set_len(64 << 20).unwrap();
        use std::os::unix::fs::FileExt;
        f.write_all_at(magic, off as u64).unwrap();
        let out = Command::new(MKFS).args(["-q"]).arg(&img).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", name);
        let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
        assert!(
            err.contains(name) || err.contains("found by blkid"),
            "{}: {}",
            name,
            err
        );
        let out = Command::new(MKFS)
            .args(["-q", "-f"])
            .arg(&img)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", name);
    }
    // A real ext4 made by mke2fs, if present, is named.
    if Command::new("mkfs.ext4").arg("-V").output().is_ok() {
        let f = std::fs::File::create(&img).unwrap();
        f.set_len(64 << 20).unwrap();
        let ok = Command::new("mkfs.ext4")
            .args(["-q", "-F"])
            .arg(&img)
            .status()
            .unwrap();
        if ok.success() {
            let out = Command::new(MKFS).args(["-q"]).arg(&img).output().unwrap();
            assert_eq!(out.status.code(), Some(1));
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains("ext4") || err.contains("ext2/ext3/ext4"),
                "{}",
                err
            );
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn options_label_uuid_dry_run_version() {
    let dir = common::scratch("opts");
    let img = dir.join("img");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(32 << 20)
        .unwrap();
    // Dry run writes nothing.
    let out = Command::new(MKFS)
        .args(["-n", "-L", "x"])
        .arg(&img)
        .output()
        .unwrap();
    assert!(out.status.success());
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("meta-data=") && s.contains("dry run"), "{}", s);
    assert_eq!(common::du(&img), 0);
    let uuid = "0a1b2c3d-4e5f-4a6b-8c7d-8e9fa0b1c2d3";
    let out = Command::new(MKFS)
        .args(["-L", "my pmem", "-U", uuid, "-N", "5000", "-J", "128"])
        .arg(&img)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = String::from_utf8_lossy(&out.stdout);
    for want in [
        "uuid=0a1b2c3d-4e5f-4a6b-8c7d-8e9fa0b1c2d3",
        "label=\"my pmem\"",
        "bsize=4096",
        "log      =internal journal",
    ] {
        assert!(s.contains(want), "{} not in\n{}", want, s);
    }
    let mut b = [0u8; SB_SIZE];
    use std::os::unix::fs::FileExt;
    std::fs::File::open(&img)
        .unwrap()
        .read_exact_at(&mut b, 0)
        .unwrap();
    let sb = Superblock::decode(&b).unwrap();
    assert_eq!(sb.label_bytes(), b"my pmem");
    assert_eq!(daxfs_tools::util::format_uuid(&sb.uuid), uuid);
    assert_eq!(sb.layout.inode_count, 5008);
    assert_eq!(sb.layout.journal_blocks, 128);
    // -q prints nothing; -V prints the version.
    let out = Command::new(MKFS)
        .args(["-q", "-f"])
        .arg(&img)
        .output()
        .unwrap();
    assert!(out.stdout.is_empty());
    let out = Command::new(MKFS).arg("-V").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("mkfs.daxfs version"));
    // Bad label, bad option, missing device.
    assert_eq!(
        Command::new(MKFS)
            .args(["-f", "-L", &"x".repeat(65)])
            .arg(&img)
            .status()
            .unwrap()
            .code(),
        Some(1)
    );
    assert_eq!(
        Command::new(MKFS)
            .args(["--bogus"])
            .arg(&img)
            .status()
            .unwrap()
            .code(),
        Some(1)
    );
    assert_eq!(
        Command::new(MKFS)
            .arg(dir.join("missing"))
            .status()
            .unwrap()
            .code(),
        Some(1)
    );
    // A size argument creates / extends an image file.
    let img2 = dir.join("new");
    let out = Command::new(MKFS)
        .arg("-q")
        .arg(&img2)
        .arg("8M")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::metadata(&img2).unwrap().len(), 8 << 20);
    // dump.daxfs prints the structures.
    let out = Command::new(DUMP).arg("-a").arg(&img2).output().unwrap();
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(
        s.contains("superblock:") && s.contains("inode 1 [ok]") && s.contains("node "),
        "{}",
        s
    );
    let out = Command::new(FSCK)
        .arg("--dump")
        .arg(&img2)
        .output()
        .unwrap();
    assert!(out.status.success());
    std::fs::remove_dir_all(&dir).unwrap();
}

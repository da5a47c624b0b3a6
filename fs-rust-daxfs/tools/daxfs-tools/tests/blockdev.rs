// SPDX-License-Identifier: GPL-2.0

//! mkfs.daxfs and fsck.daxfs on a real block device (a loop device over a
//! scratch file): size from BLKGETSIZE64, metadata zeroed over random old
//! contents, signature refusal, population. Skipped (with a message) when
//! loop devices are not available (not root, no /dev/loop-control).

#![allow(missing_docs)]

mod common;

use std::path::Path;
use std::process::Command;

const MKFS: &str = env!("CARGO_BIN_EXE_mkfs-daxfs");
const FSCK: &str = env!("CARGO_BIN_EXE_fsck-daxfs");

struct Loop(String);

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").arg("-d").arg(&self.0).status();
    }
}

fn attach(file: &Path) -> Option<Loop> {
    let out = Command::new("losetup")
        .args(["-f", "--show"])
        .arg(file)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let dev = String::from_utf8(out.stdout).ok()?.trim().to_string();
    Some(Loop(dev))
}

#[test]
fn mkfs_and_fsck_on_a_loop_device() {
    let dir = common::scratch("blockdev");
    let file = dir.join("backing");
    // Random old contents: mkfs must zero what it relies on.
    let mut r = common::Rng(5);
    let mut junk = vec![0u8; 48 << 20];
    r.bytes(&mut junk);
    std::fs::write(&file, &junk).unwrap();
    drop(junk);
    let Some(lo) = attach(&file) else {
        eprintln!("skipped: cannot attach a loop device");
        std::fs::remove_dir_all(&dir).unwrap();
        return;
    };
    let dev = lo.0.clone();
    let out = Command::new(MKFS).arg(&dev).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(
        s.contains("blocks=12288"),
        "size not taken from the device: {}",
        s
    );
    let out = Command::new(FSCK)
        .args(["-n", "-v"])
        .arg(&dev)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // Refused without -f.
    let out = Command::new(MKFS).arg("-q").arg(&dev).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    // Populate over the old filesystem.
    let src = dir.join("src");
    common::make_tree(&src);
    let out = Command::new(MKFS)
        .args(["-q", "-f", "-d"])
        .arg(&src)
        .arg(&dev)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(FSCK).arg("-n").arg(&dev).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let fs = daxfs_tools::fs::Fs::open(Path::new(&dev), false).unwrap();
    let ino = fs.lookup_path("a/size-9-5242880").unwrap();
    assert_eq!(
        fs.read_file(ino).unwrap(),
        std::fs::read(src.join("a/size-9-5242880")).unwrap()
    );
    let ino = fs.lookup_path("a/sparse").unwrap();
    assert_eq!(
        fs.read_file(ino).unwrap(),
        std::fs::read(src.join("a/sparse")).unwrap()
    );
    drop(fs);
    drop(lo);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sized_mkfs_on_a_loop_device_wipes_a_stale_backup() {
    use std::os::unix::fs::FileExt;
    let dir = common::scratch("blockdev-sized");
    let file = dir.join("backing");
    std::fs::File::create(&file)
        .unwrap()
        .set_len(48 << 20)
        .unwrap();
    let Some(lo) = attach(&file) else {
        eprintln!("skipped: cannot attach a loop device");
        std::fs::remove_dir_all(&dir).unwrap();
        return;
    };
    let dev = lo.0.clone();
    let run = |cmd: &str, args: &[&str]| -> (i32, String) {
        let out = Command::new(cmd).args(args).arg(&dev).output().unwrap();
        let s = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code().unwrap_or(-1), s)
    };
    let magic = |blk: u64| -> bool {
        let mut m = [0u8; 8];
        std::fs::File::open(&dev)
            .unwrap()
            .read_exact_at(&mut m, blk * 4096)
            .unwrap();
        m == daxfs_format::superblock::SB_MAGIC.to_le_bytes()
    };
    // A whole-device filesystem leaves its backup in block 12287.
    assert_eq!(run(MKFS, &["-q"]).0, 0);
    assert!(magic(12287));
    // A 16 MiB one keeps its backup in block 4095 and wipes the stale one,
    // which fsck (and mount) would otherwise take for its backup.
    let out = Command::new(MKFS)
        .args(["-q", "-f"])
        .arg(&dev)
        .arg("16M")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(magic(4095));
    assert!(
        !magic(12287),
        "stale backup left in the device's last block"
    );
    assert_eq!(run(FSCK, &["-n"]).0, 0);
    // Primary lost: not found without -b, repaired with it.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&dev)
        .unwrap()
        .write_all_at(&[0u8; 4096], 0)
        .unwrap();
    let (rc, out) = run(FSCK, &["-n"]);
    assert_eq!(rc, 8, "{}", out);
    let (rc, out) = run(FSCK, &["-y", "-b", "4095"]);
    assert_eq!(rc, 1, "{}", out);
    let (rc, out) = run(FSCK, &["-n"]);
    assert_eq!(rc, 0, "{}", out);
    drop(lo);
    std::fs::remove_dir_all(&dir).unwrap();
}

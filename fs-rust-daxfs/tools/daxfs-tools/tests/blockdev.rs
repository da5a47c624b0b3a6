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

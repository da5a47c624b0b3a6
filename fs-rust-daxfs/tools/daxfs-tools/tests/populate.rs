// SPDX-License-Identifier: GPL-2.0

//! `mkfs -d` of a varied tree, then the userspace reader reproduces the
//! tree exactly (names, types, contents, modes, owners, times, links).

#![allow(missing_docs)]

mod common;

use std::collections::HashMap;
use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use daxfs_format::inode::*;
use daxfs_tools::fs::Fs;
use daxfs_tools::fsck::{Mode, EXIT_OK};
use daxfs_tools::mkfs::encode_rdev;

fn compare(fs: &Fs, src: &Path, ino: u64, links: &mut HashMap<u64, u64>, count: &mut u64) {
    let m = std::fs::symlink_metadata(src).unwrap();
    let i = fs.inode(ino).unwrap();
    *count += 1;
    let what = src.display().to_string();
    assert_eq!(i.mode as u32, m.mode(), "{}: mode", what);
    assert_eq!(i.uid, m.uid(), "{}: uid", what);
    assert_eq!(i.gid, m.gid(), "{}: gid", what);
    assert_eq!(
        (i.mtime.sec, i.mtime.nsec as i64),
        (m.mtime(), m.mtime_nsec()),
        "{}: mtime",
        what
    );
    assert_eq!(
        (i.atime.sec, i.atime.nsec as i64),
        (m.atime(), m.atime_nsec()),
        "{}: atime",
        what
    );
    assert_eq!(
        (i.ctime.sec, i.ctime.nsec as i64),
        (m.ctime(), m.ctime_nsec()),
        "{}: ctime",
        what
    );
    let ft = m.file_type();
    if ft.is_dir() {
        let mut want: Vec<OsString> = std::fs::read_dir(src)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        want.sort();
        let mut got: Vec<(OsString, u64, u8)> = fs
            .readdir(ino)
            .unwrap()
            .into_iter()
            .map(|(_, e)| (OsString::from_vec(e.name().to_vec()), e.ino, e.file_type))
            .collect();
        got.sort();
        assert_eq!(
            got.iter().map(|g| g.0.clone()).collect::<Vec<_>>(),
            want,
            "{}: entries",
            what
        );
        let subdirs = got.iter().filter(|g| g.2 == 4).count() as u32;
        assert_eq!(i.nlink, 2 + subdirs, "{}: nlink", what);
        for (name, child, dtype) in got {
            let cm = std::fs::symlink_metadata(src.join(&name)).unwrap();
            assert_eq!(dtype, mode_to_dtype(cm.mode() as u16));
            assert_eq!(fs.lookup(ino, name.as_bytes()).unwrap(), Some(child));
            if cm.is_dir() {
                assert_eq!(fs.inode(child).unwrap().parent, ino);
            }
            compare(fs, &src.join(&name), child, links, count);
        }
    } else {
        if m.nlink() > 1 {
            // Hard links map to one inode.
            let prev = links.entry(m.ino()).or_insert(ino);
            assert_eq!(*prev, ino, "{}: hard link identity", what);
            assert_eq!(i.nlink as u64, m.nlink(), "{}: nlink", what);
        } else {
            assert_eq!(i.nlink, 1);
        }
        if ft.is_file() {
            assert_eq!(i.size, m.len(), "{}: size", what);
            let data = fs.read_file(ino).unwrap();
            assert!(data == std::fs::read(src).unwrap(), "{}: contents", what);
            let exts = fs.extents(ino, &i).unwrap();
            if m.len() >= 2 << 20 {
                // Large files start on a 2 MiB boundary (huge pages).
                assert_eq!(exts[0].pblk % 512, 0, "{}: not 2 MiB aligned", what);
            }
        } else if ft.is_symlink() {
            let t = std::fs::read_link(src).unwrap();
            assert_eq!(
                fs.read_link(ino).unwrap(),
                t.as_os_str().as_bytes(),
                "{}",
                what
            );
            assert_eq!(i.size as usize, t.as_os_str().len());
        } else {
            use std::os::unix::fs::FileTypeExt;
            if ft.is_char_device() || ft.is_block_device() {
                assert_eq!(i.rdev, encode_rdev(m.rdev()), "{}: rdev", what);
            }
        }
    }
}

#[test]
fn mkfs_d_reproduces_tree() {
    let dir = common::scratch("populate");
    let src = dir.join("src");
    common::make_tree(&src);
    let img = dir.join("img");
    let sb = common::make_image(&img, 64 << 20, Some(&src));
    let fs = Fs::open(&img, false).unwrap();
    assert_eq!(fs.sb, sb);
    let root = fs.inode(1).unwrap();
    assert_eq!(root.parent, 1);
    let mut count = 0;
    compare(&fs, &src, 1, &mut HashMap::new(), &mut count);
    assert!(count > 600, "{}", count);
    assert_eq!(
        fs.lookup_path("a/b/c/d/deep.txt").unwrap(),
        fs.lookup_path("/a//b/c/d/deep.txt").unwrap()
    );
    let r = common::check(&img, Mode::No);
    assert_eq!(r.exit, EXIT_OK, "{:?}", r.lines);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn mkfs_d_runs_out_of_space_cleanly() {
    let dir = common::scratch("enospc");
    let src = dir.join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("big"), vec![1u8; 3 << 20]).unwrap();
    let img = dir.join("img");
    let o = daxfs_tools::mkfs::MkfsOptions {
        device: img.clone(),
        size: Some(4 << 20),
        force: true,
        quiet: true,
        populate: Some(src.clone()),
        ..Default::default()
    };
    let e = daxfs_tools::mkfs::mkfs(&o).err().unwrap();
    assert!(e.contains("cannot allocate"), "{}", e);
    // Out of inodes.
    for i in 0..40 {
        std::fs::write(src.join(format!("f{}", i)), b"x").unwrap();
    }
    std::fs::remove_file(src.join("big")).unwrap();
    let o = daxfs_tools::mkfs::MkfsOptions {
        inode_count: Some(20),
        size: Some(8 << 20),
        ..o
    };
    let e = daxfs_tools::mkfs::mkfs(&o).err().unwrap();
    assert!(e.contains("out of inodes"), "{}", e);
    std::fs::remove_dir_all(&dir).unwrap();
}

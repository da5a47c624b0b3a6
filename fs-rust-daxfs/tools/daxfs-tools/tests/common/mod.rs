// SPDX-License-Identifier: GPL-2.0

//! Helpers shared by the tools' integration tests.

#![allow(dead_code)]

use std::fs::{self, File, FileTimes};
use std::io::Write;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, UNIX_EPOCH};

use daxfs_tools::fsck::{fsck, Mode, Options, Report};
use daxfs_tools::mkfs::{mkfs, MkfsOptions};

static N: AtomicU32 = AtomicU32::new(0);

/// A fresh scratch directory under cargo's per-target temp dir.
pub fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "{}-{}-{}",
        name,
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

/// xorshift64* PRNG.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub fn bytes(&mut self, b: &mut [u8]) {
        for x in b.iter_mut() {
            *x = self.next() as u8;
        }
    }
}

fn set_times(p: &Path, at: (u64, u32), mt: (u64, u32)) {
    let f = File::options()
        .write(true)
        .open(p)
        .or_else(|_| File::open(p))
        .unwrap();
    f.set_times(
        FileTimes::new()
            .set_accessed(UNIX_EPOCH + Duration::new(at.0, at.1))
            .set_modified(UNIX_EPOCH + Duration::new(mt.0, mt.1)),
    )
    .unwrap();
}

/// Builds a varied tree: sizes around block and huge-page boundaries, a
/// sparse file, names up to 255 bytes and non-UTF-8, short and long
/// symlinks, hard links, a FIFO, device nodes (as root), a large
/// directory, odd modes, owners and nanosecond times.
pub fn make_tree(root: &Path) {
    let mut r = Rng(0x5eed);
    fs::create_dir_all(root.join("a/b/c/d")).unwrap();
    fs::create_dir_all(root.join("empty")).unwrap();
    for (i, size) in [
        0usize,
        1,
        100,
        4095,
        4096,
        4097,
        65536,
        2 << 20,
        (2 << 20) + 1,
        5 << 20,
    ]
    .iter()
    .enumerate()
    {
        let mut data = vec![0u8; *size];
        r.bytes(&mut data);
        fs::write(root.join(format!("a/size-{}-{}", i, size)), &data).unwrap();
    }
    // Sparse file: a hole, data, a hole.
    {
        let mut f = File::create(root.join("a/sparse")).unwrap();
        f.set_len(3 << 20).unwrap();
        use std::io::Seek;
        f.seek(std::io::SeekFrom::Start(1 << 20)).unwrap();
        f.write_all(b"in the middle").unwrap();
    }
    fs::write(root.join("a/b/c/d/deep.txt"), b"deep\n").unwrap();
    let long = "L".repeat(255);
    fs::write(root.join(&long), b"long name").unwrap();
    fs::write(root.join("ünïcödé ✓"), b"utf8").unwrap();
    {
        use std::os::unix::ffi::OsStrExt;
        let raw = std::ffi::OsStr::from_bytes(b"raw-\xff\xfe-name");
        fs::write(root.join(raw), b"not utf-8").unwrap();
    }
    symlink("a/b/c/d/deep.txt", root.join("short-link")).unwrap();
    let target = format!("/{}", "x/".repeat(400));
    symlink(&target, root.join("long-link")).unwrap();
    symlink("dangling", root.join("a/dangling-link")).unwrap();
    fs::hard_link(root.join("a/size-2-100"), root.join("a/b/hard-1")).unwrap();
    fs::hard_link(root.join("a/size-2-100"), root.join("hard-2")).unwrap();
    let fifo = std::ffi::CString::new(root.join("fifo").to_str().unwrap()).unwrap();
    // SAFETY: valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o640) }, 0);
    // SAFETY: geteuid has no preconditions.
    let is_root = unsafe { libc::geteuid() } == 0;
    if is_root {
        let dev = std::ffi::CString::new(root.join("null-dev").to_str().unwrap()).unwrap();
        // SAFETY: valid path; creating a character device node as root.
        unsafe { libc::mknod(dev.as_ptr(), libc::S_IFCHR | 0o600, libc::makedev(1, 3)) };
        let bdev = std::ffi::CString::new(root.join("blk-dev").to_str().unwrap()).unwrap();
        // SAFETY: as above, a block device node with a large minor.
        unsafe {
            libc::mknod(
                bdev.as_ptr(),
                libc::S_IFBLK | 0o660,
                libc::makedev(259, 70000),
            )
        };
    }
    fs::create_dir_all(root.join("big-dir")).unwrap();
    for i in 0..600 {
        fs::write(
            root.join(format!("big-dir/entry-{:04}", i)),
            format!("{}", i),
        )
        .unwrap();
    }
    // Modes.
    fs::set_permissions(root.join("a/size-1-1"), fs::Permissions::from_mode(0o4755)).unwrap();
    fs::set_permissions(
        root.join("a/size-3-4095"),
        fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    fs::set_permissions(root.join("empty"), fs::Permissions::from_mode(0o1777)).unwrap();
    // Owners.
    if is_root {
        std::os::unix::fs::lchown(root.join("a/size-4-4096"), Some(1234), Some(5678)).unwrap();
        std::os::unix::fs::lchown(root.join("short-link"), Some(42), Some(43)).unwrap();
        std::os::unix::fs::lchown(root.join("a/b"), Some(1000), Some(100)).unwrap();
    }
    // Warm up atimes: with relatime, the first read after a modification
    // updates atime; do that now so that mkfs reading the tree does not
    // change the times it copies.
    warm(root);
    // Times with nanoseconds. atime is after mtime and ctime, so later
    // reads (by mkfs) leave it alone under relatime.
    let now = std::time::SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    set_times(
        &root.join("a/size-5-4097"),
        (now + 100, 123_456_789),
        (946_684_800, 999_999_999),
    );
    set_times(&root.join("a/b/c/d/deep.txt"), (now + 50, 1), (2, 2));
    set_times(&root.join("a/b/c"), (now + 10, 5), (1_600_000_000, 7));
}

fn warm(p: &Path) {
    let m = fs::symlink_metadata(p).unwrap();
    if m.is_dir() {
        for e in fs::read_dir(p).unwrap() {
            warm(&e.unwrap().path());
        }
    } else if m.is_file() {
        let _ = fs::read(p).unwrap();
    } else if m.is_symlink() {
        let _ = fs::read_link(p).unwrap();
    }
}

/// Makes an image of `size` bytes at `img`, optionally populated.
pub fn make_image(img: &Path, size: u64, populate: Option<&Path>) -> daxfs_format::Superblock {
    let o = MkfsOptions {
        device: img.to_path_buf(),
        size: Some(size),
        force: true,
        quiet: true,
        populate: populate.map(|p| p.to_path_buf()),
        ..Default::default()
    };
    mkfs(&o).unwrap().sb
}

/// fsck via the library.
pub fn check(img: &Path, mode: Mode) -> Report {
    fsck(
        img,
        Options {
            mode,
            ..Default::default()
        },
    )
}

/// Disk usage of a file in bytes.
pub fn du(p: &Path) -> u64 {
    fs::metadata(p).unwrap().blocks() * 512
}

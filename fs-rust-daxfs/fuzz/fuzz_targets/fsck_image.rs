// SPDX-License-Identifier: GPL-2.0

//! Fuzz target: run the complete fsck (check only) on a (mutated) image
//! held in a memfd. Any panic is a bug; the exit code must be one of the
//! fsck(8) codes.

#![no_main]

use std::io::Write;
use std::os::fd::FromRawFd;

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    common::with_image(data, fsck);
});

fn fsck(img: &[u8]) {
    // SAFETY: memfd_create with a valid NUL-terminated name.
    let fd = unsafe { libc::memfd_create(c"daxfs-fuzz".as_ptr(), 0) };
    assert!(fd >= 0);
    // SAFETY: fd is a fresh, owned descriptor.
    let mut f = unsafe { std::fs::File::from_raw_fd(fd) };
    f.write_all(img).unwrap();
    let path = std::path::PathBuf::from(format!("/proc/self/fd/{}", fd));
    let r = daxfs_tools::fsck::fsck(
        &path,
        daxfs_tools::fsck::Options { mode: daxfs_tools::fsck::Mode::No, ..Default::default() },
    );
    assert!([0, 1, 4, 8].contains(&r.exit));
}

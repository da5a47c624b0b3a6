// SPDX-License-Identifier: GPL-2.0

//! Shared by the fuzz targets: a populated template image and the
//! input-to-image mutation.

use std::sync::OnceLock;

/// A populated 4 MiB image made once by mkfs.
pub fn template() -> &'static Vec<u8> {
    static T: OnceLock<Vec<u8>> = OnceLock::new();
    T.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("daxfs-fuzz-{}", std::process::id()));
        let src = dir.join("src");
        std::fs::create_dir_all(src.join("d/e")).unwrap();
        for i in 0..20 {
            std::fs::write(src.join(format!("d/f{}", i)), vec![i as u8; i * 900]).unwrap();
        }
        std::os::unix::fs::symlink("y".repeat(200), src.join("long")).unwrap();
        std::os::unix::fs::symlink("s", src.join("short")).unwrap();
        let img = dir.join("img");
        let o = daxfs_tools::mkfs::MkfsOptions {
            device: img.clone(),
            size: Some(4 << 20),
            force: true,
            quiet: true,
            populate: Some(src),
            uuid: Some([1; 16]),
            hash_key: Some([2; 16]),
            ..Default::default()
        };
        daxfs_tools::mkfs::mkfs(&o).unwrap();
        let v = std::fs::read(&img).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        v
    })
}

/// Runs `f` on the template mutated by the fuzz input, without copying
/// the whole image per input. The first byte selects raw mode (the input
/// replaces the start of the image, which may also be truncated at a
/// length derived from the input) or patch mode (records of
/// `offset: u24, len: u8 % 32, bytes`, offsets folded into the metadata
/// and the first data blocks). The template is restored afterwards.
pub fn with_image(data: &[u8], f: impl FnOnce(&[u8])) {
    thread_local! {
        static IMG: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(template().clone());
    }
    IMG.with(|cell| {
        let mut img = cell.borrow_mut();
        let t = template();
        let Some((&mode, rest)) = data.split_first() else {
            f(&img);
            return;
        };
        let mut touched: Vec<(usize, usize)> = Vec::new();
        let mut len = img.len();
        if mode & 1 == 1 {
            let n = rest.len().min(img.len());
            img[..n].copy_from_slice(&rest[..n]);
            touched.push((0, n));
            if mode & 2 == 2 {
                let keep = (u32::from(mode) * 16411) as usize % img.len();
                len = keep.max(n);
            }
        } else {
            let hot = 512 * 4096 + 16 * 4096;
            let mut p = rest;
            while p.len() >= 4 {
                let off = (usize::from(p[0]) | usize::from(p[1]) << 8 | usize::from(p[2]) << 16) % hot;
                let l = usize::from(p[3] % 32);
                p = &p[4..];
                let n = l.min(p.len()).min(img.len() - off);
                img[off..off + n].copy_from_slice(&p[..n]);
                touched.push((off, n));
                p = &p[l.min(p.len())..];
            }
        }
        f(&img[..len]);
        for (off, n) in touched {
            img[off..off + n].copy_from_slice(&t[off..off + n]);
        }
    });
}

// SPDX-License-Identifier: GPL-2.0

//! Device (block device or regular image file) access.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, FileTypeExt, OpenOptionsExt};
use std::path::Path;

use daxfs_format::{Block, BLOCK_SIZE, BLOCK_SIZE_U64};

/// `BLKGETSIZE64` = `_IOR(0x12, 114, size_t)`.
const BLKGETSIZE64: libc::c_ulong = 0x8008_1272;
/// `BLKZEROOUT` = `_IO(0x12, 127)`.
const BLKZEROOUT: libc::c_ulong = 0x127f;

/// An open device or image file.
pub struct Dev {
    file: File,
    /// Size in bytes.
    pub size: u64,
    /// True for a block device.
    pub is_blockdev: bool,
    /// Opened for writing.
    pub writable: bool,
    /// Pending journal records laid over reads (fsck -n on a filesystem
    /// whose journal needs replay checks the replayed view).
    overlay: Vec<(u64, Vec<u8>)>,
}

impl Dev {
    /// Opens `path`; block devices are opened `O_EXCL` when writable.
    pub fn open(path: &Path, writable: bool) -> io::Result<Dev> {
        let meta = std::fs::metadata(path)?;
        let is_blockdev = meta.file_type().is_block_device();
        let mut oo = OpenOptions::new();
        oo.read(true).write(writable);
        if writable && is_blockdev {
            oo.custom_flags(libc::O_EXCL);
        }
        let file = oo.open(path)?;
        let size = if is_blockdev {
            blockdev_size(&file)?
        } else if meta.is_file() {
            meta.len()
        } else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a regular file or block device",
            ));
        };
        Ok(Dev {
            file,
            size,
            is_blockdev,
            writable,
            overlay: Vec::new(),
        })
    }

    /// The underlying file.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Blocks on the device.
    pub fn blocks(&self) -> u64 {
        self.size / BLOCK_SIZE_U64
    }

    /// Adds a record to the read overlay.
    pub fn add_overlay(&mut self, off: u64, data: &[u8]) {
        self.overlay.push((off, data.to_vec()));
    }

    /// Reads exactly `buf.len()` bytes at `off`; reading past the end of
    /// the device is an error.
    pub fn read_at(&self, off: u64, buf: &mut [u8]) -> io::Result<()> {
        let end = off
            .checked_add(buf.len() as u64)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "offset overflow"))?;
        if end > self.size {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("read at byte {} beyond the end of the device", off),
            ));
        }
        self.file.read_exact_at(buf, off)?;
        for (o, d) in &self.overlay {
            let (o, dend) = (*o, *o + d.len() as u64);
            if dend <= off || o >= end {
                continue;
            }
            let s = o.max(off);
            let e = dend.min(end);
            let dst = &mut buf[(s - off) as usize..(e - off) as usize];
            dst.copy_from_slice(&d[(s - o) as usize..(e - o) as usize]);
        }
        Ok(())
    }

    /// Reads block `blk`.
    pub fn read_block(&self, blk: u64, buf: &mut Block) -> io::Result<()> {
        let off = blk
            .checked_mul(BLOCK_SIZE_U64)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "block overflow"))?;
        self.read_at(off, buf)
    }

    /// Writes `buf` at `off`.
    pub fn write_at(&self, off: u64, buf: &[u8]) -> io::Result<()> {
        if !self.writable {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "device opened read-only",
            ));
        }
        if off + buf.len() as u64 > self.size {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "write beyond the end of the device",
            ));
        }
        self.file.write_all_at(buf, off)
    }

    /// Writes only the 4 KiB blocks of `buf` that contain a non-zero byte
    /// (the destination is known to be zero): keeps sparse images sparse.
    pub fn write_nonzero(&self, off: u64, buf: &[u8]) -> io::Result<()> {
        for (i, c) in buf.chunks(BLOCK_SIZE).enumerate() {
            if c.iter().any(|&b| b != 0) {
                self.write_at(off + (i * BLOCK_SIZE) as u64, c)?;
            }
        }
        Ok(())
    }

    /// Zeroes `[off, off + len)`: `BLKZEROOUT` on a block device (falling
    /// back to writing zeros), a hole punch-free write of zeros on files.
    pub fn zero_range(&self, off: u64, len: u64) -> io::Result<()> {
        if len == 0 {
            return Ok(());
        }
        if self.is_blockdev {
            let range: [u64; 2] = [off, len];
            // SAFETY: `range` is a valid, live `[u64; 2]` as BLKZEROOUT
            // expects, and the fd is open for the duration of the call.
            let r = unsafe {
                libc::ioctl(
                    std::os::fd::AsRawFd::as_raw_fd(&self.file),
                    BLKZEROOUT,
                    range.as_ptr(),
                )
            };
            if r == 0 {
                return Ok(());
            }
        }
        let zeros = vec![0u8; 1 << 20];
        let mut done = 0;
        while done < len {
            let n = (len - done).min(zeros.len() as u64) as usize;
            self.write_at(off + done, &zeros[..n])?;
            done += n as u64;
        }
        Ok(())
    }

    /// Flushes to stable storage.
    pub fn sync(&self) -> io::Result<()> {
        self.file.sync_all()
    }
}

/// Size of a block device via `BLKGETSIZE64`.
pub fn blockdev_size(f: &File) -> io::Result<u64> {
    let mut sz: u64 = 0;
    // SAFETY: BLKGETSIZE64 writes one u64 through the pointer, which
    // points to a live local; the fd is valid for the call.
    let r = unsafe {
        libc::ioctl(
            std::os::fd::AsRawFd::as_raw_fd(f),
            BLKGETSIZE64,
            &mut sz as *mut u64,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(sz)
}

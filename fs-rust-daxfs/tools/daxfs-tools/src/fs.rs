// SPDX-License-Identifier: GPL-2.0

//! A userspace view of a daxfs filesystem: superblock, inodes, extent
//! maps and directories, read through the shared format code. This is the
//! reader the tests use to check that `mkfs -d` reproduces a tree.

use std::path::Path;

use daxfs_format::btree::{NodeStore, Scratch};
use daxfs_format::dir::{dir_next, DirEntry};
use daxfs_format::extent::{map_next, Extent, EXTENT_UNWRITTEN};
use daxfs_format::inode::{Inode, MAP_EXTENTS, MAP_INLINE_DATA};
use daxfs_format::superblock::{Superblock, INODE_SIZE, SB_SIZE};
use daxfs_format::{Block, Error, FsCtx, Layout, Result, BLOCK_SIZE, BLOCK_SIZE_U64};

use crate::alloc::Alloc;
use crate::dev::Dev;

/// An open filesystem.
pub struct Fs {
    /// The device.
    pub dev: Dev,
    /// The (primary) superblock.
    pub sb: Superblock,
    /// Checksum seed and hash key.
    pub ctx: FsCtx,
}

/// Maps an I/O error to the format's error type.
pub fn io_err(_e: std::io::Error) -> Error {
    Error::Io
}

impl Fs {
    /// Opens the filesystem on `path` using the primary superblock.
    pub fn open(path: &Path, writable: bool) -> std::result::Result<Fs, String> {
        let dev = Dev::open(path, writable).map_err(|e| format!("{}: {}", path.display(), e))?;
        let mut b = [0u8; SB_SIZE];
        dev.read_at(0, &mut b)
            .map_err(|e| format!("{}: {}", path.display(), e))?;
        let sb = Superblock::decode(&b)
            .map_err(|e| format!("{}: not a valid daxfs filesystem: {}", path.display(), e))?;
        if dev.blocks() < sb.layout.block_count {
            return Err(format!(
                "{}: device has {} blocks, filesystem needs {}",
                path.display(),
                dev.blocks(),
                sb.layout.block_count
            ));
        }
        Ok(Fs::with_sb(dev, sb))
    }

    /// Wraps an open device and an already validated superblock.
    pub fn with_sb(dev: Dev, sb: Superblock) -> Fs {
        let ctx = sb.ctx();
        Fs { dev, sb, ctx }
    }

    /// Geometry.
    pub fn layout(&self) -> &Layout {
        &self.sb.layout
    }

    /// Raw bytes of inode slot `ino`.
    pub fn inode_raw(&self, ino: u64) -> Result<[u8; INODE_SIZE]> {
        let off = self.layout().inode_offset(ino)?;
        let mut b = [0u8; INODE_SIZE];
        self.dev.read_at(off, &mut b).map_err(io_err)?;
        Ok(b)
    }

    /// Reads and validates inode `ino` (`None` if free).
    pub fn read_inode(&self, ino: u64) -> Result<Option<Inode>> {
        Inode::decode(&self.inode_raw(ino)?, ino, self.ctx.csum_seed)
    }

    /// Reads inode `ino`, which must be in use.
    pub fn inode(&self, ino: u64) -> Result<Inode> {
        self.read_inode(ino)?.ok_or(Error::NotFound)
    }

    /// Encodes and writes inode `ino`.
    pub fn write_inode(&self, ino: u64, inode: &Inode) -> Result<()> {
        let off = self.layout().inode_offset(ino)?;
        let mut b = [0u8; INODE_SIZE];
        inode.encode(ino, self.ctx.csum_seed, &mut b);
        self.dev.write_at(off, &b).map_err(io_err)
    }

    /// A read-only node store.
    pub fn store(&self) -> DevStore<'_> {
        DevStore {
            dev: &self.dev,
            layout: self.sb.layout,
            alloc: None,
        }
    }

    /// A node store that allocates from `alloc` and writes to the device.
    pub fn store_rw<'a>(&'a self, alloc: &'a mut Alloc) -> DevStore<'a> {
        DevStore {
            dev: &self.dev,
            layout: self.sb.layout,
            alloc: Some(alloc),
        }
    }

    /// All entries of directory `ino` in cookie order.
    pub fn readdir(&self, ino: u64) -> Result<Vec<(u64, DirEntry)>> {
        let dir = self.inode(ino)?;
        let mut st = self.store();
        let mut s = Box::new(Scratch::new());
        let mut out = Vec::new();
        let mut pos = 0;
        while let Some((k, e)) = dir_next(&dir, ino, &self.ctx, &mut st, &mut s, pos)? {
            out.push((k, e));
            pos = k + 1;
        }
        Ok(out)
    }

    /// Looks `name` up in directory `dir`.
    pub fn lookup(&self, dir: u64, name: &[u8]) -> Result<Option<u64>> {
        let d = self.inode(dir)?;
        let mut s = Box::new(Scratch::new());
        Ok(
            daxfs_format::dir::dir_lookup(&d, dir, &self.ctx, &mut self.store(), &mut s, name)?
                .map(|(_, e)| e.ino),
        )
    }

    /// Resolves a `/`-separated path from the root (no symlink following).
    pub fn lookup_path(&self, path: &str) -> Result<u64> {
        let mut ino = self.sb.root_ino;
        for c in path.split('/').filter(|c| !c.is_empty()) {
            ino = self.lookup(ino, c.as_bytes())?.ok_or(Error::NotFound)?;
        }
        Ok(ino)
    }

    /// All extents of inode `ino`, in logical order.
    pub fn extents(&self, ino: u64, inode: &Inode) -> Result<Vec<Extent>> {
        let mut st = self.store();
        let mut s = Box::new(Scratch::new());
        let mut out = Vec::new();
        let mut at = 0;
        while let Some(e) = map_next(inode, ino, &self.ctx, &mut st, &mut s, at)? {
            if e.lend() <= at {
                return Err(Error::Corrupt("extent map does not advance"));
            }
            at = e.lend();
            out.push(e);
        }
        Ok(out)
    }

    /// The contents of regular file `ino` (holes and unwritten extents
    /// read as zeros).
    pub fn read_file(&self, ino: u64) -> Result<Vec<u8>> {
        let inode = self.inode(ino)?;
        let size = usize::try_from(inode.size).map_err(|_| Error::BadField("size"))?;
        let mut out = vec![0u8; size];
        for e in self.extents(ino, &inode)? {
            e.check_range(self.layout())?;
            if e.flags & EXTENT_UNWRITTEN != 0 {
                continue;
            }
            let start = e.lblk.saturating_mul(BLOCK_SIZE_U64);
            if start >= inode.size {
                continue;
            }
            let end = e.lend().saturating_mul(BLOCK_SIZE_U64).min(inode.size);
            let dst = &mut out[start as usize..end as usize];
            self.dev
                .read_at(e.pblk * BLOCK_SIZE_U64, dst)
                .map_err(io_err)?;
        }
        Ok(out)
    }

    /// The target of symlink `ino`.
    pub fn read_link(&self, ino: u64) -> Result<Vec<u8>> {
        let inode = self.inode(ino)?;
        match inode.map_kind {
            MAP_INLINE_DATA => Ok(inode.inline_data()?.to_vec()),
            MAP_EXTENTS => {
                let e = Extent::decode_inline(&inode.map, 0)?;
                e.check_range(self.layout())?;
                let mut b = vec![0u8; inode.size as usize];
                self.dev
                    .read_at(e.pblk * BLOCK_SIZE_U64, &mut b)
                    .map_err(io_err)?;
                Ok(b)
            }
            _ => Err(Error::BadField("map_kind")),
        }
    }
}

/// [`NodeStore`] over a device; allocation only with an [`Alloc`].
pub struct DevStore<'a> {
    dev: &'a Dev,
    layout: Layout,
    alloc: Option<&'a mut Alloc>,
}

impl NodeStore for DevStore<'_> {
    fn read(&mut self, blk: u64, buf: &mut Block) -> Result<()> {
        if !self.layout.in_data(blk, 1) {
            return Err(Error::OutOfRange("btree node block"));
        }
        self.dev.read_block(blk, buf).map_err(io_err)
    }

    fn write(&mut self, blk: u64, buf: &Block) -> Result<()> {
        if !self.layout.in_data(blk, 1) {
            return Err(Error::OutOfRange("btree node block"));
        }
        self.dev
            .write_at(blk * BLOCK_SIZE_U64, &buf[..BLOCK_SIZE])
            .map_err(io_err)
    }

    fn alloc(&mut self) -> Result<u64> {
        match self.alloc.as_deref_mut() {
            Some(a) => a.alloc_one(),
            None => Err(Error::Io),
        }
    }

    fn free(&mut self, blk: u64) -> Result<()> {
        match self.alloc.as_deref_mut() {
            Some(a) => a.free(blk, 1),
            None => Err(Error::Io),
        }
    }
}

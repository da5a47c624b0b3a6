// SPDX-License-Identifier: GPL-2.0

//! In-memory allocator used by mkfs (and by fsck repairs): the block
//! bitmap, group table and inode bitmap as byte vectors, manipulated with
//! the shared `format::alloc` functions, written to the device at the end.

use daxfs_format::alloc::*;
use daxfs_format::superblock::{BITS_PER_BLOCK, GROUP_ENTRY_SIZE};
use daxfs_format::{Error, Layout, Result, BLOCK_SIZE_U64, GROUP_BLOCKS};

/// Free-space state.
#[derive(Clone)]
pub struct Alloc {
    /// Geometry.
    pub layout: Layout,
    /// Block bitmap (bit `i` = block `data_start + i`).
    pub bm: Vec<u8>,
    /// Group usage table.
    pub gt: Vec<u8>,
    /// Inode bitmap.
    pub ibm: Vec<u8>,
    /// Free data blocks.
    pub free_blocks: u64,
    /// Free inodes.
    pub free_inodes: u64,
    small_cursor: u64,
    ino_cursor: u64,
}

impl Alloc {
    /// A fresh filesystem: all free except inode slot 0 and the missing
    /// tail of the last group.
    pub fn new(layout: Layout) -> Alloc {
        let bm = vec![0u8; (layout.block_bitmap_blocks * BLOCK_SIZE_U64) as usize];
        let mut gt = vec![0u8; (layout.group_table_blocks * BLOCK_SIZE_U64) as usize];
        let mut ibm = vec![0u8; (layout.inode_bitmap_blocks * BLOCK_SIZE_U64) as usize];
        bit_set(&mut ibm, 0, true);
        if layout.group_count > 0 {
            let last = layout.group_count - 1;
            set_group_used(&mut gt, last, layout.tail_missing() as u16);
        }
        debug_assert!(layout.group_count * GROUP_ENTRY_SIZE <= gt.len() as u64);
        debug_assert!(layout.data_blocks <= layout.block_bitmap_blocks * BITS_PER_BLOCK);
        Alloc {
            layout,
            bm,
            gt,
            ibm,
            free_blocks: layout.data_blocks,
            free_inodes: layout.inode_count - 1,
            small_cursor: 0,
            ino_cursor: 1,
        }
    }

    /// Loads the on-disk bitmaps, group table and free counters of `fs`.
    pub fn load(fs: &crate::fs::Fs) -> std::io::Result<Alloc> {
        let l = *fs.layout();
        let mut a = Alloc::new(l);
        fs.dev
            .read_at(l.block_bitmap_start * BLOCK_SIZE_U64, &mut a.bm)?;
        fs.dev
            .read_at(l.group_table_start * BLOCK_SIZE_U64, &mut a.gt)?;
        fs.dev
            .read_at(l.inode_bitmap_start * BLOCK_SIZE_U64, &mut a.ibm)?;
        a.free_blocks = fs.sb.free_blocks;
        a.free_inodes = fs.sb.free_inodes;
        Ok(a)
    }

    /// Writes the bitmaps and group table back and stores the free
    /// counters in both superblocks of `fs`.
    pub fn store(&self, fs: &mut crate::fs::Fs) -> std::io::Result<()> {
        let l = *fs.layout();
        fs.dev
            .write_at(l.block_bitmap_start * BLOCK_SIZE_U64, &self.bm)?;
        fs.dev
            .write_at(l.group_table_start * BLOCK_SIZE_U64, &self.gt)?;
        fs.dev
            .write_at(l.inode_bitmap_start * BLOCK_SIZE_U64, &self.ibm)?;
        fs.sb.free_blocks = self.free_blocks;
        fs.sb.free_inodes = self.free_inodes;
        crate::mkfs::write_sb(&fs.dev, &fs.sb)
    }

    fn take(&mut self, bit: u64, len: u64) -> Result<u64> {
        let blk = self.layout.data_start + bit;
        let n = mark_blocks(&self.layout, &mut self.bm, &mut self.gt, blk, len, true);
        if n != len {
            return Err(Error::Corrupt("allocating a used block"));
        }
        self.free_blocks -= len;
        Ok(blk)
    }

    /// Allocates `n` blocks as one or more extents `(pblk, len)`.
    /// Requests of 2 MiB or more start on a wholly free, aligned group;
    /// smaller ones are first fit.
    pub fn alloc_blocks(&mut self, n: u64) -> Result<Vec<(u64, u64)>> {
        if n == 0 {
            return Ok(Vec::new());
        }
        if n > self.free_blocks {
            return Err(Error::NoSpace);
        }
        let lim = self.layout.data_blocks;
        if n >= GROUP_BLOCKS {
            let groups = n.div_ceil(GROUP_BLOCKS);
            if let Some(g) = find_free_groups(&self.gt, 0, self.layout.group_count, groups) {
                let bit = g * GROUP_BLOCKS;
                if bit + n <= lim {
                    return Ok(vec![(self.take(bit, n)?, n)]);
                }
            }
        }
        if let Some(bit) = find_zero_run(&self.bm, self.small_cursor, lim, n) {
            if n < GROUP_BLOCKS && bit == self.small_cursor {
                self.small_cursor = bit + n;
            }
            return Ok(vec![(self.take(bit, n)?, n)]);
        }
        // Fragmented: take free runs in order.
        let mut out = Vec::new();
        let mut left = n;
        let mut at = 0;
        while left > 0 {
            let s = find_zero(&self.bm, at, lim).ok_or(Error::NoSpace)?;
            let mut e = s;
            while e < lim && e - s < left && e - s < u64::from(u32::MAX) && !bit_test(&self.bm, e) {
                e += 1;
            }
            out.push((self.take(s, e - s)?, e - s));
            left -= e - s;
            at = e;
        }
        Ok(out)
    }

    /// Allocates one block.
    pub fn alloc_one(&mut self) -> Result<u64> {
        Ok(self.alloc_blocks(1)?[0].0)
    }

    /// Frees `[blk, blk + len)`.
    pub fn free(&mut self, blk: u64, len: u64) -> Result<()> {
        let n = mark_blocks(&self.layout, &mut self.bm, &mut self.gt, blk, len, false);
        if n != len {
            return Err(Error::Corrupt("freeing a free block"));
        }
        self.free_blocks += len;
        let bit = blk - self.layout.data_start;
        self.small_cursor = self.small_cursor.min(bit);
        Ok(())
    }

    /// Allocates an inode number.
    pub fn alloc_ino(&mut self) -> Result<u64> {
        let i =
            find_zero(&self.ibm, self.ino_cursor, self.layout.inode_count).ok_or(Error::NoSpace)?;
        bit_set(&mut self.ibm, i, true);
        self.ino_cursor = i + 1;
        self.free_inodes -= 1;
        Ok(i)
    }

    /// Marks inode `ino` used (for the root).
    pub fn use_ino(&mut self, ino: u64) -> Result<()> {
        if bit_set(&mut self.ibm, ino, true) {
            return Err(Error::Exists);
        }
        self.free_inodes -= 1;
        Ok(())
    }

    /// Frees inode `ino`.
    pub fn free_ino(&mut self, ino: u64) {
        if bit_set(&mut self.ibm, ino, false) {
            self.free_inodes += 1;
            self.ino_cursor = self.ino_cursor.min(ino.max(1));
        }
    }
}

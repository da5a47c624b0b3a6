// SPDX-License-Identifier: GPL-2.0

//! Geometry ([`Layout`]) and the superblock record.
//!
//! The primary superblock is the first [`SB_SIZE`] bytes of block 0; a
//! backup copy sits in the last block of the filesystem
//! ([`Layout::backup_sb_block`]). The rest of both blocks is zero.

use super::bytes::*;
use super::crc32c::{crc32c, csum_seed};
use super::{Error, Result, BLOCK_SIZE, BLOCK_SIZE_U64, GROUP_BLOCKS};

/// Superblock magic: the bytes `"DAXFS\0SB"` read as a little-endian u64.
pub const SB_MAGIC: u64 = u64::from_le_bytes(*b"DAXFS\0SB");
/// Value the kernel reports in `statfs().f_type` ("daxf").
pub const STATFS_MAGIC: u32 = 0x6461_7866;
/// Major format version; a different major version must not be mounted.
pub const VERSION_MAJOR: u32 = 1;
/// Minor format version; informational (new minors only add features
/// guarded by feature flags).
pub const VERSION_MINOR: u32 = 0;
/// Size of the superblock record.
pub const SB_SIZE: usize = 512;
/// Length of the label field (NUL padded, at most this many bytes).
pub const LABEL_MAX: usize = 64;
/// Inode number of the root directory.
pub const ROOT_INO: u64 = 1;
/// On-disk inode record size.
pub const INODE_SIZE: usize = 256;
/// Inodes per block of the inode table.
pub const INODES_PER_BLOCK: u64 = 16;
/// Bits per bitmap block.
pub const BITS_PER_BLOCK: u64 = 32768;
/// Bytes per entry of the group usage table (a little-endian `u16`).
pub const GROUP_ENTRY_SIZE: u64 = 2;
/// Smallest filesystem: 4 MiB (2 MiB of metadata, one partial group).
pub const MIN_BLOCKS: u64 = 1024;
/// Largest filesystem: 2^40 blocks (4 PiB), which keeps all byte offsets
/// far from `u64` overflow.
pub const MAX_BLOCKS: u64 = 1 << 40;
/// Smallest data area in blocks.
pub const MIN_DATA_BLOCKS: u64 = 64;
/// Smallest journal (header block + log), 256 KiB.
pub const JOURNAL_MIN_BLOCKS: u64 = 64;
/// Largest journal, 64 MiB: bounds what mount reads.
pub const JOURNAL_MAX_BLOCKS: u64 = 16384;
/// Fewest inodes (including reserved slot 0).
pub const MIN_INODES: u64 = 16;
/// Most inodes: inode numbers fit in 32 bits.
pub const MAX_INODES: u64 = 1 << 32;
/// Default bytes of device per inode.
pub const DEFAULT_BYTES_PER_INODE: u64 = 65536;

/// Compatible features: unknown bits are ignored.
#[cfg(not(CONFIG_DAXFS_FS))]
pub const COMPAT_SUPPORTED: u64 = 0;
/// Read-only compatible features: unknown bits force a read-only mount.
pub const RO_COMPAT_SUPPORTED: u64 = 0;
/// Incompatible feature: inodes and extents may carry SEALED flags, whose
/// block maps must not change.
pub const INCOMPAT_SEAL: u64 = 1 << 0;
/// Incompatible feature: directory index keys are SipHash-2-4 of the name
/// keyed with `dir_hash_key`.
pub const INCOMPAT_DIRHASH_SIP24: u64 = 1 << 1;
/// Incompatible features this code supports (mkfs sets all of them).
pub const INCOMPAT_SUPPORTED: u64 = INCOMPAT_SEAL | INCOMPAT_DIRHASH_SIP24;

/// `state`: cleanly unmounted.
pub const STATE_CLEAN: u32 = 1;
/// `state`: mounted read-write (or crashed while mounted).
pub const STATE_DIRTY: u32 = 2;

/// Field offsets inside the superblock record.
pub const SB_OFF_MAGIC: usize = 0x000;
/// Offset of `version_major` (u32).
pub const SB_OFF_VERSION_MAJOR: usize = 0x008;
/// Offset of `version_minor` (u32).
pub const SB_OFF_VERSION_MINOR: usize = 0x00C;
/// Offset of `feature_compat` (u64).
pub const SB_OFF_COMPAT: usize = 0x010;
/// Offset of `feature_ro_compat` (u64).
pub const SB_OFF_RO_COMPAT: usize = 0x018;
/// Offset of `feature_incompat` (u64).
pub const SB_OFF_INCOMPAT: usize = 0x020;
/// Offset of `block_size` (u32).
pub const SB_OFF_BLOCK_SIZE: usize = 0x028;
/// Offset of `inode_size` (u32).
pub const SB_OFF_INODE_SIZE: usize = 0x02C;
/// Offset of `block_count` (u64).
pub const SB_OFF_BLOCK_COUNT: usize = 0x030;
/// Offset of `inode_count` (u64).
pub const SB_OFF_INODE_COUNT: usize = 0x038;
/// Offset of `free_blocks` (u64).
pub const SB_OFF_FREE_BLOCKS: usize = 0x040;
/// Offset of `free_inodes` (u64).
pub const SB_OFF_FREE_INODES: usize = 0x048;
/// Offset of `uuid` (16 bytes).
pub const SB_OFF_UUID: usize = 0x050;
/// Offset of `label` (64 bytes).
pub const SB_OFF_LABEL: usize = 0x060;
/// Offset of `journal_start` (u64 block).
pub const SB_OFF_JOURNAL_START: usize = 0x0A0;
/// Offset of `journal_blocks` (u64).
pub const SB_OFF_JOURNAL_BLOCKS: usize = 0x0A8;
/// Offset of `inode_bitmap_start` (u64 block).
pub const SB_OFF_INODE_BITMAP_START: usize = 0x0B0;
/// Offset of `inode_bitmap_blocks` (u64).
pub const SB_OFF_INODE_BITMAP_BLOCKS: usize = 0x0B8;
/// Offset of `block_bitmap_start` (u64 block).
pub const SB_OFF_BLOCK_BITMAP_START: usize = 0x0C0;
/// Offset of `block_bitmap_blocks` (u64).
pub const SB_OFF_BLOCK_BITMAP_BLOCKS: usize = 0x0C8;
/// Offset of `group_table_start` (u64 block).
pub const SB_OFF_GROUP_TABLE_START: usize = 0x0D0;
/// Offset of `group_table_blocks` (u64).
pub const SB_OFF_GROUP_TABLE_BLOCKS: usize = 0x0D8;
/// Offset of `inode_table_start` (u64 block).
pub const SB_OFF_INODE_TABLE_START: usize = 0x0E0;
/// Offset of `inode_table_blocks` (u64).
pub const SB_OFF_INODE_TABLE_BLOCKS: usize = 0x0E8;
/// Offset of `data_start` (u64 block, multiple of 512).
pub const SB_OFF_DATA_START: usize = 0x0F0;
/// Offset of `data_blocks` (u64).
pub const SB_OFF_DATA_BLOCKS: usize = 0x0F8;
/// Offset of `group_count` (u64).
pub const SB_OFF_GROUP_COUNT: usize = 0x100;
/// Offset of `backup_sb_block` (u64 block).
pub const SB_OFF_BACKUP_SB_BLOCK: usize = 0x108;
/// Offset of `root_ino` (u64).
pub const SB_OFF_ROOT_INO: usize = 0x110;
/// Offset of `state` (u32).
pub const SB_OFF_STATE: usize = 0x118;
/// Offset of `errors` (u32).
pub const SB_OFF_ERRORS: usize = 0x11C;
/// Offset of `mkfs_time` (i64 seconds).
pub const SB_OFF_MKFS_TIME: usize = 0x120;
/// Offset of `mount_time` (i64 seconds).
pub const SB_OFF_MOUNT_TIME: usize = 0x128;
/// Offset of `write_time` (i64 seconds).
pub const SB_OFF_WRITE_TIME: usize = 0x130;
/// Offset of `mount_count` (u32).
pub const SB_OFF_MOUNT_COUNT: usize = 0x138;
/// Offset of `flags` (u32, reserved, zero).
#[cfg(not(CONFIG_DAXFS_FS))]
pub const SB_OFF_FLAGS: usize = 0x13C;
/// Offset of `dir_hash_key` (16 bytes).
pub const SB_OFF_DIR_HASH_KEY: usize = 0x140;
/// Offset of `next_generation` (u64).
pub const SB_OFF_NEXT_GENERATION: usize = 0x150;
/// Offset of `orphan_head` (u64: first inode of the orphan list, 0 if
/// empty).
pub const SB_OFF_ORPHAN_HEAD: usize = 0x158;
/// Start of the reserved (zero) tail of the record.
pub const SB_OFF_RESERVED: usize = 0x160;
/// Offset of `checksum` (u32, CRC-32C of bytes `0..0x1FC`).
pub const SB_OFF_CHECKSUM: usize = 0x1FC;

/// Where every area lives. Computed deterministically from the block
/// count, inode count and journal size by [`Layout::compute`]; a
/// superblock is valid only if its stored layout equals the computed one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Layout {
    /// Total blocks of the filesystem, including the backup superblock.
    pub block_count: u64,
    /// Inode slots, including the reserved slot 0; a multiple of 16.
    pub inode_count: u64,
    /// First journal block (the journal header). Always 1.
    pub journal_start: u64,
    /// Journal blocks including the header block.
    pub journal_blocks: u64,
    /// First block of the inode bitmap.
    pub inode_bitmap_start: u64,
    /// Blocks of the inode bitmap.
    pub inode_bitmap_blocks: u64,
    /// First block of the data-block bitmap.
    pub block_bitmap_start: u64,
    /// Blocks of the data-block bitmap.
    pub block_bitmap_blocks: u64,
    /// First block of the group usage table.
    pub group_table_start: u64,
    /// Blocks of the group usage table.
    pub group_table_blocks: u64,
    /// First block of the inode table.
    pub inode_table_start: u64,
    /// Blocks of the inode table.
    pub inode_table_blocks: u64,
    /// First block of the data area; a multiple of [`GROUP_BLOCKS`].
    pub data_start: u64,
    /// Blocks in the data area.
    pub data_blocks: u64,
    /// 2 MiB groups covering the data area (the last may be partial).
    pub group_count: u64,
    /// Block holding the backup superblock (`block_count - 1`).
    pub backup_sb_block: u64,
}

fn div_ceil(a: u64, b: u64) -> u64 {
    a.div_ceil(b)
}

/// Default inode count for a filesystem of `block_count` blocks.
pub fn default_inode_count(block_count: u64) -> u64 {
    let n = block_count.saturating_mul(BLOCK_SIZE_U64) / DEFAULT_BYTES_PER_INODE;
    round_inodes(n.clamp(64, MAX_INODES))
}

/// Default journal size in blocks for a filesystem of `block_count` blocks
/// (1/512 of the device, between 256 KiB and 8 MiB).
pub fn default_journal_blocks(block_count: u64) -> u64 {
    (block_count / 512).clamp(JOURNAL_MIN_BLOCKS, 2048)
}

/// Rounds an inode count up to a whole inode-table block.
pub fn round_inodes(n: u64) -> u64 {
    n.saturating_add(INODES_PER_BLOCK - 1) / INODES_PER_BLOCK * INODES_PER_BLOCK
}

impl Layout {
    /// Computes the layout. `inode_count` is rounded up to a multiple of
    /// [`INODES_PER_BLOCK`]. Fails with [`Error::BadField`] if a parameter
    /// is out of its domain or the metadata leaves no room for data.
    ///
    /// Order: superblock (block 0), journal, inode bitmap, block bitmap,
    /// group table, inode table, padding to 2 MiB, data area, backup
    /// superblock (last block). The block bitmap and group table are
    /// sized for `block_count` bits/groups, an upper bound of the data
    /// area, which breaks the circular dependency between them and
    /// `data_start`.
    pub fn compute(block_count: u64, inode_count: u64, journal_blocks: u64) -> Result<Layout> {
        if !(MIN_BLOCKS..=MAX_BLOCKS).contains(&block_count) {
            return Err(Error::BadField("block_count"));
        }
        let inode_count = round_inodes(inode_count);
        if !(MIN_INODES..=MAX_INODES).contains(&inode_count) {
            return Err(Error::BadField("inode_count"));
        }
        if !(JOURNAL_MIN_BLOCKS..=JOURNAL_MAX_BLOCKS).contains(&journal_blocks) {
            return Err(Error::BadField("journal_blocks"));
        }
        let journal_start = 1;
        let inode_bitmap_start = journal_start + journal_blocks;
        let inode_bitmap_blocks = div_ceil(inode_count, BITS_PER_BLOCK);
        let block_bitmap_start = inode_bitmap_start + inode_bitmap_blocks;
        let block_bitmap_blocks = div_ceil(block_count, BITS_PER_BLOCK);
        let group_table_start = block_bitmap_start + block_bitmap_blocks;
        let max_groups = div_ceil(block_count, GROUP_BLOCKS);
        let group_table_blocks = div_ceil(max_groups * GROUP_ENTRY_SIZE, BLOCK_SIZE_U64);
        let inode_table_start = group_table_start + group_table_blocks;
        let inode_table_blocks = inode_count / INODES_PER_BLOCK;
        let meta_end = inode_table_start + inode_table_blocks;
        let data_start = div_ceil(meta_end, GROUP_BLOCKS) * GROUP_BLOCKS;
        let backup_sb_block = block_count - 1;
        if data_start.saturating_add(MIN_DATA_BLOCKS) > backup_sb_block {
            return Err(Error::BadField("inode_count"));
        }
        let data_blocks = backup_sb_block - data_start;
        let group_count = div_ceil(data_blocks, GROUP_BLOCKS);
        Ok(Layout {
            block_count,
            inode_count,
            journal_start,
            journal_blocks,
            inode_bitmap_start,
            inode_bitmap_blocks,
            block_bitmap_start,
            block_bitmap_blocks,
            group_table_start,
            group_table_blocks,
            inode_table_start,
            inode_table_blocks,
            data_start,
            data_blocks,
            group_count,
            backup_sb_block,
        })
    }

    /// One past the last data block.
    pub fn data_end(&self) -> u64 {
        self.data_start + self.data_blocks
    }

    /// True if `[blk, blk + len)` lies inside the data area.
    pub fn in_data(&self, blk: u64, len: u64) -> bool {
        match blk.checked_add(len) {
            Some(end) => blk >= self.data_start && end <= self.data_end() && len > 0,
            None => false,
        }
    }

    /// Byte offset of inode `ino` in the device.
    pub fn inode_offset(&self, ino: u64) -> Result<u64> {
        if ino == 0 || ino >= self.inode_count {
            return Err(Error::OutOfRange("inode number"));
        }
        Ok(self.inode_table_start * BLOCK_SIZE_U64 + ino * INODE_SIZE as u64)
    }

    /// Blocks that do not exist at the end of the last group (counted as
    /// used in the group table so that a zero entry always means a whole,
    /// aligned, free 2 MiB group).
    #[cfg(not(CONFIG_DAXFS_FS))]
    pub fn tail_missing(&self) -> u64 {
        self.group_count * GROUP_BLOCKS - self.data_blocks
    }

    /// Blocks read by mount, independent of the device size: the
    /// superblock, the journal header, and at most the whole journal log
    /// when a committed transaction must be replayed.
    #[cfg(not(CONFIG_DAXFS_FS))]
    pub fn mount_read_blocks(&self) -> u64 {
        1 + self.journal_blocks
    }
}

/// Everything the shared operations need from the superblock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FsCtx {
    /// Seed of every metadata checksum ([`csum_seed`] of the UUID).
    pub csum_seed: u32,
    /// SipHash key for directory names.
    pub hash_key: [u8; 16],
    /// First block of the data area: every extent and tree node lies in
    /// `data_start..data_end` ([`Layout::in_data`]).
    pub data_start: u64,
    /// One past the last block of the data area.
    pub data_end: u64,
}

impl FsCtx {
    /// True if `[blk, blk + len)` lies inside the data area (`len > 0`).
    pub fn in_data(&self, blk: u64, len: u64) -> bool {
        match blk.checked_add(len) {
            Some(end) => blk >= self.data_start && end <= self.data_end && len > 0,
            None => false,
        }
    }
}

/// The superblock, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Superblock {
    /// Major format version ([`VERSION_MAJOR`]).
    pub version_major: u32,
    /// Minor format version.
    pub version_minor: u32,
    /// Compatible feature flags.
    pub feature_compat: u64,
    /// Read-only compatible feature flags.
    pub feature_ro_compat: u64,
    /// Incompatible feature flags.
    pub feature_incompat: u64,
    /// Geometry.
    pub layout: Layout,
    /// Free data blocks.
    pub free_blocks: u64,
    /// Free inodes.
    pub free_inodes: u64,
    /// Filesystem UUID.
    pub uuid: [u8; 16],
    /// Label, NUL padded.
    pub label: [u8; LABEL_MAX],
    /// Root directory inode number ([`ROOT_INO`]).
    pub root_ino: u64,
    /// [`STATE_CLEAN`] or [`STATE_DIRTY`].
    pub state: u32,
    /// Non-zero once the kernel has detected an inconsistency.
    pub errors: u32,
    /// Creation time, seconds since the Unix epoch.
    pub mkfs_time: i64,
    /// Last mount time, seconds since the Unix epoch.
    pub mount_time: i64,
    /// Last superblock write time, seconds since the Unix epoch.
    pub write_time: i64,
    /// Mounts since mkfs.
    pub mount_count: u32,
    /// Key of the directory name hash.
    pub dir_hash_key: [u8; 16],
    /// Next inode generation number to hand out.
    pub next_generation: u64,
    /// First inode of the orphan list (inodes unlinked while still open,
    /// to be freed at their last close or at the next mount), 0 if empty.
    pub orphan_head: u64,
}

impl Superblock {
    /// A fresh superblock for `layout`, with every block and inode free
    /// except the reserved inode slot 0.
    pub fn new(layout: Layout, uuid: [u8; 16], dir_hash_key: [u8; 16], now: i64) -> Superblock {
        Superblock {
            version_major: VERSION_MAJOR,
            version_minor: VERSION_MINOR,
            feature_compat: 0,
            feature_ro_compat: 0,
            feature_incompat: INCOMPAT_SUPPORTED,
            layout,
            free_blocks: layout.data_blocks,
            free_inodes: layout.inode_count - 1,
            uuid,
            label: [0; LABEL_MAX],
            root_ino: ROOT_INO,
            state: STATE_CLEAN,
            errors: 0,
            mkfs_time: now,
            mount_time: 0,
            write_time: now,
            mount_count: 0,
            dir_hash_key,
            next_generation: 1,
            orphan_head: 0,
        }
    }

    /// The context shared operations need.
    pub fn ctx(&self) -> FsCtx {
        FsCtx {
            csum_seed: csum_seed(&self.uuid),
            hash_key: self.dir_hash_key,
            data_start: self.layout.data_start,
            data_end: self.layout.data_end(),
        }
    }

    /// The label up to its first NUL.
    pub fn label_bytes(&self) -> &[u8] {
        let n = self.label.iter().position(|&c| c == 0).unwrap_or(LABEL_MAX);
        self.label.get(..n).unwrap_or(&[])
    }

    /// Sets the label; fails if longer than [`LABEL_MAX`] or containing NUL.
    #[cfg(not(CONFIG_DAXFS_FS))]
    pub fn set_label(&mut self, l: &[u8]) -> Result<()> {
        if l.len() > LABEL_MAX || l.contains(&0) {
            return Err(Error::BadField("label"));
        }
        self.label = [0; LABEL_MAX];
        put_bytes(&mut self.label, 0, l);
        Ok(())
    }

    /// Encodes into `out` (the first [`SB_SIZE`] bytes), with checksum.
    pub fn encode(&self, out: &mut [u8; SB_SIZE]) {
        out.fill(0);
        let l = &self.layout;
        put_u64(out, SB_OFF_MAGIC, SB_MAGIC);
        put_u32(out, SB_OFF_VERSION_MAJOR, self.version_major);
        put_u32(out, SB_OFF_VERSION_MINOR, self.version_minor);
        put_u64(out, SB_OFF_COMPAT, self.feature_compat);
        put_u64(out, SB_OFF_RO_COMPAT, self.feature_ro_compat);
        put_u64(out, SB_OFF_INCOMPAT, self.feature_incompat);
        put_u32(out, SB_OFF_BLOCK_SIZE, BLOCK_SIZE as u32);
        put_u32(out, SB_OFF_INODE_SIZE, INODE_SIZE as u32);
        put_u64(out, SB_OFF_BLOCK_COUNT, l.block_count);
        put_u64(out, SB_OFF_INODE_COUNT, l.inode_count);
        put_u64(out, SB_OFF_FREE_BLOCKS, self.free_blocks);
        put_u64(out, SB_OFF_FREE_INODES, self.free_inodes);
        put_bytes(out, SB_OFF_UUID, &self.uuid);
        put_bytes(out, SB_OFF_LABEL, &self.label);
        put_u64(out, SB_OFF_JOURNAL_START, l.journal_start);
        put_u64(out, SB_OFF_JOURNAL_BLOCKS, l.journal_blocks);
        put_u64(out, SB_OFF_INODE_BITMAP_START, l.inode_bitmap_start);
        put_u64(out, SB_OFF_INODE_BITMAP_BLOCKS, l.inode_bitmap_blocks);
        put_u64(out, SB_OFF_BLOCK_BITMAP_START, l.block_bitmap_start);
        put_u64(out, SB_OFF_BLOCK_BITMAP_BLOCKS, l.block_bitmap_blocks);
        put_u64(out, SB_OFF_GROUP_TABLE_START, l.group_table_start);
        put_u64(out, SB_OFF_GROUP_TABLE_BLOCKS, l.group_table_blocks);
        put_u64(out, SB_OFF_INODE_TABLE_START, l.inode_table_start);
        put_u64(out, SB_OFF_INODE_TABLE_BLOCKS, l.inode_table_blocks);
        put_u64(out, SB_OFF_DATA_START, l.data_start);
        put_u64(out, SB_OFF_DATA_BLOCKS, l.data_blocks);
        put_u64(out, SB_OFF_GROUP_COUNT, l.group_count);
        put_u64(out, SB_OFF_BACKUP_SB_BLOCK, l.backup_sb_block);
        put_u64(out, SB_OFF_ROOT_INO, self.root_ino);
        put_u32(out, SB_OFF_STATE, self.state);
        put_u32(out, SB_OFF_ERRORS, self.errors);
        put_i64(out, SB_OFF_MKFS_TIME, self.mkfs_time);
        put_i64(out, SB_OFF_MOUNT_TIME, self.mount_time);
        put_i64(out, SB_OFF_WRITE_TIME, self.write_time);
        put_u32(out, SB_OFF_MOUNT_COUNT, self.mount_count);
        put_bytes(out, SB_OFF_DIR_HASH_KEY, &self.dir_hash_key);
        put_u64(out, SB_OFF_NEXT_GENERATION, self.next_generation);
        put_u64(out, SB_OFF_ORPHAN_HEAD, self.orphan_head);
        let c = crc32c(out.get(..SB_OFF_CHECKSUM).unwrap_or(&[]));
        put_u32(out, SB_OFF_CHECKSUM, c);
    }

    /// Decodes the fields without any validation (for dump tools).
    /// Fails only if `b` is shorter than [`SB_SIZE`].
    pub fn decode_raw(b: &[u8]) -> Result<Superblock> {
        if b.len() < SB_SIZE {
            return Err(Error::Truncated);
        }
        let mut uuid = [0u8; 16];
        uuid.copy_from_slice(slice(b, SB_OFF_UUID, 16)?);
        let mut label = [0u8; LABEL_MAX];
        label.copy_from_slice(slice(b, SB_OFF_LABEL, LABEL_MAX)?);
        let mut dir_hash_key = [0u8; 16];
        dir_hash_key.copy_from_slice(slice(b, SB_OFF_DIR_HASH_KEY, 16)?);
        Ok(Superblock {
            version_major: get_u32(b, SB_OFF_VERSION_MAJOR),
            version_minor: get_u32(b, SB_OFF_VERSION_MINOR),
            feature_compat: get_u64(b, SB_OFF_COMPAT),
            feature_ro_compat: get_u64(b, SB_OFF_RO_COMPAT),
            feature_incompat: get_u64(b, SB_OFF_INCOMPAT),
            layout: Layout {
                block_count: get_u64(b, SB_OFF_BLOCK_COUNT),
                inode_count: get_u64(b, SB_OFF_INODE_COUNT),
                journal_start: get_u64(b, SB_OFF_JOURNAL_START),
                journal_blocks: get_u64(b, SB_OFF_JOURNAL_BLOCKS),
                inode_bitmap_start: get_u64(b, SB_OFF_INODE_BITMAP_START),
                inode_bitmap_blocks: get_u64(b, SB_OFF_INODE_BITMAP_BLOCKS),
                block_bitmap_start: get_u64(b, SB_OFF_BLOCK_BITMAP_START),
                block_bitmap_blocks: get_u64(b, SB_OFF_BLOCK_BITMAP_BLOCKS),
                group_table_start: get_u64(b, SB_OFF_GROUP_TABLE_START),
                group_table_blocks: get_u64(b, SB_OFF_GROUP_TABLE_BLOCKS),
                inode_table_start: get_u64(b, SB_OFF_INODE_TABLE_START),
                inode_table_blocks: get_u64(b, SB_OFF_INODE_TABLE_BLOCKS),
                data_start: get_u64(b, SB_OFF_DATA_START),
                data_blocks: get_u64(b, SB_OFF_DATA_BLOCKS),
                group_count: get_u64(b, SB_OFF_GROUP_COUNT),
                backup_sb_block: get_u64(b, SB_OFF_BACKUP_SB_BLOCK),
            },
            free_blocks: get_u64(b, SB_OFF_FREE_BLOCKS),
            free_inodes: get_u64(b, SB_OFF_FREE_INODES),
            uuid,
            label,
            root_ino: get_u64(b, SB_OFF_ROOT_INO),
            state: get_u32(b, SB_OFF_STATE),
            errors: get_u32(b, SB_OFF_ERRORS),
            mkfs_time: get_i64(b, SB_OFF_MKFS_TIME),
            mount_time: get_i64(b, SB_OFF_MOUNT_TIME),
            write_time: get_i64(b, SB_OFF_WRITE_TIME),
            mount_count: get_u32(b, SB_OFF_MOUNT_COUNT),
            dir_hash_key,
            next_generation: get_u64(b, SB_OFF_NEXT_GENERATION),
            orphan_head: get_u64(b, SB_OFF_ORPHAN_HEAD),
        })
    }

    /// Decodes and fully validates a superblock: magic, checksum, version,
    /// features, fixed sizes, reserved bytes, and geometry (see
    /// [`Superblock::validate`]).
    pub fn decode(b: &[u8]) -> Result<Superblock> {
        let rec = slice(b, 0, SB_SIZE)?;
        if get_u64(rec, SB_OFF_MAGIC) != SB_MAGIC {
            return Err(Error::BadMagic("superblock"));
        }
        let want = crc32c(slice(rec, 0, SB_OFF_CHECKSUM)?);
        if get_u32(rec, SB_OFF_CHECKSUM) != want {
            return Err(Error::BadChecksum("superblock"));
        }
        if !is_zero(slice(
            rec,
            SB_OFF_RESERVED,
            SB_OFF_CHECKSUM - SB_OFF_RESERVED,
        )?) {
            return Err(Error::BadField("superblock reserved bytes"));
        }
        if get_u32(rec, SB_OFF_BLOCK_SIZE) != BLOCK_SIZE as u32 {
            return Err(Error::BadField("block_size"));
        }
        if get_u32(rec, SB_OFF_INODE_SIZE) != INODE_SIZE as u32 {
            return Err(Error::BadField("inode_size"));
        }
        let sb = Superblock::decode_raw(rec)?;
        sb.validate()?;
        Ok(sb)
    }

    /// Checks everything that can be checked from the superblock alone:
    /// version, incompatible features, the layout against
    /// [`Layout::compute`], counters within range, root inode, state.
    pub fn validate(&self) -> Result<()> {
        if self.version_major != VERSION_MAJOR {
            return Err(Error::BadVersion);
        }
        if self.feature_incompat & !INCOMPAT_SUPPORTED != 0 {
            return Err(Error::UnsupportedFeature);
        }
        let l = &self.layout;
        let want = Layout::compute(l.block_count, l.inode_count, l.journal_blocks)
            .map_err(|_| Error::BadField("geometry"))?;
        if want != *l {
            return Err(Error::BadField("geometry"));
        }
        if self.free_blocks > l.data_blocks {
            return Err(Error::BadField("free_blocks"));
        }
        if self.free_inodes >= l.inode_count {
            return Err(Error::BadField("free_inodes"));
        }
        if self.orphan_head >= l.inode_count || self.orphan_head == ROOT_INO {
            return Err(Error::BadField("orphan_head"));
        }
        if self.root_ino != ROOT_INO {
            return Err(Error::BadField("root_ino"));
        }
        if self.state != STATE_CLEAN && self.state != STATE_DIRTY {
            return Err(Error::BadField("state"));
        }
        if self.label.contains(&0) {
            // NUL padding must be contiguous to the end.
            let n = self.label_bytes().len();
            if !is_zero(self.label.get(n..).unwrap_or(&[])) {
                return Err(Error::BadField("label"));
            }
        }
        Ok(())
    }

    /// True if the fields that never change after mkfs (everything except
    /// counters, state, errors, times, mount count and next generation)
    /// are equal: what fsck compares between primary and backup.
    pub fn same_static(&self, o: &Superblock) -> bool {
        self.version_major == o.version_major
            && self.version_minor == o.version_minor
            && self.feature_compat == o.feature_compat
            && self.feature_ro_compat == o.feature_ro_compat
            && self.feature_incompat == o.feature_incompat
            && self.layout == o.layout
            && self.uuid == o.uuid
            && self.label == o.label
            && self.root_ino == o.root_ino
            && self.mkfs_time == o.mkfs_time
            && self.dir_hash_key == o.dir_hash_key
    }
}

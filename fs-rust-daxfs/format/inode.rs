// SPDX-License-Identifier: GPL-2.0

//! The 256-byte inode record.
//!
//! Inode `n` lives at byte `inode_table_start * 4096 + n * 256`. Slot 0 is
//! reserved and stays zero; [`super::superblock::ROOT_INO`] is 1. An
//! all-zero record is a free inode (so mkfs need not write the table of a
//! sparse image); a used inode has a non-zero `mode` and a CRC-32C over
//! the inode number and the record (checksum field taken as zero), seeded
//! with the filesystem UUID.

use super::bytes::*;
use super::crc32c::crc32c_record;
use super::superblock::INODE_SIZE;
use super::{Error, Result};

/// Offset of `mode` (u16: file type and permission bits, as `st_mode`).
pub const INO_OFF_MODE: usize = 0x00;
/// Offset of `map_kind` (u8, one of the `MAP_*` constants).
pub const INO_OFF_MAP_KIND: usize = 0x02;
/// Offset of a reserved byte (zero).
pub const INO_OFF_RESERVED0: usize = 0x03;
/// Offset of `flags` (u32, `INODE_FLAG_*`).
pub const INO_OFF_FLAGS: usize = 0x04;
/// Offset of `uid` (u32).
pub const INO_OFF_UID: usize = 0x08;
/// Offset of `gid` (u32).
pub const INO_OFF_GID: usize = 0x0C;
/// Offset of `nlink` (u32).
pub const INO_OFF_NLINK: usize = 0x10;
/// Offset of `generation` (u32, for NFS file handles).
pub const INO_OFF_GENERATION: usize = 0x14;
/// Offset of `size` (u64 bytes).
pub const INO_OFF_SIZE: usize = 0x18;
/// Offset of `blocks` (u64, 4 KiB blocks owned: data plus B+tree nodes).
pub const INO_OFF_BLOCKS: usize = 0x20;
/// Offset of `atime_sec` (i64).
pub const INO_OFF_ATIME_SEC: usize = 0x28;
/// Offset of `mtime_sec` (i64).
pub const INO_OFF_MTIME_SEC: usize = 0x30;
/// Offset of `ctime_sec` (i64).
pub const INO_OFF_CTIME_SEC: usize = 0x38;
/// Offset of `btime_sec` (i64, creation time).
pub const INO_OFF_BTIME_SEC: usize = 0x40;
/// Offset of `atime_nsec` (u32, < 10^9).
pub const INO_OFF_ATIME_NSEC: usize = 0x48;
/// Offset of `mtime_nsec` (u32).
pub const INO_OFF_MTIME_NSEC: usize = 0x4C;
/// Offset of `ctime_nsec` (u32).
pub const INO_OFF_CTIME_NSEC: usize = 0x50;
/// Offset of `btime_nsec` (u32).
pub const INO_OFF_BTIME_NSEC: usize = 0x54;
/// Offset of `rdev` (u32, Linux `new_encode_dev` of a device node).
pub const INO_OFF_RDEV: usize = 0x58;
/// Offset of `checksum` (u32).
pub const INO_OFF_CHECKSUM: usize = 0x5C;
/// Offset of `parent` (u32: a directory's parent; root points to itself;
/// inode numbers fit in 32 bits).
pub const INO_OFF_PARENT: usize = 0x60;
/// Offset of `prev_orphan` (u32: previous inode on the orphan list, 0 at
/// the head or when not listed).
pub const INO_OFF_PREV_ORPHAN: usize = 0x64;
/// Offset of `map_count` (u32: extents, or directory entries).
pub const INO_OFF_MAP_COUNT: usize = 0x68;
/// Offset of `next_orphan` (u32: next inode on the orphan list, 0 at the
/// end; inode numbers fit in 32 bits).
pub const INO_OFF_NEXT_ORPHAN: usize = 0x6C;
/// Offset of the 144-byte map area.
pub const INO_OFF_MAP: usize = 0x70;
/// Size of the map area.
pub const INODE_MAP_SIZE: usize = 144;

/// `map_kind`: no block map (device nodes, FIFOs, sockets).
pub const MAP_NONE: u8 = 0;
/// `map_kind`: up to [`super::extent::INLINE_EXTENTS`] extents in the map area.
pub const MAP_EXTENTS: u8 = 1;
/// `map_kind`: the map area starts with the u64 root block of a B+tree
/// (extent tree for regular files, index for directories).
pub const MAP_BTREE: u8 = 2;
/// `map_kind`: the map area holds `size` bytes of symlink target.
pub const MAP_INLINE_DATA: u8 = 3;

/// Inode flag: the block map is sealed. No extent may be added, removed,
/// moved, split, merged or converted, and the size may not change; every
/// extent is SEALED and written and they cover `[0, size)` without holes.
pub const INODE_FLAG_SEALED: u32 = 1 << 0;
/// Inode flag: immutable (`chattr +i`).
pub const INODE_FLAG_IMMUTABLE: u32 = 1 << 1;
/// Inode flag: append only (`chattr +a`).
pub const INODE_FLAG_APPEND: u32 = 1 << 2;
/// Inode flag: do not update atime (`chattr +A`).
pub const INODE_FLAG_NOATIME: u32 = 1 << 3;
/// Inode flag: do not dump (`chattr +d`).
pub const INODE_FLAG_NODUMP: u32 = 1 << 4;
/// Inode flag: a seal or unseal of this regular file is in progress (the
/// intent of the multi-transaction sequence). Never set together with
/// [`INODE_FLAG_SEALED`]. While it is set the inode is on the orphan list
/// even if it has links, and its extents may be SEALED or not; recovery
/// (the mount, or `fsck -y`) rolls the file to *not sealed*: it clears
/// `EXTENT_SEALED` on every extent, then this flag, and takes the inode off
/// the list (`docs/on-disk-format.md`, "Sealed files").
pub const INODE_FLAG_SEAL_INTENT: u32 = 1 << 5;
/// All inode flags defined by this version.
pub const INODE_FLAGS_KNOWN: u32 = INODE_FLAG_SEALED
    | INODE_FLAG_IMMUTABLE
    | INODE_FLAG_APPEND
    | INODE_FLAG_NOATIME
    | INODE_FLAG_NODUMP
    | INODE_FLAG_SEAL_INTENT;

/// File type mask of `mode`.
pub const S_IFMT: u16 = 0o170000;
/// Socket.
pub const S_IFSOCK: u16 = 0o140000;
/// Symbolic link.
pub const S_IFLNK: u16 = 0o120000;
/// Regular file.
pub const S_IFREG: u16 = 0o100000;
/// Block device.
pub const S_IFBLK: u16 = 0o060000;
/// Directory.
pub const S_IFDIR: u16 = 0o040000;
/// Character device.
pub const S_IFCHR: u16 = 0o020000;
/// FIFO.
pub const S_IFIFO: u16 = 0o010000;

/// Longest symlink target (excluding the terminating NUL, which is not
/// stored).
pub const SYMLINK_MAX: u64 = 4095;

/// A timestamp: signed seconds since the Unix epoch plus nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Timespec {
    /// Seconds since 1970-01-01T00:00:00Z (may be negative).
    pub sec: i64,
    /// Nanoseconds, `0..1_000_000_000`.
    pub nsec: u32,
}

/// Decoded inode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Inode {
    /// File type and permissions.
    pub mode: u16,
    /// How the map area is used (`MAP_*`).
    pub map_kind: u8,
    /// `INODE_FLAG_*`.
    pub flags: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Hard links (directories: 2 + subdirectories); 0 for an orphan.
    pub nlink: u32,
    /// Generation number.
    pub generation: u32,
    /// Size in bytes.
    pub size: u64,
    /// 4 KiB blocks owned (extent lengths plus tree nodes).
    pub blocks: u64,
    /// Last access.
    pub atime: Timespec,
    /// Last data modification.
    pub mtime: Timespec,
    /// Last status change.
    pub ctime: Timespec,
    /// Creation.
    pub btime: Timespec,
    /// Device number for block/character device nodes.
    pub rdev: u32,
    /// Parent directory (directories only; zero otherwise).
    pub parent: u64,
    /// Number of extents (files, symlinks) or entries (directories).
    pub map_count: u32,
    /// Next inode on the orphan list (0 at the end or when not listed).
    pub next_orphan: u32,
    /// Previous inode on the orphan list (0 at the head or when not
    /// listed), so an orphan leaves the list in O(1).
    pub prev_orphan: u32,
    /// The map area, interpreted according to `map_kind`.
    pub map: [u8; INODE_MAP_SIZE],
}

/// The file type part of a mode, as a `DT_*` directory entry type
/// (0 if the type is invalid).
pub fn mode_to_dtype(mode: u16) -> u8 {
    match mode & S_IFMT {
        S_IFIFO => 1,
        S_IFCHR => 2,
        S_IFDIR => 4,
        S_IFBLK => 6,
        S_IFREG => 8,
        S_IFLNK => 10,
        S_IFSOCK => 12,
        _ => 0,
    }
}

impl Inode {
    /// A new inode of `mode` with no blocks, `nlink` 1 (2 for directories)
    /// and all four times set to `now`.
    pub fn new(mode: u16, uid: u32, gid: u32, now: Timespec) -> Inode {
        let ty = mode & S_IFMT;
        let map_kind = match ty {
            S_IFREG => MAP_EXTENTS,
            S_IFDIR => MAP_BTREE,
            S_IFLNK => MAP_INLINE_DATA,
            _ => MAP_NONE,
        };
        Inode {
            mode,
            map_kind,
            flags: 0,
            uid,
            gid,
            nlink: if ty == S_IFDIR { 2 } else { 1 },
            generation: 0,
            size: 0,
            blocks: 0,
            atime: now,
            mtime: now,
            ctime: now,
            btime: now,
            rdev: 0,
            parent: 0,
            map_count: 0,
            next_orphan: 0,
            prev_orphan: 0,
            map: [0; INODE_MAP_SIZE],
        }
    }

    /// File type bits.
    pub fn file_type(&self) -> u16 {
        self.mode & S_IFMT
    }

    /// True for a directory.
    pub fn is_dir(&self) -> bool {
        self.file_type() == S_IFDIR
    }

    /// True for a regular file.
    pub fn is_reg(&self) -> bool {
        self.file_type() == S_IFREG
    }

    /// True for a symbolic link.
    pub fn is_symlink(&self) -> bool {
        self.file_type() == S_IFLNK
    }

    /// True if the block map is sealed.
    pub fn is_sealed(&self) -> bool {
        self.flags & INODE_FLAG_SEALED != 0
    }

    /// True while a seal or unseal is in progress ([`INODE_FLAG_SEAL_INTENT`]).
    pub fn seal_intent(&self) -> bool {
        self.flags & INODE_FLAG_SEAL_INTENT != 0
    }

    /// True if the inode belongs on the orphan list: it has no links (it is
    /// freed at its last close or at mount) or a seal intent is pending (it
    /// is rolled back at mount).
    pub fn belongs_on_orphan_list(&self) -> bool {
        self.nlink == 0 || self.seal_intent()
    }

    /// Root block of the B+tree (`map_kind == MAP_BTREE`), else 0.
    pub fn btree_root(&self) -> u64 {
        if self.map_kind == MAP_BTREE {
            get_u64(&self.map, 0)
        } else {
            0
        }
    }

    /// Sets the B+tree root and switches `map_kind` to [`MAP_BTREE`].
    pub fn set_btree_root(&mut self, root: u64) {
        self.map = [0; INODE_MAP_SIZE];
        put_u64(&mut self.map, 0, root);
        self.map_kind = MAP_BTREE;
    }

    /// Inline symlink target (`map_kind == MAP_INLINE_DATA`).
    pub fn inline_data(&self) -> Result<&[u8]> {
        if self.map_kind != MAP_INLINE_DATA {
            return Err(Error::BadField("map_kind"));
        }
        let n = usize::try_from(self.size).map_err(|_| Error::BadField("size"))?;
        slice(&self.map, 0, n).map_err(|_| Error::BadField("size"))
    }

    /// Stores a short symlink target inline.
    pub fn set_inline_data(&mut self, d: &[u8]) -> Result<()> {
        if d.len() > INODE_MAP_SIZE {
            return Err(Error::NameTooLong);
        }
        self.map = [0; INODE_MAP_SIZE];
        put_bytes(&mut self.map, 0, d);
        self.map_kind = MAP_INLINE_DATA;
        self.size = d.len() as u64;
        self.map_count = 0;
        Ok(())
    }

    /// Encodes inode number `ino` into `out`, computing the checksum with
    /// `seed` ([`super::FsCtx::csum_seed`]).
    pub fn encode(&self, ino: u64, seed: u32, out: &mut [u8; INODE_SIZE]) {
        out.fill(0);
        put_u16(out, INO_OFF_MODE, self.mode);
        put_u8(out, INO_OFF_MAP_KIND, self.map_kind);
        put_u32(out, INO_OFF_FLAGS, self.flags);
        put_u32(out, INO_OFF_UID, self.uid);
        put_u32(out, INO_OFF_GID, self.gid);
        put_u32(out, INO_OFF_NLINK, self.nlink);
        put_u32(out, INO_OFF_GENERATION, self.generation);
        put_u64(out, INO_OFF_SIZE, self.size);
        put_u64(out, INO_OFF_BLOCKS, self.blocks);
        put_i64(out, INO_OFF_ATIME_SEC, self.atime.sec);
        put_i64(out, INO_OFF_MTIME_SEC, self.mtime.sec);
        put_i64(out, INO_OFF_CTIME_SEC, self.ctime.sec);
        put_i64(out, INO_OFF_BTIME_SEC, self.btime.sec);
        put_u32(out, INO_OFF_ATIME_NSEC, self.atime.nsec);
        put_u32(out, INO_OFF_MTIME_NSEC, self.mtime.nsec);
        put_u32(out, INO_OFF_CTIME_NSEC, self.ctime.nsec);
        put_u32(out, INO_OFF_BTIME_NSEC, self.btime.nsec);
        put_u32(out, INO_OFF_RDEV, self.rdev);
        // Inode numbers are below `MAX_INODES` (2^32), checked by the
        // layout, so the parent fits in 32 bits.
        put_u32(out, INO_OFF_PARENT, self.parent as u32);
        put_u32(out, INO_OFF_PREV_ORPHAN, self.prev_orphan);
        put_u32(out, INO_OFF_MAP_COUNT, self.map_count);
        put_u32(out, INO_OFF_NEXT_ORPHAN, self.next_orphan);
        put_bytes(out, INO_OFF_MAP, &self.map);
        let c = inode_checksum(ino, seed, out);
        put_u32(out, INO_OFF_CHECKSUM, c);
    }

    /// Decodes the fields without validation (dump tools, fsck repair).
    pub fn decode_raw(b: &[u8]) -> Result<Inode> {
        let rec = slice(b, 0, INODE_SIZE)?;
        let mut map = [0u8; INODE_MAP_SIZE];
        map.copy_from_slice(slice(rec, INO_OFF_MAP, INODE_MAP_SIZE)?);
        let ts = |s, n| Timespec {
            sec: get_i64(rec, s),
            nsec: get_u32(rec, n),
        };
        Ok(Inode {
            mode: get_u16(rec, INO_OFF_MODE),
            map_kind: get_u8(rec, INO_OFF_MAP_KIND),
            flags: get_u32(rec, INO_OFF_FLAGS),
            uid: get_u32(rec, INO_OFF_UID),
            gid: get_u32(rec, INO_OFF_GID),
            nlink: get_u32(rec, INO_OFF_NLINK),
            generation: get_u32(rec, INO_OFF_GENERATION),
            size: get_u64(rec, INO_OFF_SIZE),
            blocks: get_u64(rec, INO_OFF_BLOCKS),
            atime: ts(INO_OFF_ATIME_SEC, INO_OFF_ATIME_NSEC),
            mtime: ts(INO_OFF_MTIME_SEC, INO_OFF_MTIME_NSEC),
            ctime: ts(INO_OFF_CTIME_SEC, INO_OFF_CTIME_NSEC),
            btime: ts(INO_OFF_BTIME_SEC, INO_OFF_BTIME_NSEC),
            rdev: get_u32(rec, INO_OFF_RDEV),
            parent: u64::from(get_u32(rec, INO_OFF_PARENT)),
            map_count: get_u32(rec, INO_OFF_MAP_COUNT),
            next_orphan: get_u32(rec, INO_OFF_NEXT_ORPHAN),
            prev_orphan: get_u32(rec, INO_OFF_PREV_ORPHAN),
            map,
        })
    }

    /// Decodes and validates inode `ino`. Returns `Ok(None)` for a free
    /// (all-zero) slot, [`Error::BadChecksum`] if the checksum does not
    /// match, and [`Error::BadField`] if [`Inode::validate`] fails.
    pub fn decode(b: &[u8], ino: u64, seed: u32) -> Result<Option<Inode>> {
        let rec = slice(b, 0, INODE_SIZE)?;
        if is_zero(rec) {
            return Ok(None);
        }
        if get_u32(rec, INO_OFF_CHECKSUM) != inode_checksum(ino, seed, rec) {
            return Err(Error::BadChecksum("inode"));
        }
        if get_u8(rec, INO_OFF_RESERVED0) != 0 {
            return Err(Error::BadField("inode reserved bytes"));
        }
        let ino = Inode::decode_raw(rec)?;
        ino.validate()?;
        Ok(Some(ino))
    }

    /// Checks field domains and the consistency of type, `map_kind`,
    /// `map_count`, size and flags (but not the blocks the map points to).
    pub fn validate(&self) -> Result<()> {
        let ty = self.file_type();
        if mode_to_dtype(self.mode) == 0 {
            return Err(Error::BadField("mode"));
        }
        if self.flags & !INODE_FLAGS_KNOWN != 0 {
            return Err(Error::BadField("flags"));
        }
        for t in [self.atime, self.mtime, self.ctime, self.btime] {
            if t.nsec >= 1_000_000_000 {
                return Err(Error::BadField("timestamp nsec"));
            }
        }
        // nlink 0 is an orphan: unlinked while open, on the orphan list.
        if self.size > i64::MAX as u64 {
            return Err(Error::BadField("size"));
        }
        let inline_max = super::extent::INLINE_EXTENTS as u32;
        match (ty, self.map_kind) {
            (S_IFREG, MAP_EXTENTS) => {
                if self.map_count > inline_max {
                    return Err(Error::BadField("map_count"));
                }
            }
            (S_IFREG, MAP_BTREE) | (S_IFDIR, MAP_BTREE) => {
                if self.btree_root() == 0 || !is_zero(self.map.get(8..).unwrap_or(&[])) {
                    return Err(Error::BadField("btree root"));
                }
            }
            (S_IFLNK, MAP_INLINE_DATA) => {
                if self.size == 0 || self.size > INODE_MAP_SIZE as u64 || self.map_count != 0 {
                    return Err(Error::BadField("size"));
                }
            }
            (S_IFLNK, MAP_EXTENTS) => {
                if self.size <= INODE_MAP_SIZE as u64 || self.size > SYMLINK_MAX {
                    return Err(Error::BadField("size"));
                }
                if self.map_count != 1 {
                    return Err(Error::BadField("map_count"));
                }
            }
            (S_IFCHR, MAP_NONE)
            | (S_IFBLK, MAP_NONE)
            | (S_IFIFO, MAP_NONE)
            | (S_IFSOCK, MAP_NONE) => {
                if self.map_count != 0 || self.size != 0 || !is_zero(&self.map) {
                    return Err(Error::BadField("map"));
                }
            }
            _ => return Err(Error::BadField("map_kind")),
        }
        if ty == S_IFDIR {
            if self.parent == 0 {
                return Err(Error::BadField("parent"));
            }
            if self.nlink == 1 {
                return Err(Error::BadField("nlink"));
            }
        } else if self.parent != 0 {
            return Err(Error::BadField("parent"));
        }
        if (self.is_sealed() || self.seal_intent()) && ty != S_IFREG {
            return Err(Error::BadField("flags"));
        }
        if self.is_sealed() && self.seal_intent() {
            return Err(Error::BadField("flags: sealed with a seal intent"));
        }
        if self.map_kind == MAP_EXTENTS {
            // Inline extents must be sorted and disjoint and the unused
            // slots zero. Their shape and range are checked where they are
            // used (`Extent::check_shape`, `Extent::check_range`), so fsck
            // can name the exact problem.
            let mut prev_end = 0u64;
            for i in 0..super::extent::INLINE_EXTENTS {
                let e = super::extent::Extent::decode_inline(&self.map, i)?;
                if (i as u32) < self.map_count {
                    if e.lblk < prev_end {
                        return Err(Error::Overlap);
                    }
                    prev_end = e.lend();
                } else if e != super::extent::Extent::default() {
                    return Err(Error::BadField("unused inline extent"));
                }
            }
        }
        Ok(())
    }
}

/// The checksum of an encoded inode record (checksum field read as zero).
pub fn inode_checksum(ino: u64, seed: u32, rec: &[u8]) -> u32 {
    crc32c_record(seed, &ino.to_le_bytes(), rec, INO_OFF_CHECKSUM)
}

// SPDX-License-Identifier: GPL-2.0

//! Directories: a B+tree per directory (`map_kind == MAP_BTREE`, tree
//! type [`TreeType::Dir`]) whose leaves hold fixed-size 272-byte entries
//! keyed by a hash cookie:
//!
//! `key = (siphash24(dir_hash_key, name) >> 10) << 8 | seq`
//!
//! The upper 54 bits come from the keyed name hash, the low 8 bits `seq`
//! disambiguate up to 256 names with the same hash prefix (the lowest free
//! `seq` is taken). A hash prefix of 0 is replaced by 1, so every key is in
//! `[256, 2^62)`. Lookup reads only the keys `[base, base + 255]`: one
//! descent, never a scan. The key is also the `readdir` cookie: positions
//! 0 and 1 are `.` and `..` (synthesised from the inode and its `parent`
//! field, not stored), and after returning the entry with key `k` the
//! position is `k + 1`, so `telldir`/`seekdir` stay valid across
//! insertions and removals. [`COOKIE_EOF`] marks the end.

use super::btree::{CountingStore, NodeStore, Scratch, Tree, TreeType};
use super::bytes::*;
use super::inode::{Inode, MAP_BTREE};
use super::siphash::siphash24;
use super::{Error, FsCtx, Result, BLOCK_SIZE_U64};

/// Longest name in bytes.
pub const NAME_MAX: usize = 255;
/// Size of a directory entry (leaf value).
pub const DIRENT_VALUE_SIZE: usize = 272;
/// Offset of `ino` (u64).
pub const DE_OFF_INO: usize = 0;
/// Offset of `name_len` (u8, 1..=255).
pub const DE_OFF_NAME_LEN: usize = 8;
/// Offset of `file_type` (u8, a `DT_*` value).
pub const DE_OFF_FILE_TYPE: usize = 9;
/// Offset of 6 reserved bytes (zero).
pub const DE_OFF_RESERVED: usize = 10;
/// Offset of `name` (255 bytes plus one zero byte; bytes past `name_len`
/// are zero).
pub const DE_OFF_NAME: usize = 16;

/// `readdir` position of `.`.
pub const COOKIE_DOT: u64 = 0;
/// `readdir` position of `..`.
pub const COOKIE_DOTDOT: u64 = 1;
/// Smallest key of a stored entry.
pub const COOKIE_MIN: u64 = 256;
/// `readdir` position past the last entry.
pub const COOKIE_EOF: u64 = 1 << 62;

/// Directory entry type: FIFO.
pub const DT_FIFO: u8 = 1;
/// Directory entry type: character device.
pub const DT_CHR: u8 = 2;
/// Directory entry type: directory.
pub const DT_DIR: u8 = 4;
/// Directory entry type: block device.
pub const DT_BLK: u8 = 6;
/// Directory entry type: regular file.
pub const DT_REG: u8 = 8;
/// Directory entry type: symbolic link.
pub const DT_LNK: u8 = 10;
/// Directory entry type: socket.
pub const DT_SOCK: u8 = 12;

/// Checks a name: 1 to 255 bytes, no `/` or NUL, not `.` or `..`.
pub fn validate_name(name: &[u8]) -> Result<()> {
    if name.len() > NAME_MAX {
        return Err(Error::NameTooLong);
    }
    if name.is_empty() || name == b"." || name == b".." || name.iter().any(|&c| c == 0 || c == b'/')
    {
        return Err(Error::InvalidName);
    }
    Ok(())
}

/// The first key (`seq` 0) a name can take.
pub fn name_key_base(hash_key: &[u8; 16], name: &[u8]) -> u64 {
    let h = siphash24(hash_key, name) >> 10;
    let h = if h == 0 { 1 } else { h };
    h << 8
}

/// A decoded directory entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DirEntry {
    /// Target inode.
    pub ino: u64,
    /// `DT_*` type of the target.
    pub file_type: u8,
    /// Name length.
    pub name_len: u8,
    /// Name bytes (only `name_len` are meaningful; the rest are zero).
    pub name: [u8; NAME_MAX],
}

impl DirEntry {
    /// A new entry; validates the name and type.
    pub fn new(name: &[u8], ino: u64, file_type: u8) -> Result<DirEntry> {
        validate_name(name)?;
        if !valid_dtype(file_type) {
            return Err(Error::BadField("dirent file_type"));
        }
        if ino == 0 {
            return Err(Error::BadField("dirent ino"));
        }
        let mut n = [0u8; NAME_MAX];
        put_bytes(&mut n, 0, name);
        Ok(DirEntry {
            ino,
            file_type,
            name_len: name.len() as u8,
            name: n,
        })
    }

    /// The name.
    pub fn name(&self) -> &[u8] {
        self.name.get(..usize::from(self.name_len)).unwrap_or(&[])
    }

    /// Encodes the leaf value.
    pub fn encode(&self) -> [u8; DIRENT_VALUE_SIZE] {
        let mut v = [0u8; DIRENT_VALUE_SIZE];
        put_u64(&mut v, DE_OFF_INO, self.ino);
        put_u8(&mut v, DE_OFF_NAME_LEN, self.name_len);
        put_u8(&mut v, DE_OFF_FILE_TYPE, self.file_type);
        put_bytes(&mut v, DE_OFF_NAME, self.name());
        v
    }

    /// Decodes and validates a leaf value.
    pub fn decode(v: &[u8]) -> Result<DirEntry> {
        let r = slice(v, 0, DIRENT_VALUE_SIZE)?;
        let len = usize::from(get_u8(r, DE_OFF_NAME_LEN));
        let name = slice(r, DE_OFF_NAME, len)?;
        if !is_zero(slice(r, DE_OFF_RESERVED, DE_OFF_NAME - DE_OFF_RESERVED)?)
            || !is_zero(r.get(DE_OFF_NAME + len..).unwrap_or(&[]))
        {
            return Err(Error::BadField("dirent padding"));
        }
        DirEntry::new(name, get_u64(r, DE_OFF_INO), get_u8(r, DE_OFF_FILE_TYPE))
    }
}

/// True if `t` is a valid `DT_*` value for an entry.
pub fn valid_dtype(t: u8) -> bool {
    matches!(
        t,
        DT_FIFO | DT_CHR | DT_DIR | DT_BLK | DT_REG | DT_LNK | DT_SOCK
    )
}

fn tree_of(dir: &Inode, ino: u64, ctx: &FsCtx) -> Result<Tree> {
    if !dir.is_dir() || dir.map_kind != MAP_BTREE {
        return Err(Error::BadField("directory map_kind"));
    }
    Ok(Tree {
        tree: TreeType::Dir,
        owner: ino,
        seed: ctx.csum_seed,
        root: dir.btree_root(),
    })
}

/// Gives a new directory inode its (empty) index: one leaf.
pub fn dir_init<S: NodeStore + ?Sized>(
    dir: &mut Inode,
    ino: u64,
    ctx: &FsCtx,
    st: &mut S,
    s: &mut Scratch,
) -> Result<()> {
    let t = Tree::create(st, s, TreeType::Dir, ino, ctx.csum_seed)?;
    dir.set_btree_root(t.root);
    dir.map_count = 0;
    dir.blocks = 1;
    dir.size = BLOCK_SIZE_U64;
    Ok(())
}

/// Looks `name` up; returns its cookie and entry.
pub fn dir_lookup<S: NodeStore + ?Sized>(
    dir: &Inode,
    ino: u64,
    ctx: &FsCtx,
    st: &mut S,
    s: &mut Scratch,
    name: &[u8],
) -> Result<Option<(u64, DirEntry)>> {
    validate_name(name)?;
    let t = tree_of(dir, ino, ctx)?;
    let base = name_key_base(&ctx.hash_key, name);
    let mut v = [0u8; DIRENT_VALUE_SIZE];
    let mut at = base;
    while let Some(k) = t.find_ge(st, s, at, &mut v)? {
        if k > base + 255 {
            break;
        }
        let e = DirEntry::decode(&v)?;
        if e.name() == name {
            return Ok(Some((k, e)));
        }
        at = k + 1;
    }
    Ok(None)
}

/// Adds `name -> child` of type `file_type`; returns the cookie.
/// [`Error::Exists`] if the name is present, [`Error::NoSpace`] if 256
/// names already share its hash prefix. Updates `map_count`, `blocks`
/// and `size` (`blocks * 4096`) of the directory; the caller updates
/// times and, for a subdirectory, `nlink`.
#[allow(clippy::too_many_arguments)]
pub fn dir_insert<S: NodeStore + ?Sized>(
    dir: &mut Inode,
    ino: u64,
    ctx: &FsCtx,
    st: &mut S,
    s: &mut Scratch,
    name: &[u8],
    child: u64,
    file_type: u8,
) -> Result<u64> {
    let entry = DirEntry::new(name, child, file_type)?;
    let mut t = tree_of(dir, ino, ctx)?;
    let base = name_key_base(&ctx.hash_key, name);
    let mut used = [0u64; 4];
    let mut v = [0u8; DIRENT_VALUE_SIZE];
    let mut at = base;
    while let Some(k) = t.find_ge(st, s, at, &mut v)? {
        if k > base + 255 {
            break;
        }
        if DirEntry::decode(&v)?.name() == name {
            return Err(Error::Exists);
        }
        let seq = (k - base) as usize;
        if let Some(w) = used.get_mut(seq / 64) {
            *w |= 1 << (seq % 64);
        }
        at = k + 1;
    }
    let mut seq = None;
    for (i, w) in used.iter().enumerate() {
        if *w != u64::MAX {
            seq = Some(i as u64 * 64 + u64::from(w.trailing_ones()));
            break;
        }
    }
    let key = base + seq.ok_or(Error::NoSpace)?;
    let mut cs = CountingStore::new(st);
    t.insert(&mut cs, s, key, &entry.encode())?;
    dir.set_btree_root(t.root);
    dir.blocks = cs.adjust(dir.blocks)?;
    dir.size = dir.blocks.saturating_mul(BLOCK_SIZE_U64);
    dir.map_count = dir
        .map_count
        .checked_add(1)
        .ok_or(Error::Corrupt("map_count"))?;
    Ok(key)
}

/// Removes `name`; returns the removed entry. Updates `map_count`,
/// `blocks` and `size`.
pub fn dir_remove<S: NodeStore + ?Sized>(
    dir: &mut Inode,
    ino: u64,
    ctx: &FsCtx,
    st: &mut S,
    s: &mut Scratch,
    name: &[u8],
) -> Result<DirEntry> {
    let (key, e) = dir_lookup(dir, ino, ctx, st, s, name)?.ok_or(Error::NotFound)?;
    let mut t = tree_of(dir, ino, ctx)?;
    let mut cs = CountingStore::new(st);
    t.remove(&mut cs, s, key)?;
    dir.set_btree_root(t.root);
    dir.blocks = cs.adjust(dir.blocks)?;
    dir.size = dir.blocks.saturating_mul(BLOCK_SIZE_U64);
    dir.map_count = dir
        .map_count
        .checked_sub(1)
        .ok_or(Error::Corrupt("map_count"))?;
    Ok(e)
}

/// `readdir`: the first stored entry at position `pos` or later (positions
/// below [`COOKIE_MIN`] start at the first entry). The next position is
/// the returned key + 1. (The kernel's `readdir` walks whole leaves
/// instead; this is for the tools.)
#[cfg(not(CONFIG_DAXFS_FS))]
pub fn dir_next<S: NodeStore + ?Sized>(
    dir: &Inode,
    ino: u64,
    ctx: &FsCtx,
    st: &mut S,
    s: &mut Scratch,
    pos: u64,
) -> Result<Option<(u64, DirEntry)>> {
    if pos >= COOKIE_EOF {
        return Ok(None);
    }
    let t = tree_of(dir, ino, ctx)?;
    let mut v = [0u8; DIRENT_VALUE_SIZE];
    match t.find_ge(st, s, pos.max(COOKIE_MIN), &mut v)? {
        Some(k) => Ok(Some((k, DirEntry::decode(&v)?))),
        None => Ok(None),
    }
}

/// Frees the index of an empty directory (for `rmdir`).
pub fn dir_destroy<S: NodeStore + ?Sized>(
    dir: &mut Inode,
    ino: u64,
    ctx: &FsCtx,
    st: &mut S,
    s: &mut Scratch,
) -> Result<()> {
    if dir.map_count != 0 {
        return Err(Error::Exists);
    }
    tree_of(dir, ino, ctx)?.destroy(st, s)?;
    dir.map = [0; super::inode::INODE_MAP_SIZE];
    dir.blocks = 0;
    dir.size = 0;
    Ok(())
}

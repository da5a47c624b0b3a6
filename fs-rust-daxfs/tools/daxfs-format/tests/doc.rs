// SPDX-License-Identifier: GPL-2.0

//! docs/on-disk-format.md matches the code: every offset row of the
//! document names a constant whose value equals the documented offset,
//! and every `*_OFF_*` constant of the format source is documented.

#![allow(missing_docs)]

use std::collections::HashMap;
use std::path::Path;

use daxfs_format::btree::*;
use daxfs_format::dir::*;
use daxfs_format::extent::*;
use daxfs_format::inode::*;
use daxfs_format::journal::*;
use daxfs_format::superblock::*;

macro_rules! consts {
    ($($c:ident),* $(,)?) => {{
        let mut m = HashMap::new();
        $( m.insert(stringify!($c), $c); )*
        m
    }};
}

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../.."))
}

#[test]
fn doc_offsets_match_code() {
    let known: HashMap<&str, usize> = consts![
        SB_OFF_MAGIC,
        SB_OFF_VERSION_MAJOR,
        SB_OFF_VERSION_MINOR,
        SB_OFF_COMPAT,
        SB_OFF_RO_COMPAT,
        SB_OFF_INCOMPAT,
        SB_OFF_BLOCK_SIZE,
        SB_OFF_INODE_SIZE,
        SB_OFF_BLOCK_COUNT,
        SB_OFF_INODE_COUNT,
        SB_OFF_FREE_BLOCKS,
        SB_OFF_FREE_INODES,
        SB_OFF_UUID,
        SB_OFF_LABEL,
        SB_OFF_JOURNAL_START,
        SB_OFF_JOURNAL_BLOCKS,
        SB_OFF_INODE_BITMAP_START,
        SB_OFF_INODE_BITMAP_BLOCKS,
        SB_OFF_BLOCK_BITMAP_START,
        SB_OFF_BLOCK_BITMAP_BLOCKS,
        SB_OFF_GROUP_TABLE_START,
        SB_OFF_GROUP_TABLE_BLOCKS,
        SB_OFF_INODE_TABLE_START,
        SB_OFF_INODE_TABLE_BLOCKS,
        SB_OFF_DATA_START,
        SB_OFF_DATA_BLOCKS,
        SB_OFF_GROUP_COUNT,
        SB_OFF_BACKUP_SB_BLOCK,
        SB_OFF_ROOT_INO,
        SB_OFF_STATE,
        SB_OFF_ERRORS,
        SB_OFF_MKFS_TIME,
        SB_OFF_MOUNT_TIME,
        SB_OFF_WRITE_TIME,
        SB_OFF_MOUNT_COUNT,
        SB_OFF_FLAGS,
        SB_OFF_DIR_HASH_KEY,
        SB_OFF_NEXT_GENERATION,
        SB_OFF_ORPHAN_HEAD,
        SB_OFF_RESERVED,
        SB_OFF_CHECKSUM,
        INO_OFF_MODE,
        INO_OFF_MAP_KIND,
        INO_OFF_RESERVED0,
        INO_OFF_FLAGS,
        INO_OFF_UID,
        INO_OFF_GID,
        INO_OFF_NLINK,
        INO_OFF_GENERATION,
        INO_OFF_SIZE,
        INO_OFF_BLOCKS,
        INO_OFF_ATIME_SEC,
        INO_OFF_MTIME_SEC,
        INO_OFF_CTIME_SEC,
        INO_OFF_BTIME_SEC,
        INO_OFF_ATIME_NSEC,
        INO_OFF_MTIME_NSEC,
        INO_OFF_CTIME_NSEC,
        INO_OFF_BTIME_NSEC,
        INO_OFF_RDEV,
        INO_OFF_CHECKSUM,
        INO_OFF_PARENT,
        INO_OFF_PREV_ORPHAN,
        INO_OFF_MAP_COUNT,
        INO_OFF_NEXT_ORPHAN,
        INO_OFF_MAP,
        EXT_OFF_LBLK,
        EXT_OFF_PBLK,
        EXT_OFF_LEN,
        EXT_OFF_FLAGS,
        NODE_OFF_MAGIC,
        NODE_OFF_CHECKSUM,
        NODE_OFF_TREE_TYPE,
        NODE_OFF_LEVEL,
        NODE_OFF_NR,
        NODE_OFF_RESERVED,
        NODE_OFF_OWNER,
        NODE_OFF_BLKNO,
        NODE_HEADER_SIZE,
        DE_OFF_INO,
        DE_OFF_NAME_LEN,
        DE_OFF_FILE_TYPE,
        DE_OFF_RESERVED,
        DE_OFF_NAME,
        JH_OFF_MAGIC,
        JH_OFF_COMMIT,
        JH_OFF_APPLIED,
        JH_OFF_LOG_START,
        JH_OFF_LOG_BLOCKS,
        TXN_OFF_MAGIC,
        TXN_OFF_SEQ,
        TXN_OFF_NR,
        TXN_OFF_RESERVED,
        TXN_OFF_BODY_LEN,
        TXN_OFF_RESERVED2,
        REC_OFF_OFFSET,
        REC_OFF_LEN,
        REC_OFF_RESERVED,
        REC_HEADER_SIZE,
    ];
    let doc = std::fs::read_to_string(root().join("docs/on-disk-format.md")).unwrap();
    let mut seen = HashMap::new();
    for line in doc.lines() {
        let cells: Vec<&str> = line.split('|').map(|c| c.trim()).collect();
        if cells.len() < 5 || !cells[1].starts_with("0x") {
            continue;
        }
        let off = usize::from_str_radix(&cells[1][2..], 16).unwrap();
        let Some(name) = cells.iter().find_map(|c| {
            c.strip_prefix('`')
                .and_then(|c| c.strip_suffix('`'))
                .filter(|c| known.contains_key(c))
        }) else {
            panic!("offset row without a known constant: {}", line);
        };
        assert_eq!(
            known[name], off,
            "{}: doc says 0x{:x}, code 0x{:x}",
            name, off, known[name]
        );
        assert!(
            seen.insert(name, off).is_none(),
            "{} documented twice",
            name
        );
    }
    for k in known.keys() {
        assert!(seen.contains_key(k), "{} not documented", k);
    }
    // Every *_OFF_* constant of the source is listed above.
    for f in std::fs::read_dir(root().join("fs-rust-daxfs/format")).unwrap() {
        let src = std::fs::read_to_string(f.unwrap().path()).unwrap();
        for l in src.lines() {
            if let Some(rest) = l.strip_prefix("pub const ") {
                let name = rest.split(':').next().unwrap();
                if name.contains("_OFF_") {
                    assert!(
                        known.contains_key(name),
                        "{} missing from this test and the doc",
                        name
                    );
                }
            }
        }
    }
    // Record sizes stated in the document.
    for (needle, v) in [
        ("`DIRENT_VALUE_SIZE = 272`", DIRENT_VALUE_SIZE == 272),
        ("`INLINE_EXTENTS = 6`", INLINE_EXTENTS == 6),
        ("(`EXTENT_SIZE`)", EXTENT_SIZE == 24),
        ("(`EXTENT_VALUE_SIZE`)", EXTENT_VALUE_SIZE == 16),
        (
            "| interior | child block (`u64`) | 16 | 254 |",
            node_capacity(CHILD_VALUE_SIZE) == 254,
        ),
        (
            "| extent leaf | `pblk, len, flags` | 24 | 169 |",
            node_capacity(EXTENT_VALUE_SIZE) == 169,
        ),
        (
            "| directory leaf | directory entry | 280 | 14 |",
            node_capacity(DIRENT_VALUE_SIZE) == 14,
        ),
        ("512 bytes at byte 0 of block 0", SB_SIZE == 512),
        ("256-byte record", INODE_SIZE == 256),
        ("the root directory is inode 1", ROOT_INO == 1),
        ("`COOKIE_EOF`", COOKIE_EOF == 1 << 62),
        ("< 8 (`MAX_DEPTH`)", MAX_DEPTH == 8),
    ] {
        assert!(doc.contains(needle), "doc lacks {}", needle);
        assert!(v, "code disagrees with doc on {}", needle);
    }
    // Flag values.
    assert_eq!(INODE_FLAG_SEALED, 1);
    assert_eq!(EXTENT_UNWRITTEN, 1);
    assert_eq!(EXTENT_SEALED, 2);
    assert_eq!(
        (MAP_NONE, MAP_EXTENTS, MAP_BTREE, MAP_INLINE_DATA),
        (0, 1, 2, 3)
    );
    assert_eq!((INCOMPAT_SEAL, INCOMPAT_DIRHASH_SIP24), (1, 2));
    assert_eq!((STATE_CLEAN, STATE_DIRTY), (1, 2));
    assert_eq!(SB_MAGIC.to_le_bytes(), *b"DAXFS\0SB");
    assert_eq!(JOURNAL_MAGIC.to_le_bytes(), *b"DAXFSJNL");
    assert_eq!(TXN_MAGIC.to_le_bytes(), *b"DXTX");
    assert_eq!(NODE_MAGIC.to_le_bytes(), *b"DXBT");
}

#[test]
fn doc_lists_every_fsck_class() {
    let doc = std::fs::read_to_string(root().join("docs/on-disk-format.md")).unwrap();
    let src = std::fs::read_to_string(root().join("fs-rust-daxfs/tools/daxfs-tools/src/fsck.rs"))
        .unwrap();
    let mut n = 0;
    for l in src.lines() {
        let l = l.trim();
        if let Some(rest) = l.strip_prefix("pub const ") {
            if let Some((_, v)) = rest.split_once("&str = \"") {
                let code = v.trim_end_matches("\";");
                assert!(
                    doc.contains(&format!("| `{}` |", code)),
                    "fsck class {} not in the doc",
                    code
                );
                n += 1;
            }
        }
    }
    assert!(n >= 30, "{}", n);
}

// SPDX-License-Identifier: GPL-2.0

//! dump.daxfs: print the on-disk structures for debugging.

use std::fmt::Write;

use daxfs_format::alloc::{bit_test, group_used};
use daxfs_format::btree::{node_child, node_header, node_key, node_value, TreeType};
use daxfs_format::dir::DirEntry;
use daxfs_format::extent::Extent;
use daxfs_format::inode::*;
use daxfs_format::journal::{commit_crc, commit_seq, JournalHeader};
use daxfs_format::superblock::*;
use daxfs_format::{Block, BLOCK_SIZE, BLOCK_SIZE_U64};

use crate::fs::Fs;
use crate::util::format_uuid;

/// What to print.
#[derive(Clone, Debug, Default)]
pub struct DumpOptions {
    /// Only this inode (with its tree nodes).
    pub inode: Option<u64>,
    /// Print every in-use inode.
    pub inodes: bool,
    /// Print the group table.
    pub groups: bool,
}

fn ts(t: &Timespec) -> String {
    format!("{}.{:09}", t.sec, t.nsec)
}

/// Superblock and journal header.
pub fn dump_super(fs: &Fs, out: &mut String) {
    let sb = &fs.sb;
    let l = &sb.layout;
    let _ = writeln!(out, "superblock:");
    let _ = writeln!(
        out,
        "  version {}.{}  features compat 0x{:x} ro_compat 0x{:x} incompat 0x{:x}",
        sb.version_major,
        sb.version_minor,
        sb.feature_compat,
        sb.feature_ro_compat,
        sb.feature_incompat
    );
    let _ = writeln!(
        out,
        "  uuid {}  label \"{}\"",
        format_uuid(&sb.uuid),
        String::from_utf8_lossy(sb.label_bytes())
    );
    let _ = writeln!(
        out,
        "  blocks {} (block size {})  inodes {} (inode size {})  root {}",
        l.block_count, BLOCK_SIZE, l.inode_count, INODE_SIZE, sb.root_ino
    );
    let _ = writeln!(
        out,
        "  free blocks {}  free inodes {}",
        sb.free_blocks, sb.free_inodes
    );
    let _ = writeln!(
        out,
        "  state {} errors {} mkfs {} mount {} write {} mounts {} next generation {}",
        match sb.state {
            STATE_CLEAN => "clean",
            STATE_DIRTY => "dirty",
            _ => "?",
        },
        sb.errors,
        sb.mkfs_time,
        sb.mount_time,
        sb.write_time,
        sb.mount_count,
        sb.next_generation
    );
    let _ = writeln!(out, "  areas (block, count):");
    for (n, s, c) in [
        ("journal", l.journal_start, l.journal_blocks),
        ("inode bitmap", l.inode_bitmap_start, l.inode_bitmap_blocks),
        ("block bitmap", l.block_bitmap_start, l.block_bitmap_blocks),
        ("group table", l.group_table_start, l.group_table_blocks),
        ("inode table", l.inode_table_start, l.inode_table_blocks),
        ("data", l.data_start, l.data_blocks),
        ("backup superblock", l.backup_sb_block, 1),
    ] {
        let _ = writeln!(out, "    {:<18} {:>12} {:>12}", n, s, c);
    }
    let _ = writeln!(
        out,
        "  groups {} (last has {} missing blocks)",
        l.group_count,
        l.tail_missing()
    );
    let mut jb: Block = [0; BLOCK_SIZE];
    let _ = writeln!(out, "journal:");
    match fs
        .dev
        .read_block(l.journal_start, &mut jb)
        .map_err(|e| e.to_string())
        .and_then(|_| JournalHeader::decode(&jb, l).map_err(|e| e.to_string()))
    {
        Ok(h) => {
            let _ = writeln!(
                out,
                "  commit seq {} crc 0x{:08x}  applied {}  log blocks {}..{}  state {:?}",
                commit_seq(h.commit),
                commit_crc(h.commit),
                h.applied,
                h.log_start,
                h.log_start + h.log_blocks,
                daxfs_format::journal::journal_state(&h)
            );
        }
        Err(e) => {
            let _ = writeln!(out, "  invalid: {}", e);
        }
    }
}

fn dump_tree(fs: &Fs, blk: u64, depth: usize, out: &mut String) {
    let pad = "    ".repeat(depth + 1);
    let mut b: Block = [0; BLOCK_SIZE];
    if !fs.layout().in_data(blk, 1) || fs.dev.read_block(blk, &mut b).is_err() {
        let _ = writeln!(out, "{}node {}: unreadable", pad, blk);
        return;
    }
    let h = match node_header(&b) {
        Ok(h) => h,
        Err(e) => {
            let _ = writeln!(out, "{}node {}: {}", pad, blk, e);
            return;
        }
    };
    let _ = writeln!(
        out,
        "{}node {} {:?} level {} nr {} owner {} self {}",
        pad, blk, h.tree, h.level, h.nr, h.owner, h.blkno
    );
    for i in 0..usize::from(h.nr) {
        let k = node_key(&b, i).unwrap_or(0);
        if h.level > 0 {
            let c = node_child(&b, i).unwrap_or(0);
            let _ = writeln!(out, "{}  key {} -> child {}", pad, k, c);
            if depth < 8 && c != blk {
                dump_tree(fs, c, depth + 1, out);
            }
        } else {
            let v = node_value(&b, i).unwrap_or(&[]);
            match h.tree {
                TreeType::Extent => {
                    if let Ok(e) = Extent::decode_value(k, v) {
                        let _ = writeln!(out, "{}  {}", pad, ext(&e));
                    }
                }
                TreeType::Dir => match DirEntry::decode(v) {
                    Ok(e) => {
                        let _ = writeln!(
                            out,
                            "{}  cookie 0x{:016x} -> inode {} type {} '{}'",
                            pad,
                            k,
                            e.ino,
                            e.file_type,
                            String::from_utf8_lossy(e.name()).escape_default()
                        );
                    }
                    Err(err) => {
                        let _ = writeln!(out, "{}  cookie 0x{:016x}: {}", pad, k, err);
                    }
                },
            }
        }
    }
}

fn ext(e: &Extent) -> String {
    let mut f = String::new();
    if e.flags & daxfs_format::extent::EXTENT_UNWRITTEN != 0 {
        f.push_str(" UNWRITTEN");
    }
    if e.flags & daxfs_format::extent::EXTENT_SEALED != 0 {
        f.push_str(" SEALED");
    }
    format!("lblk {} -> pblk {} len {}{}", e.lblk, e.pblk, e.len, f)
}

/// One inode, with its map.
pub fn dump_inode(fs: &Fs, ino: u64, out: &mut String) {
    let raw = match fs.inode_raw(ino) {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(out, "inode {}: {}", ino, e);
            return;
        }
    };
    let status = match Inode::decode(&raw, ino, fs.ctx.csum_seed) {
        Ok(None) => {
            let _ = writeln!(out, "inode {}: free", ino);
            return;
        }
        Ok(Some(_)) => "ok".to_string(),
        Err(e) => format!("INVALID: {}", e),
    };
    let Ok(i) = Inode::decode_raw(&raw) else {
        return;
    };
    let _ = writeln!(
        out,
        "inode {} [{}]: mode 0{:o} map_kind {} flags 0x{:x}{} uid {} gid {} nlink {} gen {}",
        ino,
        status,
        i.mode,
        i.map_kind,
        i.flags,
        match (i.is_sealed(), i.seal_intent()) {
            (true, true) => " (SEALED, SEAL_INTENT)",
            (true, false) => " (SEALED)",
            (false, true) => " (SEAL_INTENT)",
            (false, false) => "",
        },
        i.uid,
        i.gid,
        i.nlink,
        i.generation
    );
    let _ = writeln!(
        out,
        "    size {} blocks {} rdev 0x{:x} parent {} map_count {}",
        i.size, i.blocks, i.rdev, i.parent, i.map_count
    );
    if i.next_orphan != 0 || i.prev_orphan != 0 || i.belongs_on_orphan_list() {
        let _ = writeln!(
            out,
            "    orphan list: next {} prev {}",
            i.next_orphan, i.prev_orphan
        );
    }
    let _ = writeln!(
        out,
        "    atime {} mtime {} ctime {} btime {}",
        ts(&i.atime),
        ts(&i.mtime),
        ts(&i.ctime),
        ts(&i.btime)
    );
    match i.map_kind {
        MAP_EXTENTS => {
            for k in 0..(i.map_count as usize).min(daxfs_format::extent::INLINE_EXTENTS) {
                if let Ok(e) = Extent::decode_inline(&i.map, k) {
                    let _ = writeln!(out, "    inline {}", ext(&e));
                }
            }
        }
        MAP_BTREE => {
            let _ = writeln!(out, "    b+tree root {}", i.btree_root());
            dump_tree(fs, i.btree_root(), 0, out);
        }
        MAP_INLINE_DATA => {
            if let Ok(d) = i.inline_data() {
                let _ = writeln!(
                    out,
                    "    inline data \"{}\"",
                    String::from_utf8_lossy(d).escape_default()
                );
            }
        }
        _ => {}
    }
}

/// Everything requested by `o`.
pub fn dump(fs: &Fs, o: &DumpOptions) -> String {
    let mut out = String::new();
    if let Some(ino) = o.inode {
        dump_inode(fs, ino, &mut out);
        return out;
    }
    dump_super(fs, &mut out);
    let l = *fs.layout();
    if o.groups {
        let mut gt = vec![0u8; (l.group_table_blocks * BLOCK_SIZE_U64) as usize];
        if fs
            .dev
            .read_at(l.group_table_start * BLOCK_SIZE_U64, &mut gt)
            .is_ok()
        {
            let _ = writeln!(
                out,
                "group table (used blocks per 2 MiB group, non-zero only):"
            );
            for g in 0..l.group_count {
                let u = group_used(&gt, g);
                if u != 0 {
                    let _ = writeln!(
                        out,
                        "  group {:>8} block {:>12}: {:>3} used",
                        g,
                        l.data_start + g * 512,
                        u
                    );
                }
            }
        }
    }
    let mut ibm = vec![0u8; (l.inode_bitmap_blocks * BLOCK_SIZE_U64) as usize];
    if fs
        .dev
        .read_at(l.inode_bitmap_start * BLOCK_SIZE_U64, &mut ibm)
        .is_ok()
    {
        let used: Vec<u64> = (1..l.inode_count).filter(|&i| bit_test(&ibm, i)).collect();
        let _ = writeln!(out, "inodes in use (bitmap): {}", used.len());
        if o.inodes {
            for i in used {
                dump_inode(fs, i, &mut out);
            }
        } else {
            dump_inode(fs, ROOT_INO, &mut out);
        }
    }
    out
}

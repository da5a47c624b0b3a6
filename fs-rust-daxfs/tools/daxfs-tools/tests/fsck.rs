// SPDX-License-Identifier: GPL-2.0

//! fsck.daxfs: every corruption class is injected into a valid image and
//! must be reported with its specific code and a nonzero exit by `-n`;
//! repairable ones are repaired by `-p` or `-y` (exit 1) and the image is
//! then clean (exit 0).

#![allow(missing_docs)]

mod common;

use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use daxfs_format::alloc::bit_set;
use daxfs_format::btree::{node_header, node_seal, node_value, NodeStore, Scratch, Tree, TreeType};
use daxfs_format::dir::*;
use daxfs_format::extent::*;
use daxfs_format::inode::*;
use daxfs_format::journal::*;
use daxfs_format::superblock::*;
use daxfs_format::{Block, BLOCK_SIZE, BLOCK_SIZE_U64};
use daxfs_tools::alloc::Alloc;
use daxfs_tools::fs::Fs;
use daxfs_tools::fsck::{code, Mode, EXIT_CORRECTED, EXIT_OK, EXIT_UNCORRECTED};

const FSCK: &str = env!("CARGO_BIN_EXE_fsck-daxfs");

/// Builds the base image: a small tree, a 40-entry directory (multi-level
/// index), a fragmented file with an extent B+tree, and a sealed file.
fn base(dir: &Path) -> PathBuf {
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::create_dir_all(src.join("many")).unwrap();
    std::fs::write(src.join("f1"), vec![1u8; 5 * 4096]).unwrap();
    std::fs::write(src.join("f2"), vec![2u8; 3 * 4096]).unwrap();
    std::fs::write(src.join("sub/g"), b"gee").unwrap();
    for i in 0..40 {
        std::fs::write(src.join(format!("many/m{:02}", i)), b"m").unwrap();
    }
    std::os::unix::fs::symlink("/".to_string() + &"t/".repeat(200), src.join("longlink")).unwrap();
    let img = dir.join("base.img");
    common::make_image(&img, 12 << 20, Some(&src));

    let mut fs = Fs::open(&img, true).unwrap();
    let mut a = Alloc::load(&fs).unwrap();
    let mut s = Box::new(Scratch::new());
    let ctx = fs.ctx;
    let mut root = fs.inode(ROOT_INO).unwrap();
    let t = Timespec {
        sec: 1_700_000_000,
        nsec: 1,
    };
    // Fragmented file: 200 one-block extents at every other block.
    let fino = a.alloc_ino().unwrap();
    let mut f = Inode::new(S_IFREG | 0o644, 0, 0, t);
    for k in 0..200u64 {
        let pblk = a.alloc_one().unwrap();
        let mut st = fs.store_rw(&mut a);
        map_insert(
            &mut f,
            fino,
            &ctx,
            &mut st,
            &mut s,
            Extent {
                lblk: 2 * k,
                pblk,
                len: 1,
                flags: 0,
            },
        )
        .unwrap();
    }
    f.size = 400 * 4096;
    assert_eq!(f.map_kind, MAP_BTREE);
    fs.write_inode(fino, &f).unwrap();
    // Sealed file: two sealed extents covering its 8 blocks.
    let sino = a.alloc_ino().unwrap();
    let mut sf = Inode::new(S_IFREG | 0o600, 0, 0, t);
    for k in 0..2u64 {
        let run = a.alloc_blocks(4).unwrap();
        let mut st = fs.store_rw(&mut a);
        map_insert(
            &mut sf,
            sino,
            &ctx,
            &mut st,
            &mut s,
            Extent {
                lblk: 4 * k,
                pblk: run[0].0,
                len: 4,
                flags: EXTENT_SEALED,
            },
        )
        .unwrap();
    }
    sf.size = 8 * 4096;
    sf.flags |= INODE_FLAG_SEALED;
    fs.write_inode(sino, &sf).unwrap();
    {
        let mut st = fs.store_rw(&mut a);
        dir_insert(
            &mut root, ROOT_INO, &ctx, &mut st, &mut s, b"frag", fino, DT_REG,
        )
        .unwrap();
        dir_insert(
            &mut root, ROOT_INO, &ctx, &mut st, &mut s, b"sealed", sino, DT_REG,
        )
        .unwrap();
    }
    fs.write_inode(ROOT_INO, &root).unwrap();
    a.store(&mut fs).unwrap();
    let r = common::check(&img, Mode::No);
    assert_eq!(r.exit, EXIT_OK, "base image not clean: {:?}", r.lines);
    img
}

struct Img {
    path: PathBuf,
}

impl Img {
    fn fs(&self) -> Fs {
        Fs::open(&self.path, true).unwrap()
    }
    fn ino(&self, p: &str) -> u64 {
        self.fs().lookup_path(p).unwrap()
    }
    fn edit_inode(&self, ino: u64, f: impl FnOnce(&mut Inode)) {
        let fs = self.fs();
        let mut i = Inode::decode_raw(&fs.inode_raw(ino).unwrap()).unwrap();
        f(&mut i);
        fs.write_inode(ino, &i).unwrap();
    }
    fn write(&self, off: u64, b: &[u8]) {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(&self.path)
            .unwrap();
        f.write_all_at(b, off).unwrap();
    }
    fn read(&self, off: u64, b: &mut [u8]) {
        std::fs::File::open(&self.path)
            .unwrap()
            .read_exact_at(b, off)
            .unwrap();
    }
    fn flip(&self, off: u64, mask: u8) {
        let mut b = [0u8];
        self.read(off, &mut b);
        b[0] ^= mask;
        self.write(off, &b);
    }
    /// Rewrites a B+tree node (resealed, so only the semantic change is
    /// visible).
    fn edit_node(&self, blk: u64, f: impl FnOnce(&mut Block)) {
        let fs = self.fs();
        let mut b: Block = [0; BLOCK_SIZE];
        fs.dev.read_block(blk, &mut b).unwrap();
        f(&mut b);
        node_seal(&mut b, fs.ctx.csum_seed);
        self.write(blk * BLOCK_SIZE_U64, &b);
    }
    /// First leaf of a directory index (the root if it is a leaf, else the
    /// first child).
    fn dir_leaf(&self, dir: u64) -> u64 {
        let fs = self.fs();
        let d = fs.inode(dir).unwrap();
        let mut blk = d.btree_root();
        loop {
            let mut b: Block = [0; BLOCK_SIZE];
            fs.dev.read_block(blk, &mut b).unwrap();
            let h = node_header(&b).unwrap();
            if h.level == 0 {
                return blk;
            }
            blk = daxfs_format::btree::node_child(&b, 0).unwrap();
        }
    }
    /// The leaf slot of `name` in directory `dir`: (leaf block, index).
    fn dirent_slot(&self, dir: u64, name: &[u8]) -> (u64, usize) {
        let fs = self.fs();
        let d = fs.inode(dir).unwrap();
        let mut s = Box::new(Scratch::new());
        let (key, _) = dir_lookup(&d, dir, &fs.ctx, &mut fs.store(), &mut s, name)
            .unwrap()
            .unwrap();
        let t = Tree {
            tree: TreeType::Dir,
            owner: dir,
            seed: fs.ctx.csum_seed,
            root: d.btree_root(),
        };
        let mut blk = t.root;
        loop {
            let mut b: Block = [0; BLOCK_SIZE];
            fs.store().read(blk, &mut b).unwrap();
            let h = node_header(&b).unwrap();
            if h.level == 0 {
                let i = daxfs_format::btree::node_search(&b, key).unwrap().unwrap();
                return (blk, i);
            }
            let i = daxfs_format::btree::node_child_index(&b, key).unwrap();
            blk = daxfs_format::btree::node_child(&b, i).unwrap();
        }
    }
    fn edit_dirent(&self, dir: u64, name: &[u8], f: impl FnOnce(&mut [u8])) {
        let (blk, i) = self.dirent_slot(dir, name);
        self.edit_node(blk, |b| {
            let mut v = node_value(b, i).unwrap().to_vec();
            f(&mut v);
            daxfs_format::btree::node_set_value(b, i, &v).unwrap();
        });
    }
    fn extents(&self, ino: u64) -> Vec<Extent> {
        let fs = self.fs();
        let i = fs.inode(ino).unwrap();
        fs.extents(ino, &i).unwrap()
    }
    fn layout(&self) -> Layout {
        *self.fs().layout()
    }
    /// The state a crash half way through sealing (or unsealing) regular
    /// file `ino` leaves: the seal intent set, every `every`-th extent
    /// SEALED (the others not). Does not touch the orphan list.
    fn half_seal(&self, ino: u64, every: usize) {
        let fs = self.fs();
        let mut i = fs.inode(ino).unwrap();
        let mut s = Box::new(Scratch::new());
        let mut st = fs.store();
        for (k, e) in fs.extents(ino, &i).unwrap().into_iter().enumerate() {
            if k % every == 0 {
                let flags = e.flags | EXTENT_SEALED;
                map_update(&mut i, ino, &fs.ctx, &mut st, &mut s, Extent { flags, ..e }).unwrap();
            }
        }
        i.flags |= INODE_FLAG_SEAL_INTENT;
        fs.write_inode(ino, &i).unwrap();
    }
    /// Links `inos` into the orphan list, in this order, as its only
    /// members.
    fn set_orphan_list(&self, inos: &[u64]) {
        for (k, &ino) in inos.iter().enumerate() {
            let prev = if k == 0 { 0 } else { inos[k - 1] };
            let next = inos.get(k + 1).copied().unwrap_or(0);
            self.edit_inode(ino, |x| {
                x.next_orphan = next as u32;
                x.prev_orphan = prev as u32;
            });
        }
        let mut fs = self.fs();
        fs.sb.orphan_head = inos.first().copied().unwrap_or(0);
        daxfs_tools::mkfs::write_sb(&fs.dev, &fs.sb).unwrap();
    }
    /// (flags, orphan links) of inode `ino` and the flags of its extents.
    fn seal_state(&self, ino: u64) -> (u32, u32, u32, Vec<u32>) {
        let fs = self.fs();
        let i = fs.inode(ino).unwrap();
        let flags = fs
            .extents(ino, &i)
            .unwrap()
            .iter()
            .map(|e| e.flags)
            .collect();
        (i.flags, i.next_orphan, i.prev_orphan, flags)
    }
}

use daxfs_format::Layout;

/// Expected outcome with each mode.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Fixed {
    /// `-p` repairs it.
    Preen,
    /// Only `-y` repairs it.
    Yes,
    /// Nothing repairs it.
    Never,
}

fn run_case(base: &Path, dir: &Path, name: &str, want: &str, fixed: Fixed, inject: impl Fn(&Img)) {
    let path = dir.join(format!("{}.img", name));
    std::fs::copy(base, &path).unwrap();
    let img = Img { path: path.clone() };
    inject(&img);
    // -n: reported with its code, nonzero exit, nothing written.
    let before = std::fs::read(&path).unwrap();
    let r = common::check(&path, Mode::No);
    assert_eq!(
        r.exit, EXIT_UNCORRECTED,
        "{}: -n exit {}: {:?}",
        name, r.exit, r.lines
    );
    assert!(
        r.has(want),
        "{}: {} not reported: {:?}",
        name,
        want,
        r.lines
    );
    let line = r
        .lines
        .iter()
        .find(|l| l.starts_with(&format!("[{}]", want)))
        .unwrap();
    eprintln!("{:<18} {}", name, line);
    assert!(
        std::fs::read(&path).unwrap() == before,
        "{}: -n wrote to the image",
        name
    );
    // The binary agrees (and does not panic: exit 101 would fail here).
    let out = Command::new(FSCK).arg("-n").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(EXIT_UNCORRECTED), "{}", name);
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("[{}]", want)));
    // -p.
    let p = dir.join(format!("{}-p.img", name));
    std::fs::copy(&path, &p).unwrap();
    let rp = common::check(&p, Mode::Preen);
    if fixed == Fixed::Preen {
        assert_eq!(rp.exit, EXIT_CORRECTED, "{}: -p: {:?}", name, rp.lines);
        let again = common::check(&p, Mode::No);
        assert_eq!(again.exit, EXIT_OK, "{}: after -p: {:?}", name, again.lines);
    } else {
        assert_eq!(
            rp.exit, EXIT_UNCORRECTED,
            "{}: -p should not fix: {:?}",
            name, rp.lines
        );
    }
    // -y.
    let ry = common::check(&path, Mode::Yes);
    if fixed == Fixed::Never {
        assert_eq!(ry.exit, EXIT_UNCORRECTED, "{}: -y: {:?}", name, ry.lines);
    } else {
        assert_eq!(ry.exit, EXIT_CORRECTED, "{}: -y: {:?}", name, ry.lines);
        let again = common::check(&path, Mode::No);
        assert_eq!(again.exit, EXIT_OK, "{}: after -y: {:?}", name, again.lines);
    }
    let _ = std::fs::remove_file(&p);
}

#[test]
fn corruption_classes() {
    let dir = common::scratch("fsck");
    let base = base(&dir);
    let b = base.as_path();
    let d = dir.as_path();
    let mut n = 0;
    let mut case = |name: &str, want: &str, fixed: Fixed, f: &dyn Fn(&Img)| {
        run_case(b, d, name, want, fixed, f);
        n += 1;
    };

    case("sb-primary", code::SB_PRIMARY, Fixed::Preen, &|i| {
        i.flip(3, 0x10)
    });
    case("sb-backup", code::SB_BACKUP, Fixed::Preen, &|i| {
        let l = i.layout();
        i.flip(l.backup_sb_block * 4096 + 0x60, 1)
    });
    case("journal-header", code::JOURNAL_HEADER, Fixed::Yes, &|i| {
        let l = i.layout();
        i.flip(l.journal_start * 4096, 0x80)
    });
    case("journal-seq", code::JOURNAL_SEQ, Fixed::Yes, &|i| {
        let l = i.layout();
        i.write(
            l.journal_start * 4096 + JH_OFF_COMMIT as u64,
            &commit_word(9, 0).to_le_bytes(),
        )
    });
    let journal = |i: &Img, bad_crc: bool| {
        let fs = i.fs();
        let l = *fs.layout();
        let ino = fs.lookup_path("f1").unwrap();
        let mut inode = fs.inode(ino).unwrap();
        inode.uid = 4242;
        let mut rec = [0u8; INODE_SIZE];
        inode.encode(ino, fs.ctx.csum_seed, &mut rec);
        let mut log = vec![0u8; ((l.journal_blocks - 1) * 4096) as usize];
        let mut w = TxnWriter::new(&mut log, 1).unwrap();
        w.add(l.inode_offset(ino).unwrap(), &rec).unwrap();
        let (len, mut commit) = w.finish(fs.ctx.csum_seed);
        if bad_crc {
            commit ^= 1 << 40;
        }
        i.write((l.journal_start + 1) * 4096, &log[..len]);
        i.write(
            l.journal_start * 4096 + JH_OFF_COMMIT as u64,
            &commit.to_le_bytes(),
        );
    };
    case("journal-replay", code::JOURNAL_REPLAY, Fixed::Preen, &|i| {
        journal(i, false)
    });
    case("journal-txn", code::JOURNAL_TXN, Fixed::Yes, &|i| {
        journal(i, true)
    });
    case("inode-checksum", code::INODE_CHECKSUM, Fixed::Yes, &|i| {
        let l = i.layout();
        let ino = i.ino("f1");
        i.flip(l.inode_offset(ino).unwrap() + INO_OFF_UID as u64, 4)
    });
    case("inode-bad", code::INODE_BAD, Fixed::Yes, &|i| {
        let ino = i.ino("f2");
        i.edit_inode(ino, |x| x.mode = 0o170644)
    });
    case("inode-reserved", code::INODE_RESERVED, Fixed::Yes, &|i| {
        let l = i.layout();
        i.write(l.inode_table_start * 4096 + 17, &[0xAA])
    });
    case("root-bad", code::ROOT_BAD, Fixed::Never, &|i| {
        i.edit_inode(ROOT_INO, |x| x.parent = 5)
    });
    case("extent-range", code::EXTENT_RANGE, Fixed::Yes, &|i| {
        let l = i.layout();
        let ino = i.ino("f1");
        i.edit_inode(ino, |x| {
            let mut e = Extent::decode_inline(&x.map, 0).unwrap();
            e.pblk = l.block_count + 10;
            e.encode_inline(&mut x.map, 0);
        })
    });
    case("extent-bad", code::EXTENT_BAD, Fixed::Yes, &|i| {
        let ino = i.ino("f1");
        i.edit_inode(ino, |x| {
            let mut e = Extent::decode_inline(&x.map, 0).unwrap();
            e.flags = 0x80;
            e.encode_inline(&mut x.map, 0);
        })
    });
    case("extent-overlap", code::EXTENT_OVERLAP, Fixed::Yes, &|i| {
        let ino = i.ino("frag");
        let l = i.layout();
        let fs = i.fs();
        let f = fs.inode(ino).unwrap();
        // Find the leaf holding lblk 2 and make that extent 3 blocks long
        // (overlapping lblk 4), on free blocks near the end.
        let mut blk = f.btree_root();
        loop {
            let mut b: Block = [0; BLOCK_SIZE];
            fs.dev.read_block(blk, &mut b).unwrap();
            if node_header(&b).unwrap().level == 0 {
                break;
            }
            blk = daxfs_format::btree::node_child(&b, 0).unwrap();
        }
        i.edit_node(blk, |b| {
            let e = Extent {
                lblk: 2,
                pblk: l.data_end() - 10,
                len: 3,
                flags: 0,
            };
            daxfs_format::btree::node_set_value(b, 1, &e.encode_value()).unwrap();
        })
    });
    case("btree-node", code::BTREE_NODE, Fixed::Yes, &|i| {
        let ino = i.ino("many");
        let leaf = i.dir_leaf(ino);
        i.flip(leaf * 4096 + 2000, 1)
    });
    case("block-shared", code::BLOCK_SHARED, Fixed::Never, &|i| {
        let p1 = i.extents(i.ino("f1"))[0].pblk;
        i.edit_inode(i.ino("f2"), |x| {
            let mut e = Extent::decode_inline(&x.map, 0).unwrap();
            e.pblk = p1;
            e.encode_inline(&mut x.map, 0);
        })
    });
    case("sealed-shared", code::SEALED_SHARED, Fixed::Never, &|i| {
        let ps = i.extents(i.ino("sealed"))[0].pblk;
        i.edit_inode(i.ino("f1"), |x| {
            let mut e = Extent::decode_inline(&x.map, 0).unwrap();
            e.pblk = ps;
            e.encode_inline(&mut x.map, 0);
        })
    });
    case(
        "sealed-unwritten",
        code::SEALED_UNWRITTEN,
        Fixed::Never,
        &|i| {
            i.edit_inode(i.ino("sealed"), |x| {
                let mut e = Extent::decode_inline(&x.map, 0).unwrap();
                e.flags |= EXTENT_UNWRITTEN;
                e.encode_inline(&mut x.map, 0);
            })
        },
    );
    case("sealed-hole", code::SEALED_INCOMPLETE, Fixed::Never, &|i| {
        i.edit_inode(i.ino("sealed"), |x| {
            let e1 = Extent::decode_inline(&x.map, 1).unwrap();
            x.map = [0; INODE_MAP_SIZE];
            e1.encode_inline(&mut x.map, 0);
            x.map_count = 1;
            x.blocks = 4;
        })
    });
    case("sealed-stray", code::SEALED_STRAY, Fixed::Preen, &|i| {
        i.edit_inode(i.ino("f1"), |x| {
            let mut e = Extent::decode_inline(&x.map, 0).unwrap();
            e.flags |= EXTENT_SEALED;
            e.encode_inline(&mut x.map, 0);
        })
    });
    // A seal intent with links off the orphan list: mount would never roll
    // it back. (Listed, it is consistent: `seal_intent_on_the_orphan_list`.)
    case(
        "seal-intent-unlisted",
        code::SEAL_INTENT_UNLISTED,
        Fixed::Preen,
        &|i| i.half_seal(i.ino("frag"), 3),
    );
    case("inode-blocks", code::INODE_BLOCKS, Fixed::Preen, &|i| {
        i.edit_inode(i.ino("f1"), |x| x.blocks += 7)
    });
    case("map-count", code::MAP_COUNT, Fixed::Preen, &|i| {
        i.edit_inode(i.ino("frag"), |x| x.map_count -= 1)
    });
    case("symlink-bad", code::SYMLINK_BAD, Fixed::Yes, &|i| {
        let p = i.extents(i.ino("longlink"))[0].pblk;
        i.write(p * 4096 + 10, &[0])
    });
    case("dirent-bad", code::DIRENT_BAD, Fixed::Yes, &|i| {
        let many = i.ino("many");
        i.edit_dirent(many, b"m07", |v| v[DE_OFF_NAME_LEN] = 0)
    });
    case("dir-hash", code::DIR_HASH, Fixed::Preen, &|i| {
        i.edit_dirent(ROOT_INO, b"f2", |v| v[DE_OFF_NAME + 1] = b'3')
    });
    case("dir-dangling", code::DIR_DANGLING, Fixed::Yes, &|i| {
        let l = i.layout();
        let ino = i.ino("f2");
        i.write(l.inode_offset(ino).unwrap(), &[0u8; INODE_SIZE])
    });
    case("dir-type", code::DIR_TYPE, Fixed::Preen, &|i| {
        i.edit_dirent(ROOT_INO, b"f1", |v| v[DE_OFF_FILE_TYPE] = DT_LNK)
    });
    case("dir-parent", code::DIR_PARENT, Fixed::Preen, &|i| {
        i.edit_inode(i.ino("sub"), |x| x.parent = 7)
    });
    case("dir-size", code::DIR_SIZE, Fixed::Preen, &|i| {
        i.edit_inode(i.ino("sub"), |x| x.size = 12345)
    });
    case("dir-multi", code::DIR_MULTI, Fixed::Never, &|i| {
        let sub = i.ino("sub");
        let many = i.ino("many");
        let fs = i.fs();
        let mut a = Alloc::load(&fs).unwrap();
        let mut s = Box::new(Scratch::new());
        let mut m = fs.inode(many).unwrap();
        let mut st = fs.store_rw(&mut a);
        dir_insert(
            &mut m,
            many,
            &fs.ctx,
            &mut st,
            &mut s,
            b"sub-again",
            sub,
            DT_DIR,
        )
        .unwrap();
        m.nlink += 1;
        fs.write_inode(many, &m).unwrap();
        let mut fs = fs;
        a.store(&mut fs).unwrap();
    });
    case("unreachable", code::UNREACHABLE, Fixed::Yes, &|i| {
        let sub = i.ino("sub");
        let fs = i.fs();
        let mut a = Alloc::load(&fs).unwrap();
        let mut s = Box::new(Scratch::new());
        let mut d = fs.inode(sub).unwrap();
        let mut st = fs.store_rw(&mut a);
        dir_remove(&mut d, sub, &fs.ctx, &mut st, &mut s, b"g").unwrap();
        fs.write_inode(sub, &d).unwrap();
        let mut fs = fs;
        a.store(&mut fs).unwrap();
    });
    case("nlink", code::NLINK, Fixed::Preen, &|i| {
        i.edit_inode(i.ino("f1"), |x| x.nlink = 5)
    });
    case("block-bitmap", code::BLOCK_BITMAP, Fixed::Preen, &|i| {
        let l = i.layout();
        let p = i.extents(i.ino("f1"))[0].pblk;
        let bit = p - l.data_start;
        let off = l.block_bitmap_start * 4096 + bit / 8;
        i.flip(off, 1 << (bit % 8))
    });
    case("group-table", code::GROUP_TABLE, Fixed::Preen, &|i| {
        let l = i.layout();
        i.flip(l.group_table_start * 4096, 2)
    });
    case("inode-bitmap", code::INODE_BITMAP, Fixed::Preen, &|i| {
        let l = i.layout();
        let ino = i.ino("f2");
        let mut b = [0u8; 4096];
        i.read(l.inode_bitmap_start * 4096, &mut b);
        bit_set(&mut b, ino, false);
        i.write(l.inode_bitmap_start * 4096, &b)
    });
    let sb_edit = |i: &Img, f: &dyn Fn(&mut Superblock)| {
        let mut fs = i.fs();
        f(&mut fs.sb);
        daxfs_tools::mkfs::write_sb(&fs.dev, &fs.sb).unwrap();
    };
    case("free-blocks", code::FREE_BLOCKS, Fixed::Preen, &|i| {
        sb_edit(i, &|s| s.free_blocks -= 5)
    });
    case("free-inodes", code::FREE_INODES, Fixed::Preen, &|i| {
        sb_edit(i, &|s| s.free_inodes += 1)
    });
    case("sb-errors", code::SB_ERRORS, Fixed::Preen, &|i| {
        sb_edit(i, &|s| s.errors = 1)
    });
    let unlink = |i: &Img, dir: &str, name: &str| -> u64 {
        let d = i.ino(dir);
        let fs = i.fs();
        let mut a = Alloc::load(&fs).unwrap();
        let mut s = Box::new(Scratch::new());
        let mut di = fs.inode(d).unwrap();
        let mut st = fs.store_rw(&mut a);
        let e = dir_remove(&mut di, d, &fs.ctx, &mut st, &mut s, name.as_bytes()).unwrap();
        fs.write_inode(d, &di).unwrap();
        let mut fs = fs;
        a.store(&mut fs).unwrap();
        i.edit_inode(e.ino, |x| x.nlink = 0);
        e.ino
    };
    case("orphan", code::ORPHAN, Fixed::Preen, &|i| {
        let ino = unlink(i, "/", "f1");
        let g = unlink(i, "sub", "g");
        i.edit_inode(ino, |x| x.next_orphan = g as u32);
        i.edit_inode(g, |x| x.prev_orphan = ino as u32);
        sb_edit(i, &|s| s.orphan_head = ino);
    });
    case("orphan-unlisted", code::ORPHAN, Fixed::Preen, &|i| {
        unlink(i, "sub", "g");
    });
    case("orphan-list", code::ORPHAN_LIST, Fixed::Preen, &|i| {
        let f2 = i.ino("f2");
        sb_edit(i, &|s| s.orphan_head = f2);
    });
    case("orphan-link", code::ORPHAN_LIST, Fixed::Preen, &|i| {
        i.edit_inode(i.ino("f2"), |x| x.next_orphan = 9);
    });
    case("orphan-back-link", code::ORPHAN_LIST, Fixed::Preen, &|i| {
        i.edit_inode(i.ino("f2"), |x| x.prev_orphan = 9);
    });
    case("orphan-list-back", code::ORPHAN_LIST, Fixed::Preen, &|i| {
        // A well-formed forward list whose second inode links back wrong.
        let ino = unlink(i, "/", "f1");
        let g = unlink(i, "sub", "g");
        i.edit_inode(ino, |x| x.next_orphan = g as u32);
        i.edit_inode(g, |x| x.prev_orphan = 7);
        sb_edit(i, &|s| s.orphan_head = ino);
    });
    case("device-size", code::SB_DEVICE_SIZE, Fixed::Never, &|i| {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(&i.path)
            .unwrap();
        f.set_len(8 << 20).unwrap();
    });
    assert!(n >= 41, "{} cases", n);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A linked file on the orphan list with a seal intent (a seal or unseal
/// that a crash interrupted) is consistent: `-n` reports nothing for it
/// (not even its SEALED extents: no `SEALED_STRAY`) and exits 0; `-p` and
/// `-y` roll it back as mount does (every extent flag cleared, then the
/// intent, the inode off the list) and say so (`SEAL_INTENT`, exit 1).
/// With unlinked orphans on the same list, both are handled in one pass
/// and the list ends empty. The unlisted case is `seal-intent-unlisted` in
/// `corruption_classes`; a SEALED extent without an intent is
/// `sealed-stray`.
#[test]
fn seal_intent_on_the_orphan_list() {
    let dir = common::scratch("fsck-seal-intent");
    let base = base(&dir);
    let copy = |name: &str| {
        let p = dir.join(name);
        std::fs::copy(&base, &p).unwrap();
        Img { path: p }
    };
    // One listed file with an extent tree, every other extent SEALED.
    let a = copy("listed.img");
    let frag = a.ino("frag");
    let extents0 = a.extents(frag);
    a.half_seal(frag, 2);
    a.set_orphan_list(&[frag]);
    let st = a.seal_state(frag);
    assert_eq!(st.0 & INODE_FLAG_SEAL_INTENT, INODE_FLAG_SEAL_INTENT);
    assert!(st.3.contains(&EXTENT_SEALED) && st.3.contains(&0));
    let before = std::fs::read(&a.path).unwrap();
    let r = common::check(&a.path, Mode::No);
    assert_eq!(r.exit, EXIT_OK, "{:?}", r.lines);
    assert!(r.problems.is_empty() && r.lines.is_empty(), "{:?}", r.lines);
    assert!(std::fs::read(&a.path).unwrap() == before, "-n wrote");
    let (rc, out) = fsck_bin(&["-n"], &a.path);
    assert_eq!(rc, EXIT_OK, "{}", out);
    // dump.daxfs shows the intent and the list.
    let d = daxfs_tools::dump::dump(
        &a.fs(),
        &daxfs_tools::dump::DumpOptions {
            inode: Some(frag),
            ..Default::default()
        },
    );
    assert!(d.contains(" (SEAL_INTENT)"), "{}", d);
    assert!(d.contains("orphan list: next 0 prev 0"), "{}", d);
    // -p and -y roll it back identically.
    let y = copy("listed-y.img");
    std::fs::copy(&a.path, &y.path).unwrap();
    for (img, mode) in [(&a, Mode::Preen), (&y, Mode::Yes)] {
        let r = common::check(&img.path, mode);
        assert_eq!(r.exit, EXIT_CORRECTED, "{:?}: {:?}", mode, r.lines);
        assert_eq!(r.problems.len(), 1, "{:?}: {:?}", mode, r.lines);
        assert!(
            r.lines[0].starts_with(&format!("[{}] inode {} ", code::SEAL_INTENT, frag))
                && r.lines[0].ends_with(" - fixed"),
            "{:?}",
            r.lines
        );
        let again = common::check(&img.path, Mode::No);
        assert_eq!(again.exit, EXIT_OK, "{:?}", again.lines);
        assert_eq!(img.seal_state(frag), (0, 0, 0, vec![0; extents0.len()]));
        assert_eq!(img.extents(frag), extents0, "the map changed");
        assert_eq!(img.fs().sb.orphan_head, 0);
    }
    assert!(std::fs::read(&a.path).unwrap() == std::fs::read(&y.path).unwrap());
    assert!(std::fs::read(&a.path).unwrap() != before);

    // Unlinks sub/g, leaving it allocated (an orphan); returns it.
    let unlink_g = |m: &Img| {
        let sub = m.ino("sub");
        let g = m.ino("sub/g");
        let fs = m.fs();
        let mut a = Alloc::load(&fs).unwrap();
        let mut s = Box::new(Scratch::new());
        let mut d = fs.inode(sub).unwrap();
        let mut st = fs.store_rw(&mut a);
        dir_remove(&mut d, sub, &fs.ctx, &mut st, &mut s, b"g").unwrap();
        fs.write_inode(sub, &d).unwrap();
        let mut fs = fs;
        a.store(&mut fs).unwrap();
        m.edit_inode(g, |x| x.nlink = 0);
        g
    };
    // Two intents and an unlinked orphan between them: -n reports only the
    // orphan; -p frees it and rolls both back.
    let m = copy("mixed.img");
    let (f1, f2) = (m.ino("f1"), m.ino("f2"));
    let g = unlink_g(&m);
    m.half_seal(f1, 1);
    m.half_seal(f2, 1);
    m.set_orphan_list(&[f1, g, f2]);
    let r = common::check(&m.path, Mode::No);
    assert_eq!(r.exit, EXIT_UNCORRECTED, "{:?}", r.lines);
    assert!(
        r.problems.iter().all(|p| p.code == code::ORPHAN) && r.problems.len() == 1,
        "{:?}",
        r.lines
    );
    let r = common::check(&m.path, Mode::Preen);
    assert_eq!(r.exit, EXIT_CORRECTED, "{:?}", r.lines);
    // The freed orphan's blocks and inode come back through accounting.
    let accounting = [
        code::BLOCK_BITMAP,
        code::GROUP_TABLE,
        code::INODE_BITMAP,
        code::FREE_BLOCKS,
        code::FREE_INODES,
    ];
    let mut codes: Vec<&str> = r
        .problems
        .iter()
        .map(|p| p.code)
        .filter(|c| !accounting.contains(c))
        .collect();
    codes.sort();
    assert_eq!(
        codes,
        vec![code::ORPHAN, code::SEAL_INTENT, code::SEAL_INTENT],
        "{:?}",
        r.lines
    );
    let again = common::check(&m.path, Mode::No);
    assert_eq!(again.exit, EXIT_OK, "{:?}", again.lines);
    let fs = m.fs();
    assert_eq!(fs.sb.orphan_head, 0);
    assert!(fs.read_inode(g).unwrap().is_none());
    drop(fs);
    for f in [f1, f2] {
        let (flags, next, prev, ext) = m.seal_state(f);
        assert_eq!((flags, next, prev), (0, 0, 0));
        assert!(ext.iter().all(|&x| x & EXTENT_SEALED == 0));
    }

    // An interrupted seal whose map needs a -y repair first, listed before
    // an orphan: -p frees the orphan and keeps the file listed, its links
    // right; -y removes the bad extent, then rolls the seal back.
    let b = copy("bad-map.img");
    let f1 = b.ino("f1");
    let g = unlink_g(&b);
    b.half_seal(f1, 1);
    let l = b.layout();
    b.edit_inode(f1, |x| {
        let mut e = Extent::decode_inline(&x.map, 0).unwrap();
        e.pblk = l.block_count + 10;
        e.encode_inline(&mut x.map, 0);
    });
    b.set_orphan_list(&[f1, g]);
    let r = common::check(&b.path, Mode::Preen);
    assert_eq!(r.exit, EXIT_UNCORRECTED, "{:?}", r.lines);
    assert!(
        r.lines
            .iter()
            .any(|x| x.starts_with("[SEAL_INTENT] ") && x.ends_with(" - cannot fix")),
        "{:?}",
        r.lines
    );
    assert!(b.fs().read_inode(g).unwrap().is_none());
    assert_eq!(b.fs().sb.orphan_head, f1);
    // (Its map still holds the bad extent, which the map functions refuse
    // to return: read the links from the inode.)
    let i = b.fs().inode(f1).unwrap();
    assert_eq!(
        (i.next_orphan, i.prev_orphan),
        (0, 0),
        "links of the last member left"
    );
    // -n: the bad extent (and the accounting it holds back); the listed
    // intent is consistent, the list too.
    let r = common::check(&b.path, Mode::No);
    assert!(
        r.has(code::EXTENT_RANGE)
            && r.problems
                .iter()
                .all(|p| p.code == code::EXTENT_RANGE || accounting.contains(&p.code)),
        "{:?}",
        r.lines
    );
    let r = common::check(&b.path, Mode::Yes);
    assert_eq!(r.exit, EXIT_CORRECTED, "{:?}", r.lines);
    assert!(r.has(code::SEAL_INTENT), "{:?}", r.lines);
    assert_eq!(common::check(&b.path, Mode::No).exit, EXIT_OK);
    let (flags, next, prev, ext) = b.seal_state(f1);
    // (f1's one extent was the bad one.)
    assert_eq!((flags, next, prev, ext), (0, 0, 0, vec![]));
    assert_eq!(b.fs().sb.orphan_head, 0);

    // Listed with links but no intent: still an error.
    let n = copy("linked.img");
    n.set_orphan_list(&[n.ino("f1")]);
    let r = common::check(&n.path, Mode::No);
    assert!(r.has(code::ORPHAN_LIST), "{:?}", r.lines);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A crash while a committed transaction was applied can tear the primary
/// superblock (some of its new words written, the checksum not). The
/// replay completes it: fsck must not first write the backup over it,
/// whose counters and orphan list are older (the kernel never writes the
/// backup), or the replay would leave the backup's orphan list (here: an
/// orphan not on the list any more) under the transaction's changes.
#[test]
fn torn_primary_is_completed_by_the_replay() {
    let dir = common::scratch("fsck-torn");
    let img = base(&dir);
    let fs = Fs::open(&img, true).unwrap();
    let l = *fs.layout();
    // An orphan the backup does not know about: g, unlinked while open
    // (listed in the primary only, as the kernel does).
    let sub = fs.lookup_path("sub").unwrap();
    let g = fs.lookup_path("sub/g").unwrap();
    {
        let mut a = Alloc::load(&fs).unwrap();
        let mut s = Box::new(Scratch::new());
        let mut d = fs.inode(sub).unwrap();
        let mut st = fs.store_rw(&mut a);
        dir_remove(&mut d, sub, &fs.ctx, &mut st, &mut s, b"g").unwrap();
        fs.write_inode(sub, &d).unwrap();
    }
    let mut gi = fs.inode(g).unwrap();
    gi.nlink = 0;
    fs.write_inode(g, &gi).unwrap();
    let mut old = fs.sb;
    old.orphan_head = g;
    let mut ob = [0u8; SB_SIZE];
    old.encode(&mut ob);
    fs.dev.write_at(0, &ob).unwrap();
    // A committed transaction changing the superblock (a mount), applied
    // only in part: its first changed word made it, the checksum did not.
    let mut new = old;
    new.mount_count += 1;
    new.mount_time = 1_800_000_000;
    let mut nb = [0u8; SB_SIZE];
    new.encode(&mut nb);
    let mut log = vec![0u8; ((l.journal_blocks - 1) * 4096) as usize];
    let mut w = TxnWriter::new(&mut log, 1).unwrap();
    let mut torn = ob;
    let mut first = true;
    for k in (0..SB_SIZE).step_by(8) {
        if ob[k..k + 8] != nb[k..k + 8] {
            w.add(k as u64, &nb[k..k + 8]).unwrap();
            if first {
                torn[k..k + 8].copy_from_slice(&nb[k..k + 8]);
                first = false;
            }
        }
    }
    let (len, commit) = w.finish(fs.ctx.csum_seed);
    fs.dev
        .write_at((l.journal_start + 1) * 4096, &log[..len])
        .unwrap();
    fs.dev
        .write_at(
            l.journal_start * 4096 + JH_OFF_COMMIT as u64,
            &commit.to_le_bytes(),
        )
        .unwrap();
    fs.dev.write_at(0, &torn).unwrap();
    assert!(Superblock::decode(&torn).is_err());
    drop(fs);
    let unlinked = format!("inode {} (regular file) was unlinked while open", g);
    let r = common::check(&img, Mode::No);
    assert_eq!(r.exit, EXIT_UNCORRECTED);
    assert!(
        r.has(code::SB_PRIMARY) && r.has(code::JOURNAL_REPLAY),
        "{:?}",
        r.lines
    );
    assert!(
        r.lines.iter().any(|x| x.contains(&unlinked)),
        "{:?}",
        r.lines
    );
    let r = common::check(&img, Mode::Preen);
    assert_eq!(r.exit, EXIT_CORRECTED, "{:?}", r.lines);
    assert!(
        r.lines.iter().any(|x| x.contains(&unlinked)),
        "{:?}",
        r.lines
    );
    assert!(
        r.problems.iter().all(|p| [
            code::SB_PRIMARY,
            code::JOURNAL_REPLAY,
            code::ORPHAN,
            code::BLOCK_BITMAP,
            code::GROUP_TABLE,
            code::INODE_BITMAP,
            code::FREE_BLOCKS,
            code::FREE_INODES
        ]
        .contains(&p.code)),
        "{:?}",
        r.lines
    );
    assert!(
        r.lines
            .iter()
            .any(|x| x.starts_with("[SB_PRIMARY]") && x.ends_with(" - fixed")),
        "{:?}",
        r.lines
    );
    let fs = Fs::open(&img, false).unwrap();
    assert_eq!(
        (fs.sb.mount_count, fs.sb.mount_time, fs.sb.orphan_head),
        (new.mount_count, new.mount_time, 0)
    );
    assert!(fs.read_inode(g).unwrap().is_none());
    assert_eq!(common::check(&img, Mode::No).exit, EXIT_OK);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn journal_replay_applies_transaction() {
    let dir = common::scratch("replay");
    let img = base(&dir);
    let fs = Fs::open(&img, true).unwrap();
    let l = *fs.layout();
    let ino = fs.lookup_path("f1").unwrap();
    let mut inode = fs.inode(ino).unwrap();
    inode.uid = 777;
    inode.mtime = Timespec { sec: 5, nsec: 6 };
    let mut rec = [0u8; INODE_SIZE];
    inode.encode(ino, fs.ctx.csum_seed, &mut rec);
    let mut log = vec![0u8; ((l.journal_blocks - 1) * 4096) as usize];
    let mut w = TxnWriter::new(&mut log, 1).unwrap();
    w.add(l.inode_offset(ino).unwrap(), &rec).unwrap();
    let (len, commit) = w.finish(fs.ctx.csum_seed);
    fs.dev
        .write_at((l.journal_start + 1) * 4096, &log[..len])
        .unwrap();
    fs.dev
        .write_at(
            l.journal_start * 4096 + JH_OFF_COMMIT as u64,
            &commit.to_le_bytes(),
        )
        .unwrap();
    drop(fs);
    // -n reports the pending transaction and checks the replayed view.
    let r = common::check(&img, Mode::No);
    assert_eq!(r.exit, EXIT_UNCORRECTED);
    assert_eq!(r.problems.len(), 1, "{:?}", r.lines);
    assert_eq!(Fs::open(&img, false).unwrap().inode(ino).unwrap().uid, 0);
    // -p replays it.
    let r = common::check(&img, Mode::Preen);
    assert_eq!(r.exit, EXIT_CORRECTED, "{:?}", r.lines);
    let fs = Fs::open(&img, false).unwrap();
    let i = fs.inode(ino).unwrap();
    assert_eq!((i.uid, i.mtime.sec, i.mtime.nsec), (777, 5, 6));
    let mut jb = [0u8; 4096];
    fs.dev.read_block(l.journal_start, &mut jb).unwrap();
    let h = JournalHeader::decode(&jb, &l).unwrap();
    assert_eq!(
        journal_state(&h).unwrap(),
        JournalState::Clean { next_seq: 2 }
    );
    assert_eq!(common::check(&img, Mode::No).exit, EXIT_OK);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn no_superblock_is_operational_error() {
    let dir = common::scratch("nosb");
    let img = dir.join("zero.img");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(8 << 20)
        .unwrap();
    let out = Command::new(FSCK).arg("-n").arg(&img).output().unwrap();
    assert_eq!(out.status.code(), Some(8));
    assert!(String::from_utf8_lossy(&out.stdout).contains("no valid daxfs superblock"));
    let out = Command::new(FSCK)
        .arg("-n")
        .arg(dir.join("missing"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(8));
    let out = Command::new(FSCK)
        .args(["-n", "-y"])
        .arg(&img)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(16));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unknown_ro_compat_feature_is_operational_error() {
    let dir = common::scratch("rocompat");
    let img = base(&dir);
    let before = std::fs::read(&img).unwrap();
    let mut b = [0u8; SB_SIZE];
    b.copy_from_slice(&before[..SB_SIZE]);
    let mut sb = Superblock::decode(&b).unwrap();
    sb.feature_ro_compat |= 1 << 40;
    sb.encode(&mut b);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&img)
        .unwrap()
        .write_all_at(&b, 0)
        .unwrap();
    let changed = std::fs::read(&img).unwrap();
    for mode in ["-n", "-y"] {
        let out = Command::new(FSCK).arg(mode).arg(&img).output().unwrap();
        assert_eq!(out.status.code(), Some(8), "{mode}");
        assert!(
            String::from_utf8_lossy(&out.stdout)
                .contains("unsupported read-only-compatible features 0x10000000000"),
            "{mode}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    // Neither mode wrote anything.
    assert!(std::fs::read(&img).unwrap() == changed);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Runs the fsck binary; returns its exit code and stdout + stderr.
fn fsck_bin(args: &[&str], img: &Path) -> (i32, String) {
    let out = Command::new(FSCK).args(args).arg(img).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// A 64 MiB filesystem on a 128 MiB image (`mkfs.daxfs IMG 64M`, as
/// xfstests' `_scratch_mkfs_sized` does): its backup superblock is in its
/// own last block (16383), not the device's (32767).
fn sized_base(dir: &Path) -> (PathBuf, Superblock) {
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("d")).unwrap();
    std::fs::write(src.join("f"), vec![7u8; 5 * 4096 + 17]).unwrap();
    std::fs::write(src.join("d/g"), b"gee").unwrap();
    let img = dir.join("sized.img");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(128 << 20)
        .unwrap();
    let sb = common::make_image(&img, 64 << 20, Some(&src));
    assert_eq!(std::fs::metadata(&img).unwrap().len(), 128 << 20);
    assert_eq!(sb.layout.block_count, 16384);
    assert_eq!(sb.layout.backup_sb_block, 16383);
    let r = common::check(&img, Mode::No);
    assert_eq!(r.exit, EXIT_OK, "sized image not clean: {:?}", r.lines);
    (img, sb)
}

/// The filesystem on `img` is `sb`'s, with its data, and fsck left the
/// device's last block alone.
fn assert_sized_intact(img: &Path, sb: &Superblock, what: &str) {
    let fs = Fs::open(img, false).unwrap();
    assert!(fs.sb.same_static(sb), "{}: primary not restored", what);
    let ino = fs.lookup_path("f").unwrap();
    assert_eq!(
        fs.read_file(ino).unwrap(),
        vec![7u8; 5 * 4096 + 17],
        "{}",
        what
    );
    let mut b = [0u8; SB_SIZE];
    fs.dev.read_at(16383 * 4096, &mut b).unwrap();
    assert!(Superblock::decode(&b).unwrap().same_static(sb), "{}", what);
    let mut last = [0u8; BLOCK_SIZE];
    fs.dev.read_block(32767, &mut last).unwrap();
    assert!(
        last.iter().all(|&x| x == 0),
        "{}: fsck wrote to the device's last block",
        what
    );
}

#[test]
fn sized_filesystem_primary_superblock_repair() {
    let dir = common::scratch("sized");
    let (base, sb) = sized_base(&dir);
    let mut rng = common::Rng(0xb5c);
    let mut garbage = [0u8; SB_SIZE];
    rng.bytes(&mut garbage);
    // (name, damage, whether fsck finds the backup without -b: it does
    // when the primary's raw fields still name block 16383).
    type Damage = Box<dyn Fn(&Img)>;
    let cases: Vec<(&str, Damage, bool)> = vec![
        (
            "checksum",
            Box::new(|i| i.flip(SB_OFF_CHECKSUM as u64, 0x01)),
            true,
        ),
        ("magic", Box::new(|i| i.flip(3, 0x10)), true),
        (
            "geometry",
            Box::new(|i| i.write(SB_OFF_BLOCK_COUNT as u64, &16000u64.to_le_bytes())),
            true,
        ),
        (
            "zeroed",
            Box::new(|i| i.write(0, &[0u8; BLOCK_SIZE])),
            false,
        ),
        ("garbage", Box::new(move |i| i.write(0, &garbage)), false),
        (
            "backup-field",
            Box::new(|i| i.write(SB_OFF_BACKUP_SB_BLOCK as u64, &100u64.to_le_bytes())),
            false,
        ),
    ];
    for (name, inject, auto) in &cases {
        let path = dir.join(format!("{}.img", name));
        std::fs::copy(&base, &path).unwrap();
        inject(&Img { path: path.clone() });
        let before = std::fs::read(&path).unwrap();
        // -n: reported (or, when the backup cannot be found, exit 8 with
        // a hint to use -b), nothing written.
        let (rc, out) = fsck_bin(&["-n"], &path);
        if *auto {
            assert_eq!(rc, EXIT_UNCORRECTED, "{}: {}", name, out);
            assert!(
                out.contains("[SB_PRIMARY]")
                    && out.contains(
                        "using the backup in block 16383 \
                         (named by the primary's backup_sb_block field)"
                    ),
                "{}: {}",
                name,
                out
            );
            let r = common::check(&path, Mode::No);
            assert!(r.has(code::SB_PRIMARY), "{}: {:?}", name, r.lines);
            assert_eq!(r.problems.len(), 1, "{}: {:?}", name, r.lines);
        } else {
            assert_eq!(rc, 8, "{}: {}", name, out);
            assert!(
                out.contains("no valid daxfs superblock") && out.contains("-b BLOCK"),
                "{}: {}",
                name,
                out
            );
        }
        eprintln!("{:<14} {}", name, out.lines().next().unwrap_or(""));
        // -n -b names the backup: always found.
        let (rc, out) = fsck_bin(&["-n", "-b", "16383"], &path);
        assert_eq!(rc, EXIT_UNCORRECTED, "{}: -n -b: {}", name, out);
        assert!(
            out.contains("[SB_PRIMARY]")
                && out.contains("using the backup in block 16383 (named by -b)"),
            "{}: {}",
            name,
            out
        );
        assert!(
            std::fs::read(&path).unwrap() == before,
            "{}: -n wrote",
            name
        );
        // -p (safe) and -y repair from the backup; then clean.
        let p = dir.join(format!("{}-p.img", name));
        std::fs::copy(&path, &p).unwrap();
        let (rc, out) = if *auto {
            fsck_bin(&["-p"], &p)
        } else {
            fsck_bin(&["-p", "--backup", "16383"], &p)
        };
        assert_eq!(rc, EXIT_CORRECTED, "{}: -p: {}", name, out);
        assert_eq!(fsck_bin(&["-n"], &p).0, EXIT_OK, "{}: after -p", name);
        assert_sized_intact(&p, &sb, name);
        std::fs::remove_file(&p).unwrap();
        let (rc, out) = if *auto {
            fsck_bin(&["-y"], &path)
        } else {
            fsck_bin(&["-y", "-b16383"], &path)
        };
        assert_eq!(rc, EXIT_CORRECTED, "{}: -y: {}", name, out);
        assert!(out.contains("[SB_PRIMARY]") && out.contains("- fixed"));
        let (rc, out) = fsck_bin(&["-n"], &path);
        assert_eq!(rc, EXIT_OK, "{}: after -y: {}", name, out);
        assert_sized_intact(&path, &sb, name);
        std::fs::remove_file(&path).unwrap();
    }
    // The library option.
    let path = dir.join("lib.img");
    std::fs::copy(&base, &path).unwrap();
    Img { path: path.clone() }.write(0, &[0u8; SB_SIZE]);
    let r = daxfs_tools::fsck::fsck_with_backup(
        &path,
        daxfs_tools::fsck::Options {
            mode: Mode::Yes,
            ..Default::default()
        },
        Some(16383),
    );
    assert_eq!(r.exit, EXIT_CORRECTED, "{:?}", r.lines);
    assert_eq!(common::check(&path, Mode::No).exit, EXIT_OK);
    assert_sized_intact(&path, &sb, "lib");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sized_filesystem_backup_option() {
    let dir = common::scratch("sized-b");
    let (base, sb) = sized_base(&dir);
    // A clean filesystem whose backup is named: clean.
    assert_eq!(fsck_bin(&["-n", "-b", "16383"], &base).0, EXIT_OK);
    // Blocks that hold no backup of its own: operational error, even with
    // a valid primary.
    for blk in ["32767", "16382", "1", "200000", "18446744073709551615"] {
        let (rc, out) = fsck_bin(&["-n", "-b", blk], &base);
        assert_eq!(rc, 8, "-b {}: {}", blk, out);
        assert!(
            out.contains(&format!("-b {}: no valid backup superblock", blk)),
            "-b {}: {}",
            blk,
            out
        );
    }
    // A block of random bytes (outside the filesystem, on the device).
    let garbage = dir.join("garbage.img");
    std::fs::copy(&base, &garbage).unwrap();
    let mut junk = [0u8; BLOCK_SIZE];
    common::Rng(0x6a6b).bytes(&mut junk);
    Img {
        path: garbage.clone(),
    }
    .write(20000 * 4096, &junk);
    for mode in ["-n", "-p", "-y"] {
        let before = std::fs::read(&garbage).unwrap();
        let (rc, out) = fsck_bin(&[mode, "-b", "20000"], &garbage);
        assert_eq!(rc, 8, "{} -b 20000: {}", mode, out);
        assert!(
            out.contains("-b 20000: no valid backup superblock: bad magic"),
            "{} -b 20000: {}",
            mode,
            out
        );
        assert!(std::fs::read(&garbage).unwrap() == before, "{} wrote", mode);
    }
    // --dump reads through the named backup.
    Img {
        path: garbage.clone(),
    }
    .write(0, &[0u8; SB_SIZE]);
    assert_eq!(fsck_bin(&["--dump"], &garbage).0, 8);
    let (rc, out) = fsck_bin(&["--dump", "-b", "16383"], &garbage);
    assert_eq!(rc, 0, "{}", out);
    assert!(
        out.contains(&format!(
            "uuid {}",
            daxfs_tools::util::format_uuid(&sb.uuid)
        )),
        "{}",
        out
    );
    assert_eq!(fsck_bin(&["--dump", "-b", "20000"], &garbage).0, 8);
    // Usage errors.
    for args in [&["-n", "-b", "0"][..], &["-n", "-b", "x"], &["-n", "-b"]] {
        assert_eq!(fsck_bin(args, &base).0, 16, "{:?}", args);
    }
    let (rc, out) = fsck_bin(&["--help"], &base);
    assert_eq!(rc, 0);
    assert!(out.contains("-b BLOCK, --backup BLOCK"), "{}", out);
    // A superblock that names another block as its backup is not taken
    // for a backup: a 64 MiB filesystem's superblock copied into the
    // device's last block.
    let path = dir.join("misplaced.img");
    std::fs::copy(&base, &path).unwrap();
    let img = Img { path: path.clone() };
    let mut b = [0u8; SB_SIZE];
    sb.encode(&mut b);
    img.write(32767 * 4096, &b);
    img.write(0, &[0u8; SB_SIZE]);
    let (rc, out) = fsck_bin(&["-n"], &path);
    assert_eq!(rc, 8, "{}", out);
    assert!(out.contains("whose backup is in block 16383"), "{}", out);
    assert_eq!(fsck_bin(&["-n", "-b", "32767"], &path).0, 8);
    assert_eq!(fsck_bin(&["-y", "-b", "16383"], &path).0, EXIT_CORRECTED);
    assert_eq!(fsck_bin(&["-n"], &path).0, EXIT_OK);
    // A backup that differs from a valid primary: without -b the backup
    // is rewritten from the primary (in block 16383, not the device's
    // last block); with -b the primary is rewritten from the backup.
    let mut other = sb;
    other.set_label(b"from the backup").unwrap();
    other.encode(&mut b);
    for (args, label) in [
        (&["-p"][..], &b""[..]),
        (&["-y", "-b", "16383"][..], &b"from the backup"[..]),
    ] {
        let path = dir.join("differs.img");
        std::fs::copy(&base, &path).unwrap();
        Img { path: path.clone() }.write(16383 * 4096, &b);
        let before = std::fs::read(&path).unwrap();
        let mut n = vec!["-n"];
        n.extend_from_slice(&args[1..]);
        let (rc, out) = fsck_bin(&n, &path);
        assert_eq!(rc, EXIT_UNCORRECTED, "{:?}: {}", n, out);
        let want = if args.len() == 1 {
            "[SB_BACKUP] backup superblock (block 16383): differs from the primary"
        } else {
            "[SB_PRIMARY] primary superblock: valid, but differs from the backup; \
             using the backup in block 16383 (named by -b)"
        };
        assert!(out.contains(want), "{:?}: {}", n, out);
        assert!(std::fs::read(&path).unwrap() == before, "{:?} wrote", n);
        let (rc, out) = fsck_bin(args, &path);
        assert_eq!(rc, EXIT_CORRECTED, "{:?}: {}", args, out);
        let (rc, out) = fsck_bin(&["-n"], &path);
        assert_eq!(rc, EXIT_OK, "after {:?}: {}", args, out);
        let fs = Fs::open(&path, false).unwrap();
        assert_eq!(fs.sb.label_bytes(), label, "{:?}", args);
        let mut bk = [0u8; SB_SIZE];
        fs.dev.read_at(16383 * 4096, &mut bk).unwrap();
        assert_eq!(Superblock::decode(&bk).unwrap().label_bytes(), label);
        let mut last = [0u8; SB_SIZE];
        fs.dev.read_at(32767 * 4096, &mut last).unwrap();
        assert!(last.iter().all(|&x| x == 0), "{:?}", args);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A filesystem that fills its 32 MiB image: its backup is the device's
/// last block (8191).
fn whole_base(dir: &Path, name: &str) -> (PathBuf, Superblock) {
    let src = dir.join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("f"), vec![9u8; 3 * 4096 + 5]).unwrap();
    let img = dir.join(name);
    let sb = common::make_image(&img, 32 << 20, Some(&src));
    assert_eq!(sb.layout.backup_sb_block, 8191);
    assert_eq!(std::fs::metadata(&img).unwrap().len(), 8192 * 4096);
    (img, sb)
}

#[test]
fn primary_superblock_lost_backup_in_the_device_last_block() {
    let dir = common::scratch("whole-sb");
    let (base, sb) = whole_base(&dir, "base.img");
    let mut junk = [0u8; SB_SIZE];
    common::Rng(0x1234).bytes(&mut junk);
    // Damage that leaves no usable backup_sb_block field in the primary:
    // the backup is found in the device's last block.
    type Damage = Box<dyn Fn(&Img)>;
    let cases: Vec<(&str, Damage, &str)> = vec![
        (
            "zeroed",
            Box::new(|i| i.write(0, &[0u8; BLOCK_SIZE])),
            "bad magic",
        ),
        ("garbage", Box::new(move |i| i.write(0, &junk)), "bad magic"),
        (
            "backup-field",
            Box::new(|i| i.write(SB_OFF_BACKUP_SB_BLOCK as u64, &7u64.to_le_bytes())),
            "bad checksum",
        ),
    ];
    for (name, inject, why) in &cases {
        let path = dir.join(format!("{}.img", name));
        std::fs::copy(&base, &path).unwrap();
        inject(&Img { path: path.clone() });
        let before = std::fs::read(&path).unwrap();
        let (rc, out) = fsck_bin(&["-n"], &path);
        assert_eq!(rc, EXIT_UNCORRECTED, "{}: {}", name, out);
        assert!(
            out.contains(&format!("[SB_PRIMARY] primary superblock: {}", why))
                && out.contains(
                    "using the backup in block 8191 (the device's last block) - not fixed (-n)"
                ),
            "{}: {}",
            name,
            out
        );
        eprintln!("{:<14} {}", name, out.lines().next().unwrap_or(""));
        assert!(
            std::fs::read(&path).unwrap() == before,
            "{}: -n wrote",
            name
        );
        let (rc, out) = fsck_bin(&["-p"], &path);
        assert_eq!(rc, EXIT_CORRECTED, "{}: -p: {}", name, out);
        assert!(out.contains("- fixed"), "{}: {}", name, out);
        let (rc, out) = fsck_bin(&["-n"], &path);
        assert_eq!(rc, EXIT_OK, "{}: after -p: {}", name, out);
        let fs = Fs::open(&path, false).unwrap();
        assert!(fs.sb.same_static(&sb), "{}", name);
        let ino = fs.lookup_path("f").unwrap();
        assert_eq!(fs.read_file(ino).unwrap(), vec![9u8; 3 * 4096 + 5]);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn both_superblocks_bad_is_operational_error() {
    let dir = common::scratch("both-sb");
    // Whole device: primary zeroed, backup's checksum broken.
    let (path, _) = whole_base(&dir, "whole.img");
    let img = Img { path: path.clone() };
    img.write(0, &[0u8; SB_SIZE]);
    img.flip(8191 * 4096 + SB_OFF_LABEL as u64, 0x40);
    let before = std::fs::read(&path).unwrap();
    for mode in ["-n", "-p", "-y"] {
        let (rc, out) = fsck_bin(&[mode], &path);
        assert_eq!(rc, 8, "{}: {}", mode, out);
        assert!(
            out.contains("no valid daxfs superblock (primary: bad magic")
                && out.contains("backup in block 8191 (the device's last block): bad checksum")
                && out.contains("with -b BLOCK"),
            "{}: {}",
            mode,
            out
        );
        assert!(std::fs::read(&path).unwrap() == before, "{} wrote", mode);
    }
    eprintln!("{}", fsck_bin(&["-n"], &path).1.trim_end());
    let (rc, out) = fsck_bin(&["-y", "-b", "8191"], &path);
    assert_eq!(rc, 8, "{}", out);
    assert!(
        out.contains("-b 8191: no valid backup superblock: bad checksum"),
        "{}",
        out
    );
    let r = daxfs_tools::fsck::fsck(
        &path,
        daxfs_tools::fsck::Options {
            mode: Mode::Yes,
            ..Default::default()
        },
    );
    assert_eq!(r.exit, 8, "{:?}", r.lines);
    assert!(r.problems.is_empty());

    // Sized: both places are tried and named.
    let (path, _) = sized_base(&dir);
    let img = Img { path: path.clone() };
    img.flip(SB_OFF_CHECKSUM as u64, 1);
    img.write(16383 * 4096, &[0xa5u8; SB_SIZE]);
    let (rc, out) = fsck_bin(&["-p"], &path);
    assert_eq!(rc, 8, "{}", out);
    assert!(
        out.contains("primary: bad checksum")
            && out.contains(
                "backup in block 16383 (named by the primary's backup_sb_block field): bad magic"
            )
            && out.contains("backup in block 32767 (the device's last block): bad magic"),
        "{}",
        out
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn stale_backup_of_another_filesystem_is_not_restored() {
    let dir = common::scratch("stale-sb");
    // An earlier whole-device filesystem left its backup in the device's
    // last block (an older mkfs did not wipe it) under a 64 MiB one.
    let old = dir.join("old.img");
    let old_sb = common::make_image(&old, 128 << 20, None);
    assert_eq!(old_sb.layout.backup_sb_block, 32767);
    let mut stale = [0u8; SB_SIZE];
    Img { path: old.clone() }.read(32767 * 4096, &mut stale);
    let (base, sb) = sized_base(&dir);
    assert_ne!(sb.uuid, old_sb.uuid);
    let path = dir.join("stale.img");
    std::fs::copy(&base, &path).unwrap();
    let img = Img { path: path.clone() };
    img.write(32767 * 4096, &stale);
    // The primary keeps its magic and UUID but no longer names its
    // backup: the earlier filesystem's superblock is refused.
    img.write(SB_OFF_BACKUP_SB_BLOCK as u64, &7u64.to_le_bytes());
    let before = std::fs::read(&path).unwrap();
    let (rc, out) = fsck_bin(&["-p"], &path);
    assert_eq!(rc, 8, "{}", out);
    assert!(
        out.contains(&format!(
            "backup in block 32767 (the device's last block): superblock of another \
             filesystem (UUID {}; the primary's is {})",
            daxfs_tools::util::format_uuid(&old_sb.uuid),
            daxfs_tools::util::format_uuid(&sb.uuid)
        )),
        "{}",
        out
    );
    assert!(std::fs::read(&path).unwrap() == before, "-p wrote");
    // Its own backup, named, repairs it.
    let (rc, out) = fsck_bin(&["-p", "-b", "16383"], &path);
    assert_eq!(rc, EXIT_CORRECTED, "{}", out);
    assert_eq!(fsck_bin(&["-n"], &path).0, EXIT_OK);
    assert!(Fs::open(&path, false).unwrap().sb.same_static(&sb));
    std::fs::remove_dir_all(&dir).unwrap();
}

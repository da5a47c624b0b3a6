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
    case("device-size", code::SB_DEVICE_SIZE, Fixed::Never, &|i| {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(&i.path)
            .unwrap();
        f.set_len(8 << 20).unwrap();
    });
    assert!(n >= 40, "{} cases", n);
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

// SPDX-License-Identifier: GPL-2.0

//! Crash consistency of the redo journal, end to end, done the way the
//! kernel will do it: a metadata operation (create a file with data
//! blocks in a directory) is computed with the shared format functions
//! into a transaction; the test then "crashes" at every point of the
//! commit protocol and checks that fsck sees either the old or the new
//! filesystem, never a mix, and that recovery (replay) yields the new one.

#![allow(missing_docs)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use daxfs_format::btree::{NodeStore, Scratch};
use daxfs_format::dir::{dir_insert, DT_REG};
use daxfs_format::extent::{map_insert, Extent};
use daxfs_format::inode::{Inode, Timespec, S_IFREG};
use daxfs_format::journal::*;
use daxfs_format::superblock::{INODE_SIZE, ROOT_INO, SB_SIZE};
use daxfs_format::{Block, Error, Result, BLOCK_SIZE_U64};
use daxfs_tools::alloc::Alloc;
use daxfs_tools::fs::Fs;
use daxfs_tools::fsck::{code, Mode, EXIT_CORRECTED, EXIT_OK, EXIT_UNCORRECTED};

/// Node writes are buffered (they go into the transaction), reads see
/// the buffered version first.
struct TxnStore<'a> {
    fs: &'a Fs,
    alloc: &'a mut Alloc,
    nodes: BTreeMap<u64, Block>,
}

impl NodeStore for TxnStore<'_> {
    fn read(&mut self, blk: u64, buf: &mut Block) -> Result<()> {
        if let Some(b) = self.nodes.get(&blk) {
            buf.copy_from_slice(b);
            return Ok(());
        }
        self.fs.dev.read_block(blk, buf).map_err(|_| Error::Io)
    }
    fn write(&mut self, blk: u64, buf: &Block) -> Result<()> {
        self.nodes.insert(blk, *buf);
        Ok(())
    }
    fn alloc(&mut self) -> Result<u64> {
        self.alloc.alloc_one()
    }
    fn free(&mut self, blk: u64) -> Result<()> {
        self.alloc.free(blk, 1)
    }
}

/// (device offset, new bytes) of every metadata change of "create
/// /newfile with 3 blocks".
fn create_file_records(img: &Path) -> Vec<(u64, Vec<u8>)> {
    let fs = Fs::open(img, false).unwrap();
    let l = *fs.layout();
    let ctx = fs.ctx;
    let before = Alloc::load(&fs).unwrap();
    let mut a = before.clone();
    let mut s = Box::new(Scratch::new());
    let ino = a.alloc_ino().unwrap();
    let run = a.alloc_blocks(3).unwrap();
    let mut f = Inode::new(S_IFREG | 0o644, 0, 0, Timespec { sec: 1, nsec: 2 });
    let mut root = fs.inode(ROOT_INO).unwrap();
    let nodes = {
        let mut st = TxnStore {
            fs: &fs,
            alloc: &mut a,
            nodes: BTreeMap::new(),
        };
        map_insert(
            &mut f,
            ino,
            &ctx,
            &mut st,
            &mut s,
            Extent {
                lblk: 0,
                pblk: run[0].0,
                len: 3,
                flags: 0,
            },
        )
        .unwrap();
        dir_insert(
            &mut root, ROOT_INO, &ctx, &mut st, &mut s, b"newfile", ino, DT_REG,
        )
        .unwrap();
        st.nodes
    };
    f.size = 3 * 4096 - 100;
    let mut recs = Vec::new();
    for (blk, b) in nodes {
        recs.push((blk * BLOCK_SIZE_U64, b.to_vec()));
    }
    for (i, x) in [(ino, &f), (ROOT_INO, &root)] {
        let mut b = [0u8; INODE_SIZE];
        x.encode(i, ctx.csum_seed, &mut b);
        recs.push((l.inode_offset(i).unwrap(), b.to_vec()));
    }
    // Bitmaps and group table: only the 64-byte pieces that changed.
    for (start, old, new) in [
        (l.block_bitmap_start, &before.bm, &a.bm),
        (l.group_table_start, &before.gt, &a.gt),
        (l.inode_bitmap_start, &before.ibm, &a.ibm),
    ] {
        for (k, (o, n)) in old.chunks(64).zip(new.chunks(64)).enumerate() {
            if o != n {
                recs.push((start * BLOCK_SIZE_U64 + (k * 64) as u64, n.to_vec()));
            }
        }
    }
    let mut sb = fs.sb;
    sb.free_blocks = a.free_blocks;
    sb.free_inodes = a.free_inodes;
    let mut b = [0u8; SB_SIZE];
    sb.encode(&mut b);
    recs.push((0, b.to_vec()));
    // Data blocks are written directly (not journaled), before commit.
    recs
}

fn write(img: &Path, off: u64, b: &[u8]) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new().write(true).open(img).unwrap();
    f.write_all_at(b, off).unwrap();
}

fn has_newfile(img: &Path) -> bool {
    let fs = Fs::open(img, false).unwrap();
    fs.lookup(ROOT_INO, b"newfile").unwrap().is_some()
}

#[test]
fn crash_at_every_step_of_the_commit_protocol() {
    let dir = common::scratch("crash");
    let src = dir.join("src");
    std::fs::create_dir_all(&src).unwrap();
    for i in 0..30 {
        std::fs::write(src.join(format!("f{:02}", i)), vec![i as u8; 5000]).unwrap();
    }
    let base = dir.join("base.img");
    common::make_image(&base, 8 << 20, Some(&src));
    let recs = create_file_records(&base);
    assert!(recs.len() >= 6, "{} records", recs.len());
    let fs = Fs::open(&base, false).unwrap();
    let l = *fs.layout();
    let seed = fs.ctx.csum_seed;
    drop(fs);
    let mut log = vec![0u8; ((l.journal_blocks - 1) * BLOCK_SIZE_U64) as usize];
    let mut w = TxnWriter::new(&mut log, 1).unwrap();
    for (o, d) in &recs {
        w.add(*o, d).unwrap();
    }
    let (len, commit) = w.finish(seed);
    let log_off = (l.journal_start + 1) * BLOCK_SIZE_U64;
    let commit_off = l.journal_start * BLOCK_SIZE_U64 + JH_OFF_COMMIT as u64;
    let applied_off = l.journal_start * BLOCK_SIZE_U64 + JH_OFF_APPLIED as u64;
    let img = dir.join("work.img");

    // 1. Crash while writing the log (any prefix of it): old filesystem.
    for cut in [0, 7, len / 2, len - 1, len] {
        std::fs::copy(&base, &img).unwrap();
        write(&img, log_off, &log[..cut]);
        let r = common::check(&img, Mode::No);
        assert_eq!(r.exit, EXIT_OK, "log prefix {}: {:?}", cut, r.lines);
        assert!(!has_newfile(&img));
    }
    // 2. Commit word stored, nothing applied: replay gives the new state.
    // 3. Crash after applying any prefix of the records: same.
    for applied in 0..=recs.len() {
        std::fs::copy(&base, &img).unwrap();
        write(&img, log_off, &log[..len]);
        write(&img, commit_off, &commit.to_le_bytes());
        for (o, d) in &recs[..applied] {
            write(&img, *o, d);
        }
        let r = common::check(&img, Mode::No);
        assert_eq!(
            r.exit, EXIT_UNCORRECTED,
            "applied {}: {:?}",
            applied, r.lines
        );
        assert!(r.has(code::JOURNAL_REPLAY));
        assert_eq!(
            r.problems.len(),
            1,
            "applied {}: the replayed view must be clean: {:?}",
            applied,
            r.lines
        );
        let r = common::check(&img, Mode::Preen);
        assert_eq!(r.exit, EXIT_CORRECTED, "{:?}", r.lines);
        assert!(has_newfile(&img));
        let r = common::check(&img, Mode::No);
        assert_eq!(r.exit, EXIT_OK, "after replay: {:?}", r.lines);
    }
    // 4. Applied word stored: clean, new state, nothing to replay.
    std::fs::copy(&base, &img).unwrap();
    write(&img, log_off, &log[..len]);
    write(&img, commit_off, &commit.to_le_bytes());
    for (o, d) in &recs {
        write(&img, *o, d);
    }
    write(&img, applied_off, &1u64.to_le_bytes());
    let r = common::check(&img, Mode::No);
    assert_eq!(r.exit, EXIT_OK, "{:?}", r.lines);
    assert!(has_newfile(&img));
    // 5. The next transaction's log may now overwrite the old one: a torn
    // log under the old commit word is ignored (clean state).
    write(&img, log_off, &[0xEE; 100]);
    assert_eq!(common::check(&img, Mode::No).exit, EXIT_OK);
    std::fs::remove_dir_all(&dir).unwrap();
}

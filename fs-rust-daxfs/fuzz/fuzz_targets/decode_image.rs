// SPDX-License-Identifier: GPL-2.0

//! Fuzz target: decode a (mutated) image in memory with the shared format
//! code only — superblock, journal, every inode, every extent map and
//! directory index — exactly the calls the kernel makes at mount and
//! lookup time. Any panic is a bug.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

use daxfs_format::btree::{NodeStore, Scratch};
use daxfs_format::dir::dir_next;
use daxfs_format::extent::map_next;
use daxfs_format::inode::Inode;
use daxfs_format::journal::{journal_state, JournalHeader, JournalState, Txn};
use daxfs_format::superblock::{Superblock, INODE_SIZE};
use daxfs_format::{Block, Error, Result, BLOCK_SIZE};

struct Mem<'a> {
    img: &'a [u8],
    layout: daxfs_format::Layout,
}

impl NodeStore for Mem<'_> {
    fn read(&mut self, blk: u64, buf: &mut Block) -> Result<()> {
        if !self.layout.in_data(blk, 1) {
            return Err(Error::OutOfRange("node"));
        }
        let off = blk as usize * BLOCK_SIZE;
        let s = self.img.get(off..off + BLOCK_SIZE).ok_or(Error::Io)?;
        buf.copy_from_slice(s);
        Ok(())
    }
    fn write(&mut self, _: u64, _: &Block) -> Result<()> {
        Err(Error::Io)
    }
    fn alloc(&mut self) -> Result<u64> {
        Err(Error::NoSpace)
    }
    fn free(&mut self, _: u64) -> Result<()> {
        Err(Error::Io)
    }
}

fn run(img: &[u8]) {
    let Ok(sb) = Superblock::decode(img) else { return };
    let l = sb.layout;
    let ctx = sb.ctx();
    let jh = (l.journal_start as usize) * BLOCK_SIZE;
    if let Some(b) = img.get(jh..jh + BLOCK_SIZE) {
        if let Ok(h) = JournalHeader::decode(b, &l) {
            if let Ok(JournalState::NeedsReplay { .. }) = journal_state(&h) {
                let ls = h.log_start as usize * BLOCK_SIZE;
                if let Some(log) = img.get(ls..ls + h.log_bytes() as usize) {
                    if let Ok(t) = Txn::parse(log, h.commit, ctx.csum_seed, &l) {
                        for r in t.records() {
                            let _ = r;
                        }
                    }
                }
            }
        }
    }
    let mut st = Mem { img, layout: l };
    let mut s = Box::new(Scratch::new());
    let it = l.inode_table_start as usize * BLOCK_SIZE;
    for ino in 1..l.inode_count.min(256) {
        let off = it + ino as usize * INODE_SIZE;
        let Some(rec) = img.get(off..off + INODE_SIZE) else { break };
        let Ok(Some(i)) = Inode::decode(rec, ino, ctx.csum_seed) else { continue };
        if i.is_dir() {
            let mut pos = 0;
            for _ in 0..5000 {
                match dir_next(&i, ino, &ctx, &mut st, &mut s, pos) {
                    Ok(Some((k, e))) => {
                        let _ = daxfs_format::dir::dir_lookup(&i, ino, &ctx, &mut st, &mut s, e.name());
                        pos = k + 1;
                    }
                    _ => break,
                }
            }
        } else {
            let mut at = 0;
            for _ in 0..5000 {
                match map_next(&i, ino, &ctx, &mut st, &mut s, at) {
                    Ok(Some(e)) if e.lend() > at => {
                        let _ = e.check_range(&l);
                        at = e.lend();
                    }
                    _ => break,
                }
            }
            let _ = i.inline_data();
        }
    }
}

fuzz_target!(|data: &[u8]| {
    common::with_image(data, run);
});

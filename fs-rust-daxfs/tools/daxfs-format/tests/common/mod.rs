// SPDX-License-Identifier: GPL-2.0

//! Test helpers: a deterministic PRNG and an in-memory node store.

#![allow(dead_code, missing_docs, unreachable_pub)]

use std::collections::{HashMap, HashSet};

use daxfs_format::btree::NodeStore;
use daxfs_format::{Block, Error, Result, BLOCK_SIZE};

/// xorshift64* PRNG: deterministic, no dependencies.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
    pub fn bytes(&mut self, b: &mut [u8]) {
        for x in b.iter_mut() {
            *x = self.next() as u8;
        }
    }
}

/// Blocks in a hash map; allocation hands out increasing numbers.
pub struct Mem {
    pub blocks: HashMap<u64, Block>,
    pub next: u64,
    pub live: HashSet<u64>,
    pub allocs: u64,
    pub frees: u64,
}

impl Mem {
    pub fn new() -> Mem {
        Mem {
            blocks: HashMap::new(),
            next: 1000,
            live: HashSet::new(),
            allocs: 0,
            frees: 0,
        }
    }
}

impl NodeStore for Mem {
    fn read(&mut self, blk: u64, buf: &mut Block) -> Result<()> {
        match self.blocks.get(&blk) {
            Some(b) => {
                buf.copy_from_slice(b);
                Ok(())
            }
            None => Err(Error::Io),
        }
    }
    fn write(&mut self, blk: u64, buf: &Block) -> Result<()> {
        assert!(
            self.live.contains(&blk),
            "write to unallocated block {}",
            blk
        );
        self.blocks.insert(blk, *buf);
        Ok(())
    }
    fn alloc(&mut self) -> Result<u64> {
        let b = self.next;
        self.next += 1;
        self.live.insert(b);
        self.blocks.insert(b, [0u8; BLOCK_SIZE]);
        self.allocs += 1;
        Ok(b)
    }
    fn free(&mut self, blk: u64) -> Result<()> {
        assert!(self.live.remove(&blk), "double free of {}", blk);
        self.blocks.remove(&blk);
        self.frees += 1;
        Ok(())
    }
}

// SPDX-License-Identifier: GPL-2.0

//! A direct-mapped cache of B+tree nodes whose checksum has been verified:
//! the logic of the kernel's node cache, kept here (storage is the
//! caller's, no locking) so that the userspace tests can drive it against
//! a model.
//!
//! Reading a node from persistent memory costs a machine-check-safe copy
//! of 4 KiB and a CRC-32C over it, on every access of every tree walk. A
//! node found here is copied from DRAM instead, and its checksum is not
//! computed again: the cache only ever holds a block whose checksum was
//! checked when it was inserted ([`NodeCache::insert`]), and loses it
//! ([`NodeCache::forget`]) whenever the block may change on the medium.
//! The caller keeps that promise by calling `forget` after every write of
//! metadata to the medium (the journal's apply step, recovery, zeroing)
//! and whenever blocks are freed; see the kernel's `pmem.rs`.
//!
//! A reader that misses, reads the medium and then inserts can race with a
//! writer that changes the block in between. Each slot therefore carries a
//! generation, bumped by every `forget` that maps to it: [`NodeCache::get`]
//! returns the generation on a miss, and [`NodeCache::insert`] refuses to
//! fill the slot if it changed meanwhile (the writer must write the medium
//! before calling `forget`, the reader read the generation before reading
//! the medium).

use super::btree::{node_checksum, NODE_MAGIC, NODE_OFF_CHECKSUM, NODE_OFF_MAGIC};
use super::bytes::get_u32;
use super::{Block, BLOCK_SIZE};
use core::ops::DerefMut;

/// Tag of an empty slot. Block 0 is the superblock, never a node.
const EMPTY: u64 = 0;

/// Slot count for a filesystem of `blocks` blocks: one slot per 64 blocks
/// (4 KiB of DRAM per 256 KiB of filesystem), rounded down to a power of
/// two, at least 64 and at most 4096 (16 MiB).
pub const fn cache_slots(blocks: u64) -> usize {
    let want = blocks / 64;
    let mut n: usize = 64;
    while n < 4096 && ((n * 2) as u64) <= want {
        n *= 2;
    }
    n
}

/// True if `buf` starts with the node magic and carries the checksum its
/// contents give under `seed`.
pub fn node_checksum_ok(buf: &Block, seed: u32) -> bool {
    get_u32(buf, NODE_OFF_MAGIC) == NODE_MAGIC
        && get_u32(buf, NODE_OFF_CHECKSUM) == node_checksum(buf, seed)
}

/// The cache over caller-provided storage: `T` holds one `u64` per slot
/// (used twice, for tags and generations), `D` holds `BLOCK_SIZE` bytes per
/// slot.
///
/// # Invariants
///
/// `tags`, `gens` and `data` have `1 << bits` slots; a slot whose tag is
/// not [`EMPTY`] holds a copy of that block whose node checksum is valid
/// under `seed`.
pub struct NodeCache<T, D> {
    tags: T,
    gens: T,
    data: D,
    bits: u32,
    seed: u32,
}

/// What [`NodeCache::get`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The block was copied out; its checksum is valid.
    Hit,
    /// Not cached. Pass the generation to [`NodeCache::insert`] after
    /// reading the block from the medium.
    Miss(u64),
}

impl<T: DerefMut<Target = [u64]>, D: DerefMut<Target = [u8]>> NodeCache<T, D> {
    /// A cache of `tags.len()` slots, which must be a power of two, with
    /// `gens` as long and `data` `BLOCK_SIZE` times as long (all zero:
    /// every slot empty). `None` if the sizes do not fit.
    pub fn new(tags: T, gens: T, data: D, seed: u32) -> Option<Self> {
        let n = tags.len();
        if n == 0
            || !n.is_power_of_two()
            || gens.len() != n
            || data.len() != n.checked_mul(BLOCK_SIZE)?
            || tags.iter().any(|&t| t != EMPTY)
        {
            return None;
        }
        Some(NodeCache {
            tags,
            gens,
            data,
            bits: n.trailing_zeros(),
            seed,
        })
    }

    /// Number of slots.
    pub fn slots(&self) -> usize {
        self.tags.len()
    }

    fn index(&self, blk: u64) -> usize {
        if self.bits == 0 {
            return 0;
        }
        // Fibonacci hashing: neighbouring blocks land far apart.
        (blk.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - self.bits)) as usize
    }

    /// Copies block `blk` into `buf` if it is cached.
    pub fn get(&self, blk: u64, buf: &mut Block) -> Lookup {
        let i = self.index(blk);
        let gen = self.gens.get(i).copied().unwrap_or(0);
        if blk == EMPTY || self.tags.get(i) != Some(&blk) {
            return Lookup::Miss(gen);
        }
        match self.data.get(i * BLOCK_SIZE..(i + 1) * BLOCK_SIZE) {
            Some(d) => {
                buf.copy_from_slice(d);
                Lookup::Hit
            }
            None => Lookup::Miss(gen),
        }
    }

    /// Caches `buf` as block `blk`, read from the medium after a
    /// [`NodeCache::get`] that returned `Miss(gen)`. Nothing is cached if
    /// the slot was forgotten since, or if `buf` is not a node with a
    /// valid checksum; returns whether it was cached.
    pub fn insert(&mut self, blk: u64, gen: u64, buf: &Block) -> bool {
        let i = self.index(blk);
        if blk == EMPTY || self.gens.get(i) != Some(&gen) || !node_checksum_ok(buf, self.seed) {
            return false;
        }
        let (Some(t), Some(d)) = (
            self.tags.get_mut(i),
            self.data.get_mut(i * BLOCK_SIZE..(i + 1) * BLOCK_SIZE),
        ) else {
            return false;
        };
        d.copy_from_slice(buf);
        *t = blk;
        true
    }

    fn forget_slot(&mut self, i: usize, first: u64, end: u64) {
        if let Some(g) = self.gens.get_mut(i) {
            *g = g.wrapping_add(1);
        }
        if let Some(t) = self.tags.get_mut(i) {
            if *t >= first && *t < end {
                *t = EMPTY;
            }
        }
    }

    /// Drops blocks `first..first + len` and bumps the generation of every
    /// slot they map to, so that no read begun before can insert them.
    pub fn forget(&mut self, first: u64, len: u64) {
        let end = first.saturating_add(len);
        if len >= self.slots() as u64 {
            for i in 0..self.slots() {
                self.forget_slot(i, first, end);
            }
        } else {
            for blk in first..end {
                let i = self.index(blk);
                self.forget_slot(i, first, end);
            }
        }
    }

    /// Drops every block.
    #[cfg(not(CONFIG_DAXFS_FS))]
    pub fn clear(&mut self) {
        self.forget(0, u64::MAX);
    }

    /// The cached blocks and their contents, for tests that check the
    /// cache against the medium.
    #[cfg(not(CONFIG_DAXFS_FS))]
    pub fn entries(&self) -> impl Iterator<Item = (u64, &[u8])> + '_ {
        self.tags
            .iter()
            .zip(self.data.chunks(BLOCK_SIZE))
            .filter(|(&t, _)| t != EMPTY)
            .map(|(&t, d)| (t, d))
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::format::btree::{node_init, node_seal, TreeType};
    use std::{vec, vec::Vec};

    const SEED: u32 = 0x1234_5678;

    fn node(blk: u64, tag: u8) -> Block {
        let mut b = [0u8; BLOCK_SIZE];
        node_init(&mut b, TreeType::Extent, 0, 7, blk);
        b[100] = tag;
        node_seal(&mut b, SEED);
        b
    }

    fn cache(n: usize) -> NodeCache<Vec<u64>, Vec<u8>> {
        NodeCache::new(vec![0; n], vec![0; n], vec![0; n * BLOCK_SIZE], SEED).unwrap()
    }

    #[test]
    fn sizes() {
        assert_eq!(cache_slots(0), 64);
        assert_eq!(cache_slots(64 * 64), 64);
        assert_eq!(cache_slots(64 * 100), 64);
        assert_eq!(cache_slots(64 * 128), 128);
        assert_eq!(cache_slots(262_144), 4096);
        assert_eq!(cache_slots(u64::MAX), 4096);
        assert!(NodeCache::new(vec![0u64; 3], vec![0; 3], vec![0; 3 * BLOCK_SIZE], 0).is_none());
        assert!(NodeCache::new(vec![0u64; 4], vec![0; 4], vec![0; 4], 0).is_none());
        assert!(NodeCache::new(vec![1u64; 4], vec![0; 4], vec![0; 4 * BLOCK_SIZE], 0).is_none());
    }

    #[test]
    fn hit_after_insert_and_only_valid_nodes() {
        let mut c = cache(64);
        let mut buf = [0u8; BLOCK_SIZE];
        let Lookup::Miss(g) = c.get(10, &mut buf) else {
            panic!("empty cache hit")
        };
        let n = node(10, 1);
        assert!(c.insert(10, g, &n));
        assert_eq!(c.get(10, &mut buf), Lookup::Hit);
        assert_eq!(buf, n);
        // A block with a bad checksum, or no node at all, is never cached.
        let mut bad = node(11, 1);
        bad[200] ^= 1;
        let Lookup::Miss(g) = c.get(11, &mut buf) else {
            panic!()
        };
        assert!(!c.insert(11, g, &bad));
        assert!(!c.insert(11, g, &[0u8; BLOCK_SIZE]));
        assert!(matches!(c.get(11, &mut buf), Lookup::Miss(_)));
        // Nor is block 0.
        assert!(!c.insert(0, 0, &node(0, 1)));
        // A checksum under another seed is not valid.
        let mut other = [0u8; BLOCK_SIZE];
        node_init(&mut other, TreeType::Dir, 0, 7, 12);
        node_seal(&mut other, SEED ^ 1);
        let Lookup::Miss(g) = c.get(12, &mut buf) else {
            panic!()
        };
        assert!(!c.insert(12, g, &other));
    }

    #[test]
    fn forget_between_miss_and_insert_wins() {
        let mut c = cache(64);
        let mut buf = [0u8; BLOCK_SIZE];
        let Lookup::Miss(g) = c.get(5, &mut buf) else {
            panic!()
        };
        // A writer changes block 5 while the reader copies its old contents.
        c.forget(5, 1);
        assert!(!c.insert(5, g, &node(5, 1)));
        assert!(matches!(c.get(5, &mut buf), Lookup::Miss(_)));
        // A range forget covering every slot defeats every pending insert.
        let Lookup::Miss(g) = c.get(6, &mut buf) else {
            panic!()
        };
        c.forget(1000, 64);
        assert!(!c.insert(6, g, &node(6, 1)));
    }

    #[test]
    fn forget_drops_exactly_the_range() {
        let mut c = cache(256);
        let mut buf = [0u8; BLOCK_SIZE];
        for blk in 1..200u64 {
            if let Lookup::Miss(g) = c.get(blk, &mut buf) {
                assert!(c.insert(blk, g, &node(blk, blk as u8)));
            }
        }
        // Those that no later block displaced.
        let cached: Vec<u64> = (1..200u64)
            .filter(|&b| c.get(b, &mut buf) == Lookup::Hit)
            .collect();
        assert!(cached.len() > 100);
        c.forget(50, 20);
        c.forget(100, 1000);
        for &blk in &cached {
            let gone = (50..70).contains(&blk) || blk >= 100;
            let hit = c.get(blk, &mut buf) == Lookup::Hit;
            assert_eq!(hit, !gone, "block {blk}");
            if hit {
                assert_eq!(buf, node(blk, blk as u8));
            }
        }
        c.clear();
        for &blk in &cached {
            assert!(matches!(c.get(blk, &mut buf), Lookup::Miss(_)));
        }
    }

    #[test]
    fn a_colliding_block_replaces_the_slot() {
        let mut c = cache(64);
        let mut buf = [0u8; BLOCK_SIZE];
        // Find two blocks mapping to the same slot.
        let a = 1u64;
        let b = (2..100_000u64).find(|&b| c.index(b) == c.index(a)).unwrap();
        let Lookup::Miss(g) = c.get(a, &mut buf) else {
            panic!()
        };
        assert!(c.insert(a, g, &node(a, 1)));
        let Lookup::Miss(g) = c.get(b, &mut buf) else {
            panic!()
        };
        assert!(c.insert(b, g, &node(b, 2)));
        assert!(matches!(c.get(a, &mut buf), Lookup::Miss(_)));
        assert_eq!(c.get(b, &mut buf), Lookup::Hit);
        assert_eq!(buf, node(b, 2));
    }
}

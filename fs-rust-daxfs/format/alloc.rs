// SPDX-License-Identifier: GPL-2.0

//! Free-space structures: the inode bitmap, the data-block bitmap and the
//! group usage table.
//!
//! Bit `i` of the inode bitmap is inode `i` (bit 0, the reserved slot, is
//! always set). Bit `i` of the block bitmap is data block
//! `data_start + i`; bits past `data_blocks` are zero and never used.
//! Bits are numbered LSB first within each byte. A set bit means used.
//!
//! The group usage table has one little-endian `u16` per 2 MiB group of the
//! data area: the number of used blocks in it, where blocks missing at the
//! end of a partial last group count as used. A zero entry therefore
//! always means a whole, 2 MiB-aligned, free group: a huge-page
//! allocation scans 2-byte counters, not bits (a 64 GiB device has
//! 32768 of them, 64 KiB). The table is zero on a fresh filesystem
//! (except for the partial tail group and the root directory's group), so
//! mkfs writes almost nothing.

use super::bytes::*;
use super::superblock::Layout;
use super::GROUP_BLOCKS;

fn idx(i: u64) -> Option<(usize, u8)> {
    let byte = usize::try_from(i / 8).ok()?;
    Some((byte, 1u8 << (i % 8)))
}

/// Tests bit `i` (false if out of range).
pub fn bit_test(bm: &[u8], i: u64) -> bool {
    match idx(i) {
        Some((b, m)) => bm.get(b).is_some_and(|x| x & m != 0),
        None => false,
    }
}

/// Sets or clears bit `i`; returns the previous value (false and no
/// change if out of range).
pub fn bit_set(bm: &mut [u8], i: u64, v: bool) -> bool {
    match idx(i) {
        Some((b, m)) => match bm.get_mut(b) {
            Some(x) => {
                let old = *x & m != 0;
                if v {
                    *x |= m;
                } else {
                    *x &= !m;
                }
                old
            }
            None => false,
        },
        None => false,
    }
}

/// The first clear bit in `[from, limit)`.
pub fn find_zero(bm: &[u8], from: u64, limit: u64) -> Option<u64> {
    let mut i = from;
    while i < limit {
        if i & 63 == 0 && i + 64 <= limit {
            let b = usize::try_from(i / 8).ok()?;
            if let Some(w) = bm.get(b..b + 8) {
                if is_all_ones(w) {
                    i += 64;
                    continue;
                }
            }
        }
        if !bit_test(bm, i) {
            return Some(i);
        }
        i += 1;
    }
    None
}

fn is_all_ones(w: &[u8]) -> bool {
    w.iter().all(|&x| x == 0xFF)
}

/// The first run of `len` clear bits inside `[from, limit)` (first fit).
pub fn find_zero_run(bm: &[u8], from: u64, limit: u64, len: u64) -> Option<u64> {
    if len == 0 {
        return None;
    }
    let mut start = find_zero(bm, from, limit)?;
    loop {
        let end = start.checked_add(len)?;
        if end > limit {
            return None;
        }
        let mut j = start;
        while j < end && !bit_test(bm, j) {
            j += 1;
        }
        if j == end {
            return Some(start);
        }
        start = find_zero(bm, j + 1, limit)?;
    }
}

/// Set bits among the first `limit` bits.
pub fn count_ones(bm: &[u8], limit: u64) -> u64 {
    let full = usize::try_from(limit / 8).unwrap_or(usize::MAX);
    let mut n: u64 = bm
        .iter()
        .take(full)
        .map(|x| u64::from(x.count_ones()))
        .sum();
    let mut i = (full as u64) * 8;
    while i < limit {
        if bit_test(bm, i) {
            n += 1;
        }
        i += 1;
    }
    n
}

/// Used-block count of group `g` in the group table.
pub fn group_used(gt: &[u8], g: u64) -> u16 {
    match usize::try_from(g).ok().and_then(|g| g.checked_mul(2)) {
        Some(off) => get_u16(gt, off),
        None => 0,
    }
}

/// Sets the used-block count of group `g`.
pub fn set_group_used(gt: &mut [u8], g: u64, v: u16) {
    if let Some(off) = usize::try_from(g).ok().and_then(|g| g.checked_mul(2)) {
        put_u16(gt, off, v);
    }
}

/// The first wholly free group at or after `from`.
pub fn find_free_group(gt: &[u8], from: u64, group_count: u64) -> Option<u64> {
    (from..group_count).find(|&g| group_used(gt, g) == 0)
}

/// The first run of `n` consecutive wholly free groups at or after `from`
/// (for allocations larger than 2 MiB).
pub fn find_free_groups(gt: &[u8], from: u64, group_count: u64, n: u64) -> Option<u64> {
    let mut run = 0;
    for g in from..group_count {
        if group_used(gt, g) == 0 {
            run += 1;
            if run == n {
                return Some(g + 1 - n);
            }
        } else {
            run = 0;
        }
    }
    None
}

/// The group of data block `blk` (absolute), if in the data area.
pub fn group_of(layout: &Layout, blk: u64) -> Option<u64> {
    if blk >= layout.data_start && blk < layout.data_end() {
        Some((blk - layout.data_start) / GROUP_BLOCKS)
    } else {
        None
    }
}

/// First absolute block of group `g`.
pub fn group_start(layout: &Layout, g: u64) -> u64 {
    layout.data_start + g * GROUP_BLOCKS
}

/// Marks `[blk, blk + len)` used (`used == true`) or free in the block
/// bitmap `bm` and the group table `gt`, keeping both consistent.
/// Returns the number of bits that actually changed (a caller seeing less
/// than `len` has found a double allocation or double free).
pub fn mark_blocks(
    layout: &Layout,
    bm: &mut [u8],
    gt: &mut [u8],
    blk: u64,
    len: u64,
    used: bool,
) -> u64 {
    let mut changed = 0;
    if !layout.in_data(blk, len) {
        return 0;
    }
    for b in blk..blk + len {
        let bit = b - layout.data_start;
        if bit_set(bm, bit, used) != used {
            changed += 1;
            let g = bit / GROUP_BLOCKS;
            let u = group_used(gt, g);
            let nu = if used {
                u.saturating_add(1)
            } else {
                u.saturating_sub(1)
            };
            set_group_used(gt, g, nu);
        }
    }
    changed
}

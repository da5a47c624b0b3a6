// SPDX-License-Identifier: GPL-2.0

//! CRC-32C (Castagnoli, reflected polynomial `0x82F63B78`), table driven.
//!
//! The tables (slicing-by-8) are computed at compile time. [`crc32c`] is the standard
//! checksum (initial value and final XOR `0xFFFFFFFF`); [`crc32c_update`]
//! continues a raw running value so that metadata checksums can be seeded
//! with the filesystem UUID (see [`csum_seed`]).

const POLY: u32 = 0x82F6_3B78;

const fn make_tables() -> [[u32; 256]; 8] {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    // Slicing-by-8: t[k][i] is the CRC of byte i followed by k zero bytes.
    let mut k = 1;
    while k < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = t[k - 1][i];
            t[k][i] = (prev >> 8) ^ t[0][(prev & 0xFF) as usize];
            i += 1;
        }
        k += 1;
    }
    t
}

static TABLES: [[u32; 256]; 8] = make_tables();

fn tab(k: usize, idx: u32) -> u32 {
    // `idx` is masked to 0..=255 and k < 8, so the lookups never miss.
    TABLES
        .get(k)
        .and_then(|t| t.get((idx & 0xFF) as usize))
        .copied()
        .unwrap_or(0)
}

/// Feeds `data` into a raw (not inverted) running CRC value. Processes
/// eight bytes per step with eight compile-time tables (slicing-by-8).
pub fn crc32c_update(mut crc: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let lo = u32::from_le_bytes([w[0], w[1], w[2], w[3]]) ^ crc;
        let hi = u32::from_le_bytes([w[4], w[5], w[6], w[7]]);
        crc = tab(7, lo)
            ^ tab(6, lo >> 8)
            ^ tab(5, lo >> 16)
            ^ tab(4, lo >> 24)
            ^ tab(3, hi)
            ^ tab(2, hi >> 8)
            ^ tab(1, hi >> 16)
            ^ tab(0, hi >> 24);
    }
    for &b in chunks.remainder() {
        crc = tab(0, crc ^ u32::from(b)) ^ (crc >> 8);
    }
    crc
}

/// The standard CRC-32C of `data` (`crc32c(b"123456789") == 0xE3069283`).
pub fn crc32c(data: &[u8]) -> u32 {
    !crc32c_update(!0, data)
}

/// The running value after feeding the filesystem UUID: the starting point
/// of every metadata checksum except the superblock's own, so that records
/// left behind by an earlier filesystem on the same device never verify.
pub fn csum_seed(uuid: &[u8; 16]) -> u32 {
    crc32c_update(!0, uuid)
}

/// Checksum of a record whose 4-byte checksum field at `hole` is treated as
/// zero, continuing from `seed` (a value from [`csum_seed`], or `!0`).
/// `prefix` is fed first (for example the inode number).
pub fn crc32c_record(seed: u32, prefix: &[u8], rec: &[u8], hole: usize) -> u32 {
    let mut c = crc32c_update(seed, prefix);
    let split = if hole <= rec.len() { hole } else { rec.len() };
    let (a, rest) = rec.split_at(split);
    c = crc32c_update(c, a);
    let skip = if rest.len() >= 4 { 4 } else { rest.len() };
    let (hole_bytes, b) = rest.split_at(skip);
    let zeros = [0u8; 4];
    c = crc32c_update(c, zeros.get(..hole_bytes.len()).unwrap_or(&[]));
    c = crc32c_update(c, b);
    !c
}

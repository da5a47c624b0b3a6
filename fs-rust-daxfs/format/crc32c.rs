// SPDX-License-Identifier: GPL-2.0

//! CRC-32C (Castagnoli, reflected polynomial `0x82F63B78`), table driven.
//!
//! The table is computed at compile time. [`crc32c`] is the standard
//! checksum (initial value and final XOR `0xFFFFFFFF`); [`crc32c_update`]
//! continues a raw running value so that metadata checksums can be seeded
//! with the filesystem UUID (see [`csum_seed`]).

const POLY: u32 = 0x82F6_3B78;

const fn make_table() -> [u32; 256] {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
}

static TABLE: [u32; 256] = make_table();

/// Feeds `data` into a raw (not inverted) running CRC value.
pub fn crc32c_update(mut crc: u32, data: &[u8]) -> u32 {
    for &b in data {
        let idx = ((crc ^ u32::from(b)) & 0xFF) as u8;
        crc = TABLE[usize::from(idx)] ^ (crc >> 8);
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

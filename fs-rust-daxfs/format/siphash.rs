// SPDX-License-Identifier: GPL-2.0

//! SipHash-2-4 (Aumasson and Bernstein), the keyed 64-bit hash of
//! directory entry names. The 16-byte key is the per-filesystem
//! `dir_hash_key` in the superblock, chosen at random by mkfs, so an
//! unprivileged user cannot craft names that collide in the index.

#[derive(Clone, Copy)]
struct State {
    v0: u64,
    v1: u64,
    v2: u64,
    v3: u64,
}

impl State {
    fn round(&mut self) {
        self.v0 = self.v0.wrapping_add(self.v1);
        self.v1 = self.v1.rotate_left(13);
        self.v1 ^= self.v0;
        self.v0 = self.v0.rotate_left(32);
        self.v2 = self.v2.wrapping_add(self.v3);
        self.v3 = self.v3.rotate_left(16);
        self.v3 ^= self.v2;
        self.v0 = self.v0.wrapping_add(self.v3);
        self.v3 = self.v3.rotate_left(21);
        self.v3 ^= self.v0;
        self.v2 = self.v2.wrapping_add(self.v1);
        self.v1 = self.v1.rotate_left(17);
        self.v1 ^= self.v2;
        self.v2 = self.v2.rotate_left(32);
    }

    fn compress(&mut self, m: u64) {
        self.v3 ^= m;
        self.round();
        self.round();
        self.v0 ^= m;
    }
}

/// SipHash-2-4 of `data` under the 128-bit `key`.
pub fn siphash24(key: &[u8; 16], data: &[u8]) -> u64 {
    let mut k0b = [0u8; 8];
    let mut k1b = [0u8; 8];
    k0b.copy_from_slice(&key[..8]);
    k1b.copy_from_slice(&key[8..]);
    let k0 = u64::from_le_bytes(k0b);
    let k1 = u64::from_le_bytes(k1b);
    let mut s = State {
        v0: k0 ^ 0x736f_6d65_7073_6575,
        v1: k1 ^ 0x646f_7261_6e64_6f6d,
        v2: k0 ^ 0x6c79_6765_6e65_7261,
        v3: k1 ^ 0x7465_6462_7974_6573,
    };
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        s.compress(u64::from_le_bytes(w));
    }
    let rem = chunks.remainder();
    let mut last = [0u8; 8];
    for (d, s) in last.iter_mut().zip(rem.iter()) {
        *d = *s;
    }
    let mut m = u64::from_le_bytes(last);
    m |= (data.len() as u64 & 0xff) << 56;
    s.compress(m);
    s.v2 ^= 0xff;
    s.round();
    s.round();
    s.round();
    s.round();
    s.v0 ^ s.v1 ^ s.v2 ^ s.v3
}

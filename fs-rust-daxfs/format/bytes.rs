// SPDX-License-Identifier: GPL-2.0

//! Little-endian field access on byte slices that never panics.
//!
//! Readers return 0 when the field lies outside the slice and writers
//! ignore such a field; callers check record lengths first (every decoder
//! returns [`super::Error::Truncated`] for a short slice), so these
//! fallbacks are never observable on well-formed calls. They exist so that
//! no code path reachable from decoding can index out of bounds.

/// Reads a `u8` at `off`.
pub fn get_u8(b: &[u8], off: usize) -> u8 {
    b.get(off).copied().unwrap_or(0)
}

/// Reads a little-endian `u16` at `off`.
pub fn get_u16(b: &[u8], off: usize) -> u16 {
    let mut a = [0u8; 2];
    if let Some(s) = b.get(off..off.wrapping_add(2)) {
        a.copy_from_slice(s);
    }
    u16::from_le_bytes(a)
}

/// Reads a little-endian `u32` at `off`.
pub fn get_u32(b: &[u8], off: usize) -> u32 {
    let mut a = [0u8; 4];
    if let Some(s) = b.get(off..off.wrapping_add(4)) {
        a.copy_from_slice(s);
    }
    u32::from_le_bytes(a)
}

/// Reads a little-endian `u64` at `off`.
pub fn get_u64(b: &[u8], off: usize) -> u64 {
    let mut a = [0u8; 8];
    if let Some(s) = b.get(off..off.wrapping_add(8)) {
        a.copy_from_slice(s);
    }
    u64::from_le_bytes(a)
}

/// Reads a little-endian `i64` at `off`.
pub fn get_i64(b: &[u8], off: usize) -> i64 {
    i64::from_le_bytes(get_u64(b, off).to_le_bytes())
}

/// Writes a `u8` at `off`.
pub fn put_u8(b: &mut [u8], off: usize, v: u8) {
    if let Some(x) = b.get_mut(off) {
        *x = v;
    }
}

/// Writes a little-endian `u16` at `off`.
pub fn put_u16(b: &mut [u8], off: usize, v: u16) {
    put_bytes(b, off, &v.to_le_bytes());
}

/// Writes a little-endian `u32` at `off`.
pub fn put_u32(b: &mut [u8], off: usize, v: u32) {
    put_bytes(b, off, &v.to_le_bytes());
}

/// Writes a little-endian `u64` at `off`.
pub fn put_u64(b: &mut [u8], off: usize, v: u64) {
    put_bytes(b, off, &v.to_le_bytes());
}

/// Writes a little-endian `i64` at `off`.
pub fn put_i64(b: &mut [u8], off: usize, v: i64) {
    put_bytes(b, off, &v.to_le_bytes());
}

/// Copies `v` to `off`; does nothing if the destination does not fit.
pub fn put_bytes(b: &mut [u8], off: usize, v: &[u8]) {
    if let Some(d) = b.get_mut(off..off.wrapping_add(v.len())) {
        d.copy_from_slice(v);
    }
}

/// Returns `b[off..off + len]`, or [`super::Error::Truncated`].
pub fn slice(b: &[u8], off: usize, len: usize) -> super::Result<&[u8]> {
    let end = off.checked_add(len).ok_or(super::Error::Truncated)?;
    b.get(off..end).ok_or(super::Error::Truncated)
}

/// True if every byte of `b` is zero.
pub fn is_zero(b: &[u8]) -> bool {
    b.iter().all(|&x| x == 0)
}

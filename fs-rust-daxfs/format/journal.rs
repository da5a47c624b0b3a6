// SPDX-License-Identifier: GPL-2.0

//! The metadata redo journal.
//!
//! A fixed area of `journal_blocks` blocks starting at block 1: the first
//! is the journal header, the rest is the log, which holds exactly one
//! transaction at a time. A transaction is a [`TXN_HEADER_SIZE`]-byte
//! header followed by records `(byte offset, length, new bytes)`, each
//! padded to 8 bytes.
//!
//! Commit protocol (the kernel; `flush` = write back the cache lines,
//! `fence` = `sfence`, i.e. `arch_wb_cache_pmem` + `wmb`):
//!
//! 1. write the transaction into the log; flush; fence;
//! 2. store the 8-byte commit word `seq | crc << 32` at
//!    [`JH_OFF_COMMIT`] with one aligned 8-byte store; flush; fence.
//!    This single atomic store is the commit point: `crc` is the CRC-32C
//!    (UUID-seeded) of the whole transaction, so a torn log can never be
//!    mistaken for a committed one;
//! 3. apply every record in place; flush; fence;
//! 4. store `seq` at [`JH_OFF_APPLIED`] (8-byte store); flush; fence.
//!    Only then may the next transaction overwrite the log.
//!
//! Recovery ([`journal_state`], [`Txn::parse`]) reads only the superblock,
//! the header and the log: if the commit word's `seq` is `applied + 1`
//! the transaction is validated and every record is re-applied (redo is
//! idempotent), then `applied` is advanced; if they are equal the journal
//! is clean; anything else is corruption.

use super::bytes::*;
use super::crc32c::crc32c_record;
use super::superblock::Layout;
use super::{Error, Result, BLOCK_SIZE_U64};

/// Journal header magic, `"DAXFSJNL"` as a little-endian u64.
pub const JOURNAL_MAGIC: u64 = u64::from_le_bytes(*b"DAXFSJNL");
/// Offset of `magic` (u64) in the header block.
pub const JH_OFF_MAGIC: usize = 0x00;
/// Offset of the commit word (u64: low 32 bits sequence, high 32 bits
/// transaction CRC). Zero before the first transaction.
pub const JH_OFF_COMMIT: usize = 0x08;
/// Offset of `applied` (u64: sequence number of the last transaction
/// fully applied in place; only the low 32 bits are used).
pub const JH_OFF_APPLIED: usize = 0x10;
/// Offset of `log_start` (u64 block, `journal_start + 1`).
pub const JH_OFF_LOG_START: usize = 0x18;
/// Offset of `log_blocks` (u64, `journal_blocks - 1`).
pub const JH_OFF_LOG_BLOCKS: usize = 0x20;
/// Size of the meaningful part of the header (the rest of the block is
/// zero).
pub const JH_SIZE: usize = 0x28;

/// Transaction magic, `"DXTX"` as a little-endian u32.
pub const TXN_MAGIC: u32 = u32::from_le_bytes(*b"DXTX");
/// Offset of `magic` (u32) in the transaction header.
pub const TXN_OFF_MAGIC: usize = 0x00;
/// Offset of `seq` (u32).
pub const TXN_OFF_SEQ: usize = 0x04;
/// Offset of `nr_records` (u32).
pub const TXN_OFF_NR: usize = 0x08;
/// Offset of a reserved u32 (zero).
pub const TXN_OFF_RESERVED: usize = 0x0C;
/// Offset of `body_len` (u64: bytes of records after the header).
pub const TXN_OFF_BODY_LEN: usize = 0x10;
/// Offset of a reserved u64 (zero).
pub const TXN_OFF_RESERVED2: usize = 0x18;
/// Transaction header size.
pub const TXN_HEADER_SIZE: usize = 0x20;
/// Offset of `offset` (u64, absolute byte offset on the device) in a
/// record header.
pub const REC_OFF_OFFSET: usize = 0x00;
/// Offset of `len` (u32, bytes of data).
pub const REC_OFF_LEN: usize = 0x08;
/// Offset of a reserved u32 (zero).
pub const REC_OFF_RESERVED: usize = 0x0C;
/// Record header size; `len` data bytes follow, padded to 8.
pub const REC_HEADER_SIZE: usize = 0x10;

/// The journal header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JournalHeader {
    /// Commit word (`seq | crc << 32`).
    pub commit: u64,
    /// Last applied sequence.
    pub applied: u64,
    /// First log block.
    pub log_start: u64,
    /// Log blocks.
    pub log_blocks: u64,
}

/// What recovery must do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JournalState {
    /// Nothing to replay; the next transaction uses `next_seq`.
    Clean {
        /// Sequence number for the next transaction.
        next_seq: u32,
    },
    /// Transaction `seq` is committed but maybe not applied: replay it.
    NeedsReplay {
        /// Sequence number of the committed transaction.
        seq: u32,
    },
}

/// Sequence number part of a commit word.
pub fn commit_seq(commit: u64) -> u32 {
    (commit & 0xFFFF_FFFF) as u32
}

/// CRC part of a commit word.
pub fn commit_crc(commit: u64) -> u32 {
    (commit >> 32) as u32
}

/// Builds a commit word.
pub fn commit_word(seq: u32, crc: u32) -> u64 {
    u64::from(seq) | (u64::from(crc) << 32)
}

impl JournalHeader {
    /// A fresh header for `layout` (no transaction yet).
    pub fn new(layout: &Layout) -> JournalHeader {
        JournalHeader {
            commit: 0,
            applied: 0,
            log_start: layout.journal_start + 1,
            log_blocks: layout.journal_blocks - 1,
        }
    }

    /// Encodes into the first [`JH_SIZE`] bytes of `out`.
    pub fn encode(&self, out: &mut [u8]) {
        put_u64(out, JH_OFF_MAGIC, JOURNAL_MAGIC);
        put_u64(out, JH_OFF_COMMIT, self.commit);
        put_u64(out, JH_OFF_APPLIED, self.applied);
        put_u64(out, JH_OFF_LOG_START, self.log_start);
        put_u64(out, JH_OFF_LOG_BLOCKS, self.log_blocks);
    }

    /// Decodes and checks the header against `layout`.
    pub fn decode(b: &[u8], layout: &Layout) -> Result<JournalHeader> {
        let r = slice(b, 0, JH_SIZE)?;
        if get_u64(r, JH_OFF_MAGIC) != JOURNAL_MAGIC {
            return Err(Error::BadMagic("journal header"));
        }
        let h = JournalHeader {
            commit: get_u64(r, JH_OFF_COMMIT),
            applied: get_u64(r, JH_OFF_APPLIED),
            log_start: get_u64(r, JH_OFF_LOG_START),
            log_blocks: get_u64(r, JH_OFF_LOG_BLOCKS),
        };
        let want = JournalHeader::new(layout);
        if h.log_start != want.log_start || h.log_blocks != want.log_blocks {
            return Err(Error::BadField("journal log geometry"));
        }
        if h.applied > u64::from(u32::MAX) {
            return Err(Error::BadField("journal applied"));
        }
        Ok(h)
    }

    /// Byte length of the log.
    pub fn log_bytes(&self) -> u64 {
        self.log_blocks.saturating_mul(BLOCK_SIZE_U64)
    }
}

/// Recovery decision from the header alone.
pub fn journal_state(h: &JournalHeader) -> Result<JournalState> {
    let applied = (h.applied & 0xFFFF_FFFF) as u32;
    let seq = commit_seq(h.commit);
    if seq == applied {
        Ok(JournalState::Clean {
            next_seq: applied.wrapping_add(1),
        })
    } else if seq == applied.wrapping_add(1) {
        Ok(JournalState::NeedsReplay { seq })
    } else {
        Err(Error::Corrupt("journal commit/applied sequence"))
    }
}

/// True if a record may target `[offset, offset + len)`: inside the
/// device, outside the journal itself and the backup superblock block.
pub fn record_target_ok(layout: &Layout, offset: u64, len: u64) -> bool {
    let end = match offset.checked_add(len) {
        Some(e) => e,
        None => return false,
    };
    let bs = BLOCK_SIZE_U64;
    let j0 = layout.journal_start * bs;
    let j1 = (layout.journal_start + layout.journal_blocks) * bs;
    let b0 = layout.backup_sb_block * bs;
    len > 0 && end <= b0 && (end <= j0 || offset >= j1)
}

/// Writes a transaction into a log buffer.
pub struct TxnWriter<'a> {
    buf: &'a mut [u8],
    pos: usize,
    nr: u32,
    seq: u32,
}

impl<'a> TxnWriter<'a> {
    /// Starts transaction `seq` in `buf` (the log, or a staging copy).
    pub fn new(buf: &'a mut [u8], seq: u32) -> Result<TxnWriter<'a>> {
        if buf.len() < TXN_HEADER_SIZE {
            return Err(Error::NoSpace);
        }
        if let Some(h) = buf.get_mut(..TXN_HEADER_SIZE) {
            h.fill(0);
        }
        Ok(TxnWriter {
            buf,
            pos: TXN_HEADER_SIZE,
            nr: 0,
            seq,
        })
    }

    /// Bytes used so far.
    #[cfg(not(CONFIG_DAXFS_FS))]
    pub fn len(&self) -> usize {
        self.pos
    }

    /// True if no record was added.
    pub fn is_empty(&self) -> bool {
        self.nr == 0
    }

    /// Appends a record writing `data` at device byte `offset`.
    /// [`Error::NoSpace`] if the log is full (the caller splits the
    /// operation into several transactions).
    pub fn add(&mut self, offset: u64, data: &[u8]) -> Result<()> {
        let len = u32::try_from(data.len()).map_err(|_| Error::NoSpace)?;
        let padded = data.len().checked_add(7).ok_or(Error::NoSpace)? & !7;
        let need = REC_HEADER_SIZE
            .checked_add(padded)
            .and_then(|n| n.checked_add(self.pos))
            .ok_or(Error::NoSpace)?;
        if need > self.buf.len() {
            return Err(Error::NoSpace);
        }
        let p = self.pos;
        put_u64(self.buf, p + REC_OFF_OFFSET, offset);
        put_u32(self.buf, p + REC_OFF_LEN, len);
        put_u32(self.buf, p + REC_OFF_RESERVED, 0);
        put_bytes(self.buf, p + REC_HEADER_SIZE, data);
        if let Some(pad) = self.buf.get_mut(p + REC_HEADER_SIZE + data.len()..need) {
            pad.fill(0);
        }
        self.pos = need;
        self.nr += 1;
        Ok(())
    }

    /// Finishes the header and returns `(bytes used, commit word)`. The
    /// caller flushes `buf[..bytes]`, fences, then stores the commit word.
    pub fn finish(self, seed: u32) -> (usize, u64) {
        let body = (self.pos - TXN_HEADER_SIZE) as u64;
        put_u32(self.buf, TXN_OFF_MAGIC, TXN_MAGIC);
        put_u32(self.buf, TXN_OFF_SEQ, self.seq);
        put_u32(self.buf, TXN_OFF_NR, self.nr);
        put_u64(self.buf, TXN_OFF_BODY_LEN, body);
        let crc = txn_crc(self.buf.get(..self.pos).unwrap_or(&[]), seed);
        (self.pos, commit_word(self.seq, crc))
    }
}

fn txn_crc(txn: &[u8], seed: u32) -> u32 {
    // The transaction carries no checksum field of its own: the CRC lives
    // in the commit word. `hole` past the end means "no hole".
    crc32c_record(seed, &[], txn, usize::MAX)
}

/// A validated committed transaction.
#[derive(Clone, Copy, Debug)]
pub struct Txn<'a> {
    /// Sequence number (checked when the transaction is validated; read
    /// afterwards only by the tools).
    #[cfg_attr(CONFIG_DAXFS_FS, allow(dead_code))]
    pub seq: u32,
    /// Number of records.
    pub nr: u32,
    body: &'a [u8],
}

/// One record of a transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxnRecord<'a> {
    /// Absolute device byte offset.
    pub offset: u64,
    /// New bytes.
    pub data: &'a [u8],
}

impl<'a> Txn<'a> {
    /// Validates the transaction in `log` against the commit word: magic,
    /// sequence, length, CRC, and every record (well formed, exactly
    /// `nr_records` of them, each target allowed by
    /// [`record_target_ok`]). Nothing is applied unless all of it is
    /// valid.
    pub fn parse(log: &'a [u8], commit: u64, seed: u32, layout: &Layout) -> Result<Txn<'a>> {
        let h = slice(log, 0, TXN_HEADER_SIZE)?;
        if get_u32(h, TXN_OFF_MAGIC) != TXN_MAGIC {
            return Err(Error::BadMagic("journal transaction"));
        }
        let seq = get_u32(h, TXN_OFF_SEQ);
        if seq != commit_seq(commit) {
            return Err(Error::Corrupt("journal transaction sequence"));
        }
        if get_u32(h, TXN_OFF_RESERVED) != 0 || get_u64(h, TXN_OFF_RESERVED2) != 0 {
            return Err(Error::BadField("journal transaction reserved"));
        }
        let body_len =
            usize::try_from(get_u64(h, TXN_OFF_BODY_LEN)).map_err(|_| Error::Truncated)?;
        let total = body_len
            .checked_add(TXN_HEADER_SIZE)
            .ok_or(Error::Truncated)?;
        let whole = slice(log, 0, total)?;
        if txn_crc(whole, seed) != commit_crc(commit) {
            return Err(Error::BadChecksum("journal transaction"));
        }
        let t = Txn {
            seq,
            nr: get_u32(h, TXN_OFF_NR),
            body: slice(whole, TXN_HEADER_SIZE, body_len)?,
        };
        let mut n = 0u32;
        for r in t.records() {
            let r = r?;
            if !record_target_ok(layout, r.offset, r.data.len() as u64) {
                return Err(Error::OutOfRange("journal record target"));
            }
            n = n.checked_add(1).ok_or(Error::Corrupt("journal records"))?;
        }
        if n != t.nr {
            return Err(Error::Corrupt("journal record count"));
        }
        Ok(t)
    }

    /// Iterates over the records.
    pub fn records(&self) -> TxnRecords<'a> {
        TxnRecords {
            body: self.body,
            pos: 0,
        }
    }
}

/// Iterator over the records of a [`Txn`].
pub struct TxnRecords<'a> {
    body: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for TxnRecords<'a> {
    type Item = Result<TxnRecord<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.body.len() {
            return None;
        }
        let r = (|| {
            let h = slice(self.body, self.pos, REC_HEADER_SIZE)?;
            if get_u32(h, REC_OFF_RESERVED) != 0 {
                return Err(Error::BadField("journal record reserved"));
            }
            let offset = get_u64(h, REC_OFF_OFFSET);
            let len = get_u32(h, REC_OFF_LEN) as usize;
            let data = slice(self.body, self.pos + REC_HEADER_SIZE, len)?;
            let padded = len.checked_add(7).ok_or(Error::Truncated)? & !7;
            let next = self
                .pos
                .checked_add(REC_HEADER_SIZE + padded)
                .ok_or(Error::Truncated)?;
            if next > self.body.len() {
                return Err(Error::Truncated);
            }
            Ok((TxnRecord { offset, data }, next))
        })();
        match r {
            Ok((rec, next)) => {
                self.pos = next;
                Some(Ok(rec))
            }
            Err(e) => {
                self.pos = self.body.len();
                Some(Err(e))
            }
        }
    }
}

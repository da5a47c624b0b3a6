// SPDX-License-Identifier: GPL-2.0

//! fsck.daxfs: check every invariant of the format and repair what is
//! safe.
//!
//! The check is a sequence of passes. Superblock and journal problems are
//! handled first (a bad primary superblock is replaced by the backup, a
//! committed journal transaction is replayed or, with `-n`, laid over
//! every read). Each later pass scans the inode table, walks every extent
//! map and directory index, resolves reachability and link counts, and
//! recomputes the block bitmap, group table, inode bitmap and free
//! counters. Fixes are applied in phases (structural repairs, then inode
//! fields, then accounting), re-checking after each phase, so a repair is
//! always made against a consistent view.
//!
//! What a read-write mount finishes after a crash is consistent, not
//! damage, but fsck finishes it the same way when it repairs: a committed
//! journal transaction is replayed (`JOURNAL_REPLAY`), unlinked inodes are
//! freed (`ORPHAN`), and a seal or unseal that a crash interrupted (a
//! linked regular file on the orphan list with `INODE_FLAG_SEAL_INTENT`)
//! is rolled back to not sealed: `EXTENT_SEALED` cleared on every extent,
//! then the intent, and the inode taken off the list (`SEAL_INTENT`, which
//! `-n` does not report). An intent off the list (`SEAL_INTENT_UNLISTED`)
//! gets the same roll-back; a SEALED extent in a file with neither the
//! SEALED flag nor an intent is `SEALED_STRAY`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use daxfs_format::alloc::{bit_set, bit_test, group_used, set_group_used};
use daxfs_format::btree::{
    node_child, node_key, node_value, node_verify, NodeHeader, Scratch, Tree, TreeType,
};
use daxfs_format::dir::*;
use daxfs_format::extent::*;
use daxfs_format::inode::*;
use daxfs_format::journal::*;
use daxfs_format::superblock::*;
use daxfs_format::{Block, Error, Layout, BLOCK_SIZE, BLOCK_SIZE_U64, GROUP_BLOCKS};

use crate::alloc::Alloc;
use crate::dev::Dev;
use crate::fs::Fs;
use crate::util::format_uuid;

/// How much fsck may write.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// `-n`: never write (the default).
    #[default]
    No,
    /// `-p` / `-a`: repair what is safe without asking.
    Preen,
    /// `-y`: repair everything that can be repaired.
    Yes,
}

/// fsck(8) exit code: no errors.
pub const EXIT_OK: i32 = 0;
/// fsck(8) exit code: errors corrected.
pub const EXIT_CORRECTED: i32 = 1;
/// fsck(8) exit code: errors left uncorrected.
pub const EXIT_UNCORRECTED: i32 = 4;
/// fsck(8) exit code: operational error.
pub const EXIT_OPERATIONAL: i32 = 8;

/// Problem classes (the code printed in brackets).
pub mod code {
    /// Primary superblock unreadable or invalid.
    pub const SB_PRIMARY: &str = "SB_PRIMARY";
    /// Backup superblock invalid or different from the primary.
    pub const SB_BACKUP: &str = "SB_BACKUP";
    /// Device smaller than the filesystem.
    pub const SB_DEVICE_SIZE: &str = "SB_DEVICE_SIZE";
    /// Journal header invalid.
    pub const JOURNAL_HEADER: &str = "JOURNAL_HEADER";
    /// Journal commit/applied sequence numbers inconsistent.
    pub const JOURNAL_SEQ: &str = "JOURNAL_SEQ";
    /// A committed transaction waits for replay.
    pub const JOURNAL_REPLAY: &str = "JOURNAL_REPLAY";
    /// The committed transaction fails validation.
    pub const JOURNAL_TXN: &str = "JOURNAL_TXN";
    /// Inode checksum mismatch.
    pub const INODE_CHECKSUM: &str = "INODE_CHECKSUM";
    /// Inode field invalid.
    pub const INODE_BAD: &str = "INODE_BAD";
    /// Reserved inode slot 0 not zero.
    pub const INODE_RESERVED: &str = "INODE_RESERVED";
    /// Root inode missing or not a directory.
    pub const ROOT_BAD: &str = "ROOT_BAD";
    /// Extent malformed.
    pub const EXTENT_BAD: &str = "EXTENT_BAD";
    /// Extent outside the data area.
    pub const EXTENT_RANGE: &str = "EXTENT_RANGE";
    /// Extents of one file overlap logically.
    pub const EXTENT_OVERLAP: &str = "EXTENT_OVERLAP";
    /// B+tree node invalid (checksum, magic, owner, level, keys).
    pub const BTREE_NODE: &str = "BTREE_NODE";
    /// A block is used twice (double allocation).
    pub const BLOCK_SHARED: &str = "BLOCK_SHARED";
    /// A sealed extent shares blocks.
    pub const SEALED_SHARED: &str = "SEALED_SHARED";
    /// A sealed extent is also unwritten.
    pub const SEALED_UNWRITTEN: &str = "SEALED_UNWRITTEN";
    /// A sealed file has a hole or an unsealed extent.
    pub const SEALED_INCOMPLETE: &str = "SEALED_INCOMPLETE";
    /// A SEALED extent in a file that is neither sealed nor being sealed
    /// or unsealed (no seal intent).
    pub const SEALED_STRAY: &str = "SEALED_STRAY";
    /// A seal or unseal interrupted by a crash: a linked regular file on
    /// the orphan list with a seal intent. The filesystem is consistent
    /// (the next read-write mount rolls it back to not sealed), so `-n`
    /// does not report it; `-p`/`-y` roll it back as mount does and say
    /// so with this class.
    pub const SEAL_INTENT: &str = "SEAL_INTENT";
    /// A linked regular file with a seal intent that is not on the orphan
    /// list (so mount would never roll it back).
    pub const SEAL_INTENT_UNLISTED: &str = "SEAL_INTENT_UNLISTED";
    /// Inode block count wrong.
    pub const INODE_BLOCKS: &str = "INODE_BLOCKS";
    /// Inode map count wrong.
    pub const MAP_COUNT: &str = "MAP_COUNT";
    /// Symlink target invalid.
    pub const SYMLINK_BAD: &str = "SYMLINK_BAD";
    /// Directory entry malformed.
    pub const DIRENT_BAD: &str = "DIRENT_BAD";
    /// Directory entry stored under the wrong hash key.
    pub const DIR_HASH: &str = "DIR_HASH";
    /// Directory entry points to a free or invalid inode.
    pub const DIR_DANGLING: &str = "DIR_DANGLING";
    /// Directory entry type differs from the inode's.
    pub const DIR_TYPE: &str = "DIR_TYPE";
    /// Directory parent pointer wrong.
    pub const DIR_PARENT: &str = "DIR_PARENT";
    /// Directory size not `blocks * 4096`.
    pub const DIR_SIZE: &str = "DIR_SIZE";
    /// Directory linked from more than one directory.
    pub const DIR_MULTI: &str = "DIR_MULTI";
    /// Inode in use but not reachable from the root.
    pub const UNREACHABLE: &str = "UNREACHABLE";
    /// Link count wrong.
    pub const NLINK: &str = "NLINK";
    /// Block bitmap differs from the blocks in use.
    pub const BLOCK_BITMAP: &str = "BLOCK_BITMAP";
    /// Group usage table wrong.
    pub const GROUP_TABLE: &str = "GROUP_TABLE";
    /// Inode bitmap differs from the inodes in use.
    pub const INODE_BITMAP: &str = "INODE_BITMAP";
    /// Superblock free-block count wrong.
    pub const FREE_BLOCKS: &str = "FREE_BLOCKS";
    /// Superblock free-inode count wrong.
    pub const FREE_INODES: &str = "FREE_INODES";
    /// The kernel recorded an error in the superblock.
    pub const SB_ERRORS: &str = "SB_ERRORS";
    /// An unlinked inode (nlink 0) still allocated: freed.
    pub const ORPHAN: &str = "ORPHAN";
    /// The orphan list is malformed.
    pub const ORPHAN_LIST: &str = "ORPHAN_LIST";
}

/// A repair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fix {
    /// Rewrite the primary superblock from the backup.
    RestorePrimary,
    /// Rewrite the backup superblock from the primary.
    RewriteBackup,
    /// Replay the committed journal transaction.
    ReplayJournal,
    /// Discard the journal contents (reset the header).
    ResetJournal,
    /// Zero an inode.
    ClearInode(u64),
    /// Remove an extent from an inode's map.
    RemoveExtent(u64, u64),
    /// Clear the SEALED flag of an extent (inode, lblk).
    ClearExtentSealed(u64, u64),
    /// Roll an interrupted seal or unseal back as mount does: clear
    /// `EXTENT_SEALED` on every extent of the inode, then its seal intent,
    /// and take it off the orphan list (its neighbours relinked).
    RollBackSeal(u64),
    /// Remove a directory entry (dir, key).
    RemoveDirEntry(u64, u64),
    /// Re-insert a directory entry under its correct hash key.
    RehashDirEntry(u64, u64),
    /// Set a directory entry's type.
    SetDirEntryType(u64, u64, u8),
    /// Link an unreachable inode into /lost+found.
    Reconnect(u64),
    /// Set an inode's link count.
    SetNlink(u64, u32),
    /// Set an inode's block count (and, for directories, size).
    SetBlocks(u64, u64),
    /// Set an inode's map count.
    SetMapCount(u64, u32),
    /// Set a directory's parent.
    SetParent(u64, u64),
    /// Free an unlinked inode (its blocks are released by accounting).
    FreeOrphan(u64),
    /// Empty the orphan list (superblock head).
    ResetOrphanList,
    /// Clear the orphan-list links of an inode that is not listed.
    ClearOrphanLinks(u64),
    /// Rewrite bitmaps, group table and free counters.
    Accounting,
}

impl Fix {
    /// Allowed with `-p`?
    pub fn safe(&self) -> bool {
        !matches!(
            self,
            Fix::ResetJournal
                | Fix::ClearInode(_)
                | Fix::RemoveExtent(..)
                | Fix::RemoveDirEntry(..)
                | Fix::Reconnect(_)
        )
    }

    fn phase(&self) -> u8 {
        match self {
            Fix::RestorePrimary | Fix::RewriteBackup | Fix::ReplayJournal | Fix::ResetJournal => 0,
            Fix::ClearInode(_)
            | Fix::RemoveExtent(..)
            | Fix::RemoveDirEntry(..)
            | Fix::RehashDirEntry(..)
            | Fix::Reconnect(_)
            | Fix::FreeOrphan(_)
            | Fix::RollBackSeal(_)
            | Fix::ResetOrphanList => 1,
            Fix::ClearExtentSealed(..)
            | Fix::SetDirEntryType(..)
            | Fix::SetNlink(..)
            | Fix::SetBlocks(..)
            | Fix::SetMapCount(..)
            | Fix::SetParent(..)
            | Fix::ClearOrphanLinks(..) => 2,
            Fix::Accounting => 3,
        }
    }

    fn allowed(&self, mode: Mode) -> bool {
        match mode {
            Mode::No => false,
            Mode::Preen => self.safe(),
            Mode::Yes => true,
        }
    }
}

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Class (one of [`code`]).
    pub code: &'static str,
    /// One-line description naming the inode / block.
    pub msg: String,
    /// Repair, if there is one.
    pub fix: Option<Fix>,
}

impl Problem {
    fn new(code: &'static str, msg: String, fix: Option<Fix>) -> Problem {
        Problem { code, msg, fix }
    }

    /// Problems after which block ownership is uncertain (accounting must
    /// not be rewritten while they remain).
    fn uncertain(&self) -> bool {
        matches!(
            self.code,
            code::INODE_CHECKSUM
                | code::INODE_BAD
                | code::BTREE_NODE
                | code::EXTENT_BAD
                | code::EXTENT_RANGE
                | code::EXTENT_OVERLAP
                | code::BLOCK_SHARED
                | code::SEALED_SHARED
                | code::JOURNAL_REPLAY
                | code::JOURNAL_TXN
                | code::JOURNAL_SEQ
                | code::JOURNAL_HEADER
        )
    }
}

/// The outcome of a run.
#[derive(Debug, Default)]
pub struct Report {
    /// Output lines (one per problem, plus a summary).
    pub lines: Vec<String>,
    /// Every problem found (first occurrence).
    pub problems: Vec<Problem>,
    /// fsck(8) exit code.
    pub exit: i32,
}

impl Report {
    /// True if a problem of class `c` was found.
    pub fn has(&self, c: &str) -> bool {
        self.problems.iter().any(|p| p.code == c)
    }
}

/// Options.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Write policy.
    pub mode: Mode,
    /// Print a summary even when clean.
    pub verbose: bool,
}

/// Runs fsck on `path`. A bad primary superblock is replaced by the
/// backup found by [`find_backup`].
pub fn fsck(path: &Path, opts: Options) -> Report {
    fsck_with_backup(path, opts, None)
}

/// Runs fsck on `path`; with `Some(backup_block)` (`-b BLOCK`, like
/// `e2fsck -b`) it uses the backup superblock in that block, which must
/// name itself as the backup, instead of the primary, and reports a
/// primary that is invalid or differs from it as `SB_PRIMARY` (rewritten
/// from the backup by `-p`/`-y`). Without it, as [`fsck`].
pub fn fsck_with_backup(path: &Path, opts: Options, backup_block: Option<u64>) -> Report {
    let mut r = Report::default();
    match run(path, opts, backup_block, &mut r) {
        Ok(()) => {}
        Err(e) => {
            r.lines
                .push(format!("fsck.daxfs: {}: {}", path.display(), e));
            r.exit = EXIT_OPERATIONAL;
        }
    }
    r
}

fn suffix(p: &Problem, fixed: bool, mode: Mode) -> &'static str {
    if fixed {
        " - fixed"
    } else if p.fix.is_none() {
        " - cannot fix"
    } else {
        match mode {
            Mode::No => " - not fixed (-n)",
            Mode::Preen => " - not fixed (run fsck.daxfs -y)",
            Mode::Yes => " - not fixed",
        }
    }
}

fn note(r: &mut Report, p: &Problem, fixed: bool, mode: Mode) {
    if !r.problems.contains(p) {
        r.lines
            .push(format!("[{}] {}{}", p.code, p.msg, suffix(p, fixed, mode)));
        r.problems.push(p.clone());
    }
}

/// Where the backup superblock fsck used was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackupSource {
    /// The block the damaged primary's raw `backup_sb_block` field names.
    PrimaryField,
    /// The device's last block (a filesystem that fills its device).
    DeviceEnd,
    /// Named with `-b` ([`fsck_with_backup`]).
    Option,
}

impl BackupSource {
    /// How the block was found, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            BackupSource::PrimaryField => "named by the primary's backup_sb_block field",
            BackupSource::DeviceEnd => "the device's last block",
            BackupSource::Option => "named by -b",
        }
    }
}

/// Reads the superblock in block `blk` as a backup superblock: it must
/// decode, name `blk` as its own backup block and fit on the device.
pub fn read_backup(dev: &Dev, blk: u64) -> Result<Superblock, String> {
    let blocks = dev.blocks();
    if blk == 0 {
        return Err("block 0 holds the primary superblock".into());
    }
    if blk >= blocks {
        return Err(format!(
            "block {} is outside the device (blocks 1 ... {})",
            blk,
            blocks.saturating_sub(1)
        ));
    }
    let mut b = [0u8; SB_SIZE];
    dev.read_at(blk * BLOCK_SIZE_U64, &mut b)
        .map_err(|e| e.to_string())?;
    let sb = Superblock::decode(&b).map_err(|e| e.to_string())?;
    if sb.layout.backup_sb_block != blk {
        return Err(format!(
            "superblock of a filesystem whose backup is in block {}",
            sb.layout.backup_sb_block
        ));
    }
    if sb.layout.block_count > blocks {
        return Err(format!(
            "superblock of a {}-block filesystem on a {}-block device",
            sb.layout.block_count, blocks
        ));
    }
    Ok(sb)
}

/// Where the backup superblock is looked for when the primary (raw bytes
/// `primary`) does not decode, most likely first, as the kernel's
/// `format::txn::read_superblock` does: the block the primary's own
/// (unvalidated) `backup_sb_block` field names if it is on the device,
/// which is right whenever the damage spared that field, also on a
/// filesystem smaller than its device (`mkfs.daxfs DEV SIZE`); then the
/// last block of a `dev_blocks`-block device (mkfs without a size). A
/// backup anywhere else is named with `-b` ([`fsck_with_backup`]).
pub fn backup_candidates(primary: &[u8], dev_blocks: u64) -> Vec<(u64, BackupSource)> {
    let mut v: Vec<(u64, BackupSource)> = Vec::new();
    let named = Superblock::decode_raw(primary).map_or(0, |s| s.layout.backup_sb_block);
    for (blk, src) in [
        (named, BackupSource::PrimaryField),
        (dev_blocks.saturating_sub(1), BackupSource::DeviceEnd),
    ] {
        if blk != 0 && blk < dev_blocks && !v.iter().any(|&(b, _)| b == blk) {
            v.push((blk, src));
        }
    }
    v
}

/// Finds the backup superblock of a filesystem whose primary (raw bytes
/// `primary`) does not decode: the first of [`backup_candidates`] that
/// [`read_backup`] accepts. A superblock in the device's last block is
/// not taken when the primary still carries the daxfs magic and a
/// different UUID: it is then the backup of an earlier filesystem on the
/// device, and restoring it would lay that filesystem's layout over this
/// one (`-b` overrides). The error says what each candidate held.
pub fn find_backup(dev: &Dev, primary: &[u8]) -> Result<(u64, BackupSource, Superblock), String> {
    let raw = Superblock::decode_raw(primary)
        .ok()
        .filter(|_| primary.get(..8) == Some(&SB_MAGIC.to_le_bytes()[..]));
    let mut why = Vec::new();
    for (blk, src) in backup_candidates(primary, dev.blocks()) {
        let r = read_backup(dev, blk).and_then(|sb| match &raw {
            Some(p) if src == BackupSource::DeviceEnd && p.uuid != sb.uuid => Err(format!(
                "superblock of another filesystem (UUID {}; the primary's is {})",
                format_uuid(&sb.uuid),
                format_uuid(&p.uuid)
            )),
            _ => Ok(sb),
        });
        match r {
            Ok(sb) => return Ok((blk, src, sb)),
            Err(e) => why.push(format!(
                "backup in block {} ({}): {}",
                blk,
                src.describe(),
                e
            )),
        }
    }
    if why.is_empty() {
        why.push("no block on the device to look for a backup in".into());
    }
    Err(why.join("; "))
}

/// Reads and checks the primary and backup superblocks. Returns the
/// superblock to check the filesystem with, whether it is a backup that
/// `-b` chose over a valid primary (which must then not be re-read), and
/// the `SB_PRIMARY` problem of a primary that does not decode, not yet
/// noted: its repair waits until the journal is handled (see [`run`]).
fn superblocks(
    dev: &Dev,
    opts: Options,
    backup_block: Option<u64>,
    r: &mut Report,
    found: &mut bool,
) -> Result<(Superblock, bool, Option<Problem>), String> {
    let mode = opts.mode;
    if dev.size < SB_SIZE as u64 {
        return Err("device too small to hold a daxfs superblock".into());
    }
    let mut b = [0u8; SB_SIZE];
    dev.read_at(0, &mut b).map_err(|e| e.to_string())?;
    let primary = Superblock::decode(&b);
    let named = match backup_block {
        Some(blk) => Some((
            blk,
            read_backup(dev, blk)
                .map_err(|e| format!("-b {}: no valid backup superblock: {}", blk, e))?,
        )),
        None => None,
    };
    // The primary, rejected because of `why`, is replaced by the backup
    // `bk` found in block `blk`: now, or (`defer`) once the journal is
    // handled, returning the problem to note then.
    let mut restore = |why: String,
                       blk: u64,
                       src: BackupSource,
                       bk: Superblock,
                       defer: bool|
     -> (Superblock, Option<Problem>) {
        *found = true;
        let p = Problem::new(
            code::SB_PRIMARY,
            format!(
                "primary superblock: {}; using the backup in block {} ({})",
                why,
                blk,
                src.describe()
            ),
            Some(Fix::RestorePrimary),
        );
        if defer {
            return (bk, Some(p));
        }
        let fixed = Fix::RestorePrimary.allowed(mode) && write_primary(dev, &bk);
        note(r, &p, fixed, mode);
        (bk, None)
    };
    // Before anything is written: the superblock used must have no unknown
    // read-only-compatible feature.
    if let Ok(sb) = &primary {
        known_ro_compat(sb)?;
    }
    if let Some((_, bk)) = &named {
        known_ro_compat(bk)?;
    }
    // A primary that does not decode may be one torn by a crash while a
    // committed transaction was applied: the replay completes it (it
    // rewrites every byte the transaction changed), which writing the
    // backup's older counters and orphan list over it first would spoil.
    Ok(match (primary, named) {
        // The named backup is this filesystem's and agrees: the primary
        // (whose counters are current) is used.
        (Ok(sb), Some((_, bk))) if sb.same_static(&bk) => (sb, false, None),
        (Ok(_), Some((blk, bk))) => {
            let (sb, _) = restore(
                "valid, but differs from the backup".into(),
                blk,
                BackupSource::Option,
                bk,
                false,
            );
            (sb, true, None)
        }
        (Err(pe), Some((blk, bk))) => {
            let (sb, p) = restore(pe.to_string(), blk, BackupSource::Option, bk, true);
            (sb, false, p)
        }
        (Err(pe), None) => match find_backup(dev, &b) {
            Ok((blk, src, bk)) => {
                known_ro_compat(&bk)?;
                let (sb, p) = restore(pe.to_string(), blk, src, bk, true);
                (sb, false, p)
            }
            Err(be) => {
                return Err(format!(
                    "no valid daxfs superblock (primary: {}; {}); if the filesystem \
                     is smaller than the device, name its backup (its last block) \
                     with -b BLOCK",
                    pe, be
                ))
            }
        },
        (Ok(sb), None) => {
            let blk = sb.layout.backup_sb_block;
            let why = match read_backup(dev, blk) {
                Ok(bk) if bk.same_static(&sb) => None,
                Ok(_) => Some("differs from the primary".to_string()),
                Err(e) => Some(e),
            };
            if let Some(why) = why {
                let p = Problem::new(
                    code::SB_BACKUP,
                    format!("backup superblock (block {}): {}", blk, why),
                    Some(Fix::RewriteBackup),
                );
                *found = true;
                let fixed = Fix::RewriteBackup.allowed(mode)
                    && dev.blocks() >= sb.layout.block_count
                    && crate::mkfs::write_sb(dev, &sb).is_ok();
                note(r, &p, fixed, mode);
            }
            (sb, false, None)
        }
    })
}

/// As e2fsck: what an unknown read-only-compatible feature adds to the
/// format is not known here, so neither checking nor repairing a
/// filesystem that has one can be trusted (the kernel mounts it read-only
/// only). An operational error, before anything is written.
fn known_ro_compat(sb: &Superblock) -> Result<(), String> {
    match sb.feature_ro_compat & !RO_COMPAT_SUPPORTED {
        0 => Ok(()),
        unknown => Err(format!(
            "unsupported read-only-compatible features {:#x}: this fsck.daxfs cannot check them",
            unknown
        )),
    }
}

/// Writes superblock `sb` over the primary.
fn write_primary(dev: &Dev, sb: &Superblock) -> bool {
    let mut b = [0u8; SB_SIZE];
    sb.encode(&mut b);
    dev.write_at(0, &b).is_ok()
}

fn run(
    path: &Path,
    opts: Options,
    backup_block: Option<u64>,
    r: &mut Report,
) -> Result<(), String> {
    let mode = opts.mode;
    let mut dev = Dev::open(path, mode != Mode::No).map_err(|e| e.to_string())?;
    let mut found = false;

    // Superblocks.
    let (sb, pinned, restore) = superblocks(&dev, opts, backup_block, r, &mut found)?;
    let layout = sb.layout;
    if dev.blocks() < layout.block_count {
        let p = Problem::new(
            code::SB_DEVICE_SIZE,
            format!(
                "device has {} blocks but the filesystem has {}",
                dev.blocks(),
                layout.block_count
            ),
            None,
        );
        note(r, &p, false, mode);
        r.exit = EXIT_UNCORRECTED;
        return Ok(());
    }

    // Journal.
    let ctx = sb.ctx();
    let jhoff = layout.journal_start * BLOCK_SIZE_U64;
    let mut jb = [0u8; BLOCK_SIZE];
    dev.read_at(jhoff, &mut jb).map_err(|e| e.to_string())?;
    let reset = |dev: &Dev, commit: u64| -> bool {
        let mut h = JournalHeader::new(&layout);
        h.commit = commit;
        h.applied = u64::from(commit_seq(commit));
        let mut b = [0u8; BLOCK_SIZE];
        h.encode(&mut b);
        dev.write_at(jhoff, &b).is_ok()
    };
    let mut uncorrected_journal = false;
    match JournalHeader::decode(&jb, &layout) {
        Err(e) => {
            found = true;
            let p = Problem::new(
                code::JOURNAL_HEADER,
                format!("journal header (block {}): {}", layout.journal_start, e),
                Some(Fix::ResetJournal),
            );
            let fixed = Fix::ResetJournal.allowed(mode) && reset(&dev, 0);
            uncorrected_journal = !fixed;
            note(r, &p, fixed, mode);
        }
        Ok(h) => match journal_state(&h) {
            Err(e) => {
                found = true;
                let p = Problem::new(
                    code::JOURNAL_SEQ,
                    format!(
                        "journal: {} (commit seq {}, applied {})",
                        e,
                        commit_seq(h.commit),
                        h.applied
                    ),
                    Some(Fix::ResetJournal),
                );
                let fixed = Fix::ResetJournal.allowed(mode) && reset(&dev, h.commit);
                uncorrected_journal = !fixed;
                note(r, &p, fixed, mode);
            }
            Ok(JournalState::Clean { .. }) => {}
            Ok(JournalState::NeedsReplay { seq }) => {
                found = true;
                let mut log = vec![0u8; h.log_bytes() as usize];
                dev.read_at(h.log_start * BLOCK_SIZE_U64, &mut log)
                    .map_err(|e| e.to_string())?;
                match Txn::parse(&log, h.commit, ctx.csum_seed, &layout) {
                    Ok(t) => {
                        let recs: Vec<(u64, Vec<u8>)> = t
                            .records()
                            .filter_map(|x| x.ok())
                            .map(|x| (x.offset, x.data.to_vec()))
                            .collect();
                        let p = Problem::new(
                            code::JOURNAL_REPLAY,
                            format!(
                                "journal: committed transaction {} ({} records) needs replay",
                                seq,
                                recs.len()
                            ),
                            Some(Fix::ReplayJournal),
                        );
                        let fixed = if Fix::ReplayJournal.allowed(mode) {
                            let ok = recs.iter().all(|(o, d)| dev.write_at(*o, d).is_ok());
                            ok && dev.sync().is_ok() && reset(&dev, h.commit)
                        } else {
                            for (o, d) in &recs {
                                dev.add_overlay(*o, d);
                            }
                            false
                        };
                        note(r, &p, fixed, mode);
                        if !fixed && mode != Mode::No {
                            uncorrected_journal = true;
                        }
                    }
                    Err(e) => {
                        let p = Problem::new(
                            code::JOURNAL_TXN,
                            format!("journal: committed transaction {} is invalid: {}", seq, e),
                            Some(Fix::ResetJournal),
                        );
                        let fixed = Fix::ResetJournal.allowed(mode) && reset(&dev, h.commit);
                        uncorrected_journal = !fixed;
                        note(r, &p, fixed, mode);
                    }
                }
            }
        },
    }

    // Re-read the superblock: a replayed transaction may have changed it
    // (with -n the replay is laid over the read). A primary that `-b`
    // overrode is used only if it now agrees with the backup. A primary
    // that did not decode is used if the replay completed it (with -n, if
    // the pending replay would), else replaced by the backup now.
    let sb = {
        let mut b = [0u8; SB_SIZE];
        dev.read_at(0, &mut b).map_err(|e| e.to_string())?;
        let now = Superblock::decode(&b)
            .ok()
            .filter(|p| (!pinned && restore.is_none()) || p.same_static(&sb));
        match (restore, now) {
            (None, now) => now.unwrap_or(sb),
            (Some(p), Some(now)) => {
                // Completed by the replay (fixed), or by the one -n only
                // lays over its reads (not fixed).
                note(r, &p, mode != Mode::No && !uncorrected_journal, mode);
                now
            }
            (Some(p), None) => {
                let fixed = Fix::RestorePrimary.allowed(mode) && write_primary(&dev, &sb);
                note(r, &p, fixed, mode);
                sb
            }
        }
    };
    let mut fs = Fs::with_sb(dev, sb);

    let mut last = Vec::new();
    for _pass in 0..8 {
        // A pending seal roll-back is what mount does, not damage: only a
        // repair run reports it, when it carries it out.
        let problems: Vec<Problem> = check_fs(&fs)?
            .into_iter()
            .filter(|p| mode != Mode::No || p.code != code::SEAL_INTENT)
            .collect();
        let mut phase_fixes: Option<(u8, Vec<Fix>)> = None;
        for p in &problems {
            found = true;
            if let Some(f) = &p.fix {
                if f.allowed(mode) {
                    let ph = f.phase();
                    if ph == 3 && problems.iter().any(|q| q.uncertain()) {
                        continue;
                    }
                    match &mut phase_fixes {
                        Some((cur, v)) if *cur == ph => v.push(f.clone()),
                        Some((cur, _)) if *cur < ph => {}
                        _ => phase_fixes = Some((ph, vec![f.clone()])),
                    }
                }
            }
        }
        let applied: Vec<Fix> = match phase_fixes {
            Some((_, v)) => v,
            None => {
                for p in &problems {
                    note(r, p, false, mode);
                }
                last = problems;
                break;
            }
        };
        for p in &problems {
            let fixed = p.fix.as_ref().is_some_and(|f| applied.contains(f));
            if fixed {
                note(r, p, true, mode);
            }
        }
        apply(&mut fs, &applied)?;
        last = problems
            .into_iter()
            .filter(|p| !p.fix.as_ref().is_some_and(|f| applied.contains(f)))
            .collect();
    }
    fs.dev.sync().map_err(|e| e.to_string())?;
    let remaining = !last.is_empty() || uncorrected_journal;
    r.exit = if !found {
        EXIT_OK
    } else if remaining || mode == Mode::No {
        EXIT_UNCORRECTED
    } else {
        EXIT_CORRECTED
    };
    if opts.verbose || r.exit != EXIT_OK {
        let used_i =
            fs.sb.layout.inode_count - 1 - fs.sb.free_inodes.min(fs.sb.layout.inode_count - 1);
        r.lines.push(format!(
            "{}: {} inodes used of {}, {} blocks used of {}{}",
            path.display(),
            used_i,
            fs.sb.layout.inode_count - 1,
            fs.sb.layout.data_blocks - fs.sb.free_blocks.min(fs.sb.layout.data_blocks),
            fs.sb.layout.data_blocks,
            match r.exit {
                EXIT_OK => ", clean",
                EXIT_CORRECTED => ", errors corrected",
                _ => ", ERRORS LEFT UNCORRECTED",
            }
        ));
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ClaimKind {
    Data(u64, bool),
    Node,
}

struct Checker<'a> {
    fs: &'a Fs,
    l: Layout,
    problems: Vec<Problem>,
    inodes: BTreeMap<u64, Inode>,
    bad: HashSet<u64>,
    claimed: Vec<u8>,
    dups: HashSet<u64>,
    claims: Vec<(u64, u64, u64, ClaimKind)>,
    links: HashMap<u64, u32>,
    subdirs: HashMap<u64, u32>,
    dir_parents: HashMap<u64, Vec<u64>>,
    entries: HashMap<u64, Vec<(u64, DirEntry)>>,
    /// Files and symlinks whose extent map was read without a problem
    /// (an interrupted seal is rolled back only on such a map).
    map_ok: HashSet<u64>,
}

impl<'a> Checker<'a> {
    /// A checker over `fs` that has read every inode and checked each one
    /// (block claims, links, directory entries): the common first pass of
    /// a full check and of recomputing the allocator state.
    fn scan(fs: &'a Fs) -> Result<Self, String> {
        let l = *fs.layout();
        let mut c = Checker {
            fs,
            l,
            problems: Vec::new(),
            inodes: BTreeMap::new(),
            bad: HashSet::new(),
            claimed: vec![0u8; l.data_blocks.div_ceil(8) as usize],
            dups: HashSet::new(),
            claims: Vec::new(),
            links: HashMap::new(),
            subdirs: HashMap::new(),
            dir_parents: HashMap::new(),
            entries: HashMap::new(),
            map_ok: HashSet::new(),
        };
        c.scan_inodes()?;
        let inos: Vec<u64> = c.inodes.keys().copied().collect();
        for ino in inos {
            c.check_inode(ino)?;
        }
        Ok(c)
    }
}

fn type_name(i: &Inode) -> &'static str {
    match i.file_type() {
        S_IFREG => "regular file",
        S_IFDIR => "directory",
        S_IFLNK => "symlink",
        S_IFCHR => "character device",
        S_IFBLK => "block device",
        S_IFIFO => "fifo",
        S_IFSOCK => "socket",
        _ => "inode",
    }
}

fn show_name(n: &[u8]) -> String {
    String::from_utf8_lossy(n).escape_default().to_string()
}

/// Runs one full check pass over an open filesystem (superblock and
/// journal already handled); returns the problems found, including the
/// pending seal roll-backs ([`code::SEAL_INTENT`]) that `fsck -n` leaves
/// out.
pub fn check_fs(fs: &Fs) -> Result<Vec<Problem>, String> {
    let mut c = Checker::scan(fs)?;
    c.shared();
    c.tree_structure();
    c.accounting()?;
    Ok(c.problems)
}

impl Checker<'_> {
    fn p(&mut self, code: &'static str, msg: String, fix: Option<Fix>) {
        self.problems.push(Problem::new(code, msg, fix));
    }

    fn read(&self, off: u64, buf: &mut [u8]) -> Result<(), String> {
        self.fs
            .dev
            .read_at(off, buf)
            .map_err(|e| format!("read error at byte {}: {}", off, e))
    }

    fn scan_inodes(&mut self) -> Result<(), String> {
        let per = 4096u64;
        let seed = self.fs.ctx.csum_seed;
        let mut buf = vec![0u8; (per as usize) * INODE_SIZE];
        let mut first = 0;
        while first < self.l.inode_count {
            let n = per.min(self.l.inode_count - first);
            let b = &mut buf[..n as usize * INODE_SIZE];
            self.read(
                self.l.inode_table_start * BLOCK_SIZE_U64 + first * INODE_SIZE as u64,
                b,
            )?;
            let b = &buf[..n as usize * INODE_SIZE];
            for (k, rec) in b.chunks(INODE_SIZE).enumerate() {
                let ino = first + k as u64;
                if rec.iter().all(|&x| x == 0) {
                    continue;
                }
                if ino == 0 {
                    self.p(
                        code::INODE_RESERVED,
                        "inode 0 (reserved slot) is not zero".into(),
                        Some(Fix::ClearInode(0)),
                    );
                    continue;
                }
                match Inode::decode(rec, ino, seed) {
                    Ok(Some(i)) => {
                        self.inodes.insert(ino, i);
                    }
                    Ok(None) => {}
                    Err(Error::BadChecksum(_)) => {
                        let stored = u32::from_le_bytes([
                            rec[INO_OFF_CHECKSUM],
                            rec[INO_OFF_CHECKSUM + 1],
                            rec[INO_OFF_CHECKSUM + 2],
                            rec[INO_OFF_CHECKSUM + 3],
                        ]);
                        self.bad.insert(ino);
                        self.p(
                            code::INODE_CHECKSUM,
                            format!(
                                "inode {}: checksum 0x{:08x}, expected 0x{:08x}",
                                ino,
                                stored,
                                inode_checksum(ino, seed, rec)
                            ),
                            Some(Fix::ClearInode(ino)),
                        );
                    }
                    Err(e) => {
                        self.bad.insert(ino);
                        self.p(
                            code::INODE_BAD,
                            format!("inode {}: {}", ino, e),
                            Some(Fix::ClearInode(ino)),
                        );
                    }
                }
            }
            first += n;
        }
        match self.inodes.get(&ROOT_INO) {
            Some(r) if r.is_dir() && r.parent == ROOT_INO => {}
            Some(r) => {
                let msg = format!(
                    "root inode {} is a {} with parent {}",
                    ROOT_INO,
                    type_name(r),
                    r.parent
                );
                self.p(code::ROOT_BAD, msg, None)
            }
            None => self.p(
                code::ROOT_BAD,
                format!("root inode {} is missing or invalid", ROOT_INO),
                None,
            ),
        }
        Ok(())
    }

    /// Claims `[blk, blk+len)` for `ino`; records double claims.
    fn claim(&mut self, ino: u64, blk: u64, len: u64, kind: ClaimKind) {
        self.claims.push((blk, len, ino, kind));
        for b in blk..blk + len {
            let bit = b - self.l.data_start;
            if bit_set(&mut self.claimed, bit, true) {
                self.dups.insert(b);
            }
        }
    }

    /// Walks a B+tree, verifying every node; returns the leaf entries and
    /// the node count, or `None` after reporting a problem.
    #[allow(clippy::too_many_arguments)]
    fn walk(
        &mut self,
        ino: u64,
        tree: TreeType,
        blk: u64,
        level: Option<u8>,
        lo: u64,
        hi: Option<u64>,
        out: &mut Vec<(u64, Vec<u8>)>,
        nodes: &mut u64,
    ) -> Option<()> {
        let what = match tree {
            TreeType::Extent => "extent tree",
            TreeType::Dir => "directory index",
        };
        let fix = Some(Fix::ClearInode(ino));
        if !self.l.in_data(blk, 1) {
            self.p(
                code::BTREE_NODE,
                format!(
                    "inode {}: {} node pointer {} is outside the data area",
                    ino, what, blk
                ),
                fix,
            );
            return None;
        }
        let mut buf: Block = [0u8; BLOCK_SIZE];
        if let Err(e) = self.fs.dev.read_block(blk, &mut buf) {
            self.p(
                code::BTREE_NODE,
                format!("inode {}: {} node at block {}: {}", ino, what, blk, e),
                fix,
            );
            return None;
        }
        let h: NodeHeader = match node_verify(&buf, self.fs.ctx.csum_seed, tree, ino, blk) {
            Ok(h) => h,
            Err(e) => {
                self.p(
                    code::BTREE_NODE,
                    format!("inode {}: {} node at block {}: {}", ino, what, blk, e),
                    fix,
                );
                return None;
            }
        };
        if let Some(lv) = level {
            if h.level != lv {
                self.p(
                    code::BTREE_NODE,
                    format!(
                        "inode {}: {} node at block {} has level {}, expected {}",
                        ino, what, blk, h.level, lv
                    ),
                    fix,
                );
                return None;
            }
        }
        if h.nr == 0 && level.is_some() {
            self.p(
                code::BTREE_NODE,
                format!("inode {}: {} node at block {} is empty", ino, what, blk),
                fix,
            );
            return None;
        }
        self.claim(ino, blk, 1, ClaimKind::Node);
        *nodes += 1;
        let nr = usize::from(h.nr);
        let mut keys = Vec::with_capacity(nr);
        for i in 0..nr {
            let k = node_key(&buf, i).ok()?;
            if k < lo || hi.is_some_and(|h| k >= h) {
                self.p(
                    code::BTREE_NODE,
                    format!(
                        "inode {}: {} node at block {}: key {} outside its parent's range",
                        ino, what, blk, k
                    ),
                    fix,
                );
                return None;
            }
            keys.push(k);
        }
        if h.level == 0 {
            for (i, k) in keys.iter().enumerate() {
                out.push((*k, node_value(&buf, i).ok()?.to_vec()));
            }
            return Some(());
        }
        for i in 0..nr {
            let child = node_child(&buf, i).ok()?;
            let chi = keys.get(i + 1).copied().or(hi);
            self.walk(
                ino,
                tree,
                child,
                Some(h.level - 1),
                keys[i],
                chi,
                out,
                nodes,
            )?;
        }
        Some(())
    }

    fn check_inode(&mut self, ino: u64) -> Result<(), String> {
        let inode = self.inodes[&ino];
        if inode.is_dir() {
            return self.check_dir(ino, &inode);
        }
        if inode.map_kind != MAP_EXTENTS && inode.map_kind != MAP_BTREE {
            if inode.is_symlink() {
                if let Ok(d) = inode.inline_data() {
                    if d.contains(&0) {
                        self.p(
                            code::SYMLINK_BAD,
                            format!("inode {}: symlink target contains a NUL byte", ino),
                            Some(Fix::ClearInode(ino)),
                        );
                    }
                }
            }
            return Ok(());
        }
        // Gather extents.
        let mut exts: Vec<Extent> = Vec::new();
        let mut nodes = 0u64;
        if inode.map_kind == MAP_EXTENTS {
            for i in 0..inode.map_count as usize {
                match Extent::decode_inline(&inode.map, i) {
                    Ok(e) => exts.push(e),
                    Err(e) => {
                        self.p(code::EXTENT_BAD, format!("inode {}: {}", ino, e), None);
                        return Ok(());
                    }
                }
            }
        } else {
            let mut out = Vec::new();
            if self
                .walk(
                    ino,
                    TreeType::Extent,
                    inode.btree_root(),
                    None,
                    0,
                    None,
                    &mut out,
                    &mut nodes,
                )
                .is_none()
            {
                return Ok(());
            }
            for (k, v) in out {
                match Extent::decode_value(k, &v) {
                    Ok(e) => exts.push(e),
                    Err(e) => {
                        self.p(code::EXTENT_BAD, format!("inode {}: {}", ino, e), None);
                        return Ok(());
                    }
                }
            }
        }
        let sealed = inode.is_sealed();
        // An inode with a seal intent is half way through sealing or
        // unsealing: any mix of SEALED extents is expected, and rolled back
        // (SEAL_INTENT, SEAL_INTENT_UNLISTED).
        let intent = inode.seal_intent();
        let mut data = 0u64;
        let mut prev_end = 0u64;
        let mut ok_map = true;
        for e in &exts {
            let loc = format!(
                "inode {}: extent lblk {} pblk {} len {}",
                ino, e.lblk, e.pblk, e.len
            );
            if e.flags & EXTENT_SEALED != 0 && e.flags & EXTENT_UNWRITTEN != 0 {
                self.p(
                    code::SEALED_UNWRITTEN,
                    format!("{} is both SEALED and UNWRITTEN", loc),
                    None,
                );
                ok_map = false;
                continue;
            }
            if let Err(err) = e.check_shape() {
                self.p(
                    code::EXTENT_BAD,
                    format!("{}: {}", loc, err),
                    Some(Fix::RemoveExtent(ino, e.lblk)),
                );
                ok_map = false;
                continue;
            }
            if e.check_range(&self.l).is_err() {
                self.p(
                    code::EXTENT_RANGE,
                    format!(
                        "{} is outside the data area [{}, {})",
                        loc,
                        self.l.data_start,
                        self.l.data_end()
                    ),
                    Some(Fix::RemoveExtent(ino, e.lblk)),
                );
                ok_map = false;
                continue;
            }
            if e.lblk < prev_end {
                self.p(
                    code::EXTENT_OVERLAP,
                    format!(
                        "{} overlaps the previous extent (ends at lblk {})",
                        loc, prev_end
                    ),
                    Some(Fix::RemoveExtent(ino, e.lblk)),
                );
                ok_map = false;
                continue;
            }
            prev_end = e.lend();
            if e.flags & EXTENT_SEALED != 0 && !sealed && !intent {
                self.p(
                    code::SEALED_STRAY,
                    format!(
                        "{} is SEALED but the file is not sealed and has no seal intent",
                        loc
                    ),
                    Some(Fix::ClearExtentSealed(ino, e.lblk)),
                );
            }
            data += u64::from(e.len);
            self.claim(
                ino,
                e.pblk,
                u64::from(e.len),
                ClaimKind::Data(e.lblk, e.flags & EXTENT_SEALED != 0),
            );
        }
        if sealed && ok_map {
            let need = inode.size.div_ceil(BLOCK_SIZE_U64);
            let mut at = 0u64;
            for e in &exts {
                if e.flags & EXTENT_SEALED == 0 {
                    self.p(
                        code::SEALED_INCOMPLETE,
                        format!(
                            "inode {}: sealed file has an unsealed extent at lblk {}",
                            ino, e.lblk
                        ),
                        None,
                    );
                    break;
                }
                if e.lblk > at && at < need {
                    self.p(
                        code::SEALED_INCOMPLETE,
                        format!(
                            "inode {}: sealed file has a hole at blocks {}..{}",
                            ino,
                            at,
                            e.lblk.min(need)
                        ),
                        None,
                    );
                    break;
                }
                at = e.lend();
            }
            if at < need
                && !self.problems.iter().any(|p| {
                    p.code == code::SEALED_INCOMPLETE
                        && p.msg.starts_with(&format!("inode {}:", ino))
                })
            {
                self.p(
                    code::SEALED_INCOMPLETE,
                    format!(
                        "inode {}: sealed file has a hole at blocks {}..{}",
                        ino, at, need
                    ),
                    None,
                );
            }
        }
        if !ok_map {
            return Ok(());
        }
        self.map_ok.insert(ino);
        if inode.is_symlink() {
            let good = exts.len() == 1 && exts[0].lblk == 0 && exts[0].len == 1;
            if !good {
                self.p(
                    code::SYMLINK_BAD,
                    format!(
                        "inode {}: symlink block map is not one block at lblk 0",
                        ino
                    ),
                    Some(Fix::ClearInode(ino)),
                );
            } else {
                let mut b = vec![0u8; inode.size as usize];
                self.read(exts[0].pblk * BLOCK_SIZE_U64, &mut b)?;
                if b.contains(&0) {
                    self.p(
                        code::SYMLINK_BAD,
                        format!("inode {}: symlink target contains a NUL byte", ino),
                        Some(Fix::ClearInode(ino)),
                    );
                }
            }
        }
        if inode.map_kind == MAP_BTREE && inode.map_count as usize != exts.len() {
            self.p(
                code::MAP_COUNT,
                format!(
                    "inode {}: map count {}, counted {} extents",
                    ino,
                    inode.map_count,
                    exts.len()
                ),
                Some(Fix::SetMapCount(ino, exts.len() as u32)),
            );
        }
        let blocks = data + nodes;
        if inode.blocks != blocks {
            self.p(
                code::INODE_BLOCKS,
                format!(
                    "inode {}: block count {}, counted {}",
                    ino, inode.blocks, blocks
                ),
                Some(Fix::SetBlocks(ino, blocks)),
            );
        }
        Ok(())
    }

    fn check_dir(&mut self, ino: u64, inode: &Inode) -> Result<(), String> {
        let mut out = Vec::new();
        let mut nodes = 0;
        if self
            .walk(
                ino,
                TreeType::Dir,
                inode.btree_root(),
                None,
                0,
                None,
                &mut out,
                &mut nodes,
            )
            .is_none()
        {
            return Ok(());
        }
        let key = self.fs.ctx.hash_key;
        let mut good = Vec::new();
        for (k, v) in &out {
            let e = match DirEntry::decode(v) {
                Ok(e) => e,
                Err(err) => {
                    self.p(
                        code::DIRENT_BAD,
                        format!("directory {}: entry at key 0x{:x}: {}", ino, k, err),
                        Some(Fix::RemoveDirEntry(ino, *k)),
                    );
                    continue;
                }
            };
            let base = name_key_base(&key, e.name());
            if *k < base || *k > base + 255 {
                self.p(
                    code::DIR_HASH,
                    format!(
                        "directory {}: entry '{}' is stored under key 0x{:x}, its hash gives 0x{:x}",
                        ino,
                        show_name(e.name()),
                        k,
                        base
                    ),
                    Some(Fix::RehashDirEntry(ino, *k)),
                );
                continue;
            }
            good.push((*k, e));
        }
        if inode.map_count as usize != out.len() {
            self.p(
                code::MAP_COUNT,
                format!(
                    "directory {}: entry count {}, counted {}",
                    ino,
                    inode.map_count,
                    out.len()
                ),
                Some(Fix::SetMapCount(ino, out.len() as u32)),
            );
        }
        if inode.blocks != nodes || inode.size != nodes * BLOCK_SIZE_U64 {
            let (c, what) = if inode.blocks != nodes {
                (code::INODE_BLOCKS, "block count")
            } else {
                (code::DIR_SIZE, "size")
            };
            self.p(
                c,
                format!(
                    "directory {}: {} is {} blocks / {} bytes, index has {} blocks",
                    ino, what, inode.blocks, inode.size, nodes
                ),
                Some(Fix::SetBlocks(ino, nodes)),
            );
        }
        self.entries.insert(ino, good);
        Ok(())
    }

    fn shared(&mut self) {
        if self.dups.is_empty() {
            return;
        }
        let mut owners: BTreeMap<u64, Vec<(u64, ClaimKind)>> = BTreeMap::new();
        for &(blk, len, ino, kind) in &self.claims {
            for b in blk..blk + len {
                if self.dups.contains(&b) {
                    owners.entry(b).or_default().push((ino, kind));
                }
            }
        }
        // One line per pair of owners: first block and count.
        let mut pairs: BTreeMap<(u64, u64, bool), (u64, u64)> = BTreeMap::new();
        for (b, os) in &owners {
            for w in os.windows(2) {
                let sealed = os
                    .iter()
                    .any(|(_, k)| matches!(k, ClaimKind::Data(_, true)));
                let e = pairs.entry((w[0].0, w[1].0, sealed)).or_insert((*b, 0));
                e.1 += 1;
            }
        }
        for ((a, b, sealed), (first, n)) in pairs {
            if sealed {
                self.p(
                    code::SEALED_SHARED,
                    format!(
                        "block {} ({} blocks) of a sealed extent is shared by inodes {} and {}",
                        first, n, a, b
                    ),
                    None,
                );
            } else {
                self.p(
                    code::BLOCK_SHARED,
                    format!(
                        "block {} ({} blocks) is claimed by inode {} and inode {}",
                        first, n, a, b
                    ),
                    None,
                );
            }
        }
    }

    fn tree_structure(&mut self) {
        // Link counts and parents from the directory entries.
        let dirs: Vec<u64> = self.entries.keys().copied().collect();
        for d in &dirs {
            let ents = self.entries[d].clone();
            for (k, e) in ents {
                let target = self.inodes.get(&e.ino).copied();
                match target {
                    None => {
                        let why = if self.bad.contains(&e.ino) {
                            "an invalid"
                        } else if e.ino >= self.l.inode_count {
                            "a nonexistent"
                        } else {
                            "a free"
                        };
                        self.p(
                            code::DIR_DANGLING,
                            format!(
                                "directory {}: entry '{}' points to {} inode {}",
                                d,
                                show_name(e.name()),
                                why,
                                e.ino
                            ),
                            Some(Fix::RemoveDirEntry(*d, k)),
                        );
                    }
                    Some(t) => {
                        let want = mode_to_dtype(t.mode);
                        if want != e.file_type {
                            self.p(
                                code::DIR_TYPE,
                                format!(
                                    "directory {}: entry '{}' has type {}, inode {} is a {}",
                                    d,
                                    show_name(e.name()),
                                    e.file_type,
                                    e.ino,
                                    type_name(&t)
                                ),
                                Some(Fix::SetDirEntryType(*d, k, want)),
                            );
                        }
                        *self.links.entry(e.ino).or_default() += 1;
                        if t.is_dir() {
                            *self.subdirs.entry(*d).or_default() += 1;
                            self.dir_parents.entry(e.ino).or_default().push(*d);
                        }
                    }
                }
            }
        }
        // Reachability from the root.
        let mut reached: HashSet<u64> = HashSet::new();
        if self.entries.contains_key(&ROOT_INO) {
            let mut stack = vec![ROOT_INO];
            reached.insert(ROOT_INO);
            while let Some(d) = stack.pop() {
                if let Some(ents) = self.entries.get(&d) {
                    for (_, e) in ents {
                        if self.inodes.contains_key(&e.ino) && reached.insert(e.ino) {
                            stack.push(e.ino);
                        }
                    }
                }
            }
        }
        // The orphan list: inodes unlinked while open, and linked regular
        // files whose seal or unseal a crash interrupted (a seal intent).
        let mut listed: HashSet<u64> = HashSet::new();
        let mut cur = self.fs.sb.orphan_head;
        let mut prev = 0u64;
        while cur != 0 {
            let bad = match self.inodes.get(&cur) {
                None => Some(format!("orphan list: inode {} is free or invalid", cur)),
                Some(_) if listed.contains(&cur) => {
                    Some(format!("orphan list: loop back to inode {}", cur))
                }
                Some(i) if i.nlink != 0 && !i.seal_intent() => Some(format!(
                    "orphan list: inode {} is still linked (nlink {}) and has no seal intent",
                    cur, i.nlink
                )),
                Some(i) if i.nlink == 0 && reached.contains(&cur) => Some(format!(
                    "orphan list: inode {} is still linked (nlink 0 but reachable)",
                    cur
                )),
                Some(_) => None,
            };
            if let Some(msg) = bad {
                self.p(code::ORPHAN_LIST, msg, Some(Fix::ResetOrphanList));
                break;
            }
            listed.insert(cur);
            let back = u64::from(self.inodes[&cur].prev_orphan);
            if back != prev {
                // The list is walked forward; the backward links let the
                // kernel remove an orphan in O(1) and must agree.
                self.p(
                    code::ORPHAN_LIST,
                    format!(
                        "orphan list: inode {} links back to {}, not {}",
                        cur, back, prev
                    ),
                    Some(Fix::ResetOrphanList),
                );
            }
            prev = cur;
            cur = u64::from(self.inodes[&cur].next_orphan);
        }
        let inos: Vec<u64> = self.inodes.keys().copied().collect();
        for &ino in &inos {
            let i = self.inodes[&ino];
            if (i.next_orphan != 0 || i.prev_orphan != 0) && !listed.contains(&ino) {
                self.p(
                    code::ORPHAN_LIST,
                    format!(
                        "inode {}: orphan links {}/{} set but it is not on the orphan list",
                        ino, i.next_orphan, i.prev_orphan
                    ),
                    Some(Fix::ClearOrphanLinks(ino)),
                );
            }
        }
        for &ino in &inos {
            let i = self.inodes[&ino];
            if i.nlink == 0 || !i.seal_intent() {
                continue;
            }
            // A seal or unseal in progress: on the list, mount rolls it back
            // to "not sealed"; fsck does the same. Off the list nothing
            // would, and the file would keep its SEALED extents.
            let fix = self.map_ok.contains(&ino).then_some(Fix::RollBackSeal(ino));
            if listed.contains(&ino) {
                self.p(
                    code::SEAL_INTENT,
                    format!(
                        "inode {} ({}): seal or unseal interrupted; rolling it back to not sealed",
                        ino,
                        type_name(&i)
                    ),
                    fix,
                );
            } else {
                self.p(
                    code::SEAL_INTENT_UNLISTED,
                    format!(
                        "inode {} ({}) has a seal intent but is not on the orphan list; \
                         rolling it back to not sealed",
                        ino,
                        type_name(&i)
                    ),
                    fix,
                );
            }
        }
        for ino in inos {
            let i = self.inodes[&ino];
            if !reached.contains(&ino) && i.nlink == 0 {
                let msg = if listed.contains(&ino) {
                    format!(
                        "inode {} ({}) was unlinked while open; freeing it",
                        ino,
                        type_name(&i)
                    )
                } else {
                    format!(
                        "inode {} ({}) has no links and is not on the orphan list; freeing it",
                        ino,
                        type_name(&i)
                    )
                };
                self.p(code::ORPHAN, msg, Some(Fix::FreeOrphan(ino)));
                continue;
            }
            if !reached.contains(&ino) {
                if self.entries.contains_key(&ROOT_INO) {
                    self.p(
                        code::UNREACHABLE,
                        format!(
                            "inode {} ({}, {} links) is not reachable from the root",
                            ino,
                            type_name(&i),
                            i.nlink
                        ),
                        Some(Fix::Reconnect(ino)),
                    );
                }
                continue;
            }
            if i.is_dir() {
                let parents = self.dir_parents.get(&ino).cloned().unwrap_or_default();
                if ino == ROOT_INO {
                    if !parents.is_empty() {
                        self.p(
                            code::DIR_MULTI,
                            format!("root directory is linked from directory {}", parents[0]),
                            None,
                        );
                    }
                } else if parents.len() > 1 {
                    self.p(
                        code::DIR_MULTI,
                        format!(
                            "directory {} has entries in directories {} and {}",
                            ino, parents[0], parents[1]
                        ),
                        None,
                    );
                } else if let Some(&p) = parents.first() {
                    if i.parent != p {
                        self.p(
                            code::DIR_PARENT,
                            format!(
                                "directory {}: parent is {}, but it is linked from {}",
                                ino, i.parent, p
                            ),
                            Some(Fix::SetParent(ino, p)),
                        );
                    }
                }
                let want = 2 + self.subdirs.get(&ino).copied().unwrap_or(0);
                if i.nlink != want {
                    self.p(
                        code::NLINK,
                        format!(
                            "directory {}: link count {}, expected {}",
                            ino, i.nlink, want
                        ),
                        Some(Fix::SetNlink(ino, want)),
                    );
                }
            } else {
                let want = self.links.get(&ino).copied().unwrap_or(0);
                if want > 0 && i.nlink != want {
                    self.p(
                        code::NLINK,
                        format!(
                            "inode {} ({}): link count {}, expected {}",
                            ino,
                            type_name(&i),
                            i.nlink,
                            want
                        ),
                        Some(Fix::SetNlink(ino, want)),
                    );
                }
            }
        }
    }

    fn accounting(&mut self) -> Result<(), String> {
        let l = self.l;
        let fix = Some(Fix::Accounting);
        // Block bitmap.
        let mut bm = vec![0u8; (l.block_bitmap_blocks * BLOCK_SIZE_U64) as usize];
        self.read(l.block_bitmap_start * BLOCK_SIZE_U64, &mut bm)?;
        let (mut used_free, mut free_used, mut first_uf, mut first_fu) = (0u64, 0u64, None, None);
        for bit in 0..l.block_bitmap_blocks * 32768 {
            let want = bit < l.data_blocks && bit_test(&self.claimed, bit);
            let have = bit_test(&bm, bit);
            if want && !have {
                used_free += 1;
                first_uf.get_or_insert(bit);
            } else if have && !want {
                free_used += 1;
                first_fu.get_or_insert(bit);
            }
        }
        if let Some(b) = first_uf {
            self.p(
                code::BLOCK_BITMAP,
                format!(
                    "{} blocks in use are marked free in the block bitmap (first: block {})",
                    used_free,
                    l.data_start + b
                ),
                fix.clone(),
            );
        }
        if let Some(b) = first_fu {
            self.p(
                code::BLOCK_BITMAP,
                format!(
                    "{} blocks marked used in the block bitmap are not owned by any inode (first: block {})",
                    free_used,
                    l.data_start + b
                ),
                fix.clone(),
            );
        }
        // Group table.
        let mut gt = vec![0u8; (l.group_table_blocks * BLOCK_SIZE_U64) as usize];
        self.read(l.group_table_start * BLOCK_SIZE_U64, &mut gt)?;
        let want_gt = self.computed_gt();
        let mut bad_groups = 0u64;
        let mut first_bad = None;
        for g in 0..(gt.len() as u64 / 2) {
            let (h, w) = (group_used(&gt, g), group_used(&want_gt, g));
            if h != w {
                bad_groups += 1;
                first_bad.get_or_insert((g, h, w));
            }
        }
        if let Some((g, h, w)) = first_bad {
            self.p(
                code::GROUP_TABLE,
                format!(
                    "group {}: used count {}, counted {} ({} groups wrong)",
                    g, h, w, bad_groups
                ),
                fix.clone(),
            );
        }
        // Inode bitmap.
        let mut ibm = vec![0u8; (l.inode_bitmap_blocks * BLOCK_SIZE_U64) as usize];
        self.read(l.inode_bitmap_start * BLOCK_SIZE_U64, &mut ibm)?;
        let want_ibm = self.computed_ibm();
        let mut reported = 0;
        for i in 0..l.inode_bitmap_blocks * 32768 {
            let (h, w) = (bit_test(&ibm, i), bit_test(&want_ibm, i));
            if h != w {
                reported += 1;
                if reported <= 5 {
                    let msg = if w {
                        format!("inode {} is in use but marked free in the inode bitmap", i)
                    } else {
                        format!("inode {} is free but marked used in the inode bitmap", i)
                    };
                    self.p(code::INODE_BITMAP, msg, fix.clone());
                }
            }
        }
        if reported > 5 {
            self.p(
                code::INODE_BITMAP,
                format!("{} more inode bitmap differences", reported - 5),
                fix.clone(),
            );
        }
        let free_blocks =
            l.data_blocks - daxfs_format::alloc::count_ones(&self.claimed, l.data_blocks);
        let free_inodes = l.inode_count - daxfs_format::alloc::count_ones(&want_ibm, l.inode_count);
        let sb = &self.fs.sb;
        if sb.free_blocks != free_blocks {
            self.p(
                code::FREE_BLOCKS,
                format!(
                    "superblock free block count {}, counted {}",
                    sb.free_blocks, free_blocks
                ),
                fix.clone(),
            );
        }
        if sb.errors != 0 {
            self.p(
                code::SB_ERRORS,
                format!(
                    "superblock: the kernel recorded an error (errors = {}); cleared once the check is clean",
                    sb.errors
                ),
                fix.clone(),
            );
        }
        if sb.free_inodes != free_inodes {
            self.p(
                code::FREE_INODES,
                format!(
                    "superblock free inode count {}, counted {}",
                    sb.free_inodes, free_inodes
                ),
                fix,
            );
        }
        Ok(())
    }

    fn computed_gt(&self) -> Vec<u8> {
        let l = self.l;
        let mut gt = vec![0u8; (l.group_table_blocks * BLOCK_SIZE_U64) as usize];
        for g in 0..l.group_count {
            let start = g * GROUP_BLOCKS;
            let end = (start + GROUP_BLOCKS).min(l.data_blocks);
            let mut n = (start + GROUP_BLOCKS - end) as u16;
            for bit in start..end {
                if bit_test(&self.claimed, bit) {
                    n += 1;
                }
            }
            set_group_used(&mut gt, g, n);
        }
        gt
    }

    fn computed_ibm(&self) -> Vec<u8> {
        let mut ibm = vec![0u8; (self.l.inode_bitmap_blocks * BLOCK_SIZE_U64) as usize];
        bit_set(&mut ibm, 0, true);
        for &i in self.inodes.keys().chain(self.bad.iter()) {
            bit_set(&mut ibm, i, true);
        }
        ibm
    }
}

/// Builds the allocator state matching what is really in use (for
/// structural repairs, which may allocate or free blocks and inodes).
type Computed = (Alloc, Vec<u8>, Vec<u8>, Vec<u8>);

fn computed_alloc(fs: &Fs) -> Result<Computed, String> {
    let l = *fs.layout();
    let c = Checker::scan(fs)?;
    let mut a = Alloc::new(l);
    let mut bm = vec![0u8; a.bm.len()];
    bm[..c.claimed.len()].copy_from_slice(&c.claimed);
    let gt = c.computed_gt();
    let ibm = c.computed_ibm();
    a.bm = bm.clone();
    a.gt = gt.clone();
    a.ibm = ibm.clone();
    a.free_blocks = l.data_blocks - daxfs_format::alloc::count_ones(&c.claimed, l.data_blocks);
    a.free_inodes = l.inode_count - daxfs_format::alloc::count_ones(&ibm, l.inode_count);
    Ok((a, bm, gt, ibm))
}

fn apply(fs: &mut Fs, fixes: &[Fix]) -> Result<(), String> {
    let e2s = |e: Error| e.to_string();
    if fixes.contains(&Fix::Accounting) {
        let (a, bm, gt, ibm) = computed_alloc(fs)?;
        let l = *fs.layout();
        write_changed(&fs.dev, l.block_bitmap_start, &bm)?;
        write_changed(&fs.dev, l.group_table_start, &gt)?;
        write_changed(&fs.dev, l.inode_bitmap_start, &ibm)?;
        let mut sb = fs.sb;
        sb.free_blocks = a.free_blocks;
        sb.free_inodes = a.free_inodes;
        sb.errors = 0;
        crate::mkfs::write_sb(&fs.dev, &sb).map_err(|e| e.to_string())?;
        fs.sb = sb;
        return Ok(());
    }
    let mut alloc = if fixes.iter().any(|f| f.phase() == 1) {
        Some(computed_alloc(fs)?.0)
    } else {
        None
    };
    let mut s = Box::new(Scratch::new());
    let ctx = fs.ctx;
    // The orphan list as stored, read before any inode is cleared: the
    // members that stay on it are relinked at the end.
    let list_fixes = fixes.iter().any(|f| {
        matches!(
            f,
            Fix::FreeOrphan(_) | Fix::ResetOrphanList | Fix::RollBackSeal(_)
        )
    });
    let old_list = if list_fixes {
        stored_orphan_list(fs)
    } else {
        Vec::new()
    };
    // Clear inodes first, so later fixes see them gone.
    for f in fixes {
        if let Fix::ClearInode(ino) | Fix::FreeOrphan(ino) = f {
            let off = fs.layout().inode_table_start * BLOCK_SIZE_U64 + ino * INODE_SIZE as u64;
            fs.dev
                .write_at(off, &[0u8; INODE_SIZE])
                .map_err(|e| e.to_string())?;
        }
    }
    for f in fixes {
        match *f {
            Fix::ClearInode(_) | Fix::Accounting | Fix::FreeOrphan(_) => {}
            Fix::ResetOrphanList => {}
            Fix::ClearOrphanLinks(ino) => edit_inode(fs, ino, |i| {
                i.next_orphan = 0;
                i.prev_orphan = 0;
            })?,
            Fix::RestorePrimary | Fix::RewriteBackup | Fix::ReplayJournal | Fix::ResetJournal => {}
            Fix::SetNlink(ino, n) => edit_inode(fs, ino, |i| i.nlink = n)?,
            Fix::SetMapCount(ino, n) => edit_inode(fs, ino, |i| i.map_count = n)?,
            Fix::SetParent(ino, p) => edit_inode(fs, ino, |i| i.parent = p)?,
            Fix::SetBlocks(ino, b) => edit_inode(fs, ino, |i| {
                i.blocks = b;
                if i.is_dir() {
                    i.size = b * BLOCK_SIZE_U64;
                }
            })?,
            Fix::ClearExtentSealed(ino, lblk) => {
                let Ok(Some(mut i)) = fs.read_inode(ino) else {
                    continue;
                };
                let mut st = fs.store();
                let Some(mut e) = map_lookup(&i, ino, &ctx, &mut st, &mut s, lblk).map_err(e2s)?
                else {
                    continue;
                };
                e.flags &= !EXTENT_SEALED;
                map_update(&mut i, ino, &ctx, &mut st, &mut s, e).map_err(e2s)?;
                fs.write_inode(ino, &i).map_err(e2s)?;
            }
            Fix::RollBackSeal(ino) => {
                // What mount does (op_seal_extents(.., false, ..) from block
                // 0 to the end, then op_seal_end), without the journal: fsck
                // owns the device. The list links are settled below.
                let Ok(Some(mut i)) = fs.read_inode(ino) else {
                    continue;
                };
                if !i.seal_intent() || i.is_sealed() {
                    continue;
                }
                let mut st = fs.store();
                let mut at = 0;
                while let Some(e) = map_next(&i, ino, &ctx, &mut st, &mut s, at).map_err(e2s)? {
                    if e.flags & EXTENT_SEALED != 0 {
                        let flags = e.flags & !EXTENT_SEALED;
                        map_update(&mut i, ino, &ctx, &mut st, &mut s, Extent { flags, ..e })
                            .map_err(e2s)?;
                    }
                    at = e.lend();
                }
                i.flags &= !INODE_FLAG_SEAL_INTENT;
                i.next_orphan = 0;
                i.prev_orphan = 0;
                fs.write_inode(ino, &i).map_err(e2s)?;
            }
            Fix::SetDirEntryType(dir, key, t) => {
                let Ok(Some(d)) = fs.read_inode(dir) else {
                    continue;
                };
                let tree = Tree {
                    tree: TreeType::Dir,
                    owner: dir,
                    seed: ctx.csum_seed,
                    root: d.btree_root(),
                };
                let mut v = [0u8; DIRENT_VALUE_SIZE];
                let mut st = fs.store();
                if tree.get(&mut st, &mut s, key, &mut v).map_err(e2s)? {
                    v[DE_OFF_FILE_TYPE] = t;
                    tree.update(&mut st, &mut s, key, &v).map_err(e2s)?;
                }
            }
            Fix::RemoveDirEntry(dir, key) | Fix::RehashDirEntry(dir, key) => {
                let Some(a) = alloc.as_mut() else { continue };
                let Ok(Some(mut d)) = fs.read_inode(dir) else {
                    continue;
                };
                let mut tree = Tree {
                    tree: TreeType::Dir,
                    owner: dir,
                    seed: ctx.csum_seed,
                    root: d.btree_root(),
                };
                let mut v = [0u8; DIRENT_VALUE_SIZE];
                let mut st = fs.store_rw(a);
                if !tree.get(&mut st, &mut s, key, &mut v).map_err(e2s)? {
                    continue;
                }
                let mut cs = daxfs_format::btree::CountingStore::new(&mut st);
                tree.remove(&mut cs, &mut s, key).map_err(e2s)?;
                d.blocks = cs.adjust(d.blocks).map_err(e2s)?;
                d.size = d.blocks * BLOCK_SIZE_U64;
                d.set_btree_root(tree.root);
                d.map_count = d.map_count.saturating_sub(1);
                if matches!(f, Fix::RehashDirEntry(..)) {
                    if let Ok(e) = DirEntry::decode(&v) {
                        dir_insert(
                            &mut d,
                            dir,
                            &ctx,
                            &mut st,
                            &mut s,
                            e.name(),
                            e.ino,
                            e.file_type,
                        )
                        .map_err(e2s)?;
                    }
                }
                fs.write_inode(dir, &d).map_err(e2s)?;
            }
            Fix::RemoveExtent(ino, lblk) => {
                let Some(a) = alloc.as_mut() else { continue };
                let Ok(Some(mut i)) = fs.read_inode(ino) else {
                    continue;
                };
                i.flags &= !INODE_FLAG_SEALED;
                let mut st = fs.store_rw(a);
                if i.map_kind == MAP_EXTENTS {
                    // Inline: drop the slot directly (the extent may be
                    // malformed, which map_remove would refuse).
                    let mut keep = Vec::new();
                    for k in 0..i.map_count as usize {
                        let e = Extent::decode_inline(&i.map, k).map_err(e2s)?;
                        if e.lblk != lblk {
                            keep.push(e);
                        }
                    }
                    i.map = [0; INODE_MAP_SIZE];
                    for (k, e) in keep.iter().enumerate() {
                        e.encode_inline(&mut i.map, k);
                    }
                    i.map_count = keep.len() as u32;
                } else {
                    let mut tree = Tree {
                        tree: TreeType::Extent,
                        owner: ino,
                        seed: ctx.csum_seed,
                        root: i.btree_root(),
                    };
                    let mut cs = daxfs_format::btree::CountingStore::new(&mut st);
                    tree.remove(&mut cs, &mut s, lblk).map_err(e2s)?;
                    i.set_btree_root(tree.root);
                    i.map_count = i.map_count.saturating_sub(1);
                }
                // The block count is recomputed by the next pass.
                fs.write_inode(ino, &i).map_err(e2s)?;
            }
            Fix::Reconnect(ino) => {
                let Some(a) = alloc.as_mut() else { continue };
                reconnect(fs, a, &mut s, ino)?;
            }
        }
    }
    if list_fixes {
        // Freed orphans, cleared inodes and rolled-back seals leave the
        // list; an invalid list is emptied (stale links are cleared by the
        // next pass). The members that stay (an interrupted seal whose map
        // needs repairs first) are relinked in their order.
        let gone: HashSet<u64> = fixes
            .iter()
            .filter_map(|f| match f {
                Fix::FreeOrphan(i) | Fix::RollBackSeal(i) | Fix::ClearInode(i) => Some(*i),
                _ => None,
            })
            .collect();
        let keep: Vec<(u64, u32, u32)> = if fixes.contains(&Fix::ResetOrphanList) {
            Vec::new()
        } else {
            old_list
                .into_iter()
                .filter(|(i, _, _)| !gone.contains(i))
                .collect()
        };
        for (k, &(ino, next, prev)) in keep.iter().enumerate() {
            let want_prev = if k == 0 { 0 } else { keep[k - 1].0 as u32 };
            let want_next = keep.get(k + 1).map_or(0, |x| x.0 as u32);
            if (next, prev) != (want_next, want_prev) {
                edit_inode(fs, ino, |i| {
                    i.next_orphan = want_next;
                    i.prev_orphan = want_prev;
                })?;
            }
        }
        let head = keep.first().map_or(0, |x| x.0);
        if fs.sb.orphan_head != head {
            let mut sb = fs.sb;
            sb.orphan_head = head;
            crate::mkfs::write_sb(&fs.dev, &sb).map_err(|e| e.to_string())?;
            fs.sb = sb;
        }
    }
    if let Some(a) = &alloc {
        // Persist allocations made by the repairs; the accounting phase
        // will recheck everything.
        let l = *fs.layout();
        write_changed(&fs.dev, l.block_bitmap_start, &a.bm)?;
        write_changed(&fs.dev, l.group_table_start, &a.gt)?;
        write_changed(&fs.dev, l.inode_bitmap_start, &a.ibm)?;
    }
    Ok(())
}

/// The orphan list as stored, `(ino, next_orphan, prev_orphan)` from the
/// head, up to the first member that is free, unreadable or seen before.
fn stored_orphan_list(fs: &Fs) -> Vec<(u64, u32, u32)> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut cur = fs.sb.orphan_head;
    while cur != 0 && seen.insert(cur) {
        let Ok(Some(i)) = fs.read_inode(cur) else {
            break;
        };
        out.push((cur, i.next_orphan, i.prev_orphan));
        cur = u64::from(i.next_orphan);
    }
    out
}

fn edit_inode(fs: &Fs, ino: u64, f: impl FnOnce(&mut Inode)) -> Result<(), String> {
    let raw = fs.inode_raw(ino).map_err(|e| e.to_string())?;
    if raw.iter().all(|&b| b == 0) {
        return Ok(());
    }
    let mut i = Inode::decode_raw(&raw).map_err(|e| e.to_string())?;
    f(&mut i);
    fs.write_inode(ino, &i).map_err(|e| e.to_string())
}

fn write_changed(dev: &Dev, start: u64, want: &[u8]) -> Result<(), String> {
    let mut have = vec![0u8; want.len()];
    dev.read_at(start * BLOCK_SIZE_U64, &mut have)
        .map_err(|e| e.to_string())?;
    for (i, (h, w)) in have
        .chunks(BLOCK_SIZE)
        .zip(want.chunks(BLOCK_SIZE))
        .enumerate()
    {
        if h != w {
            dev.write_at((start + i as u64) * BLOCK_SIZE_U64, w)
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

fn reconnect(fs: &Fs, a: &mut Alloc, s: &mut Scratch, ino: u64) -> Result<(), String> {
    let e2s = |e: Error| e.to_string();
    let ctx = fs.ctx;
    let Ok(Some(mut child)) = fs.read_inode(ino) else {
        return Ok(());
    };
    let mut root = fs.inode(ROOT_INO).map_err(e2s)?;
    let lf = match fs.lookup(ROOT_INO, b"lost+found").map_err(e2s)? {
        Some(x) => x,
        None => {
            let lf = a.alloc_ino().map_err(e2s)?;
            let (t, n) = crate::util::now();
            let mut d = Inode::new(S_IFDIR | 0o700, 0, 0, Timespec { sec: t, nsec: n });
            d.parent = ROOT_INO;
            let mut st = fs.store_rw(a);
            dir_init(&mut d, lf, &ctx, &mut st, s).map_err(e2s)?;
            dir_insert(
                &mut root,
                ROOT_INO,
                &ctx,
                &mut st,
                s,
                b"lost+found",
                lf,
                DT_DIR,
            )
            .map_err(e2s)?;
            root.nlink += 1;
            fs.write_inode(lf, &d).map_err(e2s)?;
            fs.write_inode(ROOT_INO, &root).map_err(e2s)?;
            lf
        }
    };
    let mut lfi = fs.inode(lf).map_err(e2s)?;
    let name = format!("#{}", ino);
    let mut st = fs.store_rw(a);
    dir_insert(
        &mut lfi,
        lf,
        &ctx,
        &mut st,
        s,
        name.as_bytes(),
        ino,
        mode_to_dtype(child.mode),
    )
    .map_err(e2s)?;
    if child.is_dir() {
        lfi.nlink += 1;
        child.parent = lf;
        fs.write_inode(ino, &child).map_err(e2s)?;
    }
    fs.write_inode(lf, &lfi).map_err(e2s)
}

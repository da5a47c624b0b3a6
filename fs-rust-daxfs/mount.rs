// SPDX-License-Identifier: GPL-2.0

//! The filesystem type: mount options, superblock validation and `statfs`.
//!
//! Mounting reads only the superblock, the journal header and the root inode; everything else
//! is read on demand through the inode cache. Anything that does not validate is refused with
//! an errno and a single `daxfs: <dev>: ...` line in the kernel log.

use crate::{
    errors::{Errors, MediaFailures, Policy},
    format::{
        self,
        dir::NAME_MAX,
        journal::{journal_state, JournalHeader, JournalState, JH_SIZE},
        superblock::{
            INCOMPAT_SUPPORTED, MIN_BLOCKS, ROOT_INO, RO_COMPAT_SUPPORTED, SB_SIZE, STATE_CLEAN,
            STATE_DIRTY, STATFS_MAGIC, VERSION_MAJOR,
        },
        txn::{read_superblock, recover, txn_staging_size, TXN_MAX_BLOCKS},
        FsCtx, Superblock, BLOCK_SIZE, BLOCK_SIZE_U64,
    },
    inode,
    journal::Journal,
    pmem::{NodeCache, Pmem, PmemMedium, ScratchPool, Store},
    seal,
    stats::{self, Stats},
};
use kernel::{
    fs::{
        self,
        inode::INode,
        param::{self, Constant, ConstantTable, Spec, SpecTable},
        sb::{self, SuperBlock},
        sysfs,
    },
    prelude::*,
    seq_file::SeqFile,
    seq_print,
    sync::{aref::ARef, Arc},
};

/// The filesystem type.
pub(crate) struct DaxFs;

/// Per-mount state (`s_fs_info`).
#[pin_data]
pub(crate) struct SbInfo {
    /// The device.
    pub(crate) pmem: Pmem,
    /// The superblock as read at mount time.
    pub(crate) sb: Superblock,
    /// Checksum seed and directory hash key.
    pub(crate) ctx: FsCtx,
    /// B+tree node buffers.
    #[pin]
    pub(crate) scratch: ScratchPool,
    /// Every change goes through the journal.
    #[pin]
    pub(crate) journal: Journal,
    /// Mounted with `norecovery`.
    norecovery: bool,
    /// What the mount counts (also held by the journal).
    pub(crate) stats: Arc<Stats>,
    /// Corruptions found and the `errors=` policy (also held by the journal).
    pub(crate) errors: Arc<Errors>,
    /// `/sys/fs/daxfs/<device>/`.
    #[pin]
    sysfs: sysfs::Dir<stats::Files>,
}

impl SbInfo {
    /// The B+tree node store over this filesystem's persistent memory.
    pub(crate) fn store(&self) -> Store<'_> {
        Store {
            pmem: &self.pmem,
            layout: &self.sb.layout,
        }
    }
}

/// Mount options.
#[derive(Default)]
pub(crate) struct MountOpts {
    /// Mount even if the journal holds a committed transaction that was not applied (the
    /// filesystem is then seen as of before that transaction).
    norecovery: bool,
    /// `errors=`, if given.
    errors: Option<Policy>,
}

const OPT_NORECOVERY: u8 = 0;
const OPT_DAX: u8 = 1;
const OPT_DAX_ENUM: u8 = 2;
const OPT_ERRORS: u8 = 3;

const DAX_ALWAYS: i32 = 0;
const DAX_NEVER: i32 = 1;
const DAX_INODE: i32 = 2;

static DAX_MODES: ConstantTable<3> = ConstantTable::new([
    Constant::new(c"always", DAX_ALWAYS),
    Constant::new(c"never", DAX_NEVER),
    Constant::new(c"inode", DAX_INODE),
]);

const ERRORS_CONTINUE: i32 = 0;
const ERRORS_RO: i32 = 1;
const ERRORS_PANIC: i32 = 2;

static ERROR_POLICIES: ConstantTable<3> = ConstantTable::new([
    Constant::new(c"continue", ERRORS_CONTINUE),
    Constant::new(c"remount-ro", ERRORS_RO),
    Constant::new(c"panic", ERRORS_PANIC),
]);

static PARAMS: SpecTable<4> = SpecTable::new([
    Spec::flag(c"norecovery", OPT_NORECOVERY),
    Spec::flag(c"dax", OPT_DAX),
    Spec::enumeration(c"dax", OPT_DAX_ENUM, &DAX_MODES),
    Spec::enumeration(c"errors", OPT_ERRORS, &ERROR_POLICIES),
]);

impl fs::FileSystem for DaxFs {
    type Data = Pin<KBox<SbInfo>>;
    type INodeData = inode::InodeInfo;
    type Context = MountOpts;

    const NAME: &'static CStr = c"daxfs";
    const SYSFS: bool = true;
    const PARAMS: param::Specs = PARAMS.specs();

    fn init_fs_context() -> Result<MountOpts> {
        Ok(MountOpts::default())
    }

    fn parse_param(ctx: &mut MountOpts, p: &param::Param<'_>) -> Result {
        match p.opt() as u8 {
            OPT_NORECOVERY => ctx.norecovery = true,
            // All data access is DAX: `dax` and `dax=always` are accepted for compatibility
            // with ext4 and xfs, the other modes cannot be honoured.
            OPT_DAX => {}
            OPT_DAX_ENUM if p.as_u32() == DAX_ALWAYS as u32 => {}
            OPT_DAX_ENUM => {
                pr_err!("only dax=always is supported\n");
                return Err(EINVAL);
            }
            OPT_ERRORS => {
                ctx.errors = Some(match p.as_u32() as i32 {
                    ERRORS_CONTINUE => Policy::Continue,
                    ERRORS_PANIC => Policy::Panic,
                    _ => Policy::ReadOnly,
                })
            }
            _ => return Err(EINVAL),
        }
        Ok(())
    }

    fn fill_super(
        sb: &SuperBlock<Self, sb::New>,
        opts: &mut MountOpts,
    ) -> Result<Pin<KBox<SbInfo>>> {
        let id = sb.id();
        let dev = id.to_str().unwrap_or("?");
        macro_rules! refuse {
            ($err:expr, $($arg:tt)*) => {{
                pr_err!("{}: {}\n", dev, format_args!($($arg)*));
                return Err($err);
            }};
        }

        // The error state exists before the device is held: memory failures go to it from
        // now on (all of the device is metadata until its data area is known).
        let errors = Errors::new(id, opts.errors.unwrap_or(Policy::ReadOnly))?;
        let dax = match sb.dax_device_held(MediaFailures(errors.clone())) {
            Ok((d, true)) => d,
            Ok((d, false)) => {
                pr_warn!(
                    "{}: another filesystem holds the DAX device: memory failures are not reported to daxfs\n",
                    dev
                );
                d
            }
            Err(_) => refuse!(EINVAL, "device does not support DAX"),
        };
        if sb.set_blocksize(BLOCK_SIZE as u32).is_err() {
            refuse!(EINVAL, "device cannot use {}-byte blocks", BLOCK_SIZE);
        }
        let mut pmem = Pmem::new(dax);
        let dev_blocks = pmem.device_size() / BLOCK_SIZE_U64;
        if dev_blocks < MIN_BLOCKS {
            refuse!(EINVAL, "device too small ({} blocks)", dev_blocks);
        }

        let mut raw = [0u8; SB_SIZE];
        if let Err(e) = pmem.read(0, &mut raw) {
            refuse!(e, "cannot read the superblock");
        }
        let mut torn = false;
        let fsb = match Superblock::decode(&raw) {
            Ok(s) => s,
            Err(format::Error::BadMagic(_)) => refuse!(EINVAL, "no daxfs superblock (bad magic)"),
            // A crash while a committed transaction was being applied can leave the primary
            // torn; its static fields are in the backup, which is enough for recovery, and
            // replaying the transaction rewrites the primary whole.
            Err(format::Error::BadChecksum(_)) => {
                match read_superblock(&mut PmemMedium(&pmem), dev_blocks) {
                    Ok((s, true)) => {
                        torn = true;
                        s
                    }
                    _ => refuse!(EUCLEAN, "superblock checksum mismatch"),
                }
            }
            Err(format::Error::BadVersion) => refuse!(
                EINVAL,
                "unsupported format version {} (this kernel supports {})",
                Superblock::decode_raw(&raw).map_or(0, |s| s.version_major),
                VERSION_MAJOR
            ),
            Err(format::Error::UnsupportedFeature) => refuse!(
                EOPNOTSUPP,
                "unsupported incompatible features {:#x}",
                Superblock::decode_raw(&raw).map_or(0, |s| s.feature_incompat)
                    & !INCOMPAT_SUPPORTED
            ),
            Err(e) => refuse!(EUCLEAN, "invalid superblock: {}", e),
        };
        let layout = fsb.layout;
        if layout.block_count > dev_blocks {
            refuse!(
                EINVAL,
                "filesystem size ({} blocks) exceeds the device ({} blocks)",
                layout.block_count,
                dev_blocks
            );
        }
        pmem.limit(
            layout.block_count * BLOCK_SIZE_U64,
            layout.data_start * BLOCK_SIZE_U64,
            layout.data_end() * BLOCK_SIZE_U64,
        )?;
        errors.set_data_area(
            layout.data_start * BLOCK_SIZE_U64,
            layout.data_end() * BLOCK_SIZE_U64,
        );

        let mut jraw = [0u8; JH_SIZE];
        if let Err(e) = pmem.read(layout.journal_start * BLOCK_SIZE_U64, &mut jraw) {
            refuse!(e, "cannot read the journal header");
        }
        let jh = match JournalHeader::decode(&jraw, &layout) {
            Ok(h) => h,
            Err(e) => refuse!(EUCLEAN, "invalid journal header: {}", e),
        };
        let mut read_only = sb.is_read_only();
        let ro_compat = unknown_ro_compat(&fsb);
        if ro_compat != 0 && !read_only {
            refuse!(
                EROFS,
                "unsupported read-only-compatible features {:#x}: mount read-only",
                ro_compat
            );
        }
        let pending = match journal_state(&jh) {
            Ok(JournalState::Clean { .. }) => false,
            Ok(JournalState::NeedsReplay { .. }) => true,
            Err(e) => refuse!(EUCLEAN, "invalid journal: {}", e),
        };
        if torn && (!pending || opts.norecovery) {
            // Only a pending transaction explains a torn primary.
            refuse!(EUCLEAN, "superblock checksum mismatch");
        }
        if pending && opts.norecovery {
            // The filesystem is seen as of before the pending transaction; nothing may be
            // written on top of it.
            pr_warn!(
                "{}: norecovery: skipping journal recovery, mounting read-only\n",
                dev
            );
            read_only = true;
        }
        // Recovery runs even for read-only mounts (as on ext4 and xfs): it is what makes the
        // filesystem consistent.
        let mut staging = KVVec::new();
        staging.extend_with(txn_staging_size(TXN_MAX_BLOCKS), 0u8, GFP_KERNEL)?;
        let jc = if pending && opts.norecovery {
            None
        } else {
            match recover(&mut PmemMedium(&pmem), &fsb, &mut staging) {
                Ok((jc, replayed)) => {
                    if replayed {
                        pr_info!("{}: journal recovered\n", dev);
                    }
                    Some(jc)
                }
                Err(e) => refuse!(EUCLEAN, "journal recovery failed: {}", e),
            }
        };
        drop(staging);
        // Recovery may have rewritten the superblock.
        let mut raw = [0u8; SB_SIZE];
        if let Err(e) = pmem.read(0, &mut raw) {
            refuse!(e, "cannot read the superblock");
        }
        let fsb = match Superblock::decode(&raw) {
            Ok(s) if s.same_static(&fsb) => s,
            Ok(_) => refuse!(EUCLEAN, "journal recovery changed the filesystem geometry"),
            Err(e) => refuse!(EUCLEAN, "invalid superblock after recovery: {}", e),
        };
        let stats = Stats::new()?;
        pmem.enable_cache(NodeCache::new(
            fsb.layout.block_count,
            fsb.ctx().csum_seed,
            stats.clone(),
        )?);
        let jinit = Journal::new(fsb, jc, stats.clone(), errors.clone())?;
        let dir = sysfs::Dir::new(sb, stats::Files(stats.clone(), errors.clone()));

        let info = KBox::pin_init(
            try_pin_init!(SbInfo {
                pmem,
                sb: fsb,
                ctx: fsb.ctx(),
                scratch <- ScratchPool::new(),
                journal <- jinit,
                norecovery: opts.norecovery,
                stats,
                errors,
                sysfs <- dir,
            }),
            GFP_KERNEL,
        )?;
        match inode::read_inode(&info, ROOT_INO) {
            Ok(r) if r.is_dir() => {}
            Ok(_) => refuse!(EUCLEAN, "root inode is not a directory"),
            Err(e) => refuse!(EUCLEAN, "invalid root inode: {}", e),
        }
        match (fsb.state != STATE_CLEAN, fsb.errors != 0) {
            (true, true) => pr_info!(
                "{}: filesystem was not cleanly unmounted and has errors; run fsck.daxfs\n",
                dev
            ),
            (true, false) => pr_info!("{}: filesystem was not cleanly unmounted\n", dev),
            (false, true) => pr_info!("{}: filesystem has errors; run fsck.daxfs\n", dev),
            (false, false) => {}
        }
        if !read_only {
            if let Err(e) = start_writing(&info) {
                refuse!(e, "cannot start writing: {:?}", e);
            }
        }

        sb.set_magic(STATFS_MAGIC.into())
            .set_maxbytes(i64::MAX)
            .set_time_range(i64::MIN, i64::MAX)
            .set_uuid(&fsb.uuid);
        if read_only {
            sb.set_read_only();
        }
        Ok(info)
    }

    fn init_root(sb: &SuperBlock<Self>) -> Result<ARef<INode<Self>>> {
        inode::iget(sb, ROOT_INO)
    }

    fn evict_inode(inode: &INode<Self>) {
        inode::evict(inode);
    }

    fn dirty_inode(inode: &INode<Self>, _flags: u32) {
        crate::attr::dirty_inode(inode);
    }

    fn put_super(sb: &SuperBlock<Self>) {
        if !sb.is_read_only() {
            stop_writing(sb);
        }
    }

    fn reconfigure(sb: &SuperBlock<Self>, opts: &mut MountOpts, read_only: bool) -> Result {
        if let Some(p) = opts.errors {
            sb.data().errors.set_policy(p);
        }
        match (sb.is_read_only(), read_only) {
            (false, true) => stop_writing(sb),
            (true, false) => {
                let ro_compat = unknown_ro_compat(&sb.data().sb);
                if ro_compat != 0 {
                    pr_err!(
                        "{}: unsupported read-only-compatible features {:#x}: cannot remount read-write\n",
                        sb.id().to_str().unwrap_or("?"),
                        ro_compat
                    );
                    return Err(EROFS);
                }
                start_writing(&sb.data())?
            }
            _ => {}
        }
        Ok(())
    }

    fn show_options(sb: &SuperBlock<Self>, m: &SeqFile) -> Result {
        // All data access is DAX, as `dax=always` asks of ext4 and xfs.
        seq_print!(m, ",dax=always,errors={}", sb.data().errors.policy().name());
        if sb.data().norecovery {
            seq_print!(m, ",norecovery");
        }
        Ok(())
    }

    fn statfs(sb: &SuperBlock<Self>) -> Result<sb::Stat> {
        let s = &sb.data().journal.sb();
        let u = &s.uuid;
        let lo = u64::from_le_bytes([u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7]]);
        let hi = u64::from_le_bytes([u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]]);
        Ok(sb::Stat {
            magic: STATFS_MAGIC.into(),
            namelen: NAME_MAX as u64,
            bsize: BLOCK_SIZE_U64,
            blocks: s.layout.data_blocks,
            bfree: s.free_blocks,
            bavail: s.free_blocks,
            // Slot 0 is reserved.
            files: s.layout.inode_count - 1,
            ffree: s.free_inodes,
            fsid: lo ^ hi,
        })
    }
}

/// The read-only-compatible feature bits of `s` this kernel does not know: a filesystem that
/// has any can be read but not written (as on ext4), since writing would not keep what those
/// features stand for.
fn unknown_ro_compat(s: &Superblock) -> u64 {
    s.feature_ro_compat & !RO_COMPAT_SUPPORTED
}

/// Makes a read-only filesystem writable: marks the superblock dirty (so a crash is seen at
/// the next mount), frees the unlinked inodes left on the orphan list by a crash, and rolls
/// back the seals and unseals it interrupted (the inodes on the list with links). Freeing
/// or rolling back can only meet an existing or overlapping block map entry (`EEXIST`) on a
/// damaged image (a block freed twice, say): that is `EUCLEAN`, as for any other damage.
fn start_writing(info: &SbInfo) -> Result {
    start_writing_inner(info).map_err(|e| if e == EEXIST { EUCLEAN } else { e })
}

fn start_writing_inner(info: &SbInfo) -> Result {
    let now = kernel::fs::Timespec::now().sec;
    info.journal.run(
        &info.pmem,
        |t, _| {
            let s = t.sb_mut();
            s.state = STATE_DIRTY;
            s.mount_count = s.mount_count.wrapping_add(1);
            s.mount_time = now;
            s.write_time = now;
            Ok(())
        },
        |()| (),
    )?;
    // Each pass frees or heals the head of the list (which takes it off the list); a list
    // longer than the inode table is corrupt.
    let max = info.sb.layout.inode_count;
    let (mut n, mut healed) = (0u64, 0u64);
    loop {
        let head = info.journal.sb().orphan_head;
        if head == 0 {
            break;
        }
        if n + healed >= max {
            return Err(EUCLEAN);
        }
        let raw = inode::read_inode(info, head).map_err(inode::to_kernel)?;
        if raw.nlink == 0 {
            inode::free_inode(info, head, raw)?;
            n += 1;
        } else if raw.seal_intent() {
            // A seal or unseal interrupted by a crash: the file ends up not sealed.
            seal::recover(info, head, raw)?;
            healed += 1;
        } else {
            return Err(EUCLEAN);
        }
    }
    if n > 0 {
        pr_info!("freed {} orphan inode(s)\n", n);
    }
    if healed > 0 {
        pr_info!("rolled back {} interrupted seal(s) or unseal(s)\n", healed);
    }
    Ok(())
}

/// Marks the superblock clean at unmount or remount read-only, and records in it that
/// corrupted metadata was found (`errors`), if it was. Every other transaction is already
/// committed, so there is nothing else to write. This transaction is made even after
/// `errors=remount-ro` stopped all others.
fn stop_writing(sb: &SuperBlock<DaxFs>) {
    let info = sb.data();
    let now = kernel::fs::Timespec::now().sec;
    let errors = info.errors.count() > 0;
    if let Err(e) = info.journal.run_last(
        &info.pmem,
        |t, _| {
            let s = t.sb_mut();
            s.state = STATE_CLEAN;
            s.write_time = now;
            if errors {
                s.errors = 1;
            }
            Ok(())
        },
        |()| (),
    ) {
        pr_err!(
            "{}: cannot mark the filesystem clean: {:?}\n",
            sb.id().to_str().unwrap_or("?"),
            e
        );
    }
}

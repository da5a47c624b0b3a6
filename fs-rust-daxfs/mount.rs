// SPDX-License-Identifier: GPL-2.0

//! The filesystem type: mount options, superblock validation and `statfs`.
//!
//! Mounting reads only the superblock, the journal header and the root inode; everything else
//! is read on demand through the inode cache. Anything that does not validate is refused with
//! an errno and a single `daxfs: <dev>: ...` line in the kernel log.

use crate::{
    format::{
        self,
        dir::NAME_MAX,
        journal::{journal_state, JournalHeader, JournalState, JH_SIZE},
        superblock::{
            INCOMPAT_SUPPORTED, MIN_BLOCKS, ROOT_INO, SB_SIZE, STATE_CLEAN, STATFS_MAGIC,
            VERSION_MAJOR,
        },
        FsCtx, Superblock, BLOCK_SIZE, BLOCK_SIZE_U64,
    },
    inode,
    pmem::{Pmem, ScratchPool, Store},
};
use kernel::{
    fs::{
        self,
        inode::INode,
        param::{self, Constant, ConstantTable, Spec, SpecTable},
        sb::{self, SuperBlock},
    },
    prelude::*,
    sync::aref::ARef,
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
}

const OPT_NORECOVERY: u8 = 0;
const OPT_DAX: u8 = 1;
const OPT_DAX_ENUM: u8 = 2;

const DAX_ALWAYS: i32 = 0;
const DAX_NEVER: i32 = 1;
const DAX_INODE: i32 = 2;

static DAX_MODES: ConstantTable<3> = ConstantTable::new([
    Constant::new(c"always", DAX_ALWAYS),
    Constant::new(c"never", DAX_NEVER),
    Constant::new(c"inode", DAX_INODE),
]);

static PARAMS: SpecTable<3> = SpecTable::new([
    Spec::flag(c"norecovery", OPT_NORECOVERY),
    Spec::flag(c"dax", OPT_DAX),
    Spec::enumeration(c"dax", OPT_DAX_ENUM, &DAX_MODES),
]);

impl fs::FileSystem for DaxFs {
    type Data = Pin<KBox<SbInfo>>;
    type INodeData = inode::InodeInfo;
    type Context = MountOpts;

    const NAME: &'static CStr = c"daxfs";
    const PARAMS: param::Specs = PARAMS.specs();
    const READ_ONLY: bool = true;

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

        let dax = match sb.dax_device() {
            Ok(d) => d,
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
        let fsb = match Superblock::decode(&raw) {
            Ok(s) => s,
            Err(format::Error::BadMagic(_)) => refuse!(EINVAL, "no daxfs superblock (bad magic)"),
            Err(format::Error::BadChecksum(_)) => refuse!(EUCLEAN, "superblock checksum mismatch"),
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
        pmem.limit(layout.block_count * BLOCK_SIZE_U64)?;

        let mut jraw = [0u8; JH_SIZE];
        if let Err(e) = pmem.read(layout.journal_start * BLOCK_SIZE_U64, &mut jraw) {
            refuse!(e, "cannot read the journal header");
        }
        let jh = match JournalHeader::decode(&jraw, &layout) {
            Ok(h) => h,
            Err(e) => refuse!(EUCLEAN, "invalid journal header: {}", e),
        };
        match journal_state(&jh) {
            Ok(JournalState::Clean { .. }) => {}
            Ok(JournalState::NeedsReplay { seq }) if !opts.norecovery => refuse!(
                EUCLEAN,
                "journal transaction {} needs recovery (run fsck.daxfs, or mount with norecovery)",
                seq
            ),
            Ok(JournalState::NeedsReplay { .. }) => {}
            Err(e) => refuse!(EUCLEAN, "invalid journal: {}", e),
        }

        let info = KBox::pin_init(
            try_pin_init!(SbInfo {
                pmem,
                sb: fsb,
                ctx: fsb.ctx(),
                scratch <- ScratchPool::new(),
            }),
            GFP_KERNEL,
        )?;
        match inode::read_inode(&info, ROOT_INO) {
            Ok(r) if r.is_dir() => {}
            Ok(_) => refuse!(EUCLEAN, "root inode is not a directory"),
            Err(e) => refuse!(EUCLEAN, "invalid root inode: {}", e),
        }
        if fsb.state != STATE_CLEAN || fsb.errors != 0 {
            pr_warn!(
                "{}: filesystem was not cleanly unmounted or has errors; run fsck.daxfs\n",
                dev
            );
        }

        sb.set_magic(STATFS_MAGIC.into())
            .set_maxbytes(i64::MAX)
            .set_time_range(i64::MIN, i64::MAX)
            .set_uuid(&fsb.uuid)
            .set_read_only();
        Ok(info)
    }

    fn init_root(sb: &SuperBlock<Self>) -> Result<ARef<INode<Self>>> {
        inode::iget(sb, ROOT_INO)
    }

    fn statfs(sb: &SuperBlock<Self>) -> Result<sb::Stat> {
        let s = &sb.data().sb;
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

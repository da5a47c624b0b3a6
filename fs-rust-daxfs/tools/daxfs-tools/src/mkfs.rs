// SPDX-License-Identifier: GPL-2.0

//! mkfs.daxfs: create a filesystem, optionally populated from a directory.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use daxfs_format::btree::Scratch;
use daxfs_format::dir::{dir_init, dir_insert};
use daxfs_format::extent::{map_insert, Extent};
use daxfs_format::inode::*;
use daxfs_format::journal::JournalHeader;
use daxfs_format::superblock::*;
use daxfs_format::{Layout, BLOCK_SIZE, BLOCK_SIZE_U64};

use crate::alloc::Alloc;
use crate::dev::Dev;
use crate::fs::Fs;
use crate::util::{format_uuid, human, now, random_bytes, random_uuid};

/// mkfs parameters.
#[derive(Clone, Debug, Default)]
pub struct MkfsOptions {
    /// Device or image file.
    pub device: PathBuf,
    /// Filesystem size in bytes (default: the whole device). A regular
    /// file shorter than this is extended.
    pub size: Option<u64>,
    /// Overwrite an existing signature.
    pub force: bool,
    /// Label.
    pub label: Option<String>,
    /// UUID (default random).
    pub uuid: Option<[u8; 16]>,
    /// Directory-hash key (default random).
    pub hash_key: Option<[u8; 16]>,
    /// Do not print the summary.
    pub quiet: bool,
    /// Compute and print, write nothing.
    pub dry_run: bool,
    /// Number of inodes.
    pub inode_count: Option<u64>,
    /// Bytes per inode.
    pub bytes_per_inode: Option<u64>,
    /// Journal size in blocks.
    pub journal_blocks: Option<u64>,
    /// Populate from this directory.
    pub populate: Option<PathBuf>,
}

/// What mkfs produced.
pub struct MkfsOutcome {
    /// The superblock written (or that would be written).
    pub sb: Superblock,
    /// Inodes created by `-d`, including the root.
    pub inodes: u64,
}

/// Looks for an existing filesystem or partition-table signature; returns
/// a description of what was found.
pub fn detect_signature(dev: &Dev, path: &Path) -> Option<String> {
    let n = dev.size.min(0x10100) as usize;
    let mut b = vec![0u8; n];
    if dev.read_at(0, &mut b).is_err() {
        return None;
    }
    if n >= 8 && b[..8] == SB_MAGIC.to_le_bytes() {
        return Some("daxfs filesystem".into());
    }
    if let Ok(out) = std::process::Command::new("blkid")
        .args(["-p", "-o", "export"])
        .arg(path)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
    {
        let text = String::from_utf8_lossy(&out.stdout);
        for key in ["TYPE=", "PTTYPE="] {
            if let Some(l) = text.lines().find(|l| l.starts_with(key)) {
                let what = if key == "TYPE=" {
                    "filesystem"
                } else {
                    "partition table"
                };
                return Some(format!("{} {} (found by blkid)", &l[key.len()..], what));
            }
        }
    }
    if n >= 4 && &b[..4] == b"XFSB" {
        return Some("xfs filesystem".into());
    }
    if n >= 1082 && b[1080..1082] == [0x53, 0xEF] {
        return Some("ext2/ext3/ext4 filesystem".into());
    }
    if n >= 0x10048 && &b[0x10040..0x10048] == b"_BHRfS_M" {
        return Some("btrfs filesystem".into());
    }
    if n >= 4096 && (&b[4086..4096] == b"SWAPSPACE2" || &b[4086..4096] == b"SWAP-SPACE") {
        return Some("swap space".into());
    }
    None
}

/// Chooses the layout for `opts` on a device of `size` bytes.
pub fn choose_layout(opts: &MkfsOptions, size: u64) -> Result<Layout, String> {
    let block_count = size / BLOCK_SIZE_U64;
    if block_count < MIN_BLOCKS {
        return Err(format!(
            "filesystem too small: {} bytes, the minimum is {}",
            size,
            human(MIN_BLOCKS * BLOCK_SIZE_U64)
        ));
    }
    let inodes = match (opts.inode_count, opts.bytes_per_inode) {
        (Some(n), _) => n + 1,
        (None, Some(bpi)) if bpi >= BLOCK_SIZE_U64 => (size / bpi).max(MIN_INODES),
        (None, Some(_)) => return Err("bytes per inode must be at least 4096".into()),
        (None, None) => default_inode_count(block_count),
    };
    let journal = opts
        .journal_blocks
        .unwrap_or_else(|| default_journal_blocks(block_count));
    Layout::compute(block_count, inodes, journal).map_err(|e| {
        format!(
            "cannot lay out {} blocks with {} inodes and a {}-block journal: {}",
            block_count, inodes, journal, e
        )
    })
}

/// Creates the filesystem.
pub fn mkfs(opts: &MkfsOptions) -> Result<MkfsOutcome, String> {
    let path = &opts.device;
    let disp = path.display();
    if !path.exists() {
        if opts.size.is_none() || opts.dry_run {
            return Err(format!("{}: no such file or device", disp));
        }
        std::fs::File::create(path).map_err(|e| format!("{}: {}", disp, e))?;
    }
    let mut dev = Dev::open(path, !opts.dry_run).map_err(|e| format!("{}: {}", disp, e))?;
    let size = match opts.size {
        Some(s) => {
            if s > dev.size {
                if dev.is_blockdev {
                    return Err(format!(
                        "{}: size {} larger than the device ({})",
                        disp, s, dev.size
                    ));
                }
                if !opts.dry_run {
                    dev.file()
                        .set_len(s)
                        .map_err(|e| format!("{}: {}", disp, e))?;
                    dev.size = s;
                }
            }
            s
        }
        None => dev.size,
    };
    if size == 0 {
        return Err(format!("{}: empty file; give a size", disp));
    }
    if !opts.force {
        if let Some(what) = detect_signature(&dev, path) {
            return Err(format!(
                "{} appears to contain an existing {}.\nUse the -f option to force overwrite.",
                disp, what
            ));
        }
    }
    let layout = choose_layout(opts, size)?;
    let (t, tn) = now();
    let uuid = opts.uuid.unwrap_or_else(random_uuid);
    let key = opts.hash_key.unwrap_or_else(random_bytes::<16>);
    let mut sb = Superblock::new(layout, uuid, key, t);
    if let Some(l) = &opts.label {
        sb.set_label(l.as_bytes())
            .map_err(|_| format!("label too long (at most {} bytes)", LABEL_MAX))?;
    }
    if opts.dry_run {
        sb.free_blocks = layout.data_blocks - 1;
        sb.free_inodes = layout.inode_count - 2;
        return Ok(MkfsOutcome { sb, inodes: 1 });
    }

    // Zero every metadata area the format relies on being zero.
    let fresh = !dev.is_blockdev;
    let io = |e: std::io::Error| format!("{}: {}", disp, e);
    if fresh {
        let len = dev.size;
        dev.file().set_len(0).map_err(io)?;
        dev.file().set_len(len).map_err(io)?;
    } else {
        dev.zero_range(0, layout.data_start * BLOCK_SIZE_U64)
            .map_err(io)?;
        dev.zero_range(layout.backup_sb_block * BLOCK_SIZE_U64, BLOCK_SIZE_U64)
            .map_err(io)?;
        // On a device larger than the filesystem, a backup superblock an
        // earlier whole-device filesystem left in the device's last block
        // would be taken for this filesystem's backup (fsck and mount look
        // there when the primary names no valid one): wipe it.
        let last = dev.blocks() - 1;
        let mut m = [0u8; 8];
        if last > layout.backup_sb_block
            && dev.read_at(last * BLOCK_SIZE_U64, &mut m).is_ok()
            && m == SB_MAGIC.to_le_bytes()
        {
            dev.zero_range(last * BLOCK_SIZE_U64, BLOCK_SIZE_U64)
                .map_err(io)?;
        }
    }

    let fs = Fs::with_sb(dev, sb);
    let mut alloc = Alloc::new(layout);
    alloc.use_ino(ROOT_INO).map_err(|e| e.to_string())?;
    let ts = Timespec { sec: t, nsec: tn };
    let mut pop = Populator {
        fs: &fs,
        alloc: &mut alloc,
        scratch: Box::new(Scratch::new()),
        links: HashMap::new(),
        fresh,
        generation: 1,
        inodes: 1,
    };
    let root = match &opts.populate {
        Some(src) => {
            let m =
                std::fs::symlink_metadata(src).map_err(|e| format!("{}: {}", src.display(), e))?;
            if !m.is_dir() {
                return Err(format!("{}: not a directory", src.display()));
            }
            pop.dir(src, &m, ROOT_INO, ROOT_INO)?
        }
        None => {
            let mut root = Inode::new(S_IFDIR | 0o755, 0, 0, ts);
            pop.new_dir(&mut root, ROOT_INO, ROOT_INO)?;
            root
        }
    };
    fs.write_inode(ROOT_INO, &root).map_err(|e| e.to_string())?;
    let generation = pop.generation;
    let inodes = pop.inodes;

    let mut jb = [0u8; BLOCK_SIZE];
    JournalHeader::new(&layout).encode(&mut jb);
    fs.dev
        .write_at(layout.journal_start * BLOCK_SIZE_U64, &jb)
        .map_err(io)?;
    write_alloc(&fs, &alloc).map_err(io)?;
    let mut sb = fs.sb;
    sb.free_blocks = alloc.free_blocks;
    sb.free_inodes = alloc.free_inodes;
    sb.next_generation = generation;
    write_sb(&fs.dev, &sb).map_err(io)?;
    fs.dev.sync().map_err(io)?;
    Ok(MkfsOutcome { sb, inodes })
}

/// Writes bitmaps and group table (only non-zero blocks: the areas were
/// zeroed).
pub fn write_alloc(fs: &Fs, a: &Alloc) -> std::io::Result<()> {
    let l = fs.layout();
    fs.dev
        .write_nonzero(l.inode_bitmap_start * BLOCK_SIZE_U64, &a.ibm)?;
    fs.dev
        .write_nonzero(l.block_bitmap_start * BLOCK_SIZE_U64, &a.bm)?;
    fs.dev
        .write_nonzero(l.group_table_start * BLOCK_SIZE_U64, &a.gt)
}

/// Writes the primary and backup superblocks.
pub fn write_sb(dev: &Dev, sb: &Superblock) -> std::io::Result<()> {
    let mut b = [0u8; SB_SIZE];
    sb.encode(&mut b);
    dev.write_at(0, &b)?;
    dev.write_at(sb.layout.backup_sb_block * BLOCK_SIZE_U64, &b)
}

struct Populator<'a> {
    fs: &'a Fs,
    alloc: &'a mut Alloc,
    scratch: Box<Scratch>,
    links: HashMap<(u64, u64), u64>,
    fresh: bool,
    generation: u64,
    inodes: u64,
}

fn ts_of(sec: i64, nsec: i64) -> Timespec {
    Timespec {
        sec,
        nsec: nsec.clamp(0, 999_999_999) as u32,
    }
}

fn btime_of(m: &std::fs::Metadata) -> Timespec {
    match m.created() {
        Ok(t) => match t.duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => Timespec {
                sec: d.as_secs() as i64,
                nsec: d.subsec_nanos(),
            },
            Err(e) => {
                let d = e.duration();
                if d.subsec_nanos() == 0 {
                    Timespec {
                        sec: -(d.as_secs() as i64),
                        nsec: 0,
                    }
                } else {
                    Timespec {
                        sec: -(d.as_secs() as i64) - 1,
                        nsec: 1_000_000_000 - d.subsec_nanos(),
                    }
                }
            }
        },
        Err(_) => ts_of(m.mtime(), m.mtime_nsec()),
    }
}

/// Linux `new_encode_dev` of a userspace `dev_t`.
pub fn encode_rdev(rdev: u64) -> u32 {
    let major = libc::major(rdev);
    let minor = libc::minor(rdev);
    (minor & 0xff) | (major << 8) | ((minor & !0xff) << 12)
}

impl Populator<'_> {
    fn inode_from(&mut self, m: &std::fs::Metadata) -> Inode {
        let mut i = Inode::new(
            m.mode() as u16,
            m.uid(),
            m.gid(),
            ts_of(m.mtime(), m.mtime_nsec()),
        );
        i.atime = ts_of(m.atime(), m.atime_nsec());
        i.ctime = ts_of(m.ctime(), m.ctime_nsec());
        i.btime = btime_of(m);
        i.generation = self.generation as u32;
        self.generation += 1;
        i
    }

    fn err(&self, p: &Path, e: impl std::fmt::Display) -> String {
        format!("{}: {}", p.display(), e)
    }

    fn new_dir(&mut self, d: &mut Inode, ino: u64, parent: u64) -> Result<(), String> {
        d.parent = parent;
        let mut st = self.fs.store_rw(self.alloc);
        dir_init(d, ino, &self.fs.ctx, &mut st, &mut self.scratch).map_err(|e| e.to_string())
    }

    fn dir(
        &mut self,
        src: &Path,
        m: &std::fs::Metadata,
        ino: u64,
        parent: u64,
    ) -> Result<Inode, String> {
        let mut d = self.inode_from(m);
        self.new_dir(&mut d, ino, parent)?;
        let mut names: Vec<(Vec<u8>, PathBuf)> = std::fs::read_dir(src)
            .map_err(|e| self.err(src, e))?
            .map(|e| e.map(|e| (e.file_name().as_bytes().to_vec(), e.path())))
            .collect::<Result<_, _>>()
            .map_err(|e| self.err(src, e))?;
        names.sort();
        for (name, path) in names {
            let cm = std::fs::symlink_metadata(&path).map_err(|e| self.err(&path, e))?;
            let (child, dtype) = self.entry(&path, &cm, ino)?;
            if cm.is_dir() {
                d.nlink += 1;
            }
            let mut st = self.fs.store_rw(self.alloc);
            dir_insert(
                &mut d,
                ino,
                &self.fs.ctx,
                &mut st,
                &mut self.scratch,
                &name,
                child,
                dtype,
            )
            .map_err(|e| {
                format!(
                    "{}: cannot add {:?}: {}",
                    src.display(),
                    OsStr::from_bytes(&name),
                    e
                )
            })?;
        }
        Ok(d)
    }

    /// Creates the inode for `path`; returns `(ino, DT_*)`.
    fn entry(
        &mut self,
        path: &Path,
        m: &std::fs::Metadata,
        parent: u64,
    ) -> Result<(u64, u8), String> {
        let dtype = mode_to_dtype(m.mode() as u16);
        if !m.is_dir() && m.nlink() > 1 {
            if let Some(&ino) = self.links.get(&(m.dev(), m.ino())) {
                let mut i = self.fs.inode(ino).map_err(|e| self.err(path, e))?;
                i.nlink += 1;
                self.fs
                    .write_inode(ino, &i)
                    .map_err(|e| self.err(path, e))?;
                return Ok((ino, dtype));
            }
        }
        let ino = self
            .alloc
            .alloc_ino()
            .map_err(|_| self.err(path, "out of inodes (use -N)"))?;
        self.inodes += 1;
        let ft = m.file_type();
        let inode = if ft.is_dir() {
            self.dir(path, m, ino, parent)?
        } else if ft.is_file() {
            self.file(path, m, ino)?
        } else if ft.is_symlink() {
            self.symlink(path, m, ino)?
        } else if ft.is_char_device() || ft.is_block_device() || ft.is_fifo() || ft.is_socket() {
            let mut i = self.inode_from(m);
            i.map_kind = MAP_NONE;
            if ft.is_char_device() || ft.is_block_device() {
                i.rdev = encode_rdev(m.rdev());
            }
            i
        } else {
            return Err(self.err(path, "unsupported file type"));
        };
        self.fs
            .write_inode(ino, &inode)
            .map_err(|e| self.err(path, e))?;
        if !m.is_dir() && m.nlink() > 1 {
            self.links.insert((m.dev(), m.ino()), ino);
        }
        Ok((ino, dtype))
    }

    fn file(&mut self, path: &Path, m: &std::fs::Metadata, ino: u64) -> Result<Inode, String> {
        let mut i = self.inode_from(m);
        i.size = m.len();
        let nblocks = m.len().div_ceil(BLOCK_SIZE_U64);
        let runs = self
            .alloc
            .alloc_blocks(nblocks)
            .map_err(|e| self.err(path, format!("cannot allocate {} blocks: {}", nblocks, e)))?;
        let mut f = std::fs::File::open(path).map_err(|e| self.err(path, e))?;
        let mut lblk = 0u64;
        let mut buf = vec![0u8; 1 << 20];
        for (pblk, len) in runs {
            // Copy the run in 1 MiB pieces.
            let mut done = 0u64;
            while done < len {
                let n = (len - done).min((buf.len() / BLOCK_SIZE) as u64) as usize * BLOCK_SIZE;
                let chunk = &mut buf[..n];
                let mut got = 0;
                while got < n {
                    let r = f.read(&mut chunk[got..]).map_err(|e| self.err(path, e))?;
                    if r == 0 {
                        break;
                    }
                    got += r;
                }
                chunk[got..].fill(0);
                let off = (pblk + done) * BLOCK_SIZE_U64;
                let res = if self.fresh {
                    self.fs.dev.write_nonzero(off, chunk)
                } else {
                    self.fs.dev.write_at(off, chunk)
                };
                res.map_err(|e| self.err(path, e))?;
                done += (n / BLOCK_SIZE) as u64;
            }
            let e = Extent {
                lblk,
                pblk,
                len: len as u32,
                flags: 0,
            };
            let mut st = self.fs.store_rw(self.alloc);
            map_insert(&mut i, ino, &self.fs.ctx, &mut st, &mut self.scratch, e)
                .map_err(|e| self.err(path, e))?;
            lblk += len;
        }
        Ok(i)
    }

    fn symlink(&mut self, path: &Path, m: &std::fs::Metadata, _ino: u64) -> Result<Inode, String> {
        let target = std::fs::read_link(path).map_err(|e| self.err(path, e))?;
        let t = target.as_os_str().as_bytes();
        let mut i = self.inode_from(m);
        if t.is_empty() || t.len() as u64 > SYMLINK_MAX {
            return Err(self.err(path, "symlink target length out of range"));
        }
        if t.len() <= INODE_MAP_SIZE {
            i.set_inline_data(t).map_err(|e| self.err(path, e))?;
        } else {
            let blk = self.alloc.alloc_one().map_err(|e| self.err(path, e))?;
            let mut b = [0u8; BLOCK_SIZE];
            b[..t.len()].copy_from_slice(t);
            self.fs
                .dev
                .write_at(blk * BLOCK_SIZE_U64, &b)
                .map_err(|e| self.err(path, e))?;
            i.map_kind = MAP_EXTENTS;
            i.map = [0; INODE_MAP_SIZE];
            Extent {
                lblk: 0,
                pblk: blk,
                len: 1,
                flags: 0,
            }
            .encode_inline(&mut i.map, 0);
            i.map_count = 1;
            i.blocks = 1;
            i.size = t.len() as u64;
        }
        Ok(i)
    }
}

/// The summary printed after mkfs, in the style of mkfs.xfs.
pub fn summary(path: &Path, sb: &Superblock) -> String {
    let l = &sb.layout;
    let label = String::from_utf8_lossy(sb.label_bytes());
    format!(
        "meta-data={:<22} isize={:<6} icount={}, ifree={}\n\
         \x20        ={:<22} uuid={}\n\
         \x20        ={:<22} label=\"{}\"\n\
         \x20        ={:<22} features: incompat=0x{:x} ro_compat=0x{:x} compat=0x{:x}\n\
         data     ={:<22} bsize={:<6} blocks={}, size={}\n\
         \x20        ={:<22} datastart={}, dblocks={}, dfree={}\n\
         \x20        ={:<22} groups={} (2 MiB, aligned), huge-page ready\n\
         \x20        ={:<22} backup superblock in block {}\n\
         naming   ={:<22} bsize={:<6} namelen=255\n\
         log      ={:<22} bsize={:<6} blocks={}, start={}\n\
         mount    =reads {} at most (superblock + journal), independent of size\n",
        path.display(),
        INODE_SIZE,
        l.inode_count - 1,
        sb.free_inodes,
        "",
        format_uuid(&sb.uuid),
        "",
        label,
        "",
        sb.feature_incompat,
        sb.feature_ro_compat,
        sb.feature_compat,
        "",
        BLOCK_SIZE,
        l.block_count,
        human(l.block_count * BLOCK_SIZE_U64),
        "",
        l.data_start,
        l.data_blocks,
        sb.free_blocks,
        "",
        l.group_count,
        "",
        l.backup_sb_block,
        "hashed b+tree",
        BLOCK_SIZE,
        "internal journal",
        BLOCK_SIZE,
        l.journal_blocks,
        l.journal_start,
        human(l.mount_read_blocks() * BLOCK_SIZE_U64),
    )
}

// SPDX-License-Identifier: GPL-2.0

//! `daxfs seal|unseal|status FILE...`: the command-line interface to sealed block maps
//! (`FALLOC_FL_SEAL_BLOCK_MAP`, `FALLOC_FL_UNSEAL_BLOCK_MAP` and `STATX_ATTR_IOMAP_IMMUTABLE`,
//! patch 0013 of the series; `docs/design.md`, "Sealing").
//!
//! The binary (`src/bin/daxfs.rs`) only calls [`main_with`]. Everything else is here so that
//! it can be tested: argument parsing ([`parse_args`], [`parse_size`]), the length a seal
//! asks for ([`seal_len`]), the messages that explain each error ([`error_message`]), the
//! status line ([`status_line`]), the help text ([`help`]) and the exit status
//! ([`exit_status`]).
//!
//! Every explanation given for an errno follows the kernel code: `vfs_fallocate()` in
//! `fs/open.c` (which checks, in this order, a length of 0 (`EINVAL`), the mode
//! (`EOPNOTSUPP`), write access (`EBADF`), append-only and immutable files (`EPERM`), swap
//! files (`ETXTBSY`), security modules and fanotify, the file type (`ESPIPE`, `EISDIR`,
//! `ENODEV`), then, for the sealing modes only, `FOP_SEAL_BLOCK_MAP` (`EOPNOTSUPP`) before
//! `CAP_LINUX_IMMUTABLE` (`EPERM`), then the size (`EFBIG`)), and daxfs's `seal.rs` (`ETXTBSY`
//! for a range past the end of a sealed file, `EBUSY` for an unseal while the file has a
//! writable shared mapping, `ENOSPC`).

use std::ffi::{CString, OsStr, OsString};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// `FALLOC_FL_SEAL_BLOCK_MAP` (`include/uapi/linux/falloc.h` of the series).
pub const FALLOC_FL_SEAL_BLOCK_MAP: libc::c_int = 0x100;
/// `FALLOC_FL_UNSEAL_BLOCK_MAP` (`include/uapi/linux/falloc.h` of the series).
pub const FALLOC_FL_UNSEAL_BLOCK_MAP: libc::c_int = 0x200;
/// `STATX_ATTR_IOMAP_IMMUTABLE` (`include/uapi/linux/stat.h` of the series): in
/// `stx_attributes` of a sealed file, in `stx_attributes_mask` of the files of a filesystem
/// that supports sealing.
pub const STATX_ATTR_IOMAP_IMMUTABLE: u64 = 0x0080_0000;
/// `STATX_ATTR_IMMUTABLE` (`chattr +i`).
pub const STATX_ATTR_IMMUTABLE: u64 = 0x0000_0010;
/// `STATX_ATTR_APPEND` (`chattr +a`).
pub const STATX_ATTR_APPEND: u64 = 0x0000_0020;

/// Exit status: every FILE succeeded.
pub const EXIT_OK: i32 = 0;
/// Exit status: at least one FILE failed.
pub const EXIT_FAILED: i32 = 1;
/// Exit status: the command line was wrong; nothing was done.
pub const EXIT_USAGE: i32 = 2;

/// The length the kernel is given for an unseal: any positive length is accepted (the range
/// is only checked for validity; the whole file is unsealed), whatever the file's size.
pub const UNSEAL_LEN: u64 = 1;

/// Message for `EPERM` from `fallocate` when sealing.
pub const MSG_SEAL_CAP: &str = "sealing needs CAP_LINUX_IMMUTABLE (run as root)";
/// Message for `EPERM` from `fallocate` when unsealing.
pub const MSG_UNSEAL_CAP: &str = "unsealing needs CAP_LINUX_IMMUTABLE (run as root)";
/// Message for `EOPNOTSUPP` on a regular file.
pub const MSG_UNSUPPORTED: &str = "not on a filesystem that supports sealing (daxfs)";
/// Message for `EBUSY` from an unseal.
pub const MSG_MAPPED: &str = "a writable shared mapping of the file exists \
(unmap it, or end every process that holds it, first)";
/// Message for an empty file sealed without `--size`.
pub const MSG_EMPTY: &str = "the file is empty and the kernel cannot seal a length of 0 \
(EINVAL); use --size SIZE to grow it to SIZE bytes and seal it";

/// A subcommand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// `daxfs seal [--size SIZE] FILE...`
    Seal,
    /// `daxfs unseal FILE...`
    Unseal,
    /// `daxfs status FILE...`
    Status,
}

impl Command {
    /// Every command, in the order the help lists them.
    pub const ALL: [Command; 3] = [Command::Seal, Command::Unseal, Command::Status];

    /// The command's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Command::Seal => "seal",
            Command::Unseal => "unseal",
            Command::Status => "status",
        }
    }

    /// The command called `name`.
    pub fn from_name(name: &str) -> Option<Command> {
        Command::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    /// Print the help (of one command, or the whole manual) and exit 0.
    Help(Option<Command>),
    /// Print the version and exit 0.
    Version,
    /// Run `command` on every file in turn.
    Run {
        /// The command.
        command: Command,
        /// `--size` of `seal`, in bytes (positive, at most `i64::MAX`).
        size: Option<u64>,
        /// The files, in command-line order.
        files: Vec<OsString>,
    },
}

/// A command line that cannot be run (exit status [`EXIT_USAGE`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError {
    /// What is wrong.
    pub message: String,
    /// The command whose help the user should read, if one was named.
    pub command: Option<Command>,
}

fn usage(message: String, command: Option<Command>) -> UsageError {
    UsageError { message, command }
}

/// Parses the arguments after the program name. `-h`/`--help` anywhere before `--` asks for
/// help; `--size` (also `-s SIZE`, `-sSIZE`, `--size=SIZE`) is an option of `seal` only and may
/// stand anywhere among the files; `--` ends the options; `-` alone is a file name.
pub fn parse_args(args: &[OsString]) -> Result<Invocation, UsageError> {
    let Some(first) = args.first() else {
        return Err(usage("no command given".into(), None));
    };
    let rest = &args[1..];
    let command = match first.to_str() {
        Some("-h" | "--help") => return Ok(Invocation::Help(None)),
        Some("-V" | "--version") => return Ok(Invocation::Version),
        Some("help") => {
            return match rest {
                [] => Ok(Invocation::Help(None)),
                [c] => match c.to_str().and_then(Command::from_name) {
                    Some(c) => Ok(Invocation::Help(Some(c))),
                    None => Err(usage(
                        format!("no help on '{}': not a command", c.to_string_lossy()),
                        None,
                    )),
                },
                _ => Err(usage("help takes at most one COMMAND".into(), None)),
            };
        }
        Some(name) => match Command::from_name(name) {
            Some(c) => c,
            None if name.starts_with('-') => {
                return Err(usage(format!("unknown option '{}'", name), None))
            }
            None => return Err(usage(format!("unknown command '{}'", name), None)),
        },
        None => {
            return Err(usage(
                format!("unknown command '{}'", first.to_string_lossy()),
                None,
            ))
        }
    };
    // Help wins over everything else before "--", as in GNU tools.
    for a in rest {
        if a == "--" {
            break;
        }
        if a == "-h" || a == "--help" {
            return Ok(Invocation::Help(Some(command)));
        }
    }
    let mut size = None;
    let mut files = Vec::new();
    let mut i = 0;
    let mut options = true;
    while i < rest.len() {
        let a = &rest[i];
        i += 1;
        let bytes = a.as_bytes();
        if !options || bytes.len() < 2 || bytes[0] != b'-' {
            files.push(a.clone());
            continue;
        }
        if a == "--" {
            options = false;
            continue;
        }
        let s = a.to_string_lossy();
        let value = if command != Command::Seal {
            None
        } else if s == "-s" || s == "--size" {
            match rest.get(i) {
                Some(v) => {
                    i += 1;
                    Some(v.to_string_lossy().into_owned())
                }
                None => return Err(usage(format!("option '{}' needs a SIZE", s), Some(command))),
            }
        } else if s.starts_with("--") {
            s.strip_prefix("--size=").map(str::to_string)
        } else {
            s.strip_prefix("-s").map(str::to_string)
        };
        let Some(value) = value else {
            return Err(usage(
                format!("unknown option '{}' for {}", s, command.name()),
                Some(command),
            ));
        };
        if size.is_some() {
            return Err(usage("--size given more than once".into(), Some(command)));
        }
        size = Some(parse_size(&value).map_err(|m| usage(m, Some(command)))?);
    }
    if files.is_empty() {
        return Err(usage(
            format!("{}: no FILE given", command.name()),
            Some(command),
        ));
    }
    Ok(Invocation::Run {
        command,
        size,
        files,
    })
}

/// Parses `--size`: a positive decimal number of bytes, optionally followed by `K`, `M`, `G`
/// or `T` (or `KiB`, `MiB`, `GiB`, `TiB`; any case), powers of 1024; at most `i64::MAX` (the
/// kernel's `loff_t`).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let bad = || {
        format!(
            "invalid size '{}': expected a number of bytes, optionally followed by K, M, G \
             or T (powers of 1024)",
            s
        )
    };
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let (num, suffix) = s.split_at(digits);
    if num.is_empty() {
        return Err(bad());
    }
    let shift = match suffix.to_ascii_lowercase().as_str() {
        "" => 0,
        "k" | "kib" => 10,
        "m" | "mib" => 20,
        "g" | "gib" => 30,
        "t" | "tib" => 40,
        _ => return Err(bad()),
    };
    let too_large = || format!("size '{}' is too large (at most {} bytes)", s, i64::MAX);
    let n: u64 = num.parse().map_err(|_| too_large())?;
    let bytes = n.checked_mul(1u64 << shift).ok_or_else(too_large)?;
    if bytes == 0 {
        return Err(format!("size '{}': must be greater than 0", s));
    }
    if i64::try_from(bytes).is_err() {
        return Err(too_large());
    }
    Ok(bytes)
}

/// What [`statx`](https://man7.org/linux/man-pages/man2/statx.2.html) says about a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileInfo {
    /// `stx_mode` (type and permissions).
    pub mode: u32,
    /// `stx_size`, bytes.
    pub size: u64,
    /// `stx_blocks`, 512-byte units.
    pub blocks: u64,
    /// `stx_attributes`.
    pub attributes: u64,
    /// `stx_attributes_mask`.
    pub attributes_mask: u64,
}

impl FileInfo {
    /// A regular file?
    pub fn is_regular(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFREG
    }

    /// The file type, in words.
    pub fn kind(&self) -> &'static str {
        match self.mode & libc::S_IFMT {
            libc::S_IFREG => "regular file",
            libc::S_IFDIR => "directory",
            libc::S_IFCHR => "character device",
            libc::S_IFBLK => "block device",
            libc::S_IFIFO => "FIFO",
            libc::S_IFSOCK => "socket",
            libc::S_IFLNK => "symbolic link",
            _ => "file of unknown type",
        }
    }

    /// Its filesystem supports sealing (`STATX_ATTR_IOMAP_IMMUTABLE` in the mask).
    pub fn supports_sealing(&self) -> bool {
        self.attributes_mask & STATX_ATTR_IOMAP_IMMUTABLE != 0
    }

    /// It is sealed (`STATX_ATTR_IOMAP_IMMUTABLE` in the attributes).
    pub fn is_sealed(&self) -> bool {
        self.attributes & STATX_ATTR_IOMAP_IMMUTABLE != 0
    }
}

/// The line `daxfs status` prints for `name`.
pub fn status_line(name: &str, info: &FileInfo) -> String {
    if !info.is_regular() {
        return format!("{}: not a regular file ({})", name, info.kind());
    }
    let state = if !info.supports_sealing() {
        "sealing not supported by this filesystem"
    } else if info.is_sealed() {
        "sealed"
    } else {
        "not sealed"
    };
    format!(
        "{}: {} ({} bytes, {} blocks)",
        name, state, info.size, info.blocks
    )
}

/// The message for a FILE that is not a regular file (seal, unseal).
pub fn not_regular_message(info: &FileInfo) -> String {
    format!(
        "not a regular file ({}): only regular files can be sealed",
        info.kind()
    )
}

/// The length `daxfs seal` passes to `fallocate` for a file described by `info`: `size` if
/// given, else the file's size. An empty file without `size` is refused with a message (the
/// kernel would return `EINVAL`), or with [`MSG_UNSUPPORTED`] if its filesystem does not
/// support sealing anyway.
pub fn seal_len(size: Option<u64>, info: &FileInfo) -> Result<u64, String> {
    match size {
        Some(s) => Ok(s),
        None if info.size > 0 => Ok(info.size),
        None if !info.supports_sealing() => Err(MSG_UNSUPPORTED.into()),
        None => Err(MSG_EMPTY.into()),
    }
}

/// The call that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// `statx` of the path.
    Stat,
    /// `open(O_RDWR)` of the file.
    Open,
    /// The `fallocate` that seals or unseals.
    Fallocate,
}

/// What was known of the file when the call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ErrContext {
    /// The file as it was before the call (for an open: as `statx` of its path saw it).
    pub info: FileInfo,
    /// `--size`.
    pub requested: Option<u64>,
}

/// The text of `strerror(errno)`, without Rust's " (os error N)".
pub fn strerror(errno: i32) -> String {
    let s = io::Error::from_raw_os_error(errno).to_string();
    match s.rfind(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// The message `daxfs COMMAND` prints when `stage` failed with `errno`.
pub fn error_message(command: Command, stage: Stage, errno: i32, ctx: &ErrContext) -> String {
    let generic = strerror(errno);
    match (stage, errno) {
        (Stage::Stat, libc::EACCES) => {
            "permission denied (no search permission on a directory of the path)".into()
        }
        (Stage::Stat, _) => generic,
        (Stage::Open, libc::EACCES) => {
            "permission denied: cannot open the file for writing (sealing and unsealing \
             need write access to it)"
                .into()
        }
        (Stage::Open, libc::EPERM) => {
            if ctx.info.attributes & STATX_ATTR_IMMUTABLE != 0 {
                "the file is immutable (chattr +i): it cannot be opened for writing".into()
            } else if ctx.info.attributes & STATX_ATTR_APPEND != 0 {
                "the file is append-only (chattr +a): it cannot be opened for writing".into()
            } else {
                "opening the file for writing is not permitted (Operation not permitted)".into()
            }
        }
        (Stage::Open, libc::EROFS) => {
            "read-only filesystem: the file cannot be opened for writing".into()
        }
        (Stage::Open, libc::ETXTBSY) => {
            "the file cannot be opened for writing while it is being executed (Text file busy)"
                .into()
        }
        (Stage::Open, libc::EISDIR) => "is a directory: only regular files can be sealed".into(),
        (Stage::Open, _) => generic,
        (Stage::Fallocate, libc::EPERM) => match command {
            Command::Unseal => MSG_UNSEAL_CAP.into(),
            _ => MSG_SEAL_CAP.into(),
        },
        (Stage::Fallocate, libc::EACCES) => {
            "permission denied by a security module (Permission denied)".into()
        }
        (Stage::Fallocate, libc::EOPNOTSUPP) if ctx.info.is_regular() => MSG_UNSUPPORTED.into(),
        (Stage::Fallocate, libc::EOPNOTSUPP | libc::ENODEV | libc::ESPIPE | libc::EISDIR) => {
            not_regular_message(&ctx.info)
        }
        (Stage::Fallocate, libc::ETXTBSY) => match ctx.requested {
            Some(r) if command == Command::Seal && ctx.info.is_sealed() && r > ctx.info.size => {
                format!(
                    "already sealed at a smaller size ({} bytes); unseal first",
                    ctx.info.size
                )
            }
            _ if command == Command::Seal => "the block map cannot change now (Text file \
                busy): the file is an active swap file, or it was sealed meanwhile at a \
                smaller size"
                .into(),
            _ => "the file is an active swap file (Text file busy)".into(),
        },
        (Stage::Fallocate, libc::EBUSY) if command == Command::Unseal => MSG_MAPPED.into(),
        (Stage::Fallocate, libc::ENOSPC) if command == Command::Seal => {
            "no space left on the filesystem: sealing allocates every hole of the file and \
             every block up to its end; the file is not sealed"
                .into()
        }
        (Stage::Fallocate, libc::EROFS) => "read-only filesystem".into(),
        (Stage::Fallocate, libc::EFBIG) if command == Command::Seal => {
            "file too large: the size is past the filesystem's maximum file size or this \
             process's file size limit (RLIMIT_FSIZE)"
                .into()
        }
        (Stage::Fallocate, _) => generic,
    }
}

/// The exit status of a run in which the FILEs succeeded (`true`) or failed (`false`).
pub fn exit_status(results: &[bool]) -> i32 {
    if results.iter().all(|&ok| ok) {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}

fn cpath(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

fn statx_raw(dirfd: libc::c_int, path: &CString, flags: libc::c_int) -> io::Result<FileInfo> {
    // SAFETY: `libc::statx` is a plain C structure of integers, for which all zeros is a
    // valid value.
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    let mask = libc::STATX_TYPE | libc::STATX_MODE | libc::STATX_SIZE | libc::STATX_BLOCKS;
    // SAFETY: `path` is a NUL-terminated string and `stx` a live, writable `struct statx`,
    // both valid for the duration of the call.
    let r = unsafe { libc::statx(dirfd, path.as_ptr(), flags, mask, &mut stx) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(FileInfo {
        mode: u32::from(stx.stx_mode),
        size: stx.stx_size,
        blocks: stx.stx_blocks,
        attributes: stx.stx_attributes,
        attributes_mask: stx.stx_attributes_mask,
    })
}

/// `statx(2)` of `path`, following symbolic links, as `open` does.
pub fn stat_path(path: &Path) -> io::Result<FileInfo> {
    statx_raw(libc::AT_FDCWD, &cpath(path)?, 0)
}

/// `statx(2)` of an open file.
pub fn stat_file(file: &File) -> io::Result<FileInfo> {
    statx_raw(file.as_raw_fd(), &CString::default(), libc::AT_EMPTY_PATH)
}

/// `fallocate(2)`.
pub fn fallocate(file: &File, mode: libc::c_int, offset: u64, len: u64) -> io::Result<()> {
    let einval = || io::Error::from_raw_os_error(libc::EINVAL);
    let offset = libc::off_t::try_from(offset).map_err(|_| einval())?;
    let len = libc::off_t::try_from(len).map_err(|_| einval())?;
    // SAFETY: fallocate takes no pointer; the descriptor is open for the duration of the call.
    let r = unsafe { libc::fallocate(file.as_raw_fd(), mode, offset, len) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn errno(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(libc::EIO)
}

/// Opens a regular file read-write for sealing or unsealing: `statx` of the path first, so
/// that a device, FIFO or socket is refused without being opened.
fn open_for_seal(command: Command, path: &Path) -> Result<(File, FileInfo), String> {
    let before = stat_path(path)
        .map_err(|e| error_message(command, Stage::Stat, errno(&e), &ErrContext::default()))?;
    if !before.is_regular() {
        return Err(not_regular_message(&before));
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open(path)
        .map_err(|e| {
            let ctx = ErrContext {
                info: before,
                requested: None,
            };
            error_message(command, Stage::Open, errno(&e), &ctx)
        })?;
    let info = stat_file(&file)
        .map_err(|e| error_message(command, Stage::Stat, errno(&e), &ErrContext::default()))?;
    if !info.is_regular() {
        return Err(not_regular_message(&info));
    }
    Ok((file, info))
}

/// `daxfs seal [--size SIZE] FILE`: seals `path`'s block map.
pub fn seal_file(path: &Path, size: Option<u64>) -> Result<(), String> {
    let (file, info) = open_for_seal(Command::Seal, path)?;
    let len = seal_len(size, &info)?;
    fallocate(&file, FALLOC_FL_SEAL_BLOCK_MAP, 0, len).map_err(|e| {
        let ctx = ErrContext {
            info,
            requested: size,
        };
        error_message(Command::Seal, Stage::Fallocate, errno(&e), &ctx)
    })
}

/// `daxfs unseal FILE`: clears the seal of `path`'s block map.
pub fn unseal_file(path: &Path) -> Result<(), String> {
    let (file, info) = open_for_seal(Command::Unseal, path)?;
    fallocate(&file, FALLOC_FL_UNSEAL_BLOCK_MAP, 0, UNSEAL_LEN).map_err(|e| {
        let ctx = ErrContext {
            info,
            requested: None,
        };
        error_message(Command::Unseal, Stage::Fallocate, errno(&e), &ctx)
    })
}

/// `daxfs status FILE`: the status line of `path` (from `statx` of the path; the file is not
/// opened).
pub fn status_file(path: &Path) -> Result<String, String> {
    let info = stat_path(path).map_err(|e| {
        error_message(
            Command::Status,
            Stage::Stat,
            errno(&e),
            &ErrContext::default(),
        )
    })?;
    Ok(status_line(&path.display().to_string(), &info))
}

/// Runs the command line `args` (without the program name), writing results to `out` and
/// errors to `err`; returns the exit status.
pub fn main_with(args: &[OsString], out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    // Output errors (a closed pipe) cannot be reported anywhere useful: ignored, as the exit
    // status says what was done.
    let run = match parse_args(args) {
        Ok(Invocation::Help(c)) => {
            let _ = out.write_all(help(c).as_bytes());
            return EXIT_OK;
        }
        Ok(Invocation::Version) => {
            let _ = writeln!(out, "daxfs (daxfs-tools) {}", env!("CARGO_PKG_VERSION"));
            return EXIT_OK;
        }
        Ok(r) => r,
        Err(e) => {
            let hint = match e.command {
                Some(c) => format!("daxfs {} --help", c.name()),
                None => "daxfs --help".into(),
            };
            let _ = writeln!(err, "daxfs: {}\nTry '{}'.", e.message, hint);
            return EXIT_USAGE;
        }
    };
    let Invocation::Run {
        command,
        size,
        files,
    } = run
    else {
        return EXIT_USAGE;
    };
    let mut results = Vec::with_capacity(files.len());
    for f in &files {
        let path = Path::new(OsStr::new(f));
        let r = match command {
            Command::Seal => seal_file(path, size).map(|()| None),
            Command::Unseal => unseal_file(path).map(|()| None),
            Command::Status => status_file(path).map(Some),
        };
        match r {
            Ok(line) => {
                if let Some(line) = line {
                    let _ = writeln!(out, "{}", line);
                }
                results.push(true);
            }
            Err(m) => {
                let _ = writeln!(err, "daxfs: {}: {}", path.display(), m);
                results.push(false);
            }
        }
    }
    let _ = out.flush();
    exit_status(&results)
}

// ---------------------------------------------------------------------------------------
// The manual.

/// A piece of a help section.
enum Block {
    /// A paragraph, wrapped.
    P(&'static str),
    /// Lines printed as they are (indented).
    Pre(&'static str),
    /// A term and its description (wrapped, indented further).
    Item(&'static str, &'static str),
}

use Block::{Item, Pre, P};

const WIDTH: usize = 79;
const INDENT: usize = 7;

fn wrap(out: &mut String, text: &str, indent: usize) {
    let mut col = 0;
    for word in text.split_whitespace() {
        if col > 0 && col + 1 + word.len() > WIDTH {
            out.push('\n');
            col = 0;
        }
        if col == 0 {
            out.push_str(&" ".repeat(indent));
            col = indent;
        } else {
            out.push(' ');
            col += 1;
        }
        out.push_str(word);
        col += word.len();
    }
    out.push('\n');
}

fn render(out: &mut String, title: &str, blocks: &[Block]) {
    out.push_str(title);
    out.push('\n');
    for (i, b) in blocks.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        match b {
            P(t) => wrap(out, t, INDENT),
            Pre(t) => {
                for l in t.lines() {
                    out.push_str(&" ".repeat(INDENT));
                    out.push_str(l);
                    out.push('\n');
                }
            }
            Item(term, t) => {
                out.push_str(&" ".repeat(INDENT));
                out.push_str(term);
                out.push('\n');
                wrap(out, t, INDENT + 4);
            }
        }
    }
    out.push('\n');
}

const SYNOPSIS: &[Block] = &[Pre("daxfs seal [--size SIZE] FILE...
daxfs unseal FILE...
daxfs status FILE...
daxfs [COMMAND] --help
daxfs help [COMMAND]
daxfs --version")];

const DESCRIPTION: &[Block] = &[
    P("A sealed file has an immutable block map: the storage address of each of its blocks \
       is fixed until the file is unsealed, and the seal is recorded on the storage, so it \
       lasts across unmount and reboot. A write fault on a MAP_SYNC mapping of a sealed file never needs to make \
       metadata durable, so an application can make its stores to persistent memory durable \
       with CPU cache flushes alone."),
    P("Sealing (fallocate(2) mode FALLOC_FL_SEAL_BLOCK_MAP) first allocates, zeroes and \
       writes every block of the file up to its end: holes get zeroed blocks and unwritten \
       (preallocated) extents are zeroed and made written; the daxfs filesystem also frees \
       the blocks allocated past the end of the file. Then the whole file is sealed. While it is, every \
       operation that would change its block map fails with ETXTBSY: truncate(2) and \
       ftruncate(2) to another size, O_TRUNC, every other fallocate(2) mode (preallocation \
       within the size changes nothing and succeeds, so posix_fallocate(3) over the file \
       works), FICLONE and \
       FICLONERANGE with the file as source or destination, and write(2) and \
       copy_file_range(2) past the end of the file, O_APPEND writes included (the write is \
       refused whole, not shortened). (FIDEDUPERANGE is refused with ETXTBSY too on \
       filesystems that share blocks; daxfs shares none and fails it with EOPNOTSUPP on \
       every file.) Reads, writes within the file and stores through \
       shared mappings work as before, and the file can still be renamed, linked, unlinked \
       and have its mode changed."),
    P("Only filesystems that support sealing accept it; daxfs does. statx(2) lists \
       STATX_ATTR_IOMAP_IMMUTABLE (0x00800000) in stx_attributes_mask of the regular files \
       of such a filesystem, and in stx_attributes of a sealed file; FS_IOC_FSGETXATTR \
       reports the read-only flag FS_XFLAG_IOMAP_IMMUTABLE."),
    P("Sealing and unsealing need CAP_LINUX_IMMUTABLE and write access to the file, which \
       this command opens O_RDWR. The FILEs are processed in turn: a failure is reported on standard \
       error and the remaining FILEs are still processed."),
];

const SEAL_TEXT: &str = "Seal each FILE: fallocate(fd, FALLOC_FL_SEAL_BLOCK_MAP, 0, LEN), \
    where LEN is the size of FILE, or SIZE with --size. LEN only says how long the file must \
    be: the whole block map is sealed in any case. Sealing a sealed file again succeeds and \
    changes nothing, unless SIZE is larger than the file (ETXTBSY: that would grow a sealed \
    map). An empty FILE needs --size: the kernel refuses a length of 0 with EINVAL, so this \
    command reports the file as empty instead of making the call. Sealing is allowed while the file \
    is mapped. Prints nothing on success.";

const UNSEAL_TEXT: &str = "Clear the seal of each FILE: fallocate(fd, \
    FALLOC_FL_UNSEAL_BLOCK_MAP, 0, 1). The range is only checked for validity: the whole file \
    is unsealed, whatever its size. Unsealing a file that is not sealed succeeds. The file \
    keeps its blocks and data, and its block map can change again (truncate, fallocate, \
    writes past the end). Fails with EBUSY while the file has a writable shared mapping (see \
    NOTES). Prints nothing on success.";

const STATUS_TEXT: &str = "Print one line per FILE, from statx(2) of its path (FILE is not \
    opened: only search permission on the directories of the path is needed):";

const STATUS_LINES: &str = "FILE: sealed (S bytes, B blocks)
FILE: not sealed (S bytes, B blocks)
FILE: sealing not supported by this filesystem (S bytes, B blocks)
FILE: not a regular file (TYPE)";

const STATUS_MORE: &str = "S is the size of FILE and B the space allocated to it, in \
    512-byte units (st_blocks). \"sealing not supported by this filesystem\" means that \
    STATX_ATTR_IOMAP_IMMUTABLE is missing from stx_attributes_mask: the file's filesystem \
    does not support sealing, or the running kernel does not know it.";

const SIZE_OPT: &str = "-s SIZE, --size SIZE, --size=SIZE";
const SIZE_TEXT: &str = "(seal) Seal each FILE as at least SIZE bytes long. A shorter FILE \
    first grows to SIZE through the seal itself (the new part reads as zeros); a longer one \
    keeps its size. SIZE is a positive decimal number of bytes, optionally followed by K, M, G \
    or T (or KiB, MiB, GiB, TiB; powers of 1024), at most 2^63 - 1.";
const HELP_TEXT: &str = "Print this manual, or with a COMMAND (daxfs COMMAND --help, daxfs \
    help COMMAND) the part of it about that command, and exit 0.";
const VERSION_TEXT: &str = "Print the version and exit 0.";

const EXIT_STATUS: &[Block] = &[
    Item("0", "Every FILE was sealed, unsealed or reported."),
    Item(
        "1",
        "At least one FILE failed. Each failure is one line on standard error, \"daxfs: FILE: \
         MESSAGE\"; the other FILEs were still processed.",
    ),
    Item(
        "2",
        "Usage error (unknown command or option, no FILE, an invalid SIZE): nothing was done.",
    ),
];

/// The ERRORS section: errno, the commands it concerns, whether the whole manual shows it
/// (else only the help of those commands), its meaning.
const ERRORS: &[(&str, &[Command], bool, &str)] = &[
    (
        "EPERM",
        &[Command::Seal, Command::Unseal],
        true,
        "\"sealing needs CAP_LINUX_IMMUTABLE (run as root)\" (\"unsealing needs ...\" for \
         unseal): the caller lacks CAP_LINUX_IMMUTABLE. The kernel checks it after the filesystem's support, so on a \
         filesystem without sealing the error is EOPNOTSUPP even without the capability. A \
         fanotify permission listener can also refuse with EPERM. On opening FILE: it is \
         immutable or append-only (chattr +i, +a), so it cannot be opened for writing.",
    ),
    (
        "EACCES",
        &[Command::Seal, Command::Unseal, Command::Status],
        true,
        "Permission denied. On opening FILE for writing: no write permission on FILE, or no \
         search permission on a directory of its path (status needs only the latter). From \
         the seal or unseal itself: a security module refused the write.",
    ),
    (
        "EOPNOTSUPP",
        &[Command::Seal, Command::Unseal],
        true,
        "\"not on a filesystem that supports sealing (daxfs)\": the filesystem does not accept \
         the sealing modes (only those that set FOP_SEAL_BLOCK_MAP do, as daxfs does), or the \
         running kernel does not have them.",
    ),
    (
        "ETXTBSY",
        &[Command::Seal],
        true,
        "With seal --size SIZE on a file that is already sealed and shorter than SIZE: \
         \"already sealed at a smaller size; unseal first\" (growing the file would change its \
         sealed map). Otherwise, from the seal or unseal: the file is an active swap file \
         (or, for a seal, another process sealed it meanwhile at a smaller size); on opening \
         FILE for writing: it is being executed.",
    ),
    (
        "ETXTBSY",
        &[Command::Unseal],
        false,
        "From the unseal: the file is an active swap file. On opening FILE for writing: it is \
         being executed.",
    ),
    (
        "EBUSY",
        &[Command::Unseal],
        true,
        "\"a writable shared mapping of the file exists\": unsealing is refused while any \
         process has a writable shared mapping of FILE, since its holder may rely on the seal \
         (see NOTES). Unmap it (munmap(2), or the end of every process that holds it) and \
         unseal again.",
    ),
    (
        "ENOSPC",
        &[Command::Seal],
        true,
        "Not enough free space to allocate the holes of FILE and its blocks up to SIZE. The \
         file is not sealed.",
    ),
    (
        "EFBIG",
        &[Command::Seal],
        true,
        "SIZE is larger than the filesystem's maximum file size, or than the RLIMIT_FSIZE \
         limit of the process (this command ignores SIGXFSZ, so the limit is reported as an error).",
    ),
    (
        "EROFS",
        &[Command::Seal, Command::Unseal],
        true,
        "The filesystem is read-only: FILE cannot be opened for writing.",
    ),
    (
        "EINVAL",
        &[Command::Seal],
        true,
        "The kernel refuses a length of 0 with EINVAL; this command does not make that call: an empty \
         FILE without --size is reported as empty (\"the file is empty ... use --size SIZE\"), \
         and --size 0 is a usage error.",
    ),
    (
        "EISDIR, ESPIPE, ENODEV",
        &[Command::Seal, Command::Unseal],
        true,
        "\"not a regular file (TYPE): only regular files can be sealed\": seal and unseal \
         refuse a directory, device, FIFO or socket before opening it. The kernel refuses them \
         too: EISDIR on opening a directory for writing, ESPIPE for a FIFO, ENODEV for a \
         character device, EOPNOTSUPP for a block device.",
    ),
    (
        "ENOENT, ENOTDIR, ELOOP, ENAMETOOLONG, EIO, ENOMEM",
        &[Command::Seal, Command::Unseal, Command::Status],
        true,
        "These and any other error are reported with the text of strerror(3), e.g. \"No such \
         file or directory\" for ENOENT.",
    ),
];

const NOTES: &[Block] = &[
    P(
        "Mappings. Sealing is allowed while FILE is mapped: it only fills holes and converts \
       unwritten extents, keeping page faults out meanwhile, so no established mapping \
       becomes wrong. Unsealing fails with EBUSY while FILE has a writable shared mapping. As \
       for a memfd sealed with F_SEAL_WRITE, \"writable\" means a MAP_SHARED mapping made \
       through a descriptor open for writing (O_RDWR): it counts even if it was mapped \
       PROT_READ only, since mprotect(2) could make it writable. A MAP_PRIVATE mapping, or a \
       MAP_SHARED mapping of a read-only descriptor, never counts. A mapping outlives its \
       descriptor: closing the file does not end it; munmap(2) or the exit of the process \
       does (fork(2) copies the mappings into the child). While an unseal is between that \
       check and the moment the cleared seal is stored, mmap(2) of a new writable shared \
       mapping of FILE fails with EPERM.",
    ),
    P(
        "Privilege. CAP_LINUX_IMMUTABLE is checked in the initial user namespace, whoever owns \
       FILE; FILE must also be writable by the caller. status needs no privilege.",
    ),
    P(
        "Crashes. Sealing and unsealing are crash-atomic: after a crash a file is found either \
       fully sealed or not sealed at all.",
    ),
];

fn options_blocks(command: Option<Command>) -> Vec<Block> {
    let mut v = Vec::new();
    if command.is_none() || command == Some(Command::Seal) {
        v.push(Item(SIZE_OPT, SIZE_TEXT));
    }
    v.push(Item("-h, --help", HELP_TEXT));
    if command.is_none() {
        v.push(Item("-V, --version", VERSION_TEXT));
    }
    v
}

fn command_blocks(command: Command) -> Vec<Block> {
    match command {
        Command::Seal => vec![P(SEAL_TEXT)],
        Command::Unseal => vec![P(UNSEAL_TEXT)],
        Command::Status => vec![P(STATUS_TEXT), Pre(STATUS_LINES), P(STATUS_MORE)],
    }
}

/// The manual (`daxfs --help`), or the part about one command (`daxfs COMMAND --help`).
pub fn help(command: Option<Command>) -> String {
    let mut out = String::new();
    let errors = |c: Option<Command>| -> Vec<Block> {
        ERRORS
            .iter()
            .filter(|(_, cs, manual, _)| match c {
                None => *manual,
                Some(c) => cs.contains(&c),
            })
            .map(|&(e, _, _, t)| Item(e, t))
            .collect()
    };
    match command {
        None => {
            render(
                &mut out,
                "NAME",
                &[P(
                    "daxfs - seal and unseal the block map of files on daxfs, and show \
                     whether they are sealed",
                )],
            );
            render(&mut out, "SYNOPSIS", SYNOPSIS);
            render(&mut out, "DESCRIPTION", DESCRIPTION);
            render_commands(&mut out);
            render(&mut out, "OPTIONS", &options_blocks(None));
            render(&mut out, "EXIT STATUS", EXIT_STATUS);
            render(&mut out, "ERRORS", &errors(None));
            render(&mut out, "NOTES", NOTES);
        }
        Some(c) => {
            let (name, synopsis) = match c {
                Command::Seal => (
                    "daxfs seal - seal the block map of files",
                    "daxfs seal [--size SIZE] FILE...",
                ),
                Command::Unseal => (
                    "daxfs unseal - clear the seal of the block map of files",
                    "daxfs unseal FILE...",
                ),
                Command::Status => (
                    "daxfs status - show whether files are sealed",
                    "daxfs status FILE...",
                ),
            };
            render(&mut out, "NAME", &[P(name)]);
            render(&mut out, "SYNOPSIS", &[Pre(synopsis)]);
            render(&mut out, "DESCRIPTION", &command_blocks(c));
            render(&mut out, "OPTIONS", &options_blocks(Some(c)));
            render(&mut out, "EXIT STATUS", EXIT_STATUS);
            render(&mut out, "ERRORS", &errors(Some(c)));
            let notes = if c == Command::Status {
                "See daxfs --help for what sealing does and the NOTES on mappings."
            } else {
                "See daxfs --help for what sealing does and the NOTES on mappings, privilege \
                 and crashes."
            };
            render(&mut out, "SEE ALSO", &[P(notes)]);
        }
    }
    // No blank line after the last section.
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

/// The COMMANDS section: each command's synopsis, then its description indented further.
fn render_commands(out: &mut String) {
    out.push_str("COMMANDS\n");
    for (i, c) in Command::ALL.into_iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&" ".repeat(INDENT));
        out.push_str(match c {
            Command::Seal => "seal [--size SIZE] FILE...",
            Command::Unseal => "unseal FILE...",
            Command::Status => "status FILE...",
        });
        out.push('\n');
        for (j, b) in command_blocks(c).iter().enumerate() {
            if j > 0 {
                out.push('\n');
            }
            match b {
                P(t) => wrap(out, t, INDENT + 4),
                Pre(t) => {
                    for l in t.lines() {
                        out.push_str(&" ".repeat(INDENT + 4));
                        out.push_str(l);
                        out.push('\n');
                    }
                }
                Item(term, t) => {
                    out.push_str(&" ".repeat(INDENT + 4));
                    out.push_str(term);
                    out.push('\n');
                    wrap(out, t, INDENT + 8);
                }
            }
        }
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    fn run(a: &[&str]) -> Result<Invocation, UsageError> {
        parse_args(&args(a))
    }

    fn files(c: Command, size: Option<u64>, f: &[&str]) -> Result<Invocation, UsageError> {
        Ok(Invocation::Run {
            command: c,
            size,
            files: args(f),
        })
    }

    #[test]
    fn parses_commands_and_files() {
        assert_eq!(
            run(&["seal", "a", "b"]),
            files(Command::Seal, None, &["a", "b"])
        );
        assert_eq!(run(&["unseal", "a"]), files(Command::Unseal, None, &["a"]));
        assert_eq!(
            run(&["status", "a", "-"]),
            files(Command::Status, None, &["a", "-"])
        );
        assert_eq!(
            run(&["status", "--", "-x", "--help"]),
            files(Command::Status, None, &["-x", "--help"])
        );
    }

    #[test]
    fn parses_size_forms() {
        for a in [
            &["seal", "--size", "4K", "f"][..],
            &["seal", "--size=4K", "f"],
            &["seal", "-s", "4k", "f"],
            &["seal", "-s4KiB", "f"],
            &["seal", "f", "--size", "4096"],
        ] {
            assert_eq!(run(a), files(Command::Seal, Some(4096), &["f"]), "{:?}", a);
        }
        assert_eq!(
            run(&["seal", "-s", "1G", "a", "b"]),
            files(Command::Seal, Some(1 << 30), &["a", "b"])
        );
    }

    #[test]
    fn usage_errors() {
        let err = |a: &[&str]| run(a).unwrap_err();
        assert_eq!(err(&[]).message, "no command given");
        assert_eq!(err(&["frob", "f"]).message, "unknown command 'frob'");
        assert_eq!(err(&["--frob"]).message, "unknown option '--frob'");
        let e = err(&["seal"]);
        assert_eq!(
            (e.message.as_str(), e.command),
            ("seal: no FILE given", Some(Command::Seal))
        );
        assert!(err(&["status", "--"]).message.contains("no FILE"));
        assert!(err(&["seal", "--size"]).message.contains("needs a SIZE"));
        assert!(err(&["seal", "-s"]).message.contains("needs a SIZE"));
        assert!(err(&["seal", "-s", "1", "-s", "2", "f"])
            .message
            .contains("more than once"));
        assert!(err(&["seal", "--size", "0", "f"])
            .message
            .contains("greater than 0"));
        assert!(err(&["seal", "--size", "x", "f"])
            .message
            .contains("invalid size"));
        assert!(err(&["unseal", "--size", "1", "f"])
            .message
            .contains("unknown option"));
        assert!(err(&["status", "-s1", "f"])
            .message
            .contains("unknown option"));
        assert!(err(&["seal", "--sizes=1", "f"])
            .message
            .contains("unknown option"));
        assert!(err(&["seal", "-x", "f"])
            .message
            .contains("unknown option '-x' for seal"));
        assert!(err(&["help", "frob"]).message.contains("not a command"));
        assert!(err(&["help", "seal", "status"])
            .message
            .contains("at most one"));
    }

    #[test]
    fn help_and_version() {
        assert_eq!(run(&["--help"]), Ok(Invocation::Help(None)));
        assert_eq!(run(&["-h", "seal"]), Ok(Invocation::Help(None)));
        assert_eq!(run(&["help"]), Ok(Invocation::Help(None)));
        assert_eq!(
            run(&["help", "unseal"]),
            Ok(Invocation::Help(Some(Command::Unseal)))
        );
        assert_eq!(
            run(&["seal", "--help"]),
            Ok(Invocation::Help(Some(Command::Seal)))
        );
        // Help wins over a bad option or a missing file, but not after "--".
        assert_eq!(
            run(&["seal", "-x", "-h"]),
            Ok(Invocation::Help(Some(Command::Seal)))
        );
        assert_eq!(
            run(&["status", "f", "-h"]),
            Ok(Invocation::Help(Some(Command::Status)))
        );
        assert_eq!(
            run(&["status", "--", "-h"]),
            files(Command::Status, None, &["-h"])
        );
        assert_eq!(run(&["--version"]), Ok(Invocation::Version));
        assert_eq!(run(&["-V"]), Ok(Invocation::Version));
    }

    #[test]
    fn non_utf8_file_names() {
        use std::os::unix::ffi::OsStringExt;
        let name = OsString::from_vec(vec![b'f', 0xff]);
        let a = vec![OsString::from("unseal"), name.clone()];
        assert_eq!(
            parse_args(&a),
            Ok(Invocation::Run {
                command: Command::Unseal,
                size: None,
                files: vec![name]
            })
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1"), Ok(1));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("4K"), Ok(4096));
        assert_eq!(parse_size("4k"), Ok(4096));
        assert_eq!(parse_size("4KiB"), Ok(4096));
        assert_eq!(parse_size("3M"), Ok(3 << 20));
        assert_eq!(parse_size("3mib"), Ok(3 << 20));
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        assert_eq!(parse_size("5T"), Ok(5 << 40));
        assert_eq!(parse_size("9223372036854775807"), Ok(i64::MAX as u64));
        for bad in [
            "", "K", "-1", "+1", "1.5M", "1X", "1KB", "1 K", " 1", "0x10", "1E",
        ] {
            assert!(
                parse_size(bad).unwrap_err().contains("invalid size"),
                "{:?}",
                bad
            );
        }
        assert!(parse_size("0").unwrap_err().contains("greater than 0"));
        assert!(parse_size("0K").unwrap_err().contains("greater than 0"));
        for big in [
            "9223372036854775808",
            "18446744073709551616",
            "8388608T",
            "99999999999999999999",
        ] {
            assert!(
                parse_size(big).unwrap_err().contains("too large"),
                "{:?}",
                big
            );
        }
    }

    fn reg(size: u64, sealed: bool, supported: bool) -> FileInfo {
        FileInfo {
            mode: libc::S_IFREG | 0o644,
            size,
            blocks: size.div_ceil(4096) * 8,
            attributes: if sealed {
                STATX_ATTR_IOMAP_IMMUTABLE
            } else {
                0
            },
            attributes_mask: if supported {
                STATX_ATTR_IOMAP_IMMUTABLE
            } else {
                0
            },
        }
    }

    #[test]
    fn status_lines() {
        assert_eq!(
            status_line("f", &reg(10, true, true)),
            "f: sealed (10 bytes, 8 blocks)"
        );
        assert_eq!(
            status_line("f", &reg(0, false, true)),
            "f: not sealed (0 bytes, 0 blocks)"
        );
        assert_eq!(
            status_line("f", &reg(5000, false, false)),
            "f: sealing not supported by this filesystem (5000 bytes, 16 blocks)"
        );
        let dir = FileInfo {
            mode: libc::S_IFDIR | 0o755,
            ..FileInfo::default()
        };
        assert_eq!(status_line("d", &dir), "d: not a regular file (directory)");
        let fifo = FileInfo {
            mode: libc::S_IFIFO,
            ..FileInfo::default()
        };
        assert_eq!(status_line("p", &fifo), "p: not a regular file (FIFO)");
    }

    #[test]
    fn seal_lengths() {
        assert_eq!(seal_len(None, &reg(41060, false, true)), Ok(41060));
        assert_eq!(seal_len(Some(4096), &reg(41060, false, true)), Ok(4096));
        assert_eq!(seal_len(Some(1 << 20), &reg(0, false, true)), Ok(1 << 20));
        assert_eq!(
            seal_len(None, &reg(0, false, true)),
            Err(MSG_EMPTY.to_string())
        );
        assert_eq!(
            seal_len(None, &reg(0, false, false)),
            Err(MSG_UNSUPPORTED.to_string())
        );
        // A non-empty file on a filesystem without sealing: the kernel says so.
        assert_eq!(seal_len(None, &reg(1, false, false)), Ok(1));
    }

    fn msg(c: Command, s: Stage, e: i32, info: FileInfo, requested: Option<u64>) -> String {
        error_message(c, s, e, &ErrContext { info, requested })
    }

    #[test]
    fn errno_messages() {
        use Command::*;
        use Stage::*;
        let f = reg(8192, false, true);
        let sealed = reg(8192, true, true);
        assert_eq!(msg(Seal, Fallocate, libc::EPERM, f, None), MSG_SEAL_CAP);
        assert_eq!(
            msg(Unseal, Fallocate, libc::EPERM, sealed, None),
            MSG_UNSEAL_CAP
        );
        assert!(msg(Seal, Fallocate, libc::EACCES, f, None).contains("security module"));
        assert!(msg(Seal, Open, libc::EACCES, f, None).contains("cannot open the file for writing"));
        assert!(msg(Status, Stat, libc::EACCES, f, None).contains("search permission"));
        assert_eq!(
            msg(Seal, Fallocate, libc::EOPNOTSUPP, f, None),
            MSG_UNSUPPORTED
        );
        assert_eq!(
            msg(Unseal, Fallocate, libc::EOPNOTSUPP, f, None),
            MSG_UNSUPPORTED
        );
        let blk = FileInfo {
            mode: libc::S_IFBLK,
            ..FileInfo::default()
        };
        assert!(msg(Seal, Fallocate, libc::EOPNOTSUPP, blk, None)
            .contains("not a regular file (block device)"));
        let chr = FileInfo {
            mode: libc::S_IFCHR,
            ..FileInfo::default()
        };
        assert!(msg(Seal, Fallocate, libc::ENODEV, chr, None)
            .contains("not a regular file (character device)"));
        // ETXTBSY: past the end of a sealed file, or a swap file.
        assert_eq!(
            msg(Seal, Fallocate, libc::ETXTBSY, sealed, Some(1 << 20)),
            "already sealed at a smaller size (8192 bytes); unseal first"
        );
        for (info, req) in [(sealed, None), (sealed, Some(8192)), (f, Some(1 << 20))] {
            assert!(msg(Seal, Fallocate, libc::ETXTBSY, info, req).contains("swap file"));
        }
        assert!(msg(Unseal, Fallocate, libc::ETXTBSY, sealed, None).contains("swap file"));
        assert!(msg(Seal, Open, libc::ETXTBSY, f, None).contains("being executed"));
        // EBUSY means a mapping for unseal only.
        assert_eq!(
            msg(Unseal, Fallocate, libc::EBUSY, sealed, None),
            MSG_MAPPED
        );
        assert_eq!(
            msg(Seal, Fallocate, libc::EBUSY, f, None),
            strerror(libc::EBUSY)
        );
        assert!(msg(Seal, Fallocate, libc::ENOSPC, f, Some(1 << 30)).starts_with("no space left"));
        assert_eq!(
            msg(Unseal, Fallocate, libc::ENOSPC, f, None),
            "No space left on device"
        );
        assert!(msg(Seal, Fallocate, libc::EFBIG, f, Some(1 << 62)).contains("RLIMIT_FSIZE"));
        assert!(msg(Seal, Open, libc::EROFS, f, None).starts_with("read-only filesystem"));
        assert_eq!(
            msg(Unseal, Fallocate, libc::EROFS, f, None),
            "read-only filesystem"
        );
        // Open EPERM: say why when statx showed it.
        let mut imm = f;
        imm.attributes |= STATX_ATTR_IMMUTABLE;
        assert!(msg(Seal, Open, libc::EPERM, imm, None).contains("immutable (chattr +i)"));
        let mut app = f;
        app.attributes |= STATX_ATTR_APPEND;
        assert!(msg(Seal, Open, libc::EPERM, app, None).contains("append-only (chattr +a)"));
        assert!(msg(Seal, Open, libc::EPERM, f, None).contains("not permitted"));
        assert!(msg(Seal, Open, libc::EISDIR, f, None).contains("is a directory"));
        // The rest: strerror's text.
        assert_eq!(
            msg(Seal, Stat, libc::ENOENT, f, None),
            "No such file or directory"
        );
        assert_eq!(msg(Status, Stat, libc::ENOTDIR, f, None), "Not a directory");
        assert_eq!(
            msg(Unseal, Fallocate, libc::EIO, f, None),
            "Input/output error"
        );
        assert_eq!(
            msg(Seal, Fallocate, libc::EINVAL, f, None),
            "Invalid argument"
        );
    }

    #[test]
    fn exit_statuses() {
        assert_eq!(exit_status(&[]), EXIT_OK);
        assert_eq!(exit_status(&[true, true]), EXIT_OK);
        assert_eq!(exit_status(&[true, false, true]), EXIT_FAILED);
        assert_eq!(exit_status(&[false]), EXIT_FAILED);
        let mut out = Vec::new();
        let mut err = Vec::new();
        assert_eq!(main_with(&args(&[]), &mut out, &mut err), EXIT_USAGE);
        assert!(String::from_utf8_lossy(&err).contains("Try 'daxfs --help'."));
        err.clear();
        assert_eq!(main_with(&args(&["seal"]), &mut out, &mut err), EXIT_USAGE);
        assert!(String::from_utf8_lossy(&err).contains("Try 'daxfs seal --help'."));
        assert!(out.is_empty());
        assert_eq!(main_with(&args(&["--help"]), &mut out, &mut err), EXIT_OK);
        assert!(String::from_utf8_lossy(&out).starts_with("NAME\n"));
        out.clear();
        assert_eq!(main_with(&args(&["-V"]), &mut out, &mut err), EXIT_OK);
        assert!(String::from_utf8_lossy(&out).starts_with("daxfs (daxfs-tools) "));
    }

    /// A scratch directory (on the host's filesystem, which does not support sealing).
    fn scratch(name: &str) -> std::path::PathBuf {
        let d =
            std::env::temp_dir().join(format!("daxfs-seal-test-{}-{}", name, std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn main_str(a: &[&str]) -> (i32, String, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let rc = main_with(&args(a), &mut out, &mut err);
        (
            rc,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    #[test]
    fn files_are_processed_in_turn() {
        let d = scratch("turn");
        let a = d.join("a");
        let missing = d.join("missing");
        std::fs::write(&a, b"data").unwrap();
        let (a, missing, ds) = (
            a.to_str().unwrap(),
            missing.to_str().unwrap(),
            d.to_str().unwrap(),
        );
        let (rc, out, err) = main_str(&["status", missing, a, ds]);
        assert_eq!(rc, EXIT_FAILED);
        assert_eq!(
            err,
            format!("daxfs: {}: No such file or directory\n", missing)
        );
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{}", out);
        assert!(
            lines[0].starts_with(&format!("{}: ", a)) && lines[0].contains("(4 bytes, "),
            "{}",
            out
        );
        assert_eq!(lines[1], format!("{}: not a regular file (directory)", ds));
        let (rc, out, err) = main_str(&["status", a]);
        assert_eq!((rc, err.as_str()), (EXIT_OK, ""));
        let supported = !out.contains("not supported");
        // Sealing a directory is refused before the kernel is asked.
        let (rc, _, err) = main_str(&["seal", ds]);
        assert_eq!(rc, EXIT_FAILED);
        assert_eq!(
            err,
            format!(
                "daxfs: {}: not a regular file (directory): only regular files can be sealed\n",
                ds
            )
        );
        let (rc, _, err) = main_str(&["unseal", missing]);
        assert_eq!(rc, EXIT_FAILED);
        assert_eq!(
            err,
            format!("daxfs: {}: No such file or directory\n", missing)
        );
        if !supported {
            // The kernel refuses the modes here (EOPNOTSUPP), also for an empty file.
            let empty = d.join("empty");
            std::fs::write(&empty, b"").unwrap();
            let empty = empty.to_str().unwrap();
            for (c, failures) in [
                (&["seal", a, empty][..], 2),
                (&["unseal", a, empty], 2),
                (&["seal", "-s", "4K", a], 1),
            ] {
                let (rc, out, err) = main_str(c);
                assert_eq!(rc, EXIT_FAILED, "{:?}", c);
                assert!(out.is_empty());
                assert_eq!(err.lines().count(), failures, "{:?}: {}", c, err);
                for l in err.lines() {
                    assert!(
                        l.ends_with(&format!(": {}", MSG_UNSUPPORTED)),
                        "{:?}: {}",
                        c,
                        l
                    );
                }
            }
            assert_eq!(std::fs::read(a).unwrap(), b"data");
        }
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn manual() {
        let full = help(None);
        for s in [
            "NAME",
            "SYNOPSIS",
            "DESCRIPTION",
            "COMMANDS",
            "OPTIONS",
            "EXIT STATUS",
            "ERRORS",
            "NOTES",
        ] {
            assert!(
                full.contains(&format!("\n{}\n", s)) || full.starts_with(s),
                "{}",
                s
            );
        }
        for e in [
            "EPERM",
            "EACCES",
            "EOPNOTSUPP",
            "ETXTBSY",
            "EBUSY",
            "ENOSPC",
            "EFBIG",
            "EROFS",
            "EINVAL",
            "EISDIR",
            "ENOENT",
            "CAP_LINUX_IMMUTABLE",
            "MAP_SHARED",
            "PROT_READ",
            MSG_SEAL_CAP,
        ] {
            assert!(full.contains(e), "{}", e);
        }
        for c in Command::ALL {
            let h = help(Some(c));
            assert!(h.contains(&format!("daxfs {}", c.name())));
            assert!(h.contains("EXIT STATUS") && h.contains("ERRORS"));
            assert_eq!(h.contains("--size"), c == Command::Seal, "{:?}", c);
            assert_eq!(h.contains("EBUSY"), c == Command::Unseal, "{:?}", c);
        }
        for h in [full.clone(), help(Some(Command::Seal))] {
            for l in h.lines() {
                assert!(l.len() <= WIDTH, "too long: {:?}", l);
                assert_eq!(l, l.trim_end(), "trailing space: {:?}", l);
            }
            assert!(!h.contains("\n\n\n"));
        }
    }
}

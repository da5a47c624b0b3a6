// SPDX-License-Identifier: GPL-2.0

//! What daxfs does when it finds corrupted metadata after mount: the `errors=` mount option
//! (ext4's), rate-limited reports, and the error mark in the superblock.
//!
//! Every corruption found after mount (a decoder or a transaction failing with `EUCLEAN`) is
//! reported to [`Errors::report`]: one kernel log line (rate-limited, so that a damaged image
//! cannot flood the log), a count in `/sys/fs/daxfs/<device>/errors`, and a mark that the next
//! clean unmount writes into the superblock's `errors` field (the next mount then says to run
//! `fsck.daxfs`, which clears it). Then, by mount option:
//!
//! - `errors=remount-ro` (the default): nothing is written any more. Every transaction fails
//!   with `EROFS`, and so do `write` and a write fault that would need the filesystem, until
//!   the filesystem is unmounted. As with ext4's `EXT4_FLAGS_EMERGENCY_RO`, the mount is not
//!   flipped to `ro`: that needs `s_umount`, which the paths finding corruption may not take.
//! - `errors=continue`: nothing more.
//! - `errors=panic`: the kernel panics (C's `panic()`, through [`kernel::panic::panic`]; not
//!   Rust's `panic!`, which would only kill the task, with the journal's lock held).

use crate::format;
use kernel::{
    prelude::*,
    ratelimit::RateLimit,
    str::CString,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc,
    },
};

/// The `errors=` mount option.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Policy {
    /// `errors=continue`.
    Continue,
    /// `errors=remount-ro`.
    ReadOnly,
    /// `errors=panic`.
    Panic,
}

impl Policy {
    fn encode(self) -> u32 {
        match self {
            Policy::Continue => 0,
            Policy::ReadOnly => 1,
            Policy::Panic => 2,
        }
    }

    fn decode(v: u32) -> Self {
        match v {
            0 => Policy::Continue,
            2 => Policy::Panic,
            _ => Policy::ReadOnly,
        }
    }

    /// The option's value, as `show_options` prints it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Policy::Continue => "continue",
            Policy::ReadOnly => "remount-ro",
            Policy::Panic => "panic",
        }
    }
}

/// The error state of a mount, shared by the journal and the code that decodes metadata.
#[pin_data]
pub(crate) struct Errors {
    /// The device, for the log lines.
    dev: CString,
    /// [`Policy`], encoded: a remount may change it.
    policy: Atomic<u32>,
    /// Corruptions found since mount.
    count: Atomic<u64>,
    /// Set by the first corruption under `errors=remount-ro`, a memory failure in metadata or
    /// the removal of the device: nothing is written any more.
    stopped: Atomic<bool>,
    /// The data area, `[data_start, data_end)` in bytes of the device, once the superblock is
    /// read (both 0 before): a memory failure outside it is in metadata.
    data_start: Atomic<u64>,
    data_end: Atomic<u64>,
    #[pin]
    limit: RateLimit,
}

impl Errors {
    /// The error state of a new mount of `dev`.
    pub(crate) fn new(dev: &CStr, policy: Policy) -> Result<Arc<Self>> {
        let dev = CString::try_from_fmt(fmt!("{}", dev.to_str().unwrap_or("?")))?;
        Arc::pin_init(
            pin_init!(Errors {
                dev,
                policy: Atomic::new(policy.encode()),
                count: Atomic::new(0),
                stopped: Atomic::new(false),
                data_start: Atomic::new(0),
                data_end: Atomic::new(0),
                limit <- RateLimit::new(),
            }),
            GFP_KERNEL,
        )
    }

    fn dev(&self) -> &str {
        self.dev.to_str().unwrap_or("?")
    }

    /// The current policy.
    pub(crate) fn policy(&self) -> Policy {
        Policy::decode(self.policy.load(Relaxed))
    }

    /// Sets the policy (mount and remount).
    pub(crate) fn set_policy(&self, p: Policy) {
        self.policy.store(p.encode(), Relaxed);
    }

    /// Corruptions found since mount.
    pub(crate) fn count(&self) -> u64 {
        self.count.load(Relaxed)
    }

    /// `EROFS` once an error stopped all writing (`errors=remount-ro`).
    pub(crate) fn check_writable(&self) -> Result {
        if self.stopped.load(Relaxed) {
            Err(EROFS)
        } else {
            Ok(())
        }
    }

    /// Records where the data area is, `[start, end)` in bytes (see [`Errors::media_failure`]).
    pub(crate) fn set_data_area(&self, start: u64, end: u64) {
        self.data_start.store(start, Relaxed);
        self.data_end.store(end, Relaxed);
    }

    /// The memory of `[offset, offset + len)` of the device failed (`pre_remove`: the device
    /// is about to be removed). In the data area, it is a file's data (or a B+tree node or
    /// directory block, which later reads report as corrupt): `EOPNOTSUPP` lets the kernel kill
    /// the processes that map the page. Anywhere else it is metadata: the failure is counted
    /// as an error (the superblock records it at unmount) and nothing is written any more, under
    /// every `errors=` policy but `panic`, which panics; writing on around lost metadata would
    /// spread the damage.
    pub(crate) fn media_failure(&self, offset: u64, len: u64, pre_remove: bool) -> Result {
        if pre_remove {
            if !self.stopped.xchg(true, Relaxed) {
                pr_crit!(
                    "{}: the device is being removed: no further changes are written\n",
                    self.dev()
                );
            }
            return Ok(());
        }
        let (start, end) = (self.data_start.load(Relaxed), self.data_end.load(Relaxed));
        let last = offset.saturating_add(len);
        if start < end && offset >= start && last <= end {
            pr_err!(
                "{}: memory failure at byte {} ({} bytes), in the data area: the processes mapping it are killed\n",
                self.dev(),
                offset,
                len
            );
            return Err(EOPNOTSUPP);
        }
        self.count.add(1, Relaxed);
        pr_crit!(
            "{}: memory failure at byte {} ({} bytes), in metadata: no further changes are written until unmount; run fsck.daxfs\n",
            self.dev(),
            offset,
            len
        );
        if self.policy() == Policy::Panic {
            kernel::panic::panic(fmt!(
                "daxfs: {}: errors=panic: memory failure in metadata",
                self.dev()
            ))
        }
        self.stopped.store(true, Relaxed);
        Ok(())
    }

    /// Turns a format error met on inode `ino` (0: no inode in particular) into its errno and,
    /// if it is a corruption, reports it and applies the policy. Takes no lock but the rate
    /// limit's, so it may be called anywhere, the journal's lock and inode locks held.
    pub(crate) fn report(&self, ino: u64, e: format::Error) -> Error {
        let errno = Error::from_errno(-e.errno());
        if !e.is_corruption() {
            return errno;
        }
        self.count.add(1, Relaxed);
        if self.limit.allow(c"daxfs") {
            if ino != 0 {
                pr_err!("{}: corrupted metadata, inode {}: {}\n", self.dev(), ino, e);
            } else {
                pr_err!("{}: corrupted metadata: {}\n", self.dev(), e);
            }
        }
        match self.policy() {
            Policy::Continue => {}
            Policy::ReadOnly => {
                if !self.stopped.xchg(true, Relaxed) {
                    pr_crit!(
                        "{}: errors=remount-ro: no further changes are written until unmount; run fsck.daxfs\n",
                        self.dev()
                    );
                }
            }
            Policy::Panic => {
                kernel::panic::panic(fmt!("daxfs: {}: errors=panic: {}", self.dev(), e))
            }
        }
        errno
    }
}

/// `r`, with `EROFS` taken as success: for the paths that log each failed write (attribute
/// writeback, eviction, trimming at release), which after `errors=remount-ro` stopped writing
/// (announced once, by [`Errors::report`]) would log one line per inode.
pub(crate) fn quiet_when_stopped(r: Result) -> Result {
    match r {
        Err(e) if e == EROFS => Ok(()),
        r => r,
    }
}

/// Hears of the memory failures of a mounted device ([`kernel::fs::dax::FailureHandler`]) and
/// hands them to its [`Errors`].
pub(crate) struct MediaFailures(pub(crate) Arc<Errors>);

impl kernel::fs::dax::FailureHandler for MediaFailures {
    fn notify_failure(&self, offset: u64, len: u64, pre_remove: bool) -> Result {
        self.0.media_failure(offset, len, pre_remove)
    }
}

// SPDX-License-Identifier: GPL-2.0

//! Per-mount counters and two fault-injection knobs, shown in `/sys/fs/daxfs/<device>/`, one
//! value per file (`docs/design.md`, "Counters").
//!
//! The counters say what the filesystem did, so that tests can assert it: a write fault on a
//! sealed file must neither allocate nor commit anything. The knobs (writable by root, like
//! ext4's `trigger_fs_error`) let tests put a crash at a chosen transaction boundary and widen
//! the window of an unseal.

use crate::errors::Errors;
use kernel::{
    fs::sysfs::{self, File},
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc,
    },
};

/// What a mount counts. Shared by the journal (commits) and the file code (faults).
pub(crate) struct Stats {
    write_faults: Atomic<u64>,
    write_faults_sealed: Atomic<u64>,
    write_faults_alloc: Atomic<u64>,
    fault_commits: Atomic<u64>,
    commits: Atomic<u64>,
    node_cache_hits: Atomic<u64>,
    node_cache_misses: Atomic<u64>,
    /// Debug: milliseconds unsealing waits between denying writable mappings and committing.
    unseal_delay_ms: Atomic<u64>,
    /// Debug: the how-many-th commit from now fails and shuts the journal down (0: none).
    fail_commit: Atomic<u64>,
}

impl Stats {
    /// Zeroed counters.
    pub(crate) fn new() -> Result<Arc<Self>> {
        Ok(Arc::new(
            Stats {
                write_faults: Atomic::new(0),
                write_faults_sealed: Atomic::new(0),
                write_faults_alloc: Atomic::new(0),
                fault_commits: Atomic::new(0),
                commits: Atomic::new(0),
                node_cache_hits: Atomic::new(0),
                node_cache_misses: Atomic::new(0),
                unseal_delay_ms: Atomic::new(0),
                fail_commit: Atomic::new(0),
            },
            GFP_KERNEL,
        )?)
    }

    /// A write fault reached the filesystem (`iomap_begin` for a write fault); `sealed` if the
    /// file was sealed.
    pub(crate) fn write_fault(&self, sealed: bool) {
        self.write_faults.add(1, Relaxed);
        if sealed {
            self.write_faults_sealed.add(1, Relaxed);
        }
    }

    /// A write fault allocated or converted blocks, in one committed transaction.
    pub(crate) fn fault_alloc(&self) {
        self.write_faults_alloc.add(1, Relaxed);
        self.fault_commits.add(1, Relaxed);
    }

    /// A transaction committed.
    pub(crate) fn commit(&self) {
        self.commits.add(1, Relaxed);
    }

    /// A B+tree walk read a node: from the node cache (`hit`) or from persistent memory.
    pub(crate) fn node_read(&self, hit: bool) {
        if hit {
            self.node_cache_hits.add(1, Relaxed);
        } else {
            self.node_cache_misses.add(1, Relaxed);
        }
    }

    /// Whether the commit about to be made must fail as if the machine had crashed before it
    /// (`debug_fail_commit`): counts the knob down and returns true when it reaches the commit
    /// it names.
    pub(crate) fn fail_this_commit(&self) -> bool {
        loop {
            let n = self.fail_commit.load(Relaxed);
            if n == 0 {
                return false;
            }
            if self.fail_commit.cmpxchg(n, n - 1, Relaxed).is_ok() {
                return n == 1;
            }
        }
    }

    /// The window of an unseal between denying writable shared mappings and committing the
    /// cleared flag, widened by `debug_unseal_delay_ms` for race tests.
    pub(crate) fn unseal_window(&self) {
        let ms = self.unseal_delay_ms.load(Relaxed).min(60_000);
        if ms > 0 {
            kernel::time::delay::fsleep(kernel::time::Delta::from_millis(ms as i64));
        }
    }
}

/// The files of `/sys/fs/daxfs/<device>/`.
pub(crate) struct Files(pub(crate) Arc<Stats>, pub(crate) Arc<Errors>);

const ALL: [File; 10] = [
    File {
        name: c"write_faults",
        writable: false,
    },
    File {
        name: c"write_faults_sealed",
        writable: false,
    },
    File {
        name: c"write_faults_alloc",
        writable: false,
    },
    File {
        name: c"fault_commits",
        writable: false,
    },
    File {
        name: c"commits",
        writable: false,
    },
    File {
        name: c"debug_unseal_delay_ms",
        writable: true,
    },
    File {
        name: c"debug_fail_commit",
        writable: true,
    },
    File {
        name: c"errors",
        writable: false,
    },
    File {
        name: c"node_cache_hits",
        writable: false,
    },
    File {
        name: c"node_cache_misses",
        writable: false,
    },
];

impl sysfs::Values for Files {
    const FILES: &'static [File] = &ALL;

    fn show(&self, index: usize) -> u64 {
        let s = &self.0;
        match index {
            0 => s.write_faults.load(Relaxed),
            1 => s.write_faults_sealed.load(Relaxed),
            2 => s.write_faults_alloc.load(Relaxed),
            3 => s.fault_commits.load(Relaxed),
            4 => s.commits.load(Relaxed),
            5 => s.unseal_delay_ms.load(Relaxed),
            6 => s.fail_commit.load(Relaxed),
            7 => self.1.count(),
            8 => s.node_cache_hits.load(Relaxed),
            9 => s.node_cache_misses.load(Relaxed),
            _ => 0,
        }
    }

    fn store(&self, index: usize, value: u64) -> Result {
        match index {
            5 => self.0.unseal_delay_ms.store(value, Relaxed),
            6 => self.0.fail_commit.store(value, Relaxed),
            _ => return Err(EACCES),
        }
        Ok(())
    }
}

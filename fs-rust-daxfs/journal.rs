// SPDX-License-Identifier: GPL-2.0

//! Transactions: every metadata change of a mounted filesystem goes through [`Journal::run`].
//!
//! The transaction logic itself (overlay of touched blocks, allocator, redo log, commit
//! protocol, recovery) is the shared format's `txn` module, also used and tested by the
//! userspace tools; this file owns the buffers it works in and serialises transactions with a
//! mutex. A transaction is committed before [`Journal::run`] returns: when an operation
//! returns, its metadata is durable, which is what `fsync` relies on.
//!
//! Callers follow one pattern: inside the transaction, copy the in-core inodes they change and
//! change the copies; after the commit, still under the journal lock, install the copies. A
//! failed transaction writes nothing outside the log and changes no in-core state.

use crate::{
    errors::Errors,
    format::{
        self,
        btree::Scratch,
        txn::{txn_staging_size, Cursors, JournalCursor, Txn, TxnSpace, TXN_MAX_BLOCKS},
        Superblock, BLOCK_SIZE,
    },
    pmem::{Pmem, PmemMedium},
    stats::Stats,
};
use kernel::{
    new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
};

/// The transaction of a mounted filesystem, as the closures of [`Journal::run`] see it.
pub(crate) type DTxn<'a, 'b> = Txn<'a, PmemMedium<'b>>;

struct State {
    /// The superblock as of the last committed transaction.
    sb: Superblock,
    /// `None` when the journal holds a transaction that was not recovered (`norecovery`):
    /// nothing may be written.
    jc: Option<JournalCursor>,
    cursors: Cursors,
    blks: KVec<u64>,
    data: KVVec<u8>,
    orig: KVVec<u8>,
    staging: KVVec<u8>,
    scratch: KBox<Scratch>,
    /// Set when a commit failed after its commit point: the in-core state can no longer be
    /// trusted, every later change fails with `EIO` (recovery at the next mount redoes it).
    broken: bool,
}

/// The journal of a mounted filesystem.
#[pin_data]
pub(crate) struct Journal {
    #[pin]
    state: Mutex<State>,
    stats: Arc<Stats>,
    errors: Arc<Errors>,
}

fn zeroed_vec(n: usize) -> Result<KVVec<u8>> {
    let mut v = KVVec::new();
    v.extend_with(n, 0, GFP_KERNEL)?;
    Ok(v)
}

impl Journal {
    /// A journal whose next transaction goes where `jc` says (`None`: no transaction may be
    /// written), on a filesystem whose superblock is `sb`; allocates the transaction buffers
    /// (about 800 KiB).
    pub(crate) fn new(
        sb: Superblock,
        jc: Option<JournalCursor>,
        stats: Arc<Stats>,
        errors: Arc<Errors>,
    ) -> Result<impl PinInit<Self, Error>> {
        let mut blks = KVec::new();
        blks.extend_with(TXN_MAX_BLOCKS, 0, GFP_KERNEL)?;
        let state = State {
            sb,
            jc,
            cursors: Cursors::default(),
            blks,
            data: zeroed_vec(TXN_MAX_BLOCKS * BLOCK_SIZE)?,
            orig: zeroed_vec(TXN_MAX_BLOCKS * BLOCK_SIZE)?,
            staging: zeroed_vec(txn_staging_size(TXN_MAX_BLOCKS))?,
            scratch: KBox::new(Scratch::new(), GFP_KERNEL)?,
            broken: false,
        };
        Ok(try_pin_init!(Journal {
            state <- new_mutex!(state),
            stats,
            errors,
        }))
    }

    /// The superblock as of the last committed transaction (free counts, orphan list head).
    pub(crate) fn sb(&self) -> Superblock {
        self.state.lock().sb
    }

    /// Runs `f` in a new transaction and commits it, then runs `done` with `f`'s result, still
    /// under the journal lock. Nothing is written if `f` fails. Errors of the shared format
    /// become errnos (`ENOSPC`, `ETXTBSY`, `EUCLEAN`...).
    ///
    /// `f` copies the in-core inodes it changes (transactions are serialised, so the copies are
    /// current) and `done` installs them: no other transaction can come in between and work
    /// from stale copies. `done` must not sleep on anything that may wait for a transaction.
    ///
    /// A corruption `f` finds is reported ([`Errors::report`]); once one has stopped writing
    /// (`errors=remount-ro`), every transaction fails with `EROFS`.
    pub(crate) fn run<R, U>(
        &self,
        pmem: &Pmem,
        f: impl FnOnce(&mut DTxn<'_, '_>, &mut Scratch) -> format::Result<R>,
        done: impl FnOnce(R) -> U,
    ) -> Result<U> {
        self.errors.check_writable()?;
        self.run_last(pmem, f, done)
    }

    /// [`Journal::run`], also after `errors=remount-ro` stopped writing: for the transaction
    /// that marks the superblock clean, and records the errors, at unmount.
    pub(crate) fn run_last<R, U>(
        &self,
        pmem: &Pmem,
        f: impl FnOnce(&mut DTxn<'_, '_>, &mut Scratch) -> format::Result<R>,
        done: impl FnOnce(R) -> U,
    ) -> Result<U> {
        let mut guard = self.state.lock();
        let st = &mut *guard;
        if st.broken {
            return Err(EIO);
        }
        let Some(jc) = st.jc.as_mut() else {
            return Err(EROFS);
        };
        let mut medium = PmemMedium(pmem);
        let space = TxnSpace {
            blks: &mut st.blks,
            data: &mut st.data,
            orig: &mut st.orig,
            staging: &mut st.staging,
        };
        let mut t = Txn::new(&mut medium, &st.sb, space, &mut st.cursors);
        let r = f(&mut t, &mut st.scratch).map_err(|e| self.errors.report(0, e))?;
        if self.stats.fail_this_commit() {
            st.broken = true;
            pr_warn!(
                "debug_fail_commit: commit refused; the journal is shut down until unmounted\n"
            );
            return Err(EIO);
        }
        match t.commit(jc) {
            Ok(sb) => {
                st.sb = sb;
                self.stats.commit();
                Ok(done(r))
            }
            Err(format::Error::Io) => {
                st.broken = true;
                pr_err!("transaction commit failed: I/O error; every change fails with EIO until unmounted\n");
                Err(EIO)
            }
            Err(e) => Err(self.errors.report(0, e)),
        }
    }
}

// SPDX-License-Identifier: GPL-2.0

//! The persistent memory access layer.
//!
//! Every byte daxfs reads from the medium goes through [`Pmem`], which wraps the DAX device of
//! the mounted block device ([`kernel::fs::dax::DaxDevice`]): accesses are bounds-checked against
//! the filesystem size and copied out of persistent memory (never referenced in place), so a
//! corrupted image can make a decoder fail but never make the kernel read outside the device.
//! File data is only ever zeroed inside the data area ([`Pmem::zero`], [`Pmem::zero_blocks`]):
//! whatever a damaged extent says, zeroing cannot reach the superblock, the journal, the
//! bitmaps, the group table or the inode table.
//! [`NodeStore`] adapts it to the B+tree code of the shared format for lookups, and
//! [`PmemMedium`] to the transaction code for changes.
//!
//! B+tree nodes are read through a DRAM cache ([`NodeCache`]) once the filesystem is mounted:
//! a tree walk copies a cached node from DRAM and does not compute its checksum again. Every
//! write of this layer ([`Pmem::write`], [`Pmem::store_u64`], [`Pmem::zero`],
//! [`Pmem::zero_blocks`]) drops the blocks it wrote from the cache after writing them, and so
//! does every free of blocks ([`Medium::forget`]), so a cached node is always the medium's
//! current contents. File data written through DAX never reaches a cached block: a block is a
//! node or file data, and a node block is dropped when it is freed.

use crate::format::{
    btree::{NodeStore, Scratch},
    cache::{cache_slots, Lookup, NodeCache as CacheSlots},
    txn::Medium,
    Block, Error as FmtError, Layout, Result as FmtResult, BLOCK_SIZE, BLOCK_SIZE_U64,
};
use crate::stats::Stats;
use kernel::{
    alloc::KVVec,
    fs::dax::{self, DaxDevice},
    new_mutex, new_spinlock,
    prelude::*,
    sync::{Arc, Mutex, SpinLock},
};

/// The DRAM cache of B+tree nodes whose checksum was verified (the logic is the shared
/// format's [`CacheSlots`]): [`cache_slots`] slots of 4 KiB, at most 16 MiB per mount,
/// allocated at mount.
#[pin_data]
pub(crate) struct NodeCache {
    #[pin]
    slots: SpinLock<CacheSlots<KVVec<u64>, KVVec<u8>>>,
    stats: Arc<Stats>,
}

impl NodeCache {
    /// An empty cache for a filesystem of `blocks` blocks whose checksums use `seed`.
    pub(crate) fn new(blocks: u64, seed: u32, stats: Arc<Stats>) -> Result<Pin<KBox<Self>>> {
        let n = cache_slots(blocks);
        let mut tags = KVVec::new();
        tags.extend_with(n, 0u64, GFP_KERNEL)?;
        let mut gens = KVVec::new();
        gens.extend_with(n, 0u64, GFP_KERNEL)?;
        let mut data = KVVec::new();
        data.extend_with(n * BLOCK_SIZE, 0u8, GFP_KERNEL)?;
        let slots = CacheSlots::new(tags, gens, data, seed).ok_or(EINVAL)?;
        KBox::pin_init(
            pin_init!(NodeCache {
                slots <- new_spinlock!(slots),
                stats,
            }),
            GFP_KERNEL,
        )
    }
}

/// Access to the filesystem's persistent memory.
pub(crate) struct Pmem {
    dax: DaxDevice,
    /// Bytes of the device that belong to the filesystem.
    size: u64,
    /// Byte offsets of the data area, the only bytes that may be zeroed as file data.
    data_start: u64,
    data_end: u64,
    /// The node cache, from [`Pmem::enable_cache`] on.
    cache: Option<Pin<KBox<NodeCache>>>,
}

impl Pmem {
    /// Wraps `dax`, limiting accesses to the whole device, and zeroing to nothing, until
    /// [`Pmem::limit`] is called.
    pub(crate) fn new(dax: DaxDevice) -> Self {
        let size = dax.size();
        Self {
            dax,
            size,
            data_start: 0,
            data_end: 0,
            cache: None,
        }
    }

    /// Reads B+tree nodes through `cache` from now on (after recovery: nothing may write the
    /// medium behind the cache's back).
    pub(crate) fn enable_cache(&mut self, cache: Pin<KBox<NodeCache>>) {
        self.cache = Some(cache);
    }

    /// Copies node block `blk` into `buf`: from the cache, or from the medium and then into
    /// the cache if its checksum is valid. `Ok(true)` if `buf` carries a valid node checksum
    /// (what [`NodeStore::read_node`] promises).
    pub(crate) fn read_node(&self, blk: u64, buf: &mut Block) -> Result<bool> {
        let Some(c) = &self.cache else {
            self.read_block(blk, buf)?;
            return Ok(false);
        };
        let got = c.slots.lock().get(blk, buf);
        let gen = match got {
            Lookup::Hit => {
                c.stats.node_read(true);
                return Ok(true);
            }
            Lookup::Miss(gen) => gen,
        };
        c.stats.node_read(false);
        self.read_block(blk, buf)?;
        Ok(c.slots.lock().insert(blk, gen, buf))
    }

    /// Drops blocks `blk..blk + len` from the node cache.
    pub(crate) fn forget(&self, blk: u64, len: u64) {
        if let Some(c) = &self.cache {
            c.slots.lock().forget(blk, len);
        }
    }

    /// Drops the blocks of bytes `[off, off + len)` from the node cache, after they were
    /// written.
    fn forget_bytes(&self, off: u64, len: u64) {
        let first = off / BLOCK_SIZE_U64;
        let end = off.saturating_add(len).div_ceil(BLOCK_SIZE_U64);
        self.forget(first, end.saturating_sub(first).max(1));
    }

    /// Limits accesses to the first `size` bytes (the filesystem), which must fit in the
    /// device, and zeroing to the data area, bytes `data_start..data_end`.
    pub(crate) fn limit(&mut self, size: u64, data_start: u64, data_end: u64) -> Result {
        if size > self.dax.size() || data_start > data_end || data_end > size {
            return Err(EINVAL);
        }
        self.size = size;
        self.data_start = data_start;
        self.data_end = data_end;
        Ok(())
    }

    /// `EUCLEAN` unless `[off, off + len)` lies in the data area.
    fn check_data(&self, off: u64, len: u64) -> Result {
        match off.checked_add(len) {
            Some(end) if off >= self.data_start && end <= self.data_end => Ok(()),
            _ => Err(EUCLEAN),
        }
    }

    /// The DAX device, for iomap.
    pub(crate) fn dax(&self) -> &DaxDevice {
        &self.dax
    }

    /// Size of the device in bytes.
    pub(crate) fn device_size(&self) -> u64 {
        self.dax.size()
    }

    /// Copies `buf.len()` bytes at byte offset `off` into `buf`.
    pub(crate) fn read(&self, off: u64, buf: &mut [u8]) -> Result {
        let end = off.checked_add(buf.len() as u64).ok_or(ERANGE)?;
        if end > self.size {
            return Err(ERANGE);
        }
        self.dax.read(off, buf)
    }

    /// Writes `data` at byte offset `off` and writes the CPU cache lines back; durable after
    /// [`dax::fence`].
    pub(crate) fn write(&self, off: u64, data: &[u8]) -> Result {
        let end = off.checked_add(data.len() as u64).ok_or(ERANGE)?;
        if end > self.size {
            return Err(ERANGE);
        }
        if data.is_empty() {
            return Ok(());
        }
        let r = self.dax.map(off, data.len()).and_then(|m| {
            m.write(0, data)?;
            m.flush(0, data.len())
        });
        self.forget_bytes(off, data.len() as u64);
        r
    }

    /// Fills `len` bytes of file data at byte offset `off` with zeros; durable after
    /// [`dax::fence`]. `EUCLEAN` outside the data area.
    pub(crate) fn zero(&self, off: u64, len: usize) -> Result {
        self.check_data(off, len as u64)?;
        if len == 0 {
            return Ok(());
        }
        let r = self.dax.map(off, len).and_then(|m| m.zero(0, len));
        self.forget_bytes(off, len as u64);
        r
    }

    /// Zeroes `len` whole blocks of file data from block `blk` (clearing known media errors);
    /// durable on return. `EUCLEAN` outside the data area.
    pub(crate) fn zero_blocks(&self, blk: u64, len: u64) -> Result {
        let off = blk.checked_mul(BLOCK_SIZE_U64).ok_or(EUCLEAN)?;
        let bytes = len.checked_mul(BLOCK_SIZE_U64).ok_or(EUCLEAN)?;
        self.check_data(off, bytes)?;
        let r = self.dax.zero_pages(off, bytes);
        self.forget(blk, len);
        r
    }

    /// Stores `v` at the 8-byte aligned byte offset `off` with one atomic store; durable after
    /// [`dax::fence`].
    pub(crate) fn store_u64(&self, off: u64, v: u64) -> Result {
        let end = off.checked_add(8).ok_or(ERANGE)?;
        if end > self.size {
            return Err(ERANGE);
        }
        let r = self.dax.map(off, 8).and_then(|m| m.write_u64(0, v));
        self.forget_bytes(off, 8);
        r
    }

    /// Copies block `blk` into `buf`.
    pub(crate) fn read_block(&self, blk: u64, buf: &mut Block) -> Result {
        let off = blk.checked_mul(BLOCK_SIZE_U64).ok_or(ERANGE)?;
        self.read(off, buf)
    }
}

/// The device as the shared transaction code sees it ([`Medium`]): every write is flushed as
/// it is made, and [`Medium::fence`] is the store fence that makes the flushed data durable.
pub(crate) struct PmemMedium<'a>(pub(crate) &'a Pmem);

impl Medium for PmemMedium<'_> {
    fn read(&mut self, off: u64, buf: &mut [u8]) -> FmtResult<()> {
        self.0.read(off, buf).map_err(|_| FmtError::Io)
    }

    fn write(&mut self, off: u64, data: &[u8]) -> FmtResult<()> {
        self.0.write(off, data).map_err(|_| FmtError::Io)
    }

    fn store_u64(&mut self, off: u64, v: u64) -> FmtResult<()> {
        self.0.store_u64(off, v).map_err(|_| FmtError::Io)
    }

    fn fence(&mut self) {
        dax::fence();
    }

    fn read_node(&mut self, blk: u64, buf: &mut Block) -> FmtResult<bool> {
        self.0.read_node(blk, buf).map_err(|_| FmtError::Io)
    }

    fn forget(&mut self, blk: u64, len: u64) {
        self.0.forget(blk, len);
    }
}

/// The read-only B+tree node store used by lookups, `readdir` and block mapping: nodes are
/// read from the data area of persistent memory. Changes go through transactions
/// ([`crate::journal`]), never through this store.
pub(crate) struct Store<'a> {
    pub(crate) pmem: &'a Pmem,
    pub(crate) layout: &'a Layout,
}

impl NodeStore for Store<'_> {
    fn read(&mut self, blk: u64, buf: &mut Block) -> FmtResult<()> {
        if !self.layout.in_data(blk, 1) {
            return Err(FmtError::OutOfRange("node block"));
        }
        self.pmem.read_block(blk, buf).map_err(|_| FmtError::Io)
    }

    fn read_node(&mut self, blk: u64, buf: &mut Block) -> FmtResult<bool> {
        if !self.layout.in_data(blk, 1) {
            return Err(FmtError::OutOfRange("node block"));
        }
        self.pmem.read_node(blk, buf).map_err(|_| FmtError::Io)
    }

    fn write(&mut self, _blk: u64, _buf: &Block) -> FmtResult<()> {
        Err(FmtError::Io)
    }

    fn alloc(&mut self) -> FmtResult<u64> {
        Err(FmtError::NoSpace)
    }

    fn free(&mut self, _blk: u64) -> FmtResult<()> {
        Err(FmtError::Io)
    }
}

/// How many sets of node buffers [`ScratchPool`] keeps: enough for the lookups, `readdir`s and
/// block-map walks that run at once on a small machine, each 12 KiB.
const SCRATCH_POOL_SIZE: usize = 8;

/// A cache of B+tree node buffers (12 KiB a set, too large for the stack), so that lookups,
/// `readdir` and block mapping do not allocate on every call, also when several run at once.
#[pin_data]
pub(crate) struct ScratchPool {
    /// At most [`SCRATCH_POOL_SIZE`] sets, capacity reserved at creation.
    #[pin]
    cache: Mutex<KVec<KBox<Scratch>>>,
}

impl ScratchPool {
    /// An empty pool.
    pub(crate) fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(ScratchPool {
            cache <- new_mutex!(KVec::with_capacity(SCRATCH_POOL_SIZE, GFP_KERNEL)?),
        })
    }

    /// Runs `f` with node buffers: cached ones, or new ones if every cached set is in use.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut Scratch) -> R) -> Result<R> {
        let cached = self.cache.lock().pop();
        let mut s = match cached {
            Some(s) => s,
            None => KBox::new(Scratch::new(), GFP_KERNEL)?,
        };
        let r = f(&mut s);
        // A full pool drops the set (`push_within_capacity` never allocates).
        let _ = self.cache.lock().push_within_capacity(s);
        Ok(r)
    }
}

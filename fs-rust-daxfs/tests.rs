// SPDX-License-Identifier: GPL-2.0

//! KUnit tests of the parts of daxfs that run without a device: the on-disk format as the
//! kernel compiles it, the conversions between it and the VFS, and the transaction code (commit
//! and crash recovery) on a RAM image.

#[kernel::macros::kunit_tests(daxfs)]
mod daxfs_kunit {
    use crate::format::{
        btree::Scratch,
        dir::{name_key_base, DirEntry, COOKIE_EOF, COOKIE_MIN, DT_REG},
        inode::{Inode, Timespec, S_IFREG},
        journal::{JournalHeader, JH_OFF_COMMIT},
        ops::{
            op_alloc, op_seal_begin, op_seal_end, op_seal_extents, op_seal_inode, op_unseal_begin,
        },
        superblock::{default_inode_count, default_journal_blocks, Layout, Superblock, SB_SIZE},
        txn::{recover, txn_staging_size, Cursors, Medium, Txn, TxnSpace, TXN_MAX_BLOCKS},
        Error, Result as FmtResult, BLOCK_SIZE, BLOCK_SIZE_U64,
    };
    use kernel::{fs::inode::new_decode_dev, prelude::*};

    fn sample_sb() -> Superblock {
        let layout = Layout::compute(262_144, 16_384, 512).unwrap_or_default();
        Superblock::new(layout, [7; 16], [9; 16], 1_700_000_000)
    }

    #[test]
    fn superblock_roundtrip() {
        let sb = sample_sb();
        let mut raw = [0u8; SB_SIZE];
        sb.encode(&mut raw);
        assert_eq!(Superblock::decode(&raw), Ok(sb));
    }

    #[test]
    fn superblock_corruption_is_detected() {
        let sb = sample_sb();
        let mut raw = [0u8; SB_SIZE];
        sb.encode(&mut raw);
        let mut bad = raw;
        bad[0x30] ^= 1;
        assert_eq!(
            Superblock::decode(&bad),
            Err(Error::BadChecksum("superblock"))
        );
        let mut bad = raw;
        bad[0] ^= 0xff;
        assert!(matches!(Superblock::decode(&bad), Err(Error::BadMagic(_))));
        assert_eq!(Superblock::decode(&raw[..100]), Err(Error::Truncated));
    }

    #[test]
    fn inode_checksum_binds_the_number() {
        let sb = sample_sb();
        let seed = sb.ctx().csum_seed;
        let i = Inode::new(S_IFREG | 0o644, 1000, 1000, Timespec { sec: 5, nsec: 6 });
        let mut raw = [0u8; 256];
        i.encode(42, seed, &mut raw);
        assert_eq!(Inode::decode(&raw, 42, seed), Ok(Some(i)));
        // The same record read as another inode number must not validate.
        assert_eq!(
            Inode::decode(&raw, 43, seed),
            Err(Error::BadChecksum("inode"))
        );
        assert_eq!(Inode::decode(&[0u8; 256], 42, seed), Ok(None));
    }

    #[test]
    fn dirent_keys_are_readdir_cookies() {
        let key = name_key_base(&[3; 16], b"hello");
        assert!(key >= COOKIE_MIN && key + 255 < COOKIE_EOF);
        let e = DirEntry::new(b"hello", 12, DT_REG);
        assert!(e.is_ok());
        if let Ok(e) = e {
            assert_eq!(DirEntry::decode(&e.encode()), Ok(e));
        }
        assert_eq!(DirEntry::new(b"..", 12, DT_REG), Err(Error::InvalidName));
    }

    #[test]
    fn allocation_ahead_of_appends() {
        use crate::ahead::ahead_blocks;
        let plenty = 1 << 30;
        // Nothing for a file under 16 blocks (64 KiB), then as many as the file has, at most
        // 256, less what the write needs itself.
        assert_eq!(ahead_blocks(0, 1, plenty), 0);
        assert_eq!(ahead_blocks(15, 1, plenty), 0);
        assert_eq!(ahead_blocks(16, 1, plenty), 15);
        assert_eq!(ahead_blocks(40, 1, plenty), 39);
        assert_eq!(ahead_blocks(1000, 1, plenty), 23);
        assert_eq!(ahead_blocks(1000, 200, plenty), 56);
        // At most, the allocation ends at a 2 MiB boundary of the file when it crosses one
        // (10_240 = 20 * 512), so that the next one starts a chunk.
        assert_eq!(ahead_blocks(10_000, 1, plenty), 239);
        assert_eq!(ahead_blocks(10_000, 200, plenty), 40);
        assert_eq!(ahead_blocks(10_240, 1, plenty), 255);
        assert_eq!(ahead_blocks(891, 1, plenty), 132);
        // A write as large as the amount gets nothing more.
        assert_eq!(ahead_blocks(16, 16, plenty), 0);
        assert_eq!(ahead_blocks(10_000, 256, plenty), 0);
        // Nothing ahead when free space is under 64 times the amount.
        assert_eq!(ahead_blocks(16, 1, 64 * 16 - 1), 0);
        assert_eq!(ahead_blocks(16, 1, 64 * 16), 15);
        assert_eq!(ahead_blocks(10_000, 1, 64 * 256 - 1), 0);
    }

    #[test]
    fn device_numbers() {
        // new_encode_dev(MKDEV(8, 1)) == 0x801; MKDEV(8, 1) == (8 << 20) | 1.
        assert_eq!(new_decode_dev(0x801), (8 << 20) | 1);
        // A large minor: MKDEV(259, 70000) encodes as 0x11170 | (259 << 8)...
        let (major, minor) = (259u32, 70_000u32);
        let enc = (minor & 0xff) | (major << 8) | ((minor & !0xff) << 12);
        assert_eq!(new_decode_dev(enc), (major << 20) | minor);
    }

    /// A RAM "device" for the transaction code. With `crash_at_commit`, every write after the
    /// commit word is lost, as if the power failed right after the commit point.
    struct Ram {
        m: KVVec<u8>,
        commit_off: u64,
        crash_at_commit: bool,
        frozen: bool,
    }

    impl Medium for Ram {
        fn read(&mut self, off: u64, buf: &mut [u8]) -> FmtResult<()> {
            let o = usize::try_from(off).map_err(|_| Error::Io)?;
            let src = self.m.get(o..o + buf.len()).ok_or(Error::Io)?;
            buf.copy_from_slice(src);
            Ok(())
        }

        fn write(&mut self, off: u64, data: &[u8]) -> FmtResult<()> {
            if self.frozen {
                return Ok(());
            }
            let o = usize::try_from(off).map_err(|_| Error::Io)?;
            let dst = self.m.get_mut(o..o + data.len()).ok_or(Error::Io)?;
            dst.copy_from_slice(data);
            Ok(())
        }

        fn store_u64(&mut self, off: u64, v: u64) -> FmtResult<()> {
            self.write(off, &v.to_le_bytes())?;
            if off == self.commit_off && self.crash_at_commit {
                self.frozen = true;
            }
            Ok(())
        }

        fn fence(&mut self) {}
    }

    /// An 8 MiB filesystem image in RAM: superblock and journal header; the bitmaps are zero
    /// (slot 0 of the inode bitmap aside), which is all the allocator needs.
    fn ram_image(crash_at_commit: bool) -> Option<(Ram, Superblock)> {
        let blocks = 2048;
        let layout = Layout::compute(
            blocks,
            default_inode_count(blocks),
            default_journal_blocks(blocks),
        )
        .ok()?;
        let sb = Superblock::new(layout, [1; 16], [2; 16], 1_700_000_000);
        let mut m = KVVec::new();
        m.extend_with(blocks as usize * BLOCK_SIZE, 0u8, GFP_KERNEL)
            .ok()?;
        let mut raw = [0u8; SB_SIZE];
        sb.encode(&mut raw);
        m.get_mut(..SB_SIZE)?.copy_from_slice(&raw);
        let jh = (layout.journal_start * BLOCK_SIZE_U64) as usize;
        JournalHeader::new(&layout).encode(m.get_mut(jh..jh + BLOCK_SIZE)?);
        let ib = (layout.inode_bitmap_start * BLOCK_SIZE_U64) as usize;
        *m.get_mut(ib)? = 1;
        Some((
            Ram {
                m,
                commit_off: jh as u64 + JH_OFF_COMMIT as u64,
                crash_at_commit,
                frozen: false,
            },
            sb,
        ))
    }

    /// Runs one transaction allocating `n` blocks; returns the committed superblock.
    fn alloc_txn(ram: &mut Ram, sb: &Superblock, n: u64) -> Option<Superblock> {
        run_txn(ram, sb, |t| {
            let (_, len) = t.alloc_blocks(0, n)?;
            assert_eq!(len, n);
            Ok(())
        })
    }

    /// Runs `f` in one transaction on `ram` and commits it; returns the committed superblock
    /// (`None` if `f` or the commit failed).
    fn run_txn(
        ram: &mut Ram,
        sb: &Superblock,
        f: impl FnOnce(&mut Txn<'_, Ram>) -> FmtResult<()>,
    ) -> Option<Superblock> {
        let mut staging = KVVec::new();
        staging
            .extend_with(txn_staging_size(TXN_MAX_BLOCKS), 0u8, GFP_KERNEL)
            .ok()?;
        let (mut jc, replayed) = recover(ram, sb, &mut staging).ok()?;
        assert!(!replayed);
        let mut blks = KVec::new();
        blks.extend_with(TXN_MAX_BLOCKS, 0u64, GFP_KERNEL).ok()?;
        let mut data = KVVec::new();
        data.extend_with(TXN_MAX_BLOCKS * BLOCK_SIZE, 0u8, GFP_KERNEL)
            .ok()?;
        let mut orig = KVVec::new();
        orig.extend_with(TXN_MAX_BLOCKS * BLOCK_SIZE, 0u8, GFP_KERNEL)
            .ok()?;
        let mut cursors = Cursors::default();
        let space = TxnSpace {
            blks: &mut blks,
            data: &mut data,
            orig: &mut orig,
            staging: &mut staging,
        };
        let mut t = Txn::new(ram, sb, space, &mut cursors);
        f(&mut t).ok()?;
        t.commit(&mut jc).ok()
    }

    fn bitmap_ones(ram: &Ram, sb: &Superblock) -> u32 {
        let b = (sb.layout.block_bitmap_start * BLOCK_SIZE_U64) as usize;
        ram.m
            .get(b..b + BLOCK_SIZE)
            .map_or(0, |s| s.iter().map(|x| x.count_ones()).sum())
    }

    fn sb_on(ram: &Ram) -> Option<Superblock> {
        Superblock::decode(ram.m.get(..SB_SIZE)?).ok()
    }

    #[test]
    fn txn_commit_is_applied_in_place() {
        let img = ram_image(false);
        assert!(img.is_some());
        let Some((mut ram, sb)) = img else {
            return;
        };
        let done = alloc_txn(&mut ram, &sb, 10);
        assert!(done.is_some());
        let on = sb_on(&ram);
        assert_eq!(on.map(|s| s.free_blocks), Some(sb.free_blocks - 10));
        assert_eq!(on, done);
        assert_eq!(bitmap_ones(&ram, &sb), 10);
    }

    #[test]
    fn txn_crash_after_commit_point_is_replayed() {
        let img = ram_image(true);
        assert!(img.is_some());
        let Some((mut ram, sb)) = img else {
            return;
        };
        assert!(alloc_txn(&mut ram, &sb, 7).is_some());
        // The commit word landed, nothing after it: the image is still as before.
        assert_eq!(sb_on(&ram).map(|s| s.free_blocks), Some(sb.free_blocks));
        assert_eq!(bitmap_ones(&ram, &sb), 0);
        ram.frozen = false;
        ram.crash_at_commit = false;
        let mut staging = KVVec::new();
        assert!(staging
            .extend_with(txn_staging_size(TXN_MAX_BLOCKS), 0u8, GFP_KERNEL)
            .is_ok());
        let r = recover(&mut ram, &sb, &mut staging);
        assert!(matches!(r, Ok((_, true))));
        assert_eq!(sb_on(&ram).map(|s| s.free_blocks), Some(sb.free_blocks - 7));
        assert_eq!(bitmap_ones(&ram, &sb), 7);
        // Recovery is idempotent: a second pass finds a clean journal.
        assert!(matches!(
            recover(&mut ram, &sb, &mut staging),
            Ok((_, false))
        ));
    }

    /// `debug_fail_commit`: the n-th commit from now fails, once; counters are read-only.
    #[test]
    fn fail_commit_knob_counts_down_to_one_failure() {
        use crate::errors::{Errors, Policy};
        use crate::stats::{Files, Stats};
        use kernel::fs::sysfs::Values;
        let stats = Stats::new();
        let errors = Errors::new(c"kunit", Policy::Continue);
        assert!(stats.is_ok() && errors.is_ok());
        let (Ok(stats), Ok(errors)) = (stats, errors) else {
            return;
        };
        let files = Files(stats.clone(), errors);
        assert!(!stats.fail_this_commit());
        assert_eq!(files.store(6, 3), Ok(()));
        // The third commit from now fails, once; then the knob is off again.
        assert!(!stats.fail_this_commit());
        assert!(!stats.fail_this_commit());
        assert!(stats.fail_this_commit());
        assert!(!stats.fail_this_commit());
        assert_eq!(files.show(6), 0);
        // Counters are read-only.
        assert!(files.store(4, 1).is_err());
        stats.commit();
        stats.fault_alloc();
        stats.write_fault(true);
        assert_eq!(
            (
                files.show(0),
                files.show(1),
                files.show(2),
                files.show(3),
                files.show(4)
            ),
            (1, 1, 1, 1, 1)
        );
    }

    /// Corruption reports: only `EUCLEAN` errors count, `errors=continue` keeps writing,
    /// `errors=remount-ro` stops it for good, and the errno is the error's own.
    #[test]
    fn errors_policy() {
        use crate::errors::{Errors, Policy};
        let e = Errors::new(c"kunit", Policy::Continue);
        assert!(e.is_ok());
        let Ok(e) = e else {
            return;
        };
        assert_eq!(e.report(1, Error::NoSpace), ENOSPC);
        assert_eq!(e.report(1, Error::Sealed), ETXTBSY);
        assert_eq!(e.count(), 0);
        assert_eq!(e.report(7, Error::BadField("extent pblk")), EUCLEAN);
        assert_eq!(e.count(), 1);
        assert_eq!(e.check_writable(), Ok(()));
        e.set_policy(Policy::ReadOnly);
        assert_eq!(e.policy(), Policy::ReadOnly);
        assert_eq!(e.check_writable(), Ok(()));
        assert_eq!(e.report(0, Error::Corrupt("node level")), EUCLEAN);
        assert_eq!(e.count(), 2);
        assert_eq!(e.check_writable(), Err(EROFS));
        // Going back to `continue` does not restart writing on this mount.
        e.set_policy(Policy::Continue);
        assert_eq!(e.check_writable(), Err(EROFS));
    }

    /// Extents are validated where they are decoded: shape, and the physical range against
    /// the data area (never the metadata before it, nor the backup superblock after it).
    #[test]
    fn extents_are_checked_against_the_data_area() {
        use crate::format::{extent::Extent, FsCtx};
        let ctx = FsCtx {
            csum_seed: 0,
            hash_key: [0; 16],
            data_start: 512,
            data_end: 3071,
        };
        let e = |lblk, pblk, len| Extent {
            lblk,
            pblk,
            len,
            flags: 0,
        };
        assert_eq!(e(0, 512, 1).check(&ctx), Ok(()));
        assert_eq!(e(0, 3070, 1).check(&ctx), Ok(()));
        // Into the inode table, across the start, onto the backup superblock.
        assert!(e(1, 68, 2).check(&ctx).is_err());
        assert!(e(1, 511, 2).check(&ctx).is_err());
        assert!(e(0, 3070, 2).check(&ctx).is_err());
        // Zero length, block 0, overflowing ends.
        assert!(e(0, 600, 0).check(&ctx).is_err());
        assert!(e(0, 0, 1).check(&ctx).is_err());
        assert!(e(0, u64::MAX, 1).check(&ctx).is_err());
        assert!(e(u64::MAX, 600, 1).check(&ctx).is_err());
    }

    /// Sealing as the kernel does it, on a RAM image: the inode flag is refused while the
    /// file has a hole, a sealed map refuses an allocation, unsealing (inode flag first)
    /// gives the map back.
    #[test]
    fn sealing_checks_the_invariants() {
        let img = ram_image(false);
        assert!(img.is_some());
        let Some((mut ram, sb)) = img else {
            return;
        };
        let s = KBox::new(Scratch::new(), GFP_KERNEL);
        assert!(s.is_ok());
        let Ok(mut s) = s else {
            return;
        };
        let now = Timespec { sec: 1, nsec: 0 };
        let (ino, s) = (5, &mut *s);
        let mut i = Inode::new(S_IFREG | 0o600, 0, 0, now);
        i.size = 3 * BLOCK_SIZE_U64;
        let done = run_txn(&mut ram, &sb, |t| {
            t.write_inode(ino, &i)?;
            op_alloc(t, s, ino, &mut i, 0, 1, false)?;
            op_alloc(t, s, ino, &mut i, 2, 1, false)?;
            // Without an intent, no extent seal may change.
            assert!(matches!(
                op_seal_extents(t, s, ino, &mut i, 0, true, 16),
                Err(Error::BadField(_))
            ));
            op_seal_begin(t, ino, &mut i)?;
            assert!(i.seal_intent() && i.belongs_on_orphan_list());
            assert_eq!(t.sb().orphan_head, ino);
            assert_eq!(op_seal_extents(t, s, ino, &mut i, 0, true, 16), Ok(None));
            // Block 1 is a hole.
            assert!(matches!(
                op_seal_inode(t, s, ino, &mut i, now),
                Err(Error::BadField(_))
            ));
            assert!(!i.is_sealed());
            // The roll-back of a failed seal: extents first, then the intent.
            assert!(matches!(
                op_seal_end(t, s, ino, &mut i),
                Err(Error::BadField(_))
            ));
            assert_eq!(op_seal_extents(t, s, ino, &mut i, 0, false, 16), Ok(None));
            op_seal_end(t, s, ino, &mut i)?;
            assert!(!i.seal_intent());
            assert_eq!(t.sb().orphan_head, 0);
            op_alloc(t, s, ino, &mut i, 1, 1, false)?;
            op_seal_begin(t, ino, &mut i)?;
            op_seal_extents(t, s, ino, &mut i, 0, true, 16)?;
            // Succeeds only if every extent is now SEALED and written, without a hole.
            op_seal_inode(t, s, ino, &mut i, now)?;
            assert!(i.is_sealed() && !i.seal_intent());
            assert_eq!(t.sb().orphan_head, 0);
            assert_eq!(
                op_alloc(t, s, ino, &mut i, 3, 1, false).err(),
                Some(Error::Sealed)
            );
            op_unseal_begin(t, ino, &mut i, now)?;
            assert!(!i.is_sealed() && i.seal_intent());
            assert_eq!(t.sb().orphan_head, ino);
            assert_eq!(op_seal_extents(t, s, ino, &mut i, 0, false, 16), Ok(None));
            op_seal_end(t, s, ino, &mut i)?;
            assert_eq!(t.sb().orphan_head, 0);
            op_alloc(t, s, ino, &mut i, 3, 1, false)?;
            Ok(())
        });
        assert!(done.is_some());
        assert!(!i.is_sealed());
        assert_eq!(i.blocks, 4);
    }
    /// The node cache's logic as the kernel builds it, over `KVVec` storage: a node is cached
    /// only with a valid checksum, a drop between a miss and its insert wins, and a range drop
    /// takes exactly its blocks.
    #[test]
    fn node_cache_keeps_only_current_verified_nodes() {
        use crate::format::{
            btree::{node_init, node_seal, TreeType},
            cache::{Lookup, NodeCache},
            Block,
        };
        const SEED: u32 = 0x5eed;
        fn filled(n: usize, v: u64) -> Option<KVVec<u64>> {
            let mut x = KVVec::new();
            x.extend_with(n, v, GFP_KERNEL).ok()?;
            Some(x)
        }
        let (Some(tags), Some(gens)) = (filled(64, 0), filled(64, 0)) else {
            panic!("cannot allocate the cache's tags");
        };
        let mut data = KVVec::new();
        assert!(data.extend_with(64 * BLOCK_SIZE, 0u8, GFP_KERNEL).is_ok());
        let Some(mut c) = NodeCache::new(tags, gens, data, SEED) else {
            panic!("a 64-slot cache");
        };
        let (Ok(mut node), Ok(mut buf)) = (
            KBox::new([0u8; BLOCK_SIZE], GFP_KERNEL),
            KBox::new([0u8; BLOCK_SIZE], GFP_KERNEL),
        ) else {
            panic!("cannot allocate two blocks");
        };
        let make = |b: &mut Block, blk: u64| {
            node_init(b, TreeType::Dir, 0, 9, blk);
            node_seal(b, SEED);
        };
        make(&mut node, 100);
        let Lookup::Miss(g) = c.get(100, &mut buf) else {
            panic!("hit in an empty cache");
        };
        assert!(c.insert(100, g, &node));
        assert_eq!(c.get(100, &mut buf), Lookup::Hit);
        assert!(buf[..] == node[..]);
        // A bad checksum is never cached.
        make(&mut node, 101);
        node[64] ^= 1;
        let Lookup::Miss(g) = c.get(101, &mut buf) else {
            panic!("101 cached");
        };
        assert!(!c.insert(101, g, &node));
        // A drop between the miss and the insert wins.
        make(&mut node, 102);
        let Lookup::Miss(g) = c.get(102, &mut buf) else {
            panic!("102 cached");
        };
        c.forget(102, 1);
        assert!(!c.insert(102, g, &node));
        assert!(matches!(c.get(102, &mut buf), Lookup::Miss(_)));
        // A range drop takes its blocks, not the others.
        c.forget(101, 1);
        assert_eq!(c.get(100, &mut buf), Lookup::Hit);
        c.forget(90, 20);
        assert!(matches!(c.get(100, &mut buf), Lookup::Miss(_)));
    }
}

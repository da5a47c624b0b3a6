// SPDX-License-Identifier: GPL-2.0

//! KUnit tests of the parts of daxfs that run without a device: the on-disk format as the
//! kernel compiles it, and the conversions between it and the VFS.

#[kernel::macros::kunit_tests(daxfs)]
mod daxfs_kunit {
    use crate::format::{
        dir::{name_key_base, DirEntry, COOKIE_EOF, COOKIE_MIN, DT_REG},
        inode::{Inode, Timespec, S_IFREG},
        superblock::{Layout, Superblock, SB_SIZE},
        Error,
    };
    use kernel::fs::inode::new_decode_dev;

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
    fn device_numbers() {
        // new_encode_dev(MKDEV(8, 1)) == 0x801; MKDEV(8, 1) == (8 << 20) | 1.
        assert_eq!(new_decode_dev(0x801), (8 << 20) | 1);
        // A large minor: MKDEV(259, 70000) encodes as 0x11170 | (259 << 8)...
        let (major, minor) = (259u32, 70_000u32);
        let enc = (minor & 0xff) | (major << 8) | ((minor & !0xff) << 12);
        assert_eq!(new_decode_dev(enc), (major << 20) | minor);
    }
}

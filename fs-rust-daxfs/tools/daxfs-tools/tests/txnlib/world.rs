// SPDX-License-Identifier: GPL-2.0

//! Random namespace and block-map operations against the [`Model`]: each
//! operation picks its arguments from the model, predicts the outcome
//! (success or the exact error), runs the `format::ops` function in one
//! transaction (several for budgeted truncation and freeing), and updates
//! the model.

use std::collections::BTreeMap;

use daxfs_format::extent::{map_lookup, Extent};
use daxfs_format::inode::{
    Inode, Timespec, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFREG, S_IFSOCK,
};
use daxfs_format::ops::*;
use daxfs_format::superblock::ROOT_INO;
use daxfs_format::txn::Medium;
use daxfs_format::{Error, Result, BLOCK_SIZE_U64};

use super::{extents_of, inode_of, tag_block, Env, MInode, Model};
use crate::common::Rng;

/// The operation kinds, for statistics.
pub const KINDS: &[&str] = &[
    "create", "mkdir", "mknod", "symlink", "link", "unlink", "rmdir", "rename", "exchange",
    "alloc", "convert", "truncate", "tmpfile", "close",
];

/// The reference for `op_punch`: the extents `ext` (sorted, as
/// [`extents_of`] returns them) with file blocks `[first, end)` unmapped.
/// An extent inside the range disappears, one straddling a boundary loses
/// the part inside, one straddling both splits in two; every remaining
/// piece keeps the physical blocks and the flags it had. Nothing merges.
/// An empty or reversed range changes nothing.
pub fn punch_ref(ext: &[Extent], first: u64, end: u64) -> Vec<Extent> {
    if first >= end {
        return ext.to_vec();
    }
    let mut out = Vec::new();
    for e in ext {
        if e.lend() <= first || e.lblk >= end {
            out.push(*e);
            continue;
        }
        if e.lblk < first {
            out.push(Extent {
                len: u32::try_from(first - e.lblk).unwrap(),
                ..*e
            });
        }
        if e.lend() > end {
            out.push(Extent {
                lblk: end,
                pblk: e.pblk + (end - e.lblk),
                len: u32::try_from(e.lend() - end).unwrap(),
                flags: e.flags,
            });
        }
    }
    out
}

/// Random operations on an [`Env`] checked against a [`Model`].
pub struct World {
    pub env: Env,
    pub model: Model,
    pub rng: Rng,
    pub now: i64,
    /// kind -> (succeeded, failed as predicted, NoSpace)
    pub stats: BTreeMap<&'static str, (u64, u64, u64)>,
}

impl World {
    pub fn new(env: Env, seed: u64) -> World {
        let model = Model::fresh(&env.m.cur);
        World {
            env,
            model,
            rng: Rng(seed | 1),
            now: 1_700_000_000,
            stats: BTreeMap::new(),
        }
    }

    fn tick(&mut self) -> Timespec {
        self.now += 1;
        Timespec {
            sec: self.now,
            nsec: (self.now % 1_000_000_000) as u32,
        }
    }

    fn low_space(&self) -> bool {
        self.env.sb.free_blocks < 40 || self.env.sb.free_inodes < 2
    }

    /// Records the outcome of `kind`: `expect` is the predicted error
    /// (`None`: success). NoSpace is accepted when space is low.
    fn check<T: std::fmt::Debug>(
        &mut self,
        kind: &'static str,
        r: &Result<T>,
        expect: Option<Error>,
    ) -> bool {
        let st = self.stats.entry(kind).or_default();
        match (r, expect) {
            (Ok(_), None) => {
                st.0 += 1;
                true
            }
            (Err(Error::NoSpace), _)
                if self.env.sb.free_blocks < 40 || self.env.sb.free_inodes < 2 =>
            {
                st.2 += 1;
                false
            }
            (Err(e), Some(x)) if *e == x => {
                st.1 += 1;
                false
            }
            _ => panic!("{}: got {:?}, expected {:?}", kind, r, expect),
        }
    }

    fn random_dir(&mut self) -> u64 {
        let keys: Vec<u64> = self.model.dirs.keys().copied().collect();
        keys[self.rng.below(keys.len() as u64) as usize]
    }

    fn random_name(&mut self) -> Vec<u8> {
        match self.rng.below(20) {
            0 => {
                let n = 200 + self.rng.below(56) as usize;
                let mut v = vec![b'L'; n];
                v[0] = b'0' + self.rng.below(3) as u8;
                v
            }
            1 => vec![0xFF, b'-', b'0' + self.rng.below(4) as u8, 0x80],
            _ => format!("n{}", self.rng.below(24)).into_bytes(),
        }
    }

    /// A random entry `(dir, name, ino)` satisfying `f`.
    fn random_entry(&mut self, f: impl Fn(&MInode) -> bool) -> Option<(u64, Vec<u8>, u64)> {
        let mut all = Vec::new();
        for (d, ents) in &self.model.dirs {
            for (n, i) in ents {
                if f(&self.model.inodes[i]) {
                    all.push((*d, n.clone(), *i));
                }
            }
        }
        if all.is_empty() {
            return None;
        }
        Some(all.swap_remove(self.rng.below(all.len() as u64) as usize))
    }

    fn random_inode(&mut self, f: impl Fn(&MInode) -> bool) -> Option<u64> {
        let all: Vec<u64> = self
            .model
            .inodes
            .iter()
            .filter(|(_, i)| f(i))
            .map(|(k, _)| *k)
            .collect();
        if all.is_empty() {
            return None;
        }
        Some(all[self.rng.below(all.len() as u64) as usize])
    }

    /// One random operation.
    pub fn step(&mut self) {
        match self.rng.below(100) {
            0..=11 => self.create(S_IFREG | 0o644, "create"),
            12..=17 => self.create(S_IFDIR | 0o755, "mkdir"),
            18..=20 => {
                let t = [S_IFIFO, S_IFCHR, S_IFBLK, S_IFSOCK][self.rng.below(4) as usize];
                self.create(t | 0o600, "mknod")
            }
            21..=26 => self.symlink(),
            27..=32 => self.link(),
            33..=41 => self.unlink(),
            42..=46 => self.rmdir(),
            47..=56 => self.rename(),
            57..=74 => self.alloc(),
            75..=79 => self.convert(),
            80..=88 => self.truncate(),
            89..=93 => self.tmpfile(),
            _ => self.close(),
        }
    }

    pub fn create(&mut self, mode: u16, kind: &'static str) {
        let d = self.random_dir();
        let name = self.random_name();
        let exists = self.model.dirs[&d].contains_key(&name);
        let now = self.tick();
        let rdev = if mode & 0o170000 == S_IFCHR || mode & 0o170000 == S_IFBLK {
            self.rng.next() as u32
        } else {
            0
        };
        let (uid, gid) = (self.rng.below(3) as u32, self.rng.below(3) as u32);
        let r = self.env.txn(|t, s| {
            let mut dir = t.read_inode(d)?;
            let mut new = Inode::new(mode, uid, gid, now);
            new.rdev = rdev;
            let ino = op_create(t, s, d, &mut dir, &name, &mut new, now)?;
            Ok((ino, new))
        });
        if !self.check(kind, &r, exists.then_some(Error::Exists)) {
            return;
        }
        let (ino, new) = r.unwrap();
        let is_dir = mode & 0o170000 == S_IFDIR;
        self.model.inodes.insert(
            ino,
            MInode {
                mode,
                nlink: new.nlink,
                size: 0,
                parent: if is_dir { d } else { 0 },
                rdev,
                blocks: BTreeMap::new(),
                tags: BTreeMap::new(),
                target: None,
            },
        );
        self.model.dirs.get_mut(&d).unwrap().insert(name, ino);
        if is_dir {
            self.model.dirs.insert(ino, BTreeMap::new());
            self.model.inodes.get_mut(&d).unwrap().nlink += 1;
        }
    }

    pub fn symlink(&mut self) {
        let d = self.random_dir();
        let name = self.random_name();
        let exists = self.model.dirs[&d].contains_key(&name);
        let len = match self.rng.below(3) {
            0 => 1 + self.rng.below(144),
            1 => 145 + self.rng.below(4095 - 144),
            _ => [1, 144, 145, 4095][self.rng.below(4) as usize],
        } as usize;
        let target: Vec<u8> = (0..len)
            .map(|_| 1 + (self.rng.next() % 255) as u8)
            .collect();
        let now = self.tick();
        let r = self.env.txn(|t, s| {
            let mut dir = t.read_inode(d)?;
            let mut new = Inode::new(S_IFLNK | 0o777, 0, 0, now);
            op_symlink(t, s, d, &mut dir, &name, &mut new, &target, now)
        });
        if !self.check("symlink", &r, exists.then_some(Error::Exists)) {
            return;
        }
        let ino = r.unwrap();
        self.model.inodes.insert(
            ino,
            MInode {
                mode: S_IFLNK | 0o777,
                nlink: 1,
                size: len as u64,
                parent: 0,
                rdev: 0,
                blocks: BTreeMap::new(),
                tags: BTreeMap::new(),
                target: Some(target),
            },
        );
        self.model.dirs.get_mut(&d).unwrap().insert(name, ino);
    }

    pub fn link(&mut self) {
        let Some(ino) = self.random_inode(|i| !i.is_dir()) else {
            return;
        };
        let d = self.random_dir();
        let name = self.random_name();
        let exists = self.model.dirs[&d].contains_key(&name);
        let now = self.tick();
        let r = self.env.txn(|t, s| {
            let mut dir = t.read_inode(d)?;
            let mut inode = t.read_inode(ino)?;
            op_link(t, s, d, &mut dir, &name, ino, &mut inode, now)
        });
        if !self.check("link", &r, exists.then_some(Error::Exists)) {
            return;
        }
        let i = self.model.inodes.get_mut(&ino).unwrap();
        i.nlink += 1;
        self.model.orphans.remove(&ino);
        self.model.dirs.get_mut(&d).unwrap().insert(name, ino);
    }

    /// After an inode lost its last link: keep it open (an orphan) or
    /// close it now.
    fn maybe_close(&mut self, ino: u64) {
        if self.model.inodes[&ino].nlink == 0 {
            self.model.orphans.insert(ino);
            if self.rng.below(10) < 6 {
                self.free_inode(ino);
            }
        }
    }

    /// Frees orphan `ino` (its last close), in budgeted transactions.
    pub fn free_inode(&mut self, ino: u64) {
        let budget = 1 + self.rng.below(3) as usize;
        let mut rounds = 0;
        loop {
            let r = self.env.txn(|t, s| {
                let mut i = t.read_inode(ino)?;
                op_free_inode(t, s, ino, &mut i, budget)
            });
            rounds += 1;
            assert!(rounds < 100_000);
            if r.unwrap_or_else(|e| panic!("free of inode {}: {:?}", ino, e)) {
                break;
            }
        }
        self.model.inodes.remove(&ino);
        self.model.orphans.remove(&ino);
        self.stats.entry("close").or_default().0 += 1;
    }

    pub fn unlink(&mut self) {
        let Some((d, name, ino)) = self.random_entry(|i| !i.is_dir()) else {
            return;
        };
        let now = self.tick();
        let r = self.env.txn(|t, s| {
            let mut dir = t.read_inode(d)?;
            let mut inode = t.read_inode(ino)?;
            op_unlink(t, s, d, &mut dir, &name, ino, &mut inode, now)
        });
        if !self.check("unlink", &r, None) {
            return;
        }
        self.model.dirs.get_mut(&d).unwrap().remove(&name);
        self.model.inodes.get_mut(&ino).unwrap().nlink -= 1;
        self.maybe_close(ino);
    }

    pub fn rmdir(&mut self) {
        let Some((d, name, ino)) = self.random_entry(|i| i.is_dir()) else {
            return;
        };
        let empty = self.model.dirs[&ino].is_empty();
        let now = self.tick();
        let r = self.env.txn(|t, s| {
            let mut dir = t.read_inode(d)?;
            let mut inode = t.read_inode(ino)?;
            op_rmdir(t, s, d, &mut dir, &name, ino, &mut inode, now)
        });
        if !self.check("rmdir", &r, (!empty).then_some(Error::NotEmpty)) {
            return;
        }
        self.model.dirs.get_mut(&d).unwrap().remove(&name);
        self.model.dirs.remove(&ino);
        self.model.inodes.get_mut(&d).unwrap().nlink -= 1;
        self.model.inodes.get_mut(&ino).unwrap().nlink = 0;
        self.maybe_close(ino);
    }

    pub fn rename(&mut self) {
        let dir_mode = self.rng.below(3) == 0;
        let src = if dir_mode {
            self.random_entry(|i| i.is_dir())
        } else {
            self.random_entry(|_| true)
        };
        let Some((sd, sname, ino)) = src else {
            return;
        };
        // Directories holding an empty directory (targets for a
        // directory rename).
        let holders: Vec<u64> = self
            .model
            .dirs
            .iter()
            .filter(|(_, e)| {
                e.values()
                    .any(|i| self.model.dirs.get(i).is_some_and(|d| d.is_empty()))
            })
            .map(|(d, _)| *d)
            .collect();
        let dd = if dir_mode && !holders.is_empty() && self.rng.below(3) != 0 {
            holders[self.rng.below(holders.len() as u64) as usize]
        } else {
            self.random_dir()
        };
        let idir = self.model.inodes[&ino].is_dir();
        // Directories over empty directories are rare by chance: aim.
        let empties: Vec<Vec<u8>> = self.model.dirs[&dd]
            .iter()
            .filter(|(_, i)| self.model.dirs.get(i).is_some_and(|d| d.is_empty()))
            .map(|(n, _)| n.clone())
            .collect();
        let dname = if idir && !empties.is_empty() && self.rng.below(2) == 0 {
            empties[self.rng.below(empties.len() as u64) as usize].clone()
        } else if self.rng.below(10) < 4 && !self.model.dirs[&dd].is_empty() {
            let ents: Vec<Vec<u8>> = self.model.dirs[&dd].keys().cloned().collect();
            ents[self.rng.below(ents.len() as u64) as usize].clone()
        } else {
            self.random_name()
        };
        // What the VFS refuses before calling the filesystem.
        if idir && self.model.is_ancestor_or_self(ino, dd) {
            return;
        }
        let target = self.model.dirs[&dd].get(&dname).copied();
        let exchange = target.is_some() && self.rng.below(3) == 0;
        let mut expect = None;
        if let Some(ti) = target {
            if ti == sd || ti == dd {
                return;
            }
            let tdir = self.model.inodes[&ti].is_dir();
            if exchange && tdir && self.model.is_ancestor_or_self(ti, sd) {
                return;
            }
            if !exchange && ti != ino {
                if idir != tdir {
                    expect = Some(Error::BadField("rename: file and directory"));
                } else if tdir && !self.model.dirs[&ti].is_empty() {
                    expect = Some(Error::NotEmpty);
                }
            }
        }
        let now = self.tick();
        let kind = if exchange { "exchange" } else { "rename" };
        let (sn, dn) = (sname.clone(), dname.clone());
        let r = self.env.txn(|t, s| {
            let mut sdir = t.read_inode(sd)?;
            let mut ddir = if dd != sd {
                Some(t.read_inode(dd)?)
            } else {
                None
            };
            let mut inode = t.read_inode(ino)?;
            let mut tin = match target {
                Some(ti) => Some((ti, t.read_inode(ti)?)),
                None => None,
            };
            op_rename(
                t,
                s,
                Rename {
                    src_dir_ino: sd,
                    src_dir: &mut sdir,
                    src_name: &sn,
                    dst_dir_ino: dd,
                    dst_dir: ddir.as_mut(),
                    dst_name: &dn,
                    ino,
                    inode: &mut inode,
                    target: tin.as_mut().map(|(a, b)| (*a, b)),
                    exchange,
                },
                now,
            )
        });
        if !self.check(kind, &r, expect) {
            return;
        }
        if target == Some(ino) {
            return;
        }
        let cross = sd != dd;
        let sub = match (
            exchange,
            target.map(|t| self.model.inodes[&t].is_dir()),
            idir,
            cross,
        ) {
            (true, Some(true), true, true) => "exchange dirs across",
            (true, Some(_), _, true) => "exchange across",
            (true, _, _, false) => "exchange within",
            (false, Some(true), _, _) => "rename over dir",
            (false, Some(false), _, _) => "rename over file",
            (false, None, true, true) => "rename dir across",
            (false, None, _, _) => "rename other",
            _ => "rename ?",
        };
        self.stats.entry(sub).or_default().0 += 1;
        let m = &mut self.model;
        if exchange {
            let ti = target.unwrap();
            let tdir = m.inodes[&ti].is_dir();
            m.dirs.get_mut(&sd).unwrap().insert(sname, ti);
            m.dirs.get_mut(&dd).unwrap().insert(dname, ino);
            if cross {
                if idir {
                    m.inodes.get_mut(&ino).unwrap().parent = dd;
                    m.inodes.get_mut(&sd).unwrap().nlink -= 1;
                    m.inodes.get_mut(&dd).unwrap().nlink += 1;
                }
                if tdir {
                    m.inodes.get_mut(&ti).unwrap().parent = sd;
                    m.inodes.get_mut(&dd).unwrap().nlink -= 1;
                    m.inodes.get_mut(&sd).unwrap().nlink += 1;
                }
            }
            return;
        }
        m.dirs.get_mut(&sd).unwrap().remove(&sname);
        let mut gone = None;
        if let Some(ti) = target {
            m.dirs.get_mut(&dd).unwrap().remove(&dname);
            if m.inodes[&ti].is_dir() {
                m.inodes.get_mut(&ti).unwrap().nlink = 0;
                m.inodes.get_mut(&dd).unwrap().nlink -= 1;
                m.dirs.remove(&ti);
            } else {
                m.inodes.get_mut(&ti).unwrap().nlink -= 1;
            }
            gone = Some(ti);
        }
        m.dirs.get_mut(&dd).unwrap().insert(dname, ino);
        if idir && cross {
            m.inodes.get_mut(&ino).unwrap().parent = dd;
            m.inodes.get_mut(&sd).unwrap().nlink -= 1;
            m.inodes.get_mut(&dd).unwrap().nlink += 1;
        }
        if let Some(ti) = gone {
            self.maybe_close(ti);
        }
    }

    pub fn alloc(&mut self) {
        let Some(ino) = self.random_inode(|i| i.is_reg()) else {
            return;
        };
        let blocks = &self.model.inodes[&ino].blocks;
        let last = blocks.keys().next_back().map_or(0, |b| b + 1);
        let mut lblk = if self.rng.below(2) == 0 {
            last
        } else {
            self.rng.below(last + 30)
        };
        while blocks.contains_key(&lblk) {
            lblk += 1;
        }
        let next = blocks.range(lblk..).next().map(|(b, _)| *b);
        let mut want = match self.rng.below(10) {
            0 => 1 + self.rng.below(600),
            _ => 1 + self.rng.below(16),
        };
        if let Some(n) = next {
            want = want.min(n - lblk);
        }
        let unwritten = self.rng.below(3) == 0;
        let grow = self.rng.below(2) == 0;
        let cut = self.rng.below(4096);
        let tag0 = self.rng.next() << 20;
        let r = self.env.txn(|t, s| {
            let mut i = t.read_inode(ino)?;
            let e: Extent = op_alloc(t, s, ino, &mut i, lblk, want, unwritten)?;
            if !unwritten {
                // The data of a written extent (the kernel zeroes or fills
                // the new blocks before the commit).
                for k in 0..u64::from(e.len) {
                    let b = tag_block(tag0 + e.lblk + k);
                    t.medium().write((e.pblk + k) * BLOCK_SIZE_U64, &b)?;
                }
            }
            if grow {
                i.size = i.size.max(e.lend() * BLOCK_SIZE_U64 - cut);
                t.write_inode(ino, &i)?;
            }
            Ok((e, i.size))
        });
        if !self.check("alloc", &r, None) {
            return;
        }
        let (e, size) = r.unwrap();
        assert_eq!(e.lblk, lblk);
        assert!(e.len >= 1 && u64::from(e.len) <= want);
        let i = self.model.inodes.get_mut(&ino).unwrap();
        for b in e.lblk..e.lend() {
            i.blocks.insert(b, unwritten);
            if !unwritten {
                i.tags.insert(b, tag0 + b);
            }
        }
        i.size = size;
    }

    pub fn convert(&mut self) {
        let Some(ino) = self.random_inode(|i| i.blocks.values().any(|u| *u)) else {
            return;
        };
        let last = self.model.inodes[&ino].blocks.keys().next_back().unwrap() + 1;
        let a = self.rng.below(last + 1);
        let len = 1 + self.rng.below(last + 2 - a);
        let tag0 = self.rng.next() << 20;
        let unw: Vec<u64> = self.model.inodes[&ino]
            .blocks
            .range(a..a + len)
            .filter(|(_, u)| **u)
            .map(|(b, _)| *b)
            .collect();
        let r = self.env.txn(|t, s| {
            let mut i = t.read_inode(ino)?;
            let ctx = t.ctx();
            for &b in &unw {
                let e = map_lookup(&i, ino, &ctx, t, s, b)?.ok_or(Error::NotFound)?;
                let blk = tag_block(tag0 + b);
                t.medium()
                    .write((e.pblk + b - e.lblk) * BLOCK_SIZE_U64, &blk)?;
            }
            op_convert(t, s, ino, &mut i, a, len)
        });
        if !self.check("convert", &r, None) {
            return;
        }
        let i = self.model.inodes.get_mut(&ino).unwrap();
        for (_, u) in i.blocks.range_mut(a..a + len) {
            *u = false;
        }
        for b in unw {
            i.tags.insert(b, tag0 + b);
        }
    }

    /// Truncates `ino` to `size` in budgeted transactions.
    pub fn truncate_to(&mut self, ino: u64, size: u64, budget: usize) {
        // Growing keeps the blocks preallocated past the old size.
        let shrink = size <= self.model.inodes[&ino].size;
        let mut rounds = 0;
        loop {
            let r = self.env.txn(|t, s| {
                let mut i = t.read_inode(ino)?;
                op_truncate(t, s, ino, &mut i, size, budget)
            });
            rounds += 1;
            assert!(rounds < 100_000);
            let r = r.unwrap_or_else(|e| panic!("truncate of inode {}: {:?}", ino, e));
            self.stats.entry("truncate").or_default().0 += 1;
            // Every partial step is consistent: the size is set and
            // extents beyond it are legal.
            self.model.inodes.get_mut(&ino).unwrap().size = size;
            if r {
                break;
            }
        }
        if !shrink {
            return;
        }
        let keep = size.div_ceil(BLOCK_SIZE_U64);
        let i = self.model.inodes.get_mut(&ino).unwrap();
        i.blocks = i.blocks.range(..keep).map(|(b, u)| (*b, *u)).collect();
        i.tags = i.tags.range(..keep).map(|(b, u)| (*b, *u)).collect();
    }

    pub fn truncate(&mut self) {
        let Some(ino) = self.random_inode(|i| i.is_reg()) else {
            return;
        };
        let i = &self.model.inodes[&ino];
        let top = (i.blocks.keys().next_back().map_or(0, |b| b + 1) * BLOCK_SIZE_U64).max(i.size);
        let size = match self.rng.below(10) {
            0..=5 => self.rng.below(top + 1),
            6 => 0,
            _ => top + self.rng.below(100_000),
        };
        let budget = 1 + self.rng.below(3) as usize;
        self.truncate_to(ino, size, budget);
    }

    /// A new empty regular file `name` in the root directory (and the
    /// model).
    pub fn new_file(&mut self, name: &str) -> u64 {
        let now = Timespec { sec: 11, nsec: 0 };
        let ino = self
            .env
            .txn(|t, s| {
                let mut root = t.read_inode(ROOT_INO)?;
                let mut new = Inode::new(S_IFREG | 0o644, 0, 0, now);
                op_create(t, s, ROOT_INO, &mut root, name.as_bytes(), &mut new, now)
            })
            .unwrap();
        self.model.inodes.insert(
            ino,
            MInode {
                mode: S_IFREG | 0o644,
                nlink: 1,
                size: 0,
                parent: 0,
                rdev: 0,
                blocks: BTreeMap::new(),
                tags: BTreeMap::new(),
                target: None,
            },
        );
        self.model
            .dirs
            .get_mut(&ROOT_INO)
            .unwrap()
            .insert(name.as_bytes().to_vec(), ino);
        ino
    }

    /// Maps the hole `[lblk, lblk + len)` of `ino` with as many `op_alloc`
    /// calls as the allocator needs (consecutive runs merge into one
    /// extent when they are physically contiguous), writes tagged data
    /// into written blocks and grows the size over them; updates the
    /// model.
    pub fn map_range(&mut self, ino: u64, lblk: u64, len: u64, unwritten: bool) {
        let tag = |b: u64| (ino << 40) | b | (1 << 63);
        let mut at = lblk;
        while at < lblk + len {
            let want = lblk + len - at;
            let (e, size) = self
                .env
                .txn(|t, s| {
                    let mut i = t.read_inode(ino)?;
                    let e = op_alloc(t, s, ino, &mut i, at, want, unwritten)?;
                    if !unwritten {
                        for k in 0..u64::from(e.len) {
                            let b = tag_block(tag(e.lblk + k));
                            t.medium().write((e.pblk + k) * BLOCK_SIZE_U64, &b)?;
                        }
                    }
                    i.size = i.size.max(e.lend() * BLOCK_SIZE_U64);
                    t.write_inode(ino, &i)?;
                    Ok((e, i.size))
                })
                .unwrap();
            let m = self.model.inodes.get_mut(&ino).unwrap();
            for b in e.lblk..e.lend() {
                m.blocks.insert(b, unwritten);
                if !unwritten {
                    m.tags.insert(b, tag(b));
                }
            }
            m.size = size;
            at = e.lend();
        }
    }

    /// Punches file blocks `[first, end)` of regular file `ino` as the
    /// kernel does (`op_punch` in transactions of at most `budget` steps
    /// until it reports that nothing is left) and checks the result
    /// exactly: the extents, physical blocks and flags included, are
    /// [`punch_ref`] of those before; the size, times and flags are
    /// unchanged; every freed block is back in the free count
    /// (data blocks and tree nodes: `free_blocks + blocks` is constant);
    /// an emptied extent tree is released. Updates the model. Returns the
    /// number of transactions.
    pub fn punch_range(&mut self, ino: u64, first: u64, end: u64, budget: usize) -> u64 {
        let sb = self.env.sb;
        let i0 = inode_of(&self.env.m.cur, &sb, ino).unwrap();
        let before = extents_of(&self.env.m.cur, &sb.ctx(), ino, &i0);
        let want = punch_ref(&before, first, end);
        let free0 = self.env.sb.free_blocks;
        let mut txns = 0;
        loop {
            let r = self.env.txn(|t, s| {
                let mut i = t.read_inode(ino)?;
                op_punch(t, s, ino, &mut i, first, end, budget)
            });
            txns += 1;
            assert!(txns < 100_000);
            let done =
                r.unwrap_or_else(|e| panic!("punch [{}, {}) of {}: {:?}", first, end, ino, e));
            if done {
                break;
            }
        }
        let sb = self.env.sb;
        let i1 = inode_of(&self.env.m.cur, &sb, ino).unwrap();
        let after = extents_of(&self.env.m.cur, &sb.ctx(), ino, &i1);
        assert_eq!(
            after, want,
            "punch [{}, {}) of inode {}: extents (before: {:?})",
            first, end, ino, before
        );
        assert_eq!(i1.map_count as usize, want.len());
        assert_eq!(
            (i1.size, i1.mtime, i1.ctime, i1.flags),
            (i0.size, i0.mtime, i0.ctime, i0.flags),
            "punch changed the size, a time or the flags"
        );
        assert_eq!(
            sb.free_blocks + i1.blocks,
            free0 + i0.blocks,
            "punch [{}, {}) of inode {}: blocks leaked or freed twice",
            first,
            end,
            ino
        );
        let data: u64 = want.iter().map(|e| u64::from(e.len)).sum();
        if want.is_empty() && i0.map_count > 0 {
            assert_eq!(
                (i1.map_kind, i1.blocks),
                (daxfs_format::inode::MAP_EXTENTS, 0),
                "emptied map not released"
            );
        }
        assert!(i1.blocks >= data);
        let m = self.model.inodes.get_mut(&ino).unwrap();
        m.blocks.retain(|b, _| *b < first || *b >= end);
        m.tags.retain(|b, _| *b < first || *b >= end);
        self.stats.entry("punch").or_default().0 += 1;
        if before.iter().any(|e| e.lblk < first && e.lend() > end) {
            self.stats.entry("punch split").or_default().0 += 1;
        }
        if i0.map_kind == daxfs_format::inode::MAP_BTREE {
            self.stats.entry("punch tree").or_default().0 += 1;
        }
        if txns > 1 {
            self.stats.entry("punch txns").or_default().0 += 1;
        }
        txns
    }

    /// Punches a random range of a random regular file: often inside one
    /// extent (a split), sometimes everything, past the last block, or a
    /// single block.
    pub fn punch(&mut self) {
        let Some(mut ino) = self.random_inode(|i| i.is_reg()) else {
            return;
        };
        if self.rng.below(2) == 0 {
            // The most fragmented files are the ones with extent trees.
            let frag = |i: &MInode| {
                let mut prev = None;
                let mut runs = 0;
                for (b, u) in &i.blocks {
                    if prev != Some((b.wrapping_sub(1), *u)) {
                        runs += 1;
                    }
                    prev = Some((*b, *u));
                }
                runs
            };
            if let Some((k, _)) = self
                .model
                .inodes
                .iter()
                .filter(|(_, i)| i.is_reg())
                .max_by_key(|(_, i)| frag(i))
            {
                ino = *k;
            }
        }
        let blocks = &self.model.inodes[&ino].blocks;
        let last = blocks.keys().next_back().map_or(0, |b| b + 1);
        // A block whose neighbours are mapped too: punching it alone
        // splits its extent (or cuts between two extents).
        let inner: Vec<u64> = blocks
            .keys()
            .copied()
            .filter(|b| *b > 0 && blocks.contains_key(&(b - 1)) && blocks.contains_key(&(b + 1)))
            .collect();
        let (first, end) = match self.rng.below(10) {
            0 => (0, u64::MAX),
            1 => {
                let a = last + self.rng.below(20);
                (a, a + 1 + self.rng.below(50))
            }
            2 | 3 if !inner.is_empty() => {
                let b = inner[self.rng.below(inner.len() as u64) as usize];
                (b, b + 1 + self.rng.below(2))
            }
            4 if !inner.is_empty() => {
                // A comb: every other block of a run, one punch each,
                // every one a split (enough of them make a tree).
                let b = inner[self.rng.below(inner.len() as u64) as usize];
                for k in 1..8 {
                    let budget = 1 + self.rng.below(2) as usize;
                    self.punch_range(ino, b + 2 * k, b + 2 * k + 1, budget);
                }
                (b, b + 1)
            }
            _ => {
                let a = self.rng.below(last + 5);
                (a, a + 1 + self.rng.below(last + 6 - a))
            }
        };
        let budget = 1 + self.rng.below(3) as usize;
        self.punch_range(ino, first, end, budget);
    }

    /// One random operation, hole punching included (15%).
    pub fn step_punch(&mut self) {
        if self.rng.below(100) < 15 {
            self.punch();
        } else {
            self.step();
        }
    }

    pub fn tmpfile(&mut self) {
        let now = self.tick();
        let r = self.env.txn(|t, s| {
            let mut new = Inode::new(S_IFREG | 0o600, 0, 0, now);
            op_tmpfile(t, s, &mut new)
        });
        if !self.check("tmpfile", &r, None) {
            return;
        }
        let ino = r.unwrap();
        self.model.inodes.insert(
            ino,
            MInode {
                mode: S_IFREG | 0o600,
                nlink: 0,
                size: 0,
                parent: 0,
                rdev: 0,
                blocks: BTreeMap::new(),
                tags: BTreeMap::new(),
                target: None,
            },
        );
        self.model.orphans.insert(ino);
    }

    pub fn close(&mut self) {
        let all: Vec<u64> = self.model.orphans.iter().copied().collect();
        if all.is_empty() {
            return;
        }
        let ino = all[self.rng.below(all.len() as u64) as usize];
        self.free_inode(ino);
    }

    /// Closes every open orphan.
    pub fn close_all(&mut self) {
        let all: Vec<u64> = self.model.orphans.iter().copied().collect();
        for ino in all {
            self.free_inode(ino);
        }
    }

    /// Removes everything below the root (files truncated to zero first,
    /// in budgeted steps, then unlinked and freed).
    pub fn remove_all(&mut self) {
        self.close_all();
        loop {
            // Deepest entries first: any entry whose target is not a
            // non-empty directory.
            let e = self.random_entry(|_| true);
            let Some((d, name, ino)) = e else { break };
            let (d, name, ino) = self.leaf_below(d, name, ino);
            let now = self.tick();
            let isdir = self.model.inodes[&ino].is_dir();
            let r = self.env.txn(|t, s| {
                let mut dir = t.read_inode(d)?;
                let mut inode = t.read_inode(ino)?;
                if isdir {
                    op_rmdir(t, s, d, &mut dir, &name, ino, &mut inode, now)
                } else {
                    op_unlink(t, s, d, &mut dir, &name, ino, &mut inode, now)
                }
            });
            r.unwrap();
            self.model.dirs.get_mut(&d).unwrap().remove(&name);
            if isdir {
                self.model.dirs.remove(&ino);
                self.model.inodes.get_mut(&d).unwrap().nlink -= 1;
                self.model.inodes.get_mut(&ino).unwrap().nlink = 0;
            } else {
                self.model.inodes.get_mut(&ino).unwrap().nlink -= 1;
            }
            if self.model.inodes[&ino].nlink == 0 {
                self.model.orphans.insert(ino);
                self.free_inode(ino);
            }
        }
        assert_eq!(self.model.inodes.len(), 1);
        assert_eq!(self.model.inodes[&ROOT_INO].nlink, 2);
    }

    fn leaf_below(&self, mut d: u64, mut name: Vec<u8>, mut ino: u64) -> (u64, Vec<u8>, u64) {
        while let Some(ents) = self.model.dirs.get(&ino) {
            match ents.iter().next() {
                Some((n, i)) => {
                    d = ino;
                    name = n.clone();
                    ino = *i;
                }
                None => break,
            }
        }
        (d, name, ino)
    }

    /// Statistics, one line per kind.
    pub fn report(&self) -> String {
        let mut s = String::new();
        for (k, (a, b, c)) in &self.stats {
            s += &format!("{:>9}: {:>5} ok {:>4} refused {:>3} ENOSPC\n", k, a, b, c);
        }
        s
    }
}

/// Counts successes of `kind`.
pub fn count(w: &World, kind: &str) -> u64 {
    w.stats.get(kind).map_or(0, |s| s.0)
}

#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Helpers for the daxfs guest suites (20-29).

    daxfs_util.py mktree DIR            build the varied test tree in DIR
    daxfs_util.py compare SRC DST       compare two trees: names, types, metadata,
                                        symlink targets, hard links, file contents
    daxfs_util.py readpat SRC DST       read patterns on DST checked against SRC
    daxfs_util.py dirpos DIR            telldir/seekdir and small getdents buffers
    daxfs_util.py mount DEV DIR [OPTS]  mount(2) -t daxfs; prints OK or the errno name
    daxfs_util.py corrupt DEV KIND      damage the daxfs image on DEV (see CORRUPTIONS)
    daxfs_util.py sbfield DEV NAME      print a superblock field
    daxfs_util.py loop DEV DIR N        mount, walk and read, umount; N times
    daxfs_util.py holes DEV SIZE        give the file of SIZE bytes a hole and an
                                        unwritten extent (mkfs makes neither)
    daxfs_util.py shrink DEV SIZE NEW   set the size of the file of SIZE bytes to
                                        NEW, keeping its data past NEW (as a crash can)

Everything is deterministic (fixed seeds), so a failure reproduces.
"""

import ctypes
import errno
import hashlib
import os
import random
import socket
import stat
import struct
import sys

BIG = 64 << 20
BLOCK = 4096

# --- the test tree ----------------------------------------------------------

OWNERS = [(0, 0), (1000, 1000), (65534, 65534), (123456, 7890), (4000000000, 5)]
TIMES = [
    (0, 0),
    (1_000_000_000_123_456_789, 1_500_000_000_987_654_321),
    (-86400 * 365 * 10 * 10**9 + 5, -1 * 10**9),  # before 1970
    (2**33 * 10**9 + 999_999_999, 2**34 * 10**9 + 1),  # far future
    (1_700_000_000_000_000_001, 1_700_000_000_000_000_002),
]


def _data(rnd, n):
    return rnd.randbytes(n)


def mktree(root):
    rnd = random.Random(20251124)
    os.makedirs(root)
    meta = []  # (path, is_dir) in creation order, metadata applied at the end

    def add(p, d=False):
        meta.append((p, d))

    def f(rel, content=b""):
        p = os.path.join(root, rel)
        with open(p, "wb") as fh:
            fh.write(content)
        add(p)
        return p

    def d(rel):
        p = os.path.join(root, rel)
        os.makedirs(p)
        add(p, True)
        return p

    # Files of many sizes around block and extent boundaries.
    d("files")
    for s in [0, 1, 100, 4095, 4096, 4097, 8191, 8192, 12289, 65535, 1 << 20,
              (1 << 20) + 3, 3 * (1 << 20) + 17, 8 * (1 << 20) - 1]:
        f("files/size-%d" % s, _data(rnd, s))
    # A 64 MiB file with holes: data at irregular offsets, a hole at the end.
    p = f("files/sparse-64M")
    with open(p, "r+b") as fh:
        fh.truncate(BIG)
        for off, n in [(0, 3000), (5000, 10000), ((1 << 20) + 123, 70000),
                       (10 << 20, 1 << 20), ((33 << 20) + 4095, 2), ((48 << 20) - 7, 8192),
                       (BIG - 10, 10)]:
            fh.seek(off)
            fh.write(_data(rnd, n))
    # A file that starts with a hole and ends in the middle of a block.
    p = f("files/hole-first")
    with open(p, "r+b") as fh:
        fh.truncate((2 << 20) + 1234)
        fh.seek(1 << 20)
        fh.write(_data(rnd, 5000))

    # Deep directories (64 levels) with a file at every 8th level.
    cur = "deep"
    d(cur)
    for i in range(64):
        cur = os.path.join(cur, "level%02d" % i)
        d(cur)
        if i % 8 == 7:
            f(os.path.join(cur, "file"), b"depth %d\n" % i)

    # A directory with 10,000 entries of every type and many name lengths.
    d("big")
    target = f("big/target", b"hard link target\n")
    for i in range(10000):
        name = "e%05d" % i
        if i % 97 == 0:
            name = (name + "-" + "x" * 300)[:255]
        elif i % 13 == 0:
            name = name + "-" + "n" * (i % 200)
        rel = os.path.join("big", name)
        if i % 50 == 0:
            d(rel)
        elif i % 25 == 0:
            p = os.path.join(root, rel)
            os.symlink("target", p)
            add(p)
        elif i % 100 == 1:
            p = os.path.join(root, rel)
            os.link(target, p)
        else:
            f(rel, b"%d\n" % i if i % 3 else b"")

    # Symlinks: inline (<= 144 bytes) and block (up to 4095 bytes) targets.
    d("links")
    for n, t in [("short", "a"), ("abs", "/etc/passwd"), ("dir", "../files"),
                 ("dangling", "does/not/exist"), ("inline-max", "i" * 144),
                 ("block-min", "b" * 145), ("longest", "/".join(["p" * 15] * 256)[:4095]),
                 ("to-sparse", "../files/sparse-64M")]:
        p = os.path.join(root, "links", n)
        os.symlink(t, p)
        add(p)

    # Special files.
    d("special")
    os.mkfifo(os.path.join(root, "special/fifo"))
    add(os.path.join(root, "special/fifo"))
    for n, mode, dev in [("null", stat.S_IFCHR, os.makedev(1, 3)),
                         ("loop", stat.S_IFBLK, os.makedev(7, 0)),
                         ("bigminor", stat.S_IFCHR, os.makedev(259, 70000))]:
        p = os.path.join(root, "special", n)
        os.mknod(p, mode | 0o600, dev)
        add(p)
    s = socket.socket(socket.AF_UNIX)
    p = os.path.join(root, "special/socket")
    s.bind(p)
    s.close()
    add(p)

    # Hard links across directories.
    d("hard")
    p = f("hard/one", b"linked\n")
    os.link(p, os.path.join(root, "hard/two"))
    os.link(p, os.path.join(root, "files/linked-three"))

    # Modes, owners and times (deepest first so directory times stick).
    modes = [0o644, 0o600, 0o755, 0o4755, 0o2750, 0o1777, 0o000, 0o777, 0o444, 0o7777]
    for i, (p, is_dir) in enumerate(reversed(meta)):
        is_link = os.path.islink(p)
        uid, gid = OWNERS[i % len(OWNERS)]
        os.chown(p, uid, gid, follow_symlinks=False)
        if not is_link:
            m = modes[i % len(modes)]
            if is_dir:
                m |= 0o700  # keep directories traversable for the test itself
            os.chmod(p, m)
        a, mt = TIMES[i % len(TIMES)]
        os.utime(p, ns=(a, mt), follow_symlinks=False)
    os.utime(root, ns=TIMES[1])


# --- comparison ---------------------------------------------------------------

def _ftype(m):
    return stat.S_IFMT(m)


def _hash(p):
    h = hashlib.sha256()
    with open(p, "rb") as fh:
        while True:
            b = fh.read(1 << 20)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def compare(src, dst):
    errors = []
    inomap = {}
    nfiles = 0

    def err(msg):
        errors.append(msg)
        if len(errors) <= 30:
            print("# " + msg)

    for dirpath, dirnames, filenames in os.walk(src):
        rel = os.path.relpath(dirpath, src)
        ddir = os.path.normpath(os.path.join(dst, rel))
        want = {e.name: e for e in os.scandir(dirpath)}
        try:
            got = {e.name: e for e in os.scandir(ddir)}
        except OSError as e:
            err("%s: %s" % (ddir, e))
            continue
        if set(want) != set(got):
            err("%s: entries differ: missing %s extra %s" % (
                rel, sorted(set(want) - set(got))[:5], sorted(set(got) - set(want))[:5]))
        for name in want:
            if name not in got:
                continue
            ws, gs = want[name], got[name]
            # d_type from readdir must match the inode type.
            for attr in ("is_dir", "is_file", "is_symlink"):
                if getattr(ws, attr)(follow_symlinks=False) != getattr(gs, attr)(follow_symlinks=False):
                    err("%s/%s: readdir type differs (%s)" % (rel, name, attr))
            a = os.lstat(ws.path)
            b = os.lstat(gs.path)
            nfiles += 1
            for fld in ("st_mode", "st_uid", "st_gid", "st_nlink", "st_mtime_ns",
                        "st_atime_ns", "st_ctime_ns"):
                if getattr(a, fld) != getattr(b, fld):
                    err("%s/%s: %s %s != %s" % (rel, name, fld, getattr(a, fld), getattr(b, fld)))
            if not stat.S_ISDIR(a.st_mode) and a.st_size != b.st_size:
                err("%s/%s: size %d != %d" % (rel, name, a.st_size, b.st_size))
            if stat.S_ISCHR(a.st_mode) or stat.S_ISBLK(a.st_mode):
                if a.st_rdev != b.st_rdev:
                    err("%s/%s: rdev %#x != %#x" % (rel, name, a.st_rdev, b.st_rdev))
            if stat.S_ISDIR(a.st_mode) and (b.st_size == 0 or b.st_size % BLOCK):
                err("%s/%s: directory size %d" % (rel, name, b.st_size))
            if stat.S_ISREG(a.st_mode):
                need = (a.st_size + BLOCK - 1) // BLOCK * (BLOCK // 512)
                if b.st_blocks < need:
                    err("%s/%s: st_blocks %d < %d" % (rel, name, b.st_blocks, need))
            if b.st_blksize <= 0:
                err("%s/%s: st_blksize %d" % (rel, name, b.st_blksize))
            # Hard links: one source inode maps to exactly one daxfs inode.
            if a.st_ino in inomap and inomap[a.st_ino] != b.st_ino:
                err("%s/%s: hard link maps to another inode" % (rel, name))
            inomap[a.st_ino] = b.st_ino
            if stat.S_ISLNK(a.st_mode):
                if os.readlink(ws.path) != os.readlink(gs.path):
                    err("%s/%s: symlink target differs" % (rel, name))
            elif stat.S_ISREG(a.st_mode) and a.st_size > 0:
                if _hash(ws.path) != _hash(gs.path):
                    err("%s/%s: contents differ" % (rel, name))
    if len(set(inomap.values())) != len(inomap):
        err("distinct source inodes share a daxfs inode number")
    print("# compared %d entries, %d differences" % (nfiles, len(errors)))
    return 1 if errors else 0


# --- read patterns --------------------------------------------------------------

def readpat(src, dst):
    rnd = random.Random(7)
    bad = 0
    cases = 0
    files = ["files/sparse-64M", "files/hole-first", "files/size-8388607",
             "files/size-4097", "files/size-1", "files/size-0"]
    for rel in files:
        a = open(os.path.join(src, rel), "rb").read()
        fd = os.open(os.path.join(dst, rel), os.O_RDONLY)
        size = len(a)
        offs = [0, 1, 4095, 4096, 4097, size - 1, size, size + 1, size + 4096, 1 << 40]
        offs += [rnd.randrange(0, size + 8192) for _ in range(300)]
        for off in offs:
            if off < 0:
                continue
            for n in (1, 7, 4095, 4096, 4097, 65537, rnd.randrange(1, 3 << 20)):
                cases += 1
                got = os.pread(fd, n, off)
                if got != a[off:off + n]:
                    bad += 1
                    if bad < 10:
                        print("# %s: pread(%d, %d): %d bytes, mismatch" % (rel, n, off, len(got)))
        # readv into several unaligned buffers from the file offset.
        for _ in range(50):
            off = rnd.randrange(0, size + 100)
            bufs = [bytearray(rnd.randrange(1, 9000)) for _ in range(rnd.randrange(1, 6))]
            os.lseek(fd, off, os.SEEK_SET)
            n = os.readv(fd, bufs)
            cases += 1
            if b"".join(bufs)[:n] != a[off:off + sum(len(b) for b in bufs)]:
                bad += 1
                print("# %s: readv at %d mismatch" % (rel, off))
            if os.lseek(fd, 0, os.SEEK_CUR) != off + n:
                bad += 1
                print("# %s: readv did not advance the offset" % rel)
        # Sequential read(2) in odd sizes reproduces the file.
        os.lseek(fd, 0, os.SEEK_SET)
        out = []
        while True:
            b = os.read(fd, 12345)
            if not b:
                break
            out.append(b)
        cases += 1
        if b"".join(out) != a:
            bad += 1
            print("# %s: sequential read mismatch" % rel)
        if os.lseek(fd, 0, os.SEEK_END) != size:
            bad += 1
            print("# %s: SEEK_END" % rel)
        os.close(fd)
    print("# %d read cases, %d mismatches" % (cases, bad))
    return 1 if bad else 0


# --- directory positions --------------------------------------------------------

class _Dirent(ctypes.Structure):
    _fields_ = [("d_ino", ctypes.c_uint64), ("d_off", ctypes.c_int64),
                ("d_reclen", ctypes.c_ushort), ("d_type", ctypes.c_ubyte),
                ("d_name", ctypes.c_char * 256)]


def dirpos(path):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.opendir.restype = ctypes.c_void_p
    libc.readdir.restype = ctypes.POINTER(_Dirent)
    libc.readdir.argtypes = [ctypes.c_void_p]
    libc.telldir.restype = ctypes.c_long
    libc.telldir.argtypes = [ctypes.c_void_p]
    libc.seekdir.argtypes = [ctypes.c_void_p, ctypes.c_long]
    libc.closedir.argtypes = [ctypes.c_void_p]
    bad = 0

    def read_all(dp):
        out = []
        while True:
            pos = libc.telldir(dp)
            e = libc.readdir(dp)
            if not e:
                return out
            out.append((pos, e.contents.d_name))

    dp = libc.opendir(path.encode())
    first = read_all(dp)
    names = [n for _, n in first]
    if sorted(names) != sorted([b".", b".."] + [os.fsencode(n) for n in os.listdir(path)]):
        bad += 1
        print("# readdir names differ from listdir")
    if len(set(names)) != len(names):
        bad += 1
        print("# readdir returned duplicates")
    # Positions are stable: a second pass sees the same (position, name) pairs.
    libc.seekdir(dp, first[0][0])
    if read_all(dp) != first:
        bad += 1
        print("# second pass differs")
    # seekdir to any telldir position resumes at that entry.
    rnd = random.Random(3)
    for _ in range(200):
        i = rnd.randrange(len(first))
        libc.seekdir(dp, first[i][0])
        e = libc.readdir(dp)
        if not e or e.contents.d_name != first[i][1]:
            bad += 1
            print("# seekdir to entry %d failed" % i)
            break
    libc.closedir(dp)

    # getdents64 with tiny buffers resumes mid-leaf without losing entries.
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    got = []
    # 280 bytes is the smallest buffer a 255-byte name fits in.
    for size in (280, 300, 1000, 4096):
        os.lseek(fd, 0, os.SEEK_SET)
        got = []
        buf = ctypes.create_string_buffer(size)
        while True:
            n = libc.syscall(217, fd, buf, size)
            if n < 0:
                bad += 1
                print("# getdents64(%d): errno %d" % (size, ctypes.get_errno()))
                break
            if n == 0:
                break
            off = 0
            while off < n:
                reclen = struct.unpack_from("H", buf.raw, off + 16)[0]
                name = buf.raw[off + 19:off + reclen].split(b"\0", 1)[0]
                got.append(name)
                off += reclen
        if sorted(got) != sorted(names):
            bad += 1
            print("# getdents64 with a %d-byte buffer: %d entries, want %d" % (size, len(got), len(names)))
    os.close(fd)
    print("# %d entries, %d problems" % (len(names), bad))
    return 1 if bad else 0


# --- mounting and corruption ------------------------------------------------------

def mount(dev, mnt, opts=""):
    libc = ctypes.CDLL(None, use_errno=True)
    r = libc.mount(dev.encode(), mnt.encode(), b"daxfs", 0, opts.encode() if opts else None)
    if r == 0:
        print("OK")
        return 0
    print(errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno())))
    return 1


_CRC_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _CRC_TABLE.append(_c)


def _crc_update(c, data):
    for b in data:
        c = _CRC_TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c


def crc32c(data):
    return _crc_update(0xFFFFFFFF, data) ^ 0xFFFFFFFF


SB_FIELDS = {"version_major": (0x08, "<I"), "incompat": (0x20, "<Q"), "block_count": (0x30, "<Q"),
             "inode_count": (0x38, "<Q"), "free_blocks": (0x40, "<Q"), "free_inodes": (0x48, "<Q"),
             "data_blocks": (0xF8, "<Q"),
             "journal_start": (0xA0, "<Q"), "inode_table_start": (0xE0, "<Q"),
             "data_start": (0xF0, "<Q"), "state": (0x118, "<I"),
             "mount_count": (0x138, "<I"), "orphan_head": (0x158, "<Q"),
             "errors": (0x11C, "<I")}


def _sb(fh):
    fh.seek(0)
    return bytearray(fh.read(512))


def _get(sb, name):
    off, fmt = SB_FIELDS[name]
    return struct.unpack_from(fmt, sb, off)[0]


def _reseal(sb):
    struct.pack_into("<I", sb, 0x1FC, crc32c(bytes(sb[:0x1FC])))


def corrupt(dev, kind):
    with open(dev, "r+b") as fh:
        sb = _sb(fh)
        if kind == "magic":
            sb[0] ^= 0xFF
        elif kind == "sb-checksum":
            sb[0x60] ^= 0x01  # a label byte, checksum left stale
        elif kind == "incompat":
            struct.pack_into("<Q", sb, 0x20, _get(sb, "incompat") | (1 << 40))
            _reseal(sb)
        elif kind == "ro-compat":
            # A read-only-compatible feature this kernel does not know.
            struct.pack_into("<Q", sb, 0x18, struct.unpack_from("<Q", sb, 0x18)[0] | (1 << 40))
            _reseal(sb)
        elif kind == "version":
            struct.pack_into("<I", sb, 0x08, 7)
            _reseal(sb)
        elif kind == "geometry":
            struct.pack_into("<Q", sb, 0xF0, _get(sb, "data_start") + 512)
            _reseal(sb)
        elif kind == "journal":
            fh.seek(_get(sb, "journal_start") * BLOCK)
            fh.write(b"NOTAJRNL")
        elif kind == "journal-pending":
            # A committed but unapplied transaction: commit seq = applied + 1.
            fh.seek(_get(sb, "journal_start") * BLOCK + 0x08)
            fh.write(struct.pack("<Q", 1))
        elif kind == "root-inode":
            fh.seek(_get(sb, "inode_table_start") * BLOCK + 1 * 256 + 0x18)
            fh.write(b"\xff")
        elif kind == "root-dir-node":
            fh.seek(_get(sb, "inode_table_start") * BLOCK + 256 + 0x70)
            root = struct.unpack("<Q", fh.read(8))[0]
            fh.seek(root * BLOCK + 100)
            fh.write(b"\xa5\x5a")
        elif kind == "zero":
            sb = bytearray(512)
        else:
            raise SystemExit("unknown corruption " + kind)
        fh.seek(0)
        fh.write(sb)
        fh.flush()
        os.fsync(fh.fileno())
    return 0


def _find_reg(fh, size):
    """(superblock, inode number, 256-byte record) of the first regular file
    of SIZE bytes on the open device; exits if there is none."""
    sb = _sb(fh)
    its = _get(sb, "inode_table_start")
    for ino in range(1, _get(sb, "inode_count")):
        fh.seek(its * BLOCK + ino * 256)
        rec = bytearray(fh.read(256))
        mode = struct.unpack_from("<H", rec, 0)[0]
        if mode & 0o170000 == 0o100000 and struct.unpack_from("<Q", rec, 0x18)[0] == size:
            return sb, ino, rec
    raise SystemExit("no regular file of %d bytes" % size)


def _put_inode(fh, sb, ino, rec):
    """Writes inode record REC as inode INO, with a valid checksum, and
    flushes it to the device."""
    seed = _crc_update(0xFFFFFFFF, bytes(sb[0x50:0x60]))
    struct.pack_into("<I", rec, 0x5C, 0)
    c = _crc_update(seed, struct.pack("<Q", ino))
    c = _crc_update(c, bytes(rec))
    struct.pack_into("<I", rec, 0x5C, c ^ 0xFFFFFFFF)
    fh.seek(_get(sb, "inode_table_start") * BLOCK + ino * 256)
    fh.write(rec)
    fh.flush()
    os.fsync(fh.fileno())


def holes(dev, size):
    """Turns the single extent of the regular file of SIZE bytes into a hole
    (blocks 0-255), a mapped extent (256-299) and an unwritten extent (300-),
    and fills the blocks that are no longer mapped, and those of the
    unwritten extent, with 0xAA: a correct read returns zeros there. mkfs
    never makes holes or unwritten extents; this is how the read path meets
    them."""
    size = int(size)
    with open(dev, "r+b") as fh:
        sb, ino, rec = _find_reg(fh, size)
        kind = struct.unpack_from("<B", rec, 2)[0]
        lblk, pblk, ln, flags = struct.unpack_from("<QQII", rec, 0x70)
        if kind != 1 or struct.unpack_from("<I", rec, 0x68)[0] != 1 or lblk or ln < 301:
            raise SystemExit("inode %d: not a single inline extent" % ino)
        rec[0x70:0x70 + 144] = bytes(144)
        struct.pack_into("<QQII", rec, 0x70, 256, pblk + 256, 44, 0)
        struct.pack_into("<QQII", rec, 0x70 + 24, 300, pblk + 300, ln - 300, 1)
        struct.pack_into("<I", rec, 0x68, 2)
        fh.seek(pblk * BLOCK)
        fh.write(b"\xaa" * 256 * BLOCK)
        fh.seek((pblk + 300) * BLOCK)
        fh.write(b"\xaa" * (ln - 300) * BLOCK)
        _put_inode(fh, sb, ino, rec)
        print(ino)
    return 0


def badextent(dev, size, area):
    """Points the single inline extent of the regular file of SIZE bytes (at
    least 2 blocks) at metadata, with the inode checksum right: its block 1
    becomes the journal header (AREA "journal") or the first inode table
    block, holding the root inode (AREA "inode-table"). A filesystem that
    trusted the extent would zero that metadata when zeroing the file's tail
    (truncate up, fallocate zero range) and would map it into a process."""
    with open(dev, "r+b") as fh:
        sb, ino, rec = _find_reg(fh, int(size))
        target = {"journal": _get(sb, "journal_start"),
                  "inode-table": _get(sb, "inode_table_start")}[area]
        lblk, pblk, ln, flags = struct.unpack_from("<QQII", rec, 0x70)
        if struct.unpack_from("<I", rec, 0x68)[0] != 1 or lblk or ln < 2:
            raise SystemExit("inode %d: not a single inline extent" % ino)
        struct.pack_into("<Q", rec, 0x70 + 8, target - 1)
        _put_inode(fh, sb, ino, rec)
        print(ino)
    return 0


def shrink(dev, size, newsize):
    """Sets the size of the regular file of SIZE bytes to NEWSIZE, leaving its
    blocks and their data: what a crash leaves when a write had copied its
    data past the end of the file but its new size was not committed."""
    with open(dev, "r+b") as fh:
        sb, ino, rec = _find_reg(fh, int(size))
        struct.pack_into("<Q", rec, 0x18, int(newsize))
        _put_inode(fh, sb, ino, rec)
        print(ino)
    return 0


def sbfield(dev, name):
    """Prints a superblock field as it is on the device now: read with O_DIRECT, since
    a mounted daxfs writes persistent memory directly, behind the block device's page
    cache."""
    import mmap
    fd = os.open(dev, os.O_RDONLY | os.O_DIRECT)
    try:
        buf = mmap.mmap(-1, 4096)
        os.preadv(fd, [buf], 0)
        print(_get(bytearray(buf[:512]), name))
    finally:
        os.close(fd)
    return 0


def loop(dev, mnt, n):
    """Mounts DEV on MNT, reads a little, unmounts; N times, in one process."""
    libc = ctypes.CDLL(None, use_errno=True)
    for i in range(int(n)):
        if libc.mount(dev.encode(), mnt.encode(), b"daxfs", 0, None) != 0:
            print("# iteration %d: mount: errno %d" % (i, ctypes.get_errno()))
            return 1
        for dirpath, dirnames, filenames in os.walk(mnt):
            for f in filenames:
                p = os.path.join(dirpath, f)
                st = os.lstat(p)
                if stat.S_ISREG(st.st_mode):
                    with open(p, "rb") as fh:
                        fh.read(65536)
                elif stat.S_ISLNK(st.st_mode):
                    os.readlink(p)
        os.statvfs(mnt)
        if libc.umount2(mnt.encode(), 0) != 0:
            print("# iteration %d: umount: errno %d" % (i, ctypes.get_errno()))
            return 1
    return 0


def main(argv):
    cmd = argv[1]
    fn = {"mktree": mktree, "compare": compare, "readpat": readpat, "dirpos": dirpos,
          "mount": mount, "corrupt": corrupt, "sbfield": sbfield, "loop": loop,
          "holes": holes, "shrink": shrink, "badextent": badextent}[cmd]
    r = fn(*argv[2:])
    return r or 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Sealed block maps (FALLOC_FL_SEAL_BLOCK_MAP / FALLOC_FL_UNSEAL_BLOCK_MAP).

Usage: seal.py MNT [OTHER_DIR]
  MNT        a freshly made daxfs, mounted read-write;
  OTHER_DIR  a directory on a filesystem without sealing (tmpfs), checked to
             refuse the modes with EOPNOTSUPP.
Phases: "seal.py MNT check-sealed" after a remount checks that the file
sealed by the first run is still sealed and still refuses changes.
Prints ok/not ok lines; exit 1 on failure.
"""
import ctypes
import errno
import fcntl
import mmap
import os
import struct
import sys

from tap import Reporter, exit_status

SEAL = 0x100
UNSEAL = 0x200
KEEP_SIZE, PUNCH, COLLAPSE, ZERO, INSERT = 0x1, 0x2, 0x8, 0x10, 0x20
ATTR_SEALED = 0x00800000          # STATX_ATTR_IOMAP_IMMUTABLE
XFLAG_SEALED = 0x00100000         # FS_XFLAG_IOMAP_IMMUTABLE
FS_IOC_FSGETXATTR = 0x801C581F
FICLONE = 0x40049409
MAP_SHARED_VALIDATE, MAP_SYNC = 0x03, 0x80000
SYS_STATX = 332                   # x86_64
BS = 4096

libc = ctypes.CDLL(None, use_errno=True)
libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]
libc.syscall.restype = ctypes.c_long
mnt = sys.argv[1]
report = Reporter("daxfs seal")


def falloc(fd, mode, off, length):
    """fallocate(2); returns 0 or the errno."""
    if libc.fallocate(fd, mode, off, length) == 0:
        return 0
    return ctypes.get_errno()


def statx_attrs(path):
    """(stx_attributes, stx_attributes_mask) of PATH."""
    buf = ctypes.create_string_buffer(256)
    r = libc.syscall(SYS_STATX, -100, path.encode(), 0, 0xFFF, buf)
    if r != 0:
        raise OSError(ctypes.get_errno(), "statx")
    attrs = struct.unpack_from("<Q", buf, 8)[0]
    mask = struct.unpack_from("<Q", buf, 56)[0]
    return attrs, mask


def xflags(fd):
    buf = bytearray(28)
    fcntl.ioctl(fd, FS_IOC_FSGETXATTR, buf)
    return struct.unpack_from("<I", buf, 0)[0]


def errno_of(fn):
    try:
        fn()
    except OSError as e:
        return e.errno
    return 0


def p(name):
    return os.path.join(mnt, name)


def free_blocks():
    return os.statvfs(mnt).f_bfree


def check_refusals(fd, path, what):
    """Every change of the sealed file's block map fails with ETXTBSY and
    changes nothing."""
    size = os.fstat(fd).st_size
    before = os.pread(fd, size, 0)
    blocks = os.fstat(fd).st_blocks
    for mode, name in [(PUNCH | KEEP_SIZE, "punch"), (ZERO, "zero range"),
                       (COLLAPSE, "collapse"), (INSERT, "insert")]:
        r = falloc(fd, mode, 0, BS)
        report(r == errno.ETXTBSY, f"{what}: fallocate {name} fails with ETXTBSY",
               os.strerror(r) if r else "succeeded")
    # Preallocation is refused where it would allocate (past the end), and
    # changes nothing, successfully, within the size (posix_fallocate over
    # the file, as PMDK's pmemobj_create() does on an existing file).
    for mode, name in [(0, "allocate"), (KEEP_SIZE, "allocate keep-size")]:
        r = falloc(fd, mode, size - BS, 2 * BS)
        report(r == errno.ETXTBSY, f"{what}: fallocate {name} past the end fails with ETXTBSY",
               os.strerror(r) if r else "succeeded")
        r = falloc(fd, mode, 0, size)
        report(r == 0, f"{what}: fallocate {name} of the whole file succeeds", os.strerror(r) if r else "")
    r = libc.posix_fallocate(fd, ctypes.c_longlong(0), ctypes.c_longlong(size))
    report(r == 0, f"{what}: posix_fallocate of the whole file succeeds", os.strerror(r) if r else "")
    for new in (0, size - 1, size + 1, size + 10 * BS):
        report(errno_of(lambda: os.ftruncate(fd, new)) == errno.ETXTBSY,
               f"{what}: ftruncate to {new} fails with ETXTBSY")
    report(errno_of(lambda: os.truncate(path, 0)) == errno.ETXTBSY,
           f"{what}: truncate(2) by path fails with ETXTBSY")
    report(errno_of(lambda: os.close(os.open(path, os.O_WRONLY | os.O_TRUNC))) == errno.ETXTBSY,
           f"{what}: O_TRUNC open fails with ETXTBSY")
    report(errno_of(lambda: os.pwrite(fd, b"x" * 10, size - 5)) == errno.ETXTBSY,
           f"{what}: a write across the end fails whole with ETXTBSY")
    report(errno_of(lambda: os.pwrite(fd, b"x", size + BS)) == errno.ETXTBSY,
           f"{what}: a write past the end fails with ETXTBSY")
    afd = os.open(path, os.O_WRONLY | os.O_APPEND)
    report(errno_of(lambda: os.write(afd, b"appended")) == errno.ETXTBSY,
           f"{what}: an O_APPEND write fails with ETXTBSY")
    os.close(afd)
    src = os.open(p("cfr-src"), os.O_CREAT | os.O_RDWR, 0o600)
    os.write(src, b"s" * (2 * BS))
    report(errno_of(lambda: os.copy_file_range(src, fd, 2 * BS, 0, size - BS)) == errno.ETXTBSY,
           f"{what}: copy_file_range past the end fails with ETXTBSY")
    report(errno_of(lambda: fcntl.ioctl(fd, FICLONE, src)) == errno.ETXTBSY,
           f"{what}: FICLONE into the sealed file fails with ETXTBSY")
    report(errno_of(lambda: fcntl.ioctl(src, FICLONE, fd)) == errno.ETXTBSY,
           f"{what}: FICLONE from the sealed file fails with ETXTBSY")
    os.close(src)
    os.unlink(p("cfr-src"))
    st = os.fstat(fd)
    report(st.st_size == size and st.st_blocks == blocks and os.pread(fd, size, 0) == before,
           f"{what}: size, blocks and data unchanged by the refused and no-op calls",
           f"size {st.st_size} vs {size}, blocks {st.st_blocks} vs {blocks}")


def as_nobody(fn):
    """Runs FN in a child with uid/gid 65534 (no capabilities); returns
    its result (an int)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            v = fn()
        except OSError as e:
            v = 1000 + e.errno
        os.write(w, str(v).encode())
        os._exit(0)
    os.close(w)
    out = os.read(r, 64)
    os.close(r)
    os.waitpid(pid, 0)
    return int(out or b"-1")


if len(sys.argv) > 2 and sys.argv[2] == "check-sealed":
    path = p("sealed")
    attrs, _ = statx_attrs(path)
    report(attrs & ATTR_SEALED, "after a remount the file is still sealed (statx)")
    fd = os.open(path, os.O_RDWR)
    report(xflags(fd) & XFLAG_SEALED, "... and FS_IOC_FSGETXATTR reports it")
    check_refusals(fd, path, "after remount")
    data = os.pread(fd, 4, 0)
    report(data == b"MMAP", "... data stored through the MAP_SYNC mapping survived", repr(data))
    report(falloc(fd, UNSEAL, 0, 1) == 0, "unseal after the remount")
    report(errno_of(lambda: os.ftruncate(fd, 0)) == 0, "... and truncate works again")
    os.close(fd)
    os.unlink(path)
    sys.exit(exit_status())

other = sys.argv[2] if len(sys.argv) > 2 else None
path = p("sealed")
free0 = free_blocks()

# A file with data, a hole, an unwritten extent and blocks preallocated
# past its end.
fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o666)
os.fchmod(fd, 0o666)                            # writable by the unprivileged checks
os.pwrite(fd, b"A" * (2 * BS), 0)               # blocks 0-1 written
os.pwrite(fd, b"B" * 100, 5 * BS)               # block 5 written, 2-4 a hole
report(falloc(fd, 0, 6 * BS, BS) == 0, "set-up: preallocate block 6")
report(falloc(fd, KEEP_SIZE, 20 * BS, 4 * BS) == 0, "set-up: preallocate past the end")
attrs, mask = statx_attrs(path)
report(mask & ATTR_SEALED, "statx attributes_mask has STATX_ATTR_IOMAP_IMMUTABLE on daxfs")
report(not attrs & ATTR_SEALED, "a new file is not sealed")

# The modes are refused together with KEEP_SIZE or with each other, and
# on a descriptor without write access.
report(falloc(fd, SEAL | KEEP_SIZE, 0, BS) == errno.EOPNOTSUPP, "SEAL | KEEP_SIZE fails with EOPNOTSUPP")
report(falloc(fd, UNSEAL | KEEP_SIZE, 0, BS) == errno.EOPNOTSUPP, "UNSEAL | KEEP_SIZE fails with EOPNOTSUPP")
report(falloc(fd, SEAL | UNSEAL, 0, BS) == errno.EOPNOTSUPP, "SEAL | UNSEAL fails with EOPNOTSUPP")
report(falloc(fd, SEAL | PUNCH, 0, BS) == errno.EOPNOTSUPP, "SEAL | PUNCH_HOLE fails with EOPNOTSUPP")
report(falloc(fd, SEAL, 0, 0) == errno.EINVAL, "SEAL with length 0 fails with EINVAL")
rfd = os.open(path, os.O_RDONLY)
report(falloc(rfd, SEAL, 0, BS) == errno.EBADF, "SEAL on a read-only descriptor fails with EBADF")
os.close(rfd)
dfd = os.open(mnt, os.O_RDONLY | os.O_DIRECTORY)
report(falloc(dfd, SEAL, 0, BS) in (errno.EBADF, errno.EISDIR), "SEAL on a directory is refused")
os.close(dfd)

# Unprivileged callers may do neither.
report(as_nobody(lambda: falloc(os.open(path, os.O_RDWR), SEAL, 0, BS)) == errno.EPERM,
       "SEAL without CAP_LINUX_IMMUTABLE fails with EPERM")
report(not statx_attrs(path)[0] & ATTR_SEALED, "... and leaves the file unsealed")

# Seal 10 blocks and 100 bytes: the file grows, every hole is filled with
# zeros, the data is kept, the blocks past the end are freed.
end = 10 * BS + 100
r = falloc(fd, SEAL, 0, end)
report(r == 0, "SEAL_BLOCK_MAP of the first 10 blocks and 100 bytes", os.strerror(r) if r else "")
st = os.fstat(fd)
report(st.st_size == end, "the file grew to the end of the range", f"{st.st_size}")
report(st.st_blocks == 11 * 8, "exactly its 11 blocks are allocated (past the end freed)", f"{st.st_blocks // 8}")
report(free0 - free_blocks() == 11, "statfs counts exactly 11 blocks used", f"{free0 - free_blocks()}")
data = os.pread(fd, end, 0)
want = b"A" * (2 * BS) + bytes(3 * BS) + b"B" * 100 + bytes(BS - 100) + bytes(4 * BS + 100)
report(data == want, "data kept, holes and unwritten blocks read as zeros")
report(os.lseek(fd, 0, os.SEEK_HOLE) == end, "SEEK_HOLE finds no hole before the end")
attrs, _ = statx_attrs(path)
report(attrs & ATTR_SEALED, "statx reports STATX_ATTR_IOMAP_IMMUTABLE")
report(xflags(fd) & XFLAG_SEALED, "FS_IOC_FSGETXATTR reports FS_XFLAG_IOMAP_IMMUTABLE")

check_refusals(fd, path, "sealed")

# Sealing again: a no-op within the file, ETXTBSY past its end.
report(falloc(fd, SEAL, 0, BS) == 0, "sealing a sealed file again succeeds")
report(falloc(fd, SEAL, 0, end + 1) == errno.ETXTBSY, "sealing a sealed file past its end fails with ETXTBSY")

# What a sealed file still allows: writes inside it, MAP_SYNC stores,
# rename, link, chmod.
report(os.pwrite(fd, b"C" * 10, 3 * BS) == 10 and os.pread(fd, 10, 3 * BS) == b"C" * 10,
       "a write inside the sealed file works")
report(errno_of(lambda: os.pwrite(fd, b"D" * 100, end - 100)) == 0, "a write ending exactly at the end works")
m = mmap.mmap(fd, 2 * BS, flags=MAP_SHARED_VALIDATE | MAP_SYNC, prot=mmap.PROT_READ | mmap.PROT_WRITE)
m[0:4] = b"MMAP"
report(os.pread(fd, 4, 0) == b"MMAP", "stores through a MAP_SYNC mapping of the sealed file are seen by read")
# Unsealing while a writable shared mapping exists is refused.
r = falloc(fd, UNSEAL, 0, 1)
report(r == errno.EBUSY, "UNSEAL with a writable shared mapping fails with EBUSY", os.strerror(r) if r else "succeeded")
report(statx_attrs(path)[0] & ATTR_SEALED, "... and the file stays sealed")
m.close()
os.rename(path, p("renamed"))
os.link(p("renamed"), path)
os.unlink(p("renamed"))
report(as_nobody(lambda: falloc(os.open(path, os.O_RDWR), UNSEAL, 0, 1)) == errno.EPERM,
       "UNSEAL without CAP_LINUX_IMMUTABLE fails with EPERM")
os.chmod(path, 0o644)
report(statx_attrs(path)[0] & ATTR_SEALED, "rename, link, unlink of a name and chmod work and keep the seal")
os.close(fd)

# A second sealed file, unlinked while sealed: its blocks come back.
f2 = os.open(p("unlinked"), os.O_CREAT | os.O_RDWR, 0o600)
before = free_blocks()
report(falloc(f2, SEAL, 0, 64 * BS) == 0, "seal a new empty file of 64 blocks")
report(before - free_blocks() == 64, "... it holds 64 blocks", f"{before - free_blocks()}")
os.close(f2)
os.unlink(p("unlinked"))
report(free_blocks() == before, "unlinking a sealed file frees its blocks")

# ENOSPC: nothing is sealed, nothing leaks.
f3 = os.open(p("toobig"), os.O_CREAT | os.O_RDWR, 0o600)
before = free_blocks()
r = falloc(f3, SEAL, 0, (before + 10) * BS)
report(r == errno.ENOSPC, "sealing more than the free space fails with ENOSPC", os.strerror(r) if r else "succeeded")
report(not statx_attrs(p("toobig"))[0] & ATTR_SEALED, "... the file is not sealed")
os.close(f3)
os.unlink(p("toobig"))
report(free_blocks() == before, "... and no block leaks", f"{before} vs {free_blocks()}")

# Unseal and seal again, then leave the file sealed for the remount check.
fd = os.open(path, os.O_RDWR)
report(falloc(fd, UNSEAL, 0, 1) == 0, "UNSEAL_BLOCK_MAP")
report(not statx_attrs(path)[0] & ATTR_SEALED, "... statx no longer reports the seal")
report(not xflags(fd) & XFLAG_SEALED, "... nor FS_IOC_FSGETXATTR")
report(falloc(fd, UNSEAL, 0, 1) == 0, "unsealing an unsealed file succeeds")
report(os.pwrite(fd, b"E", end) == 1, "an extending write works after unsealing")
report(errno_of(lambda: os.ftruncate(fd, end)) == 0, "... and so does truncate")
report(falloc(fd, SEAL, 0, end) == 0, "seal again")
os.close(fd)

if other:
    o = os.open(os.path.join(other, "seal-probe"), os.O_CREAT | os.O_RDWR, 0o600)
    report(falloc(o, SEAL, 0, BS) == errno.EOPNOTSUPP, "SEAL on a filesystem without sealing fails with EOPNOTSUPP")
    report(falloc(o, UNSEAL, 0, BS) == errno.EOPNOTSUPP, "UNSEAL there too")
    report(not statx_attrs(os.path.join(other, "seal-probe"))[1] & ATTR_SEALED,
           "... and its statx attributes_mask lacks STATX_ATTR_IOMAP_IMMUTABLE")
    os.close(o)
    os.unlink(os.path.join(other, "seal-probe"))

sys.exit(exit_status())

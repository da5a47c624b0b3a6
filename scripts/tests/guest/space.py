#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""statfs counts and ENOSPC on a freshly made daxfs mounted at MNT.

Every allocation and free is checked against statfs exactly: the block
counts move by the number of blocks the operation needs and come back to
where they started when the files are gone (no leak), including after
ENOSPC for blocks and for inodes. Prints ok/not ok lines; exit 1 on failure.
"""
import errno
import os
import sys

from tap import Reporter, exit_status

mnt = sys.argv[1]
report = Reporter("daxfs space")


def counts():
    s = os.statvfs(mnt)
    return s.f_bfree, s.f_bavail, s.f_ffree


def p(name):
    return os.path.join(mnt, name)


b0, a0, i0 = counts()
report(b0 == a0, "f_bavail equals f_bfree", f"{b0} {a0}")

# A file of 100 blocks written in one go is one inline extent: exactly 100
# blocks and one inode.
with open(p("f100"), "wb") as f:
    f.write(b"\xab" * (100 * 4096))
b1, _, i1 = counts()
report(b0 - b1 == 100, "a 100-block file uses exactly 100 blocks", f"{b0 - b1}")
report(i0 - i1 == 1, "... and one inode", f"{i0 - i1}")
os.truncate(p("f100"), 10 * 4096 + 1)
b2, _, _ = counts()
report(b0 - b2 == 11, "truncate to 10 blocks + 1 byte keeps exactly 11 blocks", f"{b0 - b2}")
os.truncate(p("f100"), 1 << 30)
report(counts()[0] == b2, "truncate up allocates nothing (a hole)")
os.unlink(p("f100"))
report(counts() == (b0, a0, i0), "unlink gives every block and the inode back", f"{counts()} vs {(b0, a0, i0)}")

# An unlinked file that is still open keeps its blocks until the last close.
fd = os.open(p("open-unlinked"), os.O_CREAT | os.O_RDWR, 0o600)
os.write(fd, b"x" * (50 * 4096))
os.unlink(p("open-unlinked"))
report(b0 - counts()[0] == 50, "an unlinked open file keeps its blocks")
os.close(fd)
report(counts() == (b0, a0, i0), "... freed at the last close")

fd = os.open(mnt, os.O_TMPFILE | os.O_RDWR, 0o600)
os.write(fd, b"y" * (20 * 4096))
report(b0 - counts()[0] == 20 and i0 - counts()[2] == 1, "O_TMPFILE counts its blocks and inode")
os.close(fd)
report(counts() == (b0, a0, i0), "... and gives them back at close")

# Appending writes allocate ahead once the file has 16 blocks (64 KiB): as
# many as the file has, up to 256 (one transaction per 64 KiB to 1 MiB
# instead of one per block); an allocation of 256 ends at the next 2 MiB of
# the file instead, so that later ones start on a 2 MiB boundary. What the file has
# not grown into is freed when the last writable file is released, and
# before a fallocate.
fd = os.open(p("app"), os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)
for k in range(40):
    os.write(fd, bytes([k]) * 4096)
# Allocations at blocks 0-15 (one each), 16 (16) and 32 (32): 64 blocks.
report(b0 - counts()[0] == 64, "40 appended blocks hold 64 while the file is open",
       f"{b0 - counts()[0]}")
rd = os.open(p("app"), os.O_RDONLY)
os.close(rd)
report(b0 - counts()[0] == 64, "... closing a read-only file of it frees nothing", f"{b0 - counts()[0]}")
os.close(fd)
st = os.stat(p("app"))
report(b0 - counts()[0] == 40 and st.st_blocks == 40 * 8 and st.st_size == 40 * 4096,
       "... and exactly 40 after the last close", f"{b0 - counts()[0]} {st.st_blocks} {st.st_size}")
with open(p("app"), "rb") as f:
    got = f.read()
report(got == b"".join(bytes([k]) * 4096 for k in range(40)), "... with the data appended")
os.truncate(p("app"), 50 * 4096)
with open(p("app"), "rb") as f:
    f.seek(40 * 4096)
    report(f.read() == bytes(10 * 4096) and b0 - counts()[0] == 40,
           "... and a hole after it when truncated up", f"{b0 - counts()[0]}")
os.unlink(p("app"))
report(counts() == (b0, a0, i0), "... unlink gives everything back")
fd = os.open(p("app2"), os.O_CREAT | os.O_RDWR, 0o600)
for k in range(20):
    os.write(fd, b"\x11" * 4096)
os.pwrite(fd, b"\x22" * 4096, 1000 * 4096)
# Block 1000 and 23 ahead of it, up to the 2 MiB boundary at block 1024.
report(b0 - counts()[0] == 32 + 24, "a write far past the end allocates ahead too, up to the next 2 MiB",
       f"{b0 - counts()[0]}")
report(os.pread(fd, 980 * 4096, 20 * 4096) == bytes(980 * 4096), "... the gap reads as zeros")
os.close(fd)
# Blocks 20-31, allocated ahead and zeroed, are inside the file now and
# stay; 1001-1023 are freed.
report(b0 - counts()[0] == 33 and os.stat(p("app2")).st_size == 1001 * 4096,
       "... what is past the end is freed at close", f"{b0 - counts()[0]}")
report(os.pread(fd := os.open(p("app2"), os.O_RDONLY), 4096 * 1001, 0)
       == b"\x11" * (20 * 4096) + bytes(980 * 4096) + b"\x22" * 4096, "... and the data is intact")
os.close(fd)
os.unlink(p("app2"))
report(counts() == (b0, a0, i0), "... unlink gives everything back")

# fallocate: preallocation counts its blocks, punching gives back exactly the
# whole blocks of the range, zeroing changes nothing, unsupported modes fail.
import ctypes
libc = ctypes.CDLL(None, use_errno=True)


def falloc(fd, mode, off, ln):
    if libc.fallocate(fd, mode, ctypes.c_longlong(off), ctypes.c_longlong(ln)) != 0:
        return ctypes.get_errno()
    return 0


fd = os.open(p("app3"), os.O_CREAT | os.O_RDWR, 0o600)
for k in range(20):
    os.write(fd, b"\x33" * 4096)
report(falloc(fd, 1, 100 * 4096, 10 * 4096) == 0 and b0 - counts()[0] == 30,
       "fallocate first frees the blocks allocated ahead of appends", f"{b0 - counts()[0]}")
os.close(fd)
report(b0 - counts()[0] == 30, "... and the release keeps the preallocation", f"{b0 - counts()[0]}")
os.unlink(p("app3"))

fd = os.open(p("fa"), os.O_CREAT | os.O_RDWR, 0o600)
report(falloc(fd, 1, 0, 100 * 4096) == 0, "fallocate KEEP_SIZE of 100 blocks")
report(b0 - counts()[0] == 100 and os.fstat(fd).st_size == 0,
       "... uses exactly 100 blocks and keeps the size", f"{b0 - counts()[0]} {os.fstat(fd).st_size}")
report(os.pread(fd, 10, 0) == b"", "... and nothing is readable past the size")
report(falloc(fd, 0, 0, 100 * 4096) == 0 and os.fstat(fd).st_size == 100 * 4096,
       "fallocate mode 0 over it sets the size and allocates nothing more",
       f"{b0 - counts()[0]}")
report(os.pread(fd, 100 * 4096, 0) == bytes(100 * 4096), "preallocated blocks read as zeros")
os.pwrite(fd, b"\x77" * (100 * 4096), 0)
report(b0 - counts()[0] == 100, "writing them allocates nothing more", f"{b0 - counts()[0]}")
report(falloc(fd, 0x02 | 0x01, 10 * 4096 + 5, 20 * 4096) == 0, "punch a hole of 20 blocks at an odd offset")
got = os.pread(fd, 100 * 4096, 0)
want = b"\x77" * (10 * 4096 + 5) + bytes(20 * 4096) + b"\x77" * (70 * 4096 - 5)
report(got == want, "... reads as zeros exactly there")
report(b0 - counts()[0] == 81, "... frees its 19 whole blocks", f"{b0 - counts()[0]}")
report(falloc(fd, 0x10 | 0x01, 50 * 4096 + 1, 4096) == 0, "zero a range")
want = want[:50 * 4096 + 1] + bytes(4096) + want[51 * 4096 + 1:]
report(os.pread(fd, 100 * 4096, 0) == want and b0 - counts()[0] == 81, "... reads as zeros, same blocks")
report(falloc(fd, 0x10 | 0x01, 60 * 4096, 10 * 4096) == 0, "zero 10 whole blocks")
want = want[:60 * 4096] + bytes(10 * 4096) + want[70 * 4096:]
report(os.pread(fd, 100 * 4096, 0) == want and b0 - counts()[0] == 81,
       "... reads as zeros and keeps the blocks allocated", f"{b0 - counts()[0]}")
report(falloc(fd, 0x08, 0, 4096) == errno.EOPNOTSUPP, "COLLAPSE_RANGE: EOPNOTSUPP")
report(falloc(fd, 0x20, 0, 4096) == errno.EOPNOTSUPP, "INSERT_RANGE: EOPNOTSUPP")
report(falloc(fd, 0x40, 0, 4096) == errno.EOPNOTSUPP, "UNSHARE_RANGE: EOPNOTSUPP")
report(falloc(fd, 0x02, 0, 4096) == errno.EOPNOTSUPP, "PUNCH_HOLE without KEEP_SIZE: EOPNOTSUPP")
report(falloc(fd, 0, -1, 4096) == errno.EINVAL and falloc(fd, 0, 0, 0) == errno.EINVAL,
       "negative offset, zero length: EINVAL")
report(falloc(fd, 1, 200 * 4096, 30 * 4096) == 0 and b0 - counts()[0] == 111,
       "KEEP_SIZE preallocation past the end of the file", f"{b0 - counts()[0]}")
report(falloc(fd, 0x02 | 0x01, 210 * 4096, 10 * 4096) == 0 and b0 - counts()[0] == 101,
       "punching past the end of the file frees preallocated blocks there", f"{b0 - counts()[0]}")
report(os.fstat(fd).st_size == 100 * 4096, "... and keeps the size")
os.ftruncate(fd, 205 * 4096)
report(b0 - counts()[0] == 101, "truncating up keeps the blocks preallocated past the old size",
       f"{b0 - counts()[0]}")
report(os.pread(fd, 5 * 4096, 200 * 4096) == bytes(5 * 4096), "... which read as zeros")
os.ftruncate(fd, 205 * 4096)
report(b0 - counts()[0] == 86, "truncating to the same size frees the preallocation past it",
       f"{b0 - counts()[0]}")
os.ftruncate(fd, 100 * 4096)
report(b0 - counts()[0] == 81, "truncating down frees the rest", f"{b0 - counts()[0]}")
free = counts()[0]
e = falloc(fd, 1, 1 << 30, (free + 10) * 4096)
report(e == errno.ENOSPC, "preallocating more than the free space: ENOSPC", f"{e}")
report(counts()[0] == free, "... before allocating anything", f"{counts()[0]} vs {free}")
fd2 = os.open(p("fa2"), os.O_CREAT | os.O_RDWR, 0o600)
report(os.write(fd2, b"x" * 4096) == 4096, "... and the filesystem stays usable")
os.close(fd2)
os.unlink(p("fa2"))
os.close(fd)
os.unlink(p("fa"))
report(counts() == (b0, a0, i0), "unlink after fallocate gives everything back", f"{counts()} vs {(b0, a0, i0)}")

# Fill the device: the write that does not fit fails with ENOSPC (or is
# short), the filesystem stays usable, and everything comes back.
err = None
written = 0
with open(p("fill"), "wb", buffering=0) as f:
    chunk = b"\x5a" * (1 << 20)
    try:
        while True:
            n = f.write(chunk)
            written += n
            if n < len(chunk):
                f.write(chunk[n:])
    except OSError as e:
        err = e.errno
report(err == errno.ENOSPC, "filling the device ends with ENOSPC", f"errno {err}")
bf = counts()[0]
report(bf < 64, "at ENOSPC almost no block is free", f"{bf} free")
report(os.stat(p("fill")).st_size == written, "the file size is what write() reported")
try:
    with open(p("small"), "wb") as f:
        f.write(b"z" * 8192)
    small = "written"
except OSError as e:
    small = errno.errorcode.get(e.errno, str(e.errno))
report(small in ("written", "ENOSPC"), "a further write fails cleanly", small)
if os.path.exists(p("small")):
    os.unlink(p("small"))
with open(p("fill"), "rb") as f:
    head = f.read(1 << 20)
report(head == chunk, "data written before ENOSPC reads back")
os.unlink(p("fill"))
report(counts() == (b0, a0, i0), "after ENOSPC and unlink every block is free again", f"{counts()} vs {(b0, a0, i0)}")

# Inodes: create empty files until ENOSPC.
os.mkdir(p("many"))
n = 0
err = None
try:
    while True:
        os.close(os.open(p(f"many/{n}"), os.O_CREAT | os.O_WRONLY, 0o600))
        n += 1
except OSError as e:
    err = e.errno
report(err == errno.ENOSPC, f"creating files until the inodes run out ends with ENOSPC ({n} files)", f"errno {err}")
report(counts()[2] == 0, "at ENOSPC no inode is free", f"{counts()[2]}")
for k in range(n):
    os.unlink(p(f"many/{k}"))
os.rmdir(p("many"))
report(counts() == (b0, a0, i0), "after removing them every inode and block is free again", f"{counts()} vs {(b0, a0, i0)}")
sys.exit(exit_status())

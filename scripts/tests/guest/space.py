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

mnt = sys.argv[1]
fails = 0


def report(good, name, why=""):
    global fails
    if good:
        print(f"ok - daxfs space: {name}")
    else:
        fails += 1
        print(f"not ok - daxfs space: {name}" + (f": {why}" if why else ""))


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
sys.exit(1 if fails else 0)

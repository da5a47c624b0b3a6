#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The demo's MAP_SYNC store loop (scripts/demo-guest.sh).

Usage: demo_stores.py SEALED PREALLOCATED
  Two files of the same size on one mounted daxfs: SEALED sealed, PREALLOCATED
  unsealed and preallocated (fallocate, unwritten extents).
Each file is mapped whole with a plain mmap(NULL, size, PROT_READ|PROT_WRITE,
MAP_SHARED_VALIDATE|MAP_SYNC), as an application would, and one byte is
stored at the start of every 4 KiB page (the first store to each page). The
per-mount counters in /sys/fs/daxfs/DEV/ are read just before and just after
the stores. Prints the time and the counter deltas of both files side by side.
Exit 1 if the sealed file's stores allocated or committed anything (the demo
must not claim what did not happen), or if the preallocated file's did not
(then the comparison shows nothing).
"""
import ctypes
import mmap
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "tests", "guest"))
from pmem_calls import BS, MAP_FAILED, MAP_SHARED_VALIDATE, MAP_SYNC, libc, sysfs_dir  # noqa: E402

COUNTERS = ("write_faults", "write_faults_alloc", "fault_commits", "commits")


def device_of(path):
    """The device of the daxfs mount holding PATH (the longest mount point)."""
    path = os.path.realpath(path)
    best = None
    with open("/proc/mounts") as f:
        for ln in f:
            dev, mnt, fstype = ln.split()[:3]
            if fstype == "daxfs" and (path == mnt or path.startswith(mnt.rstrip("/") + "/")):
                if best is None or len(mnt) > len(best[1]):
                    best = (dev, mnt)
    if best is None:
        sys.exit(f"demo_stores.py: {path} is not on a mounted daxfs")
    return best[0]


def read_counters(sysfs):
    values = {}
    for c in COUNTERS:
        with open(os.path.join(sysfs, c)) as f:
            values[c] = int(f.read())
    return values


def stores(path, sysfs):
    """Maps PATH with MAP_SYNC and stores to each page; returns the page
    count, the seconds the stores took and the counter deltas (taken before
    munmap and close)."""
    size = os.stat(path).st_size
    fd = os.open(path, os.O_RDWR)
    addr = libc.mmap(None, size, mmap.PROT_READ | mmap.PROT_WRITE,
                     MAP_SHARED_VALIDATE | MAP_SYNC, fd, 0)
    if addr in (None, MAP_FAILED):
        err = ctypes.get_errno()
        os.close(fd)
        raise OSError(err, f"mmap MAP_SHARED_VALIDATE|MAP_SYNC of {path}: {os.strerror(err)}")
    one = ctypes.c_char(b"x")
    before = read_counters(sysfs)
    t0 = time.monotonic()
    for off in range(0, size, BS):
        ctypes.memmove(addr + off, ctypes.byref(one), 1)
    elapsed = time.monotonic() - t0
    after = read_counters(sysfs)
    libc.munmap(addr, size)
    os.close(fd)
    return size // BS, elapsed, {c: after[c] - before[c] for c in COUNTERS}


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[2])
    sealed, prealloc = sys.argv[1:3]
    sysfs = sysfs_dir(device_of(sealed))
    if device_of(prealloc) != device_of(sealed):
        sys.exit("demo_stores.py: both files must be on the same daxfs")
    size = os.stat(sealed).st_size
    if os.stat(prealloc).st_size != size:
        sys.exit("demo_stores.py: the two files must have the same size")
    rows = {}
    for label, path in (("sealed", sealed), ("preallocated", prealloc)):
        rows[label] = stores(path, sysfs)
    s, p = rows["sealed"], rows["preallocated"]
    print(f"{size >> 20} MiB each, one store to each of {s[0]} pages, "
          f"counters from {sysfs}/")
    print(f"{'':22}{'sealed':>12}{'preallocated':>14}")
    print(f"{'time (ms)':22}{s[1] * 1000:12.1f}{p[1] * 1000:14.1f}")
    for c in COUNTERS:
        print(f"{c:22}{s[2][c]:12}{p[2][c]:14}")
    fail = False
    sd, pd = s[2], p[2]
    if sd["write_faults_alloc"] == 0 and sd["fault_commits"] == 0 and sd["commits"] == 0:
        print("sealed: no allocation and no journal commit for any of its MAP_SYNC stores")
    else:
        print("FAIL: the sealed file's MAP_SYNC stores allocated or committed: "
              f"write_faults_alloc {sd['write_faults_alloc']}, fault_commits "
              f"{sd['fault_commits']}, commits {sd['commits']}")
        fail = True
    if pd["write_faults_alloc"] > 0 and pd["fault_commits"] > 0:
        print(f"preallocated: {pd['write_faults_alloc']} write faults converted unwritten "
              f"blocks, with {pd['fault_commits']} journal commits made by the faults")
    else:
        print("FAIL: the preallocated file's stores made no allocation or no commit: "
              "the comparison shows nothing")
        fail = True
    return 1 if fail else 0


sys.exit(main())

#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""MAP_SYNC write-fault benchmark, run in the guest on a mounted filesystem.

usage: faults.py MNT LABEL [ROUNDS]

Times the first store to each 4 KiB page of a 32 MiB file mapped with
MAP_SHARED_VALIDATE | MAP_SYNC (one write fault per page, or per huge page
where the filesystem maps 2 MiB at once), for files prepared three ways:

  mapsync-sparse    ftruncate only: every fault allocates;
  mapsync-prealloc  fallocate(0): every fault converts an unwritten extent;
  mapsync-ready     the best a filesystem offers before mmap: on daxfs the
                    file is sealed (FALLOC_FL_SEAL_BLOCK_MAP); elsewhere it
                    is written with zeros and fsync'd, so its block map is
                    clean (the state sealing guarantees on daxfs, but only
                    until something changes the map);
  mapsync-written   written with zeros and fsync'd on every filesystem,
                    daxfs included: the floor of a fault that finds its
                    block written (what a sealed fault should cost).

The file is made, mapped and touched in a fresh mapping for each run; the
stores are timed, not the preparation. Prints "bench LABEL PATTERN SECONDS"
lines: the median of ROUNDS (default 7) runs.
"""
import ctypes
import mmap
import os
import statistics
import sys
import time

MNT, LABEL = sys.argv[1], sys.argv[2]
ROUNDS = int(sys.argv[3]) if len(sys.argv) > 3 else 7
SIZE, PAGE = 32 << 20, 4096
MAP_SHARED_VALIDATE, MAP_SYNC = 0x03, 0x80000
SEAL, UNSEAL = 0x100, 0x200
path = os.path.join(MNT, "bench-faults")
libc = ctypes.CDLL(None, use_errno=True)
libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]


def falloc(fd, mode, off, length):
    if libc.fallocate(fd, mode, off, length) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def prepare(how):
    if os.path.exists(path):
        fd = os.open(path, os.O_RDWR)
        if LABEL == "daxfs":
            falloc(fd, UNSEAL, 0, 1)
        os.close(fd)
        os.unlink(path)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    if how == "sparse":
        os.ftruncate(fd, SIZE)
    elif how == "prealloc":
        falloc(fd, 0, 0, SIZE)
    elif how == "ready" and LABEL == "daxfs":
        falloc(fd, SEAL, 0, SIZE)
    else:
        zeros = bytes(1 << 20)
        for off in range(0, SIZE, len(zeros)):
            os.pwrite(fd, zeros, off)
        os.fsync(fd)
    return fd


def run(how):
    fd = prepare(how)
    m = mmap.mmap(fd, SIZE, flags=MAP_SHARED_VALIDATE | MAP_SYNC,
                  prot=mmap.PROT_READ | mmap.PROT_WRITE)
    t = time.perf_counter()
    for off in range(0, SIZE, PAGE):
        m[off] = 1
    d = time.perf_counter() - t
    m.close()
    os.close(fd)
    return d


for how in ("sparse", "prealloc", "ready", "written"):
    runs = [run(how) for _ in range(ROUNDS)]
    print(f"bench {LABEL} mapsync-{how} {statistics.median(runs):.4f}", flush=True)
prepare("sparse")
os.unlink(path)

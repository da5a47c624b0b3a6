#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Small-write benchmark, run in the guest on a mounted filesystem.

usage: writes.py MNT LABEL [ROUNDS]

Times, in one process, the write patterns whose cost is per call rather than
per byte: appending 20 MiB in 4 KiB write(2)s to a new file (allocation and
size change per call) and overwriting those 20 MiB in 4 KiB pwrite(2)s
(time update per call), then fsync. Prints "bench LABEL PATTERN SECONDS"
lines: the median of ROUNDS (default 3) runs.
"""
import os
import statistics
import sys
import time

MNT, LABEL = sys.argv[1], sys.argv[2]
ROUNDS = int(sys.argv[3]) if len(sys.argv) > 3 else 3
N, BS = 5120, 4096
path = os.path.join(MNT, "bench-writes")


def append():
    if os.path.exists(path):
        os.unlink(path)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)
    buf = b"\xab" * BS
    t = time.perf_counter()
    for _ in range(N):
        os.write(fd, buf)
    os.fsync(fd)
    d = time.perf_counter() - t
    os.close(fd)
    return d


def overwrite():
    fd = os.open(path, os.O_WRONLY)
    buf = b"\xcd" * BS
    t = time.perf_counter()
    for k in range(N):
        os.pwrite(fd, buf, k * BS)
    os.fsync(fd)
    d = time.perf_counter() - t
    os.close(fd)
    return d


for name, fn in (("append-4k", append), ("overwrite-4k", overwrite)):
    runs = []
    for _ in range(ROUNDS):
        if name == "overwrite-4k" and not os.path.exists(path):
            append()
        runs.append(fn())
    print(f"bench {LABEL} {name} {statistics.median(runs):.4f}", flush=True)
os.unlink(path)

#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""fio benchmark, run in the benchmark VM on a mounted filesystem.

usage: fio.py MNT LABEL

Runs the fio jobs pmem users run, one at a time, each a fixed amount of
work on one file in MNT, and prints "bench LABEL fio-JOB SECONDS" (fio's
job runtime, the time the I/O took; laying out a file to read or
overwrite is not timed):

  psync-{4k,1m}-{seqwrite,randwrite}  write(2)/pwrite(2) to a new, sparse
        file (fallocate=none): the allocating writes of a file being made;
  psync-{4k,1m}-{seqread,randread}    reads of a laid-out file;
  psync-4k-overwrite                  random 4 KiB pwrite(2)s over a
        laid-out file (no allocation);
  fsync-4k-append                     4 KiB appends to a new file, each
        followed by fsync(2) (a log);
  libpmem-4k-{seqwrite,randread}      the libpmem engine: the file is
        mapped and written with libpmem's non-temporal copies (made
        durable by the engine), or read with loads;
  mmap-4k-randwrite                   the mmap engine: stores to a shared
        mapping of a laid-out file.

A failed job prints "bench-error LABEL fio-JOB ..." and the script exits 1.

For scripts/profile.sh: DAXFS_FIO_JOBS="JOB ..." runs only those jobs, and
DAXFS_FIO_PERF=DIR records each job with "perf record -a -g" into
DIR/LABEL-fio-JOB.data; a job that reads or overwrites a laid-out file then
lays it out first, in a fio run of its own (--create_only), so that the
profile holds the timed I/O only.
"""
import json
import os
import subprocess
import sys

MNT, LABEL = sys.argv[1], sys.argv[2]

# name: (fio options). Sizes keep each job near a second under TCG.
JOBS = [
    ("psync-4k-seqwrite", "--ioengine=psync --rw=write --bs=4k --size=16m --fallocate=none"),
    ("psync-4k-randwrite", "--ioengine=psync --rw=randwrite --bs=4k --size=16m --fallocate=none"),
    ("psync-4k-overwrite", "--ioengine=psync --rw=randwrite --bs=4k --size=16m --overwrite=1"),
    ("psync-4k-seqread", "--ioengine=psync --rw=read --bs=4k --size=16m"),
    ("psync-4k-randread", "--ioengine=psync --rw=randread --bs=4k --size=16m"),
    ("psync-1m-seqwrite", "--ioengine=psync --rw=write --bs=1m --size=128m --fallocate=none"),
    ("psync-1m-randwrite", "--ioengine=psync --rw=randwrite --bs=1m --size=128m --fallocate=none"),
    ("psync-1m-seqread", "--ioengine=psync --rw=read --bs=1m --size=128m"),
    ("psync-1m-randread", "--ioengine=psync --rw=randread --bs=1m --size=128m"),
    ("fsync-4k-append", "--ioengine=psync --rw=write --bs=4k --size=2m --fsync=1 --fallocate=none"),
    ("libpmem-4k-seqwrite", "--ioengine=libpmem --rw=write --bs=4k --size=32m"),
    ("libpmem-4k-randread", "--ioengine=libpmem --rw=randread --bs=4k --size=32m"),
    ("mmap-4k-randwrite", "--ioengine=mmap --rw=randwrite --bs=4k --size=32m --overwrite=1"),
]


ONLY = os.environ.get("DAXFS_FIO_JOBS", "").split()
PERF = os.environ.get("DAXFS_FIO_PERF")


def run(name, opts):
    path = os.path.join(MNT, "bench-fio")
    if os.path.exists(path):
        os.unlink(path)
    cmd = ["fio", "--name=" + name, "--filename=" + path, "--output-format=json",
           "--randrepeat=1", "--norandommap", "--invalidate=0"] + opts.split()
    if PERF:
        if "read" in name or "--overwrite=1" in opts:
            subprocess.run(cmd + ["--create_only=1"], capture_output=True, check=True)
        cmd = ["perf", "record", "-q", "-a", "-g", "-e", "cpu-clock", "-F", "4000",
               "-o", os.path.join(PERF, f"{LABEL}-fio-{name}.data"), "--"] + cmd
    p = subprocess.run(cmd, capture_output=True, text=True)
    if os.path.exists(path):
        os.unlink(path)
    if p.returncode != 0:
        lines = (p.stderr + p.stdout).splitlines()
        err = [x for x in lines if x.startswith("fio:") or "err=" in x] or lines[-1:]
        print(f"bench-error {LABEL} fio-{name}: exit {p.returncode}: {err[0] if err else ''}")
        return False
    try:
        job = json.loads(p.stdout[p.stdout.index("{"):])["jobs"][0]
    except (ValueError, KeyError, IndexError) as e:
        print(f"bench-error {LABEL} fio-{name}: unreadable output ({e})")
        return False
    if job.get("error"):
        print(f"bench-error {LABEL} fio-{name}: fio error {job['error']}")
        return False
    print(f"bench {LABEL} fio-{name} {job['job_runtime'] / 1000:.3f}", flush=True)
    return True


ok = all([run(n, o) for n, o in JOBS if not ONLY or n in ONLY])
sys.exit(0 if ok else 1)

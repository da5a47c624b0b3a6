#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Data integrity against a reference model, on any mounted filesystem.

usage: integrity.py run LABEL DIR SEED OPS    random operations, checked as they go
       integrity.py verify LABEL DIR SEED     after remount: files equal the model

The model is an in-memory bytearray per file; operations are pwrite (aligned
and unaligned, within and beyond EOF, leaving holes), pwritev, O_APPEND
writes, truncate up and down, ftruncate, fallocate (preallocation with and
without KEEP_SIZE, PUNCH_HOLE, ZERO_RANGE) and writes through a shared
mapping. After every few operations the file is read back (pread, and through
mmap) and compared. `run` saves the model to DIR/.model so `verify`, in a
fresh mount, can compare the persisted files.
"""

import ctypes
import mmap
import os
import pickle
import random
import sys

from tap import Reporter, exit_status

MAXSIZE = 8 << 20
FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, FALLOC_FL_ZERO_RANGE = 0x01, 0x02, 0x10
_libc = ctypes.CDLL(None, use_errno=True)


def fallocate(path, mode, off, ln):
    fd = os.open(path, os.O_WRONLY)
    try:
        if _libc.fallocate(fd, mode, ctypes.c_longlong(off), ctypes.c_longlong(ln)) != 0:
            e = ctypes.get_errno()
            raise OSError(e, os.strerror(e))
    finally:
        os.close(fd)


def report(ok, label, name, why=""):
    Reporter(label)(ok, name, why)


def first_diff(a, b):
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return f"first difference at byte {i}: got {a[i]:#x}, want {b[i]:#x}; sizes {len(a)}/{len(b)}"
    return f"sizes differ: got {len(a)}, want {len(b)}"


def read_all(path):
    with open(path, "rb") as f:
        return f.read()


def mmap_read(path):
    size = os.path.getsize(path)
    if size == 0:
        return b""
    with open(path, "rb") as f, mmap.mmap(f.fileno(), size, prot=mmap.PROT_READ) as m:
        return bytes(m)


def run(label, d, seed, nops):
    rnd = random.Random(int(seed))
    os.makedirs(d, exist_ok=True)
    names = [f"f{i}" for i in range(4)]
    model = {n: bytearray() for n in names}
    for n in names:
        open(os.path.join(d, n), "wb").close()
    counts = {}
    for op_no in range(int(nops)):
        n = rnd.choice(names)
        path = os.path.join(d, n)
        m = model[n]
        op = rnd.choice(["pwrite", "pwrite_aligned", "pwritev", "append", "truncate_down",
                         "truncate_up", "ftruncate", "pwrite_far", "prealloc", "punch",
                         "zero_range", "mmap_write"])
        counts[op] = counts.get(op, 0) + 1
        if op in ("pwrite", "pwrite_aligned", "pwrite_far", "pwritev"):
            if op == "pwrite_aligned":
                off, ln = rnd.randrange(0, 512) * 4096, rnd.choice([4096, 8192, 65536, 2 << 20])
            elif op == "pwrite_far":
                off, ln = len(m) + rnd.randrange(1, 3 << 20), rnd.randrange(1, 10000)
            else:
                off, ln = rnd.randrange(0, max(1, len(m) + 20000)), rnd.randrange(1, 200000)
            off = min(off, MAXSIZE - ln)
            data = rnd.randbytes(ln)
            fd = os.open(path, os.O_WRONLY)
            if op == "pwritev":
                cut = rnd.randrange(0, ln)
                os.pwritev(fd, [data[:cut], data[cut:]], off)
            else:
                os.pwrite(fd, data, off)
            os.close(fd)
            if off > len(m):
                m.extend(b"\0" * (off - len(m)))
            m[off:off + ln] = data
        elif op == "append":
            data = rnd.randbytes(rnd.randrange(1, 50000))
            if len(m) + len(data) <= MAXSIZE:
                fd = os.open(path, os.O_WRONLY | os.O_APPEND)
                os.write(fd, data)
                os.close(fd)
                m.extend(data)
        elif op == "truncate_down":
            size = rnd.randrange(0, len(m) + 1)
            os.truncate(path, size)
            del m[size:]
        elif op in ("truncate_up", "ftruncate"):
            size = min(MAXSIZE, len(m) + rnd.randrange(0, 1 << 20))
            if op == "ftruncate":
                fd = os.open(path, os.O_WRONLY)
                os.ftruncate(fd, size)
                os.close(fd)
            else:
                os.truncate(path, size)
            m.extend(b"\0" * (size - len(m)))
        elif op == "prealloc":
            # Preallocated (unwritten) blocks read as zeros; without KEEP_SIZE the file grows.
            keep = rnd.random() < 0.5
            off = rnd.randrange(0, len(m) + (1 << 20))
            ln = min(rnd.randrange(1, 1 << 20), MAXSIZE - off)
            if ln > 0:
                fallocate(path, FALLOC_FL_KEEP_SIZE if keep else 0, off, ln)
                if not keep and off + ln > len(m):
                    m.extend(b"\0" * (off + ln - len(m)))
        elif op in ("punch", "zero_range"):
            if len(m) > 0:
                off = rnd.randrange(0, len(m))
                ln = rnd.choice([rnd.randrange(1, 9000), rnd.randrange(1, len(m) - off + 20000)])
                keep = op == "punch" or rnd.random() < 0.5
                if op == "punch":
                    mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
                else:
                    mode = FALLOC_FL_ZERO_RANGE | (FALLOC_FL_KEEP_SIZE if keep else 0)
                ln = min(ln, MAXSIZE - off)
                fallocate(path, mode, off, ln)
                end = off + ln
                m[off:min(end, len(m))] = b"\0" * (min(end, len(m)) - off)
                if not keep and end > len(m):
                    m.extend(b"\0" * (end - len(m)))
        elif op == "mmap_write":
            # Writes through a shared mapping: page faults allocate (or convert) blocks.
            if len(m) > 0:
                off = rnd.randrange(0, len(m))
                ln = min(rnd.randrange(1, 100000), len(m) - off)
                data = rnd.randbytes(ln)
                with open(path, "r+b") as f, mmap.mmap(f.fileno(), len(m)) as mm:
                    mm[off:off + ln] = data
                    mm.flush()
                m[off:off + ln] = data
        if op_no % 8 == 7:
            got = read_all(path)
            if got != bytes(m):
                report(False, label, f"op {op_no} ({op} on {n}) read back", first_diff(got, bytes(m)))
                return
    for n in names:
        path = os.path.join(d, n)
        got = read_all(path)
        report(got == bytes(model[n]), label, f"{n}: read(2) equals the model after {nops} ops",
               "" if got == bytes(model[n]) else first_diff(got, bytes(model[n])))
        got = mmap_read(path)
        report(got == bytes(model[n]), label, f"{n}: mmap read equals the model",
               "" if got == bytes(model[n]) else first_diff(got, bytes(model[n])))
    print(f"# ops: {sorted(counts.items())}")
    with open(os.path.join(d, ".model"), "wb") as f:
        pickle.dump({n: bytes(b) for n, b in model.items()}, f)
        f.flush()
        os.fsync(f.fileno())


def verify(label, d, _seed):
    with open(os.path.join(d, ".model"), "rb") as f:
        model = pickle.load(f)
    for n, want in sorted(model.items()):
        got = read_all(os.path.join(d, n))
        report(got == want, label, f"{n}: equals the model after remount",
               "" if got == want else first_diff(got, want))


if __name__ == "__main__":
    cmd = sys.argv[1]
    (run if cmd == "run" else verify)(*sys.argv[2:])
    sys.exit(exit_status())

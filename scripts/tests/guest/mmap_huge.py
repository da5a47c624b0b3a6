#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Huge pages as users get them: a plain mmap(NULL, len).

Usage: mmap_huge.py MNT [LABEL]
  MNT    a daxfs, mounted read-write, with 128 MiB free
  LABEL  what the check lines say the filesystem is (default "fresh";
         36-daxfs-mmap-huge also runs it on an aged one)
A plain mmap(NULL, 64 MiB, MAP_SHARED_VALIDATE|MAP_SYNC) of a 64 MiB file
must return a 2 MiB-aligned address (thp_get_unmapped_area, as on ext4
and xfs), and the first store to each page of a sealed file must take one
write fault per 2 MiB (PMD faults), counted in /sys/fs/daxfs/DEV/. The
same stores to a preallocated (fallocate mode 0) unsealed file are
counted and reported, not checked: how many of its 2 MiB chunks a fault
maps at once. Files written by 1 MiB and by 4 KiB appends and then sealed
must have every chunk (1 MiB) or more than half of them (4 KiB) mapped by
one fault on a fresh filesystem; on an aged one that is reported.
Prints ok/not ok lines; exit 1 on failure.
"""
import ctypes
import mmap
import os
import sys

from tap import Reporter, exit_status

from pmem_calls import BS, MAP_FAILED, MAP_SHARED_VALIDATE, MAP_SYNC, SEAL, UNSEAL, libc, sysfs_dir

SIZE, HUGE = 64 << 20, 2 << 20
mnt = sys.argv[1]
label = sys.argv[2] if len(sys.argv) > 2 else "fresh"
report = Reporter(f"daxfs mmap huge ({label})")
dev = next(ln.split()[0] for ln in open("/proc/mounts") if ln.split()[1] == mnt)
sysfs = sysfs_dir(dev)


def counter(name):
    with open(os.path.join(sysfs, name)) as f:
        return int(f.read())


def plain_map(path, flags):
    fd = os.open(path, os.O_RDWR)
    addr = libc.mmap(None, SIZE, mmap.PROT_READ | mmap.PROT_WRITE, flags, fd, 0)
    os.close(fd)
    if addr in (None, MAP_FAILED):
        raise OSError(ctypes.get_errno(), "mmap")
    return addr


def huge_chunks(faults):
    """How many 2 MiB chunks one fault mapped, of SIZE // HUGE, from the
    number of write faults a store to every 4 KiB page took (a chunk
    takes 1 fault, or one per page)."""
    chunks, per = SIZE // HUGE, HUGE // BS
    return max(0, min(chunks, (chunks * per - faults) // (per - 1)))


def touch(addr):
    one = ctypes.c_char(b"x")
    before = counter("write_faults")
    for off in range(0, SIZE, BS):
        ctypes.memmove(addr + off, ctypes.byref(one), 1)
    return counter("write_faults") - before


sealed = os.path.join(mnt, "huge-sealed")
fd = os.open(sealed, os.O_CREAT | os.O_RDWR, 0o600)
if libc.fallocate(fd, SEAL, 0, SIZE) != 0:
    report(False, "seal 64 MiB", os.strerror(ctypes.get_errno()))
    sys.exit(exit_status())
os.close(fd)
for how, flags in (("MAP_SHARED", mmap.MAP_SHARED),
                     ("MAP_SHARED_VALIDATE|MAP_SYNC", MAP_SHARED_VALIDATE | MAP_SYNC)):
    addr = plain_map(sealed, flags)
    report(addr % HUGE == 0, f"plain mmap(NULL, 64 MiB, {how}) is 2 MiB-aligned",
           f"address {addr:#x} is {addr % HUGE} bytes into a 2 MiB page")
    faults = touch(addr)
    print(f"# {label}: sealed, {how}: {faults} write faults, "
          f"{huge_chunks(faults)} of {SIZE // HUGE} 2 MiB chunks mapped by one fault")
    report(faults == SIZE // HUGE,
           f"{how}: a store to every page of a sealed 64 MiB file takes one fault per 2 MiB",
           f"{faults} write faults, want {SIZE // HUGE}")
    libc.munmap(addr, SIZE)
# The same stores to a preallocated, unsealed file: reported only.
prealloc = os.path.join(mnt, "huge-prealloc")
fd = os.open(prealloc, os.O_CREAT | os.O_RDWR, 0o600)
if libc.fallocate(fd, 0, 0, SIZE) != 0:
    report(False, "fallocate 64 MiB", os.strerror(ctypes.get_errno()))
    sys.exit(exit_status())
os.close(fd)
addr = plain_map(prealloc, MAP_SHARED_VALIDATE | MAP_SYNC)
faults = touch(addr)
libc.munmap(addr, SIZE)
print(f"# {label}: preallocated, unsealed, MAP_SHARED_VALIDATE|MAP_SYNC: {faults} write faults, "
      f"{huge_chunks(faults)} of {SIZE // HUGE} 2 MiB chunks mapped by one fault")
os.unlink(prealloc)
# Files written by appends, then sealed: a seal keeps the blocks a file
# has, so its huge pages depend on where the appends put them. On a fresh
# filesystem, 1 MiB write(2)s (dd bs=1M) must give every 2 MiB chunk in
# phase, and 4 KiB ones (allocated ahead up to 2 MiB boundaries of the
# file, ahead.rs) most chunks: a short run in a partly used group costs
# the chunk it falls in (29 of 32 on 2026-12-04; 0 before). Reported on an
# aged filesystem.
for what, bs, want in (("1 MiB", 1 << 20, SIZE // HUGE), ("4 KiB", BS, SIZE // HUGE // 2)):
    path = os.path.join(mnt, "huge-appended")
    buf = b"a" * bs
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)
    for _ in range(SIZE // bs):
        os.write(fd, buf)
    os.fsync(fd)
    os.close(fd)
    fd = os.open(path, os.O_RDWR)
    sealed_ok = libc.fallocate(fd, SEAL, 0, SIZE) == 0
    os.close(fd)
    addr = plain_map(path, MAP_SHARED_VALIDATE | MAP_SYNC)
    faults = touch(addr)
    libc.munmap(addr, SIZE)
    chunks = huge_chunks(faults)
    print(f"# {label}: written by {what} appends, sealed: {faults} write faults, "
          f"{chunks} of {SIZE // HUGE} 2 MiB chunks mapped by one fault")
    if label == "fresh":
        report(sealed_ok and chunks >= want,
               f"a 64 MiB file written by {what} appends and sealed: "
               f"at least {want} of {SIZE // HUGE} chunks mapped by one fault",
               f"sealed: {sealed_ok}, {faults} write faults, {chunks} chunks")
    fd = os.open(path, os.O_RDWR)
    libc.fallocate(fd, UNSEAL, 0, 1)
    os.close(fd)
    os.unlink(path)
small = os.path.join(mnt, "small")
with open(small, "wb") as f:
    f.write(b"s" * (1 << 20))
fd = os.open(small, os.O_RDWR)
addr = libc.mmap(None, 1 << 20, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
os.close(fd)
report(addr not in (None, MAP_FAILED), "a 1 MiB mapping still works (no alignment needed)")
if addr not in (None, MAP_FAILED):
    libc.munmap(addr, 1 << 20)
sys.exit(exit_status())

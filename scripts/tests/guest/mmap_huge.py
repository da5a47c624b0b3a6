#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Huge pages as users get them: a plain mmap(NULL, len).

Usage: mmap_huge.py MNT
  MNT  a fresh daxfs, mounted read-write.
A plain mmap(NULL, 32 MiB, MAP_SHARED_VALIDATE|MAP_SYNC) of a 32 MiB file
must return a 2 MiB-aligned address (thp_get_unmapped_area, as on ext4
and xfs), and the first store to each page of a sealed file must take one
write fault per 2 MiB (PMD faults), counted in /sys/fs/daxfs/DEV/.
Prints ok/not ok lines; exit 1 on failure.
"""
import ctypes
import mmap
import os
import sys

from tap import Reporter, exit_status

from pmem_calls import BS, MAP_FAILED, MAP_SHARED_VALIDATE, MAP_SYNC, SEAL, libc, sysfs_dir

SIZE, HUGE = 32 << 20, 2 << 20
mnt = sys.argv[1]
report = Reporter("daxfs mmap huge")
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


def touch(addr):
    one = ctypes.c_char(b"x")
    before = counter("write_faults")
    for off in range(0, SIZE, BS):
        ctypes.memmove(addr + off, ctypes.byref(one), 1)
    return counter("write_faults") - before


sealed = os.path.join(mnt, "huge-sealed")
fd = os.open(sealed, os.O_CREAT | os.O_RDWR, 0o600)
if libc.fallocate(fd, SEAL, 0, SIZE) != 0:
    report(False, "seal 32 MiB", os.strerror(ctypes.get_errno()))
    sys.exit(exit_status())
os.close(fd)
for label, flags in (("MAP_SHARED", mmap.MAP_SHARED),
                     ("MAP_SHARED_VALIDATE|MAP_SYNC", MAP_SHARED_VALIDATE | MAP_SYNC)):
    addr = plain_map(sealed, flags)
    report(addr % HUGE == 0, f"plain mmap(NULL, 32 MiB, {label}) is 2 MiB-aligned",
           f"address {addr:#x} is {addr % HUGE} bytes into a 2 MiB page")
    faults = touch(addr)
    report(faults == SIZE // HUGE,
           f"{label}: a store to every page of a sealed 32 MiB file takes one fault per 2 MiB",
           f"{faults} write faults, want {SIZE // HUGE}")
    libc.munmap(addr, SIZE)
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

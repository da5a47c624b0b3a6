#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""What a seal promises, checked where it matters.

Usage: seal_trust.py DEV MNT TOOLS
  DEV    a pmem device (made anew by each check with mkfs.daxfs), MNT a
         mount point, TOOLS the directory of mkfs/fsck/dump.daxfs.
Checks:
  crash  a crash at every transaction boundary inside seal and inside
         unseal (/sys/fs/daxfs/DEV/debug_fail_commit makes the n-th next
         commit fail and shuts the journal down, as a crash there would):
         after the next mount (recovery, no fsck) the file is either fully
         sealed or not sealed with no SEALED extent and no pending intent,
         its data is intact, and fsck -n is clean.
  race   no writable shared mapping can be created while an unseal checks
         for them and commits (debug_unseal_delay_ms widens that window).
  count  a MAP_SYNC store to every page of a 64 MiB sealed file makes no
         allocation and no journal commit at all (write_faults_alloc,
         fault_commits, commits), and the times it sets (lazily) are on
         pmem after a remount; the same on a preallocated unsealed file
         (the negative control) allocates and commits.
Prints ok/not ok lines; exit 1 on failure.
"""
import ctypes
import errno
import hashlib
import mmap
import os
import struct
import subprocess
import sys
import threading
import time

from tap import Reporter, exit_status

from pmem_calls import (BS, KEEP_SIZE, MAP_FAILED, MAP_SHARED_VALIDATE, MAP_SYNC, SEAL,
                        UNSEAL, falloc, libc, sysfs_dir)

ATTR_SEALED = 0x00800000  # STATX_ATTR_IOMAP_IMMUTABLE
PROT_RW = mmap.PROT_READ | mmap.PROT_WRITE
SYS_STATX = 332  # x86_64

dev, mnt, tools = sys.argv[1:4]
sysfs = sysfs_dir(dev)
report = Reporter("daxfs seal trust")


def run(*cmd):
    return subprocess.run(cmd, capture_output=True, text=True)


def sealed(path):
    buf = ctypes.create_string_buffer(256)
    if libc.syscall(SYS_STATX, -100, path.encode(), 0, 0xFFF, buf) != 0:
        raise OSError(ctypes.get_errno(), "statx")
    return struct.unpack_from("<Q", buf, 8)[0] & ATTR_SEALED != 0


def knob(name, value=None):
    path = os.path.join(sysfs, name)
    if value is None:
        with open(path) as f:
            return int(f.read())
    with open(path, "w") as f:
        f.write(str(value))
    return value


def mkfs_mount():
    r = run(f"{tools}/mkfs.daxfs", "-q", "-f", dev)
    if r.returncode != 0:
        raise RuntimeError("mkfs.daxfs: " + r.stderr)
    mount()


def mount():
    r = run("mount", "-t", "daxfs", dev, mnt)
    if r.returncode != 0:
        raise RuntimeError("mount: " + r.stderr)


def umount():
    r = run("umount", mnt)
    if r.returncode != 0:
        raise RuntimeError("umount: " + r.stderr)


def make_fragmented(path, other):
    """A file of about 40 one-block extents (interleaved with OTHER's blocks),
    a hole, an unwritten extent and blocks preallocated past its end. Returns
    the content it must keep (holes and unwritten blocks read as zeros)."""
    n = 40
    fa = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    fb = os.open(other, os.O_CREAT | os.O_RDWR, 0o600)
    os.ftruncate(fa, n * BS)
    os.ftruncate(fb, n * BS)
    content = bytearray(n * BS)
    for i in range(n):
        if i != 20:  # block 20 stays a hole
            data = hashlib.sha256(b"%d" % i).digest() * (BS // 32)
            os.pwrite(fa, data, i * BS)
            content[i * BS:(i + 1) * BS] = data
        os.pwrite(fb, b"b" * BS, i * BS)
    assert falloc(fa, 0, n * BS, 3 * BS) == 0  # unwritten, grows the file
    content += bytes(3 * BS)
    assert falloc(fa, KEEP_SIZE, (n + 10) * BS, 3 * BS) == 0  # past the end
    os.fsync(fa)
    os.close(fa)
    os.close(fb)
    return bytes(content)


def dump_inode(path):
    """dump.daxfs lines of the inode of PATH (the filesystem unmounted)."""
    return run(f"{tools}/dump.daxfs", "-i", str(path), dev).stdout


def check_state(label, path, content, sealed_allowed, must_seal=False):
    """After a crash and a remount: the file is sealed or not, never between;
    its data is intact; fsck -n is clean; dump shows no stray flag."""
    name = os.path.basename(path)
    ino = os.stat(path).st_ino
    is_sealed = sealed(path)
    with open(path, "rb") as f:
        data = f.read()
    good = data == content
    if is_sealed:
        fd = os.open(path, os.O_RDWR)
        try:
            os.ftruncate(fd, 0)
            refused = 0
        except OSError as e:
            refused = e.errno
        os.close(fd)
    umount()
    d = dump_inode(ino)
    fsck = run(f"{tools}/fsck.daxfs", "-n", dev)
    sealed_extents = sum(1 for ln in d.splitlines() if "lblk" in ln and " SEALED" in ln)
    extents = sum(1 for ln in d.splitlines() if "lblk" in ln and "pblk" in ln)
    ok = good and fsck.returncode == 0 and "SEAL_INTENT" not in d
    why = []
    if not good:
        why.append(f"{name}: data differs after recovery ({len(data)} vs {len(content)} bytes)")
    if fsck.returncode != 0:
        why.append("fsck -n: " + " | ".join(fsck.stdout.splitlines()[-4:]))
    if "SEAL_INTENT" in d:
        why.append("a seal intent is still pending after the mount")
    if is_sealed:
        ok = ok and sealed_allowed and refused == errno.ETXTBSY and sealed_extents == extents
        if not sealed_allowed:
            why.append("sealed, but the crash came before the seal could commit")
        if refused != errno.ETXTBSY:
            why.append(f"sealed, but truncate gave {errno.errorcode.get(refused, refused)}")
        if sealed_extents != extents:
            why.append(f"sealed, but {extents - sealed_extents} extents are not SEALED")
    else:
        ok = ok and sealed_extents == 0 and not must_seal
        if must_seal:
            why.append("not sealed after a seal that completed")
        if sealed_extents:
            why.append(f"not sealed, but {sealed_extents} extents are SEALED")
    report(ok, f"{label}: {'sealed' if is_sealed else 'not sealed'}, data intact, "
           "no stray flag, fsck clean", "; ".join(why))
    return ok


def crash_points(op):
    """A crash at the k-th commit inside seal (op 'seal') or unseal, for every
    k until the operation completes without reaching the injected failure."""
    for k in range(1, 200):
        mkfs_mount()
        path, other = os.path.join(mnt, "f"), os.path.join(mnt, "other")
        content = make_fragmented(path, other)
        if op == "unseal":
            fd = os.open(path, os.O_RDWR)
            assert falloc(fd, SEAL, 0, len(content)) == 0
            os.close(fd)
        fd = os.open(path, os.O_RDWR)
        before = knob("commits")
        knob("debug_fail_commit", k)
        err = falloc(fd, SEAL if op == "seal" else UNSEAL, 0, len(content))
        made = knob("commits") - before
        left = knob("debug_fail_commit")
        knob("debug_fail_commit", 0)
        os.close(fd)
        umount()
        mount()
        # A crash inside seal may leave either state only after its last
        # commit; one inside unseal leaves the seal only before its first.
        done = err == 0 and left > 0
        if op == "seal":
            allowed = done
        else:
            allowed = not done and made == 0
        if done:
            check_state(f"{op} completes ({made} commits, no crash)", path, content,
                        op == "seal", must_seal=op == "seal")
            report(k > 2, f"{op}: crash points 1..{k - 1} covered every commit of it",
                   f"only {k - 1} commits")
            return
        if err != errno.EIO:
            report(False, f"{op}: crash at commit {k} gives EIO",
                   f"got {errno.errorcode.get(err, err)}")
            umount()
            return
        check_state(f"{op}: crash at commit {k} of it", path, content, allowed)
    report(False, f"{op}: finishes within 200 commits")


def race():
    """Unseal denies new writable shared mappings from its check to its commit."""
    mkfs_mount()
    path = os.path.join(mnt, "r")
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    assert falloc(fd, SEAL, 0, 1 << 20) == 0
    knob("debug_unseal_delay_ms", 1500)
    res = {}

    def unseal():
        res["unseal"] = falloc(fd, UNSEAL, 0, 1 << 20)
        res["t_unseal"] = time.monotonic()

    th = threading.Thread(target=unseal)
    t0 = time.monotonic()
    th.start()
    time.sleep(0.5)
    fd2 = os.open(path, os.O_RDWR)
    addr = libc.mmap(None, 1 << 20, PROT_RW, mmap.MAP_SHARED, fd2, 0)
    t_map = time.monotonic()
    map_err = ctypes.get_errno() if addr in (None, MAP_FAILED) else 0
    if not map_err:
        libc.munmap(addr, 1 << 20)
    th.join()
    knob("debug_unseal_delay_ms", 0)
    in_window = t_map < res["t_unseal"]
    report(in_window, "the mmap came while the unseal was in its window",
           f"mmap at {t_map - t0:.2f}s, unseal done at {res['t_unseal'] - t0:.2f}s")
    report(res["unseal"] == 0 and map_err == errno.EPERM,
           "a writable shared mmap during an unseal fails with EPERM, the unseal succeeds",
           f"unseal: {errno.errorcode.get(res['unseal'], res['unseal'])}, "
           f"mmap: {errno.errorcode.get(map_err, 'succeeded')}")
    # Afterwards writable mappings are allowed again, and they block the next unseal.
    assert falloc(fd, SEAL, 0, 1 << 20) == 0
    ro = libc.mmap(None, 1 << 20, mmap.PROT_READ, mmap.MAP_SHARED, fd2, 0)
    report(ro not in (None, MAP_FAILED), "mmap works again after the unseal")
    e = falloc(fd, UNSEAL, 0, 1 << 20)
    report(e == errno.EBUSY,
           "a read-only MAP_SHARED mapping of an O_RDWR descriptor counts as writable: EBUSY",
           f"unseal gave {errno.errorcode.get(e, e)}")
    if ro not in (None, MAP_FAILED):
        libc.munmap(ro, 1 << 20)
    e = falloc(fd, UNSEAL, 0, 1 << 20)
    report(e == 0, "unseal succeeds once the mapping is gone",
           f"unseal gave {errno.errorcode.get(e, e)}")
    os.close(fd2)
    os.close(fd)
    umount()


COUNTERS = ("write_faults", "write_faults_sealed", "write_faults_alloc", "fault_commits",
            "commits")


def store_every_page(path, size):
    """Maps PATH with MAP_SHARED_VALIDATE|MAP_SYNC and stores to every page;
    returns the counters' deltas over the stores (taken before munmap and
    close, whose times are not the faults')."""
    fd = os.open(path, os.O_RDWR)
    addr = libc.mmap(None, size, PROT_RW, MAP_SHARED_VALIDATE | MAP_SYNC, fd, 0)
    if addr in (None, MAP_FAILED):
        raise OSError(ctypes.get_errno(), "mmap MAP_SYNC")
    before = {c: knob(c) for c in COUNTERS}
    one = ctypes.c_char(b"x")
    for off in range(0, size, BS):
        ctypes.memmove(addr + off, ctypes.byref(one), 1)
    delta = {c: knob(c) - before[c] for c in COUNTERS}
    libc.munmap(addr, size)
    os.close(fd)
    return delta


def counters():
    size = 64 << 20
    mkfs_mount()
    s = os.path.join(mnt, "sealed")
    fd = os.open(s, os.O_CREAT | os.O_RDWR, 0o600)
    assert falloc(fd, SEAL, 0, size) == 0
    os.close(fd)
    m0 = os.stat(s).st_mtime_ns
    time.sleep(0.05)
    d = store_every_page(s, size)
    report(d["write_faults_sealed"] > 0 and d["write_faults"] == d["write_faults_sealed"],
           "sealed 64 MiB MAP_SYNC: every write fault is counted as sealed", str(d))
    report(d["write_faults_alloc"] == 0 and d["fault_commits"] == 0 and d["commits"] == 0,
           "sealed 64 MiB MAP_SYNC: stores to every page make no allocation and no commit",
           str(d))
    # The times the faults set lazily are written by the unmount (sync_lazytime).
    m1 = os.stat(s).st_mtime_ns
    umount()
    mount()
    m2 = os.stat(s).st_mtime_ns
    report(m1 > m0 and m2 == m1, "the modification time set by the faults survives a remount",
           f"sealed at {m0}, after the stores {m1}, after the remount {m2}")
    p = os.path.join(mnt, "prealloc")
    fd = os.open(p, os.O_CREAT | os.O_RDWR, 0o600)
    assert falloc(fd, 0, 0, size) == 0
    os.close(fd)
    d = store_every_page(p, size)
    report(d["write_faults_alloc"] > 0 and d["fault_commits"] > 0 and d["commits"] > 0,
           "negative control: preallocated unsealed 64 MiB: the faults convert and commit",
           str(d))
    umount()
    r = run(f"{tools}/fsck.daxfs", "-n", dev)
    report(r.returncode == 0, "fsck clean after the counter runs", r.stdout[-300:])


def main():
    if not os.path.isdir("/sys/fs/daxfs"):
        report(False, "/sys/fs/daxfs exists (per-mount counters)")
        return
    checks = sys.argv[4:] or ["count", "race", "crash"]
    for c in checks:
        try:
            if c == "crash":
                crash_points("seal")
                crash_points("unseal")
            elif c == "race":
                race()
            elif c == "count":
                counters()
        except (OSError, RuntimeError, AssertionError) as e:
            report(False, f"{c}: ran to the end", repr(e))
            run("umount", mnt)


main()
sys.exit(exit_status())

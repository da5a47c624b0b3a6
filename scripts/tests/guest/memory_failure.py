#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Memory failures on the persistent memory of a mounted daxfs.

Usage: memory_failure.py DEV MNT
  DEV  a pmem block device (fsdax namespace), mkfs'd here: its contents are lost
  MNT  an empty directory to mount it on
daxfs holds its DAX device (fs_dax_get_by_bdev with holder operations), so
memory-failure handling tells it what failed:

- file data (MADV_HWPOISON on a page of a shared mapping of a file): daxfs logs
  the failure and leaves the page to the kernel's generic handling, which kills
  the process with SIGBUS; the filesystem goes on working;
- metadata (the hwpoison injector's corrupt-pfn on the journal's first block,
  which no process maps): daxfs logs it, stops writing (a new file fails with
  EROFS), and the next mount says the filesystem has errors.

A kernel without the holder (the daxfs before it) fails the metadata checks:
the injector reports EBUSY and the filesystem goes on writing.
Prints ok/not ok lines; exit 1 on failure.
"""
import errno
import mmap
import os
import signal
import subprocess
import sys

from tap import Reporter, exit_status

MADV_HWPOISON = 100
PAGE = 4096
dev, mnt = sys.argv[1], sys.argv[2]
name = os.path.basename(dev)
report = Reporter("daxfs memory failure")
inject = "/sys/kernel/debug/hwpoison/corrupt-pfn"


def run(*cmd):
    return subprocess.run(cmd, capture_output=True, text=True)


def klog():
    return run("dmesg").stdout.splitlines()


def new_lines(before):
    return klog()[len(before):]


def mount():
    r = run("mount", "-t", "daxfs", dev, mnt)
    return r.returncode == 0, r.stderr.strip()


report(os.path.exists(inject), "the hwpoison injector is there (CONFIG_HWPOISON_INJECT)",
       f"no {inject}")
r = run("mkfs.daxfs", "-q", "-f", dev)
ok, err = (r.returncode == 0, r.stderr) if r.returncode else mount()
if not report(ok, "mkfs.daxfs and mount", err):
    sys.exit(exit_status())

# --- file data: the process mapping the page is killed, daxfs goes on ---
path = os.path.join(mnt, "data")
with open(path, "wb") as f:
    f.write(b"\xa5" * (4 * PAGE))
    f.flush()
    os.fsync(f.fileno())
before = klog()
pid = os.fork()
if pid == 0:
    try:
        fd = os.open(path, os.O_RDWR)
        m = mmap.mmap(fd, 4 * PAGE, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        m[PAGE] = 0x5A
        m.madvise(MADV_HWPOISON, PAGE, PAGE)
        # Still alive: the failure was not handled as one of a mapped page.
        os._exit(3)
    except BaseException:
        os._exit(4)
_, status = os.waitpid(pid, 0)
report(os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGBUS,
       "MADV_HWPOISON on a mapped file page: the process gets SIGBUS",
       f"wait status {status:#x}")
lines = new_lines(before)
report(any(f"{name}: memory failure at byte" in ln and "in the data area" in ln for ln in lines),
       "daxfs hears of it, in the data area",
       "kernel log: " + " | ".join(lines[-6:]))
try:
    with open(os.path.join(mnt, "after-data"), "w") as f:
        f.write("x")
    wrote = True
except OSError as e:
    wrote = e
report(wrote is True, "the filesystem still writes after a failure in file data", str(wrote))

# --- metadata: daxfs stops writing ---
res = None
for ln in open(f"/sys/block/{name}/device/resource") if os.path.exists(
        f"/sys/block/{name}/device/resource") else []:
    res = int(ln.strip(), 0)
if not report(res is not None, "the physical address of the device (sysfs resource)"):
    sys.exit(exit_status())
# Block 1 is the journal header (on-disk format): metadata, mapped by no process.
pfn = (res + PAGE) // PAGE
before = klog()
try:
    with open(inject, "w") as f:
        f.write(f"{pfn:#x}\n")
    injected = True
except OSError as e:
    injected = e
report(injected is True, "corrupt-pfn on the journal header is handled (no EBUSY)", str(injected))
lines = new_lines(before)
report(any(f"{name}: memory failure at byte 4096 (4096 bytes), in metadata" in ln for ln in lines),
       "daxfs hears of it, in metadata, at byte 4096",
       "kernel log: " + " | ".join(lines[-6:]))
try:
    open(os.path.join(mnt, "after-meta"), "w").close()
    err = None
except OSError as e:
    err = e.errno
report(err == errno.EROFS, "after a failure in metadata, creating a file fails with EROFS",
       f"errno {err}")
report(run("umount", mnt).returncode == 0, "umount after the failure")
before = klog()
ok, err = mount()
lines = new_lines(before)
report(ok and any("has errors; run fsck.daxfs" in ln for ln in lines),
       "the next mount says the filesystem has errors",
       err + " | " + " | ".join(lines[-4:]))
if ok:
    run("umount", mnt)
sys.exit(exit_status())

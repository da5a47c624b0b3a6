# SPDX-License-Identifier: GPL-2.0
"""The system calls the daxfs guest checkers make through ctypes, and their
constants: fallocate with the sealing modes, mmap with MAP_SYNC (Python's
mmap module gives no address), mount(2) and umount2(2), and the per-mount
counters in sysfs."""
import ctypes
import os

SEAL, UNSEAL, KEEP_SIZE = 0x100, 0x200, 0x1
MAP_SHARED_VALIDATE, MAP_SYNC = 0x03, 0x80000
BS = 4096

libc = ctypes.CDLL(None, use_errno=True)
libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]
libc.syscall.restype = ctypes.c_long
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                      ctypes.c_int, ctypes.c_long]
libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                       ctypes.c_char_p]
libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
MAP_FAILED = ctypes.c_void_p(-1).value
MNT_DETACH = 2


def falloc(fd, mode, off, length):
    """fallocate(2); returns 0 or the errno."""
    if libc.fallocate(fd, mode, off, length) == 0:
        return 0
    return ctypes.get_errno()


def mount(dev, mnt, fstype="daxfs", flags=0, opts=None):
    """mount(2); returns 0 or the errno."""
    if libc.mount(dev.encode(), mnt.encode(), fstype.encode(), flags,
                  opts.encode() if opts else None) == 0:
        return 0
    return ctypes.get_errno()


def umount(mnt, flags=0):
    """umount2(2); returns 0 or the errno."""
    if libc.umount2(mnt.encode(), flags) == 0:
        return 0
    return ctypes.get_errno()


def sysfs_dir(dev):
    """/sys/fs/daxfs/<device>/ of the daxfs on DEV."""
    return f"/sys/fs/daxfs/{os.path.basename(dev)}"

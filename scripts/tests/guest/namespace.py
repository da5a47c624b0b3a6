#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Namespace operations and their errors, on any mounted filesystem.

usage: namespace.py LABEL MOUNTPOINT

Prints one "ok - LABEL: name" / "not ok - LABEL: name" line per check. The
suite is run on ext4 (dax=always) as the reference, so every expectation here
is what Linux filesystems actually do, and then on daxfs.
"""

import ctypes
import errno
import os
import socket
import stat
import sys
import time

from tap import Reporter, exit_status

LABEL, MNT = sys.argv[1], sys.argv[2]
report = Reporter(LABEL)
libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD = -100
RENAME_NOREPLACE, RENAME_EXCHANGE = 1, 2
AT_SYMLINK_FOLLOW = 0x400


def check(name, fn):
    try:
        r = fn()
        report(r is None or r is True, name, "" if r in (None, True) else f"returned {r!r}")
    except Exception as e:  # noqa: BLE001 - any failure of the check is reported
        report(False, name, f"{type(e).__name__}: {e}")


def fails_with(name, err, fn):
    try:
        fn()
    except OSError as e:
        report(e.errno == err, name, f"got {errno.errorcode.get(e.errno, e.errno)}, want {errno.errorcode[err]}")
        return
    report(False, name, f"succeeded, want {errno.errorcode[err]}")


def renameat2(old, new, flags):
    r = libc.renameat2(AT_FDCWD, old.encode(), AT_FDCWD, new.encode(), flags)
    if r != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), old)


def p(*parts):
    return os.path.join(MNT, "ns", *parts)


def write(path, data=b"x"):
    with open(path, "wb") as f:
        f.write(data)


def read(path):
    with open(path, "rb") as f:
        return f.read()


os.makedirs(p(), exist_ok=True)

# --- create, mknod, mkdir ---
check("create a regular file", lambda: write(p("f"), b"hello"))
check("created file has S_IFREG and the data", lambda: stat.S_ISREG(os.stat(p("f")).st_mode) and read(p("f")) == b"hello")
fails_with("O_CREAT|O_EXCL on an existing name: EEXIST", errno.EEXIST,
           lambda: os.open(p("f"), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
check("mkfifo", lambda: (os.mkfifo(p("fifo")), stat.S_ISFIFO(os.lstat(p("fifo")).st_mode))[1])
check("mknod char device 1:3",
      lambda: (os.mknod(p("chr"), 0o600 | stat.S_IFCHR, os.makedev(1, 3)),
               os.lstat(p("chr")).st_rdev == os.makedev(1, 3))[1])
check("mknod block device 7:0",
      lambda: (os.mknod(p("blk"), 0o600 | stat.S_IFBLK, os.makedev(7, 0)),
               stat.S_ISBLK(os.lstat(p("blk")).st_mode))[1])


def mksock():
    s = socket.socket(socket.AF_UNIX)
    s.bind(p("sock"))
    s.close()
    return stat.S_ISSOCK(os.lstat(p("sock")).st_mode)


check("bind a unix socket", mksock)
check("mkdir", lambda: (os.mkdir(p("d")), stat.S_ISDIR(os.stat(p("d")).st_mode))[1])


def syncs():
    dfd = os.open(p("d"), os.O_RDONLY | os.O_DIRECTORY)
    fd = os.open(p("d", "s"), os.O_CREAT | os.O_RDWR, 0o600)
    try:
        os.write(fd, b"s" * 5000)
        os.fsync(fd)
        os.fdatasync(fd)
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.sync_file_range(fd, ctypes.c_longlong(0), ctypes.c_longlong(0), 7) != 0:
            raise OSError(ctypes.get_errno(), "sync_file_range")
        if libc.syncfs(fd) != 0:
            raise OSError(ctypes.get_errno(), "syncfs")
        os.fsync(dfd)
        return True
    finally:
        os.close(fd)
        os.close(dfd)
        os.unlink(p("d", "s"))


check("fsync, fdatasync, sync_file_range, syncfs on a file and fsync on a directory", syncs)


def atime_on_read():
    write(p("at"), b"a" * 100)
    os.utime(p("at"), (1000, 2000))
    read(p("at"))
    ok = os.stat(p("at")).st_atime > 2000
    os.unlink(p("at"))
    return ok


check("read updates an atime older than mtime (relatime)", atime_on_read)


def odirect():
    import mmap
    buf = mmap.mmap(-1, 8192)
    buf[:] = b"D" * 8192
    fd = os.open(p("od"), os.O_CREAT | os.O_RDWR | os.O_DIRECT, 0o600)
    try:
        ok = os.pwritev(fd, [buf], 0) == 8192
        back = mmap.mmap(-1, 8192)
        ok = ok and os.preadv(fd, [back], 0) == 8192 and back[:] == buf[:]
    finally:
        os.close(fd)
        os.unlink(p("od"))
    return ok


check("O_DIRECT open, write and read", odirect)


def leases():
    import fcntl
    write(p("lease"), b"l")
    fd = os.open(p("lease"), os.O_RDONLY)
    try:
        fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_RDLCK)
        ok = fcntl.fcntl(fd, fcntl.F_GETLEASE) == fcntl.F_RDLCK
        fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_UNLCK)
        ok = ok and fcntl.fcntl(fd, fcntl.F_GETLEASE) == fcntl.F_UNLCK
    finally:
        os.close(fd)
        os.unlink(p("lease"))
    return ok


check("F_SETLEASE read lease, F_GETLEASE, release", leases)
fails_with("mkdir on an existing name: EEXIST", errno.EEXIST, lambda: os.mkdir(p("d")))
check("parent nlink counts the subdirectory", lambda: os.stat(p("d")).st_nlink == 2)
fails_with("create under a missing directory: ENOENT", errno.ENOENT, lambda: write(p("nope", "f")))
fails_with("a file used as a directory: ENOTDIR", errno.ENOTDIR, lambda: write(p("f", "x")))
fails_with("open a directory for writing: EISDIR", errno.EISDIR, lambda: os.open(p("d"), os.O_WRONLY))
fails_with("a 256-byte name: ENAMETOOLONG", errno.ENAMETOOLONG, lambda: write(p("n" * 256)))
check("a 255-byte name works", lambda: (write(p("n" * 255)), os.path.exists(p("n" * 255)))[1])

# --- rmdir, unlink ---
write(p("d", "child"))
fails_with("rmdir of a non-empty directory: ENOTEMPTY", errno.ENOTEMPTY, lambda: os.rmdir(p("d")))
fails_with("rmdir of a file: ENOTDIR", errno.ENOTDIR, lambda: os.rmdir(p("f")))
fails_with("unlink of a directory: EISDIR", errno.EISDIR, lambda: os.unlink(p("d")))
check("unlink", lambda: (os.unlink(p("d", "child")), not os.path.exists(p("d", "child")))[1])
check("rmdir of the emptied directory", lambda: (os.rmdir(p("d")), not os.path.exists(p("d")))[1])
fails_with("unlink of a missing name: ENOENT", errno.ENOENT, lambda: os.unlink(p("missing")))

# --- link ---
check("link", lambda: (os.link(p("f"), p("f2")), os.stat(p("f")).st_nlink == 2)[1])
check("link shares the inode", lambda: os.stat(p("f")).st_ino == os.stat(p("f2")).st_ino)
fails_with("link onto an existing name: EEXIST", errno.EEXIST, lambda: os.link(p("f"), p("f2")))
os.mkdir(p("ld"))
fails_with("hard link to a directory: EPERM", errno.EPERM, lambda: os.link(p("ld"), p("ld2")))
check("unlink one link keeps the other", lambda: (os.unlink(p("f2")), os.stat(p("f")).st_nlink == 1,
                                                  read(p("f")) == b"hello")[2])

# --- symlink ---
short, long_ = "f", "/" + "x" * 200 + "/" + "y" * 2000
check("short symlink", lambda: (os.symlink(short, p("s1")), os.readlink(p("s1")) == short)[1])
check("long symlink (2 KiB target)", lambda: (os.symlink(long_, p("s2")), os.readlink(p("s2")) == long_)[1])
check("symlink lstat size is the target length", lambda: os.lstat(p("s2")).st_size == len(long_))
check("follow a symlink", lambda: read(p("s1")) == b"hello")
fails_with("symlink onto an existing name: EEXIST", errno.EEXIST, lambda: os.symlink("x", p("s1")))

# --- rename ---
write(p("a"), b"A")
write(p("b"), b"B")
check("rename over an existing file replaces it",
      lambda: (os.rename(p("a"), p("b")), read(p("b")) == b"A" and not os.path.exists(p("a")))[1])
write(p("a"), b"A2")
fails_with("RENAME_NOREPLACE onto an existing name: EEXIST", errno.EEXIST,
           lambda: renameat2(p("a"), p("b"), RENAME_NOREPLACE))
check("RENAME_NOREPLACE to a new name", lambda: (renameat2(p("a"), p("c"), RENAME_NOREPLACE),
                                                  read(p("c")) == b"A2")[1])
check("RENAME_EXCHANGE swaps", lambda: (renameat2(p("b"), p("c"), RENAME_EXCHANGE),
                                         read(p("b")) == b"A2" and read(p("c")) == b"A")[1])
os.makedirs(p("r1", "sub"))
os.mkdir(p("r2"))
check("rename a directory into another", lambda: (os.rename(p("r1", "sub"), p("r2", "sub")),
                                                   os.path.isdir(p("r2", "sub")))[1])
check("directory rename moves '..' (nlink of parents)",
      lambda: os.stat(p("r1")).st_nlink == 2 and os.stat(p("r2")).st_nlink == 3)
fails_with("rename a directory into its own subtree: EINVAL", errno.EINVAL,
           lambda: os.rename(p("r2"), p("r2", "sub", "loop")))
fails_with("rename a directory over a file: ENOTDIR", errno.ENOTDIR, lambda: os.rename(p("r1"), p("c")))
fails_with("rename a file over a directory: EISDIR", errno.EISDIR, lambda: os.rename(p("c"), p("r1")))
write(p("r2", "sub", "x"))
fails_with("rename over a non-empty directory: ENOTEMPTY", errno.ENOTEMPTY,
           lambda: os.rename(p("r1"), p("r2")))
fails_with("rename across filesystems: EXDEV", errno.EXDEV, lambda: os.rename(p("c"), "/tmp/exdev-target"))

# --- O_TMPFILE and linkat ---


def tmpfile():
    fd = os.open(p(), os.O_TMPFILE | os.O_RDWR, 0o600)
    os.write(fd, b"tmp")
    # CPython's os.link calls link(2), which does not follow the magic link.
    if libc.linkat(AT_FDCWD, f"/proc/self/fd/{fd}".encode(), AT_FDCWD, p("from-tmpfile").encode(),
                   AT_SYMLINK_FOLLOW) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), "linkat")
    os.close(fd)
    return read(p("from-tmpfile")) == b"tmp" and os.stat(p("from-tmpfile")).st_nlink == 1


check("O_TMPFILE then linkat", tmpfile)

# --- setattr and timestamps ---
check("chmod", lambda: (os.chmod(p("c"), 0o640), stat.S_IMODE(os.stat(p("c")).st_mode) == 0o640)[1])
check("chown", lambda: (os.chown(p("c"), 1234, 5678), (os.stat(p("c")).st_uid, os.stat(p("c")).st_gid) == (1234, 5678))[1])
check("utimes with ns precision",
      lambda: (os.utime(p("c"), ns=(1_000_000_123, 2_000_000_456)),
               (os.stat(p("c")).st_atime_ns, os.stat(p("c")).st_mtime_ns) == (1_000_000_123, 2_000_000_456))[1])


def truncate_checks():
    write(p("t"), b"\xab" * 10000)
    os.truncate(p("t"), 5000)
    os.truncate(p("t"), 9000)
    d = read(p("t"))
    return len(d) == 9000 and d[:5000] == b"\xab" * 5000 and d[5000:] == b"\0" * 4000


check("truncate down then up zeroes the tail", truncate_checks)


def times_on_truncate():
    write(p("tt"), b"t" * 8192)
    ok = True
    for size in (100, 20000):
        before = os.stat(p("tt"))
        time.sleep(0.02)
        os.truncate(p("tt"), size)  # truncate(2) passes no time attributes to setattr
        after = os.stat(p("tt"))
        ok = ok and after.st_mtime_ns > before.st_mtime_ns and after.st_ctime_ns > before.st_ctime_ns
    os.unlink(p("tt"))
    return ok


check("truncate(2) down and up updates mtime and ctime", times_on_truncate)


def times_on_create():
    before = os.stat(p()).st_mtime_ns
    time.sleep(0.02)
    write(p("tm"))
    return os.stat(p()).st_mtime_ns > before and os.stat(p()).st_ctime_ns > before


check("creating a name updates the directory's mtime and ctime", times_on_create)


def times_on_write():
    st = os.stat(p("tm"))
    time.sleep(0.02)
    with open(p("tm"), "r+b") as f:
        f.write(b"y")
    st2 = os.stat(p("tm"))
    return st2.st_mtime_ns > st.st_mtime_ns and st2.st_ctime_ns > st.st_ctime_ns


check("write updates mtime and ctime", times_on_write)


def ctime_on_chmod():
    c = os.stat(p("tm")).st_ctime_ns
    time.sleep(0.02)
    os.chmod(p("tm"), 0o600)
    return os.stat(p("tm")).st_ctime_ns > c


check("chmod updates ctime", ctime_on_chmod)

# --- unlinked but open ---


def unlinked_open():
    write(p("orphan"), b"still here")
    fd = os.open(p("orphan"), os.O_RDONLY)
    os.unlink(p("orphan"))
    data = os.read(fd, 100)
    os.close(fd)
    return data == b"still here" and not os.path.exists(p("orphan"))


check("an unlinked open file stays readable until close", unlinked_open)

# --- file attributes: chattr +i/+a/+A/+d (FS_IOC_GETFLAGS/SETFLAGS, statx) ---
import fcntl  # noqa: E402
import struct  # noqa: E402

FS_IOC_GETFLAGS, FS_IOC_SETFLAGS = 0x80086601, 0x40086602
FS_IOC_FSGETXATTR, FS_IOC_FSSETXATTR = 0x801C581F, 0x401C5820
FL_IMMUTABLE, FL_APPEND, FL_NODUMP, FL_NOATIME = 0x10, 0x20, 0x40, 0x80
XFLAG_IMMUTABLE, XFLAG_APPEND = 0x8, 0x10
STATX_ATTR_IMMUTABLE, STATX_ATTR_APPEND, STATX_ATTR_NODUMP = 0x10, 0x20, 0x40


def getflags(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        return struct.unpack("l", fcntl.ioctl(fd, FS_IOC_GETFLAGS, b"\0" * 8))[0]
    finally:
        os.close(fd)


def setflags(path, flags):
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.ioctl(fd, FS_IOC_SETFLAGS, struct.pack("l", flags))
    finally:
        os.close(fd)


def statx_attributes(path):
    buf = ctypes.create_string_buffer(256)
    if libc.statx(AT_FDCWD, path.encode(), 0, 0xFFF, buf) != 0:
        raise OSError(ctypes.get_errno(), "statx", path)
    return struct.unpack_from("Q", buf, 8)[0], struct.unpack_from("Q", buf, 56)[0]


def eperm(ops):
    """True for each (name, fn) of ops that fails with EPERM, else what happened."""
    got = []
    for name, fn in ops:
        try:
            fn()
            got.append(f"{name} succeeded")
        except OSError as e:
            got.append(e.errno == errno.EPERM or f"{name}: {errno.errorcode[e.errno]}")
    return got


def failures(got):
    bad = [g for g in got if g is not True]
    return not bad or f"{bad} in {got}"


def chattr_immutable():
    f = p("attr-i")
    write(f, b"fixed")
    base = getflags(f)
    setflags(f, base | FL_IMMUTABLE)
    got = []
    got.append(getflags(f) & FL_IMMUTABLE != 0)
    a, mask = statx_attributes(f)
    got.append(a & STATX_ATTR_IMMUTABLE != 0 and mask & STATX_ATTR_IMMUTABLE != 0)
    got += eperm([("open for write", lambda: os.open(f, os.O_WRONLY)),
                  ("truncate", lambda: os.truncate(f, 0)),
                  ("unlink", lambda: os.unlink(f)),
                  ("rename", lambda: os.rename(f, p("attr-i2"))),
                  ("link", lambda: os.link(f, p("attr-i3"))),
                  ("chmod", lambda: os.chmod(f, 0o600))])
    setflags(f, base)
    got.append(getflags(f) & FL_IMMUTABLE == 0 and statx_attributes(f)[0] & STATX_ATTR_IMMUTABLE == 0)
    write(f, b"changed")
    got.append(read(f) == b"changed")
    os.unlink(f)
    return failures(got)


def chattr_append():
    f = p("attr-a")
    write(f, b"log:")
    base = getflags(f)
    setflags(f, base | FL_APPEND)
    got = [statx_attributes(f)[0] & STATX_ATTR_APPEND != 0]
    fd = os.open(f, os.O_WRONLY | os.O_APPEND)
    os.write(fd, b"more")
    os.close(fd)
    got.append(read(f) == b"log:more")
    got += eperm([("open for write without O_APPEND", lambda: os.open(f, os.O_WRONLY)),
                  ("truncate", lambda: os.truncate(f, 0)),
                  ("unlink", lambda: os.unlink(f))])
    setflags(f, base)
    os.unlink(f)
    return failures(got)


def chattr_noatime_nodump():
    f = p("attr-A")
    write(f, b"x")
    base = getflags(f)
    c0 = os.stat(f).st_ctime_ns
    time.sleep(0.05)
    setflags(f, base | FL_NOATIME | FL_NODUMP)
    got = [getflags(f) & (FL_NOATIME | FL_NODUMP) == FL_NOATIME | FL_NODUMP,
           statx_attributes(f)[0] & STATX_ATTR_NODUMP != 0,
           os.stat(f).st_ctime_ns > c0]
    setflags(f, base)
    os.unlink(f)
    return all(got) or f"flags, statx, ctime: {got}"


def chattr_xattr_interface():
    # xfs_io chattr uses FS_IOC_FSGETXATTR/FSSETXATTR: struct fsxattr, xflags first.
    f = p("attr-x")
    write(f, b"x")
    fd = os.open(f, os.O_RDONLY)
    try:
        raw = bytearray(fcntl.ioctl(fd, FS_IOC_FSGETXATTR, b"\0" * 28))
        xflags = struct.unpack_from("I", raw, 0)[0]
        struct.pack_into("I", raw, 0, xflags | XFLAG_APPEND)
        fcntl.ioctl(fd, FS_IOC_FSSETXATTR, bytes(raw))
        appended = getflags(f) & FL_APPEND != 0
        struct.pack_into("I", raw, 0, xflags)
        fcntl.ioctl(fd, FS_IOC_FSSETXATTR, bytes(raw))
    finally:
        os.close(fd)
    os.unlink(f)
    return appended


def chattr_unprivileged():
    # The owner may set noatime, but not immutable (CAP_LINUX_IMMUTABLE).
    f = p("attr-u")
    write(f, b"x")
    os.chown(f, 4321, 4321)
    base = getflags(f)
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.setgid(4321)
            os.setuid(4321)
            setflags(f, base | FL_NOATIME)
            try:
                setflags(f, base | FL_IMMUTABLE)
                code = 2
            except OSError as e:
                code = 0 if e.errno == errno.EPERM else 3
        except Exception:  # noqa: BLE001
            code = 4
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    rc = os.waitstatus_to_exitcode(status)
    ok = rc == 0 and getflags(f) & (FL_NOATIME | FL_IMMUTABLE) == FL_NOATIME
    setflags(f, base)
    os.unlink(f)
    return ok or f"child exit {rc}"


check("chattr +i: reported (flags, statx), writes/truncate/unlink/rename/link/chmod EPERM; -i undoes",
      chattr_immutable)
check("chattr +a: only O_APPEND writes; truncate/unlink EPERM", chattr_append)
check("chattr +A +d: set, reported (statx nodump), ctime updated", chattr_noatime_nodump)
check("FS_IOC_FSSETXATTR (xfs_io chattr) sets append-only", chattr_xattr_interface)
check("chattr as the owner: noatime yes, immutable EPERM", chattr_unprivileged)

# --- readdir sees exactly what exists ---
expected = {"f", "fifo", "chr", "blk", "sock", "n" * 255, "ld", "s1", "s2", "b", "c", "r1", "r2",
            "from-tmpfile", "t", "tm"}
check("readdir lists exactly the names that exist", lambda: set(os.listdir(p())) == expected or
      f"extra {set(os.listdir(p())) - expected}, missing {expected - set(os.listdir(p()))}")

sys.exit(exit_status())

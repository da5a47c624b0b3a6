#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Structured image fuzzing of daxfs in the booted kernel (one process for the
whole series: a process per step would be too slow under TCG).

Usage: fuzz_images.py FUZZIMG FSCK DEV MNT SEED COUNT [FIRST]
Environment: DAXFS_FUZZ_SKIP (indices not to run, reported as skipped),
DAXFS_FUZZ_BUDGET (seconds, none by default: if set, the images left when it
is spent are reported as skipped).
  FUZZIMG  fuzzimg.daxfs; one "FUZZIMG --seed SEED --serve DEV" process writes
           every image (the bytes "FUZZIMG --seed SEED --index I DEV" writes)
  FSCK     fsck.daxfs
  DEV      the pmem device (its contents are destroyed)
  MNT      an empty directory
For each image FIRST .. FIRST + COUNT - 1: write it, mount it (-t daxfs).
Refused: the errno is counted, and the refusal must have logged 1 to
MAX_REFUSAL_LINES "daxfs: DEV: " kernel lines; an image with an unknown
read-only-compatible feature is refused read-write with EROFS and one line,
then mounted read-only and only walked. Mounted: walk everything
(readdir, lstat, read every regular file, readlink), write to a file, create
a file and a directory, rename, unlink, seal and unseal (daxfs's fallocate
modes), truncate, umount (which must succeed); every errno is counted. Then
fsck -n and -y on DEV (fsck.daxfs's checker, run by the FUZZIMG process: see
Generator; the unchanged base image is checked by FSCK itself): a signal, a
Rust panic (exit 101) or a hang of fsck is a failure. A kernel report (BUG, WARNING, Oops, KASAN, a Rust panic)
in the kernel log is a failure naming the image; with oops=panic the guest
dies instead, so every image is announced (stdout and the kernel log) before
it is used. A few "ok"/"not ok" lines and a summary at the end; a failing
image comes with the command that reproduces it and what it changed.
"""
import collections
import errno
import os
import re
import select
import stat
import subprocess
import sys
import time

from tap import Reporter, exit_status

from pmem_calls import BS, MNT_DETACH, SEAL, UNSEAL, falloc, mount, umount

MS_RDONLY = 1

MAX_REFUSAL_LINES = 5     # "at most a few": the refusal, recovery, orphan notes
MAX_READ = 16 << 20       # per file: a damaged size may claim exabytes of holes
MAX_ENTRIES = 5000        # per image
MAX_DIR_ENTRIES = 2000    # per directory (the image's biggest has 67): past it, with
                          # entries seen twice, readdir does not end
SEAL_MAX = 64 << 10       # the other files of the image sealed are at most this big
MIN_MOUNTED_PCT = 10      # fewer mounts: the mutations are too coarse
FSCK_TIMEOUT = 120
KERNEL_REPORT = re.compile(
    r"BUG:|WARNING:|Oops|KASAN|UBSAN|Kernel panic|kernel BUG at|general protection fault|"
    r"Call Trace:|RIP: |INFO: task .* blocked|rcu: INFO:|soft lockup|hard LOCKUP|panicked at")

fuzzimg, fsck, dev, mnt = sys.argv[1:5]
seed, count = int(sys.argv[5]), int(sys.argv[6])
first = int(sys.argv[7]) if len(sys.argv) > 7 else 0
devname = os.path.basename(dev)
report = Reporter("daxfs fuzz")


def ename(e):
    return errno.errorcode.get(e, str(e)) if e else "ok"


class Kmsg:
    """The kernel log, read as it grows (/dev/kmsg, non-blocking)."""

    def __init__(self):
        self.fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
        os.lseek(self.fd, 0, os.SEEK_END)
        self.wfd = os.open("/dev/kmsg", os.O_WRONLY)

    def lines(self):
        out = []
        while True:
            try:
                rec = os.read(self.fd, 8192)
            except BlockingIOError:
                return out
            except BrokenPipeError:
                # Records were overwritten before we read them.
                out.append("(kernel log records lost)")
                continue
            msg = rec.decode(errors="replace").partition(";")[2]
            out.append(msg.split("\n", 1)[0])

    def mark(self, text):
        os.write(self.wfd, b"<6>" + text.encode() + b"\n")


def run(cmd, timeout):
    """(exit code, or -signal, or None after a timeout; output tail)."""
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout)
        return p.returncode, p.stdout.decode(errors="replace")[-2000:]
    except subprocess.TimeoutExpired:
        return None, ""


class Stats:
    def __init__(self):
        self.mounted = 0
        self.refused_rw = 0                    # unknown ro_compat: mounted read-only instead
        self.refused = collections.Counter()
        self.calls = collections.Counter()     # (call, errno name)
        self.errnos = collections.Counter()    # errno name over every call
        self.fsck_n = collections.Counter()
        self.fsck_y = collections.Counter()
        self.refusal_lines = collections.Counter()
        self.bad_refusals = []                 # (image, errno, lines)
        self.umount_failed = []                # (image, errno)
        self.fsck_crashed = []                 # (image, option, exit, output)
        self.kernel_reports = []               # (image, line)
        self.gen_failed = []                   # (image, why)
        self.readdir_loops = []                # (image, directory, entries, repeats)
        self.capped = 0                        # files read only up to MAX_READ
        self.most_lines_mounted = (0, None)
        self.time = collections.Counter()      # seconds per step
        self.call_time = collections.Counter() # seconds per call
        self.desc = {}                         # image -> what it changed

    def took(self, step, since):
        now = time.monotonic()
        self.time[step] += now - since
        return now


st = Stats()


def call(name, fn, *args):
    """Runs one system call (a Python os function); counts its errno and
    time."""
    t = time.monotonic()
    try:
        r = fn(*args)
        e = 0
    except OSError as x:
        r, e = None, x.errno
    st.call_time[name] += time.monotonic() - t
    st.calls[(name, ename(e))] += 1
    st.errnos[ename(e)] += 1
    return r


def counted(name, fn, *args):
    """Runs one call that returns 0 or an errno; counts it and its time."""
    t = time.monotonic()
    e = fn(*args)
    st.call_time[name] += time.monotonic() - t
    st.calls[(name, ename(e))] += 1
    st.errnos[ename(e)] += 1
    return e


def read_file(path, size):
    """Reads the file to its end (a short read), at most MAX_READ bytes."""
    fd = call("open", os.open, path, os.O_RDONLY)
    if fd is None:
        return
    try:
        done = 0
        want = min(max(size + 1, BS), 1 << 20)
        while done < MAX_READ:
            b = call("read", os.read, fd, want)
            if b is None:
                break
            done += len(b)
            if len(b) < want:
                break
        if done >= MAX_READ:
            st.capped += 1
    finally:
        os.close(fd)


def walk():
    """Every directory, inode, file and symlink target; the regular files."""
    files, seen, entries = [], set(), 0
    stack = [(mnt, 0)]
    while stack and entries < MAX_ENTRIES:
        d, depth = stack.pop()
        names, pairs, repeats = [], set(), 0
        try:
            with os.scandir(d) as it:
                for e in it:
                    names.append(e.path)
                    repeats += (e.name, e.inode()) in pairs
                    pairs.add((e.name, e.inode()))
                    if len(names) >= MAX_DIR_ENTRIES:
                        if repeats:
                            # The same entries again and again: readdir
                            # would never end.
                            st.readdir_loops.append((CURRENT, d, len(names), repeats))
                        break
            counted("readdir", lambda: 0)
        except OSError as x:
            counted("readdir", lambda: x.errno)
            if not names:
                continue
        for p in names:
            entries += 1
            if entries > MAX_ENTRIES:
                break
            s = call("lstat", os.lstat, p)
            if s is None:
                continue
            if stat.S_ISDIR(s.st_mode):
                if (s.st_ino not in seen) and depth < 16:
                    seen.add(s.st_ino)
                    stack.append((p, depth + 1))
            elif stat.S_ISREG(s.st_mode):
                files.append((p, s.st_size))
                read_file(p, s.st_size)
            elif stat.S_ISLNK(s.st_mode):
                call("readlink", os.readlink, p)
    call("statvfs", os.statvfs, mnt)
    return files


def write_ops(files):
    """Writes, creations, a rename, an unlink, seal and unseal, truncates."""
    p = lambda n: os.path.join(mnt, n)  # noqa: E731
    existing = [f for f, _ in files if not f.startswith(p("fuzz-"))]
    target = existing[0] if existing else p("tree")
    fd = call("open-w", os.open, target, os.O_WRONLY)
    if fd is not None:
        call("pwrite", os.pwrite, fd, b"fuzz" * 25, 0)
        size = call("fstat", os.fstat, fd)
        call("pwrite", os.pwrite, fd, b"\xa5" * BS, size.st_size if size else BS)
        call("fsync", os.fsync, fd)
        os.close(fd)
    # A file and a directory of our own.
    fd = call("create", os.open, p("fuzz-new"), os.O_CREAT | os.O_RDWR | os.O_TRUNC, 0o644)
    if fd is not None:
        call("pwrite", os.pwrite, fd, b"\x5a" * (2 * BS), 0)
        # Seal, a refused truncate, unseal.
        if counted("seal", falloc, fd, SEAL, 0, 2 * BS) == 0:
            call("truncate-sealed", os.ftruncate, fd, 100)
            counted("unseal", falloc, fd, UNSEAL, 0, 1)
        call("ftruncate", os.ftruncate, fd, BS + 7)
        os.close(fd)
    if call("mkdir", os.mkdir, p("fuzz-dir"), 0o755) is not None or os.path.isdir(p("fuzz-dir")):
        fd = call("create", os.open, p("fuzz-dir/f"), os.O_CREAT | os.O_WRONLY, 0o600)
        if fd is not None:
            call("pwrite", os.pwrite, fd, b"x" * 100, 0)
            os.close(fd)
    call("rename", os.rename, p("fuzz-new"), p("fuzz-dir/renamed"))
    # Seal and unseal files of the image (preallocated blocks, blocks past
    # the end, an interrupted seal, a sealed file, whatever the damage left;
    # not the 1.6 MiB file of 200 extents with holes, whose preparation alone
    # takes a second under TCG).
    small = [f for f, size in files if size <= SEAL_MAX][:2]
    for n in ["prealloc", "small-tree", "intent", "sealed"] + small:
        fd = call("open-rw", os.open, p(n) if not n.startswith("/") else n, os.O_RDWR)
        if fd is None:
            continue
        size = call("fstat", os.fstat, fd)
        length = max(size.st_size if size else BS, 1)
        if length > SEAL_MAX:
            # A damaged size: sealing would fill the device first.
            os.close(fd)
            continue
        if counted("seal", falloc, fd, SEAL, 0, length) == 0:
            call("pwrite-sealed", os.pwrite, fd, b"s", 0)
        counted("unseal", falloc, fd, UNSEAL, 0, 1)
        os.close(fd)
    # Truncate a file of the image, unlink another.
    if len(existing) > 1:
        path = existing[1]
        s = call("lstat", os.lstat, path)
        call("truncate", os.truncate, path, (s.st_size // 2) if s else 0)
    if existing:
        call("unlink", os.unlink, existing[-1])
    call("unlink", os.unlink, p("fuzz-dir/f"))


class Generator:
    """fuzzimg.daxfs --serve: one process writes every image (the base image
    is built once) and runs fsck's checker on it (-n, -y): starting a process
    costs about 150 ms under TCG, two fsck runs per image were half of the
    suite's time. A checker that panics ends the process (exit 101, as
    fsck.daxfs would) and one that hangs is killed after FSCK_TIMEOUT; either
    is counted, and a new process serves the next image."""

    def __init__(self):
        self.p = None
        self.start()

    def start(self):
        self.p = subprocess.Popen([fuzzimg, "--seed", str(seed), "--serve", dev],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.buf = b""

    def ask(self, request, timeout):
        """Sends one request; returns (answer, None), or (None, exit code or
        None after a timeout) if the process died or hung (then a new one is
        started)."""
        try:
            self.p.stdin.write(request.encode() + b"\n")
            self.p.stdin.flush()
        except OSError:
            return None, self.restart(kill=False)
        fd = self.p.stdout.fileno()
        end = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = end - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None, self.restart(kill=True)
            chunk = os.read(fd, 65536)
            if not chunk:
                return None, self.restart(kill=False)
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line.decode(errors="replace").strip(), None

    def restart(self, kill):
        """Ends the process (killing it if asked); returns its exit code, or
        None if it was killed; starts a new one."""
        if kill:
            self.p.kill()
        rc = self.p.wait()
        for f in (self.p.stdin, self.p.stdout):
            try:
                f.close()
            except OSError:
                pass  # a request left unsent to a process that died
        self.start()
        return None if kill else rc

    def image(self, i):
        """Writes image I to the device; returns its description, or why not."""
        line, rc = self.ask(str(i), FSCK_TIMEOUT)
        return line if line else f"error: fuzzimg.daxfs exited {rc}"

    def fsck(self, opt):
        """fsck's checker with OPT (-n or -y) on the device: (fsck(8) exit
        code, or 101 after a panic, or None after a hang; output tail)."""
        line, rc = self.ask("fsck " + opt, FSCK_TIMEOUT)
        if line is None:
            return rc, f"fuzzimg.daxfs --serve: fsck {opt}: " + ("hung" if rc is None else f"exit {rc}")
        # "fsck EXIT LINES: LAST" (LAST is empty when fsck printed nothing:
        # the answer was stripped to "fsck 0 0:").
        m = re.match(r"fsck (\d+) \d+:(?: (.*))?$", line)
        if not m:
            return -1, f"fuzzimg.daxfs --serve: fsck {opt}: unexpected answer {line!r}"
        return int(m.group(1)), m.group(2) or ""

    def close(self):
        self.p.stdin.close()
        self.p.wait()


def repro(i):
    how = f"mount -t daxfs{' -o ' + options(i) if options(i) else ''}"
    return (f"reproduce: fuzzimg.daxfs --seed {seed} --index {i} {dev} (its last block zeroed); "
            f"{how}; {st.desc.get(i, '')}")


ERRORS_OPT = None   # "errors=continue" when the kernel has it


def options(i):
    """Mount options of image I: every other image with errors=continue (if
    the kernel knows it), so that the walk and the writes go on after the
    first corruption is found instead of meeting EROFS."""
    return ERRORS_OPT if i % 2 else None


def base_image(kmsg):
    """The unchanged base image mounts (replaying its journal, freeing its
    orphans, rolling back its interrupted seal), is walked and written,
    unmounts, and fsck finds it clean. Also finds out whether the kernel
    knows errors=continue."""
    global ERRORS_OPT
    rc, out = run([fuzzimg, "--base", dev], 60)
    if rc != 0:
        return f"fuzzimg.daxfs --base {dev}: exit {rc}: {out.strip()[-300:]}"
    e = mount(dev, mnt, opts="errors=continue")
    if e == errno.EINVAL:
        e = mount(dev, mnt)
    else:
        ERRORS_OPT = "errors=continue"
    if e:
        return f"mount: {ename(e)}: {kmsg.lines()[-3:]}"
    saved = (st.calls.copy(), st.errnos.copy())
    files = walk()
    write_ops(files)
    calls = st.calls - saved[0]
    st.calls, st.errnos = saved
    u = umount(mnt)
    if u:
        umount(mnt, MNT_DETACH)
        return f"umount: {ename(u)}"
    rc, out = run([fsck, "-n", dev], FSCK_TIMEOUT)
    if rc != 0:
        return f"fsck -n after the mount: exit {rc}: {out.strip()[-500:]}"
    print(f"# fuzz: base image: {len(files)} files; calls: "
          + ", ".join(f"{c} {e} {v}" for (c, e), v in sorted(calls.items())))
    return ""


CURRENT = None  # the image being used


def one(i, kmsg):
    global CURRENT
    CURRENT = i
    print(f"# fuzz: image {i}", flush=True)
    kmsg.mark(f"daxfs-fuzz: seed {seed} image {i}")
    lines = kmsg.lines()
    t = time.monotonic()
    desc = gen.image(i)
    t = st.took("write the image", t)
    if not desc.startswith("seed "):
        st.gen_failed.append((i, desc))
        return lines
    st.desc[i] = desc
    e = mount(dev, mnt, opts=options(i))
    t = st.took("mount", t)
    mlines = kmsg.lines()
    lines += mlines
    own = [ln for ln in mlines if f"daxfs: {devname}: " in ln]
    read_only = False
    if e == errno.EROFS and any("read-only-compatible" in ln for ln in own):
        # An unknown read-only-compatible feature: refused read-write (one
        # line, counted), then mounted read-only and walked without writing.
        st.refused_rw += 1
        if len(own) != 1:
            st.bad_refusals.append((i, ename(e), own[:8]))
        e = mount(dev, mnt, flags=MS_RDONLY, opts=options(i))
        mlines = kmsg.lines()
        lines += mlines
        own = [ln for ln in mlines if f"daxfs: {devname}: " in ln]
        read_only = True
    if e:
        st.refused[ename(e)] += 1
        st.refusal_lines[len(own)] += 1
        if not 1 <= len(own) <= MAX_REFUSAL_LINES:
            st.bad_refusals.append((i, ename(e), own[:8]))
    else:
        st.mounted += 1
        try:
            files = walk()
            t = st.took("walk", t)
            if not read_only:
                write_ops(files)
                t = st.took("write, seal, unseal, truncate", t)
        finally:
            u = umount(mnt)
            t = st.took("umount", t)
            if u:
                st.umount_failed.append((i, ename(u)))
                umount(mnt, MNT_DETACH)
        more = kmsg.lines()
        lines += more
        n = len(own) + sum(1 for ln in more if f"daxfs: {devname}: " in ln)
        if n > st.most_lines_mounted[0]:
            st.most_lines_mounted = (n, i)
    for which, opt, ctr in (("-n", "-n", st.fsck_n), ("-y", "-y", st.fsck_y)):
        rc, out = gen.fsck(opt)
        t = st.took("fsck " + opt, t)
        ctr["hang" if rc is None else rc] += 1
        if rc is None or rc < 0 or rc == 101 or rc > 16:
            st.fsck_crashed.append((i, which, rc, out.strip().splitlines()[-3:]))
    return lines + kmsg.lines()


def main():
    kmsg = Kmsg()
    # Userspace lines in the kernel log (the per-image marks) are not
    # ratelimited meanwhile.
    knob = "/proc/sys/kernel/printk_devkmsg"
    try:
        with open(knob) as f:
            old_knob = f.read().strip()
        with open(knob, "w") as f:
            f.write("on\n")
    except OSError:
        old_knob = None
    # The device's last block may hold the backup superblock of an earlier,
    # whole-device filesystem, which fsck would take for this one's when
    # the primary is damaged: clear it, so that every run sees the same.
    fd = os.open(dev, os.O_WRONLY)
    end = os.lseek(fd, 0, os.SEEK_END)
    os.pwrite(fd, bytes(BS), end - BS)
    os.fsync(fd)
    os.close(fd)
    os.makedirs(mnt, exist_ok=True)
    why = base_image(kmsg)
    report(not why, "the unchanged base image mounts (journal replay, orphans, seal roll-back), "
           "is walked and written, unmounts, and fsck -n finds it clean", why)
    print(f"# fuzz: mount options of the odd images: {ERRORS_OPT or '(errors= not supported)'}")
    start = time.monotonic()
    done = 0
    global gen
    gen = Generator()
    skip = {int(x) for x in os.environ.get("DAXFS_FUZZ_SKIP", "").replace(",", " ").split()}
    budget = float(os.environ.get("DAXFS_FUZZ_BUDGET") or 0) or float("inf")
    not_run = None
    try:
        for i in range(first, first + count):
            if i in skip:
                continue
            if time.monotonic() - start > budget:
                not_run = i
                break
            for ln in one(i, kmsg):
                if KERNEL_REPORT.search(ln):
                    st.kernel_reports.append((i, ln))
            done += 1
            if done % 100 == 0:
                el = time.monotonic() - start
                print(f"# fuzz: {done}/{count} images in {el:.0f} s ({done / el:.2f}/s), "
                      f"{st.mounted} mounted, refused {dict(st.refused)}", flush=True)
    finally:
        gen.close()
        if old_knob is not None:
            with open(knob, "w") as f:
                f.write(old_knob + "\n")
    el = time.monotonic() - start
    summary(el)
    last = first + count - 1
    skipped = sorted(skip & set(range(first, first + count)))
    what = f"{done} images (seed {seed}, {first}..{last})"
    if skipped:
        print(f"skip - daxfs fuzz: images {' '.join(map(str, skipped))}: DAXFS_FUZZ_SKIP")
    if not_run is not None:
        print(f"skip - daxfs fuzz: images {not_run}..{last}: the time budget of {budget:.0f} s "
              "is spent (DAXFS_FUZZ_BUDGET)")
    bad_images = sorted({i for i, _ in st.kernel_reports})
    report(not st.kernel_reports, f"{what}: no kernel report",
           "; ".join(f"image {i}: {ln}" for i, ln in st.kernel_reports[:5]))
    for i in bad_images[:3]:
        print(f"#   {repro(i)}")
    report(not st.gen_failed, f"{what}: every image written to {dev}",
           "; ".join(f"image {i}: {o.strip()[-200:]}" for i, o in st.gen_failed[:3]))
    refused = sum(st.refused.values())
    report(not st.bad_refusals,
           f"every refused mount ({refused}) logged 1 to {MAX_REFUSAL_LINES} 'daxfs: {devname}:' lines",
           "; ".join(f"image {i} ({e}): {len(ls)} lines {ls}" for i, e, ls in st.bad_refusals[:5]))
    for i, _, _ in st.bad_refusals[:3]:
        print(f"#   {repro(i)}")
    # A damaged image is refused as damaged (EUCLEAN), as not daxfs or too
    # big for the device (EINVAL), or as having unknown features
    # (EOPNOTSUPP); anything else (EEXIST, say) misleads the user.
    odd = {e: n for e, n in st.refused.items() if e not in ("EUCLEAN", "EINVAL", "ENOTSUP", "EOPNOTSUPP")}
    report(not odd, "every refused mount gave EUCLEAN, EINVAL or EOPNOTSUPP", f"also: {odd}")
    report(not st.readdir_loops, f"every readdir ended (at most {MAX_DIR_ENTRIES} entries, or none twice)",
           "; ".join(f"image {i}: {d}: {n} entries, {r} seen before" for i, d, n, r in st.readdir_loops[:5]))
    for i in sorted({x[0] for x in st.readdir_loops})[:3]:
        print(f"#   {repro(i)}")
    report(not st.umount_failed, f"every mount ({st.mounted}) unmounted",
           "; ".join(f"image {i}: {e}" for i, e in st.umount_failed[:5]))
    for i, _ in st.umount_failed[:3]:
        print(f"#   {repro(i)}")
    report(not st.fsck_crashed, "fsck.daxfs -n and -y never crashed, panicked or hung",
           "; ".join(f"image {i}: fsck {w} exit {rc} {o}" for i, w, rc, o in st.fsck_crashed[:5]))
    for i, _, _, _ in st.fsck_crashed[:3]:
        print(f"#   {repro(i)}")
    pct = 100 * st.mounted / max(done, 1)
    report(pct >= MIN_MOUNTED_PCT,
           f"{st.mounted} of {done} images mounted (at least {MIN_MOUNTED_PCT}%)",
           "too few mount: the mutations are too coarse for the walk to run")
    return exit_status()


def summary(el):
    done = st.mounted + sum(st.refused.values()) + len(st.gen_failed)
    print(f"# fuzz summary: {done} images in {el:.0f} s ({done / max(el, 1e-9):.2f} images/s)")
    print(f"#   mounted {st.mounted}, refused {sum(st.refused.values())}: "
          + ", ".join(f"{k} {v}" for k, v in st.refused.most_common()))
    print(f"#   refused read-write (unknown read-only-compatible feature), mounted read-only: {st.refused_rw}")
    print("#   kernel lines per refusal: "
          + ", ".join(f"{k}: {v}" for k, v in sorted(st.refusal_lines.items())))
    n, i = st.most_lines_mounted
    print(f"#   most 'daxfs: {devname}:' lines for one mounted image: {n} (image {i})")
    print("#   system call results: " + ", ".join(f"{k} {v}" for k, v in st.errnos.most_common()))
    per = collections.defaultdict(list)
    for (c, e), v in sorted(st.calls.items()):
        per[c].append(f"{e} {v}")
    for c in sorted(per):
        print(f"#     {c}: {', '.join(per[c])} ({st.call_time[c]:.1f} s)")
    print("#   time per step: " + ", ".join(f"{k} {v:.0f} s" for k, v in st.time.most_common()))
    t = time.monotonic()
    for _ in range(5):
        run([fsck, "-V"], 60)
    print(f"#   starting a process (fsck.daxfs -V) takes {(time.monotonic() - t) / 5 * 1000:.0f} ms "
          "(fsck runs in the generator's process instead)")
    if st.capped:
        print(f"#   files read only up to {MAX_READ >> 20} MiB (damaged sizes): {st.capped}")
    print("#   fsck -n exit codes: " + ", ".join(f"{k}: {v}" for k, v in sorted(st.fsck_n.items(), key=str)))
    print("#   fsck -y exit codes: " + ", ".join(f"{k}: {v}" for k, v in sorted(st.fsck_y.items(), key=str)))


if __name__ == "__main__":
    sys.exit(main())

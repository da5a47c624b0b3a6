#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Crash-test workload and checker (runs in the guest).

workload MNT LOG SEED [ARMED]: forever, in MNT: write new files and fsync them;
  replace "slot" files by write-tmp + fsync + rename + fsync(dir). LOG (on the
  host share, written and fsync'd before and after each step) records what is
  in flight ("try") and what fsync made durable ("done"). Every fifth step it
  also leaves a file unlinked while open (an orphan the next mount must free)
  and truncates a scratch file down or up. Every step also appends a few bytes
  to an "appender" file held open with O_APPEND (so blocks allocated ahead of
  its end exist at the crash) and every fourth step (from the first) fsyncs it and logs its
  size and the digest of its content ("append NAME SIZE DIGEST .").
  Most steps also do one operation on one of NSEAL "seal-K" files, each
  between a "try" and a "done" log line that carry the operation and the
  state it leaves (see "Sealed files" below): on an unsealed file a write
  (often past the end: holes), fallocate (plain: unwritten extents; KEEP_SIZE:
  blocks past the end; PUNCH_HOLE|KEEP_SIZE; ZERO_RANGE), a truncate, and
  FALLOC_FL_SEAL_BLOCK_MAP; on a sealed file stores through a
  MAP_SHARED_VALIDATE|MAP_SYNC mapping, each made durable with libpmem's
  pmem_persist (cache-line flush + fence) before its "done", and
  FALLOC_FL_UNSEAL_BLOCK_MAP. Writes and fallocate are fsync'd before their
  "done"; seal, unseal and MAP_SYNC stores are not: they must be durable
  when the call (or the flush) returns.
verify MNT LOG: after the crash and remount, every "done" file has its
  content, every slot holds its last durable content or a later attempt
  (a rename is all-or-nothing), and every appender starts with the content
  its last logged fsync made durable. Every seal-K file has the seal state
  (statx STATX_ATTR_IOMAP_IMMUTABLE), size and content its log replays to,
  or, while its last operation was in flight ("try" without "done"), the
  state before or after it (the size either one, each byte of the changed
  range either one); a sealed one refuses truncate with ETXTBSY and is
  unchanged afterwards; every MAP_SYNC store logged durable (offset, length,
  digest), unless a later operation covered it, is intact byte for byte.
  Prints ok/not ok lines; exit 1 on a failure.
"""
import ctypes
import errno
import hashlib
import os
import random
import struct
import sys

# Sealing (linux-patches/0013: include/uapi/linux/falloc.h, stat.h).
SEAL, UNSEAL = 0x100, 0x200
KEEP_SIZE, PUNCH_HOLE, ZERO_RANGE = 0x01, 0x02, 0x10
ATTR_SEALED = 0x00800000          # STATX_ATTR_IOMAP_IMMUTABLE
MAP_SHARED_VALIDATE, MAP_SYNC = 0x03, 0x80000
PROT_RW = 0x1 | 0x2
SYS_STATX = 332                   # x86_64
NSEAL = 3
MAXSZ = 1 << 20                   # seal-K files stay about this small

libc = ctypes.CDLL(None, use_errno=True)
libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                      ctypes.c_int, ctypes.c_long]
libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
libc.syscall.restype = ctypes.c_long


def h(data):
    return hashlib.sha256(data).hexdigest()[:16]


def logline(f, *words):
    f.write(" ".join(words) + "\n")
    f.flush()
    os.fsync(f.fileno())


def falloc(fd, mode, off, length):
    """fallocate(2); 0 or the errno."""
    if libc.fallocate(fd, mode, off, length) == 0:
        return 0
    return ctypes.get_errno()


def is_sealed(path):
    buf = ctypes.create_string_buffer(256)
    if libc.syscall(SYS_STATX, -100, path.encode(), 0, 0xFFF, buf) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), path)
    return bool(struct.unpack_from("<Q", buf, 8)[0] & ATTR_SEALED)


def gen(tag, n):
    """The data a write or store tagged TAG puts down (the verifier makes
    it again from the log)."""
    return random.Random(tag).randbytes(n)


# Sealed files. Every operation on a seal-K file is logged twice:
#   try|done NAME DIGEST KIND OFF LEN TAG DATADIGEST SEALED SIZE .
# DIGEST, SEALED and SIZE are the file's state after the operation, TAG
# names the data of a write or store (gen), DATADIGEST is that data's
# digest ("-" for the other kinds). apply() is the one model both sides use.
def apply(model, kind, off, ln, tag):
    """The state (bytearray, sealed) after an operation on MODEL."""
    data, sealed = model
    data = bytearray(data)
    size = len(data)
    if kind == "create":
        data = bytearray()
    elif kind in ("write", "mstore"):
        if off > size:
            data.extend(bytes(off - size))
        data[off:off + ln] = gen(tag, ln)
    elif kind == "punch":
        end = min(off + ln, size)
        if end > off:
            data[off:end] = bytes(end - off)
    elif kind in ("zero", "prealloc", "seal"):
        end = off + ln
        if end > size:
            data.extend(bytes(end - size))
        if kind == "zero":
            data[off:end] = bytes(ln)
        sealed = sealed or kind == "seal"
    elif kind == "trunc":
        if off < size:
            del data[off:]
        else:
            data.extend(bytes(off - size))
    elif kind == "unseal":
        sealed = False
    elif kind != "keep":
        raise ValueError(kind)
    return data, sealed


def touched(kind, off, ln):
    """The byte range [a, b) an operation may change within the file."""
    if kind in ("write", "mstore", "punch", "zero"):
        return off, off + ln
    if kind in ("trunc", "create"):
        return (off if kind == "trunc" else 0), 1 << 62
    return 0, 0


class Pmem:
    """pmem_persist from libpmem (Debian libpmem1): clwb/clflushopt/clflush
    of the range and a fence."""

    def __init__(self):
        self.lib = ctypes.CDLL("libpmem.so.1")
        self.lib.pmem_persist.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
        self.lib.pmem_persist.restype = None
        self.lib.pmem_map_file.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                                           ctypes.POINTER(ctypes.c_size_t), ctypes.POINTER(ctypes.c_int)]
        self.lib.pmem_map_file.restype = ctypes.c_void_p
        self.lib.pmem_unmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
        self.checked = False

    def check(self, addr, path):
        """Once: the kernel accepted MAP_SYNC, so the mapping is DAX; its
        VMA says so too (VmFlags "sf": synchronous faults), and libpmem's
        own mapping of the file (pmem_map_file, which tries MAP_SYNC) calls
        it persistent memory. pmem_is_pmem() cannot say: it only knows
        ranges that libpmem mapped itself."""
        self.checked = True
        flags, cur = None, False
        with open("/proc/self/smaps") as f:
            for line in f:
                w = line.split()
                if "-" in w[0] and ":" not in w[0]:
                    lo, hi = (int(x, 16) for x in w[0].split("-"))
                    cur = lo <= addr < hi
                elif cur and w[0] == "VmFlags:":
                    flags = w[1:]
                    break
        mlen, is_pmem = ctypes.c_size_t(0), ctypes.c_int(0)
        m = self.lib.pmem_map_file(path.encode(), 0, 0, 0, ctypes.byref(mlen), ctypes.byref(is_pmem))
        if m:
            self.lib.pmem_unmap(m, mlen.value)
        if flags is None or "sf" not in flags or not m or not is_pmem.value:
            sys.exit(f"crash-workload: the MAP_SYNC mapping of {path} is not DAX: VmFlags {flags}, "
                     f"pmem_map_file {'failed' if not m else f'is_pmem={is_pmem.value}'}")


class SealFile:
    """A seal-K file of the workload: its descriptor, the model of its
    state, its MAP_SYNC mapping while sealed."""

    sealing = True

    def __init__(self, d, name, log, seed):
        self.name, self.log, self.seed = name, log, seed
        self.path = os.path.join(d, name)
        self.model = (bytearray(), False)
        self.map = None
        self.n = 0
        self.op("create", 0, 0)

    def op(self, kind, off, ln, pmem=None):
        """One logged operation; returns 0 or the errno of a refused call
        (then "done" is not logged and the model is unchanged)."""
        self.n += 1
        tag = f"{self.seed}.{self.name}.{self.n}" if kind in ("write", "mstore") else "-"
        ddig = h(gen(tag, ln)) if tag != "-" else "-"
        data, sealed = apply(self.model, kind, off, ln, tag)
        words = [self.name, h(bytes(data)), kind, str(off), str(ln), tag, ddig,
                 str(int(sealed)), str(len(data)), "."]
        logline(self.log, "try", *words)
        r = 0
        if kind == "create":
            self.fd = os.open(self.path, os.O_CREAT | os.O_TRUNC | os.O_RDWR, 0o600)
            os.fsync(self.fd)
            dfd = os.open(os.path.dirname(self.path), os.O_RDONLY | os.O_DIRECTORY)
            os.fsync(dfd)
            os.close(dfd)
        elif kind == "write":
            os.pwrite(self.fd, gen(tag, ln), off)
            os.fsync(self.fd)
        elif kind == "trunc":
            os.ftruncate(self.fd, off)
            os.fsync(self.fd)
        elif kind == "mstore":
            if self.map is None:
                size = len(self.model[0])
                addr = libc.mmap(None, size, PROT_RW, MAP_SHARED_VALIDATE | MAP_SYNC, self.fd, 0)
                if addr in (None, ctypes.c_void_p(-1).value):
                    e = ctypes.get_errno()
                    raise OSError(e, f"mmap MAP_SYNC of {self.name}: {os.strerror(e)}")
                self.map = (addr, size)
                if not pmem.checked:
                    pmem.check(addr, self.path)
            buf = gen(tag, ln)
            ctypes.memmove(self.map[0] + off, buf, ln)
            pmem.lib.pmem_persist(self.map[0] + off, ln)
        else:
            self.unmap()
            mode = {"punch": PUNCH_HOLE | KEEP_SIZE, "zero": ZERO_RANGE, "prealloc": 0,
                    "keep": KEEP_SIZE, "seal": SEAL, "unseal": UNSEAL}[kind]
            r = falloc(self.fd, mode, off, ln)
            if r == 0 and kind not in ("seal", "unseal"):
                os.fsync(self.fd)
        if r == errno.EOPNOTSUPP and kind in ("seal", "unseal"):
            SealFile.sealing = False  # ext4 (crash-test.sh --fs ext4): no sealing
            return r
        if r:
            raise OSError(r, f"fallocate {kind} {off} {ln} of {self.name}: {os.strerror(r)}")
        self.model = (data, sealed)
        logline(self.log, "done", *words)
        return 0

    def unmap(self):
        if self.map is not None:
            libc.munmap(self.map[0], self.map[1])
            self.map = None

    def layout(self, rnd, seal):
        """A fresh layout: data, a hole, an unwritten extent, blocks past
        the end; then sealed (SEAL) or left for a later step."""
        self.op("trunc", 0, 0)
        a = rnd.choice([1, 100, 4096, 9000])
        self.op("write", 0, a)
        b = rnd.randrange(3, 40) * 4096 + rnd.choice([0, 1, 700])
        self.op("write", b, rnd.choice([1, 5000, 20000]))
        self.op("prealloc", a + 4096, rnd.choice([4096, 3 * 4096 + 10]))
        self.op("keep", len(self.model[0]) + rnd.choice([0, 100, 8192]), rnd.choice([4096, 65536]))
        if seal and SealFile.sealing:
            self.op("seal", 0, len(self.model[0]) + rnd.choice([0, 0, 1, 5000]))

    def step(self, rnd, pmem):
        """One random operation that fits the file's state."""
        size = len(self.model[0])
        if self.model[1]:
            x = rnd.random()
            if x < 0.6 and pmem is not None:
                for _ in range(rnd.randint(1, 3)):
                    ln = min(size, rnd.choice([1, 8, 64, 100, 4096, 10000]))
                    self.op("mstore", rnd.randrange(size - ln + 1), ln, pmem)
            elif x < 0.9:
                self.op("unseal", 0, 1)
            else:  # sealing a sealed file again within its size changes nothing
                self.op("seal", 0, rnd.randint(1, size))
            return
        x = rnd.random()
        if x < 0.1:
            self.layout(rnd, rnd.random() < 0.5)
        elif x < 0.3:
            self.op("write", rnd.randrange(min(size + 65536, MAXSZ)), rnd.choice([1, 100, 4096, 5000, 30000]))
        elif x < 0.4:
            self.op("punch", rnd.randrange(size + 1), rnd.choice([1, 4096, 10000, 65536]))
        elif x < 0.5:
            self.op("zero", rnd.randrange(min(size + 8192, MAXSZ)), rnd.choice([1, 4096, 10000, 65536]))
        elif x < 0.58:
            self.op("keep", rnd.randrange(size + 65536), rnd.choice([4096, 65536, 200000]))
        elif x < 0.66:
            self.op("prealloc", rnd.randrange(min(size + 65536, MAXSZ)), rnd.choice([4096, 20000]))
        elif x < 0.72 or size > MAXSZ or not SealFile.sealing:
            self.op("trunc", rnd.randrange(min(size + 8192, MAXSZ)), 0)
        else:
            # Seal: to the end, past it (the file grows) or short of it.
            ln = rnd.choice([size, size + rnd.choice([1, 4096, 50000]), rnd.randint(1, max(1, size))])
            self.op("seal", 0, max(1, ln))


def workload(mnt, logpath, seed, armed=None):
    rnd = random.Random(int(seed))
    d = os.path.join(mnt, "crash")
    os.makedirs(d, exist_ok=True)
    dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    held = []
    app = None
    try:
        pmem = Pmem()
    except OSError as e:
        sys.exit(f"crash-workload: libpmem: {e} (scripts/deps.sh installs libpmem1)")
    with open(logpath, "a") as log:
        seals = [SealFile(d, f"seal-{k}", log, seed) for k in range(NSEAL)]
        # Before the workload is armed: one sealed file with every kind of
        # extent behind it, so that MAP_SYNC stores start at once.
        seals[0].layout(rnd, True)
        i = 0
        while True:
            i += 1
            if app is None or app[2] > (2 << 20):
                if app is not None:
                    os.close(app[0])
                name = f"appender-{seed}-{i}"
                fd = os.open(os.path.join(d, name), os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)
                app = [fd, name, 0, hashlib.sha256()]
            chunk = rnd.randbytes(rnd.choice([1, 100, 4096, 5000]))
            os.write(app[0], chunk)
            app[2] += len(chunk)
            app[3].update(chunk)
            if i % 4 == 1:  # from step 1, before the workload is armed
                os.fsync(app[0])
                logline(log, "append", app[1], str(app[2]), app[3].hexdigest()[:16], ".")
            size = rnd.choice([0, 1, 100, 4096, 5000, 65536, 300000, 2 << 20])
            data = rnd.randbytes(size)
            if rnd.random() < 0.5:
                name = f"file-{seed}-{i}"
                logline(log, "try", name, h(data))
                with open(os.path.join(d, name), "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.fsync(dfd)
                logline(log, "done", name, h(data))
            else:
                slot = f"slot-{rnd.randrange(4)}"
                tmp = os.path.join(d, slot + ".tmp")
                logline(log, "try", slot, h(data))
                with open(tmp, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.rename(tmp, os.path.join(d, slot))
                os.fsync(dfd)
                logline(log, "done", slot, h(data))
            if i % 5 == 0:
                # Files unlinked while still open: at the crash they are orphans that the
                # next mount must free (fsck -n after recovery sees no leak). Scratch files
                # truncated down and up exercise block freeing.
                name = os.path.join(d, f"orphan-{seed}-{i}")
                fd = os.open(name, os.O_CREAT | os.O_RDWR, 0o600)
                os.write(fd, rnd.randbytes(rnd.choice([1, 8192, 1 << 20])))
                os.unlink(name)
                held.append(fd)
                if len(held) > 8:
                    os.close(held.pop(0))
                scratch = os.path.join(d, f"scratch-{rnd.randrange(3)}")
                with open(scratch, "ab") as f:
                    f.write(rnd.randbytes(rnd.choice([100, 70000])))
                    f.truncate(rnd.choice([0, 10, 5000, 200000]))
            if rnd.random() < 0.75:
                rnd.choice(seals).step(rnd, pmem)
            if armed and i == 1:
                open(armed, "w").close()


def verify(mnt, logpath):
    d = os.path.join(mnt, "crash")
    done, tries, appended = {}, {}, {}
    with open(logpath) as log:
        for line in log:
            w = line.split()
            if len(w) == 5 and w[0] == "append" and w[4] == ".":
                appended[w[1]] = (int(w[2]), w[3])
                continue
            if len(w) != 3 or w[1].startswith("seal-"):
                continue  # the line being written when the VM died; seal files: verify_seals
            kind, name, digest = w
            if kind == "done":
                done[name] = digest
                tries[name] = []
            else:
                tries.setdefault(name, []).append(digest)
    bad = 0
    for name, digest in sorted(done.items()):
        path = os.path.join(d, name)
        try:
            with open(path, "rb") as f:
                got = h(f.read())
        except OSError as e:
            got = f"missing ({e.strerror})"
        ok = got == digest or (name.startswith("slot-") and got in tries.get(name, []))
        if not ok:
            bad += 1
            print(f"# {name}: has {got}, fsync'd {digest}, later attempts {tries.get(name, [])}")
    ndone = len(done)
    good = bad == 0 and ndone > 0
    print(f"{'ok' if good else 'not ok'} - {ndone} fsync'd files and slots intact after the crash"
          + (f" ({bad} damaged)" if bad else ""))
    abad = 0
    for name, (size, digest) in sorted(appended.items()):
        try:
            with open(os.path.join(d, name), "rb") as f:
                data = f.read()
            got = h(data[:size]) if len(data) >= size else f"only {len(data)} bytes"
        except OSError as e:
            got = f"missing ({e.strerror})"
        if got != digest:
            abad += 1
            print(f"# {name}: the first {size} bytes (fsync'd) have {got}, want {digest}")
    agood = abad == 0 and len(appended) > 0
    print(f"{'ok' if agood else 'not ok'} - {len(appended)} appended files keep their fsync'd "
          f"content" + (f" ({abad} damaged)" if abad else ""))
    sgood = verify_seals(d, logpath)
    return good and agood and sgood


def either(got, old, new):
    """Offsets of bytes of GOT that are neither OLD's nor NEW's (each
    read as zeros past its end); at most a few."""
    bad = []
    step = 4096
    for a in range(0, len(got), step):
        g = got[a:a + step]
        o = old[a:a + step].ljust(len(g), b"\0")
        n = new[a:a + step].ljust(len(g), b"\0")
        if g == o or g == n:
            continue
        for j in range(len(g)):
            if g[j] != o[j] and g[j] != n[j]:
                bad.append(a + j)
                if len(bad) >= 4:
                    return bad
    return bad


def verify_seals(d, logpath):
    """The seal-K files: seal state, size and content against the replayed
    log, truncate refused on sealed ones, MAP_SYNC stores intact."""
    files = {}    # name -> [model, pending (model before, model after, kind) or None, stores]
    replay_bad = []
    with open(logpath) as log:
        for line in log:
            w = line.split()
            if len(w) != 11 or w[10] != "." or w[0] not in ("try", "done") or not w[1].startswith("seal-"):
                continue
            phase, name, dig, kind, off, ln, tag, ddig, sealed, size = w[:10]
            off, ln = int(off), int(ln)
            f = files.setdefault(name, [(bytearray(), False), None, []])
            if phase == "try":
                # A try after a try: the earlier call was refused (EOPNOTSUPP) and changed nothing.
                new = apply(f[0], kind, off, ln, tag)
                if (h(bytes(new[0])), str(int(new[1])), str(len(new[0]))) != (dig, sealed, size):
                    replay_bad.append(line.strip())
                f[1] = (f[0], new, kind)
                # A later operation over a store's bytes makes it no longer checkable.
                a, b = touched(kind, off, ln)
                f[2] = [st for st in f[2] if st[0] + st[1] <= a or st[0] >= b]
            elif f[1] is not None and f[1][2] == kind and h(bytes(f[1][1][0])) == dig:
                f[0] = f[1][1]
                f[1] = None
                if kind == "mstore":
                    if h(gen(tag, ln)) != ddig:
                        replay_bad.append(line.strip())
                    f[2].append((off, ln, tag, ddig))
            else:
                replay_bad.append("done without its try: " + line.strip())
    for line in replay_bad[:5]:
        print(f"# log line the replay disagrees with: {line}")
    seal_bad = content_bad = trunc_bad = store_bad = 0
    nsealed = nstores = 0
    inflight = []
    for name, (model, pending, stores) in sorted(files.items()):
        path = os.path.join(d, name)
        states = [model] if pending is None else [pending[0], pending[1]]
        if pending is not None:
            inflight.append(f"{name} {pending[2]}")
        try:
            sealed = is_sealed(path)
            with open(path, "rb") as fh:
                got = fh.read()
        except OSError as e:
            if pending is not None and pending[2] == "create":
                continue
            print(f"# {name}: {e}")
            seal_bad += 1
            content_bad += 1
            continue
        if sealed not in [st[1] for st in states]:
            seal_bad += 1
            print(f"# {name}: {'sealed' if sealed else 'not sealed'}, the log says "
                  + " or ".join("sealed" if st[1] else "not sealed" for st in states)
                  + (f" ({pending[2]} in flight)" if pending else ""))
        sizes = [len(st[0]) for st in states]
        if pending is None:
            ok = got == bytes(model[0])
            why = f"size {len(got)} (want {len(model[0])}), digest {h(got)} (want {h(bytes(model[0]))})"
        else:
            old, new = bytes(pending[0][0]), bytes(pending[1][0])
            bad = either(got, old, new)
            ok = min(sizes) <= len(got) <= max(sizes) and not bad
            why = f"size {len(got)} (want {sizes[0]} .. {sizes[1]}), bytes neither before nor after at {bad}"
        if not ok:
            content_bad += 1
            print(f"# {name}: {why}" + (f" ({pending[2]} in flight)" if pending else ""))
        for off, ln, tag, ddig in stores:
            nstores += 1
            part = got[off:off + ln]
            if part != gen(tag, ln) or h(part) != ddig:
                store_bad += 1
                print(f"# {name}: MAP_SYNC store of {ln} bytes at {off} (digest {ddig}) lost: has {h(part)}")
        if sealed:
            nsealed += 1
            try:
                os.truncate(path, 0)
                r = 0
            except OSError as e:
                r = e.errno
            with open(path, "rb") as fh:
                after = fh.read()
            if r != errno.ETXTBSY or after != got or not is_sealed(path):
                trunc_bad += 1
                print(f"# {name}: sealed, truncate to 0 {'succeeded' if r == 0 else 'failed: ' + os.strerror(r)}"
                      f", size {len(got)} -> {len(after)}, {'un' if after != got else ''}changed")
    nfiles = len(files)
    flight = f"; in flight: {', '.join(inflight)}" if inflight else ""
    results = [
        (not replay_bad and nfiles > 0,
         f"the log of {nfiles} seal files replays (every try/done state agrees with the model)"),
        (seal_bad == 0, f"{nfiles} seal files have the seal state their last completed seal/unseal left{flight}"),
        (content_bad == 0, f"{nfiles} seal files have the size and content their logged operations left"),
        (trunc_bad == 0, f"{nsealed} sealed files refuse truncate with ETXTBSY and stay unchanged"),
        (store_bad == 0, f"{nstores} MAP_SYNC stores logged durable are intact byte for byte"),
    ]
    for good, what in results:
        print(f"{'ok' if good else 'not ok'} - {what}")
    return all(good for good, _ in results)


if __name__ == "__main__":
    if sys.argv[1] == "workload":
        workload(*sys.argv[2:6])
    else:
        sys.exit(0 if verify(*sys.argv[2:4]) else 1)

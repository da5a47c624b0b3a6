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
verify MNT LOG: after the crash and remount, every "done" file has its
  content, every slot holds its last durable content or a later attempt
  (a rename is all-or-nothing), and every appender starts with the content
  its last logged fsync made durable. Prints ok/not ok lines; exit 1 on a failure.
"""
import hashlib
import os
import random
import sys


def h(data):
    return hashlib.sha256(data).hexdigest()[:16]


def logline(f, *words):
    f.write(" ".join(words) + "\n")
    f.flush()
    os.fsync(f.fileno())


def workload(mnt, logpath, seed, armed=None):
    rnd = random.Random(int(seed))
    d = os.path.join(mnt, "crash")
    os.makedirs(d, exist_ok=True)
    dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    held = []
    app = None
    with open(logpath, "a") as log:
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
            if len(w) != 3:
                continue  # the line being written when the VM died
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
    return good and agood


if __name__ == "__main__":
    if sys.argv[1] == "workload":
        workload(*sys.argv[2:6])
    else:
        sys.exit(0 if verify(*sys.argv[2:4]) else 1)

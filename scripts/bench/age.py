#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Age a filesystem: interleaved creates, appends, deletes and hole punches
until it is FILL percent full (statvfs) and it has been written CHURN
times over, the way a filesystem that has lived for a while looks to its
allocator (the WineFS aging lesson: what
matters for huge pages is whether 2 MiB-aligned free extents are left).

usage: age.py DIR [FILL] [SEED] [CHURN]

DIR is a directory on the filesystem to age (created if missing); FILL
defaults to 75, SEED to 1, CHURN to 3 (appends totalling three times the
filesystem's size). Below FILL each step is one of: create a file (20%),
append 4 KiB to 256 KiB to a random file with write(2) (50%), delete a
random file (10% once there are more than 8), punch a 4 KiB to 64 KiB hole
in a random file (20%). Appends are what fragment a filesystem: many files
grow at once, in small pieces. Deletes and punches free space in the
middle of what was allocated. At or above FILL a step deletes a file (60%)
or punches a hole (40%), so the filesystem stays near FILL while it churns.
Prints one "# age: ..." summary line; exit 1 if the filesystem fills up
(ENOSPC).
"""
import ctypes
import errno
import os
import random
import sys

FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE = 0x01, 0x02
BS = 4096

libc = ctypes.CDLL(None, use_errno=True)
libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]


def used_pct(d):
    st = os.statvfs(d)
    return 100.0 * (st.f_blocks - st.f_bfree) / st.f_blocks


def main():
    d = sys.argv[1]
    fill = float(sys.argv[2]) if len(sys.argv) > 2 else 75.0
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
    churn = float(sys.argv[4]) if len(sys.argv) > 4 else 3.0
    st = os.statvfs(d if os.path.isdir(d) else os.path.dirname(d.rstrip("/")) or ".")
    target = churn * st.f_blocks * st.f_frsize
    appended = 0
    os.makedirs(d, exist_ok=True)
    files = {}  # name -> size
    n = stats = 0
    counts = {"create": 0, "append": 0, "delete": 0, "punch": 0}
    chunk = bytes(range(256)) * (256 * 1024 // 256)
    while True:
        full = used_pct(d) >= fill
        if full and appended >= target:
            break
        # At FILL: only deletes (60%) and punches (40%).
        r = 0.7 + 0.3 * rng.random() if full else rng.random()
        if full and r >= 0.7 and r < 0.88:
            r = 0.75  # delete
        elif full:
            r = 0.9  # punch
        try:
            if r < 0.2 or not files:
                name = f"f{n:06d}"
                n += 1
                open(os.path.join(d, name), "wb").close()
                files[name] = 0
                counts["create"] += 1
            elif r < 0.7:
                name = rng.choice(list(files))
                length = BS * rng.randint(1, 64)
                with open(os.path.join(d, name), "ab") as f:
                    f.write(chunk[:length])
                files[name] += length
                appended += length
                counts["append"] += 1
            elif r < 0.8:
                if len(files) > 8:
                    name = rng.choice(list(files))
                    os.unlink(os.path.join(d, name))
                    del files[name]
                    counts["delete"] += 1
            else:
                name = rng.choice(list(files))
                size = files[name]
                if size > BS:
                    off = BS * rng.randrange(size // BS)
                    length = BS * rng.randint(1, 16)
                    fd = os.open(os.path.join(d, name), os.O_RDWR)
                    try:
                        if libc.fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, length) != 0:
                            e = ctypes.get_errno()
                            raise OSError(e, os.strerror(e))
                    finally:
                        os.close(fd)
                    counts["punch"] += 1
        except OSError as e:
            if e.errno == errno.ENOSPC:
                print(f"# age: ENOSPC at {used_pct(d):.1f}% full before {fill}%")
                return 1
            raise
        stats += 1
    print(f"# age: {used_pct(d):.1f}% full after {stats} steps, {appended >> 20} MiB appended: "
          + ", ".join(f"{k} {v}" for k, v in counts.items()) + f"; {len(files)} files left")
    return 0


if __name__ == "__main__":
    sys.exit(main())

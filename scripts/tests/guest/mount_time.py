#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Time mount(2) of daxfs on several devices.

    mount_time.py MNT CYCLES DEV...

For each of CYCLES rounds, and for each DEV in turn (interleaved, so that a
slow phase of the shared host hits every device alike), mount DEV on MNT,
measuring only the mount(2) call, then unmount it. One untimed warm-up round
comes first. Prints, per device:

    DEV median_us=N min_us=N max_us=N samples=a,b,c,...

Exit 1 when a mount or umount fails.
"""

import ctypes
import statistics
import sys
import time


def main(argv):
    mnt, cycles, devs = argv[1], int(argv[2]), argv[3:]
    libc = ctypes.CDLL(None, use_errno=True)
    samples = {d: [] for d in devs}
    for rnd in range(cycles + 1):
        for dev in devs:
            t0 = time.perf_counter_ns()
            r = libc.mount(dev.encode(), mnt.encode(), b"daxfs", 0, None)
            t1 = time.perf_counter_ns()
            if r != 0:
                print("# mount %s: errno %d" % (dev, ctypes.get_errno()))
                return 1
            if libc.umount2(mnt.encode(), 0) != 0:
                print("# umount %s: errno %d" % (dev, ctypes.get_errno()))
                return 1
            if rnd > 0:
                samples[dev].append((t1 - t0) // 1000)
    for dev in devs:
        s = samples[dev]
        print("%s median_us=%d min_us=%d max_us=%d samples=%s" % (
            dev, statistics.median(s), min(s), max(s), ",".join(map(str, s))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

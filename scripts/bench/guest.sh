#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# In the VM (scripts/bench.sh): each filesystem in turn on /dev/pmem1, the
# peers first: ext4 and xfs with -o dax=always, then daxfs. Prints the
# "bench FS PATTERN SECONDS" lines of writes.py and faults.py.
set -u
here=$(cd "$(dirname "$0")" && pwd)
tools=$(cd "$here/../.." && pwd)/build/bin
mkdir -p /mnt/bench
rc=0
for fs in ext4 xfs daxfs; do
	case $fs in
	ext4) mkfs.ext4 -q -F /dev/pmem1 && mount -t ext4 -o dax=always /dev/pmem1 /mnt/bench ;;
	xfs) mkfs.xfs -q -f -m reflink=0 /dev/pmem1 && mount -t xfs -o dax=always /dev/pmem1 /mnt/bench ;;
	daxfs) "$tools/mkfs.daxfs" -q -f /dev/pmem1 && mount -t daxfs /dev/pmem1 /mnt/bench ;;
	esac || { echo "bench-error $fs: mkfs or mount failed"; rc=1; continue; }
	grep -q "/mnt/bench .*dax" /proc/mounts || [ "$fs" = daxfs ] ||
		{ echo "bench-error $fs: not mounted with DAX"; rc=1; }
	python3 "$here/writes.py" /mnt/bench "$fs" || rc=1
	python3 "$here/faults.py" /mnt/bench "$fs" || rc=1
	umount /mnt/bench
done
exit $rc

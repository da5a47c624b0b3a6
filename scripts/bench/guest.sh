#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# In the VM (scripts/bench.sh): each filesystem in turn on /dev/pmem1, the
# peers first: ext4 and xfs with -o dax=always, then daxfs, each freshly
# made. Prints the "bench FS PATTERN SECONDS" and "info FS KEY VALUE" lines
# of the workloads (scripts/bench/*: writes.py, faults, fio.py, meta, pmdk,
# durable, overwrite64k.sh; the C programs built on the host by scripts/bench/build.sh into
# $DAXFS_BENCH_BIN). DAXFS_BENCH_ONLY="faults meta ..." runs only those.
set -u
here=$(cd "$(dirname "$0")" && pwd)
tools=$(cd "$here/../.." && pwd)/build/bin
bin=${DAXFS_BENCH_BIN:-$(cd "$here/../.." && pwd)/build/bench-bin}
only=${DAXFS_BENCH_ONLY:-writes faults fio meta pmdk durable g615}
mkdir -p /mnt/bench
rc=0
want() { [[ " $only " == *" $1 "* ]]; }
# step CMD...: run a workload; its failure fails the benchmark.
step() {
	local r=0
	"$@" || r=$?
	[ "$r" = 0 ] || { echo "bench-error $fs: ${1##*/} exited $r"; rc=1; }
}
for fs in ext4 xfs daxfs; do
	case $fs in
	ext4) mkfs.ext4 -q -F /dev/pmem1 && mount -t ext4 -o dax=always /dev/pmem1 /mnt/bench ;;
	xfs) mkfs.xfs -q -f -m reflink=0 /dev/pmem1 && mount -t xfs -o dax=always /dev/pmem1 /mnt/bench ;;
	daxfs) "$tools/mkfs.daxfs" -q -f /dev/pmem1 && mount -t daxfs /dev/pmem1 /mnt/bench ;;
	esac || { echo "bench-error $fs: mkfs or mount failed"; rc=1; continue; }
	grep -q "/mnt/bench .*dax" /proc/mounts || [ "$fs" = daxfs ] ||
		{ echo "bench-error $fs: not mounted with DAX"; rc=1; }
	want writes && step python3 "$here/writes.py" /mnt/bench "$fs"
	want faults && step "$bin/faults" /mnt/bench "$fs"
	want fio && step python3 "$here/fio.py" /mnt/bench "$fs"
	if want meta; then
		step "$bin/meta" /mnt/bench "$fs" 10000 1
		step "$bin/meta" /mnt/bench "$fs" 10000 4
	fi
	want pmdk && step "$bin/pmdk" /mnt/bench "$fs"
	want durable && step "$bin/durable" /mnt/bench "$fs"
	want g615 && step "$here/overwrite64k.sh" /mnt/bench "$fs"
	umount /mnt/bench || { echo "bench-error $fs: umount failed"; rc=1; }
done
exit $rc

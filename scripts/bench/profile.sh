#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# In the VM (scripts/profile.sh): run workloads of the benchmark under
# "perf record -a -g" (cpu-clock, 4 kHz), each filesystem freshly made on
# /dev/pmem1 as in guest.sh, and write perf's reports to
# /tmp/out/profile/FS-WORKLOAD.txt (the run's output directory on the host):
# the symbols by their own time, then the kernel's by the time under them.
#   DAXFS_PROFILE     the workloads: fio:JOB (a job of fio.py), meta, meta4
#                     (meta.c with 1 and 4 threads), pmdk, durable, faults
#                     (faults.c, every file state and mapping), writes (writes.py),
#                     g615 (overwrite64k.sh)
#   DAXFS_PROFILE_FS  the filesystems (default: ext4 xfs daxfs)
# A profile costs time: the benchmark's figures come from scripts/bench.sh,
# never from here.
set -u
here=$(cd "$(dirname "$0")" && pwd)
tools=$(cd "$here/../.." && pwd)/build/bin
bin=${DAXFS_BENCH_BIN:-$(cd "$here/../.." && pwd)/build/bench-bin}
work=${DAXFS_PROFILE:-fio:psync-4k-randwrite meta}
fss=${DAXFS_PROFILE_FS:-ext4 xfs daxfs}
out=/tmp/out/profile
mkdir -p /mnt/bench "$out"
command -v perf >/dev/null || { echo "profile-error: no perf in the guest (scripts/deps.sh installs linux-perf)"; exit 1; }
rc=0
rec() { perf record -q -a -g -e cpu-clock -F 4000 -o "$1" -- "${@:2}"; }
for fs in $fss; do
	case $fs in
	ext4) mkfs.ext4 -q -F /dev/pmem1 && mount -t ext4 -o dax=always /dev/pmem1 /mnt/bench ;;
	xfs) mkfs.xfs -q -f -m reflink=0 /dev/pmem1 && mount -t xfs -o dax=always /dev/pmem1 /mnt/bench ;;
	daxfs) "$tools/mkfs.daxfs" -q -f /dev/pmem1 && mount -t daxfs /dev/pmem1 /mnt/bench ;;
	*) echo "profile-error: unknown filesystem $fs"; rc=1; continue ;;
	esac || { echo "profile-error $fs: mkfs or mount failed"; rc=1; continue; }
	for w in $work; do
		data=/tmp/$fs-${w//:/-}.data
		rm -f "$data"
		case $w in
		fio:*) DAXFS_FIO_JOBS=${w#fio:} DAXFS_FIO_PERF=/tmp python3 "$here/fio.py" /mnt/bench "$fs" ;;
		meta) rec "$data" "$bin/meta" /mnt/bench "$fs" 10000 1 ;;
		meta4) rec "$data" "$bin/meta" /mnt/bench "$fs" 10000 4 ;;
		pmdk) rec "$data" "$bin/pmdk" /mnt/bench "$fs" ;;
		durable) rec "$data" "$bin/durable" /mnt/bench "$fs" ;;
		faults) rec "$data" "$bin/faults" /mnt/bench "$fs" ;;
		writes) rec "$data" python3 "$here/writes.py" /mnt/bench "$fs" ;;
		g615) rec "$data" "$here/overwrite64k.sh" /mnt/bench "$fs" ;;
		*) echo "profile-error: unknown workload $w"; rc=1; continue ;;
		esac || { echo "profile-error $fs $w: the workload failed"; rc=1; }
		[ -f "$data" ] || { echo "profile-error $fs $w: no profile recorded"; rc=1; continue; }
		txt=$out/$fs-${w//:/-}.txt
		{
			echo "# $fs $w: symbols by their own time"
			perf report -i "$data" --stdio --no-children --sort sym -g none --percent-limit 0.5 2>/dev/null | grep -v '^$'
			echo "# $fs $w: kernel symbols by the time spent under them"
			perf report -i "$data" --stdio --children --sort sym -g none --percent-limit 2 2>/dev/null |
				grep -E '^#|\[k\]' | grep -vE 'idle|halt|startup|cpu_startup'
		} > "$txt"
		echo "profile $fs $w: $(grep -c '%' "$txt") lines in profile/${txt##*/}"
		rm -f "$data"
	done
	umount /mnt/bench || { echo "profile-error $fs: umount failed"; rc=1; }
done
exit $rc

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Crash consistency: boot, run crash-workload.py on FS, SIGKILL QEMU at a
# random moment, boot again on the same NVDIMM image, mount (recovery), check
# every fsync'd file and rename, umount, fsck -n. Prints "ok - / not ok - ".
#   usage: crash-test.sh [--fs daxfs|ext4] [--runs N] [--seed S]
. "$(dirname "$0")/../lib.sh"
set +e
fs=daxfs runs=${DAXFS_CRASH_RUNS:-20} seed=${DAXFS_CRASH_SEED:-$RANDOM}
while [ $# -gt 0 ]; do
	case $1 in
	--fs) fs=$2; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	--seed) seed=$2; shift 2 ;;
	*) die "crash-test.sh: unknown argument $1" ;;
	esac
done
case $fs in
daxfs) mkfs="mkfs.daxfs -q -f" fsck="fsck.daxfs -n" mopt= ;;
ext4) mkfs="mkfs.ext4 -q -F" fsck="fsck.ext4 -n -f" mopt="-o dax=always" ;;
*) die "unsupported fs $fs" ;;
esac
# Not under /tmp: the guest mounts a tmpfs there, and boot 2 reads boot 1's
# workload log through the host root.
work=${DAXFS_RESULTS:-$REPO/build/test-results}/crash-$fs
rm -rf "$work" && mkdir -p "$work"
RANDOM=$seed
echo "# crash test on $fs: $runs crash points, seed $seed"
w=$REPO/scripts/tests/crash-workload.py
for ((r = 1; r <= runs; r++)); do
	rm -rf "$work/img" "$work/out1" && mkdir -p "$work/img"
	kill_at=$((1 + RANDOM % 10))
	# Boot 1: format, mount, run the workload until QEMU is killed.
	"$REPO/scripts/vm.sh" --images "$work/img" --kill-after-armed "$kill_at" --timeout 180 --out "$work/out1" -- \
		bash -c "$mkfs /dev/pmem0 && mkdir -p /mnt/c && mount -t $fs $mopt /dev/pmem0 /mnt/c &&
			exec python3 $w workload /mnt/c /tmp/out/wlog $r /tmp/out/armed" > "$work/boot1-$r.log" 2>&1
	rc=$?
	if [ "$rc" != 137 ]; then
		echo "not ok - crash point $r: the workload stopped before the kill (exit $rc)"
		sed 's/^/#   /' "$work/boot1-$r.log" | tail -10
		continue
	fi
	# Boot 2: recovery, verification, fsck.
	"$REPO/scripts/vm.sh" --images "$work/img" --no-pmem-setup --timeout 300 -- \
		bash -c "mkdir -p /mnt/c && mount -t $fs $mopt /dev/pmem0 /mnt/c &&
			python3 $w verify /mnt/c $work/out1/wlog; v=\$?; umount /mnt/c && $fsck /dev/pmem0 >/tmp/fsck 2>&1;
			f=\$?; cat /tmp/fsck | sed 's/^/# fsck: /'; [ \$f = 0 ] && echo 'ok - fsck clean' || echo 'not ok - fsck clean';
			exit \$((v | f))" > "$work/boot2-$r.log" 2>&1
	rc=$?
	sed -n 's/^\(ok\|not ok\) - /&crash point '"$r"' (killed '"$kill_at"'s into the workload): /p; /^#/p' "$work/boot2-$r.log"
	grep -qE '^(ok|not ok) - ' "$work/boot2-$r.log" ||
		{ echo "not ok - crash point $r: recovery boot failed (exit $rc)"; sed 's/^/#   /' "$work/boot2-$r.log" | tail -15; }
done

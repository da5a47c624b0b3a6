#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Crash consistency: boot, run crash-workload.py on FS, SIGKILL QEMU at a
# random moment, boot again on the same NVDIMM image, mount (recovery), check
# every fsync'd file and rename, the seal state of sealed/unsealed files and
# every MAP_SYNC store made durable by a cache flush, umount, fsck -n.
# Prints "ok - / not ok - ".
#   usage: crash-test.sh [--fs daxfs|ext4] [--runs N] [--seed S]
. "$(dirname "$0")/../lib.sh"
set +e
fs=daxfs runs=${DAXFS_CRASH_RUNS:-30} seed=${DAXFS_CRASH_SEED:-$RANDOM}
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
# The guest puts a tmpfs on these, except over the clone itself (guest-init).
case $work in
"$REPO"/*) ;;
/tmp/* | /var/tmp/* | /run/* | /mnt/* | /root/* | /var/log/*)
	die "crash-test.sh: $work is hidden from the guest (a tmpfs there); use another DAXFS_RESULTS" ;;
esac
rm -rf "$work" && mkdir -p "$work"
RANDOM=$seed
echo "# crash test on $fs: $runs crash points, seed $seed"
w=$REPO/scripts/tests/crash-workload.py
# KUnit has its own stage; these boots skip it (kunit.enable=0).
vmargs=(--append "kunit.enable=0")
for ((r = 1; r <= runs; r++)); do
	# Boot 1: format, mount, run the workload until QEMU is killed. A boot that
	# never reaches the workload (the guest hangs or dies while booting, seen
	# under TCG on an overloaded host) is retried twice and reported; it is a
	# failure only if every try fails, and the crash point is then not counted.
	for try in 1 2 3; do
		rm -rf "$work/img" "$work/out1" && mkdir -p "$work/img"
		kill_at=$((1 + RANDOM % 10))
		"$REPO/scripts/vm.sh" "${vmargs[@]}" --images "$work/img" --kill-after-armed "$kill_at" --timeout 180 \
			--out "$work/out1" -- \
			bash -c "$mkfs /dev/pmem0 && mkdir -p /mnt/c && mount -t $fs $mopt /dev/pmem0 /mnt/c &&
				exec python3 $w workload /mnt/c /tmp/out/wlog $r /tmp/out/armed" > "$work/boot1-$r.log" 2>&1
		rc=$?
		{ [ "$rc" = 137 ] || [ "$rc" = 126 ]; } && break
		cp -r "$work/out1" "$work/out1-$r-try$try"
		[ -e "$work/out1/armed" ] && break
		echo "# crash point $r: boot 1 did not reach the workload (exit $rc, console in out1-$r-try$try)"
	done
	if [ "$rc" = 126 ]; then
		# Killed as asked, but the kernel reported a problem meanwhile
		# (vm.sh: WARN, BUG, lockdep, KASAN, ...). Recovery is still checked.
		cp -r "$work/out1" "$work/out1-$r"
		echo "not ok - crash point $r: a kernel report on the console of the workload boot (console in out1-$r)"
		grep -aE 'BUG|WARNING|KASAN|UBSAN|lockdep|circular|Oops|panicked' "$work/out1/console.log" | head -5 | sed 's/^/#   /'
		rc=137
	fi
	if [ "$rc" != 137 ]; then
		echo "not ok - crash point $r: the workload stopped before the kill (exit $rc)"
		sed 's/^/#   /' "$work/boot1-$r.log" | tail -10
		continue
	fi
	# Boot 2: recovery, verification, fsck. A boot that hangs or dies before
	# the guest command starts (no output file: guest-init never ran it, so
	# the image is untouched; seen under TCG: a hang 0.6 s into boot, at SMP
	# bring-up) is retried twice and reported, like boot 1's.
	for try in 1 2 3; do
		rm -rf "$work/out2-$r"
		"$REPO/scripts/vm.sh" "${vmargs[@]}" --images "$work/img" --no-pmem-setup --timeout 300 --out "$work/out2-$r" -- \
			bash -c "mkdir -p /mnt/c && mount -t $fs $mopt /dev/pmem0 /mnt/c &&
				python3 $w verify /mnt/c $work/out1/wlog; v=\$?; umount /mnt/c && $fsck /dev/pmem0 >/tmp/fsck 2>&1;
				f=\$?; cat /tmp/fsck | sed 's/^/# fsck: /'; [ \$f = 0 ] && echo 'ok - fsck clean' || echo 'not ok - fsck clean';
				exit \$((v | f))" > "$work/boot2-$r.log" 2>&1
		rc=$?
		{ [ "$rc" = 124 ] || [ "$rc" = 125 ]; } && [ ! -e "$work/out2-$r/output" ] || break
		cp -r "$work/out2-$r" "$work/out2-$r-try$try"
		echo "# crash point $r: boot 2 did not reach the guest command (exit $rc, console in out2-$r-try$try)"
	done
	sed -n 's/^\(ok\|not ok\) - /&crash point '"$r"' (killed '"$kill_at"'s into the workload): /p; /^#/p' "$work/boot2-$r.log"
	if ! grep -qE "^(ok|not ok) - .*fsync'd files" "$work/boot2-$r.log"; then
		# Mount failed, the verifier died, or the guest crashed.
		echo "not ok - crash point $r: recovery and verification did not finish (exit $rc, console in out2-$r)"
		sed 's/^/#   /' "$work/boot2-$r.log" | tail -15
	elif [ "$rc" != 0 ] && ! grep -q '^not ok - ' "$work/boot2-$r.log"; then
		echo "not ok - crash point $r: recovery boot exited $rc (console in out2-$r)"
		sed 's/^/#   /' "$work/boot2-$r.log" | tail -15
	elif [ "$rc" = 0 ]; then
		rm -rf "$work/out2-$r"
	fi
done

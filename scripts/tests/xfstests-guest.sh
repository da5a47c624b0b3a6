#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# In the VM: a writable copy of the installed xfstests with
# xfstests-additions/ applied, a local.config for the two NVDIMMs, ./check,
# and one "ok - / not ok - / skip - " line per test from its summary.
set -u
repo=$(cd "$(dirname "$0")/../.." && pwd)
src=$XFSTESTS_DIR fstyp=$DAXFS_XFSTESTS_FSTYP
x=/tmp/xfstests
mkdir -p $x /tmp/xfs-upper /tmp/xfs-work
mount -t overlay overlay -o "lowerdir=$src,upperdir=/tmp/xfs-upper,workdir=/tmp/xfs-work" $x 2>/dev/null ||
	cp -a "$src/." $x/
cd $x || exit 1
add=$repo/xfstests-additions
for p in "$add"/patches/*.patch; do
	[ -e "$p" ] || continue
	patch -s -p1 < "$p" || { echo "not ok - $(basename "$p") does not apply to this xfstests"; exit 1; }
done
[ -d "$add/tests" ] && cp -r "$add/tests/." tests/

if [ "$fstyp" = daxfs ] && ! grep -qw daxfs /proc/filesystems; then
	echo "skip - FSTYP=daxfs: this kernel does not register daxfs"
	exit 0
fi
mkdir -p /mnt/test /mnt/scratch
if [ "$fstyp" = daxfs ]; then
	# Almost every xfstests case writes: without a write path the run
	# would only measure that. Report it as skipped, with the reason.
	mkfs.daxfs -q -f /dev/pmem0 && mount -t daxfs /dev/pmem0 /mnt/test ||
		{ echo "not ok - mkfs.daxfs + mount of TEST_DEV"; exit 1; }
	if ! touch /mnt/test/.probe 2>/dev/null; then
		umount /mnt/test
		echo "skip - FSTYP=daxfs: mounted read-only: no write path yet"
		exit 0
	fi
	rm -f /mnt/test/.probe
	umount /mnt/test
fi
case $fstyp in
ext4) mkfs.ext4 -q -F /dev/pmem0; opts="-o dax=always" ;;
xfs) mkfs.xfs -q -f /dev/pmem0; opts="-o dax=always" ;;
daxfs) "$repo/build/bin/mkfs.daxfs" -q -f /dev/pmem0; opts= ;;
esac
cat > local.config <<CFG
export FSTYP=$fstyp
export TEST_DEV=/dev/pmem0
export TEST_DIR=/mnt/test
export SCRATCH_DEV=/dev/pmem1
export SCRATCH_MNT=/mnt/scratch
export MOUNT_OPTIONS="$opts"
export TEST_FS_MOUNT_OPTS="$opts"
export MKFS_DAXFS_PROG=$repo/build/bin/mkfs.daxfs
export FSCK_DAXFS_PROG=$repo/build/bin/fsck.daxfs
export RESULT_BASE=/tmp/xfstests-results
CFG
# Users and groups some tests want exist on the host already or are skipped.
# shellcheck disable=SC2086
./check $DAXFS_XFSTESTS > /tmp/check.out 2>&1
rc=$?
cat /tmp/check.out | sed 's/^/# /'
ran=$(sed -n 's/^Ran: //p' /tmp/check.out | tail -1)
notrun=" $(sed -n 's/^Not run: //p' /tmp/check.out | tail -1) "
failures=" $(sed -n 's/^Failures: //p' /tmp/check.out | tail -1) "
[ -n "$ran" ] || { echo "not ok - ./check ran nothing (exit $rc)"; exit 1; }
for t in $ran; do
	if [[ "$notrun" == *" $t "* ]]; then
		why=$(sed -n "s/^$(printf %s "$t" | sed 's,/,\\/,g') *\[not run\] *//p" /tmp/check.out | head -1)
		echo "skip - $t: ${why:-not run}"
	elif [[ "$failures" == *" $t "* ]]; then
		echo "not ok - $t"
		for f in /tmp/xfstests-results/*/"${t#*/}".out.bad; do [ -f "$f" ] && diff -u "tests/$t.out" "$f" | head -20 | sed 's/^/#   /'; done
	else
		echo "ok - $t"
	fi
done
for t in $notrun; do [[ " $ran " == *" $t "* ]] || echo "skip - $t: not run"; done
[ "$failures" = "  " ]

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# daxfs: every damaged image is refused at mount with the right errno and
# exactly one "daxfs: DEV: ..." line in the kernel log; damage found after
# mount fails the operation (EUCLEAN), never the kernel (vm.sh fails the run
# on any WARN/BUG/Oops).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daxfs-lib.sh"

t "set-up" dx_setup

# refused KIND ERRNO MESSAGE: damage a fresh copy of the small image with
# KIND, check the mount fails with ERRNO and logs one line with MESSAGE.
refused() {
	local kind=$1 want=$2 msg=$3 before got after
	dx_restore
	python3 "$UTIL" corrupt /dev/pmem1 "$kind" || { not_ok "$kind: corrupt"; return; }
	before=$(dx_klog 'daxfs: pmem1: ')
	got=$(python3 "$UTIL" mount /dev/pmem1 "$DX_MNT")
	after=$(dx_klog 'daxfs: pmem1: ')
	if [ "$got" = OK ]; then
		umount "$DX_MNT"
		not_ok "$kind: refused with $want" "mount succeeded"
	elif [ "$got" != "$want" ]; then
		not_ok "$kind: refused with $want" "got $got"
	elif [ $((after - before)) != 1 ] || ! dmesg | grep 'daxfs: pmem1: ' | tail -1 | grep -q "$msg"; then
		not_ok "$kind: refused with $want" "log: $(dmesg | grep 'daxfs: pmem1: ' | tail -2)"
	else
		ok "$kind: refused with $want and one log line ($msg)"
	fi
}

dx_restore
t "pristine small image mounts" sh -c "test \"\$(python3 $UTIL mount /dev/pmem1 $DX_MNT)\" = OK && umount $DX_MNT"
refused magic EINVAL "bad magic"
refused zero EINVAL "bad magic"
refused sb-checksum EUCLEAN "checksum mismatch"
refused incompat ENOTSUP "unsupported incompatible features 0x10000000000"
refused version EINVAL "unsupported format version 7"
# An unknown read-only-compatible feature: readable, never written (as on
# ext4). The damage helper mounts with mount(2), which does not retry
# read-only on EROFS as mount(8) does.
refused ro-compat EROFS "unsupported read-only-compatible features 0x10000000000: mount read-only"
t "ro-compat: a read-only mount works and lists the files" sh -c \
	"test \"\$(python3 $UTIL mount /dev/pmem1 $DX_MNT ro)\" = OK && ls $DX_MNT/links >/dev/null"
t "ro-compat: remount read-write fails with EROFS and one log line" sh -c \
	"! mount -o remount,rw $DX_MNT 2>/dev/null && grep -q \" $DX_MNT daxfs ro,\" /proc/mounts &&
	 dmesg | grep 'daxfs: pmem1: ' | tail -1 | grep -q 'cannot remount read-write'"
t "ro-compat: umount" umount "$DX_MNT"
refused geometry EUCLEAN "invalid superblock"
refused journal EUCLEAN "invalid journal header"
# A committed transaction whose log does not match its commit word: recovery
# validates the whole transaction before writing anything, and refuses.
refused journal-pending EUCLEAN "journal recovery failed"
t "journal-pending: mounts read-only with norecovery" sh -c \
	"test \"\$(python3 $UTIL mount /dev/pmem1 $DX_MNT norecovery)\" = OK &&
	grep -q \"^/dev/pmem1 $DX_MNT daxfs ro[, ]\" /proc/mounts && umount $DX_MNT"
refused root-inode EUCLEAN "invalid root inode"

# A filesystem larger than its device: the metadata of a 2 GiB daxfs on the
# 1 GiB /dev/pmem1.
t "make a 2 GiB image" "$MKFS" -f -q /tmp/daxfs-test/big.img 2G
dd if=/tmp/daxfs-test/big.img of=/dev/pmem1 bs=1M count=16 conv=fsync status=none
before=$(dx_klog 'daxfs: pmem1: ')
t "filesystem larger than the device: EINVAL" test "$(python3 "$UTIL" mount /dev/pmem1 "$DX_MNT")" = EINVAL
t "... logged once" sh -c "test $(( before + 1 )) = \$(dmesg | grep -c 'daxfs: pmem1: ') && dmesg | grep 'daxfs: pmem1: ' | tail -1 | grep -q 'exceeds the device'"
rm -f /tmp/daxfs-test/big.img

# A device without DAX: a loop device over a valid image.
dx_restore
loopdev=$(losetup -f --show "$DX_SMALL" 2>/dev/null)
if [ -n "$loopdev" ]; then
	name=${loopdev#/dev/}
	t "device without DAX: EINVAL" test "$(python3 "$UTIL" mount "$loopdev" "$DX_MNT")" = EINVAL
	t "... with one log line" sh -c "dmesg | grep \"daxfs: $name: \" | tail -1 | grep -q 'does not support DAX'"
	losetup -d "$loopdev"
else
	skip "device without DAX" "no loop device"
fi

# Damage that mount does not read: the root directory's B+tree node.
dx_restore
python3 "$UTIL" corrupt /dev/pmem1 root-dir-node
t "damaged directory node: mount succeeds" mount -t daxfs /dev/pmem1 "$DX_MNT"
t "... readdir fails with EUCLEAN" sh -c "ls $DX_MNT 2>&1 | grep -q 'Structure needs cleaning'"
t "... lookup fails with EUCLEAN" sh -c "stat $DX_MNT/links 2>&1 | grep -q 'Structure needs cleaning'"
t "... umount" umount "$DX_MNT"
t "nothing left mounted" sh -c "! grep -q ' $DX_MNT ' /proc/mounts"

# euclean MSG CMD...: CMD must fail with "Structure needs cleaning".
euclean() {
	local name=$1 out; shift
	if out=$("$@" 2>&1); then
		not_ok "$name fails with EUCLEAN" "it succeeded"
	elif ! grep -q 'Structure needs cleaning' <<<"$out"; then
		not_ok "$name fails with EUCLEAN" "$out"
	else
		ok "$name fails with EUCLEAN"
	fi
}
SYSDIR=/sys/fs/daxfs/pmem1
F=$DX_MNT/size-4097

# An extent that points into metadata (checksums right, so only the extent
# check stands in the way): no operation may zero or map that metadata. The
# file's block 1 is the journal header, then the first inode table block (the
# root inode); truncating up and zeroing a range would zero it from byte 1.
for area in journal inode-table; do
	dx_restore
	python3 "$UTIL" badextent /dev/pmem1 4097 "$area" >/dev/null
	t "extent into $area: mount (errors=continue)" mount -t daxfs -o errors=continue /dev/pmem1 "$DX_MNT"
	euclean "extent into $area: read" cat "$F"
	euclean "extent into $area: truncate up (zeroes the tail)" truncate -s 100000 "$F"
	euclean "extent into $area: fallocate zero range" fallocate -z -o 4097 -l 4000 "$F"
	euclean "extent into $area: write" sh -c "printf x | dd of=$F bs=1 seek=4100 conv=notrunc status=none"
	tf "extent into $area: a mapping of it cannot be read" python3 -c "
import mmap, os, sys
fd = os.open('$F', os.O_RDONLY)
m = mmap.mmap(fd, 8192, mmap.MAP_SHARED, mmap.PROT_READ)
sys.exit(0 if m[4096:4097] is not None else 1)"
	t "extent into $area: errors counted in sysfs" sh -c "test \$(cat $SYSDIR/errors) -ge 4"
	t "extent into $area: errors=continue: other changes still work" sh -c "touch $DX_MNT/new && rm $DX_MNT/new"
	t "extent into $area: umount" umount "$DX_MNT"
	t "extent into $area: the metadata is intact: the filesystem mounts and lists again" \
		sh -c "mount -t daxfs /dev/pmem1 $DX_MNT && ls $DX_MNT/links >/dev/null && umount $DX_MNT"
	t "extent into $area: the superblock records the errors" test "$(python3 "$UTIL" sbfield /dev/pmem1 errors)" = 1
	t "extent into $area: fsck -n finds the bad extent" sh -c "$FSCK -n /dev/pmem1 | grep -qE 'EXTENT_(RANGE|BAD)'"
done

# errors=remount-ro (the default): after the first corruption nothing is
# written any more, until unmount.
dx_restore
python3 "$UTIL" badextent /dev/pmem1 4097 journal >/dev/null
t "remount-ro: mount with the default errors policy" mount -t daxfs /dev/pmem1 "$DX_MNT"
t "remount-ro: show_options says errors=remount-ro" grep -q " $DX_MNT daxfs .*errors=remount-ro" /proc/mounts
before=$(dx_klog 'daxfs: pmem1: ')
euclean "remount-ro: read" cat "$F"
t "remount-ro: one report and one 'no further changes' line" sh -c \
	"test \$(dmesg | grep -c 'daxfs: pmem1: ') = $((before + 2)) && dmesg | grep 'daxfs: pmem1: ' | tail -1 | grep -q 'no further changes'"
t "remount-ro: creating a file fails with EROFS" sh -c "touch $DX_MNT/new 2>&1 | grep -q 'Read-only file system'"
t "remount-ro: writing into an existing file fails with EROFS" sh -c \
	"printf x 2>&1 | dd of=$DX_MNT/hole-first bs=1 seek=10 conv=notrunc status=none 2>&1 | grep -q 'Read-only file system'"
t "remount-ro: reading the good files still works" sh -c "cat $DX_MNT/hole-first >/dev/null && ls -R $DX_MNT >/dev/null"
# The mount was never flipped to ro, so "remount,rw" has nothing to do; what
# counts is that it does not bring writing back.
t "remount-ro: a remount read-write does not make it writable again" sh -c \
	"mount -o remount,rw $DX_MNT 2>/dev/null; ! touch $DX_MNT/new2 2>/dev/null && test ! -e $DX_MNT/new2"
# A damaged image must not flood the log: 200 more reads, at most 10 lines
# per 5 s interval they span (the kernel's default budget), fewer than 200.
# One process reads: a process per read (cat) took 0.7 s each on the debug
# kernel under TCG, too slow to ever exceed the budget.
before=$(dx_klog 'corrupted metadata')
s0=$(date +%s)
python3 -c '
import sys
for _ in range(200):
    try:
        with open(sys.argv[1], "rb") as f:
            f.read()
    except OSError:
        pass
' "$F"
lines=$(( $(dx_klog 'corrupted metadata') - before )) limit=$(( 10 * (($(date +%s) - s0) / 5 + 2) ))
echo "# 200 reads in $(( $(date +%s) - s0 )) s: $lines report lines"
t "remount-ro: reports are rate-limited (200 reads: at most 10 lines per 5 s, fewer than 200)" \
	test "$lines" -le "$limit" -a "$lines" -lt 200
t "remount-ro: umount" umount "$DX_MNT"
t "remount-ro: no line per inode whose times could not be written" sh -c "! dmesg | grep -qE 'cannot (write attributes|free it)'"
t "remount-ro: the superblock records the errors" test "$(python3 "$UTIL" sbfield /dev/pmem1 errors)" = 1
before=$(dx_klog 'daxfs: pmem1: ')
t "remount-ro: the next mount says to run fsck" sh -c \
	"mount -t daxfs /dev/pmem1 $DX_MNT && umount $DX_MNT && dmesg | grep 'daxfs: pmem1: ' | tail -n +$((before + 1)) | grep -q 'has errors; run fsck.daxfs'"
t "remount-ro: fsck -y repairs the extent" sh -c "$FSCK -y /dev/pmem1; test \$? -le 1"
t "remount-ro: ... and clears the errors mark" test "$(python3 "$UTIL" sbfield /dev/pmem1 errors)" = 0
t "remount-ro: fsck -n is clean afterwards" "$FSCK" -n /dev/pmem1
tf "errors=bogus is refused" mount -t daxfs -o errors=bogus /dev/pmem1 "$DX_MNT"
umount "$DX_MNT" 2>/dev/null
t "nothing left mounted at the end" sh -c "! grep -q ' $DX_MNT ' /proc/mounts"
suite_exit

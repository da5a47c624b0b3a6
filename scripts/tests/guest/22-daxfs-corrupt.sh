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
suite_exit

# SPDX-License-Identifier: GPL-2.0
# Shared set-up of the daxfs guest suites (20-29), sourced after lib.sh.
#
# The test tree and the image made from it are built once per boot under
# /tmp/daxfs-test (tmpfs) and reused by every suite:
#   $DX_SRC   the varied source tree (on a noatime tmpfs, so reading it
#             while making the image does not change its atimes)
#   /dev/pmem0  mkfs.daxfs -d $DX_SRC (the whole device)
#   $DX_SMALL a 16 MiB image of a small tree, restored onto /dev/pmem1 by
#             the suites that damage or churn it
DX=/tmp/daxfs-test
DX_SRC=$DX/src/tree
DX_SMALL=$DX/small.img
DX_MNT=/mnt/daxfs
UTIL=$GUEST_REPO/scripts/tests/guest/daxfs_util.py
MKFS=$TOOLS/mkfs.daxfs
FSCK=$TOOLS/fsck.daxfs

# dx_setup: build the tree and the images unless an earlier suite did.
dx_setup() {
	[ -f "$DX/ready" ] && return 0
	mkdir -p "$DX/src" "$DX_MNT"
	mountpoint -q "$DX/src" || mount -t tmpfs -o noatime,size=600m tmpfs "$DX/src" || return 1
	rm -rf "$DX_SRC" "$DX/small"
	python3 "$UTIL" mktree "$DX_SRC" || return 1
	"$MKFS" -f -q -d "$DX_SRC" /dev/pmem0 || return 1
	mkdir -p "$DX/small"
	cp -a "$DX_SRC/links" "$DX_SRC/hard" "$DX_SRC/special" "$DX/small/" &&
		cp -a "$DX_SRC/files/size-4097" "$DX_SRC/files/hole-first" "$DX/small/" || return 1
	"$MKFS" -f -q -d "$DX/small" /dev/pmem1 16M || return 1
	dd if=/dev/pmem1 of="$DX_SMALL" bs=1M count=16 status=none || return 1
	touch "$DX/ready"
}

# dx_restore: put the pristine small image back onto /dev/pmem1.
dx_restore() {
	dd if="$DX_SMALL" of=/dev/pmem1 bs=1M conv=fsync status=none
}

# dx_klog PATTERN: number of kernel log lines matching PATTERN.
dx_klog() {
	dmesg | grep -cE "$1"
}

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Namespace operations and their error codes (namespace.py), first on ext4
# with dax=always as the reference (so the expectations are Linux's, not
# ours), then on daxfs. daxfs is skipped, with the reason, while it cannot
# write.
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")
mkdir -p /mnt/ns

mkfs.ext4 -q -F /dev/pmem1 && mount -t ext4 -o dax=always /dev/pmem1 /mnt/ns &&
	python3 "$here/namespace.py" "ext4-dax" /mnt/ns
umount /mnt/ns 2>/dev/null

if daxfs_mount_rw /dev/pmem1 /mnt/ns; then
	python3 "$here/namespace.py" "daxfs" /mnt/ns || _fails=$((_fails + 1))
	t "daxfs: umount" umount /mnt/ns
	t "daxfs: fsck clean after the namespace suite" fsck.daxfs -n /dev/pmem1
fi
suite_exit

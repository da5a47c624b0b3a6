#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# daxfs: statfs counts are exact after every kind of allocation and free,
# ENOSPC (blocks and inodes) is clean and leaks nothing; fsck agrees.
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")
mkdir -p /mnt/sp
if daxfs_mount_rw /dev/pmem1 /mnt/sp; then
	python3 "$here/space.py" /mnt/sp || _fails=$((_fails + 1))
	t "daxfs: umount" umount /mnt/sp
	t "daxfs: fsck clean after ENOSPC" fsck.daxfs -n /dev/pmem1
fi
suite_exit

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# daxfs: huge pages with a plain mmap(NULL, len) (mmap_huge.py): the mapping
# is 2 MiB-aligned and a sealed file faults once per 2 MiB.
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")
mkdir -p /mnt/huge
if daxfs_mount_rw /dev/pmem1 /mnt/huge; then
	python3 "$here/mmap_huge.py" /mnt/huge || _fails=$((_fails + 1))
	t "daxfs: umount after the huge-page mappings" umount /mnt/huge
	t "daxfs: fsck clean after the huge-page mappings" fsck.daxfs -n /dev/pmem1
fi
suite_exit

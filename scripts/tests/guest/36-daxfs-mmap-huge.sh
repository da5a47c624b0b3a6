#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# daxfs: huge pages with a plain mmap(NULL, len) (mmap_huge.py): the mapping
# is 2 MiB-aligned and a sealed 64 MiB file faults once per 2 MiB, on a
# fresh filesystem and on one aged to 75% full by interleaved creates,
# appends, deletes and hole punches (scripts/bench/age.py), where the
# allocator must still find 2 MiB-aligned free space.
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")
mkdir -p /mnt/huge
if daxfs_mount_rw /dev/pmem1 /mnt/huge; then
	python3 "$here/mmap_huge.py" /mnt/huge fresh || _fails=$((_fails + 1))
	t "daxfs: umount after the huge-page mappings" umount /mnt/huge
	t "daxfs: fsck clean after the huge-page mappings" fsck.daxfs -n /dev/pmem1
fi
if daxfs_mount_rw /dev/pmem1 /mnt/huge; then
	if out=$(python3 "$GUEST_REPO/scripts/bench/age.py" /mnt/huge/aged 75 1 2>&1); then
		ok "daxfs: aged to 75% full (creates, appends, deletes, punches)"
	else
		not_ok "daxfs: aged to 75% full (creates, appends, deletes, punches)"
	fi
	printf '%s\n' "$out" | tail -n 5
	python3 "$here/mmap_huge.py" /mnt/huge aged || _fails=$((_fails + 1))
	t "daxfs: umount after the aged run" umount /mnt/huge
	t "daxfs: fsck clean after the aged run" fsck.daxfs -n /dev/pmem1
fi
suite_exit

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# daxfs: sealed block maps (FALLOC_FL_SEAL_BLOCK_MAP/UNSEAL_BLOCK_MAP):
# sealing fills and fixes the map, every change is refused with ETXTBSY,
# the seal persists across a remount, unseal and the errors of both modes;
# fsck is clean after each phase.
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")
mkdir -p /mnt/seal
if daxfs_mount_rw /dev/pmem1 /mnt/seal; then
	python3 "$here/seal.py" /mnt/seal /tmp || _fails=$((_fails + 1))
	t "daxfs: umount with a sealed file" umount /mnt/seal
	t "daxfs: fsck clean with a sealed file" fsck.daxfs -n /dev/pmem1
	if t "daxfs: mount again" mount -t daxfs /dev/pmem1 /mnt/seal; then
		python3 "$here/seal.py" /mnt/seal check-sealed || _fails=$((_fails + 1))
		t "daxfs: umount after unsealing" umount /mnt/seal
		t "daxfs: fsck clean after unsealing" fsck.daxfs -n /dev/pmem1
	fi
fi
suite_exit

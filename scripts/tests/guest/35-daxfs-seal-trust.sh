#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# daxfs: what a seal promises (seal_trust.py): a crash at every transaction
# boundary inside seal and unseal heals at the next mount to sealed or not
# sealed (never between); no writable shared mapping can appear during an
# unseal; a MAP_SYNC store to every page of a sealed file makes no
# allocation and no journal commit (per-mount counters in sysfs), while a
# preallocated unsealed file does both (negative control).
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")
mkdir -p /mnt/trust
if daxfs_mount_rw /dev/pmem1 /mnt/trust; then
	umount /mnt/trust
	python3 "$here/seal_trust.py" /dev/pmem1 /mnt/trust "$TOOLS" || _fails=$((_fails + 1))
fi
suite_exit

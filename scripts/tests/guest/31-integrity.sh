#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Random writes/truncates against a reference model (integrity.py), then
# remount and compare; on ext4-dax as the reference, then on daxfs (with
# fsck -n clean at the end); a daxfs that cannot be mounted read-write
# fails. DAXFS_INTEGRITY_OPS sets the number of operations (400).
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")
ops=${DAXFS_INTEGRITY_OPS:-400}
seed=${DAXFS_INTEGRITY_SEED:-$RANDOM}
echo "# integrity: $ops ops, seed $seed"
mkdir -p /mnt/it

integrity() { # LABEL FSTYPE MOUNTOPTS
	python3 "$here/integrity.py" run "$1" /mnt/it/data "$seed" "$ops" || _fails=$((_fails + 1))
	t "$1: umount" umount /mnt/it
	t "$1: mount again" mount -t "$2" $3 /dev/pmem1 /mnt/it
	python3 "$here/integrity.py" verify "$1" /mnt/it/data "$seed" || _fails=$((_fails + 1))
	umount /mnt/it
}

mkfs.ext4 -q -F /dev/pmem1 && mount -t ext4 -o dax=always /dev/pmem1 /mnt/it &&
	integrity ext4-dax ext4 "-o dax=always"

if daxfs_mount_rw /dev/pmem1 /mnt/it; then
	integrity daxfs daxfs ""
	t "daxfs: fsck clean after the integrity run" fsck.daxfs -n /dev/pmem1
fi
suite_exit

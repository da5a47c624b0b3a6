#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The demo, in the guest: each step is shown with its command.
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
bin=$repo/build/bin
run() { printf '\n$ %s\n' "$*"; "$@"; }
run uname -r
run ndctl list -N
run cat /sys/block/pmem0/queue/dax
run "$bin/mkfs.daxfs" -f -L demo /dev/pmem0
run "$bin/fsck.daxfs" -n /dev/pmem0
if grep -qw daxfs /proc/filesystems; then
	mkdir -p /mnt/daxfs
	run mount -t daxfs /dev/pmem0 /mnt/daxfs
	run df -h /mnt/daxfs
	run ls -la /mnt/daxfs
	run umount /mnt/daxfs
else
	echo
	echo "daxfs is configured in this kernel (CONFIG_DAXFS_FS=y) but does not register"
	echo "a filesystem type yet: mounting arrives with the Rust VFS abstractions."
	run sh -c 'dmesg | grep -i daxfs'
fi

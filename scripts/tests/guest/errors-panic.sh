#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# errors=panic stops the machine: a daxfs mounted with errors=panic that
# meets corrupted metadata (an extent pointing at the journal, checksums
# right) must call the kernel's panic() ("Kernel panic - not syncing: daxfs:
# pmem0: errors=panic: ..."), not Rust's panic!(), which is a BUG() that
# kills only the reading task and leaves the journal's lock held.
# Needs its own boot (not NN-named, so run-all.sh leaves it alone); the host
# side (scripts/test.sh, stage "panic") checks that the VM died of that panic:
#   scripts/vm.sh --pmem 1 --out DIR -- scripts/tests/guest/errors-panic.sh
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")
mnt=/mnt/errors-panic
mkdir -p $mnt
t "mkfs.daxfs" mkfs.daxfs -q -f /dev/pmem0
t "mount" mount -t daxfs /dev/pmem0 $mnt
t "a file of two blocks" sh -c "head -c 8193 /dev/urandom > $mnt/f"
t "umount" umount $mnt
t "point its extent at the journal" python3 "$here/daxfs_util.py" badextent /dev/pmem0 8193 journal
t "mount -o errors=panic" mount -t daxfs -o errors=panic /dev/pmem0 $mnt
echo "# reading the file: the kernel must panic now"
sync
cat $mnt/f > /dev/null 2>&1
not_ok "errors=panic: reading a file with a corrupted extent panics the kernel" \
	"cat returned $? and the kernel runs on"
suite_exit

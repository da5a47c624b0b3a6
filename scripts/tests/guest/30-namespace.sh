#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Namespace operations and their error codes (namespace.py), first on ext4
# with dax=always as the reference (so the expectations are Linux's, not
# ours), then on daxfs (a daxfs that cannot be mounted read-write fails).
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")
mkdir -p /mnt/ns

mkfs.ext4 -q -F /dev/pmem1 && mount -t ext4 -o dax=always /dev/pmem1 /mnt/ns &&
	python3 "$here/namespace.py" "ext4-dax" /mnt/ns
umount /mnt/ns 2>/dev/null

if daxfs_mount_rw /dev/pmem1 /mnt/ns; then
	python3 "$here/namespace.py" "daxfs" /mnt/ns || _fails=$((_fails + 1))
	# File attributes persist: +i and +a set before the unmount hold after it.
	flags='import fcntl, struct, sys
f = open(sys.argv[1], "rb")
fd = f.fileno()
if len(sys.argv) > 2:
    fcntl.ioctl(fd, 0x40086602, struct.pack("l", int(sys.argv[2])))
print(struct.unpack("l", fcntl.ioctl(fd, 0x80086601, b"\0" * 8))[0] & 0x30)'
	echo x > /mnt/ns/keep-i && echo x > /mnt/ns/keep-a &&
		python3 -c "$flags" /mnt/ns/keep-i 16 >/dev/null && python3 -c "$flags" /mnt/ns/keep-a 32 >/dev/null
	t "daxfs: umount" umount /mnt/ns
	t "daxfs: fsck clean after the namespace suite" fsck.daxfs -n /dev/pmem1
	if t "daxfs: mount again" mount -t daxfs /dev/pmem1 /mnt/ns; then
		t "daxfs: chattr +i and +a persist across a remount" \
			test "$(python3 -c "$flags" /mnt/ns/keep-i)/$(python3 -c "$flags" /mnt/ns/keep-a)" = 16/32
		t "daxfs: ... and still refuse writes (EPERM)" \
			bash -c '! echo y > /mnt/ns/keep-i && ! echo y > /mnt/ns/keep-a && echo y >> /mnt/ns/keep-a'
		python3 -c "$flags" /mnt/ns/keep-i 0 >/dev/null; python3 -c "$flags" /mnt/ns/keep-a 0 >/dev/null
		t "daxfs: ... and can be cleared" rm /mnt/ns/keep-i /mnt/ns/keep-a
		umount /mnt/ns
	fi
fi
suite_exit

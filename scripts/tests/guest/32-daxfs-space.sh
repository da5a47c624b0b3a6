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

# Growing a file over data left past its end: what a crash leaves when a
# write had copied its data but its new size was not committed. Truncating
# up, writing past the end and fallocate must show zeros there, not the data.
grow='import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
if sys.argv[2] == "truncate":
    os.ftruncate(fd, 12288)
elif sys.argv[2] == "pwrite":
    os.pwrite(fd, b"\x55" * 10, 12278)
else:
    os.posix_fallocate(fd, 0, 12288)
d = os.pread(fd, 12288, 0)
bad = sum(1 for b in d[4196:12278] if b)
print("OK" if d[:4196] == b"\xaa" * 4196 and len(d) == 12288 and not bad else f"{bad} non-zero bytes")'
for how in truncate pwrite falloc; do
	if ! { mkfs.daxfs -q -f /dev/pmem1 && mount -t daxfs /dev/pmem1 /mnt/sp &&
		python3 -c 'import sys; open(sys.argv[1], "wb").write(b"\xaa" * 12288)' /mnt/sp/grow &&
		umount /mnt/sp && python3 "$here/daxfs_util.py" shrink /dev/pmem1 12288 4196 >/dev/null &&
		fsck.daxfs -n /dev/pmem1 >/dev/null && mount -t daxfs /dev/pmem1 /mnt/sp; }; then
		not_ok "daxfs: set-up of data left past the end ($how)"
		continue
	fi
	t "daxfs: growing by $how over data left past the end shows zeros" \
		test "$(python3 -c "$grow" /mnt/sp/grow $how)" = OK
	umount /mnt/sp
	t "daxfs: ... fsck clean ($how)" fsck.daxfs -n /dev/pmem1
done
suite_exit

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# daxfs mount time does not grow with the device (docs/on-disk-format.md,
# "Mount cost"): a daxfs on a 1 GiB and one on a 16 GiB NVDIMM are mounted
# DAXFS_MOUNT_CYCLES times each (default 21, interleaved, mount(2) only), and
# the median on 16 GiB must stay within 2 x the median on 1 GiB.
# Needs its own boot (not NN-named, so run-all.sh leaves it alone):
#   scripts/vm.sh --pmem-sizes 1G,16G -- scripts/tests/guest/mount-time.sh
. "$(dirname "$0")/lib.sh"
here=$(dirname "$0")
cycles=${DAXFS_MOUNT_CYCLES:-21}
mnt=/mnt/mount-time
mkdir -p $mnt

# The fsdax namespace keeps its struct pages on the device, so /dev/pmemN is
# a little smaller than the NVDIMM: 1 GiB -> ~1008 MiB, 16 GiB -> ~15.7 GiB.
s0=$(blockdev --getsize64 /dev/pmem0 2>/dev/null) s1=$(blockdev --getsize64 /dev/pmem1 2>/dev/null)
if [ -z "$s0" ] || [ -z "$s1" ] || [ "$s0" -ge $((1 << 30)) ] || [ "$s1" -lt $((15 << 30)) ]; then
	not_ok "devices: /dev/pmem0 ~1 GiB and /dev/pmem1 ~16 GiB" \
		"got ${s0:-none} and ${s1:-none} bytes: boot with scripts/vm.sh --pmem-sizes 1G,16G"
	suite_exit
fi
echo "# /dev/pmem0 $((s0 >> 20)) MiB, /dev/pmem1 $((s1 >> 20)) MiB"
if ! grep -qw daxfs /proc/filesystems; then
	not_ok "daxfs: the kernel does not register daxfs (/proc/filesystems)"
	suite_exit
fi
t "mkfs.daxfs on the 1 GiB device" mkfs.daxfs -q -f /dev/pmem0
t "mkfs.daxfs on the 16 GiB device" mkfs.daxfs -q -f /dev/pmem1

out=$(python3 "$here/mount_time.py" $mnt "$cycles" /dev/pmem0 /dev/pmem1 2>&1)
rc=$?
printf '%s\n' "$out" | sed 's/^/# /'
if [ $rc != 0 ]; then
	not_ok "$cycles mount/umount cycles on each device"
	suite_exit
fi
ok "$cycles mount/umount cycles on each device"
m1=$(sed -n 's,^/dev/pmem0 median_us=\([0-9]*\).*,\1,p' <<<"$out")
m16=$(sed -n 's,^/dev/pmem1 median_us=\([0-9]*\).*,\1,p' <<<"$out")
ratio=$(awk -v a="$m16" -v b="$m1" 'BEGIN { printf "%.2f", a / b }')
# One line for the host (scripts/test.sh prints it, the docs quote it).
echo "# mount-time: median 1 GiB ${m1} us, 16 GiB ${m16} us, ratio ${ratio} (limit 2.00, $cycles cycles)"
t "median mount time on 16 GiB <= 2 x median on 1 GiB" test "$m16" -le $((2 * m1))
t "fsck.daxfs -n: both filesystems still clean" sh -c "fsck.daxfs -n /dev/pmem0 && fsck.daxfs -n /dev/pmem1"
suite_exit

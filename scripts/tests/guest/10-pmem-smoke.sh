#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The emulated NVDIMMs are DAX-capable, and the peers daxfs is compared with
# (ext4 and xfs with dax=always) mount on them and honour MAP_SYNC.
. "$(dirname "$0")/lib.sh"

for d in pmem0 pmem1; do
	t "/dev/$d exists" test -b "/dev/$d"
	t "/dev/$d queue/dax=1" grep -qx 1 "/sys/block/$d/queue/dax"
done
t "pmem0 namespace is fsdax" sh -c 'ndctl list -n namespace0.0 | grep -q "\"mode\":\"fsdax\""'

# mapsync FILE: MAP_SYNC write through xfs_io, then read back after remount
# is checked by the caller. xfs_io reports mmap errors on stderr but exits 0,
# so stderr must be empty.
mapsync() {
	local f=$1 err
	err=$(xfs_io -f -c 'truncate 4m' -c 'mmap -S -rw 0 4m' -c 'mwrite -S 0x5a 0 4m' \
		-c 'msync -s 0 4m' -c 'munmap' "$f" 2>&1 >/dev/null)
	[ -z "$err" ] || { echo "$err"; return 1; }
}
pattern_ok() { # FILE: every byte of the first 4 MiB is 0x5a
	[ "$(head -c 4194304 "$1" | tr -d '\132' | wc -c)" = 0 ] && [ "$(stat -c %s "$1")" = 4194304 ]
}
is_dax_file() { # STATX_ATTR_DAX (0x200000) in the attributes xfs_io reports
	local a
	a=$(xfs_io -c 'statx -r' "$1" | sed -n 's/^stat.attributes = //p')
	[ -n "$a" ] && (( a & 0x200000 ))
}

peer() {
	local fs=$1 dev=$2 mnt=/mnt/$1
	mkdir -p "$mnt"
	case $fs in
	ext4) t "$fs: mkfs" mkfs.ext4 -q -F -b 4096 "$dev" ;;
	xfs) t "$fs: mkfs" mkfs.xfs -q -f "$dev" ;;
	esac
	t "$fs: mount -o dax=always" mount -t "$fs" -o dax=always "$dev" "$mnt"
	t "$fs: dax=always in /proc/mounts" grep -q "$mnt $fs .*dax=always" /proc/mounts
	t "$fs: MAP_SYNC mapping and write" mapsync "$mnt/f"
	t "$fs: file is DAX (statx)" is_dax_file "$mnt/f"
	t "$fs: umount" umount "$mnt"
	t "$fs: remount" mount -t "$fs" -o dax=always "$dev" "$mnt"
	t "$fs: MAP_SYNC data survives remount" pattern_ok "$mnt/f"
	umount "$mnt"
}
peer ext4 /dev/pmem0
peer xfs /dev/pmem1

# Negative control: MAP_SYNC must be refused where there is no DAX, or the
# checks above prove nothing.
tf "MAP_SYNC refused on tmpfs (negative control)" mapsync /tmp/not-dax
suite_exit

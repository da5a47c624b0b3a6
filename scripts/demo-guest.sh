#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The demo, in the guest: each step is shown with its command. With daxfs
# mounted it shows the mission: a sealed file's block map cannot change
# (ETXTBSY), and MAP_SYNC stores to it make no allocation and no journal
# commit (the per-mount counters in /sys/fs/daxfs/pmem0/), unlike a
# preallocated unsealed file; the seal survives a remount, and unsealing
# gives the file back to truncate. Any step that does not behave as shown
# fails the demo.
set -eu
start=$EPOCHREALTIME
repo=$(cd "$(dirname "$0")/.." && pwd)
bin=$repo/build/bin
run() { printf '\n$ %s\n' "$*"; "$@"; }
# runsh 'COMMAND LINE': a command line with quotes or a pipe, shown as written.
runsh() { printf '\n$ %s\n' "$1"; bash -c "$1"; }
step() { printf '\n=== %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*"; exit 1; }
# refused CMD...: CMD must fail with ETXTBSY ("Text file busy"); its error
# message is shown. Success, or another error, fails the demo.
refused() {
	local err
	printf '\n$ %s\n' "$*"
	if err=$("$@" 2>&1); then
		[ -z "$err" ] || printf '%s\n' "$err"
		fail "the sealed file should have refused this, and it succeeded"
	fi
	printf '%s\n' "$err"
	case $err in
	*'Text file busy'*) echo "(refused with ETXTBSY, as it must be)" ;;
	*) fail "refused, but not with ETXTBSY (Text file busy)" ;;
	esac
}
# statx_sealed FILE: show FILE's statx attributes as xfs_io prints them; the
# STATX_ATTR_IOMAP_IMMUTABLE bit (0x00800000) must be set.
statx_sealed() {
	local a
	runsh "xfs_io -r -c 'statx -r' $1 | grep '^stat.attributes'"
	a=$(xfs_io -r -c 'statx -r' "$1" | sed -n 's/^stat.attributes = //p')
	if [ -z "$a" ] || ! (( a & 0x00800000 )); then
		fail "STATX_ATTR_IOMAP_IMMUTABLE (0x00800000) is not in stx_attributes ($a)"
	fi
	echo "(0x00800000 is STATX_ATTR_IOMAP_IMMUTABLE: the block map is sealed)"
}
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
	PATH=$bin:$PATH  # daxfs, fsck.daxfs: this clone's
	F=/mnt/daxfs/data P=/mnt/daxfs/prealloc

	step "1. Seal a file: its block map (where each block lives) is fixed, and recorded on pmem"
	# Preallocated first, so that its blocks are laid out as the other file's
	# below (whole 2 MiB groups): both mappings then take the same kind of
	# faults and step 3 compares the seal alone. (Written by appends alone,
	# its blocks need not be 2 MiB-aligned, and its mapping then takes 4 KiB
	# faults where the other file's takes 2 MiB ones.)
	run fallocate -l 32M $F
	run dd if=/dev/urandom of=$F bs=1M count=32 conv=notrunc status=none
	run daxfs status $F
	run daxfs seal $F
	run daxfs status $F
	statx_sealed $F

	step "2. Nothing may change a sealed block map: truncate and hole punching fail with ETXTBSY"
	refused truncate -s 16M $F
	refused fallocate --punch-hole --offset 0 --length 1M $F

	step "3. MAP_SYNC stores: the sealed file against a preallocated (unsealed) file of the same size"
	echo "Each file is mapped with a plain mmap(NULL, 32 MiB, MAP_SHARED_VALIDATE|MAP_SYNC)"
	echo "and one byte is stored into every 4 KiB page. Counters (deltas over the stores):"
	echo "  write_faults        write faults that reached daxfs (one per 2 MiB huge page"
	echo "                      where the mapping and the blocks are 2 MiB-aligned)"
	echo "  write_faults_alloc  those that had to allocate or convert blocks"
	echo "  fault_commits       journal commits made by write faults"
	echo "  commits             journal commits in all"
	run fallocate -l 32M $P
	run daxfs status $P
	run python3 "$repo/scripts/demo_stores.py" $F $P

	step "4. The seal is on pmem: it survives unmount and mount"
	run umount /mnt/daxfs
	run mount -t daxfs /dev/pmem0 /mnt/daxfs
	run daxfs status $F $P
	daxfs status $F | grep -q ': sealed (' || fail "$F is not sealed after the remount"

	step "5. Unseal: the block map may change again"
	run daxfs unseal $F
	run truncate -s 16M $F
	run daxfs status $F
	daxfs status $F | grep -q ': not sealed (16777216 bytes' ||
		fail "$F is not an unsealed 16 MiB file after unseal and truncate"
	run umount /mnt/daxfs
	run fsck.daxfs -n /dev/pmem0
	printf '\nThe demo took %s s in the guest.\n' \
		"$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')"
else
	echo
	echo "daxfs is configured in this kernel (CONFIG_DAXFS_FS=y) but does not register"
	echo "a filesystem type yet: mounting arrives with the Rust VFS abstractions."
	run sh -c 'dmesg | grep -i daxfs'
fi

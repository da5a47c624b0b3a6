#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# daxfs: mount an image made by mkfs.daxfs -d from a varied tree and compare
# everything against the source: names, types, metadata, contents; statfs;
# mount options; read-only mounts and remounts.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daxfs-lib.sh"

t "build the test tree and mkfs.daxfs -d onto /dev/pmem0" dx_setup
# noatime: reading the files for the comparison must not change their access times.
t "mount -t daxfs -o noatime /dev/pmem0" mount -t daxfs -o noatime /dev/pmem0 "$DX_MNT"
t "listed in /proc/mounts as daxfs rw" grep -q "^/dev/pmem0 $DX_MNT daxfs rw[, ]" /proc/mounts
t "/proc/mounts shows dax=always" grep -q "^/dev/pmem0 $DX_MNT daxfs rw,.*dax=always" /proc/mounts
t "the superblock says in use while mounted" test "$(python3 "$UTIL" sbfield /dev/pmem0 state)" = 2
t "names, types, modes, owners, ns times, nlink, sizes, rdev, symlinks, hard links, contents" \
	python3 "$UTIL" compare "$DX_SRC" "$DX_MNT"
t "diff -r --no-dereference (regular files, directories, symlinks)" \
	diff -r --no-dereference -x special "$DX_SRC" "$DX_MNT"
btimes() { (cd "$1" && find . -printf '%p %B@\n' | sort); }
t "birth times (statx btime)" cmp <(btimes "$DX_SRC") <(btimes "$DX_MNT")
t "directory with 10,000 entries lists all of them" \
	test "$(ls -f "$DX_MNT/big" | wc -l)" = "$(ls -f "$DX_SRC/big" | wc -l)"
# The node cache: a second walk over the same nodes is served from DRAM, and a
# namespace churn through it leaves exactly the expected names (fsck at the end
# checks the image).
nc() { cat "/sys/fs/daxfs/pmem0/node_cache_$1"; }
node_cache_relist() {
	ls -f "$DX_MNT/big" >/dev/null || return 1
	local h0 m0 h1 m1
	h0=$(nc hits) m0=$(nc misses)
	ls -f "$DX_MNT/big" >/dev/null || return 1
	h1=$(nc hits) m1=$(nc misses)
	echo "second listing: $((h1 - h0)) hits, $((m1 - m0)) misses"
	test $((h1 - h0)) -gt 500 && test $(((m1 - m0) * 4)) -lt $((h1 - h0))
}
t "node cache: listing the 10,000-entry directory again mostly hits" node_cache_relist
node_cache_churn() {
	python3 - "$DX_MNT/churn" <<'PY'
import os, sys
d = sys.argv[1]
os.mkdir(d)
n = 3000
for i in range(n):
    open(f"{d}/f{i}", "w").close()
for i in range(0, n, 2):
    os.rename(f"{d}/f{i}", f"{d}/renamed-{i}")
for i in range(0, n, 3):
    os.unlink(f"{d}/f{i}" if i % 2 else f"{d}/renamed-{i}")
want = {(f"renamed-{i}" if i % 2 == 0 else f"f{i}") for i in range(n) if i % 3}
got = set(os.listdir(d))
assert got == want, (len(got), len(want), sorted(got ^ want)[:5])
for name in want:
    os.stat(f"{d}/{name}")
for i in range(0, n, 3):
    assert not os.path.exists(f"{d}/f{i}") and not os.path.exists(f"{d}/renamed-{i}")
for name in want:
    os.unlink(f"{d}/{name}")
os.rmdir(d)
PY
}
churn_h0=$(nc hits)
t "node cache: 3,000 creates, renames and unlinks leave exactly the expected names" node_cache_churn
t "node cache: the churn was served from the cache too (over 5,000 hits)" \
	test $(($(nc hits) - churn_h0)) -gt 5000
t "64-level deep path resolves" \
	cmp "$DX_SRC/$(cd "$DX_SRC" && find deep -name file | sort | tail -1)" \
	"$DX_MNT/$(cd "$DX_SRC" && find deep -name file | sort | tail -1)"

# statfs reports the superblock's counters.
sf() { stat -f -c "$1" "$DX_MNT"; }
sb() { python3 "$UTIL" sbfield /dev/pmem0 "$1"; }
t "statfs: f_type is daxfs" test "$(sf %t)" = 64617866
t "statfs: block size 4096, name length 255" test "$(sf '%S %l')" = "4096 255"
t "statfs: total blocks = data area" test "$(sf %b)" = "$(sb data_blocks)"
t "statfs: free blocks = superblock free count" test "$(sf '%f %a')" = "$(sb free_blocks) $(sb free_blocks)"
t "statfs: inodes and free inodes" test "$(sf '%c %d')" = "$(( $(sb inode_count) - 1 )) $(sb free_inodes)"
t "statfs: used blocks cover the 64 MiB file" test "$(( $(sf %b) - $(sf %f) ))" -gt 16384
t "df works" df "$DX_MNT"

t "umount" umount "$DX_MNT"
t "the superblock says clean after umount" test "$(sb state)" = 1

# Read-only mounts: every modification fails with EROFS; remount switches.
t "mount -o ro" mount -t daxfs -o ro /dev/pmem0 "$DX_MNT"
t "listed in /proc/mounts as daxfs ro" grep -q "^/dev/pmem0 $DX_MNT daxfs ro[, ]" /proc/mounts
t "ro: the superblock stays clean" test "$(sb state)" = 1
t "ro: creating a file fails with EROFS" sh -c "touch $DX_MNT/new 2>&1 | grep -q 'Read-only file system'"
tf "ro: mkdir fails" mkdir "$DX_MNT/newdir"
tf "ro: appending to a file fails" sh -c "echo x >> $DX_MNT/files/size-1"
t "remount rw" mount -o remount,rw "$DX_MNT"
t "rw after remount: the superblock says in use" test "$(sb state)" = 2
t "rw after remount: create and remove a file" sh -c "touch $DX_MNT/new2 && rm $DX_MNT/new2"
t "remount ro" mount -o remount,ro "$DX_MNT"
t "ro again: the superblock says clean" test "$(sb state)" = 1
tf "ro again: creating a file fails" touch "$DX_MNT/new3"
t "umount" umount "$DX_MNT"

# Mount options go through the fs_context parser.
mnt() { python3 "$UTIL" mount /dev/pmem0 "$DX_MNT" "$1"; }
for o in dax dax=always norecovery "dax,norecovery"; do
	t "option '$o' accepted" sh -c "test \"\$(python3 $UTIL mount /dev/pmem0 $DX_MNT $o)\" = OK && umount $DX_MNT"
done
for o in bogus dax=never dax=inode norecovery=1 "dax=always,nosuchopt"; do
	t "option '$o' rejected with EINVAL" test "$(mnt "$o")" = EINVAL
done
t "nothing left mounted" sh -c "! grep -q ' $DX_MNT ' /proc/mounts"
t "fsck.daxfs -n: the image is still clean" "$FSCK" -n /dev/pmem0
suite_exit

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# daxfs: read(2)/pread/readv patterns through dax_iomap_rw (unaligned
# offsets, reads spanning extents and holes, reads past EOF), directory
# positions (telldir/seekdir, small getdents buffers), lookup errors.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daxfs-lib.sh"

t "set-up" dx_setup
t "mount" mount -t daxfs /dev/pmem0 "$DX_MNT"
t "pread/readv/read patterns match the source" python3 "$UTIL" readpat "$DX_SRC" "$DX_MNT"
t "dd with odd block sizes reproduces the 64 MiB file" \
	cmp <(dd if="$DX_MNT/files/sparse-64M" bs=12345 status=none) "$DX_SRC/files/sparse-64M"
t "xfs_io pread past EOF returns nothing" sh -c \
	"xfs_io -r -c 'pread -v 4097 100' $DX_MNT/files/size-4097 | grep -q 'read 0/100 bytes'"
is_dax_file() { # STATX_ATTR_DAX (0x200000) in the attributes xfs_io reports
	local a
	a=$(xfs_io -r -c 'statx -r' "$1" | sed -n 's/^stat.attributes = //p')
	[ -n "$a" ] && (( a & 0x200000 ))
}
t "regular files are DAX (statx STATX_ATTR_DAX)" is_dax_file "$DX_MNT/files/size-4097"
t "telldir/seekdir and getdents64 with small buffers: 10,000 entries" python3 "$UTIL" dirpos "$DX_MNT/big"
t "telldir/seekdir: root directory" python3 "$UTIL" dirpos "$DX_MNT"
t "telldir/seekdir: empty directory" python3 "$UTIL" dirpos "$DX_MNT/big/e00050"
t "missing name: ENOENT" sh -c "stat $DX_MNT/big/nope 2>&1 | grep -q 'No such file'"
t "256-byte name: ENAMETOOLONG" sh -c "stat $DX_MNT/$(printf 'n%.0s' {1..256}) 2>&1 | grep -q 'File name too long'"
t "255-byte name found" stat "$DX_MNT/big/$(cd "$DX_SRC/big" && ls | awk 'length($0) == 255' | head -1)"
t "read on a directory: EISDIR" sh -c "cat $DX_MNT/files 2>&1 | grep -q 'Is a directory'"
t "O_DIRECTORY on a file: ENOTDIR" sh -c "ls $DX_MNT/files/size-1/ 2>&1 | grep -q 'Not a directory'"
t "readlink of a 4095-byte target" test "$(readlink "$DX_MNT/links/longest")" = "$(readlink "$DX_SRC/links/longest")"
t "symlink followed to a file" cmp "$DX_MNT/links/to-sparse" "$DX_SRC/files/sparse-64M"
t ".. of a subdirectory is its parent" test "$(stat -c %i "$DX_MNT/deep/level00/..")" = "$(stat -c %i "$DX_MNT/deep")"
t "umount" umount "$DX_MNT"

# Holes and unwritten extents read as zeros (their blocks hold 0xAA).
dx_restore
t "give hole-first a hole and an unwritten extent" python3 "$UTIL" holes /dev/pmem1 $(( (2 << 20) + 1234 ))
t "mount the edited image" mount -t daxfs /dev/pmem1 "$DX_MNT"
t "hole + mapped + unwritten file reads like its source" cmp "$DX/small/hole-first" "$DX_MNT/hole-first"
t "read spanning hole -> extent -> unwritten" cmp <(dd if="$DX_MNT/hole-first" bs=1 skip=$(( (1 << 20) - 3000 )) count=250000 status=none) \
	<(dd if="$DX/small/hole-first" bs=1 skip=$(( (1 << 20) - 3000 )) count=250000 status=none)
seekpos() { python3 -c 'import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
try:
    print(os.lseek(fd, int(sys.argv[2]), int(sys.argv[3])))
except OSError as e:
    print(e.errno)' "$@"; }
f=$DX_MNT/hole-first
t "SEEK_DATA skips the hole" test "$(seekpos "$f" 0 3)" = $(( 256 * 4096 ))
t "SEEK_HOLE stops at the unwritten extent" test "$(seekpos "$f" $(( 256 * 4096 )) 4)" = $(( 300 * 4096 ))
t "SEEK_DATA past the last data: ENXIO" test "$(seekpos "$f" $(( 300 * 4096 )) 3)" = 6
t "SEEK_HOLE on a fully mapped file: EOF" test "$(seekpos "$DX_MNT/size-4097" 0 4)" = 4097
fiemap_ok() { # the first 1 MiB is a hole, then two extents
	local m
	m=$(xfs_io -r -c 'fiemap' "$1" | tail -n +2)
	echo "$m"
	[ "$(echo "$m" | wc -l)" = 3 ] && echo "$m" | head -1 | grep -q '\[0..2047\]: hole'
}
t "FIEMAP: hole, mapped extent, unwritten extent" fiemap_ok "$f"
t "umount" umount "$DX_MNT"
suite_exit

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# daxfs seal|unseal|status, the sealing command line (fs-rust-daxfs/tools,
# linked into build/bin by scripts/tools-build.sh, on the guest's PATH), on
# daxfs: sealing a file with data (truncate then fails with ETXTBSY) and
# growing one with --size; the status lines; the message and exit status of
# each error: no CAP_LINUX_IMMUTABLE (setpriv, and an unprivileged user), a
# filesystem without sealing (tmpfs, ext4-dax), a writable shared mapping
# held by another process (EBUSY until it exits), a seal past the end of a
# sealed file, an empty file; several files in one call with one failing;
# --help. Whether a file is sealed is checked with xfs_io's statx too, not
# only with the command under test.
. "$(dirname "$0")/lib.sh"
M=/mnt/cli
T=/mnt/cli-tmpfs
E=/mnt/cli-ext4
W=/tmp/cli
mkdir -p "$M" "$T" "$E" "$W"
NOCAP=(setpriv --inh-caps=-all --bounding-set=-linux_immutable)
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
holder=
trap '[ -n "$holder" ] && kill "$holder" 2>/dev/null' EXIT

# expect NAME RC OUT ERR CMD...: CMD exits with status RC and its standard
# output and error match the extended regular expressions OUT and ERR (an
# empty one: nothing may be printed there). Leaves them in $out and $err.
out='' err=''
matches() { if [ -z "$2" ]; then [ -z "$1" ]; else printf '%s\n' "$1" | grep -qE -- "$2"; fi; }
expect() {
	local name=$1 want=$2 outre=$3 errre=$4 rc
	shift 4
	out=$("$@" 2>"$W/stderr")
	rc=$?
	err=$(cat "$W/stderr")
	if [ "$rc" = "$want" ] && matches "$out" "$outre" && matches "$err" "$errre"; then
		ok "$name"
	else
		not_ok "$name" "exit status $rc (want $want), or unexpected output: $*"
		{ printf 'stdout: %s\n' "$out"; printf 'stderr: %s\n' "$err"; } | sed 's/^/#   /' | tail -n 20
	fi
}
# sealed FILE...: every FILE has STATX_ATTR_IOMAP_IMMUTABLE (0x800000) in
# its statx attributes, as xfs_io (not the command under test) reports them.
sealed() {
	local f a
	for f; do
		a=$(xfs_io -r -c 'statx -r' "$f" | sed -n 's/^stat.attributes = //p')
		[ -n "$a" ] && (( a & 0x800000 )) || return 1
	done
}
# unsealed FILE...: xfs_io's statx works on every FILE and none is sealed.
unsealed() {
	local f a
	for f; do
		a=$(xfs_io -r -c 'statx -r' "$f" | sed -n 's/^stat.attributes = //p')
		[ -n "$a" ] && ! (( a & 0x800000 )) || return 1
	done
}
size_is() { test "$(stat -c %s "$1")" = "$2"; }
# txtbsy CMD...: CMD fails with "Text file busy" (ETXTBSY).
txtbsy() { local e; if e=$("$@" 2>&1); then return 1; fi; grep -q 'Text file busy' <<<"$e"; }
# lacks_immutable CMD...: CMD (a setpriv prefix) runs a process whose
# effective set lacks CAP_LINUX_IMMUTABLE (bit 9).
lacks_immutable() {
	local c
	c=$("$@" sed -n 's/^CapEff:[[:space:]]*//p' /proc/self/status) && [ -n "$c" ] && (( (0x$c & 0x200) == 0 ))
}
# hold_mapping FILE FLAGS PROT: another process maps all of FILE (FLAGS,
# PROT) through an O_RDWR descriptor and keeps the mapping until it is
# killed ($holder). Fails if the mapping is not in place within 60 s.
hold_mapping() {
	rm -f "$W/mapped"
	python3 -c '
import mmap, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
prot = 0
for p in sys.argv[3].split("|"):
    prot |= getattr(mmap, p)
m = mmap.mmap(fd, 0, flags=getattr(mmap, sys.argv[2]), prot=prot)  # the whole file
open(sys.argv[4], "w").close()
time.sleep(3600)' "$1" "$2" "$3" "$W/mapped" &
	holder=$!
	local n=0
	while [ $n -lt 600 ]; do
		[ -e "$W/mapped" ] && return 0
		kill -0 "$holder" 2>/dev/null || break
		sleep 0.1
		n=$((n + 1))
	done
	return 1
}
release_mapping() { kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null; holder=; }

if [ ! -x "$TOOLS/daxfs" ]; then
	not_ok "cli: $TOOLS/daxfs missing (scripts/tools-build.sh links it)"
	suite_exit
fi
t "cli: daxfs on the PATH is build/bin/daxfs" test "$(command -v daxfs)" = "$TOOLS/daxfs"
# A copy that the unprivileged user can run wherever the clone is.
install -m 0755 "$TOOLS/daxfs" "$W/daxfs"

# --help and usage errors (no filesystem needed).
expect "cli: --help exits 0 with the manual on stdout" 0 '^NAME$' '' daxfs --help
missing=
for e in EPERM EACCES EOPNOTSUPP ETXTBSY EBUSY ENOSPC EROFS EFBIG EINVAL EISDIR ENOENT; do
	grep -qw -- "$e" <<<"$out" || missing+=" $e"
done
if [ -z "$missing" ]; then ok "cli: --help explains every errno"; else not_ok "cli: --help explains every errno" "missing:$missing"; fi
t "cli: --help has the sections and the mapping notes" sh -c 'daxfs --help | grep -q "^EXIT STATUS$" &&
	daxfs --help | grep -q "^ERRORS$" && daxfs --help | grep -q "^NOTES$" &&
	daxfs --help | tr -s "\n " "  " | grep -q "counts even if it was mapped PROT_READ only"'
expect "cli: seal --help exits 0 and documents --size" 0 '--size SIZE' '' daxfs seal --help
expect "cli: unseal --help exits 0 and documents EBUSY" 0 'EBUSY' '' daxfs unseal --help
expect "cli: no command: exit 2" 2 '' "^daxfs: no command given" daxfs
expect "cli: unknown command: exit 2" 2 '' "^daxfs: unknown command 'frob'" daxfs frob /dev/null
expect "cli: seal without FILE: exit 2" 2 '' "^daxfs: seal: no FILE given" daxfs seal
expect "cli: seal --size 0: exit 2" 2 '' "must be greater than 0" daxfs seal --size 0 /dev/null
expect "cli: seal --size 1X: exit 2" 2 '' "invalid size '1X'" daxfs seal --size 1X /dev/null
expect "cli: unseal --size: exit 2" 2 '' "unknown option '--size' for unseal" daxfs unseal --size 1 /dev/null

# setpriv really drops CAP_LINUX_IMMUTABLE (or the checks below prove nothing).
t "cli: set-up: setpriv --bounding-set=-linux_immutable leaves no CAP_LINUX_IMMUTABLE" lacks_immutable "${NOCAP[@]}"
tf "cli: set-up: root has CAP_LINUX_IMMUTABLE otherwise (negative control)" lacks_immutable env

# A filesystem without sealing: tmpfs.
if mount -t tmpfs tmpfs "$T"; then
	echo data >"$T/f"
	expect "tmpfs: status says sealing is not supported" 0 "^$T/f: sealing not supported by this filesystem \(5 bytes, " '' daxfs status "$T/f"
	expect "tmpfs: seal exits 1 with the EOPNOTSUPP message" 1 '' "^daxfs: $T/f: not on a filesystem that supports sealing \(daxfs\)$" daxfs seal "$T/f"
	expect "tmpfs: unseal exits 1 with the EOPNOTSUPP message" 1 '' "^daxfs: $T/f: not on a filesystem that supports sealing \(daxfs\)$" daxfs unseal "$T/f"
	expect "tmpfs: without CAP_LINUX_IMMUTABLE it is still EOPNOTSUPP (checked first)" 1 '' "^daxfs: $T/f: not on a filesystem that supports sealing" "${NOCAP[@]}" daxfs seal "$T/f"
else
	not_ok "tmpfs: mount"
fi

if daxfs_mount_rw /dev/pmem1 "$M"; then
	chmod 755 "$M"
	# Seal a file with data.
	head -c 40000 /dev/urandom >"$M/data"
	cp "$M/data" "$W/data"
	expect "daxfs: status of a new file: not sealed" 0 "^$M/data: not sealed \(40000 bytes, [0-9]+ blocks\)$" '' daxfs status "$M/data"
	expect "daxfs: seal a file with data: exit 0, nothing printed" 0 '' '' daxfs seal "$M/data"
	t "daxfs: ... statx (xfs_io) reports the seal" sealed "$M/data"
	expect "daxfs: ... status: sealed, its 10 blocks" 0 "^$M/data: sealed \(40000 bytes, 80 blocks\)$" '' daxfs status "$M/data"
	t "daxfs: ... the data is unchanged" cmp "$M/data" "$W/data"
	t "daxfs: ... truncate then fails with ETXTBSY" txtbsy truncate -s 0 "$M/data"
	t "daxfs: ... and so does an appending write" txtbsy dd if=/dev/zero of="$M/data" bs=1 count=1 \
		oflag=append conv=notrunc status=none
	t "daxfs: ... the size is unchanged" size_is "$M/data" 40000
	expect "daxfs: sealing a sealed file again: exit 0" 0 '' '' daxfs seal "$M/data"
	expect "daxfs: seal --size past the end of a sealed file: exit 1, 'already sealed at a smaller size'" 1 '' \
		"^daxfs: $M/data: already sealed at a smaller size \(40000 bytes\); unseal first$" daxfs seal --size 1M "$M/data"
	t "daxfs: ... the file keeps its size" size_is "$M/data" 40000
	expect "daxfs: a directory: seal exits 1, not a regular file" 1 '' \
		"^daxfs: $M: not a regular file \(directory\): only regular files can be sealed$" daxfs seal "$M"
	expect "daxfs: a directory: status says not a regular file" 0 "^$M: not a regular file \(directory\)$" '' daxfs status "$M"

	# Growing with --size.
	: >"$M/grow"
	expect "daxfs: seal an empty file without --size: exit 1, says it is empty and to use --size" 1 '' \
		"^daxfs: $M/grow: the file is empty .*use --size SIZE" daxfs seal "$M/grow"
	t "daxfs: ... the file is not sealed" unsealed "$M/grow"
	expect "daxfs: seal --size 1M of an empty file: exit 0" 0 '' '' daxfs seal --size 1M "$M/grow"
	t "daxfs: ... it grew to 1 MiB" size_is "$M/grow" 1048576
	t "daxfs: ... of zeros" cmp -n 1048576 "$M/grow" /dev/zero
	expect "daxfs: ... status: sealed, 2048 blocks" 0 "^$M/grow: sealed \(1048576 bytes, 2048 blocks\)$" '' daxfs status "$M/grow"
	printf abc >"$M/small"
	expect "daxfs: seal --size=8K of a 3-byte file: exit 0" 0 '' '' daxfs seal --size=8K "$M/small"
	t "daxfs: ... 8192 bytes, the data kept, zeros after it, sealed" sh -c \
		"test \"\$(stat -c %s '$M/small')\" = 8192 && test \"\$(head -c 3 '$M/small')\" = abc &&
		cmp -i 3:0 -n 8189 '$M/small' /dev/zero"
	t "daxfs: ... sealed (xfs_io)" sealed "$M/small"
	head -c 10000 /dev/urandom >"$M/longer"
	expect "daxfs: seal --size 4K of a 10000-byte file: exit 0" 0 '' '' daxfs seal -s 4K "$M/longer"
	t "daxfs: ... it keeps its size" size_is "$M/longer" 10000
	t "daxfs: ... sealed (xfs_io)" sealed "$M/longer"

	# Privilege.
	head -c 8192 /dev/urandom >"$M/priv"
	chmod 666 "$M/priv"
	head -c 8192 /dev/urandom >"$M/root644"
	chmod 644 "$M/root644"
	expect "daxfs: seal without CAP_LINUX_IMMUTABLE (setpriv): exit 1, the capability message" 1 '' \
		"^daxfs: $M/priv: sealing needs CAP_LINUX_IMMUTABLE \(run as root\)$" "${NOCAP[@]}" daxfs seal "$M/priv"
	expect "daxfs: seal as an unprivileged user (uid 65534): exit 1, the capability message" 1 '' \
		"^daxfs: $M/priv: sealing needs CAP_LINUX_IMMUTABLE \(run as root\)$" "${NOBODY[@]}" "$W/daxfs" seal "$M/priv"
	t "daxfs: ... the file is not sealed" unsealed "$M/priv"
	expect "daxfs: unprivileged seal of a file it cannot write: exit 1, cannot open it for writing (EACCES)" 1 '' \
		"^daxfs: $M/root644: permission denied: cannot open the file for writing" "${NOBODY[@]}" "$W/daxfs" seal "$M/root644"
	expect "daxfs: unprivileged status works" 0 "^$M/priv: not sealed \(8192 bytes, " '' "${NOBODY[@]}" "$W/daxfs" status "$M/priv"
	expect "daxfs: seal as root" 0 '' '' daxfs seal "$M/priv"
	expect "daxfs: unseal without CAP_LINUX_IMMUTABLE (setpriv): exit 1, the capability message" 1 '' \
		"^daxfs: $M/priv: unsealing needs CAP_LINUX_IMMUTABLE \(run as root\)$" "${NOCAP[@]}" daxfs unseal "$M/priv"
	expect "daxfs: unseal as an unprivileged user: exit 1, the capability message" 1 '' \
		"^daxfs: $M/priv: unsealing needs CAP_LINUX_IMMUTABLE \(run as root\)$" "${NOBODY[@]}" "$W/daxfs" unseal "$M/priv"
	t "daxfs: ... the file stays sealed" sealed "$M/priv"

	# A writable shared mapping held by another process: MAP_SHARED and
	# PROT_READ only, but through an O_RDWR descriptor, so it counts.
	if hold_mapping "$M/priv" MAP_SHARED PROT_READ; then
		expect "daxfs: unseal while another process holds a writable shared mapping: exit 1, the EBUSY message" 1 '' \
			"^daxfs: $M/priv: a writable shared mapping of the file exists" daxfs unseal "$M/priv"
		t "daxfs: ... the file stays sealed" sealed "$M/priv"
	else
		not_ok "daxfs: set-up: a process mapping $M/priv MAP_SHARED"
	fi
	release_mapping
	expect "daxfs: unseal once that process has exited: exit 0" 0 '' '' daxfs unseal "$M/priv"
	expect "daxfs: ... status: not sealed" 0 "^$M/priv: not sealed \(8192 bytes, " '' daxfs status "$M/priv"
	t "daxfs: ... statx (xfs_io) no longer reports the seal" unsealed "$M/priv"
	t "daxfs: ... truncate works" truncate -s 100 "$M/priv"
	t "daxfs: ... to the new size" size_is "$M/priv" 100
	expect "daxfs: unsealing an unsealed file: exit 0" 0 '' '' daxfs unseal "$M/priv"
	# A MAP_PRIVATE mapping never counts (negative control of the above).
	expect "daxfs: seal again" 0 '' '' daxfs seal "$M/priv"
	if hold_mapping "$M/priv" MAP_PRIVATE 'PROT_READ|PROT_WRITE'; then
		expect "daxfs: unseal while another process holds a MAP_PRIVATE mapping: exit 0" 0 '' '' daxfs unseal "$M/priv"
	else
		not_ok "daxfs: set-up: a process mapping $M/priv MAP_PRIVATE"
	fi
	release_mapping
	expect "daxfs: unseal the file with data" 0 '' '' daxfs unseal "$M/data"
	t "daxfs: ... truncate works" truncate -s 4096 "$M/data"

	# Several files in one call, one of them failing.
	for f in a b c; do head -c 5000 /dev/urandom >"$M/multi-$f"; done
	multi=("$M/multi-a" "$M/multi-missing" "$M/multi-b" "$M/multi-c")
	expect "daxfs: seal four files, one missing: exit 1, its error on stderr" 1 '' \
		"^daxfs: $M/multi-missing: No such file or directory$" daxfs seal "${multi[@]}"
	t "daxfs: ... exactly one line on stderr" test "$(printf '%s\n' "$err" | wc -l)" = 1
	t "daxfs: ... the other three are sealed" sealed "$M/multi-a" "$M/multi-b" "$M/multi-c"
	expect "daxfs: status of the four: exit 1" 1 "^$M/multi-c: sealed \(" "^daxfs: $M/multi-missing: No such file or directory$" daxfs status "${multi[@]}"
	t "daxfs: ... three 'sealed' lines on stdout" test "$(grep -c ': sealed (' <<<"$out")" = 3
	expect "daxfs: unseal the four: exit 1" 1 '' "^daxfs: $M/multi-missing: No such file or directory$" daxfs unseal "${multi[@]}"
	t "daxfs: ... the other three are unsealed" unsealed "$M/multi-a" "$M/multi-b" "$M/multi-c"
	if [ -e "$T/f" ]; then
		expect "daxfs: seal a tmpfs file and a daxfs file: exit 1, the tmpfs one's error" 1 '' \
			"^daxfs: $T/f: not on a filesystem that supports sealing \(daxfs\)$" daxfs seal "$T/f" "$M/multi-a"
		t "daxfs: ... the daxfs file is sealed" sealed "$M/multi-a"
	fi

	t "daxfs: umount" umount "$M"
	t "daxfs: fsck clean after the CLI's seals and unseals" fsck.daxfs -n /dev/pmem1
fi
mountpoint -q "$T" && umount "$T"

# ext4 with dax=always on the same NVDIMM: no sealing there.
if e=$({ mkfs.ext4 -q -F -b 4096 /dev/pmem1 && mount -t ext4 -o dax=always /dev/pmem1 "$E"; } 2>&1); then
	echo data >"$E/f"
	expect "ext4-dax: status says sealing is not supported" 0 "^$E/f: sealing not supported by this filesystem \(5 bytes, " '' daxfs status "$E/f"
	expect "ext4-dax: seal exits 1 with the EOPNOTSUPP message" 1 '' "^daxfs: $E/f: not on a filesystem that supports sealing \(daxfs\)$" daxfs seal "$E/f"
	expect "ext4-dax: unseal exits 1 with the EOPNOTSUPP message" 1 '' "^daxfs: $E/f: not on a filesystem that supports sealing \(daxfs\)$" daxfs unseal "$E/f"
	t "ext4-dax: umount" umount "$E"
else
	not_ok "ext4-dax: mkfs.ext4 + mount -o dax=always of /dev/pmem1"
	printf '%s\n' "$e" | sed 's/^/#   /' | tail -n 10
fi
suite_exit

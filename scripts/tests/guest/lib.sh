# SPDX-License-Identifier: GPL-2.0
# Helpers for guest suites. A suite prints one line per test:
#   ok - NAME | not ok - NAME | skip - NAME: REASON
# and diagnostics on lines starting with "# ".
set -u
SUITE=${SUITE:-$(basename "$0" .sh)}
GUEST_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
TOOLS=$GUEST_REPO/build/bin
_fails=0
ok() { echo "ok - $SUITE: $1"; }
not_ok() { echo "not ok - $SUITE: $1"; shift; [ $# -gt 0 ] && echo "# $*"; _fails=$((_fails + 1)); }
skip() { echo "skip - $SUITE: $1: $2"; }
# t NAME CMD...: pass when CMD exits 0; its output is shown on failure.
t() {
	local name=$1 out; shift
	if out=$("$@" 2>&1); then ok "$name"; else not_ok "$name"; printf '%s\n' "$out" | sed 's/^/#   /' | tail -n 20; fi
}
# tf NAME CMD...: pass when CMD fails (negative controls, error paths).
tf() {
	local name=$1; shift
	if "$@" >/dev/null 2>&1; then not_ok "$name" "command unexpectedly succeeded: $*"; else ok "$name"; fi
}
suite_exit() { exit $((_fails > 0)); }

# daxfs_mount_rw DEV MNT: mkfs.daxfs DEV and mount it read-write on MNT.
# daxfs writes: a kernel that does not register it, a mkfs or mount that
# fails, a mount that comes up read-only or a fresh filesystem on which a
# file cannot be created is a failure (with the reason); returns 1 then.
daxfs_mount_rw() {
	local err
	if ! grep -qw daxfs /proc/filesystems; then
		not_ok "daxfs: the kernel does not register daxfs (/proc/filesystems)"
	elif ! err=$({ mkfs.daxfs -q -f "$1" && mount -t daxfs "$1" "$2"; } 2>&1); then
		not_ok "daxfs: mkfs.daxfs + mount of $1 failed"
		printf '%s\n' "$err" | sed 's/^/#   /' | tail -n 10
	elif grep -qE "^[^ ]+ $2 daxfs ro[, ]" /proc/mounts; then
		not_ok "daxfs: $1 mounts read-only" "$(grep " $2 daxfs " /proc/mounts)"
		umount "$2"
	elif ! err=$(touch "$2/.probe" 2>&1); then
		not_ok "daxfs: creating a file on a fresh mount fails (${err##*: })"
		umount "$2"
	else
		rm -f "$2/.probe"
		return 0
	fi
	return 1
}

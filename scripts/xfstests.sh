#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Run an installed xfstests in the VM with two NVDIMMs (TEST_DEV=/dev/pmem0,
# SCRATCH_DEV=/dev/pmem1). The project never builds or ships xfstests: it is
# found through XFSTESTS_DIR or /var/lib/xfstests (the distribution path).
#   DAXFS_XFSTESTS_FSTYP   daxfs (default), or ext4 / xfs (dax=always) to compare
#   DAXFS_XFSTESTS         ./check arguments; default: the list in
#                          xfstests-additions/default-<fstyp>.list
#   DAXFS_XFSTESTS_TIMEOUT VM time limit in seconds (default 2400)
# Prints "ok - / not ok - / skip - " per test. Exit 3 when xfstests is not
# installed (the last line says why), 0 when every test that ran passed.
. "$(dirname "$0")/lib.sh"
dir=${XFSTESTS_DIR:-/var/lib/xfstests}
if [ ! -x "$dir/check" ]; then
	echo "xfstests not installed (no executable check in ${XFSTESTS_DIR:+XFSTESTS_DIR=}$dir; set XFSTESTS_DIR or install to /var/lib/xfstests)"
	exit 3
fi
fstyp=${DAXFS_XFSTESTS_FSTYP:-daxfs}
export XFSTESTS_DIR=$dir DAXFS_XFSTESTS_FSTYP=$fstyp
if [ -z "${DAXFS_XFSTESTS:-}" ]; then
	list=$REPO/xfstests-additions/default-$fstyp.list
	[ -f "$list" ] || die "no $list: set DAXFS_XFSTESTS"
	DAXFS_XFSTESTS=$(grep -v '^#' "$list" | xargs)
fi
export DAXFS_XFSTESTS
echo "# xfstests from $dir, FSTYP=$fstyp: $DAXFS_XFSTESTS"
exec "$REPO/scripts/vm.sh" --pmem 2 --timeout "${DAXFS_XFSTESTS_TIMEOUT:-2400}" \
	--out "${DAXFS_RESULTS:-$REPO/build/test-results}/xfstests-vm" -- "$REPO/scripts/tests/xfstests-guest.sh"

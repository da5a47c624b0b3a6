#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Run an installed xfstests in the VM with two NVDIMMs (TEST_DEV=/dev/pmem0,
# SCRATCH_DEV=/dev/pmem1). The project never builds or ships xfstests: it is
# found through XFSTESTS_DIR or /var/lib/xfstests (the distribution path).
# docs/xfstests.md has the details.
#   DAXFS_XFSTESTS_FSTYP   daxfs (default), or ext4 / xfs (dax=always) to compare
#   DAXFS_XFSTESTS         ./check arguments; default: the arguments in
#                          xfstests-additions/default-<fstyp>.list
#   DAXFS_XFSTESTS_SAMPLE  run every Nth test of the selection; default: the
#                          list's "# sample: N" line (daxfs: a 1-in-N sample of
#                          -g quick, to fit make test's time budget), 1 when
#                          DAXFS_XFSTESTS is given
#   DAXFS_XFSTESTS_LONG=1  the whole selection (e.g. the full quick group on
#                          daxfs: several hours under TCG)
#   DAXFS_XFSTESTS_TEST_TIMEOUT  per-test limit in seconds (default 600)
#   DAXFS_XFSTESTS_TIMEOUT VM time limit in seconds (default 2700; 28800 long)
#   DAXFS_XFSTESTS_KERNEL  bzImage to boot (default: the one kernel-build.sh
#                          makes); a copy lets a long run go on while the
#                          kernel is rebuilt
# Prints "ok - / not ok - / skip - " per test and one
# "# xfstests-summary: ..." line. Exit 3 when xfstests is not installed (the
# last line says why), 0 when every test that ran passed, vm.sh's 124/125/126
# for a VM hang, a crash or kernel warnings.
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
	: "${DAXFS_XFSTESTS_SAMPLE:=$(sed -n 's/^# sample: *\([0-9][0-9]*\).*/\1/p' "$list" | head -1)}"
fi
sample=${DAXFS_XFSTESTS_SAMPLE:-1}
timeout=${DAXFS_XFSTESTS_TIMEOUT:-2700}
if [ -n "${DAXFS_XFSTESTS_LONG:-}" ]; then
	sample=1 timeout=${DAXFS_XFSTESTS_TIMEOUT:-28800}
fi
export DAXFS_XFSTESTS DAXFS_XFSTESTS_SAMPLE=$sample
every=; [ "$sample" = 1 ] || every=", every ${sample}th test"
echo "# xfstests from $dir, FSTYP=$fstyp: ./check $DAXFS_XFSTESTS$every; VM limit ${timeout}s, per test ${DAXFS_XFSTESTS_TEST_TIMEOUT:-600}s"
# A big log buffer: vm.sh checks the whole dmesg for warnings afterwards,
# and the guest attributes them to tests by ./check's markers.
exec "$REPO/scripts/vm.sh" ${DAXFS_XFSTESTS_KERNEL:+--kernel "$DAXFS_XFSTESTS_KERNEL"} \
	--pmem 2 --timeout "$timeout" --append "log_buf_len=16M" \
	--out "${DAXFS_RESULTS:-$REPO/build/test-results}/xfstests-$fstyp-vm" -- "$REPO/scripts/tests/xfstests-guest.sh"

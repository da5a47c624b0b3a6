#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Run every guest suite (NN-name.sh) in order, in the booted test VM.
# DAXFS_SUITES="24 30" runs only the suites with those numbers (for a
# partial run by hand; make test never sets it), and says so.
cd "$(dirname "$0")" || exit 1
rc=0
[ -z "${DAXFS_SUITES:-}" ] || echo "# DAXFS_SUITES: only suites ${DAXFS_SUITES} run"
for s in [0-9][0-9]-*.sh; do
	if [ -n "${DAXFS_SUITES:-}" ] && ! [[ " $DAXFS_SUITES " == *" ${s%%-*} "* ]]; then
		continue
	fi
	echo "# suite $s"
	start=$(date +%s)
	# A suite that fails without saying what (a checker that crashed, say)
	# must still count as a failure.
	SUITE=${s%.sh} bash "./$s" 2>&1 | tee /tmp/suite.out
	src=${PIPESTATUS[0]}
	if [ "$src" != 0 ]; then
		rc=1
		grep -q '^not ok - ' /tmp/suite.out ||
			echo "not ok - ${s%.sh}: exited with status $src without reporting a failing check"
	fi
	echo "# suite $s took $(( $(date +%s) - start )) s"
done
exit $rc

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Run every guest suite (NN-name.sh) in order, in the booted test VM.
cd "$(dirname "$0")" || exit 1
rc=0
for s in [0-9][0-9]-*.sh; do
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

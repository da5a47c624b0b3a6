#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Run every guest suite (NN-name.sh) in order, in the booted test VM.
cd "$(dirname "$0")" || exit 1
rc=0
for s in [0-9][0-9]-*.sh; do
	echo "# suite $s"
	start=$(date +%s)
	SUITE=${s%.sh} bash "./$s" || rc=1
	echo "# suite $s took $(( $(date +%s) - start )) s"
done
exit $rc

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The per-call cost of xfstests generic/615, run in the benchmark VM on a
# mounted filesystem (scripts/bench/guest.sh).
#
# usage: overwrite64k.sh MNT LABEL [N]
#
# generic/615 runs 2,000 xfs_io processes that each overwrite a 64 KiB
# file with one O_SYNC pwrite, then 2,000 with O_DIRECT, while a loop of
# stat(1) processes checks that st_blocks never reads 0; its time is the
# per-call cost of those processes. This does the same with N (default
# 200) of each, the stat loop running beside them, and prints
# "bench LABEL g615-osync-64k SECONDS" and "bench LABEL g615-odirect-64k
# SECONDS" (the time of the N calls), or a bench-error if stat saw 0 blocks.
set -u
mnt=$1 label=$2 n=${3:-200}
f=$mnt/bench-615 stop=$mnt/.bench-615-run bad=$mnt/.bench-615-zero
rm -f "$f" "$stop" "$bad"
xfs_io -f -s -c "pwrite -b 64K 0 64K" "$f" >/dev/null || { echo "bench-error $label g615: xfs_io"; exit 1; }
touch "$stop"
while [ -e "$stop" ]; do
	[ "$(stat -c %b "$f")" -eq 0 ] && touch "$bad"
done &
loop=$!
rc=0
for mode in s d; do
	t0=$(date +%s.%N)
	for ((i = 0; i < n; i++)); do
		xfs_io -$mode -c "pwrite -b 64K 0 64K" "$f" >/dev/null ||
			{ echo "bench-error $label g615: xfs_io -$mode failed"; rc=1; break; }
	done
	t1=$(date +%s.%N)
	name=$([ $mode = s ] && echo osync || echo odirect)
	awk -v l="$label" -v p="g615-$name-64k" -v a="$t0" -v b="$t1" 'BEGIN { printf "bench %s %s %.4f\n", l, p, b - a }'
done
rm -f "$stop"
wait "$loop"
[ -e "$bad" ] && { echo "bench-error $label g615: stat(2) reported zero blocks"; rc=1; }
rm -f "$f" "$bad"
exit $rc

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Benchmarks: daxfs against its peers, ext4-dax and xfs-dax, in the same VM
# on the same emulated NVDIMM, one after the other. Reports seconds and the
# ratios daxfs/ext4-dax and daxfs/xfs-dax (below 1: daxfs is faster). Under
# TCG only ratios mean anything, and only within one run.
#   DAXFS_KERNEL   bzImage to boot (default: the one kernel-build.sh makes)
#   DAXFS_RESULTS  where the VM's console and output go (default build/bench-results)
# The workloads: scripts/bench/writes.py (per-call costs of small writes) and
# scripts/bench/faults.py (MAP_SYNC write faults, sealed files on daxfs).
. "$(dirname "$0")/lib.sh"
out=${DAXFS_RESULTS:-$REPO/build/bench-results}
"$REPO/scripts/vm.sh" --pmem 2 --timeout 1800 --out "$out/vm" -- "$REPO/scripts/bench/guest.sh" | tee "$out.log"
rc=${PIPESTATUS[0]}
awk '
$1 == "bench" { t[$2 " " $3] = $4; pat[$3] = 1 }
$1 == "bench-error" { print; bad = 1 }
END {
	printf "%-14s %10s %10s %10s %12s %12s\n", "pattern", "ext4-dax", "xfs-dax", "daxfs", "daxfs/ext4", "daxfs/xfs"
	for (p in pat) {
		e = t["ext4 " p]; x = t["xfs " p]; d = t["daxfs " p]
		printf "%-14s %10s %10s %10s %12s %12s\n", p, e, x, d,
			(e > 0 && d != "") ? sprintf("%.2f", d / e) : "-", (x > 0 && d != "") ? sprintf("%.2f", d / x) : "-"
		if (e == "" || x == "" || d == "") bad = 1
	}
	exit bad
}' "$out.log" || { echo "bench: a filesystem did not report every pattern"; exit 1; }
exit "$rc"

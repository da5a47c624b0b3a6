#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Benchmarks: daxfs against its peers, ext4-dax and xfs-dax, in the same VM
# on the same emulated NVDIMM, one after the other, each freshly made.
# Reports seconds and the ratios daxfs/ext4-dax and daxfs/xfs-dax (below 1:
# daxfs is faster) as a markdown table and an SVG plot. Under TCG only
# ratios mean anything, and only within one run.
#   DAXFS_KERNEL      bzImage to boot (default: the one kernel-build.sh makes)
#   DAXFS_RESULTS     where the VM's console and the outputs go
#                     (default build/bench-results: .log, .md, .svg)
#   DAXFS_BENCH_ONLY  a subset of the workloads (scripts/bench/guest.sh)
#   DAXFS_BENCH_DOCS=1  also write the table into docs/benchmarks.md (between
#                     its bench-table markers) and the plot to
#                     docs/benchmarks.svg, with today's date and the commit
# The workloads (docs/benchmarks.md): scripts/bench/writes.py, faults.c,
# fio.py, meta.c, pmdk.c, durable.c; the C programs are built here, on the
# host (scripts/bench/build.sh), and run in the guest.
. "$(dirname "$0")/lib.sh"
out=${DAXFS_RESULTS:-$REPO/build/bench-results}
mkdir -p "$out"
export DAXFS_BENCH_BIN=$REPO/build/bench-bin
"$REPO/scripts/bench/build.sh" "$DAXFS_BENCH_BIN"
set +e
"$REPO/scripts/vm.sh" --pmem 2 --timeout 5400 --out "$out/vm" -- "$REPO/scripts/bench/guest.sh" | tee "$out.log"
rc=${PIPESTATUS[0]}
set -e
commit=$(git -C "$REPO" rev-parse --short=12 HEAD)
git -C "$REPO" diff --quiet HEAD -- fs-rust-daxfs linux-patches scripts/bench || commit+=-dirty
args=("$out.log" --commit "$commit" --date "$(date -u +%F)" --md "$out.md" --svg "$out.svg")
[ "${DAXFS_BENCH_DOCS:-0}" = 1 ] &&
	args+=(--docs "$REPO/docs/benchmarks.md") && svg_docs=1
python3 "$REPO/scripts/bench/report.py" "${args[@]}" || rc=1
[ "${svg_docs:-0}" = 1 ] && cp "$out.svg" "$REPO/docs/benchmarks.svg"
exit "$rc"

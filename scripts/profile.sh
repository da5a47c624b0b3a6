#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Profiles of benchmark workloads on daxfs and its peers, in one VM:
# scripts/bench/profile.sh runs each under "perf record -a -g" in the guest
# and writes perf's reports to $DAXFS_RESULTS/vm/profile/FS-WORKLOAD.txt.
# What they showed is in docs/benchmarks.md ("Profiles").
#   DAXFS_PROFILE     the workloads (default: fio:psync-4k-randwrite meta;
#                     see scripts/bench/profile.sh)
#   DAXFS_PROFILE_FS  the filesystems (default: ext4 xfs daxfs)
#   DAXFS_KERNEL      bzImage to boot (default: the one kernel-build.sh makes)
#   DAXFS_RESULTS     where the outputs go (default build/profile)
. "$(dirname "$0")/lib.sh"
command -v perf >/dev/null || die "perf is not installed (scripts/deps.sh installs linux-perf)"
out=${DAXFS_RESULTS:-$REPO/build/profile}
rm -rf "$out/vm"
mkdir -p "$out"
export DAXFS_BENCH_BIN=$REPO/build/bench-bin
"$REPO/scripts/bench/build.sh" "$DAXFS_BENCH_BIN"
set +e
"$REPO/scripts/vm.sh" --pmem 2 --timeout 3600 --out "$out/vm" -- "$REPO/scripts/bench/profile.sh"
rc=$?
set -e
ls "$out/vm/profile/"*.txt 2>/dev/null || echo "no profile written"
exit "$rc"

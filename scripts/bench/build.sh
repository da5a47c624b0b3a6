#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Builds the C workloads of scripts/bench (every *.c there: faults, meta,
# pmdk, durable, ...) into DIR, default build/bench-bin, where
# scripts/bench/guest.sh runs them from ($DAXFS_BENCH_BIN). A program is
# rebuilt only when its source is newer than its binary. Needs gcc and, for
# pmdk and durable, the PMDK headers (libpmem-dev, libpmem2-dev,
# libpmemobj-dev).
#   usage: build.sh [DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../../build/bench-bin}
mkdir -p "$out"
for src in "$here"/*.c; do
	prog=$(basename "$src" .c)
	case $prog in
	pmdk) libs=(-lpmemobj -lpmem2 -lpmem) ;;
	durable) libs=(-lpmem) ;;
	meta) libs=(-pthread) ;;
	*) libs=() ;;
	esac
	[ "$out/$prog" -nt "$src" ] && continue
	echo "  CC      $out/$prog"
	gcc -O2 -Wall -Wextra -Werror -o "$out/$prog" "$src" ${libs[@]+"${libs[@]}"}
done

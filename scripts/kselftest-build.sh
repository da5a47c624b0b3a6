#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build the kselftests the series adds (tools/testing/selftests/
# filesystems/seal_block_map) against the patched kernel's uAPI headers
# (installed into the shared object tree with "make headers"), into
# build/kselftest/ where the guest suite 34-kselftest-seal runs them.
. "$(dirname "$0")/lib.sh"
klock
ksync
out=$REPO/build/kselftest
mkdir -p "$out"
make -s -C "$KBSRC" O="$KOUT" LLVM="$LLVM_SUFFIX" headers >&2 || die "make headers failed"
make -s -C "$KBSRC/tools/testing/selftests/filesystems/seal_block_map" \
	OUTPUT="$out" KHDR_INCLUDES="-isystem $KOUT/usr/include" >&2 ||
	die "kselftest build failed"
[ -x "$out/seal_block_map_test" ] || die "no seal_block_map_test built"
log "kselftest: $out/seal_block_map_test"

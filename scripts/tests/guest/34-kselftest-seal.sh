#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The series' kselftest for the sealing uAPI (filesystems/seal_block_map,
# built on the host by scripts/kselftest-build.sh), run on a fresh daxfs:
# its KTAP results become this suite's lines (skips stay skips).
. "$(dirname "$0")/lib.sh"
bin=$GUEST_REPO/build/kselftest/seal_block_map_test
mkdir -p /mnt/ksft
if [ ! -x "$bin" ]; then
	not_ok "kselftest seal_block_map: not built ($bin)"
elif daxfs_mount_rw /dev/pmem1 /mnt/ksft; then
	SEAL_BLOCK_MAP_DIR=/mnt/ksft "$bin" > /tmp/ksft.out 2>&1
	rc=$?
	sed 's/^/# /' /tmp/ksft.out | grep -E '^# #  (RUN|FAIL)|^# # .*(Expected|SKIP)' | head -40
	n=0
	while read -r line; do
		case "$line" in
		"ok "*"# SKIP"*) skip "kselftest ${line#ok [0-9]* }" "skipped" ;;
		"ok "*) ok "kselftest ${line#ok [0-9]* }" ;;
		"not ok "*) not_ok "kselftest ${line#not ok [0-9]* }" ;;
		*) continue ;;
		esac
		n=$((n + 1))
	done < /tmp/ksft.out
	[ "$n" -gt 0 ] || not_ok "kselftest seal_block_map reported no test" "exit $rc"
	[ "$rc" = 0 ] || grep -q '^not ok' /tmp/ksft.out ||
		not_ok "kselftest seal_block_map exited $rc without a failing test"
	t "daxfs: umount after the kselftest" umount /mnt/ksft
	t "daxfs: fsck clean after the kselftest" fsck.daxfs -n /dev/pmem1
fi
suite_exit

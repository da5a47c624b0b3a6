#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The VM runner must turn every kind of guest trouble into a failure, within
# its timeout, and leave no QEMU behind. Prints "ok - x" / "not ok - x".
. "$(dirname "$0")/../lib.sh"
set +e
imgdir=$(mktemp -d "${TMPDIR:-/tmp}/daxfs-selftest.XXXXXX")
trap 'rm -rf "$imgdir"' EXIT

# expect NAME WANT_RC MAX_SECONDS VM.SH-ARGS...
expect() {
	local name=$1 want=$2 max=$3; shift 3
	local s rc el left
	s=$(date +%s)
	"$REPO/scripts/vm.sh" --images "$imgdir" "$@" >"$imgdir/log" 2>&1
	rc=$? el=$(( $(date +%s) - s ))
	left=$(pgrep -f "qemu-system.*$imgdir" || true)
	if [ "$rc" = "$want" ] && [ "$el" -le "$max" ] && [ -z "$left" ]; then
		echo "ok - $name (exit $rc in ${el}s)"
	else
		echo "not ok - $name (exit $rc, wanted $want; ${el}s, limit ${max}s; qemu left: ${left:-none})"
		sed 's/^/#   /' "$imgdir/log" | tail -n 15
		[ -n "$left" ] && kill -9 $left
	fi
	cat "$imgdir/log" >&2
}

expect "a passing guest command passes" 0 240 --no-pmem-setup -- true
expect "a failing guest command fails with its status" 3 240 --no-pmem-setup -- sh -c 'exit 3'
expect "a guest panic fails (125)" 125 240 --no-pmem-setup -- sh -c 'echo c > /proc/sysrq-trigger; sleep 100'
expect "a guest hang times out (124)" 124 60 --no-pmem-setup --timeout 30 -- sleep 1000
# A boot that never reaches init (simulated by a 1 s limit) is retried and,
# when every try hangs, fails (124); each try is kept for diagnosis.
VM_BOOT_TRIES=2 expect "a boot that hangs before init is retried, then fails (124)" 124 60 \
	--no-pmem-setup --boot-timeout 1 --out "$imgdir/bh" -- true
if [ "$(cat "$imgdir/bh/boot-hangs" 2>/dev/null)" = 2 ] && [ -s "$imgdir/bh/boot-hang-2/vcpus.txt" ] &&
	grep -q 'boot 1 hung before init' "$imgdir/log" && grep -q 'RIP=' "$imgdir/bh/boot-hang-1/vcpus.txt"; then
	echo "ok - a hung boot is logged and its console and vCPU registers are kept"
else
	echo "not ok - a hung boot is logged and its console and vCPU registers are kept"
	ls -R "$imgdir/bh" 2>&1 | sed 's/^/#   /' | head
fi
expect "a kernel WARNING in dmesg fails (126)" 126 240 --no-pmem-setup -- \
	sh -c 'echo WARNING > /sys/kernel/debug/provoke-crash/DIRECT'
expect "a kernel WARNING before --kill-after-armed's kill fails (126)" 126 240 --no-pmem-setup --kill-after-armed 2 -- \
	sh -c 'echo WARNING > /sys/kernel/debug/provoke-crash/DIRECT; touch /tmp/out/armed; sleep 100'
expect "fsdax setup on a fresh NVDIMM image works" 0 240 -- sh -c 'test "$(cat /sys/block/pmem0/queue/dax)" = 1'

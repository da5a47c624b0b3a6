#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The test command (README, .ci/run): every level of test daxfs has, counted.
#   1. userspace: cargo fmt --check, clippy -D warnings, cargo test (fs-rust-daxfs)
#   2. the series: checkpatch.pl clean, regenerate round-trips byte for byte
#   3. the kernel: build (ccache), then in the booted VM:
#      - the VM runner's own failure detection (fail, panic, hang, WARN)
#      - KUnit + Rust doctests (KTAP from dmesg, parsed by kunit.py)
#      - guest suites: scripts/tests/guest/*.sh ("ok - x" / "not ok - x" / "skip - x")
#      - the daxfs mount/umount leak loop again, in a boot with kmemleak=on
#      - mount time: 1 GiB vs 16 GiB NVDIMM, in a boot of its own
#      - errors=panic: corrupted metadata stops the machine (a boot that must panic)
#   4. crash consistency: scripts/tests/crash-test.sh on daxfs, DAXFS_CRASH_RUNS
#      points (default 30); a failure when the guest stage found that daxfs
#      cannot be mounted read-write
#   5. xfstests with FSTYP=daxfs when installed (XFSTESTS_DIR or /var/lib/xfstests)
#   6. only when asked for (DAXFS_TEST_ONLY=debug, make test-debug): the debug
#      kernel (qemu/daxfs-debug.config: lockdep, KASAN, UBSAN, Rust debug
#      assertions): its build, KUnit and every guest suite in one boot (the
#      fuzz suite with DAXFS_DEBUG_FUZZ_IMAGES images, default 200),
#      DAXFS_DEBUG_CRASH_RUNS crash points (default 3)
# Ends with "N passed, N failed, N skipped"; exit 1 if anything failed.
# DAXFS_TEST_ONLY="userspace series kernel runner kunit guest leaks mounttime panic crash xfstests debug" selects stages.
. "$(dirname "$0")/lib.sh"
set +e

# The debug kernel stage is not in the default set: measured, a cold make test
# with both kernels would take about 2.6 h and one on the debug kernel alone
# about 3.4 h, against CI's 90 min (README, "Why make test does not run the
# debug kernel").
only=${DAXFS_TEST_ONLY:-userspace series kernel runner kunit guest leaks mounttime panic crash xfstests}
want() { [[ " $only " == *" $1 "* ]]; }
PASS=0 FAIL=0 SKIP=0
FAILED=()
RESULTS=${DAXFS_RESULTS:-$REPO/build/test-results}
rm -rf "$RESULTS" && mkdir -p "$RESULTS"
T0=$(date +%s)

pass() { PASS=$((PASS + 1)); printf 'PASS %s\n' "$1"; }
fail() { FAIL=$((FAIL + 1)); FAILED+=("$1"); printf 'FAIL %s%s\n' "$1" "${2:+: $2}"; }
skip() { SKIP=$((SKIP + 1)); printf 'SKIP %s: %s\n' "$1" "$2"; }
stage() { printf '\n== %s (t+%ds)\n' "$1" $(( $(date +%s) - T0 )); }
# check NAME CMD...: one result from a command's exit status.
check() {
	local name=$1; shift
	local log=$RESULTS/$(echo "$name" | tr ' /' '__').log
	if "$@" >"$log" 2>&1; then pass "$name"; else fail "$name" "see $log"; tail -n 15 "$log"; fi
}
# kunit NAME DMESG: count the KUnit results (KTAP in DMESG, parsed by kunit.py).
kunit() {
	local kout=$RESULTS/$1.txt summary kp kf ks kc
	python3 "$KSRC/tools/testing/kunit/kunit.py" parse < "$2" > "$kout" 2>&1
	summary=$(grep -E 'Ran [0-9]+ tests?:' "$kout" | tail -1)
	echo "$1: ${summary:-no KTAP found}"
	kp=$(sed -nE 's/.*passed: ([0-9]+).*/\1/p' <<<"$summary"); kf=$(sed -nE 's/.*failed: ([0-9]+).*/\1/p' <<<"$summary")
	ks=$(sed -nE 's/.*skipped: ([0-9]+).*/\1/p' <<<"$summary"); kc=$(sed -nE 's/.*crashed: ([0-9]+).*/\1/p' <<<"$summary")
	PASS=$((PASS + ${kp:-0})); FAIL=$((FAIL + ${kf:-0} + ${kc:-0})); SKIP=$((SKIP + ${ks:-0}))
	[ "${kf:-0}${kc:-0}" = 00 ] || grep -E '\[FAILED\]|\[CRASHED\]' "$kout" | head -20
	[ "${kp:-0}" -gt 0 ] || fail "$1" "no KUnit results in the guest dmesg"
	grep -q 'rust_doctests_kernel' "$2" && pass "$1: rust_doctests_kernel suite ran" ||
		fail "$1: rust_doctests_kernel suite ran"
}
# boot_hangs DIR: say how many boots of a vm.sh run hung before init and were retried.
boot_hangs() {
	[ -f "$1/boot-hangs" ] && echo "note: $(cat "$1/boot-hangs") boot(s) hung before init and were booted again (console and registers in $1/boot-hang-*)"
	return 0
}
# tap NAME FILE: count "ok - x" / "not ok - x" / "skip - x" lines.
tap() {
	local line n=0
	while IFS= read -r line; do
		case "$line" in
		"ok - "*) pass "$1: ${line#ok - }"; n=$((n + 1)) ;;
		"not ok - "*) fail "$1: ${line#not ok - }"; n=$((n + 1)) ;;
		"skip - "*) rest=${line#skip - }; skip "$1: ${rest%: *}" "${rest##*: }"; n=$((n + 1)) ;;
		esac
	done < <(tr -d '\r' < "$2")
	[ "$n" -gt 0 ] || fail "$1" "reported no results"
}

if want userspace; then
	stage "userspace (fs-rust-daxfs)"
	m=$REPO/fs-rust-daxfs/Cargo.toml
	if [ -f "$m" ]; then
		check "cargo fmt --check" cargo fmt --manifest-path "$m" --all -- --check
		check "cargo clippy -D warnings" cargo clippy -q --manifest-path "$m" --workspace --all-targets -- -D warnings
		log=$RESULTS/cargo-test.log
		cargo test --manifest-path "$m" --workspace --release >"$log" 2>&1
		crc=$?
		p=$(grep -E '^test result:' "$log" | sed -E 's/.* ([0-9]+) passed.*/\1/' | paste -sd+ | bc)
		f=$(grep -E '^test result:' "$log" | sed -E 's/.* ([0-9]+) failed.*/\1/' | paste -sd+ | bc)
		printf 'cargo test: %s passed, %s failed\n' "${p:-0}" "${f:-0}"
		PASS=$((PASS + ${p:-0})); FAIL=$((FAIL + ${f:-0}))
		if [ "$crc" != 0 ] && [ "${f:-0}" = 0 ]; then fail "cargo test" "exit $crc, see $log"; tail -20 "$log"; fi
		[ "${p:-0}" -gt 0 ] || fail "cargo test" "ran no test"
		check "tools build (release)" "$REPO/scripts/tools-build.sh"
	else
		fail "userspace" "fs-rust-daxfs/Cargo.toml is missing"
	fi
fi

if want series; then
	stage "patch series"
	check "kernel tree applies linux-patches/" "$REPO/scripts/kernel-tree.sh"
	check "checkpatch.pl linux-patches/" "$REPO/scripts/check-patches.sh"
	check "regenerated series is byte-identical" "$REPO/scripts/tests/series-roundtrip.sh"
fi

BZ=$KOUT/arch/x86/boot/bzImage
if want kernel; then
	stage "kernel build"
	s=$(date +%s)
	check "kernel build (CONFIG_DAXFS_FS=y)" "$REPO/scripts/kernel-build.sh"
	echo "kernel build took $(( $(date +%s) - s )) s"
	check "kselftest build (filesystems/seal_block_map)" "$REPO/scripts/kselftest-build.sh"
	check "compile-fail tests of the Rust VFS abstractions" "$REPO/scripts/tests/compile-fail.sh"
fi

# Every VM of this run boots its own copy of the kernel (vm.sh: DAXFS_KERNEL):
# the object tree is shared by every clone on the machine, and another
# clone's build must not change the kernel under a run half way through.
if [ -f "$BZ" ] && [ -z "${DAXFS_KERNEL:-}" ]; then
	(klock && cp "$BZ" "$RESULTS/bzImage")
	export DAXFS_KERNEL=$RESULTS/bzImage
	BZ=$DAXFS_KERNEL
fi

if [ ! -f "$BZ" ] && { want runner || want kunit || want guest || want leaks || want mounttime || want panic || want xfstests; }; then
	fail "VM stages" "no kernel image at $BZ"
else
	if want runner; then
		stage "VM runner self-test"
		tap "runner" <("$REPO/scripts/tests/runner-selftest.sh" 2>"$RESULTS/runner.log")
	fi
	if want kunit || want guest; then
		stage "boot: KUnit, Rust doctests, guest suites"
		out=$RESULTS/guest
		s=$(date +%s)
		"$REPO/scripts/vm.sh" --pmem 2 --timeout "${DAXFS_GUEST_TIMEOUT:-2400}" --out "$out" \
			--append "log_buf_len=8M" -- "$REPO/scripts/tests/guest/run-all.sh"
		vrc=$?
		echo "guest boot + suites took $(( $(date +%s) - s )) s (vm.sh exit $vrc)"
		boot_hangs "$out"
		want kunit && kunit kunit "$out/dmesg"
		if want guest; then
			tap "guest" "$out/output"
			case $vrc in
			0) ;;
			124) fail "guest" "the VM hung (timeout)" ;;
			125) fail "guest" "the guest crashed (see $out/console.log)" ;;
			126) fail "guest" "kernel warnings in dmesg (see $out/dmesg)" ;;
			*) [ "$FAIL" -gt 0 ] || fail "guest" "run-all.sh exited $vrc" ;;
			esac
		fi
	fi
	if want leaks; then
		stage "leaks: mount/read/umount loop under kmemleak"
		# kmemleak slows every allocation, so it gets its own short boot.
		"$REPO/scripts/vm.sh" --pmem 2 --timeout 900 --out "$RESULTS/leaks" --append "kmemleak=on" -- \
			bash "$REPO/scripts/tests/guest/23-daxfs-leaks.sh" > "$RESULTS/leaks.out" 2>&1
		lrc=$?
		grep -E '^(ok|not ok|skip) - |^# ' "$RESULTS/leaks.out"
		tap "leaks(kmemleak=on)" "$RESULTS/leaks.out"
		[ "$lrc" = 0 ] || fail "leaks(kmemleak=on)" "vm.sh exit $lrc (see $RESULTS/leaks)"
	fi
	if want mounttime; then
		stage "mount time: 1 GiB vs 16 GiB NVDIMM"
		# Different NVDIMM sizes than the other boots; the 16 GiB image is
		# a sparse file (a few hundred MiB get written: the namespace's
		# struct pages).
		s=$(date +%s)
		"$REPO/scripts/vm.sh" --pmem-sizes 1G,16G --timeout 600 --out "$RESULTS/mount-time" -- \
			"$REPO/scripts/tests/guest/mount-time.sh" > "$RESULTS/mount-time.out" 2>&1
		mrc=$?
		grep -E '^(ok|not ok|skip) - |^# mount-time:' "$RESULTS/mount-time.out"
		echo "mount-time boot took $(( $(date +%s) - s )) s"
		tap "mounttime" "$RESULTS/mount-time.out"
		[ "$mrc" = 0 ] || fail "mounttime" "vm.sh exit $mrc (see $RESULTS/mount-time)"
	fi
	if want panic; then
		stage "errors=panic: the machine stops"
		# The guest is meant to die: vm.sh exits 125 (guest crashed) and the
		# console must show the kernel's panic() with daxfs's message, not a
		# BUG() from Rust's panic!() ("Fatal exception" under oops=panic).
		s=$(date +%s)
		"$REPO/scripts/vm.sh" --pmem 1 --timeout 300 --out "$RESULTS/errors-panic" -- \
			"$REPO/scripts/tests/guest/errors-panic.sh" > "$RESULTS/errors-panic.out" 2>&1
		prc=$?
		echo "errors=panic boot took $(( $(date +%s) - s )) s (vm.sh exit $prc)"
		grep -E '^(ok|not ok) - ' "$RESULTS/errors-panic.out"
		grep -q '^not ok - ' "$RESULTS/errors-panic.out" && fail "errors=panic" "a set-up step or the panic failed (see $RESULTS/errors-panic.out)"
		if [ "$prc" = 125 ] && grep -aq 'Kernel panic - not syncing: daxfs: pmem0: errors=panic: ' "$RESULTS/errors-panic/console.log" &&
			! grep -aqE 'kernel BUG at|Oops|rust_panic|Fatal exception' "$RESULTS/errors-panic/console.log"; then
			pass "errors=panic: corrupted metadata panics the kernel with daxfs's message"
		else
			fail "errors=panic: corrupted metadata panics the kernel with daxfs's message" \
				"vm.sh exit $prc; console: $(grep -aE 'Kernel panic|BUG|Oops' "$RESULTS/errors-panic/console.log" 2>/dev/null | head -3 | tr '\n' ' ')"
		fi
	fi
	if want crash; then
		stage "crash consistency (SIGKILL of QEMU, recovery, fsck)"
		# The namespace suite probes whether daxfs mounts read-write
		# (lib.sh daxfs_mount_rw). When that failed in this run, the crash
		# test would only spend its boots finding the same: one failure.
		why=$(tr -d '\r' 2>/dev/null < "$RESULTS/guest/output" | grep -E '^not ok - 30-namespace: daxfs: (the kernel does not register|mkfs.daxfs \+ mount|.* mounts read-only|creating a file)' |
			sed 's/^not ok - 30-namespace: daxfs: //' | head -1)
		if [ -n "$why" ]; then
			fail "crash test on daxfs" "not run: $why"
		else
			tap "crash" <("$REPO/scripts/tests/crash-test.sh" --fs daxfs --runs "${DAXFS_CRASH_RUNS:-30}")
		fi
	fi
	if want xfstests; then
		# ext4-dax first: the reference, and proof that the xfstests
		# machinery works here, whatever daxfs does.
		for fst in ${DAXFS_XFSTESTS_FSTYPES:-ext4 daxfs}; do
			stage "xfstests FSTYP=$fst"
			s=$(date +%s)
			DAXFS_XFSTESTS_FSTYP=$fst "$REPO/scripts/xfstests.sh" > "$RESULTS/xfstests-$fst.out" 2>&1
			xrc=$?
			if [ "$xrc" = 3 ]; then
				skip "xfstests" "$(tail -1 "$RESULTS/xfstests-$fst.out")"
				break
			fi
			# The whole ./check output is in the .out file; here the
			# header, watchdog and warning notes and failure diffs.
			grep -E '^# (xfstests from|selection|watchdog|dmesg during)|^#   ' "$RESULTS/xfstests-$fst.out"
			echo "xfstests FSTYP=$fst took $(( $(date +%s) - s )) s"
			f0=$FAIL
			tap "xfstests[$fst]" "$RESULTS/xfstests-$fst.out"
			grep -h '^# xfstests-summary:' "$RESULTS/xfstests-$fst.out"
			case $xrc in
			0) ;;
			124) fail "xfstests[$fst]" "the VM hung past its time limit (see $RESULTS/xfstests-$fst-vm)" ;;
			125) fail "xfstests[$fst]" "the guest crashed (see $RESULTS/xfstests-$fst-vm/console.log)" ;;
			126) fail "xfstests[$fst]" "kernel warnings in dmesg (see $RESULTS/xfstests-$fst-vm/dmesg)" ;;
			*) [ "$FAIL" -gt "$f0" ] || fail "xfstests[$fst]" "exit $xrc" ;;
			esac
		done
	fi
fi

if want debug; then
	stage "debug kernel: lockdep, KASAN, UBSAN, Rust debug assertions"
	s=$(date +%s)
	check "debug kernel build (qemu/daxfs-debug.config)" "$REPO/scripts/kernel-build.sh" --debug
	echo "debug kernel build took $(( $(date +%s) - s )) s"
	# 34-kselftest-seal needs the series' kselftest (the kernel stage builds
	# it too; make test-debug runs without that stage).
	want kernel || check "kselftest build (filesystems/seal_block_map)" "$REPO/scripts/kselftest-build.sh"
	DBZ=$KOUT_DEBUG/arch/x86/boot/bzImage
	if [ -f "$DBZ" ]; then
		(klock && cp "$DBZ" "$RESULTS/bzImage-debug")
		out=$RESULTS/debug
		s=$(date +%s)
		# kasan_multi_shot: every KASAN report, not only the first. The fuzz
		# suite runs fewer images on this slower kernel.
		DAXFS_FUZZ_IMAGES=${DAXFS_DEBUG_FUZZ_IMAGES:-200} \
		"$REPO/scripts/vm.sh" --kernel "$RESULTS/bzImage-debug" --pmem 2 --timeout "${DAXFS_DEBUG_TIMEOUT:-7200}" \
			--out "$out" --append "log_buf_len=16M kasan_multi_shot" -- "$REPO/scripts/tests/guest/run-all.sh" \
			> "$RESULTS/debug.out" 2>&1
		drc=$?
		echo "debug boot + suites took $(( $(date +%s) - s )) s (vm.sh exit $drc)"
		boot_hangs "$out"
		kunit "debug kunit" "$out/dmesg"
		tap "debug guest" "$out/output"
		case $drc in
		0) ;;
		124) fail "debug guest" "the VM hung (timeout)" ;;
		125) fail "debug guest" "the guest crashed (see $out/console.log)" ;;
		126) fail "debug guest" "kernel reports in dmesg (lockdep, KASAN, UBSAN, WARN: see $out/dmesg)"
			grep -aE 'BUG:|WARNING:|UBSAN|KASAN' "$out/dmesg" | head -5 ;;
		*) [ "$FAIL" -gt 0 ] || fail "debug guest" "run-all.sh exited $drc" ;;
		esac
		s=$(date +%s)
		# Every boot with kasan_multi_shot; the slower kernel gets three
		# times the time limits (vm.sh).
		tap "debug crash" <(DAXFS_KERNEL=$RESULTS/bzImage-debug DAXFS_RESULTS=$RESULTS/crash-debug \
			DAXFS_VM_APPEND=kasan_multi_shot DAXFS_VM_TIMEOUT_SCALE=3 \
			"$REPO/scripts/tests/crash-test.sh" --fs daxfs --runs "${DAXFS_DEBUG_CRASH_RUNS:-3}")
		echo "debug crash points took $(( $(date +%s) - s )) s"
	else
		fail "debug kernel" "no kernel image at $DBZ"
	fi
fi

printf '\ntotal time %d s\n' $(( $(date +%s) - T0 ))
if [ "${#FAILED[@]}" -gt 0 ]; then printf 'failed: %s\n' "${FAILED[@]}"; fi
echo "$PASS passed, $FAIL failed, $SKIP skipped"
[ "$FAIL" = 0 ]

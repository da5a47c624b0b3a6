#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Compile-fail tests of the Rust VFS abstractions (rust/kernel/fs): each
# snippet in scripts/tests/compile-fail/ is a misuse that must not compile,
# with the rustc error code it must fail with on its "// expect:" line; ok.rs
# must compile (a control: the command line works and the allowed uses
# build). The kernel's own doctest harness cannot run `compile_fail`
# doctests (its rustdoc test builder only saves the test source), so the
# snippets are compiled here against the built kernel crate, with the exact
# rustc command line kbuild used for the kernel's doctests.
#
# usage: compile-fail.sh [KOUT]   (default: $KOUT, the fast kernel's build)
# Prints TAP; exits 1 if any snippet does not fail as expected.
. "$(dirname "$0")/../lib.sh"
kout=${1:-$KOUT}
cmdfile=$kout/rust/.doctests_kernel_generated.o.cmd
[ -f "$cmdfile" ] || die "no $cmdfile: build the kernel first (make kernel)"
[ -f "$kout/rust/libkernel.rmeta" ] || die "no kernel crate in $kout/rust"
# The command kbuild saved, without its output and input.
cmd=$(sed -n 's/^savedcmd_rust\/doctests_kernel_generated.o := //p' "$cmdfile")
[ -n "$cmd" ] || die "cannot read the doctests' rustc command in $cmdfile"
cmd=$(printf '%s\n' "$cmd" | sed -e 's/ --emit=[^ ]*//g' -e 's/ --out-dir [^ ]*//' \
	-e 's/ rust\/doctests_kernel_generated\.rs *$//')
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
snips=("$REPO"/scripts/tests/compile-fail/*.rs)
echo "1..${#snips[@]}"
n=0 fail=0
for f in "${snips[@]}"; do
	n=$((n + 1))
	name=$(basename "$f" .rs)
	want=$(sed -n 's/^\/\/ expect: *//p' "$f" | head -1)
	[ -n "$want" ] || die "$f has no '// expect:' line"
	cp "$f" "$tmp/$name.rs"
	# shellcheck disable=SC2086 # the saved command is split as kbuild split it
	rc=0
	(cd "$kout" && export RUSTC_BOOTSTRAP=1 && eval "$cmd --crate-name cf_${name//-/_} --emit=metadata --out-dir $tmp $tmp/$name.rs") \
		> "$tmp/$name.log" 2>&1 || rc=$?
	if [ "$want" = ok ]; then
		if [ $rc -eq 0 ]; then
			echo "ok $n - $name compiles"
		else
			echo "not ok $n - $name must compile"
			sed 's/^/# /' "$tmp/$name.log" | head -30
			fail=$((fail + 1))
		fi
	elif [ $rc -ne 0 ] && grep -q "error\[$want\]" "$tmp/$name.log"; then
		echo "ok $n - $name is refused ($want)"
	else
		echo "not ok $n - $name must fail with $want (rustc exit $rc)"
		sed 's/^/# /' "$tmp/$name.log" | head -30
		fail=$((fail + 1))
	fi
done
[ "$fail" -eq 0 ]

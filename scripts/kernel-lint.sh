#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The Rust checks of the kernel's own tooling, on the built tree ($KOUT, after
# make kernel): `make rustfmtcheck` (every Rust file of the tree, the series'
# and fs/daxfs included), `make CLIPPY=1` of the Rust code (rust/ and
# fs/daxfs/, every warning an error as in the normal build) and `make rustdoc`
# (the kernel crate's documentation, its intra-doc links checked).
# Opt-in (`make lint-kernel`): CLIPPY=1 changes the compiler command line, so
# the next normal build recompiles the Rust objects (a few minutes).
# Prints one line per check; exits 1 if one fails.
. "$(dirname "$0")/lib.sh"
[ -f "$KOUT/.config" ] || die "no kernel configured in $KOUT: make kernel first"
klock
"$REPO/scripts/kernel-tree.sh" >&2
fail=0
run() {
	local name=$1 s=$(date +%s) logf
	shift
	logf=$(mktemp)
	if kmake "$@" > "$logf" 2>&1 && ! grep -qE '^(warning|error)(\[|:)' "$logf"; then
		echo "ok - $name ($(( $(date +%s) - s )) s)"
	else
		echo "not ok - $name"
		grep -E -A12 '^(warning|error)(\[|:)' "$logf" | head -80 | sed 's/^/# /'
		tail -5 "$logf" | sed 's/^/# /'
		fail=1
	fi
	rm -f "$logf"
}
run "make rustfmtcheck" rustfmtcheck
run "make CLIPPY=1 (rust/, fs/daxfs/)" CLIPPY=1 rust/ fs/daxfs/
run "make rustdoc" rustdoc
exit $fail

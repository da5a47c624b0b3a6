#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# checkpatch.pl (from the pinned tree) on every patch of linux-patches/
# (not on the cover letter, which has no diff).
# Fails on any ERROR; prints warnings.
. "$(dirname "$0")/lib.sh"
[ -x "$KSRC/scripts/checkpatch.pl" ] || die "no kernel tree (make tree)"
rc=0
for p in $(series_patches); do
	outp=$("$KSRC/scripts/checkpatch.pl" --no-tree --terse --show-types "$p" 2>&1) || true
	if grep -q ': ERROR:' <<<"$outp"; then
		printf '%s\n' "$outp" | grep ': ERROR:' >&2
		log "checkpatch: errors in $(basename "$p")"
		rc=1
	fi
	grep ': WARNING:' <<<"$outp" >&2 || true
done
exit $rc

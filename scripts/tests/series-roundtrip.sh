#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# linux-patches/ applies on daxfs-base, and regenerating the series from the
# result reproduces linux-patches/ byte for byte. Works on a private index
# (no checkout), so the developer's tree is not touched.
. "$(dirname "$0")/../lib.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export GIT_INDEX_FILE=$tmp/index
g() { git -C "$KSRC" "$@"; }
g read-tree daxfs-base
head=$(g rev-parse daxfs-base)
n=0
for p in $(series_patches); do
	git mailinfo "$tmp/msg" "$tmp/diff" < "$p" > "$tmp/info"
	field() { sed -n "s/^$1: //p" "$tmp/info"; }
	g apply --cached "$tmp/diff" || die "$(basename "$p") does not apply"
	tree=$(g write-tree)
	{ field Subject; echo; cat "$tmp/msg"; } > "$tmp/commitmsg"
	head=$(GIT_AUTHOR_NAME=$(field Author) GIT_AUTHOR_EMAIL=$(field Email) GIT_AUTHOR_DATE=$(field Date) \
		GIT_COMMITTER_NAME=x GIT_COMMITTER_EMAIL=x@x g commit-tree "$tree" -p "$head" -F "$tmp/commitmsg")
	n=$((n + 1))
done
mkdir "$tmp/out"
format_series "$KSRC" "$tmp/out" "daxfs-base..$head"
diff -r "$tmp/out" "$REPO/linux-patches" || die "regenerated series differs from linux-patches/"
echo "series of $n patches applies and round-trips byte for byte, with its cover letter"

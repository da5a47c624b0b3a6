#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Regenerate linux-patches/ from the commits daxfs-base..HEAD of the kernel
# tree ($KSRC). The output is deterministic (zero commit ids, no signature),
# so regenerating an unchanged tree reproduces linux-patches/ byte for byte.
# The cover letter keeps its hand-written subject and blurb (lib.sh, COVER).
# Refuses to run with uncommitted changes in the tree (they would be lost
# from the series). fs/daxfs is a link to fs-rust-daxfs/ and never part of it.
. "$(dirname "$0")/lib.sh"

[ -d "$KSRC/.git" ] || die "no kernel tree at $KSRC (run: make tree)"
git -C "$KSRC" diff --quiet HEAD || die "$KSRC has uncommitted changes: commit them first"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
format_series "$KSRC" "$tmp" daxfs-base..HEAD
rm -f "$REPO"/linux-patches/*.patch
mkdir -p "$REPO/linux-patches"
cp "$tmp"/*.patch "$REPO/linux-patches/" 2>/dev/null || true
# The tree now carries exactly this series.
"$(dirname "$0")/kernel-tree.sh" --mark-applied
log "linux-patches/: $(series_patches | wc -l) patches and the cover letter"

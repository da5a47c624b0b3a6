#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build the series patch by patch: every patch of linux-patches/ must build
# on its own (kernel convention; `git bisect` depends on it). Opt-in
# (`make series-build`), not part of `make test`: it takes a kernel build per
# patch.
#
# For each k = 1..N, the pinned source with patches 1..k applied is written
# to $DAXFS_CACHE/series/ksrc (only the files patch k changes, after the first) and
# built incrementally in $DAXFS_CACHE/series/kbuild with ccache, with the
# project's config (qemu/daxfs.config): `make bzImage`, which compiles the C
# changes, the Rust abstractions and, with the config's
# CONFIG_RUST_KERNEL_DOCTESTS, their doctests. fs/daxfs (the project's
# sources, written against the whole series) is built only with the last
# patch; before it CONFIG_DAXFS_FS is off. Stops at the first patch that
# does not build, naming it; prints each patch's build time.
#
# usage: series-build.sh [FIRST]   (start at patch FIRST, default 1)
. "$(dirname "$0")/lib.sh"
first=${1:-1}
SDIR=$DAXFS_CACHE/series
SSRC=$SDIR/ksrc
SOUT=$SDIR/kbuild
mkdir -p "$SSRC" "$SOUT" "$CCACHE_DIR"
"$REPO/scripts/kernel-tree.sh" >&2
mapfile -t commits < <(git -C "$KSRC" rev-list --reverse daxfs-base..HEAD)
n=${#commits[@]}
[ "$n" -gt 0 ] || die "no patches in $KSRC"
[ "$n" = "$(series_patches | wc -l)" ] ||
	die "$KSRC carries $n commits but linux-patches/ has $(series_patches | wc -l) patches: run make patches or make tree"
export CCACHE_BASEDIR=$SDIR
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
smake() { make -C "$SSRC" O="$SOUT" LLVM="$LLVM_SUFFIX" CC="ccache clang$LLVM_SUFFIX" -j"$JOBS" "$@"; }
total=$(date +%s)
for ((k = first; k <= n; k++)); do
	c=${commits[k - 1]}
	subj=$(git -C "$KSRC" log -1 --format=%s "$c")
	# The copy holds the tree of the previous patch (recorded in $SDIR/at):
	# only the files this step changes are rewritten, so make rebuilds only
	# what depends on them. Anything else (a first run, an interrupted one)
	# exports the whole tree.
	prev=$(cat "$SDIR/at" 2>/dev/null || true)
	if [ -n "$prev" ] && git -C "$KSRC" cat-file -e "$prev^{commit}" 2>/dev/null; then
		git -C "$KSRC" diff --no-renames --name-status "$prev" "$c" | while IFS=$'\t' read -r st path; do
			case $st in
			D) rm -f "$SSRC/$path" ;;
			*) mkdir -p "$(dirname "$SSRC/$path")" && git -C "$KSRC" show "$c:$path" > "$SSRC/$path" ;;
			esac
		done
	else
		rm -rf "$SSRC" && mkdir -p "$SSRC"
		git -C "$KSRC" archive "$c" | tar -x -C "$SSRC"
	fi
	ln -sfn "$REPO/fs-rust-daxfs" "$SSRC/fs/daxfs"
	echo "$c" > "$SDIR/at"
	frag=$tmp/series.config
	cp "$REPO/qemu/daxfs.config" "$frag"
	if [ "$k" -lt "$n" ]; then
		sed -i '/^CONFIG_DAXFS_FS=/d' "$frag"
		echo '# CONFIG_DAXFS_FS is not set' >> "$frag"
	fi
	s=$(date +%s)
	{
		smake -s defconfig &&
			(cd "$SOUT" && "$SSRC/scripts/kconfig/merge_config.sh" -m -O "$SOUT" "$SOUT/.config" "$frag" >/dev/null) &&
			smake -s olddefconfig &&
			smake -s bzImage
	} > "$SDIR/build-$k.log" 2>&1 || {
		tail -30 "$SDIR/build-$k.log" >&2
		die "patch $k ($subj) does not build on its own (log: $SDIR/build-$k.log)"
	}
	printf 'ok %2d/%d %4d s  %s\n' "$k" "$n" $(( $(date +%s) - s )) "$subj"
done
log "every patch from $first to $n builds on its own ($(( $(date +%s) - total )) s)"

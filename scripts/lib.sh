# SPDX-License-Identifier: GPL-2.0
# Common settings for the daxfs scripts. Sourced, never executed.
#
# Everything that is downloaded or built lives outside the clone, under
# DAXFS_CACHE (default /var/cache/daxfs), so a fresh clone on the same machine
# reuses it. The patched kernel *source* tree is the developer's working tree
# and lives in the clone's ignored build/ directory (override: KSRC); the
# kernel is compiled from a fixed-path copy of it (see ksync below).

set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DAXFS_CACHE=${DAXFS_CACHE:-/var/cache/daxfs}
KSRC=${KSRC:-$REPO/build/linux}

# The pinned kernel source package. KERNEL_PKG_FALLBACK lists other 7.2.x
# versions known to exist in the archive; they are only used when asked for
# with KERNEL_PKG_VERSION=<version> (the checksum is then not pinned).
KERNEL_PKG=linux-source-7.2
KERNEL_PKG_VERSION_PINNED=7.2.12-1~bpo13+1
KERNEL_PKG_SHA256_PINNED=73ca6c22599ba411ab3179642d33501ca2c90174e13c3c8d86e996ea1cbf2a8f
KERNEL_PKG_VERSION=${KERNEL_PKG_VERSION:-$KERNEL_PKG_VERSION_PINNED}
KERNEL_PKG_FALLBACK="7.2.11-1~bpo13+1 7.2.9-1~bpo13+1 7.2.6-1~bpo13+1"

# Toolchain: Debian's versioned LLVM, rustup's rustc, cargo-installed bindgen.
LLVM_SUFFIX=${LLVM_SUFFIX:--22}
BINDGEN_VERSION=0.73.2
VENV=$DAXFS_CACHE/venv
VIRTME_NG_VERSION=1.42

# The kernel is compiled from a copy of $KSRC at a fixed path, into a fixed
# object tree, both under the cache. Compiler command lines then name the
# same paths whichever clone builds (kbuild and ccache embed source paths),
# so a fresh clone on this machine hits ccache, and an unchanged tree does
# not rebuild at all. `ksync` refreshes the copy with rsync (by content,
# .git left out).
# Builds are serialised with a lock on the object tree (kernel-build.sh).
KBSRC=${KBSRC:-$DAXFS_CACHE/ksrc}
KOUT=${KOUT:-$DAXFS_CACHE/kbuild}
# The debug kernel's object tree (scripts/kernel-build.sh --debug).
KOUT_DEBUG=${KOUT_DEBUG:-$DAXFS_CACHE/kbuild-debug}
export CCACHE_DIR=${CCACHE_DIR:-$DAXFS_CACHE/ccache}
export CCACHE_COMPILERCHECK=content
export PATH=$HOME/.cargo/bin:$PATH

JOBS=${JOBS:-$(nproc)}

# git format-patch options for linux-patches/: deterministic output (zero
# commit ids, no version signature), so regeneration round-trips exactly.
FORMAT_PATCH_OPTS=(--zero-commit --no-signature --no-renames --abbrev=12)

# The cover letter of the series: its subject and blurb are written by hand
# in this file; its shortlog and diffstat are regenerated with the series.
COVER=$REPO/linux-patches/0000-cover-letter.patch

# The patches of linux-patches/ in order, without the cover letter.
series_patches() {
	local p
	for p in "$REPO"/linux-patches/*.patch; do
		[ -e "$p" ] && [ "$p" != "$COVER" ] && printf '%s\n' "$p"
	done
	return 0
}

# format_series GITDIR OUT RANGE: write RANGE of GITDIR as linux-patches/
# holds it, to OUT: the patches and the cover letter, whose subject and
# blurb are taken from $COVER and whose date is that of the last patch.
format_series() {
	local dir=$1 out=$2 range=$3
	[ -f "$COVER" ] || die "no cover letter at $COVER"
	git -C "$dir" format-patch -q "${FORMAT_PATCH_OPTS[@]}" --cover-letter -o "$out" "$range" ||
		die "git format-patch failed"
	python3 "$REPO/scripts/cover-letter.py" "$out/0000-cover-letter.patch" "$COVER" \
		"$(git -C "$dir" log -1 --format=%aD "${range#*..}")" || die "cannot fill in the cover letter"
}

log() { printf '[daxfs] %s\n' "$*" >&2; }
die() { printf '[daxfs] error: %s\n' "$*" >&2; exit 1; }

# ksync: make $KBSRC an exact copy of $KSRC without .git. Files in the copy
# are read-only (edit $KSRC, never the copy); fs/daxfs stays a link to the
# building clone's fs-rust-daxfs/, so messages about it name real files.
# Files are compared by content and a changed file gets the time of the
# sync, not its mtime in $KSRC: after another clone built different content,
# an older mtime would make make(1) keep the other clone's objects.
# fs/daxfs is a link, so the same holds for it: when another clone built it,
# its objects go and it is rebuilt from this clone's files.
ksync() {
	mkdir -p "$KBSRC"
	local was
	was=$(readlink "$KBSRC/fs/daxfs" 2>/dev/null || true)
	rsync -rlpD --checksum --delete --chmod=Fugo-w --exclude=/.git "$KSRC/" "$KBSRC/"
	if [ "$was" != "$(readlink "$KBSRC/fs/daxfs" 2>/dev/null || true)" ]; then
		rm -rf "$KOUT/fs/daxfs"
	fi
}

# kmake ARGS...: sync the copy, then make with the project's toolchain.
# Compiler messages name files under $KBSRC: edit them in $KSRC.
# The copy and the object trees are shared by every clone on the machine, so
# sync + make run under an exclusive lock (taken once per process), one for
# both kernels since they build from the same copy.
klock() {
	[ -n "${DAXFS_KLOCK_HELD:-}" ] && return 0
	mkdir -p "$DAXFS_CACHE"
	exec 9>"$DAXFS_CACHE/kbuild.lock"
	flock 9
	export DAXFS_KLOCK_HELD=$$
}
kmake() {
	klock
	ksync
	make -C "$KBSRC" O="$KOUT" LLVM="$LLVM_SUFFIX" CC="ccache clang$LLVM_SUFFIX" -j"$JOBS" "$@"
}

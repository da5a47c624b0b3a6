#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Give the developer the patched kernel tree at $KSRC (default build/linux):
#   - download the pinned linux-source .deb into $DAXFS_CACHE/debs (once),
#     verify its sha256, extract it as a git repository with tag daxfs-base;
#   - apply linux-patches/*.patch (but the cover letter) as commits with git am;
#   - link fs/daxfs to the clone's fs-rust-daxfs/ (the filesystem's sources
#     live in the project, not in a patch; see docs/development.md).
# Re-running is cheap: when the tree already carries exactly linux-patches/,
# nothing happens. When linux-patches/ changed (git pull) and the tree has no
# work of its own, the series is re-applied; a tree with commits that are not
# in linux-patches/ is left alone with a message (run `make patches` first).
. "$(dirname "$0")/lib.sh"

DEB_DIR=$DAXFS_CACHE/debs
APT_DIR=$DAXFS_CACHE/apt-src
deb=$DEB_DIR/${KERNEL_PKG}_${KERNEL_PKG_VERSION//:/%3a}_all.deb

apt_src() {
	mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/sources.list.d"
	cat > "$APT_DIR/sources.list.d/trixie-backports.sources" <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
	apt-get -o "Dir::Etc::sourceparts=$APT_DIR/sources.list.d" -o "Dir::Etc::sourcelist=/dev/null" \
		-o "Dir::State::Lists=$APT_DIR/lists" -o "Dir::Cache=$APT_DIR/cache" \
		-o "Dir::State::status=/dev/null" -o Debug::NoLocking=1 "$@"
}

fetch_deb() {
	[ -f "$deb" ] && return 0
	mkdir -p "$DEB_DIR" "$APT_DIR/cache"
	log "downloading $KERNEL_PKG=$KERNEL_PKG_VERSION"
	apt_src update -qq
	if ! (cd "$DEB_DIR" && apt_src download "$KERNEL_PKG=$KERNEL_PKG_VERSION" >/dev/null 2>&1); then
		local avail
		avail=$(apt_src madison "$KERNEL_PKG" 2>/dev/null | awk -F'|' '{gsub(/ /,"",$2); print $2}' | xargs)
		die "$KERNEL_PKG=$KERNEL_PKG_VERSION is no longer in the archive.
  available now: ${avail:-none}
  known fallbacks: $KERNEL_PKG_FALLBACK
  to use one: KERNEL_PKG_VERSION=<version> make tree   (checksum not pinned then);
  to re-pin: edit KERNEL_PKG_VERSION_PINNED and KERNEL_PKG_SHA256_PINNED in scripts/lib.sh"
	fi
	local got
	got=$(ls "$DEB_DIR"/${KERNEL_PKG}_*"${KERNEL_PKG_VERSION##*:}"*_all.deb 2>/dev/null | head -1)
	[ -n "$got" ] || die "apt-get download produced no .deb"
	[ "$got" = "$deb" ] || mv "$got" "$deb"
}

verify_deb() {
	local sum
	sum=$(sha256sum "$deb" | cut -d' ' -f1)
	if [ "$KERNEL_PKG_VERSION" = "$KERNEL_PKG_VERSION_PINNED" ]; then
		[ "$sum" = "$KERNEL_PKG_SHA256_PINNED" ] ||
			{ rm -f "$deb"; die "checksum mismatch for $deb: $sum (expected $KERNEL_PKG_SHA256_PINNED); removed it"; }
	else
		log "WARNING: using unpinned $KERNEL_PKG=$KERNEL_PKG_VERSION (sha256 $sum)"
	fi
}

series_id() {
	local f
	# The cover letter is not part of the tree: editing it changes nothing here.
	for f in $(series_patches); do cat "$f"; done | sha1sum | cut -c1-40
}

git_k() { git -C "$KSRC" -c user.name="daxfs build" -c user.email="daxfs@localhost" "$@"; }

extract() {
	local tmp
	tmp=$(mktemp -d "$DAXFS_CACHE/extract.XXXXXX")
	log "extracting $(basename "$deb")"
	(cd "$tmp" && ar x "$deb" && tar -xf data.tar.*) || die "cannot unpack $deb"
	local tarball
	tarball=$(ls "$tmp"/usr/src/linux-source-*.tar.* | head -1)
	rm -rf "$KSRC.new" && mkdir -p "$KSRC.new"
	tar -xf "$tarball" -C "$KSRC.new" --strip-components=1
	rm -rf "$tmp"
	# Debian's source package appends "ignore everything at the top level"
	# to .gitignore; drop that block so the tree behaves like upstream's.
	sed -i '/^# Debian packaging: ignore everything/,$d' "$KSRC.new/.gitignore"
	sed -i -e :a -e '/^\n*$/{$d;N;ba' -e '}' "$KSRC.new/.gitignore"
	sed -i '$ { /^#$/d }' "$KSRC.new/.gitignore"
	git -C "$KSRC.new" init -q -b daxfs
	git -C "$KSRC.new" config core.autocrlf false
	git -C "$KSRC.new" config gc.auto 0
	git -C "$KSRC.new" add -f -A . >/dev/null
	git -C "$KSRC.new" -c user.name="daxfs build" -c user.email="daxfs@localhost" \
		commit -q -m "Linux $KERNEL_PKG_VERSION (Debian $KERNEL_PKG source)" \
		-m "Imported from the pinned .deb; the Debian-only top-level ignore rule was removed from .gitignore."
	git -C "$KSRC.new" tag daxfs-base
	echo "$KERNEL_PKG_VERSION" > "$KSRC.new/.git/daxfs-kernel-version"
	rm -rf "$KSRC" && mv "$KSRC.new" "$KSRC"
}

apply_series() {
	git_k checkout -q -B daxfs daxfs-base
	local p n=0
	for p in $(series_patches); do
		git_k am -q --keep-cr "$p" || { git_k am --abort || true; die "patch $(basename "$p") does not apply"; }
		n=$((n + 1))
	done
	series_id > "$KSRC/.git/daxfs-series"
	git_k rev-parse HEAD > "$KSRC/.git/daxfs-applied-head"
	log "applied $n patches from linux-patches/"
}

link_fs() {
	ln -sfn "$REPO/fs-rust-daxfs" "$KSRC/fs/daxfs"
	grep -qx '/fs/daxfs' "$KSRC/.git/info/exclude" 2>/dev/null || echo '/fs/daxfs' >> "$KSRC/.git/info/exclude"
}

if [ "${1:-}" = --mark-applied ]; then
	# Called by regen-patches.sh: linux-patches/ now equals the tree's commits.
	series_id > "$KSRC/.git/daxfs-series"
	git_k rev-parse HEAD > "$KSRC/.git/daxfs-applied-head"
	exit 0
fi
fetch_deb
verify_deb
if [ ! -d "$KSRC/.git" ] || [ "$(cat "$KSRC/.git/daxfs-kernel-version" 2>/dev/null)" != "$KERNEL_PKG_VERSION" ]; then
	extract
	apply_series
elif [ "$(cat "$KSRC/.git/daxfs-series" 2>/dev/null)" != "$(series_id)" ]; then
	if [ "$(git_k rev-parse HEAD)" = "$(cat "$KSRC/.git/daxfs-applied-head" 2>/dev/null)" ] &&
		[ -z "$(git_k status --porcelain --untracked-files=no)" ]; then
		log "linux-patches/ changed: re-applying the series"
		apply_series
	elif [ "${DAXFS_RESET_TREE:-0}" = 1 ]; then
		log "DAXFS_RESET_TREE=1: discarding tree work, re-applying linux-patches/"
		git_k reset -q --hard && apply_series
	else
		die "$KSRC has work that is not in linux-patches/ and linux-patches/ changed too.
  Export the tree's work first (make patches), or DAXFS_RESET_TREE=1 to discard it."
	fi
fi
link_fs
log "kernel tree ready: $KSRC (branch daxfs on tag daxfs-base, $(git_k rev-list --count daxfs-base..HEAD) patches)"

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Install everything daxfs needs to build, boot and test, idempotently, from
# Debian's archive, crates.io and PyPI only. Safe to run repeatedly: each step
# checks first and does nothing when already satisfied.
#
# Packages from newer suites (qemu from bookworm-backports) come in through a
# private sources list under $DAXFS_CACHE/apt; the system's sources are never
# edited.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || die "deps.sh installs packages and must run as root"

APT_DIR=$DAXFS_CACHE/apt
mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/archives/partial" "$APT_DIR/sources.list.d"
export DEBIAN_FRONTEND=noninteractive

# Private apt configuration: the system's sources (linked, not copied) plus
# bookworm-backports, with lists and archives kept under the cache.
write_private_sources() {
	local f
	for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list; do
		[ -e "$f" ] && ln -sf "$f" "$APT_DIR/sources.list.d/"
	done
	cat > "$APT_DIR/sources.list.d/daxfs-backports.sources" <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
}
APT_PRIV=(-o "Dir::Etc::sourceparts=$APT_DIR/sources.list.d" -o "Dir::Etc::sourcelist=/dev/null"
	-o "Dir::State::Lists=$APT_DIR/lists" -o "Dir::Cache::Archives=$APT_DIR/archives")

apt_updated=
apt_update() {
	[ -n "$apt_updated" ] && return 0
	write_private_sources
	log "apt-get update (private list with bookworm-backports)"
	apt-get "${APT_PRIV[@]}" update -qq
	apt_updated=1
}

missing_pkgs() {
	local p
	for p in "$@"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' || echo "$p"
	done
}

DEB_PKGS=(build-essential flex bison bc cpio kmod libelf-dev libssl-dev dwarves python3-venv
	ccache clang-22 lld-22 llvm-22 libclang-22-dev udev busybox-static ndctl xfsprogs
	e2fsprogs fio rsync zstd xz-utils file util-linux attr acl libpmem1
	libpmem-dev libpmem2-dev libpmemobj-dev pmdk-tools linux-perf)
mapfile -t need < <(missing_pkgs "${DEB_PKGS[@]}")
if [ "${#need[@]}" -gt 0 ]; then
	apt_update
	log "installing: ${need[*]}"
	apt-get "${APT_PRIV[@]}" install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# qemu-system-x86 must match the image's qemu-utils 10.0.2 (bookworm-backports).
if ! dpkg --compare-versions "$(dpkg-query -W -f='${Version}' qemu-system-x86 2>/dev/null || echo 0)" ge 1:10; then
	apt_update
	log "installing qemu-system-x86 from bookworm-backports"
	apt-get "${APT_PRIV[@]}" install -y -qq --no-install-recommends -t bookworm-backports \
		qemu-system-x86 qemu-utils >/dev/null
fi

# Rust: rustup's toolchain (present on this machine kind) with rust-src.
command -v rustup >/dev/null || die "rustup not found: this machine kind ships it in ~/.cargo/bin"
rustup component list --installed 2>/dev/null | grep -q '^rust-src' || rustup component add rust-src
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
if ! bindgen --version 2>/dev/null | grep -q "$BINDGEN_VERSION"; then
	log "cargo install bindgen-cli $BINDGEN_VERSION"
	cargo install -q --locked bindgen-cli --version "$BINDGEN_VERSION"
fi

# virtme-ng in a venv under the cache.
if ! "$VENV/bin/vng" --version 2>/dev/null | grep -q "$VIRTME_NG_VERSION"; then
	log "installing virtme-ng $VIRTME_NG_VERSION into $VENV"
	python3 -m venv "$VENV"
	"$VENV/bin/pip" install -q "virtme-ng==$VIRTME_NG_VERSION"
fi

mkdir -p "$CCACHE_DIR"
ccache -M 5G >/dev/null
log "dependencies ready"

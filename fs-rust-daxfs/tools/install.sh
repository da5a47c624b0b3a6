#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Builds the daxfs tools and installs them under their fsck(8)/mkfs(8)
# names: mkfs.daxfs, fsck.daxfs, dump.daxfs, and the seal/unseal/status
# command line daxfs. Cargo cannot give a binary a name containing a dot, so
# it builds mkfs-daxfs etc. and this script renames them.
#
# Usage: tools/install.sh [DESTDIR]   (default /usr/local/sbin)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
dest=${1:-/usr/local/sbin}
cargo build --release --manifest-path "$top/Cargo.toml" -p daxfs-tools
target=${CARGO_TARGET_DIR:-$top/target}
mkdir -p "$dest"
for t in mkfs fsck dump; do
	install -m 0755 "$target/release/$t-daxfs" "$dest/$t.daxfs"
done
install -m 0755 "$target/release/daxfs" "$dest/daxfs"
echo "installed mkfs.daxfs fsck.daxfs dump.daxfs daxfs in $dest"

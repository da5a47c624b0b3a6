#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build the userspace tools (mkfs.daxfs, fsck.daxfs, dump.daxfs, the image
# fuzzer fuzzimg.daxfs and daxfs, the seal/unseal/status command line) from
# fs-rust-daxfs/, which compile the same format source as the kernel.
. "$(dirname "$0")/lib.sh"
manifest=$REPO/fs-rust-daxfs/Cargo.toml
[ -f "$manifest" ] || { log "no fs-rust-daxfs/Cargo.toml yet: no tools to build"; exit 0; }
cargo build -q --release --manifest-path "$manifest"
# Cargo cannot put a dot in a binary's name: expose the mkfs(8)/fsck(8)
# names in build/bin (on the guest's PATH, so mkfs -t / fsck -t daxfs work).
# Each name is linked to cargo's binary, its first dot made a dash
# (mkfs.daxfs -> mkfs-daxfs; daxfs has none).
mkdir -p "$REPO/build/bin"
for t in mkfs.daxfs fsck.daxfs dump.daxfs fuzzimg.daxfs daxfs; do
	[ -x "$REPO/fs-rust-daxfs/target/release/${t/./-}" ] ||
		die "cargo did not produce ${t/./-}"
	ln -sfn "../../fs-rust-daxfs/target/release/${t/./-}" "$REPO/build/bin/$t"
done
log "tools: $REPO/build/bin/{mkfs,fsck,dump,fuzzimg}.daxfs and $REPO/build/bin/daxfs"

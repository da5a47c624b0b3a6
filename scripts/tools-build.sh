#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build the userspace tools (mkfs.daxfs, fsck.daxfs, dump.daxfs) from
# fs-rust-daxfs/, which compile the same format source as the kernel.
. "$(dirname "$0")/lib.sh"
manifest=$REPO/fs-rust-daxfs/Cargo.toml
[ -f "$manifest" ] || { log "no fs-rust-daxfs/Cargo.toml yet: no tools to build"; exit 0; }
cargo build -q --release --manifest-path "$manifest"
log "tools: $REPO/fs-rust-daxfs/target/release/{mkfs,fsck,dump}.daxfs"

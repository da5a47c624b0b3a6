#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Compiles the shared format source the way the kernel will (with
# CONFIG_DAXFS_FS set, so the tools-only items are left out): as a module of
# a no_std crate, edition 2021, with the kernel's rust_common_flags lint set
# (clippy included), every warning an error. Run from anywhere.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/lib.rs" <<EOT
//! Stand-in for fs/daxfs/daxfs.rs.
#![no_std]
#[path = "$here/format/mod.rs"]
pub mod format;
EOT
driver=$(command -v clippy-driver || echo "$HOME/.cargo/bin/clippy-driver")
"$driver" --edition=2021 --crate-type=lib --crate-name=daxfs_format_kcheck \
	-Cpanic=abort -Coverflow-checks=on -O --out-dir "$tmp" \
	--cfg CONFIG_DAXFS_FS \
	-Dwarnings \
	-Dnon_ascii_idents -Dunsafe_op_in_unsafe_fn -Wmissing_docs \
	-Wrust_2018_idioms -Wunreachable_pub -Wclippy::all \
	-Wclippy::as_ptr_cast_mut -Wclippy::as_underscore -Wclippy::cast_lossless \
	-Aclippy::collapsible_if -Aclippy::collapsible_match \
	-Wclippy::ignored_unit_patterns -Wclippy::mut_mut \
	-Wclippy::needless_bitwise_bool -Aclippy::needless_lifetimes \
	-Wclippy::no_mangle_with_rust_abi -Wclippy::ptr_as_ptr \
	-Wclippy::ptr_cast_constness -Wclippy::ref_as_ptr \
	-Wclippy::undocumented_unsafe_blocks -Aclippy::uninlined_format_args \
	-Wclippy::unnecessary_safety_comment -Wclippy::unnecessary_safety_doc \
	-Aclippy::unwrap_or_default -Funsafe_code \
	"$tmp/lib.rs"
echo "format/ builds clean with the kernel's lint flags"

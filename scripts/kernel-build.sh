#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Configure and build the patched kernel out of tree in $KOUT with ccache.
# Config = x86_64_defconfig + qemu/daxfs.config; regenerated only when the
# fragment, the series or the toolchain changes. Prints the bzImage path.
#
# --debug: the debug kernel instead (qemu/daxfs-debug.config on top: lockdep,
# KASAN, UBSAN, Rust debug assertions), in its own object directory
# $KOUT_DEBUG, so that neither build invalidates the other.
. "$(dirname "$0")/lib.sh"
FRAGS=("$REPO/qemu/daxfs.config")
if [ "${1:-}" = --debug ]; then
	KOUT=$KOUT_DEBUG
	FRAGS+=("$REPO/qemu/daxfs-debug.config")
fi

mkdir -p "$KOUT" "$CCACHE_DIR"
# One sync + make at a time (every clone on the machine shares the tree).
klock
"$REPO/scripts/kernel-tree.sh" >&2
config_id() {
	{ cat "${FRAGS[@]}"; cat "$KSRC/.git/daxfs-series" 2>/dev/null; rustc --version; "clang$LLVM_SUFFIX" --version | head -1; } | sha1sum | cut -c1-40
}

# check_fragment: every "=y" must be y, every "=n"/"is not set" must be unset.
check_fragment() {
	local bad=0 sym want line
	while read -r line; do
		case "$line" in
		CONFIG_*=*) sym=${line%%=*}; want=${line#*=} ;;
		"# CONFIG_"*" is not set") sym=${line#\# }; sym=${sym%% *}; want=n ;;
		*) continue ;;
		esac
		if [ "$want" = n ]; then
			grep -q "^$sym=" "$KOUT/.config" && { log "config: $sym should be unset"; bad=1; }
		else
			grep -qx "$sym=$want" "$KOUT/.config" || { log "config: $sym=$want was not honoured ($(grep "^$sym=\|^# $sym " "$KOUT/.config" || echo missing))"; bad=1; }
		fi
	done < <(cat "${FRAGS[@]}")
	return $bad
}

if [ "$(cat "$KOUT/.daxfs-config-id" 2>/dev/null)" != "$(config_id)" ] || [ ! -f "$KOUT/.config" ]; then
	log "configuring kernel in $KOUT"
	kmake -s rustavailable >&2 || die "the Rust toolchain is not usable for this kernel (run scripts/deps.sh)"
	kmake -s defconfig >&2
	(cd "$KOUT" && "$KBSRC/scripts/kconfig/merge_config.sh" -m -O "$KOUT" "$KOUT/.config" "${FRAGS[@]}" >/dev/null)
	kmake -s olddefconfig >&2
	check_fragment || die "kernel config does not match ${FRAGS[*]##*/} (see above)"
	config_id > "$KOUT/.daxfs-config-id"
fi

start=$(date +%s)
kmake -s bzImage >&2 || die "kernel build failed"
log "kernel built in $(( $(date +%s) - start )) s: $KOUT/arch/x86/boot/bzImage"
echo "$KOUT/arch/x86/boot/bzImage"

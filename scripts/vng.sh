#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Interactive shell in the daxfs VM through virtme-ng (the host's root
# filesystem, read-only, over 9p), with the same machine and NVDIMMs as the
# test runner (qemu/vm.inc). Images persist in $DAXFS_CACHE/vm-images.
# Extra arguments go to vng (e.g. -- 'cmd' to run a command instead).
. "$(dirname "$0")/lib.sh"
. "$REPO/qemu/vm.inc"
kernel=$KOUT/arch/x86/boot/bzImage
[ -f "$kernel" ] || die "no kernel at $kernel (run: make kernel)"
imgdir=${VM_IMAGES:-$DAXFS_CACHE/vm-images}
mkdir -p "$imgdir"
imgs=()
for i in 0 1; do
	[ -f "$imgdir/pmem$i.img" ] || truncate -s "$VM_PMEM_SIZE" "$imgdir/pmem$i.img"
	imgs+=("$imgdir/pmem$i.img")
done
mapfile -t qargs < <(vm_nvdimm_machine_args; vm_pmem_args "${imgs[@]}")
log "namespaces come up raw on fresh images: run 'ndctl create-namespace -f -e namespace0.0 -m fsdax' once (it persists)"
exec "$VENV/bin/vng" --run "$kernel" --disable-kvm --cpus "$VM_CPUS" --memory "$VM_MEM" \
	--qemu-opts="${qargs[*]}" "$@"

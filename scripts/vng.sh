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
# Fresh images: one boot of the lean runner switches the namespaces to
# fsdax; the pfn info block it writes persists in the image files.
if [ ! -f "$imgdir/pmem1.img" ]; then
	log "preparing NVDIMM images in $imgdir (fsdax)"
	"$REPO/scripts/vm.sh" --images "$imgdir" --pmem 2 --timeout 300 -- true ||
		{ rm -f "$imgdir"/pmem*.img; die "could not prepare the NVDIMM images"; }
fi
imgs=("$imgdir/pmem0.img" "$imgdir/pmem1.img")
mapfile -t qargs < <(vm_nvdimm_machine_args; vm_pmem_args "${imgs[@]}")
export PATH=$VENV/bin:$PATH
exec "$VENV/bin/vng" --run "$kernel" --disable-kvm --cpus "$VM_CPUS" --memory "$VM_MEM" \
	--qemu-opts="${qargs[*]}" "$@"

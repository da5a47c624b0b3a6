#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# daxfs: mount, read everything, umount, 100 times: no inode, slab or memory
# growth, no "Busy inodes" at umount, and (when booted with kmemleak=on) no
# kmemleak report.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/daxfs-lib.sh"

t "set-up" dx_setup
dx_restore
KML=/sys/kernel/debug/kmemleak
[ -d /sys/kernel/debug/tracing ] || mount -t debugfs none /sys/kernel/debug 2>/dev/null
inodes() { awk '{print $1}' /proc/sys/fs/inode-nr; }
slab_objs() { cat /sys/kernel/slab/daxfs/objects 2>/dev/null | awk '{print $1}'; }
unrecl() { awk '/^SUnreclaim:/ {print $2}' /proc/meminfo; }
# settle: free what can be freed before a measurement. Shrinking a slab cache
# releases its per-CPU slabs, which SLUB counts as in use, and (on a KASAN
# kernel) the freed objects KASAN holds in its quarantine, so the counts that
# follow are objects really in use, on the debug kernel as on the other.
settle() {
	sync; echo 3 > /proc/sys/vm/drop_caches; sleep 1
	for f in /sys/kernel/slab/*/shrink; do echo 1 > "$f" 2>/dev/null; done
}

# One warm-up round so that caches of other subsystems are populated.
t "warm-up round" python3 "$UTIL" loop /dev/pmem1 "$DX_MNT" 1
settle
kml=
# Only a kmemleak that is on accepts "scan" (CONFIG_DEBUG_KMEMLEAK_DEFAULT_OFF).
if (echo scan > $KML) 2>/dev/null; then
	kml=1
	echo clear > $KML
fi
i0=$(inodes) s0=$(unrecl) o0=$(slab_objs)
start=$(date +%s)
t "100 x (mount, walk and read every file, umount)" python3 "$UTIL" loop /dev/pmem1 "$DX_MNT" 100
echo "# 100 rounds took $(( $(date +%s) - start )) s"
settle
i1=$(inodes) s1=$(unrecl) o1=$(slab_objs)
echo "# inodes $i0 -> $i1, SUnreclaim $s0 -> $s1 kB, daxfs inode slab objects ${o0:-?} -> ${o1:-?}"
t "no inodes leaked (inode-nr back to the baseline)" test $(( i1 - i0 )) -le 16
t "unreclaimable slab did not grow (< 512 kB)" test $(( s1 - s0 )) -lt 512
if [ -n "$o0" ]; then
	# Nothing is mounted at either count: every daxfs inode must be gone. A
	# leak of one inode per round would add 100.
	t "daxfs inode slab did not grow (< 16 objects)" test $(( o1 - o0 )) -lt 16
else
	not_ok "daxfs inode slab did not grow" "no /sys/kernel/slab/daxfs/objects"
fi
t "no 'Busy inodes after unmount'" sh -c "! dmesg | grep -q 'Busy inodes after unmount'"
if [ -n "$kml" ]; then
	echo scan > $KML; sleep 1; echo scan > $KML
	t "kmemleak reports no leaks" test -z "$(cat $KML)"
else
	skip "kmemleak scan" "boot with kmemleak=on (scripts/vm.sh --append kmemleak=on)"
fi
suite_exit

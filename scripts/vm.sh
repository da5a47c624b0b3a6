#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Boot the daxfs kernel under QEMU (TCG) with file-backed NVDIMMs in fsdax
# mode, run a command in the guest and return its exit code.
#
# usage: scripts/vm.sh [options] [--] COMMAND...
#   --kernel PATH     bzImage (default: $DAXFS_KERNEL, else the one
#                     scripts/kernel-build.sh makes)
#   --pmem N          number of NVDIMMs (default 1), each --pmem-size big
#   --pmem-size SIZE  default 1G (sparse files)
#   --pmem-sizes S0,S1,...  one NVDIMM per size, in this order (e.g. 1G,16G;
#                     replaces --pmem/--pmem-size); QEMU's maxmem is raised
#                     to fit (qemu/vm.inc: vm_fit_maxmem); at most 4 NVDIMMs
#   --images DIR      keep the NVDIMM images in DIR (reused when they exist);
#                     default: fresh images, removed afterwards
#   --no-pmem-setup   do not switch namespaces to fsdax
#   --timeout SEC     hard limit for the whole VM (default 600)
#   --boot-timeout SEC  the guest must reach its init within SEC seconds
#                     (default $VM_BOOT_TIMEOUT, qemu/vm.inc); see "Boot hangs"
#   --kill-after SEC  SIGKILL QEMU after SEC seconds (crash tests); exit 137
#   --kill-after-armed SEC  SIGKILL QEMU SEC seconds after the guest creates
#                     /tmp/out/armed (a workload saying it has started)
#   --out DIR         keep console.log, output, dmesg, rc and whatever the
#                     guest wrote to /tmp/out in DIR (also after --kill-after)
#   --append ARGS     extra kernel command line
#   --allow-dmesg RE  dmesg lines matching RE are not counted as failures
#   --interactive     a shell on the serial console instead of a command
#
# Exit status: the guest command's, or 124 guest timed out (hang, also every
# boot hung before init), 125 guest
# crashed or never reported (panic, oops, setup failure), 126 the command
# passed but dmesg shows a kernel warning/bug (listed on stderr), 137 killed
# by --kill-after. QEMU never outlives this script.
#
# Boot hangs: under TCG on a loaded host the guest has been seen to stop
# before it reaches its init (no console output after SMP bring-up, no RCU
# stall report). Such a boot touched no image yet, so it is retried, up to
# VM_BOOT_TRIES boots in all; each retry is logged on stderr and counted in
# DIR/boot-hangs, with the hung boot's console and vCPU registers kept in
# DIR/boot-hang-N/. A hung boot whose console shows a kernel report (hung
# task, RCU stall, BUG, WARNING...) is a kernel bug, never retried: it fails
# like any other hang (124).
. "$(dirname "$0")/lib.sh"
. "$REPO/qemu/vm.inc"

kernel= npmem=1 pmem_size=$VM_PMEM_SIZE pmem_sizes= images= timeout=600 kill_after= kill_armed= out= append=
boot_timeout=$VM_BOOT_TIMEOUT
allow= interactive= pmem_setup=fsdax
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) kernel=$2; shift 2 ;;
	--pmem) npmem=$2; shift 2 ;;
	--pmem-size) pmem_size=$2; shift 2 ;;
	--pmem-sizes) pmem_sizes=$2; shift 2 ;;
	--images) images=$2; shift 2 ;;
	--no-pmem-setup) pmem_setup=none; shift ;;
	--timeout) timeout=$2; shift 2 ;;
	--boot-timeout) boot_timeout=$2; shift 2 ;;
	--kill-after) kill_after=$2; shift 2 ;;
	--kill-after-armed) kill_armed=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--append) append=$2; shift 2 ;;
	--allow-dmesg) allow=$2; shift 2 ;;
	--interactive) interactive=1; shift ;;
	--) shift; break ;;
	-*) die "vm.sh: unknown option $1" ;;
	*) break ;;
	esac
done
[ -n "$interactive" ] || [ $# -gt 0 ] || die "vm.sh: no command given"
# DAXFS_VM_APPEND: kernel arguments for every boot of a run (the debug
# kernel's kasan_multi_shot); DAXFS_VM_TIMEOUT_SCALE: a whole factor for
# --timeout (a slower kernel needs longer for the same work).
append="${DAXFS_VM_APPEND:-} $append"
timeout=$(( timeout * ${DAXFS_VM_TIMEOUT_SCALE:-1} ))
[ -n "$kernel" ] || kernel=${DAXFS_KERNEL:-$KOUT/arch/x86/boot/bzImage}
[ -f "$kernel" ] || die "no kernel at $kernel (run: make kernel)"

work=$(mktemp -d "${TMPDIR:-/tmp}/daxfs-vm.XXXXXX")
qpid=
cleanup() {
	if [ -n "$qpid" ] && kill -0 "$qpid" 2>/dev/null; then
		kill -KILL "$qpid" 2>/dev/null || true
		wait "$qpid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

share=$work/share
mkdir -p "$share"
[ -n "$images" ] || images=$work/images
mkdir -p "$images"
if [ -n "$pmem_sizes" ]; then
	IFS=, read -ra sizes <<<"$pmem_sizes"
else
	sizes=()
	for ((i = 0; i < npmem; i++)); do sizes+=("$pmem_size"); done
fi
[ "${#sizes[@]}" -le 4 ] || die "vm.sh: at most 4 NVDIMMs (the machine has 4 memory slots)"
imgs=() pmem_total=0
for ((i = 0; i < ${#sizes[@]}; i++)); do
	img=$images/pmem$i.img
	[ -f "$img" ] || truncate -s "${sizes[i]}" "$img"
	imgs+=("$img")
	pmem_total=$(( pmem_total + $(stat -c %s "$img") ))
done
vm_fit_maxmem "$pmem_total"

pwd > "$share/cwd"
echo "$pmem_setup" > "$share/pmem-setup"
{
	echo 'set -o pipefail'
	# Pass the DAXFS_*, XFSTESTS_* and CI settings through to the guest.
	env | { grep -E '^(DAXFS_[A-Z_]*|XFSTESTS_DIR|CI)=' || true; } | sed 's/^\([^=]*\)=\(.*\)$/export \1=\x27\2\x27/'
	printf '%q ' "$@"
	echo
} > "$share/cmd.sh"
[ -n "$interactive" ] && touch "$share/interactive"

mapfile -t qargs < <(vm_machine_args; vm_pmem_args "${imgs[@]}")
console=$work/console.log
cmdline="$VM_CMDLINE_BASE root=/dev/root rootfstype=9p ro"
cmdline+=" rootflags=trans=virtio,version=9p2000.L,msize=262144,cache=loose"
cmdline+=" init=$REPO/qemu/guest-init $append"

# Kernel trouble: look in the console (covers panics) and the guest's dmesg.
BAD='(BUG:|WARNING:|Oops|KASAN|UBSAN|Kernel panic|kernel BUG at|general protection fault|unreferenced object|Call Trace:|RIP: |INFO: task .* blocked|rcu: INFO:|soft lockup|hard LOCKUP)'
bad_lines() {
	cat "$console" "$share/dmesg" 2>/dev/null | grep -aE "$BAD" |
		{ if [ -n "$allow" ]; then grep -avE "$allow"; else cat; fi; } | sort -u | head -20
}

# dump_vcpus FILE: every vCPU's registers, from the QEMU monitor, for a hang.
dump_vcpus() {
	python3 - "$work/monitor" > "$1" 2>&1 <<'PY' || true
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
def reply():
    buf = b""
    try:
        while not buf.endswith(b"(qemu) "):
            d = s.recv(65536)
            if not d:
                break
            buf += d
    except socket.timeout:
        pass
    return buf.decode(errors="replace")
reply()
for cmd in ("info status", "info registers -a"):
    s.sendall(cmd.encode() + b"\n")
    print(reply())
PY
}

serial=(-serial "file:$console")
monitor=(-monitor "unix:$work/monitor,server=on,wait=off")
[ -n "$interactive" ] && serial=(-serial mon:stdio) monitor=()
hangs=0
for ((boot = 1; ; boot++)); do
	rm -f "$share/booted"
	: > "$console"
	start=$(date +%s)
	qemu-system-x86_64 "${qargs[@]}" -kernel "$kernel" -append "$cmdline" \
		-display none -no-reboot -nodefaults "${serial[@]}" "${monitor[@]}" \
		-fsdev local,id=root,path=/,security_model=none,readonly=on \
		-device virtio-9p-pci,fsdev=root,mount_tag=/dev/root \
		-fsdev "local,id=out,path=$share,security_model=none" \
		-device virtio-9p-pci,fsdev=out,mount_tag=daxfsout &
	qpid=$!
	# Stream the guest command's output as it is produced.
	if [ -z "$interactive" ]; then
		tail -n +1 -s 0.5 -F --pid="$qpid" "$share/output" 2>/dev/null &
		tpid=$!
	fi

	# Wait for QEMU, enforcing the timeouts and the optional crash point.
	rc_q=0 verdict= armed_at=
	while kill -0 "$qpid" 2>/dev/null; do
		now=$(( $(date +%s) - start ))
		if [ -z "$interactive" ] && [ ! -e "$share/booted" ] && [ "$now" -ge "$boot_timeout" ]; then
			verdict=boothang; break
		fi
		if [ -n "$kill_after" ] && [ "$now" -ge "$kill_after" ]; then
			kill -KILL "$qpid"; verdict=killed; break
		fi
		if [ -n "$kill_armed" ]; then
			[ -z "$armed_at" ] && [ -e "$share/armed" ] && armed_at=$now
			if [ -n "$armed_at" ] && [ $((now - armed_at)) -ge "$kill_armed" ]; then
				kill -KILL "$qpid"; verdict=killed; kill_after="$kill_armed (after arming)"; break
			fi
		fi
		if [ "$now" -ge "$timeout" ]; then
			kill -KILL "$qpid"; verdict=timeout; break
		fi
		sleep 0.2
	done
	if [ "$verdict" = boothang ]; then
		hangs=$((hangs + 1))
		dump_vcpus "$work/vcpus.txt"
		kill -KILL "$qpid"
	fi
	wait "$qpid" 2>/dev/null || rc_q=$?
	qpid=
	# tail exits by itself once QEMU is gone, after a last read.
	[ -n "${tpid:-}" ] && { wait "$tpid" 2>/dev/null || true; }
	[ "$verdict" = boothang ] || break

	bad=$(bad_lines || true)
	if [ -n "$out" ]; then
		mkdir -p "$out/boot-hang-$hangs"
		cp "$console" "$work/vcpus.txt" "$out/boot-hang-$hangs/" 2>/dev/null || true
		echo "$hangs" > "$out/boot-hangs"
	fi
	log "boot $boot: the guest did not reach its init within ${boot_timeout}s; console tail:"
	tail -n 5 "$console" >&2
	if [ -n "$bad" ]; then
		log "FAIL: the hung boot reported a kernel problem (not retried):"
		printf '%s\n' "$bad" >&2
		verdict=boot-failed
		break
	fi
	if [ "$boot" -ge "$VM_BOOT_TRIES" ]; then
		log "FAIL: $boot boots in a row hung before init"
		verdict=boot-failed
		break
	fi
	log "boot $boot hung before init with no kernel report (TCG); the images are untouched, booting again"
done

if [ -n "$out" ]; then
	mkdir -p "$out"
	cp "$console" "$out/console.log" 2>/dev/null || true
	# Everything the guest left in /tmp/out (output, dmesg, rc, and files a
	# test wrote there, e.g. a crash workload's log), even after a kill.
	cp -r "$share/." "$out/" 2>/dev/null || true
fi

case "$verdict" in
killed)
	log "VM killed after ${kill_after}s as asked"
	# What the kernel said before the kill counts as in any other boot.
	bad=$(bad_lines || true)
	if [ -n "$bad" ]; then
		log "FAIL: kernel warnings/bugs on the console before the kill:"
		printf '%s\n' "$bad" >&2
		exit 126
	fi
	exit 137 ;;
boot-failed) exit 124 ;;
timeout)
	log "FAIL: guest timed out after ${timeout}s (hang); console tail:"
	tail -n 20 "$console" >&2
	exit 124 ;;
esac
if [ ! -f "$share/rc" ]; then
	log "FAIL: guest crashed or never reported (qemu exit $rc_q); console tail:"
	tail -n 30 "$console" >&2
	exit 125
fi
rc=$(cat "$share/rc")
bad=$(bad_lines || true)
if [ -n "$bad" ]; then
	log "FAIL: kernel warnings/bugs in dmesg:"
	printf '%s\n' "$bad" >&2
	[ "$rc" = 0 ] && rc=126
fi
exit "$rc"

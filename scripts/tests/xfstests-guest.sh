#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# In the VM (scripts/xfstests.sh): a writable copy of the installed xfstests
# with xfstests-additions/ applied, a local.config for the two NVDIMMs
# (TEST_DEV=/dev/pmem0, SCRATCH_DEV=/dev/pmem1), ./check under a per-test
# watchdog, and one "ok - / not ok - / skip - " line per test, then
#   # xfstests-summary: fstyp=F selected=N of=N ran=N pass=N fail=N notrun=N timeout=N hung=none|TEST seconds=N
#
# Environment (set by scripts/xfstests.sh):
#   XFSTESTS_DIR, DAXFS_XFSTESTS_FSTYP, DAXFS_XFSTESTS (./check arguments)
#   DAXFS_XFSTESTS_SAMPLE N   run every Nth test of the selection (1: all;
#       tests/daxfs cases always run)
#   DAXFS_XFSTESTS_TEST_TIMEOUT S   per-test limit (default 600): the test's
#       processes are killed and it counts as failed; if ./check does not
#       move on within DAXFS_XFSTESTS_GRACE (120) s more, the kernel is taken
#       to be stuck: blocked tasks are dumped to dmesg (sysrq-w), the run is
#       reported as hung and the VM powers off at once, so one hang cannot
#       eat the whole VM time limit.
set -u
repo=$(cd "$(dirname "$0")/../.." && pwd)
src=$XFSTESTS_DIR fstyp=$DAXFS_XFSTESTS_FSTYP
sample=${DAXFS_XFSTESTS_SAMPLE:-1}
tlimit=${DAXFS_XFSTESTS_TEST_TIMEOUT:-600} grace=${DAXFS_XFSTESTS_GRACE:-120}
x=/tmp/xfstests results=/tmp/xfstests-results
T0=$(date +%s)
if [ ! -x "$src/check" ]; then
	# guest-init puts a tmpfs on /tmp, /var/tmp, /run, /mnt, /root, /var/log
	echo "not ok - xfstests: $src/check is not visible in the VM (XFSTESTS_DIR below a directory the guest hides?)"
	exit 1
fi
# The guest has no network, and its loopback starts down: the lock tests
# (generic/131, locktest -h localhost) talk over it.
ip link set lo up 2>/dev/null || ifconfig lo up 2>/dev/null ||
	echo "# could not bring up lo: the lock tests will fail to connect"
# The tests that switch users (_require_user, ~20 of the quick group) need
# fsgqa, fsgqa2 and 123456-fsgqa and the group fsgqa, as xfstests' README
# sets up. The guest sees the host's /etc read-only, and the host is not
# ours to change: the users go into private copies of passwd, group and
# shadow (su's PAM account check needs a shadow entry), bind-mounted over
# the originals for this boot only.
if ! id fsgqa >/dev/null 2>&1; then
	(
		for f in passwd group shadow; do
			cp -p /etc/$f /tmp/xfs-$f || exit 1
		done
		mkdir -p /tmp/xfs-home && chmod 755 /tmp/xfs-home
		for u in fsgqa:60001:60001 fsgqa2:60002:60002 123456-fsgqa:60003:60001; do
			IFS=: read -r name uid gid <<<"$u"
			echo "$name:x:$uid:$gid::/tmp/xfs-home:/bin/bash" >> /tmp/xfs-passwd
			echo "$name:!:19000:0:99999:7:::" >> /tmp/xfs-shadow
		done
		printf '%s\n' 'fsgqa:x:60001:' 'fsgqa2:x:60002:' >> /tmp/xfs-group
		for f in passwd group shadow; do
			mount --bind /tmp/xfs-$f /etc/$f || exit 1
		done
	) || echo "# could not add the fsgqa users: the tests that switch users will not run"
fi
mkdir -p $x /tmp/xfs-upper /tmp/xfs-work
mount -t overlay overlay -o "lowerdir=$src,upperdir=/tmp/xfs-upper,workdir=/tmp/xfs-work" $x 2>/dev/null ||
	cp -a "$src/." $x/
cd $x || exit 1
add=$repo/xfstests-additions
for p in "$add"/patches/*.patch; do
	[ -e "$p" ] || continue
	patch -s -p1 < "$p" || { echo "not ok - $(basename "$p") does not apply to this xfstests"; exit 1; }
done
[ -d "$add/tests" ] && cp -r "$add/tests/." tests/

mkdir -p /mnt/test /mnt/scratch
MKFS_DAXFS=$repo/build/bin/mkfs.daxfs FSCK_DAXFS=$repo/build/bin/fsck.daxfs
case $fstyp in
ext4) opts="-o dax=always" ;;
xfs) opts="-o dax=always" ;;
daxfs)
	opts=${DAXFS_MOUNT_OPTIONS:-}
	# Almost every xfstests case writes: probe exactly that on a fresh
	# filesystem first, so that a daxfs which is not registered, does not
	# mount, mounts read-only or cannot create a file is one failure with
	# its reason instead of a whole run of failing tests.
	if ! grep -qw daxfs /proc/filesystems; then
		echo "not ok - FSTYP=daxfs: this kernel does not register daxfs"
		exit 1
	fi
	"$MKFS_DAXFS" -q -f /dev/pmem0 && mount -t daxfs $opts /dev/pmem0 /mnt/test ||
		{ echo "not ok - FSTYP=daxfs: mkfs.daxfs + mount of TEST_DEV"; exit 1; }
	if grep -qE '^[^ ]+ /mnt/test daxfs ro[, ]' /proc/mounts; then
		echo "not ok - FSTYP=daxfs: TEST_DEV mounts read-only ($(grep ' /mnt/test daxfs ' /proc/mounts))"
		umount /mnt/test
		exit 1
	fi
	probe=$(python3 -c '
import errno, os, sys
try:
    os.close(os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY, 0o644))
    os.unlink(sys.argv[1])
    print("OK")
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e.errno)))' /mnt/test/.xfstests-probe)
	umount /mnt/test
	if [ "$probe" != OK ]; then
		echo "not ok - FSTYP=daxfs: creating a file on a fresh mount fails with ${probe:-no result}"
		exit 1
	fi
	;;
*) echo "not ok - FSTYP=$fstyp is not supported here"; exit 1 ;;
esac

# ./check mounts TEST_DEV before anything else, so it needs a filesystem
# already; RECREATE_TEST_DEV then has ./check make it again through its
# own _test_mkfs (the FSTYP hook under test).
case $fstyp in
ext4) mkfs.ext4 -q -F /dev/pmem0 ;;
xfs) mkfs.xfs -q -f /dev/pmem0 ;;
daxfs) "$MKFS_DAXFS" -q -f /dev/pmem0 ;;
esac || { echo "not ok - mkfs of TEST_DEV"; exit 1; }
cat > local.config <<CFG
export FSTYP=$fstyp
export TEST_DEV=/dev/pmem0
export TEST_DIR=/mnt/test
export SCRATCH_DEV=/dev/pmem1
export SCRATCH_MNT=/mnt/scratch
export MOUNT_OPTIONS="$opts"
export TEST_FS_MOUNT_OPTS="$opts"
export RECREATE_TEST_DEV=true
export MKFS_DAXFS_PROG=$MKFS_DAXFS
export FSCK_DAXFS_PROG=$FSCK_DAXFS
export RESULT_BASE=$results
CFG

# The selection: what ./check would run, then every Nth of it.
# shellcheck disable=SC2086
./check -n $DAXFS_XFSTESTS > /tmp/check-list.out 2>&1
# (-n prints each name alone on its line; "unknown test", "[expunged]" are not)
mapfile -t all < <(sed -nE 's,^([a-z0-9]+/[0-9]+) *$,\1,p' /tmp/check-list.out)
[ "${#all[@]}" -gt 0 ] || { sed 's/^/# /' /tmp/check-list.out; echo "not ok - ./check -n $DAXFS_XFSTESTS selects nothing"; exit 1; }
# The project's own cases (tests/daxfs) always run.
tests=()
for ((i = 0; i < ${#all[@]}; i++)); do
	[ $((i % sample)) = 0 ] || [[ "${all[i]}" == daxfs/* ]] && tests+=("${all[i]}")
done
every=; [ "$sample" = 1 ] || every=" (every ${sample}th)"
echo "# selection: ./check $DAXFS_XFSTESTS: ${#all[@]} tests; running ${#tests[@]}$every; per-test limit ${tlimit}s"
rm -rf "$results"

# watchdog CHECK_PID: per-test limit, then the hang verdict (see the top).
# The current test and its start come from the marker ./check writes to
# /dev/kmsg before each test ("run fstests generic/001 at 2025-...").
watchdog() {
	local cpid=$1 cur last= since=$SECONDS killed=
	while kill -0 "$cpid" 2>/dev/null; do
		sleep 5
		cur=$(dmesg | sed -n 's/.*run fstests \(.*\)$/\1/p' | tail -1)
		# before the first test: ./check's own set-up (mkfs, mount)
		cur=${cur:-set-up}
		if [ "$cur" != "$last" ]; then last=$cur since=$SECONDS killed=; continue; fi
		if [ -z "$killed" ] && [ $((SECONDS - since)) -ge "$tlimit" ]; then
			echo "# watchdog: ${cur%% *} still running after ${tlimit}s: killing it"
			echo "${cur%% *}" >> /tmp/xfs-timeouts
			# every process below ./check (the test and its children)
			local pids p
			pids=$(ps -e -o pid=,ppid= | awk -v r="$cpid" '
				{ pp[$1 + 0] = $2 + 0 } END { r += 0; for (p in pp) { q = p + 0
					while ((q in pp) && q != r && q > 1) q = pp[q]
					if (q == r && p + 0 != r) print p } }')
			for p in $pids; do kill -KILL "$p" 2>/dev/null; done
			killed=$SECONDS
		elif [ -n "$killed" ] && [ $((SECONDS - killed)) -ge "$grace" ]; then
			echo "${cur%% *}" > /tmp/xfs-hung
			return
		fi
	done
}

# shellcheck disable=SC2086
./check "${tests[@]}" > /tmp/check.out 2>&1 &
cpid=$!
watchdog $cpid &
wpid=$!
tail -n +1 -s 1 -F --pid=$cpid /tmp/check.out 2>/dev/null | sed -u 's/^/# /' &
tpid=$!
while kill -0 $cpid 2>/dev/null && [ ! -e /tmp/xfs-hung ]; do sleep 2; done
hung=
if [ -e /tmp/xfs-hung ]; then
	hung=$(cat /tmp/xfs-hung)
	sleep 2; kill $tpid 2>/dev/null
else
	wait $cpid; rc=$?
	wait $tpid 2>/dev/null
fi
kill $wpid 2>/dev/null

# Results. After a normal end ./check's summary is authoritative; after a
# hang they come from the result files of the tests that started.
ran=" $(sed -n 's/^Ran: //p' /tmp/check.out | tail -1) "
notrun=" $(sed -n 's/^Not run: //p' /tmp/check.out | tail -1) "
failures=" $(sed -n 's/^Failures: //p' /tmp/check.out | tail -1) "
timeouts=" $(cat /tmp/xfs-timeouts 2>/dev/null | xargs) "
started=" $(dmesg | sed -n 's/.*run fstests \([^ ]*\) at .*/\1/p' | xargs) "
if [ -z "$hung" ] && [ "$ran" = "  " ] && [ "$notrun" = "  " ]; then
	echo "not ok - ./check reported nothing (exit $rc)"; exit 1
fi
np=0 nf=0 nn=0 nr=0
for t in "${tests[@]}"; do
	res=$results/$t
	if [ -n "$hung" ]; then
		if [ "$t" = "$hung" ]; then
			echo "not ok - $t: hung: killed after ${tlimit}s, still stuck ${grace}s later (blocked tasks in dmesg)"
			nf=$((nf + 1)); nr=$((nr + 1)); continue
		elif [[ "$started" != *" $t "* ]]; then
			echo "skip - $t: not reached: the run stopped at the hang in $hung"; continue
		fi
		nr=$((nr + 1))
		if [ -f "$res.notrun" ]; then
			echo "skip - $t: $(head -1 "$res.notrun")"; nn=$((nn + 1)); nr=$((nr - 1))
		elif [[ "$timeouts" == *" $t "* ]]; then
			echo "not ok - $t: timed out after ${tlimit}s (killed)"; nf=$((nf + 1))
		elif [ -f "$res.out.bad" ] || [ -f "$res.dmesg" ]; then
			echo "not ok - $t"; nf=$((nf + 1))
		else
			echo "ok - $t"; np=$((np + 1))
		fi
		continue
	fi
	if [[ "$notrun" == *" $t "* ]]; then
		why=$(head -1 "$res.notrun" 2>/dev/null)
		echo "skip - $t: ${why:-not run}"; nn=$((nn + 1))
	elif [[ "$ran" != *" $t "* ]]; then
		echo "skip - $t: not run (expunged?)"; nn=$((nn + 1))
	elif [[ "$failures" == *" $t "* ]]; then
		nr=$((nr + 1)); nf=$((nf + 1))
		if [[ "$timeouts" == *" $t "* ]]; then
			echo "not ok - $t: timed out after ${tlimit}s (killed)"
		else
			echo "not ok - $t"
		fi
		[ -f "$res.out.bad" ] && diff -u "tests/$t.out" "$res.out.bad" | head -20 | sed 's/^/#   /'
		[ -f "$res.dmesg" ] && head -20 "$res.dmesg" | sed 's/^/#   dmesg: /'
		[ -f "$res.full" ] && tail -15 "$res.full" | cut -c1-200 | sed 's/^/#   full: /'
	else
		echo "ok - $t"; nr=$((nr + 1)); np=$((np + 1))
	fi
done

# Kernel warnings, by the test during which they appeared (vm.sh fails the
# run on any of them; this says where they came from).
dmesg | awk '/run fstests / { t = $0; sub(/.*run fstests /, "", t); sub(/ at .*/, "", t) }
	/BUG:|WARNING:|Oops|KASAN|UBSAN|kernel BUG at|general protection fault|Call Trace:|RIP: / {
		if (n++ < 40) print "# dmesg during " (t ? t : "set-up") ": " $0 }'

nt=$(wc -w <<<"$timeouts")
echo "# xfstests-summary: fstyp=$fstyp selected=${#tests[@]} of=${#all[@]} ran=$nr pass=$np fail=$nf notrun=$nn timeout=$nt hung=${hung:-none} seconds=$(( $(date +%s) - T0 ))"

if [ -n "$hung" ]; then
	# The kernel is stuck in a test: guest-init's final sync could block
	# forever, so report the way guest-init does (rc and dmesg in the
	# output share) and power off now.
	echo w > /proc/sysrq-trigger
	sleep 2
	dmesg > /tmp/out/dmesg 2>/dev/null
	echo 1 > /tmp/out/rc
	busybox poweroff -f 2>/dev/null
	echo o > /proc/sysrq-trigger
	sleep 60
fi
[ "$nf" = 0 ]

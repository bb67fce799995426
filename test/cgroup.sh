#!/bin/bash
# test/cgroup.sh: cgroups, the freezer, and their and seccomp's error paths.
#   - a full restore makes the cgroups the dump saw again, with their limits
#     (the test program's cgroups are removed between dump and restore);
#   - strict refuses a cgroup that exists with other limits; a --cgroup-root
#     that does not exist; --freeze-cgroup of a task outside the tree (the
#     cgroup is left thawed, or frozen if it was), of a directory that is no
#     cgroup.  Each failure: one "Error: " line with the expected words.
#
#   test/cgroup.sh            (from the top of the tree, after make tests)
#   CRTOOL=path TEST_BIN=dir  to use other binaries
#
# Prints "PASS name" / "FAIL name: why" per case, then "N passed, N failed".
set -u
cd "$(dirname "$0")/.." || exit 2
CRTOOL=${CRTOOL:-$PWD/build/crtool}
BIN=${TEST_BIN:-$PWD/build/test}
T=$(mktemp -d /tmp/libcr-cgroup-XXXXXX) || exit 2
PIDS=()
CGS=()
passed=0
failed=0

# mountinfo: optional fields end at "-", then fstype, source, super options
# shellcheck disable=SC2016
MI='{ for (i = 7; $i != "-"; i++); fs = $(i + 1); opts = $(i + 3) }'
CG2=$(awk "$MI"' fs == "cgroup2" { print $5; exit }' /proc/self/mountinfo)

# cgdir HIERARCHY: our own cgroup's directory in it ("" for v2, "pids", "memory"), or nothing
cgdir() {
	local mnt own
	if [ -z "$1" ]; then
		mnt=$CG2
	else
		mnt=$(awk -v c="$1" "$MI"' fs == "cgroup" { n = split(opts, o, ","); for (k = 1; k <= n; k++) if (o[k] == c) { print $5; exit } }' /proc/self/mountinfo)
	fi
	own=$(awk -F: -v c="$1" '$2 == c { print $3; exit }' /proc/self/cgroup)
	[ -n "$mnt" ] && [ -n "$own" ] && echo "$mnt${own%/}"
}

cleanup() {
	local p c
	[ -s "$T/restored.pid" ] && PIDS+=("$(cat "$T/restored.pid")")
	for p in "${PIDS[@]}"; do
		kill -9 -- "-$p" 2>/dev/null
		kill -9 "$p" 2>/dev/null
	done
	wait 2>/dev/null
	sleep 0.1
	for c in "${CGS[@]}"; do
		[ -e "$c/cgroup.freeze" ] && echo 0 >"$c/cgroup.freeze"
		rmdir "$c"/*/ "$c" 2>/dev/null
	done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pass() {
	echo "PASS $1"
	passed=$((passed + 1))
}

fail() {
	echo "FAIL $1: $2"
	failed=$((failed + 1))
	[ -s "$T/err" ] && head -n 20 "$T/err" | sed 's/^/    /'
}

# start TAG PROG [ARGS]: as in test/errors.sh: in a session of its own, stdin
# fed through $T/TAG.fifo, output in $T/TAG.out; wait for READY.  Sets PID.
start() {
	local tag=$1 prog=$2 i
	shift 2
	mkfifo "$T/$tag.fifo"
	: >"$T/$tag.out"
	{
		echo "$BASHPID" >"$T/$tag.holder"
		exec cat "$T/$tag.fifo" 2>/dev/null   # a stray holder must not keep our output open
	} | exec setsid "$BIN/$prog" "$@" >"$T/$tag.out" 2>&1 &
	PID=$!
	PIDS+=("$PID")
	for ((i = 0; i < 400; i++)); do
		grep -qx READY "$T/$tag.out" && break
		sleep 0.025
	done
	# the holder writes its pid when it gets to run, maybe after READY: wait for it
	# (a holder left unkilled keeps the cleanup waiting on its FIFO forever)
	for ((i = 0; i < 400; i++)); do
		[ -s "$T/$tag.holder" ] && break
		sleep 0.025
	done
	[ -s "$T/$tag.holder" ] && PIDS+=("$(cat "$T/$tag.holder")")
	grep -qx READY "$T/$tag.out"
}

# send_check TAG: CHECK to TAG's stdin, then PASS expected in TAG.out
send_check() {
	# shellcheck disable=SC2016
	timeout 5 bash -c 'echo CHECK >"$1"' _ "$T/$1.fifo" || return 1
	local i
	for ((i = 0; i < 400; i++)); do
		grep -q '^\(PASS\|FAIL\)' "$T/$1.out" && break
		sleep 0.025
	done
	grep -qx PASS "$T/$1.out"
}

crt() {
	: | timeout 60 "$CRTOOL" "$@" >"$T/out" 2>"$T/err"
	RC=$?
}

# expect_error NAME WORDS...: one "Error: " line holding every word, non-zero exit
expect_error() {
	local name=$1 w line
	shift
	if [ "$RC" = 0 ] || [ "$RC" = 124 ] || [ "$RC" -gt 128 ]; then
		fail "$name" "crtool exit status $RC"
		return 1
	fi
	line=$(grep -m1 '^Error: ' "$T/err")
	for w in "$@"; do
		case "$line" in
		*"$w"*) ;;
		*)
			fail "$name" "message lacks '$w': $line"
			return 1
			;;
		esac
	done
	if [ "$(grep -c '' "$T/err")" != 1 ]; then
		fail "$name" "more than one line on stderr"
		return 1
	fi
	return 0
}

running_untraced() {
	local st tr
	[ -r "/proc/$1/status" ] || return 1
	st=$(awk '/^State:/ {print $2}' "/proc/$1/status")
	tr=$(awk '/^TracerPid:/ {print $2}' "/proc/$1/status")
	case "$st" in [tTZX]) return 1 ;; esac
	[ "$tr" = 0 ]
}

# the test program's cgroups (libcr-cg-PID below ours), where they exist
prog_cgroups() {
	local h d
	for h in "" pids memory; do
		d=$(cgdir "$h")
		[ -n "$d" ] && [ -d "$d/libcr-cg-$1" ] && echo "$d/libcr-cg-$1"
	done
}

if [ -z "$CG2" ] || [ ! -x "$CRTOOL" ]; then
	echo "FAIL cgroup: no cgroup v2 mounted, or no crtool at $CRTOOL"
	echo "0 passed, 1 failed"
	exit 1
fi

# ---- full: the cgroups are gone at restore time; made again, with their limits
# (the runner removes them before each restore; the program checks membership and limits)
CGBASES="$(cgdir "") $(cgdir pids) $(cgdir memory)"
export CGBASES
# shellcheck disable=SC2016
RM='for b in $CGBASES; do d=$b/libcr-cg-$TEST_PID; for i in $(seq 100); do [ -d $d ] || break; rmdir $d/*/ $d 2>/dev/null || sleep 0.01; done; [ ! -d $d ] || exit 1; done'
if "$BIN/runner" --crtool "$CRTOOL" --mode restore,twice --restore-arg --manage-cgroups=full --before-restore "$RM" \
	-- cgroup >"$T/err" 2>&1; then
	pass cgroups-full-made
else
	fail cgroups-full-made "runner: $(head -n 3 "$T/err")"
fi

# ---- a process outside the root's cgroup: saved by its absolute path, restored there
# (tree: the root goes to X/in, its first child A to X/out; the others stay in ours)
X=$CG2/libcr-abs-$$
if mkdir "$X" "$X/in" "$X/out" && CGS+=("$X") && start abs tree; then
	P=$PID
	A=$(ps -o pid= --ppid "$P" | head -n 1 | tr -d ' ')
	ALL="$P $(ps -o pid= --ppid "$P" | tr '\n' ' ')"
	echo "$P" >"$X/in/cgroup.procs"
	echo "$A" >"$X/out/cgroup.procs"
	mkdir "$T/d-abs"
	crt dump -t "$P" -D "$T/d-abs"
	if [ "$RC" != 0 ]; then
		fail cgroup-outside-root "dump failed"
	else
		sleep 0.2
		# stdin a pipe that stays open: the restored tree waits for CHECK on it
		{
			sleep 60 &
			echo $! >"$T/sleep.pid"
			wait
		} | "$CRTOOL" restore -D "$T/d-abs" -d --pidfile "$T/restored.pid" --manage-cgroups=soft \
			--cgroup-root "unified:/libcr-abs-$$/in" >"$T/out" 2>"$T/err" &
		PIDS+=($!)
		for ((i = 0; i < 200; i++)); do
			[ -s "$T/restored.pid" ] && break
			sleep 0.05
		done
		want_in="0::/libcr-abs-$$/in"
		want_out="0::/libcr-abs-$$/out"
		if [ ! -s "$T/restored.pid" ]; then
			fail cgroup-outside-root "restore failed"
		elif ! grep -qx "$want_in" "/proc/$P/cgroup" || ! grep -qx "$want_out" "/proc/$A/cgroup"; then
			fail cgroup-outside-root "root in $(grep '^0::' "/proc/$P/cgroup"), child in $(grep '^0::' "/proc/$A/cgroup")"
		else
			pass cgroup-outside-root
		fi
		# shellcheck disable=SC2086
		kill -9 $ALL "$(cat "$T/sleep.pid")" 2>/dev/null
		rm -f "$T/restored.pid"
	fi
else
	fail cgroup-outside-root "could not set up"
fi

# ---- a restore that fails after making cgroups removes them again
if start undo cgroup; then
	P=$PID
	DIRS=$(prog_cgroups "$P")
	for d in $DIRS; do CGS+=("$d"); done
	mkdir "$T/d-undo"
	crt dump -t "$P" -D "$T/d-undo"
	for d in $DIRS; do
		for ((i = 0; i < 100; i++)); do
			rmdir "$d"/*/ "$d" 2>/dev/null && break
			sleep 0.01
		done
	done
	: | CR_FAULT=restore-restorer timeout 60 "$CRTOOL" restore -D "$T/d-undo" -d --manage-cgroups=full >"$T/out" 2>"$T/err"
	RC=$?
	if expect_error cgroups-undo "injected fault"; then
		left=
		for d in $DIRS; do [ -d "$d" ] && left="$left $d"; done
		if [ -n "$left" ]; then
			fail cgroups-undo "cgroups left after the failed restore:$left"
		elif kill -0 "$P" 2>/dev/null; then
			fail cgroups-undo "a process runs at pid $P after the failed restore"
		else
			pass cgroups-undo
		fi
	fi
else
	fail cgroups-undo "cgroup did not start"
fi

# ---- strict: a cgroup that exists with another limit
PIDS_D=$(cgdir pids)
if [ -z "$PIDS_D" ]; then
	echo "PASS cgroups-strict (SKIP: no v1 pids hierarchy here)"
	passed=$((passed + 1))
elif ! start strict cgroup; then
	fail cgroups-strict "cgroup did not start: $(cat "$T/strict.out")"
else
	P=$PID
	for d in $(prog_cgroups "$P"); do CGS+=("$d"); done
	mkdir "$T/d-strict"
	crt dump -t "$P" -D "$T/d-strict"
	sleep 0.2
	kill -9 -- "-$P" 2>/dev/null   # the children are in its group
	echo 100 >"$PIDS_D/libcr-cg-$P/a/pids.max"
	crt restore -D "$T/d-strict" -d --pidfile "$T/restored.pid" --manage-cgroups=strict
	if expect_error cgroups-strict "libcr-cg-$P/a" "pids.max" "strict"; then
		if kill -0 "$P" 2>/dev/null; then
			fail cgroups-strict "a process runs at pid $P after the failed restore"
		else
			pass cgroups-strict
		fi
	fi
	# the same images: a cgroup root that does not exist
	crt restore -D "$T/d-strict" -d --pidfile "$T/restored.pid" --manage-cgroups=soft \
		--cgroup-root "unified:/libcr-no-such-$$"
	expect_error cgroup-root-missing "/libcr-no-such-$$" "does not exist" && pass cgroup-root-missing
fi

# ---- images: a limit libcr does not restore (release_agent would run a program)
if [ -d "$T/d-strict" ]; then
	n=$("$CRTOOL" show "$T/d-strict/cgroup.img" | awk '/^dirs\[/ { d = substr($1, 6) + 0 } /^  props\[0\]:/ { print d; exit }')
	cp -a "$T/d-strict" "$T/d-agent"
	if [ -z "$n" ] || ! "$BIN/img-edit" "$T/d-agent/cgroup.img" "dirs[$n].props[0].name=release_agent" 2>"$T/err"; then
		fail cgroup-image-limit "no cgroup with limits in the images to edit"
	else
		crt restore -D "$T/d-agent" -d --manage-cgroups=full
		expect_error cgroup-image-limit "cgroup.img" "release_agent" "does not restore" && pass cgroup-image-limit
	fi
fi

# ---- dump: threads in different cgroups (a v2 threaded subtree)
C=$CG2/libcr-threaded-$$
if mkdir "$C" "$C/t" && CGS+=("$C") && echo threaded >"$C/t/cgroup.type" && start th threads --threads 2; then
	TID=
	for t in /proc/"$PID"/task/*; do
		[ "${t##*/}" != "$PID" ] && TID=${t##*/} && break
	done
	echo "$PID" >"$C/cgroup.procs"
	echo "$TID" >"$C/t/cgroup.threads"
	mkdir "$T/d-threaded"
	crt dump -t "$PID" -D "$T/d-threaded"
	if expect_error threaded-cgroups "thread $TID of pid $PID" "other cgroups than its process"; then
		if running_untraced "$PID"; then pass threaded-cgroups; else fail threaded-cgroups "not running untraced"; fi
	fi
	kill -9 "$PID"
else
	fail threaded-cgroups "could not set up a threaded cgroup"
fi

# ---- seccomp images: a filter flag the kernel would not take, a chain that does not exist
if start sec seccomp; then
	mkdir "$T/d-sec"
	crt dump -t "$PID" -D "$T/d-sec" --leave-running
	kill -9 "$PID"
	cp -a "$T/d-sec" "$T/d-sec1"
	cp -a "$T/d-sec" "$T/d-sec2"
	"$BIN/img-edit" "$T/d-sec1/seccomp.img" "filters[0].flags=8" 2>"$T/err"
	crt restore -D "$T/d-sec1" -d
	expect_error seccomp-image-flags "seccomp.img" "bad id, parent, flags or program" && pass seccomp-image-flags
	"$BIN/img-edit" "$T/d-sec2/seccomp.img" "threads[0].filter=99" 2>"$T/err"
	crt restore -D "$T/d-sec2" -d
	expect_error seccomp-image-chain "seccomp.img" "bad mode or filter" && pass seccomp-image-chain
else
	fail seccomp-image-flags "seccomp did not start"
fi

# ---- dump: a seccomp filter with a listener (SECCOMP_RET_USER_NOTIF)
if start notif seccomp --notify; then
	mkdir "$T/d-notif"
	crt dump -t "$PID" -D "$T/d-notif"
	if expect_error seccomp-listener "seccomp filter" "SECCOMP_RET_USER_NOTIF" "not supported"; then
		if running_untraced "$PID"; then pass seccomp-listener; else fail seccomp-listener "not running untraced"; fi
	fi
	kill -9 "$PID"
else
	fail seccomp-listener "seccomp --notify did not start: $(cat "$T/notif.out")"
fi

# ---- freezer v1: a tree in a freezer cgroup, dumped and left running, the cgroup thawed
V1F=$(awk -v c=freezer "$MI"' fs == "cgroup" { n = split(opts, o, ","); for (k = 1; k <= n; k++) if (o[k] == c) { print $5; exit } }' /proc/self/mountinfo)
if [ -z "$V1F" ]; then
	echo "PASS freeze-v1 (SKIP: no v1 freezer hierarchy here)"
	passed=$((passed + 1))
elif mkdir "$V1F/libcr-fz-$$" && CGS+=("$V1F/libcr-fz-$$") && start v1f counter; then
	echo "$PID" >"$V1F/libcr-fz-$$/cgroup.procs"
	mkdir "$T/d-v1f"
	crt dump -t "$PID" -D "$T/d-v1f" --leave-running --freeze-cgroup "$V1F/libcr-fz-$$" -v
	if [ "$RC" != 0 ]; then
		fail freeze-v1 "dump failed"
	elif ! grep -q "froze cgroup" "$T/err"; then
		fail freeze-v1 "the dump did not freeze the cgroup"
	elif [ "$(cat "$V1F/libcr-fz-$$/freezer.state")" != THAWED ]; then
		fail freeze-v1 "the cgroup is left $(cat "$V1F/libcr-fz-$$/freezer.state")"
	elif ! send_check v1f; then
		fail freeze-v1 "after the dump: $(cat "$T/v1f.out")"
	else
		pass freeze-v1
	fi
else
	fail freeze-v1 "could not set up a v1 freezer cgroup"
fi

# ---- freezer: a task of the cgroup that is not in the tree
C=$CG2/libcr-freeze-err-$$
mkdir "$C" && CGS+=("$C")
if ! start f1 counter; then
	fail freeze-outside-tree "counter did not start"
else
	F1=$PID
	setsid sleep 1000 </dev/null >/dev/null 2>&1 &
	OTHER=$!
	PIDS+=("$OTHER")
	echo "$F1" >"$C/cgroup.procs"
	echo "$OTHER" >"$C/cgroup.procs"
	mkdir "$T/d-freeze"
	crt dump -t "$F1" -D "$T/d-freeze" --freeze-cgroup "$C"
	if expect_error freeze-outside-tree "pid $OTHER" "frozen cgroup $C" "not in the tree"; then
		if ! running_untraced "$F1" || ! running_untraced "$OTHER"; then
			fail freeze-outside-tree "not both running untraced after the failed dump"
		elif ! grep -qx "frozen 0" "$C/cgroup.events"; then
			fail freeze-outside-tree "the cgroup stayed frozen: $(cat "$C/cgroup.events")"
		else
			pass freeze-outside-tree
		fi
	fi
	# frozen before: frozen after the failed dump
	echo 1 >"$C/cgroup.freeze"
	for ((i = 0; i < 200; i++)); do
		grep -qx "frozen 1" "$C/cgroup.events" && break
		sleep 0.01
	done
	crt dump -t "$F1" -D "$T/d-freeze" --freeze-cgroup "$C"
	if expect_error freeze-was-frozen "pid $OTHER" "not in the tree"; then
		if ! grep -qx "frozen 1" "$C/cgroup.events"; then
			fail freeze-was-frozen "the cgroup is not frozen again: $(cat "$C/cgroup.events")"
		elif grep -q '^TracerPid:[[:space:]]*[1-9]' "/proc/$F1/status" "/proc/$OTHER/status"; then
			fail freeze-was-frozen "a task is still traced"
		else
			pass freeze-was-frozen
		fi
	fi
	echo 0 >"$C/cgroup.freeze"
fi

# ---- freezer: the seize fails after the freeze: the cgroup is thawed, its task untraced
C=$CG2/libcr-freeze-fault-$$
if mkdir "$C" && CGS+=("$C") && start ff counter; then
	echo "$PID" >"$C/cgroup.procs"
	mkdir "$T/d-ff"
	CR_FAULT=seize timeout 60 "$CRTOOL" dump -t "$PID" -D "$T/d-ff" --freeze-cgroup "$C" </dev/null >"$T/out" 2>"$T/err"
	RC=$?
	if expect_error freeze-seize-fails "injected fault"; then
		if ! running_untraced "$PID"; then
			fail freeze-seize-fails "not running untraced: $(grep -E '^(State|TracerPid)' "/proc/$PID/status" | tr '\n' ' ')"
		elif ! grep -qx "frozen 0" "$C/cgroup.events"; then
			fail freeze-seize-fails "the cgroup stayed frozen"
		elif ! send_check ff; then
			fail freeze-seize-fails "counter: $(cat "$T/ff.out")"
		else
			pass freeze-seize-fails
		fi
	fi
else
	fail freeze-seize-fails "could not set up"
fi

# ---- freezer: a task waiting in vfork() for its child, which the freeze stopped
# before its exec: refused (not waited for for ever), thawed, both untraced
C=$CG2/libcr-freeze-vfork-$$
if mkdir "$C" && CGS+=("$C") && start fv vfork-child; then
	echo "$PID" >"$C/cgroup.procs"
	for c in $(cat "/proc/$PID/task/$PID/children"); do echo "$c" >"$C/cgroup.procs"; done
	mkdir "$T/d-fv"
	crt dump -t "$PID" -D "$T/d-fv" --freeze-cgroup "$C"
	if expect_error freeze-vfork "pid $PID waits in vfork()"; then
		if ! running_untraced "$PID"; then
			fail freeze-vfork "not running untraced: $(grep -E '^(State|TracerPid)' "/proc/$PID/status" | tr '\n' ' ')"
		elif ! grep -qx "frozen 0" "$C/cgroup.events"; then
			fail freeze-vfork "the cgroup stayed frozen"
		elif ! send_check fv; then
			fail freeze-vfork "vfork-child: $(cat "$T/fv.out")"
		else
			pass freeze-vfork
		fi
	fi
else
	fail freeze-vfork "could not set up"
fi

# ---- freezer: a directory that is no cgroup
if start f2 counter; then
	mkdir "$T/d-nocg"
	crt dump -t "$PID" -D "$T/d-nocg" --freeze-cgroup "$T"
	expect_error freeze-not-cgroup "$T" "neither a cgroup v2 directory" && {
		if running_untraced "$PID"; then pass freeze-not-cgroup; else fail freeze-not-cgroup "not running untraced"; fi
	}
else
	fail freeze-not-cgroup "counter did not start"
fi

# ---- restore: an unknown mode
crt restore -D "$T/d-nocg" --manage-cgroups=sometimes
expect_error manage-cgroups-mode "sometimes" "ignore, soft, full or strict" && pass manage-cgroups-mode

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]

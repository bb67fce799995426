#!/bin/bash
# test/faults.sh: every step libcr can be made to fail (CR_FAULT=STEP[:N], the
# list from `CR_FAULT=list crtool`), each in a dump or a restore of its own:
#  - a failed dump leaves the target running, not traced (TracerPid 0), with no
#    parasite mapping in /proc/PID/maps, and its own CHECK still passes;
#  - a failed restore leaves no process of the tree behind: every PID is free;
#  - a step that the restore recovers from (restore-recovers) leaves the restored
#    process whole: its own CHECK passes;
#  - (restore-userns: on a tree in nested user namespaces, ns-usernest)
#  - SIGINT and SIGTERM to crtool mid-dump: crtool undoes the dump, exits
#    non-zero, and the target is as above.
#   test/faults.sh     (after make tests)   CRTOOL=path TEST_BIN=dir to use other binaries
set -u
cd "$(dirname "$0")/.." || exit 2
CRTOOL=${CRTOOL:-$PWD/build/crtool}
BIN=${TEST_BIN:-$PWD/build/test}
T=$(mktemp -d /tmp/libcr-faults-XXXXXX) || exit 2
passed=0
failed=0
PIDS=()

cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill -9 "$p" 2>/dev/null
	done
	exec 3>&- 2>/dev/null
	{ wait; } 2>/dev/null
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
	[ -s "$T/err" ] && sed 's/^/    /' "$T/err" | head -n 5
}

# start PROG [ARGS]: a test program in its own session, stdin the FIFO $T/in
# (held open by us on fd 3: CHECK is written there), stdout $T/prog.out; sets PID
start() {
	: >"$T/prog.out"
	setsid "$BIN/$1" "${@:2}" <"$T/in" >"$T/prog.out" 2>&1 3>&- &
	PID=$!
	PIDS+=("$PID")
	for ((i = 0; i < 600; i++)); do
		grep -qx READY "$T/prog.out" && return 0
		sleep 0.025
	done
	return 1
}

# intact NAME: the target survived the failed dump as it was
intact() {
	local st tr
	st=$(awk '/^State:/ {print $2}' "/proc/$PID/status" 2>/dev/null)
	tr=$(awk '/^TracerPid:/ {print $2}' "/proc/$PID/status" 2>/dev/null)
	if [ -z "$st" ]; then
		fail "$1" "the target is gone"
	elif [ "$tr" != 0 ] || [ "$st" = t ] || [ "$st" = T ]; then
		fail "$1" "the target is stopped or traced (State $st, TracerPid $tr)"
	elif grep -q crtool-parasite "/proc/$PID/maps"; then
		fail "$1" "the parasite is still mapped: $(grep crtool-parasite "/proc/$PID/maps")"
	else
		echo CHECK >&3
		for ((i = 0; i < 200; i++)); do
			grep -q '^\(PASS\|FAIL\)' "$T/prog.out" && break
			sleep 0.025
		done
		if grep -qx PASS "$T/prog.out"; then
			pass "$1"
		else
			fail "$1" "its own check failed: $(tr '\n' ' ' <"$T/prog.out")"
		fi
	fi
	{
		kill -9 "$PID"
		wait "$PID"
	} 2>/dev/null
}

# failed_with NAME WORDS...: crtool exited non-zero with one "Error: " line holding WORDS
failed_with() {
	local name=$1 line w
	shift
	if [ "$RC" = 0 ] || [ "$RC" -gt 128 ]; then
		fail "$name" "crtool exited $RC"
		return 1
	fi
	line=$(grep -m1 '^Error: ' "$T/err")
	for w in "$@"; do
		case "$line" in
		*"$w"*) ;;
		*) fail "$name" "message lacks '$w': ${line:-no Error line}"; return 1 ;;
		esac
	done
	return 0
}

# pids_free NAME PID...: none of them runs (waits a little for the kill to land)
pids_free() {
	local name=$1 p i
	shift
	for p in "$@"; do
		for ((i = 0; i < 100; i++)); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.02
		done
		if kill -0 "$p" 2>/dev/null; then
			fail "$name" "pid $p of the tree still exists: $(grep -E '^(Name|State)' "/proc/$p/status" | tr '\n\t' '  ')"
			PIDS+=("$p")
			return 1
		fi
	done
	pass "$name"
}

mkfifo "$T/in"
exec 3<>"$T/in"
steps=$(CR_FAULT=list "$CRTOOL") || { echo "FAIL list: CR_FAULT=list failed"; echo "0 passed, 1 failed"; exit 1; }
dump_steps=$(awk -F'\t' '$2 == "dump" {print $1}' <<<"$steps")
restore_steps=$(awk -F'\t' '$2 == "restore" {print $1}' <<<"$steps")
recover_steps=$(awk -F'\t' '$2 == "restore-recovers" {print $1}' <<<"$steps")
[ -n "$dump_steps" ] && [ -n "$restore_steps" ] && pass list || fail list "no steps listed"

# ---- dumps: each step's first passage, and later passages where they reach
# further (after the parasite's memfd, its mapping, its start; the last images)
# (pages-write-part1 needs a batch large enough to split: mem-random, below)
for f in $(grep -vx pages-write-part1 <<<"$dump_steps") remote-syscall:2 remote-syscall:3 parasite-cmd:2 \
	parasite-cmd:3 image-write:4 image-short-write:6 pages-write-part1; do
	name=dump-${f/:/-}
	prog=(threads --threads 2)
	# the second thread fails halfway through part 1 while the first fills part 0
	[ "$f" = pages-write-part1 ] && prog=(mem-random --size 64)
	if ! start "${prog[@]}"; then
		fail "$name" "${prog[0]} did not start: $(cat "$T/prog.out")"
		continue
	fi
	rm -rf "$T/d"
	mkdir "$T/d"
	CR_FAULT=$f timeout 60 "$CRTOOL" dump -t "$PID" -D "$T/d" >"$T/out" 2>"$T/err"
	RC=$?
	failed_with "$name" "injected fault at ${f%%:*}" && intact "$name"
	{
		kill -9 "$PID"
		wait "$PID"
	} 2>/dev/null
done

# ---- signals mid-dump: a dump of 256 MiB, interrupted once it has seized the target
for sig in INT TERM; do
	name=dump-sig$sig
	if ! start mem-random --size 256; then
		fail "$name" "mem-random did not start"
		continue
	fi
	rm -rf "$T/d"
	mkdir "$T/d"
	"$CRTOOL" dump -t "$PID" -D "$T/d" >"$T/out" 2>"$T/err" &
	C=$!
	for ((i = 0; i < 2000; i++)); do
		[ "$(awk '/^TracerPid:/ {print $2}' "/proc/$PID/status" 2>/dev/null)" = "$C" ] && break
		sleep 0.002
	done
	kill -"$sig" "$C"
	wait "$C" 2>/dev/null
	RC=$?
	failed_with "$name" "nterrupted" && intact "$name" && echo "  ($(cat "$T/err"))"
done

# ---- restores: a dump of a tree (3 processes), restored with each fault
if ! start tree; then
	for f in $restore_steps; do fail "restore-$f" "tree did not start"; done
else
	TREE=$(pgrep -s "$PID" | tr '\n' ' ')
	mkdir "$T/good"
	if ! timeout 60 "$CRTOOL" dump -t "$PID" -D "$T/good" >"$T/out" 2>"$T/err"; then
		for f in $restore_steps; do fail "restore-$f" "could not dump tree"; done
	else
		{ wait "$PID"; } 2>/dev/null
		pids_free dump-killed-tree $TREE >/dev/null 2>&1
		for f in $(grep -vx restore-userns <<<"$restore_steps") restore-fork:2 restore-fork:3 restore-file-open:4; do
			name=restore-${f/:/-}
			: | CR_FAULT=$f timeout 60 "$CRTOOL" restore -D "$T/good" -d >"$T/out" 2>"$T/err"
			RC=$?
			failed_with "$name" "injected fault at ${f%%:*}" && pids_free "$name" $TREE
		done
	fi
fi 2>/dev/null # (bash's "Killed" notice of the dumped tree)

# ---- restores that recover: libcr's process, helping a task fill its memory,
# stops halfway through a piece and helps no more; the task copies the rest, the restore succeeds
# and every byte is back (mem-random's own check).  Whether libcr's process gets
# to help at all depends on the scheduler (on a busy machine the task may be done
# first): up to 3 tries for it to help once.
# recover_once NAME STEP: 0 done (passed or failed), 1 try again (it did not help)
recover_once() {
	local name=$1 f=$2
	if ! start mem-random --size 128; then
		fail "$name" "mem-random did not start: $(cat "$T/prog.out")"
		return 0
	fi
	rm -rf "${T:?}/$name"
	mkdir "$T/$name"
	if ! timeout 60 "$CRTOOL" dump -t "$PID" -D "$T/$name" >"$T/out" 2>"$T/err"; then
		fail "$name" "could not dump mem-random"
		return 0
	fi
	{ wait "$PID"; } 2>/dev/null
	: | CR_FAULT=$f timeout 60 "$CRTOOL" restore -D "$T/$name" -d -v >"$T/out" 2>"$T/err"
	RC=$?
	if [ "$RC" != 0 ]; then
		fail "$name" "the restore failed (exit $RC)"
	elif grep -q 'helped_mib=0\.0 ' "$T/err"; then
		echo "  (try without help: $(grep -m1 'stats: restore' "$T/err"))"
		kill -9 "$PID"
		return 1
	elif ! grep -Eq 'helped_mib=(0\.[1-9]|1\.[0-9]|2\.0) ' "$T/err"; then
		fail "$name" "libcr's process did not stop at the fault (it copies half of one piece at most, 2 MiB): $(grep 'stats: restore' "$T/err")"
	else
		intact "$name"
	fi
	return 0
}
for f in $recover_steps; do
	for try in 1 2 3; do
		recover_once "restore-$f" "$f" && break
		[ "$try" = 3 ] && fail "restore-$f" "libcr's process never helped to fill the memory in 3 tries: $(grep 'stats: restore' "$T/err")"
	done
	rm -rf "${T:?}/restore-$f"
done 2>/dev/null

# ---- restores of a tree in nested user namespaces (ns-usernest): each helper that
# makes one of them (user namespaces 1 and 2, then the UTS, network, IPC and cgroup
# namespaces 1 owns)
if ! start ns-usernest; then
	fail restore-userns "ns-usernest did not start: $(cat "$T/prog.out")"
else
	TREE=$(pgrep -s "$PID" | tr '\n' ' ')
	rm -rf "$T/good"
	mkdir "$T/good"
	if ! timeout 60 "$CRTOOL" dump -t "$PID" -D "$T/good" >"$T/out" 2>"$T/err"; then
		fail restore-userns "could not dump ns-usernest: $(cat "$T/err")"
	else
		{ wait "$PID"; } 2>/dev/null
		pids_free dump-killed-usernest $TREE >/dev/null 2>&1
		for f in restore-userns restore-userns:2 restore-userns:3 restore-userns:4 restore-userns:5 restore-userns:6; do
			name=${f/:/-}
			: | CR_FAULT=$f timeout 60 "$CRTOOL" restore -D "$T/good" -d >"$T/out" 2>"$T/err"
			RC=$?
			failed_with "$name" "injected fault at restore-userns" && pids_free "$name" $TREE
		done
	fi
fi 2>/dev/null

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]

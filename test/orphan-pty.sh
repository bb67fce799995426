#!/bin/bash
# test/orphan-pty.sh: a terminal whose master is outside the tree, through crtool's
# command line: `crtool dump --orphan-pts-master` saves the slave, `crtool restore
# --console-socket PATH` makes a new pair and sends its master to PATH (SCM_RIGHTS,
# as runc's console socket).  Runs in a mount namespace of its own with a new devpts
# instance (the pty's index is free again at restore whatever other ptys exist).
# The program: sh, the session leader of a pty test/console-recv.py --spawn holds,
# counting on its terminal and echoing each line it reads as "got:LINE".  Cases as
# the runner's modes (restore, leave-running, twice), and errors: a dump without
# --orphan-pts-master, a restore without --console-socket, and one whose socket
# nobody listens on, each refused with a message saying what to do.
#
#   test/orphan-pty.sh      (from the top of the tree, after make)
# Prints "PASS name" / "FAIL name: why" per case, then "N passed, N failed".
set -u
cd "$(dirname "$0")/.." || exit 2
CRTOOL=${CRTOOL:-$PWD/build/crtool}
RECV=$PWD/test/console-recv.py
if [ "${1:-}" != --inside ]; then
	exec unshare -m --propagation private "$0" --inside
fi
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts /dev/pts &&
	mount --bind /dev/pts/ptmx /dev/ptmx || { echo "FAIL orphan-pty: can't mount a devpts instance"; echo "0 passed, 1 failed"; exit 1; }
passed=0
failed=0
PIDS=()
T=
P=
# what a case started, whatever failed: the receivers, crtool restore (it waits for
# the tree it restored), and the target's session, which P leads (its sh, the
# subshell that reads the terminal, a sleep: a restored tree keeps the session,
# and one whose terminal no receiver of ours holds is not hung up)
cleanup() {
	local r
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	r=$(cat "$T/pid" 2>/dev/null)
	for p in $P $r; do pkill -9 -s "$p" 2>/dev/null; done
	[ -n "$r" ] && kill -9 "$r" 2>/dev/null
	[ -n "$T" ] && rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
wait_for() { # SECONDS COMMAND...
	local i n=$(($1 * 20))
	shift
	for ((i = 0; i < n; i++)); do "$@" && return 0; sleep 0.05; done
	return 1
}
last() { grep -ao 'count [0-9]*' "$T/out$1" 2>/dev/null | tail -1 | cut -d' ' -f2; }
first() { grep -ao 'count [0-9]*' "$T/out$1" 2>/dev/null | head -1 | cut -d' ' -f2; }
above() { [ "$(last "$1")" -gt "$2" ] 2>/dev/null; }
printed() { [ -n "$(first "$1")" ]; }
echoes() { echo "$2" >"$T/in$1" && wait_for 5 grep -aq "got:$2" "$T/out$1"; }
counting() { local a; a=$(last "$1"); wait_for 5 above "$1" "${a:-0}"; }
gone() { ! kill -0 "$1" 2>/dev/null; }
PROG='exec 3<&0; (while read l; do echo got:$l; done) <&3 & i=0; while :; do i=$((i+1)); echo count $i; sleep 0.05; done'

res() { echo "$*" >"$T/result"; }
# console N: a receiver on $T/csN
console() {
	mkfifo "$T/in$1"
	python3 "$RECV" "$T/cs$1" "$T/out$1" "$T/in$1" 2>"$T/recv$1.err" &
	PIDS+=($!)
	wait_for 5 test -S "$T/cs$1"
}
dump() { # DIR [ARGS]: must work
	mkdir "$T/$1"
	"$CRTOOL" dump -t "$P" -D "$T/$1" "${@:2}" 2>"$T/err" || { res "FAIL crtool dump ${*:2}: $(cat "$T/err")"; return 1; }
}
# crtool restore without -d stays the restored tree's parent, and reaps it at the next dump
restore() { # DIR N: with console N, must work
	console "$2" || { res "FAIL no console socket $2"; return 1; }
	rm -f "$T/pid"
	"$CRTOOL" restore -D "$T/$1" --pidfile "$T/pid" --console-socket "$T/cs$2" 2>"$T/err" &
	PARENT=$!
	PIDS+=("$PARENT")
	wait_for 10 test -s "$T/pid" || { res "FAIL crtool restore: $(cat "$T/err")"; return 1; }
	[ "$(cat "$T/pid")" = "$P" ] || { res "FAIL restored as pid $(cat "$T/pid"), not $P"; return 1; }
}
restored() { # N BEFORE: console N shows the count going on from above BEFORE, and a line reaches it
	local f
	wait_for 10 printed "$1" || { res "FAIL nothing on the new console: $(cat "$T/recv$1.err" "$T/err")"; return 1; }
	f=$(first "$1")
	if [ "$f" -le "$2" ] || [ "$f" -gt $(($2 + 100)) ] || ! counting "$1" || ! echoes "$1" "line$1"; then
		res "FAIL count $2 at the dump, then $f..$(last "$1") on console $1"
		return 1
	fi
}
# the holder of the first pty hangs up once the tree is dumped (and killed)
hung_up() { wait_for 10 gone "$HOLDER" || { res "FAIL the first console did not hang up"; return 1; }; }

run_case() {
	local mode=$1 before
	P=
	mkfifo "$T/in1"
	python3 "$RECV" --spawn "$T/out1" "$T/in1" 21 61 sh -c "$PROG" 2>"$T/recv1.err" &
	HOLDER=$!
	PIDS+=($HOLDER)
	wait_for 5 test -s "$T/out1.pid" && P=$(cat "$T/out1.pid")
	if [ -z "$P" ] || ! wait_for 10 above 1 5; then
		res "FAIL the program does not count: $(cat "$T/recv1.err")"
		return
	fi
	case "$mode" in
	restore | twice)
		dump d1 --orphan-pts-master && hung_up || return
		before=$(last 1)
		restore d1 2 && restored 2 "$before" || return
		read -r _ size <"$T/out2.fd"
		[ "$size" = 21x61 ] || { res "FAIL the new terminal is $size, not 21x61 as at the dump"; return; }
		if [ "$mode" = twice ]; then
			dump d2 --orphan-pts-master && wait_for 10 gone "$PARENT" || { res "FAIL the second dump: $(cat "$T/err")"; return; }
			before=$(last 2)
			restore d2 3 && restored 3 "$before" || return
		fi
		;;
	leave-running)
		dump d1 --orphan-pts-master --leave-running || return
		counting 1 && echoes 1 still || { res "FAIL it stopped counting after the dump"; return; }
		;;
	errors)
		mkdir "$T/d0"
		if "$CRTOOL" dump -t "$P" -D "$T/d0" 2>"$T/err"; then
			res "FAIL a dump without --orphan-pts-master worked"
			return
		fi
		grep -q -- "pid $P: fd 0 is the terminal /dev/pts/[0-9]*, whose master is outside the tree.*--orphan-pts-master" "$T/err" ||
			{ res "FAIL dump message: $(cat "$T/err")"; return; }
		counting 1 || { res "FAIL the program stopped after the failed dump"; return; }
		dump d1 --orphan-pts-master && hung_up || return
		if "$CRTOOL" restore -D "$T/d1" -d 2>"$T/err"; then
			res "FAIL a restore without --console-socket worked"
			return
		fi
		grep -q -- "pid $P: fd 0 is /dev/pts/0, whose master was outside the tree: restore with --console-socket" "$T/err" ||
			{ res "FAIL restore message: $(cat "$T/err")"; return; }
		if "$CRTOOL" restore -D "$T/d1" -d --console-socket "$T/nobody" 2>"$T/err"; then
			res "FAIL a restore with nobody on the console socket worked"
			return
		fi
		grep -q -- "--console-socket $T/nobody: can't hand over the master of pty 0" "$T/err" ||
			{ res "FAIL restore message (no listener): $(cat "$T/err")"; return; }
		wait_for 5 gone "$P" || { res "FAIL a process runs at pid $P after the failed restores"; return; }
		;;
	esac
	res PASS
}

for mode in restore leave-running twice errors; do
	T=$(mktemp -d /tmp/libcr-orphan-pty-XXXXXX)
	PIDS=()
	run_case "$mode"
	r=$(cat "$T/result" 2>/dev/null || echo "FAIL no result")
	if [ "$r" = PASS ]; then
		echo "PASS orphan pty $mode"
		passed=$((passed + 1))
	else
		echo "FAIL orphan pty $mode: ${r#FAIL }"
		failed=$((failed + 1))
	fi
	cleanup
	T=
	P=
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]

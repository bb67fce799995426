#!/bin/bash
# test/shell-job.sh: --shell-job for a program a shell started without job
# control: its process group is the shell's, led by no process of the tree.
#
#   group-gone   counter started by `setsid sh -c 'counter & wait'` (in sh's
#                session and group), dumped with --shell-job, sh gone with its
#                group; restored with --shell-job by this script: it is in the
#                caller's session and group and passes its check
#   new-session  the same restored by a crtool in a session of its own (setsid)
#   restore-log  a restore logging to a file (-v -o) writes nothing into the
#                restored program's own files
# Prints "N passed, N failed".
set -u
cd "$(dirname "$0")/.." || exit 2
CRTOOL=${CRTOOL:-$PWD/build/crtool}
BIN=${TEST_BIN:-$PWD/build/test}
pass=0
fail=0
work=$(mktemp -d /tmp/libcr-shelljob-XXXXXX)
pids=()
trap 'for p in ${pids[@]:-}; do kill -9 "$p" 2>/dev/null; done; rm -rf "$work"' EXIT
ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
wait_line() { # FILE REGEX
	for _ in $(seq 400); do
		grep -qE "$2" "$1" 2>/dev/null && return 0
		sleep 0.025
	done
	return 1
}

# start NAME: counter under a shell of its own group (sh -c, no job control); sets P, SH
start() {
	mkfifo "$work/$1.in"
	exec {fd}<>"$work/$1.in"
	setsid sh -c "\"$BIN/counter\" <\"$work/$1.in\" >\"$work/$1.out\" 2>&1 & echo \$! >\"$work/$1.pid\"; wait" &
	SH=$!
	pids+=("$SH")
	wait_line "$work/$1.out" '^READY$' || return 1
	P=$(cat "$work/$1.pid")
	pids+=("$P")
	IN=$fd
}

# check_restored NAME: CHECK the restored counter; 0 when it passes
check_restored() {
	local name=$1
	for _ in $(seq 200); do kill -0 "$P" 2>/dev/null && break; sleep 0.025; done
	echo CHECK >&"$IN"
	if ! wait_line "$work/$name.out" '^(PASS|FAIL)'; then
		bad "$name" "no verdict: $(tr '\n' ' ' <"$work/$name.out")"
		return 1
	fi
	grep -q '^PASS$' "$work/$name.out" || { bad "$name" "$(grep '^FAIL' "$work/$name.out")"; return 1; }
}

# one_case NAME [setsid]: start, dump, the shell gone, restore (by a crtool in a new
# session with setsid), check; the restored counter must be in the caller's group
one_case() {
	local name=$1 run=${2:-} G now want
	if ! start "$name"; then
		bad "$name" "counter did not start: $(cat "$work/$name.out" 2>/dev/null)"
		return
	fi
	G=$(ps -o pgid= -p "$P" | tr -d ' ')
	mkdir "$work/$name.d"
	if ! "$CRTOOL" dump -t "$P" -D "$work/$name.d" --shell-job 2>"$work/err"; then
		bad "$name" "dump: $(cat "$work/err")"
		return
	fi
	kill -9 "$SH" 2>/dev/null
	wait "$SH" 2>/dev/null
	if ! $run "$CRTOOL" restore -D "$work/$name.d" -d --shell-job --pidfile "$work/$name.rpid" 2>"$work/err"; then
		bad "$name" "restore: $(cat "$work/err")"
		return
	fi
	check_restored "$name" || { kill -9 "$P" 2>/dev/null; return; }
	now=$(ps -o pgid= -p "$P" | tr -d ' ')
	want=$(ps -o pgid= -p $$ | tr -d ' ')
	kill -9 "$P" 2>/dev/null
	if [ "$now" = "$G" ]; then
		bad "$name" "restored in group $G, which was gone"
	elif [ -z "$run" ] && [ "$now" != "$want" ]; then
		bad "$name" "restored in group $now, not the caller's $want"
	else
		ok "$name"
	fi
}
one_case group-gone
one_case new-session setsid

# ---- restore-log: a restore with a log file (-v -o) writes nothing into the
# restored program's files, whatever fd number the log has in crtool (a bash
# holding an empty file at fd 3, the log's number in crtool)
name=restore-log
: >"$work/held"
setsid bash -c 'exec 3<>"$1"; exec 4<&-; while :; do sleep 0.05; done' _ "$work/held" </dev/null >/dev/null 2>&1 &
P=$!
pids+=("$P")
sleep 0.3
mkdir "$work/log.d"
if ! "$CRTOOL" dump -t "$P" -D "$work/log.d" 2>"$work/err"; then
	bad $name "dump: $(cat "$work/err")"
elif ! "$CRTOOL" restore -D "$work/log.d" -d -v -o "$work/restore.log" 2>"$work/err"; then
	bad $name "restore: $(cat "$work/err")"
elif [ -s "$work/held" ]; then
	bad $name "the restored program's fd 3 file got: $(head -c 200 "$work/held")"
elif ! grep -q "Debug: " "$work/restore.log"; then
	bad $name "the log lacks the restore's own lines: $(tail -n 3 "$work/restore.log")"
else
	ok $name
fi
kill -9 "$P" 2>/dev/null
wait "$P" 2>/dev/null
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]

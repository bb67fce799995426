# test/real/rt-lib.sh: what the runtime tests (python-rt, java, node, go,
# tmux, screen) share; sourced, not run.
#
# A test starts its program (start), which writes a counter to $T/count (an
# atomic rename each step) and then runs round NAME PID [DUMP-OPTS...]: dump
# (the tree dies), the counter must stand still while it is away, restore -d,
# the same pid, and the counter must grow again (check_more runs the test's
# own checks after each restore); then leave NAME PID: dump --leave-running,
# it must go on counting.  Prints "N passed, N failed" (finish).
set -u
cd "$(dirname "$0")/../.." || exit 2
CRTOOL=${CRTOOL:-$PWD/build/crtool}
PY=/usr/bin/python3   # Debian's own: a shim (pyenv) would run it as a child
pass=0
fail=0
T=$(mktemp -d "/tmp/libcr-$(basename "$0" .sh)-XXXXXX")
PIDS=""
cleanup() {
	for p in $PIDS; do
		pkill -9 -s "$p" 2>/dev/null
		kill -9 "$p" 2>/dev/null
	done
	[ -n "${KEEP:-}" ] && echo "kept $T" || rm -rf "$T"
}
trap cleanup EXIT
ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
finish() { echo "$pass passed, $fail failed"; [ "$fail" = 0 ]; exit; }
need() { command -v "$1" >/dev/null || { bad "$NAME" "$1 is not installed (make deps)"; finish; }; }

# start CMD...: run CMD in a session of its own, out of our job table; $pid
start() {
	setsid "$@" </dev/null >"$T/out" 2>&1 &
	pid=$!
	disown "$pid"
	PIDS="$PIDS $pid"
}

count() {
	local c
	c=$(cat "$T/count" 2>/dev/null)
	echo "${c:-0}"
}

# wait_count N: until the counter reaches N (10 s); 1 if it does not
wait_count() {
	for _ in $(seq 200); do [ "$(count)" -ge "$1" ] && return 0; sleep 0.05; done
	return 1
}

gone() { for _ in $(seq 200); do [ -e "/proc/$1" ] || return 0; sleep 0.05; done; return 1; }

# advancing NAME: the counter grows by 3 steps at least, within 10 s
advancing() {
	local c0
	c0=$(count)
	if ! wait_count $((c0 + 3)); then
		bad "$1" "the counter stays at $(count) (output: $(tail -c 300 "$T/out"))"
		finish
	fi
	ok "$1: counts on ($c0 -> $(count))"
}

check_more() { :; }   # a test's own checks after each restore: check_more NAME

# round NAME PID [DUMP-OPTS...]: dump, away, restore, counting on
round() {
	local name=$1 p=$2 img before
	shift 2
	img=$T/img-${name// /-}
	mkdir "$img"
	if ! "$CRTOOL" dump -t "$p" -D "$img" "$@" 2>"$T/err"; then
		bad "$name dump" "$(cat "$T/err")"
		finish
	fi
	if ! gone "$p"; then
		bad "$name dump" "pid $p is still there after the dump"
		finish
	fi
	before=$(count)
	sleep 0.3
	[ "$(count)" = "$before" ] || { bad "$name" "the counter moved while the tree was dumped"; finish; }
	if ! "$CRTOOL" restore -D "$img" -d --pidfile "$T/pid" 2>"$T/err"; then
		bad "$name restore" "$(cat "$T/err")"
		finish
	fi
	[ "$(cat "$T/pid")" = "$p" ] || bad "$name" "restored as pid $(cat "$T/pid"), not $p"
	advancing "$name restore"
	check_more "$name restore"
}

# leave NAME PID [DUMP-OPTS...]: dump --leave-running, counting on
leave() {
	local name=$1 p=$2 img
	shift 2
	img=$T/img-${name// /-}-leave
	mkdir "$img"
	if ! "$CRTOOL" dump -t "$p" -D "$img" --leave-running "$@" 2>"$T/err"; then
		bad "$name dump --leave-running" "$(cat "$T/err")"
		finish
	fi
	advancing "$name leave-running"
	check_more "$name leave-running"
}

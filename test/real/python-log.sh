#!/bin/bash
# test/real/python-log.sh: python3 appending to a log file in a loop.
#
# The interpreter writes one numbered line (flushed) every 10 ms to a file it
# holds open O_APPEND.  It is dumped mid-loop (and killed), restored, dumped
# and restored again; after each restore it must go on writing where it
# stopped: the log holds 0, 1, 2, ... with no line missing, repeated or torn,
# and keeps growing.  Prints "N passed, N failed".
set -u
cd "$(dirname "$0")/../.." || exit 2
CRTOOL=${CRTOOL:-$PWD/build/crtool}
PY=/usr/bin/python3   # Debian's own: a shim (pyenv) would run it as a child
pass=0
fail=0
T=$(mktemp -d /tmp/libcr-pylog-XXXXXX)
pid=""
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
finish() { echo "$pass passed, $fail failed"; [ "$fail" = 0 ]; exit; }

# continuous LOG: "N" if the file is 0..N-1, one per line, else a reason
continuous() {
	awk 'BEGIN { n = 0 } $0 != n { print "line " NR " is \"" $0 "\", want " n; bad = 1; exit } { n++ }
	     END { if (!bad) print n }' "$1"
}

if [ ! -x "$PY" ]; then
	bad python-log "$PY is not installed"
	finish
fi
log=$T/app.log
setsid "$PY" -c '
import sys, time
f = open(sys.argv[1], "a")
i = 0
while True:
    f.write("%d\n" % i)
    f.flush()
    i += 1
    time.sleep(0.01)
' "$log" </dev/null >/dev/null 2>&1 &
pid=$!
disown "$pid"
sleep 0.5

for round in 1 2; do
	mkdir "$T/img$round"
	if ! "$CRTOOL" dump -t "$pid" -D "$T/img$round" 2>"$T/dump.err"; then
		bad python-log "dump $round failed: $(cat "$T/dump.err")"
		finish
	fi
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
	before=$(continuous "$log")
	case "$before" in *[!0-9]*) bad python-log "the log before restore $round: $before"; finish ;; esac
	sleep 0.3   # nothing may be written while it is away
	if [ "$(continuous "$log")" != "$before" ]; then
		bad python-log "the log grew while the process was dumped"
		finish
	fi
	if ! "$CRTOOL" restore -D "$T/img$round" -d --pidfile "$T/pid" 2>"$T/restore.err"; then
		bad python-log "restore $round failed: $(cat "$T/restore.err")"
		finish
	fi
	[ "$(cat "$T/pid")" = "$pid" ] || bad python-log "restored as pid $(cat "$T/pid"), not $pid"
	sleep 0.5
	after=$(continuous "$log")
	case "$after" in
	*[!0-9]*) bad python-log "the log after restore $round: $after" ;;
	*) if [ "$after" -gt $((before + 10)) ]; then
		ok "python-log round $round: lines 0..$((after - 1)), continuous across the dump at $before"
	else
		bad python-log "the log grew from $before to only $after lines in 0.5 s after restore $round"
	fi ;;
	esac
done
finish

#!/bin/bash
# `make demo`: checkpoint a running counter, kill it, restore it, and show that it
# counts on from where it stopped.  Exits 0 only if the count continued.
set -euo pipefail
cd "$(dirname "$0")/.."

CRTOOL=${CRTOOL:-build/crtool}
COUNTER=build/demo-counter
work=""
pid=""

if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold="" plain=""; fi
say() { printf '\n%s==> %s%s\n' "$bold" "$*" "$plain"; }
die() { printf '\ndemo FAILED: %s\n' "$*" >&2; exit 1; }

# A killed process that is no longer our child may linger as a zombie if PID 1 does
# not reap it; it is gone all the same.
alive() {
	local st
	st=$(awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

cleanup() {
	if [ -n "$pid" ] && alive "$pid"; then
		kill -9 "$pid" 2>/dev/null || true
	fi
	[ -n "$work" ] && rm -rf "$work"
}
trap cleanup EXIT

# The numbers of the "tick N" lines, one per line.
ticks() { sed -n 's/^tick \([0-9]\+\)$/\1/p' "$work/counter.log"; }
last_tick() { ticks | tail -n 1; }

[ "$(id -u)" = 0 ] || die "run as root: checkpointing another process needs ptrace and CAP_CHECKPOINT_RESTORE"
[ -x "$CRTOOL" ] || die "$CRTOOL is missing: run 'make' first"

say "Building the sample program ($COUNTER from tools/demo-counter.c)"
mkdir -p build
gcc -O2 -g -Wall -Wextra -Werror -std=gnu11 -D_GNU_SOURCE -o "$COUNTER" tools/demo-counter.c
work=$(mktemp -d /tmp/libcr-demo.XXXXXX)
images="$work/images"
mkdir "$images"

say "Starting the counter in its own session: it appends 'tick N' to $work/counter.log every 0.2 s"
# setsid execs the program directly (this shell's background child is not a process
# group leader), so $! is the counter itself.
setsid "$COUNTER" "$work/counter.log" </dev/null >/dev/null 2>&1 &
pid=$!
disown "$pid"   # no "Killed" notice from this shell when the dump kills it
sleep 1
alive "$pid" || die "the counter did not start"
[ "$(ps -o sid= -p "$pid" | tr -d ' ')" = "$pid" ] || die "the counter is not a session leader"
echo "counter running as PID $pid; last lines of its log:"
tail -n 3 "$work/counter.log" | sed 's/^/    /'

say "Checkpointing PID $pid: $CRTOOL dump -t $pid -D $images"
t0=$EPOCHREALTIME
"$CRTOOL" dump -t "$pid" -D "$images" || die "crtool dump failed (exit $?)"
t1=$EPOCHREALTIME
awk -v a="$t0" -v b="$t1" 'BEGIN { printf "dump took %.0f ms\n", (b - a) * 1000 }'
alive "$pid" && die "PID $pid is still running after the dump"
# This shell reaps its killed child; the PID must be free again for the restore.
for _ in $(seq 50); do [ -e "/proc/$pid" ] || break; sleep 0.1; done
stopped=$(last_tick)
echo "PID $pid is gone (dump kills the process once its images are written)."
echo "The log stopped at: tick $stopped"

say "The images"
ls -la "$images"
echo
echo "\$ $CRTOOL show $images/core-$pid.img   (rlimits, sigactions and itimers folded)"
"$CRTOOL" show "$images/core-$pid.img" >"$work/core.txt" || die "crtool show failed"
# Fold the long per-signal and per-limit lists into one line each.
awk '/^(rlimits|sigactions|itimers)\[[0-9]+\]:$/ { k = $0; sub(/\[.*/, "", k); n[k]++; skip = 1; next }
     skip && /^  / { next }
     { skip = 0; print }
     END { for (k in n) printf "(%d %s records folded)\n", n[k], k }' "$work/core.txt" |
	sed 's/^/    /'

sleep 1
[ "$(last_tick)" = "$stopped" ] || die "the log grew while the counter was not running"

say "Restoring: $CRTOOL restore -D $images -d"
t0=$EPOCHREALTIME
"$CRTOOL" restore -D "$images" -d || die "crtool restore failed (exit $?)"
t1=$EPOCHREALTIME
awk -v a="$t0" -v b="$t1" 'BEGIN { printf "restore took %.0f ms\n", (b - a) * 1000 }'
alive "$pid" || die "PID $pid is not running after the restore"
echo "PID $pid is alive again: $(ps -o pid=,stat=,cmd= -p "$pid")"

sleep 1.5
say "The log after the restore (the counter stopped at tick $stopped)"
grep -n -A 4 -x "tick $stopped" "$work/counter.log" | sed 's/^/    /' || true
echo "    ..."
tail -n 2 "$work/counter.log" | sed 's/^/    /'

say "Stopping the restored counter"
kill "$pid"
for _ in $(seq 50); do alive "$pid" || break; sleep 0.1; done
alive "$pid" && die "PID $pid did not stop"

# The count must run 1, 2, 3, ... without a gap, a repeat or a restart.
final=$(last_tick)
bad=$(ticks | awk '$1 != NR { print NR ": tick " $1; exit }')
[ -z "$bad" ] || die "the count did not continue: line $bad"
[ "$final" -gt "$stopped" ] || die "no ticks after the restore (stopped at $stopped, last $final)"
say "OK: the counter stopped at tick $stopped, was restored as PID $pid, and counted on to tick $final"

#!/bin/bash
# test/soak.sh: the same working tree (build/test/soak: 4 processes of 4 threads,
# every thread counting and rewriting its memory) through many checkpoints.
#
#   SOAK_CYCLES=N    dump + restore cycles (default 200; make test runs 40)
#   SOAK_LEAVE_S=S   seconds of dump --leave-running every 100 ms (default 60; make test 10)
#
# Every 10 cycles, and at the end, the tree checks itself (each thread's memory
# is the pattern of its count, and every count moved).  Then: the tree has the
# processes and open fds it had at the start, its memory did not grow by more
# than a tenth, no crtool or tracker process is left, and one dump under valgrind
# loses no memory.  Prints the figures and "N passed, N failed".
set -u
cd "$(dirname "$0")/.." || exit 2
# The killed tree's processes must be reaped at once, or each restore waits for
# their PIDs: this shell becomes their subreaper (the flag survives exec, and
# bash reaps every child it gets).
if [ -z "${SOAK_REAPER:-}" ]; then
	SOAK_REAPER=1 exec python3 -c 'import ctypes, os, sys
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)   # PR_SET_CHILD_SUBREAPER
os.execvp("bash", ["bash"] + sys.argv[1:])' "$0" "$@"
fi
B=$PWD/build
CRTOOL=${CRTOOL:-$B/crtool}
CYCLES=${SOAK_CYCLES:-200}
LEAVE_S=${SOAK_LEAVE_S:-60}
pass=0
fail=0
work=$(mktemp -d /tmp/libcr-soak-XXXXXX)
root=""
trap '[ -n "$root" ] && kill -9 -- -"$root" 2>/dev/null; rm -rf "$work"' EXIT

ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
tree_pids() { ps -o pid= -s "$root" 2>/dev/null | awk '$1 != "" { print $1 }'; }
tree_fds() { local n=0 p; for p in $(tree_pids); do n=$((n + $(ls "/proc/$p/fd" 2>/dev/null | wc -l))); done; echo "$n"; }
tree_rss() { local n=0 p; for p in $(tree_pids); do n=$((n + $(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0))); done; echo "$n"; }
state() { awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

# check N: ask the tree to check itself, wait for its N-th answer
check() {
	kill -USR1 "$root"
	for _ in $(seq 200); do [ "$(grep -c '^OK\|^FAIL' "$work/out")" -ge "$1" ] && break; sleep 0.05; done
	tail -n 1 "$work/out" | grep -q '^OK'
}

setsid "$B/test/soak" --procs 4 --threads 4 >"$work/out" 2>&1 </dev/null &
root=$!
disown "$root"
for _ in $(seq 200); do grep -qx READY "$work/out" 2>/dev/null && break; sleep 0.05; done
grep -qx READY "$work/out" || { bad setup "soak did not start"; echo "$pass passed, $fail failed"; exit 1; }
sleep 0.2
procs0=$(tree_pids | wc -l)
fds0=$(tree_fds)
rss0=$(tree_rss)
checks=0

# ---- dump and restore, over and over
t0=$EPOCHREALTIME
failed_at=""
for i in $(seq "$CYCLES"); do
	rm -rf "$work/img"
	mkdir "$work/img"
	if ! "$CRTOOL" dump -t "$root" -D "$work/img" 2>"$work/err"; then
		failed_at="cycle $i: dump: $(cat "$work/err")"
		break
	fi
	for _ in $(seq 200); do [ -z "$(state "$root")" ] || [ "$(state "$root")" = Z ] && break; sleep 0.01; done
	if ! "$CRTOOL" restore -D "$work/img" -d 2>"$work/err"; then
		failed_at="cycle $i: restore: $(cat "$work/err")"
		break
	fi
	if [ $((i % 10)) = 0 ]; then
		checks=$((checks + 1))
		check "$checks" || { failed_at="cycle $i: the tree's check: $(tail -n 1 "$work/out")"; break; }
	fi
done
t1=$EPOCHREALTIME
if [ -n "$failed_at" ]; then
	bad cycles "$failed_at"
else
	ok "cycles: $CYCLES dump+restore cycles of 4 processes x 4 threads, $(awk -v a="$t0" -v b="$t1" -v n="$CYCLES" 'BEGIN { printf "%.0f ms each", (b - a) * 1000 / n }'), $checks self-checks passed"
fi

# ---- dump --leave-running every 100 ms
n=0
failed_at=""
end=$((SECONDS + LEAVE_S))
while [ -z "$failed_at" ] && [ "$SECONDS" -lt "$end" ]; do
	rm -rf "$work/img"
	mkdir "$work/img"
	"$CRTOOL" dump -t "$root" -D "$work/img" --leave-running 2>"$work/err" || failed_at="dump $n: $(cat "$work/err")"
	n=$((n + 1))
	sleep 0.1
done
checks=$((checks + 1))
if [ -n "$failed_at" ]; then
	bad leave-running "$failed_at"
elif ! check "$checks"; then
	bad leave-running "the tree's check after $n dumps: $(tail -n 1 "$work/out")"
else
	ok "leave-running: $n dumps in ${LEAVE_S} s, the tree kept working"
fi

# ---- nothing leaked
procs1=$(tree_pids | wc -l)
fds1=$(tree_fds)
rss1=$(tree_rss)
# this tree's crtool only: other checkouts on the machine may be dumping meanwhile
left=$(pgrep -f "^$CRTOOL (dump|restore|pre-dump)" | wc -l)
if [ "$procs1" != "$procs0" ] || [ "$fds1" != "$fds0" ] || [ "$rss1" -gt $((rss0 + rss0 / 10 + 1024)) ] || [ "$left" != 0 ]; then
	bad leaks "processes $procs0 -> $procs1, open fds $fds0 -> $fds1, RSS ${rss0} -> ${rss1} KiB, crtool processes left: $left"
else
	ok "leaks: processes $procs0 -> $procs1, open fds $fds0 -> $fds1, RSS $rss0 -> $rss1 KiB, no crtool left"
fi
if command -v valgrind >/dev/null; then
	rm -rf "$work/img"
	mkdir "$work/img"
	# leaks only: the kernel fills buffers through ptrace, which valgrind can't see
	if valgrind --leak-check=full --errors-for-leak-kinds=definite --undef-value-errors=no --error-exitcode=9 -q \
		"$CRTOOL" dump -t "$root" -D "$work/img" --leave-running >"$work/vg" 2>&1; then
		ok "valgrind: a dump of the tree loses no memory"
	else
		bad valgrind "$(grep -m 3 'definitely lost\|Invalid\|uninitialised' "$work/vg" || tail -n 3 "$work/vg")"
	fi
else
	bad valgrind "valgrind is not installed"
fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]

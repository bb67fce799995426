#!/bin/bash
# test/lazy.sh: lazy restore, the process running while its memory arrives.
#
#   1. build/test/mem-dirty (256 MiB), dumped and restored with --lazy-pages while
#      `crtool lazy-pages` serves the images; right after the restore it forks a
#      child and both check every page while the daemon is still pushing (the
#      child's memory comes through the fork event); the daemon then exits 0.
#   2. errors: a lazy restore without a daemon (refused, naming the command to
#      run; nothing is left of the tree); a second daemon on the same images.
# Prints "N passed, N failed".
set -u
cd "$(dirname "$0")/.." || exit 2
B=$PWD/build
CRTOOL=${CRTOOL:-$B/crtool}
pass=0
fail=0
work=$(mktemp -d /tmp/libcr-lazy-XXXXXX)
pids=()
trap 'for p in ${pids[*]:-}; do kill -9 "$p"; done 2>/dev/null; rm -rf "$work"' EXIT

ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }

# daemon DIR: crtool lazy-pages for DIR, waited for until it listens; sets daemon
daemon() {
	"$CRTOOL" lazy-pages -D "$1" -v >"$work/lazy.out" 2>&1 &
	daemon=$!
	pids+=("$daemon")
	for _ in $(seq 100); do grep -q listening "$work/lazy.out" 2>/dev/null && return 0; sleep 0.05; done
	return 1
}

mkdir -p "$work/img"
setsid "$B/test/mem-dirty" --size 256 >"$work/out" 2>&1 </dev/null &
prog=$!
disown "$prog"
pids+=("$prog")
for _ in $(seq 200); do grep -qx READY "$work/out" 2>/dev/null && break; sleep 0.05; done
kill -USR1 "$prog"
for _ in $(seq 200); do grep -qx "ROUND 1" "$work/out" 2>/dev/null && break; sleep 0.05; done
if ! "$CRTOOL" dump -t "$prog" -D "$work/img" 2>"$work/err"; then
	bad lazy "dump failed: $(cat "$work/err")"
else
	for _ in $(seq 100); do [ -e "/proc/$prog" ] && ! grep -q '^State:.*Z' "/proc/$prog/status" 2>/dev/null || break; sleep 0.05; done
	# errors first, while the images are fresh: no daemon
	if "$CRTOOL" restore -D "$work/img" -d --lazy-pages 2>"$work/err"; then
		bad no-daemon "a lazy restore without a daemon succeeded"
	elif ! grep -q "no lazy-pages daemon serves" "$work/err"; then
		bad no-daemon "unexpected message: $(cat "$work/err")"
	elif [ -e "/proc/$prog" ] && ! grep -q '^State:.*Z' "/proc/$prog/status" 2>/dev/null; then
		bad no-daemon "pid $prog exists after the failed restore"
	else
		ok "no-daemon: refused: $(cat "$work/err")"
	fi
	if ! daemon "$work/img"; then
		bad lazy "crtool lazy-pages did not start: $(cat "$work/lazy.out")"
	else
		if "$CRTOOL" lazy-pages -D "$work/img" >"$work/second.out" 2>&1; then
			bad second-daemon "a second daemon on the same images started"
		elif grep -q "already serves" "$work/second.out"; then
			ok "second-daemon: refused: $(cat "$work/second.out")"
		else
			bad second-daemon "unexpected message: $(cat "$work/second.out")"
		fi
		t0=$(date +%s%N)
		if ! "$CRTOOL" restore -D "$work/img" -d --lazy-pages 2>"$work/err"; then
			bad lazy "restore --lazy-pages failed: $(cat "$work/err")"
		else
			t1=$(date +%s%N)
			kill -USR2 "$prog"
			for _ in $(seq 400); do grep -q '^PASS$\|^FAIL' "$work/out" && break; sleep 0.05; done
			if ! grep -qx PASS "$work/out"; then
				bad lazy "$(grep '^FAIL' "$work/out" || echo "no answer from the restored process")"
			elif ! wait "$daemon"; then
				bad lazy "the daemon failed: $(cat "$work/lazy.out")"
			else
				stats=$(grep -o 'faults=.*' "$work/lazy.out")
				ok "lazy: restored in $(((t1 - t0) / 1000000)) ms, parent and forked child found every page ($stats)"
			fi
		fi
	fi
fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]

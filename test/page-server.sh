#!/bin/bash
# test/page-server.sh: pages streamed to `crtool page-server` instead of the local
# images dir, for a dump and for rounds of pre-dump; then a restore from what the
# server received (plus the other images, as a migration would copy them).
#
#   1. dump --page-server: the server's dir gets pages-*.img (the local dir none);
#      the other images copied next to them restore the process, byte-exact.
#   2. pre-dump, pre-dump, dump, each round streaming to a page server that writes
#      into the round's own images dir: restore reads through the layers.
#   3. errors: no page server listening (the dump fails naming it, the process runs
#      on untouched); a page server killed mid-round (the same).
# Uses build/test/mem-dirty (its SIGUSR2 check).  Prints "N passed, N failed".
set -u
cd "$(dirname "$0")/.." || exit 2
B=$PWD/build
CRTOOL=${CRTOOL:-$B/crtool}
PORT=${PAGE_SERVER_PORT:-27127}
pass=0
fail=0
work=$(mktemp -d /tmp/libcr-ps-XXXXXX)
pids=()
trap 'for p in ${pids[*]:-}; do kill -9 "$p"; done 2>/dev/null; rm -rf "$work"' EXIT

ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }

# start_prog OUT: mem-dirty in its own session, output to OUT; sets prog
start_prog() {
	setsid "$B/test/mem-dirty" --size 64 >"$1" 2>&1 </dev/null &
	prog=$!
	disown "$prog"
	pids+=("$prog")
	for _ in $(seq 100); do grep -qx READY "$1" 2>/dev/null && return 0; sleep 0.05; done
	return 1
}

# server DIR: a page server for one round into DIR; sets server
server() {
	rm -f "$work/server.out"
	"$CRTOOL" page-server --address 127.0.0.1 --port "$PORT" -D "$1" >"$work/server.out" 2>&1 &
	server=$!
	pids+=("$server")
	for _ in $(seq 100); do grep -q listening "$work/server.out" 2>/dev/null && return 0; sleep 0.05; done
	return 1
}

# restore_check DIR OUT: restore from DIR, ask the process to check itself
restore_check() {
	local pid=$2
	if ! "$CRTOOL" restore -D "$1" -d 2>"$work/err"; then
		echo "restore failed: $(cat "$work/err")"
		return 1
	fi
	kill -USR2 "$pid"
	for _ in $(seq 200); do grep -q '^PASS$\|^FAIL' "$3" && break; sleep 0.05; done
	grep -qx PASS "$3" || { grep '^FAIL' "$3" || echo "no answer from the restored process"; return 1; }
}

wait_gone() {
	for _ in $(seq 100); do [ -e "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null || return 0; sleep 0.05; done
	return 1
}

# 1. one dump over the page server
mkdir -p "$work/local" "$work/remote"
if ! start_prog "$work/out1"; then
	bad dump "mem-dirty did not start"
elif ! server "$work/remote"; then
	bad dump "the page server did not start: $(cat "$work/server.out")"
elif ! "$CRTOOL" dump -t "$prog" -D "$work/local" --page-server "127.0.0.1:$PORT" 2>"$work/err"; then
	bad dump "$(cat "$work/err")"
else
	wait "$server"
	st=$?
	wait_gone "$prog"
	if [ "$st" != 0 ]; then
		bad dump "the page server exited with $st: $(cat "$work/server.out")"
	elif ls "$work/local"/pages-*.img >/dev/null 2>&1 || ! ls "$work/remote"/pages-*.img >/dev/null 2>&1; then
		bad dump "pages-*.img should be in the server's dir only: local $(ls "$work/local" | tr '\n' ' '), remote $(ls "$work/remote" | tr '\n' ' ')"
	else
		cp "$work/local"/* "$work/remote"/
		if why=$(restore_check "$work/remote" "$prog" "$work/out1"); then
			ok "dump: pages through the page server ($(stat -c %s "$work/remote"/pages-*.img) bytes), restored from its dir"
		else
			bad dump "$why"
		fi
	fi
fi
kill -9 "$prog" 2>/dev/null

# 2. pre-dump rounds, each streamed to a page server writing into the round's dir
if "$CRTOOL" check 2>/dev/null | grep -q '^ *OK *dirty-tracking'; then
	mkdir -p "$work/r1" "$work/r2" "$work/r3"
	prev=()
	round_ok=1
	start_prog "$work/out2" || round_ok=0
	for r in 1 2 3; do
		[ "$round_ok" = 1 ] || break
		cmd=pre-dump
		[ "$r" = 3 ] && cmd=dump
		if ! server "$work/r$r"; then
			bad rounds "round $r: the page server did not start"
			round_ok=0
		elif ! "$CRTOOL" "$cmd" -t "$prog" -D "$work/r$r" "${prev[@]}" --page-server "127.0.0.1:$PORT" 2>"$work/err"; then
			bad rounds "round $r ($cmd): $(cat "$work/err")"
			round_ok=0
		elif ! wait "$server"; then
			bad rounds "round $r: the page server failed: $(cat "$work/server.out")"
			round_ok=0
		fi
		prev=(--prev-images-dir "$work/r$r")
		[ "$r" -lt 3 ] && kill -USR1 "$prog" && sleep 0.3
	done
	if [ "$round_ok" = 1 ]; then
		wait_gone "$prog"
		if why=$(restore_check "$work/r3" "$prog" "$work/out2"); then
			ok "rounds: pre-dump, pre-dump, dump over page servers; restored through the layers"
		else
			bad rounds "$why"
		fi
	fi
	kill -9 "$prog" 2>/dev/null
else
	echo "(no dirty-page tracking here: the pre-dump rounds are skipped)"
fi

# 3. errors: nothing listening; a server gone mid-round
mkdir -p "$work/e1" "$work/e2" "$work/e2s"
start_prog "$work/out3"
if "$CRTOOL" dump -t "$prog" -D "$work/e1" --page-server "127.0.0.1:$((PORT + 1))" 2>"$work/err"; then
	bad no-server "the dump succeeded without a page server"
elif ! grep -q "can't connect to the page server 127.0.0.1:$((PORT + 1))" "$work/err"; then
	bad no-server "unexpected message: $(cat "$work/err")"
elif ! kill -0 "$prog" 2>/dev/null || grep -q '^TracerPid:[[:space:]]*[1-9]' "/proc/$prog/status"; then
	bad no-server "the process is not running untraced after the failed dump"
else
	ok "no-server: refused: $(cat "$work/err")"
fi
# a "server" that takes the connection and closes it at once
rm -f "$work/server.out"
python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1); print("listening", flush=True)
c, _ = s.accept(); c.recv(100); c.close()' "$PORT" >"$work/server.out" 2>&1 &
pids+=("$!")
disown "$!"
for _ in $(seq 100); do grep -q listening "$work/server.out" 2>/dev/null && break; sleep 0.05; done
if "$CRTOOL" dump -t "$prog" -D "$work/e2" --page-server "127.0.0.1:$PORT" 2>"$work/err"; then
	bad server-gone "the dump succeeded though the page server went away"
elif ! grep -q "page server 127.0.0.1:$PORT" "$work/err"; then
	bad server-gone "unexpected message: $(cat "$work/err")"
elif ! kill -0 "$prog" 2>/dev/null || grep -q '^TracerPid:[[:space:]]*[1-9]' "/proc/$prog/status"; then
	bad server-gone "the process is not running untraced after the failed dump"
else
	kill -USR2 "$prog"
	for _ in $(seq 100); do grep -q '^PASS$\|^FAIL' "$work/out3" && break; sleep 0.05; done
	if grep -qx PASS "$work/out3"; then
		ok "server-gone: refused ($(cat "$work/err")), the process runs on intact"
	else
		bad server-gone "the process's own check after the failed dump: $(tail -1 "$work/out3")"
	fi
fi
kill -9 "$prog" 2>/dev/null
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]

#!/bin/bash
# test/real/memcached.sh: memcached (Debian's package, as the memcache user, its
# worker threads on libevent/epoll with notify pipes) with a live client, dumped
# and restored.
#
# A client (python3, memcached's text protocol on one TCP connection it never
# reopens) sends incr in a loop, one every 2 ms, and checks that every answer is
# the previous one plus 1; a 100 KB value stored before the first dump is read
# back after each step.  Meanwhile memcached is dumped with --tcp-established
# and restored, twice, then dumped with --leave-running.
# The client must see no error and no gap, and keep counting after each step.
# Prints "N passed, N failed".
set -u
cd "$(dirname "$0")/../.." || exit 2
CRTOOL=${CRTOOL:-$PWD/build/crtool}
PY=/usr/bin/python3
PORT=$((18000 + $$ % 1000))
T=$(mktemp -d /tmp/libcr-memcached-XXXXXX)
pass=0
fail=0
rpid=""
cpid=""
cleanup() {
	[ -n "$cpid" ] && kill -9 "$cpid" 2>/dev/null
	[ -n "$rpid" ] && kill -9 "$rpid" 2>/dev/null
	wait 2>/dev/null
	# the restored server is no child of ours: wait until it is gone
	for _ in $(seq 100); do [ -n "$rpid" ] && kill -0 "$rpid" 2>/dev/null && sleep 0.02; done
	[ -n "${KEEP:-}" ] && echo "kept $T" || rm -rf "$T"
}
trap cleanup EXIT
ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
finish() { echo "$pass passed, $fail failed"; [ "$fail" = 0 ]; exit; }

if ! command -v memcached >/dev/null || [ ! -x "$PY" ]; then
	bad memcached "memcached or python3 is not installed (make deps)"
	finish
fi
setsid memcached -u memcache -l 127.0.0.1 -p $PORT -m 64 </dev/null >"$T/memcached.out" 2>&1 &
rpid=$!
disown "$rpid"
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.05; done

cat >"$T/client.py" <<'PY'
import os, socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30)
f = s.makefile("rb")
big = bytes((i * 7) & 0xff for i in range(100000))
s.sendall(b"set libcr-big 0 0 %d\r\n" % len(big) + big + b"\r\nset libcr-counter 0 0 1\r\n0\r\n")
assert f.readline() == b"STORED\r\n" and f.readline() == b"STORED\r\n"
n = 0
try:
    while True:
        if n % 200 == 199:
            s.sendall(b"get libcr-big\r\n")
            if not f.readline().startswith(b"VALUE libcr-big") or f.read(len(big) + 2) != big + b"\r\n" or f.readline() != b"END\r\n":
                print("the big value differs after %d" % n, flush=True)
                sys.exit(1)
        s.sendall(b"incr libcr-counter 1\r\n")
        line = f.readline()
        if int(line) != n + 1:
            print("GAP after %d: %r" % (n, line), flush=True)
            sys.exit(1)
        n += 1
        with open(sys.argv[2] + ".tmp", "w") as o:
            o.write("%d\n" % n)
        os.replace(sys.argv[2] + ".tmp", sys.argv[2])
        time.sleep(0.002)
except Exception as e:
    print("ERROR after %d: %s: %s" % (n, type(e).__name__, e), flush=True)
    sys.exit(1)
PY
"$PY" "$T/client.py" $PORT "$T/count" >"$T/client.out" 2>&1 &
cpid=$!
disown "$cpid"
sleep 0.5

count() {
	local c
	c=$(cat "$T/count" 2>/dev/null)
	echo "${c:-0}"
}

# advancing NAME: the client counts on (and is alive, without complaint)
advancing() {
	local c0 c1
	c0=$(count)
	sleep 0.5
	c1=$(count)
	if ! kill -0 "$cpid" 2>/dev/null; then
		bad "$1" "the client stopped: $(cat "$T/client.out")"
		finish
	elif [ "$c1" -le "$c0" ]; then
		bad "$1" "the counter stays at $c1"
		finish
	else
		ok "$1: the client counts on ($c0 -> $c1), no error, no gap"
	fi
}

for round in 1 2; do
	mkdir "$T/img$round"
	if ! "$CRTOOL" dump -t "$rpid" -D "$T/img$round" --tcp-established 2>"$T/err"; then
		bad "memcached dump $round" "$(cat "$T/err")"
		finish
	fi
	sleep 0.3   # the client waits for its answer meanwhile
	if ! "$CRTOOL" restore -D "$T/img$round" -d 2>"$T/err"; then
		bad "memcached restore $round" "$(cat "$T/err")"
		finish
	fi
	advancing "memcached restore $round"
done
mkdir "$T/img3"
if ! "$CRTOOL" dump -t "$rpid" -D "$T/img3" --tcp-established --leave-running 2>"$T/err"; then
	bad "memcached leave-running" "$(cat "$T/err")"
	finish
fi
advancing "memcached leave-running"
# a lock of ours left (other dumps on this machine may hold theirs meanwhile)
if nft list ruleset 2>/dev/null | grep -q "127.0.0.1 \. $PORT \."; then
	bad memcached "a network lock of port $PORT is left: $(nft list ruleset | grep -B8 "127.0.0.1 \. $PORT \." | grep table)"
fi
finish

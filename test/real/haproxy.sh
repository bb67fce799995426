#!/bin/bash
# test/real/haproxy.sh: haproxy (Debian's package, master-worker mode as its
# service runs it: a master process and a worker with threads, epoll, socketpairs
# between them) proxying HTTP to a backend, with a live keep-alive client, dumped
# and restored.
#
# The backend (python3) answers each GET with a counter.  The client (python3,
# one HTTP/1.1 connection to haproxy it never reopens) asks every 5 ms and checks
# that each answer is the previous one plus 1.  haproxy's tree (master and
# worker) is dumped with --tcp-established (both the client's and the backend's
# connections) and restored, twice, then dumped with --leave-running.  The client
# must see no error and no gap.  Prints "N passed, N failed".
set -u
cd "$(dirname "$0")/../.." || exit 2
CRTOOL=${CRTOOL:-$PWD/build/crtool}
PY=/usr/bin/python3
PORT=$((19000 + $$ % 500))
BPORT=$((PORT + 500))
T=$(mktemp -d /tmp/libcr-haproxy-XXXXXX)
pass=0
fail=0
hpid=""
bpid=""
cpid=""
cleanup() {
	for p in $cpid $bpid $hpid; do kill -9 "$p" 2>/dev/null; done
	[ -n "$hpid" ] && pkill -9 -P "$hpid" 2>/dev/null
	wait 2>/dev/null
	for _ in $(seq 100); do [ -n "$hpid" ] && kill -0 "$hpid" 2>/dev/null && sleep 0.02; done
	[ -n "${KEEP:-}" ] && echo "kept $T" || rm -rf "$T"
}
trap cleanup EXIT
ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
finish() { echo "$pass passed, $fail failed"; [ "$fail" = 0 ]; exit; }

if ! command -v haproxy >/dev/null || [ ! -x "$PY" ]; then
	bad haproxy "haproxy or python3 is not installed (make deps)"
	finish
fi
cat >"$T/backend.py" <<'PY'
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
n = 0
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        global n
        n += 1
        b = b"%d" % n
        self.send_response(200)
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def log_message(self, *a):
        pass
HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
"$PY" "$T/backend.py" $BPORT >"$T/backend.out" 2>&1 &
bpid=$!
disown "$bpid"
cat >"$T/haproxy.cfg" <<CFG
global
	maxconn 256
	nbthread 2
defaults
	mode http
	timeout connect 5s
	timeout client 60s
	timeout server 60s
	timeout http-keep-alive 60s
frontend fe
	bind 127.0.0.1:$PORT
	default_backend be
backend be
	server b1 127.0.0.1:$BPORT
CFG
# -W: master-worker, as the Debian service runs it; -db: in the foreground
setsid haproxy -W -db -f "$T/haproxy.cfg" </dev/null >"$T/haproxy.out" 2>&1 &
hpid=$!
disown "$hpid"
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.05; done

cat >"$T/client.py" <<'PY'
import http.client, os, sys, time
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=30)
n = prev = 0
try:
    while True:
        c.request("GET", "/")
        r = c.getresponse()
        v = int(r.read())
        if r.status != 200 or (prev and v != prev + 1):
            print("GAP after %d: status %d value %d" % (prev, r.status, v), flush=True)
            sys.exit(1)
        prev = v
        n += 1
        with open(sys.argv[2] + ".tmp", "w") as o:
            o.write("%d\n" % n)
        os.replace(sys.argv[2] + ".tmp", sys.argv[2])
        time.sleep(0.005)
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
advancing() {
	local c0 c1
	c0=$(count)
	for _ in $(seq 50); do
		sleep 0.1
		c1=$(count)
		[ "$c1" -gt $((c0 + 3)) ] && break
	done
	if ! kill -0 "$cpid" 2>/dev/null; then
		bad "$1" "the client stopped: $(cat "$T/client.out")"
		finish
	elif [ "$c1" -le $((c0 + 3)) ]; then
		bad "$1" "the client stays at $c1"
		finish
	else
		ok "$1: the client counts on through haproxy ($c0 -> $c1), no error, no gap"
	fi
}

for round in 1 2; do
	mkdir "$T/img$round"
	if ! "$CRTOOL" dump -t "$hpid" -D "$T/img$round" --tcp-established 2>"$T/err"; then
		bad "haproxy dump $round" "$(cat "$T/err")"
		finish
	fi
	if ! "$CRTOOL" restore -D "$T/img$round" -d 2>"$T/err"; then
		bad "haproxy restore $round" "$(cat "$T/err")"
		finish
	fi
	advancing "haproxy restore $round"
done
mkdir "$T/img3"
if ! "$CRTOOL" dump -t "$hpid" -D "$T/img3" --tcp-established --leave-running 2>"$T/err"; then
	bad "haproxy leave-running" "$(cat "$T/err")"
	finish
fi
advancing "haproxy leave-running"
# a lock of ours left (other dumps on this machine may hold theirs meanwhile)
if nft list ruleset 2>/dev/null | grep -q "127.0.0.1 \. $PORT \."; then
	bad haproxy "a network lock of port $PORT is left"
fi
finish

#!/bin/bash
# test/real/dnsmasq.sh: dnsmasq (Debian's package: it drops to the dnsmasq user)
# answering DNS over UDP and TCP, with live clients, dumped and restored.
#
# dnsmasq serves a name from an extra hosts file; it holds UDP and TCP listening
# sockets, a netlink route socket and a pipe, and forks a child for each TCP
# client.  A client (python3) asks every 5 ms, alternating over one UDP socket
# and one TCP connection (served by that child), reopened only when dnsmasq
# closes it after its 100 questions per connection, and checks each answer.
# The tree is dumped with --tcp-established and restored, twice, then dumped
# with --leave-running.  The client must see no error; at the end a name added
# to the hosts file is served after SIGHUP (the restored dnsmasq reads its files
# again; SIGHUP ends dnsmasq's TCP children, as it does unchecked).
# Prints "N passed, N failed".
set -u
cd "$(dirname "$0")/../.." || exit 2
CRTOOL=${CRTOOL:-$PWD/build/crtool}
PY=/usr/bin/python3
PORT=$((20000 + $$ % 1000))
T=$(mktemp -d /tmp/libcr-dnsmasq-XXXXXX)
chmod 755 "$T"
pass=0
fail=0
dpid=""
cpid=""
cleanup() {
	[ -n "$cpid" ] && kill -9 "$cpid" 2>/dev/null
	if [ -n "$dpid" ]; then
		pkill -9 -P "$dpid" 2>/dev/null
		kill -9 "$dpid" 2>/dev/null
	fi
	wait 2>/dev/null
	for _ in $(seq 100); do [ -n "$dpid" ] && kill -0 "$dpid" 2>/dev/null && sleep 0.02; done
	[ -n "${KEEP:-}" ] && echo "kept $T" || rm -rf "$T"
}
trap cleanup EXIT
ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
finish() { echo "$pass passed, $fail failed"; [ "$fail" = 0 ]; exit; }

if ! command -v dnsmasq >/dev/null || ! id dnsmasq >/dev/null 2>&1 || [ ! -x "$PY" ]; then
	bad dnsmasq "dnsmasq or python3 is not installed (make deps)"
	finish
fi
echo "10.9.8.7 libcr-host.lan" >"$T/hosts"
chmod 644 "$T/hosts"
setsid dnsmasq -k --conf-file=/dev/null --port=$PORT --listen-address=127.0.0.1 --bind-interfaces \
	--no-resolv --no-hosts --addn-hosts="$T/hosts" </dev/null >"$T/dnsmasq.out" 2>&1 &
dpid=$!
disown "$dpid"

cat >"$T/dns.py" <<'PY'
import os, socket, struct, sys, time
def query(name, qid):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for part in name.split("."):
        q += bytes([len(part)]) + part.encode()
    return q + b"\0" + struct.pack(">HH", 1, 1)
def ip_of(r, qid):
    rid, flags, qd, an = struct.unpack(">HHHH", r[:8])
    if rid != qid or an < 1:
        raise Exception("answer %d to query %d has %d records" % (rid, qid, an))
    return socket.inet_ntoa(r[-4:])
def recv_all(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise Exception("the TCP connection was closed")
        b += c
    return b
port = int(sys.argv[1])
if sys.argv[2] == "ask":   # one UDP question: NAME
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.sendto(query(sys.argv[3], 9), ("127.0.0.1", port))
    print(ip_of(s.recv(512), 9))
    sys.exit(0)
def connect():
    for _ in range(100):
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=30)
        except OSError:
            time.sleep(0.05)
    raise Exception("can't connect over TCP")
# dnsmasq closes a TCP connection after 100 questions (TCP_MAX_QUERIES in its
# config.h): then, and only then, the client connects again
TCP_MAX_QUERIES = 100
t = connect()
on_t = 0
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
n = 0
try:
    while True:
        qid = n % 60000 + 1
        if n % 2:
            if on_t == TCP_MAX_QUERIES:
                if t.recv(1) != b"":
                    raise Exception("dnsmasq answered more than %d questions on one connection" % on_t)
                t.close()
                t = connect()
                on_t = 0
            q = query("libcr-host.lan", qid)
            t.sendall(struct.pack(">H", len(q)) + q)
            r = recv_all(t, struct.unpack(">H", recv_all(t, 2))[0])
            on_t += 1
        else:
            # a lost datagram is asked again (UDP), but must be answered within 5 s
            for attempt in range(25):
                u.settimeout(0.2)
                u.sendto(query("libcr-host.lan", qid), ("127.0.0.1", port))
                try:
                    r = u.recv(512)
                    break
                except socket.timeout:
                    continue
            else:
                raise Exception("no UDP answer in 5 s")
        if ip_of(r, qid) != "10.9.8.7":
            raise Exception("wrong address")
        n += 1
        with open(sys.argv[3] + ".tmp", "w") as o:
            o.write("%d\n" % n)
        os.replace(sys.argv[3] + ".tmp", sys.argv[3])
        time.sleep(0.005)
except Exception as e:
    print("ERROR after %d: %s: %s" % (n, type(e).__name__, e), flush=True)
    sys.exit(1)
PY
"$PY" "$T/dns.py" $PORT loop "$T/count" >"$T/client.out" 2>&1 &
cpid=$!
disown "$cpid"
sleep 0.7

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
		ok "$1: the client's UDP and TCP questions are answered ($c0 -> $c1)"
	fi
}
advancing "dnsmasq before"

for round in 1 2; do
	mkdir "$T/img$round"
	if ! "$CRTOOL" dump -t "$dpid" -D "$T/img$round" --tcp-established 2>"$T/err"; then
		bad "dnsmasq dump $round" "$(cat "$T/err")"
		finish
	fi
	if ! "$CRTOOL" restore -D "$T/img$round" -d 2>"$T/err"; then
		bad "dnsmasq restore $round" "$(cat "$T/err")"
		finish
	fi
	advancing "dnsmasq restore $round"
done
mkdir "$T/img3"
if ! "$CRTOOL" dump -t "$dpid" -D "$T/img3" --tcp-established --leave-running 2>"$T/err"; then
	bad "dnsmasq leave-running" "$(cat "$T/err")"
	finish
fi
advancing "dnsmasq leave-running"
echo "10.9.8.8 libcr-new.lan" >>"$T/hosts"
kill -HUP "$dpid"
sleep 0.3
got=$("$PY" "$T/dns.py" $PORT ask libcr-new.lan 2>&1)
if [ "$got" = 10.9.8.8 ]; then
	ok "dnsmasq SIGHUP: the restored dnsmasq reads its hosts file again"
else
	bad "dnsmasq SIGHUP" "libcr-new.lan is '$got'"
fi
if nft list ruleset 2>/dev/null | grep -q "127.0.0.1 \. $PORT \."; then
	bad dnsmasq "a network lock of port $PORT is left"
fi
finish

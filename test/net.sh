#!/bin/bash
# test/net.sh: a TCP stream of 100 MB across a veth pair between two network
# namespaces (created here, removed at the end); the server's side is dumped
# and restored mid-stream (then once more with --leave-running).
#
# Namespace A holds a python3 server that reads the stream and answers with
# its byte count and SHA-256; namespace B a python3 client sending 100 MB of a
# seeded PRNG stream at about 40 MB/s.  crtool runs inside A (sock_diag and
# the network lock work in its namespace).  The client must see no error (no
# reset, no timeout) and the server's count and checksum must equal the
# client's; once more over IPv6, and over an IPv6 link-local address (its
# interface, the socket's bound device, comes back with it).  Then a parent and its child, talking over a loopback connection in
# namespace A, are dumped together and restored: they go on counting.
# The dump-and-restore round runs again with the iptables fallback of
# the network lock (CR_NETLOCK=iptables), and so does ns-tcpnest --root-ns (a
# lock in each nested network namespace).  Prints "N passed, N failed".
set -u
cd "$(dirname "$0")/.." || exit 2
CRTOOL=${CRTOOL:-$PWD/build/crtool}
PY=/usr/bin/python3
NA=crnetA$$
NB=crnetB$$
T=$(mktemp -d /tmp/libcr-net-XXXXXX)
pass=0
fail=0
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	[ -s "$T/pid" ] && kill -9 "$(cat "$T/pid")" 2>/dev/null
	wait 2>/dev/null
	ip netns del "$NA" 2>/dev/null
	ip netns del "$NB" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
finish() { echo "$pass passed, $fail failed"; [ "$fail" = 0 ]; exit; }

if ! ip netns add "$NA" || ! ip netns add "$NB" || ! ip link add vA$$ netns "$NA" type veth peer name vB$$ netns "$NB" ||
	! ip -n "$NA" addr add 10.77.0.1/24 dev vA$$ || ! ip -n "$NB" addr add 10.77.0.2/24 dev vB$$ ||
	! ip -n "$NA" -6 addr add fd77::1/64 dev vA$$ nodad || ! ip -n "$NB" -6 addr add fd77::2/64 dev vB$$ nodad ||
	! ip -n "$NA" -6 addr add fe80::77:1/64 dev vA$$ nodad || ! ip -n "$NB" -6 addr add fe80::77:2/64 dev vB$$ nodad ||
	! ip -n "$NA" link set vA$$ up || ! ip -n "$NB" link set vB$$ up || ! ip -n "$NA" link set lo up; then
	bad net "can't set up the namespaces and the veth pair"
	finish
fi

cat >"$T/server.py" <<'PY'
import hashlib, socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[2] else socket.AF_INET
ls = socket.socket(fam)
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
# through getaddrinfo: a link-local address's %interface becomes its scope id
ls.bind(socket.getaddrinfo(sys.argv[2], int(sys.argv[1]), fam, socket.SOCK_STREAM)[0][4])
ls.listen(1)
print("LISTENING", flush=True)
c, _ = ls.accept()
h, n = hashlib.sha256(), 0
while True:
    b = c.recv(1 << 16)
    if not b:
        break
    h.update(b)
    n += len(b)
c.sendall(("%d %s\n" % (n, h.hexdigest())).encode())
c.close()
PY
cat >"$T/client.py" <<'PY'
import hashlib, random, socket, sys, time
total, rate = 100 << 20, 40 << 20
r = random.Random(int(sys.argv[1]))
s = socket.create_connection((sys.argv[3], int(sys.argv[2])), timeout=60)
h, sent, t0 = hashlib.sha256(), 0, time.monotonic()
try:
    while sent < total:
        b = r.randbytes(1 << 18)
        s.sendall(b)
        h.update(b)
        sent += len(b)
        ahead = sent / rate - (time.monotonic() - t0)
        if ahead > 0:
            time.sleep(ahead)
    s.shutdown(socket.SHUT_WR)
    got = s.makefile().readline().split()
except Exception as e:
    print("ERROR %s after %d bytes: %s" % (type(e).__name__, sent, e), flush=True)
    sys.exit(1)
want = [str(sent), h.hexdigest()]
print("OK" if got == want else "MISMATCH server %s client %s" % (got, want), flush=True)
PY

# round MODE [ADDR [CLIENT_ADDR]]: one transfer; the server is dumped mid-stream
# (restore: killed and restored; leave-running: left running).  A link-local
# address names its interface, which differs on each side: CLIENT_ADDR.
port=5555
round() {
	local mode=$1 addr=${2:-10.77.0.1} spid cpid i
	local caddr=${3:-$addr}
	port=$((port + 1))   # each round its own: the last one's server may still be closing
	# emptied here: the background start truncates it only when it runs, and the last
	# round's LISTENING must not send the client to a server not listening yet
	: >"$T/server.out"
	setsid ip netns exec "$NA" "$PY" "$T/server.py" $port "$addr" </dev/null >"$T/server.out" 2>&1 &
	spid=$!
	disown "$spid"
	pids+=("$spid")
	for ((i = 0; i < 100; i++)); do grep -q LISTENING "$T/server.out" && break; sleep 0.05; done
	ip netns exec "$NB" "$PY" "$T/client.py" "$RANDOM" $port "$caddr" >"$T/client.out" 2>&1 &
	cpid=$!
	pids+=("$cpid")
	sleep 1   # about 40 MB on the wire
	rm -rf "$T/img"
	mkdir "$T/img"
	local args=(dump -t "$spid" -D "$T/img" --tcp-established)
	[ "$mode" = leave-running ] && args+=(--leave-running)
	if ! ip netns exec "$NA" "$CRTOOL" "${args[@]}" 2>"$T/err"; then
		bad "net $mode${CR_NETLOCK:+ ($CR_NETLOCK lock)}${2:+ over $2}" "dump failed: $(cat "$T/err") (server: $(cat "$T/server.out"))"
		return
	fi
	if [ "$mode" = restore ]; then
		for ((i = 0; i < 100; i++)); do kill -0 "$spid" 2>/dev/null || break; sleep 0.02; done
		sleep 0.5   # the client keeps sending into the lock meanwhile
		if ! ip netns exec "$NA" "$CRTOOL" restore -D "$T/img" -d --pidfile "$T/pid" 2>"$T/err"; then
			bad "net $mode${CR_NETLOCK:+ ($CR_NETLOCK lock)}${2:+ over $2}" "restore failed: $(cat "$T/err")"
			return
		fi
	fi
	wait "$cpid"
	# the server (restored: no child of ours) answers and exits
	for ((i = 0; i < 250; i++)); do kill -0 "$spid" 2>/dev/null || break; sleep 0.02; done
	kill -9 "$spid" 2>/dev/null
	local out
	out=$(cat "$T/client.out")
	if [ "$out" = OK ]; then
		ok "net $mode${CR_NETLOCK:+ ($CR_NETLOCK lock)}${2:+ over $2}: 100 MB across the veth pair, checksum equal, no reset"
	else
		bad "net $mode${CR_NETLOCK:+ ($CR_NETLOCK lock)}${2:+ over $2}" "client: $out"
	fi
	if ip netns exec "$NA" nft list tables 2>/dev/null | grep -q libcr_; then
		bad "net $mode" "a network lock is left in the namespace"
	fi
}

if [ ! -x "$PY" ]; then
	bad net "$PY is not installed"
	finish
fi
round restore
round leave-running
round restore fd77::1
round restore "fe80::77:1%vA$$" "fe80::77:1%vB$$"
# two processes of one tree talking over a loopback connection in namespace A
cat >"$T/pair.py" <<'PY'
import os, socket, sys, time
ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(1)
if os.fork() == 0:
    c = socket.create_connection(ls.getsockname())
    f = c.makefile("rb")
    while True:
        n = int(f.readline())
        c.sendall(b"%d\n" % (n + 1))
s, _ = ls.accept()
f = s.makefile("rb")
n = 0
while True:
    s.sendall(b"%d\n" % n)
    m = int(f.readline())
    if m != n + 1:
        print("GAP %d -> %d" % (n, m), flush=True)
        sys.exit(1)
    n = m + 1
    with open(sys.argv[1] + ".tmp", "w") as o:
        o.write("%d\n" % n)
    os.replace(sys.argv[1] + ".tmp", sys.argv[1])
    time.sleep(0.001)
PY
pair_count() { local c; c=$(cat "$T/pair.count" 2>/dev/null); echo "${c:-0}"; }
setsid ip netns exec "$NA" "$PY" "$T/pair.py" "$T/pair.count" </dev/null >"$T/pair.out" 2>&1 &
ppid_=$!
disown "$ppid_"
pids+=("$ppid_")
sleep 0.5
mkdir "$T/pimg"
if ! ip netns exec "$NA" "$CRTOOL" dump -t "$ppid_" -D "$T/pimg" --tcp-established 2>"$T/err"; then
	bad "net tree" "dump failed: $(cat "$T/err")"
else
	before=$(pair_count)
	for ((i = 0; i < 100; i++)); do kill -0 "$ppid_" 2>/dev/null || break; sleep 0.02; done
	if ! ip netns exec "$NA" "$CRTOOL" restore -D "$T/pimg" -d 2>"$T/err"; then
		bad "net tree" "restore failed: $(cat "$T/err")"
	else
		sleep 1
		after=$(pair_count)
		if ! kill -0 "$ppid_" 2>/dev/null; then
			bad "net tree" "the restored pair stopped: $(cat "$T/pair.out")"
		elif [ "$after" -le $((before + 10)) ]; then
			bad "net tree" "the pair counts from $before to only $after in 1 s after restore"
		else
			ok "net tree: parent and child of one tree keep talking over their connection ($before -> $after)"
		fi
	fi
fi
kill -9 "$ppid_" $(pgrep -P "$ppid_") 2>/dev/null

# the iptables fallback of the network lock (iptables-restore)
if command -v iptables-restore >/dev/null; then
	export CR_NETLOCK=iptables
	round restore
	unset CR_NETLOCK
	if ip netns exec "$NA" iptables -S 2>/dev/null | grep -q libcr_; then
		bad "net iptables" "an iptables chain of the lock is left"
	fi
	# and its parts in nested network namespaces (ns-tcpnest: the root's own, two nested)
	if CR_NETLOCK=iptables "$PWD/build/test/runner" --crtool "$CRTOOL" --mode restore,leave-running \
		--dump-arg --tcp-established -- ns-tcpnest --root-ns >"$T/tcpnest.out" 2>&1; then
		ok "net iptables: connections in nested network namespaces, locked in each"
	else
		bad "net iptables" "ns-tcpnest --root-ns: $(grep -E 'FAIL|Error' "$T/tcpnest.out" | head -3)"
	fi
fi
finish

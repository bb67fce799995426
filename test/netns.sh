#!/bin/bash
# test/netns.sh: a server in a network namespace of its own, reached from the
# host through a veth pair whose peer is the host's (crtool runs in the host).
#
# The namespace (ip netns add) has lo, eth0 (10.88.0.2/24, fd88::2/64) and a
# route; the host's end is lcrvN (10.88.0.1/24).  A python3 echo server runs in
# the namespace (nsenter --net: no other namespace), a python3 client in the
# host sends a numbered line every 50 ms over one TCP connection and checks
# each echo.
#   leave-running  dump --leave-running --tcp-established --external
#                  veth[eth0]:lcrvN: the lock is inside the namespace (no host
#                  rule), the client goes on
#   restore        dump (the server dies; its namespace is removed, the veth
#                  pair with it), restore: a new namespace with eth0 again, its
#                  peer lcrvN made in the host; the host end gets its address
#                  back and the client's connection goes on, no reset
#   external       a namespace named by the caller: dump with --external
#                  net[INODE]:KEY (only the key is saved), restore into the
#                  namespace given by --external net[KEY]:/run/netns/...
# Prints "N passed, N failed".
set -u
cd "$(dirname "$0")/.." || exit 2
CRTOOL=${CRTOOL:-$PWD/build/crtool}
PY=/usr/bin/python3
NS=crnetns$$
HV=lcrv$$
T=$(mktemp -d /tmp/libcr-netns-XXXXXX)
pass=0
fail=0
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	[ -s "$T/restored.pid" ] && kill -9 "$(cat "$T/restored.pid")" 2>/dev/null
	{ wait; } 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	ip netns del "${NS}x" 2>/dev/null
	ip link del "$HV" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() {
	echo "FAIL $1: $2"
	fail=$((fail + 1))
	[ -s "$T/err" ] && sed 's/^/    /' "$T/err" | tail -n 15
	[ -s "$T/client.out" ] && sed 's/^/    client: /' "$T/client.out" | tail -n 5
}
finish() { echo "$pass passed, $fail failed"; [ "$fail" = 0 ]; exit; }

if ! command -v nsenter >/dev/null || ! [ -x "$PY" ]; then
	bad netns "nsenter (util-linux) and python3 are needed"
	finish
fi

# make_ns NAME: the namespace, its veth to the host, addresses, a route
make_ns() {
	ip netns add "$1" && ip link add "$HV" type veth peer name eth0 netns "$1" &&
		ip addr add 10.88.0.1/24 dev "$HV" && ip link set "$HV" up &&
		ip -n "$1" link set lo up && ip -n "$1" addr add 10.88.0.2/24 dev eth0 &&
		ip -n "$1" -6 addr add fd88::2/64 dev eth0 nodad && ip -n "$1" link set eth0 up &&
		ip -n "$1" route add 10.99.0.0/16 via 10.88.0.1
}

cat >"$T/server.py" <<'PY'
import os, socket, sys
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("10.88.0.2", 7777))
ls.listen(1)
with open(sys.argv[1], "w") as f:
    f.write("%d\n" % os.getpid())
c, _ = ls.accept()
while True:
    b = c.recv(4096)
    if not b:
        break
    c.sendall(b)
PY
cat >"$T/client.py" <<'PY'
import socket, sys, time
s = socket.create_connection(("10.88.0.2", 7777), timeout=60)
n = 0
while True:
    line = b"line %d\n" % n
    s.sendall(line)
    got = b""
    while len(got) < len(line):
        b = s.recv(len(line) - len(got))
        if not b:
            print("EOF after", n, flush=True)
            sys.exit(1)
        got += b
    if got != line:
        print("bad echo", got, flush=True)
        sys.exit(1)
    n += 1
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write("%d\n" % n)
    import os
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    time.sleep(0.05)
PY

count() { cat "$T/count" 2>/dev/null || echo 0; }
# advanced BY SECONDS: the client's count grows by BY within SECONDS
advanced() {
	local start end
	start=$(count)
	end=$((SECONDS + $2))
	while [ $SECONDS -lt $end ]; do
		[ $(($(count) - start)) -ge "$1" ] && return 0
		kill -0 "$CLIENT" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# start_pair NS: the server in namespace NS and the client in the host
start_pair() {
	rm -f "$T/server.pid" "$T/count"
	# not jobs of ours (the dump kills the server: no "Killed" notices)
	(nsenter --net="/run/netns/$1" setsid "$PY" "$T/server.py" "$T/server.pid" </dev/null >/dev/null 2>&1 &)
	for _ in $(seq 100); do [ -s "$T/server.pid" ] && break; sleep 0.05; done
	SERVER=$(cat "$T/server.pid")
	pids+=("$SERVER")
	("$PY" "$T/client.py" "$T/count" >"$T/client.out" 2>&1 & echo $! >"$T/client.pid")
	CLIENT=$(cat "$T/client.pid")
	pids+=("$CLIENT")
	advanced 10 10
}

if ! make_ns "$NS"; then
	bad netns "can't set up the namespace and the veth pair"
	finish
fi
if ! start_pair "$NS"; then
	bad netns "the server and client did not start"
	finish
fi

# ---- leave-running: locked inside the namespace, unlocked, the client goes on
name=leave-running
mkdir "$T/d0"
if ! "$CRTOOL" dump -t "$SERVER" -D "$T/d0" --leave-running --tcp-established --external "veth[eth0]:$HV" -v \
	>"$T/err" 2>&1; then
	bad $name "crtool dump --leave-running failed"
elif ! grep -q "in the tree's network namespace" "$T/err"; then
	bad $name "the lock was not taken inside the tree's namespace"
elif lock=$(grep -o 'nft:libcr_[a-z0-9_]*' "$T/err" | head -n 1) &&
	nft list tables 2>/dev/null | grep -qw "${lock#nft:}"; then
	# (other runs on this host may hold locks of their own: only ours counts)
	bad $name "the lock ${lock#nft:} is in the host's nftables"
elif ! advanced 20 10; then
	bad $name "the client did not go on after the dump ($(count) lines)"
else
	ok $name
fi

# ---- restore: the namespace is gone with the server, a new one comes back
name=restore
mkdir "$T/d1"
if ! "$CRTOOL" dump -t "$SERVER" -D "$T/d1" --tcp-established --external "veth[eth0]:$HV" >"$T/err" 2>&1; then
	bad $name "crtool dump failed"
	finish
fi
for _ in $(seq 100); do kill -0 "$SERVER" 2>/dev/null || break; sleep 0.05; done
ip netns del "$NS"
for _ in $(seq 100); do ip link show "$HV" >/dev/null 2>&1 || break; sleep 0.05; done
before=$(count)
if ! "$CRTOOL" restore -D "$T/d1" -d --pidfile "$T/restored.pid" -v >"$T/err" 2>&1; then
	bad $name "crtool restore failed"
	finish
fi
R=$(cat "$T/restored.pid")
if ! ip link show "$HV" >/dev/null 2>&1; then
	bad $name "the veth's peer $HV is not in the host after the restore"
	finish
fi
# the host's end is the caller's to configure again (as a runtime's network setup does)
ip addr add 10.88.0.1/24 dev "$HV" && ip link set "$HV" up
inside=$(nsenter -t "$R" -n ip -o addr show dev eth0 2>&1)
route=$(nsenter -t "$R" -n ip route show 10.99.0.0/16 2>&1)
if [ "$(readlink /proc/$R/ns/net)" = "$(readlink /proc/self/ns/net)" ]; then
	bad $name "the restored server is in the host's network namespace"
elif [[ "$inside" != *10.88.0.2/24* || "$inside" != *fd88::2/64* ]]; then
	bad $name "eth0 lost its addresses: $inside"
elif [[ "$route" != *"via 10.88.0.1"* ]]; then
	bad $name "the route is gone: $route"
elif ! advanced 20 30; then
	bad $name "the client did not go on after the restore ($before -> $(count) lines)"
else
	ok $name
fi
kill -9 "$R" "$CLIENT" 2>/dev/null
rm -f "$T/restored.pid"
for _ in $(seq 100); do ip link show "$HV" >/dev/null 2>&1 || break; sleep 0.05; done

# ---- external: the caller's namespace, named at dump and given at restore
name=external
if ! make_ns "${NS}x" || ! start_pair "${NS}x"; then
	bad $name "can't start the server in namespace ${NS}x"
	finish
fi
ino=$(stat -L -c %i "/run/netns/${NS}x")
mkdir "$T/d2"
if ! "$CRTOOL" dump -t "$SERVER" -D "$T/d2" --tcp-established --external "net[$ino]:extNetNS" -v >"$T/err" 2>&1; then
	bad $name "crtool dump failed"
elif ! grep -q "in the tree's network namespace" "$T/err"; then
	bad $name "the lock was not taken inside the tree's namespace"
elif ! "$CRTOOL" restore -D "$T/d2" -d --pidfile "$T/restored.pid" --external "net[extNetNS]:/run/netns/${NS}x" \
	>"$T/err" 2>&1; then
	bad $name "crtool restore failed"
elif [ "$(stat -L -c %i /proc/"$(cat "$T/restored.pid")"/ns/net)" != "$ino" ]; then
	bad $name "the restored server is not in namespace ${NS}x"
elif nsenter --net="/run/netns/${NS}x" nft list tables 2>/dev/null | grep -q libcr_; then
	bad $name "a lock is left in the namespace"
elif ! advanced 20 30; then
	bad $name "the client did not go on after the restore ($(count) lines)"
else
	ok $name
fi
finish

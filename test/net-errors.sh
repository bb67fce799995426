#!/bin/bash
# test/net-errors.sh: the network error paths.  Each case checks crtool's one
# "Error: " line, that the target runs on untouched where the dump failed, and
# that no network lock (nftables table or iptables chain named libcr_*) is left.
#
#   odd-socket, packet-socket  the dump names pid, fd, family, type and protocol (a packet
#              socket: that it has a ring)
#   tcp-not-asked              established connections without --tcp-established:
#                              the dump names them
#   tcp-in-flight-not-asked    a connection to a server outside the tree, in flight
#                              (SCM_RIGHTS) on a unix socket's queue, without
#                              --tcp-established: named with the fd of that queue
#   tcp-in-flight-outside      (not an error) the same dumped with --tcp-established
#                              and restored: it talks with the server again
#   tcp-in-flight-unrelated    a connection in flight on the queue of a process outside
#                              the tree is locked during a dump (nobody holds it: it
#                              might have been the tree's) and released after it
#   tcp-in-flight-unsent       --tcp-established, a connection in flight with bytes it
#                              has not sent yet: refused (out of reach once restored)
#   failed-dump-unlocks        --tcp-established, then a UDP-Lite socket fails the dump
#                              after the lock was taken: lock gone, connection works
#   missing-address            a connection over 10.99.0.1, an address gone
#                              before the restore: the restore names
#                              the address, leaves no process and no lock
#                              (10.99.0.1/32 is on lo for the dump only)
#   sigterm                    crtool gets SIGTERM while its lock is held: the
#                              lock is gone, the target's connection works
#   tcp-close                  (not an error) restore --tcp-close: the ends come
#                              back as closed sockets, the listener listens
# Prints "PASS name" / "FAIL name: why", then "N passed, N failed".
set -u
cd "$(dirname "$0")/.." || exit 2
CRTOOL=${CRTOOL:-$PWD/build/crtool}
BIN=${TEST_BIN:-$PWD/build/test}
T=$(mktemp -d /tmp/libcr-net-errors-XXXXXX) || exit 2
PIDS=()
passed=0
failed=0

cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill -9 "$p" 2>/dev/null
	done
	wait 2>/dev/null
	ip addr del 10.99.0.1/32 dev lo 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() {
	echo "FAIL $1: $2"
	failed=$((failed + 1))
	[ -s "$T/err" ] && sed 's/^/    /' "$T/err" | head -n 10
}

# start TAG ARGS: sk-errors in its own session, stdin a fifo, wait for READY; sets PID
start() {
	local tag=$1 i
	shift
	mkfifo "$T/$tag.fifo"
	: >"$T/$tag.out"
	setsid "$BIN/${START_PROG:-sk-errors}" "$@" <>"$T/$tag.fifo" >"$T/$tag.out" 2>&1 &
	PID=$!
	disown "$PID"
	PIDS+=("$PID")
	for ((i = 0; i < 200; i++)); do
		grep -qx READY "$T/$tag.out" && return 0
		sleep 0.025
	done
	return 1
}

# check TAG: CHECK, then PASS from it
check() {
	local i
	echo CHECK >"$T/$1.fifo"
	for ((i = 0; i < 200; i++)); do
		grep -q '^\(PASS\|FAIL\)' "$T/$1.out" && break
		sleep 0.025
	done
	grep -qx PASS "$T/$1.out"
}

crt() {
	timeout 60 "$CRTOOL" "$@" >"$T/out" 2>"$T/err" </dev/null
	RC=$?
}

# expect_error NAME WORDS...: failed with one "Error: " line holding every word
expect_error() {
	local name=$1 w line
	shift
	[ "$RC" = 0 ] && { fail "$name" "crtool exited 0"; return 1; }
	[ "$RC" -ge 124 ] && { fail "$name" "crtool timed out or died (status $RC)"; return 1; }
	line=$(grep -m1 '^Error: ' "$T/err")
	for w in "$@"; do
		case "$line" in
		*"$w"*) ;;
		*) fail "$name" "message lacks '$w': $line"; return 1 ;;
		esac
	done
	[ "$(grep -c '' "$T/err")" = 1 ] || { fail "$name" "more than one line on stderr"; return 1; }
}

no_lock() {
	if nft list tables 2>/dev/null | grep -q libcr_ || iptables -S 2>/dev/null | grep -q libcr_; then
		fail "$1" "a network lock is left: $(nft list tables 2>/dev/null | grep libcr_)"
		return 1
	fi
}

running_untraced() {
	[ -r "/proc/$1/status" ] && awk '/^State:/ {s=$2} /^TracerPid:/ {t=$2} END {exit !(s !~ /[tTZX]/ && t == 0)}' \
		"/proc/$1/status"
}

# survived NAME TAG: the target runs freely, passes its check, no lock is left
survived() {
	if ! running_untraced "$PID"; then
		fail "$1" "the target is not running freely after the failed dump"
	elif ! check "$2"; then
		fail "$1" "the target failed its check: $(tr '\n' ' ' <"$T/$2.out")"
	elif no_lock "$1"; then
		pass "$1"
	fi
	kill -9 "$PID" 2>/dev/null
	wait "$PID" 2>/dev/null
}

if [ ! -x "$CRTOOL" ] || [ ! -x "$BIN/sk-errors" ]; then
	echo "FAIL net-errors: no crtool or sk-errors"
	echo "0 passed, 1 failed"
	exit 1
fi

for kind in odd packet; do
	name=$kind-socket
	if start "$name" --"$kind"; then
		mkdir "$T/d-$name"
		crt dump -t "$PID" -D "$T/d-$name"
		if [ $kind = odd ]; then words=("AF_INET" "SOCK_DGRAM" "protocol 136"); else words=("packet socket with a ring" "PACKET_RX_RING"); fi
		expect_error "$name" "pid $PID" "fd 9" "${words[@]}" "can't be checkpointed" && survived "$name" "$name"
	else
		fail "$name" "sk-errors did not start: $(cat "$T/$name.out")"
	fi
done

if start tcp-not-asked --conn; then
	mkdir "$T/d-tcp"
	crt dump -t "$PID" -D "$T/d-tcp"
	expect_error tcp-not-asked "2 established TCP connections" "pid $PID" "127.0.0.1:" "--tcp-established" &&
		survived tcp-not-asked tcp-not-asked
else
	fail tcp-not-asked "sk-errors did not start"
fi

# a server outside the tree: "pong" for "ping", on each connection
python3 -c '
import socket, sys, threading
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1]))
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
def serve(c):
    while True:
        d = c.recv(64)
        if not d:
            return
        if d == b"ping":
            c.sendall(b"pong")
while True:
    threading.Thread(target=serve, args=(s.accept()[0],), daemon=True).start()
' "$T/server.port" >/dev/null 2>&1 &
PIDS+=($!)
for ((i = 0; i < 200; i++)); do [ -s "$T/server.port" ] && break; sleep 0.025; done
SPORT=$(cat "$T/server.port" 2>/dev/null)

if [ -n "$SPORT" ] && START_PROG=sk-rights-inet start tcp-flying --outside "$SPORT"; then
	mkdir "$T/d-tcp-flying"
	crt dump -t "$PID" -D "$T/d-tcp-flying"
	expect_error tcp-in-flight-not-asked "pid $PID: fd 11: an established TCP connection (127.0.0.1:" \
		"-> 127.0.0.1:$SPORT) is in flight (SCM_RIGHTS)" "--tcp-established" && no_lock tcp-in-flight-not-asked &&
		survived tcp-in-flight-not-asked tcp-flying
else
	fail tcp-in-flight-not-asked "the server or sk-rights-inet did not start"
fi

# a process outside the tree with a connection in flight on its own queue, taken
# and used once told to ("go"): "ok" if the server answers
python3 -c '
import os, socket, sys, time
port, f = int(sys.argv[1]), sys.argv[2]
a, b = socket.socketpair()
c = socket.create_connection(("127.0.0.1", port))
socket.send_fds(a, [b"x"], [c.fileno()])
c.close()
open(f + ".ready", "w").close()
while not os.path.exists(f + ".go"):
    time.sleep(0.02)
_, fds, _, _ = socket.recv_fds(b, 16, 1)
c = socket.socket(fileno=fds[0])
c.settimeout(3)
try:
    c.sendall(b"ping")
    r = "ok" if c.recv(4) == b"pong" else "wrong answer"
except OSError as e:
    r = str(e)
open(f + ".tmp", "w").write(r)
os.rename(f + ".tmp", f + ".result")
' "$SPORT" "$T/unrelated" >/dev/null 2>&1 &
PIDS+=($!)
for ((i = 0; i < 200; i++)); do [ -e "$T/unrelated.ready" ] && break; sleep 0.025; done
if [ -n "$SPORT" ] && [ -e "$T/unrelated.ready" ] && START_PROG=sk-rights-inet start tcp-unrelated --tcp; then
	mkdir "$T/d-unrelated"
	crt dump -t "$PID" -D "$T/d-unrelated" --tcp-established
	if [ "$RC" != 0 ]; then
		fail tcp-in-flight-unrelated "the dump failed: $(cat "$T/err")"
	else
		# the tree's connections stay locked until the restore (which then drops the
		# lock); the other one is free
		: >"$T/unrelated.go"
		for ((i = 0; i < 300; i++)); do [ -e "$T/unrelated.result" ] && break; sleep 0.025; done
		crt restore -D "$T/d-unrelated" -d
		if [ "$(cat "$T/unrelated.result" 2>/dev/null)" != ok ]; then
			fail tcp-in-flight-unrelated "the connection in flight outside the tree is held after the dump: $(cat "$T/unrelated.result" 2>/dev/null)"
		elif [ "$RC" != 0 ]; then
			fail tcp-in-flight-unrelated "the restore failed: $(cat "$T/err")"
		elif ! check tcp-unrelated; then
			fail tcp-in-flight-unrelated "the restored process failed its check: $(tr '\n' ' ' <"$T/tcp-unrelated.out")"
		elif no_lock tcp-in-flight-unrelated; then
			pass tcp-in-flight-unrelated
		fi
		kill -9 "$PID" 2>/dev/null
	fi
else
	fail tcp-in-flight-unrelated "the server, the outside process or sk-rights-inet did not start"
fi

if [ -n "$SPORT" ] && START_PROG=sk-rights-inet start tcp-outside --outside "$SPORT"; then
	mkdir "$T/d-tcp-outside"
	crt dump -t "$PID" -D "$T/d-tcp-outside" --tcp-established
	if [ "$RC" != 0 ]; then
		fail tcp-in-flight-outside "the dump failed: $(cat "$T/err")"
	else
		crt restore -D "$T/d-tcp-outside" -d
		if [ "$RC" != 0 ]; then
			fail tcp-in-flight-outside "the restore failed: $(cat "$T/err")"
		elif ! check tcp-outside; then
			fail tcp-in-flight-outside "the restored process failed its check: $(tr '\n' ' ' <"$T/tcp-outside.out")"
		elif no_lock tcp-in-flight-outside; then
			pass tcp-in-flight-outside
		fi
		kill -9 "$PID" 2>/dev/null
	fi
else
	fail tcp-in-flight-outside "the server or sk-rights-inet did not start"
fi

if START_PROG=sk-rights-inet start tcp-unsent --tcp --unsent; then
	mkdir "$T/d-tcp-unsent"
	crt dump -t "$PID" -D "$T/d-tcp-unsent" --tcp-established
	expect_error tcp-in-flight-unsent "pid $PID: fd 11: a TCP connection in flight (SCM_RIGHTS)" "not sent yet" \
		"can't be checkpointed yet" && no_lock tcp-in-flight-unsent && survived tcp-in-flight-unsent tcp-unsent
else
	fail tcp-in-flight-unsent "sk-rights-inet did not start"
fi

if start failed-dump-unlocks --conn --odd; then
	mkdir "$T/d-unlock"
	crt dump -t "$PID" -D "$T/d-unlock" --tcp-established
	expect_error failed-dump-unlocks "fd 9" "protocol 136" && survived failed-dump-unlocks failed-dump-unlocks
else
	fail failed-dump-unlocks "sk-errors did not start"
fi

# ---- SIGTERM to crtool while the lock is held: it leaves with the lock removed and
# the connections out of repair mode (the target's check uses one)
if start sigterm --many 1500 --conn; then
	mkdir "$T/d-term"
	timeout 60 "$CRTOOL" dump -t "$PID" -D "$T/d-term" --tcp-established --leave-running >"$T/out" 2>"$T/err" &
	cpid=$!
	seen=0
	for ((i = 0; i < 400; i++)); do
		if nft list tables 2>/dev/null | grep -q libcr_ || iptables -S 2>/dev/null | grep -q libcr_; then
			seen=1
			kill -TERM "$cpid"
			break
		fi
		kill -0 "$cpid" 2>/dev/null || break
	done
	wait "$cpid"
	RC=$?
	if [ "$seen" = 0 ]; then
		fail sigterm "the dump ended (status $RC) before its lock was seen"
	elif [ "$RC" = 0 ]; then
		fail sigterm "the dump finished before the signal reached it"
	elif [ "$RC" != 143 ]; then
		fail sigterm "crtool exited with status $RC, not by SIGTERM"
	else
		for ((i = 0; i < 100; i++)); do running_untraced "$PID" && break; sleep 0.02; done
		survived sigterm sigterm
	fi
else
	fail sigterm "sk-errors did not start"
fi

# ---- not an error: --tcp-close brings the connections back closed
if start tcp-close --conn --closed; then
	mkdir "$T/d-close"
	crt dump -t "$PID" -D "$T/d-close" --tcp-established
	if [ "$RC" != 0 ]; then
		fail tcp-close "the dump failed"
	else
		crt restore -D "$T/d-close" -d --tcp-close
		if [ "$RC" != 0 ]; then
			fail tcp-close "the restore failed"
		elif ! check tcp-close; then
			fail tcp-close "the restored process failed its check: $(tr '\n' ' ' <"$T/tcp-close.out")"
		elif no_lock tcp-close; then
			pass tcp-close
		fi
		kill -9 "$PID" 2>/dev/null
	fi
else
	fail tcp-close "sk-errors did not start"
fi

name=missing-address
if ! ip addr add 10.99.0.1/32 dev lo; then
	fail $name "can't add 10.99.0.1 to lo"
elif ! start $name --dummy; then
	fail $name "sk-errors did not start: $(cat "$T/$name.out")"
else
	mkdir "$T/d-addr"
	crt dump -t "$PID" -D "$T/d-addr" --tcp-established
	if [ "$RC" != 0 ]; then
		fail $name "the dump failed"
	else
		ip addr del 10.99.0.1/32 dev lo
		crt restore -D "$T/d-addr" -d
		if expect_error $name "10.99.0.1:" "does not exist on this host" && no_lock $name; then
			if kill -0 "$PID" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$PID/status"; then
				fail $name "a process runs at pid $PID after the failed restore"
			else
				pass $name
			fi
		fi
	fi
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]

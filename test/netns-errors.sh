#!/bin/bash
# test/netns-errors.sh: the error paths of a tree's own network and time
# namespaces.  Each case checks crtool's exit status and its one "Error: " line;
# a refused dump must leave the target running untraced.
#
#   link-kind        a bridge in the namespace: the dump names the link and its kind
#   veth-outside     a veth whose peer is outside, not named: the dump says how
#   veth-third       a veth of a nested namespace whose peer is in a namespace that is not
#                    the tree's (its two others are): the same
#   net-back-in-ours a child in our network namespace while the root has its own
#   time-pending     a time namespace made for children but not entered (no error: it is
#                    dumped, and made again for the restored process's children only); its
#                    image says its clock was 1000 s further at the dump (a host whose clock
#                    is behind): the offset grows by as much
#   bad-external     --external without TYPE[KEY]:VALUE
#   external-missing an external namespace, no --external net[KEY]:PATH at restore
#   external-path    a path that is no namespace
#   external-tun     a tun device, not persistent, in the external namespace: refused
#   hostile-sysctl   netns.img naming a sysctl outside the list
#   hostile-link     netns.img with a link kind libcr does not make
#   hostile-timens   timens.img with an offset out of range
# Prints "PASS name" / "FAIL name: why", then "N passed, N failed".
set -u
cd "$(dirname "$0")/.." || exit 2
CRTOOL=${CRTOOL:-$PWD/build/crtool}
BIN=${TEST_BIN:-$PWD/build/test}
NS=crnserr$$
T=$(mktemp -d /tmp/libcr-netns-errors-XXXXXX) || exit 2
PIDS=()
passed=0
failed=0

cleanup() {
	local p
	for p in "${PIDS[@]}"; do pkill -9 -P "$p" 2>/dev/null; kill -9 "$p" 2>/dev/null; done
	{ wait; } 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	ip netns del "${NS}b" 2>/dev/null
	ip netns del "${NS}c" 2>/dev/null
	ip link del "lcre$$" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pass() {
	echo "PASS $1"
	passed=$((passed + 1))
}
fail() {
	echo "FAIL $1: $2"
	failed=$((failed + 1))
	[ -s "$T/err" ] && head -n 10 "$T/err" | sed 's/^/    /'
}

crt() {
	: | timeout 60 "$CRTOOL" "$@" >"$T/out" 2>"$T/err"
	RC=$?
}

# expect_error NAME WORDS...: crtool failed with exactly one "Error: " line holding WORDS
expect_error() {
	local name=$1 w line
	shift
	if [ "$RC" = 0 ] || [ "$RC" -ge 124 ]; then
		fail "$name" "crtool exit status $RC, want a clean failure"
		return 1
	fi
	line=$(grep -m1 '^Error: ' "$T/err")
	for w in "$@"; do
		if [[ "$line" != *"$w"* ]]; then
			fail "$name" "message lacks '$w': ${line:-(no Error: line)}"
			return 1
		fi
	done
	if [ "$(grep -c '' "$T/err")" != 1 ]; then
		fail "$name" "more than one line on stderr"
		return 1
	fi
	return 0
}

running_untraced() {
	[ -r "/proc/$1/status" ] && ! grep -qE '^State:\s+[tTZX]' "/proc/$1/status" &&
		grep -qE '^TracerPid:\s+0$' "/proc/$1/status"
}

# spawn CMD...: a process (not a job of ours) whose pid is in $T/pid; sets PID
spawn() {
	rm -f "$T/pid"
	(sh -c 'echo $$ >"$0"; exec "$@"' "$T/pid" "$@" </dev/null >/dev/null 2>&1 &)
	for _ in $(seq 100); do [ -s "$T/pid" ] && break; sleep 0.02; done
	PID=$(cat "$T/pid")
	PIDS+=("$PID")
	sleep 0.2   # its exec and namespace set-up done
}

# refused_dump NAME WORDS...: dump $PID, expect the error, the target runs on
refused_dump() {
	local name=$1
	shift
	rm -rf "$T/d"
	mkdir "$T/d"
	crt dump -t "$PID" -D "$T/d"
	if expect_error "$name" "$@"; then
		if running_untraced "$PID"; then pass "$name"; else fail "$name" "the target is not running freely"; fi
	fi
	# (and its children: a sleep nsenter left in another namespace would outlive us)
	pkill -9 -P "$PID" 2>/dev/null
	kill -9 "$PID" 2>/dev/null
}

# ---- dump
spawn unshare -n sh -c 'ip link add xbr0 type bridge && exec setsid sleep 1000'
refused_dump link-kind "link xbr0 is a bridge" "loopback, veth and tun/tap"

ip netns add "$NS" && ip link add "lcre$$" type veth peer name eth0 netns "$NS"
spawn nsenter --net="/run/netns/$NS" setsid sleep 1000
refused_dump veth-outside "veth eth0 has its peer outside" "--external veth[eth0]:"

# the tree: the root in a namespace of its own, a child in ${NS}c, whose veth's
# peer is in a third namespace (a veth between two of the tree's needs no name:
# test/progs/ns-veth.c)
ip netns add "${NS}b" && ip netns add "${NS}c" && ip -n "${NS}c" link add vx0 type veth peer name vx1 netns "${NS}b"
spawn setsid unshare -n sh -c "nsenter --net=/run/netns/${NS}c sleep 1000 & exec sleep 1000"
refused_dump veth-third "veth vx0 has its peer outside" "--external veth[vx0]:"

# a child back in our namespace while the root has its own (nested ones are
# dumped: test/progs/ns-nested.c)
spawn unshare -n sh -c "nsenter --net=/proc/$$/ns/net sleep 1000 & exec setsid sleep 1000"
refused_dump net-back-in-ours "in the dumper's own network namespace while the root of the tree"

# (unshare(1) -T and any exec enter the namespace: unshare(2), then no exec).  Once
# refused, now dumped (a nested time namespace, test/progs/ns-timenest.c): the restored
# process is in ours again, its children's namespace made with the offset, grown by the
# 1000 s its clock seems to be behind
spawn setsid python3 -c 'import ctypes, os, time; ctypes.CDLL(None).unshare(0x80) == 0 or os._exit(9); open("/proc/self/timens_offsets", "w").write("monotonic 4242 0\n"); time.sleep(1000)'
for _ in $(seq 250); do   # python's start and its unshare take a moment
	[ "$(readlink "/proc/$PID/ns/time")" != "$(readlink "/proc/$PID/ns/time_for_children")" ] &&
		grep -q 'monotonic *4242 ' "/proc/$PID/timens_offsets" && break
	sleep 0.02
done
mkdir "$T/pending"
crt dump -t "$PID" -D "$T/pending"
if [ "$RC" != 0 ]; then
	fail time-pending "the dump failed: $(cat "$T/err")"
else
	at=$("$CRTOOL" show "$T/pending/timens-1.img" | awk '$1 == "monotonic_ns_at_dump:" { print $2 }')
	"$BIN/img-edit" "$T/pending/timens-1.img" "monotonic_ns_at_dump=$((at + 1000000000000))" >/dev/null 2>&1 ||
		fail time-pending "img-edit failed"
	crt restore -D "$T/pending" -d
	mono=$(awk '$1 == "monotonic" { print $2 }' "/proc/$PID/timens_offsets" 2>/dev/null)
	if [ "$RC" != 0 ]; then
		fail time-pending "the restore failed: $(cat "$T/err")"
	elif [ "$(readlink "/proc/$PID/ns/time")" != "$(readlink /proc/self/ns/time)" ] ||
		[ "$(readlink "/proc/$PID/ns/time_for_children")" = "$(readlink /proc/self/ns/time)" ] ||
		[ "${mono:-0}" -lt 5200 ] || [ "$mono" -gt 5242 ]; then
		fail time-pending "restored in $(readlink "/proc/$PID/ns/time"), children in $(readlink "/proc/$PID/ns/time_for_children"), offsets $(tr '\n' ' ' <"/proc/$PID/timens_offsets")"
	else
		pass time-pending
	fi
fi
kill -9 "$PID" 2>/dev/null

crt dump -t 1 -D "$T" --external foo
expect_error bad-external "--external foo" "TYPE[KEY]:VALUE" && pass bad-external

# ---- restore of an external namespace
ip link del "lcre$$" 2>/dev/null
spawn nsenter --net="/run/netns/$NS" setsid sleep 1000
ino=$(stat -L -c %i "/run/netns/$NS")
mkdir "$T/ext"
crt dump -t "$PID" -D "$T/ext" --external "net[$ino]:mykey"
if [ "$RC" != 0 ]; then
	fail external-missing "the dump with --external net[$ino]:mykey failed"
else
	crt restore -D "$T/ext" -d
	expect_error external-missing "external network namespace (mykey)" "--external net[mykey]:PATH" &&
		pass external-missing
	crt restore -D "$T/ext" -d --external "net[mykey]:$T/nothing"
	expect_error external-path "can't open the network namespace $T/nothing" && pass external-path
fi
kill -9 "$PID" 2>/dev/null
spawn nsenter --net="/run/netns/$NS" setsid python3 -c 'import os, fcntl, struct, time
f = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(f, 0x400454ca, struct.pack("16sH", b"xtun0", 0x1001))  # TUNSETIFF, IFF_TUN | IFF_NO_PI
time.sleep(1000)'
# (python's start may take longer than spawn's wait: the device is there once it has it)
for _ in $(seq 250); do ip -n "$NS" link show xtun0 >/dev/null 2>&1 && break; sleep 0.02; done
rm -rf "$T/ext"
mkdir "$T/ext"
crt dump -t "$PID" -D "$T/ext" --external "net[$ino]:mykey"
if expect_error external-tun "pid $PID" "tun/tap device xtun0" "network namespace libcr does not save" \
	"not persistent"; then
	if running_untraced "$PID"; then pass external-tun; else fail external-tun "the target is not running freely"; fi
fi
kill -9 "$PID" 2>/dev/null

# ---- hostile images: a namespace of its own (lo only) and a time namespace
spawn unshare -n -T --fork --monotonic 5000 setsid sleep 1000
CHILD=$(pgrep -P "$PID" | head -n 1)
PIDS+=("$CHILD")
mkdir "$T/own"
crt dump -t "$CHILD" -D "$T/own"
if [ "$RC" != 0 ] || ! [ -s "$T/own/netns.img" ] || ! [ -s "$T/own/timens.img" ]; then
	fail hostile "the dump of a process in its own network and time namespaces failed"
else
	for c in "hostile-sysctl|netns.img|sysctls[0].name=../../kernel/core_pattern|netns.img: bad sysctl" \
		"hostile-link|netns.img|links[0].kind=bridge|netns.img: bad link lo" \
		"hostile-timens|timens.img|monotonic_nsec=2000000000|timens.img: bad offsets"; do
		IFS='|' read -r name img edit words <<<"$c"
		rm -rf "$T/h"
		cp -a "$T/own" "$T/h"
		if ! "$BIN/img-edit" "$T/h/$img" "$edit" >/dev/null 2>&1; then
			fail "$name" "img-edit failed"
			continue
		fi
		crt restore -D "$T/h" -d
		expect_error "$name" "$words" && pass "$name"
	done
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]

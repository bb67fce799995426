#!/bin/bash
# test/real/bash-pty.sh: an interactive bash in a pty, driven by script(1) (which
# holds the master and relays its stdin and stdout), with a job in the
# background.  The whole tree (script, bash, the job) is dumped mid-session and
# restored: bash must still answer typed commands, with its variables and its
# job table, through the same pty.  Prints "N passed, N failed".
set -u
cd "$(dirname "$0")/../.." || exit 2
CRTOOL=${CRTOOL:-$PWD/build/crtool}
pass=0
fail=0
T=$(mktemp -d /tmp/libcr-bashpty-XXXXXX)
P=""
trap '[ -n "$P" ] && { pkill -9 -s "$P"; kill -9 "$P"; } 2>/dev/null; rm -rf "$T"' EXIT
ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
# wait_out TEXT: until the session's output shows TEXT (10 s)
wait_out() { for _ in $(seq 200); do tr -d '\033\r' <"$T/out" | grep -q "$1" && return 0; sleep 0.05; done; return 1; }
gone() { for _ in $(seq 200); do [ -e "/proc/$1" ] || return 0; sleep 0.05; done; return 1; }

if ! command -v script >/dev/null; then
	echo "FAIL bash-pty: script(1) is not installed"
	echo "0 passed, 1 failed"
	exit 1
fi
mkfifo "$T/in"
exec 7<>"$T/in"   # our end of the session's input, open for the whole test
setsid script -qfc "bash --norc --noprofile -i" /dev/null <"$T/in" >"$T/out" 2>&1 &
P=$!
disown "$P"
echo 'x=42; sleep 1000 & echo started-$x' >&7
if ! wait_out 'started-42'; then
	bad bash-pty "the session did not start: $(tr -d '\033' <"$T/out" | tail -c 200)"
else
	B=$(pgrep -P "$P" | head -n 1)
	J=$(pgrep -P "$B" | head -n 1)
	mkdir "$T/img"
	if ! "$CRTOOL" dump -t "$P" -D "$T/img" 2>"$T/err"; then
		bad bash-pty "dump failed: $(cat "$T/err")"
	elif ! gone "$P" || ! gone "$B" || ! gone "$J"; then
		bad bash-pty "the session outlived its dump"
	elif ! "$CRTOOL" restore -D "$T/img" -d 2>"$T/err"; then
		bad bash-pty "restore failed: $(cat "$T/err")"
	else
		echo 'echo again-$x; jobs' >&7
		if ! wait_out 'again-42' || ! wait_out 'Running *sleep 1000'; then
			bad bash-pty "the restored bash did not answer: $(tr -d '\033' <"$T/out" | tail -c 300)"
		else
			ok "bash-pty: script(1) + bash + a job restored; bash answers through the same pty, \$x and its job kept"
		fi
	fi
fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]

#!/bin/bash
# test/real/screen.sh: a GNU screen session, detached: the SCREEN process
# holds the pty master of its window and listens on its unix socket; in the
# window an interactive bash with a variable and a background job that counts.
#
# The session is dumped and restored twice, then dumped with --leave-running.
# After each: the job counts on, screen answers on its socket (-ls, -X),
# typed text reaches bash, which still knows its variable, and a client
# attaching (screen -r, in a pty of script(1)) is shown the window.
NAME=screen
. "$(dirname "$0")/rt-lib.sh"
need screen
need script
export SCREENDIR=$T/screens   # its sockets, away from the system's
# (screen expands $NAME in what -X is given: \\$ passes a $ to bash)
mkdir -m 700 "$SCREENDIR"
sc() { screen -S rt "$@"; }
# the attaching client's input: open, silent (at its end script(1) would send ^D)
mkfifo "$T/in"
exec 7<>"$T/in"

k=0
check_more() {
	k=$((k + 1))
	if ! screen -ls 2>&1 | grep -q "[0-9]*\.rt.*Detached"; then
		bad "$1" "screen -ls says: $(screen -ls 2>&1)"
		return
	fi
	sc -X stuff "echo mark-\\\$X-$k\n"
	for _ in $(seq 100); do
		sc -X hardcopy "$T/hc"
		grep -q "^mark-42-$k" "$T/hc" 2>/dev/null && break
		sleep 0.05
	done
	if grep -q "^mark-42-$k" "$T/hc"; then ok "$1: bash in the window answers mark-42-$k"; else
		bad "$1" "no mark-42-$k in the window: $(tail -n 3 "$T/hc" 2>&1)"
		return
	fi
	timeout 10 script -qfc "screen -r rt" /dev/null <"$T/in" >"$T/attach.out" 2>&1 &
	local a=$!
	for _ in $(seq 100); do grep -aq "mark-42-$k" "$T/attach.out" && break; sleep 0.05; done
	sc -X detach
	wait "$a"
	if grep -aq "mark-42-$k" "$T/attach.out"; then ok "$1: screen -r shows the window"; else
		bad "$1" "screen -r shows: $(tr -d '\033' <"$T/attach.out" | tail -c 200)"; fi
}

screen -dmS rt bash --norc --noprofile -i
for _ in $(seq 100); do pid=$(screen -ls | sed -n 's/^[[:space:]]*\([0-9]*\)\.rt[[:space:]].*/\1/p'); [ -n "$pid" ] && break; sleep 0.05; done
[ -n "$pid" ] || { bad screen "the session does not start: $(screen -ls 2>&1)"; finish; }
PIDS="$PIDS $pid"
sleep 0.3   # bash reads its window
# the job forks nothing (builtins only; read -t on a FIFO of its own to wait)
mkfifo "$T/tick"
sc -X stuff "X=42; (exec 3<>$T/tick; i=0; while :; do i=\\\$((i+1)); echo \\\$i >$T/count; read -t 0.02 -u 3; done) &\n"
if ! wait_count 5; then
	bad screen "the job does not count"
	finish
fi
round "screen 1" "$pid"
round "screen 2" "$pid"
leave "screen" "$pid"
sc -X quit
finish

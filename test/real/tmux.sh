#!/bin/bash
# test/real/tmux.sh: a tmux server with a detached session: the server holds
# the pty masters of its panes and listens on its unix socket; in the pane an
# interactive bash with a variable and a background job that counts.
#
# The server (and the tree under it) is dumped and restored twice, then dumped
# with --leave-running.  After each: the job counts on, the server answers on
# its socket (list-sessions), keys sent to the pane reach bash, which still
# knows its variable, and a client attaching (in a pty of script(1)) is shown
# the pane.
NAME=tmux
. "$(dirname "$0")/rt-lib.sh"
need tmux
need script
S=$T/sock
tm() { tmux -S "$S" "$@"; }
# the attaching client's input: open, silent (at its end script(1) would send ^D)
mkfifo "$T/in"
exec 7<>"$T/in"

k=0
check_more() {
	local sess
	k=$((k + 1))
	if ! sess=$(tm list-sessions -F '#{session_name}:#{session_windows}' 2>&1) || [ "$sess" != "rt:1" ]; then
		bad "$1" "list-sessions says: $sess"
		return
	fi
	tm send-keys -t rt "echo mark-\$X-$k" Enter
	for _ in $(seq 100); do tm capture-pane -p -t rt | grep -q "^mark-42-$k" && break; sleep 0.05; done
	if tm capture-pane -p -t rt | grep -q "^mark-42-$k"; then ok "$1: bash in the pane answers mark-42-$k"; else
		bad "$1" "no mark-42-$k in the pane: $(tm capture-pane -p -t rt | tail -n 3)"
		return
	fi
	# a client attaches, is shown the pane, and detaches
	timeout 10 script -qfc "tmux -S $S attach -t rt" /dev/null <"$T/in" >"$T/attach.out" 2>&1 &
	local a=$!
	for _ in $(seq 100); do grep -aq "mark-42-$k" "$T/attach.out" && break; sleep 0.05; done
	tm detach-client -s rt 2>/dev/null
	wait "$a"
	if grep -aq "mark-42-$k" "$T/attach.out"; then ok "$1: tmux attach shows the session"; else
		bad "$1" "tmux attach shows: $(tr -d '\033' <"$T/attach.out" | tail -c 200)"; fi
}

tm -f /dev/null new-session -d -s rt -x 100 -y 30 "bash --norc --noprofile -i"
pid=$(tm display -p '#{pid}' 2>/dev/null)
[ -n "$pid" ] || { bad tmux "the server does not start"; finish; }
PIDS="$PIDS $pid"
# the job forks nothing (builtins only; read -t on a FIFO of its own to wait)
mkfifo "$T/tick"
tm send-keys -t rt "X=42; (exec 3<>$T/tick; i=0; while :; do i=\$((i+1)); echo \$i >$T/count; read -t 0.02 -u 3; done) &" Enter
if ! wait_count 5; then
	bad tmux "the job does not count: $(tm capture-pane -p -t rt | tail -n 3)"
	finish
fi
round "tmux 1" "$pid"
round "tmux 2" "$pid"
leave "tmux" "$pid"
tm kill-server
finish

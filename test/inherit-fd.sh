#!/bin/bash
# test/inherit-fd.sh: crtool restore --inherit-fd fd[N]:KEY hands the caller's fd N
# to the restored tree in place of the file the dump knew by KEY.
#
#   pipe       a bash loop reading lines from a pipe whose writer is outside the
#              tree: restored with a new pipe in its place (a FIFO here), it reads
#              and answers what is written there
#   syntax     a malformed --inherit-fd is refused naming the expected form
#   no-fd      an fd the caller does not have is refused naming it; nothing stays
#   tree       the same with the reader a child of the tree's root, which holds the
#              pipe too (a child takes the caller's file from its restored parent)
# Prints "N passed, N failed".
set -u
cd "$(dirname "$0")/.." || exit 2
CRTOOL=${CRTOOL:-$PWD/build/crtool}
pass=0
fail=0
work=$(mktemp -d /tmp/libcr-inherit-XXXXXX)
P=""
trap '[ -n "$P" ] && kill -9 "$P" 2>/dev/null; rm -rf "$work"' EXIT
ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
gone() { for _ in $(seq 200); do [ -e "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null || return 0; sleep 0.02; done; }

# the reader, its stdin a pipe whose write end this shell holds
exec {aw}> >(exec setsid bash -c 'while read l; do echo "got $l"; done' >"$work/out" 2>&1)
P=$!
# the reader's stdin is our pipe only once its redirection is done (before, the
# forked shell still has ours): wait for the pipe's own name there
key=$(readlink "/proc/$$/fd/$aw")
for _ in $(seq 100); do [ "$(readlink "/proc/$P/fd/0")" = "$key" ] && break; sleep 0.02; done
echo first >&"$aw"
mkdir "$work/img"
if ! "$CRTOOL" dump -t "$P" -D "$work/img" 2>"$work/err"; then
	bad pipe "dump failed: $(cat "$work/err")"
else
	gone "$P"
	mkfifo "$work/C"
	exec 6<>"$work/C"
	# errors first: nothing is restored by them
	if "$CRTOOL" restore -D "$work/img" -d --inherit-fd "5:$key" 2>"$work/err"; then
		bad syntax "a malformed --inherit-fd was taken"
	elif ! grep -q 'want fd\[N\]:KEY' "$work/err"; then
		bad syntax "unexpected message: $(cat "$work/err")"
	else
		ok "syntax: $(cat "$work/err")"
	fi
	if "$CRTOOL" restore -D "$work/img" -d --inherit-fd "fd[57]:$key" 2>"$work/err"; then
		bad no-fd "a restore with an fd the caller lacks succeeded"
	elif ! grep -q 'caller has no fd 57' "$work/err" || [ -e "/proc/$P" ]; then
		bad no-fd "unexpected message or a process left: $(cat "$work/err")"
	else
		ok "no-fd: $(cat "$work/err")"
	fi
	if ! "$CRTOOL" restore -D "$work/img" -d --inherit-fd "fd[5]:$key" 5<"$work/C" 2>"$work/err"; then
		bad pipe "restore failed: $(cat "$work/err")"
	else
		echo second >&6
		for _ in $(seq 100); do grep -q 'got second' "$work/out" && break; sleep 0.05; done
		if grep -q 'got second' "$work/out"; then
			ok "pipe: restored with the caller's fd 5 for $key, the reader answers what comes there"
		else
			bad pipe "no answer through the inherited fd: $(tr '\n' ' ' <"$work/out")"
		fi
	fi
fi

# tree: the root (bash) waits for its child, the reader; both hold the pipe as fd 0
exec {bw}> >(exec setsid bash -c '(while read l; do echo "got $l"; done); wait' >"$work/out2" 2>&1)
Q=$!
P=$Q
key=$(readlink "/proc/$$/fd/$bw")
for _ in $(seq 100); do [ "$(readlink "/proc/$Q/fd/0")" = "$key" ] && pgrep -P "$Q" >/dev/null && break; sleep 0.02; done
echo first >&"$bw"
mkdir "$work/img2"
if ! "$CRTOOL" dump -t "$Q" -D "$work/img2" 2>"$work/err"; then
	bad tree "dump failed: $(cat "$work/err")"
else
	gone "$Q"
	mkfifo "$work/C2"
	exec 7<>"$work/C2"
	if ! "$CRTOOL" restore -D "$work/img2" -d --inherit-fd "fd[5]:$key" 5<"$work/C2" 2>"$work/err"; then
		bad tree "restore failed: $(cat "$work/err")"
	else
		echo second >&7
		for _ in $(seq 100); do grep -q 'got second' "$work/out2" && break; sleep 0.05; done
		if grep -q 'got second' "$work/out2"; then
			ok "tree: root and child restored with the caller's fd 5 for $key, the child answers"
		else
			bad tree "no answer through the inherited fd: $(tr '\n' ' ' <"$work/out2")"
		fi
	fi
fi
kill -9 "$Q" $(pgrep -P "$Q") 2>/dev/null
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]

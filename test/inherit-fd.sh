#!/bin/bash
# test/inherit-fd.sh: crtool restore --inherit-fd fd[N]:KEY hands the caller's fd N
# to the restored tree in place of the file the dump knew by KEY.
#
#   pipe       a bash loop reading lines from a pipe whose writer is outside the
#              tree: restored with a new pipe in its place (a FIFO here), it reads
#              and answers what is written there
#   syntax     a malformed --inherit-fd is refused naming the expected form
#   no-fd      an fd the caller does not have is refused naming it; nothing stays
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
for _ in $(seq 100); do [ -e "/proc/$P/fd/0" ] && break; sleep 0.02; done
echo first >&"$aw"
key=$(readlink "/proc/$P/fd/0")
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
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]

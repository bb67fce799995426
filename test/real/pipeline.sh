#!/bin/bash
# test/real/pipeline.sh: a `bash -c` pipeline of processes writing a counter to a file.
#
#   bash -c 'i=0; while :; do echo $((i++)); sleep 0.02; done | cat >> FILE'
#
# is dumped (killed) and restored: the file must read 0, 1, 2, ... with no
# number lost or repeated across the checkpoint, and keep growing afterwards.
# The pipe between the loop and cat, and the file cat appends to, are shared
# between processes of the tree.  Prints "N passed, N failed".
set -u
cd "$(dirname "$0")/../.." || exit 2
CRTOOL=${CRTOOL:-$PWD/build/crtool}
pass=0
fail=0
T=$(mktemp -d /tmp/libcr-pipeline-XXXXXX)
root=""
cleanup() {
	[ -n "$root" ] && pkill -9 -s "$root" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }

# continuous FILE: the lines are 0..N-1 in order
continuous() {
	awk '$0 != NR - 1 { print "line " NR " is \"" $0 "\""; bad = 1; exit } END { exit bad }' "$1"
}

setsid bash -c 'i=0; while :; do echo $((i++)); sleep 0.02; done | cat >>"$0"' "$T/counter.txt" \
	</dev/null >/dev/null 2>&1 &
root=$!
disown "$root"
sleep 0.5
mkdir "$T/img"
if ! "$CRTOOL" dump -t "$root" -D "$T/img" 2>"$T/dump.err"; then
	bad pipeline "dump failed: $(cat "$T/dump.err")"
else
	before=$(wc -l <"$T/counter.txt")
	for _ in $(seq 200); do [ -e "/proc/$root" ] || break; sleep 0.02; done
	sleep 0.3
	if [ "$(wc -l <"$T/counter.txt")" != "$before" ]; then
		bad pipeline "the file kept growing after the dump killed the pipeline"
	elif ! "$CRTOOL" restore -D "$T/img" -d </dev/null >/dev/null 2>"$T/restore.err"; then
		bad pipeline "restore failed: $(cat "$T/restore.err")"
	else
		sleep 1
		after=$(wc -l <"$T/counter.txt")
		if [ "$after" -le "$before" ]; then
			bad pipeline "the restored pipeline wrote nothing ($before lines before, $after after)"
		elif ! why=$(continuous "$T/counter.txt"); then
			bad pipeline "the counter is not continuous across the checkpoint: $why"
		else
			ok "pipeline: $before lines before the dump, $after a second after the restore, no gap"
		fi
	fi
fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]

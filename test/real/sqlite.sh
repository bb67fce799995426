#!/bin/bash
# test/real/sqlite.sh: the sqlite3 shell in the middle of a write transaction on a
# WAL database, dumped and restored.
#
# sqlite3 reads its commands from a fifo (the test holds the writing end) and
# writes to a file.  It opens a WAL database (fcntl locks on the db and its -shm,
# the -shm file mapped shared), inserts rows, and begins an IMMEDIATE transaction
# it leaves open with more rows in it.  The shell is dumped and restored (twice),
# then dumped with --leave-running.  After each step: another sqlite3 can't write
# (the lock is held: "database is locked") but reads the committed rows; the
# held shell answers a query with its uncommitted rows.  At the end the shell
# commits and another process sees every row.  Prints "N passed, N failed".
set -u
cd "$(dirname "$0")/../.." || exit 2
CRTOOL=${CRTOOL:-$PWD/build/crtool}
T=$(mktemp -d /tmp/libcr-sqlite-XXXXXX)
pass=0
fail=0
spid=""
cleanup() {
	exec 3>&- 2>/dev/null
	[ -n "$spid" ] && kill -9 "$spid" 2>/dev/null
	wait 2>/dev/null
	for _ in $(seq 100); do [ -n "$spid" ] && kill -0 "$spid" 2>/dev/null && sleep 0.02; done
	[ -n "${KEEP:-}" ] && echo "kept $T" || rm -rf "$T"
}
trap cleanup EXIT
ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
finish() { echo "$pass passed, $fail failed"; [ "$fail" = 0 ]; exit; }

if ! command -v sqlite3 >/dev/null; then
	bad sqlite "sqlite3 is not installed (make deps)"
	finish
fi
DB=$T/db
mkfifo "$T/in"
setsid sqlite3 -batch "$DB" <"$T/in" >"$T/out" 2>&1 &
spid=$!
disown "$spid"
exec 3>"$T/in"
# send SQL, then wait for the shell's answer MARK
ask() {
	echo "$1" >&3
	echo ".print MARK $2" >&3
	for _ in $(seq 200); do grep -q "^MARK $2\$" "$T/out" && return 0; sleep 0.02; done
	return 1
}
if ! ask "pragma journal_mode=wal; create table t (n int); insert into t values (1), (2), (3);
begin immediate; insert into t values (4), (5);" start; then
	bad "sqlite start" "$(cat "$T/out")"
	finish
fi

# held NAME N: others can't write but read 3 rows; the shell sees its N uncommitted ones
held() {
	local r w
	r=$(sqlite3 -batch "$DB" "select count(*) from t" 2>&1)
	w=$(sqlite3 -batch -cmd ".timeout 100" "$DB" "insert into t values (99)" 2>&1)
	if [ "$r" != 3 ]; then
		bad "$1" "another reader sees '$r' rows, not the 3 committed"
	elif [[ "$w" != *"database is locked"* ]]; then
		bad "$1" "another writer is not locked out: '$w'"
	elif ! ask "select 'count ' || count(*) from t;" "$1" || ! grep -q "^count $2\$" "$T/out"; then
		bad "$1" "the held shell does not answer $2 rows: $(tail -3 "$T/out")"
	else
		ok "$1: the write lock is held, readers see 3 committed rows, the shell its $2"
		return 0
	fi
	finish
}

n=5
for round in 1 2; do
	mkdir "$T/img$round"
	if ! "$CRTOOL" dump -t "$spid" -D "$T/img$round" 2>"$T/err"; then
		bad "sqlite dump $round" "$(cat "$T/err")"
		finish
	fi
	if ! "$CRTOOL" restore -D "$T/img$round" -d 2>"$T/err"; then
		bad "sqlite restore $round" "$(cat "$T/err")"
		finish
	fi
	n=$((n + 1))
	ask "insert into t values ($n);" "ins$round" >/dev/null
	held "sqlite restore $round" $n
done
mkdir "$T/img3"
if ! "$CRTOOL" dump -t "$spid" -D "$T/img3" --leave-running 2>"$T/err"; then
	bad "sqlite leave-running" "$(cat "$T/err")"
	finish
fi
held "sqlite leave-running" $n
ask "commit;" commit
r=$(sqlite3 -batch "$DB" "select count(*), sum(n) from t" 2>&1)
if [ "$r" = "$n|$((n * (n + 1) / 2))" ]; then
	ok "sqlite commit: another process sees all $n rows"
else
	bad "sqlite commit" "another process sees '$r', want $n rows: $(tail -3 "$T/out")"
fi
finish

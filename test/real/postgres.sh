#!/bin/bash
# test/real/postgres.sh: a PostgreSQL cluster (Debian's postgresql package) with a
# live client, dumped and restored.
#
# initdb makes a cluster in a temp dir; pg_ctl starts it as the postgres user, the
# ordinary way: in the host's IPC namespace (the postmaster keeps a SysV segment
# there), with shared buffers in shared anonymous memory, POSIX shm for parallel
# queries, and five background processes.  A client (psql, one session it never
# reopens, over TCP) inserts a row each 20 ms.  The postmaster's tree is dumped
# with --tcp-established and restored, twice, then dumped with --leave-running.
# After each step: the client's session still inserts, every row inserted before
# the dump is there, and a new connection (a new backend forked by the restored
# postmaster, reading the shared buffers) sees them.  Prints "N passed, N failed".
set -u
cd "$(dirname "$0")/../.." || exit 2
CRTOOL=${CRTOOL:-$PWD/build/crtool}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
PORT=$((17000 + $$ % 1000))
T=$(mktemp -d /tmp/libcr-pg-XXXXXX)
pass=0
fail=0
ppid=""
cpid=""
pg() { su postgres -s /bin/sh -c "$*"; }
psql_() { psql -X -A -t -h 127.0.0.1 -p $PORT -U postgres -d postgres "$@"; }
cleanup() {
	[ -n "$cpid" ] && kill -9 "$cpid" 2>/dev/null
	if [ -n "$ppid" ]; then
		pg "$PGBIN/pg_ctl -D $T/data stop -m immediate" >/dev/null 2>&1 || kill -9 "$ppid" 2>/dev/null
		for _ in $(seq 100); do kill -0 "$ppid" 2>/dev/null && sleep 0.05; done
	fi
	wait 2>/dev/null
	# the postmaster's SysV segment, if a kill left it
	for id in $(ipcs -m | awk -v u=postgres '$3 == u && $6 == 0 { print $2 }'); do ipcrm -m "$id" 2>/dev/null; done
	[ -n "${KEEP:-}" ] && echo "kept $T" || rm -rf "$T"
}
trap cleanup EXIT
ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
finish() { echo "$pass passed, $fail failed"; [ "$fail" = 0 ]; exit; }

if [ -z "$PGBIN" ] || ! id postgres >/dev/null 2>&1 || ! command -v psql >/dev/null; then
	bad postgres "postgresql is not installed (make deps)"
	finish
fi
chown postgres "$T"
if ! pg "$PGBIN/initdb -D $T/data -A trust -U postgres --no-sync" >"$T/initdb.out" 2>&1; then
	bad "postgres initdb" "$(tail -3 "$T/initdb.out")"
	finish
fi
# setsid: the postmaster leads its own session (pg_ctl's is the caller's)
if ! pg "setsid $PGBIN/pg_ctl -D $T/data -o '-p $PORT -k $T -c listen_addresses=127.0.0.1' -l $T/log start -w" \
	>"$T/start.out" 2>&1; then
	bad "postgres start" "$(cat "$T/start.out") $(tail -3 "$T/log")"
	finish
fi
ppid=$(head -1 "$T/data/postmaster.pid")
psql_ -c "create table t (n int primary key)" >/dev/null

# the client: one psql session fed from a fifo, inserting 1, 2, 3...
mkfifo "$T/in"
cat >"$T/client.sh" <<'SH'
n=0
while :; do
	n=$((n + 1))
	echo "insert into t values ($n);"
	echo "\\echo done $n"
	sleep 0.02
done
SH
bash "$T/client.sh" | psql -X -A -t -h 127.0.0.1 -p $PORT -U postgres -d postgres -v ON_ERROR_STOP=1 \
	>"$T/client.out" 2>&1 &
cpid=$!
sleep 0.5

last() { grep -o 'done [0-9]*' "$T/client.out" | tail -1 | cut -d' ' -f2; }

# check NAME BEFORE: the session inserts on, and a new backend sees every row up to BEFORE
check() {
	local c0 c1 rows
	c0=$(last)
	# a segment the restored socket sent while the lock held is retransmitted (RTO ~1 s)
	for _ in $(seq 50); do
		sleep 0.1
		c1=$(last)
		[ "${c1:-0}" -gt $((${c0:-0} + 3)) ] && break
	done
	if ! kill -0 "$cpid" 2>/dev/null; then
		bad "$1" "the client stopped: $(tail -3 "$T/client.out")"
		finish
	elif [ "${c1:-0}" -le "${c0:-0}" ]; then
		bad "$1" "the client's session stays at row ${c1:-0}: $(tail -2 "$T/client.out")"
		finish
	fi
	rows=$(psql_ -c "select count(*) = max(n) and max(n) >= $2 from t" 2>&1)
	if [ "$rows" != t ]; then
		bad "$1" "a new connection does not see rows 1..$2: $rows $(tail -3 "$T/log")"
		finish
	fi
	ok "$1: the session inserts on (row $c0 -> $c1), a new backend sees rows 1..$2 and more"
}

for round in 1 2; do
	mkdir "$T/img$round"
	before=$(last)
	t0=$(date +%s%N)
	if ! "$CRTOOL" dump -t "$ppid" -D "$T/img$round" --tcp-established 2>"$T/err"; then
		bad "postgres dump $round" "$(cat "$T/err")"
		finish
	fi
	t1=$(date +%s%N)
	if ! "$CRTOOL" restore -D "$T/img$round" -d 2>"$T/err"; then
		bad "postgres restore $round" "$(cat "$T/err")"
		finish
	fi
	t2=$(date +%s%N)
	echo "round $round: dump $(( (t1 - t0) / 1000000 )) ms, restore $(( (t2 - t1) / 1000000 )) ms, images $(du -sh "$T/img$round" | cut -f1)"
	check "postgres restore $round" "$before"
done
mkdir "$T/img3"
before=$(last)
if ! "$CRTOOL" dump -t "$ppid" -D "$T/img3" --tcp-established --leave-running 2>"$T/err"; then
	bad "postgres leave-running" "$(cat "$T/err")"
	finish
fi
check "postgres leave-running" "$before"
# a lock of ours left (other dumps on this machine may hold theirs meanwhile)
if nft list ruleset 2>/dev/null | grep -q "127.0.0.1 \. $PORT \."; then
	bad postgres "a network lock of port $PORT is left: $(nft list ruleset | grep -B8 "127.0.0.1 \. $PORT \." | grep table)"
fi
finish

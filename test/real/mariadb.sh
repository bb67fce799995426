#!/bin/bash
# test/real/mariadb.sh: a MariaDB server (Debian's mariadb-server) with a live
# client, dumped and restored.
#
# mariadb-install-db makes a data dir in a temp dir; mariadbd runs as the mysql
# user (InnoDB, its temp files made with O_TMPFILE, an 8 TB PROT_NONE
# reservation, dozens of threads).  One setting differs from the default:
# --innodb-use-native-aio=0, because InnoDB's native AIO is io_uring, which libcr
# refuses ("a shared mapping anon_inode:[io_uring] ... is not supported yet"); the
# same setting is what MariaDB uses where io_uring is unavailable.  A client
# (the mariadb CLI, one session it never reopens, over TCP) inserts a row each
# 20 ms.  The server is dumped with --tcp-established and restored, twice, then
# dumped with --leave-running.  After each step the session inserts on and a new
# connection sees every row inserted before the dump.  Prints "N passed, N failed".
set -u
cd "$(dirname "$0")/../.." || exit 2
CRTOOL=${CRTOOL:-$PWD/build/crtool}
PORT=$((21000 + $$ % 1000))
T=$(mktemp -d /tmp/libcr-mariadb-XXXXXX)
pass=0
fail=0
mpid=""
cpid=""
sql() { mariadb -N -B -h 127.0.0.1 -P $PORT -u root "$@"; }
cleanup() {
	[ -n "$cpid" ] && kill -9 "$cpid" 2>/dev/null
	[ -n "$mpid" ] && kill -9 "$mpid" 2>/dev/null
	wait 2>/dev/null
	for _ in $(seq 100); do [ -n "$mpid" ] && kill -0 "$mpid" 2>/dev/null && sleep 0.05; done
	[ -n "${KEEP:-}" ] && echo "kept $T" || rm -rf "$T"
}
trap cleanup EXIT
ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
finish() { echo "$pass passed, $fail failed"; [ "$fail" = 0 ]; exit; }

if ! command -v mariadbd >/dev/null || ! command -v mariadb-install-db >/dev/null || ! id mysql >/dev/null 2>&1; then
	bad mariadb "mariadb-server is not installed (make deps)"
	finish
fi
chown mysql "$T"
if ! mariadb-install-db --no-defaults --datadir="$T/data" --user=mysql --auth-root-authentication-method=normal \
	--skip-test-db >"$T/install.out" 2>&1; then
	bad "mariadb install-db" "$(tail -3 "$T/install.out")"
	finish
fi
setsid mariadbd --no-defaults --datadir="$T/data" --socket="$T/sock" --port=$PORT --bind-address=127.0.0.1 \
	--user=mysql --log-error="$T/err.log" --innodb-use-native-aio=0 </dev/null >"$T/out" 2>&1 &
mpid=$!
disown "$mpid"
for _ in $(seq 200); do sql -e "select 1" >/dev/null 2>&1 && break; sleep 0.05; done
if ! sql -e "create database d; create table d.t (n int primary key) engine=innodb" 2>"$T/err"; then
	bad "mariadb start" "$(cat "$T/err") $(tail -3 "$T/err.log")"
	finish
fi

cat >"$T/client.sh" <<'SH'
n=0
while :; do
	n=$((n + 1))
	echo "insert into d.t values ($n); select concat('done ', $n);"
	sleep 0.02
done
SH
bash "$T/client.sh" | mariadb -N -B --unbuffered -h 127.0.0.1 -P $PORT -u root >"$T/client.out" 2>&1 &
cpid=$!
disown "$cpid"
sleep 0.5

last() { grep -o 'done [0-9]*' "$T/client.out" | tail -1 | cut -d' ' -f2; }

# check NAME BEFORE: the session inserts on, and a new connection sees every row up to BEFORE
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
	elif [ "${c1:-0}" -le $((${c0:-0} + 3)) ]; then
		bad "$1" "the client's session stays at row ${c1:-0}: $(tail -2 "$T/client.out")"
		finish
	fi
	rows=$(sql -e "select count(*) = max(n) and max(n) >= $2 from d.t" 2>&1)
	if [ "$rows" != 1 ]; then
		bad "$1" "a new connection does not see rows 1..$2: $rows $(tail -3 "$T/err.log")"
		finish
	fi
	ok "$1: the session inserts on (row $c0 -> $c1), a new connection sees rows 1..$2 and more"
}

for round in 1 2; do
	mkdir "$T/img$round"
	before=$(last)
	t0=$(date +%s%N)
	if ! "$CRTOOL" dump -t "$mpid" -D "$T/img$round" --tcp-established 2>"$T/err"; then
		bad "mariadb dump $round" "$(cat "$T/err")"
		finish
	fi
	t1=$(date +%s%N)
	if ! "$CRTOOL" restore -D "$T/img$round" -d 2>"$T/err"; then
		bad "mariadb restore $round" "$(cat "$T/err")"
		finish
	fi
	t2=$(date +%s%N)
	echo "round $round: dump $(( (t1 - t0) / 1000000 )) ms, restore $(( (t2 - t1) / 1000000 )) ms, images $(du -sh "$T/img$round" | cut -f1)"
	check "mariadb restore $round" "$before"
done
mkdir "$T/img3"
before=$(last)
if ! "$CRTOOL" dump -t "$mpid" -D "$T/img3" --tcp-established --leave-running 2>"$T/err"; then
	bad "mariadb leave-running" "$(cat "$T/err")"
	finish
fi
check "mariadb leave-running" "$before"
if nft list ruleset 2>/dev/null | grep -q "127.0.0.1 \. $PORT \."; then
	bad mariadb "a network lock of port $PORT is left"
fi
finish

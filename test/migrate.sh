#!/bin/bash
# test/migrate.sh: crtool migrate to a crtool serve in another network namespace.
#
# The destination "host" is a network namespace joined to this one by a veth pair
# (10.77.N.1 here, 10.77.N.2 there), made and removed by this script; crtool
# serve runs in it and restores into a new pid namespace (the PIDs are still
# the source's on this one machine).  The process moved is build/test/mem-dirty.
#
#   migrate     3 pre-copy rounds; every hook runs, in order; the source is gone,
#               the copy there answers its own check (and one more round of writes);
#               here and in lazy a thread of it rewrites 8 MiB all along (--churn):
#               each page there holds its last generation
#   lazy        --lazy --rounds 2 of mem-dirty --mixed (written pages of a private
#               file mapping, shared anonymous memory): the copy passes its check
#   dry-run     only the checks: nothing frozen, nothing sent
#   files       the destination lacks a file the process has open (a tmpfs over
#               its directory there): the check fails, the process runs on
#   receiver-killed  the post-dump hook kills crtool serve: the tree, stopped
#               for the final dump, is continued and passes its own check
#   restore-fails    serve without --new-pidns: the PID is taken (by the stopped
#               source): the failed-restore hook runs, the source continues
#   ip-*        mem-dirty --listen ADDR:PORT: the check that the addresses of the
#               tree's TCP sockets are there.  ip-missing: an address only here:
#               --dry-run and migrate name it, nothing is frozen; ip-there:
#               127.0.0.1 (there too) and 0.0.0.0 pass; ip-moves: an address the
#               hooks move (post-dump deletes it here, pre-restore adds it there)
#               passes with --ip-moves, and the copy there listens on it;
#               ip-forced: --force past a missing address: the restore there
#               fails naming it, the source continues; ip-own-netns: a tree in a
#               network namespace of its own passes (--dry-run); ip-moves-bad:
#               not an address
# Prints "N passed, N failed".
set -u
cd "$(dirname "$0")/.." || exit 2
B=$PWD/build
CRTOOL=${CRTOOL:-$B/crtool}
N=$((RANDOM % 200 + 20))
NS=libcr-dst-$$
HERE=10.77.$N.1
THERE=10.77.$N.2
MOVE=10.77.$((N + 1)).50   # an address the hooks move (ip-moves)
PORT=27400
pass=0
fail=0
work=$(mktemp -d /tmp/libcr-migrate-XXXXXX)
dst=$(mktemp -d /tmp/libcr-migrate-dst-XXXXXX)   # not under $work, which one case hides
pids=()
cleanup() {
	for p in ${pids[*]:-}; do kill -9 "$p"; done 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	ip link del "lcr$N" 2>/dev/null
	ip addr del "$MOVE/32" dev lo 2>/dev/null
	rm -rf "$work" "$dst"
}
trap cleanup EXIT

ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }

if ! ip netns add "$NS" || ! ip link add "lcr$N" type veth peer name eth0 netns "$NS" ||
	! ip addr add "$HERE/24" dev "lcr$N" || ! ip link set "lcr$N" up ||
	! ip -n "$NS" addr add "$THERE/24" dev eth0 || ! ip -n "$NS" link set eth0 up || ! ip -n "$NS" link set lo up; then
	bad setup "can't make the destination network namespace"
	echo "$pass passed, $fail failed"
	exit 1
fi

# start_prog TAG [ARGS...]: mem-dirty in its own session; sets prog
start_prog() {
	local tag=$1
	shift
	setsid "$B/test/mem-dirty" --size 64 "$@" >"$work/$tag.out" 2>&1 </dev/null &
	prog=$!
	disown "$prog"
	pids+=("$prog")
	for _ in $(seq 100); do grep -qx READY "$work/$tag.out" 2>/dev/null && return 0; sleep 0.05; done
	return 1
}

# serve TAG [ARGS...]: crtool serve in the destination namespace (ARGS before it:
# a wrapper); sets server
serve() {
	local tag=$1
	shift
	mkdir -p "$dst/$tag"
	rm -f "$work/serve.out"
	ip netns exec "$NS" "$@" "$CRTOOL" serve --address "$THERE" --port "$PORT" -D "$dst/$tag" \
		--pidfile "$dst/$tag.pid" ${SERVE_ARGS:---new-pidns} >"$work/serve.out" 2>&1 &
	server=$!
	disown "$server"
	pids+=("$server")
	for _ in $(seq 100); do grep -q listening "$work/serve.out" 2>/dev/null && return 0; sleep 0.05; done
	return 1
}

# hooks DIR: every hook appends its phase to DIR/log; EXTRA_HOOK (a phase) also
# runs $EXTRA_CMD
hooks() {
	mkdir -p "$1"
	for h in pre-dump post-dump pre-restore post-restore failed-restore; do
		printf '#!/bin/sh\necho "$CR_HOOK" >>"%s/log"\n%s\n' "$1" \
			"$([ "${EXTRA_HOOK:-}" = "$h" ] && echo "${EXTRA_CMD:-}")" >"$1/$h"
		chmod +x "$1/$h"
	done
}

state() { awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

# own_check PID OUT: SIGUSR2 and its verdict
own_check() {
	kill -USR2 "$1"
	for _ in $(seq 400); do grep -q '^PASS$\|^FAIL' "$2" && break; sleep 0.05; done
	grep -qx PASS "$2"
}

# ---- migrate
if start_prog m --churn 2048 && serve m; then
	hooks "$work/hooks-m"
	mkdir -p "$work/src-m"
	if ! "$CRTOOL" migrate -t "$prog" --to "$THERE:$PORT" -W "$work/src-m" --rounds 3 --hook-dir "$work/hooks-m" \
		>"$work/migrate.out" 2>&1; then
		bad migrate "$(cat "$work/migrate.out")"
	else
		wait "$server"
		for _ in $(seq 100); do [ -n "$(state "$prog")" ] && [ "$(state "$prog")" != Z ] || break; sleep 0.05; done
		init=$(cat "$dst/m.pid" 2>/dev/null)
		copy=$(pgrep -P "$init" 2>/dev/null | head -n 1)
		log=$(tr '\n' ' ' <"$work/hooks-m/log" 2>/dev/null)
		if [ -n "$(state "$prog")" ] && [ "$(state "$prog")" != Z ]; then
			bad migrate "the source (pid $prog) still exists: $(state "$prog")"
		elif [ -z "$copy" ]; then
			bad migrate "no restored process under the destination's pid namespace init ${init:-?}"
		elif [ "$log" != "pre-dump post-dump pre-restore post-restore " ]; then
			bad migrate "hooks ran as: $log"
		else
			kill -USR1 "$copy"
			for _ in $(seq 400); do grep -q "ROUND 1" "$work/m.out" && break; sleep 0.05; done
			if ! grep -q "ROUND 1" "$work/m.out" || ! own_check "$copy" "$work/m.out"; then
				bad migrate "the copy there failed its check: $(tail -n 2 "$work/m.out")"
			else
				ok "migrate: $(grep -o 'frozen.*' "$work/migrate.out"); hooks in order; the copy there passes its check"
			fi
		fi
	fi
else
	bad migrate "setup: $(cat "$work/serve.out" 2>/dev/null)"
fi
kill -9 "$server" 2>/dev/null
# the copy there: its pid namespace goes with its init
[ -s "$dst/m.pid" ] && kill -9 "$(cat "$dst/m.pid")" 2>/dev/null

# ---- lazy: the destination restores from what the stream brought, the pages
# that must be in place before the process runs (a private file mapping's written
# pages, shared anonymous memory) too; the rest comes on fault or pushed
if start_prog l --mixed "$work/l.file" --churn 2048 && serve l; then
	mkdir -p "$work/src-l"
	kill -USR1 "$prog"
	for _ in $(seq 400); do grep -q "ROUND 1" "$work/l.out" && break; sleep 0.05; done
	if ! "$CRTOOL" migrate -t "$prog" --to "$THERE:$PORT" -W "$work/src-l" --rounds 2 --lazy >"$work/migrate.out" 2>&1; then
		bad lazy "$(tail -n 3 "$work/migrate.out")"
	else
		init=$(cat "$dst/l.pid" 2>/dev/null)
		copy=$(pgrep -P "$init" 2>/dev/null | head -n 1)
		if [ -z "$copy" ]; then
			bad lazy "no restored process under the destination's pid namespace init ${init:-?}"
		else
			kill -USR1 "$copy"
			for _ in $(seq 400); do grep -q "ROUND 2" "$work/l.out" && break; sleep 0.05; done
			if ! grep -q "ROUND 2" "$work/l.out" || ! own_check "$copy" "$work/l.out"; then
				bad lazy "the copy there failed its check: $(tail -n 2 "$work/l.out")"
			elif [ -n "$(ls "$dst/l" | grep -v '^r[0-9]*$\|^final$')" ]; then
				bad lazy "the destination has more than the rounds: $(ls "$dst/l")"
			else
				ok "lazy: $(grep -o 'frozen.*' "$work/migrate.out"); a private file mapping's written pages and shared anonymous memory there, the copy passes its check"
			fi
		fi
	fi
	wait "$server" 2>/dev/null
else
	bad lazy "setup: $(cat "$work/serve.out" 2>/dev/null)"
fi
kill -9 "$server" 2>/dev/null
[ -s "$dst/l.pid" ] && kill -9 "$(cat "$dst/l.pid")" 2>/dev/null

# ---- dry run
if start_prog d && serve d; then
	mkdir -p "$work/src-d"
	if ! "$CRTOOL" migrate -t "$prog" --to "$THERE:$PORT" -W "$work/src-d" --dry-run >"$work/migrate.out" 2>&1; then
		bad dry-run "$(cat "$work/migrate.out")"
	elif [ "$(state "$prog")" = T ] || [ -n "$(ls "$work/src-d")" ] || [ -n "$(ls "$dst/d")" ] ||
		! grep -q "check memory *OK" "$work/migrate.out"; then
		bad dry-run "something was frozen or sent: state $(state "$prog"), $(ls "$work/src-d" "$dst/d")"
	else
		ok "dry-run: $(grep -c '^migrate: check' "$work/migrate.out") checks passed, nothing frozen or sent"
	fi
	kill -9 "$prog" 2>/dev/null
fi
kill -9 "$server" 2>/dev/null

# ---- the destination lacks a file the process has open (its output file)
if start_prog f && serve f unshare -m sh -c 'mount -t tmpfs none "$0" && exec "$@"' "$work"; then
	mkdir -p "$work/src-f"
	if "$CRTOOL" migrate -t "$prog" --to "$THERE:$PORT" -W "$work/src-f" >"$work/migrate.out" 2>&1; then
		bad files "the migration went ahead without the file there"
	elif ! grep -q "check files *FAIL.*$work/f.out" "$work/migrate.out"; then
		bad files "unexpected output: $(cat "$work/migrate.out")"
	elif [ "$(state "$prog")" != S ] || ! own_check "$prog" "$work/f.out"; then
		bad files "the process is not running intact: state $(state "$prog"), $(tail -n 1 "$work/f.out")"
	else
		ok "files: refused ($(grep 'check files' "$work/migrate.out" | cut -c1-120)...), the process runs on"
	fi
	kill -9 "$prog" 2>/dev/null
else
	bad files "setup: $(cat "$work/serve.out" 2>/dev/null)"
fi
kill -9 "$server" 2>/dev/null

# ---- the receiver dies while the tree is stopped for the final dump
if start_prog k && serve k; then
	EXTRA_HOOK=post-dump EXTRA_CMD="kill -9 $server" hooks "$work/hooks-k"
	mkdir -p "$work/src-k"
	if "$CRTOOL" migrate -t "$prog" --to "$THERE:$PORT" -W "$work/src-k" --rounds 1 --hook-dir "$work/hooks-k" \
		>"$work/migrate.out" 2>&1; then
		bad receiver-killed "the migration succeeded without its receiver"
	else
		sleep 0.2
		log=$(tr '\n' ' ' <"$work/hooks-k/log" 2>/dev/null)
		if [ "$(state "$prog")" != S ] || ! own_check "$prog" "$work/k.out"; then
			bad receiver-killed "the source is not running intact: state $(state "$prog"), $(tail -n 1 "$work/k.out")"
		elif [ "$log" != "pre-dump post-dump pre-restore failed-restore " ]; then
			bad receiver-killed "hooks ran as: $log"
		else
			ok "receiver-killed: $(tail -n 1 "$work/migrate.out" | cut -c1-110); the source continued"
		fi
	fi
	kill -9 "$prog" 2>/dev/null
fi
kill -9 "$server" 2>/dev/null

# ---- the restore there fails (the PID is the stopped source's)
if start_prog r && SERVE_ARGS=" " serve r; then
	hooks "$work/hooks-r"
	mkdir -p "$work/src-r"
	if "$CRTOOL" migrate -t "$prog" --to "$THERE:$PORT" -W "$work/src-r" --rounds 1 --hook-dir "$work/hooks-r" \
		>"$work/migrate.out" 2>&1; then
		bad restore-fails "the migration succeeded though the PID was taken there"
	else
		log=$(tr '\n' ' ' <"$work/hooks-r/log" 2>/dev/null)
		if ! grep -q "restore on $THERE:$PORT failed.*PID is in use" "$work/migrate.out"; then
			bad restore-fails "unexpected message: $(tail -n 2 "$work/migrate.out")"
		elif [ "$log" != "pre-dump post-dump pre-restore failed-restore " ]; then
			bad restore-fails "hooks ran as: $log"
		elif [ "$(state "$prog")" != S ] || ! own_check "$prog" "$work/r.out"; then
			bad restore-fails "the source is not running intact: state $(state "$prog")"
		else
			ok "restore-fails: $(tail -n 1 "$work/migrate.out" | cut -c1-120); the source continued"
		fi
	fi
	kill -9 "$prog" 2>/dev/null
fi
kill -9 "$server" 2>/dev/null
[ -s "$dst/r.pid" ] && kill -9 "$(cat "$dst/r.pid")" 2>/dev/null

# ---- ip: the addresses of the tree's TCP sockets must be there
LPORT=$((PORT + 1))
if start_prog im --listen "$HERE:$LPORT" && serve im; then
	mkdir -p "$work/src-im"
	"$CRTOOL" migrate -t "$prog" --to "$THERE:$PORT" -W "$work/src-im" --dry-run >"$work/dry.out" 2>&1
	drc=$?
	kill -9 "$server" 2>/dev/null   # one session each
	serve im
	"$CRTOOL" migrate -t "$prog" --to "$THERE:$PORT" -W "$work/src-im" >"$work/migrate.out" 2>&1
	mrc=$?
	if [ "$drc" = 0 ] || ! grep -q "check ip *FAIL *$HERE is not an address there" "$work/dry.out"; then
		bad ip-missing "--dry-run: exit $drc: $(grep 'check ip\|Error' "$work/dry.out")"
	elif [ "$mrc" = 0 ] || ! grep -q "check ip *FAIL *$HERE is not an address there" "$work/migrate.out" ||
		! grep -q "^Error: migrate: 1 check failed" "$work/migrate.out"; then
		bad ip-missing "exit $mrc: $(tail -n 3 "$work/migrate.out")"
	elif [ -n "$(ls "$work/src-im")" ] || [ "$(state "$prog")" != S ] || ! own_check "$prog" "$work/im.out"; then
		bad ip-missing "frozen or sent: state $(state "$prog"), $(ls "$work/src-im"), $(tail -n 1 "$work/im.out")"
	else
		ok "ip-missing: $(grep 'check ip' "$work/migrate.out" | cut -c1-110)...; nothing frozen, the process runs on"
	fi
	kill -9 "$prog" 2>/dev/null
else
	bad ip-missing "setup: $(cat "$work/im.out" "$work/serve.out" 2>/dev/null)"
fi
kill -9 "$server" 2>/dev/null

for a in 127.0.0.1 0.0.0.0; do
	LPORT=$((LPORT + 1))   # the last one may not be gone yet
	if start_prog it --listen "$a:$LPORT" && serve it; then
		mkdir -p "$work/src-it"
		want="127.0.0.1 is there"
		[ "$a" = 0.0.0.0 ] && want="no TCP socket bound to a particular address"
		if ! "$CRTOOL" migrate -t "$prog" --to "$THERE:$PORT" -W "$work/src-it" --dry-run >"$work/migrate.out" 2>&1 ||
			! grep -q "check ip *OK *$want" "$work/migrate.out"; then
			bad "ip-there $a" "$(grep 'check ip\|Error' "$work/migrate.out")"
		else
			ok "ip-there $a: $(grep 'check ip' "$work/migrate.out")"
		fi
		kill -9 "$prog" 2>/dev/null
	else
		bad "ip-there $a" "setup: $(cat "$work/it.out" "$work/serve.out" 2>/dev/null)"
	fi
	kill -9 "$server" 2>/dev/null
done

# a tree in a network namespace of its own takes its addresses along
LPORT=$((LPORT + 1))
setsid unshare -n sh -c 'ip link set lo up && ip addr add "$1/32" dev lo && exec "$2" --size 64 --listen "$1:$3"' _ \
	"$MOVE" "$B/test/mem-dirty" "$LPORT" >"$work/in.out" 2>&1 </dev/null &
prog=$!
disown "$prog"
pids+=("$prog")
for _ in $(seq 100); do grep -qx READY "$work/in.out" 2>/dev/null && break; sleep 0.05; done
if grep -qx READY "$work/in.out" && serve in; then
	mkdir -p "$work/src-in"
	if ! "$CRTOOL" migrate -t "$prog" --to "$THERE:$PORT" -W "$work/src-in" --dry-run >"$work/migrate.out" 2>&1 ||
		! grep -q "check ip *OK *the tree's own network namespace takes its addresses along" "$work/migrate.out"; then
		bad ip-own-netns "$(grep 'check ip\|Error' "$work/migrate.out")"
	else
		ok "ip-own-netns: $(grep 'check ip' "$work/migrate.out") ($MOVE is only in the tree's namespace)"
	fi
else
	bad ip-own-netns "setup: $(cat "$work/in.out" "$work/serve.out" 2>/dev/null)"
fi
kill -9 "$prog" "$server" 2>/dev/null

# the hooks move $MOVE from lo here to lo there
LPORT=$((LPORT + 1))
ip addr add "$MOVE/32" dev lo
if start_prog iv --listen "$MOVE:$LPORT" && serve iv; then
	mkdir -p "$work/hooks-iv" "$work/src-iv"
	printf '#!/bin/sh\nip addr del %s/32 dev lo\n' "$MOVE" >"$work/hooks-iv/post-dump"
	printf '#!/bin/sh\nip -n %s addr add %s/32 dev lo\n' "$NS" "$MOVE" >"$work/hooks-iv/pre-restore"
	printf '#!/bin/sh\nip -n %s addr del %s/32 dev lo; ip addr add %s/32 dev lo\n' "$NS" "$MOVE" "$MOVE" \
		>"$work/hooks-iv/failed-restore"
	chmod +x "$work/hooks-iv"/*
	if ! "$CRTOOL" migrate -t "$prog" --to "$THERE:$PORT" -W "$work/src-iv" --rounds 1 --hook-dir "$work/hooks-iv" \
		--ip-moves "$MOVE" >"$work/migrate.out" 2>&1; then
		bad ip-moves "$(tail -n 3 "$work/migrate.out")"
	elif ! grep -q "check ip *OK *$MOVE moves (--ip-moves)" "$work/migrate.out"; then
		bad ip-moves "$(grep 'check ip' "$work/migrate.out")"
	else
		wait "$server"
		init=$(cat "$dst/iv.pid" 2>/dev/null)
		copy=$(pgrep -P "$init" 2>/dev/null | head -n 1)
		if [ -z "$copy" ]; then
			bad ip-moves "no restored process under the destination's pid namespace init ${init:-?}"
		elif ! own_check "$copy" "$work/iv.out"; then
			bad ip-moves "the copy there failed its check: $(tail -n 2 "$work/iv.out")"
		else
			ok "ip-moves: $(grep 'check ip' "$work/migrate.out"); the copy there listens on $MOVE:$LPORT"
		fi
	fi
else
	bad ip-moves "setup: $(cat "$work/iv.out" "$work/serve.out" 2>/dev/null)"
fi
kill -9 "$server" 2>/dev/null
[ -s "$dst/iv.pid" ] && kill -9 "$(cat "$dst/iv.pid")" 2>/dev/null
ip -n "$NS" addr del "$MOVE/32" dev lo 2>/dev/null

# --force past the check: the restore there can't bind the address, and says so
LPORT=$((LPORT + 1))
if start_prog if --listen "$HERE:$LPORT" && serve if; then
	mkdir -p "$work/src-if"
	if "$CRTOOL" migrate -t "$prog" --to "$THERE:$PORT" -W "$work/src-if" --rounds 0 --force >"$work/migrate.out" 2>&1; then
		bad ip-forced "the migration succeeded without the address there"
	elif ! grep -q "check ip *FAIL" "$work/migrate.out" ||
		! grep -q "^Error: .*restore on $THERE:$PORT failed: .*$HERE:$LPORT: that address does not exist on this host" \
			"$work/migrate.out"; then
		bad ip-forced "unexpected output: $(tail -n 2 "$work/migrate.out")"
	elif [ "$(state "$prog")" != S ] || ! own_check "$prog" "$work/if.out"; then
		bad ip-forced "the source is not running intact: state $(state "$prog"), $(tail -n 1 "$work/if.out")"
	else
		ok "ip-forced: $(grep '^Error' "$work/migrate.out" | cut -c1-150); the source continued"
	fi
	kill -9 "$prog" 2>/dev/null
else
	bad ip-forced "setup: $(cat "$work/if.out" "$work/serve.out" 2>/dev/null)"
fi
kill -9 "$server" 2>/dev/null
[ -s "$dst/if.pid" ] && kill -9 "$(cat "$dst/if.pid")" 2>/dev/null

if "$CRTOOL" migrate -t $$ --to "$THERE:$PORT" -W "$work" --ip-moves 10.1.2 >"$work/migrate.out" 2>&1 ||
	[ "$(cat "$work/migrate.out")" != "Error: migrate: --ip-moves 10.1.2: not an IP address" ]; then
	bad ip-moves-bad "$(cat "$work/migrate.out")"
else
	ok "ip-moves-bad: $(cat "$work/migrate.out")"
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]

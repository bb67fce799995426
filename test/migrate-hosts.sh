#!/bin/bash
# test/migrate-hosts.sh: a service moved between "hosts" while its client counts.
#
# Three network namespaces on one bridge (made and removed here, also on failure):
# client (.1), source (.2) and destination (.3) of 10.78.N.0/24; the service
# address .100 starts on the source.  The destination runs a test-only sshd (its
# own config on a high port, keys made here, root login by key only).  A
# redis-server in the source namespace listens on the service address; a client
# in the client namespace keeps one connection to it and INCRs every 2 ms,
# checking every answer is the previous one plus 1.  The hooks move the address:
# post-dump deletes it on the source, pre-restore adds it on the destination
# and announces it (gratuitous ARP), failed-restore moves it back.
#
#   ssh-errors      ssh missing, host unreachable, login refused, no crtool there:
#                   one clear line each; without --tcp-established the tcp check
#                   fails; without --ip-moves the service address the hooks move
#                   fails the ip check, named (the destination lacks it);
#                   redis was never stopped, the client counts on
#   redis-ssh       crtool migrate --via ssh --tcp-established --lazy: redis runs on the
#                   destination, the client saw no error and no gap
#   redis-tcp       the same through a crtool serve listening on the destination
#   receiver-killed-mid-transfer  the receiver (ssh) is killed 0.5 s into the
#                   transfer of redis's 200 MB (the first round, or on a loaded machine
#                   a later step: then failed-restore runs); redis serves on
#   receiver-killed the post-dump hook kills the receiver (ssh): the failed-restore
#                   hook runs, redis resumes on the source, the client counts on
#   restore-fails   the destination's restore fails (its PID is the stopped source's:
#                   serve without --new-pidns): the same
# Prints "N passed, N failed".
set -u
cd "$(dirname "$0")/.." || exit 2
# files the caller left open are none of the service's (a restore would want them)
for fd in /proc/$$/fd/*; do
	fd=${fd##*/}
	[ "$fd" -gt 2 ] && [ "$fd" != 255 ] && eval "exec $fd>&-"
done 2>/dev/null
B=$PWD/build
CRTOOL=${CRTOOL:-$B/crtool}
PY=/usr/bin/python3
N=$((RANDOM % 200 + 20))
NET=10.78.$N
SVC=$NET.100
C=lcr-c-$$ S=lcr-s-$$ D=lcr-d-$$
BR=lcrb$N
SSHD_PORT=$((22000 + $$ % 1000))
SERVE_PORT=27500
pass=0
fail=0
T=$(mktemp -d /tmp/libcr-mhosts-XXXXXX)
pids=()
cleanup() {
	for p in ${pids[*]:-}; do kill -9 "$p"; done 2>/dev/null
	[ -s "$T/sshd.pid" ] && kill "$(cat "$T/sshd.pid")" 2>/dev/null
	for f in "$T"/*.rpid; do [ -s "$f" ] && kill -9 "$(cat "$f")"; done 2>/dev/null
	for ns in "$C" "$S" "$D"; do ip netns del "$ns"; done 2>/dev/null
	# the pairs go now, though a namespace may linger for a socket still closing
	for i in 1 2 3; do ip link del "lcr$i$N"; done 2>/dev/null
	ip link del "$BR" 2>/dev/null
	[ -n "${KEEP:-}" ] && echo "kept $T" || rm -rf "$T"
}
trap cleanup EXIT
ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
finish() { echo "$pass passed, $fail failed"; [ "$fail" = 0 ]; exit; }

for t in redis-server sshd arping ssh-keygen; do
	if ! command -v "$t" >/dev/null && [ ! -x "/usr/sbin/$t" ]; then
		bad setup "$t is not installed (make deps: redis-server, openssh-server, iputils-arping)"
		finish
	fi
done

# ---- the hosts
setup_net() {
	ip link add "$BR" type bridge && ip link set "$BR" up || return 1
	local i=1 ns
	for ns in "$C" "$S" "$D"; do
		ip netns add "$ns" &&
			ip link add "lcr$i$N" type veth peer name eth0 netns "$ns" &&
			ip link set "lcr$i$N" master "$BR" up &&
			ip -n "$ns" addr add "$NET.$i/24" dev eth0 &&
			ip -n "$ns" link set eth0 up && ip -n "$ns" link set lo up || return 1
		i=$((i + 1))
	done
}
if ! setup_net; then
	bad setup "can't make the client, source and destination namespaces on bridge $BR"
	finish
fi

# ---- sshd on the destination: its own keys and config, root by key only
mkdir -p /run/sshd   # sshd's privilege separation directory
ssh-keygen -q -t ed25519 -N "" -f "$T/host_key" && ssh-keygen -q -t ed25519 -N "" -f "$T/id" &&
	ssh-keygen -q -t ed25519 -N "" -f "$T/other_id" || { bad setup "ssh-keygen failed"; finish; }
cp "$T/id.pub" "$T/authorized_keys"
cat >"$T/sshd_config" <<EOF
Port $SSHD_PORT
ListenAddress $NET.3
HostKey $T/host_key
PidFile $T/sshd.pid
AuthorizedKeysFile $T/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
EOF
echo "[$NET.3]:$SSHD_PORT $(cat "$T/host_key.pub")" >"$T/known_hosts"
for k in id other_id; do
	cat >"$T/ssh_config.$k" <<EOF
Host *
	User root
	IdentityFile $T/$k
	IdentitiesOnly yes
	UserKnownHostsFile $T/known_hosts
	StrictHostKeyChecking yes
	LogLevel ERROR
EOF
done
ip netns exec "$D" /usr/sbin/sshd -f "$T/sshd_config" -E "$T/sshd.log" || { bad setup "sshd: $(cat "$T/sshd.log")"; finish; }
for _ in $(seq 100); do [ -s "$T/sshd.pid" ] && break; sleep 0.05; done

# ---- hooks: every phase logged; the service address moves
mkdir -p "$T/hooks"
hook() { # PHASE BODY
	printf '#!/bin/sh\necho "$CR_HOOK" >>"%s/hooks.log"\n%s\n' "$T" "$2" >"$T/hooks/$1"
	chmod +x "$T/hooks/$1"
}
announce() { echo "ip netns exec $1 arping -q -U -c 1 -w 1 -I eth0 $SVC >/dev/null 2>&1 &"; }
hook pre-dump 'eval "${EXTRA_PRE_DUMP:-:}"'
hook post-dump "ip -n $S addr del $SVC/24 dev eth0
eval "\${EXTRA_POST_DUMP:-:}""
hook pre-restore "ip -n $D addr add $SVC/24 dev eth0 && $(announce "$D")"
hook post-restore ":"
hook failed-restore "ip -n $D addr del $SVC/24 dev eth0 2>/dev/null
ip -n $S addr add $SVC/24 dev eth0 2>/dev/null
$(announce "$S")"

cat >"$T/client.py" <<'PY'
import os, socket, sys, time
s = socket.create_connection((sys.argv[1], 6379), timeout=30)
f = s.makefile("rb")
n = 0
try:
    while True:
        s.sendall(b"INCR libcr-counter\r\n")
        line = f.readline()
        if not line.startswith(b":") or int(line[1:]) != n + 1:
            print("GAP after %d: %r" % (n, line), flush=True)
            sys.exit(1)
        n += 1
        with open(sys.argv[2] + ".tmp", "w") as o:
            o.write("%d\n" % n)
        os.replace(sys.argv[2] + ".tmp", sys.argv[2])
        time.sleep(0.002)
except Exception as e:
    print("ERROR after %d: %s: %s" % (n, type(e).__name__, e), flush=True)
    sys.exit(1)
PY

# start_redis TAG: the service address on the source, redis there, a client
# counting; sets rpid, cpid
start_redis() {
	ip -n "$D" addr del "$SVC/24" dev eth0 2>/dev/null
	ip -n "$S" addr add "$SVC/24" dev eth0 2>/dev/null
	ip netns exec "$S" arping -q -U -c 1 -w 1 -I eth0 "$SVC" >/dev/null 2>&1
	ip netns exec "$S" setsid redis-server --port 6379 --bind "$SVC" --save "" --appendonly no --protected-mode no --enable-debug-command yes \
		--daemonize no </dev/null >"$T/$1.redis.out" 2>&1 &
	rpid=$!
	disown "$rpid"
	pids+=("$rpid")
	for _ in $(seq 300); do grep -q "Ready to accept" "$T/$1.redis.out" && break; sleep 0.05; done
	rm -f "$T/count"
	ip netns exec "$C" "$PY" "$T/client.py" "$SVC" "$T/count" >"$T/$1.client.out" 2>&1 &
	cpid=$!
	disown "$cpid"
	pids+=("$cpid")
	for _ in $(seq 300); do [ -s "$T/count" ] && return 0; sleep 0.05; done
	return 1
}
stop_redis() {
	kill -9 "$cpid" "$rpid" 2>/dev/null
	[ -s "$T/$1.rpid" ] && kill -9 "$(cat "$T/$1.rpid")" 2>/dev/null
	# gone, its port free for the next one (a big redis takes a while to exit)
	for _ in $(seq 500); do [ -n "$(state "$rpid")" ] && [ "$(state "$rpid")" != Z ] || break; sleep 0.02; done
}
count() { local c; c=$(cat "$T/count" 2>/dev/null); echo "${c:-0}"; }
state() { awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
# running PID: not stopped (S, R or D; a few looks: one may fall between)
running() {
	for _ in 1 2 3 4 5; do
		case $(state "$1") in S | R | D) return 0 ;; esac
		sleep 0.1
	done
	return 1
}

# counting TAG: the client is alive, without complaint, and counts on; sets why
counting() {
	local c0 c1
	c0=$(count)
	for _ in $(seq 40); do
		sleep 0.1
		c1=$(count)
		[ "$c1" -gt $((c0 + 20)) ] && break
	done
	if ! kill -0 "$cpid" 2>/dev/null; then
		why="the client stopped: $(cat "$T/$1.client.out")"
		return 1
	elif [ "$c1" -le "$c0" ]; then
		why="the counter stays at $c1"
		return 1
	fi
	why="$c0 -> $c1"
}

# migrate TAG ARGS...: crtool migrate of redis from the source namespace
migrate() {
	local tag=$1
	shift
	: >"$T/hooks.log"
	ip netns exec "$S" "$CRTOOL" migrate -t "$rpid" -W "$T/src-$tag" --rounds 1 --hook-dir "$T/hooks" \
		--tcp-established --ip-moves "$SVC" "$@" >"$T/$tag.migrate.out" 2>&1
}
ssh_to=(--via ssh --to "root@$NET.3:$SSHD_PORT" --ssh-config "$T/ssh_config.id" --remote-crtool "$CRTOOL")
serve_args() { echo --serve-arg --new-pidns --serve-arg --pidfile --serve-arg "$T/$1.rpid"; }

# ---- ssh errors: one line each, nothing frozen
if start_redis e; then
	mkdir -p "$T/src-e"
	declare -A want=(
		[missing]="migrate --via ssh: can't run ssh.*No such file"
		[unreachable]="ssh can't reach root@$NET.99: .*\(No route\|timed out\|unreachable\)"
		[refused]="ssh to root@$NET.3:$SSHD_PORT: the login was refused: .*Permission denied"
		[no-crtool]="crtool is not there on root@$NET.3:$SSHD_PORT (--remote-crtool $T/nowhere/crtool)"
		[no-tcp-flag]="migrate: 1 check failed"
		[no-ip-moves]="migrate: 1 check failed"
	)
	for e in missing unreachable refused no-crtool no-tcp-flag no-ip-moves; do
		tcp=--tcp-established
		moves=(--ip-moves "$SVC")
		case $e in
		missing) args=(env PATH=/nonexistent "$CRTOOL" migrate "${ssh_to[@]}") ;;
		unreachable) args=("$CRTOOL" migrate --via ssh --to "root@$NET.99" --ssh-config "$T/ssh_config.id") ;;
		refused) args=("$CRTOOL" migrate --via ssh --to "root@$NET.3:$SSHD_PORT" --ssh-config "$T/ssh_config.other_id") ;;
		no-crtool) args=("$CRTOOL" migrate "${ssh_to[@]}" --remote-crtool "$T/nowhere/crtool") ;;
		no-tcp-flag) args=("$CRTOOL" migrate "${ssh_to[@]}" --remote-dir "$T/dst-e") tcp="" ;;
		no-ip-moves) args=("$CRTOOL" migrate "${ssh_to[@]}" --remote-dir "$T/dst-e") moves=() ;;
		esac
		ip netns exec "$S" "${args[@]}" -t "$rpid" -W "$T/src-e" ${tcp:+"$tcp"} "${moves[@]}" >"$T/e.out" 2>&1
		rc=$?
		errs=$(grep -c '^Error' "$T/e.out")
		if [ "$rc" = 0 ] || [ "$errs" != 1 ] || ! grep -q "^Error: ${want[$e]}" "$T/e.out"; then
			bad "ssh-errors $e" "exit $rc: $(tr '\n' '|' <"$T/e.out")"
		elif [ "$e" = no-tcp-flag ] && ! grep -q "check tcp *FAIL *1 connected TCP socket (take them along with --tcp-established)" "$T/e.out"; then
			bad "ssh-errors $e" "exit $rc: $(tr '\n' '|' <"$T/e.out")"
		elif [ "$e" = no-ip-moves ] && ! grep -q "check ip *FAIL *$SVC is not an address there" "$T/e.out"; then
			bad "ssh-errors $e" "exit $rc: $(tr '\n' '|' <"$T/e.out")"
		elif [ "$e" != no-ip-moves ] && [ "$e" != missing ] && grep -q "check ip *FAIL" "$T/e.out"; then
			bad "ssh-errors $e" "the service address, moved by the hooks, failed its check: $(tr '\n' '|' <"$T/e.out")"
		elif ! running "$rpid"; then
			bad "ssh-errors $e" "redis is in state $(state "$rpid")"
		else
			ok "ssh-errors $e: $(grep '^Error' "$T/e.out")"
		fi
	done
	if counting e; then ok "ssh-errors: redis never stopped, the client counts on ($why)"; else bad ssh-errors "$why"; fi
	stop_redis e
else
	bad ssh-errors "redis or its client did not start: $(cat "$T/e.redis.out" "$T/e.client.out")"
	stop_redis e
fi

# ---- redis moves, its client connected: over ssh, then through a listening serve
for via in ssh tcp; do
	tag=$via
	if ! start_redis "$tag"; then
		bad "redis-$via" "redis or its client did not start: $(cat "$T/$tag.redis.out" "$T/$tag.client.out")"
		stop_redis "$tag"
		continue
	fi
	mkdir -p "$T/src-$tag" "$T/dst-$tag"
	sleep 0.3
	if [ "$via" = ssh ]; then
		# shellcheck disable=SC2046
		migrate "$tag" "${ssh_to[@]}" --lazy --remote-dir "$T/dst-$tag" $(serve_args "$tag")
	else
		ip netns exec "$D" "$CRTOOL" serve --address "$NET.3" --port "$SERVE_PORT" -D "$T/dst-$tag" --new-pidns \
			--pidfile "$T/$tag.rpid" >"$T/$tag.serve.out" 2>&1 &
		server=$!
		disown "$server"
		pids+=("$server")
		for _ in $(seq 100); do grep -q listening "$T/$tag.serve.out" && break; sleep 0.05; done
		migrate "$tag" --to "$NET.3:$SERVE_PORT"
	fi
	rc=$?
	log=$(tr '\n' ' ' <"$T/hooks.log")
	if [ "$rc" != 0 ]; then
		bad "redis-$via" "$(tail -n 3 "$T/$tag.migrate.out") $(ls -l /proc/$rpid/fd)"
	elif [ "$log" != "pre-dump post-dump pre-restore post-restore " ]; then
		bad "redis-$via" "hooks ran as: $log"
	elif ! grep -q "check ip *OK *$SVC moves (--ip-moves)" "$T/$tag.migrate.out"; then
		bad "redis-$via" "the ip check: $(grep 'check ip' "$T/$tag.migrate.out")"
	elif [ -e "/proc/$rpid" ] && [ "$(state "$rpid")" != Z ]; then
		bad "redis-$via" "the source redis (pid $rpid) is still there: $(state "$rpid")"
	elif ! [ -s "$T/$tag.rpid" ] || ! pgrep -P "$(cat "$T/$tag.rpid")" redis-server >/dev/null; then
		bad "redis-$via" "no redis-server under the destination's pid namespace init"
	elif ! counting "$tag"; then
		bad "redis-$via" "$why"
	else
		ok "redis-$via: $(grep -o 'frozen [0-9]* ms' "$T/$tag.migrate.out"); the client on one connection counts on ($why), no error, no gap"
	fi
	stop_redis "$tag"
done

# ---- failure drills: the source resumes and serves on
for drill in receiver-killed restore-fails receiver-killed-mid-transfer; do
	tag=$drill
	if ! start_redis "$tag"; then
		bad "$drill" "redis or its client did not start: $(tail -n 2 "$T/$tag.redis.out" "$T/$tag.client.out")"
		stop_redis "$tag"
		continue
	fi
	mkdir -p "$T/src-$tag" "$T/dst-$tag"
	sleep 0.3
	if [ "$drill" = receiver-killed-mid-transfer ]; then
		# 200 MB more in redis: the first round streams for seconds; the receiver dies
		# in it, before anything is frozen
		# (DEBUG needs --enable-debug-command, given at start: else nothing is added, and
		# on a quiet machine the whole round is over before the receiver is killed)
		ip netns exec "$S" redis-cli -h "$SVC" DEBUG POPULATE 200000 libcr-key 1000 | grep -qx OK ||
			bad "$drill" "redis did not take DEBUG POPULATE"
		EXTRA_PRE_DUMP="(sleep 0.5; kill -9 \$(pgrep -f 'serve --stdio -D $T/dst-$tag')) >/dev/null 2>&1 &" \
			migrate "$tag" "${ssh_to[@]}" --remote-dir "$T/dst-$tag" --serve-arg --new-pidns
		rc=$?
		want="went away"
		# in a pre-copy round nothing was frozen; later (a loaded machine), the
		# stopped tree was continued after the failed-restore hook
		case $(tr '\n' ' ' <"$T/hooks.log") in
		"pre-dump " | "pre-dump "*"failed-restore ") hooks_want=$(tr '\n' ' ' <"$T/hooks.log") ;;
		*) hooks_want="pre-dump [failed-restore]" ;;
		esac
	elif [ "$drill" = receiver-killed ]; then
		# the receiver (crtool serve --stdio, started by sshd) dies after the final dump
		EXTRA_POST_DUMP="kill -9 \$(pgrep -f 'serve --stdio -D $T/dst-$tag')" \
			migrate "$tag" "${ssh_to[@]}" --remote-dir "$T/dst-$tag" --serve-arg --new-pidns
		rc=$?
		want="went away"
		hooks_want="pre-dump post-dump pre-restore failed-restore "
	else
		# no new pid namespace there: the PID is the stopped source's
		migrate "$tag" "${ssh_to[@]}" --remote-dir "$T/dst-$tag"
		rc=$?
		want="restore on .* failed: .*PID is in use"
		hooks_want="pre-dump post-dump pre-restore failed-restore "
	fi
	log=$(tr '\n' ' ' <"$T/hooks.log")
	if [ "$rc" = 0 ]; then
		bad "$drill" "the migration succeeded"
	elif ! grep -q "^Error: .*$want" "$T/$tag.migrate.out"; then
		bad "$drill" "unexpected message: $(tail -n 2 "$T/$tag.migrate.out")"
	elif [ "$log" != "$hooks_want" ]; then
		bad "$drill" "hooks ran as: $log"
	elif ! running "$rpid"; then
		bad "$drill" "the source redis is in state $(state "$rpid")"
	elif ! counting "$tag"; then
		bad "$drill" "$why"
	else
		ok "$drill: $(grep '^Error' "$T/$tag.migrate.out" | cut -c1-100); hooks: $log; redis serves on, the client counts on ($why)"
	fi
	stop_redis "$tag"
done
finish

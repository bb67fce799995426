#!/bin/bash
# test/pidns.sh: restore into new pid namespaces while the original still runs.
#
# A test program is dumped with --leave-running, then restored twice with
# --new-pidns: three copies with the same PIDs run side by side (the original
# in this namespace, each copy in its own), and each passes its own check.
# Besides: a chain of pid namespaces 31 deep, dumped and restored in this one.
# Prints "N passed, N failed".
set -u
cd "$(dirname "$0")/.." || exit 2
B=$PWD/build
CRTOOL=${CRTOOL:-$B/crtool}
pass=0
fail=0
work=$(mktemp -d /tmp/libcr-pidns-XXXXXX)
# crtool's children are the namespaces' inits: a namespace dies with its init
trap 'for p in ${pids[*]:-}; do pkill -9 -P "$p"; kill -9 "$p"; done 2>/dev/null; rm -rf "$work"' EXIT
pids=()

ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }

# read_line FD WANT: the next line from FD within 30 s must be WANT (a test
# program's "# ..." notes skipped)
read_line() {
	local line
	while IFS= read -r -t 30 line <&"$1"; do
		case "$line" in "# "*) continue ;; esac
		[ "$line" = "$2" ] || { echo "$line"; return 1; }
		return 0
	done
	echo "(nothing)"
	return 1
}

# start NAME CMD...: run CMD with its stdin and stdout on two new anonymous pipes
# (opened read-write through /dev/fd, so one fd per pipe serves both ends);
# sets IN_<NAME>, OUT_<NAME>, PID_<NAME>
start() {
	local name=$1 in out
	shift
	exec {in}<> <(:)
	exec {out}<> <(:)
	"$@" <&"$in" >&"$out" 2>&1 &
	printf -v "IN_$name" %s "$in"
	printf -v "OUT_$name" %s "$out"
	printf -v "PID_$name" %s "$!"
	pids+=("$!")
}

# side_by_side NAME PROG ARGS...
side_by_side() {
	local name=$1 got i
	shift
	rm -rf "$work/img"
	mkdir -p "$work/img"
	start ORIG setsid "$B/test/$1" "${@:2}"
	if ! got=$(read_line "$OUT_ORIG" READY); then
		bad "$name" "the original did not get ready: $got"
		return
	fi
	if ! "$CRTOOL" dump -t "$PID_ORIG" -D "$work/img" --leave-running 2>"$work/dump.err"; then
		bad "$name" "dump --leave-running failed: $(cat "$work/dump.err")"
		return
	fi
	start COPY1 "$CRTOOL" restore -D "$work/img" --new-pidns
	start COPY2 "$CRTOOL" restore -D "$work/img" --new-pidns
	sleep 1
	for i in ORIG COPY1 COPY2; do
		local in="IN_$i"
		echo CHECK >&"${!in}"
	done
	for i in ORIG COPY1 COPY2; do
		local out="OUT_$i"
		if got=$(read_line "${!out}" PASS); then
			ok "$name: $i"
		else
			bad "$name: $i" "$got"
		fi
	done
	for i in "${pids[@]}"; do pkill -9 -P "$i"; kill -9 "$i"; done 2>/dev/null
	wait 2>/dev/null
	pids=()
}

# own_pidns NAME PROG ARGS...: started by crtool exec-pidns (the tree's root is
# PID 1 of its namespace), dumped (killed; with $DUMP_ARGS), restored into a new
# namespace without being asked to, and still PID 1 there.
own_pidns() {
	local name=$1 got root
	shift
	rm -rf "$work/img"
	mkdir -p "$work/img"
	# (OWN_DIRECT: the program makes its own pid namespace, its child the init)
	if [ -n "${OWN_DIRECT:-}" ]; then
		start ORIG "$B/test/$1" "${@:2}"
	else
		start ORIG "$CRTOOL" exec-pidns "$B/test/$1" "${@:2}"
	fi
	if ! got=$(read_line "$OUT_ORIG" READY); then
		bad "$name" "the program did not get ready under exec-pidns: $got"
		return
	fi
	root=$(pgrep -P "$PID_ORIG")
	# shellcheck disable=SC2086
	if ! "$CRTOOL" dump -t "$root" -D "$work/img" ${DUMP_ARGS:-} 2>"$work/dump.err"; then
		bad "$name" "dump failed: $(cat "$work/dump.err")"
		return
	fi
	"$CRTOOL" show "$work/img/inventory.img" | grep -q 'own_pidns: true' ||
		{ bad "$name" "inventory.img does not say own_pidns"; return; }
	wait "$PID_ORIG" 2>/dev/null
	start COPY1 "$CRTOOL" restore -D "$work/img"
	echo CHECK >&"$IN_COPY1"
	if got=$(read_line "$OUT_COPY1" PASS); then
		ok "$name"
	else
		bad "$name" "$got"
	fi
	for i in "${pids[@]}"; do pkill -9 -P "$i"; kill -9 "$i"; done 2>/dev/null
	wait 2>/dev/null
	pids=()
}

# nspids SID: "comm NSpid" of every process of session SID, sorted
nspids() {
	local p
	for p in $(pgrep -s "$1"); do
		echo "$(cat /proc/"$p"/comm 2>/dev/null) $(grep NSpid /proc/"$p"/status 2>/dev/null | cut -f2-)"
	done | sort
}

# deep_chain N: `unshare -p -f` N times in a row, the last running sleep (at level N
# below ours): dumped with --leave-running (it goes on as it was), then killed and
# restored; every process has its PIDs at every level again
deep_chain() {
	local n=$1 name="pid namespaces nested $1 deep (unshare -p -f, $1 times)" cmd="sleep 300" np before after="" i
	for ((i = 0; i < n; i++)); do cmd="unshare -p -f $cmd"; done
	rm -rf "$work/img"
	mkdir -p "$work/img"
	setsid sh -c "$cmd & wait" </dev/null >/dev/null 2>&1 &
	np=$!
	pids+=("$np")
	for ((i = 0; i < 200; i++)); do
		before=$(nspids "$np")
		[ "$(grep -c . <<<"$before")" = $((n + 2)) ] && grep -q "^sleep " <<<"$before" && break
		sleep 0.025
	done
	if ! grep -q "^sleep .*	1$" <<<"$before"; then
		bad "$name" "the chain did not start: $before"
	elif ! "$CRTOOL" dump -t "$np" -D "$work/img" --leave-running 2>"$work/dump.err"; then
		bad "$name" "dump --leave-running failed: $(cat "$work/dump.err")"
	elif [ "$(nspids "$np")" != "$before" ]; then
		bad "$name" "the original changed by the dump: $(nspids "$np")"
	else
		pkill -9 -s "$np"
		for ((i = 0; i < 200 && $(pgrep -s "$np" | wc -l) > 0; i++)); do sleep 0.025; done
		if ! "$CRTOOL" restore -D "$work/img" -d 2>"$work/restore.err"; then
			bad "$name" "restore failed: $(cat "$work/restore.err")"
		elif after=$(nspids "$np") && [ "$(grep -c "	1$" <<<"$before")" != "$n" ] || [ "$after" != "$before" ]; then
			bad "$name" "NSpid after the restore: $after; before: $before"
		else
			ok "$name"
		fi
	fi
	pkill -9 -s "$np" 2>/dev/null
	{ wait "$np"; } 2>/dev/null
}

[ "$(id -u)" = 0 ] || { echo "pidns.sh: needs root"; echo "0 passed, 1 failed"; exit 1; }
side_by_side "tree in new pid namespaces" tree --any-parent
side_by_side "threads in new pid namespaces" threads --threads 16
own_pidns "tree as init of its own pid namespace" tree
side_by_side "pidfds in new pid namespaces" pidfd
own_pidns "pidfds in a tree that is its own pid namespace" pidfd
own_pidns "threads as init of its own pid namespace" threads --threads 4
side_by_side "nested namespaces in new pid namespaces" ns-nested
own_pidns "nested namespaces in a tree that is its own pid namespace" ns-nested
side_by_side "a nested pid namespace in new pid namespaces" ns-pidnest
own_pidns "a pid namespace nested in a tree that is its own pid namespace" ns-pidnest
side_by_side "nested time namespaces in new pid namespaces" ns-timenest --root-unshares
own_pidns "nested time namespaces in a tree that is its own pid namespace" ns-timenest
# the makers of its nested network namespaces run nft (their lock) while the next
# PIDs of the namespace are the tree's (restore.c: helper_of_tree)
DUMP_ARGS=--tcp-established own_pidns "connections in nested network namespaces in a tree that is its own pid namespace" \
	ns-tcpnest
side_by_side "nested user namespaces in new pid namespaces" ns-usernest
own_pidns "nested user namespaces in a tree that is its own pid namespace" ns-usernest
# (its root pivot_roots into a tmpfs without /dev, holding our /dev/null on fd 9:
# the restore reopens it by the host's path)
exec 9</dev/null
OWN_DIRECT=1 own_pidns "user namespaces nested below the tree's own" ns-usernest --root-userns
exec 9<&-
side_by_side "pid namespaces nested three deep in new pid namespaces" ns-pidnest-deep
own_pidns "pid namespaces nested three deep in a tree that is its own pid namespace" ns-pidnest-deep
# children born in a namespace entered by setns, or unshared with no fork yet
side_by_side "pid namespaces entered by setns and unshared in new pid namespaces" ns-pidsetns
own_pidns "pid namespaces entered by setns and unshared in a tree that is its own pid namespace" ns-pidsetns
own_pidns "an init of its own pid namespace that unshared another" ns-pidsetns --root-unshares
# pid, time and mount namespaces owned by nested user namespaces, two deep (their
# makers' helpers take free PIDs of the tree's namespaces); side by side without the
# mount namespace: its /proc is the copy of ours, where NSpid shows one level more in a
# copy restored with --new-pidns
side_by_side "namespaces owned by nested user namespaces in new pid namespaces" ns-userpid --deep --time
own_pidns "namespaces owned by nested user namespaces in a tree that is its own pid namespace" \
	ns-userpid --deep --time --mnt
deep_chain 31
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]

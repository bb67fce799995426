#!/bin/bash
# test/userns-errors.sh: the error paths of a tree's own user namespace.  Each
# case checks crtool's exit status and its one "Error: " line; a refused dump
# must leave the target running untraced.  The targets are test/progs/ns-user
# (its runner protocol on a fifo: READY, then it waits).
#
#   span             a child in another user namespace than the root, unmapped
#   usernest-thread  a process with two threads in a nested user namespace (ns-usernest)
#   usernest-unprivileged  --unprivileged: a tree in nested user namespaces (ns-usernest)
#   foreign-uts      the root's UTS namespace is owned by another user namespace
#   child-no-pidns   a child with the root in its user namespace, no pid namespace of its own
#   mnt-copy         a mount namespace owned by the tree's user namespace, a copy of ours:
#                    our mounts with others under them can't be bound alone there
#   hostile-empty    userns.img: an extent of 0 ids
#   hostile-wrap     userns.img: an extent running past the last id
#   hostile-overlap  userns.img: two gid extents overlapping
#   unprivileged     --unprivileged: maps of other ids than the caller's
#   lazy             --lazy-pages: refused for a tree in its own user namespace
# Prints "PASS name" / "FAIL name: why", then "N passed, N failed".
set -u
cd "$(dirname "$0")/.." || exit 2
CRTOOL=${CRTOOL:-$PWD/build/crtool}
BIN=${TEST_BIN:-$PWD/build/test}
T=$(mktemp -d /tmp/libcr-userns-errors-XXXXXX) || exit 2
PIDS=()
passed=0
failed=0

cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	exec 3>&- 2>/dev/null
	{ wait; } 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pass() {
	echo "PASS $1"
	passed=$((passed + 1))
}
fail() {
	echo "FAIL $1: $2"
	failed=$((failed + 1))
	[ -s "$T/err" ] && head -n 10 "$T/err" | sed 's/^/    /'
}

crt() {
	: | timeout 60 "$CRTOOL" "$@" >"$T/out" 2>"$T/err"
	RC=$?
}

# expect_error NAME WORDS...: crtool failed with exactly one "Error: " line holding WORDS
expect_error() {
	local name=$1 w line
	shift
	if [ "$RC" = 0 ] || [ "$RC" -ge 124 ]; then
		fail "$name" "crtool exit status $RC, want a clean failure"
		return 1
	fi
	line=$(grep -m1 '^Error: ' "$T/err")
	for w in "$@"; do
		if [[ "$line" != *"$w"* ]]; then
			fail "$name" "message lacks '$w': ${line:-(no Error: line)}"
			return 1
		fi
	done
	if [ "$(grep -c '' "$T/err")" != 1 ]; then
		fail "$name" "more than one line on stderr"
		return 1
	fi
	return 0
}

running_untraced() {
	[ -r "/proc/$1/status" ] && ! grep -qE '^State:\s+[tTZX]' "/proc/$1/status" &&
		grep -qE '^TracerPid:\s+0$' "/proc/$1/status"
}

# spawn ARGS...: ns-user ARGS, its stdin a fifo we hold open, until it is READY; sets PID
mkfifo "$T/in"
exec 3<>"$T/in"
spawn() {
	rm -f "$T/pid" "$T/ready"
	(sh -c 'echo $$ >"$0"; exec "$@"' "$T/pid" "$BIN/${PROG:-ns-user}" "$@" <"$T/in" >"$T/ready" 2>&1 &)
	for _ in $(seq 250); do grep -q READY "$T/ready" 2>/dev/null && break; sleep 0.02; done
	PID=$(cat "$T/pid")
	PIDS+=("$PID")
}

# refused_dump NAME ARG WORDS...: dump ns-user ARG, expect the error, the target runs on
refused_dump() {
	local name=$1 arg=$2
	shift 2
	spawn "$arg"
	rm -rf "$T/d"
	mkdir "$T/d"
	crt dump --shell-job -t "$PID" -D "$T/d"
	if expect_error "$name" "$@"; then
		if running_untraced "$PID"; then pass "$name"; else fail "$name" "the target is not running freely"; fi
	fi
	kill -9 "$PID" 2>/dev/null
}

# ---- dump
refused_dump span --span "is in a nested user namespace whose uid map was never written"
PROG=ns-usernest refused_dump usernest-thread --thread "has 2 threads in a user namespace nested below the root's"
# a tree in nested user namespaces: their maps are written with any ids
PROG=ns-usernest spawn
rm -rf "$T/un"
mkdir "$T/un"
crt dump --shell-job -t "$PID" -D "$T/un"
if [ "$RC" != 0 ]; then
	fail usernest-unprivileged "the dump of ns-usernest failed"
else
	crt restore --shell-job -D "$T/un" -d --unprivileged
	expect_error usernest-unprivileged "restore of the namespaces nested below the tree's root needs CAP_SYS_ADMIN" &&
		pass usernest-unprivileged
fi
refused_dump foreign-uts --foreign-uts "uts namespace is owned by another user namespace"
refused_dump child-no-pidns --child "with child processes" "needs its own pid namespace too"
spawn --mnt
rm -rf "$T/m"
mkdir "$T/m"
crt dump --shell-job -t "$PID" -D "$T/m"
if [ "$RC" != 0 ]; then
	fail mnt-copy "the dump failed"
else
	crt restore --shell-job -D "$T/m" -d
	expect_error mnt-copy "can't bind mount / of the tree alone" "locked" && pass mnt-copy
fi

# ---- restore: hostile maps, and what is refused
spawn
mkdir "$T/own"
crt dump --shell-job -t "$PID" -D "$T/own"
if [ "$RC" != 0 ] || ! [ -s "$T/own/userns.img" ]; then
	fail hostile "the dump of a process in its own user namespace failed"
else
	for c in "hostile-empty|uid_map[0].count=0|userns.img: uid extent 0 100000 0 is empty" \
		"hostile-wrap|uid_map[1].lower_first=4294967290|userns.img: uid extent 70000 4294967290 10" \
		"hostile-overlap|gid_map[1].first=10|userns.img: gid extents 0 and 1 overlap"; do
		IFS='|' read -r name edit words <<<"$c"
		rm -rf "$T/h"
		cp -a "$T/own" "$T/h"
		if ! "$BIN/img-edit" "$T/h/userns.img" "$edit" >/dev/null 2>&1; then
			fail "$name" "img-edit failed"
			continue
		fi
		crt restore --shell-job -D "$T/h" -d
		expect_error "$name" "$words" && pass "$name"
	done
	crt restore --shell-job -D "$T/own" -d --unprivileged
	expect_error unprivileged "uid_map maps other ids than the caller's own" "needs CAP_SETUID" && pass unprivileged
	crt restore --shell-job -D "$T/own" -d --lazy-pages
	expect_error lazy "--lazy-pages: the tree has its own user namespace" && pass lazy
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]

#!/bin/bash
# test/unpriv.sh: checkpoint/restore by a user who is not root, holding only
# CAP_CHECKPOINT_RESTORE, of its own processes; and what such a user must not get.
#
#   test/unpriv.sh            (as root, from the top of the tree, after make tests)
#   CRTOOL=path TEST_BIN=dir  to use other binaries
#
# It creates the system user crtest-unpriv (removed at the end, also on failure)
# and gives crtool the capability two ways: as a file capability on a copy
# (setcap cap_checkpoint_restore+ep) that the runner runs as that user in its
# modes restore, leave-running and twice; and as an ambient capability
# (setpriv --ambient-caps) for the direct cases.  The test programs themselves run
# as that user with no capability.  Images edited to ask for uid 0, a group or a
# capability the user lacks, other securebits or a root-only file must fail to
# restore before anything is created, with a message naming what was asked for;
# without the capability the dump and restore fail naming it.
#
# Prints "PASS name" / "FAIL name: why" per case, then "N passed, N failed".
set -u
cd "$(dirname "$0")/.." || exit 2
CRTOOL=${CRTOOL:-$PWD/build/crtool}
BIN=${TEST_BIN:-$PWD/build/test}
EDIT=$BIN/img-edit
USER_NAME=crtest-unpriv
passed=0
failed=0
PIDS=()

pass() {
	echo "PASS $1"
	passed=$((passed + 1))
}

fail() {
	echo "FAIL $1: $2"
	failed=$((failed + 1))
	local f
	for f in err out; do
		if [ -s "$T/$f" ]; then
			echo "  --- crtool std$f"
			head -n 20 "$T/$f" | sed 's/^/    /'
		fi
	done
}

if [ "$(id -u)" != 0 ]; then
	echo "(test/unpriv.sh creates a test user: run it as root)"
	echo "0 passed, 0 failed"
	exit 0
fi
for t in setpriv setcap useradd userdel; do
	if ! command -v $t >/dev/null; then
		echo "FAIL unpriv: no $t (tools/install-deps.sh installs util-linux, libcap2-bin, passwd)"
		echo "0 passed, 1 failed"
		exit 1
	fi
done

T=$(mktemp -d /tmp/libcr-unpriv-XXXXXX) || exit 2
cleanup() {
	exec 2>/dev/null   # no job notices for what is killed here
	local p
	for p in "${PIDS[@]}"; do
		kill -9 "$p" 2>/dev/null
	done
	# whatever still runs as the test user (a restored tree) goes too
	pkill -9 -U "$USER_NAME" 2>/dev/null
	wait 2>/dev/null
	sleep 0.2
	userdel "$USER_NAME" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# a user left behind by a run that was killed hard goes first
userdel "$USER_NAME" 2>/dev/null
if ! useradd -r -M -d /nonexistent -s /usr/sbin/nologin "$USER_NAME"; then
	echo "FAIL unpriv: can't create the user $USER_NAME"
	echo "0 passed, 1 failed"
	exit 1
fi
UID_U=$(id -u "$USER_NAME")
GID_U=$(id -g "$USER_NAME")
AS_USER=(setpriv --reuid "$USER_NAME" --regid "$USER_NAME" --init-groups)
WITH_CAP=("${AS_USER[@]}" --inh-caps +checkpoint_restore --ambient-caps +checkpoint_restore)

# Binaries the user can run: the runner finds the test programs next to itself;
# crtool-cap holds the capability as a file capability.
mkdir "$T/bin"
cp "$BIN/runner" "$BIN/counter" "$BIN/tree" "$BIN/mem-random" "$BIN/threads" "$BIN/seccomp" "$BIN/ns-user" "$BIN/ns-usernest" "$T/bin/"
cp "$CRTOOL" "$T/bin/crtool"
cp "$CRTOOL" "$T/bin/crtool-cap"
setcap cap_checkpoint_restore+ep "$T/bin/crtool-cap"
chmod 755 "$T" "$T/bin"
chmod -R a+rX "$T/bin"
mkdir "$T/w"
chown "$USER_NAME:" "$T/w"
W=$T/w

# u_crt [cap|nocap|root] ARGS: crtool as the user (with the ambient capability,
# or without any), or as root; stdout/stderr to $T/out, $T/err
u_crt() {
	local how=$1
	shift
	case $how in
	cap) : | timeout 60 "${WITH_CAP[@]}" "$T/bin/crtool" "$@" >"$T/out" 2>"$T/err" ;;
	nocap) : | timeout 60 "${AS_USER[@]}" "$T/bin/crtool" "$@" >"$T/out" 2>"$T/err" ;;
	root) : | timeout 60 "$T/bin/crtool" "$@" >"$T/out" 2>"$T/err" ;;
	esac
	RC=$?
}

# expect_error NAME WORDS...: crtool failed with one "Error: " line holding every word
expect_error() {
	local name=$1 w line
	shift
	if [ "$RC" = 0 ]; then
		fail "$name" "crtool exited 0"
		return 1
	fi
	line=$(grep -m1 '^Error: ' "$T/err")
	if [ -z "$line" ] || [ "$(grep -c '' "$T/err")" != 1 ]; then
		fail "$name" "exit status $RC, want exactly one 'Error: ' line on stderr"
		return 1
	fi
	for w in "$@"; do
		case "$line" in
		*"$w"*) ;;
		*)
			fail "$name" "message lacks '$w': $line"
			return 1
			;;
		esac
	done
	return 0
}

# start TAG PROG [ARGS]: a test program as the user (no capability) in a session
# of its own, stdin from a fifo held open, stdout to $W/TAG.out; waits for READY.
# The fds this script inherited (a root-owned pipe of the caller) are not passed on.
start() {
	local tag=$1 prog=$2 i
	shift 2
	mkfifo "$W/$tag.fifo"
	chown "$USER_NAME:" "$W/$tag.fifo"
	: >"$W/$tag.out"
	chown "$USER_NAME:" "$W/$tag.out"
	# the fifo's writer: no child of the program (it would be part of its tree)
	sleep 600 >"$W/$tag.fifo" &
	PIDS+=("$!")
	(
		for fd in $(ls /proc/$BASHPID/fd); do
			[ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null
		done
		cd "$W" || exit 1
		exec setsid "${AS_USER[@]}" "$T/bin/$prog" "$@" <"$W/$tag.fifo" >"$W/$tag.out" 2>&1
	) &
	PIDS+=("$!")
	disown "$!"   # a dump kills it: no job notice
	for ((i = 0; i < 400; i++)); do
		grep -qx READY "$W/$tag.out" 2>/dev/null && break
		sleep 0.025
	done
	grep -qx READY "$W/$tag.out" || return 1
	# the program itself (setsid forks when it finds itself leading a group)
	PID=$(pgrep -n -u "$USER_NAME" -x "$prog")
	[ -n "$PID" ] && PIDS+=("$PID")
}

# check_pass TAG: CHECK to the program, PASS expected
check_pass() {
	local i
	timeout 5 bash -c 'echo CHECK >"$1"' _ "$W/$1.fifo" || return 1
	for ((i = 0; i < 400; i++)); do
		grep -q '^\(PASS\|FAIL\)' "$W/$1.out" && break
		sleep 0.025
	done
	grep -qx PASS "$W/$1.out"
}

# stop PID: kill a program started here
stop() {
	kill -9 "$1" 2>/dev/null
}

# ids_of PID: "uid gid caps" as /proc says
ids_of() {
	awk '/^Uid:/ {u=$2} /^Gid:/ {g=$2} /^CapEff:/ {c=$2} END {print u, g, c}' "/proc/$1/status" 2>/dev/null
}

# runner_suite NAME ARGS...: the runner as the user, crtool-cap as its crtool;
# every case it reports counts here
runner_suite() {
	local name=$1 out line p f
	shift
	out=$(cd "$W" && timeout 600 "${AS_USER[@]}" "$T/bin/runner" --crtool "$T/bin/crtool-cap" \
		--mode restore,leave-running,twice --dump-arg --unprivileged -- "$@" 2>&1 </dev/null)
	echo "$out" | grep -v -E '^[0-9]+ passed, [0-9]+ failed$' | sed "s/^\(PASS\|FAIL\) /\1 runner-as-user /"
	line=$(echo "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -n 1)
	if [ -z "$line" ]; then
		fail "runner-as-user $name" "no summary line from the runner"
		return
	fi
	p=${line%% passed*}
	f=${line#*passed, }
	passed=$((passed + p))
	failed=$((failed + ${f%% failed}))
}

# ---- crtool check --unprivileged, as the user with and without the capability
u_crt cap check --unprivileged
if [ "$RC" = 0 ] && grep -q '^ *OK *map-files' "$T/out" && grep -q '^ *OK *clone3-set-tid' "$T/out" &&
	grep -q '^ *OK *prctl-mm-exe' "$T/out" && grep -q '^ *MISSING *tcp-repair' "$T/out"; then
	pass check-unprivileged
else
	fail check-unprivileged "exit status $RC"
fi
u_crt nocap check --unprivileged
expect_error check-unprivileged-nocap "can't work for this user" "map-files" "clone3-set-tid" \
	"CAP_CHECKPOINT_RESTORE" && pass check-unprivileged-nocap

# ---- the runner's modes, as the user, for a counter, a tree, memory, threads, a user namespace
# and nested ones
# (UNPRIV_RUNNER=0 leaves them out, for a quick run of the other cases)
if [ "${UNPRIV_RUNNER:-1}" = 1 ]; then
	runner_suite counter counter
	runner_suite tree tree
	runner_suite mem-random mem-random --size 32
	runner_suite threads threads --threads 4
	# a user namespace of its own mapping only the user's ids (Documentation/userns.md)
	runner_suite ns-user-own-id ns-user --own-id
	# user namespaces nested below ours, each mapping the user's ids only (test/progs/ns-usernest.c)
	runner_suite ns-usernest-own-id ns-usernest --own-id
fi

# ---- direct: dump, restore with the ambient capability; the restored process is
# the user's, with no capability (crtool's is not passed on)
if ! start c1 counter; then
	fail direct-restore "counter did not start: $(cat "$W/c1.out")"
else
	P=$PID
	mkdir "$W/img1" && chown "$USER_NAME:" "$W/img1"
	u_crt cap dump -t "$P" -D "$W/img1" --unprivileged
	if [ "$RC" != 0 ]; then
		fail direct-dump "dump exited $RC"
	else
		pass direct-dump
		u_crt cap restore -D "$W/img1" -d --unprivileged
		ids=$(ids_of "$P")
		if [ "$RC" != 0 ]; then
			fail direct-restore "restore exited $RC"
		elif [ "$ids" != "$UID_U $GID_U 0000000000000000" ]; then
			fail direct-restore "restored with uid gid caps '$ids', want '$UID_U $GID_U 0000000000000000'"
		elif ! check_pass c1; then
			fail direct-restore "the restored counter did not pass: $(tail -n 3 "$W/c1.out")"
		else
			pass direct-restore
		fi
		# a new pid namespace needs CAP_SYS_ADMIN: refused before anything exists
		stop "$P"
		u_crt cap restore -D "$W/img1" -d --new-pidns
		expect_error no-new-pidns "new pid namespace" "CAP_SYS_ADMIN" "uid $UID_U" && pass no-new-pidns
	fi
	stop "$P"
fi

# ---- an image of the user's counter, dumped once, edited for each refusal
if ! start c2 counter; then
	fail edited-images "counter did not start: $(cat "$W/c2.out")"
else
	P=$PID
	mkdir "$W/base" && chown "$USER_NAME:" "$W/base"
	u_crt cap dump -t "$P" -D "$W/base"
	if [ "$RC" != 0 ]; then
		fail edited-images "dump exited $RC"
	else
		# edited NAME FILE EDIT...: a copy of the images with FILE edited
		edited() {
			rm -rf "$W/$1"
			cp -a "$W/base" "$W/$1"
			"$EDIT" "$W/$1/$2" "${@:3}" >/dev/null 2>"$T/err" || fail "$1" "img-edit failed: $(cat "$T/err")"
		}
		# refused NAME WORDS...: restore as the user fails naming it, nothing left at the PID
		refused() {
			local name=$1
			shift
			u_crt cap restore -D "$W/$name" -d
			expect_error "$name" "pid $P" "$@" || return
			if kill -0 "$P" 2>/dev/null; then
				fail "$name" "a process runs at pid $P after the refused restore"
				return
			fi
			pass "$name"
		}
		core=core-$P.img
		edited ask-uid0 "$core" creds.uid=0 creds.euid=0 creds.suid=0 creds.fsuid=0
		refused ask-uid0 "asks for real uid 0" "lacks CAP_SETUID"
		edited ask-euid0 "$core" creds.euid=0
		refused ask-euid0 "asks for effective uid 0"
		edited ask-gid0 "$core" creds.gid=0 creds.egid=0 creds.sgid=0 creds.fsgid=0
		refused ask-gid0 "asks for real gid 0" "lacks CAP_SETGID"
		edited ask-group0 "$core" "creds.groups[0]=0"
		refused ask-group0 "asks for supplementary group 0" "not in"
		edited ask-cap-sys-admin "$core" creds.cap_prm=0x200000 creds.cap_eff=0x200000
		refused ask-cap-sys-admin "asks for permitted capabilities" "CAP_SYS_ADMIN"
		edited ask-cap-ambient "$core" creds.cap_prm=0x1000 creds.cap_inh=0x1000 creds.cap_amb=0x1000
		refused ask-cap-ambient "asks for permitted capabilities" "CAP_NET_ADMIN"
		edited ask-securebits "$core" creds.securebits=0x1
		refused ask-securebits "asks for securebits 0x1" "CAP_SETPCAP"
		edited ask-bounding "$core" creds.cap_bnd=0
		refused ask-bounding "smaller bounding set" "CAP_SETPCAP"
		edited ask-root-file "fdinfo-$P.img" "@1:reg.path=/etc/shadow"
		refused ask-root-file "fd 1: /etc/shadow" "can't open" "Permission denied"
		edited ask-root-exe "mm-$P.img" "exe_path=/etc/shadow"
		refused ask-root-exe "the executable /etc/shadow" "can't open"

		# root may restore any creds: the untouched image comes back as the user's
		u_crt root restore -D "$W/base" -d
		ids=$(ids_of "$P")
		if [ "$RC" != 0 ]; then
			fail root-restores-user-image "restore as root exited $RC"
		elif [ "$ids" != "$UID_U $GID_U 0000000000000000" ]; then
			fail root-restores-user-image "restored with uid gid caps '$ids'"
		elif ! check_pass c2; then
			fail root-restores-user-image "the restored counter did not pass"
		else
			pass root-restores-user-image
		fi
		stop "$P"
	fi
fi

# ---- the user's tree in nested user namespaces of its own ids (ns-usernest --own-id),
# edited to ask for maps of other ids, or for an id unmapped there: refused
if ! start n1 ns-usernest --own-id; then
	fail usernest-edited "ns-usernest did not start: $(cat "$W/n1.out")"
else
	P=$(pgrep -o -u "$USER_NAME" -x ns-usernest)   # (the root: the oldest of its processes)
	PIDS+=("$P")
	mkdir "$W/nbase" && chown "$USER_NAME:" "$W/nbase"
	u_crt cap dump -t "$P" -D "$W/nbase"
	if [ "$RC" != 0 ]; then
		fail usernest-edited "dump exited $RC"
	else
		A1=$("$T/bin/crtool" show "$W/nbase/pstree.img" | awk '$1 == "pid:" { if (n++ == 3) { print $2; exit } }')
		for c in "usernest-map-root|ns.img|nested[0].uid_map[0].lower_first=0|nested user namespace 1|CAP_SETUID" \
			"usernest-setgroups|ns.img|nested[1].setgroups_allow=1|nested user namespace 2|CAP_SETUID" \
			"usernest-owner|ns.img|nested[0].owner_uid=0|nested user namespace 1|another user owns it" \
			"usernest-ask-uid|core-$A1.img|creds.uid=5|asks for real uid|CAP_SETUID"; do
			IFS='|' read -r name img edit w1 w2 <<<"$c"
			rm -rf "$W/$name"
			cp -a "$W/nbase" "$W/$name"
			"$EDIT" "$W/$name/$img" "$edit" >/dev/null 2>"$T/err" || fail "$name" "img-edit failed: $(cat "$T/err")"
			u_crt cap restore -D "$W/$name" -d
			expect_error "$name" "$w1" "$w2" && pass "$name"
		done
	fi
	stop "$P"
fi

# ---- without the capability: dump and restore say which one is missing
if ! start c3 counter; then
	fail no-cap "counter did not start"
else
	P=$PID
	mkdir "$W/img3" && chown "$USER_NAME:" "$W/img3"
	u_crt nocap dump -t "$P" -D "$W/img3"
	expect_error no-cap-dump "/proc/PID/map_files" "CAP_CHECKPOINT_RESTORE" "uid $UID_U" "lacks" &&
		pass no-cap-dump
	u_crt nocap dump -t "$P" -D "$W/img3" --unprivileged
	expect_error no-cap-dump-unprivileged "dump --unprivileged" "CAP_CHECKPOINT_RESTORE" "lacks" &&
		pass no-cap-dump-unprivileged
	if ! kill -0 "$P" 2>/dev/null || ! grep -q 'TracerPid:.0' "/proc/$P/status"; then
		fail no-cap-dump-leaves-running "pid $P is gone or still traced after the failed dumps"
	else
		pass no-cap-dump-leaves-running
	fi
	u_crt cap dump -t "$P" -D "$W/img3"
	u_crt nocap restore -D "$W/img3" -d
	expect_error no-cap-restore "clone3 with set_tid" "CAP_CHECKPOINT_RESTORE" "lacks" && pass no-cap-restore
	kill -0 "$P" 2>/dev/null && fail no-cap-restore-nothing-left "a process runs at pid $P"
	kill -0 "$P" 2>/dev/null || pass no-cap-restore-nothing-left
	stop "$P"
fi

# ---- seccomp filters: suspending them while the parasite runs needs CAP_SYS_ADMIN
if ! start sc seccomp --strict; then
	fail no-seccomp "seccomp did not start: $(cat "$W/sc.out")"
else
	P=$PID
	mkdir "$W/img5" && chown "$USER_NAME:" "$W/img5"
	u_crt cap dump -t "$P" -D "$W/img5" --unprivileged
	if expect_error no-seccomp "seccomp filters" "CAP_SYS_ADMIN" "uid $UID_U"; then
		if grep -q 'TracerPid:.0' "/proc/$P/status" 2>/dev/null && check_pass sc; then
			pass no-seccomp
		else
			fail no-seccomp "the program is gone, traced or failed its check after the refused dump"
		fi
	fi
	stop "$P"
fi

# ---- another user's process (root's): ptrace needs CAP_SYS_PTRACE
mkfifo "$T/root.fifo"
sleep 600 >"$T/root.fifo" &
PIDS+=("$!")
(echo $BASHPID >"$T/root.pid"; exec "$T/bin/counter" <"$T/root.fifo" >"$T/root.out" 2>&1) &
PIDS+=("$!")
for ((i = 0; i < 400; i++)); do grep -qx READY "$T/root.out" 2>/dev/null && break; sleep 0.025; done
RP=$(cat "$T/root.pid")
mkdir "$W/img4" && chown "$USER_NAME:" "$W/img4"
u_crt cap dump -t "$RP" -D "$W/img4" --unprivileged
expect_error other-user "can't seize pid $RP" "uid 0" "CAP_SYS_PTRACE" && pass other-user

# ---- --unprivileged uses no other capability, even as root
u_crt root dump -t "$RP" -D "$W/img4" --unprivileged --tcp-established
expect_error unprivileged-no-net-admin "--tcp-established" "CAP_NET_ADMIN" "--unprivileged does not use" &&
	pass unprivileged-no-net-admin

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]

#!/bin/bash
# test/tty.sh: state that needs a controlling terminal, which the runner's tests
# lack.  Each case runs inside a new pty session made by script(1): the
# program dev-special --tty opens /dev/tty there, is dumped and restored with
# --shell-job from the same session, and must then pass its check, as in the
# runner's modes (restore, leave-running, twice).  Error cases: the dump and
# the restore without --shell-job are refused, saying to use it.
#
#   test/tty.sh            (from the top of the tree, after make tests)
#   CRTOOL=path TEST_BIN=dir  to use other binaries
#
# Prints "PASS name" / "FAIL name: why" per case, then "N passed, N failed".
set -u
cd "$(dirname "$0")/.." || exit 2
CRTOOL=${CRTOOL:-$PWD/build/crtool}
BIN=${TEST_BIN:-$PWD/build/test}
passed=0
failed=0

if [ "${1:-}" = --inside ]; then
	# ---- one case, inside the pty session: $2 work dir, $3 mode
	T=$2
	mode=$3
	res() {
		echo "$*" >"$T/result"
		[ -n "${P:-}" ] && kill -9 "$P" 2>/dev/null
		exit 0
	}
	wait_line() { # FILE REGEX
		local i
		for ((i = 0; i < 400; i++)); do
			grep -qE "$2" "$1" 2>/dev/null && return 0
			sleep 0.025
		done
		return 1
	}
	mkfifo "$T/in"
	exec 7<>"$T/in" # keeps the FIFO open: the program's stdin never sees EOF
	"$BIN/dev-special" --tty <"$T/in" >"$T/out" 2>&1 &
	P=$!
	wait_line "$T/out" '^READY$' || res "FAIL did not start: $(tr '\n' ' ' <"$T/out")"
	dump() { # DIR [ARGS]: a dump that must work
		local d=$1
		shift
		mkdir "$d"
		"$CRTOOL" dump -t "$P" -D "$d" "$@" 2>"$T/err" || res "FAIL crtool dump $*: $(cat "$T/err")"
	}
	# crtool restore without -d stays the restored process's parent and reaps it
	# when a later dump kills it: its pid is free again at once.
	PARENT=$P
	restore() { # DIR [ARGS]
		local i
		rm -f "$T/pid"
		"$CRTOOL" restore -D "$1" --pidfile "$T/pid" "${@:2}" 2>"$T/err" &
		PARENT=$!
		for ((i = 0; i < 400; i++)); do
			[ -s "$T/pid" ] && break
			kill -0 "$PARENT" 2>/dev/null || res "FAIL crtool restore: $(cat "$T/err")"
			sleep 0.025
		done
		[ "$(cat "$T/pid" 2>/dev/null)" = "$P" ] || res "FAIL restored as pid '$(cat "$T/pid")', not $P"
	}
	gone() { # the dump killed P: wait for whoever reaps it
		timeout 10 tail --pid="$PARENT" -f /dev/null
		wait "$PARENT" 2>/dev/null
		kill -0 "$P" 2>/dev/null && res "FAIL pid $P still runs after the dump"
		return 0
	}
	case "$mode" in
	restore)
		dump "$T/d1" --shell-job && gone && restore "$T/d1" --shell-job
		;;
	leave-running)
		dump "$T/d1" --shell-job --leave-running
		;;
	twice)
		dump "$T/d1" --shell-job && gone && restore "$T/d1" --shell-job
		dump "$T/d2" --shell-job && gone && restore "$T/d2" --shell-job
		;;
	errors)
		mkdir "$T/d0"
		if "$CRTOOL" dump -t "$P" -D "$T/d0" 2>"$T/err"; then
			res "FAIL a dump without --shell-job worked"
		fi
		grep -q -- "--shell-job" "$T/err" || res "FAIL dump message: $(cat "$T/err")"
		dump "$T/d1" --shell-job && gone
		if "$CRTOOL" restore -D "$T/d1" -d 2>"$T/err"; then
			res "FAIL a restore without --shell-job worked"
		fi
		grep -q -- "--shell-job" "$T/err" || res "FAIL restore message: $(cat "$T/err")"
		kill -0 "$P" 2>/dev/null && res "FAIL a process runs at pid $P after the failed restore"
		res PASS
		;;
	esac
	echo CHECK >&7
	wait_line "$T/out" '^(PASS|FAIL)' || res "FAIL no verdict: $(tr '\n' ' ' <"$T/out")"
	grep -q '^PASS$' "$T/out" || res "FAIL $(grep '^FAIL' "$T/out")"
	res PASS
fi

if ! command -v script >/dev/null; then
	echo "FAIL tty: script(1) is not installed (util-linux/bsdutils)"
	echo "0 passed, 1 failed"
	exit 1
fi
for mode in restore leave-running twice errors; do
	T=$(mktemp -d /tmp/libcr-tty-XXXXXX)
	CRTOOL=$CRTOOL BIN=$BIN timeout 120 script -qec "$0 --inside $T $mode" /dev/null >/dev/null 2>&1 </dev/null
	r=$(cat "$T/result" 2>/dev/null || echo "FAIL no result (script exit $?)")
	if [ "$r" = PASS ]; then
		echo "PASS dev-special --tty $mode"
		passed=$((passed + 1))
	else
		echo "FAIL dev-special --tty $mode: ${r#FAIL }"
		failed=$((failed + 1))
	fi
	[ -s "$T/pid" ] && kill -9 "$(cat "$T/pid")" 2>/dev/null
	rm -rf "$T"
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]

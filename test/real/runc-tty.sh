#!/bin/bash
# test/real/runc-tty.sh: a runc container with a terminal (`terminal: true`, the
# way podman -t and most runc users run them) checkpointed and restored with libcr
# behind runc (`runc --criu PATH`).  Its stdin/out/err are the slave of a pty whose
# master runc hands to --console-socket: test/console-recv.py takes it, logs what
# the container prints and feeds it lines.  The container counts on its terminal
# and echoes each line it reads as "got:LINE".  Cases:
#   run            the counter shows on the console, a line written reaches it
#   checkpoint     runc checkpoint: the container is gone, the console hung up
#   restore        runc restore -d --console-socket S2: the new master arrives (the
#                  "orphan-pts-master" notify), the counter goes on from where it
#                  was, a line written reaches the container, the window size is
#                  the one set on the first console
#   leave-running  runc checkpoint --leave-running: it keeps counting on the console
#   twice          checkpoint and restore the restored container again
# In `make test` (run-all's real tests).  Prints "N passed, N failed".
set -u
cd "$(dirname "$0")/../.." || exit 2
CRTOOL=${CRTOOL:-$PWD/build/crtool}
RECV=$PWD/test/console-recv.py
T=$(mktemp -d /tmp/libcr-runc-tty-XXXXXX)
ID=libcr-runc-tty-$$
pass=0
fail=0
RPIDS=()
cleanup() {
	runc delete -f "$ID" >/dev/null 2>&1
	for p in "${RPIDS[@]}"; do kill "$p" 2>/dev/null; done
	[ -n "${KEEP:-}" ] && echo "kept $T" || rm -rf "$T"
}
trap cleanup EXIT
ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
finish() { echo "$pass passed, $fail failed"; [ "$fail" = 0 ]; exit; }
forget() { for _ in $(seq 50); do runc delete "$ID" >/dev/null 2>&1 && return; sleep 0.05; done; }
why() { grep -h 'Error' "$T/wd/$1" 2>/dev/null | sed 's/^([0-9.]*) //' | sort -u | tr '\n' ' '; }
wait_for() { # SECONDS COMMAND...: until it succeeds
	local n=$(($1 * 20))
	shift
	local i
	for ((i = 0; i < n; i++)); do "$@" && return 0; sleep 0.05; done
	return 1
}
# the last number the container printed on console N
last() { grep -ao 'count [0-9]*' "$T/out$1" 2>/dev/null | tail -1 | cut -d' ' -f2; }
first() { grep -ao 'count [0-9]*' "$T/out$1" 2>/dev/null | head -1 | cut -d' ' -f2; }
above() { [ "$(last "$1")" -gt "$2" ] 2>/dev/null; } # N VALUE: console N has counted past VALUE
printed() { [ -n "$(first "$1")" ]; }
# a console receiver N on $T/cs$N (extra args: ROWS COLS to set)
console() {
	local n=$1
	shift
	rm -f "$T/cs$n"
	mkfifo "$T/in$n"
	python3 "$RECV" "$T/cs$n" "$T/out$n" "$T/in$n" "$@" 2>"$T/recv$n.err" &
	RPIDS+=($!)
	wait_for 5 test -S "$T/cs$n"
}
# a line to console N must come back from the container
echoes() { # N WORD
	echo "$2" >"$T/in$1"
	wait_for 5 grep -aq "got:$2" "$T/out$1"
}
counting() { # N: the count on console N grows
	local a
	a=$(last "$1")
	wait_for 5 above "$1" "${a:-0}"
}

BUSYBOX=$(command -v busybox)
if ! command -v runc >/dev/null || [ -z "$BUSYBOX" ] || ! file -L "$BUSYBOX" 2>/dev/null | grep -q static ||
	! command -v python3 >/dev/null; then
	bad runc-tty "runc, busybox-static or python3 is not installed (make deps)"
	finish
fi
mkdir -p "$T/bin" "$T/bundle/rootfs/bin" "$T/bundle/rootfs/tmp" "$T/wd"
ln -s "$CRTOOL" "$T/bin/criu"
cp "$BUSYBOX" "$T/bundle/rootfs/bin/busybox"
for c in sh sleep cat echo; do ln -s busybox "$T/bundle/rootfs/bin/$c"; done
(cd "$T/bundle" && runc spec) || { bad runc-tty "runc spec failed"; finish; }
# a background list's stdin is /dev/null unless redirected: the reader gets the terminal by fd 3
python3 - "$T/bundle/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["process"]["terminal"] = True
c["process"]["args"] = ["/bin/sh", "-c", "exec 3<&0; (while read l; do echo got:$l; done) <&3 & "
                        "i=0; while :; do i=$((i+1)); echo count $i; sleep 0.05; done"]
c["root"]["readonly"] = False
json.dump(c, open(sys.argv[1], "w"), indent=1)
PY

# ---- run
console 1 33 77 || { bad run "no console socket: $(cat "$T/recv1.err")"; finish; }
if ! (cd "$T/bundle" && runc run -d --console-socket "$T/cs1" "$ID" >"$T/run.out" 2>&1); then
	bad run "runc run: $(tr '\n' ' ' <"$T/run.out")"
	finish
fi
if ! wait_for 10 above 1 10 || ! echoes 1 hello; then
	bad run "counting to $(last 1) on the console; $(tail -c 200 "$T/out1" | tr '\n\r' '  ') $(cat "$T/recv1.err")"
	finish
fi
ok "run: the container counts on its console ($(cat "$T/out1.fd")), a line reaches it"

ms() { echo $(($(date +%s%N) / 1000000)); }
# checkpoint N: runc checkpoint into img$N, the console hangs up ($took: its ms)
checkpoint() { # N CASE [runc args]
	local n=$1 what=$2 t0
	shift 2
	t0=$(ms)
	if ! runc --criu "$T/bin/criu" checkpoint --image-path "$T/img$n" --work-path "$T/wd" "$@" "$ID" \
		>"$T/ck$n.out" 2>&1; then
		bad "$what" "runc: $(tr '\n' ' ' <"$T/ck$n.out") -- libcr says: $(why dump.log)"
		finish
	fi
	took=$(($(ms) - t0))
}
restore() { # N CASE: runc restore of img$N with console N
	local n=$1 what=$2 t0
	console "$n" || { bad "$what" "no console socket: $(cat "$T/recv$n.err")"; finish; }
	t0=$(ms)
	if ! (cd "$T/bundle" && exec runc --criu "$T/bin/criu" restore -d --console-socket "$T/cs$n" \
		--image-path "$T/img$n" --work-path "$T/wd" "$ID" >"$T/rs$n.out" 2>&1); then
		bad "$what" "runc: $(tr '\n' ' ' <"$T/rs$n.out") -- libcr says: $(why restore.log)"
		finish
	fi
	took=$(($(ms) - t0))
}
# the restored container on console N counts on from above before, and hears it
restored() { # N CASE BEFORE
	local n=$1 what=$2 before=$3 f
	if ! wait_for 10 test -s "$T/out$n.fd" || ! wait_for 10 printed "$n"; then
		bad "$what" "nothing on the new console: $(cat "$T/recv$n.err") $(why restore.log)"
		finish
	fi
	f=$(first "$n")
	if [ "$f" -le "$before" ] || [ "$f" -gt $((before + 100)) ] || ! counting "$n" || ! echoes "$n" "line$n"; then
		bad "$what" "count $before at the checkpoint, then $f..$(last "$n") on the new console; $(tail -c 200 "$T/out$n" | tr '\n\r' '  ')"
		finish
	fi	# the container's init leads its session, the new pty its controlling terminal again
	local pid tty
	pid=$(runc state "$ID" | python3 -c 'import json, sys; print(json.load(sys.stdin)["pid"])')
	tty=$(sed 's/.*) //' "/proc/$pid/stat" | cut -d' ' -f5)
	if [ "$((tty >> 8))" != 136 ]; then
		bad "$what" "the restored init (pid $pid) has no pts as its controlling terminal (tty_nr $tty)"
		finish
	fi
}

# ---- checkpoint
checkpoint 2 checkpoint
before=$(last 1)
if ! wait_for 5 sh -c "! kill -0 ${RPIDS[0]} 2>/dev/null" || [ ! -s "$T/img2/inventory.img" ]; then
	bad checkpoint "the first console did not hang up, or no images: $(ls "$T/img2")"
	finish
fi
ok "checkpoint: stopped at $before, the console hung up, runc checkpoint took $took ms"
forget

# ---- restore
restore 2 restore
rs_ms=$took
restored 2 restore "$before"
read -r _ size <"$T/out2.fd"
if [ "$size" != 33x77 ]; then
	bad restore "the new terminal is ${size}, not 33x77 as at the checkpoint"
	finish
fi
ok "restore: a new master on the console socket ($(cat "$T/out2.fd")), counting on $before -> $(first 2).., a line reaches it, runc restore -d took $rs_ms ms"

# ---- leave-running
checkpoint 3 leave-running --leave-running
if ! counting 2 || ! echoes 2 still; then
	bad leave-running "the container stopped counting on its console after the checkpoint"
	finish
fi
ok "leave-running: it counts on on the same console ($(last 2)), $(ls "$T/img3" | wc -l) image files"

# ---- twice: the restored container again
checkpoint 4 twice
before=$(last 2)
forget
restore 4 twice
restored 4 twice "$before"
ok "twice: checkpointed and restored again, counting on $before -> $(first 4).. on a third console"
finish

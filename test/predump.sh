#!/bin/bash
# test/predump.sh: pre-dump rounds with dirty-page tracking (PAGEMAP_SCAN and an
# async write-protect userfaultfd: this kernel has no soft-dirty), then the final
# dump and a restore.
#
# build/test/mem-dirty fills an area A of 256 MiB; between rounds it rewrites
# known pages of A, zaps others, unmaps one area, moves another and maps a new
# one.  Each round must store exactly the pages written since the one before
# (counted in A from `crtool show --json` of its pagemap), list the zapped pages
# nowhere, and the restored process must find every page as it was last written.
# Then the error paths: restoring a pre-dump, a parent that is no images dir.
# Prints "N passed, N failed".
set -u
cd "$(dirname "$0")/.." || exit 2
B=$PWD/build
CRTOOL=${CRTOOL:-$B/crtool}
SIZE_MIB=${PREDUMP_SIZE_MIB:-256}
pass=0
fail=0
work=$(mktemp -d /tmp/libcr-predump-XXXXXX)
pid=""
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$work"' EXIT

ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }

# wait_for TEXT: until the program's output has a line TEXT (30 s)
wait_for() {
	for _ in $(seq 300); do
		grep -qx "$1" "$work/out" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# pages DIR ROUND: "DATA_IN_A PARENT_IN_A ZAPPED_LISTED" from DIR's pagemap of $pid
# (zapped: the pages round 1 zapped that round 2 did not write again)
pages() {
	"$CRTOOL" show "$1/pagemap-$pid.img" --json | python3 -c '
import json, sys
a, n = int(sys.argv[1], 16), int(sys.argv[2])
end = a + n * 4096
rewritten = {53 * k + 7 for k in range(500)} if int(sys.argv[3]) >= 2 else set()
zapped = {a + i * 4096 for i in (37 * k + 5 for k in range(100)) if i not in rewritten}
data = parent = listed = 0
for r in json.load(sys.stdin)[1:]:
    v, cnt = r["vaddr"], r["nr_pages"]
    if v < a or v >= end:
        continue
    if r.get("in_parent"):
        parent += cnt
    else:
        data += cnt
    listed += sum(1 for z in zapped if v <= z < v + cnt * 4096)
print(data, parent, listed)' "$A" "$NPAGES" "$2"
}

mkdir -p "$work/1" "$work/2" "$work/3"
setsid "$B/test/mem-dirty" --size "$SIZE_MIB" >"$work/out" 2>&1 </dev/null &
pid=$!
disown "$pid"
if ! wait_for READY; then
	bad setup "mem-dirty did not start: $(cat "$work/out")"
	echo "$pass passed, $fail failed"
	exit 1
fi
read -r A NPAGES < <(sed -n 's/^A=\(0x[0-9a-f]*\) \([0-9]*\)$/\1 \2/p' "$work/out")

# round 1: everything
if ! "$CRTOOL" pre-dump -t "$pid" -D "$work/1" 2>"$work/err"; then
	bad pre-dump-1 "$(cat "$work/err")"
elif ! read -r data parent _ < <(pages "$work/1" 0) || [ "$data" != "$NPAGES" ] || [ "$parent" != 0 ]; then
	bad pre-dump-1 "area A: $data pages stored, $parent in a parent; want all $NPAGES stored"
else
	ok "pre-dump-1: all $NPAGES pages of A stored"
fi
[ "$(awk '/^State:/ { print $2 }' "/proc/$pid/status")" != t ] && ok "pre-dump-1: the process runs on" ||
	bad pre-dump-1 "the process is left stopped"

kill -USR1 "$pid"
wait_for "ROUND 1" || bad round-1 "the program did not finish round 1"
if ! "$CRTOOL" pre-dump -t "$pid" -D "$work/2" --prev-images-dir "$work/1" 2>"$work/err"; then
	bad pre-dump-2 "$(cat "$work/err")"
else
	read -r data parent listed < <(pages "$work/2" 1)
	want_parent=$((NPAGES - 1000 - 100))
	if [ "$data" = 1000 ] && [ "$parent" = "$want_parent" ] && [ "$listed" = 0 ]; then
		ok "pre-dump-2: exactly the 1000 pages written stored, $parent in the parent, the 100 zapped listed nowhere"
	else
		bad pre-dump-2 "area A: $data stored (want 1000), $parent in the parent (want $want_parent), $listed zapped pages listed (want 0)"
	fi
fi

kill -USR1 "$pid"
wait_for "ROUND 2" || bad round-2 "the program did not finish round 2"
if ! "$CRTOOL" dump -t "$pid" -D "$work/3" --prev-images-dir "$work/2" 2>"$work/err"; then
	bad dump "$(cat "$work/err")"
else
	read -r data parent listed < <(pages "$work/3" 2)
	if [ "$data" = 500 ] && [ "$listed" = 0 ]; then
		ok "dump: exactly the 500 pages written since the last pre-dump stored"
	else
		bad dump "area A: $data stored (want 500), $listed zapped pages listed (want 0)"
	fi
	for _ in $(seq 100); do [ -e "/proc/$pid" ] && ! grep -q '^State:.*Z' "/proc/$pid/status" || break; sleep 0.05; done
	# the keepers of our two rounds (others' tests may have their own)
	names=$(for d in 1 2; do printf 'libcr-track-%x-%x\n' "$(stat -c %d "$work/$d")" "$(stat -c %i "$work/$d")"; done)
	if grep -qF "$names" /proc/net/unix; then
		bad tracker "a dirty tracker still listens after the final dump: $(grep -F "$names" /proc/net/unix)"
	else
		ok "tracker: no keeper left once the final dump took the tracking over"
	fi
	if ! "$CRTOOL" restore -D "$work/3" -d 2>"$work/err"; then
		bad restore "$(cat "$work/err")"
	else
		kill -USR2 "$pid"
		for _ in $(seq 300); do grep -q '^PASS$\|^FAIL' "$work/out" && break; sleep 0.1; done
		if grep -qx PASS "$work/out"; then
			ok "restore: every page of A, of the moved area and of the new one as last written"
		else
			bad restore "$(grep '^FAIL' "$work/out" || echo "no answer from the restored process")"
		fi
	fi
fi

# errors
if "$CRTOOL" restore -D "$work/2" 2>"$work/err"; then
	bad restore-pre-dump "restoring a pre-dump succeeded"
elif grep -q "holds a pre-dump" "$work/err"; then
	ok "restore-pre-dump: refused: $(cat "$work/err")"
else
	bad restore-pre-dump "unexpected message: $(cat "$work/err")"
fi
mkdir -p "$work/empty" "$work/4"
sleep 100 >/dev/null 2>&1 &
sleeper=$!
if "$CRTOOL" pre-dump -t "$sleeper" -D "$work/4" --prev-images-dir "$work/empty" 2>"$work/err"; then
	bad bad-parent "a pre-dump over an empty parent directory succeeded"
elif grep -q "no images of an earlier round" "$work/err"; then
	ok "bad-parent: refused: $(cat "$work/err")"
else
	bad bad-parent "unexpected message: $(cat "$work/err")"
fi
kill "$sleeper" 2>/dev/null
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]

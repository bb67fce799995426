#!/bin/bash
# test/real/runc.sh: a runc container checkpointed and restored with libcr behind
# runc (`runc --criu PATH`, PATH a `criu` symlink to crtool: its swrk RPC mode).
#
# The bundle: busybox-static as the rootfs, `runc spec` with terminal false, a
# shell loop counting into /tmp/count (its own variable: a restart would count
# from 1 again); stdout and stderr are a pipe (runc hands the pipe to the restore
# with inherit_fd).  Cases:
#   checkpoint   runc checkpoint: the container is gone, the images are there
#   restore      runc restore -d: the container runs again and counts on from
#                where it was (a number above the one at the checkpoint, early on)
#   predump      runc checkpoint --pre-dump, then --parent-path: the second round
#                links to the first, and its restore counts on
# When libcr refuses the container, its own message (from the log runc names) is
# printed with the failure.  In `make test` (run-all's real tests).
# Prints "N passed, N failed".
set -u
cd "$(dirname "$0")/../.." || exit 2
CRTOOL=${CRTOOL:-$PWD/build/crtool}
T=$(mktemp -d /tmp/libcr-runc-XXXXXX)
ID=libcr-runc-$$
pass=0
fail=0
cleanup() {
	runc delete -f "$ID" >/dev/null 2>&1
	[ -n "${KEEP:-}" ] && echo "kept $T" || rm -rf "$T"
}
trap cleanup EXIT
ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
finish() { echo "$pass passed, $fail failed"; [ "$fail" = 0 ]; exit; }
# the checkpointed container's state goes, as before any restore under its name (runc
# may still see its init dying for a moment)
forget() { for _ in $(seq 50); do runc delete "$ID" >/dev/null 2>&1 && return; sleep 0.05; done; }
# the file may be caught mid-write (empty): read again
count() {
	local v
	for _ in 1 2 3 4 5; do
		v=$(cat "$T/bundle/rootfs/tmp/count" 2>/dev/null)
		[ -n "$v" ] && break
		sleep 0.02
	done
	echo "${v:-0}"
}
# libcr's own error lines from the log runc names (work dir)
why() { grep -h 'Error' "$T/wd/$1" 2>/dev/null | sed 's/^([0-9.]*) //' | sort -u | tr '\n' ' '; }

BUSYBOX=$(command -v busybox)
if ! command -v runc >/dev/null || [ -z "$BUSYBOX" ] || ! file -L "$BUSYBOX" 2>/dev/null | grep -q static; then
	bad runc "runc or busybox-static is not installed (make deps)"
	finish
fi
mkdir -p "$T/bin" "$T/bundle/rootfs/bin" "$T/bundle/rootfs/tmp" "$T/img" "$T/wd"
ln -s "$CRTOOL" "$T/bin/criu"
cp "$BUSYBOX" "$T/bundle/rootfs/bin/busybox"
for c in sh sleep cat echo; do ln -s busybox "$T/bundle/rootfs/bin/$c"; done
(cd "$T/bundle" && runc spec) || { bad runc "runc spec failed"; finish; }
python3 - "$T/bundle/config.json" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/sh", "-c", "i=0; while :; do i=$((i+1)); echo $i >/tmp/count; sleep 0.05; done"]
c["root"]["readonly"] = False
json.dump(c, open(sys.argv[1], "w"), indent=1)
EOF

# the container's stdout and stderr: an anonymous pipe (runc hands the restore's own
# to it by inherit_fd), read by a cat that ends with the container
(cd "$T/bundle" && exec runc run -d "$ID" </dev/null > >(exec cat >"$T/run.out") 2>&1)
for _ in $(seq 100); do [ "$(count)" -ge 30 ] && break; sleep 0.05; done
if [ "$(count)" -lt 30 ]; then
	bad runc "the container does not count: $(cat "$T/run.out"; runc list)"
	finish
fi

ms() { echo $(($(date +%s%N) / 1000000)); }
# the file may be caught empty (mid-write) by the dump: the last number seen before
# it is the lower bound the restored count must be above
seen=$(count)
t0=$(ms)
if ! runc --criu "$T/bin/criu" checkpoint --image-path "$T/img" --work-path "$T/wd" "$ID" >"$T/ck.out" 2>&1; then
	bad checkpoint "runc: $(tr '\n' ' ' <"$T/ck.out") -- libcr says: $(why dump.log)"
	finish
fi
ck_ms=$(($(ms) - t0))
before=$(count)
[ "$before" -lt "$seen" ] && before=$seen
sleep 0.3
if [ "$(count)" -gt "$before" ] || [ ! -s "$T/img/inventory.img" ]; then
	bad checkpoint "the container still counts, or no images: $(ls "$T/img")"
	finish
fi
ok "checkpoint: stopped at $before, $(ls "$T/img" | wc -l) image files, runc checkpoint took $ck_ms ms"
forget

t0=$(ms)
if ! (cd "$T/bundle" && exec runc --criu "$T/bin/criu" restore -d --image-path "$T/img" --work-path "$T/wd" "$ID" \
	</dev/null > >(exec cat >"$T/rs.out") 2>&1); then
	bad restore "runc: $(tr '\n' ' ' <"$T/rs.out") -- libcr says: $(why restore.log)"
	finish
fi
rs_ms=$(($(ms) - t0))
sleep 0.5
after=$(count)
state=$(runc state "$ID" 2>/dev/null | grep -o '"status": "[a-z]*"')
if [ "$after" -le "$before" ] || [ "$after" -gt $((before + 100)) ]; then
	bad restore "count $before at the checkpoint, $after now ($state); $(tr '\n' ' ' <"$T/rs.out") $(why restore.log)"
else
	ok "restore: counting on, $before -> $after, runc says $state, runc restore -d took $rs_ms ms"
fi

# the restored container again, in two rounds: its memory while it runs, then only
# the pages written since (images linked to the first by "parent")
if ! runc --criu "$T/bin/criu" checkpoint --pre-dump --image-path "$T/pre" --work-path "$T/wd2" "$ID" \
	>"$T/pre.out" 2>&1; then
	bad predump "runc: $(tr '\n' ' ' <"$T/pre.out") -- libcr says: $(why ../wd2/pre-dump.log)"
	finish
fi
if ! runc --criu "$T/bin/criu" checkpoint --parent-path ../pre --image-path "$T/img2" --work-path "$T/wd2" "$ID" \
	>"$T/ck2.out" 2>&1; then
	bad predump "runc: $(tr '\n' ' ' <"$T/ck2.out") -- libcr says: $(why ../wd2/dump.log)"
	finish
fi
before=$(count)
forget
if ! (cd "$T/bundle" && exec runc --criu "$T/bin/criu" restore -d --image-path "$T/img2" --work-path "$T/wd2" "$ID" \
	</dev/null > >(exec cat >"$T/rs2.out") 2>&1); then
	bad predump "runc restore: $(tr '\n' ' ' <"$T/rs2.out") -- libcr says: $(why ../wd2/restore.log)"
	finish
fi
sleep 0.5
after=$(count)
pages=$(grep -h 'stats: frozen' "$T"/wd2/*.log | sed 's/.*pages=\([0-9]*\).*/\1/' | tr '\n' ' ')
if [ "$after" -le "$before" ] || [ "$(readlink "$T/img2/parent")" != "$T/pre" ]; then
	bad predump "count $before then $after, parent link $(readlink "$T/img2/parent")"
else
	ok "predump: --pre-dump then --parent-path (pages per round: $pages), restored counting $before -> $after"
fi
finish

#!/bin/bash
# test/real/runc-child.sh: a tree that runs a container (a CI job running `runc run`
# in the foreground) checkpointed and restored by crtool directly: the container's
# init is a process of the tree in namespaces its runc made (pid, UTS, IPC, network,
# cgroup, and a mount namespace pivot_rooted into the bundle's rootfs, with proc,
# a tmpfs /dev, sysfs, cgroups bound in).
#
# The bundle: busybox-static as the rootfs, `runc spec` with terminal false, a
# shell loop counting into /tmp/count (its own variable: a restart would count
# from 1 again).  The tree: sh -> runc run -> the container's sh.  Cases:
#   dump      crtool dump of the tree: it is gone, the images are there
#   restore   crtool restore -d: the container counts on from where it was, its root
#             is the bundle's rootfs again, and runc run still waits for it
# (`runc state` says stopped after it: runc's state.json holds the init's start
# time, which a restored process can't have again.)
# Prints "N passed, N failed".
set -u
cd "$(dirname "$0")/../.." || exit 2
CRTOOL=${CRTOOL:-$PWD/build/crtool}
T=$(mktemp -d /tmp/libcr-runc-child-XXXXXX)
ID=libcr-runc-child-$$
pass=0
fail=0
TREE= RUNC= INIT=
cleanup() {
	local p
	# (the restored ones are at the same PIDs; runc's state no longer names the init)
	for p in $INIT $RUNC $TREE; do
		kill -9 "$p" 2>/dev/null
	done
	runc delete -f "$ID" >/dev/null 2>&1
	[ -n "${KEEP:-}" ] && echo "kept $T" || rm -rf "$T"
}
trap cleanup EXIT
ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
finish() { echo "$pass passed, $fail failed"; [ "$fail" = 0 ]; exit; }
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
# (of any thread: runc forks from whichever)
child_of() { cat /proc/"$1"/task/*/children 2>/dev/null | awk '{ print $1; exit }'; }

BUSYBOX=$(command -v busybox)
if ! command -v runc >/dev/null || [ -z "$BUSYBOX" ] || ! file -L "$BUSYBOX" 2>/dev/null | grep -q static; then
	bad runc-child "runc or busybox-static is not installed (make deps)"
	finish
fi
mkdir -p "$T/bundle/rootfs/bin" "$T/bundle/rootfs/tmp" "$T/img"
cp "$BUSYBOX" "$T/bundle/rootfs/bin/busybox"
for c in sh sleep cat echo; do ln -s busybox "$T/bundle/rootfs/bin/$c"; done
(cd "$T/bundle" && runc spec) || { bad runc-child "runc spec failed"; finish; }
python3 - "$T/bundle/config.json" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/sh", "-c", "i=0; while :; do i=$((i+1)); echo $i >/tmp/count; sleep 0.05; done"]
c["root"]["readonly"] = False
json.dump(c, open(sys.argv[1], "w"), indent=1)
EOF

# the tree: a shell waiting for runc run, which waits for the container
(cd "$T/bundle" && exec setsid sh -c "runc run $ID </dev/null >$T/run.out 2>&1 & wait" </dev/null >/dev/null 2>&1) &
TREE=$!
disown "$TREE"
for _ in $(seq 100); do [ "$(count)" -ge 30 ] && break; sleep 0.05; done
RUNC=$(child_of "$TREE")
INIT=$([ -n "$RUNC" ] && child_of "$RUNC")
if [ "$(count)" -lt 30 ] || [ -z "$INIT" ]; then
	bad runc-child "the container does not count: $(cat "$T/run.out"; runc list)"
	finish
fi

seen=$(count)
if ! timeout 120 "$CRTOOL" dump -t "$TREE" -D "$T/img" >"$T/dump.out" 2>&1; then
	bad dump "crtool dump failed: $(grep Error "$T/dump.out")"
	finish
fi
for _ in $(seq 50); do kill -0 "$INIT" 2>/dev/null || break; sleep 0.05; done
if kill -0 "$INIT" 2>/dev/null; then
	bad dump "the container's init still runs after the dump"
	finish
fi
ok "dump: the tree is gone, image version $("$CRTOOL" show "$T/img/inventory.img" | awk '/^img_version/ { print $2 }')"

if ! timeout 120 "$CRTOOL" restore -D "$T/img" -d --pidfile "$T/pid" >"$T/restore.out" 2>&1; then
	bad restore "crtool restore failed: $(grep Error "$T/restore.out")"
	finish
fi
for _ in $(seq 100); do [ "$(count)" -gt $((seen + 10)) ] && break; sleep 0.05; done
now=$(count)
root=$(awk '$5 == "/" { print $4; exit }' "/proc/$INIT/mountinfo" 2>/dev/null)
if [ "$now" -le $((seen + 10)) ]; then
	bad restore "the container does not count on: $seen at the dump, $now now"
elif [ "$root" != "$T/bundle/rootfs" ]; then
	bad restore "the container's root mount is $root, not the bundle's rootfs"
elif [ "$(child_of "$RUNC")" != "$INIT" ] || [ "$(child_of "$TREE")" != "$RUNC" ]; then
	bad restore "the tree is not sh -> runc run -> the container's init again"
else
	ok "restore: counting on, $seen -> $now, its root the bundle's rootfs"
fi
finish

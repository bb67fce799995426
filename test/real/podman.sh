#!/bin/bash
# test/real/podman.sh: a podman container checkpointed once and restored three times
# side by side, with libcr behind runc (podman takes `criu` from PATH: a symlink
# to crtool, its swrk RPC mode).
#
# The image: busybox-static imported from a tarball (no registry); the container
# counts into /tmp/count from a shell variable.  podman on this machine needs
# --runtime runc --cgroup-manager cgroupfs and the ulimits (root lacks
# CAP_SYS_RESOURCE: Documentation/machine.md).  Cases:
#   checkpoint   podman container checkpoint --export: the container stops, the archive is there
#   copyN        podman container restore --import --name copyN, N = 1..3: each copy
#                counts on from the number at the checkpoint, all three at once
#   tty          a container run with -t (its stdio a pty whose master conmon holds)
#                checkpointed and restored in place: it counts on, and what it prints
#                reaches conmon again (podman logs) through the new master
# When libcr refuses the container, its own message (from the log runc names) is
# printed with the failure.  In `make test` (run-all's real tests).
# Prints "N passed, N failed".
set -u
cd "$(dirname "$0")/../.." || exit 2
CRTOOL=${CRTOOL:-$PWD/build/crtool}
T=$(mktemp -d /tmp/libcr-podman-XXXXXX)
TAG=localhost/libcr-busybox-$$
CT=libcr-podman-$$
PODMAN=(podman --runtime runc --cgroup-manager cgroupfs)
pass=0
fail=0
cleanup() {
	for c in "$CT" "$CT-copy1" "$CT-copy2" "$CT-copy3" "$CT-tty"; do "${PODMAN[@]}" rm -f -t 0 "$c" >/dev/null 2>&1; done
	"${PODMAN[@]}" rmi -f "$TAG" >/dev/null 2>&1
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
		v=$("${PODMAN[@]}" exec "$1" cat /tmp/count 2>/dev/null)
		[ -n "$v" ] && break
		sleep 0.02
	done
	echo "${v:-0}"
}
# libcr's own error lines, from the log file runc names in its message
why() {
	local log
	log=$(grep -o 'log file: [^" ]*' "$1" | head -n 1 | sed 's/log file: //; s/\\n.*//')
	[ -n "$log" ] && grep -h 'Error' "$log" 2>/dev/null | sed 's/^([0-9.]*) //' | sort -u | tr '\n' ' '
}

BUSYBOX=$(command -v busybox)
if ! command -v podman >/dev/null || ! command -v runc >/dev/null || [ -z "$BUSYBOX" ]; then
	bad podman "podman, runc or busybox-static is not installed (make deps)"
	finish
fi
mkdir -p "$T/bin" "$T/rootfs/bin" "$T/rootfs/tmp"
ln -s "$CRTOOL" "$T/bin/criu"
export PATH="$T/bin:$PATH"
cp "$BUSYBOX" "$T/rootfs/bin/busybox"
for c in sh sleep cat echo; do ln -s busybox "$T/rootfs/bin/$c"; done
tar -C "$T/rootfs" -cf "$T/rootfs.tar" . && "${PODMAN[@]}" import "$T/rootfs.tar" "$TAG" >/dev/null 2>&1 ||
	{ bad podman "podman import failed"; finish; }
# PODMAN_RUN_ARGS: more `podman run` options (e.g. --security-opt seccomp=unconfined)
read -r -a extra <<<"${PODMAN_RUN_ARGS:-}"
if ! "${PODMAN[@]}" run -d --name "$CT" --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 "${extra[@]}" "$TAG" \
	/bin/sh -c 'i=0; while :; do i=$((i+1)); echo $i >/tmp/count; sleep 0.05; done' >"$T/run.out" 2>&1; then
	bad podman "podman run failed: $(tr '\n' ' ' <"$T/run.out")"
	finish
fi
# far enough that a copy counting from 1 again can't pass for one counting on
for _ in $(seq 100); do [ "$(count "$CT")" -ge 60 ] && break; sleep 0.05; done
before=$(count "$CT")

if ! "${PODMAN[@]}" container checkpoint --export "$T/ck.tar.gz" "$CT" >"$T/ck.out" 2>&1; then
	bad checkpoint "podman: $(tail -n 3 "$T/ck.out" | tr '\n' ' ') -- libcr says: $(why "$T/ck.out")"
	finish
fi
if [ ! -s "$T/ck.tar.gz" ] || "${PODMAN[@]}" ps --format '{{.Names}}' | grep -qx "$CT"; then
	bad checkpoint "no archive, or the container still runs"
	finish
fi
ok "checkpoint: archive of $(stat -c %s "$T/ck.tar.gz") bytes, the container stopped"
"${PODMAN[@]}" rm -f "$CT" >/dev/null 2>&1

for n in 1 2 3; do
	if ! "${PODMAN[@]}" container restore --import "$T/ck.tar.gz" --name "$CT-copy$n" >"$T/rs$n.out" 2>&1; then
		bad "copy$n" "podman: $(tail -n 3 "$T/rs$n.out" | tr '\n' ' ') -- libcr says: $(why "$T/rs$n.out")"
	fi
done
sleep 0.5
for n in 1 2 3; do
	a=$(count "$CT-copy$n")
	sleep 0.3
	b=$(count "$CT-copy$n")
	if [ "$b" -le "$a" ] || [ "$a" -lt "$before" ]; then
		bad "copy$n" "not counting on from $before: $a then $b"
	else
		ok "copy$n: counting on from $before: $a -> $b, beside the other copies"
	fi
done

# ---- tty: podman run -dt, checkpoint and restore in place (runc's orphan-pts-master)
logged() { "${PODMAN[@]}" logs "$CT-tty" 2>/dev/null | grep -ao 'count [0-9]*' | tail -1 | cut -d' ' -f2; }
if ! "${PODMAN[@]}" run -dt --name "$CT-tty" --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 "${extra[@]}" "$TAG" \
	/bin/sh -c 'i=0; while :; do i=$((i+1)); echo count $i; echo $i >/tmp/count; sleep 0.05; done' >"$T/tty.out" 2>&1; then
	bad tty "podman run -dt failed: $(tr '\n' ' ' <"$T/tty.out")"
	finish
fi
for _ in $(seq 100); do [ "$(count "$CT-tty")" -ge 20 ] && break; sleep 0.05; done
if ! "${PODMAN[@]}" container checkpoint "$CT-tty" >"$T/tck.out" 2>&1; then
	bad tty "podman checkpoint: $(tail -n 3 "$T/tck.out" | tr '\n' ' ') -- libcr says: $(why "$T/tck.out")"
	finish
fi
before=$(logged)
if ! "${PODMAN[@]}" container restore "$CT-tty" >"$T/trs.out" 2>&1; then
	bad tty "podman restore: $(tail -n 3 "$T/trs.out" | tr '\n' ' ') -- libcr says: $(why "$T/trs.out")"
	finish
fi
sleep 0.5
a=$(count "$CT-tty")
for _ in $(seq 40); do [ "$(logged)" -gt $((a + 2)) ] 2>/dev/null && break; sleep 0.05; done
b=$(logged)
if [ -z "$before" ] || [ "$a" -le "$before" ] || [ "$a" -gt $((before + 100)) ] || ! [ "${b:-0}" -gt "$a" ]; then
	bad tty "count ${before:-none} on the terminal at the checkpoint, $a in the container after the restore, ${b:-none} on the terminal"
else
	ok "tty: podman run -dt, checkpoint, restore: counting on $before -> $a, printing on the new terminal (podman logs: $b)"
fi
finish

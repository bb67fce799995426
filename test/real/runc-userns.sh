#!/bin/bash
# test/real/runc-userns.sh: a runc container in a user namespace of its own
# (config.json: a "user" namespace with uidMappings/gidMappings 0 -> 200000,
# 65536 ids; the rootfs chowned to that range) checkpointed and restored with
# libcr behind runc (`runc --criu PATH`, as test/real/runc.sh).  Its pid, mount,
# IPC, UTS and network namespaces are owned by that user namespace; its init
# keeps a child (a sleep), so the restore makes several processes at their PIDs
# from inside the new user namespace.  Cases:
#   checkpoint   runc checkpoint: the container is gone, the images (userns.img) are there
#   restore      runc restore -d: the container counts on from where it was, and
#                its init's /proc/PID/uid_map and gid_map are the original's
# Prints "N passed, N failed".
set -u
cd "$(dirname "$0")/../.." || exit 2
CRTOOL=${CRTOOL:-$PWD/build/crtool}
T=$(mktemp -d /tmp/libcr-runc-userns-XXXXXX)
chmod 755 "$T"
ID=libcr-runc-userns-$$
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
forget() { for _ in $(seq 50); do runc delete "$ID" >/dev/null 2>&1 && return; sleep 0.05; done; }
count() {
	local v
	for _ in 1 2 3 4 5; do
		v=$(cat "$T/bundle/rootfs/tmp/count" 2>/dev/null)
		[ -n "$v" ] && break
		sleep 0.02
	done
	echo "${v:-0}"
}
why() { grep -h 'Error' "$T/wd/$1" 2>/dev/null | sed 's/^([0-9.]*) //' | sort -u | tr '\n' ' '; }
init_pid() { runc state "$ID" 2>/dev/null | sed -n 's/.*"pid": \([0-9]*\).*/\1/p'; }
maps() { local p; p=$(init_pid); [ -n "$p" ] && tr -s ' \n' ' ' <"/proc/$p/uid_map" && echo -n '/' && tr -s ' \n' ' ' <"/proc/$p/gid_map"; }

# the namespaces of pid not owned by its user namespace (NS_GET_USERNS)
foreign() {
	python3 -c 'import fcntl, os, sys
p = sys.argv[1]; u = os.stat("/proc/%s/ns/user" % p).st_ino
print(" ".join(k for k in ("mnt", "uts", "ipc", "net", "pid")
	       if os.fstat(fcntl.ioctl(os.open("/proc/%s/ns/%s" % (p, k), os.O_RDONLY), 0xb701)).st_ino != u))' "$1"
}

BUSYBOX=$(command -v busybox)
if ! command -v runc >/dev/null || [ -z "$BUSYBOX" ] || ! file -L "$BUSYBOX" 2>/dev/null | grep -q static; then
	bad runc-userns "runc or busybox-static is not installed (make deps)"
	finish
fi
mkdir -p "$T/bin" "$T/bundle/rootfs/bin" "$T/bundle/rootfs/tmp" "$T/img" "$T/wd"
ln -s "$CRTOOL" "$T/bin/criu"
cp "$BUSYBOX" "$T/bundle/rootfs/bin/busybox"
for c in sh sleep cat echo; do ln -s busybox "$T/bundle/rootfs/bin/$c"; done
(cd "$T/bundle" && runc spec) || { bad runc-userns "runc spec failed"; finish; }
python3 - "$T/bundle/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/sh", "-c", "sleep 1000 & i=0; while :; do i=$((i+1)); echo $i >/tmp/count; sleep 0.05; done"]
c["root"]["readonly"] = False
c["linux"]["namespaces"].append({"type": "user"})
c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 200000, "size": 65536}]
c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 200000, "size": 65536}]
json.dump(c, open(sys.argv[1], "w"), indent=1)
PY
chown -R 200000:200000 "$T/bundle/rootfs"

(cd "$T/bundle" && exec runc run -d "$ID" </dev/null > >(exec cat >"$T/run.out") 2>&1)
for _ in $(seq 100); do [ "$(count)" -ge 30 ] && break; sleep 0.05; done
if [ "$(count)" -lt 30 ]; then
	bad runc-userns "the container does not count: $(cat "$T/run.out"; runc list)"
	finish
fi
orig=$(maps)
if [ -n "$(foreign "$(init_pid)")" ]; then
	bad runc-userns "runc's container has namespaces not owned by its user namespace: $(foreign "$(init_pid)")"
	finish
fi
case "$orig" in
*"0 200000 65536"*) ;;
*) bad runc-userns "the container's maps are \"$orig\", not 0 200000 65536"; finish ;;
esac

ms() { echo $(($(date +%s%N) / 1000000)); }
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
if [ "$(count)" -gt "$before" ] || [ ! -s "$T/img/userns.img" ]; then
	bad checkpoint "the container still counts, or no userns.img: $(ls "$T/img")"
	finish
fi
ok "checkpoint: stopped at $before, userns.img saved, runc checkpoint took $ck_ms ms"
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
now=$(maps)
if [ "$after" -le "$before" ] || [ "$after" -gt $((before + 100)) ]; then
	bad restore "count $before at the checkpoint, $after now; $(tr '\n' ' ' <"$T/rs.out") $(why restore.log)"
elif [ "$now" != "$orig" ]; then
	bad restore "the restored init's maps are \"$now\", the original's \"$orig\""
elif ! pgrep -P "$(init_pid)" -f "sleep 1000" >/dev/null; then
	bad restore "the restored init has lost its child (sleep 1000)"
elif [ -n "$(foreign "$(init_pid)")" ]; then
	bad restore "the restored init's $(foreign "$(init_pid)") namespaces are not owned by its user namespace"
else
	ok "restore: counting on, $before -> $after, maps as before ($now), runc restore -d took $rs_ms ms"
fi
finish

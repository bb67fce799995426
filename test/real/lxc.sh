#!/bin/bash
# test/real/lxc.sh: an LXC container checkpointed and restored with lxc-checkpoint,
# which runs `criu` from PATH with CRIU's command line: here a symlink to crtool.
#
# The container: a busybox-static directory as its rootfs, a config written here
# (no template, no download), a veth on a bridge this script makes, and as init
# a script that counts into /tmp/count and keeps a TCP connection from the host
# (busybox nc -l writing what it receives to /tmp/got).  Cases:
#   checkpoint   lxc-checkpoint -s -D DIR: the container stops, the images are there
#   restore      lxc-checkpoint -r -D DIR: it runs again, counting on from where it
#                was, and what the host sends on the same connection arrives
# When libcr refuses the container, its own message (from DIR/dump.log or
# DIR/restore.log, where LXC asks for the log) is printed with the failure.
# In `make test` (run-all's real tests).  Prints "N passed, N failed".
set -u
cd "$(dirname "$0")/../.." || exit 2
CRTOOL=${CRTOOL:-$PWD/build/crtool}
T=$(mktemp -d /tmp/libcr-lxc-XXXXXX)
N=$(($$ % 200 + 20))
BR=libcrbr$N
NET=10.$N.77
CT=ct
pass=0
fail=0
cleanup() {
	exec 7>&- 2>/dev/null
	lxc-stop -k -n "$CT" -P "$T" >/dev/null 2>&1
	ip link del "$BR" 2>/dev/null
	[ -n "${KEEP:-}" ] && echo "kept $T" || rm -rf "$T"
}
trap cleanup EXIT
ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
finish() { echo "$pass passed, $fail failed"; [ "$fail" = 0 ]; exit; }
R=$T/$CT/rootfs
# the file may be caught mid-write (empty): read again
count() {
	local v
	for _ in 1 2 3 4 5; do
		v=$(cat "$R/tmp/count" 2>/dev/null)
		[ -n "$v" ] && break
		sleep 0.02
	done
	echo "${v:-0}"
}
state() { lxc-info -s -n "$CT" -P "$T" 2>/dev/null | awk '{print $2}'; }
why() { grep -h 'Error' "$T/ck/$1" 2>/dev/null | sed 's/^([0-9.]*) //' | sort -u | tr '\n' ' '; }

BUSYBOX=$(command -v busybox)
if ! command -v lxc-checkpoint >/dev/null || [ -z "$BUSYBOX" ] || ! command -v ip >/dev/null; then
	bad lxc "lxc, busybox-static or iproute2 is not installed (make deps)"
	finish
fi
mkdir -p "$T/bin" "$R/bin" "$R/tmp" "$R/proc" "$R/sys" "$R/dev"
ln -s "$CRTOOL" "$T/bin/criu"
cp "$BUSYBOX" "$R/bin/busybox"
for c in sh sleep cat echo nc; do ln -s busybox "$R/bin/$c"; done
cat >"$R/init.sh" <<'EOF'
#!/bin/sh
nc -l -p 5000 >/tmp/got &
i=0
while :; do i=$((i+1)); echo $i >/tmp/count; sleep 0.05; done
EOF
chmod +x "$R/init.sh"
ip link add "$BR" type bridge && ip addr add "$NET.1/24" dev "$BR" && ip link set "$BR" up ||
	{ bad lxc "can't make the bridge $BR"; finish; }
cat >"$T/$CT/config" <<EOF
lxc.uts.name = libcr-lxc
lxc.rootfs.path = dir:$R
lxc.init.cmd = /init.sh
lxc.mount.auto = proc:mixed sys:ro
lxc.net.0.type = veth
lxc.net.0.link = $BR
lxc.net.0.flags = up
lxc.net.0.ipv4.address = $NET.2/24
lxc.apparmor.profile = unconfined
lxc.console.path = none
lxc.tty.max = 0
EOF
if ! lxc-start -n "$CT" -P "$T" -o "$T/start.log" -l INFO; then
	bad lxc "lxc-start failed: $(grep -h ERROR "$T/start.log" | tail -n 3)"
	finish
fi
for _ in $(seq 100); do [ "$(count)" -ge 30 ] && break; sleep 0.05; done
exec 7<>"/dev/tcp/$NET.2/5000" || { bad lxc "no TCP connection to the container"; finish; }
echo before >&7
sleep 0.2

export PATH="$T/bin:$PATH"
if ! lxc-checkpoint -s -n "$CT" -P "$T" -D "$T/ck" -o "$T/ck.log" >"$T/ck.out" 2>&1; then
	bad checkpoint "lxc: $(grep -h ERROR "$T/ck.log" | tail -n 2 | tr '\n' ' ') -- libcr says: $(why dump.log)"
	finish
fi
before=$(count)
sleep 0.3
if [ "$(state)" != STOPPED ] || [ "$(count)" != "$before" ] || [ ! -s "$T/ck/inventory.img" ]; then
	bad checkpoint "state $(state), count $before then $(count), images: $(ls "$T/ck" | tr '\n' ' ')"
	finish
fi
ok "checkpoint: stopped at $before, $(ls "$T/ck" | wc -l) files in the images dir"

if ! lxc-checkpoint -r -n "$CT" -P "$T" -D "$T/ck" -o "$T/rs.log" >"$T/rs.out" 2>&1; then
	bad restore "lxc: $(grep -h ERROR "$T/rs.log" | tail -n 2 | tr '\n' ' ') -- libcr says: $(why restore.log)"
	finish
fi
sleep 0.5
after=$(count)
echo after >&7
for _ in $(seq 50); do grep -q after "$R/tmp/got" && break; sleep 0.05; done
if [ "$(state)" != RUNNING ] || [ "$after" -le "$before" ] || [ "$after" -gt $((before + 100)) ]; then
	bad restore "state $(state), count $before at the checkpoint, $after now"
elif ! grep -q before "$R/tmp/got" || ! grep -q after "$R/tmp/got"; then
	bad restore "the TCP connection lost data: got '$(tr '\n' ' ' <"$R/tmp/got")'"
else
	ok "restore: running, counting $before -> $after, the TCP connection carries on"
fi
finish

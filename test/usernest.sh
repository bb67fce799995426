#!/bin/bash
# test/usernest.sh: user namespaces nested to the depth the kernel allows.
#
# `unshare -U -r -f` 33 times in a row (the kernel nests user namespaces 33 levels
# below the initial one), the last running sleep: dumped with --leave-running (the
# original must be as it was), then killed and restored; every process is again in
# a user namespace of its own whose parent is its parent's, with the same uid_map,
# gid_map, setgroups, ids, hostname, PIDs (NSpid), time offsets, and whether its
# pid, time and mount namespaces are its user namespace's.  Then a shorter chain whose first
# level owns a UTS namespace (`-u`, the hostname set inside) that the levels below stay
# in; two pid namespaces each owned by a nested user namespace (`unshare -U -r -p -f`
# twice); a time namespace owned by one (`unshare -U -r -T`, whose exec enters it); and
# a mount namespace owned by one with a tmpfs mounted in it (`unshare -U -r -m`).
# Prints "PASS name" / "FAIL name: why", then "N passed, N failed".
set -u
cd "$(dirname "$0")/.." || exit 2
CRTOOL=${CRTOOL:-$PWD/build/crtool}
work=$(mktemp -d /tmp/libcr-usernest-XXXXXX) || exit 2
pass=0
fail=0
np=
trap '[ -n "$np" ] && for p in $(pgrep -s "$np"); do kill -9 "$p"; done 2>/dev/null; rm -rf "$work"' EXIT

ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }

# chain SID: for each process of session SID in tree order (by depth of its user
# namespace): its comm, the index of the process whose user namespace is its own's
# parent (-1: none of the session's), its maps, setgroups, ids and hostname
chain() {
	python3 - "$1" <<'EOF'
import fcntl, os, subprocess, sys
NS_GET_PARENT = 0xb702
NS_GET_USERNS = 0xb701
sid = sys.argv[1]
pids = [int(p) for p in subprocess.run(["pgrep", "-s", sid], capture_output=True, text=True).stdout.split()]
procs = []
for p in pids:
    try:
        fd = os.open("/proc/%d/ns/user" % p, os.O_RDONLY)
        ino = os.fstat(fd).st_ino
        try:
            pfd = fcntl.ioctl(fd, NS_GET_PARENT)
            parent = os.fstat(pfd).st_ino
            os.close(pfd)
        except OSError:
            parent = 0
        os.close(fd)
        rd = lambda n: open("/proc/%d/%s" % (p, n)).read().split()
        st = [l for l in open("/proc/%d/status" % p) if l.startswith(("Uid", "Gid"))]
        host = subprocess.run(["nsenter", "-t", str(p), "-u", "hostname"], capture_output=True, text=True).stdout.strip()
        nspid = [l.split(None, 1)[1].strip() for l in open("/proc/%d/status" % p) if l.startswith("NSpid")]
        # whether its pid, time and mount namespaces are owned by its own user namespace, and
        # the offsets
        owned = []
        for k in ("pid", "time", "mnt"):
            kfd = os.open("/proc/%d/ns/%s" % (p, k), os.O_RDONLY)
            ofd = fcntl.ioctl(kfd, NS_GET_USERNS)
            owned.append("%s:%s" % (k, os.fstat(ofd).st_ino == ino))
            os.close(ofd)
            os.close(kfd)
        offs = " ".join(open("/proc/%d/timens_offsets" % p).read().split())
        procs.append((ino, parent, open("/proc/%d/comm" % p).read().strip(), rd("uid_map"), rd("gid_map"),
                      rd("setgroups"), " ".join(l.split(None, 1)[1].strip() for l in st), host, nspid, owned, offs))
    except OSError:
        pass
depth = {}
for i, x in enumerate(procs):
    d, ino = 0, x[0]
    while True:
        par = next((y[1] for y in procs if y[0] == ino), 0)
        if not any(y[0] == par for y in procs):
            break
        d, ino = d + 1, par
    depth[i] = d
order = sorted(range(len(procs)), key=lambda i: depth[i])
inos = [procs[i][0] for i in order]
for i in order:
    x = procs[i]
    par = inos.index(x[1]) if x[1] in inos else -1
    print(x[2], par, *x[3:])
EOF
}

# deep NAME N CMD: CMD makes N nested user namespaces, each with a process in it (the
# last two), and ends in sleep
deep() {
	local name=$1 n=$2 cmd=$3 before after i
	rm -rf "$work/img"
	mkdir -p "$work/img"
	setsid sh -c "$cmd & wait" </dev/null >/dev/null 2>&1 &
	np=$!
	disown "$np"   # (killed below: no job notice)
	for ((i = 0; i < 400; i++)); do
		[ "$(pgrep -s "$np" | wc -l)" = $((n + 2)) ] && pgrep -x -s "$np" sleep >/dev/null && break
		sleep 0.025
	done
	sleep 0.1
	before=$(chain "$np")
	if [ "$(grep -c . <<<"$before")" != $((n + 2)) ] || [ "$(cut -d' ' -f2 <<<"$before" | sort -u | wc -l)" != $((n + 1)) ]; then
		bad "$name" "the chain did not start: $before"
	elif ! "$CRTOOL" dump -t "$np" -D "$work/img" --leave-running 2>"$work/dump.err"; then
		bad "$name" "dump --leave-running failed: $(cat "$work/dump.err")"
	elif [ "$(chain "$np")" != "$before" ]; then
		bad "$name" "the original changed by the dump: $(chain "$np")"
	else
		for p in $(pgrep -s "$np"); do kill -9 "$p"; done
		for ((i = 0; i < 200 && $(pgrep -s "$np" | wc -l) > 0; i++)); do sleep 0.025; done
		if ! "$CRTOOL" restore -D "$work/img" -d 2>"$work/restore.err"; then
			bad "$name" "restore failed: $(cat "$work/restore.err")"
		elif after=$(chain "$np") && [ "$after" != "$before" ]; then
			bad "$name" "after the restore: $(diff <(echo "$before") <(echo "$after") | head -5)"
		else
			ok "$name"
		fi
	fi
	for p in $(pgrep -s "$np"); do kill -9 "$p"; done 2>/dev/null
	{ wait "$np"; } 2>/dev/null
	np=
}

[ "$(id -u)" = 0 ] || { echo "usernest.sh: needs root"; echo "0 passed, 1 failed"; exit 1; }
command -v python3 >/dev/null || { echo "SKIP usernest.sh: no python3"; echo "0 passed, 0 failed"; exit 0; }
cmd="sleep 300"
for ((i = 0; i < 33; i++)); do cmd="unshare -U -r -f $cmd"; done
deep "user namespaces nested 33 deep (unshare -U -r -f, 33 times)" 33 "$cmd"
deep "a UTS namespace owned by a nested user namespace, two more below" 3 \
	"unshare -U -r -f -u sh -c 'hostname usernest-deep && exec unshare -U -r -f unshare -U -r -f sleep 300'"
# a pid namespace owned by a nested user namespace (bubblewrap's), another one below
deep "pid namespaces owned by nested user namespaces (unshare -U -r -p -f, twice)" 2 \
	"unshare -U -r -p -f unshare -U -r -p -f sleep 300"
# a time namespace owned by a nested user namespace, its process in it (the exec enters it)
deep "a time namespace owned by a nested user namespace (unshare -U -r -T, then exec)" 2 \
	"unshare -U -r -f unshare -U -r -T --monotonic 1000000 --boottime 2000000 unshare -f sleep 300"
# a mount namespace owned by a nested user namespace, a tmpfs mounted there
deep "a mount namespace owned by a nested user namespace (unshare -U -r -m, a tmpfs)" 2 \
	"unshare -U -r -f unshare -U -r -m sh -c 'mount -t tmpfs usernest $work && exec unshare -f sleep 300'"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]

#!/bin/bash
# test/real/container-crtool.sh: a busybox container run by runc (`runc spec`,
# terminal false, `runc run -d`: its init is PID 1 of its own pid, mount, UTS,
# IPC and network namespaces), dumped and restored with crtool directly, twice:
# dump with its cgroup mounts named external (--external mnt[MOUNTPOINT]:NAME),
# restore with --root (the bundle's rootfs; the second time without it: the
# rootfs is found where the dump saw it) and the host's cgroup directories for
# them.  After each restore: the container's counter goes on from where it was,
# its mount table has the same mounts (point, type, options), its hostname and
# the file it wrote in /dev/shm (a tmpfs) are back, and its init is PID 1 of a
# pid namespace again.  Prints "N passed, N failed".
set -u
cd "$(dirname "$0")/../.." || exit 2
CRTOOL=${CRTOOL:-$PWD/build/crtool}
pass=0
fail=0
T=$(mktemp -d /tmp/libcr-ct-XXXXXX)
ID=libcr-ct-$$
RUNC=(runc --root "$T/runc")
RP=""
HOLD=()
cleanup() {
	[ -n "$RP" ] && kill -9 "$RP" 2>/dev/null
	"${RUNC[@]}" delete -f "$ID" >/dev/null 2>&1
	for p in "${HOLD[@]}"; do kill "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
finish() { echo "$pass passed, $fail failed"; [ "$fail" = 0 ]; exit; }

for c in runc busybox python3 nsenter; do
	if ! command -v "$c" >/dev/null; then
		bad container-crtool "$c is not installed (tools/install-deps.sh)"
		finish
	fi
done
if ! file -L "$(command -v busybox)" | grep -q 'statically linked'; then
	bad container-crtool "busybox is not the static one (busybox-static)"
	finish
fi

# ---- the bundle: a static busybox, a counter in /tmp/count, a mark in /dev/shm
R=$T/bundle/rootfs
mkdir -p "$R/bin" "$R/proc" "$R/sys" "$R/dev" "$R/tmp"
cp "$(command -v busybox)" "$R/bin/"
for a in sh sleep echo cat hostname; do ln -s busybox "$R/bin/$a"; done
(cd "$T/bundle" && runc spec) || { bad container-crtool "runc spec failed"; finish; }
python3 - "$T/bundle/config.json" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c['process']['terminal'] = False
c['process']['args'] = ['sh', '-c', 'echo mark-$$ > /dev/shm/mark; i=0; '
                        'while true; do i=$((i+1)); echo $i > /tmp/count; sleep 0.1; done']
c['root']['readonly'] = False
c['hostname'] = 'libcr-ct'
json.dump(c, open(p, 'w'), indent=1)
PY
# stdio: pipes held by us (a file of the host would be outside its mount tree)
exec 8< <(exec sleep 600)
HOLD+=("$!")
exec 9> >(exec cat >"$T/out")
HOLD+=("$!")
if ! (cd "$T/bundle" && "${RUNC[@]}" run -d "$ID" <&8 >&9 2>&9); then
	bad container-crtool "runc run failed: $(cat "$T/out")"
	finish
fi
P=$("${RUNC[@]}" state "$ID" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
for _ in $(seq 100); do [ -s "$R/tmp/count" ] && [ -s "$R/dev/shm/mark" -o -e "/proc/$P/root/dev/shm/mark" ] && break; sleep 0.05; done

# mounts ID PID: "mountpoint type per-mount-options" of each mount, sorted
mounts() { sed 's/ - / /' "/proc/$1/mountinfo" | awk '{ for (i = 7; $i != "" && $i ~ /:/; i++); print $5, $(i), $6 }' | sort; }
# the counter (the container rewrites the file: read again if caught empty)
counter() {
	local v
	for _ in 1 2 3 4 5; do
		v=$(cat "$R/tmp/count" 2>/dev/null)
		[ -n "$v" ] && break
		sleep 0.02
	done
	echo "$v"
}

before=$(mounts "$P")
mark=$(cat "/proc/$P/root/dev/shm/mark")
host=$(nsenter -u -t "$P" hostname)
pid=$P
for round in 1 2; do
	name="container-crtool round $round"
	ext=()
	while read -r mp; do
		ext+=(--external "mnt[$mp]:cg${mp//\//-}")
	done < <(sed 's/ - / - /' "/proc/$pid/mountinfo" | awk '/ - cgroup2? / { print $5 }')
	mkdir "$T/img$round"
	t0=$(date +%s%N)
	if ! "$CRTOOL" dump -t "$pid" -D "$T/img$round" "${ext[@]}" 2>"$T/err"; then
		bad "$name" "dump failed: $(cat "$T/err")"
		break
	fi
	# killed by the dump: gone, or a zombie, once its pid namespace is torn down
	for _ in $(seq 100); do
		[ -e "/proc/$pid" ] && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null || break
		sleep 0.05
	done
	if [ -e "/proc/$pid" ] && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; then
		bad "$name" "the container's init $pid still runs after the dump"
		break
	fi
	t1=$(date +%s%N)
	c0=$(counter)
	c0=${c0:-0}   # killed between the truncate and the write: empty
	rext=()
	for ((i = 0; i < ${#ext[@]}; i += 2)); do
		mp=${ext[i + 1]#mnt[}
		mp=${mp%%]*}
		key=${ext[i + 1]#*]:}
		rext+=(--external "mnt[$key]:$mp")   # the host's own cgroup directory there
	done
	# round 1 names the rootfs (--root); round 2 lets the restore find it where the
	# dump saw it on the host
	root=(--root "$R")
	[ "$round" = 2 ] && root=()
	if ! "$CRTOOL" restore -D "$T/img$round" -d --pidfile "$T/pid" "${root[@]}" "${rext[@]}" <&8 >&9 2>"$T/err"; then
		bad "$name" "restore failed: $(cat "$T/err")"
		break
	fi
	t2=$(date +%s%N)
	echo "# round $round: dump $(((t1 - t0) / 1000000)) ms, restore $(((t2 - t1) / 1000000)) ms (crtool, wall clock)"
	RP=$(cat "$T/pid")
	sleep 1
	c1=$(counter)
	after=$(mounts "$RP")
	nspid=$(awk '/^NSpid:/ { print $NF }' "/proc/$RP/status")
	if [ -z "$c1" ] || [ "$c1" -le "$c0" ]; then
		bad "$name" "the counter did not go on ($c0 at the dump, $c1 a second after the restore)"
	elif [ "$before" != "$after" ]; then
		bad "$name" "the mount table differs: $(diff <(echo "$before") <(echo "$after") | tr '\n' ' ')"
	elif [ "$(cat "/proc/$RP/root/dev/shm/mark" 2>/dev/null)" != "$mark" ]; then
		bad "$name" "/dev/shm/mark lost its content"
	elif [ "$(nsenter -u -t "$RP" hostname)" != "$host" ]; then
		bad "$name" "hostname is $(nsenter -u -t "$RP" hostname), want $host"
	elif [ "$nspid" != 1 ]; then
		bad "$name" "the restored init is PID $nspid in its namespace, want 1"
	else
		ok "$name"
	fi
	pid=$RP
done
finish

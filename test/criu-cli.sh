#!/bin/bash
# test/criu-cli.sh: crtool run as `criu` takes CRIU's command line as LXC passes it.
#
#   version    criu --version prints "Version: 3.N" (LXC parses it)
#   check      criu check says "Looks good."
#   dump       criu dump -t PID -D DIR -o dump.log -v4 with LXC's options (--tcp-established
#              --file-locks --link-remap --manage-cgroups=full --ext-mount-map auto
#              --enable-external-sharing/-masters --enable-fs --force-irmap --ghost-limit):
#              the counter is gone, dump.log is in DIR
#   restore    criu restore --restore-detached --restore-sibling --pidfile F --cgroup-root
#              PATH: the counter runs on as this shell's child at its pid, in that cgroup v2
#   veth       a process in its own network namespace with a veth to here: dumped with
#              no veth named (as LXC does), restored with --veth-pair eth0=V@BR: V is
#              remade, in the bridge BR and up
#   veth bridge  --veth-pair IN=OUT@BRIDGE whose bridge does not exist: the restore
#              fails naming it, and nothing is left
#   refused    --action-script, --lsm-profile and an unknown command fail naming them;
#              malformed options, a foreign --cgroup-root, a missing -t fail naming the problem
# Prints "N passed, N failed".
set -u
cd "$(dirname "$0")/.." || exit 2
CRTOOL=${CRTOOL:-$PWD/build/crtool}
COUNTER=${COUNTER:-$PWD/build/test/criu-rpc}
pass=0
fail=0
work=$(mktemp -d /tmp/libcr-criu-cli-XXXXXX)
P=""
trap '[ -n "$P" ] && kill -9 "$P" 2>/dev/null; rm -rf "$work"' EXIT
ok() { echo "PASS $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
last() { tail -n 1 "$work/count" 2>/dev/null || echo 0; }
gone() { for _ in $(seq 300); do [ -e "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null || return 0; sleep 0.02; done; return 1; }

mkdir "$work/bin" "$work/img"
ln -s "$CRTOOL" "$work/bin/criu"
CRIU=$work/bin/criu

v=$("$CRIU" --version 2>&1)
if [[ "$v" =~ ^Version:\ 3\.[0-9]+ ]]; then ok "version: $(echo "$v" | tr '\n' ' ')"; else bad version "$v"; fi
c=$("$CRIU" check 2>&1)
if [ "$c" = "Looks good." ]; then ok "check: $c"; else bad check "$c"; fi

setsid "$COUNTER" --counter "$work/count" </dev/null >/dev/null 2>&1 &
P=$!
for _ in $(seq 100); do [ "$(last)" -ge 3 ] 2>/dev/null && break; sleep 0.02; done

# LXC's dump line (lxc/criu.c), less the cgroup paths of a real container
if ! "$CRIU" dump -t "$P" -D "$work/img" -o dump.log -v4 --tcp-established --file-locks --link-remap \
	--manage-cgroups=full --ext-mount-map auto --enable-external-sharing --enable-external-masters \
	--enable-fs hugetlbfs --enable-fs tracefs --force-irmap --ghost-limit 1048576 2>"$work/err"; then
	bad dump "$(cat "$work/err"; grep Error "$work/img/dump.log")"
elif ! gone "$P"; then
	bad dump "the counter $P still runs"
elif [ ! -s "$work/img/dump.log" ]; then
	bad dump "no dump.log in the images dir"
else
	ok "dump: pid $P at $(last), dump.log of $(wc -l <"$work/img/dump.log") lines"
fi
wait "$P" 2>/dev/null

# a bridge the outside end of a veth can't join fails the restore, undone
if "$CRIU" restore -D "$work/img" -d --veth-pair eth0=libcr-nope@libcr-nobr 2>"$work/err"; then
	bad "veth bridge" "restored though the bridge does not exist"
elif ! grep -q "can't put libcr-nope into libcr-nobr" "$work/err" || ! gone "$P"; then
	bad "veth bridge" "unexpected message or a process left: $(cat "$work/err")"
else
	ok "veth bridge: $(tr '\n' ' ' <"$work/err")"
fi

before=$(last)
# LXC names the container's cgroups with --cgroup-root and leaves the engine where it
# is: the engine joins the v2 one, and the restored tree starts there
V2=$(awk '$9 == "cgroup2" {print $5; exit}' /proc/self/mountinfo)
CG=/libcr-criu-cli-$$
cgargs=()
if [ -n "$V2" ] && mkdir "$V2$CG"; then
	cgargs=(--cgroup-root ":$CG")
	trap '[ -n "$P" ] && kill -9 "$P" 2>/dev/null; sleep 0.1; rmdir "$V2$CG" 2>/dev/null; rm -rf "$work"' EXIT
fi
if ! "$CRIU" restore -D "$work/img" -o restore.log -v4 --restore-detached --restore-sibling \
	--pidfile "$work/pid" --tcp-established --file-locks --link-remap --manage-cgroups=full \
	--ext-mount-map auto --enable-external-sharing --enable-external-masters --lsm-profile apparmor:unconfined \
	"${cgargs[@]}" 2>"$work/err"; then
	bad restore "$(cat "$work/err")"
else
	sleep 0.3
	pid=$(cat "$work/pid")
	ppid=$(awk '{print $4}' "/proc/$pid/stat" 2>/dev/null)
	after=$(last)
	if [ "$pid" != "$P" ]; then
		bad restore "pidfile says $pid, dumped $P"
	elif [ "$ppid" != "$$" ]; then
		bad restore "the restored $pid has parent $ppid, not this shell ($$): --restore-sibling"
	elif [ "$after" -le "$before" ]; then
		bad restore "the counter stays at $before"
	elif [ ${#cgargs[@]} -gt 0 ] && ! grep -qx "0::$CG" "/proc/$pid/cgroup"; then
		bad restore "not in the cgroup root $CG: $(grep '^0::' "/proc/$pid/cgroup")"
	else
		ok "restore: pid $pid, this shell's child (--restore-sibling), counting $before -> $after${cgargs:+, in --cgroup-root $CG}"
	fi
fi

# veth: a process in its own network namespace with eth0, a veth whose peer (V) is
# here; dumped with no veth named (as LXC does), restored with --veth-pair eth0=V@BR:
# V is back, in the bridge BR and up, and the process has its eth0
V=vcli$$
mkdir -p "$work/img2"
BR=brcli$$
setsid unshare -n "$COUNTER" --counter "$work/count2" </dev/null >/dev/null 2>&1 &
Q=$!
for _ in $(seq 100); do [ "$(readlink /proc/$Q/ns/net)" != "$(readlink /proc/self/ns/net)" ] && break; sleep 0.02; done
if ! ip link add "$V" type veth peer name "${V}x" || ! ip link set "${V}x" netns "$Q" ||
	! nsenter -t "$Q" -n ip link set "${V}x" name eth0 || ! nsenter -t "$Q" -n ip link set eth0 up ||
	! ip link add "$BR" type bridge; then
	bad veth "can't set up the veth and the bridge"
elif ! "$CRIU" dump -t "$Q" -D "$work/img2" -o dump.log 2>"$work/err"; then
	bad veth "dump: $(cat "$work/err")"
elif ! gone "$Q"; then
	bad veth "the process $Q still runs"
elif ! "$CRIU" restore -D "$work/img2" -d --restore-sibling --veth-pair "eth0=$V@$BR" 2>"$work/err"; then
	bad veth "restore: $(cat "$work/err")"
else
	link=$(ip -o link show "$V" 2>&1)
	if [[ "$link" != *"master $BR"* ]] || [[ "$link" != *"UP"* ]]; then
		bad veth "$V is not up in $BR: $link"
	elif ! nsenter -t "$Q" -n ip -o link show eth0 >/dev/null 2>&1; then
		bad veth "the restored process has no eth0"
	else
		ok "veth: eth0's peer found at the dump, $V remade at the restore, in $BR and up"
	fi
fi
kill -9 "$Q" 2>/dev/null
gone "$Q"
ip link del "$V" 2>/dev/null
ip link del "$BR" 2>/dev/null

# options and commands libcr can't honour: a line naming them
check_refused() { # NAME WANT CMD...
	local name=$1 want=$2
	shift 2
	if "$@" 2>"$work/err"; then
		bad "$name" "accepted"
	elif ! grep -q -- "$want" "$work/err"; then
		bad "$name" "message does not name $want: $(cat "$work/err")"
	else
		ok "$name: $(cat "$work/err")"
	fi
}
check_refused "refused action-script" "--action-script" "$CRIU" dump -t "$P" -D "$work/img" --action-script /bin/true
check_refused "refused lsm-profile" "--lsm-profile" "$CRIU" restore -D "$work/img" --lsm-profile apparmor:x
check_refused "refused command" "page-server" "$CRIU" page-server -D "$work/img" --port 1
check_refused "bad external" "want TYPE\[KEY\]" "$CRIU" dump -t 1 -D "$work/img" --external nobrackets
check_refused "bad ext-mount-map" "want KEY:VALUE" "$CRIU" dump -t 1 -D "$work/img" --ext-mount-map nocolon
check_refused "bad cgroup mode" "props is not supported" "$CRIU" dump -t 1 -D "$work/img" --manage-cgroups=props
check_refused "sibling not detached" "needs --restore-detached" "$CRIU" restore -D "$work/img" --restore-sibling
check_refused "foreign cgroup-root" "cgroup root cpu:/libcr-not-ours" "$CRIU" restore -D "$work/img" -d \
	--cgroup-root cpu:/libcr-not-ours
check_refused "no pid" "-t PID and -D DIR are required" "$CRIU" dump -D "$work/img"
check_refused "unknown option" "bad option" "$CRIU" dump -t 1 -D "$work/img" --no-such-option

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]

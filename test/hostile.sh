#!/bin/bash
# test/hostile.sh: crafted images (a real dump of counter, one record edited
# by build/test/img-edit) that a restore must refuse with a clear message
# before it creates anything: sizes that overflow, overlapping areas, areas
# leaving no room for the restorer, paths with "..", fd numbers out of range,
# fanotify marks and file leases that are malformed,
# duplicate PIDs and cycles in the process tree, thread lists that disagree,
# cgroup paths out of the tree; of a tree with its own namespaces: tmpfs paths
# with "..", mounts of types libcr does not mount, bad mount points and parents, a
# hostname too long, unknown kinds; of a tree with nested namespaces: ids that
# name no namespace, namespaces of a kind that can't be nested, ids twice; of a
# veth between two nested network namespaces: a peer namespace not listed or not
# saved, its own, a peer that is not its pair; of nested time namespaces: ids that
# name none, one made for its children by a process after one in it, a process in
# one made for others' children that was not born there, offsets out of range; of
# tun/tap devices: queues with bad names, flags or paths, links of kind tun that
# are not sound, a queue of a device the namespace lacks.
# nested user namespaces: maps with overlapping or empty extents, parents not listed
# before, owners of another kind or unlisted, processes in none listed.
# Each case checks crtool's one "Error: " line and that no process is left at
# the dumped PID.
#   test/hostile.sh     (after make tests)   CRTOOL=path TEST_BIN=dir to use other binaries
set -u
cd "$(dirname "$0")/.." || exit 2
CRTOOL=${CRTOOL:-$PWD/build/crtool}
BIN=${TEST_BIN:-$PWD/build/test}
EDIT=$BIN/img-edit
T=$(mktemp -d /tmp/libcr-hostile-XXXXXX) || exit 2
passed=0
failed=0
PID=

cleanup() {
	[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null
	[ -n "${SLEEP:-}" ] && kill "$SLEEP" 2>/dev/null
	exec 3>&- 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pass() {
	echo "PASS $1"
	passed=$((passed + 1))
}
fail() {
	echo "FAIL $1: $2"
	failed=$((failed + 1))
	[ -s "$T/err" ] && sed 's/^/    /' "$T/err" | head -n 5
}

# expect_refused NAME WORDS...: crtool failed with one "Error: " line holding
# every word, and nothing runs at the dumped PID
expect_refused() {
	local name=$1 line w
	shift
	if [ "$RC" = 0 ] || [ "$RC" -gt 128 ]; then
		fail "$name" "crtool exited $RC"
		return
	fi
	line=$(grep -m1 '^Error: ' "$T/err")
	if [ -z "$line" ] || [ "$(grep -c '' "$T/err")" != 1 ]; then
		fail "$name" "want exactly one 'Error: ' line on stderr"
		return
	fi
	for w in "$@"; do
		case "$line" in
		*"$w"*) ;;
		*) fail "$name" "message lacks '$w': $line"; return ;;
		esac
	done
	if kill -0 "$PID" 2>/dev/null; then
		fail "$name" "a process runs at pid $PID after the refused restore"
		kill -9 "$PID" 2>/dev/null
		return
	fi
	pass "$name"
}

# case NAME IMAGE EDIT... -- WORDS...: copy the dump, edit IMAGE, restore
case_() {
	local name=$1 img=$2 edits=() d=$T/$1
	shift 2
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		edits+=("$1")
		shift
	done
	shift
	cp -a "$T/base" "$d"
	if ! "$EDIT" "$d/$img" "${edits[@]}" 2>"$T/err"; then
		fail "$name" "img-edit failed"
		return
	fi
	: | timeout 60 "$CRTOOL" restore -D "$d" -d >"$T/out" 2>"$T/err"
	RC=$?
	expect_refused "$name" "$@"
}

# start_dumped NAME [--dump-opts OPTS] PROG ARGS...: PROG started (stdin a sleep
# we hold until the next start_dumped, output in $T/NAME.out), dumped once READY
# into $T/NAMEbase (killed, reaped, gone); 0 if so (PID is its pid), else a fail
# line NAME-dump, or a SKIP line where PROG said SKIP
start_dumped() {
	local name=$1 opts="" p
	shift
	if [ "$1" = --dump-opts ]; then
		opts=$2
		shift 2
	fi
	kill "${SLEEP:-}" 2>/dev/null
	exec 6< <(exec sleep 600)
	SLEEP=$!
	exec 7> >(exec cat >"$T/$name.out")
	setsid "$BIN/$1" "${@:2}" <&6 >&7 2>&1 3>&- 6<&- 7>&- &
	p=$!
	disown "$p"   # (killed by the dump: no job notice)
	exec 6<&- 7>&-
	for ((i = 0; i < 200; i++)); do
		grep -q 'READY\|SKIP' "$T/$name.out" 2>/dev/null && break
		sleep 0.05
	done
	mkdir "$T/${name}base"
	if grep -q SKIP "$T/$name.out"; then
		echo "SKIP $name-*: $(grep -m1 SKIP "$T/$name.out")"
		kill -9 "$p" 2>/dev/null
		return 1
	fi
	# shellcheck disable=SC2086
	if ! grep -qx READY "$T/$name.out" || ! "$CRTOOL" dump -t "$p" -D "$T/${name}base" $opts >"$T/out" 2>"$T/err"; then
		fail "$name-dump" "could not dump $*: $(cat "$T/err")"
		kill -9 "$p" 2>/dev/null
		return 1
	fi
	{ wait "$p"; } 2>/dev/null
	# (a process whose last fds unregister devices takes a moment to go)
	for ((i = 0; i < 100; i++)); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.05
	done
	PID=$p
	return 0
}

# use_base NAME: the cases edit copies of $T/NAMEbase
use_base() {
	rm -rf "$T/base"
	cp -a "$T/$1base" "$T/base"
}

# version_is NAME WANT: $T/NAMEbase says format version WANT
version_is() {
	local have
	have=$("$CRTOOL" show "$T/$1base/inventory.img" | grep img_version)
	if [ "$have" = "img_version: $2" ]; then
		pass "$1-version"
	else
		fail "$1-version" "the images do not say format version $2: $have"
	fi
}

# the dump: counter, stdin a FIFO we hold, stdout a regular file (fd 1 and 2)
mkfifo "$T/in"
exec 3<>"$T/in"
setsid "$BIN/counter" <"$T/in" >"$T/counter.out" 2>&1 3>&- &
PID=$!
for ((i = 0; i < 200; i++)); do
	grep -qx READY "$T/counter.out" 2>/dev/null && break
	sleep 0.05
done
mkdir "$T/base"
if ! grep -qx READY "$T/counter.out" || ! "$CRTOOL" dump -t "$PID" -D "$T/base" >"$T/out" 2>"$T/err"; then
	fail dump "could not dump counter: $(cat "$T/err")"
	echo "$passed passed, $failed failed"
	exit 1
fi
{ wait "$PID"; } 2>/dev/null
counter_version=$("$CRTOOL" show "$T/base/inventory.img" | grep img_version)
P=$PID
MM=mm-$P.img
# the second area's end, the first areas' count; the last fd record
end1=$("$CRTOOL" show "$T/base/$MM" | awk '$1 == "end:" { if (++n == 2) { print $2; exit } }')
last_fd=$(($("$CRTOOL" show "$T/base/fdinfo-$P.img" | grep -c '^# record') - 1))
free=$((P + 1))
while kill -0 "$free" 2>/dev/null; do free=$((free + 1)); done
ofree=$((free + 1))
while kill -0 "$ofree" 2>/dev/null; do ofree=$((ofree + 1)); done

# sizes and counts that overflow
case_ pagemap-overflow "pagemap-$P.img" @1:vaddr=0xfffffffffffff000 @1:nr_pages=0xffffffff -- \
	"pagemap-$P.img" overflows
case_ vma-size-overflow "$MM" vmas[0].end=0xfffffffffffff000 -- "mm image" "outside user space"
case_ pages-count "pagemap-$P.img" @1:nr_pages=1000 -- "pagemap-$P.img"
# a run in a part of the pages that does not exist (there are two: 0 and 1), or in
# part 1 where the dump wrote none
case_ pages-part "pagemap-$P.img" @1:part=2 -- "pagemap-$P.img" "in part 2 of the pages: there are 2"
case_ pages-part1-missing "pagemap-$P.img" @1:part=1 -- "pages-$P.part1.img" missing
# areas that overlap, or leave no room for the restorer and the premap area
case_ vma-overlap "$MM" "vmas[0].end=$end1" -- "mm image" overlapping
case_ vma-lock "$MM" "vmas[0].lock=2" -- "mm image" "has a bad lock 2"
case_ vma-covers-restorer "$MM" "vmas#=2" vmas[0].start=0x100000 vmas[0].end=0x7fffffff0000 \
	vmas[1].start=0x7fffffff0000 vmas[1].end=0x7ffffffff000 -- "mm-$P.img" "no free address range"
# paths with ..
case_ path-dotdot-file "fdinfo-$P.img" "@1:reg.path=/tmp/../etc/passwd" -- "fd 1" ". or .."
case_ path-dotdot-cwd "fs-$P.img" cwd=/tmp/../root -- "fs-$P.img" ". or .."
case_ path-dotdot-exe "$MM" exe_path=/usr/bin/../../etc/passwd -- "mm image" ". or .."
# fd numbers out of range: negative as an int, above RLIMIT_NOFILE
case_ fd-negative "fdinfo-$P.img" "@$last_fd:fd=0xffffffff" -- "fdinfo-$P.img" "out of range"
(
	ulimit -n 1024 && ulimit -Hn 1024 || exit 1
	case_ fd-above-nofile "fdinfo-$P.img" "@$last_fd:fd=5000" -- "fdinfo-$P.img" "fd 5000" RLIMIT_NOFILE
	echo "$passed $failed" >"$T/sub"
)
read -r passed failed <"$T/sub" 2>/dev/null || { fail fd-above-nofile "could not lower RLIMIT_NOFILE"; }
# a memory area naming a shared ghost that no image has
case_ ghost-unknown "$MM" "vmas[0].ghost_id=0x80000007" -- "mm-$P.img" "names ghost 0x80000007" \
	"no ghost image has"
# a pidfd naming a process that is not in the images
case_ pidfd-outside "fdinfo-$P.img" "@0:kind=31" "@0:pidfd_pid=$free" -- "fdinfo-$P.img" \
	"pidfd of process $free" "not in the images"
# fanotify: a group without its flags and marks; marks with no absolute path, an
# unknown kind or flags, no mask; leases: of an unknown kind, on a file that is not
# regular, a signal without a lease
case_ fanotify-missing "fdinfo-$P.img" "@0:kind=33" -- "fdinfo: fd 0 is a fanotify without its flags and marks"
FAN=("@0:kind=33" "@0:fanotify.init_flags=0" "@0:fanotify.event_flags=0" "@0:fanotify.marks#=1"
     "@0:fanotify.marks[0].kind=1" "@0:fanotify.marks[0].mflags=0" "@0:fanotify.marks[0].mask=2"
     "@0:fanotify.marks[0].ignored_mask=0" "@0:fanotify.marks[0].path=/tmp")
case_ fanotify-path "fdinfo-$P.img" "${FAN[@]}" "@0:fanotify.marks[0].path=/tmp/../etc" -- \
	"fanotify fd 0: mark 0 has no absolute path"
case_ fanotify-kind "fdinfo-$P.img" "${FAN[@]}" "@0:fanotify.marks[0].kind=9" -- "fanotify fd 0: mark 0" "an unknown kind"
case_ fanotify-mflags "fdinfo-$P.img" "${FAN[@]}" "@0:fanotify.marks[0].mflags=0x1" -- "fanotify fd 0: mark 0" \
	"flags"
case_ fanotify-nomask "fdinfo-$P.img" "${FAN[@]}" "@0:fanotify.marks[0].mask=0" -- "fanotify fd 0: mark 0" "no mask"
case_ fanotify-wide-mask "fdinfo-$P.img" "${FAN[@]}" "@0:fanotify.marks[0].mask=0x100000000" -- "fanotify fd 0: mark 0"
case_ lease-kind "fdinfo-$P.img" "@1:lease=3" -- "fdinfo: fd 1 has a malformed lease record"
case_ lease-signal "fdinfo-$P.img" "@1:lease=1" "@1:lease_sig=65" -- "fdinfo: fd 1 has a malformed lease record"
case_ lease-sig-alone "fdinfo-$P.img" "@1:lease_sig=10" -- "fdinfo: fd 1 has a lease signal without a lease"
case_ lease-not-regular "fdinfo-$P.img" "@0:lease=1" -- "fdinfo: fd 0 has a lease, and is not a regular file"
# the process tree: a PID twice, a cycle, thread lists that disagree
case_ pid-duplicate pstree.img @+0 "@1:ppid=$P" -- pstree.img "PID $P appears twice"
case_ pid-cycle pstree.img @+0 @+0 "@1:pid=$free" "@1:threads[0]=$free" "@1:ppid=$ofree" \
	"@2:pid=$ofree" "@2:threads[0]=$ofree" "@2:ppid=$free" -- pstree.img "not an earlier live process"
case_ pid-own-parent pstree.img @+0 "@1:pid=$free" "@1:threads[0]=$free" "@1:ppid=$free" -- \
	pstree.img "not an earlier live process"
# process and thread attributes out of range
case_ attrs-oom "core-$P.img" "oom_score_adj=1001" -- "core-$P.img" "oom_score_adj 1001 is outside -1000..1000"
case_ attrs-coredump "core-$P.img" "coredump_filter=0x400" -- "core-$P.img" "coredump_filter 0x400 has unknown bits"
case_ attrs-mdwe "core-$P.img" "mdwe=4" -- "core-$P.img" "MDWE flags 0x4 are unknown"
case_ attrs-ioprio "core-$P.img" "threads[0].ioprio=0x8000" -- "core-$P.img" "has I/O priority class 4"
case_ stop-signal "core-$P.img" "stop_signal=99" -- "core-$P.img" "stopped by signal 99"
# an OOM score adjustment below ours, which only CAP_SYS_RESOURCE may set (root here lacks it)
if (($(printf '%d' 0x$(awk '/^CapEff/ { print $2 }' /proc/self/status)) >> 24 & 1)); then
	echo "SKIP attrs-oom-lower: we have CAP_SYS_RESOURCE"
else
	case_ attrs-oom-lower "core-$P.img" "oom_score_adj=-500" -- "pid $P: can't set its OOM score adjustment to -500" \
		"needs CAP_SYS_RESOURCE"
fi
case_ threads-count pstree.img "threads#=2" "threads[1]=$free" -- pstree.img "lists 2 threads"
case_ threads-tid "core-$P.img" "threads[0].tid=$free" -- "core-$P.img" "not the leader"
# cgroups: a path out of the cgroup tree, a set that does not exist
case_ cgroup-path cgroup.img "sets[0].members[0].path=../../etc" -- cgroup.img "bad hierarchy or path"
case_ cgroup-set cgroup.img "tasks[0].set=7" -- cgroup.img "set 7, which does not exist"
# the format version: a newer crtool's images, and one older than any
case_ version-newer inventory.img img_version=19 -- "format version 19" "reads versions 1 to 18" "made by a newer crtool"
case_ version-zero inventory.img img_version=0 -- "format version 0" "reads versions 1 to 18"

# ---- a tree with its own mount, UTS and cgroup namespaces (ns-mnt; its stdio are
# pipes: a file of ours is out of its mount tree)
if start_dumped ns ns-mnt; then
	NSP=$PID
	use_base ns
	# the root tmpfs's (the first mount), which holds files
	tmpfs=tmpfs-$("$CRTOOL" show "$T/base/mountpoints.img" | awk '$1 == "mnt_id:" { print $2; exit }').img
	proc=$("$CRTOOL" show "$T/base/mountpoints.img" | awk '/^# record/ { r = $3 } /^fstype: "proc"/ { sub(":", "", r); print r; exit }')
	case_ tmpfs-dotdot "$tmpfs" "@1:path=../../etc/passwd" -- "$tmpfs" "bad path"
	case_ tmpfs-symlink-empty "$tmpfs" "@1:mode=0120777" -- "$tmpfs" "bad path, type or content"
	case_ mnt-fstype mountpoints.img "@$proc:fstype=ext4" -- mountpoints.img "not a valid mount"
	case_ mnt-dotdot mountpoints.img "@$proc:mountpoint=/usr/../etc" -- mountpoints.img "not a valid mount"
	case_ mnt-parent mountpoints.img "@$proc:parent_id=99999" -- mountpoints.img "not a valid mount"
	case_ mnt-root-not-slash mountpoints.img "@0:mountpoint=/tmp" -- mountpoints.img "not a valid mount"
	# a file under a covered mount, named by a path that climbs out of it
	fdi=fdinfo-$(cd "$T/base" && ls fdinfo-*.img | head -n 1 | tr -dc 0-9).img
	cov=$("$CRTOOL" show "$T/base/$fdi" | awk '/^# record/ { r = $3 } /mnt_rel:/ { sub(":", "", r); print r; exit }')
	if [ -n "$cov" ]; then
		case_ fd-mnt-rel-dotdot "$fdi" "@$cov:reg.mnt_rel=../../etc/passwd" -- "fd 4" ". or .."
	else
		fail fd-mnt-rel-dotdot "ns-mnt's dump has no file under a covered mount"
	fi
	# a root bound from the host, with no host path and no --root: refused, saying so
	case_ mnt-root-missing mountpoints.img "@0:how=3" -- "root mount of the tree" "--root DIR"
	case_ uts-long utsns.img "hostname=$(printf 'h%.0s' $(seq 80))" -- utsns.img "longer than 64"
	case_ ns-unknown ns.img "kinds[0]=user" -- ns.img '"user"' unknown
fi

# ---- a tree whose processes are in nested UTS, network and IPC namespaces
# (ns-nested: pstree.img record 1 is its child in all three)
if start_dumped nested ns-nested; then
	NNP=$PID
	use_base nested
	case_ nested-id-unlisted pstree.img "@1:net_ns=9" -- pstree.img "nested net namespace 9" "does not list"
	case_ nested-root pstree.img "@0:uts_ns=1" -- pstree.img "root or a zombie"
	case_ nested-kind ns.img "nested[0].kind=pid" -- ns.img '"pid"' "not a user, uts, net, ipc, cgroup, time or mnt namespace"
	case_ nested-id-zero ns.img "nested[0].id=0" -- ns.img "bad id"
	case_ nested-twice ns.img "nested[1].id=1" -- ns.img "listed twice"
	case_ nested-uts-long utsns-1.img "hostname=$(printf 'h%.0s' $(seq 80))" -- utsns-1.img "longer than 64"
	# a reader of version 1 would restore every process in the root's namespaces
	if "$CRTOOL" show "$T/nestedbase/inventory.img" | grep -qx "img_version: 2"; then
		pass nested-version
	else
		fail nested-version "ns-nested's images do not say format version 2: $("$CRTOOL" show "$T/nestedbase/inventory.img" | grep img_version)"
	fi
fi

# ---- processes in nested mount namespaces (ns-mntnest: mountpoints-1.img is A's,
# record 0 its root, inherited; one record a tmpfs it made)
if start_dumped mntnest ns-mntnest; then
	NMP=$PID
	use_base mntnest
	made=$("$CRTOOL" show "$T/base/mountpoints-1.img" | awk '/^# record/ { r = $3 } /^how: 1/ { sub(":", "", r); print r; exit }')
	# (a root not inherited: one that pivot_rooted, whose every mount is made; this one says not how)
	case_ mntnest-root-made mountpoints-1.img "@0:inherited=0" -- mountpoints-1.img "mount 0 (/) is not a valid mount of the tree"
	case_ mntnest-parent mountpoints-1.img "@1:parent_id=99999" -- mountpoints-1.img "not a valid mount of the nested namespace"
	case_ mntnest-dotdot mountpoints-1.img "@1:mountpoint=/proc/../etc" -- mountpoints-1.img "not a valid mount of the nested namespace"
	case_ mntnest-fstype mountpoints-1.img "@$made:fstype=ext4" -- mountpoints-1.img "not a valid mount of the tree"
	case_ mntnest-unlisted pstree.img "@1:mnt_ns=9" -- pstree.img "nested mnt namespace 9" "does not list"
	# (a bind of its parent's directory: only in one that pivot_rooted)
	case_ mntnest-how-parent mountpoints-1.img "@$made:how=5" -- mountpoints-1.img "not a valid mount of the tree"
	# a reader of version 5 would restore these processes in the root's mount namespace
	if "$CRTOOL" show "$T/mntnestbase/inventory.img" | grep -qx "img_version: 7"; then
		pass mntnest-version
	else
		fail mntnest-version "ns-mntnest's images do not say format version 7: $("$CRTOOL" show "$T/mntnestbase/inventory.img" | grep img_version)"
	fi
fi

# ---- a nested mount namespace that pivot_rooted (ns-mntroot: mountpoints-1.img is
# A's, record 0 its root tmpfs, made; one record a bind of its parent's /usr)
# (ns-mntroot says SKIP where / is the initramfs, where pivot_root can't be)
if start_dumped mntroot ns-mntroot; then
	NRP=$PID
	use_base mntroot
	usr=$("$CRTOOL" show "$T/base/mountpoints-1.img" | awk '/^# record/ { r = $3 } /^parent_path: "\/usr"/ { sub(":", "", r); print r; exit }')
	case_ mntroot-inherited mountpoints-1.img "@$usr:inherited=1" -- mountpoints-1.img "not a valid mount of the nested namespace"
	case_ mntroot-parent-dotdot mountpoints-1.img "@$usr:parent_path=/usr/../etc" -- mountpoints-1.img "not a valid mount of the tree"
	case_ mntroot-parent-empty mountpoints-1.img "@$usr:parent_path=" -- mountpoints-1.img "not a valid mount of the tree"
	case_ mntroot-how mountpoints-1.img "@$usr:how=6" -- mountpoints-1.img "not a valid mount of the tree"
	case_ mntroot-overlay mountpoints-1.img "@0:fstype=overlay" -- mountpoints-1.img "not a valid mount of the tree"
	case_ mntroot-root-mountpoint mountpoints-1.img "@0:mountpoint=/old" -- mountpoints-1.img "not a valid mount of the tree"
	# a reader of version 10 would refuse its root mount, not inherited
	if "$CRTOOL" show "$T/mntrootbase/inventory.img" | grep -qx "img_version: 11"; then
		pass mntroot-version
	else
		fail mntroot-version "ns-mntroot's images do not say format version 11: $("$CRTOOL" show "$T/mntrootbase/inventory.img" | grep img_version)"
	fi
fi

# ---- a veth between two nested network namespaces (ns-veth: netns-1.img is A's,
# link 1 its a1, whose peer is b1 in netns-2.img)
if start_dumped veth ns-veth; then
	NVP=$PID
	use_base veth
	case_ veth-peer-unlisted netns-1.img "links[1].peer_netns=9" -- netns-1.img "veth a1" "network namespace 9" "do not hold" "ns.img does not list it"
	# the root's namespace is crtool's: not saved
	case_ veth-peer-root netns-1.img "links[1].peer_netns=0" -- netns-1.img "veth a1" "network namespace 0" "do not hold" "the root's was not saved"
	case_ veth-peer-self netns-1.img "links[1].peer_netns=1" -- netns.img "veth a1" "its own namespace"
	case_ veth-peer-unpaired netns-2.img "links[1].peer=zz0" -- netns-1.img "veth a1's peer b1 is not its pair in network namespace 2"
	case_ veth-peer-index netns-1.img "links[1].peer_ifindex=0" -- netns.img "bad link a1"
	# a reader of version 2 would look for b1 in A's namespace
	if "$CRTOOL" show "$T/vethbase/inventory.img" | grep -qx "img_version: 3"; then
		pass veth-version
	else
		fail veth-version "ns-veth's images do not say format version 3: $("$CRTOOL" show "$T/vethbase/inventory.img" | grep img_version)"
	fi
fi

# ---- tun and tap devices in the tree's network namespace (tun: tun7 is link 1 of
# netns.img, tap7 link 2; T1 is the record of the fd on tun7, TL the unattached fd's)
if start_dumped tun tun; then
	NTP=$PID
	use_base tun
	F=fdinfo-$NTP.img
	recs=$("$CRTOOL" show "$T/base/$F" | awk '/^# record/ { r = $3; sub(":", "", r) } /kind: FD_TUN/ { print r }')
	read -r T1 _ _ TL <<<"$(echo $recs)"
	tfd=$("$CRTOOL" show "$T/base/$F" | awk -v r="# record $T1:" 'index($0, r) == 1 { f = 1 } f && /^fd:/ { print $2; exit }')
	case_ tun-name "$F" "@$T1:tun.name=a/b" -- "fdinfo: fd $tfd" "bad tun/tap queue"
	case_ tun-flags "$F" "@$T1:tun.flags=0x80001001" -- "fdinfo: fd $tfd" "bad tun/tap queue"
	case_ tun-detached "$F" "@$T1:tun.detached=1" -- "fdinfo: fd $tfd" "bad tun/tap queue"
	case_ tun-path "$F" "@$T1:tun.path=/etc/passwd" -- "fdinfo: fd $tfd" "outside /dev"
	case_ tun-loose-queue "$F" "@$TL:tun.sndbuf=4096" -- "fdinfo: fd" "attached to no device, with a queue's settings"
	case_ tun-missing "$F" "@0:kind=34" -- "fdinfo: fd 0" "without its device path"
	case_ tun-link-flags netns.img "links[1].tun_flags=0x1004" -- netns.img "bad link tun7"
	case_ tun-link-type netns.img "links[2].tun_flags=0x5103" -- netns.img "bad link tap7"
	case_ tun-link-veth netns.img "links[1].kind=veth" "links[1].peer=tap7" -- netns.img "bad link tun7"
	if "$CRTOOL" show "$T/tunbase/inventory.img" | grep -qx "img_version: 14"; then
		pass tun-version
	else
		fail tun-version "tun's images do not say format version 14: $("$CRTOOL" show "$T/tunbase/inventory.img" | grep img_version)"
	fi
fi

# ---- tun --host: its devices are the caller's namespace's; the fd on crtun7
# (record T1) carries the link to make
if start_dumped tun-host tun --host; then
	NTP=$PID
	use_base tun-host
	F=fdinfo-$NTP.img
	T1=$("$CRTOOL" show "$T/base/$F" | awk '/^# record/ { r = $3; sub(":", "", r) } /kind: FD_TUN/ { print r; exit }')
	case_ tun-host-name "$F" "@$T1:tun.host_link.links[0].name=zz0" -- "fdinfo: tun crtun7" "bad description of its link"
	case_ tun-host-not "$F" "@$T1:tun.host=0" -- "fdinfo: fd" "tun crtun7: a link to make, of a device not of the caller's namespace"
	case_ tun-host-addr "$F" "@$T1:tun.host_link.addrs[0].ifindex=77" -- "bad address 0"
fi

# ---- a tree with a pid namespace nested in its own (ns-pidnest: record 1 did
# unshare -p and forked record 2, the namespace's init, with a thread, and record 3
# after it; record 4 is the init's child)
if start_dumped pidnest ns-pidnest; then
	NNP=$PID
	use_base pidnest
	case_ pidnest-root pstree.img "@0:pid_ns=1" -- pstree.img "nested pid namespace 1" "the root"
	case_ pidnest-threads pstree.img "@1:pid_ns=1" -- pstree.img "do not match its threads"
	case_ pidnest-no-init pstree.img "@2:pid_ns_threads[0]=5" -- pstree.img "children born in nested pid namespace 1" \
		"no child of it is that namespace's init"
	case_ pidnest-init-twice pstree.img "@3:pid_ns_threads[0]=1" -- pstree.img "PID 1 appears twice in nested pid namespace 1"
	case_ pidnest-inner-init pstree.img "@4:pid_ns_threads[0]=1" -- pstree.img "bad PID 1 in nested pid namespace 1"
	case_ pidnest-outside-child pstree.img "@3:pid_ns=2" -- pstree.img "has a bad PID" "in nested pid namespace 2"
	case_ pidnest-other-ns pstree.img "@4:pid_ns=2" -- pstree.img "its parent is in another nested one"
	case_ pidnest-children pstree.img "@3:pid_ns_children=1" -- pstree.img \
		"children born in nested pid namespace 1" "no child of it is that namespace's init"
	# record 2, the init, holds its namespace's last PID
	I=$("$CRTOOL" show "$T/pidnestbase/pstree.img" | awk '/^pid:/ { if (n++ == 2) { print $2; exit } }')
	case_ pidnest-last-pid "core-$I.img" "ns_last_pid=4194304" -- "core-$I.img" "last PID 4194304 is beyond any pid_max"
	# a reader of version 3 would restore every process in the tree's pid namespace
	if "$CRTOOL" show "$T/pidnestbase/inventory.img" | grep -qx "img_version: 4"; then
		pass pidnest-version
	else
		fail pidnest-version "ns-pidnest's images do not say format version 4: $("$CRTOOL" show "$T/pidnestbase/inventory.img" | grep img_version)"
	fi
fi

# ---- a process with attributes a version 4 reader would drop (task-attrs): version 5,
# and a plain one (counter's) still version 1
if start_dumped attrs task-attrs; then
	version_is attrs 5
	if [ "$counter_version" = "img_version: 1" ]; then
		pass counter-version
	else
		fail counter-version "counter's images do not say format version 1: $counter_version"
	fi
fi

# ---- a tree in nested time namespaces (ns-timenest: records 0 root, 1 A, which made
# namespace 1 and entered it, 2 B, which made namespace 2 for its children, 3 C, which
# joined 1, 4 A1, 5 B1, born in 2)
if start_dumped timenest ns-timenest; then
	NTP=$PID
	use_base timenest
	B_PID=$("$CRTOOL" show "$T/base/pstree.img" | awk '$1 == "pid:" { if (n++ == 2) { print $2; exit } }')
	case_ timenest-id-unlisted pstree.img "@1:time_ns=9" -- pstree.img "nested time namespace 9" "does not list"
	case_ timenest-root pstree.img "@0:time_ns=1" -- pstree.img "root or a zombie"
	case_ timenest-made-late pstree.img "@2:time_ns_children=1" -- pstree.img "pid $B_PID makes nested time namespace 1" \
		"a process before it is in it"
	case_ timenest-own-children pstree.img "@5:time_ns_children=2" -- pstree.img "makes nested time namespace 2" \
		"the id is its own"
	case_ timenest-not-born pstree.img "@3:time_ns=2" -- pstree.img "is in nested time namespace 2, which pid $B_PID makes" \
		"its parent's children are not born there"
	case_ timenest-offsets timens-2.img "boottime_nsec=1000000000" -- "timens-2.img: bad offsets"
	case_ timenest-offsets-huge timens-1.img "monotonic_sec=-9000000000000000000" -- "timens-1.img: bad offsets"
	# a reader of version 4 would restore every process in the root's time namespace
	if "$CRTOOL" show "$T/timenestbase/inventory.img" | grep -qx "img_version: 6"; then
		pass timenest-version
	else
		fail timenest-version "ns-timenest's images do not say format version 6: $("$CRTOOL" show "$T/timenestbase/inventory.img" | grep img_version)"
	fi
fi

# ---- established TCP connections in nested network namespaces (ns-tcpnest)
if start_dumped tcpnest --dump-opts --tcp-established ns-tcpnest; then
	NTP=$PID
	# a reader of version 4 would lock them in the root's namespace only
	if "$CRTOOL" show "$T/tcpnestbase/inventory.img" | grep -qx "img_version: 8"; then
		pass tcpnest-version
	else
		fail tcpnest-version "ns-tcpnest's images do not say format version 8: $("$CRTOOL" show "$T/tcpnestbase/inventory.img" | grep img_version)"
	fi
fi

# ---- pid namespaces nested three levels deep (ns-pidnest-deep: records 1 and 2 did
# unshare -p and forked 3 and 4, inits of namespaces 1 and 2; 5 (in 1) forked 7, init
# of 3, made in 1, with a thread; 8 (in 3) forked 9, init of 4, made in 3, with a
# thread; 6 is in 2 (forked by its init), 10 and 11 in 4; each forks after its thread is
# made: 9's PIDs at levels 1 and 2 are 6, 4 and its thread's 7, 5; 10's 8, 6; 11's 9, 7)
if start_dumped pidnestdeep ns-pidnest-deep; then
	NDP=$PID
	use_base pidnestdeep
	case_ pidnestdeep-parent-self pstree.img "@8:pid_ns_parent=3" -- pstree.img "nested pid namespace 3, made in 3"
	case_ pidnestdeep-parent-shallow pstree.img "@6:pid_ns_parent=1" -- pstree.img \
		"nested pid namespace 2, made in 1" "do not match that depth"
	case_ pidnestdeep-parent-other pstree.img "@10:pid_ns_parent=2" -- pstree.img "nested pid namespace 4, made in 2" \
		"its namespace's other processes or its parent say otherwise"
	case_ pidnestdeep-mid-zero pstree.img "@8:pid_ns_mid[0]=0" -- pstree.img "bad PID 0 at level 1"
	case_ pidnestdeep-mid-twice pstree.img "@11:pid_ns_mid[0]=8" -- pstree.img "PID 8 appears twice in nested pid namespace 1"
	case_ pidnestdeep-mid-twice2 pstree.img "@10:pid_ns_mid[1]=4" -- pstree.img "PID 4 appears twice in nested pid namespace 3"
	# a reader of version 4 would make every nested namespace a child of the tree's
	if "$CRTOOL" show "$T/pidnestdeepbase/inventory.img" | grep -qx "img_version: 9"; then
		pass pidnestdeep-version
	else
		fail pidnestdeep-version "ns-pidnest-deep's images do not say format version 9: $("$CRTOOL" show "$T/pidnestdeepbase/inventory.img" | grep img_version)"
	fi
fi

# ---- pid namespaces entered by setns and unshared without a fork (ns-pidsetns:
# record 1 entered namespace 1 by setns and forked record 4 there; record 2 did
# unshare -p and forked record 5, its init; record 3 and record 6, 5's child, did
# unshare -p and forked nothing since): version 12
if start_dumped pidsetns ns-pidsetns; then
	version_is pidsetns 12
	rm -rf "$T/base"
	cp -a "$T/pidsetnsbase" "$T/base"
	case_ pidsetns-entered-none pstree.img "@1:pid_ns_entered=2" -- pstree.img \
		"pid_ns_entered" "nested pid namespace 2" "not one of the tree's nested below its own"
	case_ pidsetns-entered-own pstree.img "@5:pid_ns_entered=1" -- pstree.img \
		"nested pid namespace 1 (pid_ns_entered)" "not one of the tree's nested below its own"
	case_ pidsetns-entered-no-init pstree.img "@5:pid_ns_threads[0]=4" -- pstree.img \
		"nested pid namespace 1 (pid_ns_entered)" "with its init"
	case_ pidsetns-two pstree.img "@3:pid_ns_entered=1" -- pstree.img "born in more than one pid namespace"
	case_ pidsetns-unshared-zombie pstree.img "@3:zombie=1" -- pstree.img "or it is a zombie"
	case_ pidsetns-unshared-threads pstree.img "@3:threads#=2" "@3:threads[1]=$ofree" -- pstree.img "or has threads"
	case_ pidsetns-outside-init pstree.img "@4:pid_ns_threads[0]=1" -- pstree.img "PID 1 appears twice in nested pid namespace 1"
fi

# ---- mlockall(MCL_FUTURE) (mem-mlock --future-onfault): version 15; its flags checked
if start_dumped mlockall mem-mlock --future-onfault; then
	version_is mlockall 15
	rm -rf "$T/base"
	cp -a "$T/mlockallbase" "$T/base"
	case_ mlockall-flags "core-$PID.img" "mlockall=1" -- "core-$PID.img" "mlockall flags 0x1 are not MCL_FUTURE"
	case_ mlockall-unknown "core-$PID.img" "mlockall=0x12" -- "core-$PID.img" "mlockall flags 0x12"
fi

# ---- processes in nested user namespaces (ns-usernest: ns.img lists UTS, network, IPC
# and cgroup namespaces 1, owned by user namespace 1, then user namespaces 1 and 2 (2's
# parent is 1); pstree records 0 root, 1 A (user 1), 2 B (user 1), 3 A1 (user 2))
if start_dumped usernest ns-usernest; then
	NUP=$PID
	use_base usernest
	case_ usernest-overlap ns.img "nested[4].uid_map[1].first=500" -- ns.img "nested user namespace 1" \
		"uid extents 0 and 1 overlap"
	case_ usernest-overlap-lower ns.img "nested[4].gid_map[1].lower_first=200500" -- ns.img \
		"nested user namespace 1" "gid extents 0 and 1 overlap"
	case_ usernest-count-zero ns.img "nested[5].gid_map[0].count=0" -- ns.img "nested user namespace 2" \
		"gid extent 0 1000 0 is empty"
	case_ usernest-no-extent ns.img "nested[5].uid_map#=0" -- ns.img "nested user namespace 2" "uid map has 0 extents"
	case_ usernest-wrap ns.img "nested[4].uid_map[1].count=0xffffffff" -- ns.img "runs past the last id"
	case_ usernest-parent ns.img "nested[5].owner=7" -- ns.img "nested user namespace 2" \
		"its parent 7 is not a user namespace listed before it"
	case_ usernest-cycle ns.img "nested[4].owner=2" -- ns.img "nested user namespace 1" \
		"its parent 2 is not a user namespace listed before it"
	case_ usernest-owner-unlisted ns.img "nested[0].owner=5" -- ns.img "owned by nested user namespace 5" \
		"does not list"
	case_ usernest-net-peer netns-1.img "links[0].peer_outside=1" -- netns-1.img "veth lo's peer is in another network namespace" \
		"owned by nested user namespace 1: not supported"
	case_ usernest-unlisted pstree.img "@3:user_ns=9" -- pstree.img "nested user namespace 9" "does not list"
	case_ usernest-root pstree.img "@0:user_ns=1" -- pstree.img "nested user namespace 1" "root or a zombie"
	case_ usernest-threads pstree.img "@1:threads#=2" "@1:threads[1]=$ofree" -- pstree.img "threads in nested user namespace 1"
	# (format version 17: the owner of a nested pid namespace, named on its init only)
	case_ usernest-pid-owner pstree.img "@1:pid_ns_owner=1" -- pstree.img \
		"names the owner of its pid namespace (nested user namespace 1)" "not the init of a nested pid namespace"
	# a reader of version 9 would refuse the kind "user" (no silent misrestore)
	if "$CRTOOL" show "$T/usernestbase/inventory.img" | grep -qx "img_version: 10"; then
		pass usernest-version
	else
		fail usernest-version "ns-usernest's images do not say format version 10: $("$CRTOOL" show "$T/usernestbase/inventory.img" | grep img_version)"
	fi
fi

# ---- a lease (file-lease): its dump says format version 13, which a reader that
# would drop the lease refuses; a dump without leases or fanotify fds says less
if start_dumped lease file-lease; then
	NLP=$PID
	version_is lease 13
	case "$counter_version" in
	*" 13") fail lease-version-counter "counter's images say version 13 without a lease or fanotify" ;;
	*) pass lease-version-counter ;;
	esac
	use_base lease
	# its fd 20 holds a read lease
	rec=$("$CRTOOL" show "$T/base/fdinfo-$NLP.img" | awk '/^# record/ { r = $3; sub(":", "", r) } /^fd: 20$/ { print r; exit }')
	case_ lease-real-kind "fdinfo-$NLP.img" "@$rec:lease=0" -- "fdinfo: fd 20 has a malformed lease record"
	rm -rf /tmp/libcr-tst-"$NLP"-*
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]

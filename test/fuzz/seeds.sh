#!/bin/bash
# test/fuzz/seeds.sh: seed corpora for the fuzz targets, from the suite's own
# programs.  Each program is started, its /proc texts (stat, status, smaps,
# limits, every fdinfo) are saved as seeds of the text parsers, then crtool
# dumps it; every image of every dump seeds the target of its kind.
#   build/fuzz/images/PROG/    the dumps (images/counter is the targets' base)
#   build/fuzz/seeds/TARGET/   the seed inputs
set -u
cd "$(dirname "$0")/../.." || exit 2
B=$PWD/build
CRTOOL=${CRTOOL:-$B/crtool}
F=$B/fuzz
PROGS=(counter tree file-regular file-unlinked pipe-inner fifo memfd eventfd signalfd timerfd inotify
       epoll file-locks posix-timers mem-file-shared signals itimer files-shared ipc-sysv ipc-mqueue
       sk-unix-pair sk-unix-bound sk-unix-tree sk-unix-rights sk-rights-sockets sk-inet sk-tcp-established sk-netlink sk-packet pidfd seccomp
       ghost-shared ns-mnt ns-net ns-time ns-user ns-nested ns-timenest ns-mntnest ns-pidnest-deep ns-pidsetns task-attrs stopped tun)
# the dumps that need more than crtool's defaults (a dump of connections left
# behind would keep their network lock, which waits for a restore: this one
# leaves its process running, which drops it; ns-net's lock dies with its namespace)
declare -A DUMP_ARGS=([sk-tcp-established]="--tcp-established --leave-running" [ns-net]=--tcp-established)
# the image kinds with a target of their own (seeded from every dump holding one)
KINDS=(inventory pstree core mm fs fdinfo ghost timers ipc seccomp cgroup pagemap netns timens ns utsns mountpoints tmpfs userns)
rm -rf "$F/images" "$F/seeds"
for k in "${KINDS[@]}" show fdinfo-text proc rpc; do
	mkdir -p "$F/seeds/$k"
done
mkdir -p "$F/images"
T=$(mktemp -d /tmp/libcr-seeds-XXXXXX) || exit 2
trap 'rm -rf "$T"' EXIT
failed=0

for prog in "${PROGS[@]}"; do
	# stdin and stdout: pipes, as the runner gives (a program in a mount namespace of
	# its own could not have a FIFO or file of ours checkpointed); the writer of
	# stdin never writes (the program waits for CHECK)
	exec 3< <(exec sleep 3600)
	sleeper=$!
	exec 4> >(exec cat >"$T/$prog.out")
	(cd "$T" && exec setsid "$B/test/$prog" <&3 >&4 2>&1 3<&- 4>&-) &
	pid=$!
	exec 4>&-
	for ((i = 0; i < 200; i++)); do
		grep -qx READY "$T/$prog.out" 2>/dev/null && break
		sleep 0.05
	done
	if ! grep -qx READY "$T/$prog.out"; then
		echo "seeds: $prog did not get ready"
		failed=1
		continue
	fi
	for f in stat status smaps limits; do
		cp "/proc/$pid/$f" "$F/seeds/proc/$prog-$f" 2>/dev/null
	done
	for fd in /proc/"$pid"/fdinfo/*; do
		cp "$fd" "$F/seeds/fdinfo-text/$prog-fd${fd##*/}" 2>/dev/null
	done
	# shellcheck disable=SC2086 # (DUMP_ARGS: words)
	if ! "$CRTOOL" dump ${DUMP_ARGS[$prog]:-} -t "$pid" -D "$(mkdir -p "$F/images/$prog" && echo "$F/images/$prog")" \
		>"$T/dump.out" 2>&1; then
		echo "seeds: dump of $prog failed: $(tail -n 1 "$T/dump.out")"
		failed=1
	fi
	{
		pkill -9 -s "$pid"
		kill "$sleeper"
		exec 3<&-
		wait
	} 2>/dev/null
	for img in "$F/images/$prog"/*.img; do
		[ -e "$img" ] || continue
		base=${img##*/}
		kind=${base%%[-.]*}
		[ -d "$F/seeds/$kind" ] || continue
		cp "$img" "$F/seeds/$kind/$prog-$base"
		cp "$img" "$F/seeds/show/$prog-$base"
	done
done 2>/dev/null # (bash's "Killed" notices of the programs)
# the swrk RPC: every request test/criu-rpc sends (a runtime's dump, restore,
# pre-dump, notify acknowledgements, the malformed ones), as they go on the wire
if ! CRIU_RPC_SAVE=$F/seeds/rpc "$B/test/criu-rpc" "$CRTOOL" >"$T/rpc.out" 2>&1; then
	echo "seeds: criu-rpc failed: $(tail -n 1 "$T/rpc.out")"
	failed=1
fi
[ -e "$F/images/counter/inventory.img" ] || { echo "seeds: no base dump (counter)" >&2; exit 1; }
echo "seeds: $(find "$F/seeds" -type f | wc -l) seed files from ${#PROGS[@]} programs"
exit $failed

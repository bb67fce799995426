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
       sk-unix-pair sk-unix-bound sk-unix-tree seccomp)
rm -rf "$F/images" "$F/seeds"
mkdir -p "$F/images" "$F/seeds"/{inventory,pstree,core,mm,fs,fdinfo,ghost,timers,ipc,seccomp,cgroup,pagemap,show,fdinfo-text,proc}
T=$(mktemp -d /tmp/libcr-seeds-XXXXXX) || exit 2
trap 'rm -rf "$T"' EXIT
failed=0

for prog in "${PROGS[@]}"; do
	# stdin: a FIFO we hold open and never write (the program waits for CHECK)
	rm -f "$T/in"
	mkfifo "$T/in"
	exec 3<>"$T/in"
	(cd "$T" && exec setsid "$B/test/$prog" <"$T/in" >"$T/$prog.out" 2>&1 3>&-) &
	pid=$!
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
	if ! "$CRTOOL" dump -t "$pid" -D "$(mkdir -p "$F/images/$prog" && echo "$F/images/$prog")" \
		>"$T/dump.out" 2>&1; then
		echo "seeds: dump of $prog failed: $(tail -n 1 "$T/dump.out")"
		failed=1
	fi
	{
		pkill -9 -s "$pid"
		exec 3>&-
		wait
	} 2>/dev/null
	for img in "$F/images/$prog"/*.img; do
		[ -e "$img" ] || continue
		base=${img##*/}
		kind=${base%%[-.]*}
		case $kind in
		inventory | pstree | core | mm | fs | fdinfo | ghost | timers | ipc | seccomp | cgroup | pagemap)
			cp "$img" "$F/seeds/$kind/$prog-$base"
			cp "$img" "$F/seeds/show/$prog-$base"
			;;
		esac
	done
done 2>/dev/null # (bash's "Killed" notices of the programs)
[ -e "$F/images/counter/inventory.img" ] || { echo "seeds: no base dump (counter)" >&2; exit 1; }
echo "seeds: $(find "$F/seeds" -type f | wc -l) seed files from ${#PROGS[@]} programs"
exit $failed

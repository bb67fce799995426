#!/bin/bash
# `make bench`: dump and restore throughput against this machine's memcpy bandwidth,
# and how long the target is frozen.  Every figure is the median of BENCH_RUNS runs,
# after one untimed warm-up run per size.  GB/s means 1e9 bytes per second.
#
#   BENCH_SIZES_MIB   sizes of the checkpointed process's memory (default "64 1024")
#   BENCH_RUNS        runs per figure (default 5)
#   BENCH_DIR         where the images go (default /dev/shm: memory, not a disk)
#   BENCH_TASKS       thread and process counts to time (default "1 100 1000")
#   BENCH_MIGRATE_MIB sizes of the migrated process (default "256 1024"; "" skips)
#   BENCH_MIGRATE_4G  1: the migration table gets a 4096 MiB row too (a few minutes);
#                     any size runs only where MemAvailable holds it three times over
#                     (the process, the received images in BENCH_DIR, the restored
#                     copy) plus 1 GiB, else its row says it was skipped and why
#   BENCH_CONNS       established TCP connection counts to time (default "1 1000")
#   BENCH_CONTAINER   0 skips the runc container figures (default 1, where runc and
#                     busybox-static are installed)
#   CRIU              a CRIU binary: its runc checkpoint and restore are timed too, and
#                     libcr's are given as a ratio to them
#
# Migration: a process writing 64 MiB/s over its memory and logging a timestamp
# every millisecond is moved by crtool migrate to a crtool serve on this host (into
# a new pid namespace); its pause is the longest gap in its log (what a client
# polling it every millisecond would see), for stop-and-copy (--rounds 0), pre-copy
# (--rounds 3) and pre-copy with a lazy restore.
#
# Threads and trees: one process of N threads, and a tree of N processes, are
# dumped with --leave-running and restored with --new-pidns beside the original
# (so that no PID has to be freed first); each figure is the median of
# BENCH_RUNS runs, with the cost per thread or process and the 1000:100 ratio.
#
# TCP: one process holding N loopback connections (both ends: 2N sockets, 100
# bytes unread in each) is dumped with --tcp-established (killed: the time
# frozen, and the dump's wall time) and restored (wall time, with the network
# lock taken and removed); the bar for one connection is 20 ms frozen, 50 ms
# restore.
set -euo pipefail
cd "$(dirname "$0")/.."

CRTOOL=${CRTOOL:-build/crtool}
BENCH_MEM=${BENCH_MEM:-build/test/bench-mem}
SIZES=${BENCH_SIZES_MIB:-64 1024}
TASKS=${BENCH_TASKS:-1 100 1000}
MIGRATE=${BENCH_MIGRATE_MIB-256 1024}
[ "${BENCH_MIGRATE_4G:-0}" = 1 ] && [[ " $MIGRATE " != *" 4096 "* ]] && MIGRATE="$MIGRATE 4096"
CONNS=${BENCH_CONNS:-1 1000}
RUNS=${BENCH_RUNS:-5}
BASE=${BENCH_DIR:-/dev/shm}

work=""
pids=()          # every process this script started or restored

die() { printf 'bench FAILED: %s\n' "$*" >&2; exit 1; }

# Killed processes that are not our children stay zombies if PID 1 does not reap
# them; a zombie has no memory left and counts as gone.
alive() {
	local st
	st=$(awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

stop() {
	local p=$1
	alive "$p" || return 0
	kill -9 "$p" 2>/dev/null || true
	for _ in $(seq 200); do alive "$p" || break; sleep 0.05; done
}

cleanup() {
	for p in "${pids[@]}"; do stop "$p"; done
	[ -n "$work" ] && rm -rf "$work"
}
trap cleanup EXIT

secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", b - a }'; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
gbps() { awk -v mib="$1" -v s="$2" 'BEGIN { printf "%.2f", mib * 1048576 / s / 1e9 }'; }
pct() { awk -v x="$1" -v y="$2" 'BEGIN { printf "%.0f%%", 100 * x / y }'; }

# Start a process holding $1 MiB of non-zero memory in its own session; sets HOLDER.
# start_holder KIND N holds N threads or a tree of N processes instead.
start_holder() {
	local mib=$1 out="$work/hold.$RANDOM.out" kind=hold
	[ $# -gt 1 ] && kind=$1 mib=$2
	setsid "$BENCH_MEM" "$kind" "$mib" </dev/null >"$out" 2>/dev/null &
	HOLDER=$!
	disown "$HOLDER"   # no "Killed" notices; this shell still reaps it
	pids+=("$HOLDER")
	for _ in $(seq 1200); do
		grep -q READY "$out" 2>/dev/null && return 0
		alive "$HOLDER" || die "bench-mem hold $mib exited early"
		sleep 0.05
	done
	die "bench-mem hold $mib did not get ready within 60 s"
}

frozen_of() { printf '%s\n' "$1" | sed -n 's/.*stats: frozen_ms=\([0-9.]*\).*/\1/p' | tail -n 1; }

# One full cycle for $1 MiB; sets DUMP_S, FROZEN_MS (--leave-running), KILL_FROZEN_MS
# (the timed dump, which kills), RESTORE_S, and FRESH_W_S / FRESH_C_S: what writing
# the same size into a new file in BENCH_DIR and copying it into new anonymous
# memory cost right then (bench-mem fresh: the least a dump and a restore do; on a
# VM whose host takes freed memory back, new memory costs far more than memcpy's).
cycle() {
	local mib=$1 img="$work/img" out t0 t1 rpid

	start_holder "$mib"

	# Frozen time: a dump that leaves the process running reports how long it was stopped.
	mkdir -p "$work/lr"
	out=$("$CRTOOL" dump -t "$HOLDER" -D "$work/lr" --leave-running -v 2>&1) ||
		{ printf '%s\n' "$out" >&2; die "crtool dump --leave-running of $mib MiB failed"; }
	FROZEN_MS=$(frozen_of "$out")
	[ -n "$FROZEN_MS" ] || die "no 'stats: frozen_ms=' line in crtool dump -v output"
	alive "$HOLDER" || die "the process died after crtool dump --leave-running"
	rm -rf "$work/lr"

	mkdir -p "$img"
	t0=$EPOCHREALTIME
	out=$("$CRTOOL" dump -t "$HOLDER" -D "$img" -v 2>&1) ||
		{ printf '%s\n' "$out" >&2; die "crtool dump of $mib MiB failed"; }
	t1=$EPOCHREALTIME
	DUMP_S=$(secs "$t0" "$t1")
	KILL_FROZEN_MS=$(frozen_of "$out")
	for _ in $(seq 100); do [ -e "/proc/$HOLDER" ] || break; sleep 0.05; done  # reaped: PID free

	rm -f "$work/pidfile"
	t0=$EPOCHREALTIME
	"$CRTOOL" restore -D "$img" -d --pidfile "$work/pidfile" || die "crtool restore of $mib MiB failed"
	t1=$EPOCHREALTIME
	RESTORE_S=$(secs "$t0" "$t1")
	rpid=$(cat "$work/pidfile" 2>/dev/null) || die "crtool restore wrote no pidfile"
	[ "$rpid" = "$HOLDER" ] || die "restored as PID $rpid, dumped as PID $HOLDER"
	pids+=("$rpid")
	alive "$rpid" || die "the restored process $rpid is not running"
	stop "$rpid"
	rm -rf "$img" "$work"/hold.*.out
	read -r FRESH_W_S FRESH_C_S < <(cd "$work" && "$BENCH_MEM_ABS" fresh "$mib") ||
		die "bench-mem fresh $mib failed"
}

[ "$(id -u)" = 0 ] || die "run as root"
[ -x "$CRTOOL" ] || die "$CRTOOL is missing: run 'make'"
[ -x "$BENCH_MEM" ] || die "$BENCH_MEM is missing: run 'make bench'"
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive number"
max=0
for s in $SIZES; do
	[[ "$s" =~ ^[1-9][0-9]*$ ]] || die "BENCH_SIZES_MIB: '$s' is not a size in MiB"
	[ "$s" -gt "$max" ] && max=$s
done
[ "$max" -gt 0 ] || die "BENCH_SIZES_MIB is empty"
work=$(mktemp -d "$BASE/libcr-bench.XXXXXX")
BENCH_MEM_ABS=$(realpath "$BENCH_MEM")

echo "libcr bench: $(uname -r), $(nproc) CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
echo "images in $BASE; medians of $RUNS runs after a warm-up; GB = 1e9 bytes"
echo

MEMCPY=$("$BENCH_MEM" memcpy "$max")
printf 'memcpy (%s MiB, median of 5)     %8s GB/s\n' "$max" "$MEMCPY"

for mib in $SIZES; do
	echo
	echo "$mib MiB process:"
	cycle "$mib"                      # warm-up, not counted
	dumps=() frozens=() kfrozens=() restores=() fws=() fcs=()
	for i in $(seq "$RUNS"); do
		cycle "$mib"
		printf '  run %d/%d: dump %.3f s (frozen %.1f ms), restore %.3f s; --leave-running frozen %.1f ms; new memory: write %.3f s, copy %.3f s\n' \
			"$i" "$RUNS" "$DUMP_S" "$KILL_FROZEN_MS" "$RESTORE_S" "$FROZEN_MS" "$FRESH_W_S" "$FRESH_C_S"
		dumps+=("$DUMP_S") frozens+=("$FROZEN_MS") kfrozens+=("$KILL_FROZEN_MS") restores+=("$RESTORE_S")
		fws+=("$FRESH_W_S") fcs+=("$FRESH_C_S")
	done
	d=$(printf '%s\n' "${dumps[@]}" | median)
	f=$(printf '%s\n' "${frozens[@]}" | median)
	kf=$(printf '%s\n' "${kfrozens[@]}" | median)
	r=$(printf '%s\n' "${restores[@]}" | median)
	dg=$(gbps "$mib" "$d")
	rg=$(gbps "$mib" "$r")
	fw=$(printf '%s\n' "${fws[@]}" | median)
	fc=$(printf '%s\n' "${fcs[@]}" | median)
	printf '  dump      %8.3f s  %8s GB/s  %5s of memcpy  (write() into a new file: %.3f s, %s GB/s; dump/that x%.2f)\n' \
		"$d" "$dg" "$(pct "$dg" "$MEMCPY")" "$fw" "$(gbps "$mib" "$fw")" "$(awk -v a="$d" -v b="$fw" 'BEGIN { print a / b }')"
	printf '  frozen    %8.1f ms   (dump --leave-running; %.1f ms in the dump that kills)\n' "$f" "$kf"
	printf '  restore   %8.3f s  %8s GB/s  %5s of memcpy  (copy into new memory: %.3f s, %s GB/s; restore/that x%.2f)\n' \
		"$r" "$rg" "$(pct "$rg" "$MEMCPY")" "$fc" "$(gbps "$mib" "$fc")" "$(awk -v a="$r" -v b="$fc" 'BEGIN { print a / b }')"
done

# One cycle for KIND (threads|tree) of N tasks; sets DUMP_S, RESTORE_S.
task_cycle() {
	local kind=$1 n=$2 img="$work/timg" out t0 t1 rpid
	start_holder "$kind" "$n"
	mkdir -p "$img"
	t0=$EPOCHREALTIME
	out=$("$CRTOOL" dump -t "$HOLDER" -D "$img" --leave-running 2>&1) ||
		{ printf '%s\n' "$out" >&2; die "crtool dump of $kind $n failed"; }
	t1=$EPOCHREALTIME
	DUMP_S=$(secs "$t0" "$t1")
	rm -f "$work/pidfile"
	t0=$EPOCHREALTIME
	"$CRTOOL" restore -D "$img" -d --new-pidns --pidfile "$work/pidfile" </dev/null >/dev/null ||
		die "crtool restore of $kind $n failed"
	t1=$EPOCHREALTIME
	RESTORE_S=$(secs "$t0" "$t1")
	rpid=$(cat "$work/pidfile")
	pids+=("$rpid")
	stop "$rpid"      # the namespace's init: the copy dies with it
	stop "$HOLDER"
	rm -rf "$img"
}

echo
echo "threads and processes (dump --leave-running; restore --new-pidns beside the original):"
for kind in threads tree; do
	declare -A dmed=() rmed=()
	for n in $TASKS; do
		[[ "$n" =~ ^[1-9][0-9]*$ ]] || die "BENCH_TASKS: '$n' is not a count"
		task_cycle "$kind" "$n"   # warm-up
		dumps=() restores=()
		for i in $(seq "$RUNS"); do
			task_cycle "$kind" "$n"
			dumps+=("$DUMP_S") restores+=("$RESTORE_S")
		done
		dmed[$n]=$(printf '%s\n' "${dumps[@]}" | median)
		rmed[$n]=$(printf '%s\n' "${restores[@]}" | median)
		printf '  %-7s %5d: dump %8.3f s (%7.3f ms each)   restore %8.3f s (%7.3f ms each)\n' "$kind" "$n" \
			"${dmed[$n]}" "$(awk -v s="${dmed[$n]}" -v n="$n" 'BEGIN { print s * 1000 / n }')" \
			"${rmed[$n]}" "$(awk -v s="${rmed[$n]}" -v n="$n" 'BEGIN { print s * 1000 / n }')"
	done
	if [ -n "${dmed[100]:-}" ] && [ -n "${dmed[1000]:-}" ]; then
		printf '  %-7s 1000 vs 100: dump x%.1f, restore x%.1f (linear is x10; the bar is x12)\n' "$kind" \
			"$(awk -v a="${dmed[1000]}" -v b="${dmed[100]}" 'BEGIN { print a / b }')" \
			"$(awk -v a="${rmed[1000]}" -v b="${rmed[100]}" 'BEGIN { print a / b }')"
	fi
	unset dmed rmed
done

# ---- live migration: the pause a client would see
# One migration of a churning $1 MiB process with crtool migrate ARGS...; sets PAUSE_MS
# and TOTAL_S.
migrate_once() {
	local mib=$1 d="$work/mig" out t0 t1
	shift
	rm -rf "$d"
	mkdir -p "$d/src" "$d/dst" "$d/run"
	"$CRTOOL" serve --address 127.0.0.1 --port 27999 -D "$d/dst" --new-pidns --pidfile "$d/pid" \
		>"$d/serve.out" 2>&1 &
	local server=$!
	disown "$server"
	pids+=("$server")
	for _ in $(seq 100); do grep -q listening "$d/serve.out" 2>/dev/null && break; sleep 0.05; done
	setsid sh -c 'cd "$1" && exec "$2" churn "$3"' _ "$d/run" "$(realpath "$BENCH_MEM")" "$mib" </dev/null >"$d/hold.out" 2>/dev/null &
	HOLDER=$!
	disown "$HOLDER"
	pids+=("$HOLDER")
	for _ in $(seq 1200); do grep -q READY "$d/hold.out" 2>/dev/null && break; sleep 0.05; done
	sleep 1
	t0=$EPOCHREALTIME
	out=$("$CRTOOL" migrate -t "$HOLDER" --to 127.0.0.1:27999 -W "$d/src" "$@" 2>&1) ||
		{ printf '%s\n' "$out" >&2; die "crtool migrate of $mib MiB failed"; }
	t1=$EPOCHREALTIME
	TOTAL_S=$(secs "$t0" "$t1")
	sleep 0.5   # the copy logs on there
	PAUSE_MS=$(awk -v from="${t0/./}" 'NR > 1 && $1 / 1000 >= from { g = ($1 - p) / 1e6; if (g > m) m = g } { p = $1 } END { printf "%.1f", m }' "$d/run/churn.log")
	local init
	init=$(cat "$d/pid" 2>/dev/null) && stop "$init"
	stop "$HOLDER"
	stop "$server"
	rm -rf "$d"
}

if [ -n "$MIGRATE" ] && "$CRTOOL" check 2>/dev/null | grep -q '^ *OK *dirty-tracking'; then
	echo
	echo "live migration of a process writing 64 MiB/s (pause: the longest gap in its 1 ms log; total: crtool migrate):"
	runs=$((RUNS < 3 ? RUNS : 3))
	for mib in $MIGRATE; do
		[[ "$mib" =~ ^[1-9][0-9]*$ ]] || die "BENCH_MIGRATE_MIB: '$mib' is not a size in MiB"
		avail=$(awk '/^MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo)
		if [ "$avail" -lt $((3 * mib + 1024)) ]; then
			printf '  %5s MiB  skipped: needs %d MiB available (the process, its images, the copy), %d MiB here\n' \
				"$mib" $((3 * mib + 1024)) "$avail"
			continue
		fi
		for mode in "stop-and-copy:--rounds 0" "pre-copy:--rounds 3" "pre-copy+lazy:--rounds 3 --lazy"; do
			name=${mode%%:*}
			read -r -a args <<<"${mode#*:}"
			pauses=() totals=()
			for _ in $(seq "$runs"); do
				migrate_once "$mib" "${args[@]}"
				pauses+=("$PAUSE_MS") totals+=("$TOTAL_S")
			done
			printf '  %5s MiB  %-14s pause %8.1f ms   total %6.2f s   (median of %d)\n' "$mib" "$name" \
				"$(printf '%s\n' "${pauses[@]}" | median)" "$(printf '%s\n' "${totals[@]}" | median)" "$runs"
		done
	done
fi

# One cycle for N TCP connections; sets DUMP_S, FROZEN_MS, RESTORE_S.
tcp_cycle() {
	local n=$1 img="$work/cimg" out t0 t1 rpid
	start_holder tcp "$n"
	mkdir -p "$img"
	t0=$EPOCHREALTIME
	out=$("$CRTOOL" dump -t "$HOLDER" -D "$img" --tcp-established -v 2>&1) ||
		{ printf '%s\n' "$out" >&2; die "crtool dump of $n TCP connections failed"; }
	t1=$EPOCHREALTIME
	DUMP_S=$(secs "$t0" "$t1")
	FROZEN_MS=$(frozen_of "$out")
	for _ in $(seq 200); do [ -e "/proc/$HOLDER" ] || break; sleep 0.02; done  # reaped: PID free
	rm -f "$work/pidfile"
	t0=$EPOCHREALTIME
	"$CRTOOL" restore -D "$img" -d --pidfile "$work/pidfile" </dev/null >/dev/null ||
		die "crtool restore of $n TCP connections failed"
	t1=$EPOCHREALTIME
	RESTORE_S=$(secs "$t0" "$t1")
	rpid=$(cat "$work/pidfile")
	pids+=("$rpid")
	stop "$rpid"
	rm -rf "$img"
}

echo
echo "established TCP connections (dump --tcp-established, killed; restore; network lock: $("$CRTOOL" check |
	awk '/network-lock/ { sub(/.*needed for[^)]*\) */, ""); print; exit }')):"
declare -A cd=() cr=()
for n in $CONNS; do
	[[ "$n" =~ ^[1-9][0-9]*$ ]] || die "BENCH_CONNS: '$n' is not a count"
	tcp_cycle "$n"   # warm-up
	dumps=() frozens=() restores=()
	for i in $(seq "$RUNS"); do
		tcp_cycle "$n"
		dumps+=("$DUMP_S") frozens+=("$FROZEN_MS") restores+=("$RESTORE_S")
	done
	cd[$n]=$(printf '%s\n' "${dumps[@]}" | median)
	cr[$n]=$(printf '%s\n' "${restores[@]}" | median)
	printf '  %5d connections: frozen %8.1f ms   dump %8.1f ms   restore %8.1f ms\n' "$n" \
		"$(printf '%s\n' "${frozens[@]}" | median)" "$(awk -v s="${cd[$n]}" 'BEGIN { print s * 1000 }')" \
		"$(awk -v s="${cr[$n]}" 'BEGIN { print s * 1000 }')"
done
if [ -n "${cd[1]:-}" ] && [ -n "${cd[1000]:-}" ]; then
	printf '  1000 vs 1: dump x%.1f, restore x%.1f (per connection: dump %.3f ms, restore %.3f ms)\n' \
		"$(awk -v a="${cd[1000]}" -v b="${cd[1]}" 'BEGIN { print a / b }')" \
		"$(awk -v a="${cr[1000]}" -v b="${cr[1]}" 'BEGIN { print a / b }')" \
		"$(awk -v a="${cd[1000]}" -v b="${cd[1]}" 'BEGIN { print (a - b) * 1000 / 999 }')" \
		"$(awk -v a="${cr[1000]}" -v b="${cr[1]}" 'BEGIN { print (a - b) * 1000 / 999 }')"
fi

# ---- a container through its runtime: runc checkpoint and restore of a busybox
# container counting in a shell loop, with libcr (crtool as `criu`) behind runc,
# and with CRIU when CRIU=path names one.  Times are runc's whole command.
BUSYBOX=$(command -v busybox || true)
if [ "${BENCH_CONTAINER:-1}" != 0 ] && command -v runc >/dev/null && [ -n "$BUSYBOX" ]; then
	cb="$work/ctr"
	mkdir -p "$cb/libcr" "$cb/bundle/rootfs/bin" "$cb/bundle/rootfs/tmp"
	ln -sf "$(realpath "$CRTOOL")" "$cb/libcr/criu"
	cp "$BUSYBOX" "$cb/bundle/rootfs/bin/busybox"
	for c in sh sleep; do ln -sf busybox "$cb/bundle/rootfs/bin/$c"; done
	(cd "$cb/bundle" && runc spec) || die "runc spec failed"
	python3 - "$cb/bundle/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/sh", "-c", "i=0; while :; do i=$((i+1)); echo $i >/tmp/count; sleep 0.01; done"]
c["root"]["readonly"] = False
json.dump(c, open(sys.argv[1], "w"))
PY
	ctr_id=libcr-bench-$$
	# ctr_cycle ENGINE: one run, checkpoint and restore -d; sets CKPT_S, RST_S
	ctr_cycle() {
		local eng=$1 t0 t1 i
		rm -rf "$cb/img" "$cb/wd"
		mkdir -p "$cb/img" "$cb/wd"
		(cd "$cb/bundle" && runc run -d "$ctr_id" </dev/null >/dev/null 2>&1) || die "runc run failed"
		for i in $(seq 100); do [ -s "$cb/bundle/rootfs/tmp/count" ] && break; sleep 0.02; done
		sleep 0.2
		t0=$EPOCHREALTIME
		runc --criu "$eng" checkpoint --image-path "$cb/img" --work-path "$cb/wd" "$ctr_id" >/dev/null 2>&1 ||
			{ runc delete -f "$ctr_id" >/dev/null 2>&1; die "runc checkpoint with $eng failed: $(cat "$cb/wd/dump.log" 2>/dev/null | tail -n 3)"; }
		t1=$EPOCHREALTIME
		CKPT_S=$(secs "$t0" "$t1")
		for i in $(seq 50); do runc delete "$ctr_id" >/dev/null 2>&1 && break; sleep 0.05; done
		t0=$EPOCHREALTIME
		(cd "$cb/bundle" && runc --criu "$eng" restore -d --image-path "$cb/img" --work-path "$cb/wd" "$ctr_id" \
			</dev/null >/dev/null 2>&1) ||
			{ runc delete -f "$ctr_id" >/dev/null 2>&1; die "runc restore with $eng failed: $(cat "$cb/wd/restore.log" 2>/dev/null | tail -n 3)"; }
		t1=$EPOCHREALTIME
		RST_S=$(secs "$t0" "$t1")
		runc delete -f "$ctr_id" >/dev/null 2>&1
	}
	echo
	echo "a busybox container through runc (checkpoint; restore -d; runc's whole command):"
	engines=("$cb/libcr/criu")
	[ -n "${CRIU:-}" ] && engines+=("$CRIU")
	declare -A cc=() crs=()
	for eng in "${engines[@]}"; do
		ctr_cycle "$eng"   # warm-up
		cks=() rss=()
		for i in $(seq "$RUNS"); do
			ctr_cycle "$eng"
			cks+=("$CKPT_S") rss+=("$RST_S")
		done
		cc[$eng]=$(printf '%s\n' "${cks[@]}" | median)
		crs[$eng]=$(printf '%s\n' "${rss[@]}" | median)
		name=libcr
		[ "$eng" != "$cb/libcr/criu" ] && name="CRIU ($eng)"
		printf '  %-24s checkpoint %8.1f ms   restore %8.1f ms\n' "$name" \
			"$(awk -v s="${cc[$eng]}" 'BEGIN { print s * 1000 }')" "$(awk -v s="${crs[$eng]}" 'BEGIN { print s * 1000 }')"
	done
	if [ -n "${CRIU:-}" ]; then
		printf '  libcr against CRIU: checkpoint x%.1f faster, restore x%.1f faster (the target is x2)\n' \
			"$(awk -v a="${cc[$CRIU]}" -v b="${cc[$cb/libcr/criu]}" 'BEGIN { print a / b }')" \
			"$(awk -v a="${crs[$CRIU]}" -v b="${crs[$cb/libcr/criu]}" 'BEGIN { print a / b }')"
	else
		echo "  (CRIU=path compares with a CRIU build)"
	fi
fi

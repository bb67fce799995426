#!/bin/bash
# test/fuzz/run.sh [TARGET...]: run each fuzz target (default: all, one after
# the other: the machine is shared) for $FUZZ_TIME seconds (default 60) on its
# corpus, build/fuzz/corpus/TARGET, grown from build/fuzz/seeds/TARGET (made by
# seeds.sh when missing).  A crash, sanitizer report, leak or timeout fails the
# run; the input is kept as build/fuzz/crashes/TARGET-*.  Prints, per target,
# its executions and crashes, then the totals.
set -u
cd "$(dirname "$0")/../.." || exit 2
F=$PWD/build/fuzz
TIME=${FUZZ_TIME:-60}
TARGETS=("$@")
[ ${#TARGETS[@]} = 0 ] && TARGETS=(inventory pstree core mm fs fdinfo ghost timers ipc seccomp cgroup netns timens
	ns utsns mountpoints tmpfs userns pagemap show fdinfo-text proc rpc)
if [ ! -e "$F/images/counter/inventory.img" ] || [ ! -e "$F/images/ns-mnt/mountpoints.img" ] ||
	[ ! -e "$F/images/ns-user/userns.img" ]; then
	./test/fuzz/seeds.sh || exit 1
fi

# the dump a target's input goes into: one that has such an image
base_of() {
	case $1 in
	netns) echo "$F/images/ns-net" ;;
	timens) echo "$F/images/ns-time" ;;
	userns) echo "$F/images/ns-user" ;;
	ns | utsns | mountpoints | tmpfs) echo "$F/images/ns-mnt" ;;
	*) echo "$F/images/counter" ;;
	esac
}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
mkdir -p "$F/crashes" "$F/logs"
total_runs=0
total_crashes=0
for t in "${TARGETS[@]}"; do
	bin=$F/fuzz-$t
	[ -x "$bin" ] || { echo "fuzz: no target $bin" >&2; exit 2; }
	mkdir -p "$F/corpus/$t" "$F/seeds/$t"
	log=$F/logs/$t.log
	# the inputs that once crashed it first (test/fuzz/regress/TARGET, files)
	export FUZZ_BASE
	FUZZ_BASE=$(base_of "$t")
	for r in test/fuzz/regress/"$t"/*; do
		[ -f "$r" ] || continue
		if ! "$bin" "$r" >"$log" 2>&1; then
			echo "fuzz $t: regression input $r crashes again, see $log"
			total_crashes=$((total_crashes + 1))
		fi
	done
	"$bin" -max_total_time="$TIME" -timeout=20 -rss_limit_mb=2048 -max_len=1048576 \
		-print_final_stats=1 -close_fd_mask=3 -artifact_prefix="$F/crashes/$t-" \
		"$F/corpus/$t" "$F/seeds/$t" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	runs=${runs:-0}
	crashes=0
	if [ $rc != 0 ]; then
		crashes=1
		echo "fuzz $t: FAILED (exit $rc), see $log:"
		grep -E "ERROR: |runtime error|SUMMARY|Test unit written" "$log" | head -n 5 | sed 's/^/  /'
	fi
	echo "fuzz $t: $runs executions in ${TIME}s, $crashes crashes"
	total_runs=$((total_runs + runs))
	total_crashes=$((total_crashes + crashes))
done
echo "fuzz total: ${#TARGETS[@]} targets, $total_runs executions, $total_crashes crashes"
[ $total_crashes = 0 ]

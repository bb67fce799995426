#!/bin/bash
# test/run-all.sh: every test, as `make test` runs it.
#
#   test/run-all.sh [--fast]          run everything
#   TESTS="counter signals" test/run-all.sh   run a subset
#
# Suites, in order: the unit tests (build/test/unit-*), the runner over every
# test program in every mode (plus the negative test: counter --corrupt must
# be caught, with --expect-fail), test/tty.sh and test/errors.sh.  Each prints its own
# "N passed, N failed"; this script adds them up and prints the total as its
# last line.  Exit status 1 if anything failed.
#
# TESTS names: any test program below, "corrupt" (the negative test), "unit"
# (all unit tests) or unit-NAME, "real" (test/real/*.sh) or one of them by name,
# "pidns", "usernest", "tty", "errors", "predump", "lazy", "page-server", "migrate", "migrate-hosts", "soak",
# "inherit-fd", "shell-job", "net-errors", "net", "netns", "netns-errors", "hostile", "faults", "storm-freeze",
# "cgroups", "criu" (criu-rpc and criu-cli), "api-example", "unpriv", "ns-user", "userns-errors".
# Unset: all of them.
# --fast: mem-random with --size 32 instead of 256 MiB, no threads --threads 1000.
# RUNNER_ARGS: extra runner arguments (e.g. "--keep" or "--mode restore").
set -u
cd "$(dirname "$0")/.." || exit 2
B=$PWD/build
CRTOOL=${CRTOOL:-$B/crtool}
RUNNER=$B/test/runner

PROGS="counter mem-random mem-code thread-creds file-proc mem-file-private mem-file-shared mem-prot mem-brk mem-stack
       mem-growsdown mem-madvise fpu-avx512 fpu-arm64 signals itimer vdso-clock nanosleep pipe-read file-regular
       file-unlinked pipe-inner fifo memfd eventfd signalfd timerfd inotify epoll dev-special
       file-locks file-lease fanotify posix-timers files-shared ipc-sysv ipc-mqueue pty poll-wait sk-unix-pair sk-unix-bound sk-unix-tree sk-unix-accept sk-unix-rights sk-rights-sockets sk-rights-inet sk-rights-tree sk-inet sk-netlink sk-packet sk-raw pidfd ghost-shared shm-host
       ns-time ns-timenest seccomp ns-mnt ns-nested ns-veth ns-pidnest ns-pidnest-deep ns-pidsetns ns-mntnest ns-mntroot ns-usernest ns-userpid task-attrs stopped mem-mlock tun"
# programs whose dumps save established TCP connections
TCP_PROGS="sk-tcp-established sk-tcp-halfclosed ns-net ns-tcpnest"
# and with arguments: "NAME ARGS..." each
TCP_VARIANTS=("sk-rights-inet --tcp" "sk-rights-tree --tcp" "ns-tcpnest --root-ns" "sk-rights-inet --tcp --nested"
	      "ns-usernest --tcp")
# programs whose restores put them back into their cgroups, with the limits
CGROUP_PROGS="cgroup"
# programs run again with other arguments: "NAME ARGS..." each
VARIANTS=("tree" "storm --forks" "storm --threads" "threads --threads 2" "threads --threads 64" "threads --threads 1000"
	  "seccomp --shared" "seccomp --strict" "sk-raw --own-netns" "ns-nested --root-ns" "ns-veth --root-ns"
	  "ns-pidnest --root-unshares" "ns-pidsetns --root-unshares" "ns-timenest --root-unshares" "ns-mntnest --root-ns"
	  "mem-mlock --future" "mem-mlock --future-onfault" "ns-mntroot --root-ns" "ns-mntroot --bind-root" "ns-mntroot --overlay"
	  "ns-mntroot --keep-old" "tun --nested" "tun --host" "ns-userpid --deep" "ns-userpid --time"
	  "ns-userpid --time --deep" "ns-userpid --mnt" "ns-userpid --mnt --deep")

fast=0
for a in "$@"; do
	case "$a" in
	--fast) fast=1 ;;
	-h | --help)
		sed -n '2,19p' "$0"
		exit 0
		;;
	*)
		echo "run-all.sh: unknown argument '$a'" >&2
		exit 2
		;;
	esac
done

selected() { # NAME [GROUP]
	[ -z "${TESTS:-}" ] && return 0
	local t
	for t in $TESTS; do
		[ "$t" = "$1" ] && return 0
		[ $# -gt 1 ] && [ "$t" = "$2" ] && return 0
	done
	return 1
}

total_pass=0
total_fail=0
summary=()

# run_suite LABEL CMD...: run it, show its output, add up its last count line
run_suite() {
	local label=$1 out rc line p f
	shift
	# (the seconds since run-all started: where a slow run spends its time)
	echo "=== $label (at ${SECONDS} s)"
	out=$(mktemp /tmp/libcr-run-all-XXXXXX)
	"$@" 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1)
	rm -f "$out"
	if [ -z "$line" ]; then
		echo "FAIL $label: no 'N passed, N failed' line (exit status $rc)"
		p=0
		f=1
	else
		p=${line%% passed*}
		f=${line#*passed, }
		f=${f%% failed}
		if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
			echo "FAIL $label: exit status $rc though it reports no failure"
			f=1
		fi
	fi
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	[ "$f" != 0 ] && summary+=("$label: $f failed")
}

# ---- unit tests
for u in "$B"/test/unit-*; do
	[ -x "$u" ] || continue
	n=$(basename "$u")
	selected "$n" unit || continue
	run_suite "$n" "$u"
done

# ---- test programs under the runner, in every mode; pre-dump rounds only where the
# kernel can track written pages, lazy restore only with userfaultfd (crtool check),
# unless RUNNER_ARGS names the modes
modes=restore,leave-running,twice
check=$("$CRTOOL" check 2>/dev/null)
if grep -q '^ *OK *dirty-tracking' <<<"$check"; then
	modes=$modes,predump
else
	echo "(no dirty-page tracking on this kernel: the runner's predump mode and test/predump.sh are skipped)"
fi
if grep -q '^ *OK *userfaultfd' <<<"$check"; then
	modes=$modes,lazy
else
	echo "(no userfaultfd on this kernel: the runner's lazy mode and test/lazy.sh are skipped)"
fi
MODES=(--mode "$modes")
case " ${RUNNER_ARGS:-} " in *" --mode "*) MODES=() ;; esac
for p in $PROGS; do
	selected "$p" || continue
	args=()
	[ "$p" = mem-random ] && [ "$fast" = 1 ] && args=(--size 32)
	# shellcheck disable=SC2086
	run_suite "runner $p" "$RUNNER" --crtool "$CRTOOL" "${MODES[@]}" ${RUNNER_ARGS:-} -- "$p" "${args[@]}"
done
for p in $TCP_PROGS; do
	selected "$p" || continue
	# shellcheck disable=SC2086
	run_suite "runner $p" "$RUNNER" --crtool "$CRTOOL" "${MODES[@]}" ${RUNNER_ARGS:-} --dump-arg --tcp-established -- "$p"
done
for v in "${TCP_VARIANTS[@]}"; do
	read -r -a words <<<"$v"
	selected "${words[0]}" || continue
	# shellcheck disable=SC2086
	run_suite "runner $v" "$RUNNER" --crtool "$CRTOOL" "${MODES[@]}" ${RUNNER_ARGS:-} --dump-arg --tcp-established -- "${words[@]}"
done
for p in $CGROUP_PROGS; do
	selected "$p" || continue
	# shellcheck disable=SC2086
	run_suite "runner $p" "$RUNNER" --crtool "$CRTOOL" "${MODES[@]}" ${RUNNER_ARGS:-} --restore-arg --manage-cgroups=full -- "$p"
done
# a user namespace of its own: every mode but lazy (its tasks can't have userfaultfd's fork events)
# (and pivot_rooted into a tmpfs, its mount namespace owned by its user namespace)
for v in "ns-user" "ns-user --pivot"; do
	selected ns-user || continue
	# shellcheck disable=SC2086
	run_suite "runner $v" "$RUNNER" --crtool "$CRTOOL" --mode "${modes/,lazy/}" ${RUNNER_ARGS:-} -- $v
done
# a fork storm in a cgroup of its own, frozen for the dump, restored into that cgroup
for v in "storm --forks" "storm --threads"; do
	selected storm-freeze || continue
	cg=libcr-storm-$$
	cg2=$(awk '{ for (i = 7; $i != "-"; i++); if ($(i + 1) == "cgroup2") { print $5; exit } }' /proc/self/mountinfo)
	# shellcheck disable=SC2086
	run_suite "runner $v (--freeze-cgroup)" "$RUNNER" --crtool "$CRTOOL" "${MODES[@]}" ${RUNNER_ARGS:-} \
		--dump-arg --freeze-cgroup --dump-arg "$cg2/$cg" \
		--restore-arg --manage-cgroups=soft --restore-arg "--cgroup-root=unified:/$cg" -- $v --cgroup $$
	rmdir "$cg2/$cg" 2>/dev/null
done
# negative tests in restore mode: after CHECK the program damages its own state
for p in thread-creds file-proc mem-code ns-mnt ns-nested ns-mntnest ns-mntroot ns-usernest ns-userpid ns-pidnest \
	ns-pidnest-deep ns-pidsetns; do
	selected corrupt "$p" || continue
	# shellcheck disable=SC2086
	run_suite "runner $p --corrupt (negative test)" \
		"$RUNNER" --crtool "$CRTOOL" ${RUNNER_ARGS:-} --expect-fail --mode restore -- "$p" --corrupt
done
for v in "${VARIANTS[@]}"; do
	read -r -a words <<<"$v"
	selected "${words[0]}" || continue
	if [ "$fast" = 1 ] && [ "$v" = "threads --threads 1000" ]; then
		echo "=== runner $v: skipped (--fast)"
		continue
	fi
	# shellcheck disable=SC2086
	run_suite "runner $v" "$RUNNER" --crtool "$CRTOOL" "${MODES[@]}" ${RUNNER_ARGS:-} -- "${words[@]}"
done
# the pagemap read as on kernels before 6.7 (no PAGEMAP_SCAN), areas without a page
# skipped by smaps: the 1 TiB reservation of mem-prot, mem-random's areas all read
for p in mem-prot mem-random; do
	selected "$p" pagemap-read || continue
	args=()
	[ "$p" = mem-random ] && [ "$fast" = 1 ] && args=(--size 32)
	# shellcheck disable=SC2086
	run_suite "runner $p (CR_PAGEMAP=read)" env CR_PAGEMAP=read "$RUNNER" --crtool "$CRTOOL" \
		--mode "${modes/,predump/}" ${RUNNER_ARGS:-} -- "$p" "${args[@]}"
done
if selected corrupt counter; then
	# shellcheck disable=SC2086
	run_suite "runner counter --corrupt (negative test)" \
		"$RUNNER" --crtool "$CRTOOL" ${RUNNER_ARGS:-} --expect-fail -- counter --corrupt
fi
# negative tests of the namespaces: a link's MTU changed after the restore, a clock
# reading that went back: the checks must catch them
if selected corrupt ns-net; then
	# shellcheck disable=SC2086
	run_suite "runner ns-net --corrupt (negative test)" "$RUNNER" --crtool "$CRTOOL" ${RUNNER_ARGS:-} --expect-fail \
		--mode restore --dump-arg --tcp-established -- ns-net --corrupt
fi
# a detached tap queue attached after the check point: the check must see it
if selected corrupt tun; then
	# shellcheck disable=SC2086
	run_suite "runner tun --corrupt (negative test)" "$RUNNER" --crtool "$CRTOOL" ${RUNNER_ARGS:-} --expect-fail \
		--mode restore -- tun --corrupt
fi
if selected corrupt ns-time; then
	# shellcheck disable=SC2086
	run_suite "runner ns-time --corrupt (negative test)" "$RUNNER" --crtool "$CRTOOL" ${RUNNER_ARGS:-} --expect-fail \
		--mode restore -- ns-time --corrupt
fi
if selected corrupt ns-timenest; then
	# shellcheck disable=SC2086
	run_suite "runner ns-timenest --corrupt (negative test)" "$RUNNER" --crtool "$CRTOOL" ${RUNNER_ARGS:-} \
		--expect-fail --mode restore -- ns-timenest --corrupt
fi
if selected corrupt files-shared; then
	# shellcheck disable=SC2086
	run_suite "runner files-shared --corrupt (negative test)" \
		"$RUNNER" --crtool "$CRTOOL" ${RUNNER_ARGS:-} --expect-fail --mode restore -- files-shared --corrupt
fi

# ---- pre-dump rounds with dirty-page tracking, counted page by page
if selected predump && [[ "$modes" == *predump* ]]; then
	run_suite "predump" env CRTOOL="$CRTOOL" ./test/predump.sh
fi

# ---- lazy restore: memory filled on fault, the rest pushed meanwhile
if selected lazy && [[ "$modes" == *lazy* ]]; then
	run_suite "lazy" env CRTOOL="$CRTOOL" ./test/lazy.sh
fi

# ---- a shell's job whose group the shell led (--shell-job)
if selected shell-job; then
	run_suite "shell-job" env CRTOOL="$CRTOOL" ./test/shell-job.sh
fi
# ---- the caller's files in place of the dump's (--inherit-fd)
if selected inherit-fd; then
	run_suite "inherit-fd" env CRTOOL="$CRTOOL" ./test/inherit-fd.sh
fi

# ---- crtool as `criu`: the swrk RPC runc and podman speak, and LXC's command line
if selected criu-rpc criu; then
	run_suite "criu-rpc" "$B/test/criu-rpc" "$CRTOOL"
fi
if selected criu-cli criu; then
	run_suite "criu-cli" env CRTOOL="$CRTOOL" COUNTER="$B/test/criu-rpc" ./test/criu-cli.sh
fi

# ---- the API as a runtime links it: the example program, pkg-config after make install
if selected api-example; then
	run_suite "api-example" env B="$B" ./test/api-example.sh
fi

# ---- the same tree through many checkpoints (make soak runs it at full length)
if selected soak; then
	run_suite "soak" env CRTOOL="$CRTOOL" SOAK_CYCLES="${SOAK_CYCLES:-40}" SOAK_LEAVE_S="${SOAK_LEAVE_S:-10}" ./test/soak.sh
fi

# ---- live migration to another network namespace
if selected migrate; then
	run_suite "migrate" env CRTOOL="$CRTOOL" ./test/migrate.sh
fi
# ---- a service and its client across namespaces on a bridge, over ssh and tcp
if selected migrate-hosts migrate; then
	run_suite "migrate-hosts" env CRTOOL="$CRTOOL" ./test/migrate-hosts.sh
fi

# ---- pages streamed to a page server
if selected page-server; then
	run_suite "page-server" env CRTOOL="$CRTOOL" ./test/page-server.sh
fi

# ---- real programs (test/real/NAME.sh)
for r in nginx python-log pipeline bash-pty redis container-crtool runc runc-child runc-userns runc-tty podman lxc postgres memcached haproxy sqlite dnsmasq mariadb \
	python-rt java node go tmux screen perl-ruby; do
	selected "$r" real || continue
	run_suite "real $r" env CRTOOL="$CRTOOL" "./test/real/$r.sh"
done

# ---- a 100 MB TCP stream between two network namespaces, server dumped mid-stream
if selected net; then
	run_suite net env CRTOOL="$CRTOOL" ./test/net.sh
fi

# ---- a server in its own network namespace, its veth's peer in the host
if selected netns; then
	run_suite netns env CRTOOL="$CRTOOL" ./test/netns.sh
fi

# ---- restores into new pid namespaces, side by side with the original
if selected pidns; then
	run_suite pidns env CRTOOL="$CRTOOL" ./test/pidns.sh
fi
if selected usernest; then
	run_suite usernest env CRTOOL="$CRTOOL" ./test/usernest.sh
fi

# ---- what needs a controlling terminal (inside script(1) sessions)
if selected tty; then
	run_suite tty env CRTOOL="$CRTOOL" TEST_BIN="$B/test" ./test/tty.sh
fi
# ---- a terminal whose master is outside the tree (--orphan-pts-master, --console-socket)
if selected orphan-pty tty; then
	run_suite orphan-pty env CRTOOL="$CRTOOL" ./test/orphan-pty.sh
fi

# ---- error paths
if selected errors; then
	run_suite errors env CRTOOL="$CRTOOL" TEST_BIN="$B/test" ./test/errors.sh
fi
if selected net-errors errors && ! command -v nft >/dev/null && ! command -v iptables >/dev/null; then
	echo "=== net-errors: skipped (neither nft nor iptables here: the network lock needs one; the arm64 VM)"
elif selected net-errors errors; then
	run_suite net-errors env CRTOOL="$CRTOOL" TEST_BIN="$B/test" ./test/net-errors.sh
fi

if selected netns-errors; then
	run_suite netns-errors env CRTOOL="$CRTOOL" TEST_BIN="$B/test" ./test/netns-errors.sh
fi

if selected userns-errors; then
	run_suite userns-errors env CRTOOL="$CRTOOL" TEST_BIN="$B/test" ./test/userns-errors.sh
fi

# ---- cgroups made again with their limits, strict mode, the freezer's error paths
if selected cgroups; then
	run_suite cgroups env CRTOOL="$CRTOOL" TEST_BIN="$B/test" ./test/cgroup.sh
fi

# ---- crafted images a restore must refuse
if selected hostile; then
	run_suite hostile env CRTOOL="$CRTOOL" TEST_BIN="$B/test" ./test/hostile.sh
fi

# ---- every step made to fail (CR_FAULT), and signals mid-dump
if selected faults; then
	run_suite faults env CRTOOL="$CRTOOL" TEST_BIN="$B/test" ./test/faults.sh
fi

# ---- a user with only CAP_CHECKPOINT_RESTORE, and images asking for more than it has
if selected unpriv; then
	run_suite unpriv env CRTOOL="$CRTOOL" TEST_BIN="$B/test" ./test/unpriv.sh
fi

echo "==="
for s in "${summary[@]}"; do
	echo "failed: $s"
done
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" = 0 ]

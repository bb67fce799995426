/* seccomp: filter chains and strict mode survive the checkpoint.
 *
 * With no_new_privs set, the process installs filter A (getppid fails with
 * EPERM) and starts a thread, which inherits it and stacks filter B of its own
 * (umask fails with EACCES, SECCOMP_FILTER_FLAG_LOG): the main thread runs
 * [A], the thread [A, B], sharing A.
 *   --shared  the main thread installs B too, with TSYNC: both run [A, B]
 *   --strict  no filters: the thread enters strict mode (Seccomp: 1) and then
 *             only reads a pipe and answers on another
 *   --notify  (an error case for test/cgroup.sh) a filter that passes getppid to a
 *             listener (SECCOMP_RET_USER_NOTIF): the dump must refuse it
 * After CHECK: each thread's Seccomp and Seccomp_filters lines as before, the
 * blocked calls still fail with their errno in the threads they should, and
 * other calls (getpid, the same calls in threads without the filter) work.
 * A helper child, forked before any filter (a tracer must have none), reads
 * with ptrace the flags of each thread's innermost filter: B keeps
 * SECCOMP_FILTER_FLAG_LOG, A has none.
 */
#include "tst.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int shared, strict;
static pid_t thread_tid;
static int to_thread[2], from_thread[2];
static pthread_barrier_t set_up;
static int to_helper[2], from_helper[2];

/* The flags of tid's innermost filter (PTRACE_SECCOMP_GET_METADATA), or -errno.
 * The kernel counts filters oldest first: the innermost is the last it knows. */
static long innermost_flags(pid_t tid)
{
	struct { uint64_t filter_off, flags; } md;
	long r = -ENOENT;
	int st;

	if (ptrace(PTRACE_SEIZE, tid, NULL, NULL) || ptrace(PTRACE_INTERRUPT, tid, NULL, NULL))
		return -errno;
	if (waitpid(tid, &st, __WALL) != tid)
		r = -errno;
	else
		for (uint64_t off = 0;; off++) {
			md.filter_off = off;
			md.flags = 0;
			if (ptrace(0x420d /* PTRACE_SECCOMP_GET_METADATA */, tid, (void *)sizeof(md), &md) < 0) {
				if (errno != ENOENT)
					r = -errno;
				break;
			}
			r = (long)md.flags;
		}
	ptrace(PTRACE_DETACH, tid, NULL, NULL);
	return r;
}

/* The helper: for each tid it reads, the flags it finds. */
static void __attribute__((noreturn)) helper_main(void)
{
	pid_t tid;

	while (read(to_helper[0], &tid, sizeof(tid)) == sizeof(tid)) {
		long flags = innermost_flags(tid);
		if (write(from_helper[1], &flags, sizeof(flags)) != sizeof(flags))
			break;
	}
	_exit(0);
}

static long ask_helper(pid_t tid)
{
	long flags = -EPIPE;

	if (write(to_helper[1], &tid, sizeof(tid)) != sizeof(tid) || read(from_helper[0], &flags, sizeof(flags)) != sizeof(flags))
		return -EPIPE;
	return flags;
}

static void install(int nr, int err, unsigned flags)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | err),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };

	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog))
		tst_fail("seccomp(SECCOMP_SET_MODE_FILTER, %#x): %s", flags, strerror(errno));
}

/* "Seccomp:" and "Seccomp_filters:" of a thread */
static void mode_of(pid_t tid, int *mode, int *filters)
{
	char path[64], buf[4096], *p;

	snprintf(path, sizeof(path), "/proc/self/task/%d/status", tid);
	tst_read_file(path, buf, sizeof(buf));
	*mode = *filters = -1;
	if ((p = strstr(buf, "\nSeccomp:")))
		*mode = atoi(p + 9);
	if ((p = strstr(buf, "\nSeccomp_filters:")))
		*filters = atoi(p + 17);
}

/* What the calls give in this thread: getppid, umask */
static void probe(long *ppid, int *ppid_errno, long *um, int *um_errno)
{
	errno = 0;
	*ppid = syscall(SYS_getppid);
	*ppid_errno = errno;
	errno = 0;
	*um = syscall(SYS_umask, 022);
	*um_errno = errno;
}

static struct { long ppid, um; int ppid_errno, um_errno; } thread_saw;

static void *thread_main(void *arg)
{
	char c;

	(void)arg;
	thread_tid = syscall(SYS_gettid);
	if (strict) {
		pthread_barrier_wait(&set_up);
		if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT))
			return NULL;
		/* from here on: read, write and exit only */
		for (;;) {
			if (syscall(SYS_read, to_thread[0], &c, 1) != 1)
				syscall(SYS_exit, 1);
			c ^= 0x20;
			syscall(SYS_write, from_thread[1], &c, 1);
		}
	}
	if (!shared)
		install(SYS_umask, EACCES, SECCOMP_FILTER_FLAG_LOG);
	pthread_barrier_wait(&set_up);
	/* the check asks through the pipe: the answer comes from this thread */
	while (read(to_thread[0], &c, 1) == 1) {
		probe(&thread_saw.ppid, &thread_saw.ppid_errno, &thread_saw.um, &thread_saw.um_errno);
		if (write(from_thread[1], &c, 1) != 1)
			break;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	tst_init_opts(argc, argv, NULL, "shared,strict,notify");
	if (tst_opt_flag("notify")) {
		struct sock_filter f[] = {
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		};
		struct sock_fprog prog = { .len = 4, .filter = f };
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
		    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog) < 0)
			tst_fail("a filter with a listener: %s", strerror(errno));
		tst_ready();
		tst_wait_check();
		tst_pass();
	}
	shared = tst_opt_flag("shared");
	strict = tst_opt_flag("strict");
	pthread_t th;
	int mode[2], filters[2];

	if (pipe(to_thread) || pipe(from_thread) || pthread_barrier_init(&set_up, NULL, 2))
		tst_fail("pipe: %s", strerror(errno));
	pid_t helper = -1;
	if (!strict) {
		if (pipe(to_helper) || pipe(from_helper))
			tst_fail("pipe: %s", strerror(errno));
		if ((helper = fork()) < 0)
			tst_fail("fork: %s", strerror(errno));
		if (helper == 0)
			helper_main();
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		tst_fail("PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	if (!strict)
		install(SYS_getppid, EPERM, 0);
	if (pthread_create(&th, NULL, thread_main, NULL))
		tst_fail("pthread_create failed");
	pthread_barrier_wait(&set_up);
	if (shared)
		install(SYS_umask, EACCES, SECCOMP_FILTER_FLAG_LOG | SECCOMP_FILTER_FLAG_TSYNC);
	if (strict) {
		/* the thread is in strict mode once it answers */
		char c = 'a';
		if (write(to_thread[1], &c, 1) != 1 || read(from_thread[0], &c, 1) != 1 || c != 'A')
			tst_fail("the strict thread did not answer");
	}
	int want_mode[2] = { strict ? 0 : 2, strict ? 1 : 2 };
	int want_filters[2] = { strict ? 0 : shared ? 2 : 1, strict ? 0 : 2 };
	mode_of(getpid(), &mode[0], &filters[0]);
	mode_of(thread_tid, &mode[1], &filters[1]);
	for (int i = 0; i < 2; i++)
		if (mode[i] != want_mode[i] || filters[i] != want_filters[i])
			tst_fail("before the dump: thread %d has Seccomp %d with %d filters, want %d with %d", i, mode[i],
				 filters[i], want_mode[i], want_filters[i]);

	if (!strict && (ask_helper(getpid()) != (shared ? (long)SECCOMP_FILTER_FLAG_LOG : 0) ||
			ask_helper(thread_tid) != (long)SECCOMP_FILTER_FLAG_LOG))
		tst_fail("before the dump: the innermost filters' flags are not as installed");
	tst_ready();
	tst_wait_check();

	mode_of(getpid(), &mode[0], &filters[0]);
	mode_of(thread_tid, &mode[1], &filters[1]);
	for (int i = 0; i < 2; i++)
		if (mode[i] != want_mode[i] || filters[i] != want_filters[i])
			tst_fail("thread %d has Seccomp %d with %d filters, want %d with %d", i, mode[i], filters[i],
				 want_mode[i], want_filters[i]);
	if (getpid() <= 0)
		tst_fail("getpid failed");
	char c = 'q';
	if (strict) {
		if (write(to_thread[1], &c, 1) != 1 || read(from_thread[0], &c, 1) != 1 || c != 'Q')
			tst_fail("the strict thread does not answer any more");
		tst_pass();
	}
	long fl[2] = { ask_helper(getpid()), ask_helper(thread_tid) };
	long want_fl[2] = { shared ? SECCOMP_FILTER_FLAG_LOG : 0, SECCOMP_FILTER_FLAG_LOG };
	for (int i = 0; i < 2; i++)
		if (fl[i] != want_fl[i])
			tst_fail("thread %d's innermost filter has flags %ld, want %ld", i, fl[i], want_fl[i]);
	long ppid, um;
	int ppid_errno, um_errno;
	probe(&ppid, &ppid_errno, &um, &um_errno);
	if (ppid != -1 || ppid_errno != EPERM)
		tst_fail("getppid in the main thread gave %ld (%s), want EPERM", ppid, strerror(ppid_errno));
	if (shared ? (um != -1 || um_errno != EACCES) : um < 0)
		tst_fail("umask in the main thread gave %ld (%s), want %s", um, strerror(um_errno),
			 shared ? "EACCES" : "success");
	if (write(to_thread[1], &c, 1) != 1 || read(from_thread[0], &c, 1) != 1)
		tst_fail("the thread does not answer");
	if (thread_saw.ppid != -1 || thread_saw.ppid_errno != EPERM || thread_saw.um != -1 ||
	    thread_saw.um_errno != EACCES)
		tst_fail("in the thread getppid gave %ld (%s), umask %ld (%s): want EPERM and EACCES", thread_saw.ppid,
			 strerror(thread_saw.ppid_errno), thread_saw.um, strerror(thread_saw.um_errno));
	/* TSYNC works only where the chain is still one (shared), else it names the thread */
	struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	struct sock_fprog prog = { .len = 1, .filter = &allow };
	long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog);
	if (r != (shared ? 0 : thread_tid))
		tst_fail("a TSYNC gave %ld, want %d", r, shared ? 0 : (int)thread_tid);
	tst_pass();
}

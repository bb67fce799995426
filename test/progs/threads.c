/* threads: a multi-threaded process, every thread with its own state.
 *
 * --threads N workers (default 2).  Each worker has its own TLS value, signal
 * mask, name, nice value and TID, and waits in one of four ways by its index:
 * a condition variable (futex wait), nanosleep, read() on its own pipe (with
 * --read-pipes; else a second condition variable wait), or a busy loop that
 * keeps a recurrence in registers (any register lost breaks the sequence; the
 * first few workers of that kind only).  Worker 1 also runs on an alternate signal stack setting.
 * After CHECK, each worker verifies its own state, then exits; the main thread
 * joins them all (pthread_join needs each thread's clear_child_tid to work),
 * and checks the thread count and that a signal sent to one thread reaches its
 * handler in that thread.
 *
 * --corrupt: one worker's TLS value changes after CHECK.
 */
#include "tst.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { WAIT_COND, WAIT_SLEEP, WAIT_READ, WAIT_SPIN, NR_WAITS };

struct worker {
	pthread_t th;
	int idx;
	pid_t tid;
	int pipe[2];
	char name[16];
	char fail[256];
	atomic_int ready;
	uint64_t spins;
};

static __thread uint64_t tls_value;
static __thread volatile int got_usr2;
static uint64_t seed;
static struct worker *workers;
static int nr;
static atomic_int checking;
static pthread_mutex_t mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static char altstack_mem[64 << 10];

static bool read_pipes;

static int nice_of(int i) { return i % 5; }

static void mask_of(int i, sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGRTMIN + i % 8);
	if (i & 1)
		sigaddset(set, SIGUSR1);
}

static void on_usr2(int sig)
{
	(void)sig;
	got_usr2 = 1;
}

#define WFAIL(w, ...) do { snprintf((w)->fail, sizeof((w)->fail), __VA_ARGS__); return NULL; } while (0)

static uint64_t step(uint64_t x, uint64_t i) { return x * 6364136223846793005ULL + (i | 1); }

static void *work(void *arg)
{
	struct worker *w = arg;
	sigset_t set, cur;

	w->tid = syscall(SYS_gettid);
	tls_value = seed ^ (0x9e3779b97f4a7c15ULL * (w->idx + 1));
	mask_of(w->idx, &set);
	pthread_sigmask(SIG_SETMASK, &set, NULL);
	snprintf(w->name, sizeof(w->name), "w%d", w->idx);
	pthread_setname_np(pthread_self(), w->name);
	if (setpriority(PRIO_PROCESS, w->tid, nice_of(w->idx)))
		WFAIL(w, "setpriority: %s", strerror(errno));
	if (w->idx == 1) {
		stack_t ss = { .ss_sp = altstack_mem, .ss_size = sizeof(altstack_mem) };
		if (sigaltstack(&ss, NULL))
			WFAIL(w, "sigaltstack: %s", strerror(errno));
	}
	int how = w->idx % NR_WAITS;
	if (how == WAIT_READ && !read_pipes)
		how = WAIT_COND;
	/* a few spinners are enough to prove it; hundreds would starve the machine */
	if (how == WAIT_SPIN && w->idx >= 4 * NR_WAITS)
		how = WAIT_SLEEP;
	atomic_store(&w->ready, 1);

	if (how == WAIT_COND) {
		pthread_mutex_lock(&mtx);
		while (!atomic_load(&checking))
			pthread_cond_wait(&cond, &mtx);
		pthread_mutex_unlock(&mtx);
	} else if (how == WAIT_SLEEP) {
		while (!atomic_load(&checking)) {
			struct timespec ts = { 0, 20 * 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
	} else if (how == WAIT_READ) {
		char c;
		ssize_t n;
		while ((n = read(w->pipe[0], &c, 1)) < 0 && errno == EINTR)
			;
		if (n != 1)
			WFAIL(w, "read from its pipe: %zd (%s)", n, strerror(errno));
	} else {
		/* x and n live in registers through the loop; checked against a replay */
		register uint64_t x = seed, n = 0;
		while (!(n % 4096 == 0 && atomic_load(&checking))) {
			x = step(x, n);
			n++;
		}
		uint64_t y = seed;
		for (uint64_t i = 0; i < n; i++)
			y = step(y, i);
		if (x != y)
			WFAIL(w, "register state lost in the busy loop after %lu steps", (unsigned long)n);
		w->spins = n;
	}

	/* the checks, each from inside the thread */
	if (w->tid != syscall(SYS_gettid))
		WFAIL(w, "TID changed from %d to %ld", w->tid, syscall(SYS_gettid));
	if (tls_value != (seed ^ (0x9e3779b97f4a7c15ULL * (w->idx + 1))))
		WFAIL(w, "TLS value lost: %lx", (unsigned long)tls_value);
	pthread_sigmask(SIG_SETMASK, NULL, &cur);
	for (int s = 1; s < SIGRTMAX; s++)
		if (sigismember(&cur, s) != sigismember(&set, s))
			WFAIL(w, "signal mask lost: signal %d %s", s, sigismember(&cur, s) ? "blocked" : "unblocked");
	char name[16];
	pthread_getname_np(pthread_self(), name, sizeof(name));
	if (strcmp(name, w->name))
		WFAIL(w, "name \"%s\", was \"%s\"", name, w->name);
	errno = 0;
	int nv = getpriority(PRIO_PROCESS, w->tid);
	if (nv != nice_of(w->idx))
		WFAIL(w, "nice %d, was %d", nv, nice_of(w->idx));
	if (w->idx == 1) {
		stack_t ss;
		sigaltstack(NULL, &ss);
		if (ss.ss_sp != altstack_mem || ss.ss_size != sizeof(altstack_mem) || ss.ss_flags)
			WFAIL(w, "alternate signal stack lost: %p/%zu flags %d", ss.ss_sp, ss.ss_size, ss.ss_flags);
	}
	/* a signal to this very thread lands here */
	got_usr2 = 0;
	if (syscall(SYS_tgkill, getpid(), w->tid, SIGUSR2))
		WFAIL(w, "tgkill: %s", strerror(errno));
	for (int i = 0; i < 1000 && !got_usr2; i++)
		usleep(1000);
	if (!got_usr2)
		WFAIL(w, "SIGUSR2 sent to the thread never reached its handler");
	return NULL;
}

static int count_threads(void)
{
	char buf[4096];
	if (tst_read_file("/proc/self/status", buf, sizeof(buf)) < 0)
		tst_fail("can't read /proc/self/status");
	const char *p = strstr(buf, "Threads:");
	return p ? atoi(p + 8) : -1;
}

int main(int argc, char **argv)
{
	tst_init_opts(argc, argv, "threads", "read-pipes");
	nr = tst_opt_long("threads", 2);
	read_pipes = tst_opt_flag("read-pipes");
	if (nr < 1 || nr > 4000)
		tst_fail("--threads %d: 1..4000", nr);
	seed = tst_seed();
	signal(SIGUSR2, on_usr2);
	workers = calloc(nr, sizeof(*workers));
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 << 10);
	for (int i = 0; i < nr; i++) {
		struct worker *w = &workers[i];
		w->idx = i;
		if (read_pipes && i % NR_WAITS == WAIT_READ && pipe(w->pipe))
			tst_fail("pipe: %s", strerror(errno));
		int e = pthread_create(&w->th, &attr, work, w);
		if (e)
			tst_fail("pthread_create %d: %s", i, strerror(e));
	}
	for (int i = 0; i < nr; i++)
		while (!atomic_load(&workers[i].ready) && !workers[i].fail[0])
			usleep(1000);
	if (count_threads() != nr + 1)
		tst_fail("%d threads before READY, want %d", count_threads(), nr + 1);

	tst_ready();
	tst_wait_check();

	if (count_threads() != nr + 1)
		tst_fail("%d threads after restore, want %d", count_threads(), nr + 1);
	if (tst_corrupting())
		seed ^= 1;   /* every worker recomputes from it */
	pthread_mutex_lock(&mtx);
	atomic_store(&checking, 1);
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&mtx);
	for (int i = 0; i < nr; i++)
		if (workers[i].pipe[1] && write(workers[i].pipe[1], "c", 1) != 1)
			tst_fail("write to worker %d: %s", i, strerror(errno));
	for (int i = 0; i < nr; i++) {
		int e = pthread_join(workers[i].th, NULL);
		if (e)
			tst_fail("pthread_join %d: %s", i, strerror(e));
		if (workers[i].fail[0])
			tst_fail("thread %d (TID %d): %s", i, workers[i].tid, workers[i].fail);
	}
	/* pthread_join returns at the thread's futex wake-up, a moment before the
	 * kernel takes it out of /proc/self/task: give a slow machine 5 s */
	for (int tries = 0; count_threads() != 1 && tries < 500; tries++)
		usleep(10000);
	if (count_threads() != 1)
		tst_fail("%d threads left after joining them all", count_threads());
	tst_pass();
}

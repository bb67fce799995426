/* ns-pidnest: processes in a pid namespace nested in the tree's, as `unshare -p -f` makes.
 *
 *   root        the runner's pid namespace
 *   └── U       unshare(CLONE_NEWPID), then forks: its pid_for_children stays the new one
 *       ├── V   forked by U after I: in I's namespace, not its init, its parent outside
 *       └── I   PID 1 of the new namespace (its parent is outside it: getppid() is 0)
 *           │   with a thread T, which has a POSIX timer signalling it (SIGEV_THREAD_ID)
 *           └── G   PID 2 or so there, a session of its own (setsid)
 *               ├── G1  a group of its own
 *               └── G2  in G1's group (setpgid to its sibling's PID there)
 *
 * --root-unshares: the root is U (it did unshare(CLONE_NEWPID) and forked I).
 *
 * Everyone shares a MAP_SHARED control page.  Each process (and T) records, as
 * it sees them, getpid, gettid, getppid, getpgid(0), getsid(0) and its NSpid
 * line (/proc/thread-self/status: its PID at every level); after CHECK each one
 * records them again and compares.  Besides: I and G are still in one namespace,
 * I is PID 1 there and its children are born in it; U's pid_for_children is still
 * I's namespace, and a child U forks after CHECK lands there (not PID 1, its
 * parent invisible) at a PID above every one the namespace gave out before: I
 * burns 20 PIDs before READY (children that exit at once), whose PIDs are free
 * then, and the namespace's next PID must not go back to them.  --corrupt: I calls setsid() after CHECK (its session changes).
 */
#include "tst-ns.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

enum { ROOT, U, I, T, G, G1, G2, V, NR };
static const char *const names[NR] = { "root", "U", "I", "I's thread", "G", "G1", "G2", "V" };

static struct ctl {
	struct tst_ns_ctl ns;
	struct tst_ids was[NR];
	pid_t u_sees_i;             /* I's PID as U sees it (its fork's return) */
	pid_t g1;                   /* G1's PID as G sees it */
	pid_t burned;               /* the last of the PIDs I gave out to children gone since */
	pid_t x_pid;                /* U's child after CHECK, as it sees itself */
} *ctl;
static bool root_u;             /* --root-unshares */

/* The same ids as before the dump, as it sees them itself. */
static bool same_ids(int who)
{
	struct tst_ids now;

	return tst_ids_same(who, &ctl->was[who], &now, who == ROOT || (who == U && root_u));
}

/* A timer that signals this thread (by its TID in the namespace), every 20 ms:
 * the signal stays blocked, pending, until the check takes it. */
static void *thread_main(void *arg)
{
	struct sigevent sev = { .sigev_notify = SIGEV_THREAD_ID, .sigev_signo = SIGRTMIN + 1 };
	struct itimerspec its = { { 0, 20000000 }, { 0, 20000000 } };
	struct timespec two = { 2, 0 };
	timer_t timer;
	sigset_t set;

	(void)arg;
	sigemptyset(&set);
	sigaddset(&set, SIGRTMIN + 1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	sev._sigev_un._tid = syscall(SYS_gettid);
	if (timer_create(CLOCK_MONOTONIC, &sev, &timer) || timer_settime(timer, 0, &its, NULL))
		_exit(1);
	tst_ids_read(&ctl->was[T]);
	tst_ns_started();
	tst_ns_wait_phase(TST_NS_CHECK);
	bool ok = same_ids(T);
	/* twice: one may have been pending across the dump, the next comes from the timer */
	for (int k = 0; k < 2 && ok; k++)
		if (sigtimedwait(&set, NULL, &two) != SIGRTMIN + 1)
			ok = tst_ns_fail(T, "its timer's signal did not come (%s)", strerror(errno));
	tst_ns_verdict(T, ok);
	return NULL;
}

/* G1 and G2: one group, led by G1, both children of G */
static void run_member(int who)
{
	if (setpgid(0, who == G1 ? 0 : ctl->g1))
		_exit(1);
	tst_ids_read(&ctl->was[who]);
	tst_ns_started();
	tst_ns_wait_phase(TST_NS_CHECK);
	bool ok = same_ids(who);
	if (ok && getpgid(0) != (who == G1 ? getpid() : ctl->g1))
		ok = tst_ns_fail(who, "getpgid %d: not G1's group (%d)", getpgid(0), ctl->g1);
	tst_ns_verdict(who, ok);
	tst_ns_finish();
}

static void run_g(void)
{
	pid_t g1, g2;

	if (setsid() < 0)
		_exit(1);
	tst_ids_read(&ctl->was[G]);
	if ((g1 = fork()) == 0)
		run_member(G1);
	ctl->g1 = g1;
	/* (G1 leads its group before G2 joins it) */
	for (int t = 0; g1 > 0 && getpgid(g1) != g1 && t < 2000; t++)
		tst_sleep_ms(1);
	if (g1 < 0 || (g2 = fork()) < 0)
		_exit(1);
	if (g2 == 0)
		run_member(G2);
	tst_ns_started();
	tst_ns_wait_phase(TST_NS_CHECK);
	bool ok = same_ids(G);
	if (ok && (getppid() != 1 || getsid(0) != getpid() || getpid() == 1))
		ok = tst_ns_fail(G, "getpid %d, getppid %d, getsid %d: not I's child leading its session", getpid(),
				 getppid(), getsid(0));
	tst_ns_verdict(G, ok);
	tst_ns_finish();
}

static void run_i(void)
{
	pthread_t th;
	pid_t g;

	tst_ids_read(&ctl->was[I]);
	for (int k = 0; k < 20; k++) {
		pid_t b = fork();
		if (b == 0)
			_exit(0);
		if (b < 0 || waitpid(b, NULL, 0) != b)
			_exit(1);
		ctl->burned = b;
	}
	if ((g = fork()) == 0)
		run_g();
	if (g < 0 || pthread_create(&th, NULL, thread_main, NULL))
		_exit(1);
	tst_ns_started();
	tst_ns_wait_phase(TST_NS_CHECK);
	if (tst_corrupting())
		setsid();
	bool ok = same_ids(I);
	if (ok && (getpid() != 1 || getppid() != 0))
		ok = tst_ns_fail(I, "getpid %d, getppid %d: not the init of its namespace", getpid(), getppid());
	if (ok && tst_ns_self("pid", 0) != tst_ns_self("pid_for_children", 0))
		ok = tst_ns_fail(I, "its children are not born in its pid namespace");
	tst_ns_verdict(I, ok);
	pthread_join(th, NULL);
	tst_ns_finish();
}

/* A child of U forked now: in I's namespace, neither its init nor seeing its parent. */
static bool u_forks_again(void)
{
	char path[64], b;
	int p[2];
	pid_t x;
	bool ok = true;

	if (pipe(p))
		return tst_ns_fail(U, "pipe: %s", strerror(errno));
	if ((x = fork()) == 0) {
		close(p[1]);
		int st = getpid() > 1 && getppid() == 0 ? 0 : 1;
		ctl->x_pid = getpid();
		if (read(p[0], &b, 1) < 0)
			st = 1;
		_exit(st);
	}
	close(p[0]);
	if (x < 0)
		return close(p[1]), tst_ns_fail(U, "fork after the restore: %s", strerror(errno));
	snprintf(path, sizeof(path), "/proc/%d/ns/pid", x);
	uint64_t xi = tst_ns_ino(path, 0);
	snprintf(path, sizeof(path), "/proc/%d/ns/pid", ctl->u_sees_i);
	if (!xi || xi != tst_ns_ino(path, 0))
		ok = tst_ns_fail(U, "its child %d is not in I's pid namespace (of %d)", x, ctl->u_sees_i);
	close(p[1]);
	int st;
	if (waitpid(x, &st, 0) != x || !WIFEXITED(st) || WEXITSTATUS(st))
		ok = ok && tst_ns_fail(U, "its child %d, in I's namespace, is PID 1 there or sees its parent (status 0x%x)",
				       x, st);
	else if (ctl->x_pid <= ctl->burned)
		ok = tst_ns_fail(U,
				 "its child got PID %d in I's namespace, not above %d, the last the namespace gave out before",
				 ctl->x_pid, ctl->burned);
	return ok;
}

static bool u_checks(void)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/ns/pid", ctl->u_sees_i);
	if (tst_ns_self("pid_for_children", 0) != tst_ns_ino(path, 0))
		return tst_ns_fail(U, "its children are no longer born in I's pid namespace");
	if (tst_ns_self("pid", 0) == tst_ns_ino(path, 0))
		return tst_ns_fail(U, "I is in its own pid namespace");
	return u_forks_again();
}

static void run_v(void)
{
	tst_ids_read(&ctl->was[V]);
	tst_ns_started();
	tst_ns_wait_phase(TST_NS_CHECK);
	bool ok = same_ids(V);
	if (ok && (getpid() == 1 || getppid() != 0))
		ok = tst_ns_fail(V, "getpid %d, getppid %d: the init of its namespace, or it sees its parent", getpid(),
				 getppid());
	tst_ns_verdict(V, ok);
	tst_ns_finish();
}

static void run_u(void)
{
	pid_t i, v;

	if (unshare(CLONE_NEWPID))
		_exit(1);
	tst_ids_read(&ctl->was[U]);
	if ((i = fork()) == 0)
		run_i();
	if (i < 0)
		_exit(1);
	ctl->u_sees_i = i;
	if ((v = fork()) == 0)
		run_v();
	if (v < 0)
		_exit(1);
	tst_ns_started();
	if (root_u)
		return;   /* the root: main goes on */
	tst_ns_wait_phase(TST_NS_CHECK);
	tst_ns_verdict(U, same_ids(U) && u_checks());
	/* V too: I's exit waits until every process of its namespace is reaped */
	tst_ns_finish();
}

int main(int argc, char **argv)
{
	tst_init_opts(argc, argv, NULL, "root-unshares");
	ctl = tst_ns_init(sizeof(*ctl), NR, names);
	root_u = tst_opt_flag("root-unshares");
	pid_t u = 0;
	tst_ids_read(&ctl->was[ROOT]);
	if (root_u)
		run_u();
	else if ((u = fork()) == 0)
		run_u();
	if (u < 0)
		tst_fail("fork: %s", strerror(errno));
	tst_ns_ready("processes and threads started (unshare(CLONE_NEWPID) refused?)");
	tst_ns_verdict(ROOT, same_ids(ROOT));
	if (root_u)
		tst_ns_verdict(U, same_ids(U) && u_checks());
	char msg[1800] = "";
	tst_ns_failed(msg, sizeof(msg), 0);
	tst_ns_end(msg);
}

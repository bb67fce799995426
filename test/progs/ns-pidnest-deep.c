/* ns-pidnest-deep: pid namespaces nested three levels below the tree's, as
 * `unshare -p -f` run inside a namespace `unshare -p -f` made, twice; and one
 * beside them.
 *
 *   root            the runner's pid namespace (level 0)
 *   ├── U1          unshare(CLONE_NEWPID), forks I1
 *   │   └── I1      PID 1 at level 1
 *   │       └── U2  unshare(CLONE_NEWPID), forks I2
 *   │           └── I2      PID 1 at level 2, with a thread T2
 *   │               └── U3  unshare(CLONE_NEWPID), forks I3; after the restore it
 *   │                   │   forks again: the child lands at level 3, not PID 1
 *   │                   └── I3      PID 1 at level 3, with a thread T3
 *   │                       └── G   a session of its own (setsid)
 *   │                           └── GG  its child, with a timer on its CPU clock (by its
 *   │                                   PID there); after the restore it forks one that
 *   │                                   gets a PID no live process has there
 *   └── S1          unshare(CLONE_NEWPID), forks J1 (beside U1's namespace)
 *       └── J1      PID 1 at level 1 of another namespace
 *
 * Everyone shares a MAP_SHARED control page.  Each process (and thread) records,
 * as it sees them, getpid, gettid, getppid, getpgid(0), getsid(0), its NSpid line
 * and the inodes of its pid namespace and of that one's parent (NS_GET_PARENT);
 * after CHECK it records them again.  The ids and NSpid must be the same; the
 * namespaces new ones, but related as before (the same processes in one, each
 * made in the same one).  --corrupt: I2 calls setsid() after CHECK.
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

enum { ROOT, U1, I1, U2, I2, T2, U3, I3, T3, G, GG, S1, J1, NR };
static const char *const names[NR] = { "root", "U1", "I1", "U2", "I2", "I2's thread", "U3", "I3", "I3's thread",
				       "G", "GG", "S1", "J1" };

static struct ctl {
	struct tst_ns_ctl ns;
	atomic_int read[NR];        /* its ids read (and the files for them closed) */
	struct tst_ids was[NR], now[NR];
	uint64_t pfc[NR];           /* U1, U2, U3, S1: their pid_for_children after the restore */
	uint64_t child_ns[NR];      /* GG, U3: the pid namespace of the child they fork then */
} *ctl;
/* (/proc is the runner's: a process of a nested namespace finds another's there only by
 * asking it; thread-self and self are right for anyone) */

/* The same ids as before the dump, as it sees them itself. */
static bool same_ids(int who)
{
	return tst_ids_same(who, &ctl->was[who], &ctl->now[who], who == ROOT);
}

static void started(int who)
{
	tst_ids_read(&ctl->was[who]);
	atomic_store(&ctl->read[who], 1);
	tst_ns_started();
}

static bool is_init(int who)
{
	if (getpid() != 1 || getppid() != 0)
		return tst_ns_fail(who, "getpid %d, getppid %d: not the init of its namespace", getpid(), getppid());
	if (tst_ns_self("pid", 0) != tst_ns_self("pid_for_children", 0))
		return tst_ns_fail(who, "its children are not born in its pid namespace");
	return true;
}

static void *thread_main(void *arg)
{
	int who = (int)(intptr_t)arg;

	started(who);
	tst_ns_wait_phase(TST_NS_CHECK);
	bool ok = same_ids(who);
	if (ok && ctl->now[who].tid == ctl->now[who].pid)
		ok = tst_ns_fail(who, "gettid %d is its process's PID", ctl->now[who].tid);
	tst_ns_verdict(who, ok);
	/* (alive while GG forks: its TID is taken) */
	tst_ns_wait_phase(TST_NS_EXIT);
	return NULL;
}

/* GG's child after the restore: at GG's level, a PID no live process of the tree has
 * there (the restored ones are at theirs, and the namespace hands out others). */
static bool fresh_child(void)
{
	int p[2], st;
	pid_t x;
	bool ok = true;

	if (pipe(p))
		return tst_ns_fail(GG, "pipe: %s", strerror(errno));
	if ((x = fork()) == 0) {
		char b;
		close(p[1]);
		ctl->child_ns[GG] = tst_ns_self("pid", 0);
		bool good = getppid() == ctl->was[GG].pid;
		for (int i = 0; i < NR && good; i++)
			good = ctl->was[i].ns != ctl->was[GG].ns || ctl->was[i].tid != getpid();
		if (read(p[0], &b, 1) < 0)
			good = false;
		_exit(good ? 0 : 1);
	}
	close(p[0]);
	if (x < 0)
		return close(p[1]), tst_ns_fail(GG, "fork after the restore: %s", strerror(errno));
	for (int i = 0; i < NR && ok; i++)
		if (ctl->was[i].ns == ctl->was[GG].ns && ctl->was[i].tid == x)
			ok = tst_ns_fail(GG, "its child got PID %d, %s's there", x, names[i]);
	close(p[1]);
	if (waitpid(x, &st, 0) != x || !WIFEXITED(st) || WEXITSTATUS(st))
		ok = ok && tst_ns_fail(GG, "its child %d sees another parent or a PID of the tree's (status 0x%x)", x, st);
	if (ok && ctl->child_ns[GG] != tst_ns_self("pid", 0))
		ok = tst_ns_fail(GG, "its child %d is not in its pid namespace", x);
	return ok;
}

/* A child of U3 forked now: in I3's namespace, neither its init nor seeing its parent. */
static bool u_forks_again(int who)
{
	char b;
	int p[2], st;
	pid_t x;
	bool ok = true;

	if (pipe(p))
		return tst_ns_fail(who, "pipe: %s", strerror(errno));
	if ((x = fork()) == 0) {
		close(p[1]);
		ctl->child_ns[who] = tst_ns_self("pid", 0);
		int bad = getpid() > 1 && getppid() == 0 ? 0 : 1;
		if (read(p[0], &b, 1) < 0)
			bad = 1;
		_exit(bad);
	}
	close(p[0]);
	if (x < 0)
		return close(p[1]), tst_ns_fail(who, "fork after the restore: %s", strerror(errno));
	close(p[1]);
	if (waitpid(x, &st, 0) != x || !WIFEXITED(st) || WEXITSTATUS(st))
		ok = tst_ns_fail(who, "its child %d, in its init's namespace, is PID 1 there or sees its parent "
			  "(status 0x%x)", x, st);
	if (ok && (!ctl->child_ns[who] || ctl->child_ns[who] != ctl->pfc[who]))
		ok = tst_ns_fail(who, "its child %d is not born in its pid_for_children", x);
	return ok;
}

/* An unsharer: its children are born in its init's namespace (main compares), not
 * its own. */
static bool u_checks(int who)
{
	ctl->pfc[who] = tst_ns_self("pid_for_children", 0);
	if (tst_ns_self("pid", 0) == ctl->pfc[who])
		return tst_ns_fail(who, "its children are born in its own pid namespace");
	return who == U3 ? u_forks_again(who) : true;
}

/* A POSIX timer on its own CPU clock, named by its PID at its level (the clock id
 * holds it): it still counts after the restore. */
static timer_t cpu_timer;

static bool cpu_timer_armed(void)
{
	struct itimerspec its;

	if (timer_gettime(cpu_timer, &its))
		return tst_ns_fail(GG, "its CPU-time timer: %s", strerror(errno));
	if (!its.it_value.tv_sec && !its.it_value.tv_nsec)
		return tst_ns_fail(GG, "its CPU-time timer is disarmed");
	return true;
}

static void run_gg(void)
{
	struct sigevent sev = { .sigev_notify = SIGEV_NONE };
	struct itimerspec its = { .it_value = { 1000, 0 } };
	clockid_t clk;

	if (clock_getcpuclockid(getpid(), &clk) || timer_create(clk, &sev, &cpu_timer) ||
	    timer_settime(cpu_timer, 0, &its, NULL))
		_exit(1);
	started(GG);
	tst_ns_wait_phase(TST_NS_CHECK);
	tst_ns_verdict(GG, same_ids(GG) && cpu_timer_armed() && fresh_child());
	tst_ns_finish();
}

static void run_g(void)
{
	pid_t gg;

	if (setsid() < 0)
		_exit(1);
	if ((gg = fork()) == 0)
		run_gg();
	if (gg < 0)
		_exit(1);
	started(G);
	tst_ns_wait_phase(TST_NS_CHECK);
	bool ok = same_ids(G);
	if (ok && (getppid() != 1 || getsid(0) != getpid()))
		ok = tst_ns_fail(G, "getppid %d, getsid %d: not I3's child leading its session", getppid(), getsid(0));
	tst_ns_verdict(G, ok);
	tst_ns_finish();
}

static void run_u(int who);

/* An init: I1 forks U2, I2 forks U3 (and has a thread), I3 forks G (and has a thread). */
static void run_init(int who)
{
	pthread_t th;
	pid_t c;
	int thread = who == I2 ? T2 : who == I3 ? T3 : -1;

	/* (the thread first: every PID is the same at each run) */
	if (thread >= 0 && pthread_create(&th, NULL, thread_main, (void *)(intptr_t)thread))
		_exit(1);
	/* (and done with its /proc files: a child forked meanwhile would keep them open) */
	for (int t = 0; thread >= 0 && !atomic_load(&ctl->read[thread]); t++) {
		if (t > 2000)
			_exit(1);
		tst_sleep_ms(1);
	}
	if ((c = fork()) == 0) {
		if (who == I1)
			run_u(U2);
		else if (who == I2)
			run_u(U3);
		else if (who == I3)
			run_g();
		else
			tst_ns_finish();   /* J1's: a plain child, not checked */
	}
	if (c < 0)
		_exit(1);
	started(who);
	tst_ns_wait_phase(TST_NS_CHECK);
	if (who == I2 && tst_corrupting())
		setsid();
	tst_ns_verdict(who, same_ids(who) && is_init(who));
	if (thread >= 0)
		pthread_join(th, NULL);
	tst_ns_finish();
}

static void run_u(int who)
{
	pid_t i;

	if (unshare(CLONE_NEWPID))
		_exit(1);
	if ((i = fork()) == 0)
		run_init(who == U1 ? I1 : who == U2 ? I2 : who == U3 ? I3 : J1);
	if (i < 0)
		_exit(1);
	started(who);
	tst_ns_wait_phase(TST_NS_CHECK);
	tst_ns_verdict(who, same_ids(who) && u_checks(who));
	/* (an init's exit waits until every process of its namespace is reaped) */
	tst_ns_finish();
}

/* The namespaces are new, but related as before: two processes share one after the
 * restore iff they did before, and one's was made in the other's iff it was. */
static bool same_relations(char *why, size_t len)
{
	for (int a = 0; a < NR; a++)
		for (int b = 0; b < NR; b++) {
			const struct tst_ids *wa = &ctl->was[a], *wb = &ctl->was[b], *na = &ctl->now[a], *nb = &ctl->now[b];
			if ((wa->ns == wb->ns) != (na->ns == nb->ns)) {
				snprintf(why, len, "%s and %s %s in one pid namespace before, %s now", names[a], names[b],
					 wa->ns == wb->ns ? "were" : "were not", na->ns == nb->ns ? "are" : "are not");
				return false;
			}
			if ((wa->ns_parent && wa->ns_parent == wb->ns) != (na->ns_parent && na->ns_parent == nb->ns)) {
				snprintf(why, len, "%s's pid namespace %s made in %s's before, %s now", names[a],
					 wa->ns_parent == wb->ns ? "was" : "was not", names[b],
					 na->ns_parent == nb->ns ? "is" : "is not");
				return false;
			}
		}
	return true;
}

int main(int argc, char **argv)
{
	tst_init(argc, argv);
	ctl = tst_ns_init(sizeof(*ctl), NR, names);
	tst_ids_read(&ctl->was[ROOT]);
	pid_t u1 = fork();
	if (u1 == 0)
		run_u(U1);
	pid_t s1 = u1 > 0 ? fork() : -1;
	if (s1 == 0)
		run_u(S1);
	if (u1 < 0 || s1 < 0)
		tst_fail("fork: %s", strerror(errno));
	tst_ns_ready("processes and threads started (unshare(CLONE_NEWPID) refused?)");
	tst_ns_verdict(ROOT, same_ids(ROOT));
	char msg[2400] = "", rel[300];
	size_t ml = tst_ns_failed(msg, sizeof(msg), 0);
	if (!ml && !same_relations(rel, sizeof(rel)))
		ml += snprintf(msg, sizeof(msg), "%s", rel);
	static const int us[][2] = { { U1, I1 }, { U2, I2 }, { U3, I3 }, { S1, J1 } };
	for (size_t k = 0; !ml && k < sizeof(us) / sizeof(us[0]); k++)
		if (ctl->pfc[us[k][0]] != ctl->now[us[k][1]].ns)
			ml += snprintf(msg, sizeof(msg), "%s's children are no longer born in %s's pid namespace",
				       names[us[k][0]], names[us[k][1]]);
	tst_ns_end(msg);
}

/* tree: a process tree with sessions, groups, zombies, an orphan and shared memory.
 *
 *   root (session leader, subreaper)
 *   ├── A        root's group; pdeath signal SIGKILL
 *   │   └── A1   its own group
 *   ├── B        a new session
 *   │   └── B1   a new group in B's session
 *   │       └── B2  in B1's group
 *   ├── D1       orphan: its parent D exited and was reaped, the root adopted it
 *   ├── G1       orphan in the process group of its parent G, which exited: a
 *   │            group whose leader is gone
 *   ├── L1       orphan in the session (and group) of its parent L, which called
 *   │            setsid and exited: a session whose leader is gone
 *   ├── Z        zombie that exited with status 42
 *   └── S        zombie killed by SIGUSR1
 *
 * Everyone shares one MAP_SHARED anonymous page (the control area) and keeps a
 * private buffer with its own pattern.  After CHECK the root asks every process
 * to check itself (PID, parent, group, session, pdeath signal, private buffer),
 * each writes its verdict into the shared page (so the sharing is checked too),
 * the root reaps the zombies with the statuses they died with, and everyone exits.
 *
 * --corrupt: B2's private buffer changes after CHECK.
 * --any-parent: the root's parent may differ (restored into a new pid namespace,
 * its parent is that namespace's init).
 */
#include "tst.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

enum { ROOT, A, A1, B, B1, B2, D1, G1, L1, NR };
static const char *const names[NR] = { "root", "A", "A1", "B", "B1", "B2", "D1", "G1", "L1" };

struct ctl {
	atomic_int phase;             /* 1: check now, 2: exit */
	pid_t pid[NR], ppid[NR], pgid[NR], sid[NR];
	int pdeath[NR];
	atomic_int done[NR];          /* 1 pass, 2 fail */
	char why[NR][160];
	atomic_int started;
};

static struct ctl *ctl;
static uint64_t seed;
static unsigned char priv[64 << 10];
static bool any_parent;

static void record(int who, int pdeath)
{
	ctl->pid[who] = getpid();
	ctl->ppid[who] = getppid();
	ctl->pgid[who] = getpgrp();
	ctl->sid[who] = getsid(0);
	ctl->pdeath[who] = pdeath;
	tst_fill(priv, sizeof(priv), seed + who);
	atomic_fetch_add(&ctl->started, 1);
}

#define VFAIL(who, ...) do { snprintf(ctl->why[who], sizeof(ctl->why[who]), __VA_ARGS__); return false; } while (0)

static bool verify(int who)
{
	int sig = -1;

	if (getpid() != ctl->pid[who])
		VFAIL(who, "pid %d, was %d", getpid(), ctl->pid[who]);
	if (getppid() != ctl->ppid[who] && !(who == ROOT && any_parent))
		VFAIL(who, "parent %d, was %d", getppid(), ctl->ppid[who]);
	if (getpgrp() != ctl->pgid[who])
		VFAIL(who, "process group %d, was %d", getpgrp(), ctl->pgid[who]);
	if (getsid(0) != ctl->sid[who])
		VFAIL(who, "session %d, was %d", getsid(0), ctl->sid[who]);
	prctl(PR_GET_PDEATHSIG, &sig);
	if (sig != ctl->pdeath[who])
		VFAIL(who, "pdeath signal %d, was %d", sig, ctl->pdeath[who]);
	if (who == ROOT) {
		int sub = 0;
		prctl(PR_GET_CHILD_SUBREAPER, &sub);
		if (!sub)
			VFAIL(who, "no longer a child subreaper");
	}
	long off = tst_cmp_fill(priv, sizeof(priv), seed + who);
	if (off >= 0)
		VFAIL(who, "private memory differs at byte %ld", off);
	return true;
}

/* Every process but the root: wait for the root's word, check, report, exit. */
static void __attribute__((noreturn)) serve(int who)
{
	while (atomic_load(&ctl->phase) < 1)
		tst_sleep_ms(5);
	if (who == B2 && tst_corrupting())
		priv[100] ^= 1;
	atomic_store(&ctl->done[who], verify(who) ? 1 : 2);
	while (atomic_load(&ctl->phase) < 2)
		tst_sleep_ms(5);
	_exit(0);
}

static pid_t spawn(int who, void (*setup)(void), int pdeath)
{
	pid_t p = fork();
	if (p < 0)
		tst_fail("fork: %s", strerror(errno));
	if (p)
		return p;
	if (prctl(PR_SET_PDEATHSIG, pdeath))
		_exit(99);
	if (setup)
		setup();
	record(who, pdeath);
	return 0;
}

static void new_session(void) { setsid(); }
static void new_group(void) { setpgid(0, 0); }
static pid_t b1_group;
static void join_b1(void) { setpgid(0, b1_group); }

int main(int argc, char **argv)
{
	tst_init_opts(argc, argv, NULL, "any-parent");
	any_parent = tst_opt_flag("any-parent");
	seed = tst_seed();
	ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ctl == MAP_FAILED)
		tst_fail("mmap: %s", strerror(errno));
	if (getsid(0) != getpid())
		tst_fail("the runner should start us as a session leader");
	if (prctl(PR_SET_CHILD_SUBREAPER, 1))
		tst_fail("PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
	record(ROOT, 0);

	if (!spawn(A, NULL, SIGKILL)) {
		if (!spawn(A1, new_group, SIGKILL))
			serve(A1);
		serve(A);
	}
	if (!spawn(B, new_session, SIGKILL)) {
		if (!spawn(B1, new_group, SIGKILL)) {
			b1_group = getpid();
			if (!spawn(B2, join_b1, SIGKILL))
				serve(B2);
			serve(B1);
		}
		serve(B);
	}
	/* D forks D1 and exits: the root (a subreaper) adopts D1 */
	pid_t d = fork();
	if (d == 0) {
		if (fork() == 0) {
			while (getppid() != ctl->pid[ROOT])
				tst_sleep_ms(1);
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			record(D1, SIGKILL);
			serve(D1);
		}
		_exit(0);
	}
	waitpid(d, NULL, 0);
	/* G leads a group, forks G1 into it, exits: the group outlives its leader */
	pid_t g = fork();
	if (g == 0) {
		setpgid(0, 0);
		if (fork() == 0) {
			while (getppid() != ctl->pid[ROOT])
				tst_sleep_ms(1);
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			record(G1, SIGKILL);
			serve(G1);
		}
		_exit(0);
	}
	waitpid(g, NULL, 0);
	/* L leads a new session, forks L1 into it, exits: the session outlives its leader */
	pid_t l = fork();
	if (l == 0) {
		setsid();
		if (fork() == 0) {
			while (getppid() != ctl->pid[ROOT])
				tst_sleep_ms(1);
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			record(L1, SIGKILL);
			serve(L1);
		}
		_exit(0);
	}
	waitpid(l, NULL, 0);
	pid_t z = fork();
	if (z == 0)
		_exit(42);
	pid_t zs = fork();
	if (zs == 0) {
		signal(SIGUSR1, SIG_DFL);
		raise(SIGUSR1);
		_exit(1);
	}
	/* both zombies must be zombies before READY (not reaped: we don't wait) */
	for (int i = 0; i < 2000; i++) {
		siginfo_t si;
		int nz = 0;
		si.si_pid = 0;
		if (!waitid(P_PID, z, &si, WEXITED | WNOHANG | WNOWAIT) && si.si_pid == z)
			nz++;
		si.si_pid = 0;
		if (!waitid(P_PID, zs, &si, WEXITED | WNOHANG | WNOWAIT) && si.si_pid == zs)
			nz++;
		if (nz == 2 && atomic_load(&ctl->started) == NR)
			break;
		tst_sleep_ms(5);
	}
	if (atomic_load(&ctl->started) != NR)
		tst_fail("only %d of %d processes started", atomic_load(&ctl->started), NR);

	tst_ready();
	tst_wait_check();

	atomic_store(&ctl->phase, 1);
	if (!verify(ROOT))
		tst_fail("root: %s", ctl->why[ROOT]);
	for (int who = 1; who < NR; who++) {
		for (int i = 0; i < 2000 && !atomic_load(&ctl->done[who]); i++)
			tst_sleep_ms(5);
		if (atomic_load(&ctl->done[who]) != 1)
			tst_fail("%s (pid %d): %s", names[who], ctl->pid[who],
				 atomic_load(&ctl->done[who]) ? ctl->why[who] : "no answer through the shared page");
	}
	int st;
	if (waitpid(z, &st, WNOHANG) != z || !WIFEXITED(st) || WEXITSTATUS(st) != 42)
		tst_fail("zombie %d: wait status 0x%x, want exit 42", z, st);
	if (waitpid(zs, &st, WNOHANG) != zs || !WIFSIGNALED(st) || WTERMSIG(st) != SIGUSR1)
		tst_fail("zombie %d: wait status 0x%x, want killed by SIGUSR1", zs, st);
	atomic_store(&ctl->phase, 2);
	tst_pass();
}

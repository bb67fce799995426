/* ns-timenest: processes of one tree in nested time namespaces of their own.
 *
 *   root            the runner's time namespace
 *   ├── A           makes namespace X (monotonic +1,000,000 s, boottime +2,000,000.25 s)
 *   │   │           and enters it (setns on its time_for_children)
 *   │   └── A1      A's child: born in X
 *   ├── B           makes namespace Y (monotonic +3,000,000.5 s, boottime +500,000 s)
 *   │   │           for its children only (unshare -T -f): B stays in the root's
 *   │   └── B1      born in Y, with a second thread
 *   └── C           joins X (setns through /proc/A/ns/time)
 *
 * Everyone samples CLOCK_MONOTONIC and CLOCK_BOOTTIME every few milliseconds,
 * through the vDSO (clock_gettime) and through the kernel (the syscall) by
 * turns, and B1's thread does the same.  After CHECK the root publishes its own
 * clocks; then each one (and B1's thread) checks that:
 *   - neither clock went back from its last reading before, by either way of
 *     reading it, nor jumped ahead by more than 10 minutes;
 *   - each clock, read both ways, is the root's plus its namespace's offset
 *     (0 for the root and B), within 30 s;
 *   - its time namespace is the same as / another than each other's as before,
 *     and B's children are still born in B1's (a child B forks now is in it and
 *     carries Y's offset).
 * --root-unshares: the root first makes namespace Z (monotonic +5,000,000 s, boottime
 * +7,000,000 s) for its children, without entering it: A, B and C are born in Z (A
 * and C then leave it for X, B stays; the root's children are still born in Z
 * after the restore).  --corrupt: A1 reads its clocks as if X's monotonic offset
 * were lost (the checks must catch it).
 */
#include "tst.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

#define NS 1000000000LL

enum { ROOT, A, A1, B, B1, B1T, C, NR };
static const char *const names[NR] = { "root", "A", "A1", "B", "B1", "B1's thread", "C" };

/* each one's namespace's offsets, ns: none, X, Y, Z */
static const int64_t mono_off[4] = { 0, 1000000 * NS, 3000000 * NS + NS / 2, 5000000 * NS };
static const int64_t boot_off[4] = { 0, 2000000 * NS + NS / 4, 500000 * NS, 7000000 * NS };
static int ns_of[NR] = { [A] = 1, [A1] = 1, [B1] = 2, [B1T] = 2, [C] = 1 };
static bool root_unshares;

struct ctl {
	atomic_int phase;          /* 1: check now, 3: exit */
	atomic_int started;
	int64_t root_mono, root_boot;   /* the root's clocks when phase went to 1 */
	uint64_t ino[NR], now[NR];      /* each one's time namespace before and after */
	uint64_t b_children;            /* B's time_for_children before */
	uint64_t root_children;         /* the root's (--root-unshares: Z) */
	atomic_int checked[NR];
	atomic_int done[NR];       /* 1 pass, 2 fail */
	char why[NR][240];
	pid_t pid[NR];
	atomic_int a_ready;
};

static struct ctl *ctl;

#define VFAIL(who, ...) do { snprintf(ctl->why[who], sizeof(ctl->why[who]), __VA_ARGS__); return false; } while (0)

static uint64_t ns_ino(const char *kind)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/self/ns/%s", kind);
	return stat(path, &st) ? 0 : st.st_ino;
}

/* through the vDSO (libc) or through the kernel */
static int64_t clock_now(clockid_t c, bool sys)
{
	struct timespec ts;

	if (sys ? syscall(SYS_clock_gettime, c, &ts) : clock_gettime(c, &ts))
		tst_fail("clock_gettime(%d): %s", (int)c, strerror(errno));
	return ts.tv_sec * NS + ts.tv_nsec;
}

static void set_offsets(int n)
{
	char buf[128];
	int fd;

	if (unshare(CLONE_NEWTIME))
		tst_fail("unshare(CLONE_NEWTIME): %s", strerror(errno));
	snprintf(buf, sizeof(buf), "monotonic %lld %lld\nboottime %lld %lld\n", (long long)(mono_off[n] / NS),
		 (long long)(mono_off[n] % NS), (long long)(boot_off[n] / NS), (long long)(boot_off[n] % NS));
	if ((fd = open("/proc/self/timens_offsets", O_WRONLY)) < 0 || write(fd, buf, strlen(buf)) != (ssize_t)strlen(buf))
		tst_fail("timens_offsets: %s", strerror(errno));
	close(fd);
}

static void enter(const char *path)
{
	int fd = open(path, O_RDONLY);

	if (fd < 0 || setns(fd, CLONE_NEWTIME))
		tst_fail("setns %s: %s", path, strerror(errno));
	close(fd);
}

static void setup_a(void)
{
	set_offsets(1);
	enter("/proc/self/ns/time_for_children");
	atomic_store(&ctl->a_ready, 1);
}

static void setup_b(void)
{
	set_offsets(2);
	ctl->b_children = ns_ino("time_for_children");
}

static void setup_c(void)
{
	char path[64];

	while (!atomic_load(&ctl->a_ready))
		tst_sleep_ms(2);
	snprintf(path, sizeof(path), "/proc/%d/ns/time", ctl->pid[A]);
	enter(path);
}

/* ---- sampling and checks */

struct samples {
	int64_t mono, boot;
	unsigned n;
};

/* false: a clock went back (why[who] says how) */
static bool sample(int who, struct samples *s)
{
	bool sys = s->n++ & 1;
	int64_t m = clock_now(CLOCK_MONOTONIC, sys), b = clock_now(CLOCK_BOOTTIME, sys);

	if (m < s->mono || b < s->boot)
		VFAIL(who, "a clock went back while running (%s): monotonic %lld -> %lld ns, boottime %lld -> %lld ns",
		      sys ? "syscall" : "vDSO", (long long)s->mono, (long long)m, (long long)s->boot, (long long)b);
	s->mono = m;
	s->boot = b;
	return true;
}

/* its clocks against its last samples and the root's, both ways of reading */
static bool check_clocks(int who, const struct samples *s)
{
	int n = ns_of[who];

	for (int sys = 0; sys < 2; sys++) {
		const char *how = sys ? "the syscall" : "the vDSO";
		int64_t m = clock_now(CLOCK_MONOTONIC, sys), b = clock_now(CLOCK_BOOTTIME, sys);

		if (who == A1 && tst_corrupting())
			m -= mono_off[1];
		if (m < s->mono || b < s->boot)
			VFAIL(who, "a clock went back across the checkpoint (%s): monotonic %lld -> %lld ns, boottime "
			      "%lld -> %lld ns", how, (long long)s->mono, (long long)m, (long long)s->boot, (long long)b);
		if (m - s->mono > 600 * NS || b - s->boot > 600 * NS)
			VFAIL(who, "a clock jumped ahead across the checkpoint by %lld s (%s)",
			      (long long)((m - s->mono) / NS), how);
		int64_t dm = m - ctl->root_mono - mono_off[n], db = b - ctl->root_boot - boot_off[n];
		if (dm < 0 || dm > 30 * NS || db < 0 || db > 30 * NS)
			VFAIL(who, "its clocks (%s) are not the root's plus its namespace's offsets: monotonic %+lld ns, "
			      "boottime %+lld ns off", how, (long long)dm, (long long)db);
	}
	return true;
}

static bool relations(int who)
{
	for (int j = 0; j < NR; j++)
		if (atomic_load(&ctl->checked[j]) && (ctl->ino[who] == ctl->ino[j]) != (ctl->now[who] == ctl->now[j]))
			VFAIL(who, "its time namespace is %s %s's, it was %s", ctl->now[who] == ctl->now[j] ? "the same as" :
			      "another than", names[j], ctl->ino[who] == ctl->ino[j] ? "the same" : "another");
	return true;
}

/* B (or the root): its children are still born in namespace n (where want is, now),
 * with its offsets */
static bool check_children(int who, int ns, uint64_t want)
{
	int p[2];
	int64_t got[3];
	pid_t c;

	if (ns_ino("time_for_children") != want)
		VFAIL(who, "its children are no longer born in the time namespace they were");
	if (pipe(p) || (c = fork()) < 0)
		VFAIL(who, "pipe/fork: %s", strerror(errno));
	if (!c) {
		int64_t v[3] = { clock_now(CLOCK_MONOTONIC, false), clock_now(CLOCK_BOOTTIME, true),
				 (int64_t)ns_ino("time") };
		_exit(write(p[1], v, sizeof(v)) == sizeof(v) ? 0 : 1);
	}
	close(p[1]);
	ssize_t n = read(p[0], got, sizeof(got));
	close(p[0]);
	waitpid(c, NULL, 0);
	if (n != sizeof(got))
		VFAIL(who, "its new child reported nothing");
	if ((uint64_t)got[2] != want)
		VFAIL(who, "a child it forks now is not in the time namespace its children were born in");
	int64_t dm = got[0] - ctl->root_mono - mono_off[ns], db = got[1] - ctl->root_boot - boot_off[ns];
	if (dm < 0 || dm > 30 * NS || db < 0 || db > 30 * NS)
		VFAIL(who, "a child it forks now lacks its namespace's offsets: monotonic %+lld ns, boottime %+lld ns off",
		      (long long)dm, (long long)db);
	return true;
}

static bool verify(int who, const struct samples *s)
{
	ctl->now[who] = ns_ino("time");
	atomic_store(&ctl->checked[who], 1);
	for (int j = 0, t = 0; j < NR && t < 2000; t++) {
		if (atomic_load(&ctl->checked[j])) {
			j++;
			continue;
		}
		tst_sleep_ms(5);
	}
	if (!check_clocks(who, s) || !relations(who))
		return false;
	if (who == B)
		return check_children(B, 2, ctl->now[B1]);
	/* (B was born in the namespace the root makes for its children) */
	return who != ROOT || !root_unshares || check_children(ROOT, 3, ctl->now[B]);
}

static void *b1_thread(void *arg)
{
	struct samples s = { 0 };

	(void)arg;
	ctl->ino[B1T] = ns_ino("time");
	atomic_fetch_add(&ctl->started, 1);
	while (atomic_load(&ctl->phase) < 1) {
		if (!sample(B1T, &s)) {
			atomic_store(&ctl->done[B1T], 2);
			return NULL;
		}
		tst_sleep_ms(3);
	}
	atomic_store(&ctl->done[B1T], verify(B1T, &s) ? 1 : 2);
	return NULL;
}

static void __attribute__((noreturn)) serve(int who)
{
	struct samples s = { 0 };
	pthread_t th;

	if (who == B1 && pthread_create(&th, NULL, b1_thread, NULL))
		tst_fail("pthread_create");
	atomic_fetch_add(&ctl->started, 1);
	bool ok = true;
	while (ok && atomic_load(&ctl->phase) < 1) {
		ok = sample(who, &s);
		tst_sleep_ms(5);
	}
	atomic_store(&ctl->done[who], ok && verify(who, &s) ? 1 : 2);
	if (who == B1)
		pthread_join(th, NULL);
	while (atomic_load(&ctl->phase) < 3)
		tst_sleep_ms(5);
	_exit(0);
}

/* A child of the caller that runs setup, records itself, forks its own and serves. */
static pid_t spawn(int who, void (*setup)(void), int child)
{
	pid_t p = fork();

	if (p < 0)
		tst_fail("fork: %s", strerror(errno));
	if (p)
		return p;
	ctl->pid[who] = getpid();
	if (setup)
		setup();
	ctl->ino[who] = ns_ino("time");
	if (child)
		spawn(child, NULL, 0);
	serve(who);
}

int main(int argc, char **argv)
{
	struct samples s = { 0 };
	pid_t pids[NR] = { 0 };

	tst_init_opts(argc, argv, NULL, "root-unshares");
	if ((root_unshares = tst_opt_flag("root-unshares")))
		ns_of[B] = 3;
	ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ctl == MAP_FAILED)
		tst_fail("mmap: %s", strerror(errno));
	ctl->ino[ROOT] = ns_ino("time");
	if (!ctl->ino[ROOT])
		tst_fail("no time namespaces here (/proc/self/ns/time)");
	if (root_unshares)
		set_offsets(3);
	ctl->root_children = ns_ino("time_for_children");
	pids[A] = spawn(A, setup_a, A1);
	pids[B] = spawn(B, setup_b, B1);
	pids[C] = spawn(C, setup_c, 0);
	for (int t = 0; atomic_load(&ctl->started) < NR - 1; t++) {
		if (t > 2000)
			tst_fail("only %d processes started", atomic_load(&ctl->started));
		tst_sleep_ms(5);
	}
	/* as made: X and Y differ, B is in the root's and its children in Y */
	if (ctl->ino[A] == ctl->ino[ROOT] || ctl->ino[A1] != ctl->ino[A] || ctl->ino[C] != ctl->ino[A] ||
	    ctl->ino[B] != ctl->root_children || ctl->ino[B1] != ctl->b_children || ctl->ino[B1T] != ctl->ino[B1] ||
	    ctl->ino[B1] == ctl->ino[A] || (root_unshares == (ctl->ino[B] == ctl->ino[ROOT])))
		tst_fail("the time namespaces are not as made");
	tst_ready();
	while (!tst_check_requested()) {
		if (!sample(ROOT, &s))
			tst_fail("root: %s", ctl->why[ROOT]);
		tst_sleep_ms(5);
	}
	ctl->root_mono = clock_now(CLOCK_MONOTONIC, false);
	ctl->root_boot = clock_now(CLOCK_BOOTTIME, false);
	atomic_store(&ctl->phase, 1);
	atomic_store(&ctl->done[ROOT], verify(ROOT, &s) ? 1 : 2);
	/* (20 s in all: a process whose clock lost its offset may sleep for days) */
	for (int i = 0, t = 0; i < NR && t < 4000; t++) {
		if (atomic_load(&ctl->done[i])) {
			i++;
			continue;
		}
		tst_sleep_ms(5);
	}
	atomic_store(&ctl->phase, 3);
	char msg[2000] = "";
	size_t ml = 0;
	for (int i = 0; i < NR; i++)
		if (atomic_load(&ctl->done[i]) != 1)
			ml += snprintf(msg + ml, sizeof(msg) - ml, "%s%s: %s", ml ? "; " : "", names[i],
				       atomic_load(&ctl->done[i]) ? ctl->why[i] : "no verdict");
	for (int i = 1; ml && i < NR; i++)
		if (ctl->pid[i])
			kill(ctl->pid[i], SIGKILL);
	for (int i = 0; i < NR; i++)
		if (pids[i])
			waitpid(pids[i], NULL, 0);
	if (ml)
		tst_fail("%s", msg);
	tst_pass();
}

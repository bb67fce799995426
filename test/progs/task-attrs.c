/* task-attrs: process and thread attributes that only the kernel keeps.
 *
 * The process: oom_score_adj 321, coredump_filter 0x7d, transparent huge pages
 * disabled (PR_SET_THP_DISABLE), memory-deny-write-execute (PR_SET_MDWE with
 * PR_MDWE_REFUSE_EXEC_GAIN, where the kernel has it), and the audit login uid
 * 4242 (where it may be set).  The main thread: bound to the last CPU, I/O
 * priority best-effort 6, timer slack 123456 ns.  A second thread: bound to
 * CPU 0, I/O priority idle, timer slack 777777 ns.  Each thread waits in a
 * futex for CHECK, then reads its own values back; the process's are read from
 * /proc/self and prctl, and MDWE must still refuse to make a page executable.
 *
 * --corrupt: the main thread's timer slack changes after CHECK.
 */
#include "tst.h"

#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef PR_SET_MDWE
#define PR_SET_MDWE 65
#define PR_GET_MDWE 66
#endif
#define PR_MDWE_REFUSE_EXEC_GAIN 1
#define IOPRIO_WHO_PROCESS 1
#define IOPRIO(class, level) ((class) << 13 | (level))
#define IOPRIO_CLASS_BE 2
#define IOPRIO_CLASS_IDLE 3

struct thread_attrs {
	int cpu;
	int ioprio;
	unsigned long slack;
};

static const struct thread_attrs main_want_base = { -1, IOPRIO(IOPRIO_CLASS_BE, 6), 123456 };
static const struct thread_attrs other_want = { 0, IOPRIO(IOPRIO_CLASS_IDLE, 0), 777777 };
static struct thread_attrs main_want;
static atomic_int phase;   /* 1: the other thread is set up; 2: check */
static char other_fail[256];

static void set_attrs(const struct thread_attrs *a)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(a->cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		tst_fail("sched_setaffinity(CPU %d): %s", a->cpu, strerror(errno));
	if (syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, a->ioprio))
		tst_fail("ioprio_set(0x%x): %s", a->ioprio, strerror(errno));
	if (prctl(PR_SET_TIMERSLACK, a->slack, 0, 0, 0))
		tst_fail("PR_SET_TIMERSLACK: %s", strerror(errno));
}

/* "" if this thread's attributes are a's, else what differs */
static void check_attrs(const struct thread_attrs *a, const char *who, char *err, size_t len)
{
	cpu_set_t set;
	long prio, slack;

	err[0] = 0;
	if (sched_getaffinity(0, sizeof(set), &set) || CPU_COUNT(&set) != 1 || !CPU_ISSET(a->cpu, &set))
		snprintf(err, len, "%s: affinity is %d CPUs, not CPU %d alone", who, CPU_COUNT(&set), a->cpu);
	else if ((prio = syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0)) != a->ioprio)
		snprintf(err, len, "%s: I/O priority is 0x%lx, want 0x%x", who, prio, a->ioprio);
	else if ((slack = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0)) != (long)a->slack)
		snprintf(err, len, "%s: timer slack is %ld ns, want %lu", who, slack, a->slack);
}

static void *other_thread(void *arg)
{
	(void)arg;
	set_attrs(&other_want);
	atomic_store(&phase, 1);
	while (atomic_load(&phase) != 2)
		syscall(SYS_futex, &phase, FUTEX_WAIT_PRIVATE, 1, NULL, NULL, 0);
	check_attrs(&other_want, "second thread", other_fail, sizeof(other_fail));
	return NULL;
}

static long read_number(const char *name, int base)
{
	char path[64], buf[64];

	snprintf(path, sizeof(path), "/proc/self/%s", name);
	if (tst_read_file(path, buf, sizeof(buf)) <= 0)
		tst_fail("can't read %s", path);
	return strtol(buf, NULL, base);
}

static void write_proc(const char *name, const char *v)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/%s", name);
	if (!(f = fopen(path, "w")) || fputs(v, f) < 0 || fclose(f))
		tst_fail("can't write %s to %s: %s", v, path, strerror(errno));
}

int main(int argc, char **argv)
{
	tst_init(argc, argv);
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	bool mdwe, loginuid = true;
	pthread_t th;
	char err[256];

	main_want = main_want_base;
	main_want.cpu = cpus > 1 ? cpus - 1 : 0;
	write_proc("oom_score_adj", "321");
	write_proc("coredump_filter", "0x7d");
	if (prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0))
		tst_fail("PR_SET_THP_DISABLE: %s", strerror(errno));
	/* (needs CAP_AUDIT_CONTROL, and a kernel with audit) */
	FILE *f = fopen("/proc/self/loginuid", "w");
	if (!f || fputs("4242", f) < 0 || fclose(f)) {
		fprintf(stderr, "task-attrs: the login uid can't be set here (%s): not checked\n", strerror(errno));
		loginuid = false;
	}
	set_attrs(&main_want);
	if (pthread_create(&th, NULL, other_thread, NULL))
		tst_fail("pthread_create failed");
	while (atomic_load(&phase) != 1)
		tst_sleep_ms(1);
	/* last: the threads' stacks are mapped by now (MDWE does not stop that, but keep it simple) */
	mdwe = !prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0);
	if (!mdwe)
		fprintf(stderr, "task-attrs: PR_SET_MDWE: %s (a kernel before 6.3): not checked\n", strerror(errno));

	tst_ready();
	tst_wait_check();

	if (tst_corrupting())
		prctl(PR_SET_TIMERSLACK, 5000, 0, 0, 0);
	atomic_store(&phase, 2);
	syscall(SYS_futex, &phase, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	check_attrs(&main_want, "main thread", err, sizeof(err));
	if (err[0])
		tst_fail("%s", err);
	pthread_join(th, NULL);
	if (other_fail[0])
		tst_fail("%s", other_fail);
	if (read_number("oom_score_adj", 10) != 321)
		tst_fail("oom_score_adj is %ld, want 321", read_number("oom_score_adj", 10));
	if (read_number("coredump_filter", 16) != 0x7d)
		tst_fail("coredump_filter is 0x%lx, want 0x7d", read_number("coredump_filter", 16));
	if (prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0) != 1)
		tst_fail("transparent huge pages are no longer disabled");
	if (loginuid && read_number("loginuid", 10) != 4242)
		tst_fail("loginuid is %ld, want 4242", read_number("loginuid", 10));
	if (mdwe) {
		long flags = prctl(PR_GET_MDWE, 0, 0, 0, 0);
		void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (flags != PR_MDWE_REFUSE_EXEC_GAIN)
			tst_fail("PR_GET_MDWE is %ld, want %d", flags, PR_MDWE_REFUSE_EXEC_GAIN);
		if (p == MAP_FAILED)
			tst_fail("mmap: %s", strerror(errno));
		if (!mprotect(p, 4096, PROT_READ | PROT_EXEC))
			tst_fail("MDWE let a written page become executable");
	}
	tst_pass();
	return 0;
}

/* tst-ns.h: what the test programs whose processes stand in nested namespaces share
 * (ns-pidnest, ns-pidnest-deep, ns-pidsetns: pid namespaces; ns-usernest, ns-nested:
 * user, UTS, network, IPC and cgroup ones; ns-mntnest, ns-mntroot: mount ones).
 *
 *   a MAP_SHARED control page that begins with a struct tst_ns_ctl: each process
 *   (or thread) of the tree says it started, waits for the phases main sets, and
 *   after CHECK gives its verdict, with why it failed; main collects them
 *   the inode of a namespace file, or of the namespace an nsfs ioctl relates to it
 *   a task's ids as it sees them: its PIDs at every level (NSpid), its group and
 *   session, its pid namespace and that one's parent
 *
 * A process of the tree is a number below TST_NS_MAX (0: the root, main's). */
#ifndef TST_NS_H
#define TST_NS_H

#include "tst.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define TST_NS_MAX 16
#ifndef TST_NS_WHY   /* (a program whose reasons quote more defines it first) */
#define TST_NS_WHY 300
#endif

enum { TST_NS_CHECK = 1, TST_NS_EXIT = 2 };   /* the phases, after 0 (set up) */

struct tst_ns_ctl {
	atomic_int started, phase;
	atomic_int done[TST_NS_MAX];   /* 1 pass, 2 fail */
	char why[TST_NS_MAX][TST_NS_WHY];
};

static struct tst_ns_ctl *tst_ns;
static const char *const *tst_ns_names;
static int tst_ns_nr;

/* The control page, size bytes (the program's struct, which begins with a struct
 * tst_ns_ctl), shared with every process forked since; names: of the nr processes
 * (and threads), for the verdicts. */
static inline void *tst_ns_init(size_t size, int nr, const char *const *names)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		tst_fail("mmap: %s", strerror(errno));
	if (nr > TST_NS_MAX)
		tst_fail("tst-ns: %d processes, at most %d", nr, TST_NS_MAX);
	tst_ns = p;
	tst_ns_nr = nr;
	tst_ns_names = names;
	return p;
}

/* who's check failed, saying why: false. */
static inline bool __attribute__((format(printf, 2, 3))) tst_ns_fail(int who, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tst_ns->why[who], sizeof(tst_ns->why[who]), fmt, ap);
	va_end(ap);
	return false;
}

static inline void tst_ns_verdict(int who, bool ok)
{
	atomic_store(&tst_ns->done[who], ok ? 1 : 2);
}

static inline int tst_ns_done(int who)
{
	return atomic_load(&tst_ns->done[who]);
}

static inline void tst_ns_started(void)
{
	atomic_fetch_add(&tst_ns->started, 1);
}

static inline int tst_ns_phase(void)
{
	return atomic_load(&tst_ns->phase);
}

/* Until main sets the phase (5 min at most: a root killed by a failed run leaves no
 * one to say so). */
static inline void tst_ns_wait_phase(int phase)
{
	for (int t = 0; tst_ns_phase() < phase; t++) {
		if (t > 60000)
			_exit(1);
		tst_sleep_ms(5);
	}
}

/* The end of a process of the tree: when main says so, after its children (an
 * init's exit waits until every process of its namespace is reaped). */
static inline __attribute__((noreturn)) void tst_ns_finish(void)
{
	tst_ns_wait_phase(TST_NS_EXIT);
	while (wait(NULL) > 0)
		;
	_exit(0);
}

/* main: until every other one started (10 s at most, else "only N <what>"). */
static inline void tst_ns_wait_started(const char *what)
{
	for (int t = 0; atomic_load(&tst_ns->started) < tst_ns_nr - 1; t++) {
		if (t > 2000)
			tst_fail("only %d %s", atomic_load(&tst_ns->started), what);
		tst_sleep_ms(5);
	}
}

/* main: READY; at CHECK, the check phase. */
static inline void tst_ns_check(void)
{
	tst_ready();
	tst_wait_check();
	atomic_store(&tst_ns->phase, TST_NS_CHECK);
}

/* main: both. */
static inline void tst_ns_ready(const char *what)
{
	tst_ns_wait_started(what);
	tst_ns_check();
}

/* main: every verdict (20 s for each at most), those that failed or never came
 * appended to msg ("NAME: why; ..."), of len bytes, ml of them used: its length. */
static inline size_t tst_ns_failed(char *msg, size_t len, size_t ml)
{
	for (int i = 0; i < tst_ns_nr; i++)
		for (int t = 0; !tst_ns_done(i) && t < 4000; t++)
			tst_sleep_ms(5);
	for (int i = 0; i < tst_ns_nr && ml < len; i++)
		if (tst_ns_done(i) != 1)
			ml += snprintf(msg + ml, len - ml, "%s%s: %s", ml ? "; " : "", tst_ns_names[i],
				       tst_ns_done(i) ? tst_ns->why[i] : "no verdict");
	return ml < len ? ml : len - 1;   /* (cut short) */
}

/* main: every process may end now; once they are reaped, FAIL msg if not empty,
 * else PASS. */
static inline __attribute__((noreturn)) void tst_ns_end(const char *msg)
{
	atomic_store(&tst_ns->phase, TST_NS_EXIT);
	while (wait(NULL) > 0)
		;
	if (*msg)
		tst_fail("%s", msg);
	tst_pass();
}

/* The inode of the namespace file at path, or with req (NS_GET_PARENT,
 * NS_GET_USERNS) of the namespace related to it so; 0: none, or not ours to see. */
static inline uint64_t tst_ns_ino(const char *path, unsigned long req)
{
	struct stat st;
	uint64_t ino = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r;

	if (fd < 0)
		return 0;
	r = req ? ioctl(fd, req) : fd;
	if (r >= 0 && !fstat(r, &st))
		ino = st.st_ino;
	if (r >= 0 && r != fd)
		close(r);
	close(fd);
	return ino;
}

/* The same of /proc/self/ns/KIND. */
static inline uint64_t tst_ns_self(const char *kind, unsigned long req)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/ns/%s", kind);
	return tst_ns_ino(path, req);
}

/* A task's ids as it sees them. */
struct tst_ids {
	pid_t pid, tid, ppid, pgid, sid;
	char nspid[160];          /* its PID at every level */
	uint64_t ns, ns_parent;   /* its pid namespace and that one's parent (0: not ours to see) */
};

static inline void tst_ids_read(struct tst_ids *x)
{
	char buf[4096], *p, *e;

	x->pid = getpid();
	x->tid = syscall(SYS_gettid);
	x->ppid = getppid();
	x->pgid = getpgid(0);
	x->sid = getsid(0);
	x->nspid[0] = 0;
	if (tst_read_file("/proc/thread-self/status", buf, sizeof(buf)) > 0 && (p = strstr(buf, "\nNSpid:"))) {
		p += 7;
		if ((e = strchr(p, '\n')))
			*e = 0;
		snprintf(x->nspid, sizeof(x->nspid), "%s", p);
	}
	/* (NS_GET_PARENT: EPERM above the runner's namespace) */
	x->ns = tst_ns_ino("/proc/thread-self/ns/pid", 0);
	x->ns_parent = tst_ns_ino("/proc/thread-self/ns/pid", NS_GET_PARENT);
}

/* who reads its ids now and finds them as they were (its parent too unless it is a
 * root: whoever restored it is that); else its check fails, saying which. */
static inline bool tst_ids_same(int who, const struct tst_ids *was, struct tst_ids *now, bool root)
{
	tst_ids_read(now);
	if (strcmp(now->nspid, was->nspid))
		return tst_ns_fail(who, "NSpid '%s', was '%s'", now->nspid, was->nspid);
	if (now->pid != was->pid || now->tid != was->tid || (!root && now->ppid != was->ppid))
		return tst_ns_fail(who, "getpid/gettid/getppid %d/%d/%d, were %d/%d/%d", now->pid, now->tid, now->ppid,
				   was->pid, was->tid, was->ppid);
	if (now->pgid != was->pgid || now->sid != was->sid)
		return tst_ns_fail(who, "getpgid/getsid %d/%d, were %d/%d", now->pgid, now->sid, was->pgid, was->sid);
	return true;
}

#endif

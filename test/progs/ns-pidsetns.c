/* ns-pidsetns: children born in pid namespaces other than their parent's own,
 * other than by unshare(CLONE_NEWPID) and a fork of the init.
 *
 *   root        the runner's pid namespace
 *   ├── S       setns(CLONE_NEWPID) into N, I's namespace (through a pidfd of I),
 *   │   │       then forks: its pid_for_children is N, made by another branch
 *   │   └── C   in N, neither its init nor seeing its parent (S is outside)
 *   ├── A       unshare(CLONE_NEWPID) and no fork since: its pid_for_children is
 *   │           a new namespace with no process in it yet
 *   └── M       unshare(CLONE_NEWPID), forks I
 *       └── I   PID 1 of N
 *           └── B   in N, unshare(CLONE_NEWPID) and no fork since (one level below)
 *
 * S is forked first: on restore it waits for I, which M makes, to enter N.
 * --root-unshares: the root plays A (it unshares after forking S and M).
 *
 * Everyone shares a MAP_SHARED control page.  Each process records, as it sees
 * them, getpid, getppid, getpgid(0), getsid(0) and its NSpid line (its PID at
 * every level); after CHECK each one records them again and compares.  Besides:
 * A and B fork a child, which must be PID 1 of a new namespace whose parent
 * (NS_GET_PARENT) is the forker's own; S's pid_for_children is still N, and a
 * child it forks lands there (not PID 1, its parent invisible).
 * --corrupt: A does setns back to its own pid namespace after CHECK (its child is
 * then not an init).
 */
#include "tst.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>

enum { ROOT, S, C, A, M, I, B, NR };
static const char *const names[NR] = { "root", "S", "C", "A", "M", "I", "B" };

struct ids {
	pid_t pid, ppid, pgid, sid;
	char nspid[96];
};

static struct ctl {
	atomic_int started, phase;
	atomic_int done[NR];        /* 1 pass, 2 fail */
	char why[NR][300];
	struct ids was[NR];
	atomic_int m_sees_i;        /* I's PID as M (and the root, S) sees it */
} *ctl;
static bool root_a;             /* --root-unshares */

static void read_ids(struct ids *x)
{
	char buf[4096], *p, *e;

	x->pid = getpid();
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
}

static uint64_t ino(const char *path)
{
	struct stat st;

	return stat(path, &st) ? 0 : st.st_ino;
}

static bool __attribute__((format(printf, 2, 3))) fail(int who, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctl->why[who], sizeof(ctl->why[who]), fmt, ap);
	va_end(ap);
	return false;
}

static bool same_ids(int who)
{
	const struct ids *w = &ctl->was[who];
	struct ids now;

	read_ids(&now);
	if (strcmp(now.nspid, w->nspid))
		return fail(who, "NSpid '%s', was '%s'", now.nspid, w->nspid);
	/* (the root's parent is whoever restored it) */
	if (now.pid != w->pid || (who != ROOT && now.ppid != w->ppid))
		return fail(who, "getpid/getppid %d/%d, were %d/%d", now.pid, now.ppid, w->pid, w->ppid);
	if (now.pgid != w->pgid || now.sid != w->sid)
		return fail(who, "getpgid/getsid %d/%d, were %d/%d", now.pgid, now.sid, w->pgid, w->sid);
	return true;
}

static void verdict(int who, bool ok)
{
	atomic_store(&ctl->done[who], ok ? 1 : 2);
}

static void wait_phase(int phase)
{
	for (int t = 0; atomic_load(&ctl->phase) < phase; t++) {
		if (t > 60000)
			_exit(1);
		tst_sleep_ms(5);
	}
}

/* The inode of a namespace file and of its parent (NS_GET_PARENT). */
static void ns_and_parent(const char *path, uint64_t *self, uint64_t *parent)
{
	struct stat st;
	int fd, pfd;

	*self = *parent = 0;
	if ((fd = open(path, O_RDONLY)) < 0)
		return;
	if (!fstat(fd, &st))
		*self = st.st_ino;
	pfd = ioctl(fd, NS_GET_PARENT);
	close(fd);
	if (pfd >= 0 && !fstat(pfd, &st))
		*parent = st.st_ino;
	if (pfd >= 0)
		close(pfd);
}

/* Fork a child that says where it is (its pid namespace, its PID, whether it sees
 * its parent); in_ns: the namespace it must be in (0: a new one nested in ours,
 * where it is PID 1).  (Our PID for it may be one of another namespace than the
 * /proc we see, so the child looks at itself.) */
static bool fork_child(int who, uint64_t in_ns)
{
	struct { uint64_t ns; pid_t pid, ppid; } r = { 0, 0, 0 };
	int p[2], q[2], st;
	uint64_t own, own_parent, kids, kids_parent;
	pid_t x;
	bool ok = true;

	/* no process in the new namespace yet: the link names nothing */
	if (!in_ns && ino("/proc/self/ns/pid_for_children"))
		ok = fail(who, "its pid_for_children names a namespace before its first fork");
	if (pipe(p) || pipe(q))
		return fail(who, "pipe: %s", strerror(errno));
	if ((x = fork()) == 0) {
		char b;
		close(p[1]);
		close(q[0]);
		r.ns = ino("/proc/self/ns/pid");
		r.pid = getpid();
		r.ppid = getppid();
		if (write(q[1], &r, sizeof(r)) != sizeof(r) || read(p[0], &b, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(p[0]);
	close(q[1]);
	if (x < 0)
		return close(p[1]), close(q[0]), fail(who, "fork after the restore: %s", strerror(errno));
	if (read(q[0], &r, sizeof(r)) != sizeof(r))
		ok = ok && fail(who, "its child %d said nothing", x);
	ns_and_parent("/proc/self/ns/pid", &own, &own_parent);
	ns_and_parent("/proc/self/ns/pid_for_children", &kids, &kids_parent);
	if (ok && (!r.ns || r.ns != kids))
		ok = fail(who, "its child %d is in pid namespace %lu, its pid_for_children is %lu", x, (unsigned long)r.ns,
			  (unsigned long)kids);
	if (ok && in_ns && r.ns != in_ns)
		ok = fail(who, "its child %d is in pid namespace %lu, not %lu", x, (unsigned long)r.ns, (unsigned long)in_ns);
	if (ok && !in_ns && (r.ns == own || kids_parent != own))
		ok = fail(who, "its child %d is not in a new pid namespace nested in its own (%lu, parent %lu, own %lu)", x,
			  (unsigned long)r.ns, (unsigned long)kids_parent, (unsigned long)own);
	if (ok && ((!in_ns) != (r.pid == 1) || r.ppid != 0))
		ok = fail(who, "its child %d is PID %d there (%s), and sees its parent as %d", x, r.pid,
			  in_ns ? "not the init" : "the init", r.ppid);
	close(p[1]);
	close(q[0]);
	if (waitpid(x, &st, 0) != x || !WIFEXITED(st) || WEXITSTATUS(st))
		ok = ok && fail(who, "its child %d failed (status 0x%x)", x, st);
	return ok;
}

/* A and B: unshared, no fork until after CHECK */
static void run_unshared(int who, bool is_root)
{
	if (unshare(CLONE_NEWPID))
		_exit(1);
	read_ids(&ctl->was[who]);
	atomic_fetch_add(&ctl->started, 1);
	if (is_root)
		return;
	wait_phase(1);
	bool ok = same_ids(who);
	if (ok && who == A && tst_corrupting()) {
		int fd = open("/proc/self/ns/pid", O_RDONLY);
		if (fd < 0 || setns(fd, CLONE_NEWPID))
			_exit(1);
		close(fd);
	}
	verdict(who, ok && fork_child(who, 0));
	wait_phase(2);
	_exit(0);
}

static void run_c(void)
{
	read_ids(&ctl->was[C]);
	atomic_fetch_add(&ctl->started, 1);
	wait_phase(1);
	bool ok = same_ids(C);
	if (ok && (getpid() == 1 || getppid() != 0))
		ok = fail(C, "getpid %d, getppid %d: the init of its namespace, or it sees its parent", getpid(), getppid());
	verdict(C, ok);
	wait_phase(2);
	_exit(0);
}

static void run_i(void)
{
	pid_t b;

	read_ids(&ctl->was[I]);
	if ((b = fork()) == 0)
		run_unshared(B, false);
	if (b < 0)
		_exit(1);
	atomic_fetch_add(&ctl->started, 1);
	wait_phase(1);
	bool ok = same_ids(I);
	if (ok && (getpid() != 1 || getppid() != 0))
		ok = fail(I, "getpid %d, getppid %d: not the init of its namespace", getpid(), getppid());
	verdict(I, ok);
	wait_phase(2);
	/* C too: I's exit waits until every process of its namespace is reaped */
	while (wait(NULL) > 0)
		;
	_exit(0);
}

static void run_m(void)
{
	pid_t i;

	if (unshare(CLONE_NEWPID))
		_exit(1);
	read_ids(&ctl->was[M]);
	if ((i = fork()) == 0)
		run_i();
	if (i < 0)
		_exit(1);
	atomic_store(&ctl->m_sees_i, i);
	atomic_fetch_add(&ctl->started, 1);
	wait_phase(1);
	verdict(M, same_ids(M));
	wait_phase(2);
	while (wait(NULL) > 0)
		;
	_exit(0);
}

static uint64_t n_ino(void)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/ns/pid", atomic_load(&ctl->m_sees_i));
	return ino(path);
}

static void run_s(void)
{
	pid_t c;
	int fd;

	for (int t = 0; !atomic_load(&ctl->m_sees_i); t++) {
		if (t > 4000)
			_exit(1);
		tst_sleep_ms(5);
	}
	if ((fd = syscall(SYS_pidfd_open, atomic_load(&ctl->m_sees_i), 0)) < 0 || setns(fd, CLONE_NEWPID))
		_exit(1);
	close(fd);
	read_ids(&ctl->was[S]);
	if ((c = fork()) == 0)
		run_c();
	if (c < 0)
		_exit(1);
	atomic_fetch_add(&ctl->started, 1);
	wait_phase(1);
	bool ok = same_ids(S);
	if (ok && ino("/proc/self/ns/pid_for_children") != n_ino())
		ok = fail(S, "its children are no longer born in I's pid namespace");
	verdict(S, ok && fork_child(S, n_ino()));
	wait_phase(2);
	while (wait(NULL) > 0)
		;
	_exit(0);
}

int main(int argc, char **argv)
{
	tst_init_opts(argc, argv, NULL, "root-unshares");
	ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ctl == MAP_FAILED)
		tst_fail("mmap: %s", strerror(errno));
	root_a = tst_opt_flag("root-unshares");
	read_ids(&ctl->was[ROOT]);
	pid_t s = fork(), a = 0, m = 0;
	if (s == 0)
		run_s();
	if (s > 0 && (m = fork()) == 0)
		run_m();
	if (s > 0 && m > 0 && !root_a && (a = fork()) == 0)
		run_unshared(A, false);
	if (s < 0 || m < 0 || a < 0)
		tst_fail("fork: %s", strerror(errno));
	if (root_a)
		run_unshared(A, true);
	for (int t = 0; atomic_load(&ctl->started) < NR - 1; t++) {
		if (t > 2000)
			tst_fail("only %d processes started (unshare or setns of a pid namespace refused?)",
				 atomic_load(&ctl->started));
		tst_sleep_ms(5);
	}
	tst_ready();
	tst_wait_check();
	atomic_store(&ctl->phase, 1);
	verdict(ROOT, same_ids(ROOT));
	if (root_a) {
		bool ok = same_ids(A);
		if (ok && tst_corrupting()) {
			int fd = open("/proc/self/ns/pid", O_RDONLY);
			if (fd < 0 || setns(fd, CLONE_NEWPID))
				ok = fail(A, "setns to its own: %s", strerror(errno));
			if (fd >= 0)
				close(fd);
		}
		verdict(A, ok && fork_child(A, 0));
	}
	/* 20 s for all the verdicts */
	for (int i = 0, t = 0; i < NR; i++)
		for (; !atomic_load(&ctl->done[i]) && t < 4000; t++)
			tst_sleep_ms(5);
	atomic_store(&ctl->phase, 2);
	char msg[2400] = "";
	size_t ml = 0;
	for (int i = 0; i < NR; i++)
		if (atomic_load(&ctl->done[i]) != 1)
			ml += snprintf(msg + ml, sizeof(msg) - ml, "%s%s: %s", ml ? "; " : "", names[i],
				       atomic_load(&ctl->done[i]) ? ctl->why[i] : "no verdict");
	while (wait(NULL) > 0)
		;
	if (ml)
		tst_fail("%s", msg);
	tst_pass();
}

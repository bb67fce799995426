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
#include "tst-ns.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>

enum { ROOT, S, C, A, M, I, B, NR };
static const char *const names[NR] = { "root", "S", "C", "A", "M", "I", "B" };

static struct ctl {
	struct tst_ns_ctl ns;
	struct tst_ids was[NR];
	atomic_int m_sees_i;        /* I's PID as M (and the root, S) sees it */
} *ctl;
static bool root_a;             /* --root-unshares */

static bool same_ids(int who)
{
	struct tst_ids now;

	return tst_ids_same(who, &ctl->was[who], &now, who == ROOT);
}

/* Fork a child that says where it is (its pid namespace, its PID, whether it sees
 * its parent); in_ns: the namespace it must be in (0: a new one nested in ours,
 * where it is PID 1).  (Our PID for it may be one of another namespace than the
 * /proc we see, so the child looks at itself.) */
static bool fork_child(int who, uint64_t in_ns)
{
	struct { uint64_t ns; pid_t pid, ppid; } r = { 0, 0, 0 };
	int p[2], q[2], st;
	uint64_t own, kids, kids_parent;
	pid_t x;
	bool ok = true;

	/* no process in the new namespace yet: the link names nothing */
	if (!in_ns && tst_ns_self("pid_for_children", 0))
		ok = tst_ns_fail(who, "its pid_for_children names a namespace before its first fork");
	if (pipe(p) || pipe(q))
		return tst_ns_fail(who, "pipe: %s", strerror(errno));
	if ((x = fork()) == 0) {
		char b;
		close(p[1]);
		close(q[0]);
		r.ns = tst_ns_self("pid", 0);
		r.pid = getpid();
		r.ppid = getppid();
		if (write(q[1], &r, sizeof(r)) != sizeof(r) || read(p[0], &b, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(p[0]);
	close(q[1]);
	if (x < 0)
		return close(p[1]), close(q[0]), tst_ns_fail(who, "fork after the restore: %s", strerror(errno));
	if (read(q[0], &r, sizeof(r)) != sizeof(r))
		ok = ok && tst_ns_fail(who, "its child %d said nothing", x);
	own = tst_ns_self("pid", 0);
	kids = tst_ns_self("pid_for_children", 0);
	kids_parent = tst_ns_self("pid_for_children", NS_GET_PARENT);
	if (ok && (!r.ns || r.ns != kids))
		ok = tst_ns_fail(who, "its child %d is in pid namespace %lu, its pid_for_children is %lu", x,
				 (unsigned long)r.ns, (unsigned long)kids);
	if (ok && in_ns && r.ns != in_ns)
		ok = tst_ns_fail(who, "its child %d is in pid namespace %lu, not %lu", x, (unsigned long)r.ns,
				 (unsigned long)in_ns);
	if (ok && !in_ns && (r.ns == own || kids_parent != own))
		ok = tst_ns_fail(who,
				 "its child %d is not in a new pid namespace nested in its own (%lu, parent %lu, own %lu)", x,
				 (unsigned long)r.ns, (unsigned long)kids_parent, (unsigned long)own);
	if (ok && ((!in_ns) != (r.pid == 1) || r.ppid != 0))
		ok = tst_ns_fail(who, "its child %d is PID %d there (%s), and sees its parent as %d", x, r.pid,
				 in_ns ? "not the init" : "the init", r.ppid);
	close(p[1]);
	close(q[0]);
	if (waitpid(x, &st, 0) != x || !WIFEXITED(st) || WEXITSTATUS(st))
		ok = ok && tst_ns_fail(who, "its child %d failed (status 0x%x)", x, st);
	return ok;
}

/* A and B: unshared, no fork until after CHECK */
static void run_unshared(int who, bool is_root)
{
	if (unshare(CLONE_NEWPID))
		_exit(1);
	tst_ids_read(&ctl->was[who]);
	tst_ns_started();
	if (is_root)
		return;
	tst_ns_wait_phase(TST_NS_CHECK);
	bool ok = same_ids(who);
	if (ok && who == A && tst_corrupting()) {
		int fd = open("/proc/self/ns/pid", O_RDONLY);
		if (fd < 0 || setns(fd, CLONE_NEWPID))
			_exit(1);
		close(fd);
	}
	tst_ns_verdict(who, ok && fork_child(who, 0));
	tst_ns_finish();
}

static void run_c(void)
{
	tst_ids_read(&ctl->was[C]);
	tst_ns_started();
	tst_ns_wait_phase(TST_NS_CHECK);
	bool ok = same_ids(C);
	if (ok && (getpid() == 1 || getppid() != 0))
		ok = tst_ns_fail(C, "getpid %d, getppid %d: the init of its namespace, or it sees its parent", getpid(),
				 getppid());
	tst_ns_verdict(C, ok);
	tst_ns_finish();
}

static void run_i(void)
{
	pid_t b;

	tst_ids_read(&ctl->was[I]);
	if ((b = fork()) == 0)
		run_unshared(B, false);
	if (b < 0)
		_exit(1);
	tst_ns_started();
	tst_ns_wait_phase(TST_NS_CHECK);
	bool ok = same_ids(I);
	if (ok && (getpid() != 1 || getppid() != 0))
		ok = tst_ns_fail(I, "getpid %d, getppid %d: not the init of its namespace", getpid(), getppid());
	tst_ns_verdict(I, ok);
	/* C too: I's exit waits until every process of its namespace is reaped */
	tst_ns_finish();
}

static void run_m(void)
{
	pid_t i;

	if (unshare(CLONE_NEWPID))
		_exit(1);
	tst_ids_read(&ctl->was[M]);
	if ((i = fork()) == 0)
		run_i();
	if (i < 0)
		_exit(1);
	atomic_store(&ctl->m_sees_i, i);
	tst_ns_started();
	tst_ns_wait_phase(TST_NS_CHECK);
	tst_ns_verdict(M, same_ids(M));
	tst_ns_finish();
}

static uint64_t n_ino(void)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/ns/pid", atomic_load(&ctl->m_sees_i));
	return tst_ns_ino(path, 0);
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
	tst_ids_read(&ctl->was[S]);
	if ((c = fork()) == 0)
		run_c();
	if (c < 0)
		_exit(1);
	tst_ns_started();
	tst_ns_wait_phase(TST_NS_CHECK);
	bool ok = same_ids(S);
	if (ok && tst_ns_self("pid_for_children", 0) != n_ino())
		ok = tst_ns_fail(S, "its children are no longer born in I's pid namespace");
	tst_ns_verdict(S, ok && fork_child(S, n_ino()));
	tst_ns_finish();
}

int main(int argc, char **argv)
{
	tst_init_opts(argc, argv, NULL, "root-unshares");
	ctl = tst_ns_init(sizeof(*ctl), NR, names);
	root_a = tst_opt_flag("root-unshares");
	tst_ids_read(&ctl->was[ROOT]);
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
	tst_ns_ready("processes started (unshare or setns of a pid namespace refused?)");
	tst_ns_verdict(ROOT, same_ids(ROOT));
	if (root_a) {
		bool ok = same_ids(A);
		if (ok && tst_corrupting()) {
			int fd = open("/proc/self/ns/pid", O_RDONLY);
			if (fd < 0 || setns(fd, CLONE_NEWPID))
				ok = tst_ns_fail(A, "setns to its own: %s", strerror(errno));
			if (fd >= 0)
				close(fd);
		}
		tst_ns_verdict(A, ok && fork_child(A, 0));
	}
	char msg[2400] = "";
	tst_ns_failed(msg, sizeof(msg), 0);
	tst_ns_end(msg);
}

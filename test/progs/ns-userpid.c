/* ns-userpid: a pid namespace owned by a user namespace nested below the root's, as
 * `unshare -U -r -p -f` (bubblewrap, flatpak) makes.
 *
 *   root        the runner's user and pid namespaces
 *   └── U       unshare(CLONE_NEWUSER): U1, its maps written by the root ("0 200000 1000",
 *       │       setgroups deny); ids 0 inside; then unshare(CLONE_NEWPID): P1, owned by U1
 *       ├── V   forked by U after I: in P1, not its init, its parent outside
 *       └── I   PID 1 of P1; burns 20 PIDs (children that exit at once), then forks
 *           ├── C1  PID 22 or so there
 *           └── C2  and the next
 * --time: U also makes a time namespace in U1 (monotonic +1,000,000 s, boottime
 *   +2,000,000.5 s: unshare(CLONE_NEWTIME), its offsets, then setns into it, as `unshare
 *   -U -r -T` and exec do) before P1: everyone below the root is in it; each checks its
 *   clocks are the root's plus those offsets (within 30 s) and (in U1) its time namespace
 *   owned by its user namespace.
 * --mnt: U also makes a mount namespace in U1 (unshare(CLONE_NEWNS), `unshare -U -r -m`)
 *   and mounts a tmpfs there on a directory of ours with a file in it: everyone below the
 *   root sees the file, the root does not, and (in U1) its mount namespace is owned by its
 *   user namespace.
 * --deep: I forks J too, which unshares CLONE_NEWUSER (U2 below U1, maps "0 0 100" written
 *   by I from U1), then CLONE_NEWPID (P2 below P1, owned by U2), and forks K, PID 1 of P2,
 *   which forks K1 (after burning 5 PIDs).
 *
 * Each process records its NSpid line, getpid and getppid, and after CHECK compares
 * them; and sees its pid namespace owned by its own user namespace (NS_GET_USERNS
 * against /proc/self/ns/user).  U's children are still born in P1 (U's ids changed
 * inside U1: it is not dumpable, nor are I and its children, and only a process with
 * privileges over the root's user namespace reads their /proc/PID/ns); a child U forks
 * after CHECK lands in P1 at a PID above
 * every one P1 gave out before (its ns_last_pid, restored by I in P1, whose owner is
 * nested); with --deep J's in P2 likewise.  --corrupt: C1 calls setsid() after CHECK
 * (its session changes: the check must see it).
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
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { ROOT, U, I, C1, C2, V, J, K, K1, NR };
static const char *const names[NR] = { "root", "U", "I", "C1", "C2", "V", "J", "K", "K1" };

struct ids {
	pid_t pid, ppid, sid;
	char nspid[96];
};

static struct ctl {
	atomic_int started, phase, step;
	atomic_int done[NR];        /* 1 pass, 2 fail */
	char why[NR][300];
	struct ids was[NR];
	pid_t u_sees_i, j_sees_k;
	pid_t burned, k_burned;     /* the last PIDs P1 and P2 gave out before READY */
	pid_t x_pid[NR];            /* a child forked after CHECK, as it sees itself */
	uint64_t root_user;         /* the root's user namespace (after CHECK) */
	int64_t root_mono, root_boot;  /* the root's clocks then */
	uint64_t pidns[NR], x_ns[NR];  /* pid namespaces after CHECK (I, K), of the child forked then */
	pid_t j_host;               /* J's PID in our /proc */
} *ctl;
static bool deep, timens, mntns;
static char mdir[128];

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#define NS 1000000000LL
static const int64_t mono_off = 1000000 * NS, boot_off = 2000000 * NS + NS / 2;

static int64_t now_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return ts.tv_sec * NS + ts.tv_nsec;
}
static int expect;              /* processes that say they started */

static void read_ids(struct ids *x)
{
	char buf[4096], *p, *e;

	x->pid = getpid();
	x->ppid = getppid();
	x->sid = getsid(0);
	x->nspid[0] = 0;
	if (tst_read_file("/proc/self/status", buf, sizeof(buf)) > 0 && (p = strstr(buf, "\nNSpid:"))) {
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

/* The inode of the namespace ioctl req gives for path's. */
static uint64_t related(const char *path, unsigned long req)
{
	struct stat st;
	int fd = open(path, O_RDONLY), r;

	if (fd < 0)
		return 0;
	r = ioctl(fd, req);
	close(fd);
	if (r < 0)
		return 0;
	if (fstat(r, &st))
		st.st_ino = 0;
	close(r);
	return st.st_ino;
}

static bool __attribute__((format(printf, 2, 3))) fail(int who, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctl->why[who], sizeof(ctl->why[who]), fmt, ap);
	va_end(ap);
	return false;
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

static void wait_step(int step)
{
	for (int t = 0; atomic_load(&ctl->step) < step; t++) {
		if (t > 4000)
			_exit(1);
		tst_sleep_ms(1);
	}
}

/* The same ids, its pid namespace owned by its user namespace (the root: its own). */
static bool same(int who, bool owned)
{
	const struct ids *w = &ctl->was[who];
	struct ids now;

	read_ids(&now);
	if (strcmp(now.nspid, w->nspid))
		return fail(who, "NSpid '%s', was '%s'", now.nspid, w->nspid);
	if (now.pid != w->pid || (who != ROOT && now.ppid != w->ppid) || now.sid != w->sid)
		return fail(who, "getpid/getppid/getsid %d/%d/%d, were %d/%d/%d", now.pid, now.ppid, now.sid, w->pid,
			    w->ppid, w->sid);
	if (owned && related("/proc/self/ns/pid", NS_GET_USERNS) != ino("/proc/self/ns/user"))
		return fail(who, "its pid namespace is not owned by its user namespace");
	ctl->pidns[who] = ino("/proc/self/ns/pid");
	if (mntns && who != ROOT) {
		char f[160], buf[64] = "";
		snprintf(f, sizeof(f), "%s/f", mdir);
		long n = tst_read_file(f, buf, sizeof(buf));
		if (n != 5 || memcmp(buf, "hello", 5))
			return fail(who, "it does not see the tmpfs its mount namespace has on %s", mdir);
		if (who < J && related("/proc/self/ns/mnt", NS_GET_USERNS) != ino("/proc/self/ns/user"))
			return fail(who, "its mount namespace is not owned by its user namespace");
	}
	if (!timens || who == ROOT)
		return true;
	int64_t dm = now_ns(CLOCK_MONOTONIC) - ctl->root_mono - mono_off;
	int64_t db = now_ns(CLOCK_BOOTTIME) - ctl->root_boot - boot_off;
	if (dm < 0 || dm > 30 * NS || db < 0 || db > 30 * NS)
		return fail(who, "its clocks are the root's %+.3f s (monotonic), %+.3f s (boottime) off its time "
			    "namespace's offsets", dm / 1e9, db / 1e9);
	/* (U2's processes can't ask: U1, which owns it, is above theirs) */
	if (who < J && related("/proc/self/ns/time", NS_GET_USERNS) != ino("/proc/self/ns/user"))
		return fail(who, "its time namespace is not owned by its user namespace");
	return true;
}

static void started(int who)
{
	read_ids(&ctl->was[who]);
	atomic_fetch_add(&ctl->started, 1);
}

static void run_leaf(int who)
{
	started(who);
	wait_phase(1);
	if (who == C1 && tst_corrupting())
		setsid();
	bool ok = same(who, true);
	if (ok && who == V && (getpid() == 1 || getppid() != 0))
		ok = fail(who, "getpid %d getppid %d: P1's init, or it sees its parent", getpid(), getppid());
	verdict(who, ok);
	wait_phase(2);
	_exit(0);
}

/* A child forked now lands in the namespace of init (whose pid namespace is published
 * after CHECK), above last. */
static bool forks_again(int who, int init, pid_t last)
{
	pid_t x;
	int st;

	for (int t = 0; !ctl->pidns[init] && t < 4000; t++)
		tst_sleep_ms(5);
	ctl->x_pid[who] = 0;
	ctl->x_ns[who] = 0;
	if ((x = fork()) == 0) {
		ctl->x_ns[who] = ino("/proc/self/ns/pid");
		ctl->x_pid[who] = getpid();
		_exit(getpid() > 1 && getppid() == 0 ? 0 : 1);
	}
	if (x < 0)
		return fail(who, "fork after the restore: %s", strerror(errno));
	if (waitpid(x, &st, 0) != x || !WIFEXITED(st) || WEXITSTATUS(st))
		return fail(who, "its child %d is its namespace's init or sees its parent (status 0x%x)", x, st);
	if (!ctl->x_ns[who] || ctl->x_ns[who] != ctl->pidns[init])
		return fail(who, "its child %d is not in %s's pid namespace", x, names[init]);
	if (ctl->x_pid[who] <= last)
		return fail(who, "its child got PID %d, not above %d, the last its namespace gave out before",
			    ctl->x_pid[who], last);
	return true;
}

static bool burn(int n, pid_t *last)
{
	for (int k = 0; k < n; k++) {
		pid_t b = fork();
		if (b == 0)
			_exit(0);
		if (b < 0 || waitpid(b, NULL, 0) != b)
			return false;
		*last = b;
	}
	return true;
}

static bool write_map(pid_t pid, const char *map, const char *uid, const char *gid)
{
	char path[64], *what[] = { "setgroups", "uid_map", "gid_map" };
	const char *val[] = { "deny", uid, gid };

	for (int k = 0; k < 3; k++) {
		snprintf(path, sizeof(path), "/proc/%d/%s", pid, what[k]);
		int fd = open(path, O_WRONLY);
		bool ok = fd >= 0 && write(fd, val[k], strlen(val[k])) == (ssize_t)strlen(val[k]);
		if (fd >= 0)
			close(fd);
		if (!ok) {
			tst_info("%s: writing %s of %d: %s", map, what[k], pid, strerror(errno));
			return false;
		}
	}
	return true;
}

/* Unshares a user namespace whose maps its parent writes (step s: done), then a pid one. */
static void unshare_user_pid(int s)
{
	if (unshare(CLONE_NEWUSER))
		_exit(1);
	if (s == 3) {
		struct ids me;
		/* its /proc files are its maker's to write (I's ids changed: it is not dumpable) */
		prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
		read_ids(&me);
		ctl->j_host = atoi(me.nspid);
	}
	atomic_store(&ctl->step, s);
	wait_step(s + 1);
	/* (before its ids change: its /proc/self/timens_offsets is its owner's to write) */
	if (timens && s == 1) {
		char buf[96];
		int fd;
		snprintf(buf, sizeof(buf), "monotonic %lld 0\nboottime %lld %lld\n", mono_off / NS, boot_off / NS,
			 boot_off % NS);
		if (unshare(CLONE_NEWTIME) || (fd = open("/proc/self/timens_offsets", O_WRONLY)) < 0 ||
		    write(fd, buf, strlen(buf)) != (ssize_t)strlen(buf) || close(fd) ||
		    (fd = open("/proc/self/ns/time_for_children", O_RDONLY)) < 0 || setns(fd, CLONE_NEWTIME)) {
			tst_info("U: its time namespace: %s", strerror(errno));
			_exit(1);
		}
		close(fd);
	}
	if (setresgid(0, 0, 0) || setresuid(0, 0, 0))
		_exit(1);
	if (mntns && s == 1) {
		char f[160];
		int fd;
		snprintf(f, sizeof(f), "%s/f", mdir);
		if (unshare(CLONE_NEWNS) || mount("userpid", mdir, "tmpfs", 0, "size=64k") ||
		    (fd = open(f, O_WRONLY | O_CREAT, 0644)) < 0 || write(fd, "hello", 5) != 5 || close(fd)) {
			tst_info("U: its mount namespace: %s", strerror(errno));
			_exit(1);
		}
	}
	if (unshare(CLONE_NEWPID))
		_exit(1);
}

static void run_k(void)
{
	pid_t k1;

	if (!burn(5, &ctl->k_burned) || (k1 = fork()) < 0)
		_exit(1);
	if (k1 == 0)
		run_leaf(K1);
	started(K);
	wait_phase(1);
	bool ok = same(K, true);
	if (ok && (getpid() != 1 || getppid() != 0))
		ok = fail(K, "getpid %d getppid %d: not P2's init", getpid(), getppid());
	verdict(K, ok);
	wait_phase(2);
	while (wait(NULL) > 0)
		;
	_exit(0);
}

static void run_j(void)
{
	pid_t k;

	unshare_user_pid(3);
	if ((k = fork()) == 0)
		run_k();
	if (k < 0)
		_exit(1);
	ctl->j_sees_k = k;
	started(J);
	wait_phase(1);
	bool ok = same(J, false);
	if (ok)
		ok = forks_again(J, K, ctl->k_burned);
	verdict(J, ok);
	wait_phase(2);
	while (wait(NULL) > 0)
		;
	_exit(0);
}

static void run_i(void)
{
	pid_t c1, c2, j = 0;

	if (!burn(20, &ctl->burned))
		_exit(1);
	if ((c1 = fork()) == 0)
		run_leaf(C1);
	if (c1 < 0 || (c2 = fork()) < 0)
		_exit(1);
	if (c2 == 0)
		run_leaf(C2);
	if (deep) {
		if ((j = fork()) == 0)
			run_j();
		if (j < 0)
			_exit(1);
		for (int t = 0; atomic_load(&ctl->step) < 3; t++) {
			if (t > 4000)
				_exit(1);
			tst_sleep_ms(1);
		}
		if (!write_map(ctl->j_host, "U2", "0 0 100", "0 0 100"))
			_exit(1);
		atomic_store(&ctl->step, 4);
	}
	started(I);
	wait_phase(1);
	bool ok = same(I, true);
	if (ok && (getpid() != 1 || getppid() != 0))
		ok = fail(I, "getpid %d getppid %d: not P1's init", getpid(), getppid());
	if (ok && ino("/proc/self/ns/pid_for_children") != ino("/proc/self/ns/pid"))
		ok = fail(I, "its children are not born in its pid namespace");
	verdict(I, ok);
	wait_phase(2);
	while (wait(NULL) > 0)
		;
	_exit(0);
}

static void run_u(void)
{
	pid_t i, v;

	unshare_user_pid(1);
	if ((i = fork()) == 0)
		run_i();
	if (i < 0)
		_exit(1);
	ctl->u_sees_i = i;
	/* (V after all of I's: P1's PIDs before READY are I's) */
	for (int t = 0; atomic_load(&ctl->started) < expect - 2; t++) {
		if (t > 4000)
			_exit(1);
		tst_sleep_ms(1);
	}
	if ((v = fork()) == 0)
		run_leaf(V);
	if (v < 0)
		_exit(1);
	started(U);
	wait_phase(1);
	bool ok = same(U, false);
	if (ok && timens && related("/proc/self/ns/time", NS_GET_USERNS) != ino("/proc/self/ns/user"))
		ok = fail(U, "its time namespace is not owned by its user namespace");
	if (ok && ino("/proc/self/ns/user") == ctl->root_user)
		ok = fail(U, "it is in the root's user namespace");
	if (ok)
		ok = forks_again(U, I, ctl->burned);
	verdict(U, ok);
	wait_phase(2);
	while (wait(NULL) > 0)
		;
	_exit(0);
}

int main(int argc, char **argv)
{
	pid_t u;

	tst_init_opts(argc, argv, NULL, "deep,time,mnt");
	deep = tst_opt_flag("deep");
	timens = tst_opt_flag("time");
	mntns = tst_opt_flag("mnt");
	snprintf(mdir, sizeof(mdir), "%s", tst_tmp_path("mnt"));
	if (mntns && mkdir(mdir, 0755))
		tst_fail("mkdir %s: %s", mdir, strerror(errno));
	expect = deep ? NR - 1 : NR - 4;
	ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ctl == MAP_FAILED)
		tst_fail("mmap: %s", strerror(errno));
	read_ids(&ctl->was[ROOT]);
	if ((u = fork()) == 0)
		run_u();
	if (u < 0)
		tst_fail("fork: %s", strerror(errno));
	for (int t = 0; atomic_load(&ctl->step) < 1; t++) {
		if (t > 2000)
			tst_fail("U did not unshare its user namespace");
		tst_sleep_ms(1);
	}
	if (!write_map(u, "U1", "0 200000 1000", "0 200000 1000"))
		tst_fail("can't write U1's maps");
	atomic_store(&ctl->step, 2);
	for (int t = 0; atomic_load(&ctl->started) < expect; t++) {
		if (t > 2000)
			tst_fail("only %d processes of %d started", atomic_load(&ctl->started), expect);
		tst_sleep_ms(5);
	}
	tst_ready();
	tst_wait_check();
	ctl->root_user = ino("/proc/self/ns/user");
	ctl->root_mono = now_ns(CLOCK_MONOTONIC);
	ctl->root_boot = now_ns(CLOCK_BOOTTIME);
	atomic_store(&ctl->phase, 1);
	char rf[160];
	snprintf(rf, sizeof(rf), "%s/f", mdir);
	if (mntns && !access(rf, F_OK))
		verdict(ROOT, fail(ROOT, "it sees the tmpfs of U's mount namespace"));
	else
		verdict(ROOT, same(ROOT, false));
	static const int leaves[] = { ROOT, U, I, C1, C2, V, J, K, K1 };
	for (int i = 0, t = 0; i < NR; i++)
		for (; (deep || leaves[i] < J) && !atomic_load(&ctl->done[i]) && t < 4000; t++)
			tst_sleep_ms(5);
	atomic_store(&ctl->phase, 2);
	char msg[2000] = "";
	size_t ml = 0;
	for (int i = 0; i < NR; i++)
		if ((deep || i < J) && atomic_load(&ctl->done[i]) != 1)
			ml += snprintf(msg + ml, sizeof(msg) - ml, "%s%s: %s", ml ? "; " : "", names[i],
				       atomic_load(&ctl->done[i]) ? ctl->why[i] : "no verdict");
	while (wait(NULL) > 0)
		;
	if (ml)
		tst_fail("%s", msg);
	tst_pass();
}

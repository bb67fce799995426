/* ns-user: a process in a user namespace of its own, with two extents in each
 * map (0 100000 65536 and 70000 300000 10, setgroups "allow"), and UTS and IPC
 * namespaces owned by it (and a mount namespace: --pivot).  A helper child (in
 * our user namespace) writes the maps from outside, as a runtime does, and is
 * reaped before READY.
 * Inside, the process runs as uid 1000/1000/70001, gid 1000/1000/70002, groups
 * 1000 and 70003, with some capabilities (permitted CHOWN, DAC_OVERRIDE,
 * NET_BIND_SERVICE, SETUID; effective CHOWN, NET_BIND_SERVICE; inheritable
 * NET_BIND_SERVICE), and has made a file (uid 1000, gid 70003), an unlinked
 * one it keeps open, a unix socket bound to a path, and a SysV segment
 * (1000:1000, 0640, the hostname in it).
 *
 * After CHECK: the ids, the groups, the capabilities, /proc/self/uid_map,
 * gid_map and setgroups, the hostname, both files' owners as seen inside (the
 * unlinked one made again by the restore: its owner mapped in), the segment's
 * owner, mode and bytes, the socket's name and its file's owner.
 *
 * --pivot: the mount namespace (owned by its user namespace) pivot_rooted into
 * a tmpfs with our /usr, this program's directory and /proc bound in; both
 * files are in the tmpfs.
 *
 * --own-id: a user namespace mapping only its own uid and gid (0 inside),
 * written by itself with setgroups "deny", nothing else: what a user without
 * privileges makes, and restores with --unprivileged (test/unpriv.sh).
 *
 * --child: a child with it in its user namespace, both in our pid namespace
 * (refused by the dump: the restore could not set the child's PID).
 *
 * --span: a tree spanning two user namespaces (a child unshares one of its
 * own); --foreign-uts: the process stays in ours but joins a UTS namespace
 * that another user namespace owns (both refused by the dump); --mnt: a mount
 * namespace owned by its user namespace that is a copy of ours, which the
 * restore refuses: our "/" has our other mounts under it, locked there
 * (test/userns-errors.sh).
 */
#include "tst.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAP "0 100000 65536\n70000 300000 10\n"
#define CAPS_PRM ((1u << CAP_CHOWN) | (1u << CAP_DAC_OVERRIDE) | (1u << CAP_NET_BIND_SERVICE) | (1u << CAP_SETUID))
#define CAPS_EFF ((1u << CAP_CHOWN) | (1u << CAP_NET_BIND_SERVICE))
#define CAPS_INH (1u << CAP_NET_BIND_SERVICE)
#define SHM_KEY 0x75736e73

static void must(int ret, const char *what)
{
	if (ret)
		tst_fail("%s: %s", what, strerror(errno));
}

static int write_proc(pid_t pid, const char *name, const char *s)
{
	char path[64];
	int fd, ret;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
	if ((fd = open(path, O_WRONLY)) < 0)
		return -1;
	ret = write(fd, s, strlen(s)) == (ssize_t)strlen(s) ? 0 : -1;
	close(fd);
	return ret;
}

/* A child of ours writes our maps once we have unshared our user namespace. */
static void new_userns(void)
{
	int p[2], st;
	char c;
	pid_t me = getpid(), h;

	must(pipe(p), "pipe");
	if ((h = fork()) == 0) {
		close(p[1]);
		if (read(p[0], &c, 1) != 1)
			_exit(1);
		_exit(write_proc(me, "setgroups", "allow") || write_proc(me, "uid_map", MAP) ||
		      write_proc(me, "gid_map", MAP));
	}
	must(h < 0, "fork");
	close(p[0]);
	must(unshare(CLONE_NEWUSER), "unshare CLONE_NEWUSER");
	must(write(p[1], "", 1) != 1, "write");
	close(p[1]);
	if (waitpid(h, &st, 0) != h || !WIFEXITED(st) || WEXITSTATUS(st))
		tst_fail("the helper could not write our maps");
}

static void caps(uint32_t *eff, uint32_t *prm, uint32_t *inh)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	must(syscall(SYS_capget, &h, d), "capget");
	*eff = d[0].effective, *prm = d[0].permitted, *inh = d[0].inheritable;
}

static void set_caps(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2] = { { CAPS_EFF, CAPS_PRM, CAPS_INH }, { 0, 0, 0 } };

	must(syscall(SYS_capset, &h, d), "capset");
}

static void check_map(const char *name)
{
	char path[64], buf[256];
	unsigned a[6];

	snprintf(path, sizeof(path), "/proc/self/%s", name);
	tst_read_file(path, buf, sizeof(buf));
	if (sscanf(buf, "%u %u %u %u %u %u", &a[0], &a[1], &a[2], &a[3], &a[4], &a[5]) != 6 || a[0] != 0 ||
	    a[1] != 100000 || a[2] != 65536 || a[3] != 70000 || a[4] != 300000 || a[5] != 10)
		tst_fail("%s is \"%s\", not " MAP, path, buf);
}

/* A tmpfs of its own as the root, with our /usr, this program's directory and
 * /proc bound in (none has mounts of ours under it: they can be bound alone). */
static void pivot_into_tmpfs(void)
{
	char exe[4096], dir[4200];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	must(n <= 0, "readlink /proc/self/exe");
	exe[n] = 0;
	*strrchr(exe, '/') = 0;
	must(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), "make / private");
	must(mount("tmpfs", "/tmp", "tmpfs", 0, "mode=755,size=16m"), "mount the root tmpfs");
	must(chdir("/tmp"), "chdir /tmp");
	for (const char *d = "usr\0proc\0data\0"; *d; d += strlen(d) + 1)
		must(mkdir(d, 0755), d);
	must(chmod("data", 01777), "chmod data");
	must(symlink("usr/bin", "bin") || symlink("usr/lib", "lib") || symlink("usr/lib64", "lib64"), "symlink");
	snprintf(dir, sizeof(dir), "/tmp%s", exe);
	for (char *p = dir + 5; (p = strchr(p, '/')); *p++ = '/') {
		*p = 0;
		must(mkdir(dir, 0755) && errno != EEXIST, dir);
	}
	must(mkdir(dir, 0755), dir);
	must(mount("/usr", "usr", NULL, MS_BIND, NULL), "bind /usr");
	must(mount(exe, dir, NULL, MS_BIND, NULL), "bind the build directory");
	must(mount("/proc", "proc", NULL, MS_BIND | MS_REC, NULL), "bind /proc");
	must(syscall(SYS_pivot_root, ".", "."), "pivot_root");
	must(umount2(".", MNT_DETACH), "detach the old root");
	must(chdir("/"), "chdir /");
}

/* The dump refuses these: see the top. */
static void __attribute__((noreturn)) refused_layout(bool span)
{
	int p[2];
	char c;
	pid_t h;

	must(pipe(p), "pipe");
	if ((h = fork()) == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);   /* gone with a target a test kills */
		if (unshare(CLONE_NEWUSER | (span ? 0 : CLONE_NEWUTS)) || write(p[1], "", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	must(h < 0 || read(p[0], &c, 1) != 1, "the helper's namespaces");
	if (!span) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/ns/uts", h);
		int fd = open(path, O_RDONLY);
		must(fd < 0 || setns(fd, CLONE_NEWUTS), "setns into the helper's UTS namespace");
		close(fd);
		kill(h, SIGKILL);
		waitpid(h, NULL, 0);
	}
	tst_ready();
	tst_wait_check();
	if (span) {
		kill(h, SIGKILL);
		waitpid(h, NULL, 0);
	}
	tst_pass();
}

/* --own-id: what a user without privileges may make, and restore with
 * --unprivileged: a user namespace mapping only its own ids, written by itself
 * (setgroups "deny" first), no other namespace. */
static void __attribute__((noreturn)) own_id(void)
{
	char want[64], buf[64], path[64];
	const char *file = tst_tmp_path("file"), *gpath = tst_tmp_path("ghost");
	uid_t uid = geteuid(), r, e, s;
	gid_t gid = getegid(), gr, ge, gs;
	uint32_t eff, prm, inh, all = 0;
	struct stat st;
	int fd, ghost;

	must(unshare(CLONE_NEWUSER), "unshare CLONE_NEWUSER");
	char um[32], gm[32];
	snprintf(um, sizeof(um), "0 %u 1\n", uid);
	snprintf(gm, sizeof(gm), "0 %u 1\n", gid);
	must(write_proc(getpid(), "setgroups", "deny") || write_proc(getpid(), "uid_map", um) ||
	     write_proc(getpid(), "gid_map", gm), "write our own maps");
	must((fd = open(file, O_CREAT | O_WRONLY | O_EXCL, 0600)) < 0, "create a file");
	close(fd);
	ghost = open(gpath, O_CREAT | O_RDWR | O_EXCL, 0640);
	must(ghost < 0 || write(ghost, "ghost", 5) != 5 || unlink(gpath), "create an unlinked file");
	caps(&all, &prm, &inh);

	tst_ready();
	tst_wait_check();

	must(getresuid(&r, &e, &s) || getresgid(&gr, &ge, &gs), "getresuid");
	if (r || e || s || gr || ge || gs)
		tst_fail("ids %u/%u/%u %u/%u/%u, not root's inside", r, e, s, gr, ge, gs);
	caps(&eff, &prm, &inh);
	if (eff != all || prm != all || !all)
		tst_fail("capabilities eff %x prm %x, not %x (all, in its namespace)", eff, prm, all);
	for (int i = 0; i < 2; i++) {
		unsigned a, b, c;
		snprintf(path, sizeof(path), "/proc/self/%s", i ? "gid_map" : "uid_map");
		tst_read_file(path, buf, sizeof(buf));
		snprintf(want, sizeof(want), "0 %u 1", i ? gid : uid);
		if (sscanf(buf, "%u %u %u", &a, &b, &c) != 3 || a || b != (i ? gid : uid) || c != 1)
			tst_fail("%s is \"%s\", not %s", path, buf, want);
	}
	tst_read_file("/proc/self/setgroups", buf, sizeof(buf));
	if (strncmp(buf, "deny", 4))
		tst_fail("setgroups is \"%s\", not deny", buf);
	must(stat(file, &st), "stat the file");
	if (st.st_uid || st.st_gid)
		tst_fail("the file is owned by %u:%u, not 0:0 inside", st.st_uid, st.st_gid);
	must(fstat(ghost, &st), "fstat the unlinked file");
	if (st.st_uid || st.st_gid || (st.st_mode & 07777) != 0640 || st.st_nlink)
		tst_fail("the unlinked file is %o, %u:%u, %lu links", st.st_mode & 07777, st.st_uid, st.st_gid,
			 (unsigned long)st.st_nlink);
	tst_pass();
}

int main(int argc, char **argv)
{
	char host[64], name[64], buf[64];
	uid_t r, e, s;
	gid_t gr, ge, gs, groups[8];
	uint32_t eff, prm, inh;
	struct stat st;
	int n, ghost;

	tst_init_opts(argc, argv, NULL, "span,foreign-uts,mnt,pivot,own-id,child");
	if (tst_opt_flag("own-id"))
		own_id();
	if (tst_opt_flag("child")) {
		/* a child in its user namespace, in our pid namespace */
		new_userns();
		pid_t k = fork();
		if (k == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			for (;;)
				pause();
		}
		must(k < 0, "fork");
		tst_ready();
		tst_wait_check();
		kill(k, SIGKILL);
		waitpid(k, NULL, 0);
		tst_pass();
	}
	if (tst_opt_flag("span") || tst_opt_flag("foreign-uts"))
		refused_layout(tst_opt_flag("span"));
	bool pivot = tst_opt_flag("pivot");
	const char *file = pivot ? "/data/file" : tst_tmp_path("file"), *gpath = pivot ? "/data/ghost" : tst_tmp_path("ghost");

	new_userns();
	/* its own root from here on: what it makes in its own file systems is mapped */
	must(setresgid(0, 0, 0) || setresuid(0, 0, 0), "become root inside");
	must(unshare(CLONE_NEWUTS | CLONE_NEWIPC | (tst_opt_flag("mnt") || pivot ? CLONE_NEWNS : 0)),
	     "unshare UTS, IPC (and mount) namespaces");
	if (pivot)
		pivot_into_tmpfs();
	snprintf(host, sizeof(host), "ns-user-%u", (unsigned)(tst_seed() % 100000));
	must(sethostname(host, strlen(host)), "sethostname");
	gid_t want_groups[] = { 1000, 70003 };
	must(setgroups(2, want_groups), "setgroups");
	must(prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0), "PR_SET_KEEPCAPS");
	must(setresgid(1000, 1000, 70002), "setresgid");
	must(setresuid(1000, 1000, 70001), "setresuid");
	set_caps();
	/* the files it makes are its own (1000 inside, 101000 here) */
	int fd = open(file, O_CREAT | O_WRONLY | O_EXCL, 0600);
	must(fd < 0 || fchown(fd, -1, 70003), "create a file");
	close(fd);
	ghost = open(gpath, O_CREAT | O_RDWR | O_EXCL, 0640);
	must(ghost < 0 || fchown(ghost, -1, 70003) || write(ghost, "ghost", 5) != 5 || unlink(gpath),
	     "create an unlinked file");

	/* a unix socket bound to a path: the socket file is its own */
	const char *spath = pivot ? "/data/sock" : tst_tmp_path("sock");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", spath);
	int sk = socket(AF_UNIX, SOCK_DGRAM, 0);
	must(sk < 0 || bind(sk, (struct sockaddr *)&sa, sizeof(sa)), "bind a unix socket");

	/* a SysV segment of its IPC namespace, its own */
	int shm = shmget(SHM_KEY, 4096, IPC_CREAT | IPC_EXCL | 0640);
	char *m = shm < 0 ? NULL : shmat(shm, NULL, 0);
	must(!m || m == (void *)-1, "make a SysV segment");
	snprintf(m, 64, "%s", host);
	must(shmdt(m), "shmdt");

	tst_ready();
	tst_wait_check();

	must(stat(spath, &st), "stat the socket file");
	if (!S_ISSOCK(st.st_mode) || st.st_uid != 1000 || st.st_gid != 1000)
		tst_fail("the socket file is %o, %u:%u, not a socket of 1000:1000", st.st_mode, st.st_uid, st.st_gid);
	struct sockaddr_un got;
	socklen_t glen = sizeof(got);
	if (getsockname(sk, (struct sockaddr *)&got, &glen) || strcmp(got.sun_path, spath))
		tst_fail("the socket is not bound to %s", spath);

	struct shmid_ds ds;
	if ((shm = shmget(SHM_KEY, 0, 0)) < 0 || shmctl(shm, IPC_STAT, &ds))
		tst_fail("the SysV segment is gone: %s", strerror(errno));
	if (ds.shm_perm.uid != 1000 || ds.shm_perm.gid != 1000 || (ds.shm_perm.mode & 0777) != 0640)
		tst_fail("the SysV segment is %o, %u:%u, not 0640, 1000:1000", ds.shm_perm.mode & 0777, ds.shm_perm.uid,
			 ds.shm_perm.gid);
	if ((m = shmat(shm, NULL, SHM_RDONLY)) == (void *)-1 || strcmp(m, host))
		tst_fail("the SysV segment lost its bytes");
	shmdt(m);
	must(getresuid(&r, &e, &s), "getresuid");
	if (r != 1000 || e != 1000 || s != 70001)
		tst_fail("uids %u/%u/%u, not 1000/1000/70001", r, e, s);
	must(getresgid(&gr, &ge, &gs), "getresgid");
	if (gr != 1000 || ge != 1000 || gs != 70002)
		tst_fail("gids %u/%u/%u, not 1000/1000/70002", gr, ge, gs);
	n = getgroups(8, groups);
	if (n != 2 || groups[0] != 1000 || groups[1] != 70003)
		tst_fail("%d groups (%u, %u), not 1000 and 70003", n, n > 0 ? groups[0] : 0, n > 1 ? groups[1] : 0);
	caps(&eff, &prm, &inh);
	if (eff != CAPS_EFF || prm != CAPS_PRM || inh != CAPS_INH)
		tst_fail("capabilities eff %x prm %x inh %x, not %x %x %x", eff, prm, inh, CAPS_EFF, CAPS_PRM, CAPS_INH);
	check_map("uid_map");
	check_map("gid_map");
	tst_read_file("/proc/self/setgroups", buf, sizeof(buf));
	if (strncmp(buf, "allow", 5))
		tst_fail("setgroups is \"%s\", not allow", buf);
	must(gethostname(name, sizeof(name)), "gethostname");
	if (strcmp(name, host))
		tst_fail("hostname %s, not %s", name, host);
	must(stat(file, &st), "stat the file");
	if (st.st_uid != 1000 || st.st_gid != 70003)
		tst_fail("the file is owned by %u:%u, not 1000:70003", st.st_uid, st.st_gid);
	must(fstat(ghost, &st), "fstat the unlinked file");
	if (st.st_uid != 1000 || st.st_gid != 70003 || (st.st_mode & 07777) != 0640 || st.st_nlink)
		tst_fail("the unlinked file is %o, %u:%u, %lu links, not 0640, 1000:70003, unlinked",
			 st.st_mode & 07777, st.st_uid, st.st_gid, (unsigned long)st.st_nlink);
	if (pread(ghost, buf, 5, 0) != 5 || memcmp(buf, "ghost", 5))
		tst_fail("the unlinked file lost its bytes");
	if (tst_corrupting())
		sethostname("corrupted", 9);
	tst_pass();
}

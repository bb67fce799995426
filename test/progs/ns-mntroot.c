/* ns-mntroot: a process of the tree that made a mount namespace and
 * pivot_rooted into another root in it (what a container runtime does).
 *
 *   root        the runner's mount namespace (--root-ns: one of its own, private)
 *   ├── A       unshare(CLONE_NEWNS), everything private; a new root at D/root:
 *   │   │       a tmpfs (--bind-root: a bind of the directory D/rootdir; --overlay:
 *   │   │       an overlayfs over D/lower, D/upper), holding data/file (random
 *   │   │       bytes) and data/dir; in it /usr bound read-only (nosuid), /bin, /lib,
 *   │   │       /lib64 as the host has them (its symlinks, or binds), the directory of
 *   │   │       this program bound at its path, D/shared bound at /shared (a
 *   │   │       directory of the parent's namespace); pivot_root into it, the old
 *   │   │       root detached (--keep-old: left at /old); proc at /proc, a tmpfs at
 *   │   │       /run; data/file open at offset 11, its cwd /data/dir
 *   │   └── A1  A's child, in A's namespace: its cwd /shared
 *   └── B       joins A's namespace (setns): its root and cwd are A's root; then
 *               chdir /data
 *
 * After CHECK each process checks itself: its mount namespace is the same as /
 * another than everyone's as before; its mounts (all of them in A's namespace:
 * mount point, type, per-mount options, propagation; the root's: / and those
 * under D) as before; data/file's bytes; /usr refuses writes; the fd (the same
 * file as the path, at its offset); the cwd; the root (holds data/file); the
 * root sees none of A's mounts.  Where / is the initramfs (no pivot_root: the
 * arm64 VM) the test says SKIP and passes.
 * --corrupt: A1 writes into /data/file after CHECK (A's check must see it).
 */
#define VIEW_LEN 32768
#define TST_NS_WHY (2 * VIEW_LEN + 200)   /* (a reason may quote two views) */
#include "tst-ns.h"
#include "tst-mnt.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

enum { ROOT, A, A1, B, NR };
static const char *const names[NR] = { "root", "A", "A1", "B" };

#define FILE_LEN 3000

struct ctl {
	struct tst_ns_ctl ns;
	uint64_t ino[NR];
	char view[NR][VIEW_LEN];
	pid_t pid_a;
	atomic_int a_ready;
};

static struct ctl *ctl;
static uint64_t seed;
static char D[256], exedir[PATH_MAX];
static int a_fd = -1;

static void must(int ret, const char *what)
{
	if (ret)
		tst_fail("%s: %s", what, strerror(errno));
}

static const char *at(const char *rel)
{
	static char buf[4][512];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", D, rel);
	return buf[i];
}

/* The mounts (all, or / and those under D), with their relations. */
static bool view_all;

static bool pick(char *mp)
{
	size_t dl = strlen(D);

	return view_all || !strcmp(mp, "/") || (!strncmp(mp, D, dl) && (!mp[dl] || mp[dl] == '/'));
}

static void view(char *out, bool all)
{
	static struct tst_mount m[1024];

	view_all = all;
	tst_mounts_view(m, tst_mounts(m, 1024, pick), false, out, VIEW_LEN);
}

/* /bin, /lib... as the host has them: a symlink copied, a directory bound. */
static void host_dir(const char *name)
{
	char host[64], target[256];
	struct stat st;
	ssize_t n;

	snprintf(host, sizeof(host), "/%s", name);
	if (lstat(host, &st))
		return;
	if (S_ISLNK(st.st_mode)) {
		if ((n = readlink(host, target, sizeof(target) - 1)) < 0)
			tst_fail("readlink %s: %s", host, strerror(errno));
		target[n] = 0;
		must(symlink(target, name), "symlink");
	} else if (S_ISDIR(st.st_mode)) {
		must(mkdir(name, 0755) && errno != EEXIST, "mkdir");
		must(mount(host, name, NULL, MS_BIND, NULL), "bind a host directory");
	}
}

static void setup_a(void)
{
	char path[PATH_MAX + 8];

	must(unshare(CLONE_NEWNS), "A: unshare");
	must(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), "A: make-rprivate");
	if (tst_opt_flag("bind-root"))
		must(mount(at("rootdir"), at("root"), NULL, MS_BIND, NULL), "A: bind the root");
	else if (tst_opt_flag("overlay")) {
		char opts[1200];
		snprintf(opts, sizeof(opts), "lowerdir=%s,upperdir=%s,workdir=%s", at("lower"), at("upper"), at("work"));
		must(mount("overlay", at("root"), "overlay", 0, opts), "A: mount overlay");
	} else
		must(mount("tmpfs", at("root"), "tmpfs", 0, "size=4m,mode=755"), "A: mount tmpfs");
	must(chdir(at("root")), "A: chdir root");
	tst_mkdir_p("data/dir");
	tst_write_seeded("data/file", FILE_LEN, seed + 1);
	for (const char *d = "usr\0proc\0run\0old\0shared\0"; *d; d += strlen(d) + 1)
		must(mkdir(d, 0755) && errno != EEXIST, d);
	must(mount("/usr", "usr", NULL, MS_BIND, NULL), "A: bind /usr");
	must(mount(NULL, "usr", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID, NULL), "A: /usr read-only");
	host_dir("bin");
	host_dir("lib");
	host_dir("lib64");
	snprintf(path, sizeof(path), ".%s", exedir);
	tst_mkdir_p(path);
	must(mount(exedir, path, NULL, MS_BIND, NULL), "A: bind the program's directory");
	must(mount(at("shared"), "shared", NULL, MS_BIND, NULL), "A: bind D/shared");
	must(syscall(SYS_pivot_root, ".", "old"), "A: pivot_root");
	must(chdir("/"), "A: chdir /");
	if (!tst_opt_flag("keep-old"))
		must(umount2("/old", MNT_DETACH), "A: detach the old root");
	must(mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL), "A: mount proc");
	must(mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=755"), "A: mount /run");
	must((a_fd = open("/data/file", O_RDONLY)) < 0, "A: open");
	must(lseek(a_fd, 11, SEEK_SET) != 11, "A: lseek");
	must(chdir("/data/dir"), "A: chdir");
	ctl->pid_a = getpid();
}

static void setup_a1(void)
{
	must(chdir("/shared"), "A1: chdir");
}

static void setup_b(void)
{
	char path[64];
	int fd;

	for (int t = 0; !atomic_load(&ctl->a_ready); t++) {
		if (t > 5000)
			tst_fail("B: A never got ready");
		tst_sleep_ms(2);
	}
	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", ctl->pid_a);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || setns(fd, CLONE_NEWNS))
		tst_fail("B: setns %s: %s", path, strerror(errno));
	close(fd);
	if (access("/data/file", F_OK))
		tst_fail("B: setns did not put it at A's root");
	must(chdir("/data"), "B: chdir");
}

static bool cwd_is(int who, const char *path)
{
	struct stat a, b;

	if (stat(".", &a) || stat(path, &b) || a.st_dev != b.st_dev || a.st_ino != b.st_ino)
		return tst_ns_fail(who, "the cwd is not %s", path);
	return true;
}

static bool verify(int who)
{
	static char now[VIEW_LEN], before[VIEW_LEN];

	ctl->ino[who] = tst_ns_self("mnt", 0);   /* (compared by the root once all are checked) */
	view(now, who != ROOT);
	memcpy(before, ctl->view[who], sizeof(before));
	if (strcmp(now, before))
		return tst_ns_fail(who, "its mounts changed:\n--- before\n%s--- after\n%s", before, now);
	if (who == ROOT) {
		if (tst_is_mount(at("root")))
			return tst_ns_fail(who, "A's root mount shows in the root's namespace");
		if (!tst_seeded_ok(at("shared/s-file"), FILE_LEN, seed + 2))
			return tst_ns_fail(who, "D/shared lost s-file");
		return true;
	}
	if (!tst_seeded_ok("/data/file", FILE_LEN, seed + 1))
		return tst_ns_fail(who, "/data/file lost its bytes (or / is not A's root)");
	if (!tst_seeded_ok("/shared/s-file", FILE_LEN, seed + 2))
		return tst_ns_fail(who, "/shared does not show D/shared");
	if (open("/usr/libcr-mntroot-probe", O_WRONLY | O_CREAT | O_CLOEXEC, 0600) >= 0 || errno != EROFS)
		return tst_ns_fail(who, "/usr is writable");
	if (!tst_opt_flag("keep-old") && !access("/old/usr", F_OK))
		return tst_ns_fail(who, "the old root, detached, shows at /old");
	if (who == A) {
		struct stat a, b;
		char buf[FILE_LEN];
		if (fstat(a_fd, &a) || stat("/data/file", &b) || a.st_ino != b.st_ino || a.st_dev != b.st_dev)
			return tst_ns_fail(who, "the open fd is not /data/file");
		if (lseek(a_fd, 0, SEEK_CUR) != 11)
			return tst_ns_fail(who, "the open fd is at offset %ld, want 11", (long)lseek(a_fd, 0, SEEK_CUR));
		if (pread(a_fd, buf, FILE_LEN, 0) != FILE_LEN || tst_cmp_fill(buf, FILE_LEN, seed + 1) != -1)
			return tst_ns_fail(who, "the open fd lost its bytes");
		return cwd_is(who, "/data/dir");
	}
	return cwd_is(who, who == A1 ? "/shared" : "/data");
}

static void __attribute__((noreturn)) serve(int who)
{
	tst_ns_started();
	tst_ns_wait_phase(TST_NS_CHECK);
	/* A last: after A1's --corrupt */
	while (who == A && (!tst_ns_done(A1) || !tst_ns_done(B)))
		tst_sleep_ms(5);
	bool ok = verify(who);
	if (who == A1 && tst_corrupting()) {
		int fd = open("/data/file", O_WRONLY | O_CLOEXEC);
		if (fd < 0 || pwrite(fd, "x", 1, 100) != 1)
			ok = false;
	}
	tst_ns_verdict(who, ok);
	tst_ns_wait_phase(TST_NS_EXIT);
	_exit(0);
}

static pid_t spawn(int who, void (*setup)(void), void (*then)(void))
{
	pid_t p = fork();

	if (p < 0)
		tst_fail("fork: %s", strerror(errno));
	if (p)
		return p;
	if (setup)
		setup();
	ctl->ino[who] = tst_ns_self("mnt", 0);
	view(ctl->view[who], true);
	if (then)
		then();
	serve(who);
}

static void a_children(void)
{
	spawn(A1, setup_a1, NULL);
	atomic_store(&ctl->a_ready, 1);
}

/* pivot_root needs a root that is a mount of its own: not the initramfs. */
static bool initramfs_root(void)
{
	char buf[128 * 1024], *l;
	long n = tst_read_file("/proc/self/mountinfo", buf, sizeof(buf));

	if (n <= 0)
		return false;
	for (l = strtok(buf, "\n"); l; l = strtok(NULL, "\n")) {
		char mp[512], *dash = strstr(l, " - ");
		if (dash && sscanf(l, "%*u %*u %*u:%*u %*s %511s", mp) == 1 && !strcmp(mp, "/") &&
		    (!strncmp(dash + 3, "rootfs ", 7) || !strncmp(dash + 3, "ramfs ", 6)))
			return true;
	}
	return false;
}

int main(int argc, char **argv)
{
	uint64_t ino_before[NR];
	ssize_t n;

	tst_init_opts(argc, argv, NULL, "root-ns,bind-root,overlay,keep-old");
	if (initramfs_root()) {
		tst_info("SKIP: / is the initramfs, where pivot_root can't be");
		tst_ready();
		tst_wait_check();
		tst_pass();
	}
	seed = tst_seed();
	if ((n = readlink("/proc/self/exe", exedir, sizeof(exedir) - 1)) < 0)
		tst_fail("readlink /proc/self/exe: %s", strerror(errno));
	exedir[n] = 0;
	dirname(exedir);
	snprintf(D, sizeof(D), "%s", tst_tmp_path("mntroot"));
	must(mkdir(D, 0755), "mkdir D");
	for (const char *const *d = (const char *const[]){ "root", "rootdir", "lower", "upper", "work", "shared", NULL }; *d; d++)
		must(mkdir(at(*d), 0755), "mkdir");
	tst_write_seeded(at("shared/s-file"), FILE_LEN, seed + 2);
	/* (a file of the lower layer the overlay shows) */
	tst_write_seeded(at("lower/l-file"), FILE_LEN, seed + 3);
	if (tst_opt_flag("root-ns")) {
		must(unshare(CLONE_NEWNS), "root: unshare");
		must(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), "root: make-rprivate");
	}
	ctl = tst_ns_init(sizeof(*ctl), NR, names);
	ctl->ino[ROOT] = tst_ns_self("mnt", 0);
	view(ctl->view[ROOT], false);
	spawn(A, setup_a, a_children);
	spawn(B, setup_b, NULL);
	tst_ns_wait_started("processes started");
	for (int i = 0; i < NR; i++)
		tst_info("%s (mnt ns %llu):\n%s", names[i], (unsigned long long)ctl->ino[i], ctl->view[i]);
	memcpy(ino_before, ctl->ino, sizeof(ino_before));
	tst_ns_check();
	bool ok = verify(ROOT);
	tst_ns_verdict(ROOT, ok);
	static char msg[4 * VIEW_LEN];
	size_t o = tst_ns_failed(msg, sizeof(msg), 0);
	/* the same namespace as / another than each other's, as before */
	for (int i = 0; i < NR && o < sizeof(msg) - 100; i++)
		for (int j = i + 1; j < NR; j++)
			if ((ino_before[i] == ino_before[j]) != (ctl->ino[i] == ctl->ino[j]))
				o += snprintf(msg + o, sizeof(msg) - o, "%s%s and %s were %s mount namespace, now %s",
					      o ? "; " : "", names[i], names[j],
					      ino_before[i] == ino_before[j] ? "in one" : "in two",
					      ctl->ino[i] == ctl->ino[j] ? "in one" : "in two");
	tst_ns_end(msg);
}

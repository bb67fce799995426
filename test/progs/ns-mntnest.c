/* ns-mntnest: processes of one tree in mount namespaces nested below the root's.
 *
 *   root        the runner's mount namespace (--root-ns: one of its own, private,
 *   │           with a shared tmpfs at D/pmnt holding "pfile")
 *   ├── A       unshare(CLONE_NEWNS), everything made private (`unshare -m`): a tmpfs
 *   │   │       at D/a-tmp holding a-file (random bytes) and dir/, over D/a-tmp/under,
 *   │   │       which it keeps open (a covered file); D/src bound at D/a-ro,
 *   │   │       read-only; D/pmnt unmounted (--root-ns; else the top /dev/shm, if any)
 *   │   └── A1  A's child, in A's namespace: a-file open at offset 7, its cwd D/a-tmp/dir
 *   ├── B       stays in the root's
 *   │   └── B1  joins A's namespace (setns): its cwd D/a-tmp
 *   └── C       unshare(CLONE_NEWNS), made a slave (systemd's way; --root-ns: D/pmnt
 *               the slave of the root's): a tmpfs at D/c-tmp,
 *               shared (a new peer group), holding c-file and sub/; D/c-tmp/sub bound
 *               at D/c-peer (its peer), read-only; D/c-tmp bound at D/c-slave, made
 *               its slave
 *
 * D is a directory of /tmp.  After CHECK each process checks itself: its mount
 * namespace is the same as / another than everyone's as before; its view of
 * the mounts at /, /dev/shm and under D (mount points, types, ro, propagation as
 * "shared with the Nth", "slave of the Nth" or "slave of one outside") is as
 * before; and per role: the tmpfs files with their bytes, the open file at its
 * offset and the same file as the path, the cwd, D/a-ro refusing writes; the
 * root and B see none of A's or C's mounts; a tmpfs C mounts on D/c-tmp/sub then
 * shows at D/c-peer and D/c-slave/sub (propagation works), and one on D/c-slave
 * not at D/c-tmp.
 * --corrupt: A1 writes into D/a-tmp/a-file after CHECK (A's check must see it).
 */
#define VIEW_LEN 8192
#define TST_NS_WHY (2 * VIEW_LEN + 200)   /* (a reason may quote two views) */
#include "tst-ns.h"
#include "tst-mnt.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

enum { ROOT, A, A1, B, B1, C, NR };
static const char *const names[NR] = { "root", "A", "A1", "B", "B1", "C" };

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
static char D[256];
static int a1_fd = -1, a_under_fd = -1;

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

/* The mounts at /, /dev/shm and under D (shown as D...), with their relations. */
static bool pick(char *mp)
{
	size_t dl = strlen(D);

	if (!strncmp(mp, D, dl) && (!mp[dl] || mp[dl] == '/')) {
		memmove(mp + 1, mp + dl, strlen(mp + dl) + 1);
		mp[0] = 'D';
		return true;
	}
	return !strcmp(mp, "/") || !strcmp(mp, "/dev/shm");
}

static void view(char *out)
{
	static struct tst_mount m[256];

	tst_mounts_view(m, tst_mounts(m, 256, pick), true, out, VIEW_LEN);
}

static void setup_a(void)
{
	must(unshare(CLONE_NEWNS), "A: unshare");
	must(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), "A: make-rprivate");
	must((a_under_fd = open(at("a-tmp/under"), O_RDONLY | O_CLOEXEC)) < 0, "A: open under");
	must(mount("tmpfs", at("a-tmp"), "tmpfs", 0, "size=1m,mode=755"), "A: tmpfs");
	tst_write_seeded(at("a-tmp/a-file"), FILE_LEN, seed + 1);
	must(mkdir(at("a-tmp/dir"), 0700), "A: mkdir");
	must(mount(at("src"), at("a-ro"), NULL, MS_BIND, NULL), "A: bind");
	must(mount(NULL, at("a-ro"), NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL), "A: remount ro");
	if (tst_opt_flag("root-ns"))
		must(umount2(at("pmnt"), 0), "A: umount pmnt");
	else if (tst_is_mount("/dev/shm"))
		must(umount2("/dev/shm", MNT_DETACH), "A: umount /dev/shm");
	ctl->pid_a = getpid();
}

static void setup_a1(void)
{
	must((a1_fd = open(at("a-tmp/a-file"), O_RDONLY)) < 0, "A1: open");
	must(lseek(a1_fd, 7, SEEK_SET) != 7, "A1: lseek");
	must(chdir(at("a-tmp/dir")), "A1: chdir");
}

static void setup_b1(void)
{
	char path[64];
	int fd;

	for (int t = 0; !atomic_load(&ctl->a_ready); t++) {
		if (t > 5000)
			tst_fail("B1: A never got ready");
		tst_sleep_ms(2);
	}
	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", ctl->pid_a);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || setns(fd, CLONE_NEWNS))
		tst_fail("B1: setns %s: %s", path, strerror(errno));
	close(fd);
	must(chdir(at("a-tmp")), "B1: chdir");
}

static void setup_c(void)
{
	must(unshare(CLONE_NEWNS), "C: unshare");
	must(mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL), "C: make-rslave");
	must(mount("tmpfs", at("c-tmp"), "tmpfs", 0, "size=1m"), "C: tmpfs");
	must(mount(NULL, at("c-tmp"), NULL, MS_SHARED, NULL), "C: make-shared");
	tst_write_seeded(at("c-tmp/c-file"), FILE_LEN, seed + 2);
	must(mkdir(at("c-tmp/sub"), 0755), "C: mkdir");
	tst_write_seeded(at("c-tmp/sub/s-file"), FILE_LEN, seed + 3);
	must(mount(at("c-tmp/sub"), at("c-peer"), NULL, MS_BIND, NULL), "C: bind");
	must(mount(NULL, at("c-peer"), NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL), "C: remount ro");
	must(mount(at("c-tmp"), at("c-slave"), NULL, MS_BIND, NULL), "C: bind c-slave");
	must(mount(NULL, at("c-slave"), NULL, MS_SLAVE, NULL), "C: make-slave");
}

/* A mount on c-tmp/sub reaches c-peer and c-slave/sub; one on c-slave/x not c-tmp/x. */
static bool c_propagation(int who)
{
	bool ok;

	if (mount("tmpfs", at("c-tmp/sub"), "tmpfs", 0, "size=64k"))
		return tst_ns_fail(who, "mount on D/c-tmp/sub: %s", strerror(errno));
	ok = tst_is_mount(at("c-peer")) && tst_is_mount(at("c-slave/sub"));
	umount2(at("c-tmp/sub"), MNT_DETACH);
	if (!ok)
		return tst_ns_fail(who,
				   "a mount on D/c-tmp/sub did not propagate to its peer D/c-peer and its slave D/c-slave");
	if (mount("tmpfs", at("c-slave/sub"), "tmpfs", 0, "size=64k"))
		return tst_ns_fail(who, "mount on D/c-slave/sub: %s", strerror(errno));
	ok = !tst_is_mount(at("c-tmp/sub"));
	umount2(at("c-slave/sub"), MNT_DETACH);
	if (!ok)
		return tst_ns_fail(who, "a mount on the slave D/c-slave/sub propagated to its master D/c-tmp");
	return true;
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
	view(now);
	memcpy(before, ctl->view[who], sizeof(before));
	if (strcmp(now, before))
		return tst_ns_fail(who, "its mounts changed:\n--- before\n%s--- after\n%s", before, now);
	switch (who) {
	case ROOT:
	case B:
		if (tst_is_mount(at("a-tmp")) || tst_is_mount(at("c-tmp")) || tst_is_mount(at("a-ro")))
			return tst_ns_fail(who, "a mount of A's or C's namespace shows in the root's");
		if (tst_opt_flag("root-ns") && !tst_seeded_ok(at("pmnt/pfile"), FILE_LEN, seed + 4))
			return tst_ns_fail(who, "the root's tmpfs at D/pmnt lost pfile");
		return true;
	case A:
	case A1:
	case B1:
		if (!tst_seeded_ok(at("a-tmp/a-file"), FILE_LEN, seed + 1))
			return tst_ns_fail(who, "D/a-tmp/a-file lost its bytes");
		if (!tst_seeded_ok(at("a-ro/f"), FILE_LEN, seed + 5))
			return tst_ns_fail(who, "D/a-ro does not show D/src");
		if (open(at("a-ro/new"), O_WRONLY | O_CREAT | O_CLOEXEC, 0600) >= 0 || errno != EROFS)
			return tst_ns_fail(who, "D/a-ro is writable");
		if (tst_opt_flag("root-ns") && tst_is_mount(at("pmnt")))
			return tst_ns_fail(who, "D/pmnt, which A unmounted, is back");
		if (who == B1)
			return cwd_is(who, at("a-tmp"));
		if (who == A) {
			struct stat a, b;
			char buf[FILE_LEN];
			if (fstat(a_under_fd, &a) || stat(at("a-tmp"), &b) || a.st_dev == b.st_dev)
				return tst_ns_fail(who, "the covered file's fd is on D/a-tmp's tmpfs");
			if (pread(a_under_fd, buf, FILE_LEN, 0) != FILE_LEN || tst_cmp_fill(buf, FILE_LEN, seed + 6) != -1)
				return tst_ns_fail(who, "the covered file D/a-tmp/under lost its bytes");
			if (!access(at("a-tmp/under"), F_OK))
				return tst_ns_fail(who, "D/a-tmp/under shows: D/a-tmp is not covered");
		}
		if (who == A1) {
			struct stat a, b;
			char buf[FILE_LEN];
			if (fstat(a1_fd, &a) || stat(at("a-tmp/a-file"), &b) || a.st_ino != b.st_ino || a.st_dev != b.st_dev)
				return tst_ns_fail(who, "the open fd is not D/a-tmp/a-file");
			if (lseek(a1_fd, 0, SEEK_CUR) != 7)
				return tst_ns_fail(who, "the open fd is at offset %ld, want 7",
						   (long)lseek(a1_fd, 0, SEEK_CUR));
			if (pread(a1_fd, buf, FILE_LEN, 0) != FILE_LEN || tst_cmp_fill(buf, FILE_LEN, seed + 1) != -1)
				return tst_ns_fail(who, "the open fd lost its bytes");
			return cwd_is(who, at("a-tmp/dir"));
		}
		return true;
	default:   /* C */
		if (!tst_seeded_ok(at("c-tmp/c-file"), FILE_LEN, seed + 2) || !tst_seeded_ok(at("c-peer/s-file"), FILE_LEN, seed + 3))
			return tst_ns_fail(who, "C's tmpfs lost its files");
		if (open(at("c-peer/new"), O_WRONLY | O_CREAT | O_CLOEXEC, 0600) >= 0 || errno != EROFS)
			return tst_ns_fail(who, "D/c-peer is writable");
		if (tst_is_mount(at("a-tmp")))
			return tst_ns_fail(who, "A's tmpfs shows in C's namespace");
		return c_propagation(who);
	}
}

static void __attribute__((noreturn)) serve(int who)
{
	tst_ns_started();
	tst_ns_wait_phase(TST_NS_CHECK);
	/* A last: after A1's --corrupt */
	while (who == A && (!tst_ns_done(A1) || !tst_ns_done(B1)))
		tst_sleep_ms(5);
	bool ok = verify(who);
	if (who == A1 && tst_corrupting()) {
		int fd = open(at("a-tmp/a-file"), O_WRONLY | O_CLOEXEC);
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
	view(ctl->view[who]);
	if (then)
		then();
	serve(who);
}

static void a_children(void)
{
	spawn(A1, setup_a1, NULL);
	atomic_store(&ctl->a_ready, 1);
}
static void b_children(void) { spawn(B1, setup_b1, NULL); }

int main(int argc, char **argv)
{
	uint64_t ino_before[NR];

	tst_init_opts(argc, argv, NULL, "root-ns");
	seed = tst_seed();
	snprintf(D, sizeof(D), "%s", tst_tmp_path("mntnest"));
	must(mkdir(D, 0755), "mkdir D");
	for (const char *const *d = (const char *const[]){ "a-tmp", "a-ro", "src", "c-tmp", "c-peer", "c-slave", "pmnt", NULL }; *d; d++)
		must(mkdir(at(*d), 0755), "mkdir");
	tst_write_seeded(at("src/f"), FILE_LEN, seed + 5);
	tst_write_seeded(at("a-tmp/under"), FILE_LEN, seed + 6);
	if (tst_opt_flag("root-ns")) {
		must(unshare(CLONE_NEWNS), "root: unshare");
		must(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), "root: make-rprivate");
		must(mount("tmpfs", at("pmnt"), "tmpfs", 0, "size=1m"), "root: tmpfs");
		/* (C's copy of it is its slave) */
		must(mount(NULL, at("pmnt"), NULL, MS_SHARED, NULL), "root: make-shared");
		tst_write_seeded(at("pmnt/pfile"), FILE_LEN, seed + 4);
	}
	ctl = tst_ns_init(sizeof(*ctl), NR, names);
	ctl->ino[ROOT] = tst_ns_self("mnt", 0);
	view(ctl->view[ROOT]);
	spawn(A, setup_a, a_children);
	spawn(B, NULL, b_children);
	spawn(C, setup_c, NULL);
	tst_ns_wait_started("processes started");
	for (int i = 0; i < NR; i++)
		tst_info("%s (mnt ns %llu):\n%s", names[i], (unsigned long long)ctl->ino[i], ctl->view[i]);
	memcpy(ino_before, ctl->ino, sizeof(ino_before));
	tst_ns_check();
	bool ok = verify(ROOT);
	tst_ns_verdict(ROOT, ok);
	char msg[2048] = "";
	size_t o = tst_ns_failed(msg, sizeof(msg), 0);
	/* the same namespace as / another than each other's, as before */
	for (int i = 0; i < NR && o < sizeof(msg) - 100; i++)
		for (int j = i + 1; j < NR; j++)
			if ((ino_before[i] == ino_before[j]) != (ctl->ino[i] == ctl->ino[j]))
				o += snprintf(msg + o, sizeof(msg) - o, "%s%s and %s were %s mount namespace, now %s",
					      o ? "; " : "", names[i], names[j],
					      ino_before[i] == ino_before[j] ? "in one" : "in two",
					      ctl->ino[i] == ctl->ino[j] ? "in one" : "in two");
	if (tst_opt_flag("root-ns"))
		umount2(at("pmnt"), MNT_DETACH);
	tst_ns_end(msg);
}

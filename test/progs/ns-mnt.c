/* ns-mnt: a process in mount, UTS and cgroup namespaces of its own,
 * pivot_rooted into a tmpfs that holds a small mount tree:
 *
 *   /                tmpfs: data/hello (random bytes, 0640, uid 1234),
 *                    data/dir/nested, data/link -> hello, data/fifo, data/null
 *                    (char 1:3), symlinks bin, lib, lib64 -> usr/...
 *   /usr             the host's /usr, bound read-only (nosuid)
 *   <build dir>      the host's directory of this program, bound
 *   /proc            proc, nosuid,nodev,noexec
 *   /bind            a bind of /data/dir (a directory inside the tree)
 *   /data/hello-bind a bind of /data/hello (a file)
 *   /ro              tmpfs holding one file, read-only, noexec
 *   /pts             devpts (a new instance: gid=5,mode=620,ptmxmode=666)
 *   /mqueue          mqueue;  /sys  sysfs, read-only;  /cgroup  cgroup2
 *   /cgcpu           cgroup v1 "cpu" (where the host has that hierarchy)
 *   /shared          tmpfs, shared
 *   /slave           a bind of /shared, its slave
 *   /data/cover      tmpfs over a directory holding "hidden", which stays open
 * and /data/hello open at offset 3, /data/cover/hidden (covered since) open at
 * offset 2, hostname "ns-mnt-<random>".
 *
 * After CHECK: the hostname; /proc/self/cgroup (paths inside the namespace);
 * /proc/self/mountinfo has the same mounts (type,
 * per-mount and superblock options, propagation as "shared" / "slave of
 * <mount point>"); the tmpfs files with their bytes, modes, owners and mtimes;
 * the open file at its offset, the same file as /data/hello; the covered file
 * through its fd (bytes, offset, on the root tmpfs) while /data/cover is empty; /ro and /usr
 * refuse writes; a mount under /shared appears under /slave (propagation works).
 *
 * --corrupt: the hostname changes after CHECK.
 * --overlay: an overlayfs at /ovl too (lower and upper dirs in the root tmpfs),
 * which libcr refuses unless it is named external (test/errors.sh).
 */
#include "tst.h"
#include "tst-mnt.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define HELLO_LEN 5000
#define SIG_MAX 16384

static void must(int ret, const char *what)
{
	if (ret)
		tst_fail("%s: %s", what, strerror(errno));
}

static void write_file(const char *path, const void *buf, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	if (fd < 0 || write(fd, buf, len) != (ssize_t)len || close(fd))
		tst_fail("write %s: %s", path, strerror(errno));
}

/* The mount table without its ids: one sorted line per mount, peer groups named
 * by the mount point of their first member. */
static void signature(char *out, size_t len)
{
	static char buf[65536];
	char lines[64][512], *save, *line;
	char group_mp[64][256];
	unsigned group_id[64];
	int n = 0, ng = 0;

	tst_read_file("/proc/self/mountinfo", buf, sizeof(buf));
	/* first pass: which mount point each shared group is first seen at */
	for (int pass = 0; pass < 2; pass++) {
		char copy[65536];
		snprintf(copy, sizeof(copy), "%s", buf);
		n = 0;
		for (line = strtok_r(copy, "\n", &save); line && n < 64; line = strtok_r(NULL, "\n", &save)) {
			char root[256], mp[256], opts[256], rest[1024], *dash = strstr(line, " - ");
			unsigned shared = 0, master = 0;
			if (!dash || sscanf(line, "%*u %*u %*u:%*u %255s %255s %255s", root, mp, opts) != 3)
				tst_fail("bad mountinfo line %s", line);
			char *s = strstr(line, "shared:"), *m = strstr(line, "master:");
			if (s && s < dash)
				shared = strtoul(s + 7, NULL, 10);
			if (m && m < dash)
				master = strtoul(m + 7, NULL, 10);
			snprintf(rest, sizeof(rest), "%s", dash + 3);
			/* the source of a host bind is the host's device name: keep type and options */
			char type[64], src[256], sopts[512] = "";
			sscanf(rest, "%63s %255s %511s", type, src, sopts);
			if (pass == 0) {
				bool known = false;
				for (int g = 0; g < ng; g++)
					known |= group_id[g] == shared;
				if (shared && !known && ng < 64) {
					group_id[ng] = shared;
					snprintf(group_mp[ng++], 256, "%s", mp);
				}
				continue;
			}
			const char *sg = "", *mg = "";
			for (int g = 0; g < ng; g++) {
				if (shared && group_id[g] == shared)
					sg = group_mp[g];
				if (master && group_id[g] == master)
					mg = group_mp[g];
			}
			if (snprintf(lines[n++], 512, "%s %s %s %s %s shared=%s slave-of=%s", mp, root, opts, type, sopts,
				     sg, master ? (*mg ? mg : "outside") : "") >= 512)
				tst_fail("mountinfo line too long: %s", line);
		}
	}
	/* sort */
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			if (strcmp(lines[i], lines[j]) > 0) {
				char t[512];
				memcpy(t, lines[i], 512);
				memcpy(lines[i], lines[j], 512);
				memcpy(lines[j], t, 512);
			}
	out[0] = 0;
	for (int i = 0; i < n; i++) {
		strncat(out, lines[i], len - strlen(out) - 2);
		strcat(out, "\n");
	}
}

static void check_stat(const char *path, mode_t mode, uid_t uid, const struct timespec *mtime)
{
	struct stat st;

	if (lstat(path, &st))
		tst_fail("%s is gone: %s", path, strerror(errno));
	if (st.st_mode != mode || st.st_uid != uid)
		tst_fail("%s: mode 0%o uid %u, want 0%o uid %u", path, st.st_mode, st.st_uid, mode, uid);
	if (mtime && (st.st_mtim.tv_sec != mtime->tv_sec || st.st_mtim.tv_nsec != mtime->tv_nsec))
		tst_fail("%s: mtime changed", path);
}

int main(int argc, char **argv)
{
	static char before[SIG_MAX], after[SIG_MAX], cg_before[4096], cg_after[4096];
	char exe[PATH_MAX], exedir[PATH_MAX], path[PATH_MAX], host[64], buf[HELLO_LEN];
	uint64_t seed;
	struct stat hello_st, link_st;
	int fd;

	tst_init_opts(argc, argv, NULL, "overlay");
	/* an fd a starting shell leaked would name a file outside the new mount tree */
	syscall(SYS_close_range, 3, ~0U, 0);
	seed = tst_seed();
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0)
		tst_fail("readlink /proc/self/exe: %s", strerror(errno));
	exe[n] = 0;
	snprintf(exedir, sizeof(exedir), "%s", exe);
	dirname(exedir);

	must(unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWCGROUP), "unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWCGROUP)");
	snprintf(host, sizeof(host), "ns-mnt-%u", (unsigned)(seed % 100000));
	must(sethostname(host, strlen(host)), "sethostname");
	must(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), "make / private");
	/* the new root hides the host's /tmp from us only */
	must(mount("tmpfs", "/tmp", "tmpfs", 0, "mode=755,size=16m"), "mount the root tmpfs");
	must(chdir("/tmp"), "chdir /tmp");
	tst_mkdir_p("data/dir/nested");
	tst_fill(buf, sizeof(buf), seed);
	write_file("data/hello", buf, sizeof(buf), 0640);
	must(chown("data/hello", 1234, 1234), "chown");
	must(symlink("hello", "data/link"), "symlink");
	must(mkfifo("data/fifo", 0600), "mkfifo");
	must(mknod("data/null", S_IFCHR | 0666, makedev(1, 3)), "mknod");
	write_file("data/hello-bind", "", 0, 0644);
	must(symlink("usr/bin", "bin") || symlink("usr/lib", "lib") || symlink("usr/lib64", "lib64"), "symlink");
	for (const char *d = "usr\0proc\0bind\0ro\0shared\0slave\0pts\0mqueue\0sys\0cgroup\0"; *d; d += strlen(d) + 1)
		must(mkdir(d, 0755), d);
	must(mount("/usr", "usr", NULL, MS_BIND, NULL), "bind /usr");
	must(mount(NULL, "usr", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID, NULL), "make /usr read-only");
	if (snprintf(path, sizeof(path), "/tmp%s", exedir) >= (int)sizeof(path))
		tst_fail("path too long");
	tst_mkdir_p(path);
	must(mount(exedir, path, NULL, MS_BIND, NULL), "bind the build directory");
	must(mount("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL), "mount proc");
	must(mount("devpts", "pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,gid=5,mode=620,ptmxmode=0666"),
	     "mount devpts");
	must(mount("mqueue", "mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL), "mount mqueue");
	must(mount("sysfs", "sys", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL), "mount sysfs");
	must(mount("cgroup2", "cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL), "mount cgroup2");
	if (!access("/sys/fs/cgroup/cpu/cgroup.procs", F_OK)) {
		must(mkdir("cgcpu", 0755), "mkdir cgcpu");
		must(mount("cgroup", "cgcpu", "cgroup", MS_NOSUID | MS_NODEV | MS_NOEXEC, "cpu"), "mount cgroup cpu");
	}
	must(mount("data/dir", "bind", NULL, MS_BIND, NULL), "bind data/dir");
	must(mount("data/hello", "data/hello-bind", NULL, MS_BIND, NULL), "bind data/hello");
	must(mount("tmpfs", "ro", "tmpfs", 0, "size=1m"), "mount ro");
	write_file("ro/file", "read only", 9, 0600);
	must(mount(NULL, "ro", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOEXEC, NULL), "make ro read-only");
	must(mount("tmpfs", "shared", "tmpfs", 0, "size=1m"), "mount shared");
	must(mount(NULL, "shared", NULL, MS_SHARED, NULL), "make shared shared");
	must(mount("shared", "slave", NULL, MS_BIND, NULL), "bind shared");
	must(mount(NULL, "slave", NULL, MS_SLAVE, NULL), "make slave a slave");
	if (tst_opt_flag("overlay")) {
		tst_mkdir_p("ovl-lower");
		tst_mkdir_p("ovl-upper");
		tst_mkdir_p("ovl-work");
		tst_mkdir_p("ovl");
		must(mount("overlay", "ovl", "overlay", 0, "lowerdir=/tmp/ovl-lower,upperdir=/tmp/ovl-upper,workdir=/tmp/ovl-work"),
		     "mount overlay");
	}
	must(syscall(SYS_pivot_root, ".", "."), "pivot_root");
	must(umount2(".", MNT_DETACH), "detach the old root");
	must(chdir("/"), "chdir /");

	if ((fd = open("/data/hello", O_RDWR)) < 0 || lseek(fd, 3, SEEK_SET) != 3)
		tst_fail("open /data/hello: %s", strerror(errno));
	/* a file open under a directory that a mount then covers */
	int hfd;
	must(mkdir("/data/cover", 0755), "mkdir /data/cover");
	write_file("/data/cover/hidden", "hidden bytes", 12, 0600);
	if ((hfd = open("/data/cover/hidden", O_RDWR)) < 0 || lseek(hfd, 2, SEEK_SET) != 2)
		tst_fail("open /data/cover/hidden: %s", strerror(errno));
	must(mount("tmpfs", "/data/cover", "tmpfs", 0, "size=64k"), "mount over /data/cover");
	must(stat("/data/hello", &hello_st) || lstat("/data/link", &link_st), "stat");
	signature(before, sizeof(before));
	tst_read_file("/proc/self/cgroup", cg_before, sizeof(cg_before));
	tst_info("mounts:\n%s", before);

	tst_ready();
	tst_wait_check();
	if (tst_corrupting())
		sethostname("corrupt", 7);

	char now[64] = "";
	gethostname(now, sizeof(now));
	if (strcmp(now, host))
		tst_fail("hostname is \"%s\", want \"%s\"", now, host);
	tst_read_file("/proc/self/cgroup", cg_after, sizeof(cg_after));
	if (strcmp(cg_before, cg_after))
		tst_fail("/proc/self/cgroup changed:\n--- before\n%s--- after\n%s", cg_before, cg_after);
	signature(after, sizeof(after));
	if (strcmp(before, after))
		tst_fail("the mount table changed:\n--- before\n%s--- after\n%s", before, after);
	check_stat("/data/hello", S_IFREG | 0640, 1234, &hello_st.st_mtim);
	check_stat("/data/link", S_IFLNK | 0777, 0, &link_st.st_mtim);
	check_stat("/data/fifo", S_IFIFO | 0600, 0, NULL);
	check_stat("/data/dir/nested", S_IFDIR | 0755, 0, NULL);
	check_stat("/bind/nested", S_IFDIR | 0755, 0, NULL);
	struct stat st;
	if (stat("/data/null", &st) || st.st_rdev != makedev(1, 3))
		tst_fail("/data/null is not the char device 1:3");
	if (readlink("/data/link", path, sizeof(path)) != 5 || memcmp(path, "hello", 5))
		tst_fail("/data/link does not point to hello");
	static char got[HELLO_LEN];
	int bfd = open("/data/hello-bind", O_RDONLY);
	if (bfd < 0 || read(bfd, got, sizeof(got)) != HELLO_LEN || tst_cmp_fill(got, HELLO_LEN, seed) != -1)
		tst_fail("/data/hello-bind does not hold the bytes of /data/hello");
	close(bfd);
	/* the open file: same file, same offset, same bytes */
	struct stat fst;
	if (fstat(fd, &fst) || stat("/data/hello", &st) || fst.st_ino != st.st_ino || fst.st_dev != st.st_dev)
		tst_fail("the open fd is not /data/hello any more");
	if (lseek(fd, 0, SEEK_CUR) != 3)
		tst_fail("the open fd is at offset %ld, want 3", (long)lseek(fd, 0, SEEK_CUR));
	if (pread(fd, got, HELLO_LEN, 0) != HELLO_LEN || tst_cmp_fill(got, HELLO_LEN, seed) != -1)
		tst_fail("/data/hello lost its bytes");
	struct stat rst;
	if (fstat(hfd, &fst) || stat("/data", &rst) || fst.st_dev != rst.st_dev || !S_ISREG(fst.st_mode))
		tst_fail("the covered file's fd is not a file of the root tmpfs");
	if (lseek(hfd, 0, SEEK_CUR) != 2 || pread(hfd, path, 12, 0) != 12 || memcmp(path, "hidden bytes", 12))
		tst_fail("the covered file lost its offset or bytes");
	if (!access("/data/cover/hidden", F_OK))
		tst_fail("/data/cover/hidden shows: /data/cover is not covered");
	if (open("/ro/new", O_WRONLY | O_CREAT, 0600) >= 0 || errno != EROFS)
		tst_fail("/ro is writable");
	if (tst_read_file("/ro/file", path, sizeof(path)) != 9 || memcmp(path, "read only", 9))
		tst_fail("/ro/file lost its bytes");
	if (open("/usr/libcr-ns-mnt-test", O_WRONLY | O_CREAT, 0600) >= 0 || errno != EROFS)
		tst_fail("/usr is writable");
	/* propagation works, not only looks right */
	must(mkdir("/shared/sub", 0755), "mkdir /shared/sub");
	must(mount("tmpfs", "/shared/sub", "tmpfs", 0, "size=64k"), "mount under /shared");
	write_file("/shared/sub/mark", "x", 1, 0600);
	if (stat("/slave/sub/mark", &st))
		tst_fail("a mount under /shared did not propagate to /slave");
	umount2("/shared/sub", MNT_DETACH);
	tst_pass();
}

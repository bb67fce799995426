/* file-regular: open regular files with positions and flags, and /dev/null.
 *
 * A 3-page file in /tmp with known content is opened four ways, each at a
 * chosen fd number:
 *   fd 7   O_RDWR|O_APPEND, position 1234
 *   fd 12  O_RDONLY, position 5678
 *   fd 30  O_WRONLY, position 777, FD_CLOEXEC
 *   fd 9   /dev/null, O_RDWR
 * and more, each checked on its own:
 *   fd 40  O_PATH on the file
 *   fd 41  O_RDONLY|O_DIRECTORY on a directory of 40 files, positioned after
 *          its first entries (getdents from there must give the same rest)
 *   fd 42  O_PATH|O_DIRECTORY on the same directory
 *   fd 43  O_RDONLY|O_NONBLOCK on the file, FD_CLOEXEC
 *   fd 44  dup() of fd 12: one open file description, so one position
 * After CHECK: the same fds are open (and no others beyond 0-2 and what was
 * inherited), each on the
 * same file (device and inode of the path) with the same file status flags,
 * fd flags and position; the content is unchanged; reading fd 12 continues
 * from its position; a write on fd 7 lands at the end (O_APPEND); a write on
 * fd 30 lands at its position; fd 9 is still the /dev/null device.
 */
#include "tst.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define SIZE (3 * TST_PAGE)

static const struct want {
	int fd;
	int flags;
	off_t pos;
	int fd_flags;
	bool devnull;
} want[] = {
	{ 7, O_RDWR | O_APPEND, 1234, 0, false },
	{ 12, O_RDONLY, 5678, 0, false },
	{ 30, O_WRONLY, 777, FD_CLOEXEC, false },
	{ 9, O_RDWR, 0, 0, true },
};
#define NW (int)(sizeof(want) / sizeof(want[0]))

struct got {
	dev_t dev, rdev;
	ino_t ino;
	int fl, fd_flags;
	off_t pos;
};

static void get(int fd, struct got *g)
{
	struct stat st;
	if (fstat(fd, &st))
		tst_fail("fd %d: %s", fd, strerror(errno));
	g->dev = st.st_dev;
	g->ino = st.st_ino;
	g->rdev = st.st_rdev;
	g->fl = fcntl(fd, F_GETFL);
	g->fd_flags = fcntl(fd, F_GETFD);
	g->pos = lseek(fd, 0, SEEK_CUR);
}

/* fds open at start (inherited: by hand, a shell may leave some). */
static bool inherited[1024];

static void check_fd_list(bool record)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		tst_fail("opendir /proc/self/fd: %s", strerror(errno));
	int dfd = dirfd(d);
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		int fd = atoi(e->d_name);
		if (fd <= 2 || fd == dfd)
			continue;
		if (record) {
			if (fd < 1024)
				inherited[fd] = true;
			continue;
		}
		bool ok = (fd < 1024 && inherited[fd]) || (fd >= 40 && fd <= 44);
		for (int i = 0; i < NW; i++)
			ok |= want[i].fd == fd;
		if (!ok)
			tst_fail("unexpected fd %d is open", fd);
	}
	closedir(d);
}

/* The names getdents gives from fd's position on, as one string. */
static void rest_of_dir(int fd, char *out, size_t len)
{
	char buf[4096];
	size_t n = 0;
	long got;
	out[0] = 0;
	while ((got = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0)
		for (long off = 0; off < got;) {
			struct { uint64_t ino; int64_t off; unsigned short reclen; unsigned char type; char name[]; }
				*d = (void *)(buf + off);
			n += snprintf(out + n, n < len ? len - n : 0, "%s/", d->name);
			off += d->reclen;
		}
	if (got < 0)
		tst_fail("getdents64: %s", strerror(errno));
}

static void same_file(int fd, const struct stat *want, const char *what)
{
	struct stat st;
	if (fstat(fd, &st))
		tst_fail("fd %d (%s): %s", fd, what, strerror(errno));
	if (st.st_dev != want->st_dev || st.st_ino != want->st_ino)
		tst_fail("fd %d (%s) is inode %lu, want %lu", fd, what, (unsigned long)st.st_ino,
			 (unsigned long)want->st_ino);
}

static void open_at(const char *path, int flags, int at)
{
	int f = open(path, flags);
	if (f < 0 || dup2(f, at) != at || close(f))
		tst_fail("open %s as fd %d: %s", path, at, strerror(errno));
}

static void want_fl(int fd, int fl, int fdfl)
{
	if (fcntl(fd, F_GETFL) != fl || fcntl(fd, F_GETFD) != fdfl)
		tst_fail("fd %d: flags %#o fd flags %#x, were %#o %#x", fd, fcntl(fd, F_GETFL), fcntl(fd, F_GETFD), fl,
			 fdfl);
}

int main(int argc, char **argv)
{
	tst_init(argc, argv);
	uint64_t seed = tst_seed();
	check_fd_list(true);
	const char *path = tst_tmp_path("file");
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		tst_fail("create %s: %s", path, strerror(errno));
	static unsigned char data[SIZE], buf[SIZE + 64];
	tst_fill(data, SIZE, seed);
	if (write(fd, data, SIZE) != (ssize_t)SIZE)
		tst_fail("write: %s", strerror(errno));
	close(fd);
	struct stat pst;
	stat(path, &pst);

	struct got before[NW];
	for (int i = 0; i < NW; i++) {
		const struct want *w = &want[i];
		int f = open(w->devnull ? "/dev/null" : path, w->flags);
		if (f < 0)
			tst_fail("open: %s", strerror(errno));
		if (dup2(f, w->fd) != w->fd)
			tst_fail("dup2: %s", strerror(errno));
		close(f);
		if (w->fd_flags)
			fcntl(w->fd, F_SETFD, w->fd_flags);
		if (w->pos && lseek(w->fd, w->pos, SEEK_SET) != w->pos)
			tst_fail("lseek: %s", strerror(errno));
		get(w->fd, &before[i]);
	}
	/* the more unusual ones */
	const char *dir = tst_tmp_path("dir");
	if (mkdir(dir, 0700))
		tst_fail("mkdir %s: %s", dir, strerror(errno));
	for (int i = 0; i < 40; i++) {
		char f[256];
		snprintf(f, sizeof(f), "%s/entry-%02d", dir, i);
		int t = open(f, O_CREAT | O_WRONLY, 0600);
		if (t < 0)
			tst_fail("create %s: %s", f, strerror(errno));
		close(t);
	}
	struct stat dst;
	stat(dir, &dst);
	open_at(path, O_PATH, 40);
	open_at(dir, O_RDONLY | O_DIRECTORY, 41);
	open_at(dir, O_PATH | O_DIRECTORY, 42);
	open_at(path, O_RDONLY | O_NONBLOCK, 43);
	if (dup2(12, 44) != 44)
		tst_fail("dup2: %s", strerror(errno));
	fcntl(43, F_SETFD, FD_CLOEXEC);
	char dbuf[256];
	if (syscall(SYS_getdents64, 41, dbuf, sizeof(dbuf)) <= 0)
		tst_fail("getdents64: %s", strerror(errno));
	off_t dpos = lseek(41, 0, SEEK_CUR);
	int fl[5];
	for (int i = 0; i < 5; i++)
		fl[i] = fcntl(40 + i, F_GETFL);
	static char rest[8192], rest2[8192];
	int peek = open(dir, O_RDONLY | O_DIRECTORY);
	if (lseek(peek, dpos, SEEK_SET) != dpos)
		tst_fail("lseek dir: %s", strerror(errno));
	rest_of_dir(peek, rest, sizeof(rest));
	close(peek);
	if (!rest[0])
		tst_fail("the directory has nothing after position %lld", (long long)dpos);
	check_fd_list(false);

	tst_ready();
	tst_wait_check();

	same_file(40, &pst, "O_PATH");
	same_file(41, &dst, "directory");
	same_file(42, &dst, "O_PATH directory");
	same_file(43, &pst, "O_NONBLOCK");
	same_file(44, &pst, "dup of 12");
	want_fl(40, fl[0], 0);
	want_fl(41, fl[1], 0);
	want_fl(42, fl[2], 0);
	want_fl(43, fl[3], FD_CLOEXEC);
	want_fl(44, fl[4], 0);
	if (!(fl[0] & O_PATH) || !(fl[2] & O_PATH) || !(fl[3] & O_NONBLOCK))
		tst_fail("the test's own flags are wrong: %#o %#o %#o", fl[0], fl[2], fl[3]);
	if (lseek(41, 0, SEEK_CUR) != dpos)
		tst_fail("directory fd 41 at %lld, was %lld", (long long)lseek(41, 0, SEEK_CUR), (long long)dpos);
	rest_of_dir(41, rest2, sizeof(rest2));
	if (strcmp(rest, rest2))
		tst_fail("directory fd 41 continues with '%.80s', was '%.80s'", rest2, rest);

	if (tst_corrupting())
		lseek(12, 1, SEEK_CUR);
	check_fd_list(false);
	for (int i = 0; i < NW; i++) {
		const struct want *w = &want[i];
		struct got g;
		get(w->fd, &g);
		if (w->devnull) {
			if (g.rdev != makedev(1, 3))
				tst_fail("fd %d is not /dev/null any more (rdev %u:%u)", w->fd, major(g.rdev),
					 minor(g.rdev));
		} else if (g.dev != pst.st_dev || g.ino != pst.st_ino) {
			tst_fail("fd %d is inode %lu, the file is %lu", w->fd, (unsigned long)g.ino,
				 (unsigned long)pst.st_ino);
		}
		if (g.fl != before[i].fl)
			tst_fail("fd %d file flags %#o, were %#o", w->fd, g.fl, before[i].fl);
		if ((g.fl & (O_ACCMODE | O_APPEND)) != w->flags)
			tst_fail("fd %d flags %#o, opened with %#o", w->fd, g.fl, w->flags);
		if (g.fd_flags != before[i].fd_flags)
			tst_fail("fd %d fd flags %#x, were %#x", w->fd, g.fd_flags, before[i].fd_flags);
		if (g.pos != w->pos)
			tst_fail("fd %d at position %lld, was %lld", w->fd, (long long)g.pos, (long long)w->pos);
	}
	if (pread(12, buf, SIZE + 64, 0) != (ssize_t)SIZE || memcmp(buf, data, SIZE))
		tst_fail("file content changed");
	if (lseek(44, 0, SEEK_CUR) != 5678)
		tst_fail("fd 44 (dup of 12) at %lld, want 5678", (long long)lseek(44, 0, SEEK_CUR));
	if (read(12, buf, 100) != 100 || memcmp(buf, data + 5678, 100))
		tst_fail("reading fd 12 from its position gave other data");
	if (lseek(44, 0, SEEK_CUR) != 5678 + 100)
		tst_fail("reading fd 12 moved fd 44 (its dup) to %lld, not 5778: not one open file description",
			 (long long)lseek(44, 0, SEEK_CUR));
	if (write(7, "APPEND", 6) != 6)
		tst_fail("write fd 7: %s", strerror(errno));
	if (write(30, "AT777", 5) != 5)
		tst_fail("write fd 30: %s", strerror(errno));
	memcpy(data + 777, "AT777", 5);
	if (pread(12, buf, SIZE + 64, 0) != (ssize_t)SIZE + 6 || memcmp(buf, data, SIZE) ||
	    memcmp(buf + SIZE, "APPEND", 6))
		tst_fail("writes after restore landed in the wrong places");
	if (write(9, "x", 1) != 1 || read(9, buf, 1) != 0)
		tst_fail("fd 9 does not behave like /dev/null");
	tst_pass();
}

/* file-regular: open regular files with positions and flags, and /dev/null.
 *
 * A 3-page file in /tmp with known content is opened four ways, each at a
 * chosen fd number:
 *   fd 7   O_RDWR|O_APPEND, position 1234
 *   fd 12  O_RDONLY, position 5678
 *   fd 30  O_WRONLY, position 777, FD_CLOEXEC
 *   fd 9   /dev/null, O_RDWR
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
#include <sys/stat.h>
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
		bool ok = fd < 1024 && inherited[fd];
		for (int i = 0; i < NW; i++)
			ok |= want[i].fd == fd;
		if (!ok)
			tst_fail("unexpected fd %d is open", fd);
	}
	closedir(d);
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
	check_fd_list(false);

	tst_ready();
	tst_wait_check();

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
	if (read(12, buf, 100) != 100 || memcmp(buf, data + 5678, 100))
		tst_fail("reading fd 12 from its position gave other data");
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

/* fifo: named pipes the process holds both sides of, with bytes in them.
 *
 *   F1  fd 20 opened O_RDWR, F_SETPIPE_SZ 128 KiB, 70000 bytes in it
 *   F2  fd 21 opened O_RDONLY|O_NONBLOCK and fd 22 O_WRONLY (FD_CLOEXEC),
 *       100 bytes in it
 * After CHECK: each fd is its FIFO (the inode of its path) with the same
 * flags, fd flags and pipe size; the bytes are all there and nothing more;
 * a write through fd 22 comes out of fd 21 (one pipe behind both opens).
 */
#include "tst.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

static void open_at(const char *path, int flags, int at)
{
	int f = open(path, flags);
	if (f < 0 || dup2(f, at) != at || close(f))
		tst_fail("open %s as fd %d: %s", path, at, strerror(errno));
}

static void read_exact(int fd, void *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = read(fd, (char *)buf + got, len - got);
		if (n <= 0)
			tst_fail("fd %d: read returned %zd after %zu of %zu bytes: %s", fd, n, got, len,
				 n ? strerror(errno) : "EOF");
		got += n;
	}
}

int main(int argc, char **argv)
{
	tst_init(argc, argv);
	uint64_t seed = tst_seed();
	const char *f1 = tst_tmp_path("f1"), *f2 = tst_tmp_path("f2");
	static char d1[70000], d2[100], buf[70001];

	if (mkfifo(f1, 0600) || mkfifo(f2, 0600))
		tst_fail("mkfifo: %s", strerror(errno));
	open_at(f1, O_RDWR, 20);
	if (fcntl(20, F_SETPIPE_SZ, 128 * 1024) != 128 * 1024)
		tst_fail("F_SETPIPE_SZ: %s", strerror(errno));
	tst_fill(d1, sizeof(d1), seed);
	if (write(20, d1, sizeof(d1)) != sizeof(d1))
		tst_fail("write f1: %s", strerror(errno));
	open_at(f2, O_RDONLY | O_NONBLOCK, 21);
	open_at(f2, O_WRONLY, 22);
	fcntl(22, F_SETFD, FD_CLOEXEC);
	tst_fill(d2, sizeof(d2), seed + 1);
	if (write(22, d2, sizeof(d2)) != sizeof(d2))
		tst_fail("write f2: %s", strerror(errno));
	int fl[3], fdfl[3], sz[3];
	for (int i = 0; i < 3; i++) {
		fl[i] = fcntl(20 + i, F_GETFL);
		fdfl[i] = fcntl(20 + i, F_GETFD);
		sz[i] = fcntl(20 + i, F_GETPIPE_SZ);
	}

	tst_ready();
	tst_wait_check();

	if (tst_corrupting())
		read(21, buf, 1);
	struct stat st, pst;
	for (int i = 0; i < 3; i++) {
		const char *path = i ? f2 : f1;
		if (fstat(20 + i, &st) || stat(path, &pst) || st.st_ino != pst.st_ino || !S_ISFIFO(st.st_mode))
			tst_fail("fd %d is not the FIFO %s", 20 + i, path);
		if (fcntl(20 + i, F_GETFL) != fl[i] || fcntl(20 + i, F_GETFD) != fdfl[i] ||
		    fcntl(20 + i, F_GETPIPE_SZ) != sz[i])
			tst_fail("fd %d: flags %#o/%#x size %d, were %#o/%#x %d", 20 + i, fcntl(20 + i, F_GETFL),
				 fcntl(20 + i, F_GETFD), fcntl(20 + i, F_GETPIPE_SZ), fl[i], fdfl[i], sz[i]);
	}
	int avail;
	if (ioctl(20, FIONREAD, &avail) || avail != sizeof(d1))
		tst_fail("FIFO 1 holds %d bytes, held %zu", avail, sizeof(d1));
	read_exact(20, buf, sizeof(d1));
	if (memcmp(buf, d1, sizeof(d1)))
		tst_fail("FIFO 1's bytes differ");
	read_exact(21, buf, sizeof(d2));
	if (memcmp(buf, d2, sizeof(d2)))
		tst_fail("FIFO 2's bytes differ");
	if (read(21, buf, 1) != -1 || errno != EAGAIN)
		tst_fail("FIFO 2 holds more than it did");
	if (write(22, "through", 7) != 7 || read(21, buf, 100) != 7 || memcmp(buf, "through", 7))
		tst_fail("fd 22 and fd 21 are not one pipe any more");
	tst_pass();
}

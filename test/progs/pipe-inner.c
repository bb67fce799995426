/* pipe-inner: pipes the process holds itself, with bytes in them.
 *
 *   A  fds 10 (read) / 11 (write, O_NONBLOCK), F_SETPIPE_SZ 256 KiB, filled
 *      to the brim with random bytes (written until EAGAIN)
 *   B  fds 12 (read, O_NONBLOCK) / 13 (write), default size, 5000 bytes in it;
 *      fd 14 a dup() of 12 (one open file description), fd 15 another open of
 *      12 through /proc/self/fd (another description of the same pipe)
 *   C  fd 16: read end of a pipe whose write end is closed, 1000 bytes in it
 *   D  fd 17: write end of a pipe whose read end is closed
 * After CHECK: the pipes are the same pairs (10/11 one inode, 12-15 another),
 * with the same sizes, flags and fd flags, 14 and 12 one description and 15
 * another (kcmp); every byte is there, in order, and nothing else (A is full:
 * one more byte gets EAGAIN); new writes come through; C ends in EOF after its
 * bytes; D's write fails with EPIPE.
 */
#include "tst.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define A_SIZE (256 * 1024)

static void make_pipe(int r, int w)
{
	int p[2];
	if (pipe(p) || dup2(p[0], r) != r || dup2(p[1], w) != w || close(p[0]) || close(p[1]))
		tst_fail("pipe as %d/%d: %s", r, w, strerror(errno));
}

static ino_t ino_of(int fd)
{
	struct stat st;
	if (fstat(fd, &st))
		tst_fail("fstat %d: %s", fd, strerror(errno));
	return st.st_ino;
}

static int same_description(int a, int b)
{
	return syscall(SYS_kcmp, getpid(), getpid(), KCMP_FILE, a, b) == 0;
}

/* Read exactly len bytes (the read end may be non-blocking: the bytes are there). */
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
	static char a_data[A_SIZE], b_data[5000], c_data[1000], buf[A_SIZE + 1];
	signal(SIGPIPE, SIG_IGN);

	make_pipe(10, 11);
	if (fcntl(11, F_SETPIPE_SZ, A_SIZE) != A_SIZE)
		tst_fail("F_SETPIPE_SZ: %s", strerror(errno));
	fcntl(11, F_SETFL, O_NONBLOCK);
	tst_fill(a_data, sizeof(a_data), seed);
	size_t a_len = 0;
	while (a_len < sizeof(a_data)) { /* page by page: full in bytes as well as in buffers */
		ssize_t n = write(11, a_data + a_len, 4096);
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0)
			tst_fail("filling pipe A: %s", strerror(errno));
		a_len += n;
	}
	if (a_len != A_SIZE || write(11, "x", 1) != -1)
		tst_fail("pipe A took %zu bytes, not %d", a_len, A_SIZE);

	make_pipe(12, 13);
	fcntl(12, F_SETFL, O_NONBLOCK);
	tst_fill(b_data, sizeof(b_data), seed + 1);
	if (write(13, b_data, sizeof(b_data)) != sizeof(b_data) || dup2(12, 14) != 14)
		tst_fail("pipe B: %s", strerror(errno));
	int f = open("/proc/self/fd/12", O_RDONLY);
	if (f < 0 || dup2(f, 15) != 15 || close(f))
		tst_fail("reopen of fd 12: %s", strerror(errno));

	make_pipe(16, 30);
	tst_fill(c_data, sizeof(c_data), seed + 2);
	if (write(30, c_data, sizeof(c_data)) != sizeof(c_data) || close(30))
		tst_fail("pipe C: %s", strerror(errno));
	make_pipe(31, 17);
	close(31);

	int fl[8], fdfl[8], sz[8];
	for (int i = 0; i < 8; i++) {
		fl[i] = fcntl(10 + i, F_GETFL);
		fdfl[i] = fcntl(10 + i, F_GETFD);
		sz[i] = fcntl(10 + i, F_GETPIPE_SZ);
	}
	ino_t ia = ino_of(10), ib = ino_of(12);

	tst_ready();
	tst_wait_check();

	if (tst_corrupting())
		read(10, buf, 1);
	for (int i = 0; i < 8; i++) {
		if (fcntl(10 + i, F_GETFL) != fl[i] || fcntl(10 + i, F_GETFD) != fdfl[i])
			tst_fail("fd %d: flags %#o, fd flags %#x; were %#o, %#x", 10 + i, fcntl(10 + i, F_GETFL),
				 fcntl(10 + i, F_GETFD), fl[i], fdfl[i]);
		if (fcntl(10 + i, F_GETPIPE_SZ) != sz[i])
			tst_fail("fd %d: pipe size %d, was %d", 10 + i, fcntl(10 + i, F_GETPIPE_SZ), sz[i]);
	}
	if (ino_of(11) != ino_of(10) || ino_of(13) != ino_of(12) || ino_of(14) != ino_of(12) ||
	    ino_of(15) != ino_of(12) || ino_of(10) == ino_of(12) || ino_of(16) == ino_of(17))
		tst_fail("the fds are not the same pipes any more");
	if (!same_description(12, 14) || same_description(12, 15) || same_description(10, 11))
		tst_fail("fds 12/14/15 are not one description and another (kcmp)");
	(void)ia;
	(void)ib;

	int avail;
	if (ioctl(10, FIONREAD, &avail) || (size_t)avail != a_len)
		tst_fail("pipe A holds %d bytes, held %zu", avail, a_len);
	if (write(11, "x", 1) != -1 || errno != EAGAIN)
		tst_fail("pipe A is not full any more");
	read_exact(10, buf, a_len);
	if (tst_cmp_fill(buf, a_len, seed) >= 0)
		tst_fail("pipe A's bytes differ at offset %ld", tst_cmp_fill(buf, a_len, seed));
	if (write(11, "after", 5) != 5 || read(10, buf, 100) != 5 || memcmp(buf, "after", 5))
		tst_fail("pipe A does not carry new bytes");

	read_exact(14, buf, 2000);   /* through the dup and the other description: one stream */
	read_exact(15, buf + 2000, 3000);
	if (memcmp(buf, b_data, sizeof(b_data)))
		tst_fail("pipe B's bytes differ");
	if (read(12, buf, 1) != -1 || errno != EAGAIN)
		tst_fail("pipe B holds more than it did");

	read_exact(16, buf, sizeof(c_data));
	if (memcmp(buf, c_data, sizeof(c_data)))
		tst_fail("pipe C's bytes differ");
	if (read(16, buf, 1) != 0)
		tst_fail("pipe C does not end: its write end is open somewhere");
	if (write(17, "x", 1) != -1 || errno != EPIPE)
		tst_fail("pipe D can be written: its read end is open somewhere");
	tst_pass();
}

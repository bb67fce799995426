/* pipe-read: blocked in read() on the stdin pipe.
 *
 * At READY the program records what fd 0 and fd 1 are (pipe inode, file
 * status flags, fd flags, pipe capacity), then blocks in one read(0) of up to
 * 64 bytes: the dump catches it inside that syscall.  The runner's "CHECK\n"
 * is a single 6-byte write to a pipe, so the read must return all of it,
 * exactly, in one go (nothing lost, nothing extra, EINTR retried).  Then fd 0
 * and fd 1 must still be the same pipes (same inode: the runner's pipes,
 * passed through crtool restore) with the same flags and capacity.  (fd 1 is
 * compared with what it was, so by hand it may be a terminal or a file.)
 */
#include "tst.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct fdstate {
	dev_t dev;
	ino_t ino;
	mode_t mode;
	int fl, fd_flags, pipe_sz;
};

static void get(int fd, struct fdstate *s)
{
	struct stat st;
	if (fstat(fd, &st))
		tst_fail("fstat(%d): %s", fd, strerror(errno));
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->mode = st.st_mode;
	s->fl = fcntl(fd, F_GETFL);
	s->fd_flags = fcntl(fd, F_GETFD);
	s->pipe_sz = fcntl(fd, F_GETPIPE_SZ);
}

static void compare(int fd, const struct fdstate *a, const struct fdstate *b)
{
	if ((a->mode & S_IFMT) != (b->mode & S_IFMT))
		tst_fail("fd %d has mode %o, had %o", fd, b->mode, a->mode);
	if (a->dev != b->dev || a->ino != b->ino)
		tst_fail("fd %d is another pipe: inode %lu, was %lu", fd, (unsigned long)b->ino,
			 (unsigned long)a->ino);
	if (a->fl != b->fl)
		tst_fail("fd %d file flags %#o, were %#o", fd, b->fl, a->fl);
	if (a->fd_flags != b->fd_flags)
		tst_fail("fd %d fd flags %#x, were %#x", fd, b->fd_flags, a->fd_flags);
	if (a->pipe_sz != b->pipe_sz)
		tst_fail("fd %d pipe size %d, was %d", fd, b->pipe_sz, a->pipe_sz);
}

int main(int argc, char **argv)
{
	tst_init(argc, argv);
	struct fdstate in0, out0, in1, out1;
	get(0, &in0);
	get(1, &out0);
	if (!S_ISFIFO(in0.mode) || (in0.fl & O_ACCMODE) != O_RDONLY || (in0.fl & O_NONBLOCK))
		tst_fail("stdin must be the read end of a blocking pipe (mode %o flags %#o)", in0.mode, in0.fl);

	tst_ready();
	char buf[64];
	ssize_t n;
	do
		n = read(0, buf, sizeof(buf));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		tst_fail("read(0): %s", strerror(errno));
	if (tst_corrupting())
		n--;
	if (n != 6 || memcmp(buf, "CHECK\n", 6))
		tst_fail("read(0) returned %zd bytes \"%.*s\", want \"CHECK\\n\" in one read", n,
			 n > 0 ? (int)n : 0, buf);
	get(0, &in1);
	get(1, &out1);
	compare(0, &in0, &in1);
	compare(1, &out0, &out1);
	tst_pass();
}

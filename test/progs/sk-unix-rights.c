/* sk-unix-rights: files in flight (SCM_RIGHTS) in unix socket queues.
 *
 *   fds 10/11  stream pair; queued 10 -> 11: "plain" (no files), then "one"
 *              with a regular file the process keeps open at fd 20 (sent and
 *              kept: the same open file description) -- a stream reader gets
 *              "plainone" with that file in one read --, then "two" with an
 *              eventfd (counter 7) and a second regular file, both closed by
 *              the sender (only in flight), at offset 3, O_APPEND
 *   fds 12/13  datagram pair; queued 12 -> 13: a message with the read end of
 *              nothing but a memfd holding 5000 bytes, then an empty message
 *              carrying fd 20 again, then one with no file
 *   fds 14/15  datagram pair; queued 14 -> 15, pipes in flight: "alone" with
 *              the read end of a pipe holding "in the pipe" whose write end is
 *              closed; "half" with the O_NONBLOCK write end of a pipe whose read
 *              end the process keeps at fd 21, holding "before"; "both" with
 *              both ends of an empty pipe of 128 KiB
 * After CHECK: every message and byte in order, each file on the message it
 * was sent with: the kept one is fd 20's description (kcmp), the others have
 * their contents, offsets, flags and counter; the pipes are joined as they
 * were (what the received write end writes, fd 21 reads after "before"; the
 * lone read end gives its bytes, then the end of the pipe), with their sizes.
 *
 * (A pipe in flight that another process holds too: test/errors.sh unix-rights.)
 */
#include "tst.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MEMFD_LEN 5000

static void pair(int type, int a, int b)
{
	int sv[2];
	if (socketpair(AF_UNIX, type, 0, sv) || dup2(sv[0], a) != a || dup2(sv[1], b) != b || close(sv[0]) ||
	    close(sv[1]))
		tst_fail("socketpair as %d/%d: %s", a, b, strerror(errno));
}

static void send_fds(int sk, const char *data, size_t len, const int *fds, int nr)
{
	union {
		char b[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { (void *)data, len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (nr) {
		m.msg_control = ctl.b;
		m.msg_controllen = CMSG_SPACE(nr * sizeof(int));
		struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(nr * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, nr * sizeof(int));
	}
	if (sendmsg(sk, &m, MSG_DONTWAIT) != (ssize_t)len)
		tst_fail("sendmsg on %d: %s", sk, strerror(errno));
}

/* Receive exactly len bytes (one message on a datagram socket) and the files
 * that came with them; returns how many. */
static int recv_fds(int sk, const char *want, size_t len, int *fds)
{
	union {
		char b[CMSG_SPACE(8 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	char buf[64] = "";
	struct iovec iov = { buf, len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof(ctl.b) };
	ssize_t n = recvmsg(sk, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	int nr = 0;

	if (n != (ssize_t)len || memcmp(buf, want, len))
		tst_fail("fd %d: got %zd bytes '%.*s', want '%s' (%s)", sk, n, n > 0 ? (int)n : 0, buf, want,
			 n < 0 ? strerror(errno) : "");
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			int k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			memcpy(fds + nr, CMSG_DATA(cm), k * sizeof(int));
			nr += k;
		}
	return nr;
}

static void expect_empty(int fd)
{
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);
	if (n >= 0 || errno != EAGAIN)
		tst_fail("fd %d holds more than it did (recv %zd: %s)", fd, n, n < 0 ? strerror(errno) : "data");
}

static void expect_file(int fd, const char *content, off_t pos, int flags)
{
	char buf[64] = "";
	int fl = fcntl(fd, F_GETFL);

	if (lseek(fd, 0, SEEK_CUR) != pos)
		tst_fail("a file in flight is at offset %ld, was %ld", (long)lseek(fd, 0, SEEK_CUR), (long)pos);
	if ((fl & (O_ACCMODE | O_APPEND)) != flags)
		tst_fail("a file in flight has flags %#o, had %#o", fl & (O_ACCMODE | O_APPEND), flags);
	if (pread(fd, buf, sizeof(buf) - 1, 0) != (ssize_t)strlen(content) || strcmp(buf, content))
		tst_fail("a file in flight holds '%s', held '%s'", buf, content);
}

int main(int argc, char **argv)
{
	tst_init(argc, argv);
	uint64_t seed = tst_seed();
	const char *p1 = tst_tmp_path("kept"), *p2 = tst_tmp_path("flying");
	char mem[MEMFD_LEN], got[MEMFD_LEN];
	int fd, efd, mfd, r[8];
	uint64_t cnt;

	/* the file the process keeps at fd 20, at offset 2 */
	if ((fd = open(p1, O_RDWR | O_CREAT | O_TRUNC, 0600)) < 0 || write(fd, "kept-file", 9) != 9 ||
	    lseek(fd, 2, SEEK_SET) != 2 || dup2(fd, 20) != 20 || close(fd))
		tst_fail("%s: %s", p1, strerror(errno));
	pair(SOCK_STREAM, 10, 11);
	pair(SOCK_DGRAM, 12, 13);

	send_fds(10, "plain", 5, NULL, 0);
	send_fds(10, "one", 3, (int[]){ 20 }, 1);
	if ((efd = eventfd(7, EFD_NONBLOCK)) < 0 || (fd = open(p2, O_RDWR | O_CREAT | O_TRUNC | O_APPEND, 0600)) < 0 ||
	    write(fd, "flying-file", 11) != 11 || lseek(fd, 3, SEEK_SET) != 3)
		tst_fail("eventfd, %s: %s", p2, strerror(errno));
	send_fds(10, "two", 3, (int[]){ efd, fd }, 2);
	close(efd);
	close(fd);

	tst_fill(mem, sizeof(mem), seed);
	if ((mfd = memfd_create("sk-unix-rights", 0)) < 0 || write(mfd, mem, sizeof(mem)) != sizeof(mem))
		tst_fail("memfd: %s", strerror(errno));
	send_fds(12, "memfd", 5, (int[]){ mfd }, 1);
	close(mfd);
	send_fds(12, "", 0, (int[]){ 20 }, 1);
	send_fds(12, "last", 4, NULL, 0);

	pair(SOCK_DGRAM, 14, 15);
	int p1e[2], p2e[2], p3e[2];
	if (pipe(p1e) || pipe(p2e) || pipe(p3e) || write(p1e[1], "in the pipe", 11) != 11 ||
	    write(p2e[1], "before", 6) != 6 || dup2(p2e[0], 21) != 21 || fcntl(p2e[1], F_SETFL, O_NONBLOCK) ||
	    fcntl(p3e[0], F_SETPIPE_SZ, 131072) != 131072)
		tst_fail("pipes: %s", strerror(errno));
	send_fds(14, "alone", 5, (int[]){ p1e[0] }, 1);
	send_fds(14, "half", 4, (int[]){ p2e[1] }, 1);
	send_fds(14, "both", 4, (int[]){ p3e[0], p3e[1] }, 2);
	for (int i = 0; i < 2; i++) {
		close(p1e[i]);
		close(p3e[i]);
	}
	close(p2e[0]);
	close(p2e[1]);

	tst_ready();
	tst_wait_check();
	if (tst_corrupting())
		recv(13, got, 1, MSG_DONTWAIT);

	/* the stream: the runs in order, each with its files */
	if (recv_fds(11, "plainone", 8, r) != 1)
		tst_fail("\"plainone\" did not bring one file");
	if (syscall(SYS_kcmp, getpid(), getpid(), KCMP_FILE, 20, r[0]))
		tst_fail("the file sent from fd 20 and kept is no longer fd 20's open file description");
	close(r[0]);
	if (recv_fds(11, "two", 3, r) != 2)
		tst_fail("\"two\" did not bring two files");
	if (read(r[0], &cnt, sizeof(cnt)) != sizeof(cnt) || cnt != 7)
		tst_fail("the eventfd in flight reads %lu, was 7", (unsigned long)cnt);
	if (!(fcntl(r[0], F_GETFL) & O_NONBLOCK))
		tst_fail("the eventfd in flight lost O_NONBLOCK");
	expect_file(r[1], "flying-file", 3, O_RDWR | O_APPEND);
	close(r[0]);
	close(r[1]);
	expect_empty(11);

	/* the datagrams: same boundaries, same files */
	if (recv_fds(13, "memfd", 5, r) != 1)
		tst_fail("\"memfd\" did not bring one file");
	if (pread(r[0], got, sizeof(got), 0) != sizeof(got) || memcmp(got, mem, sizeof(got)))
		tst_fail("the memfd in flight lost its contents");
	close(r[0]);
	if (recv_fds(13, "", 0, r) != 1 || syscall(SYS_kcmp, getpid(), getpid(), KCMP_FILE, 20, r[0]))
		tst_fail("the empty datagram did not bring fd 20's open file description");
	close(r[0]);
	if (recv_fds(13, "last", 4, r))
		tst_fail("files came with a datagram sent without any");
	expect_empty(13);
	expect_file(20, "kept-file", 2, O_RDWR);

	/* the pipes */
	char pb[32] = "";
	if (recv_fds(15, "alone", 5, r) != 1 || read(r[0], pb, sizeof(pb)) != 11 || memcmp(pb, "in the pipe", 11) ||
	    read(r[0], pb, sizeof(pb)) != 0)
		tst_fail("the lone pipe end in flight does not give 'in the pipe' and then its end: '%s'", pb);
	close(r[0]);
	if (recv_fds(15, "half", 4, r) != 1 || !(fcntl(r[0], F_GETFL) & O_NONBLOCK) || (fcntl(r[0], F_GETFL) & O_ACCMODE) != O_WRONLY)
		tst_fail("the write end in flight is not the O_NONBLOCK write end it was");
	if (write(r[0], "after", 5) != 5 || read(21, pb, sizeof(pb)) != 11 || memcmp(pb, "beforeafter", 11))
		tst_fail("fd 21 and the write end in flight are not one pipe any more: '%.11s'", pb);
	close(r[0]);
	if (recv_fds(15, "both", 4, r) != 2 || fcntl(r[0], F_GETPIPE_SZ) != 131072)
		tst_fail("the pipe with both ends in flight lost them or its size");
	if (write(r[1], "x", 1) != 1 || read(r[0], pb, 1) != 1 || pb[0] != 'x')
		tst_fail("the two ends in flight are not one pipe");
	close(r[0]);
	close(r[1]);
	expect_empty(15);
	tst_pass();
}

/* sk-rights-sockets: unix sockets in flight (SCM_RIGHTS) that no fd of the
 * process holds any more: sent, then closed by the sender (fd passing).
 *
 * All go over the datagram channel 10 -> 11, one message each:
 *   "pair"     one end S of a stream pair whose other end the process keeps at
 *              fd 20; each end has bytes queued from the other
 *   "both"     both ends A, B of a datagram pair, each with a message queued
 *   "seq-1/2"  the ends C, D of a seqpacket pair, on two messages; C -> D queued
 *   "nested"   E of a stream pair whose other end is fd 21; E's own queue holds
 *              "with-g" and, in flight on it, G of a stream pair whose other
 *              end is fd 22 (G with "to-g" queued)
 *   "listen"   a listening socket bound to a path, with a connection from fd 23
 *              not yet accepted
 *   "named"    a datagram socket with an abstract name and a message queued
 *   "accepted" the accepted side of a connection to the listener at fd 24 from
 *              fd 25, "hello" queued in it and "hi" in fd 25
 *   "gone"     a stream socket whose peer was closed after writing "bye"
 *   "twice-1/2" one datagram socket K on two messages (unnamed, no peer)
 *   "own"      X of a stream pair whose other end is fd 26; X's queue holds
 *              "kept" with fd 20 in flight on it (an fd of the process)
 * and over the stream channel 12 -> 13: "str" with S2 of a pair whose other
 * end is fd 27, then "eam" without files.
 * After CHECK: each message brings its sockets, which are the sockets they were:
 * of their type, with their names and queues, connected to the very fds of the
 * process (both ways), the listener accepting the queued and a new connection.
 */
#include "tst.h"

#include <errno.h>
#include <linux/kcmp.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void pair_at(int type, int sv[2])
{
	if (socketpair(AF_UNIX, type, 0, sv))
		tst_fail("socketpair: %s", strerror(errno));
}

static void keep_at(int fd, int at)
{
	if (dup2(fd, at) != at || close(fd))
		tst_fail("dup2 %d to %d: %s", fd, at, strerror(errno));
}

static void send_fds(int sk, const char *data, const int *fds, int nr)
{
	union {
		char b[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { (void *)data, strlen(data) };
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
	if (sendmsg(sk, &m, MSG_DONTWAIT) != (ssize_t)strlen(data))
		tst_fail("sendmsg '%s' on %d: %s", data, sk, strerror(errno));
}

/* One message, which must be want, and the nr files that came with it. */
static void recv_fds(int sk, const char *want, int *fds, int nr)
{
	union {
		char b[CMSG_SPACE(8 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	char buf[64] = "";
	struct iovec iov = { buf, sizeof(buf) - 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof(ctl.b) };
	ssize_t n = recvmsg(sk, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	int got = 0;

	if (n != (ssize_t)strlen(want) || memcmp(buf, want, n))
		tst_fail("fd %d: got %zd bytes '%s', want '%s' (%s)", sk, n, buf, want, n < 0 ? strerror(errno) : "");
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			int k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (int i = 0; i < k; i++)
				if (got + i < nr)
					memcpy(&fds[got + i], CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			got += k;
		}
	if (got != nr)
		tst_fail("'%s' brought %d files, want %d", want, got, nr);
}

static void say(int fd, const char *s)
{
	if (send(fd, s, strlen(s), MSG_DONTWAIT) != (ssize_t)strlen(s))
		tst_fail("send '%s' on fd %d: %s", s, fd, strerror(errno));
}

static void hear(int fd, const char *want)
{
	char buf[64] = "";
	ssize_t n = recv(fd, buf, strlen(want), MSG_DONTWAIT);

	if (n != (ssize_t)strlen(want) || memcmp(buf, want, n))
		tst_fail("fd %d: heard %zd bytes '%s', want '%s' (%s)", fd, n, buf, want, n < 0 ? strerror(errno) : "");
}

static void expect_empty(int fd)
{
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);

	if (n >= 0 || errno != EAGAIN)
		tst_fail("fd %d holds more than it did (recv %zd: %s)", fd, n, n < 0 ? strerror(errno) : "data");
}

/* a and b are the two ends of one connection: each hears what the other says */
static void talk(int a, int b, const char *what)
{
	say(a, "ping");
	hear(b, "ping");
	say(b, "pong");
	hear(a, "pong");
	expect_empty(a);
	expect_empty(b);
	(void)what;
}

static void expect_type(int fd, int type, const char *what)
{
	int v = -1;
	socklen_t l = sizeof(v);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &l) || v != type)
		tst_fail("%s: of type %d, was %d", what, v, type);
}

static socklen_t addr(struct sockaddr_un *a, const char *name, size_t len)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	memcpy(a->sun_path, name, len);
	return offsetof(struct sockaddr_un, sun_path) + len;
}

static void expect_name(int fd, const char *name, size_t len, const char *what)
{
	struct sockaddr_un a;
	socklen_t l = sizeof(a);

	/* (a path's name comes back with its 0 byte) */
	memset(&a, 0, sizeof(a));
	if (getsockname(fd, (struct sockaddr *)&a, &l) || l < offsetof(struct sockaddr_un, sun_path) + len ||
	    l > offsetof(struct sockaddr_un, sun_path) + len + (name[0] != 0) || memcmp(a.sun_path, name, len))
		tst_fail("%s: its name is not what it was bound to", what);
}

int main(int argc, char **argv)
{
	tst_init(argc, argv);
	const char *pl = tst_tmp_path("listen.sock"), *pa = tst_tmp_path("accept.sock");
	char abs[64];
	size_t abs_len = 1 + snprintf(abs + 1, sizeof(abs) - 1, "libcr-rights-%d", getpid());
	struct sockaddr_un a;
	socklen_t alen;
	int sv[2], sw[2], r[2], x, y;

	abs[0] = 0;
	pair_at(SOCK_DGRAM, sv);
	keep_at(sv[0], 10);
	keep_at(sv[1], 11);

	/* "pair": S goes, T stays at fd 20 */
	pair_at(SOCK_STREAM, sv);
	say(sv[1], "to-S");
	say(sv[0], "to-T");
	keep_at(sv[1], 20);
	send_fds(10, "pair", sv, 1);
	close(sv[0]);

	/* "both": both ends of a datagram pair on one message */
	pair_at(SOCK_DGRAM, sv);
	say(sv[0], "a-to-b");
	say(sv[1], "b-to-a");
	send_fds(10, "both", sv, 2);
	close(sv[0]);
	close(sv[1]);

	/* "seq-1", "seq-2": the ends of a seqpacket pair on two messages */
	pair_at(SOCK_SEQPACKET, sv);
	say(sv[0], "c-d");
	send_fds(10, "seq-1", &sv[0], 1);
	send_fds(10, "seq-2", &sv[1], 1);
	close(sv[0]);
	close(sv[1]);

	/* "nested": E carries G in its own queue */
	pair_at(SOCK_STREAM, sv);   /* E, F */
	pair_at(SOCK_STREAM, sw);   /* G, H */
	say(sw[1], "to-g");
	keep_at(sv[1], 21);
	keep_at(sw[1], 22);
	send_fds(21, "with-g", &sw[0], 1);
	close(sw[0]);
	send_fds(10, "nested", &sv[0], 1);
	close(sv[0]);

	/* "listen": a listener with a connection from fd 23 waiting */
	if ((x = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 || (alen = addr(&a, pl, strlen(pl)), bind(x, (void *)&a, alen)) ||
	    listen(x, 4) || (y = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 || connect(y, (void *)&a, alen))
		tst_fail("listener %s: %s", pl, strerror(errno));
	keep_at(y, 23);
	send_fds(10, "listen", &x, 1);
	close(x);

	/* "named": a datagram socket with an abstract name and a message for it */
	if ((x = socket(AF_UNIX, SOCK_DGRAM, 0)) < 0 || (alen = addr(&a, abs, abs_len), bind(x, (void *)&a, alen)) ||
	    (y = socket(AF_UNIX, SOCK_DGRAM, 0)) < 0 || sendto(y, "dgram", 5, 0, (void *)&a, alen) != 5)
		tst_fail("named datagram socket: %s", strerror(errno));
	close(y);
	send_fds(10, "named", &x, 1);
	close(x);

	/* "accepted": the connection accept() gave, passed on */
	if ((x = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 || (alen = addr(&a, pa, strlen(pa)), bind(x, (void *)&a, alen)) ||
	    listen(x, 4) || (y = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 || connect(y, (void *)&a, alen))
		tst_fail("listener %s: %s", pa, strerror(errno));
	keep_at(x, 24);
	keep_at(y, 25);
	if ((x = accept(24, NULL, NULL)) < 0)
		tst_fail("accept: %s", strerror(errno));
	say(25, "hello");
	say(x, "hi");
	send_fds(10, "accepted", &x, 1);
	close(x);

	/* "gone": its peer wrote and closed */
	pair_at(SOCK_STREAM, sv);
	say(sv[1], "bye");
	close(sv[1]);
	send_fds(10, "gone", sv, 1);
	close(sv[0]);

	/* "twice-1", "twice-2": one socket on two messages */
	if ((x = socket(AF_UNIX, SOCK_DGRAM, 0)) < 0)
		tst_fail("socket: %s", strerror(errno));
	send_fds(10, "twice-1", &x, 1);
	send_fds(10, "twice-2", &x, 1);
	close(x);

	/* "own": X carries fd 20 */
	pair_at(SOCK_STREAM, sv);
	keep_at(sv[1], 26);
	send_fds(26, "kept", (int[]){ 20 }, 1);
	send_fds(10, "own", sv, 1);
	close(sv[0]);

	/* the stream channel: the socket goes with "str", "eam" follows */
	pair_at(SOCK_STREAM, sv);
	keep_at(sv[0], 12);
	keep_at(sv[1], 13);
	pair_at(SOCK_STREAM, sv);
	keep_at(sv[1], 27);
	send_fds(12, "str", sv, 1);
	close(sv[0]);
	say(12, "eam");

	tst_ready();
	tst_wait_check();
	if (tst_corrupting())
		say(20, "x");

	recv_fds(11, "pair", r, 1);
	expect_type(r[0], SOCK_STREAM, "the stream end in flight");
	hear(r[0], "to-S");
	hear(20, "to-T");
	talk(r[0], 20, "pair");
	close(r[0]);

	recv_fds(11, "both", r, 2);
	expect_type(r[0], SOCK_DGRAM, "a datagram end in flight");
	hear(r[0], "b-to-a");
	hear(r[1], "a-to-b");
	talk(r[0], r[1], "both");
	close(r[0]);
	close(r[1]);

	recv_fds(11, "seq-1", &x, 1);
	recv_fds(11, "seq-2", &y, 1);
	expect_type(x, SOCK_SEQPACKET, "a seqpacket end in flight");
	hear(y, "c-d");
	talk(x, y, "seq");
	close(x);
	close(y);

	recv_fds(11, "nested", &x, 1);
	recv_fds(x, "with-g", &y, 1);
	hear(y, "to-g");
	talk(y, 22, "nested G");
	talk(x, 21, "nested E");
	close(x);
	close(y);

	recv_fds(11, "listen", &x, 1);
	expect_name(x, pl, strlen(pl), "the listener in flight");
	if ((y = accept4(x, NULL, NULL, SOCK_NONBLOCK)) < 0)
		tst_fail("the listener in flight lost its waiting connection: %s", strerror(errno));
	talk(y, 23, "listen");
	close(y);
	alen = addr(&a, pl, strlen(pl));
	if ((y = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 || connect(y, (void *)&a, alen) ||
	    (r[0] = accept4(x, NULL, NULL, SOCK_NONBLOCK)) < 0)
		tst_fail("the listener in flight does not accept a new connection: %s", strerror(errno));
	talk(y, r[0], "listen new");
	close(r[0]);
	close(y);
	close(x);

	recv_fds(11, "named", &x, 1);
	expect_name(x, abs, abs_len, "the named datagram socket in flight");
	hear(x, "dgram");
	alen = addr(&a, abs, abs_len);
	if ((y = socket(AF_UNIX, SOCK_DGRAM, 0)) < 0 || sendto(y, "again", 5, 0, (void *)&a, alen) != 5)
		tst_fail("can't send to the named datagram socket in flight: %s", strerror(errno));
	hear(x, "again");
	close(y);
	close(x);

	recv_fds(11, "accepted", &x, 1);
	expect_name(x, pa, strlen(pa), "the accepted socket in flight");
	hear(x, "hello");
	hear(25, "hi");
	talk(x, 25, "accepted");
	close(x);

	recv_fds(11, "gone", &x, 1);
	hear(x, "bye");
	if (recv(x, r, 1, MSG_DONTWAIT) != 0)
		tst_fail("the socket in flight whose peer was gone does not read the end after 'bye'");
	close(x);

	recv_fds(11, "twice-1", &x, 1);
	recv_fds(11, "twice-2", &y, 1);
	if (syscall(SYS_kcmp, getpid(), getpid(), KCMP_FILE, x, y))
		tst_fail("the socket sent twice came back as two open files");
	expect_type(x, SOCK_DGRAM, "the socket sent twice");
	close(x);
	close(y);

	recv_fds(11, "own", &x, 1);
	recv_fds(x, "kept", &y, 1);
	if (syscall(SYS_kcmp, getpid(), getpid(), KCMP_FILE, y, 20))
		tst_fail("the fd in flight on a socket in flight is not fd 20's open file description");
	close(y);
	talk(x, 26, "own");
	close(x);
	expect_empty(11);

	/* a stream gives the files with the bytes up to them: "str" alone */
	recv_fds(13, "str", &x, 1);
	hear(13, "eam");
	talk(x, 27, "stream");
	close(x);
	expect_empty(13);
	tst_pass();
}

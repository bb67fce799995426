/* sk-rights-inet: IPv4 sockets in flight (SCM_RIGHTS) that no fd of the process
 * holds any more, over the datagram channel 10 -> 11, one message each:
 *   "udp"      a UDP socket bound to 127.0.0.1 (an ephemeral port)
 *   "listen"   a listening TCP socket on 127.0.0.1
 *   "accepted" (--tcp; dump with --tcp-established) the connection accepted
 *              from fd 30, a listener, for fd 31, the client: "hello" unread in
 *              it, "hi" unread in fd 31
 *   --outside PORT  also "outside": a connection to 127.0.0.1:PORT, a server
 *              outside the tree that answers "pong" to "ping" (test/net-errors.sh)
 *   --unsent   (with --tcp) the accepted connection also sends until its
 *              buffers are full: bytes it has not sent yet, which the dump
 *              refuses (test/net-errors.sh); after CHECK it only arrives
 *   --nested   all of it in a child in a network namespace of its own (lo up),
 *              the root in the runner's waiting for it: the connection in flight
 *              is locked in that nested namespace
 * After CHECK: each arrives on its message and is the socket it was: the UDP
 * socket on its port receives, the listener on its port accepts, the accepted
 * connection has its bytes and carries on with fd 31 both ways.
 */
#include "tst.h"

#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void send_fd(int sk, const char *data, int fd)
{
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { (void *)data, strlen(data) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof(ctl.b) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	if (sendmsg(sk, &m, MSG_DONTWAIT) != (ssize_t)strlen(data))
		tst_fail("sendmsg '%s': %s", data, strerror(errno));
}

static int recv_fd(int sk, const char *want)
{
	union {
		char b[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	char buf[32] = "";
	struct iovec iov = { buf, sizeof(buf) - 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof(ctl.b) };
	ssize_t n = recvmsg(sk, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
	int fd;

	if (n != (ssize_t)strlen(want) || memcmp(buf, want, n))
		tst_fail("got %zd bytes '%s', want '%s' (%s)", n, buf, want, n < 0 ? strerror(errno) : "");
	if (!cm || cm->cmsg_type != SCM_RIGHTS || cm->cmsg_len != CMSG_LEN(sizeof(int)))
		tst_fail("'%s' did not bring one file", want);
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

/* want arrives on fd within a few seconds (the restored connections resume) */
static void hear(int fd, const char *want)
{
	char buf[32] = "";
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n = -1;

	if (poll(&p, 1, 5000) == 1)
		n = recv(fd, buf, strlen(want), MSG_DONTWAIT);
	if (n != (ssize_t)strlen(want) || memcmp(buf, want, n))
		tst_fail("fd %d: heard %zd bytes '%s', want '%s' (%s)", fd, n, buf, want, n < 0 ? strerror(errno) : "");
}

static void say(int fd, const char *s)
{
	if (send(fd, s, strlen(s), MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)strlen(s))
		tst_fail("send '%s' on fd %d: %s", s, fd, strerror(errno));
}

static int bound(int type, struct sockaddr_in *a)
{
	socklen_t l = sizeof(*a);
	int sk = socket(AF_INET, type, 0);

	*a = (struct sockaddr_in){ .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (sk < 0 || bind(sk, (struct sockaddr *)a, sizeof(*a)) || getsockname(sk, (struct sockaddr *)a, &l))
		tst_fail("bind: %s", strerror(errno));
	return sk;
}

static void expect_port(int sk, const struct sockaddr_in *was, const char *what)
{
	struct sockaddr_in a;
	socklen_t l = sizeof(a);

	if (getsockname(sk, (struct sockaddr *)&a, &l) || a.sin_port != was->sin_port || a.sin_addr.s_addr != was->sin_addr.s_addr)
		tst_fail("%s: not on the address and port it was bound to", what);
}

/* --nested: the rest runs in a child in a new network namespace; we wait for it. */
static void nest(void)
{
	struct ifreq r = { .ifr_name = "lo" };
	int st, sk;
	pid_t c = fork();

	if (c < 0)
		tst_fail("fork: %s", strerror(errno));
	if (c) {
		while (waitpid(c, &st, 0) < 0)
			if (errno != EINTR)
				_exit(1);
		_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 1);
	}
	if (unshare(CLONE_NEWNET) || (sk = socket(AF_INET, SOCK_DGRAM, 0)) < 0 || ioctl(sk, SIOCGIFFLAGS, &r))
		tst_fail("a network namespace: %s", strerror(errno));
	r.ifr_flags |= IFF_UP;
	if (ioctl(sk, SIOCSIFFLAGS, &r) || close(sk))
		tst_fail("lo up: %s", strerror(errno));
}

int main(int argc, char **argv)
{
	tst_init_opts(argc, argv, "outside", "tcp,unsent,nested");
	if (tst_opt_flag("nested"))
		nest();
	bool tcp = tst_opt_flag("tcp"), unsent = tst_opt_flag("unsent");
	long outside = tst_opt_long("outside", 0);
	struct sockaddr_in ao = { .sin_family = AF_INET, .sin_port = htons(outside),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in au, al, aa;
	int sv[2], x, y, on = 1;
	socklen_t l = sizeof(on);

	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) || dup2(sv[0], 10) != 10 || dup2(sv[1], 11) != 11 || close(sv[0]) ||
	    close(sv[1]))
		tst_fail("channel: %s", strerror(errno));

	x = bound(SOCK_DGRAM, &au);
	send_fd(10, "udp", x);
	close(x);

	x = bound(SOCK_STREAM, &al);
	if (listen(x, 4))
		tst_fail("listen: %s", strerror(errno));
	send_fd(10, "listen", x);
	close(x);

	if (tcp) {
		x = bound(SOCK_STREAM, &aa);
		if (listen(x, 4) || dup2(x, 30) != 30 || close(x) || (y = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
		    connect(y, (struct sockaddr *)&aa, sizeof(aa)) || dup2(y, 31) != 31 || close(y) ||
		    (x = accept(30, NULL, NULL)) < 0)
			tst_fail("connection: %s", strerror(errno));
		say(31, "hello");
		say(x, "hi");
		/* both queued at the other end before the dump */
		struct pollfd p[2] = { { .fd = x, .events = POLLIN }, { .fd = 31, .events = POLLIN } };
		for (int i = 0; i < 2; i++)
			if (poll(&p[i], 1, 5000) != 1)
				tst_fail("the bytes did not cross the connection");
		if (unsent) {
			static char fill[65536];
			while (send(x, fill, sizeof(fill), MSG_DONTWAIT) > 0)
				;
		}
		send_fd(10, "accepted", x);
		close(x);
	}

	if (outside) {
		if ((x = socket(AF_INET, SOCK_STREAM, 0)) < 0 || connect(x, (struct sockaddr *)&ao, sizeof(ao)))
			tst_fail("can't connect to the server outside on port %ld: %s", outside, strerror(errno));
		send_fd(10, "outside", x);
		close(x);
	}

	tst_ready();
	tst_wait_check();
	if (tst_corrupting())
		close(11);

	x = recv_fd(11, "udp");
	expect_port(x, &au, "the UDP socket in flight");
	if ((y = socket(AF_INET, SOCK_DGRAM, 0)) < 0 || sendto(y, "dgram", 5, 0, (struct sockaddr *)&au, sizeof(au)) != 5)
		tst_fail("can't send to the UDP socket in flight: %s", strerror(errno));
	hear(x, "dgram");
	close(y);
	close(x);

	x = recv_fd(11, "listen");
	expect_port(x, &al, "the listener in flight");
	if (getsockopt(x, SOL_SOCKET, SO_ACCEPTCONN, &on, &l) || !on)
		tst_fail("the TCP socket in flight is not listening");
	if ((y = socket(AF_INET, SOCK_STREAM, 0)) < 0 || connect(y, (struct sockaddr *)&al, sizeof(al)))
		tst_fail("can't connect to the listener in flight: %s", strerror(errno));
	int c = accept(x, NULL, NULL);
	if (c < 0)
		tst_fail("the listener in flight does not accept: %s", strerror(errno));
	say(y, "new");
	hear(c, "new");
	close(c);
	close(y);
	close(x);

	if (tcp && unsent) {
		close(recv_fd(11, "accepted"));
	} else if (tcp) {
		x = recv_fd(11, "accepted");
		hear(x, "hello");
		hear(31, "hi");
		say(x, "ping");
		hear(31, "ping");
		say(31, "pong");
		hear(x, "pong");
		close(x);
	}
	if (outside) {
		struct sockaddr_in a;
		socklen_t al = sizeof(a);

		x = recv_fd(11, "outside");
		if (getpeername(x, (struct sockaddr *)&a, &al) || a.sin_port != ao.sin_port)
			tst_fail("the connection in flight is not connected to the server outside any more");
		say(x, "ping");
		hear(x, "pong");
		close(x);
	}
	tst_pass();
}

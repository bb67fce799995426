/* sk-rights-tree: fd passing from a server to its worker, a child process,
 * over a datagram socket pair made before the fork (the root holds one end,
 * the worker the other); what the root sent, then closed, is in flight on the
 * worker's end at the dump:
 *   "udp"      a UDP socket bound to 127.0.0.1
 *   "gone"     a unix stream socket whose peer wrote "bye" and was closed
 *   "listen"   a listening TCP socket on 127.0.0.1
 *   "accepted" (--tcp; dump with --tcp-established) the connection the root
 *              accepted from its own client (kept by the root), "hello" unread
 *              in it and "hi" unread in the client
 * After CHECK the worker receives each and uses it: the UDP socket receives on
 * its port, "bye" then the end, the listener accepts a new connection, and the
 * accepted connection has "hello" and talks with the root's client.
 * --corrupt: the worker drops the first message before it looks.
 */
#include "tst.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

struct ctl {
	atomic_int phase;        /* 1: check, 2: exit */
	atomic_int started;
	atomic_int done;         /* the worker's verdict: 1 pass, 2 fail */
	char why[200];
	struct sockaddr_in udp, listen;
};

static struct ctl *ctl;
static int ch[2], client = -1;
static bool tcp;

static void send_fd(int sk, const char *data, int fd)
{
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} c;
	struct iovec iov = { (void *)data, strlen(data) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.b, .msg_controllen = sizeof(c.b) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	if (sendmsg(sk, &m, MSG_DONTWAIT) != (ssize_t)strlen(data))
		tst_fail("sendmsg '%s': %s", data, strerror(errno));
	close(fd);
}

static bool fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static bool fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctl->why, sizeof(ctl->why), fmt, ap);
	va_end(ap);
	return false;
}

static int recv_fd(int sk, const char *want)
{
	union {
		char b[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} c;
	char buf[32] = "";
	struct iovec iov = { buf, sizeof(buf) - 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.b, .msg_controllen = sizeof(c.b) };
	ssize_t n = recvmsg(sk, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
	int fd = -1;

	if (n != (ssize_t)strlen(want) || memcmp(buf, want, n))
		return fail("got %zd bytes '%s', want '%s' (%s)", n, buf, want, n < 0 ? strerror(errno) : ""), -1;
	if (!cm || cm->cmsg_type != SCM_RIGHTS || cm->cmsg_len != CMSG_LEN(sizeof(int)))
		return fail("'%s' did not bring one file", want), -1;
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

/* want arrives on fd within 5 s (a restored connection resumes; the other process answers) */
static bool hear(int fd, const char *want)
{
	char buf[32] = "";
	ssize_t n = -1;

	for (int i = 0; i < 1000; i++) {
		if ((n = recv(fd, buf, strlen(want), MSG_DONTWAIT)) >= 0 || errno != EAGAIN)
			break;
		tst_sleep_ms(5);
	}
	if (n != (ssize_t)strlen(want) || memcmp(buf, want, n))
		return fail("fd %d: heard %zd bytes '%s', want '%s'", fd, n, buf, want);
	return true;
}

static bool say(int fd, const char *s)
{
	if (send(fd, s, strlen(s), MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)strlen(s))
		return fail("send '%s' on fd %d: %s", s, fd, strerror(errno));
	return true;
}

static bool same_port(int sk, const struct sockaddr_in *was)
{
	struct sockaddr_in a;
	socklen_t l = sizeof(a);

	return !getsockname(sk, (struct sockaddr *)&a, &l) && a.sin_port == was->sin_port;
}

static bool worker_check(void)
{
	int x, y, c;

	if (tst_corrupting())
		recv(ch[1], &c, 1, MSG_DONTWAIT);   /* "udp" and its socket are lost */
	if ((x = recv_fd(ch[1], "udp")) < 0)
		return false;
	if (!same_port(x, &ctl->udp))
		return fail("the UDP socket in flight is not on its port");
	if ((y = socket(AF_INET, SOCK_DGRAM, 0)) < 0 ||
	    sendto(y, "dgram", 5, 0, (struct sockaddr *)&ctl->udp, sizeof(ctl->udp)) != 5 || !hear(x, "dgram"))
		return fail("the UDP socket in flight does not receive: %s", ctl->why);
	close(x);
	close(y);

	if ((x = recv_fd(ch[1], "gone")) < 0 || !hear(x, "bye"))
		return false;
	if (recv(x, &c, 1, MSG_DONTWAIT) != 0)
		return fail("the unix socket whose peer was gone does not read the end");
	close(x);

	if ((x = recv_fd(ch[1], "listen")) < 0)
		return false;
	if (!same_port(x, &ctl->listen) || (y = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    connect(y, (struct sockaddr *)&ctl->listen, sizeof(ctl->listen)) || (c = accept(x, NULL, NULL)) < 0)
		return fail("the listener in flight does not accept on its port: %s", strerror(errno));
	if (!say(y, "new") || !hear(c, "new"))
		return false;
	close(c);
	close(y);
	close(x);

	if (tcp) {
		if ((x = recv_fd(ch[1], "accepted")) < 0 || !hear(x, "hello") || !say(x, "ping") || !hear(x, "pong"))
			return false;
		close(x);
	}
	return true;
}

static void worker(void)
{
	close(ch[0]);
	if (client >= 0)
		close(client);
	atomic_fetch_add(&ctl->started, 1);
	while (atomic_load(&ctl->phase) == 0)
		tst_sleep_ms(5);
	if (atomic_load(&ctl->phase) == 1)
		atomic_store(&ctl->done, worker_check() ? 1 : 2);
	while (atomic_load(&ctl->phase) != 2)
		tst_sleep_ms(5);
	_exit(0);
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

int main(int argc, char **argv)
{
	struct sockaddr_in aa;
	int x, y, l = -1;

	tst_init_opts(argc, argv, NULL, "tcp");
	tcp = tst_opt_flag("tcp");
	ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ctl == MAP_FAILED)
		tst_fail("mmap: %s", strerror(errno));
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, ch))
		tst_fail("socketpair: %s", strerror(errno));
	if (tcp) {
		/* the root's listener and client, made before the fork: the worker closes the client */
		if ((l = bound(SOCK_STREAM, &aa)) < 0 || listen(l, 4) || (client = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
		    connect(client, (struct sockaddr *)&aa, sizeof(aa)))
			tst_fail("connection: %s", strerror(errno));
	}
	pid_t p = fork();
	if (p < 0)
		tst_fail("fork: %s", strerror(errno));
	if (!p)
		worker();
	close(ch[1]);

	x = bound(SOCK_DGRAM, &ctl->udp);
	send_fd(ch[0], "udp", x);

	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) || send(sv[1], "bye", 3, 0) != 3)
		tst_fail("pair: %s", strerror(errno));
	close(sv[1]);
	send_fd(ch[0], "gone", sv[0]);

	x = bound(SOCK_STREAM, &ctl->listen);
	if (listen(x, 4))
		tst_fail("listen: %s", strerror(errno));
	send_fd(ch[0], "listen", x);

	if (tcp) {
		if ((y = accept(l, NULL, NULL)) < 0 || send(client, "hello", 5, 0) != 5 || send(y, "hi", 2, 0) != 2)
			tst_fail("accept: %s", strerror(errno));
		/* both across before the dump */
		char b[8];
		for (int i = 0; i < 1000 && (recv(y, b, 5, MSG_PEEK | MSG_DONTWAIT) != 5 ||
					     recv(client, b, 2, MSG_PEEK | MSG_DONTWAIT) != 2); i++)
			tst_sleep_ms(5);
		send_fd(ch[0], "accepted", y);
	}
	for (int i = 0; i < 2000 && atomic_load(&ctl->started) < 1; i++)
		tst_sleep_ms(5);
	if (atomic_load(&ctl->started) < 1)
		tst_fail("the worker did not start");

	tst_ready();
	tst_wait_check();
	atomic_store(&ctl->phase, 1);
	bool ok = true;
	if (tcp) {
		/* the client: "hi", then the worker's "ping", answered */
		ok = hear(client, "hi") && hear(client, "ping") && say(client, "pong");
	}
	for (int i = 0; i < 2000 && !atomic_load(&ctl->done); i++)
		tst_sleep_ms(5);
	int done = atomic_load(&ctl->done);
	atomic_store(&ctl->phase, 2);
	if (!ok)
		tst_fail("the root: %s", ctl->why);
	if (done != 1)
		tst_fail("the worker: %s", done ? ctl->why : "no answer");
	tst_pass();
}

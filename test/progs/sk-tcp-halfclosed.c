/* sk-tcp-halfclosed: half-closed TCP connections, both ends in this process
 * (IPv4, IPv6, and IPv6 sockets talking IPv4 over loopback).  Run with --dump-arg --tcp-established.
 *
 * The client sends 10000 bytes and shuts down writing (FIN_WAIT2); the server
 * end (CLOSE_WAIT) has read 2000 of them.  The server sent 5000 bytes the
 * client has not read.
 * After CHECK: the server reads the other 8000 bytes, then the end of the
 * stream; the client reads the 5000, then 3000 more the server sends, then the
 * end of the stream once the server closes.
 */
#include "tst.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static unsigned char c2s[10000], s2c[8000];

static void read_exact(int fd, unsigned char *want, size_t len, const char *who)
{
	unsigned char buf[10000];
	size_t got = 0;
	struct pollfd p = { .fd = fd, .events = POLLIN };

	while (got < len) {
		if (poll(&p, 1, 20000) != 1)
			tst_fail("%s: nothing to read after %zu of %zu bytes", who, got, len);
		ssize_t n = recv(fd, buf + got, len - got, 0);
		if (n <= 0)
			tst_fail("%s: %s after %zu of %zu bytes", who, n ? strerror(errno) : "end of stream", got, len);
		got += n;
	}
	if (memcmp(buf, want, len))
		tst_fail("%s: wrong bytes", who);
}

static void read_eof(int fd, const char *who)
{
	char b;
	struct pollfd p = { .fd = fd, .events = POLLIN };

	if (poll(&p, 1, 20000) != 1)
		tst_fail("%s: no end of stream", who);
	ssize_t n = recv(fd, &b, 1, 0);
	if (n != 0)
		tst_fail("%s: %s instead of the end of stream", who, n > 0 ? "a byte" : strerror(errno));
}

struct pair { int fam, cli, srv; };

static void setup(struct pair *p, int fam, bool mapped)
{
	struct sockaddr_storage a = { .ss_family = fam };
	socklen_t l = fam == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	int ls;

	p->fam = fam;
	if (fam == AF_INET)
		((struct sockaddr_in *)&a)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else if (mapped)
		inet_pton(AF_INET6, "::ffff:127.0.0.1", &((struct sockaddr_in6 *)&a)->sin6_addr);
	else
		((struct sockaddr_in6 *)&a)->sin6_addr = in6addr_loopback;
	if ((ls = socket(fam, SOCK_STREAM, 0)) < 0 || bind(ls, (struct sockaddr *)&a, l) || listen(ls, 1) ||
	    getsockname(ls, (struct sockaddr *)&a, &l) || (p->cli = socket(fam, SOCK_STREAM, 0)) < 0 ||
	    connect(p->cli, (struct sockaddr *)&a, l) || (p->srv = accept(ls, NULL, NULL)) < 0)
		tst_fail("connection: %s", strerror(errno));
	close(ls);
	unsigned char buf[2000];
	if (send(p->cli, c2s, sizeof(c2s), 0) != sizeof(c2s) || shutdown(p->cli, SHUT_WR) ||
	    send(p->srv, s2c, 5000, 0) != 5000)
		tst_fail("send: %s", strerror(errno));
	tst_sleep_ms(20);
	if (recv(p->srv, buf, sizeof(buf), MSG_WAITALL) != sizeof(buf) || memcmp(buf, c2s, sizeof(buf)))
		tst_fail("server read");
	struct tcp_info ti;
	socklen_t tl = sizeof(ti);
	getsockopt(p->srv, IPPROTO_TCP, TCP_INFO, &ti, &tl);
	if (ti.tcpi_state != TCP_CLOSE_WAIT)
		tst_fail("the server end is in state %d, not CLOSE_WAIT", ti.tcpi_state);
}

int main(int argc, char **argv)
{
	tst_init(argc, argv);
	struct pair p[3];

	tst_fill(c2s, sizeof(c2s), tst_seed());
	tst_fill(s2c, sizeof(s2c), tst_seed());
	setup(&p[0], AF_INET, false);
	setup(&p[1], AF_INET6, false);
	setup(&p[2], AF_INET6, true);

	tst_ready();
	tst_wait_check();

	if (tst_corrupting()) {
		unsigned char b;
		recv(p[0].srv, &b, 1, 0);
	}
	for (int i = 0; i < 3; i++) {
		struct tcp_info ti;
		socklen_t tl = sizeof(ti);
		getsockopt(p[i].srv, IPPROTO_TCP, TCP_INFO, &ti, &tl);
		if (ti.tcpi_state != TCP_CLOSE_WAIT)
			tst_fail("family %d: the server end is in state %d, not CLOSE_WAIT", p[i].fam, ti.tcpi_state);
		read_exact(p[i].srv, c2s + 2000, 8000, "server");
		read_eof(p[i].srv, "server");
		read_exact(p[i].cli, s2c, 5000, "client");
		if (send(p[i].srv, s2c + 5000, 3000, 0) != 3000 || close(p[i].srv))
			tst_fail("server send: %s", strerror(errno));
		read_exact(p[i].cli, s2c + 5000, 3000, "client");
		read_eof(p[i].cli, "client");
	}
	tst_pass();
}

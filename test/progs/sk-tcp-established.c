/* sk-tcp-established: TCP connections with both ends in this process, over
 * IPv4 and IPv6 loopback, caught with data in every queue.
 *
 * For each family: a listener, a client connected to it and the accepted
 * server end; a third pair is IPv6 sockets talking IPv4 (::ffff:127.0.0.1).  The client's receive buffer is small, so the server's 1 MiB
 * burst leaves data unread at the client and queued (sent-unacked and unsent)
 * at the server; the server reads only part of the client's 96 KiB.  The
 * client has TCP_NODELAY and keepalive with its own times, the server end is
 * O_NONBLOCK.  Run with --dump-arg --tcp-established.
 * After CHECK: options and addresses as they were; both streams continue to
 * their end with exactly the bytes sent (a PRNG stream each), then 64 KiB more
 * each way; the listener still accepts.
 */
#include "tst.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define C2S (96 * 1024)       /* client to server, before the dump */
#define S2C (1024 * 1024)     /* server to client, at most */
#define MORE (64 * 1024)      /* each way after the restore */

struct conn {
	int fam, lsk, cli, srv;
	struct sockaddr_storage la, ca;   /* listener and client addresses */
	size_t c2s_sent, c2s_read, s2c_sent, s2c_read;
};

static unsigned char *c2s_data, *s2c_data;

static socklen_t addr_len(int fam)
{
	return fam == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
}

static void setup(struct conn *c, int fam, bool mapped)
{
	struct sockaddr_storage a = { .ss_family = fam };
	socklen_t l = addr_len(fam);
	int one = 1, small = 16384, idle = 77, intvl = 11, cnt = 5;

	c->fam = fam;
	if (fam == AF_INET)
		((struct sockaddr_in *)&a)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else if (mapped)
		inet_pton(AF_INET6, "::ffff:127.0.0.1", &((struct sockaddr_in6 *)&a)->sin6_addr);
	else
		((struct sockaddr_in6 *)&a)->sin6_addr = in6addr_loopback;
	if ((c->lsk = socket(fam, SOCK_STREAM, 0)) < 0 || setsockopt(c->lsk, SOL_SOCKET, SO_REUSEADDR, &one, 4) ||
	    bind(c->lsk, (struct sockaddr *)&a, l) || listen(c->lsk, 5) ||
	    getsockname(c->lsk, (struct sockaddr *)&c->la, &l))
		tst_fail("listener: %s", strerror(errno));
	if ((c->cli = socket(fam, SOCK_STREAM, 0)) < 0 || setsockopt(c->cli, SOL_SOCKET, SO_RCVBUF, &small, 4) ||
	    setsockopt(c->cli, IPPROTO_TCP, TCP_NODELAY, &one, 4) || setsockopt(c->cli, SOL_SOCKET, SO_KEEPALIVE, &one, 4) ||
	    setsockopt(c->cli, IPPROTO_TCP, TCP_KEEPIDLE, &idle, 4) ||
	    setsockopt(c->cli, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, 4) ||
	    setsockopt(c->cli, IPPROTO_TCP, TCP_KEEPCNT, &cnt, 4) ||
	    connect(c->cli, (struct sockaddr *)&c->la, addr_len(fam)))
		tst_fail("client: %s", strerror(errno));
	l = sizeof(c->ca);
	if ((c->srv = accept4(c->lsk, (struct sockaddr *)&c->ca, &l, SOCK_NONBLOCK)) < 0)
		tst_fail("accept: %s", strerror(errno));
}

static void xfer_before(struct conn *c)
{
	/* the client's 96 KiB fits the server's buffers: the server reads a third */
	while (c->c2s_sent < C2S) {
		ssize_t n = send(c->cli, c2s_data + c->c2s_sent, C2S - c->c2s_sent, MSG_DONTWAIT);
		if (n <= 0)
			break;
		c->c2s_sent += n;
	}
	tst_sleep_ms(50);
	ssize_t n = recv(c->srv, c2s_data + 0, 0, 0);
	(void)n;
	unsigned char buf[C2S / 3];
	size_t want = sizeof(buf);
	while (c->c2s_read < want) {
		n = recv(c->srv, buf, want - c->c2s_read, 0);
		if (n <= 0) {
			if (errno == EAGAIN)
				continue;
			tst_fail("server read: %s", strerror(errno));
		}
		if (memcmp(buf, c2s_data + c->c2s_read, n))
			tst_fail("server read wrong bytes before the dump");
		c->c2s_read += n;
	}
	/* the server floods until its buffers are full */
	for (int idle = 0; c->s2c_sent < S2C && idle < 20;) {
		n = send(c->srv, s2c_data + c->s2c_sent, S2C - c->s2c_sent, MSG_DONTWAIT);
		if (n > 0) {
			c->s2c_sent += n;
			idle = 0;
		} else {
			idle++;
			tst_sleep_ms(10);
		}
	}
	tst_info("family %d: client sent %zu (server read %zu), server sent %zu", c->fam, c->c2s_sent, c->c2s_read,
		 c->s2c_sent);
}

static void check_opts(struct conn *c)
{
	int v[5];
	socklen_t l = 4;
	struct sockaddr_storage a;
	socklen_t al = sizeof(a);

	getsockopt(c->cli, IPPROTO_TCP, TCP_NODELAY, &v[0], &l);
	getsockopt(c->cli, SOL_SOCKET, SO_KEEPALIVE, &v[1], &l);
	getsockopt(c->cli, IPPROTO_TCP, TCP_KEEPIDLE, &v[2], &l);
	getsockopt(c->cli, IPPROTO_TCP, TCP_KEEPINTVL, &v[3], &l);
	getsockopt(c->cli, IPPROTO_TCP, TCP_KEEPCNT, &v[4], &l);
	if (!v[0] || !v[1] || v[2] != 77 || v[3] != 11 || v[4] != 5)
		tst_fail("client options: nodelay %d keepalive %d idle %d intvl %d cnt %d", v[0], v[1], v[2], v[3], v[4]);
	if (!(fcntl(c->srv, F_GETFL) & O_NONBLOCK) || (fcntl(c->cli, F_GETFL) & O_NONBLOCK))
		tst_fail("O_NONBLOCK not as it was");
	if (getpeername(c->srv, (struct sockaddr *)&a, &al) || memcmp(&a, &c->ca, addr_len(c->fam)))
		tst_fail("the server end's peer changed");
	al = sizeof(a);
	if (getpeername(c->cli, (struct sockaddr *)&a, &al) || memcmp(&a, &c->la, addr_len(c->fam)))
		tst_fail("the client's peer changed");
	struct tcp_info ti;
	l = sizeof(ti);
	if (getsockopt(c->srv, IPPROTO_TCP, TCP_INFO, &ti, &l) || ti.tcpi_state != TCP_ESTABLISHED)
		tst_fail("the server end is not established (state %d)", ti.tcpi_state);
}

/* Both streams to their end (plus MORE each way), checked byte for byte. */
static void finish(struct conn *c)
{
	size_t c2s_end = c->c2s_sent + MORE, s2c_end = c->s2c_sent + MORE;
	unsigned char buf[65536];
	uint64_t t0 = tst_now_ns(CLOCK_MONOTONIC);

	fcntl(c->cli, F_SETFL, O_NONBLOCK);
	while (c->c2s_read < c2s_end || c->s2c_read < s2c_end) {
		struct pollfd p[2] = { { c->cli, POLLIN | (c->c2s_sent < c2s_end ? POLLOUT : 0), 0 },
				       { c->srv, POLLIN | (c->s2c_sent < s2c_end ? POLLOUT : 0), 0 } };
		if (tst_now_ns(CLOCK_MONOTONIC) - t0 > 40ull * 1000000000)
			tst_fail("stalled: c2s %zu/%zu, s2c %zu/%zu", c->c2s_read, c2s_end, c->s2c_read, s2c_end);
		if (poll(p, 2, 1000) < 0)
			tst_fail("poll: %s", strerror(errno));
		if (p[0].revents & (POLLERR | POLLHUP) || p[1].revents & (POLLERR | POLLHUP)) {
			int e = 0;
			socklen_t l = 4;
			getsockopt(p[0].revents & POLLERR ? c->cli : c->srv, SOL_SOCKET, SO_ERROR, &e, &l);
			tst_fail("connection broken: %s", strerror(e));
		}
		if (p[0].revents & POLLOUT) {
			ssize_t n = send(c->cli, c2s_data + c->c2s_sent, c2s_end - c->c2s_sent, MSG_DONTWAIT);
			if (n > 0)
				c->c2s_sent += n;
		}
		if (p[1].revents & POLLOUT) {
			ssize_t n = send(c->srv, s2c_data + c->s2c_sent, s2c_end - c->s2c_sent, MSG_DONTWAIT);
			if (n > 0)
				c->s2c_sent += n;
		}
		if (p[0].revents & POLLIN) {
			ssize_t n = recv(c->cli, buf, sizeof(buf), 0);
			if (n == 0)
				tst_fail("the client saw the end of the stream at %zu", c->s2c_read);
			if (n > 0) {
				if (c->s2c_read + n > s2c_end || memcmp(buf, s2c_data + c->s2c_read, n))
					tst_fail("client got wrong bytes at %zu", c->s2c_read);
				c->s2c_read += n;
			}
		}
		if (p[1].revents & POLLIN) {
			ssize_t n = recv(c->srv, buf, sizeof(buf), 0);
			if (n == 0)
				tst_fail("the server saw the end of the stream at %zu", c->c2s_read);
			if (n > 0) {
				if (c->c2s_read + n > c2s_end || memcmp(buf, c2s_data + c->c2s_read, n))
					tst_fail("server got wrong bytes at %zu", c->c2s_read);
				c->c2s_read += n;
			}
		}
	}
	/* the listener still takes connections */
	int s = socket(c->fam, SOCK_STREAM, 0), a;
	if (s < 0 || connect(s, (struct sockaddr *)&c->la, addr_len(c->fam)) || (a = accept(c->lsk, NULL, NULL)) < 0)
		tst_fail("the listener does not accept: %s", strerror(errno));
	close(a);
	close(s);
}

int main(int argc, char **argv)
{
	tst_init(argc, argv);
	struct conn c[3] = { 0 };
	uint64_t seed = tst_seed();

	c2s_data = malloc(C2S + MORE);
	s2c_data = malloc(S2C + MORE);
	if (!c2s_data || !s2c_data)
		tst_fail("malloc");
	tst_fill(c2s_data, C2S + MORE, seed);
	tst_fill(s2c_data, S2C + MORE, seed ^ 0x5555);
	setup(&c[0], AF_INET, false);
	setup(&c[1], AF_INET6, false);
	setup(&c[2], AF_INET6, true);
	for (int i = 0; i < 3; i++)
		xfer_before(&c[i]);

	tst_ready();
	tst_wait_check();

	if (tst_corrupting()) {
		unsigned char b;
		recv(c[0].cli, &b, 1, 0);
	}
	for (int i = 0; i < 3; i++) {
		check_opts(&c[i]);
		finish(&c[i]);
	}
	tst_pass();
}

/* sk-unix-bound: named unix sockets, a listener with connections queued.
 *
 *   fd 10  datagram socket bound to a path (mode 0640), 3 datagrams queued,
 *          sent from fd 11 (connected to it) and fd 12 (unconnected, sendto)
 *   fd 11  datagram socket bound to an abstract name, connected to fd 10
 *   fd 12  unbound datagram socket
 *   fd 13  stream socket listening on a path, backlog 7, O_NONBLOCK, with two connections
 *          queued, not accepted: from fd 14 and fd 15 (in that order)
 *   fd 16  stream socket listening on an abstract name, nothing queued
 *   fd 17, 18  an accepted connection of fd 16 (17 client, 18 server side),
 *          with bytes queued both ways
 *   fd 19  datagram socket bound to a path that was unlinked afterwards
 * After CHECK: names (getsockname, getpeername) are as they were; the socket
 * files are there with their modes, and the unlinked one is not; the
 * datagrams arrive with their boundaries; accept() on fd 13 gives the
 * connections of fd 14 and then fd 15, and each carries bytes both ways;
 * new clients can connect to fd 13 and fd 16 by name.
 */
#include "tst.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static socklen_t addr(struct sockaddr_un *a, const char *name, bool abstract)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if (abstract) {
		strcpy(a->sun_path + 1, name);
		return offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name);
	}
	strcpy(a->sun_path, name);
	return offsetof(struct sockaddr_un, sun_path) + strlen(name) + 1;
}

static void sock_at(int type, int fd)
{
	int s = socket(AF_UNIX, type, 0);
	if (s < 0 || dup2(s, fd) != fd || close(s))
		tst_fail("socket as %d: %s", fd, strerror(errno));
}

static void bind_at(int fd, const char *name, bool abstract)
{
	struct sockaddr_un a;
	socklen_t l = addr(&a, name, abstract);
	if (bind(fd, (struct sockaddr *)&a, l))
		tst_fail("bind %d to %s: %s", fd, name, strerror(errno));
}

static int connect_to(int fd, const char *name, bool abstract)
{
	struct sockaddr_un a;
	socklen_t l = addr(&a, name, abstract);
	return connect(fd, (struct sockaddr *)&a, l);
}

/* getsockname / getpeername as a printable string */
static void name_of(int fd, bool peer, char *buf, size_t len)
{
	struct sockaddr_un a;
	socklen_t l = sizeof(a);
	if ((peer ? getpeername(fd, (struct sockaddr *)&a, &l) : getsockname(fd, (struct sockaddr *)&a, &l))) {
		snprintf(buf, len, "error %s", strerror(errno));
		return;
	}
	size_t n = l - offsetof(struct sockaddr_un, sun_path);
	if (l <= offsetof(struct sockaddr_un, sun_path))
		snprintf(buf, len, "unnamed");
	else if (!a.sun_path[0])
		snprintf(buf, len, "@%.*s", (int)n - 1, a.sun_path + 1);
	else
		snprintf(buf, len, "%s", a.sun_path);
}

static void expect_msg(int fd, const char *want)
{
	char buf[256];
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n != (ssize_t)strlen(want) || memcmp(buf, want, n))
		tst_fail("fd %d: got %zd bytes (%s), want '%s'", fd, n, n < 0 ? strerror(errno) : "", want);
}

static void exchange(int a, int b, const char *what)
{
	char buf[64];
	if (send(a, what, strlen(what), MSG_DONTWAIT) != (ssize_t)strlen(what) ||
	    recv(b, buf, sizeof(buf), MSG_DONTWAIT) != (ssize_t)strlen(what) || memcmp(buf, what, strlen(what)))
		tst_fail("%d -> %d does not carry '%s': %s", a, b, what, strerror(errno));
}

int main(int argc, char **argv)
{
	tst_init(argc, argv);
	const char *dir = tst_tmp_path("d");
	char p_dgram[200], p_listen[200], p_gone[200], ab_dgram[64], ab_listen[64];
	char names[10][2][128];

	if (mkdir(dir, 0755))
		tst_fail("mkdir %s: %s", dir, strerror(errno));
	snprintf(p_dgram, sizeof(p_dgram), "%s/dgram.sock", dir);
	snprintf(p_listen, sizeof(p_listen), "%s/listen.sock", dir);
	snprintf(p_gone, sizeof(p_gone), "%s/gone.sock", dir);
	snprintf(ab_dgram, sizeof(ab_dgram), "libcr-tst-%d-dgram", getpid());
	snprintf(ab_listen, sizeof(ab_listen), "libcr-tst-%d-listen", getpid());
	tst_tmp_path("d/dgram.sock");
	tst_tmp_path("d/listen.sock");

	sock_at(SOCK_DGRAM, 10);
	bind_at(10, p_dgram, false);
	if (chmod(p_dgram, 0640))
		tst_fail("chmod: %s", strerror(errno));
	sock_at(SOCK_DGRAM, 11);
	bind_at(11, ab_dgram, true);
	if (connect_to(11, p_dgram, false))
		tst_fail("connect 11: %s", strerror(errno));
	sock_at(SOCK_DGRAM, 12);
	struct sockaddr_un a;
	socklen_t al = addr(&a, p_dgram, false);
	if (send(11, "from 11", 7, 0) != 7 || sendto(12, "from 12, unconnected", 20, 0, (struct sockaddr *)&a, al) != 20 ||
	    send(11, "11 again", 8, 0) != 8)
		tst_fail("datagrams: %s", strerror(errno));

	sock_at(SOCK_STREAM, 13);
	bind_at(13, p_listen, false);
	if (listen(13, 7) || fcntl(13, F_SETFL, O_NONBLOCK))
		tst_fail("listen: %s", strerror(errno));
	sock_at(SOCK_STREAM, 14);
	sock_at(SOCK_STREAM, 15);
	if (connect_to(14, p_listen, false) || connect_to(15, p_listen, false))
		tst_fail("connect to the listener: %s", strerror(errno));

	sock_at(SOCK_STREAM, 16);
	bind_at(16, ab_listen, true);
	if (listen(16, 3))
		tst_fail("listen: %s", strerror(errno));
	sock_at(SOCK_STREAM, 17);
	if (connect_to(17, ab_listen, true))
		tst_fail("connect 17: %s", strerror(errno));
	int s = accept(16, NULL, NULL);
	if (s < 0 || dup2(s, 18) != 18 || close(s))
		tst_fail("accept: %s", strerror(errno));
	if (send(17, "request", 7, 0) != 7 || send(18, "reply", 5, 0) != 5)
		tst_fail("send: %s", strerror(errno));

	sock_at(SOCK_DGRAM, 19);
	bind_at(19, p_gone, false);
	unlink(p_gone);

	for (int i = 0; i < 10; i++) {
		name_of(10 + i, false, names[i][0], sizeof(names[i][0]));
		name_of(10 + i, true, names[i][1], sizeof(names[i][1]));
	}

	tst_ready();
	tst_wait_check();
	if (tst_corrupting())
		unlink(p_listen);

	for (int i = 0; i < 10; i++) {
		char now[2][128];
		name_of(10 + i, false, now[0], sizeof(now[0]));
		name_of(10 + i, true, now[1], sizeof(now[1]));
		/* the server side of an accepted connection: its name is its listener's, not checked */
		if ((i != 8 && strcmp(now[0], names[i][0])) || strcmp(now[1], names[i][1]))
			tst_fail("fd %d: name %s, peer %s; were %s, %s", 10 + i, now[0], now[1], names[i][0], names[i][1]);
	}
	struct stat st;
	if (stat(p_dgram, &st) || !S_ISSOCK(st.st_mode) || (st.st_mode & 07777) != 0640)
		tst_fail("%s is not the socket file of mode 0640 (%s, mode %o)", p_dgram, strerror(errno), st.st_mode);
	if (stat(p_listen, &st) || !S_ISSOCK(st.st_mode))
		tst_fail("%s is not there", p_listen);
	if (!stat(p_gone, &st))
		tst_fail("%s, unlinked, is there again", p_gone);

	expect_msg(10, "from 11");
	expect_msg(10, "from 12, unconnected");
	expect_msg(10, "11 again");
	exchange(11, 10, "after");
	if (sendto(12, "12 after", 8, 0, (struct sockaddr *)&a, al) != 8)
		tst_fail("sendto the path after: %s", strerror(errno));
	expect_msg(10, "12 after");

	/* the queued connections, in order */
	int c1 = accept4(13, NULL, NULL, SOCK_NONBLOCK), c2 = accept4(13, NULL, NULL, SOCK_NONBLOCK);
	if (c1 < 0 || c2 < 0 || accept4(13, NULL, NULL, SOCK_NONBLOCK) != -1)
		tst_fail("the listener does not hold exactly two connections: %s", strerror(errno));
	exchange(14, c1, "to first");
	exchange(c1, 14, "from first");
	exchange(15, c2, "to second");
	exchange(c2, 15, "from second");
	int n = socket(AF_UNIX, SOCK_STREAM, 0);
	if (connect_to(n, p_listen, false))
		tst_fail("a new client can't connect to %s: %s", p_listen, strerror(errno));
	close(n);
	n = socket(AF_UNIX, SOCK_STREAM, 0);
	if (connect_to(n, ab_listen, true))
		tst_fail("a new client can't connect to @%s: %s", ab_listen, strerror(errno));

	expect_msg(18, "request");
	expect_msg(17, "reply");
	exchange(17, 18, "more");
	exchange(18, 17, "more back");
	tst_pass();
}

/* sk-unix-ext: unix sockets connected to a server outside the process.
 *
 *   sk-unix-ext --stream PATH --dgram PATH2 (--live | --gone) [--listen]
 *
 * fd 10 is a stream socket connected to the listener at PATH, fd 11 a
 * datagram socket connected to the socket bound at PATH2 (both held by
 * another process: test/errors.sh starts one).  Used by test/errors.sh only:
 * the dump refuses them unless --ext-unix-sk; with it, the restored process
 * finds the stream's peer gone and the datagram socket connected to PATH2
 * again.  After CHECK, --live: both still reach the server (the failed dump
 * changed nothing); --gone: fd 10 reads the end and can't send, fd 11 still
 * sends to PATH2 (its peer name is PATH2).
 * --listen: fd 9 listens on the abstract name libcr-tst-PID-listen, for a
 * client outside to connect to (--live: after CHECK that connection is accepted).
 */
#include "tst.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void connect_at(int type, int fd, const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, type, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) || dup2(s, fd) != fd || close(s))
		tst_fail("connect to %s as fd %d: %s", path, fd, strerror(errno));
}

int main(int argc, char **argv)
{
	tst_init_opts(argc, argv, "stream,dgram", "live,gone,listen");
	const char *stream = NULL, *dgram = NULL;
	for (int i = 1; i + 1 < argc; i++) {
		if (!strcmp(argv[i], "--stream"))
			stream = argv[i + 1];
		if (!strcmp(argv[i], "--dgram"))
			dgram = argv[i + 1];
	}
	if (!stream || !dgram || tst_opt_flag("live") == tst_opt_flag("gone"))
		tst_fail("usage: sk-unix-ext --stream PATH --dgram PATH (--live | --gone)");
	signal(SIGPIPE, SIG_IGN);
	connect_at(SOCK_STREAM, 10, stream);
	connect_at(SOCK_DGRAM, 11, dgram);
	if (tst_opt_flag("listen")) {
		struct sockaddr_un la = { .sun_family = AF_UNIX };
		socklen_t len = offsetof(struct sockaddr_un, sun_path) + 1 +
				snprintf(la.sun_path + 1, sizeof(la.sun_path) - 1, "libcr-tst-%d-listen", getpid());
		int l = socket(AF_UNIX, SOCK_STREAM, 0);
		if (l < 0 || bind(l, (struct sockaddr *)&la, len) || listen(l, 4) || dup2(l, 9) != 9 || close(l))
			tst_fail("the listener: %s", strerror(errno));
	}

	tst_ready();
	tst_wait_check();

	char buf[8];
	struct sockaddr_un a;
	socklen_t l = sizeof(a);
	if (send(11, "again", 5, MSG_DONTWAIT) != 5)
		tst_fail("fd 11 can't send to %s: %s", dgram, strerror(errno));
	if (getpeername(11, (struct sockaddr *)&a, &l) || strcmp(a.sun_path, dgram))
		tst_fail("fd 11 is not connected to %s", dgram);
	if (tst_opt_flag("live")) {
		if (send(10, "x", 1, MSG_DONTWAIT) != 1)
			tst_fail("fd 10 can't send to the server: %s", strerror(errno));
		if (tst_opt_flag("listen") && accept4(9, NULL, NULL, SOCK_NONBLOCK) < 0)
			tst_fail("the connection from outside is not there to accept: %s", strerror(errno));
	} else {
		if (recv(10, buf, 1, MSG_DONTWAIT) != 0)
			tst_fail("fd 10 does not see its peer gone: %s", strerror(errno));
		if (send(10, "x", 1, MSG_DONTWAIT) != -1 || errno != EPIPE)
			tst_fail("fd 10 can send though its peer is gone");
	}
	tst_pass();
}

/* sk-unix-accept: connections accepted by a child from a listener it made
 * after the fork, to clients in its parent and its sibling (the layout of
 * python's multiprocessing.Manager: the server process listens on a path,
 * the parent connects).
 *
 *   root ── S   S listens on a path name; it accepted a1 (from the root's c1)
 *        └─ C   and a2 (from C's c2)
 *
 *   c1 <-> a1   1500 bytes queued root -> S, 700 bytes S -> root
 *   c2 <-> a2   "from C" queued C -> S, "from S" S -> C
 *
 * The pair c1/a1 spans the root and S, c2/a2 the siblings (the root, which
 * makes it, holds neither end).  After CHECK: every queued byte arrives, both
 * connections carry new messages both ways, and a new client of the root
 * connects to the listener and S accepts it.
 * --corrupt: the root sends one more byte on c1 before "root after".
 */
#include "tst.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

enum { ROOT, S, C, NR };

struct ctl {
	atomic_int phase;        /* 1: check, 2: exit */
	atomic_int listening;
	atomic_int started;
	atomic_int connected;    /* the root's new client is in the listen queue */
	atomic_int done[NR];     /* 1 pass, 2 fail */
	char why[NR][200];
};

static struct ctl *ctl;
static struct sockaddr_un addr = { .sun_family = AF_UNIX };
static int ls = -1, a1 = -1, a2 = -1, c1 = -1, c2 = -1;

static bool verdict(int who, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool verdict(int who, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctl->why[who], sizeof(ctl->why[who]), fmt, ap);
	va_end(ap);
	atomic_store(&ctl->done[who], 2);
	return false;
}

static void fill(unsigned char *b, size_t n, int stream)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)(i * 7 + stream * 59 + (i >> 6));
}

/* n bytes (stream s, or want when given) on fd within 5 s */
static bool expect(int who, int fd, const void *want, int s, size_t n, const char *what)
{
	unsigned char got[2048], w[2048];
	size_t have = 0;

	for (int i = 0; have < n && i < 1000; i++) {
		ssize_t r = recv(fd, got + have, n - have, MSG_DONTWAIT);
		if (r > 0)
			have += r;
		else if (r == 0)
			return verdict(who, "%s: the end after %zu of %zu bytes", what, have, n);
		else if (errno == EAGAIN)
			tst_sleep_ms(5);
		else
			return verdict(who, "%s: %s", what, strerror(errno));
	}
	if (want)
		memcpy(w, want, n);
	else
		fill(w, n, s);
	if (have != n || memcmp(got, w, n))
		return verdict(who, "%s: %zu bytes, not the %zu sent", what, have, n);
	return true;
}

static bool say(int who, int fd, const char *m)
{
	if (send(fd, m, strlen(m), MSG_NOSIGNAL) != (ssize_t)strlen(m))
		return verdict(who, "send '%s': %s", m, strerror(errno));
	return true;
}

static bool check(int who)
{
	switch (who) {
	case ROOT: {
		if (!expect(who, c1, NULL, 2, 700, "queued from S"))
			return false;
		if (tst_corrupting())
			send(c1, "x", 1, 0);
		if (!say(who, c1, "root after") || !expect(who, c1, "S after", 0, 7, "S's answer"))
			return false;
		int c = socket(AF_UNIX, SOCK_STREAM, 0);
		if (c < 0 || connect(c, (struct sockaddr *)&addr, sizeof(addr)))
			return verdict(who, "a new client can't connect to the listener: %s", strerror(errno));
		atomic_store(&ctl->connected, 1);
		return true;
	}
	case S:
		if (!expect(who, a1, NULL, 1, 1500, "queued from the root") ||
		    !expect(who, a2, "from C", 0, 6, "queued from C") ||
		    !expect(who, a1, "root after", 0, 10, "the root after") || !say(who, a1, "S after") ||
		    !expect(who, a2, "C after", 0, 7, "C after") || !say(who, a2, "S to C"))
			return false;
		for (int i = 0; i < 1000 && !atomic_load(&ctl->connected); i++)
			tst_sleep_ms(5);
		fcntl(ls, F_SETFL, O_NONBLOCK);
		if (accept(ls, NULL, NULL) < 0)
			return verdict(who, "nothing to accept on the listener: %s", strerror(errno));
		return true;
	case C:
		return expect(who, c2, "from S", 0, 6, "queued from S") && say(who, c2, "C after") &&
		       expect(who, c2, "S to C", 0, 6, "S's answer");
	}
	return false;
}

static void child(int who)
{
	if (who == S) {
		unsigned char b[700];
		if ((ls = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 || bind(ls, (struct sockaddr *)&addr, sizeof(addr)) ||
		    listen(ls, 4))
			_exit(3);
		atomic_store(&ctl->listening, 1);
		if ((a1 = accept(ls, NULL, NULL)) < 0 || (a2 = accept(ls, NULL, NULL)) < 0)
			_exit(3);
		fill(b, sizeof(b), 2);
		if (send(a1, b, sizeof(b), 0) != sizeof(b) || send(a2, "from S", 6, 0) != 6)
			_exit(3);
	} else {
		close(c1);
		if ((c2 = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 || connect(c2, (struct sockaddr *)&addr, sizeof(addr)) ||
		    send(c2, "from C", 6, 0) != 6)
			_exit(3);
	}
	atomic_fetch_add(&ctl->started, 1);
	while (atomic_load(&ctl->phase) < 1)
		tst_sleep_ms(5);
	if (check(who) && atomic_load(&ctl->done[who]) != 2)
		atomic_store(&ctl->done[who], 1);
	while (atomic_load(&ctl->phase) < 2)
		tst_sleep_ms(5);
	_exit(0);
}

static void spawn(int who)
{
	pid_t p = fork();

	if (p < 0)
		tst_fail("fork: %s", strerror(errno));
	if (!p)
		child(who);
}

int main(int argc, char **argv)
{
	unsigned char b[1500];

	tst_init(argc, argv);
	ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ctl == MAP_FAILED)
		tst_fail("mmap: %s", strerror(errno));
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", tst_tmp_path("listener"));
	spawn(S);
	for (int i = 0; i < 2000 && !atomic_load(&ctl->listening); i++)
		tst_sleep_ms(5);
	if ((c1 = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 || connect(c1, (struct sockaddr *)&addr, sizeof(addr)))
		tst_fail("connect to S: %s", strerror(errno));
	spawn(C);
	fill(b, sizeof(b), 1);
	if (send(c1, b, sizeof(b), 0) != sizeof(b))
		tst_fail("send: %s", strerror(errno));
	for (int i = 0; i < 2000 && atomic_load(&ctl->started) < NR - 1; i++)
		tst_sleep_ms(5);
	if (atomic_load(&ctl->started) < NR - 1)
		tst_fail("only %d children started", atomic_load(&ctl->started));
	tst_ready();
	tst_wait_check();
	atomic_store(&ctl->phase, 1);
	if (check(ROOT))
		atomic_store(&ctl->done[ROOT], 1);
	for (int who = 0; who < NR; who++) {
		for (int i = 0; i < 4000 && !atomic_load(&ctl->done[who]); i++)
			tst_sleep_ms(5);
		if (atomic_load(&ctl->done[who]) != 1) {
			atomic_store(&ctl->phase, 2);
			tst_fail("process %d: %s", who, atomic_load(&ctl->done[who]) ? ctl->why[who] : "no answer");
		}
	}
	atomic_store(&ctl->phase, 2);
	tst_pass();
}

/* sk-unix-tree: unix sockets spread over a tree of processes.
 *
 *   root ── A
 *        └─ B
 *
 *   st   stream pair: one end in the root, the other in A; 3000 bytes queued
 *        root -> A and 2000 bytes A -> root
 *   sq   seqpacket pair made by the root, one end in A and one in B (the root
 *        closed both): 3 messages A -> B, 1 message B -> A; A's end O_NONBLOCK
 *   ls   a listening socket on an abstract name, one open file description
 *        held by the root and B
 *
 * After CHECK: every queued byte and message arrives in order with its
 * boundaries, the pairs still carry new data both ways, a new client of the
 * root connects to the listener and B accepts it.
 * --corrupt: A sends one more message to B after CHECK, before "to B".
 * --dgram-client (test/errors.sh): A also holds a datagram socket connected
 * to one the root bound to an abstract name (not connected back): the dump
 * refuses it; after CHECK A still sends to the root through it.
 */
#include "tst.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

enum { ROOT, A, B, NR };

struct ctl {
	atomic_int phase;        /* 1: check, 2: exit */
	atomic_int started;
	atomic_int connected;    /* the root's new client is in the listen queue */
	atomic_int done[NR];     /* 1 pass, 2 fail */
	char why[NR][200];
};

static struct ctl *ctl;
static int st[2], sq[2], ls, dg = -1, dg_client = -1;
static struct sockaddr_un ls_addr, dg_addr;
static socklen_t ls_len, dg_len;

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
		b[i] = (unsigned char)(i * 13 + stream * 101 + (i >> 7));
}

/* n bytes of stream on fd, whole and in order (they are queued: never waits long) */
static bool read_stream(int who, int fd, int stream, size_t n, const char *what)
{
	unsigned char got[4096], want[4096];
	size_t have = 0;

	for (int tries = 0; have < n && tries < 1000; tries++) {
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
	fill(want, n, stream);
	if (have != n || memcmp(got, want, n))
		return verdict(who, "%s: %zu bytes, not the %zu sent", what, have, n);
	return true;
}

static bool expect_msg(int who, int fd, const char *want)
{
	char buf[64];
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

	if (n != (ssize_t)strlen(want) || memcmp(buf, want, n))
		return verdict(who, "got a message of %zd bytes (%s), want '%s'", n, n < 0 ? strerror(errno) : "", want);
	return true;
}

/* A message (or bytes) another process sends after CHECK: wait up to 5 s. */
static bool wait_msg(int who, int fd, const char *want)
{
	char buf[64];

	for (int i = 0; i < 1000; i++) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == (ssize_t)strlen(want) && !memcmp(buf, want, n))
			return true;
		if (n >= 0 || errno != EAGAIN)
			return verdict(who, "'%s' came out as %zd bytes", want, n);
		tst_sleep_ms(5);
	}
	return verdict(who, "'%s' did not arrive", want);
}

static bool check(int who)
{
	switch (who) {
	case ROOT: {
		if (!read_stream(who, st[0], 2, 2000, "stream from A"))
			return false;
		if (dg >= 0 && !wait_msg(who, dg, "dgram from A"))
			return false;
		int c = socket(AF_UNIX, SOCK_STREAM, 0);
		if (c < 0 || connect(c, (struct sockaddr *)&ls_addr, ls_len))
			return verdict(who, "a new client can't connect to the listener: %s", strerror(errno));
		atomic_store(&ctl->connected, 1);
		if (send(st[0], "after", 5, 0) != 5)
			return verdict(who, "send to A after: %s", strerror(errno));
		return wait_msg(who, st[0], "A after");
	}
	case A:
		if (!read_stream(who, st[1], 1, 3000, "stream from the root"))
			return false;
		if (!expect_msg(who, sq[0], "from B"))
			return false;
		if (tst_corrupting())
			send(sq[0], "one more", 8, 0);
		if (send(st[1], "A after", 7, 0) != 7 || send(sq[0], "to B", 4, 0) != 4)
			return verdict(who, "send after: %s", strerror(errno));
		if (dg_client >= 0 && send(dg_client, "dgram from A", 12, 0) != 12)
			return verdict(who, "the datagram client can't send: %s", strerror(errno));
		return wait_msg(who, st[1], "after") && wait_msg(who, sq[0], "B after");
	case B:
		if (!expect_msg(who, sq[1], "a-1") || !expect_msg(who, sq[1], "a-22") || !expect_msg(who, sq[1], "a-333"))
			return false;
		if (!wait_msg(who, sq[1], "to B") || send(sq[1], "B after", 7, 0) != 7)
			return verdict(who, "the seqpacket pair does not carry new messages");
		for (int i = 0; i < 1000 && !atomic_load(&ctl->connected); i++)
			tst_sleep_ms(5);
		fcntl(ls, F_SETFL, O_NONBLOCK);
		if (accept(ls, NULL, NULL) < 0)
			return verdict(who, "nothing to accept on the shared listener: %s", strerror(errno));
		return true;
	}
	return false;
}

static void child(int who)
{
	if (who == A) {
		close(st[0]), close(sq[1]), close(ls);
		if (dg >= 0) {
			close(dg);
			if ((dg_client = socket(AF_UNIX, SOCK_DGRAM, 0)) < 0 ||
			    connect(dg_client, (struct sockaddr *)&dg_addr, dg_len))
				_exit(3);
		}
		fcntl(sq[0], F_SETFL, O_NONBLOCK);
		unsigned char b[2000];
		fill(b, sizeof(b), 2);
		if (send(st[1], b, sizeof(b), 0) != sizeof(b) || send(sq[0], "a-1", 3, 0) != 3 ||
		    send(sq[0], "a-22", 4, 0) != 4 || send(sq[0], "a-333", 5, 0) != 5)
			_exit(3);
	} else {
		close(st[0]), close(st[1]), close(sq[0]);
		if (dg >= 0)
			close(dg);
		if (send(sq[1], "from B", 6, 0) != 6)
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

int main(int argc, char **argv)
{
	tst_init_opts(argc, argv, NULL, "dgram-client");
	ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ctl == MAP_FAILED)
		tst_fail("mmap: %s", strerror(errno));
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, st) || socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sq))
		tst_fail("socketpair: %s", strerror(errno));
	ls_addr.sun_family = AF_UNIX;
	ls_len = offsetof(struct sockaddr_un, sun_path) + 1 +
		 snprintf(ls_addr.sun_path + 1, sizeof(ls_addr.sun_path) - 1, "libcr-tst-%d-tree", getpid());
	if ((ls = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 || bind(ls, (struct sockaddr *)&ls_addr, ls_len) || listen(ls, 4))
		tst_fail("the listener: %s", strerror(errno));
	if (tst_opt_flag("dgram-client")) {
		dg_addr.sun_family = AF_UNIX;
		dg_len = offsetof(struct sockaddr_un, sun_path) + 1 +
			 snprintf(dg_addr.sun_path + 1, sizeof(dg_addr.sun_path) - 1, "libcr-tst-%d-dg", getpid());
		if ((dg = socket(AF_UNIX, SOCK_DGRAM, 0)) < 0 || bind(dg, (struct sockaddr *)&dg_addr, dg_len))
			tst_fail("the datagram socket: %s", strerror(errno));
	}
	for (int who = A; who < NR; who++) {
		pid_t p = fork();
		if (p < 0)
			tst_fail("fork: %s", strerror(errno));
		if (!p)
			child(who);
	}
	close(st[1]), close(sq[0]), close(sq[1]);
	unsigned char b[3000];
	fill(b, sizeof(b), 1);
	if (send(st[0], b, sizeof(b), 0) != sizeof(b))
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

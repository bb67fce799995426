/* ns-tcpnest: established TCP connections of processes in nested network
 * namespaces, with data queued both ways at the dump.  Run with --dump-arg
 * --tcp-established.
 *
 *   root            the runner's network namespace, or with --root-ns its own
 *   ├── A           unshares a network namespace: a1 10.57.2.1/24 (veth to B);
 *   │               with --root-ns also a0 10.57.1.2/24 (veth to the root's r0)
 *   └── B           unshares one: b1 10.57.2.2/24
 *
 * Connections (each end a stream of its own, from a PRNG):
 *   lo     A's loopback: A's client to A's listener on 127.0.0.1:5701
 *   veth   across a1/b1: A's client to B's listener on 10.57.2.2:5702
 *   out    with --root-ns, across a0/r0: A's client to the root's listener on
 *          10.57.1.1:5703 (a nested namespace to the root's)
 *   half   across a1/b1, half-closed: A's client to B's listener on
 *          10.57.2.2:5704; B's end wrote 5000 bytes and shut its side
 *          (FIN_WAIT2), A's end (CLOSE_WAIT) wrote 3000; neither read
 * The receive buffers of the others are small: each end writes until its send
 * buffer is full, so at the dump both queues of each socket hold data (unread
 * here, sent-unacknowledged and unsent there).  After CHECK: the same addresses,
 * the same states and negotiated options (TCP_INFO: window scales, SACK, timestamps), a
 * segment size (TCP_MAXSEG) no smaller than before, and every end reads exactly what its peer wrote before the dump
 * and 64 KiB more that it writes after (B's half-closed end nothing: A's reads
 * the end of its stream); the listeners still accept.
 */
#include "tst.h"
#include "tst-rtnl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

enum { ROOT, A, B, NR };
static const char *const names[NR] = { "root", "A", "B" };

/* the ends: end e's peer is e ^ 1 */
enum { LO_CLI, LO_SRV, VETH_CLI, VETH_SRV, OUT_CLI, OUT_SRV, HALF_CLI, HALF_SRV, NENDS };
static const struct end {
	int who;
	const char *name;
	bool root_ns;            /* only with --root-ns */
} ends[NENDS] = {
	[LO_CLI] = { A, "lo client", false },       [LO_SRV] = { A, "lo server", false },
	[VETH_CLI] = { A, "veth client", false },   [VETH_SRV] = { B, "veth server", false },
	[OUT_CLI] = { A, "out client", true },      [OUT_SRV] = { ROOT, "out server", true },
	[HALF_CLI] = { A, "half client", false },   [HALF_SRV] = { B, "half server", false },
};
#define HALF_CLI_BYTES 3000
#define HALF_SRV_BYTES 5000

#define CAP (512 * 1024)     /* at most, each end before the dump */
#define MORE (64 * 1024)     /* each end after the restore */

struct ctl {
	atomic_int phase;            /* 1: links made, 2: check now, 3: exit */
	atomic_int ready[NR];        /* 1: configured, listening; 2: connected; 3: filled */
	atomic_int done[NR];         /* 1 pass, 2 fail */
	char why[NR][300];
	pid_t pid[NR];
	size_t sent[NENDS];          /* written before the dump */
	struct tcp_info ti[NENDS];   /* before the dump */
	int mss[NENDS];
	struct sockaddr_in self[NENDS], peer[NENDS];
};

static struct ctl *ctl;
static bool root_ns;
static int sk[NENDS] = { -1, -1, -1, -1, -1, -1, -1, -1 };
static int lsk[4] = { -1, -1, -1, -1 };   /* listeners: lo (A), veth (B), out (root), half (B) */
static uint64_t seed;

#define VFAIL(who, ...) do { snprintf(ctl->why[who], sizeof(ctl->why[who]), __VA_ARGS__); return false; } while (0)

static bool used(int e)
{
	return root_ns || !ends[e].root_ns;
}

/* ------------------------------------------------------------ setup */

static struct sockaddr_in sin_of(const char *addr, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };

	inet_pton(AF_INET, addr, &a.sin_addr);
	return a;
}

/* Link name up, with addr/24 (NULL: none). */
static void link_up(const char *name, const char *addr)
{
	struct ifreq r = { 0 };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	snprintf(r.ifr_name, IFNAMSIZ, "%s", name);
	if (addr) {
		struct sockaddr_in a = sin_of(addr, 0);
		memcpy(&r.ifr_addr, &a, sizeof(a));
		if (ioctl(s, SIOCSIFADDR, &r))
			tst_fail("%s: address %s: %s", name, addr, strerror(errno));
		a = sin_of("255.255.255.0", 0);
		memcpy(&r.ifr_netmask, &a, sizeof(a));
		if (ioctl(s, SIOCSIFNETMASK, &r))
			tst_fail("%s: netmask: %s", name, strerror(errno));
	}
	if (ioctl(s, SIOCGIFFLAGS, &r))
		tst_fail("%s: flags: %s", name, strerror(errno));
	r.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &r))
		tst_fail("%s: up: %s", name, strerror(errno));
	close(s);
}

/* small receive buffers: the peer's writes stop in both queues */
static void size_bufs(int s)
{
	int rcv = 8192, snd = 65536;

	if (setsockopt(s, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv)) || setsockopt(s, SOL_SOCKET, SO_SNDBUF, &snd, sizeof(snd)))
		tst_fail("buffer sizes: %s", strerror(errno));
}

static int listener(const char *addr, int port)
{
	struct sockaddr_in a = sin_of(addr, port);
	int one = 1, s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (s < 0 || setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		tst_fail("listener %s:%d: %s", addr, port, strerror(errno));
	if (port != 5704)
		size_bufs(s);
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) || listen(s, 8))
		tst_fail("listener %s:%d: %s", addr, port, strerror(errno));
	return s;
}

static int client(const char *addr, int port)
{
	struct sockaddr_in a = sin_of(addr, port);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		tst_fail("socket: %s", strerror(errno));
	if (port != 5704)
		size_bufs(s);
	if (connect(s, (struct sockaddr *)&a, sizeof(a)))
		tst_fail("connect to %s:%d: %s", addr, port, strerror(errno));
	return s;
}

static int accept_one(int l)
{
	int s = accept4(l, NULL, NULL, SOCK_CLOEXEC);

	if (s < 0)
		tst_fail("accept: %s", strerror(errno));
	return s;
}

static void wait_ready(int who, int level)
{
	for (int t = 0; atomic_load(&ctl->ready[who]) < level; t++) {
		if (t > 5000)
			tst_fail("%s never got to step %d", names[who], level);
		tst_sleep_ms(2);
	}
}

static void configure(int who)
{
	while (atomic_load(&ctl->phase) < 1)
		tst_sleep_ms(2);
	if (who != ROOT || root_ns)
		link_up("lo", NULL);
	switch (who) {
	case ROOT:
		if (root_ns) {
			link_up("r0", "10.57.1.1");
			lsk[2] = listener("10.57.1.1", 5703);
		}
		break;
	case A:
		link_up("a1", "10.57.2.1");
		if (root_ns)
			link_up("a0", "10.57.1.2");
		lsk[0] = listener("127.0.0.1", 5701);
		break;
	case B:
		link_up("b1", "10.57.2.2");
		lsk[1] = listener("10.57.2.2", 5702);
		lsk[3] = listener("10.57.2.2", 5704);
		break;
	}
	atomic_store(&ctl->ready[who], 1);
}

/* A connects (the others accept) */
static void connect_all(int who)
{
	switch (who) {
	case A:
		wait_ready(B, 1);
		wait_ready(ROOT, 1);
		sk[LO_CLI] = client("127.0.0.1", 5701);
		sk[LO_SRV] = accept_one(lsk[0]);
		sk[VETH_CLI] = client("10.57.2.2", 5702);
		if (root_ns)
			sk[OUT_CLI] = client("10.57.1.1", 5703);
		sk[HALF_CLI] = client("10.57.2.2", 5704);
		break;
	case B:
		sk[VETH_SRV] = accept_one(lsk[1]);
		sk[HALF_SRV] = accept_one(lsk[3]);
		break;
	case ROOT:
		if (root_ns)
			sk[OUT_SRV] = accept_one(lsk[2]);
		break;
	}
	atomic_store(&ctl->ready[who], 2);
}

/* ------------------------------------------------------------ streams */

static unsigned char *stream[NENDS];   /* what end e writes, all of it */

static void make_streams(void)
{
	for (int e = 0; e < NENDS; e++) {
		if (!(stream[e] = malloc(CAP + MORE)))
			tst_fail("malloc: %s", strerror(errno));
		tst_fill(stream[e], CAP + MORE, seed + e);
	}
}

/* Each end of who's writes until its buffers are full (the peer reads nothing yet). */
static void fill(int who)
{
	for (int e = 0; e < NENDS; e++) {
		if (ends[e].who != who || !used(e))
			continue;
		if (e == HALF_CLI || e == HALF_SRV) {
			size_t len = e == HALF_CLI ? HALF_CLI_BYTES : HALF_SRV_BYTES;
			if (send(sk[e], stream[e], len, 0) != (ssize_t)len || (e == HALF_SRV && shutdown(sk[e], SHUT_WR)))
				tst_fail("%s: %s", ends[e].name, strerror(errno));
			ctl->sent[e] = len;
			continue;
		}
		size_t n = 0;
		for (int idle = 0; n < CAP && idle < 20;) {
			ssize_t w = send(sk[e], stream[e] + n, CAP - n, MSG_DONTWAIT);
			if (w > 0) {
				n += w;
				idle = 0;
			} else {
				idle++;
				tst_sleep_ms(5);
			}
		}
		if (!n || n == CAP)
			tst_fail("%s wrote %zu bytes before the dump: its buffers are not what the test needs", ends[e].name, n);
		ctl->sent[e] = n;
	}
}

/* What the dump must keep: names and negotiated options, once everything is queued. */
static void record(int who)
{
	for (int e = 0; e < NENDS; e++) {
		socklen_t l = sizeof(ctl->ti[e]), ml = sizeof(int), al = sizeof(struct sockaddr_in);

		if (ends[e].who != who || !used(e))
			continue;
		/* the half-closed pair: until B's FIN is acknowledged */
		int want = e == HALF_CLI ? TCP_CLOSE_WAIT : e == HALF_SRV ? TCP_FIN_WAIT2 : TCP_ESTABLISHED;
		for (int t = 0; t < 400; t++) {
			l = sizeof(ctl->ti[e]);
			if (!getsockopt(sk[e], IPPROTO_TCP, TCP_INFO, &ctl->ti[e], &l) && ctl->ti[e].tcpi_state == want)
				break;
			tst_sleep_ms(5);
		}
		if (ctl->ti[e].tcpi_state != want)
			tst_fail("%s: state %d, not %d", ends[e].name, ctl->ti[e].tcpi_state, want);
		l = sizeof(ctl->ti[e]);
		if (getsockopt(sk[e], IPPROTO_TCP, TCP_INFO, &ctl->ti[e], &l) ||
		    getsockopt(sk[e], IPPROTO_TCP, TCP_MAXSEG, &ctl->mss[e], &ml) ||
		    getsockname(sk[e], (struct sockaddr *)&ctl->self[e], &al) || (al = sizeof(struct sockaddr_in),
		    getpeername(sk[e], (struct sockaddr *)&ctl->peer[e], &al)))
			tst_fail("%s: %s", ends[e].name, strerror(errno));
		if (!(ctl->ti[e].tcpi_options & TCPI_OPT_WSCALE) || !(ctl->ti[e].tcpi_options & TCPI_OPT_SACK) ||
		    !(ctl->ti[e].tcpi_options & TCPI_OPT_TIMESTAMPS))
			tst_fail("%s: options %#x: not window scaling, SACK and timestamps", ends[e].name,
				 ctl->ti[e].tcpi_options);
	}
}

static bool same(int who, int e)
{
	struct tcp_info ti;
	struct sockaddr_in a;
	socklen_t l = sizeof(ti), al = sizeof(a);
	int mss;
	socklen_t ml = sizeof(mss);
	const struct tcp_info *o = &ctl->ti[e];

	if (getsockopt(sk[e], IPPROTO_TCP, TCP_INFO, &ti, &l) || getsockopt(sk[e], IPPROTO_TCP, TCP_MAXSEG, &mss, &ml))
		VFAIL(who, "%s: TCP_INFO: %s", ends[e].name, strerror(errno));
	if (ti.tcpi_state != o->tcpi_state)
		VFAIL(who, "%s: state %d, was %d", ends[e].name, ti.tcpi_state, o->tcpi_state);
	/* (the segment size may grow: the kernel had bounded it by half the window then) */
	if (ti.tcpi_options != o->tcpi_options || ti.tcpi_snd_wscale != o->tcpi_snd_wscale ||
	    ti.tcpi_rcv_wscale != o->tcpi_rcv_wscale || mss < ctl->mss[e])
		VFAIL(who, "%s: options %#x wscale %u/%u mss %d, were %#x %u/%u %d", ends[e].name, ti.tcpi_options,
		      ti.tcpi_snd_wscale, ti.tcpi_rcv_wscale, mss, o->tcpi_options, o->tcpi_snd_wscale, o->tcpi_rcv_wscale,
		      ctl->mss[e]);
	if (getsockname(sk[e], (struct sockaddr *)&a, &al) || memcmp(&a, &ctl->self[e], sizeof(a)))
		VFAIL(who, "%s: its address changed", ends[e].name);
	al = sizeof(a);
	if (getpeername(sk[e], (struct sockaddr *)&a, &al) || memcmp(&a, &ctl->peer[e], sizeof(a)))
		VFAIL(who, "%s: its peer's address changed", ends[e].name);
	return true;
}

/* After CHECK: every end of who's writes MORE after what it had written, and
 * reads all its peer wrote, checking each byte. */
static size_t more(int e)
{
	return e == HALF_SRV ? 0 : MORE;
}

static bool pump(int who)
{
	size_t wr[NENDS] = { 0 }, rd[NENDS] = { 0 };
	bool eof[NENDS] = { false };   /* the half-closed peer's end of stream, read */
	unsigned char buf[65536];
	uint64_t end = tst_now_ns(CLOCK_MONOTONIC) + 20000000000ull;

	for (int e = 0; e < NENDS; e++)
		wr[e] = ctl->sent[e];
	for (;;) {
		struct pollfd p[NENDS];
		int idx[NENDS], np = 0;

		for (int e = 0; e < NENDS; e++) {
			if (ends[e].who != who || !used(e))
				continue;
			bool reading = rd[e] < ctl->sent[e ^ 1] + more(e ^ 1) || (e == HALF_CLI && !eof[e]);
			short ev = (wr[e] < ctl->sent[e] + more(e) ? POLLOUT : 0) | (reading ? POLLIN : 0);
			if (ev) {
				p[np] = (struct pollfd){ sk[e], ev, 0 };
				idx[np++] = e;
			}
		}
		if (!np)
			return true;
		if (tst_now_ns(CLOCK_MONOTONIC) > end)
			VFAIL(who, "%s: stuck after %zu of %zu bytes read, %zu of %zu written", ends[idx[0]].name, rd[idx[0]],
			      ctl->sent[idx[0] ^ 1] + more(idx[0] ^ 1), wr[idx[0]], ctl->sent[idx[0]] + more(idx[0]));
		if (poll(p, np, 200) < 0)
			VFAIL(who, "poll: %s", strerror(errno));
		for (int i = 0; i < np; i++) {
			int e = idx[i];
			if (p[i].revents & (POLLERR | POLLHUP))
				VFAIL(who, "%s: the connection broke (%#x) after %zu bytes read", ends[e].name, p[i].revents, rd[e]);
			if (p[i].revents & POLLOUT) {
				ssize_t n = send(sk[e], stream[e] + wr[e], ctl->sent[e] + more(e) - wr[e], MSG_DONTWAIT | MSG_NOSIGNAL);
				if (n < 0 && errno != EAGAIN)
					VFAIL(who, "%s: write: %s", ends[e].name, strerror(errno));
				wr[e] += n > 0 ? n : 0;
			}
			if (p[i].revents & POLLIN) {
				size_t want = ctl->sent[e ^ 1] + more(e ^ 1) - rd[e];
				/* (one byte more where the end of the stream comes next: none must come) */
				ssize_t n = recv(sk[e], buf, !want ? 1 : want < sizeof(buf) ? want : sizeof(buf), MSG_DONTWAIT);
				if (n == 0 && !want && e == HALF_CLI) {
					eof[e] = true;
					continue;
				}
				if (n == 0)
					VFAIL(who, "%s: end of stream after %zu bytes", ends[e].name, rd[e]);
				if (n > 0 && !want)
					VFAIL(who, "%s: %zd bytes more than its half-closed peer wrote", ends[e].name, n);
				if (n < 0 && errno != EAGAIN)
					VFAIL(who, "%s: read: %s", ends[e].name, strerror(errno));
				if (n > 0 && memcmp(buf, stream[e ^ 1] + rd[e], n))
					VFAIL(who, "%s: wrong bytes at %zu of its peer's stream", ends[e].name, rd[e]);
				rd[e] += n > 0 ? n : 0;
			}
		}
	}
}

/* The listeners still take connections. */
static bool listeners_ok(int who)
{
	static const struct { int who; const char *addr; int port; bool root_ns; } l[4] = {
		{ A, "127.0.0.1", 5701, false }, { B, "10.57.2.2", 5702, false }, { ROOT, "10.57.1.1", 5703, true },
		{ B, "10.57.2.2", 5704, false },
	};
	for (int i = 0; i < 4; i++) {
		if (l[i].who != who || (l[i].root_ns && !root_ns))
			continue;
		int c = client(l[i].addr, l[i].port), s = accept_one(lsk[i]);
		close(c);
		close(s);
	}
	return true;
}

static bool check(int who)
{
	for (int e = 0; e < NENDS; e++)
		if (ends[e].who == who && used(e) && !same(who, e))
			return false;
	return pump(who) && listeners_ok(who);
}

/* ------------------------------------------------------------ processes */

static void __attribute__((noreturn)) child(int who)
{
	if (unshare(CLONE_NEWNET))
		tst_fail("%s: unshare: %s", names[who], strerror(errno));
	ctl->pid[who] = getpid();
	configure(who);
	connect_all(who);
	wait_ready(A, 2);
	fill(who);
	atomic_store(&ctl->ready[who], 3);
	for (int w = 0; w < NR; w++)
		wait_ready(w, 3);
	record(who);
	atomic_store(&ctl->ready[who], 4);
	while (atomic_load(&ctl->phase) < 2)
		tst_sleep_ms(5);
	atomic_store(&ctl->done[who], check(who) ? 1 : 2);
	while (atomic_load(&ctl->phase) < 3)
		tst_sleep_ms(5);
	_exit(0);
}

int main(int argc, char **argv)
{
	pid_t pids[NR] = { 0 };

	tst_init_opts(argc, argv, NULL, "root-ns");
	root_ns = tst_opt_flag("root-ns");
	seed = tst_seed();
	make_streams();
	if (root_ns && unshare(CLONE_NEWNET))
		tst_fail("root: unshare: %s", strerror(errno));
	ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ctl == MAP_FAILED)
		tst_fail("mmap: %s", strerror(errno));
	for (int w = A; w < NR; w++) {
		if ((pids[w] = fork()) < 0)
			tst_fail("fork: %s", strerror(errno));
		if (!pids[w])
			child(w);
		for (int t = 0; !ctl->pid[w]; t++) {
			if (t > 2000)
				tst_fail("%s never started", names[w]);
			tst_sleep_ms(2);
		}
	}
	tst_make_veth("a1", ctl->pid[A], "b1", ctl->pid[B]);
	if (root_ns)
		tst_make_veth("r0", 0, "a0", ctl->pid[A]);
	atomic_store(&ctl->phase, 1);
	configure(ROOT);
	connect_all(ROOT);
	wait_ready(A, 2);
	fill(ROOT);
	atomic_store(&ctl->ready[ROOT], 3);
	for (int w = 0; w < NR; w++)
		wait_ready(w, 3);
	record(ROOT);
	atomic_store(&ctl->ready[ROOT], 4);
	for (int w = A; w < NR; w++)
		wait_ready(w, 4);
	for (int e = 0; e < NENDS; e++)
		if (used(e))
			tst_info("%s wrote %zu bytes before the dump", ends[e].name, ctl->sent[e]);
	tst_ready();
	tst_wait_check();
	atomic_store(&ctl->phase, 2);
	bool ok = check(ROOT);
	atomic_store(&ctl->done[ROOT], ok ? 1 : 2);
	for (int w = A; w < NR; w++)
		for (int t = 0; !atomic_load(&ctl->done[w]) && t < 6000; t++)
			tst_sleep_ms(5);
	atomic_store(&ctl->phase, 3);
	char msg[1000] = "";
	size_t ml = 0;
	for (int i = 0; i < NR; i++)
		if (atomic_load(&ctl->done[i]) != 1)
			ml += snprintf(msg + ml, sizeof(msg) - ml, "%s%s: %s", ml ? "; " : "", names[i],
				       atomic_load(&ctl->done[i]) ? ctl->why[i] : "no verdict");
	for (int i = A; i < NR; i++)
		waitpid(pids[i], NULL, 0);
	if (ml)
		tst_fail("%s", msg);
	tst_pass();
}

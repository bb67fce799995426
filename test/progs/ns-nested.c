/* ns-nested: processes of one tree in different UTS, network, IPC and cgroup namespaces.
 *
 *   root            the runner's namespaces (the caller's)
 *   ├── A           unshares UTS + network + IPC + cgroup: hostname "nested-a", lo up with
 *   │   │           10.55.0.1/24, a TCP listener and a UDP socket on it, an abstract
 *   │   │           unix datagram socket, a SysV shm segment (attached, filled)
 *   │   └── A1      A's child: inherits A's namespaces
 *   ├── B           stays in the root's
 *   │   └── B1      joins A's namespaces (setns through /proc/A/ns/KIND): a grandchild
 *   │               in its parent's sibling's; a UDP socket on 10.55.0.1, A's
 *   │               segment attached
 *   └── C           a UTS namespace of its own only ("nested-c")
 *
 * Everyone shares a MAP_SHARED control page.  After CHECK each process checks
 * itself: its namespaces stand in the same relations to everyone's as before
 * (same or different inode per kind: not the numbers, which change), its
 * hostname, and per role: A1 and B1 connect to the listener and send their
 * names, B1 sends a datagram to A's UDP socket and one to A's abstract unix
 * name (only A's namespace sees it: the root's send must fail), both see and
 * write A's segment; then A accepts both connections, connects itself, reads
 * the datagrams and writes to a socketpair the root made before A's unshare (a
 * socket of the root's network namespace in A's hands).  --root-ns: the root has its own UTS, network and IPC namespaces
 * first (the others nested below them).  --corrupt: A1 changes its hostname after CHECK (A's
 * namespace's: A's check must see it).
 */
#include "tst-ns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

enum { ROOT, A, A1, B, B1, C, NR };
static const char *const names[NR] = { "root", "A", "A1", "B", "B1", "C" };
#define NK 4
static const char *const kinds[NK] = { "uts", "net", "ipc", "cgroup" };

#define ADDR "10.55.0.1"
#define TCP_PORT 7777
#define UDP_PORT 7778
#define B1_PORT 7779
#define SHM_SIZE (64 * 1024)

struct ctl {
	struct tst_ns_ctl ns;
	uint64_t ino[NR][NK], now[NR][NK];  /* each one's namespaces, before and after */
	char host[NR][65];
	atomic_int checked[NR];           /* 1: has written now[] */
	int shmid;
	char unix_name[64];
	pid_t pid_a;
	atomic_int a_ready;
};

static struct ctl *ctl;
static uint64_t seed;
static int tcp_l = -1, udp_a = -1, unix_a = -1, udp_b1 = -1;
static int pair[2] = { -1, -1 };   /* the root's socketpair with A, made before A's unshare */
static unsigned char *seg;

static void read_ns(uint64_t *out)
{
	for (int k = 0; k < NK; k++)
		out[k] = tst_ns_self(kinds[k], 0);
}

static void hostname(char *buf)
{
	struct utsname u;

	uname(&u);
	snprintf(buf, 65, "%s", u.nodename);
}

/* lo up and ADDR/24 on it, through rtnetlink */
static void lo_setup(void)
{
	struct ifreq r = { 0 };
	int sk = socket(AF_INET, SOCK_DGRAM, 0), nl;
	struct {
		struct nlmsghdr h;
		struct ifaddrmsg a;
		char buf[64];
	} req = { 0 };
	struct rtattr *ra;
	char ans[1024];

	snprintf(r.ifr_name, IFNAMSIZ, "lo");
	if (sk < 0 || ioctl(sk, SIOCGIFFLAGS, &r))
		tst_fail("lo: %s", strerror(errno));
	r.ifr_flags |= IFF_UP;
	if (ioctl(sk, SIOCSIFFLAGS, &r))
		tst_fail("lo up: %s", strerror(errno));
	close(sk);
	if ((nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE)) < 0)
		tst_fail("netlink: %s", strerror(errno));
	req.h.nlmsg_len = NLMSG_LENGTH(sizeof(req.a));
	req.h.nlmsg_type = RTM_NEWADDR;
	req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
	req.a.ifa_family = AF_INET;
	req.a.ifa_prefixlen = 24;
	req.a.ifa_index = if_nametoindex("lo");
	for (int type = IFA_LOCAL; type <= IFA_ADDRESS + 1; type++) {
		if (type != IFA_LOCAL && type != IFA_ADDRESS)
			continue;
		ra = (struct rtattr *)((char *)&req + NLMSG_ALIGN(req.h.nlmsg_len));
		ra->rta_type = type;
		ra->rta_len = RTA_LENGTH(4);
		inet_pton(AF_INET, ADDR, RTA_DATA(ra));
		req.h.nlmsg_len = NLMSG_ALIGN(req.h.nlmsg_len) + RTA_ALIGN(ra->rta_len);
	}
	if (send(nl, &req, req.h.nlmsg_len, 0) < 0 || recv(nl, ans, sizeof(ans), 0) < 0)
		tst_fail("RTM_NEWADDR: %s", strerror(errno));
	struct nlmsghdr *h = (struct nlmsghdr *)ans;
	if (h->nlmsg_type != NLMSG_ERROR || ((struct nlmsgerr *)NLMSG_DATA(h))->error)
		tst_fail("RTM_NEWADDR " ADDR " on lo refused");
	close(nl);
}

static struct sockaddr_in addr_of(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };

	inet_pton(AF_INET, ADDR, &a.sin_addr);
	return a;
}

static int inet_socket(int type, int port)
{
	struct sockaddr_in a = addr_of(port);
	int one = 1, sk = socket(AF_INET, type, 0);

	if (sk < 0 || setsockopt(sk, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(sk, (struct sockaddr *)&a, sizeof(a)) || (type == SOCK_STREAM && listen(sk, 8)))
		tst_fail("socket on " ADDR ":%d: %s", port, strerror(errno));
	return sk;
}

static socklen_t unix_addr(struct sockaddr_un *u)
{
	memset(u, 0, sizeof(*u));
	u->sun_family = AF_UNIX;
	memcpy(u->sun_path + 1, ctl->unix_name, strlen(ctl->unix_name));
	return offsetof(struct sockaddr_un, sun_path) + 1 + strlen(ctl->unix_name);
}

static void setup_a(void)
{
	struct sockaddr_un u;

	if (unshare(CLONE_NEWUTS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWCGROUP))
		tst_fail("unshare: %s", strerror(errno));
	if (sethostname("nested-a", 8))
		tst_fail("sethostname: %s", strerror(errno));
	lo_setup();
	tcp_l = inet_socket(SOCK_STREAM, TCP_PORT);
	udp_a = inet_socket(SOCK_DGRAM, UDP_PORT);
	snprintf(ctl->unix_name, sizeof(ctl->unix_name), "ns-nested-%d", getpid());
	socklen_t len = unix_addr(&u);
	if ((unix_a = socket(AF_UNIX, SOCK_DGRAM, 0)) < 0 || bind(unix_a, (struct sockaddr *)&u, len))
		tst_fail("abstract unix socket: %s", strerror(errno));
	if ((ctl->shmid = shmget(IPC_PRIVATE, SHM_SIZE, IPC_CREAT | 0600)) < 0 ||
	    (seg = shmat(ctl->shmid, NULL, 0)) == (void *)-1)
		tst_fail("shm: %s", strerror(errno));
	tst_fill(seg, SHM_SIZE, seed);
	ctl->pid_a = getpid();
	atomic_store(&ctl->a_ready, 1);
}

static void join_a(void)
{
	static const int flags[NK] = { CLONE_NEWUTS, CLONE_NEWNET, CLONE_NEWIPC, CLONE_NEWCGROUP };

	while (!atomic_load(&ctl->a_ready))
		tst_sleep_ms(2);
	for (int k = 0; k < NK; k++) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", ctl->pid_a, kinds[k]);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, flags[k]))
			tst_fail("setns %s: %s", path, strerror(errno));
		close(fd);
	}
	udp_b1 = inet_socket(SOCK_DGRAM, B1_PORT);
	if ((seg = shmat(ctl->shmid, NULL, 0)) == (void *)-1)
		tst_fail("B1: shmat: %s", strerror(errno));
}

static void setup_c(void)
{
	if (unshare(CLONE_NEWUTS) || sethostname("nested-c", 8))
		tst_fail("C: %s", strerror(errno));
}

/* ---- checks */

static bool relations(int who)
{
	/* each pair's relation per kind, as before: only those that have written theirs */
	for (int j = 0; j < NR; j++) {
		if (!atomic_load(&ctl->checked[j]))
			continue;
		for (int k = 0; k < NK; k++)
			if ((ctl->ino[who][k] == ctl->ino[j][k]) != (ctl->now[who][k] == ctl->now[j][k]))
				return tst_ns_fail(who, "its %s namespace is %s %s's, it was %s", kinds[k],
						   ctl->now[who][k] == ctl->now[j][k] ? "the same as" : "another than", names[j],
						   ctl->ino[who][k] == ctl->ino[j][k] ? "the same" : "another");
	}
	return true;
}

static bool send_name(int who)
{
	struct sockaddr_in a = addr_of(TCP_PORT);
	int sk = socket(AF_INET, SOCK_STREAM, 0);

	if (sk < 0 || connect(sk, (struct sockaddr *)&a, sizeof(a)))
		return tst_ns_fail(who, "can't connect to the listener on " ADDR ":%d: %s", TCP_PORT, strerror(errno));
	if (write(sk, names[who], strlen(names[who])) != (ssize_t)strlen(names[who]))
		return tst_ns_fail(who, "can't write to the listener: %s", strerror(errno));
	close(sk);   /* the data stays in the accepted socket's queue */
	return true;
}

/* The segment's contents past the first 64 bytes (B1's mark goes there). */
static bool seg_ok(int who)
{
	static unsigned char ref[SHM_SIZE];

	tst_fill(ref, SHM_SIZE, seed);
	for (size_t i = 64; i < SHM_SIZE; i++)
		if (seg[i] != ref[i])
			return tst_ns_fail(who, "the SysV segment differs at byte %zu", i);
	return true;
}

static bool verify(int who)
{
	char host[65];

	read_ns(ctl->now[who]);
	atomic_store(&ctl->checked[who], 1);
	/* everyone's numbers first */
	for (int j = 0; j < NR; j++)
		for (int t = 0; !atomic_load(&ctl->checked[j]) && t < 2000; t++)
			tst_sleep_ms(5);
	if (!relations(who))
		return false;
	if (who == A1 && tst_corrupting())
		sethostname("corrupted", 9);
	hostname(host);
	if (who != A && strcmp(host, ctl->host[who]))
		return tst_ns_fail(who, "hostname \"%s\", was \"%s\"", host, ctl->host[who]);
	switch (who) {
	case ROOT: {
		/* the abstract name is A's namespace's only */
		struct sockaddr_un u;
		socklen_t len = unix_addr(&u);
		int sk = socket(AF_UNIX, SOCK_DGRAM, 0);
		if (sk >= 0 && sendto(sk, "x", 1, 0, (struct sockaddr *)&u, len) == 1)
			return tst_ns_fail(who,
					   "the root reaches A's abstract unix socket: not in another network namespace");
		close(sk);
		return true;
	}
	case A1:
		return send_name(who);
	case B1: {
		struct sockaddr_in a = addr_of(UDP_PORT);
		struct sockaddr_un u;
		socklen_t len = unix_addr(&u);
		int sk = socket(AF_UNIX, SOCK_DGRAM, 0);
		if (!seg_ok(who))
			return false;
		memcpy(seg, "B1 was here", 12);
		if (sendto(udp_b1, "udp-b1", 6, 0, (struct sockaddr *)&a, sizeof(a)) != 6)
			return tst_ns_fail(who, "UDP send from " ADDR ":%d: %s", B1_PORT, strerror(errno));
		if (sk < 0 || sendto(sk, "unix-b1", 7, 0, (struct sockaddr *)&u, len) != 7)
			return tst_ns_fail(who, "can't reach A's abstract unix socket: %s", strerror(errno));
		close(sk);
		return send_name(who);
	}
	default:
		return true;
	}
}

/* A, after A1 and B1: their connections, datagrams and mark. */
static bool verify_a(void)
{
	char host[65], buf[64];
	bool got[2] = { false, false };
	struct sockaddr_in from;
	socklen_t fl = sizeof(from);
	struct pollfd p;
	ssize_t n;

	hostname(host);
	if (strcmp(host, ctl->host[A]))
		return tst_ns_fail(A, "hostname \"%s\", was \"%s\"", host, ctl->host[A]);
	if (!send_name(A))
		return false;
	if (write(pair[1], "from-A", 6) != 6)
		return tst_ns_fail(A, "can't write to the socketpair with the root: %s", strerror(errno));
	for (int i = 0; i < 3; i++) {
		p = (struct pollfd){ tcp_l, POLLIN, 0 };
		if (poll(&p, 1, 5000) != 1)
			return tst_ns_fail(A, "connection %d never came to the listener", i + 1);
		int c = accept(tcp_l, NULL, NULL);
		if (c < 0)
			return tst_ns_fail(A, "accept: %s", strerror(errno));
		p = (struct pollfd){ c, POLLIN, 0 };
		n = poll(&p, 1, 5000) == 1 ? read(c, buf, sizeof(buf) - 1) : -1;
		close(c);
		if (n <= 0)
			return tst_ns_fail(A, "connection %d sent nothing", i + 1);
		buf[n] = 0;
		if (!strcmp(buf, "A1"))
			got[0] = true;
		else if (!strcmp(buf, "B1"))
			got[1] = true;
		else if (strcmp(buf, "A"))
			return tst_ns_fail(A, "the listener got \"%s\"", buf);
	}
	if (!got[0] || !got[1])
		return tst_ns_fail(A, "the listener missed %s", got[0] ? "B1" : "A1");
	p = (struct pollfd){ udp_a, POLLIN, 0 };
	if (poll(&p, 1, 5000) != 1 || (n = recvfrom(udp_a, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl)) != 6 ||
	    memcmp(buf, "udp-b1", 6) || ntohs(from.sin_port) != B1_PORT)
		return tst_ns_fail(A, "B1's datagram did not come to the UDP socket from port %d", B1_PORT);
	p = (struct pollfd){ unix_a, POLLIN, 0 };
	if (poll(&p, 1, 5000) != 1 || recv(unix_a, buf, sizeof(buf), 0) != 7 || memcmp(buf, "unix-b1", 7))
		return tst_ns_fail(A, "B1's datagram did not come to the abstract unix socket");
	if (memcmp(seg, "B1 was here", 12))
		return tst_ns_fail(A, "B1's mark is not in the SysV segment: not the same segment");
	return seg_ok(A);
}

static void __attribute__((noreturn)) serve(int who)
{
	tst_ns_started();
	tst_ns_wait_phase(TST_NS_CHECK);
	bool ok = verify(who);
	if (who == A) {
		while (ok && (!tst_ns_done(A1) || !tst_ns_done(B1)) && tst_ns_phase() < TST_NS_EXIT)
			tst_sleep_ms(5);
		ok = ok && verify_a();
	}
	tst_ns_verdict(who, ok);
	tst_ns_finish();
}

/* A child of the caller that runs setup, records itself and serves. */
static pid_t spawn(int who, void (*setup)(void), void (*then)(void))
{
	pid_t p = fork();

	if (p < 0)
		tst_fail("fork: %s", strerror(errno));
	if (p)
		return p;
	if (setup)
		setup();
	read_ns(ctl->ino[who]);
	hostname(ctl->host[who]);
	if (then)
		then();
	serve(who);
}

static void a_children(void) { spawn(A1, NULL, NULL); }
static void b_children(void) { spawn(B1, join_a, NULL); }

int main(int argc, char **argv)
{
	tst_init_opts(argc, argv, NULL, "root-ns");
	seed = tst_seed();
	/* the root's own namespaces first: the others are nested below them */
	if (tst_opt_flag("root-ns") &&
	    (unshare(CLONE_NEWUTS | CLONE_NEWNET | CLONE_NEWIPC) || sethostname("nested-root", 11)))
		tst_fail("root: unshare: %s", strerror(errno));
	ctl = tst_ns_init(sizeof(*ctl), NR, names);
	read_ns(ctl->ino[ROOT]);
	hostname(ctl->host[ROOT]);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair))
		tst_fail("socketpair: %s", strerror(errno));
	spawn(A, setup_a, a_children);
	close(pair[1]);
	spawn(B, NULL, b_children);
	spawn(C, setup_c, NULL);
	tst_ns_ready("processes started");
	tst_ns_verdict(ROOT, verify(ROOT));
	char msg[1600] = "", buf[8];
	size_t ml = tst_ns_failed(msg, sizeof(msg), 0);
	struct pollfd p = { pair[0], POLLIN, 0 };
	if (tst_ns_done(A) == 1 && (poll(&p, 1, 5000) != 1 || read(pair[0], buf, 6) != 6 || memcmp(buf, "from-A", 6)))
		snprintf(msg + ml, sizeof(msg) - ml, "%sroot: A's bytes did not come through the socketpair made before A's "
			 "unshare", ml ? "; " : "");
	tst_ns_end(msg);
}

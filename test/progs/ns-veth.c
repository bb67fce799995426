/* ns-veth: veth pairs whose two ends are in two network namespaces of the tree.
 *
 *   root            the runner's network namespace, or with --root-ns its own
 *   ├── A           unshares a network namespace: ip_forward on, a UDP echo on
 *   │               port 5602 (any address), a UDP socket bound to 10.56.2.1:5603
 *   └── B           unshares one: a UDP echo bound to 10.56.2.2:5604, a TCP
 *                   listener on 10.56.2.2:5605, a route 10.56.9.0/24 via A
 *
 * The root makes the veths through rtnetlink, each end put straight into its
 * process's namespace (IFLA_NET_NS_PID): a1 (A, 10.56.2.1/24, MTU 1300) with
 * b1 (B, 10.56.2.2/24, MTU 1280, promiscuous, MAC 02:56:00:00:00:b1); with
 * --root-ns also r0 (root, 10.56.1.1/24, MTU 1400, a route to 10.56.2.0/24 via
 * A) with a0 (A, 10.56.1.2/24, MAC 02:56:00:00:00:a0), and B's default route
 * goes through A.  A has 10.56.9.1/32 on lo.  Each process configures its own ends.
 *
 * Before the dump and after CHECK: each process finds its ends with their MAC,
 * MTU, flags and addresses as they were; A sends a datagram from 10.56.2.1:5603
 * to B's echo and gets it back, and sends its name over TCP to B's listener
 * and reads B's answer; B sends to A's echo at 10.56.9.1 (through its route);
 * with --root-ns the root, from 10.56.1.1:5601, reaches A's echo and B's
 * (routed through A both ways) and B's listener.  None of it needs an
 * --external: both ends of each pair are the tree's.
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
#include <net/if_arp.h>
#include <netinet/in.h>
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

/* every end, in whose namespace, with what */
static const struct end {
	int who;
	const char *name, *addr, *mac;
	int mtu;
	short flags;      /* besides up */
	bool root_ns;     /* only with --root-ns */
} ends[] = {
	{ A, "a1", "10.56.2.1", NULL, 1300, 0, false },
	{ B, "b1", "10.56.2.2", "\x02\x56\x00\x00\x00\xb1", 1280, IFF_PROMISC, false },
	{ ROOT, "r0", "10.56.1.1", NULL, 1400, 0, true },
	{ A, "a0", "10.56.1.2", "\x02\x56\x00\x00\x00\xa0", 1400, 0, true },
};
#define NENDS (sizeof(ends) / sizeof(ends[0]))
#define SEEN_FLAGS (IFF_UP | IFF_PROMISC | IFF_NOARP)

struct ctl {
	atomic_int phase;            /* 1: links made, 2: check now, 3: exit */
	atomic_int configured[NR];
	atomic_int done[NR];         /* 1 pass, 2 fail */
	char why[NR][300];
	pid_t pid[NR];
	/* each end as it was before the dump */
	unsigned char mac[NENDS][6];
	int mtu[NENDS];
	short flags[NENDS];
};

static struct ctl *ctl;
static bool root_ns;
static int echo = -1, bound = -1, listener = -1;

#define VFAIL(who, ...) do { snprintf(ctl->why[who], sizeof(ctl->why[who]), __VA_ARGS__); return false; } while (0)

/* ------------------------------------------------------------ rtnetlink */

static int ifindex(const char *name)
{
	int i = if_nametoindex(name);

	if (!i)
		tst_fail("no link %s", name);
	return i;
}

static void add_addr(const char *ifname, const char *addr, int plen)
{
	struct tst_rtnl_req r = { 0 };
	struct ifaddrmsg *a = tst_rtnl_body(&r.h, sizeof(*a));
	uint8_t bin[4];

	inet_pton(AF_INET, addr, bin);
	a->ifa_family = AF_INET;
	a->ifa_prefixlen = plen;
	a->ifa_index = ifindex(ifname);
	r.h.nlmsg_type = RTM_NEWADDR;
	r.h.nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	tst_rtnl_put(&r.h, IFA_LOCAL, bin, 4);
	tst_rtnl_put(&r.h, IFA_ADDRESS, bin, 4);
	tst_rtnl_talk(-1, &r.h, addr);
}

/* dst/plen (NULL: default) via gw on dev */
static void add_route(const char *dst, int plen, const char *gw, const char *dev)
{
	struct tst_rtnl_req r = { 0 };
	struct rtmsg *m = tst_rtnl_body(&r.h, sizeof(*m));
	uint8_t bin[4];
	int oif = ifindex(dev);

	m->rtm_family = AF_INET;
	m->rtm_dst_len = plen;
	m->rtm_table = RT_TABLE_MAIN;
	m->rtm_protocol = RTPROT_BOOT;
	m->rtm_scope = RT_SCOPE_UNIVERSE;
	m->rtm_type = RTN_UNICAST;
	r.h.nlmsg_type = RTM_NEWROUTE;
	r.h.nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	if (dst) {
		inet_pton(AF_INET, dst, bin);
		tst_rtnl_put(&r.h, RTA_DST, bin, 4);
	}
	inet_pton(AF_INET, gw, bin);
	tst_rtnl_put(&r.h, RTA_GATEWAY, bin, 4);
	tst_rtnl_put(&r.h, RTA_OIF, &oif, 4);
	tst_rtnl_talk(-1, &r.h, dst ? dst : "default route");
}

/* ------------------------------------------------------------ setup */

static void set_link(const char *name, const char *mac, int mtu, short flags)
{
	struct ifreq r = { 0 };
	int sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	snprintf(r.ifr_name, IFNAMSIZ, "%s", name);
	if (mac) {
		r.ifr_hwaddr.sa_family = ARPHRD_ETHER;
		memcpy(r.ifr_hwaddr.sa_data, mac, 6);
		if (ioctl(sk, SIOCSIFHWADDR, &r))
			tst_fail("%s: MAC: %s", name, strerror(errno));
	}
	if (mtu) {
		r.ifr_mtu = mtu;
		if (ioctl(sk, SIOCSIFMTU, &r))
			tst_fail("%s: MTU %d: %s", name, mtu, strerror(errno));
	}
	if (ioctl(sk, SIOCGIFFLAGS, &r))
		tst_fail("%s: flags: %s", name, strerror(errno));
	r.ifr_flags |= IFF_UP | flags;
	if (ioctl(sk, SIOCSIFFLAGS, &r))
		tst_fail("%s: up: %s", name, strerror(errno));
	close(sk);
}

static void write_sysctl(const char *path, const char *v)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, v, strlen(v)) != (ssize_t)strlen(v))
		tst_fail("%s: %s", path, strerror(errno));
	close(fd);
}

static struct sockaddr_in sin_of(const char *addr, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };

	inet_pton(AF_INET, addr, &a.sin_addr);
	return a;
}

static int inet_socket(int type, const char *addr, int port)
{
	struct sockaddr_in a = sin_of(addr, port);
	int one = 1, sk = socket(AF_INET, type, 0);

	if (sk < 0 || setsockopt(sk, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(sk, (struct sockaddr *)&a, sizeof(a)) || (type == SOCK_STREAM && listen(sk, 8)))
		tst_fail("socket on %s:%d: %s", addr, port, strerror(errno));
	return sk;
}

/* Each process: its ends, once the root made them; its addresses, routes, sockets. */
static void configure(int who)
{
	while (atomic_load(&ctl->phase) < 1)
		tst_sleep_ms(2);
	set_link("lo", NULL, 0, 0);
	for (size_t i = 0; i < NENDS; i++)
		if (ends[i].who == who && (root_ns || !ends[i].root_ns)) {
			set_link(ends[i].name, ends[i].mac, ends[i].mtu, ends[i].flags);
			add_addr(ends[i].name, ends[i].addr, 24);
		}
	switch (who) {
	case ROOT:
		if (root_ns) {
			add_route("10.56.2.0", 24, "10.56.1.2", "r0");
			bound = inet_socket(SOCK_DGRAM, "10.56.1.1", 5601);
		}
		break;
	case A:
		add_addr("lo", "10.56.9.1", 32);
		write_sysctl("/proc/sys/net/ipv4/ip_forward", "1");
		echo = inet_socket(SOCK_DGRAM, "0.0.0.0", 5602);
		bound = inet_socket(SOCK_DGRAM, "10.56.2.1", 5603);
		break;
	case B:
		add_route("10.56.9.0", 24, "10.56.2.1", "b1");
		if (root_ns)
			add_route(NULL, 0, "10.56.2.1", "b1");
		echo = inet_socket(SOCK_DGRAM, "10.56.2.2", 5604);
		listener = inet_socket(SOCK_STREAM, "10.56.2.2", 5605);
		break;
	}
	atomic_store(&ctl->configured[who], 1);
}

/* ------------------------------------------------------------ checks */

static bool read_link(int who, const char *name, unsigned char *mac, int *mtu, short *flags, char *addr)
{
	struct ifreq r = { 0 };
	int sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool ok = false;

	snprintf(r.ifr_name, IFNAMSIZ, "%s", name);
	if (ioctl(sk, SIOCGIFHWADDR, &r))
		goto out;
	memcpy(mac, r.ifr_hwaddr.sa_data, 6);
	if (ioctl(sk, SIOCGIFMTU, &r))
		goto out;
	*mtu = r.ifr_mtu;
	if (ioctl(sk, SIOCGIFFLAGS, &r))
		goto out;
	*flags = r.ifr_flags & SEEN_FLAGS;
	r.ifr_addr.sa_family = AF_INET;
	if (ioctl(sk, SIOCGIFADDR, &r))
		goto out;
	inet_ntop(AF_INET, &((struct sockaddr_in *)&r.ifr_addr)->sin_addr, addr, INET_ADDRSTRLEN);
	ok = true;
out:
	if (!ok)
		snprintf(ctl->why[who], sizeof(ctl->why[who]), "link %s: %s", name, strerror(errno));
	close(sk);
	return ok;
}

static void record(int who)
{
	char addr[INET_ADDRSTRLEN];

	for (size_t i = 0; i < NENDS; i++)
		if (ends[i].who == who && (root_ns || !ends[i].root_ns) &&
		    !read_link(who, ends[i].name, ctl->mac[i], &ctl->mtu[i], &ctl->flags[i], addr))
			tst_fail("%s", ctl->why[who]);
}

static bool links_ok(int who)
{
	for (size_t i = 0; i < NENDS; i++) {
		const struct end *e = &ends[i];
		unsigned char mac[6];
		char addr[INET_ADDRSTRLEN];
		int mtu;
		short flags;

		if (e->who != who || (!root_ns && e->root_ns))
			continue;
		if (!read_link(who, e->name, mac, &mtu, &flags, addr))
			return false;
		if (memcmp(mac, ctl->mac[i], 6) || (e->mac && memcmp(mac, e->mac, 6)))
			VFAIL(who, "%s: MAC %02x:%02x:%02x:%02x:%02x:%02x, was %02x:%02x:%02x:%02x:%02x:%02x", e->name,
			      mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], ctl->mac[i][0], ctl->mac[i][1],
			      ctl->mac[i][2], ctl->mac[i][3], ctl->mac[i][4], ctl->mac[i][5]);
		if (mtu != ctl->mtu[i] || mtu != e->mtu)
			VFAIL(who, "%s: MTU %d, was %d", e->name, mtu, ctl->mtu[i]);
		if (flags != ctl->flags[i] || flags != (IFF_UP | e->flags))
			VFAIL(who, "%s: flags %#x, were %#x", e->name, flags, ctl->flags[i]);
		if (strcmp(addr, e->addr))
			VFAIL(who, "%s: address %s, was %s", e->name, addr, e->addr);
	}
	return true;
}

/* One round of serving: echo datagrams, answer connections. */
static void serve_once(void)
{
	struct pollfd p[2] = { { echo, POLLIN, 0 }, { listener, POLLIN, 0 } };
	char buf[64];

	if (poll(p, listener >= 0 ? 2 : 1, 5) <= 0)
		return;
	if (p[0].revents & POLLIN) {
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(echo, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
		if (n > 0)
			sendto(echo, buf, n, 0, (struct sockaddr *)&from, fl);
	}
	if (listener >= 0 && (p[1].revents & POLLIN)) {
		int c = accept(listener, NULL, NULL);
		struct pollfd q = { c, POLLIN, 0 };
		ssize_t n = c >= 0 && poll(&q, 1, 5000) == 1 ? read(c, buf, sizeof(buf) - 1) : -1;
		if (n > 0) {
			char ans[96];
			buf[n] = 0;
			int l = snprintf(ans, sizeof(ans), "B heard %s", buf);
			if (write(c, ans, l) != l)
				tst_info("B: answer: %s", strerror(errno));
		}
		if (c >= 0)
			close(c);
	}
}

/* Until fd has something to read (5 s at most), serving meanwhile: the one
 * we wait for may be waiting for us. */
static bool wait_in(int fd)
{
	for (int t = 0; t < 1000; t++) {
		struct pollfd p = { fd, POLLIN, 0 };
		if (poll(&p, 1, 0) == 1)
			return true;
		serve_once();
	}
	return false;
}

/* A datagram from sk (a fresh one if -1) to addr:port, echoed back. */
static bool udp_echo(int who, int sk, const char *addr, int port)
{
	struct sockaddr_in a = sin_of(addr, port);
	char msg[64], buf[64];
	int fd = sk >= 0 ? sk : socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ssize_t n = -1;

	snprintf(msg, sizeof(msg), "%s-to-%s:%d", names[who], addr, port);
	if (sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&a, sizeof(a)) == (ssize_t)strlen(msg) && wait_in(fd))
		n = recv(fd, buf, sizeof(buf), 0);
	if (sk < 0)
		close(fd);
	if (n != (ssize_t)strlen(msg) || memcmp(buf, msg, n))
		VFAIL(who, "no echo of a datagram to %s:%d (%s)", addr, port, n < 0 ? strerror(errno) : "other bytes");
	return true;
}

static bool tcp_talk(int who)
{
	struct sockaddr_in a = sin_of("10.56.2.2", 5605);
	int sk = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char buf[64], want[64];
	ssize_t n = -1;

	snprintf(want, sizeof(want), "B heard %s", names[who]);
	if (sk >= 0 && !connect(sk, (struct sockaddr *)&a, sizeof(a)) &&
	    write(sk, names[who], strlen(names[who])) == (ssize_t)strlen(names[who]) && wait_in(sk))
		n = read(sk, buf, sizeof(buf));
	close(sk);
	if (n != (ssize_t)strlen(want) || memcmp(buf, want, n))
		VFAIL(who, "no answer from B's listener on 10.56.2.2:5605 (%s)", n < 0 ? strerror(errno) : "other bytes");
	return true;
}

/* The traffic each one starts (the others serve meanwhile). */
static bool exchange(int who)
{
	switch (who) {
	case ROOT:
		return !root_ns || (udp_echo(who, bound, "10.56.1.2", 5602) && udp_echo(who, bound, "10.56.2.2", 5604) &&
				    tcp_talk(who));
	case A:
		return udp_echo(who, bound, "10.56.2.2", 5604) && tcp_talk(who);
	default:
		return udp_echo(who, -1, "10.56.9.1", 5602) && udp_echo(who, -1, "10.56.2.1", 5602);
	}
}

/* A and B: serve until the end, checking themselves once when asked. */
static void __attribute__((noreturn)) child(int who)
{
	if (unshare(CLONE_NEWNET))
		tst_fail("%s: unshare: %s", names[who], strerror(errno));
	ctl->pid[who] = getpid();
	configure(who);
	int checked = 0;
	for (;;) {
		serve_once();
		int ph = atomic_load(&ctl->phase);
		if (ph == 3)
			break;
		/* once every end is up (the root says) before the dump, and after CHECK */
		int now = ph == 2 ? 2 : atomic_load(&ctl->configured[ROOT]) == 2 ? 1 : 0;
		if (!now || now == checked)
			continue;
		checked = now;
		if (now == 1)
			record(who);
		bool ok = links_ok(who) && exchange(who);
		atomic_store(&ctl->done[who], ok ? 1 : 2);
	}
	_exit(0);
}

int main(int argc, char **argv)
{
	pid_t pids[NR] = { 0 };

	tst_init_opts(argc, argv, NULL, "root-ns");
	root_ns = tst_opt_flag("root-ns");
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
	/* the pairs, each end straight in its namespace */
	tst_make_veth("a1", ctl->pid[A], "b1", ctl->pid[B]);
	if (root_ns)
		tst_make_veth("r0", 0, "a0", ctl->pid[A]);
	atomic_store(&ctl->phase, 1);
	configure(ROOT);
	for (int w = A; w < NR; w++)
		for (int t = 0; !atomic_load(&ctl->configured[w]); t++) {
			if (t > 2000)
				tst_fail("%s never configured its links", names[w]);
			tst_sleep_ms(2);
		}
	/* every end is up: the exchanges before the dump, to be sure they work */
	atomic_store(&ctl->configured[ROOT], 2);
	for (int w = A; w < NR; w++)
		for (int t = 0; !atomic_load(&ctl->done[w]); t++) {
			if (t > 3000)
				tst_fail("%s never checked itself before the dump", names[w]);
			tst_sleep_ms(2);
		}
	record(ROOT);
	bool ok = exchange(ROOT);
	/* (the others served meanwhile; they check themselves in parallel) */
	for (int w = A; w < NR; w++)
		if (atomic_load(&ctl->done[w]) != 1)
			tst_fail("before the dump: %s: %s", names[w], ctl->why[w]);
	if (!ok)
		tst_fail("before the dump: root: %s", ctl->why[ROOT]);
	for (int w = 0; w < NR; w++)
		atomic_store(&ctl->done[w], 0);
	tst_ready();
	tst_wait_check();
	atomic_store(&ctl->phase, 2);
	ok = links_ok(ROOT) && exchange(ROOT);
	atomic_store(&ctl->done[ROOT], ok ? 1 : 2);
	for (int w = A; w < NR; w++)
		for (int t = 0; !atomic_load(&ctl->done[w]) && t < 4000; t++)
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

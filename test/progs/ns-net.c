/* ns-net: a process in its own network namespace, with TCP connections in it.
 *
 * The program unshares CLONE_NEWNET and builds, through rtnetlink and ioctls:
 *   - lo up; a veth pair nsv0/nsv1 (MTU 1400 and MAC 02:11:22:33:44:55 on
 *     nsv0, nsv1 promiscuous), both up;
 *   - 10.77.0.1/24 and fd00:77::1/64 (nodad) on nsv0, 10.77.1.1/24 on nsv1;
 *   - routes: 10.99.0.0/16 via 10.77.0.2 (main), default dev nsv1 in table
 *     100, fd00:99::/64 via fd00:77::2;
 *   - a rule: from 10.77.0.0/24 lookup 100, priority 1000;
 *   - sysctls: ipv4.ip_forward 1, ipv4.conf.nsv0.rp_filter 2,
 *     ipv6.conf.nsv1.disable_ipv6 1;
 *   - TCP connections inside it, to 10.77.0.1, 127.0.0.1 and fd00:77::1,
 *     with unread data each way.  Run with --dump-arg --tcp-established.
 * After CHECK: every link, flag, MTU, MAC, address, route, rule and sysctl is
 * there (read back by netlink dumps and ioctls); the connections deliver
 * their queued bytes and then more each way.
 */
#include "tst.h"
#include "tst-rtnl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fib_rules.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define QUEUED 3000     /* bytes each way left unread at the dump */
#define MORE 50000      /* each way after the restore */

static const uint8_t mac[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };

/* ------------------------------------------------------------ rtnetlink */

static int nl;
static uint32_t seq;   /* (dumps; requests count their own: tst-rtnl.h) */

static void dump(int type, int family, void (*cb)(struct nlmsghdr *, void *), void *arg)
{
	static char buf[65536];
	struct tst_rtnl_req r = { 0 };
	struct rtgenmsg *g = tst_rtnl_body(&r.h, sizeof(struct rtmsg));

	g->rtgen_family = family;
	r.h.nlmsg_type = type;
	r.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	r.h.nlmsg_seq = ++seq;
	if (send(nl, &r, r.h.nlmsg_len, 0) < 0)
		tst_fail("netlink dump %d: %s", type, strerror(errno));
	for (;;) {
		ssize_t n = recv(nl, buf, sizeof(buf), 0);
		if (n < 0)
			tst_fail("netlink dump %d: %s", type, strerror(errno));
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == NLMSG_DONE)
				return;
			if (h->nlmsg_type == NLMSG_ERROR)
				tst_fail("netlink dump %d failed", type);
			cb(h, arg);
		}
	}
}

static void attrs(struct rtattr *a, int len, struct rtattr **tb, int max)
{
	memset(tb, 0, (max + 1) * sizeof(*tb));
	for (; RTA_OK(a, len); a = RTA_NEXT(a, len))
		if (a->rta_type <= max)
			tb[a->rta_type] = a;
}

/* ------------------------------------------------------------ setup */

static int ifindex(const char *name)
{
	int i = if_nametoindex(name);

	if (!i)
		tst_fail("no link %s", name);
	return i;
}

static int sk_ioctl;

static void set_flags(const char *name, short set)
{
	struct ifreq r = { 0 };

	snprintf(r.ifr_name, IFNAMSIZ, "%s", name);
	if (ioctl(sk_ioctl, SIOCGIFFLAGS, &r))
		tst_fail("SIOCGIFFLAGS %s: %s", name, strerror(errno));
	r.ifr_flags |= set;
	if (ioctl(sk_ioctl, SIOCSIFFLAGS, &r))
		tst_fail("SIOCSIFFLAGS %s: %s", name, strerror(errno));
}

static void make_veth(void)
{
	struct tst_rtnl_req r = { 0 };
	struct ifinfomsg *ifi = tst_rtnl_body(&r.h, sizeof(*ifi)), peer = { .ifi_family = AF_UNSPEC };

	ifi->ifi_family = AF_UNSPEC;
	r.h.nlmsg_type = RTM_NEWLINK;
	r.h.nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	tst_rtnl_put(&r.h, IFLA_IFNAME, "nsv0", 5);
	struct rtattr *li = tst_rtnl_put(&r.h, IFLA_LINKINFO, NULL, 0);
	tst_rtnl_put(&r.h, IFLA_INFO_KIND, "veth", 4);
	struct rtattr *data = tst_rtnl_put(&r.h, IFLA_INFO_DATA, NULL, 0);
	struct rtattr *p = tst_rtnl_put(&r.h, VETH_INFO_PEER, &peer, sizeof(peer));
	tst_rtnl_put(&r.h, IFLA_IFNAME, "nsv1", 5);
	tst_rtnl_nest_end(&r.h, p);
	tst_rtnl_nest_end(&r.h, data);
	tst_rtnl_nest_end(&r.h, li);
	tst_rtnl_talk(nl, &r.h, "creating veth nsv0/nsv1");
}

static void add_addr(int fam, const char *ifname, const char *addr, int plen, int flags)
{
	struct tst_rtnl_req r = { 0 };
	struct ifaddrmsg *a = tst_rtnl_body(&r.h, sizeof(*a));
	uint8_t bin[16];

	inet_pton(fam, addr, bin);
	a->ifa_family = fam;
	a->ifa_prefixlen = plen;
	a->ifa_flags = flags;
	a->ifa_index = ifindex(ifname);
	r.h.nlmsg_type = RTM_NEWADDR;
	r.h.nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	tst_rtnl_put(&r.h, IFA_LOCAL, bin, fam == AF_INET ? 4 : 16);
	tst_rtnl_put(&r.h, IFA_ADDRESS, bin, fam == AF_INET ? 4 : 16);
	tst_rtnl_talk(nl, &r.h, addr);
}

static void add_route(int fam, const char *dst, int plen, const char *gw, const char *dev, int table)
{
	struct tst_rtnl_req r = { 0 };
	struct rtmsg *m = tst_rtnl_body(&r.h, sizeof(*m));
	uint8_t bin[16];
	int oif = ifindex(dev), l = fam == AF_INET ? 4 : 16;

	m->rtm_family = fam;
	m->rtm_dst_len = plen;
	m->rtm_table = RT_TABLE_UNSPEC;
	m->rtm_protocol = RTPROT_BOOT;
	m->rtm_scope = gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
	m->rtm_type = RTN_UNICAST;
	r.h.nlmsg_type = RTM_NEWROUTE;
	r.h.nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	tst_rtnl_put(&r.h, RTA_TABLE, &table, 4);
	if (dst) {
		inet_pton(fam, dst, bin);
		tst_rtnl_put(&r.h, RTA_DST, bin, l);
	}
	if (gw) {
		inet_pton(fam, gw, bin);
		tst_rtnl_put(&r.h, RTA_GATEWAY, bin, l);
	}
	tst_rtnl_put(&r.h, RTA_OIF, &oif, 4);
	tst_rtnl_talk(nl, &r.h, dst ? dst : "default route");
}

static void add_rule(void)
{
	struct tst_rtnl_req r = { 0 };
	struct fib_rule_hdr *f = tst_rtnl_body(&r.h, sizeof(*f));
	uint8_t src[4];
	uint32_t prio = 1000, table = 100;

	inet_pton(AF_INET, "10.77.0.0", src);
	f->family = AF_INET;
	f->src_len = 24;
	f->action = FR_ACT_TO_TBL;
	r.h.nlmsg_type = RTM_NEWRULE;
	r.h.nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	tst_rtnl_put(&r.h, FRA_SRC, src, 4);
	tst_rtnl_put(&r.h, FRA_PRIORITY, &prio, 4);
	tst_rtnl_put(&r.h, FRA_TABLE, &table, 4);
	tst_rtnl_talk(nl, &r.h, "rule");
}

static void write_sysctl(const char *path, const char *v)
{
	int fd = open(path, O_WRONLY);

	if (fd < 0 || write(fd, v, strlen(v)) != (ssize_t)strlen(v))
		tst_fail("%s: %s", path, strerror(errno));
	close(fd);
}

/* ------------------------------------------------------------ TCP */

struct conn {
	int fam, cli, srv;
	const char *addr;
	uint64_t seed_c, seed_s;    /* client->server and server->client streams */
	size_t c_sent, s_sent, c_read, s_read;
};

/* byte i of a stream: a hash of the seed and i */
static uint8_t stream_byte(uint64_t seed, size_t i)
{
	uint64_t x = seed ^ ((i / 8) * 0x9E3779B97F4A7C15ULL);

	x ^= x >> 29;
	x *= 0xBF58476D1CE4E5B9ULL;
	x ^= x >> 32;
	return x >> (8 * (i % 8));
}

static void stream_send(int sk, uint64_t seed, size_t *sent, size_t n)
{
	uint8_t buf[8192];

	while (n) {
		size_t chunk = n > sizeof(buf) ? sizeof(buf) : n;
		for (size_t k = 0; k < chunk; k++)
			buf[k] = stream_byte(seed, *sent + k);
		ssize_t w = send(sk, buf, chunk, MSG_NOSIGNAL);
		if (w <= 0)
			tst_fail("send: %s", strerror(errno));
		*sent += w;
		n -= w;
	}
}

static void stream_recv(int sk, uint64_t seed, size_t *got, size_t n, const char *who)
{
	uint8_t buf[8192];

	while (n) {
		struct pollfd p = { .fd = sk, .events = POLLIN };
		if (poll(&p, 1, 10000) != 1)
			tst_fail("%s: no data for 10 s (%zu bytes missing)", who, n);
		ssize_t r = recv(sk, buf, n > sizeof(buf) ? sizeof(buf) : n, MSG_DONTWAIT);
		if (r <= 0)
			tst_fail("%s: recv: %s", who, r ? strerror(errno) : "end of stream");
		for (ssize_t k = 0; k < r; k++)
			if (buf[k] != stream_byte(seed, *got + k))
				tst_fail("%s: byte %zu differs", who, *got + k);
		*got += r;
		n -= r;
	}
}

static void conn_open(struct conn *c, int fam, const char *addr, uint64_t seed)
{
	struct sockaddr_storage a = { .ss_family = fam };
	socklen_t l = fam == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	int lsk, one = 1;

	c->fam = fam;
	c->addr = addr;
	c->seed_c = seed;
	c->seed_s = seed * 31 + 7;
	if (fam == AF_INET)
		inet_pton(fam, addr, &((struct sockaddr_in *)&a)->sin_addr);
	else
		inet_pton(fam, addr, &((struct sockaddr_in6 *)&a)->sin6_addr);
	if ((lsk = socket(fam, SOCK_STREAM, 0)) < 0 || setsockopt(lsk, SOL_SOCKET, SO_REUSEADDR, &one, 4) ||
	    bind(lsk, (struct sockaddr *)&a, l) || listen(lsk, 1) || getsockname(lsk, (struct sockaddr *)&a, &l))
		tst_fail("listener on %s: %s", addr, strerror(errno));
	if ((c->cli = socket(fam, SOCK_STREAM, 0)) < 0)
		tst_fail("socket: %s", strerror(errno));
	/* an IPv6 address is usable once the veth has its carrier (the kernel notes it a moment later) */
	for (int tries = 0; connect(c->cli, (struct sockaddr *)&a, l); tries++)
		if ((errno != EHOSTUNREACH && errno != ENETUNREACH && errno != EADDRNOTAVAIL) || tries == 300)
			tst_fail("connect to %s: %s", addr, strerror(errno));
		else
			tst_sleep_ms(10);
	if ((c->srv = accept(lsk, NULL, NULL)) < 0)
		tst_fail("accept on %s: %s", addr, strerror(errno));
	close(lsk);
	stream_send(c->cli, c->seed_c, &c->c_sent, QUEUED);
	stream_send(c->srv, c->seed_s, &c->s_sent, QUEUED);
}

static void conn_check(struct conn *c)
{
	char who[64];

	snprintf(who, sizeof(who), "connection to %s", c->addr);
	stream_recv(c->srv, c->seed_c, &c->c_read, QUEUED, who);
	stream_recv(c->cli, c->seed_s, &c->s_read, QUEUED, who);
	for (int i = 0; i < MORE / 5000; i++) {
		stream_send(c->cli, c->seed_c, &c->c_sent, 5000);
		stream_recv(c->srv, c->seed_c, &c->c_read, 5000, who);
		stream_send(c->srv, c->seed_s, &c->s_sent, 5000);
		stream_recv(c->cli, c->seed_s, &c->s_read, 5000, who);
	}
}

/* ------------------------------------------------------------ check */

static void check_link(const char *name, short flags, int mtu, const uint8_t *hw)
{
	struct ifreq r = { 0 };

	snprintf(r.ifr_name, IFNAMSIZ, "%s", name);
	if (ioctl(sk_ioctl, SIOCGIFFLAGS, &r))
		tst_fail("link %s is gone: %s", name, strerror(errno));
	if ((r.ifr_flags & flags) != flags)
		tst_fail("link %s: flags 0x%x, want 0x%x set", name, r.ifr_flags, flags);
	if (mtu && (ioctl(sk_ioctl, SIOCGIFMTU, &r) || r.ifr_mtu != mtu))
		tst_fail("link %s: MTU %d, want %d", name, r.ifr_mtu, mtu);
	if (hw && (ioctl(sk_ioctl, SIOCGIFHWADDR, &r) || memcmp(r.ifr_hwaddr.sa_data, hw, 6)))
		tst_fail("link %s: MAC differs", name);
}

struct want {
	int fam, ifindex, plen, table;
	uint8_t addr[16], gw[16];
	bool has_gw, found;
};

static void addr_cb(struct nlmsghdr *h, void *arg)
{
	struct want *w = arg;
	struct ifaddrmsg *a = NLMSG_DATA(h);
	struct rtattr *tb[IFA_MAX + 1];

	if (h->nlmsg_type != RTM_NEWADDR || a->ifa_family != w->fam)
		return;
	attrs(IFA_RTA(a), IFA_PAYLOAD(h), tb, IFA_MAX);
	struct rtattr *l = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	if (l && (int)a->ifa_index == w->ifindex && a->ifa_prefixlen == w->plen &&
	    !memcmp(RTA_DATA(l), w->addr, w->fam == AF_INET ? 4 : 16))
		w->found = true;
}

static void check_addr(int fam, const char *ifname, const char *addr, int plen)
{
	struct want w = { .fam = fam, .ifindex = ifindex(ifname), .plen = plen };

	inet_pton(fam, addr, w.addr);
	dump(RTM_GETADDR, fam, addr_cb, &w);
	if (!w.found)
		tst_fail("address %s/%d on %s is gone", addr, plen, ifname);
}

static void route_cb(struct nlmsghdr *h, void *arg)
{
	struct want *w = arg;
	struct rtmsg *m = NLMSG_DATA(h);
	struct rtattr *tb[RTA_MAX + 1];
	int l = w->fam == AF_INET ? 4 : 16;

	if (h->nlmsg_type != RTM_NEWROUTE || m->rtm_family != w->fam || m->rtm_dst_len != w->plen)
		return;
	attrs(RTM_RTA(m), RTM_PAYLOAD(h), tb, RTA_MAX);
	int table = tb[RTA_TABLE] ? *(int *)RTA_DATA(tb[RTA_TABLE]) : m->rtm_table;
	if (table != w->table || !tb[RTA_OIF] || *(int *)RTA_DATA(tb[RTA_OIF]) != w->ifindex)
		return;
	if (w->plen && (!tb[RTA_DST] || memcmp(RTA_DATA(tb[RTA_DST]), w->addr, l)))
		return;
	if (w->has_gw != !!tb[RTA_GATEWAY] || (w->has_gw && memcmp(RTA_DATA(tb[RTA_GATEWAY]), w->gw, l)))
		return;
	w->found = true;
}

static void check_route(int fam, const char *dst, int plen, const char *gw, const char *dev, int table)
{
	struct want w = { .fam = fam, .ifindex = ifindex(dev), .plen = plen, .table = table, .has_gw = gw };

	if (dst)
		inet_pton(fam, dst, w.addr);
	if (gw)
		inet_pton(fam, gw, w.gw);
	dump(RTM_GETROUTE, fam, route_cb, &w);
	if (!w.found)
		tst_fail("route %s/%d%s%s dev %s table %d is gone", dst ? dst : "default", plen, gw ? " via " : "",
			 gw ? gw : "", dev, table);
}

struct rules {
	bool ours, local, main;
};

static void rule_cb(struct nlmsghdr *h, void *arg)
{
	struct rules *r = arg;
	struct fib_rule_hdr *f = NLMSG_DATA(h);
	struct rtattr *tb[FRA_MAX + 1];
	uint8_t src[4];

	if (h->nlmsg_type != RTM_NEWRULE || f->family != AF_INET)
		return;
	attrs((struct rtattr *)((char *)f + NLMSG_ALIGN(sizeof(*f))), h->nlmsg_len - NLMSG_LENGTH(sizeof(*f)), tb, FRA_MAX);
	uint32_t prio = tb[FRA_PRIORITY] ? *(uint32_t *)RTA_DATA(tb[FRA_PRIORITY]) : 0;
	uint32_t table = tb[FRA_TABLE] ? *(uint32_t *)RTA_DATA(tb[FRA_TABLE]) : f->table;
	inet_pton(AF_INET, "10.77.0.0", src);
	if (prio == 1000 && table == 100 && f->src_len == 24 && tb[FRA_SRC] && !memcmp(RTA_DATA(tb[FRA_SRC]), src, 4))
		r->ours = true;
	if (prio == 0 && table == RT_TABLE_LOCAL)
		r->local = true;
	if (prio == 32766 && table == RT_TABLE_MAIN)
		r->main = true;
}

static void check_sysctl(const char *path, const char *want)
{
	char buf[64];

	if (tst_read_file(path, buf, sizeof(buf)) < 0)
		tst_fail("can't read %s", path);
	buf[strcspn(buf, "\n")] = 0;
	if (strcmp(buf, want))
		tst_fail("%s is %s, want %s", path, buf, want);
}

int main(int argc, char **argv)
{
	struct conn c[3] = { 0 };
	struct rules rules = { 0 };
	int v0_index;

	tst_init(argc, argv);
	if (unshare(CLONE_NEWNET))
		tst_fail("unshare(CLONE_NEWNET): %s", strerror(errno));
	if ((nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE)) < 0 ||
	    (sk_ioctl = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		tst_fail("sockets: %s", strerror(errno));
	set_flags("lo", IFF_UP);
	make_veth();
	struct ifreq r = { 0 };
	snprintf(r.ifr_name, IFNAMSIZ, "nsv0");
	r.ifr_mtu = 1400;
	if (ioctl(sk_ioctl, SIOCSIFMTU, &r))
		tst_fail("SIOCSIFMTU: %s", strerror(errno));
	r.ifr_hwaddr.sa_family = ARPHRD_ETHER;
	memcpy(r.ifr_hwaddr.sa_data, mac, 6);
	if (ioctl(sk_ioctl, SIOCSIFHWADDR, &r))
		tst_fail("SIOCSIFHWADDR: %s", strerror(errno));
	set_flags("nsv0", IFF_UP);
	set_flags("nsv1", IFF_UP | IFF_PROMISC);
	v0_index = ifindex("nsv0");
	add_addr(AF_INET, "nsv0", "10.77.0.1", 24, 0);
	add_addr(AF_INET, "nsv1", "10.77.1.1", 24, 0);
	add_addr(AF_INET6, "nsv0", "fd00:77::1", 64, IFA_F_NODAD);
	add_route(AF_INET, "10.99.0.0", 16, "10.77.0.2", "nsv0", RT_TABLE_MAIN);
	add_route(AF_INET, NULL, 0, NULL, "nsv1", 100);
	add_route(AF_INET6, "fd00:99::", 64, "fd00:77::2", "nsv0", RT_TABLE_MAIN);
	add_rule();
	write_sysctl("/proc/sys/net/ipv4/ip_forward", "1");
	write_sysctl("/proc/sys/net/ipv4/conf/nsv0/rp_filter", "2");
	write_sysctl("/proc/sys/net/ipv6/conf/nsv1/disable_ipv6", "1");
	conn_open(&c[0], AF_INET, "10.77.0.1", tst_seed());
	conn_open(&c[1], AF_INET, "127.0.0.1", tst_seed());
	conn_open(&c[2], AF_INET6, "fd00:77::1", tst_seed());

	/* netlink and unbound UDP sockets are not checkpointed: new ones after */
	close(nl);
	close(sk_ioctl);
	tst_ready();
	tst_wait_check();
	if ((nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE)) < 0 ||
	    (sk_ioctl = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		tst_fail("sockets: %s", strerror(errno));

	if (tst_corrupting()) {
		snprintf(r.ifr_name, IFNAMSIZ, "nsv0");
		r.ifr_mtu = 1300;
		ioctl(sk_ioctl, SIOCSIFMTU, &r);
	}
	check_link("lo", IFF_UP | IFF_LOOPBACK, 0, NULL);
	check_link("nsv0", IFF_UP, 1400, mac);
	check_link("nsv1", IFF_UP | IFF_PROMISC, 0, NULL);
	if (ifindex("nsv0") != v0_index)
		tst_fail("nsv0 has index %d, had %d", ifindex("nsv0"), v0_index);
	check_addr(AF_INET, "lo", "127.0.0.1", 8);
	check_addr(AF_INET, "nsv0", "10.77.0.1", 24);
	check_addr(AF_INET, "nsv1", "10.77.1.1", 24);
	check_addr(AF_INET6, "nsv0", "fd00:77::1", 64);
	check_route(AF_INET, "10.99.0.0", 16, "10.77.0.2", "nsv0", RT_TABLE_MAIN);
	check_route(AF_INET, NULL, 0, NULL, "nsv1", 100);
	check_route(AF_INET6, "fd00:99::", 64, "fd00:77::2", "nsv0", RT_TABLE_MAIN);
	dump(RTM_GETRULE, AF_INET, rule_cb, &rules);
	if (!rules.ours || !rules.local || !rules.main)
		tst_fail("rules: from 10.77.0.0/24 lookup 100 %s, local %s, main %s", rules.ours ? "kept" : "gone",
			 rules.local ? "kept" : "gone", rules.main ? "kept" : "gone");
	check_sysctl("/proc/sys/net/ipv4/ip_forward", "1");
	check_sysctl("/proc/sys/net/ipv4/conf/nsv0/rp_filter", "2");
	check_sysctl("/proc/sys/net/ipv6/conf/nsv1/disable_ipv6", "1");
	for (int i = 0; i < 3; i++)
		conn_check(&c[i]);
	tst_pass();
}

/* tun: tun and tap devices in the process's own network namespace, held by its fds.
 *
 * The program unshares CLONE_NEWNET, brings lo up and makes:
 *   - tun7 (IFF_TUN | IFF_NO_PI), owner 1234, group 4321, send buffer 65536,
 *     MTU 1400, 10.7.0.1/24, up, and a route 10.8.0.0/24 dev tun7;
 *   - tap7 (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE | IFF_NAPI), two
 *     queues, the second detached (TUNSETQUEUE), vnet header size 12, checksum
 *     and TCP segmentation offloads (TUNSETOFFLOAD), MAC
 *     02:aa:bb:cc:dd:ee, 10.9.0.1/24, up;
 *   - an fd on /dev/net/tun attached to nothing.
 * Before the dump and after CHECK, an ICMP echo request from 10.8.0.5 to
 * 10.7.0.1 written into tun7's fd must come back out of it as the kernel's
 * echo reply (its way back is the route).  After CHECK also: each device has
 * its flags, owner, group (rtnetlink), MTU, MAC, address, queue settings and
 * offloads (its active features: ethtool);
 * tap7's second queue is still detached (it attaches; the first would not); the
 * third fd is still attached to nothing.  --corrupt attaches the detached
 * queue after the check point.  --nested: a child does all this (and speaks to
 * the runner), in a network namespace nested below the root's, which stays in
 * the caller's and waits for it.  --host: no namespace of its own: the devices
 * (crtun7, crtap7) are the caller's namespace's, which only this process keeps.
 */
#include "tst.h"
#include "tst-rtnl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#define TUN_FLAGS (IFF_TUN | IFF_NO_PI)
#define TAP_FLAGS (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE | IFF_NAPI)
#define OWNER 1234
#define GROUP 4321
#define SNDBUF 65536
#define VNET_HDR 12

/* the devices' names: ours (in the caller's namespace with --host) */
static const char *TUN = "tun7", *TAP = "tap7";
static const uint8_t mac[6] = { 0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee };
static int sk_ioctl;

static int tun_open(const char *name, int flags)
{
	struct ifreq r = { 0 };
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		tst_fail("/dev/net/tun: %s", strerror(errno));
	snprintf(r.ifr_name, IFNAMSIZ, "%s", name);
	r.ifr_flags = flags;
	if (ioctl(fd, TUNSETIFF, &r))
		tst_fail("TUNSETIFF %s: %s", name, strerror(errno));
	return fd;
}

static void ifreq_ioctl(const char *name, unsigned long req, struct ifreq *r, const char *what)
{
	snprintf(r->ifr_name, IFNAMSIZ, "%s", name);
	if (ioctl(sk_ioctl, req, r))
		tst_fail("%s %s: %s", what, name, strerror(errno));
}

static void set_up(const char *name)
{
	struct ifreq r = { 0 };

	ifreq_ioctl(name, SIOCGIFFLAGS, &r, "SIOCGIFFLAGS");
	r.ifr_flags |= IFF_UP;
	ifreq_ioctl(name, SIOCSIFFLAGS, &r, "SIOCSIFFLAGS");
}

static void set_addr(const char *name, const char *addr)
{
	struct ifreq r = { 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&r.ifr_addr;

	sin->sin_family = AF_INET;
	inet_pton(AF_INET, addr, &sin->sin_addr);
	ifreq_ioctl(name, SIOCSIFADDR, &r, "SIOCSIFADDR");
	inet_pton(AF_INET, "255.255.255.0", &sin->sin_addr);
	ifreq_ioctl(name, SIOCSIFNETMASK, &r, "SIOCSIFNETMASK");
}

static void add_route(const char *dst, int plen, const char *dev)
{
	struct tst_rtnl_req r = { 0 };
	struct rtmsg *m = tst_rtnl_body(&r.h, sizeof(*m));
	uint8_t bin[4];
	int oif = if_nametoindex(dev);

	m->rtm_family = AF_INET;
	m->rtm_dst_len = plen;
	m->rtm_table = RT_TABLE_MAIN;
	m->rtm_protocol = RTPROT_BOOT;
	m->rtm_scope = RT_SCOPE_LINK;
	m->rtm_type = RTN_UNICAST;
	r.h.nlmsg_type = RTM_NEWROUTE;
	r.h.nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	inet_pton(AF_INET, dst, bin);
	tst_rtnl_put(&r.h, RTA_DST, bin, 4);
	tst_rtnl_put(&r.h, RTA_OIF, &oif, 4);
	tst_rtnl_talk(-1, &r.h, dst);
}

/* ------------------------------------------------------------ checks */

static uint16_t csum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		s += b[i] << 8 | b[i + 1];
	if (len & 1)
		s += b[len - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return htons(~s);
}

/* An echo request 10.8.0.5 -> 10.7.0.1 into tun7, its reply out of it. */
static void ping(int fd, uint16_t seqno)
{
	uint8_t pkt[84] = { 0 }, buf[2048];
	struct iphdr *ip = (struct iphdr *)pkt;
	struct icmphdr *ic = (struct icmphdr *)(pkt + sizeof(*ip));

	ip->version = 4;
	ip->ihl = 5;
	ip->tot_len = htons(sizeof(pkt));
	ip->id = htons(seqno);
	ip->ttl = 64;
	ip->protocol = IPPROTO_ICMP;
	inet_pton(AF_INET, "10.8.0.5", &ip->saddr);
	inet_pton(AF_INET, "10.7.0.1", &ip->daddr);
	ip->check = csum(ip, sizeof(*ip));
	ic->type = ICMP_ECHO;
	ic->un.echo.id = htons(0x7777);
	ic->un.echo.sequence = htons(seqno);
	memset(pkt + 28, 0x5a, sizeof(pkt) - 28);
	ic->checksum = csum(ic, sizeof(pkt) - sizeof(*ip));
	if (write(fd, pkt, sizeof(pkt)) != (ssize_t)sizeof(pkt))
		tst_fail("writing an echo request into tun7: %s", strerror(errno));
	/* (the kernel may send other packets first: IPv6 router solicitations...) */
	for (int tries = 0; tries < 50; tries++) {
		struct pollfd p = { fd, POLLIN, 0 };
		if (poll(&p, 1, 2000) <= 0)
			break;
		ssize_t n = read(fd, buf, sizeof(buf));
		struct iphdr *rip = (struct iphdr *)buf;
		struct icmphdr *ric = (struct icmphdr *)(buf + 20);
		if (n < 28 || rip->version != 4 || rip->protocol != IPPROTO_ICMP)
			continue;
		if (rip->saddr == ip->daddr && rip->daddr == ip->saddr && ric->type == ICMP_ECHOREPLY &&
		    ric->un.echo.id == htons(0x7777) && ric->un.echo.sequence == htons(seqno))
			return;
	}
	tst_fail("no echo reply out of tun7 for request %u", seqno);
}

static void check_iff(int fd, const char *name, int flags)
{
	struct ifreq r = { 0 };

	if (ioctl(fd, TUNGETIFF, &r))
		tst_fail("TUNGETIFF (%s): %s", name, strerror(errno));
	if (strcmp(r.ifr_name, name) || r.ifr_flags != flags)
		tst_fail("a queue of %s is now one of %s, flags %#x (want %#x)", name, r.ifr_name, r.ifr_flags, flags);
}

/* owner and group of a tun link, from its IFLA_INFO_DATA */
static void check_owner(const char *name, uint32_t owner, uint32_t group)
{
	struct {
		struct nlmsghdr h;
		struct ifinfomsg ifi;
	} req = { .h = { .nlmsg_len = sizeof(req), .nlmsg_type = RTM_GETLINK, .nlmsg_flags = NLM_F_REQUEST },
		  .ifi = { .ifi_family = AF_UNSPEC, .ifi_index = (int)if_nametoindex(name) } };
	static char buf[16384] __attribute__((aligned(8)));
	int nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	uint32_t got_owner = 0, got_group = 0;
	ssize_t n;

	if (nl < 0 || send(nl, &req, sizeof(req), 0) < 0 || (n = recv(nl, buf, sizeof(buf), 0)) < 0)
		tst_fail("RTM_GETLINK %s: %s", name, strerror(errno));
	close(nl);
	struct nlmsghdr *h = (struct nlmsghdr *)buf;
	if (!NLMSG_OK(h, n) || h->nlmsg_type != RTM_NEWLINK)
		tst_fail("RTM_GETLINK %s: no link", name);
	int len = IFLA_PAYLOAD(h);
	for (struct rtattr *a = IFLA_RTA((struct ifinfomsg *)NLMSG_DATA(h)); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type != IFLA_LINKINFO)
			continue;
		int l2 = RTA_PAYLOAD(a);
		for (struct rtattr *b = RTA_DATA(a); RTA_OK(b, l2); b = RTA_NEXT(b, l2)) {
			if (b->rta_type != IFLA_INFO_DATA)
				continue;
			int l3 = RTA_PAYLOAD(b);
			for (struct rtattr *c = RTA_DATA(b); RTA_OK(c, l3); c = RTA_NEXT(c, l3)) {
				if (c->rta_type == IFLA_TUN_OWNER)
					got_owner = *(uint32_t *)RTA_DATA(c);
				if (c->rta_type == IFLA_TUN_GROUP)
					got_group = *(uint32_t *)RTA_DATA(c);
			}
		}
	}
	if (got_owner != owner || got_group != group)
		tst_fail("%s: owner %u group %u, want %u %u", name, got_owner, got_group, owner, group);
}

/* Whether each of the features named is active on dev: a bit per name. */
static unsigned features(const char *dev, const char *const *names, int nr)
{
	static char si_buf[sizeof(struct ethtool_sset_info) + 4] __attribute__((aligned(8)));
	static char gs_buf[sizeof(struct ethtool_gstrings) + 512 * ETH_GSTRING_LEN] __attribute__((aligned(8)));
	static char gf_buf[sizeof(struct ethtool_gfeatures) + 16 * sizeof(struct ethtool_get_features_block)]
		__attribute__((aligned(8)));
	struct ethtool_sset_info *si = (void *)si_buf;
	struct ethtool_gstrings *gs = (void *)gs_buf;
	struct ethtool_gfeatures *gf = (void *)gf_buf;
	struct ifreq r = { 0 };
	unsigned got = 0, n;

	si->cmd = ETHTOOL_GSSET_INFO;
	si->sset_mask = 1ULL << ETH_SS_FEATURES;
	r.ifr_data = (void *)si;
	ifreq_ioctl(dev, SIOCETHTOOL, &r, "ETHTOOL_GSSET_INFO");
	if ((n = si->data[0]) > 512)
		tst_fail("%s has %u features", dev, n);
	gs->cmd = ETHTOOL_GSTRINGS;
	gs->string_set = ETH_SS_FEATURES;
	gs->len = n;
	r.ifr_data = (void *)gs;
	ifreq_ioctl(dev, SIOCETHTOOL, &r, "ETHTOOL_GSTRINGS");
	gf->cmd = ETHTOOL_GFEATURES;
	gf->size = (n + 31) / 32;
	r.ifr_data = (void *)gf;
	ifreq_ioctl(dev, SIOCETHTOOL, &r, "ETHTOOL_GFEATURES");
	for (unsigned i = 0; i < n; i++)
		for (int k = 0; k < nr; k++)
			if (!strncmp((char *)gs->data + i * ETH_GSTRING_LEN, names[k], ETH_GSTRING_LEN) &&
			    (gf->features[i / 32].active & (1u << (i % 32))))
				got |= 1u << k;
	return got;
}

static const char *const offload_names[] = { "tx-checksum-ip-generic", "tx-tcp-segmentation",
					     "tx-tcp6-segmentation", "tx-udp-segmentation" };
/* TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6: the first three, not UDP segmentation */
#define OFFLOADS_SET 0x7

static void check_link(const char *name, int mtu, const uint8_t *hw, const char *addr)
{
	struct ifreq r = { 0 };
	char a[INET_ADDRSTRLEN];

	ifreq_ioctl(name, SIOCGIFFLAGS, &r, "SIOCGIFFLAGS");
	if (!(r.ifr_flags & IFF_UP))
		tst_fail("%s is down", name);
	ifreq_ioctl(name, SIOCGIFMTU, &r, "SIOCGIFMTU");
	if (mtu && r.ifr_mtu != mtu)
		tst_fail("%s: MTU %d, want %d", name, r.ifr_mtu, mtu);
	if (hw) {
		ifreq_ioctl(name, SIOCGIFHWADDR, &r, "SIOCGIFHWADDR");
		if (memcmp(r.ifr_hwaddr.sa_data, hw, 6))
			tst_fail("%s: its MAC changed", name);
	}
	ifreq_ioctl(name, SIOCGIFADDR, &r, "SIOCGIFADDR");
	inet_ntop(AF_INET, &((struct sockaddr_in *)&r.ifr_addr)->sin_addr, a, sizeof(a));
	if (strcmp(a, addr))
		tst_fail("%s: address %s, want %s", name, a, addr);
}

int main(int argc, char **argv)
{
	struct ifreq r = { 0 };
	int tun, tap[2], loose, v;
	struct stat st;

	tst_init_opts(argc, argv, NULL, "nested,host");
	bool host = tst_opt_flag("host");
	if (host) {
		TUN = "crtun7";
		TAP = "crtap7";
	}
	if (tst_opt_flag("nested")) {
		pid_t child = fork();
		int status;
		if (child < 0)
			tst_fail("fork: %s", strerror(errno));
		if (child) {
			while (waitpid(child, &status, 0) < 0)
				if (errno != EINTR)
					_exit(1);
			_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
		}
	}
	if (!host && unshare(CLONE_NEWNET))
		tst_fail("unshare(CLONE_NEWNET): %s", strerror(errno));
	if ((sk_ioctl = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		tst_fail("socket: %s", strerror(errno));
	if (!host)
		set_up("lo");

	tun = tun_open(TUN, TUN_FLAGS);
	if (ioctl(tun, TUNSETOWNER, (unsigned long)OWNER) || ioctl(tun, TUNSETGROUP, (unsigned long)GROUP))
		tst_fail("TUNSETOWNER/GROUP: %s", strerror(errno));
	v = SNDBUF;
	if (ioctl(tun, TUNSETSNDBUF, &v))
		tst_fail("TUNSETSNDBUF: %s", strerror(errno));
	r.ifr_mtu = 1400;
	ifreq_ioctl(TUN, SIOCSIFMTU, &r, "SIOCSIFMTU");
	set_addr(TUN, "10.7.0.1");
	set_up(TUN);
	add_route("10.8.0.0", 24, TUN);

	tap[0] = tun_open(TAP, TAP_FLAGS);
	tap[1] = tun_open(TAP, TAP_FLAGS);
	v = VNET_HDR;
	if (ioctl(tap[0], TUNSETVNETHDRSZ, &v))
		tst_fail("TUNSETVNETHDRSZ: %s", strerror(errno));
	if (ioctl(tap[0], TUNSETOFFLOAD, (unsigned long)(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6)))
		tst_fail("TUNSETOFFLOAD: %s", strerror(errno));
	if ((v = features(TAP, offload_names, 4)) != OFFLOADS_SET || features(TUN, offload_names, 4))
		tst_fail("offloads: tap7 %#x, want %#x, and tun7 some", v, OFFLOADS_SET);
	memset(&r, 0, sizeof(r));
	r.ifr_flags = IFF_DETACH_QUEUE;
	if (ioctl(tap[1], TUNSETQUEUE, &r))
		tst_fail("TUNSETQUEUE detach: %s", strerror(errno));
	memset(&r, 0, sizeof(r));
	r.ifr_hwaddr.sa_family = ARPHRD_ETHER;
	memcpy(r.ifr_hwaddr.sa_data, mac, 6);
	ifreq_ioctl(TAP, SIOCSIFHWADDR, &r, "SIOCSIFHWADDR");
	set_addr(TAP, "10.9.0.1");
	set_up(TAP);

	if ((loose = open("/dev/net/tun", O_RDWR | O_CLOEXEC)) < 0)
		tst_fail("/dev/net/tun: %s", strerror(errno));
	ping(tun, 1);
	close(sk_ioctl);

	tst_ready();
	tst_wait_check();
	if (tst_corrupting()) {
		memset(&r, 0, sizeof(r));
		r.ifr_flags = IFF_ATTACH_QUEUE;
		ioctl(tap[1], TUNSETQUEUE, &r);
	}
	if ((sk_ioctl = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		tst_fail("socket: %s", strerror(errno));

	check_iff(tun, TUN, TUN_FLAGS);
	check_owner(TUN, OWNER, GROUP);
	if (ioctl(tun, TUNGETSNDBUF, &v) || v != SNDBUF)
		tst_fail("tun7: send buffer %d, want %d", v, SNDBUF);
	check_link(TUN, 1400, NULL, "10.7.0.1");
	ping(tun, 2);

	check_iff(tap[0], TAP, TAP_FLAGS);
	if (ioctl(tap[0], TUNGETVNETHDRSZ, &v) || v != VNET_HDR)
		tst_fail("tap7: vnet header size %d, want %d", v, VNET_HDR);
	check_link(TAP, 0, mac, "10.9.0.1");
	if ((v = features(TAP, offload_names, 4)) != OFFLOADS_SET || features(TUN, offload_names, 4))
		tst_fail("offloads: tap7 %#x, want %#x, and tun7 some", v, OFFLOADS_SET);
	/* only a detached queue attaches (EINVAL: attached, or never) */
	memset(&r, 0, sizeof(r));
	r.ifr_flags = IFF_ATTACH_QUEUE;
	if (!ioctl(tap[0], TUNSETQUEUE, &r) || errno != EINVAL)
		tst_fail("tap7's first queue was detached");
	if (ioctl(tap[1], TUNSETQUEUE, &r))
		tst_fail("tap7's second queue is not detached any more (TUNSETQUEUE attach: %s)", strerror(errno));
	check_iff(tap[1], TAP, TAP_FLAGS);

	if (fstat(loose, &st) || !S_ISCHR(st.st_mode) || major(st.st_rdev) != 10 || minor(st.st_rdev) != 200)
		tst_fail("the unattached fd is not /dev/net/tun");
	if (!ioctl(loose, TUNGETIFF, &r) || errno != EBADFD || !ioctl(loose, TUNSETQUEUE, &r) || errno != EINVAL)
		tst_fail("the unattached fd is attached to %s", r.ifr_name);
	tst_pass();
}

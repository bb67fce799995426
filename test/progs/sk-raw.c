/* sk-raw: raw IP sockets and ICMP sockets, as ping and routing daemons hold them.
 *
 *   fd 20  raw IPv4 ICMP bound to 127.0.0.1, ICMP_FILTER passing only echo
 *          replies, a multicast membership (224.0.0.18 on lo, as VRRP)
 *   fd 21  raw IPv6 ICMPv6 with an ICMPV6_FILTER blocking everything but
 *          echo replies
 *   fd 22  raw IPv4 UDP with IP_HDRINCL, connected to 127.0.0.2
 *   fd 23  raw IPv6 protocol 253 (experimental) with IPV6_CHECKSUM 2
 *   fd 24  an ICMP "ping" socket (SOCK_DGRAM, IPPROTO_ICMP) bound to ident
 *          4242, when net.ipv4.ping_group_range lets us make one
 * --own-netns: all of it in a network namespace of its own (lo up), whose
 * ping_group_range lets everybody make ICMP sockets (so fd 24 is there)
 * After CHECK: the same addresses and options; an echo request from fd 20 to
 * 127.0.0.1 brings its reply to fd 20 (and only the reply: the filter), the
 * ping socket's echo brings its reply to fd 24.
 */
#include "tst.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/icmp.h>
#include <linux/icmpv6.h>
#include <linux/if.h>
#include <sched.h>
#include <sys/ioctl.h>
/* net/if.h clashes with linux/icmpv6.h (linux/if.h) */
unsigned int if_nametoindex(const char *ifname);
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef SOL_RAW
#define SOL_RAW 255
#endif
#ifndef SOL_ICMPV6
#define SOL_ICMPV6 58
#endif

static int opt(int fd, int level, int name)
{
	int v = -1;
	socklen_t l = sizeof(v);
	if (getsockopt(fd, level, name, &v, &l))
		tst_fail("getsockopt(%d, %d, %d): %s", fd, level, name, strerror(errno));
	return v;
}

static void at(int fd, int want)
{
	if (fd < 0 || dup2(fd, want) != want || close(fd))
		tst_fail("socket at fd %d: %s", want, strerror(errno));
}

static uint16_t csum(const void *p, size_t n)
{
	const uint16_t *w = p;
	uint32_t s = 0;
	for (; n > 1; n -= 2)
		s += *w++;
	if (n)
		s += *(const uint8_t *)w;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return ~s;
}

struct names {
	struct sockaddr_storage self[5], peer[5];
};

static void names(struct names *n, int nr)
{
	memset(n, 0, sizeof(*n));
	for (int i = 0; i < nr; i++) {
		socklen_t l = sizeof(n->self[i]);
		getsockname(20 + i, (struct sockaddr *)&n->self[i], &l);
		l = sizeof(n->peer[i]);
		getpeername(20 + i, (struct sockaddr *)&n->peer[i], &l);
	}
}

int main(int argc, char **argv)
{
	tst_init_opts(argc, argv, NULL, "own-netns");
	if (tst_opt_flag("own-netns")) {
		struct ifreq ifr = { .ifr_name = "lo" };
		int s;
		if (unshare(CLONE_NEWNET) || (s = socket(AF_INET, SOCK_DGRAM, 0)) < 0 || ioctl(s, SIOCGIFFLAGS, &ifr))
			tst_fail("own network namespace: %s", strerror(errno));
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(s, SIOCSIFFLAGS, &ifr) || close(s))
			tst_fail("lo up: %s", strerror(errno));
		int pg = open("/proc/sys/net/ipv4/ping_group_range", O_WRONLY);
		if (pg < 0 || write(pg, "0 2147483647", 12) != 12 || close(pg))
			tst_fail("ping_group_range: %s", strerror(errno));
	}
	struct sockaddr_in lo4 = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in two = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000002) };
	struct icmp_filter f4 = { .data = ~(1u << ICMP_ECHOREPLY) };
	struct icmp6_filter f6;
	struct ip_mreqn mr = { .imr_ifindex = (int)if_nametoindex("lo") };
	int nr = 5;

	memset(&f6, 0xff, sizeof(f6));
	f6.data[ICMPV6_ECHO_REPLY >> 5] &= ~(1u << (ICMPV6_ECHO_REPLY & 31));
	inet_pton(AF_INET, "224.0.0.18", &mr.imr_multiaddr);
	at(socket(AF_INET, SOCK_RAW, IPPROTO_ICMP), 20);
	if (bind(20, (struct sockaddr *)&lo4, sizeof(lo4)) || setsockopt(20, SOL_RAW, ICMP_FILTER, &f4, sizeof(f4)) ||
	    setsockopt(20, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof(mr)))
		tst_fail("fd 20: %s", strerror(errno));
	at(socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6), 21);
	if (setsockopt(21, SOL_ICMPV6, ICMPV6_FILTER, &f6, sizeof(f6)))
		tst_fail("fd 21: %s", strerror(errno));
	at(socket(AF_INET, SOCK_RAW, IPPROTO_UDP), 22);
	if (setsockopt(22, IPPROTO_IP, IP_HDRINCL, &(int){ 1 }, sizeof(int)) ||
	    connect(22, (struct sockaddr *)&two, sizeof(two)))
		tst_fail("fd 22: %s", strerror(errno));
	at(socket(AF_INET6, SOCK_RAW, 253), 23);
	if (setsockopt(23, IPPROTO_IPV6, IPV6_CHECKSUM, &(int){ 2 }, sizeof(int)))
		tst_fail("fd 23: %s", strerror(errno));
	int ping = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
	if (ping < 0) {
		tst_info("SKIP (part): no ICMP socket (%s): net.ipv4.ping_group_range leaves us out", strerror(errno));
		nr = 4;
	} else {
		struct sockaddr_in id = { .sin_family = AF_INET, .sin_port = htons(4242) };
		at(ping, 24);
		if (bind(24, (struct sockaddr *)&id, sizeof(id)))
			tst_fail("fd 24: %s", strerror(errno));
	}
	struct names before, after;
	names(&before, nr);

	tst_ready();
	tst_wait_check();

	if (tst_corrupting())
		setsockopt(22, IPPROTO_IP, IP_HDRINCL, &(int){ 0 }, sizeof(int));
	names(&after, nr);
	for (int i = 0; i < nr; i++)
		if (memcmp(&before.self[i], &after.self[i], sizeof(before.self[i])) ||
		    memcmp(&before.peer[i], &after.peer[i], sizeof(before.peer[i])))
			tst_fail("fd %d is bound or connected elsewhere", 20 + i);
	struct icmp_filter g4 = { 0 };
	struct icmp6_filter g6;
	socklen_t l = sizeof(g4);
	if (getsockopt(20, SOL_RAW, ICMP_FILTER, &g4, &l) || g4.data != f4.data)
		tst_fail("fd 20: ICMP_FILTER %#x, was %#x", g4.data, f4.data);
	l = sizeof(g6);
	if (getsockopt(21, SOL_ICMPV6, ICMPV6_FILTER, &g6, &l) || memcmp(&g6, &f6, sizeof(f6)))
		tst_fail("fd 21: ICMPV6_FILTER differs");
	if (!opt(22, IPPROTO_IP, IP_HDRINCL) || opt(23, IPPROTO_IPV6, IPV6_CHECKSUM) != 2 ||
	    opt(22, SOL_SOCKET, SO_PROTOCOL) != IPPROTO_UDP || opt(23, SOL_SOCKET, SO_PROTOCOL) != 253)
		tst_fail("fd 22/23: hdrincl %d, checksum %d", opt(22, IPPROTO_IP, IP_HDRINCL),
			 opt(23, IPPROTO_IPV6, IPV6_CHECKSUM));
	/* an echo to ourselves: the request is filtered out, the reply comes */
	struct icmphdr req = { .type = ICMP_ECHO, .un.echo = { .id = htons(0x4c43), .sequence = htons(7) } };
	req.checksum = csum(&req, sizeof(req));
	if (sendto(20, &req, sizeof(req), 0, (struct sockaddr *)&lo4, sizeof(lo4)) != sizeof(req))
		tst_fail("echo from fd 20: %s", strerror(errno));
	int got = 0;
	for (int i = 0; i < 200 && !got; i++) {
		char pkt[256];
		ssize_t n = recv(20, pkt, sizeof(pkt), MSG_DONTWAIT);
		if (n < 0) {
			tst_sleep_ms(2);
			continue;
		}
		struct icmphdr *h = (struct icmphdr *)(pkt + (pkt[0] & 0xf) * 4);
		if (h->type != ICMP_ECHOREPLY)
			tst_fail("fd 20 got ICMP type %u through its filter", h->type);
		got = h->un.echo.id == htons(0x4c43) && h->un.echo.sequence == htons(7);
	}
	if (!got)
		tst_fail("fd 20 did not get the echo reply");
	if (nr == 5) {
		struct icmphdr pr = { .type = ICMP_ECHO, .un.echo.sequence = htons(9) };
		struct icmphdr rep;
		if (sendto(24, &pr, sizeof(pr), 0, (struct sockaddr *)&lo4, sizeof(lo4)) != sizeof(pr))
			tst_fail("echo from the ping socket: %s", strerror(errno));
		ssize_t n = -1;
		for (int i = 0; i < 200 && n < 0; i++)
			if ((n = recv(24, &rep, sizeof(rep), MSG_DONTWAIT)) < 0)
				tst_sleep_ms(2);
		if (n != sizeof(rep) || rep.type != ICMP_ECHOREPLY || rep.un.echo.id != htons(4242) ||
		    rep.un.echo.sequence != htons(9))
			tst_fail("the ping socket got no reply for ident 4242 (%zd)", n);
	}
	tst_pass();
}

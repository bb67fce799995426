/* sk-inet: UDP and listening TCP sockets with their options.
 *
 *   fd 20  UDP IPv4 bound to 127.0.0.1:P, SO_REUSEADDR, SO_REUSEPORT,
 *          SO_BROADCAST, SO_RCVBUF 65536, O_NONBLOCK, member of 239.1.2.3 on lo
 *          and of 239.1.2.4 for one source only
 *   fd 21  UDP IPv4 connected to fd 20 (bound where connect put it)
 *   fd 22  UDP IPv6 bound to [::1], IPV6_V6ONLY, SO_BINDTODEVICE lo, a classic
 *          BPF filter (SO_ATTACH_FILTER) that drops datagrams under 8 bytes
 *   fd 23  TCP IPv4 listening on 127.0.0.1 (backlog 7), SO_KEEPALIVE,
 *          TCP_NODELAY, keepalive 99/13/4, SO_SNDBUF 100000, SO_LINGER 3 s
 *   fd 24  TCP IPv6 listening on [::] with IPV6_V6ONLY off, O_NONBLOCK
 *   fd 25  TCP IPv4 bound, not listening
 *   fd 26  UDP IPv4 never bound (one made for ioctls), O_NONBLOCK
 *   fd 27  TCP IPv6 never bound, TCP_NODELAY
 * After CHECK: the same addresses and options; datagrams flow between 20 and
 * 21 both ways; fd 22 takes a long datagram and its filter drops a short one;
 * the listeners accept connections; fd 25 can still listen; fd 26 answers
 * SIOCGIFINDEX for lo and is still unbound; fd 27 connects to fd 24.
 */
#include "tst.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define CHECK(x) do { if (!(x)) tst_fail("%s: %s", #x, strerror(errno)); } while (0)

static int opt(int fd, int level, int name)
{
	int v = -1;
	socklen_t l = sizeof(v);
	if (getsockopt(fd, level, name, &v, &l))
		tst_fail("getsockopt(%d, %d, %d): %s", fd, level, name, strerror(errno));
	return v;
}

static void put(int fd, int level, int name, int v)
{
	if (setsockopt(fd, level, name, &v, sizeof(v)))
		tst_fail("setsockopt(%d, %d, %d): %s", fd, level, name, strerror(errno));
}

static void at(int fd, int want)
{
	if (fd < 0 || dup2(fd, want) != want)
		tst_fail("socket/dup2 to %d: %s", want, strerror(errno));
	close(fd);
}

static struct sockaddr_in v4(const char *a, int port)
{
	struct sockaddr_in s = { .sin_family = AF_INET, .sin_port = htons(port) };
	inet_pton(AF_INET, a, &s.sin_addr);
	return s;
}

struct names {
	struct sockaddr_storage n[6], peer21;
};

static void names(struct names *n)
{
	for (int i = 0; i < 6; i++) {
		socklen_t l = sizeof(n->n[i]);
		memset(&n->n[i], 0, l);
		CHECK(!getsockname(20 + i, (struct sockaddr *)&n->n[i], &l));
	}
	socklen_t l = sizeof(n->peer21);
	memset(&n->peer21, 0, l);
	CHECK(!getpeername(21, (struct sockaddr *)&n->peer21, &l));
}

static bool member(int fd, const char *grp, const char *only_src)
{
	char buf[GROUP_FILTER_SIZE(4)];
	struct group_filter *gf = (void *)buf;
	socklen_t l = sizeof(buf);
	memset(buf, 0, sizeof(buf));
	gf->gf_interface = if_nametoindex("lo");
	*(struct sockaddr_in *)&gf->gf_group = v4(grp, 0);
	gf->gf_numsrc = 4;
	if (getsockopt(fd, IPPROTO_IP, MCAST_MSFILTER, gf, &l))
		return false;
	if (!only_src)
		return gf->gf_fmode == MCAST_EXCLUDE && gf->gf_numsrc == 0;
	struct sockaddr_in src = v4(only_src, 0);
	return gf->gf_fmode == MCAST_INCLUDE && gf->gf_numsrc == 1 &&
	       ((struct sockaddr_in *)&gf->gf_slist[0])->sin_addr.s_addr == src.sin_addr.s_addr;
}

int main(int argc, char **argv)
{
	tst_init(argc, argv);
	struct sockaddr_in lo = v4("127.0.0.1", 0);
	struct sockaddr_in6 lo6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct sockaddr_in6 any6 = { .sin6_family = AF_INET6 };
	struct names before, after;
	socklen_t l;

	at(socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0), 20);
	put(20, SOL_SOCKET, SO_REUSEADDR, 1);
	put(20, SOL_SOCKET, SO_REUSEPORT, 1);
	put(20, SOL_SOCKET, SO_BROADCAST, 1);
	put(20, SOL_SOCKET, SO_RCVBUF, 65536);
	CHECK(!bind(20, (struct sockaddr *)&lo, sizeof(lo)));
	struct ip_mreqn mr = { .imr_ifindex = (int)if_nametoindex("lo") };
	inet_pton(AF_INET, "239.1.2.3", &mr.imr_multiaddr);
	CHECK(!setsockopt(20, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof(mr)));
	struct group_source_req gs = { .gsr_interface = if_nametoindex("lo") };
	*(struct sockaddr_in *)&gs.gsr_group = v4("239.1.2.4", 0);
	*(struct sockaddr_in *)&gs.gsr_source = v4("127.0.0.9", 0);
	CHECK(!setsockopt(20, IPPROTO_IP, MCAST_JOIN_SOURCE_GROUP, &gs, sizeof(gs)));
	l = sizeof(lo);
	struct sockaddr_in a20;
	CHECK(!getsockname(20, (struct sockaddr *)&a20, &l));

	at(socket(AF_INET, SOCK_DGRAM, 0), 21);
	CHECK(!connect(21, (struct sockaddr *)&a20, sizeof(a20)));

	at(socket(AF_INET6, SOCK_DGRAM, 0), 22);
	put(22, IPPROTO_IPV6, IPV6_V6ONLY, 1);
	CHECK(!setsockopt(22, SOL_SOCKET, SO_BINDTODEVICE, "lo", 2));
	CHECK(!bind(22, (struct sockaddr *)&lo6, sizeof(lo6)));
	/* the filter sees the UDP header (8 bytes) and the payload */
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0),
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 16, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0xffff),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog = { .len = 4, .filter = code };
	CHECK(!setsockopt(22, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)));

	at(socket(AF_INET, SOCK_STREAM, 0), 23);
	put(23, SOL_SOCKET, SO_KEEPALIVE, 1);
	put(23, IPPROTO_TCP, TCP_NODELAY, 1);
	put(23, IPPROTO_TCP, TCP_KEEPIDLE, 99);
	put(23, IPPROTO_TCP, TCP_KEEPINTVL, 13);
	put(23, IPPROTO_TCP, TCP_KEEPCNT, 4);
	put(23, SOL_SOCKET, SO_SNDBUF, 100000);
	struct linger lg = { 1, 3 };
	CHECK(!setsockopt(23, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)));
	CHECK(!bind(23, (struct sockaddr *)&lo, sizeof(lo)) && !listen(23, 7));

	at(socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, 0), 24);
	put(24, IPPROTO_IPV6, IPV6_V6ONLY, 0);
	CHECK(!bind(24, (struct sockaddr *)&any6, sizeof(any6)) && !listen(24, 3));

	at(socket(AF_INET, SOCK_STREAM, 0), 25);
	CHECK(!bind(25, (struct sockaddr *)&lo, sizeof(lo)));

	at(socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0), 26);
	at(socket(AF_INET6, SOCK_STREAM, 0), 27);
	put(27, IPPROTO_TCP, TCP_NODELAY, 1);

	int fl[8], rcv20 = opt(20, SOL_SOCKET, SO_RCVBUF), snd23 = opt(23, SOL_SOCKET, SO_SNDBUF);
	for (int i = 0; i < 8; i++)
		fl[i] = fcntl(20 + i, F_GETFL);
	names(&before);

	tst_ready();
	tst_wait_check();

	if (tst_corrupting())
		put(23, IPPROTO_TCP, TCP_KEEPIDLE, 98);
	names(&after);
	for (int i = 0; i < 6; i++) {
		if (memcmp(&before.n[i], &after.n[i], sizeof(before.n[i])))
			tst_fail("fd %d is bound elsewhere", 20 + i);
		if (fcntl(20 + i, F_GETFL) != fl[i])
			tst_fail("fd %d: flags %#o, were %#o", 20 + i, fcntl(20 + i, F_GETFL), fl[i]);
	}
	if (memcmp(&before.peer21, &after.peer21, sizeof(after.peer21)))
		tst_fail("fd 21 is connected elsewhere");
	if (!opt(20, SOL_SOCKET, SO_REUSEADDR) || !opt(20, SOL_SOCKET, SO_REUSEPORT) ||
	    !opt(20, SOL_SOCKET, SO_BROADCAST) || opt(20, SOL_SOCKET, SO_RCVBUF) != rcv20)
		tst_fail("fd 20 options: reuseaddr %d reuseport %d broadcast %d rcvbuf %d (was %d)",
			 opt(20, SOL_SOCKET, SO_REUSEADDR), opt(20, SOL_SOCKET, SO_REUSEPORT),
			 opt(20, SOL_SOCKET, SO_BROADCAST), opt(20, SOL_SOCKET, SO_RCVBUF), rcv20);
	if (!member(20, "239.1.2.3", NULL) || !member(20, "239.1.2.4", "127.0.0.9") || member(21, "239.1.2.3", NULL))
		tst_fail("multicast memberships lost");
	char dev[IFNAMSIZ] = "";
	l = sizeof(dev);
	getsockopt(22, SOL_SOCKET, SO_BINDTODEVICE, dev, &l);
	if (!opt(22, IPPROTO_IPV6, IPV6_V6ONLY) || strcmp(dev, "lo"))
		tst_fail("fd 22: v6only %d, device '%s'", opt(22, IPPROTO_IPV6, IPV6_V6ONLY), dev);
	socklen_t insns = 0;
	if (getsockopt(22, SOL_SOCKET, SO_GET_FILTER, NULL, &insns) || insns != 4)
		tst_fail("fd 22: a filter of %u instructions, want 4", insns);
	{
		struct sockaddr_in6 a22;
		char got[32];
		int s6 = socket(AF_INET6, SOCK_DGRAM, 0);
		l = sizeof(a22);
		CHECK(!getsockname(22, (struct sockaddr *)&a22, &l));
		CHECK(sendto(s6, "tiny", 4, 0, (struct sockaddr *)&a22, l) == 4);
		CHECK(sendto(s6, "long enough!", 12, 0, (struct sockaddr *)&a22, l) == 12);
		close(s6);
		tst_sleep_ms(20);
		if (recv(22, got, sizeof(got), MSG_DONTWAIT) != 12 || memcmp(got, "long enough!", 12))
			tst_fail("fd 22 did not get the long datagram first (its filter): %s", strerror(errno));
		if (recv(22, got, sizeof(got), MSG_DONTWAIT) != -1)
			tst_fail("fd 22's filter let the short datagram through");
	}
	l = sizeof(lg);
	getsockopt(23, SOL_SOCKET, SO_LINGER, &lg, &l);
	if (!opt(23, SOL_SOCKET, SO_KEEPALIVE) || !opt(23, IPPROTO_TCP, TCP_NODELAY) ||
	    opt(23, IPPROTO_TCP, TCP_KEEPIDLE) != 99 || opt(23, IPPROTO_TCP, TCP_KEEPINTVL) != 13 ||
	    opt(23, IPPROTO_TCP, TCP_KEEPCNT) != 4 || opt(23, SOL_SOCKET, SO_SNDBUF) != snd23 || !lg.l_onoff ||
	    lg.l_linger != 3 || opt(23, SOL_SOCKET, SO_ACCEPTCONN) != 1)
		tst_fail("fd 23 options differ (keepidle %d, sndbuf %d was %d, linger %d/%d)",
			 opt(23, IPPROTO_TCP, TCP_KEEPIDLE), opt(23, SOL_SOCKET, SO_SNDBUF), snd23, lg.l_onoff, lg.l_linger);
	if (opt(24, IPPROTO_IPV6, IPV6_V6ONLY) || opt(24, SOL_SOCKET, SO_ACCEPTCONN) != 1 ||
	    opt(25, SOL_SOCKET, SO_ACCEPTCONN) != 0)
		tst_fail("fd 24/25 differ");
	for (int i = 6; i < 8; i++)
		if (fcntl(20 + i, F_GETFL) != fl[i])
			tst_fail("fd %d: flags %#o, were %#o", 20 + i, fcntl(20 + i, F_GETFL), fl[i]);
	if (opt(26, SOL_SOCKET, SO_TYPE) != SOCK_DGRAM || opt(26, SOL_SOCKET, SO_DOMAIN) != AF_INET ||
	    opt(27, SOL_SOCKET, SO_TYPE) != SOCK_STREAM || opt(27, SOL_SOCKET, SO_DOMAIN) != AF_INET6 ||
	    !opt(27, IPPROTO_TCP, TCP_NODELAY))
		tst_fail("fd 26/27 are not the unbound UDP and TCP sockets they were");
	{
		struct ifreq ifr = { 0 };
		struct sockaddr_in6 self;
		strcpy(ifr.ifr_name, "lo");
		CHECK(!ioctl(26, SIOCGIFINDEX, &ifr) && ifr.ifr_ifindex == (int)if_nametoindex("lo"));
		l = sizeof(self);
		CHECK(!getsockname(27, (struct sockaddr *)&self, &l) && !self.sin6_port);
	}

	/* datagrams both ways */
	char buf[16];
	CHECK(send(21, "ping", 4, 0) == 4);
	tst_sleep_ms(20);
	struct sockaddr_in from;
	l = sizeof(from);
	if (recvfrom(20, buf, sizeof(buf), 0, (struct sockaddr *)&from, &l) != 4 || memcmp(buf, "ping", 4))
		tst_fail("fd 20 did not get fd 21's datagram: %s", strerror(errno));
	CHECK(sendto(20, "pong", 4, 0, (struct sockaddr *)&from, l) == 4);
	if (recv(21, buf, sizeof(buf), 0) != 4 || memcmp(buf, "pong", 4))
		tst_fail("fd 21 did not get the answer");
	/* the listeners take connections (v4 on the dual-stack one too) */
	for (int i = 23; i <= 24; i++) {
		struct sockaddr_storage la;
		l = sizeof(la);
		getsockname(i, (struct sockaddr *)&la, &l);
		struct sockaddr_in to = v4("127.0.0.1", ntohs(((struct sockaddr_in *)&la)->sin_port));
		int c = socket(AF_INET, SOCK_STREAM, 0), a;
		if (c < 0 || connect(c, (struct sockaddr *)&to, sizeof(to)))
			tst_fail("connect to fd %d's port: %s", i, strerror(errno));
		tst_sleep_ms(10);
		if ((a = accept(i, NULL, NULL)) < 0)
			tst_fail("fd %d does not accept: %s", i, strerror(errno));
		close(a);
		close(c);
	}
	CHECK(!listen(25, 1));
	{
		struct sockaddr_in6 la, to6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
		int a;
		l = sizeof(la);
		getsockname(24, (struct sockaddr *)&la, &l);
		to6.sin6_port = la.sin6_port;
		if (connect(27, (struct sockaddr *)&to6, sizeof(to6)))
			tst_fail("fd 27 can't connect to fd 24: %s", strerror(errno));
		tst_sleep_ms(10);
		if ((a = accept(24, NULL, NULL)) < 0)
			tst_fail("fd 24 does not accept fd 27: %s", strerror(errno));
		close(a);
	}
	tst_pass();
}

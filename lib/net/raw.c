/* Raw IP sockets and ICMP "ping" sockets (SOCK_DGRAM, IPPROTO_ICMP[V6]): ping,
 * routing and VRRP daemons hold them.  sock_diag's TCP and UDP tables don't have
 * them; their addresses are the socket's own names.  Besides the options all
 * inet sockets share (inet.c), a raw socket has IP_HDRINCL, an ICMP type
 * filter (ICMP_FILTER, ICMPV6_FILTER) and, in IPv6, IPV6_CHECKSUM. */
#include <errno.h>
#include <linux/icmp.h>
#include <linux/icmpv6.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "log.h"
#include "net/inet.h"
#include "net/sockopt.h"

#ifndef SOL_RAW
#define SOL_RAW 255
#endif
#ifndef SOL_ICMPV6
#define SOL_ICMPV6 58
#endif

bool raw_kind(uint32_t type, uint32_t proto)
{
	return type == SOCK_RAW ||
	       (type == SOCK_DGRAM && (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6));
}

int raw_dump_opts(int sk, const InetSkEntry *e, InetSkOpts *o, const char *who)
{
	uint32_t v;

	/* the kernel refuses IPV6_V6ONLY on a socket with a protocol number of its own */
	o->has_v6only = o->has_v6only && e->type != SOCK_RAW;
	if (e->type != SOCK_RAW)
		return 0;   /* a ping socket has only what all have */
	if (e->family == AF_INET) {
		if (sockopt_get(sk, IPPROTO_IP, IP_HDRINCL, &v))
			return pr_perror("%s: can't read IP_HDRINCL", who);
		o->has_hdrincl = true;
		o->hdrincl = v;
		if (e->protocol == IPPROTO_ICMP) {
			struct icmp_filter f;
			socklen_t l = sizeof(f);
			if (getsockopt(sk, SOL_RAW, ICMP_FILTER, &f, &l))
				return pr_perror("%s: can't read ICMP_FILTER", who);
			o->has_icmp_filter = true;
			o->icmp_filter = f.data;
		}
		return 0;
	}
	if (e->protocol == IPPROTO_ICMPV6) {
		struct icmp6_filter f;
		socklen_t l = sizeof(f);
		if (getsockopt(sk, SOL_ICMPV6, ICMPV6_FILTER, &f, &l))
			return pr_perror("%s: can't read ICMPV6_FILTER", who);
		o->has_icmp6_filter = true;
		o->icmp6_filter.len = sizeof(f);
		if (!(o->icmp6_filter.data = malloc(sizeof(f))))
			return -ENOMEM;
		memcpy(o->icmp6_filter.data, &f, sizeof(f));
	} else {
		if (sockopt_get(sk, IPPROTO_IPV6, IPV6_CHECKSUM, &v))
			return pr_perror("%s: can't read IPV6_CHECKSUM", who);
		o->has_ipv6_checksum = true;
		o->ipv6_checksum = v;
	}
	return 0;
}

int raw_restore_opts(int sk, const InetSkEntry *e, unsigned fd)
{
	const InetSkOpts *o = e->opts;

	if (o->has_hdrincl && o->hdrincl && sockopt_set(sk, IPPROTO_IP, IP_HDRINCL, 1, "IP_HDRINCL", fd))
		return -EIO;
	if (o->has_icmp_filter) {
		struct icmp_filter f = { .data = o->icmp_filter };
		if (setsockopt(sk, SOL_RAW, ICMP_FILTER, &f, sizeof(f)))
			return pr_perror("fd %u: can't set ICMP_FILTER", fd);
	}
	if (o->has_icmp6_filter && setsockopt(sk, SOL_ICMPV6, ICMPV6_FILTER, o->icmp6_filter.data, o->icmp6_filter.len))
		return pr_perror("fd %u: can't set ICMPV6_FILTER", fd);
	/* -1 (off) is the default but for ICMPv6, which was not asked */
	if (o->has_ipv6_checksum && (int32_t)o->ipv6_checksum != -1 &&
	    sockopt_set(sk, IPPROTO_IPV6, IPV6_CHECKSUM, o->ipv6_checksum, "IPV6_CHECKSUM", fd))
		return -EIO;
	return 0;
}

int raw_validate(const InetSkEntry *e)
{
	const InetSkOpts *o = e->opts;

	if (!raw_kind(e->type, e->protocol) || e->protocol > 255 ||
	    (e->state != INET_TCP_CLOSE && e->state != INET_TCP_ESTABLISHED) || e->tcp || e->has_backlog ||
	    (o->has_icmp6_filter && o->icmp6_filter.len != sizeof(struct icmp6_filter)))
		return -EINVAL;
	return 0;
}

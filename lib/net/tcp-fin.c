/* The peer's FIN of a half-closed connection (CLOSE_WAIT, LAST_ACK, CLOSING):
 * TCP_REPAIR can't mark it received, so the restore hands the new socket a
 * FIN segment from the peer's address through a raw socket.  The segment
 * carries NETLOCK_MARK, which the network lock lets through. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "log.h"
#include "net/inet.h"

static uint32_t sum16(const void *p, size_t len, uint32_t s)
{
	const uint8_t *b = p;

	for (size_t i = 0; i + 1 < len; i += 2)
		s += b[i] << 8 | b[i + 1];
	if (len & 1)
		s += b[len - 1] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return htons(~s & 0xffff);
}

int tcp_send_peer_fin(const InetSkEntry *e, uint32_t seq, uint32_t ack, uint16_t win, unsigned fd)
{
	const uint8_t *src = e->src_addr.data, *dst = e->dst_addr.data;
	bool v6 = e->family == AF_INET6;

	/* an IPv6 socket talking IPv4 (::ffff:a.b.c.d) gets an IPv4 segment */
	if (v6 && IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)src) && IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)dst)) {
		v6 = false;
		src += 12;
		dst += 12;
	}
	int family = v6 ? AF_INET6 : AF_INET;
	size_t alen = v6 ? 16 : 4, iplen = v6 ? sizeof(struct ip6_hdr) : sizeof(struct iphdr);
	uint8_t pkt[sizeof(struct ip6_hdr) + sizeof(struct tcphdr)] = { 0 }, pseudo[40] = { 0 };
	struct tcphdr *th = (struct tcphdr *)(pkt + iplen);
	struct sockaddr_storage to = { .ss_family = family };
	int sk, mark = NETLOCK_MARK, ret = 0;

	/* from the peer to us */
	th->source = htons(e->dst_port);
	th->dest = htons(e->src_port);
	th->seq = htonl(seq);
	th->ack_seq = htonl(ack);
	th->doff = sizeof(*th) / 4;
	th->fin = th->ack = 1;
	th->window = htons(win);
	/* pseudo header: source, destination, protocol, TCP length */
	memcpy(pseudo, dst, alen);
	memcpy(pseudo + alen, src, alen);
	pseudo[2 * alen + 1] = IPPROTO_TCP;
	pseudo[2 * alen + 3] = sizeof(*th);
	th->check = fold(sum16(th, sizeof(*th), sum16(pseudo, 2 * alen + 4, 0)));
	if (v6) {
		struct ip6_hdr *h = (struct ip6_hdr *)pkt;
		h->ip6_flow = htonl(6 << 28);
		h->ip6_plen = htons(sizeof(*th));
		h->ip6_nxt = IPPROTO_TCP;
		h->ip6_hlim = 64;
		memcpy(&h->ip6_src, dst, 16);
		memcpy(&h->ip6_dst, src, 16);
		memcpy(&((struct sockaddr_in6 *)&to)->sin6_addr, src, 16);
	} else {
		struct iphdr *h = (struct iphdr *)pkt;
		h->version = 4;
		h->ihl = 5;
		h->ttl = 64;
		h->protocol = IPPROTO_TCP;
		h->tot_len = htons(iplen + sizeof(*th));
		memcpy(&h->saddr, dst, 4);
		memcpy(&h->daddr, src, 4);
		memcpy(&((struct sockaddr_in *)&to)->sin_addr, src, 4);
	}
	/* IPPROTO_RAW: we write the IP header (IP_HDRINCL / IPV6_HDRINCL implied) */
	if ((sk = socket(family, SOCK_RAW, IPPROTO_RAW)) < 0)
		return pr_perror("fd %u: can't open a raw socket to hand over the peer's FIN", fd);
	if (setsockopt(sk, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) ||
	    sendto(sk, pkt, iplen + sizeof(*th), 0, (struct sockaddr *)&to,
		   v6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in)) < 0)
		ret = pr_perror("fd %u: can't hand over the peer's FIN", fd);
	close(sk);
	return ret;
}

/* The TCP and UDP sockets of our network namespace, from sock_diag (through
 * libnl), not /proc/net text: one dump per family and protocol, kept sorted by
 * inode for the lookups of one checkpoint. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netlink/netlink.h>
#include <netlink/msg.h>
#include <sys/socket.h>
#include "log.h"
#include "ns/net.h"
#include "net/inet.h"

static struct inet_diag_sk *table;
static size_t nr, cap;
static bool loaded;

static int add_one(struct nl_msg *msg, void *arg)
{
	struct nlmsghdr *h = nlmsg_hdr(msg);
	struct inet_diag_msg *m = nlmsg_data(h);
	struct nlattr *tb[INET_DIAG_MAX + 1];
	struct inet_diag_sk *s;
	int proto = *(int *)arg;

	if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || nlmsg_datalen(h) < (int)sizeof(*m) ||
	    nlmsg_parse(h, sizeof(*m), tb, INET_DIAG_MAX, NULL) < 0)
		return NL_SKIP;
	if (nr == cap) {
		struct inet_diag_sk *n = realloc(table, (cap = cap ? cap * 2 : 256) * sizeof(*table));
		if (!n)
			return NL_STOP;
		table = n;
	}
	s = &table[nr++];
	memset(s, 0, sizeof(*s));
	s->ino = m->idiag_inode;
	s->family = m->idiag_family;
	s->protocol = proto;
	s->state = m->idiag_state;
	memcpy(s->src, m->id.idiag_src, 16);
	memcpy(s->dst, m->id.idiag_dst, 16);
	s->sport = ntohs(m->id.idiag_sport);
	s->dport = ntohs(m->id.idiag_dport);
	s->ifindex = m->id.idiag_if;
	s->rqueue = m->idiag_rqueue;
	s->wqueue = m->idiag_wqueue;
	if (tb[INET_DIAG_SHUTDOWN])
		s->shutdown = nla_get_u8(tb[INET_DIAG_SHUTDOWN]);
	return NL_OK;
}

static int query(struct nl_sock *sk, int family, int proto)
{
	struct inet_diag_req_v2 req = {
		.sdiag_family = family, .sdiag_protocol = proto, .idiag_states = ~0u,
	};
	int ret;

	if ((ret = nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, add_one, &proto)) < 0 ||
	    (ret = nl_send_simple(sk, SOCK_DIAG_BY_FAMILY, NLM_F_DUMP, &req, sizeof(req))) < 0 ||
	    (ret = nl_recvmsgs_default(sk)) < 0)
		return pr_err("sock_diag: can't list the %s %s sockets: %s", family == AF_INET ? "IPv4" : "IPv6",
			      proto == IPPROTO_TCP ? "TCP" : "UDP", nl_geterror(ret)), -EIO;
	return 0;
}

static int cmp_ino(const void *a, const void *b)
{
	const struct inet_diag_sk *x = a, *y = b;

	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

static int load(void)
{
	static const int fams[] = { AF_INET, AF_INET6 }, protos[] = { IPPROTO_TCP, IPPROTO_UDP };
	struct nl_sock *sk = nl_socket_alloc();
	int ret = 0;

	if (!sk)
		return -ENOMEM;
	if ((ret = netns_nl_connect(sk, NETLINK_SOCK_DIAG)) < 0) {
		nl_socket_free(sk);
		return pr_err("sock_diag: can't open a NETLINK_SOCK_DIAG socket: %s", nl_geterror(ret)), -EIO;
	}
	nr = 0;
	for (int f = 0; f < 2 && !ret; f++)
		for (int p = 0; p < 2 && !ret; p++)
			ret = query(sk, fams[f], protos[p]);
	nl_socket_free(sk);
	if (ret)
		return ret;
	qsort(table, nr, sizeof(*table), cmp_ino);
	loaded = true;
	return 0;
}

const struct inet_diag_sk *inet_diag_find(uint64_t ino, int *err)
{
	struct inet_diag_sk key = { .ino = ino };

	*err = 0;
	if (!loaded && (*err = load()))
		return NULL;
	return bsearch(&key, table, nr, sizeof(*table), cmp_ino);
}

const struct inet_diag_sk *inet_diag_all(size_t *n, int *err)
{
	*err = 0;
	*n = 0;
	if (!loaded && (*err = load()))
		return NULL;
	*n = nr;
	return table;
}

void inet_diag_reset(void)
{
	free(table);
	table = NULL;
	nr = cap = 0;
	loaded = false;
}

/* AF_PACKET sockets: DHCP clients, LLDP and VRRP daemons and packet capture
 * hold one, bound to an interface and a protocol, often with a socket filter,
 * multicast or promiscuous memberships and a fanout group.  The socket itself
 * (pidfd_getfd) gives the options; sock_diag (packet_diag) gives what no
 * getsockopt does: the memberships, and whether a ring is mapped.  Packets
 * queued are dropped, as a link may drop them; the socket is not.
 *
 * Refused by name: sockets with a PACKET_RX_RING / PACKET_TX_RING (the ring is
 * memory shared with the kernel, its frames' states in flight). */
#include <errno.h>
#include <linux/if_packet.h>
#include <linux/packet_diag.h>
#include <linux/sock_diag.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "files/files.h"
#include "image/image.h"
#include "log.h"
#include "net/inet.h"
#include "net/sk-filter.h"
#include "net/sockopt.h"
#include "ns/net.h"
#include "util.h"

#define MAX_MEMBERSHIPS 64

/* The boolean and integer PACKET_* options, set again in this order (the
 * version before anything that depends on it). */
static const struct {
	int opt;
	const char *name;
} int_opts[] = {
	{ PACKET_VERSION, "PACKET_VERSION" },     { PACKET_RESERVE, "PACKET_RESERVE" },
	{ PACKET_AUXDATA, "PACKET_AUXDATA" },     { PACKET_ORIGDEV, "PACKET_ORIGDEV" },
	{ PACKET_VNET_HDR, "PACKET_VNET_HDR" },   { PACKET_TIMESTAMP, "PACKET_TIMESTAMP" },
	{ PACKET_LOSS, "PACKET_LOSS" },           { PACKET_QDISC_BYPASS, "PACKET_QDISC_BYPASS" },
	{ PACKET_IGNORE_OUTGOING, "PACKET_IGNORE_OUTGOING" },
};

struct packet_diag {
	bool found, rings;
	PacketMembership *m[MAX_MEMBERSHIPS];
	size_t nr_m;
};

static bool packet_match(const struct fd_dump_ctx *c)
{
	return !strncmp(c->link, "socket:", 7) && sock_domain(c->pid, c->fd) == AF_PACKET;
}

static int parse(struct nlmsghdr *h, struct packet_diag *d)
{
	struct nlattr *tb[PACKET_DIAG_MAX + 1];

	if (nlmsg_parse(h, sizeof(struct packet_diag_msg), tb, PACKET_DIAG_MAX, NULL) < 0)
		return pr_err("sock_diag: a malformed answer about a packet socket"), -EIO;
	d->found = true;
	d->rings = tb[PACKET_DIAG_RX_RING] || tb[PACKET_DIAG_TX_RING];
	if (tb[PACKET_DIAG_MCLIST]) {
		struct packet_diag_mclist *ml = nla_data(tb[PACKET_DIAG_MCLIST]);
		size_t n = nla_len(tb[PACKET_DIAG_MCLIST]) / sizeof(*ml);

		if (n > MAX_MEMBERSHIPS)
			return pr_err("sock_diag: a packet socket with %zu memberships", n), -EOPNOTSUPP;
		for (size_t i = 0; i < n; i++) {
			PacketMembership *m = malloc(sizeof(*m));
			if (!m)
				return -ENOMEM;
			packet_membership__init(m);
			m->ifindex = ml[i].pdmc_index;
			m->type = ml[i].pdmc_type;
			m->count = ml[i].pdmc_count;
			m->addr.len = ml[i].pdmc_alen > sizeof(ml[i].pdmc_addr) ? sizeof(ml[i].pdmc_addr) : ml[i].pdmc_alen;
			if (!(m->addr.data = malloc(m->addr.len ? m->addr.len : 1))) {
				free(m);
				return -ENOMEM;
			}
			memcpy(m->addr.data, ml[i].pdmc_addr, m->addr.len);
			d->m[d->nr_m++] = m;
		}
	}
	return 0;
}

/* The kernel lists every packet socket of the namespace; ours is picked by inode. */
static int diag_get(uint32_t ino, struct packet_diag *d)
{
	struct packet_diag_req req = {
		.sdiag_family = AF_PACKET,
		.pdiag_ino = ino,
		.pdiag_show = PACKET_SHOW_MCLIST | PACKET_SHOW_RING_CFG,
		.pdiag_cookie = { ~0U, ~0U },
	};
	struct nl_sock *sk = nl_socket_alloc();
	unsigned char *buf = NULL;
	struct sockaddr_nl from;
	bool done = false;
	int ret = 0, n;

	if (!sk)
		return -ENOMEM;
	if ((ret = netns_nl_connect(sk, NETLINK_SOCK_DIAG)) < 0) {
		ret = (pr_err("sock_diag: can't open a netlink socket: %s", nl_geterror(ret)), -EIO);
		goto out;
	}
	if ((ret = nl_send_simple(sk, SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, &req, sizeof(req))) < 0) {
		ret = (pr_err("sock_diag: can't ask about packet sockets: %s", nl_geterror(ret)), -EIO);
		goto out;
	}
	ret = 0;
	while (!done && !ret) {
		if ((n = nl_recv(sk, &from, &buf, NULL)) <= 0) {
			ret = (pr_err("sock_diag: no answer about packet sockets: %s", nl_geterror(n)), -EIO);
			break;
		}
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; nlmsg_ok(h, n) && !done && !ret; h = nlmsg_next(h, &n)) {
			if (h->nlmsg_type == NLMSG_DONE)
				done = true;
			else if (h->nlmsg_type == NLMSG_ERROR)
				ret = (pr_err("sock_diag: packet sockets: %s",
					      strerror(-((struct nlmsgerr *)nlmsg_data(h))->error)), -EIO);
			else if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY &&
				 h->nlmsg_len >= (uint32_t)nlmsg_size(sizeof(struct packet_diag_msg)) &&
				 ((struct packet_diag_msg *)nlmsg_data(h))->pdiag_ino == ino && !d->found)
				ret = parse(h, d);
		}
		free(buf);
		buf = NULL;
	}
out:
	nl_socket_free(sk);
	return ret;
}

static int packet_dump(const struct fd_dump_ctx *c, FdinfoEntry *fe)
{
	struct packet_diag d = { 0 };
	struct sockaddr_ll ll = { 0 };
	socklen_t ll_len = sizeof(ll);
	PacketSkEntry *e;
	char who[64];
	int sk, ret;

	snprintf(who, sizeof(who), "pid %d: fd %d", c->pid, c->fd);
	if (!(e = malloc(sizeof(*e))))
		return -ENOMEM;
	packet_sk_entry__init(e);
	fe->packet = e;
	e->ino = c->st.st_ino;
	if ((sk = files_getfd(c->pid, c->fd)) < 0)
		return sk;
	if ((ret = diag_get(c->st.st_ino, &d))) {
		cr_error_reset();
		ret = (pr_err("%s: the kernel gives no packet_diag (CONFIG_PACKET_DIAG) to tell a packet socket's "
			      "memberships and ring: it can't be checkpointed", who), -EOPNOTSUPP);
		goto out;
	}
	if (!d.found) {
		ret = (pr_err("%s: packet socket:[%lu] is not in sock_diag's list: is the process in another network "
			      "namespace?", who, (unsigned long)c->st.st_ino), -ENOENT);
		goto out;
	}
	if (d.rings) {
		ret = (pr_err("%s: a packet socket with a ring (PACKET_RX_RING/TX_RING) can't be checkpointed yet",
			      who), -EOPNOTSUPP);
		goto out;
	}
	if ((ret = sockopt_get(sk, SOL_SOCKET, SO_TYPE, &e->type)) || (ret = sockopt_get(sk, SOL_SOCKET, SO_RCVBUF, &e->rcvbuf)) || (ret = sockopt_get(sk, SOL_SOCKET, SO_SNDBUF, &e->sndbuf))) {
		ret = (pr_err("%s: can't read the packet socket's options: %s", who, strerror(-ret)), ret);
		goto out;
	}
	if (getsockname(sk, (struct sockaddr *)&ll, &ll_len)) {
		ret = pr_perror("%s: can't read the packet socket's address", who);
		goto out;
	}
	/* SO_PROTOCOL says 0 for packet sockets: the address has it */
	e->ifindex = ll.sll_ifindex;
	e->protocol = ll.sll_protocol;
	if (!(e->opts = calloc(ARRAY_SIZE(int_opts), sizeof(*e->opts)))) {
		ret = -ENOMEM;
		goto out;
	}
	e->n_opts = ARRAY_SIZE(int_opts);
	for (size_t i = 0; i < ARRAY_SIZE(int_opts); i++)
		if ((ret = sockopt_get(sk, SOL_PACKET, int_opts[i].opt, &e->opts[i]))) {
			ret = (pr_err("%s: can't read %s: %s", who, int_opts[i].name, strerror(-ret)), ret);
			goto out;
		}
	/* 0: in no group (the kernel says so with ENOENT on older kernels, or 0) */
	if (sockopt_get(sk, SOL_PACKET, PACKET_FANOUT, &e->fanout))
		e->fanout = 0;
	if (d.nr_m) {
		if (!(e->memberships = malloc(d.nr_m * sizeof(*e->memberships)))) {
			ret = -ENOMEM;
			goto out;
		}
		memcpy(e->memberships, d.m, d.nr_m * sizeof(*d.m));
		e->n_memberships = d.nr_m;
		d.nr_m = 0;
	}
	ret = sk_filter_dump(sk, who, &e->filter);
out:
	for (size_t i = 0; i < d.nr_m; i++)
		img_free_msg(&d.m[i]->base);
	close(sk);
	return ret;
}

static int packet_restore(struct files_image *fi, const FdinfoEntry *fe, bool *inherited)
{
	const PacketSkEntry *e = fe->packet;
	int sk = socket(AF_PACKET, e->type | SOCK_CLOEXEC, e->protocol), ret = 0;

	(void)fi;
	*inherited = false;
	if (sk < 0)
		return pr_perror("fd %u: can't create a packet socket", fe->fd);
	/* the options first: PACKET_VERSION and the others are refused once bound */
	for (size_t i = 0; i < e->n_opts && !ret; i++)
		if (e->opts[i])   /* 0 is every one's default; some are refused on some types */
			ret = sockopt_set(sk, SOL_PACKET, int_opts[i].opt, e->opts[i], int_opts[i].name, fe->fd);
	if (!ret && e->ifindex) {
		struct sockaddr_ll ll = { .sll_family = AF_PACKET, .sll_protocol = e->protocol,
					  .sll_ifindex = e->ifindex };
		if (bind(sk, (struct sockaddr *)&ll, sizeof(ll)))
			ret = errno == ENODEV
				      ? (pr_err("fd %u: the packet socket was bound to interface %u, which this network "
						"namespace does not have", fe->fd, e->ifindex), -ENODEV)
				      : pr_perror("fd %u: can't bind the packet socket to interface %u", fe->fd, e->ifindex);
	}
	for (size_t i = 0; i < e->n_memberships && !ret; i++) {
		const PacketMembership *m = e->memberships[i];
		struct packet_mreq mr = { .mr_ifindex = m->ifindex, .mr_type = m->type, .mr_alen = m->addr.len };

		memcpy(mr.mr_address, m->addr.data, m->addr.len < sizeof(mr.mr_address) ? m->addr.len : sizeof(mr.mr_address));
		/* the kernel counts joins of the same membership: as many as there were */
		for (uint32_t k = 0; k < (m->count ? m->count : 1) && !ret; k++)
			if (setsockopt(sk, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)))
				ret = pr_perror("fd %u: can't join membership type %u on interface %u", fe->fd, m->type,
						m->ifindex);
	}
	if (!ret && e->fanout)
		ret = sockopt_set(sk, SOL_PACKET, PACKET_FANOUT, e->fanout, "PACKET_FANOUT", fe->fd);
	if (!ret)
		ret = sockopt_set_buf(sk, SO_RCVBUF, e->rcvbuf, fe->fd) ?: sockopt_set_buf(sk, SO_SNDBUF, e->sndbuf, fe->fd);
	if (!ret && e->filter)
		ret = sk_filter_restore(sk, e->filter, fe->fd);
	if (!ret)
		ret = files_set_fl(sk, fe->flags);
	if (ret) {
		close(sk);
		return ret;
	}
	return sk;
}

static int packet_validate(const FdinfoEntry *fe)
{
	const PacketSkEntry *e = fe->packet;

	if (!e || (e->type != SOCK_RAW && e->type != SOCK_DGRAM) || e->protocol > 0xffff ||
	    e->n_opts != ARRAY_SIZE(int_opts) || e->n_memberships > MAX_MEMBERSHIPS)
		return pr_err("fdinfo: fd %u is a packet socket with a bad type, protocol or options", fe->fd), -EINVAL;
	for (size_t i = 0; i < e->n_memberships; i++)
		if (e->memberships[i]->addr.len > 8 || e->memberships[i]->count > 1024)
			return pr_err("fdinfo: fd %u: a packet membership with a bad address or count", fe->fd), -EINVAL;
	if (e->filter && sk_filter_validate(e->filter, "fdinfo: a packet socket"))
		return -EINVAL;
	return 0;
}

const struct fd_ops packet_fd_ops = {
	.kind = FD_KIND__FD_PACKET, .name = "packet socket",
	.match = packet_match, .dump = packet_dump, .restore = packet_restore, .validate = packet_validate,
};

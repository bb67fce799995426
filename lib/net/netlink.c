/* AF_NETLINK sockets: daemons keep one open to hear of links, addresses and
 * routes (NETLINK_ROUTE), of devices (NETLINK_KOBJECT_UEVENT), or to talk to a
 * generic family.  What makes one is all readable from the socket itself
 * (pidfd_getfd): protocol, bound port id, joined groups, connected peer, the
 * boolean NETLINK_* options, buffer sizes and a socket filter.  The restore
 * binds the same port id (the restored process has its PID again, which is what
 * the kernel gave the first socket of it) and joins the same groups.
 *
 * What is not readable is refused rather than lost: messages queued for the
 * process (the kernel lets only the first be peeked; a request's answer lost
 * would leave the program waiting forever), and protocols whose sockets carry
 * state in the kernel beyond the socket (audit's daemon registration, the proc
 * connector's listener count, netfilter queue bindings). */
#include <errno.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "files/files.h"
#include "log.h"
#include "net/inet.h"
#include "net/sk-filter.h"
#include "net/sockopt.h"
#include "util.h"

#ifndef SO_MEMINFO
#define SO_MEMINFO 55
#endif
#ifndef SK_MEMINFO_RMEM_ALLOC
#define SK_MEMINFO_RMEM_ALLOC 0
#define SK_MEMINFO_VARS 9
#endif

/* Highest group number kept (NETLINK_LIST_MEMBERSHIPS answers in 32-bit words). */
#define NL_MAX_GROUPS 4096

/* The protocols whose whole state is the socket's; name NULL: not one of them. */
static const struct {
	const char *name;
	bool ok;
	const char *why;      /* when not ok: what lives in the kernel outside the socket */
} protocols[] = {
	[NETLINK_ROUTE] = { "NETLINK_ROUTE", true, NULL },
	[NETLINK_USERSOCK] = { "NETLINK_USERSOCK", true, NULL },
	[NETLINK_FIREWALL] = { "NETLINK_FIREWALL", false, "the removed ip_queue" },
	[NETLINK_SOCK_DIAG] = { "NETLINK_SOCK_DIAG", true, NULL },
	[NETLINK_NFLOG] = { "NETLINK_NFLOG", false, "the removed ipt_ULOG" },
	[NETLINK_XFRM] = { "NETLINK_XFRM", true, NULL },
	[NETLINK_SELINUX] = { "NETLINK_SELINUX", true, NULL },
	[NETLINK_ISCSI] = { "NETLINK_ISCSI", false, "the iSCSI transport's bindings" },
	[NETLINK_AUDIT] = { "NETLINK_AUDIT", false, "the audit daemon's registration and rules" },
	[NETLINK_FIB_LOOKUP] = { "NETLINK_FIB_LOOKUP", true, NULL },
	[NETLINK_CONNECTOR] = { "NETLINK_CONNECTOR", false, "the connector's listener registrations (proc events)" },
	[NETLINK_NETFILTER] = { "NETLINK_NETFILTER", false, "nfqueue and nflog bindings to the socket's port id" },
	[NETLINK_IP6_FW] = { "NETLINK_IP6_FW", false, "the removed ip6_queue" },
	[NETLINK_DNRTMSG] = { "NETLINK_DNRTMSG", false, "the removed DECnet" },
	[NETLINK_KOBJECT_UEVENT] = { "NETLINK_KOBJECT_UEVENT", true, NULL },
	[NETLINK_GENERIC] = { "NETLINK_GENERIC", true, NULL },
	[NETLINK_SCSITRANSPORT] = { "NETLINK_SCSITRANSPORT", false, "SCSI transport bindings" },
	[NETLINK_ECRYPTFS] = { "NETLINK_ECRYPTFS", false, "the removed eCryptfs daemon" },
	[NETLINK_RDMA] = { "NETLINK_RDMA", false, "RDMA device bindings" },
	[NETLINK_CRYPTO] = { "NETLINK_CRYPTO", true, NULL },
};

/* The boolean NETLINK_* socket options, saved as bits (1 << option). */
static const int bool_opts[] = {
	NETLINK_PKTINFO, NETLINK_BROADCAST_ERROR, NETLINK_NO_ENOBUFS, NETLINK_LISTEN_ALL_NSID,
	NETLINK_CAP_ACK, NETLINK_EXT_ACK, NETLINK_GET_STRICT_CHK,
};
#define BOOL_OPTS_MASK                                                                                           \
	((1u << NETLINK_PKTINFO) | (1u << NETLINK_BROADCAST_ERROR) | (1u << NETLINK_NO_ENOBUFS) |                \
	 (1u << NETLINK_LISTEN_ALL_NSID) | (1u << NETLINK_CAP_ACK) | (1u << NETLINK_EXT_ACK) |                    \
	 (1u << NETLINK_GET_STRICT_CHK))

static const char *protocol_name(uint32_t p)
{
	return p < ARRAY_SIZE(protocols) && protocols[p].name ? protocols[p].name : NULL;
}

static bool netlink_match(const struct fd_dump_ctx *c)
{
	return !strncmp(c->link, "socket:", 7) && sock_domain(c->pid, c->fd) == AF_NETLINK;
}

static int dump_groups(int sk, NetlinkSkEntry *e, const char *who)
{
	uint32_t words[NL_MAX_GROUPS / 32];
	socklen_t l = sizeof(words);
	size_t n = 0;

	if (getsockopt(sk, SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, words, &l))
		return pr_perror("%s: can't list its multicast groups", who);
	/* l is what the kernel would have written: more than we have room for means
	 * groups numbered beyond any protocol's today */
	if (l > sizeof(words))
		return pr_err("%s: member of groups beyond %d", who, NL_MAX_GROUPS), -EOPNOTSUPP;
	for (size_t w = 0; w < l / 4; w++)
		n += __builtin_popcount(words[w]);
	if (!n)
		return 0;
	if (!(e->groups = malloc(n * sizeof(*e->groups))))
		return -ENOMEM;
	for (size_t w = 0; w < l / 4; w++)
		for (int b = 0; b < 32; b++)
			if (words[w] & (1u << b))
				e->groups[e->n_groups++] = w * 32 + b + 1;
	return 0;
}

static int netlink_dump(const struct fd_dump_ctx *c, FdinfoEntry *fe)
{
	struct sockaddr_nl self = { 0 }, peer = { 0 };
	socklen_t sl = sizeof(self), pl = sizeof(peer), ml;
	uint32_t mem[SK_MEMINFO_VARS] = { 0 };
	NetlinkSkEntry *e;
	char who[64];
	int sk, ret;

	snprintf(who, sizeof(who), "pid %d: fd %d", c->pid, c->fd);
	if (!(e = malloc(sizeof(*e))))
		return -ENOMEM;
	netlink_sk_entry__init(e);
	fe->netlink = e;
	e->ino = c->st.st_ino;
	if ((sk = files_getfd(c->pid, c->fd)) < 0)
		return sk;
	if ((ret = sockopt_get(sk, SOL_SOCKET, SO_PROTOCOL, &e->protocol)) || (ret = sockopt_get(sk, SOL_SOCKET, SO_TYPE, &e->type)) ||
	    (ret = sockopt_get(sk, SOL_SOCKET, SO_RCVBUF, &e->rcvbuf)) || (ret = sockopt_get(sk, SOL_SOCKET, SO_SNDBUF, &e->sndbuf))) {
		ret = (pr_err("%s: can't read the netlink socket's options: %s", who, strerror(-ret)), ret);
		goto out;
	}
	if (!protocol_name(e->protocol) || !protocols[e->protocol].ok) {
		ret = (pr_err("%s: a netlink socket of protocol %s (%u) can't be checkpointed: %s lives in the kernel, "
			     "out of reach", who, protocol_name(e->protocol) ?: "unknown", e->protocol,
			     protocol_name(e->protocol) ? protocols[e->protocol].why : "what it binds"), -EOPNOTSUPP);
		goto out;
	}
	ml = sizeof(mem);
	if (getsockopt(sk, SOL_SOCKET, SO_MEMINFO, mem, &ml)) {
		ret = pr_perror("%s: can't read the netlink socket's queue (SO_MEMINFO)", who);
		goto out;
	}
	/* also what a dump the kernel answers in parts holds: its next part is made
	 * only as the queue drains */
	if (mem[SK_MEMINFO_RMEM_ALLOC]) {
		ret = (pr_err("%s: the %s socket has messages waiting to be read (%u bytes of buffer), which can't be saved "
			     "(the kernel shows only the first); try again when the process has read them", who,
			     protocol_name(e->protocol), mem[SK_MEMINFO_RMEM_ALLOC]), -EBUSY);
		goto out;
	}
	if (getsockname(sk, (struct sockaddr *)&self, &sl) || getpeername(sk, (struct sockaddr *)&peer, &pl)) {
		ret = pr_perror("%s: can't read the netlink socket's addresses", who);
		goto out;
	}
	e->portid = self.nl_pid;
	e->dst_portid = peer.nl_pid;
	e->dst_group = peer.nl_groups;
	for (size_t i = 0; i < ARRAY_SIZE(bool_opts); i++) {
		uint32_t v = 0;
		if ((ret = sockopt_get(sk, SOL_NETLINK, bool_opts[i], &v))) {
			ret = (pr_err("%s: can't read netlink option %d: %s", who, bool_opts[i], strerror(-ret)), ret);
			goto out;
		}
		if (v)
			e->nl_flags |= 1u << bool_opts[i];
	}
	if (!(ret = dump_groups(sk, e, who)))
		ret = sk_filter_dump(sk, who, &e->filter);
out:
	close(sk);
	return ret;
}

static int netlink_restore(struct files_image *fi, const FdinfoEntry *fe, bool *inherited)
{
	const NetlinkSkEntry *e = fe->netlink;
	const char *proto = protocol_name(e->protocol);
	int sk = socket(AF_NETLINK, e->type | SOCK_CLOEXEC, e->protocol), ret = 0;
	char who[48];

	(void)fi;
	*inherited = false;
	snprintf(who, sizeof(who), "fd %u (%s socket)", fe->fd, proto);
	if (sk < 0)
		return pr_perror("%s: can't create the netlink socket", who);
	/* a never-bound socket stays so: its first send binds it, as before */
	if (e->portid) {
		struct sockaddr_nl a = { .nl_family = AF_NETLINK, .nl_pid = e->portid };
		if (bind(sk, (struct sockaddr *)&a, sizeof(a)))
			ret = errno == EADDRINUSE
				      ? (pr_err("%s: its port id %u is taken by another netlink socket of this network "
						"namespace", who, e->portid), -EADDRINUSE)
				      : pr_perror("%s: can't bind port id %u", who, e->portid);
	}
	for (size_t i = 0; !ret && i < e->n_groups; i++)
		if (setsockopt(sk, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &e->groups[i], sizeof(e->groups[i])))
			ret = pr_perror("%s: can't join multicast group %u", who, e->groups[i]);
	if (!ret && (e->dst_portid || e->dst_group)) {
		struct sockaddr_nl a = { .nl_family = AF_NETLINK, .nl_pid = e->dst_portid, .nl_groups = e->dst_group };
		if (connect(sk, (struct sockaddr *)&a, sizeof(a)))
			ret = pr_perror("%s: can't connect to port id %u, groups 0x%x", who, e->dst_portid, e->dst_group);
	}
	for (size_t i = 0; !ret && i < ARRAY_SIZE(bool_opts); i++)
		if (e->nl_flags & (1u << bool_opts[i]))
			ret = sockopt_set(sk, SOL_NETLINK, bool_opts[i], 1, "a netlink option", fe->fd);
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

static int netlink_validate(const FdinfoEntry *fe)
{
	const NetlinkSkEntry *e = fe->netlink;
	char who[48];

	snprintf(who, sizeof(who), "fdinfo: fd %u", fe->fd);
	if (!e)
		return pr_err("%s: a netlink socket without its description", who), -EINVAL;
	if (!protocol_name(e->protocol) || !protocols[e->protocol].ok || (e->type != SOCK_RAW && e->type != SOCK_DGRAM))
		return pr_err("%s: a netlink socket of protocol %u, type %u, which no dump makes", who, e->protocol,
			      e->type), -EINVAL;
	if (e->nl_flags & ~BOOL_OPTS_MASK)
		return pr_err("%s: unknown netlink option bits 0x%x", who, e->nl_flags & ~BOOL_OPTS_MASK), -EINVAL;
	for (size_t i = 0; i < e->n_groups; i++)
		if (!e->groups[i] || e->groups[i] > NL_MAX_GROUPS)
			return pr_err("%s: netlink group %u out of range", who, e->groups[i]), -EINVAL;
	if (e->filter && sk_filter_validate(e->filter, who))
		return -EINVAL;
	return 0;
}

const struct fd_ops netlink_fd_ops = {
	.kind = FD_KIND__FD_NETLINK, .name = "netlink socket",
	.match = netlink_match, .dump = netlink_dump, .restore = netlink_restore, .validate = netlink_validate,
};

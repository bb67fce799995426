/* AF_INET/AF_INET6 sockets: UDP (bound, connected, multicast groups) and TCP
 * (unconnected, listening; established ones through tcp.c).  The dump reads
 * the socket itself (pidfd_getfd + getsockopt) and sock_diag; restore makes a
 * new socket, sets its options, binds, listens or connects. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "files/files.h"
#include "log.h"
#include "net/inet.h"
#include "net/sk-filter.h"
#include "net/sockopt.h"
#include "ns/ns.h"
#include "util.h"

#define MAX_MCAST_SOURCES 64

static const char *const state_names[] = {
	"?", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT",
	"CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING",
};

const char *inet_state_name(unsigned state)
{
	return state < ARRAY_SIZE(state_names) ? state_names[state] : "?";
}

bool inet_tcp_connected(unsigned state)
{
	switch (state) {
	case INET_TCP_ESTABLISHED: case INET_TCP_FIN_WAIT1: case INET_TCP_FIN_WAIT2:
	case INET_TCP_CLOSE_WAIT: case INET_TCP_LAST_ACK: case INET_TCP_CLOSING:
		return true;
	}
	return false;
}

void inet_addr_str(char *buf, size_t len, int family, const void *addr, unsigned port)
{
	char a[INET6_ADDRSTRLEN] = "?";

	inet_ntop(family, addr, a, sizeof(a));
	snprintf(buf, len, family == AF_INET6 ? "[%s]:%u" : "%s:%u", a, port);
}

/* The socket's family, or -1 (quietly: a socket we can't reach is reported by
 * the generic path). */
int sock_domain(pid_t pid, int fd)
{
	int pidfd = syscall(SYS_pidfd_open, pid, 0), sk, dom = -1;
	socklen_t l = sizeof(dom);

	if (pidfd < 0)
		return -1;
	sk = syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	close(pidfd);
	if (sk < 0)
		return -1;
	if (getsockopt(sk, SOL_SOCKET, SO_DOMAIN, &dom, &l))
		dom = -1;
	close(sk);
	return dom;
}

static const char *family_name(int f)
{
	static const char *const n[] = { [AF_UNIX] = "AF_UNIX", [AF_INET] = "AF_INET", [AF_INET6] = "AF_INET6",
					 [AF_NETLINK] = "AF_NETLINK", [AF_PACKET] = "AF_PACKET" };
	return f >= 0 && f < (int)ARRAY_SIZE(n) && n[f] ? n[f] : NULL;
}

static const char *type_name(int t)
{
	static const char *const n[] = { [SOCK_STREAM] = "SOCK_STREAM", [SOCK_DGRAM] = "SOCK_DGRAM",
					 [SOCK_RAW] = "SOCK_RAW", [SOCK_SEQPACKET] = "SOCK_SEQPACKET",
					 [SOCK_PACKET] = "SOCK_PACKET" };
	return t >= 0 && t < (int)ARRAY_SIZE(n) && n[t] ? n[t] : "?";
}

static bool inet_match(const struct fd_dump_ctx *c)
{
	int dom = strncmp(c->link, "socket:", 7) ? -1 : sock_domain(c->pid, c->fd);

	return dom == AF_INET || dom == AF_INET6;
}

static int dump_opts(int sk, const struct inet_diag_sk *d, InetSkOpts *o, const char *who)
{
	uint32_t v = 0;
	struct linger lg;
	socklen_t l = sizeof(lg);
	char dev[IFNAMSIZ + 1] = "";
	socklen_t dl = sizeof(dev) - 1;
	int ret;

	if ((ret = sockopt_get(sk, SOL_SOCKET, SO_RCVBUF, &o->rcvbuf)) || (ret = sockopt_get(sk, SOL_SOCKET, SO_SNDBUF, &o->sndbuf)) ||
	    (ret = sockopt_get(sk, SOL_SOCKET, SO_REUSEADDR, &v)) || ((o->reuseaddr = v), 0) ||
	    (ret = sockopt_get(sk, SOL_SOCKET, SO_REUSEPORT, &v)) || ((o->reuseport = v), 0) ||
	    (ret = sockopt_get(sk, SOL_SOCKET, SO_KEEPALIVE, &v)) || ((o->keepalive = v), 0) ||
	    (ret = sockopt_get(sk, SOL_SOCKET, SO_BROADCAST, &v)) || ((o->broadcast = v), 0) ||
	    (ret = sockopt_get(sk, SOL_SOCKET, SO_PRIORITY, &o->priority)) ||
	    (ret = sockopt_get(sk, SOL_SOCKET, SO_MARK, &o->mark)) ||
	    (ret = sockopt_get(sk, d->family == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP, d->family == AF_INET6 ? IPV6_TCLASS : IP_TOS,
			   &o->tos)))
		return pr_err("%s: can't read its socket options: %s", who, strerror(-ret)), ret;
	if (getsockopt(sk, SOL_SOCKET, SO_LINGER, &lg, &l))
		return pr_perror("%s: can't read SO_LINGER", who);
	if (lg.l_onoff)
		o->has_linger = true, o->linger = lg.l_linger;
	if (getsockopt(sk, SOL_SOCKET, SO_BINDTODEVICE, dev, &dl))
		return pr_perror("%s: can't read SO_BINDTODEVICE", who);
	if (dev[0] && !(o->bind_dev = strdup(dev)))
		return -ENOMEM;
	if (d->family == AF_INET6) {
		if ((ret = sockopt_get(sk, IPPROTO_IPV6, IPV6_V6ONLY, &v)))
			return pr_err("%s: can't read IPV6_V6ONLY: %s", who, strerror(-ret)), ret;
		o->has_v6only = true, o->v6only = v;
	}
	if (d->protocol == IPPROTO_TCP) {
		o->has_nodelay = o->has_keepidle = o->has_keepintvl = o->has_keepcnt = true;
		if ((ret = sockopt_get(sk, IPPROTO_TCP, TCP_NODELAY, &v)) || ((o->nodelay = v), 0) ||
		    (ret = sockopt_get(sk, IPPROTO_TCP, TCP_KEEPIDLE, &o->keepidle)) ||
		    (ret = sockopt_get(sk, IPPROTO_TCP, TCP_KEEPINTVL, &o->keepintvl)) ||
		    (ret = sockopt_get(sk, IPPROTO_TCP, TCP_KEEPCNT, &o->keepcnt)))
			return pr_err("%s: can't read its TCP options: %s", who, strerror(-ret)), ret;
	}
	return 0;
}

/* Multicast groups: no getsockopt lists them, but MCAST_MSFILTER answers for
 * one group whether the socket joined it (and its source filter).  The
 * candidates are the groups joined on any interface of the namespace. */
static int mcast_try(int sk, InetSkEntry *e, uint32_t ifindex, const void *grp)
{
	size_t glen = e->family == AF_INET ? 4 : 16;
	size_t sz = GROUP_FILTER_SIZE(MAX_MCAST_SOURCES);
	struct group_filter *gf = xzalloc(sz);
	socklen_t l = sz;
	InetMcastEntry *m, **n;
	int ret = 0;

	if (!gf)
		return -ENOMEM;
	gf->gf_interface = ifindex;
	gf->gf_group.ss_family = e->family;
	if (e->family == AF_INET)
		memcpy(&((struct sockaddr_in *)&gf->gf_group)->sin_addr, grp, 4);
	else
		memcpy(&((struct sockaddr_in6 *)&gf->gf_group)->sin6_addr, grp, 16);
	gf->gf_numsrc = MAX_MCAST_SOURCES;
	if (getsockopt(sk, e->family == AF_INET ? IPPROTO_IP : IPPROTO_IPV6, MCAST_MSFILTER, gf, &l))
		goto out;   /* not a member */
	if (gf->gf_numsrc > MAX_MCAST_SOURCES) {
		pr_err("a socket filters more than %d sources of a multicast group", MAX_MCAST_SOURCES);
		ret = -E2BIG;
		goto out;
	}
	if (!(m = malloc(sizeof(*m))) || !(n = realloc(e->mcast, (e->n_mcast + 1) * sizeof(*n)))) {
		free(m);
		ret = -ENOMEM;
		goto out;
	}
	inet_mcast_entry__init(m);
	e->mcast = n;
	e->mcast[e->n_mcast++] = m;
	m->ifindex = ifindex;
	m->exclude = gf->gf_fmode == MCAST_EXCLUDE;
	m->group.len = glen;
	m->group.data = malloc(glen);
	m->sources = calloc(gf->gf_numsrc ? gf->gf_numsrc : 1, sizeof(*m->sources));
	if (!m->group.data || !m->sources) {
		ret = -ENOMEM;
		goto out;
	}
	memcpy(m->group.data, grp, glen);
	for (uint32_t i = 0; i < gf->gf_numsrc; i++) {
		const struct sockaddr_storage *ss = &gf->gf_slist[i];
		ProtobufCBinaryData *b = &m->sources[m->n_sources++];
		b->len = glen;
		if (!(b->data = malloc(glen))) {
			ret = -ENOMEM;
			goto out;
		}
		memcpy(b->data, e->family == AF_INET ? (void *)&((struct sockaddr_in *)ss)->sin_addr
						     : (void *)&((struct sockaddr_in6 *)ss)->sin6_addr, glen);
	}
out:
	free(gf);
	return ret;
}

static int dump_mcast(int sk, InetSkEntry *e)
{
	char *text = read_file(e->family == AF_INET ? "/proc/net/igmp" : "/proc/net/igmp6", NULL);
	unsigned ifindex = 0;
	char *save = NULL;
	int ret = 0;

	if (!text)
		return 0;   /* no multicast support in this kernel: nothing joined */
	for (char *l = strtok_r(text, "\n", &save); l && !ret; l = strtok_r(NULL, "\n", &save)) {
		if (e->family == AF_INET) {
			unsigned idx, grp;
			/* an interface's line, then its groups' lines, indented */
			if (l[0] >= '0' && l[0] <= '9' && sscanf(l, "%u", &idx) == 1)
				ifindex = idx;
			else if ((l[0] == '\t' || l[0] == ' ') && sscanf(l, " %8x", &grp) == 1)
				ret = mcast_try(sk, e, ifindex, &grp);
		} else {
			char hex[33];
			uint8_t g[16];
			if (sscanf(l, "%u %*s %32s", &ifindex, hex) != 2 || strlen(hex) != 32)
				continue;
			for (int i = 0; i < 16; i++)
				sscanf(hex + 2 * i, "%2hhx", &g[i]);
			ret = mcast_try(sk, e, ifindex, g);
		}
	}
	free(text);
	return ret;
}

static int set_bytes(ProtobufCBinaryData *b, const void *p, size_t len)
{
	if (!(b->data = malloc(len)))
		return -ENOMEM;
	memcpy(b->data, p, len);
	b->len = len;
	return 0;
}

static void addr_of(const struct sockaddr_storage *ss, uint8_t *addr, uint16_t *port)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)ss;
		memcpy(addr, &s->sin_addr, 4);
		*port = ntohs(s->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const void *)ss;
		memcpy(addr, &s->sin6_addr, 16);
		*port = ntohs(s->sin6_port);
	}
}

int inet_sock_names(int sk, uint32_t family, uint32_t proto, uint64_t ino, struct inet_diag_sk *d, const char *who)
{
	struct sockaddr_storage self = { 0 }, peer = { 0 };
	socklen_t sl = sizeof(self), pl = sizeof(peer);

	memset(d, 0, sizeof(*d));
	d->ino = ino;
	d->family = family;
	d->protocol = proto;
	d->state = INET_TCP_CLOSE;
	if (getsockname(sk, (struct sockaddr *)&self, &sl))
		return pr_perror("%s: can't read the socket's address", who);
	addr_of(&self, d->src, &d->sport);
	if (!getpeername(sk, (struct sockaddr *)&peer, &pl)) {
		addr_of(&peer, d->dst, &d->dport);
		d->state = INET_TCP_ESTABLISHED;
	} else if (errno != ENOTCONN)
		return pr_perror("%s: can't read the socket's peer", who);
	return 0;
}

/* An inet socket is remade by its holder, in the holder's network namespace: one
 * made in another (a listener of the parent's, kept by a child that then left
 * for a namespace of its own) would come back in the wrong one. */
static int check_netns(int sk, pid_t pid, const char *who)
{
	struct stat st;
	uint64_t holder;
	int ns = ioctl(sk, SIOCGSKNS), ret;

	if (ns < 0)
		return 0;   /* (no SIOCGSKNS: not checked) */
	ret = fstat(ns, &st) ? -errno : 0;
	close(ns);
	if (ret || (ret = ns_ino(pid, "net", &holder)))
		return ret;
	if (st.st_ino != holder)
		return pr_err("%s: an inet socket of another network namespace (%lu) than its process's (%lu): it was "
			      "made before the process changed namespaces, which is not supported (unix sockets may)",
			      who, (unsigned long)st.st_ino, (unsigned long)holder), -EOPNOTSUPP;
	return 0;
}

/* A socket never bound nor connected (made for an ioctl, or to be bound later)
 * is in no table sock_diag walks: its names tell all sock_diag would. */
static bool unbound(int sk, uint32_t family, uint32_t proto, uint64_t ino, struct inet_diag_sk *d, const char *who)
{
	if ((family != AF_INET && family != AF_INET6) || inet_sock_names(sk, family, proto, ino, d, who)) {
		cr_error_reset();   /* the caller says what is missing */
		return false;
	}
	return !d->sport && d->state == INET_TCP_CLOSE;   /* else sock_diag should have listed it */
}

static int inet_dump(const struct fd_dump_ctx *c, FdinfoEntry *fe)
{
	InetSkEntry *e = malloc(sizeof(*e));
	const struct inet_diag_sk *d;
	struct inet_diag_sk fresh;
	uint32_t dom = 0, type = 0, proto = 0;
	size_t alen;
	char who[64];
	int sk, ret, err;

	if (!e)
		return -ENOMEM;
	inet_sk_entry__init(e);
	e->opts = malloc(sizeof(*e->opts));
	if (!e->opts) {
		free(e);
		return -ENOMEM;
	}
	inet_sk_opts__init(e->opts);
	fe->inet = e;
	snprintf(who, sizeof(who), "pid %d fd %d", c->pid, c->fd);
	if ((sk = files_getfd(c->pid, c->fd)) < 0)
		return sk;
	sockopt_get(sk, SOL_SOCKET, SO_DOMAIN, &dom);
	sockopt_get(sk, SOL_SOCKET, SO_TYPE, &type);
	sockopt_get(sk, SOL_SOCKET, SO_PROTOCOL, &proto);
	if (!((type == SOCK_STREAM && proto == IPPROTO_TCP) || (type == SOCK_DGRAM && proto == IPPROTO_UDP) ||
	      raw_kind(type, proto))) {
		pr_err("%s is a socket of family %s, type %s, protocol %u, which can't be checkpointed (only TCP, UDP, "
		       "raw and ICMP ones)", who, family_name(dom), type_name(type), proto);
		ret = -EOPNOTSUPP;
		goto out;
	}
	/* (one in flight: the namespace of the process whose queue carries it, the
	 * one sock_diag looks in; c->pid is ours then) */
	const struct fd_dump_ctx *holder = c;
	while (holder->owner)
		holder = holder->owner;
	if ((ret = check_netns(sk, holder->pid, who)))
		goto out;
	if (raw_kind(type, proto)) {
		if ((ret = inet_sock_names(sk, dom, proto, c->st.st_ino, &fresh, who)))
			goto out;
		d = &fresh;
	} else if (!(d = inet_diag_find(c->st.st_ino, &err)) && !err && unbound(sk, dom, proto, c->st.st_ino, &fresh, who))
		d = &fresh;
	if (!d) {
		ret = err ? err : (pr_err("%s: socket:[%lu] is not in sock_diag's list: is the process in another "
					  "network namespace? (run crtool inside it)", who, (unsigned long)c->st.st_ino),
				   -ENOENT);
		goto out;
	}
	e->ino = d->ino;
	e->family = d->family;
	e->type = type;
	e->protocol = proto;
	e->state = d->state;
	e->shutdown = d->shutdown;
	alen = d->family == AF_INET ? 4 : 16;
	e->src_port = d->sport;
	e->dst_port = d->dport;
	if ((ret = set_bytes(&e->src_addr, d->src, alen)) || (ret = set_bytes(&e->dst_addr, d->dst, alen)))
		goto out;
	if ((ret = dump_opts(sk, d, e->opts, who)) || (ret = sk_filter_dump(sk, who, &e->opts->filter)) ||
	    (ret = raw_dump_opts(sk, e, e->opts, who)))
		goto out;
	if (proto == IPPROTO_UDP || raw_kind(type, proto))
		ret = dump_mcast(sk, e);
	else if (d->state == INET_TCP_LISTEN) {
		e->has_backlog = true;
		e->backlog = d->wqueue;
		if (d->rqueue)
			pr_warn("%s: %u connections waiting in the listen queue of %s are not saved (their peers get a "
				"reset)", who, d->rqueue, who);
	} else if (inet_tcp_connected(d->state)) {
		const struct fd_dump_ctx *o = c;

		/* in flight: named by the fd whose queue carries it */
		while (o->owner)
			o = o->owner;
		if (o == c || !(ret = tcp_flying_check(d, o->pid, o->fd)))
			ret = tcp_dump_stream(sk, d, e, c->pid, c->fd);
	} else if (d->state != INET_TCP_CLOSE)
		ret = (pr_err("%s: TCP socket in state %s (a connection being set up or torn down) can't be "
			      "checkpointed: retry in a moment", who, inet_state_name(d->state)), -EAGAIN);
out:
	close(sk);
	return ret;
}

/* ---------------------------------------------------------------- restore */

static socklen_t sockaddr_of(const InetSkEntry *e, bool dst, struct sockaddr_storage *ss)
{
	const ProtobufCBinaryData *a = dst ? &e->dst_addr : &e->src_addr;
	unsigned port = dst ? e->dst_port : e->src_port;

	memset(ss, 0, sizeof(*ss));
	if (e->family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)ss;
		s->sin_family = AF_INET;
		s->sin_port = htons(port);
		memcpy(&s->sin_addr, a->data, 4);
		return sizeof(*s);
	}
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(port);
	memcpy(&s6->sin6_addr, a->data, 16);
	return sizeof(*s6);
}

int inet_bind(int sk, const InetSkEntry *e, unsigned fd)
{
	struct sockaddr_storage ss;
	socklen_t l = sockaddr_of(e, false, &ss);
	char a[80];

	if (!bind(sk, (struct sockaddr *)&ss, l))
		return 0;
	inet_addr_str(a, sizeof(a), e->family, e->src_addr.data, e->src_port);
	if (errno == EADDRNOTAVAIL)
		return pr_err("fd %u: can't bind a socket to %s: that address does not exist on this host", fd, a),
		       -EADDRNOTAVAIL;
	return pr_perror("fd %u: can't bind a socket to %s", fd, a);
}

int inet_connect(int sk, const InetSkEntry *e, unsigned fd)
{
	struct sockaddr_storage ss;
	socklen_t l = sockaddr_of(e, true, &ss);
	char a[80];

	if (!connect(sk, (struct sockaddr *)&ss, l))
		return 0;
	inet_addr_str(a, sizeof(a), e->family, e->dst_addr.data, e->dst_port);
	return pr_perror("fd %u: can't connect a socket to %s", fd, a);
}

/* What must be in place before bind (device, v6only, port sharing). */
static int opts_before_bind(int sk, const InetSkEntry *e, unsigned fd)
{
	const InetSkOpts *o = e->opts;
	int ret = 0;

	if (o->bind_dev && setsockopt(sk, SOL_SOCKET, SO_BINDTODEVICE, o->bind_dev, strlen(o->bind_dev)))
		return pr_perror("fd %u: can't bind the socket to device %s", fd, o->bind_dev);
	if (o->has_v6only)
		ret = sockopt_set(sk, IPPROTO_IPV6, IPV6_V6ONLY, o->v6only, "IPV6_V6ONLY", fd);
	/* the port may be held meanwhile by connections of the same listener being restored */
	if (!ret)
		ret = sockopt_set(sk, SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR", fd);
	if (!ret && o->reuseport)
		ret = sockopt_set(sk, SOL_SOCKET, SO_REUSEPORT, 1, "SO_REUSEPORT", fd);
	return ret;
}

static int opts_after(int sk, const InetSkEntry *e, unsigned fd)
{
	const InetSkOpts *o = e->opts;
	int ret;

	if ((ret = sockopt_set(sk, SOL_SOCKET, SO_REUSEADDR, o->reuseaddr, "SO_REUSEADDR", fd)) ||
	    /* a connection's were set to refill its queues */
	    (!e->tcp && ((ret = sockopt_set_buf(sk, SO_RCVBUF, o->rcvbuf, fd)) ||
			 (ret = sockopt_set_buf(sk, SO_SNDBUF, o->sndbuf, fd)))) ||
	    (ret = sockopt_set(sk, SOL_SOCKET, SO_KEEPALIVE, o->keepalive, "SO_KEEPALIVE", fd)) ||
	    (ret = sockopt_set(sk, SOL_SOCKET, SO_BROADCAST, o->broadcast, "SO_BROADCAST", fd)) ||
	    (ret = sockopt_set(sk, SOL_SOCKET, SO_PRIORITY, o->priority, "SO_PRIORITY", fd)) ||
	    (o->mark && (ret = sockopt_set(sk, SOL_SOCKET, SO_MARK, o->mark, "SO_MARK", fd))) ||
	    (ret = sockopt_set(sk, e->family == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP,
			   e->family == AF_INET6 ? IPV6_TCLASS : IP_TOS, o->tos, "the TOS", fd)))
		return ret;
	if (o->has_linger) {
		struct linger lg = { 1, o->linger };
		if (setsockopt(sk, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)))
			return pr_perror("fd %u: can't set SO_LINGER", fd);
	}
	if (o->filter && (ret = sk_filter_restore(sk, o->filter, fd)))
		return ret;
	if (e->protocol == IPPROTO_TCP &&
	    ((ret = sockopt_set(sk, IPPROTO_TCP, TCP_NODELAY, o->nodelay, "TCP_NODELAY", fd)) ||
	     (ret = sockopt_set(sk, IPPROTO_TCP, TCP_KEEPIDLE, o->keepidle, "TCP_KEEPIDLE", fd)) ||
	     (ret = sockopt_set(sk, IPPROTO_TCP, TCP_KEEPINTVL, o->keepintvl, "TCP_KEEPINTVL", fd)) ||
	     (ret = sockopt_set(sk, IPPROTO_TCP, TCP_KEEPCNT, o->keepcnt, "TCP_KEEPCNT", fd))))
		return ret;
	return 0;
}

static int mcast_restore(int sk, const InetSkEntry *e, unsigned fd)
{
	int level = e->family == AF_INET ? IPPROTO_IP : IPPROTO_IPV6;

	for (size_t i = 0; i < e->n_mcast; i++) {
		const InetMcastEntry *m = e->mcast[i];
		size_t sz = GROUP_FILTER_SIZE(m->n_sources);
		struct group_filter *gf = xzalloc(sz > sizeof(*gf) ? sz : sizeof(*gf));
		struct group_req gr = { .gr_interface = m->ifindex };
		char a[80];

		if (!gf)
			return -ENOMEM;
		gr.gr_group.ss_family = e->family;
		if (e->family == AF_INET)
			memcpy(&((struct sockaddr_in *)&gr.gr_group)->sin_addr, m->group.data, 4);
		else
			memcpy(&((struct sockaddr_in6 *)&gr.gr_group)->sin6_addr, m->group.data, 16);
		gf->gf_interface = m->ifindex;
		gf->gf_group = gr.gr_group;
		gf->gf_fmode = m->exclude ? MCAST_EXCLUDE : MCAST_INCLUDE;
		gf->gf_numsrc = m->n_sources;
		for (size_t k = 0; k < m->n_sources; k++) {
			gf->gf_slist[k].ss_family = e->family;
			if (e->family == AF_INET)
				memcpy(&((struct sockaddr_in *)&gf->gf_slist[k])->sin_addr, m->sources[k].data, 4);
			else
				memcpy(&((struct sockaddr_in6 *)&gf->gf_slist[k])->sin6_addr, m->sources[k].data, 16);
		}
		/* join (any source), then narrow to the saved filter */
		int bad = setsockopt(sk, level, MCAST_JOIN_GROUP, &gr, sizeof(gr)) ||
			  ((!m->exclude || m->n_sources) && setsockopt(sk, level, MCAST_MSFILTER, gf, sz));
		free(gf);
		if (bad) {
			inet_ntop(e->family, m->group.data, a, sizeof(a));
			return pr_perror("fd %u: can't join multicast group %s on interface %u", fd, a, m->ifindex);
		}
	}
	return 0;
}

static int inet_restore(struct files_image *fi, const FdinfoEntry *fe, bool *inherited)
{
	static const uint8_t zero[16];
	const InetSkEntry *e = fe->inet;
	bool stream = e->tcp && !fi->tcp_close;
	int sk = socket(e->family, e->type, e->protocol), ret = 0;

	*inherited = false;
	if (sk < 0)
		return pr_perror("fd %u: can't create a socket", fe->fd);
	if (e->tcp && fi->tcp_close)
		goto opts;   /* --tcp-close: a fresh socket, the connection is gone */
	if ((ret = opts_before_bind(sk, e, fe->fd)))
		goto out;
	if (stream)
		ret = tcp_restore_stream(sk, e, fe->fd);
	else if (e->src_port || (raw_kind(e->type, e->protocol) && memcmp(e->src_addr.data, zero, e->src_addr.len)))
		ret = inet_bind(sk, e, fe->fd);   /* a raw socket has no port: bound if it has an address */
	if (!ret && e->state == INET_TCP_LISTEN && listen(sk, e->backlog))
		ret = pr_perror("fd %u: can't listen with a backlog of %u", fe->fd, e->backlog);
	if (!ret && ((e->protocol == IPPROTO_UDP && e->dst_port) ||
		     (raw_kind(e->type, e->protocol) && e->state == INET_TCP_ESTABLISHED)))
		ret = inet_connect(sk, e, fe->fd);
	if (!ret && e->protocol == IPPROTO_UDP && e->shutdown && e->dst_port &&
	    shutdown(sk, e->shutdown == 3 ? SHUT_RDWR : e->shutdown == 1 ? SHUT_RD : SHUT_WR))
		ret = pr_perror("fd %u: can't shut the socket down", fe->fd);
	if (!ret)
		ret = mcast_restore(sk, e, fe->fd);
opts:
	if (!ret)
		ret = opts_after(sk, e, fe->fd);
	if (!ret)
		ret = raw_restore_opts(sk, e, fe->fd);
	if (!ret)
		ret = files_set_fl(sk, fe->flags);
out:
	if (ret) {
		close(sk);
		return ret;
	}
	return sk;
}

static int inet_validate(const FdinfoEntry *fe)
{
	const InetSkEntry *e = fe->inet;
	size_t alen;

	if (!e || !e->opts || (e->family != AF_INET && e->family != AF_INET6))
		return pr_err("fdinfo: fd %u is an inet socket without a valid family", fe->fd), -EINVAL;
	alen = e->family == AF_INET ? 4 : 16;
	if (!((e->type == SOCK_STREAM && e->protocol == IPPROTO_TCP) ||
	      (e->type == SOCK_DGRAM && e->protocol == IPPROTO_UDP) || !raw_validate(e)) ||
	    e->src_addr.len != alen || e->dst_addr.len != alen || e->src_port > 65535 || e->dst_port > 65535 ||
	    e->shutdown > 3 || e->state > INET_TCP_CLOSING || (e->tcp && e->protocol != IPPROTO_TCP) ||
	    (e->state == INET_TCP_LISTEN && (!e->has_backlog || e->protocol != IPPROTO_TCP)) ||
	    (e->protocol == IPPROTO_TCP && inet_tcp_connected(e->state) != !!e->tcp) ||
	    (e->opts->bind_dev && strlen(e->opts->bind_dev) >= IFNAMSIZ) ||
	    e->opts->rcvbuf > INT32_MAX || e->opts->sndbuf > INT32_MAX)
		return pr_err("fdinfo: fd %u is an inet socket with invalid addresses, state or options", fe->fd), -EINVAL;
	if (e->opts->filter && sk_filter_validate(e->opts->filter, "fdinfo: an inet socket"))
		return -EINVAL;
	for (size_t i = 0; i < e->n_mcast; i++) {
		const InetMcastEntry *m = e->mcast[i];
		if (m->group.len != alen || m->n_sources > MAX_MCAST_SOURCES)
			return pr_err("fdinfo: fd %u: invalid multicast group", fe->fd), -EINVAL;
		for (size_t k = 0; k < m->n_sources; k++)
			if (m->sources[k].len != alen)
				return pr_err("fdinfo: fd %u: invalid multicast source", fe->fd), -EINVAL;
	}
	return e->tcp ? tcp_validate(e, fe->fd) : 0;
}

const struct fd_ops inet_fd_ops = {
	.kind = FD_KIND__FD_INET, .name = "inet socket",
	.match = inet_match, .dump = inet_dump, .restore = inet_restore, .validate = inet_validate,
};

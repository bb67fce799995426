/* A veth whose two ends are in two network namespaces of the tree: the root's own
 * and a nested one, or two nested ones (a worker in its own namespace wired to
 * the container's).  Documentation/netns.md.
 *
 * Dump: a link whose peer is in another namespace shows the peer's index
 * (IFLA_LINK) and a netnsid (IFLA_LINK_NETNSID), an id that only the dumped
 * namespace gives the peer's.  Which of the tree's namespaces that is, is asked
 * of the kernel: RTM_GETNSID with each candidate's fd, in the dumped namespace,
 * answers the id it gives that one.  The netnsid is exactly what the kernel
 * reported for the link (ifindexes repeat across namespaces, and no call turns a
 * netnsid into an inode), and reading it assigns no new id.  The peer's name is
 * then read in its namespace, by its index, checking it is the veth whose peer
 * is ours.  No match: the peer is outside the tree (--external veth, net-link.c).
 *
 * Restore: each namespace is filled by one process (the root's first, before
 * any fork; a nested one by its maker, nested.c), and each fills its own before
 * its sockets are restored (a socket bound to the veth's address needs it).  So
 * the namespace made first makes the pair, its own end configured, the other
 * end parked in it under a temporary name (lcrpINDEX, INDEX its own end's
 * saved index); the one made later, once the first is filled, moves the parked
 * end into itself (IFLA_NET_NS_PID, through a netlink socket opened in the
 * first), with its saved name, and configures it as any other link. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/net_namespace.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netlink/netlink.h>
#include <netlink/msg.h>
#include <netlink/attr.h>
#include <netlink/route/link.h>
#include "log.h"
#include "ns/net.h"

/* ------------------------------------------------------------------ dump */

static int *tree_fds;
static uint32_t *tree_ids;
static size_t nr_tree;
static bool used;

int netns_dump_set_tree(const int *fds, const uint32_t *ids, size_t n)
{
	free(tree_fds);
	free(tree_ids);
	tree_fds = NULL;
	tree_ids = NULL;
	nr_tree = 0;
	used = false;
	if (!n)
		return 0;
	if (!(tree_fds = malloc(n * sizeof(*tree_fds))) || !(tree_ids = malloc(n * sizeof(*tree_ids))))
		return -ENOMEM;
	memcpy(tree_fds, fds, n * sizeof(*fds));
	memcpy(tree_ids, ids, n * sizeof(*ids));
	nr_tree = n;
	return 0;
}

bool netns_dump_peers_used(void)
{
	return used;
}

/* *nsid: the netnsid the calling thread's namespace gives namespace fd (-1: none). */
static int nsid_of(int nl, int fd, int32_t *nsid)
{
	struct {
		struct nlmsghdr h;
		struct rtgenmsg g;
		char pad[3];
		struct nlattr a;
		uint32_t fd;
	} req = { 0 };
	char ans[512];
	ssize_t n;

	*nsid = -1;
	req.h.nlmsg_len = sizeof(req);
	req.h.nlmsg_type = RTM_GETNSID;
	req.h.nlmsg_flags = NLM_F_REQUEST;
	req.g.rtgen_family = AF_UNSPEC;
	req.a.nla_type = NETNSA_FD;
	req.a.nla_len = NLA_HDRLEN + sizeof(uint32_t);
	req.fd = fd;
	if (send(nl, &req, sizeof(req), 0) < 0 || (n = recv(nl, ans, sizeof(ans), 0)) < 0)
		return pr_perror("network namespace: can't ask for a netnsid (RTM_GETNSID)");
	for (struct nlmsghdr *h = (struct nlmsghdr *)ans; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
		if (h->nlmsg_type == NLMSG_ERROR)
			return errno = -((struct nlmsgerr *)NLMSG_DATA(h))->error,
			       pr_perror("network namespace: RTM_GETNSID refused");
		if (h->nlmsg_type != RTM_NEWNSID)
			continue;
		int len = h->nlmsg_len - NLMSG_LENGTH(NLMSG_ALIGN(sizeof(struct rtgenmsg)));
		for (struct nlattr *a = (struct nlattr *)((char *)NLMSG_DATA(h) + NLMSG_ALIGN(sizeof(struct rtgenmsg)));
		     len >= (int)NLA_HDRLEN && a->nla_len >= NLA_HDRLEN && a->nla_len <= len;
		     len -= NLA_ALIGN(a->nla_len), a = (struct nlattr *)((char *)a + NLA_ALIGN(a->nla_len)))
			if (a->nla_type == NETNSA_NSID && a->nla_len >= NLA_HDRLEN + sizeof(int32_t))
				memcpy(nsid, (char *)a + NLA_HDRLEN, sizeof(*nsid));
	}
	return 0;
}

struct peer_args {
	uint32_t ifindex, link;   /* the peer's index there; ours, which it must name */
	const char *ours;
	char name[IFNAMSIZ];
};

/* In the peer's namespace: its name, if it is the veth paired with ours. */
static int peer_name(void *p)
{
	struct peer_args *a = p;
	struct nl_sock *sk = nl_socket_alloc();
	struct rtnl_link *l = NULL;
	int ret;

	if (!sk)
		return -ENOMEM;
	if ((ret = nl_connect(sk, NETLINK_ROUTE)) >= 0)
		ret = rtnl_link_get_kernel(sk, a->ifindex, NULL, &l);
	nl_socket_free(sk);
	if (ret < 0)
		return pr_err("network namespace: veth %s: its peer (index %u) is not in the namespace its netnsid "
			      "names: %s", a->ours, a->ifindex, nl_geterror(ret)), -EIO;
	const char *type = rtnl_link_get_type(l);
	if (!type || strcmp(type, "veth") || (uint32_t)rtnl_link_get_link(l) != a->link) {
		pr_err("network namespace: veth %s: link %s (index %u) of its peer's namespace is not its peer", a->ours,
		       rtnl_link_get_name(l), a->ifindex);
		rtnl_link_put(l);
		return -EIO;
	}
	snprintf(a->name, sizeof(a->name), "%s", rtnl_link_get_name(l));
	rtnl_link_put(l);
	return 0;
}

int netpeer_find(struct rtnl_link *l, int32_t nsid, NetLinkEntry *le)
{
	int nl, ret = 0;
	int32_t id = -1;
	size_t i;

	if (!nr_tree)
		return 0;
	if ((nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE)) < 0)
		return pr_perror("network namespace: can't open a netlink socket");
	for (i = 0; i < nr_tree && !ret; i++)
		if (!(ret = nsid_of(nl, tree_fds[i], &id)) && id == nsid)
			break;
	close(nl);
	if (ret)
		return ret;
	if (i == nr_tree)
		return 0;   /* not one of the tree's */
	struct peer_args a = { rtnl_link_get_link(l), rtnl_link_get_ifindex(l), le->name, "" };
	if ((ret = netns_call(tree_fds[i], peer_name, &a)))
		return ret;
	if (!(le->peer = strdup(a.name)))
		return -ENOMEM;
	le->has_peer_netns = le->has_peer_ifindex = true;
	le->peer_netns = tree_ids[i];
	le->peer_ifindex = a.ifindex;
	used = true;
	pr_info("network namespace: veth %s's peer is %s in the tree's network namespace %u", le->name, a.name,
		tree_ids[i]);
	return 1;
}

/* ------------------------------------------------------------------ restore */

void netpeer_park_name(char *buf, uint32_t ifindex)
{
	snprintf(buf, IFNAMSIZ, "lcrp%u", ifindex);
}

/* A rtnetlink socket in the network namespace of pid (we stay in ours: its fd
 * is taken first, a pidfd of ours would name the namespace we are in then). */
static int socket_in(pid_t pid, struct nl_sock **out)
{
	int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), there = syscall(SYS_pidfd_open, pid, 0), ret = 0;
	struct nl_sock *sk = NULL;

	if (self < 0)
		ret = pr_perror("can't open our network namespace");
	else if (there < 0)
		ret = pr_perror("can't open a pidfd of pid %d (a veth's peer's namespace)", pid);
	else if (setns(there, CLONE_NEWNET))
		ret = pr_perror("can't enter the network namespace of pid %d (a veth's peer's)", pid);
	else {
		if (!(sk = nl_socket_alloc()))
			ret = -ENOMEM;
		else if ((ret = nl_connect(sk, NETLINK_ROUTE)) < 0)
			ret = (pr_err("network namespace: can't open a rtnetlink socket: %s", nl_geterror(ret)), -EIO);
		if (setns(self, CLONE_NEWNET) && !ret)
			ret = pr_perror("can't go back to our network namespace");
	}
	if (self >= 0)
		close(self);
	if (there >= 0)
		close(there);
	if (ret && sk)
		nl_socket_free(sk);
	*out = ret ? NULL : sk;
	return ret;
}

/* The end of le parked in the namespace of pid: moved here, under its name. */
static int pull(struct nl_sock *here, const NetLinkEntry *le, pid_t pid)
{
	struct rtnl_link *cur, *chg;
	struct nl_sock *sk;
	char park[IFNAMSIZ];
	int ret;

	if ((ret = socket_in(pid, &sk)))
		return ret;
	netpeer_park_name(park, le->peer_ifindex);
	if ((ret = rtnl_link_get_kernel(sk, 0, park, &cur)) < 0) {
		nl_socket_free(sk);
		return pr_err("network namespace: veth %s: the end made with its peer %s is not in the peer's namespace "
			      "(%s, pid %d): %s", le->name, le->peer, park, pid, nl_geterror(ret)), -EIO;
	}
	/* (RTM_SETLINK by hand: libnl's change request leaves the namespace out) */
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = rtnl_link_get_ifindex(cur) };
	struct nl_msg *m = nlmsg_alloc_simple(RTM_SETLINK, NLM_F_ACK);
	rtnl_link_put(cur);
	if (!m || nlmsg_append(m, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0 ||
	    nla_put_u32(m, IFLA_NET_NS_PID, getpid()) < 0)
		ret = -NLE_NOMEM;
	else
		ret = nl_send_sync(sk, m);   /* (frees m) */
	if (ret == -NLE_NOMEM && m)
		nlmsg_free(m);
	nl_socket_free(sk);
	if (ret < 0)
		return pr_err("network namespace: can't move veth %s (peer %s) into its namespace: %s", le->name, le->peer,
			      nl_geterror(ret)), -EIO;
	/* here now, still under its temporary name (another one pulled next may have it) */
	if ((ret = rtnl_link_get_kernel(here, 0, park, &cur)) < 0)
		return pr_err("network namespace: veth %s is not in its namespace after its move: %s", le->name,
			      nl_geterror(ret)), -EIO;
	if (!(chg = rtnl_link_alloc())) {
		rtnl_link_put(cur);
		return -ENOMEM;
	}
	rtnl_link_set_name(chg, le->name);
	ret = rtnl_link_change(here, cur, chg, 0);
	rtnl_link_put(chg);
	rtnl_link_put(cur);
	if (ret < 0)
		return pr_err("network namespace: can't rename veth %s (%s while it moved): %s", le->name, park,
			      nl_geterror(ret)), -EIO;
	return 0;
}

int netpeer_made_before(const struct netns_restore *nr, const NetLinkEntry *le, pid_t *pid)
{
	if (!le->has_peer_netns || !nr->peer_made)
		return 0;
	return nr->peer_made(nr->peer_arg, le->peer_netns, pid);
}

int netpeer_pull_all(struct nl_sock *sk, const NetnsEntry *e, const struct netns_restore *nr)
{
	for (size_t i = 0; i < e->n_links; i++) {
		pid_t pid;
		int ret = netpeer_made_before(nr, e->links[i], &pid);

		if (ret > 0)
			ret = pull(sk, e->links[i], pid);
		if (ret < 0)
			return ret;
	}
	return 0;
}

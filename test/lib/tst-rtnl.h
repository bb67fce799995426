/* tst-rtnl.h: the few rtnetlink requests the network test programs make
 * (ns-net, ns-veth, ns-tcpnest): attributes, nests, a request answered with an
 * ack, and a veth pair whose ends go to other processes' namespaces.  Any
 * failure ends the test (tst_fail). */
#ifndef TST_RTNL_H
#define TST_RTNL_H

#include "tst.h"

#include <errno.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct tst_rtnl_req {
	struct nlmsghdr h;
	char buf[2048];
};

/* Append attribute type (len bytes of data) to h; the attribute, to nest in. */
static inline struct rtattr *tst_rtnl_put(struct nlmsghdr *h, int type, const void *data, int len)
{
	struct rtattr *a = (struct rtattr *)((char *)h + NLMSG_ALIGN(h->nlmsg_len));

	a->rta_type = type;
	a->rta_len = RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(a), data, len);
	h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + RTA_ALIGN(a->rta_len);
	return a;
}

/* Close the nest a (put with no data): it holds all put since. */
static inline void tst_rtnl_nest_end(struct nlmsghdr *h, struct rtattr *a)
{
	a->rta_len = (char *)h + h->nlmsg_len - (char *)a;
}

/* The request's fixed header of len bytes, zeroed by the caller. */
static inline void *tst_rtnl_body(struct nlmsghdr *h, size_t len)
{
	h->nlmsg_len = NLMSG_LENGTH(len);
	return NLMSG_DATA(h);
}

/* Send h on nl (an NETLINK_ROUTE socket; -1: one of its own) and want an ack of 0. */
static inline void tst_rtnl_talk(int nl, struct nlmsghdr *h, const char *what)
{
	static uint32_t seq;
	int own = -1, err;
	char buf[4096];
	ssize_t n;

	if (nl < 0 && (nl = own = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE)) < 0)
		tst_fail("%s: netlink: %s", what, strerror(errno));
	h->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	h->nlmsg_seq = ++seq;
	if (send(nl, h, h->nlmsg_len, 0) < 0 || (n = recv(nl, buf, sizeof(buf), 0)) < 0)
		tst_fail("%s: netlink: %s", what, strerror(errno));
	if (own >= 0)
		close(own);
	struct nlmsghdr *r = (struct nlmsghdr *)buf;
	if (!NLMSG_OK(r, n) || r->nlmsg_type != NLMSG_ERROR)
		tst_fail("%s: no netlink answer", what);
	if ((err = ((struct nlmsgerr *)NLMSG_DATA(r))->error))
		tst_fail("%s: %s", what, strerror(-err));
}

/* A veth name, in the network namespace of pid (0: ours), its peer pname in pp's. */
static inline void tst_make_veth(const char *name, pid_t pid, const char *pname, pid_t pp)
{
	struct tst_rtnl_req r = { 0 };
	struct ifinfomsg *ifi = tst_rtnl_body(&r.h, sizeof(*ifi)), peer = { .ifi_family = AF_UNSPEC };
	uint32_t p32 = pid, pp32 = pp;
	char what[96];

	ifi->ifi_family = AF_UNSPEC;
	r.h.nlmsg_type = RTM_NEWLINK;
	r.h.nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	tst_rtnl_put(&r.h, IFLA_IFNAME, name, strlen(name) + 1);
	if (pid)
		tst_rtnl_put(&r.h, IFLA_NET_NS_PID, &p32, 4);
	struct rtattr *li = tst_rtnl_put(&r.h, IFLA_LINKINFO, NULL, 0);
	tst_rtnl_put(&r.h, IFLA_INFO_KIND, "veth", 4);
	struct rtattr *data = tst_rtnl_put(&r.h, IFLA_INFO_DATA, NULL, 0);
	struct rtattr *p = tst_rtnl_put(&r.h, VETH_INFO_PEER, &peer, sizeof(peer));
	tst_rtnl_put(&r.h, IFLA_IFNAME, pname, strlen(pname) + 1);
	tst_rtnl_put(&r.h, IFLA_NET_NS_PID, &pp32, 4);
	tst_rtnl_nest_end(&r.h, p);
	tst_rtnl_nest_end(&r.h, data);
	tst_rtnl_nest_end(&r.h, li);
	snprintf(what, sizeof(what), "creating veth %s/%s", name, pname);
	tst_rtnl_talk(-1, &r.h, what);
}

#endif

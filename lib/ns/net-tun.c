/* tun and tap links of the tree's network namespace (rtnetlink kind "tun").
 *
 * rtnetlink can list them but not make them (the kernel refuses RTM_NEWLINK
 * for tun), so the namespace's restore makes each one as a program does: on
 * /dev/net/tun with TUNSETIFF, at its old ifindex when free (TUNSETIFINDEX),
 * with its owner and group.  It is made persistent, so that it outlives that
 * fd: its MTU, MAC, addresses and routes then follow in the namespace's usual
 * order, and the tree's fds attach to it later as its queues (files/tun.c),
 * the first of which takes the persistence away again if it had none.
 * Dump: the flags, owner and group are read from the link's IFLA_INFO_DATA,
 * which libnl does not parse for this kind. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include "files/files.h"
#include "image/image.h"
#include "log.h"
#include "ns/net.h"

#define TUN_LINK_FLAGS (IFF_TUN | IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE | IFF_PERSIST)

static void parse(struct rtattr *a, int len, struct rtattr **tb, int max)
{
	memset(tb, 0, (max + 1) * sizeof(*tb));
	for (; RTA_OK(a, len); a = RTA_NEXT(a, len))
		if (a->rta_type <= max)
			tb[a->rta_type] = a;
}

static uint8_t u8_attr(struct rtattr *a)
{
	return a && RTA_PAYLOAD(a) >= 1 ? *(uint8_t *)RTA_DATA(a) : 0;
}

static uint32_t u32_attr(struct rtattr *a)
{
	return a && RTA_PAYLOAD(a) >= 4 ? *(uint32_t *)RTA_DATA(a) : 0;
}

/* The link's tun attributes from one RTM_NEWLINK answer; 0, or -errno. */
static int parse_link(struct nlmsghdr *h, NetLinkEntry *le)
{
	struct ifinfomsg *ifi = NLMSG_DATA(h);
	struct rtattr *tb[IFLA_MAX + 1], *li[IFLA_INFO_MAX + 1], *tun[IFLA_TUN_MAX + 1];

	parse(IFLA_RTA(ifi), IFLA_PAYLOAD(h), tb, IFLA_MAX);
	if (!tb[IFLA_LINKINFO])
		return -ENOENT;
	parse(RTA_DATA(tb[IFLA_LINKINFO]), RTA_PAYLOAD(tb[IFLA_LINKINFO]), li, IFLA_INFO_MAX);
	if (!li[IFLA_INFO_DATA])
		return -ENOENT;
	parse(RTA_DATA(li[IFLA_INFO_DATA]), RTA_PAYLOAD(li[IFLA_INFO_DATA]), tun, IFLA_TUN_MAX);
	uint8_t type = u8_attr(tun[IFLA_TUN_TYPE]);
	if (type != IFF_TUN && type != IFF_TAP)
		return -ENOENT;
	le->has_tun_flags = true;
	le->tun_flags = type | (u8_attr(tun[IFLA_TUN_PI]) ? 0 : IFF_NO_PI) |
			(u8_attr(tun[IFLA_TUN_VNET_HDR]) ? IFF_VNET_HDR : 0) |
			(u8_attr(tun[IFLA_TUN_MULTI_QUEUE]) ? IFF_MULTI_QUEUE : 0) |
			(u8_attr(tun[IFLA_TUN_PERSIST]) ? IFF_PERSIST : 0);
	if (tun[IFLA_TUN_OWNER] && RTA_PAYLOAD(tun[IFLA_TUN_OWNER]) >= 4) {
		le->has_tun_owner = true;
		le->tun_owner = *(uint32_t *)RTA_DATA(tun[IFLA_TUN_OWNER]);
	}
	if (tun[IFLA_TUN_GROUP] && RTA_PAYLOAD(tun[IFLA_TUN_GROUP]) >= 4) {
		le->has_tun_group = true;
		le->tun_group = *(uint32_t *)RTA_DATA(tun[IFLA_TUN_GROUP]);
	}
	/* (this thread is in the namespace) */
	struct stat st;
	if (stat("/proc/thread-self/ns/net", &st))
		return pr_perror("network namespace: tun %s: can't stat /proc/thread-self/ns/net", le->name);
	return tun_dump_link(st.st_ino, le->name, u32_attr(tun[IFLA_TUN_NUM_QUEUES]) +
				u32_attr(tun[IFLA_TUN_NUM_DISABLED_QUEUES]), le->tun_flags & IFF_PERSIST);
}

int nettun_dump(NetLinkEntry *le)
{
	struct {
		struct nlmsghdr h;
		struct ifinfomsg ifi;
	} req = { .h = { .nlmsg_len = sizeof(req), .nlmsg_type = RTM_GETLINK, .nlmsg_flags = NLM_F_REQUEST, .nlmsg_seq = 1 },
		  .ifi = { .ifi_family = AF_UNSPEC, .ifi_index = (int)le->ifindex } };
	static __thread char buf[16384] __attribute__((aligned(8)));
	int sk = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE), ret = -EIO;
	ssize_t n;

	if (sk < 0)
		return pr_perror("network namespace: tun %s: can't open a rtnetlink socket", le->name);
	if (send(sk, &req, sizeof(req), 0) < 0 || (n = recv(sk, buf, sizeof(buf), 0)) < 0) {
		ret = pr_perror("network namespace: tun %s: can't read its link", le->name);
		goto out;
	}
	for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n))
		if (h->nlmsg_type == RTM_NEWLINK && h->nlmsg_len >= NLMSG_LENGTH(sizeof(struct ifinfomsg))) {
			ret = parse_link(h, le);
			break;
		}
	if (ret == -ENOENT) {
		pr_err("network namespace: tun %s: the kernel did not tell its tun attributes", le->name);
		ret = -EIO;
	}
	tun_dump_note();
out:
	close(sk);
	return ret;
}

/* ---- a device of the caller's namespace that the tree owns */

static bool via(const NetRouteEntry *r, uint32_t ifindex)
{
	if (!r->n_nexthops)
		return false;
	for (size_t i = 0; i < r->n_nexthops; i++)
		if (r->nexthops[i]->ifindex != ifindex)
			return false;
	return true;
}

int nettun_dump_host(const char *name, NetnsEntry **out)
{
	struct nl_sock *sk = nl_socket_alloc();
	NetnsEntry *e = malloc(sizeof(*e));
	size_t n;
	int ret;

	if (!sk || !e) {
		nl_socket_free(sk);
		free(e);
		return -ENOMEM;
	}
	netns_entry__init(e);
	if ((ret = nl_connect(sk, NETLINK_ROUTE)) < 0) {
		pr_err("tun %s: can't open a rtnetlink socket: %s", name, nl_geterror(ret));
		ret = -EIO;
	} else {
		ret = netlink_dump_one_link(sk, name, e) ?: netaddr_dump(sk, e) ?: netroute_dump(sk, e);
	}
	nl_socket_free(sk);
	/* only its own: addresses on it, routes all of whose nexthops are through it */
	if (!ret) {
		uint32_t idx = e->links[0]->ifindex;
		n = 0;
		for (size_t i = 0; i < e->n_addrs; i++)
			if (e->addrs[i]->ifindex == idx)
				e->addrs[n++] = e->addrs[i];
			else
				img_free_msg(&e->addrs[i]->base);
		e->n_addrs = n;
		n = 0;
		for (size_t i = 0; i < e->n_routes; i++)
			if (via(e->routes[i], idx))
				e->routes[n++] = e->routes[i];
			else
				img_free_msg(&e->routes[i]->base);
		e->n_routes = n;
	}
	if (ret) {
		img_free_msg(&e->base);
		return ret;
	}
	*out = e;
	return 0;
}

int nettun_validate_host(const NetnsEntry *e, const char *name)
{
	if (e->external || e->n_links != 1 || strcmp(e->links[0]->name, name) || strcmp(e->links[0]->kind, "tun") ||
	    e->n_rules || e->n_sysctls || e->n_addrs > 4096 || e->n_routes > 4096)
		return pr_err("fdinfo: tun %s: bad description of its link", name), -EINVAL;
	return netlink_validate_link(e->links[0]) ?: netaddr_validate(e);
}

int nettun_restore_host(const NetnsEntry *e)
{
	const NetLinkEntry *le = e->links[0];
	struct nl_sock *sk = nl_socket_alloc();
	int ret;

	if (!sk)
		return -ENOMEM;
	if ((ret = nl_connect(sk, NETLINK_ROUTE)) < 0) {
		pr_err("tun %s: can't open a rtnetlink socket: %s", le->name, nl_geterror(ret));
		ret = -EIO;
	} else {
		ret = netlink_configure(sk, le, false) ?: netaddr_restore(sk, e) ?:
		      ((le->flags & IFF_UP) ? netlink_configure(sk, le, true) : 0) ?: netroute_restore(sk, e);
	}
	nl_socket_free(sk);
	return ret;
}

int nettun_validate(const NetLinkEntry *le)
{
	uint32_t type;

	if (!le->has_tun_flags)
		return -EINVAL;
	type = le->tun_flags & (IFF_TUN | IFF_TAP);
	if ((le->tun_flags & ~TUN_LINK_FLAGS) || (type != IFF_TUN && type != IFF_TAP) ||
	    (type == IFF_TUN && le->has_address) || le->peer || le->has_peer_outside || le->has_peer_netns ||
	    le->has_peer_ifindex)
		return -EINVAL;
	return 0;
}

int nettun_make(const NetLinkEntry *le)
{
	struct ifreq r = { 0 };
	int fd, ret = 0;

	if ((fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC)) < 0)
		return pr_perror("network namespace: can't open /dev/net/tun to make tun %s", le->name);
	snprintf(r.ifr_name, IFNAMSIZ, "%s", le->name);
	r.ifr_flags = le->tun_flags & ~IFF_PERSIST;
	unsigned idx = le->ifindex;
	/* its old index if nothing has it (else the kernel picks one: addresses and
	 * routes name links by their saved index, mapped through the name) */
	if (ioctl(fd, TUNSETIFINDEX, &idx) || ioctl(fd, TUNSETIFF, &r)) {
		close(fd);
		if ((fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC)) < 0)
			return pr_perror("network namespace: can't open /dev/net/tun to make tun %s", le->name);
		if (ioctl(fd, TUNSETIFF, &r)) {
			ret = pr_perror("network namespace: can't make %s %s (TUNSETIFF)",
					(le->tun_flags & IFF_TAP) ? "tap" : "tun", le->name);
			goto out;
		}
	}
	if (le->has_tun_owner && ioctl(fd, TUNSETOWNER, (unsigned long)le->tun_owner))
		ret = pr_perror("network namespace: tun %s: can't set its owner to %u", le->name, le->tun_owner);
	else if (le->has_tun_group && ioctl(fd, TUNSETGROUP, (unsigned long)le->tun_group))
		ret = pr_perror("network namespace: tun %s: can't set its group to %u", le->name, le->tun_group);
	else if (ioctl(fd, TUNSETPERSIST, 1UL))
		ret = pr_perror("network namespace: tun %s: can't make it persistent", le->name);
out:
	close(fd);
	return ret;
}

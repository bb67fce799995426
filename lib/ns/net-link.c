/* The links of the tree's network namespace: loopback, veth and tun/tap
 * (net-tun.c).  A veth whose
 * peer is in another namespace of the tree is saved with that one's id
 * (net-peer.c); one whose peer is outside the tree (the host, a bridge's) has it
 * named by the caller (--external veth[IFNAME]:OUTSIDE): restore makes the pair
 * with that end in the caller's namespace.  Any other kind fails the dump,
 * naming the link. */
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_tun.h>
#include <netlink/netlink.h>
#include <netlink/cache.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include "log.h"
#include "ns/net.h"
#include "util.h"

/* the flags a user sets; the others are the kernel's (running, lower_up...) */
#define LINK_FLAGS (IFF_UP | IFF_NOARP | IFF_PROMISC | IFF_ALLMULTI | IFF_DEBUG | IFF_MULTICAST | IFF_DYNAMIC)

static const char *ext_value(const struct cr_external *ext, size_t nr, const char *kind, const char *name)
{
	char key[64];

	snprintf(key, sizeof(key), "%s[%s]", kind, name);
	for (size_t i = 0; i < nr; i++)
		if (!strcmp(ext[i].key, key))
			return ext[i].value;
	return NULL;
}

static int dump_one(struct nl_cache *cache, struct rtnl_link *l, NetLinkEntry *le, const struct cr_external *ext,
		    size_t nr_ext)
{
	const char *name = rtnl_link_get_name(l), *type = rtnl_link_get_type(l);
	unsigned flags = rtnl_link_get_flags(l);
	struct nl_addr *mac = rtnl_link_get_addr(l);
	int ret;

	le->ifindex = rtnl_link_get_ifindex(l);
	le->flags = flags & LINK_FLAGS;
	le->mtu = rtnl_link_get_mtu(l);
	le->has_txqlen = true;
	le->txqlen = rtnl_link_get_txqlen(l);
	if (!(le->name = strdup(name)))
		return -ENOMEM;
	if (flags & IFF_LOOPBACK) {
		le->kind = strdup("loopback");
		return le->kind ? 0 : -ENOMEM;
	}
	if (type && !strcmp(type, "tun")) {
		if (!(le->kind = strdup("tun")))
			return -ENOMEM;
		if ((ret = nettun_dump(le)))
			return ret;
		/* a tap's MAC (a tun has none) */
		if ((le->tun_flags & IFF_TAP) && mac && nl_addr_get_len(mac) == 6) {
			if (!(le->address.data = malloc(6)))
				return -ENOMEM;
			le->has_address = true;
			le->address.len = 6;
			memcpy(le->address.data, nl_addr_get_binary_addr(mac), 6);
		}
		return 0;
	}
	if (!type || strcmp(type, "veth"))
		return pr_err("network namespace: link %s is a %s: libcr can't recreate this kind of link (it "
			      "restores loopback, veth and tun/tap links)", name, type ? type : "device without a kind"),
		       -EOPNOTSUPP;
	if (!(le->kind = strdup("veth")))
		return -ENOMEM;
	if (mac && nl_addr_get_len(mac) == 6) {
		le->has_address = true;
		le->address.len = 6;
		if (!(le->address.data = malloc(6)))
			return -ENOMEM;
		memcpy(le->address.data, nl_addr_get_binary_addr(mac), 6);
	}
	int32_t nsid;
	if (rtnl_link_get_link_netnsid(l, &nsid) == 0) {
		/* the peer is in another namespace: the tree's, or the caller names it */
		int in_tree = netpeer_find(l, nsid, le);
		if (in_tree)
			return in_tree < 0 ? in_tree : 0;
		const char *out = ext_value(ext, nr_ext, "veth", name);
		if (!out)
			return pr_err("network namespace: veth %s has its peer outside the tree's namespace: name it "
				      "with --external veth[%s]:OUTSIDE_NAME", name, name), -EOPNOTSUPP;
		le->has_peer_outside = le->peer_outside = true;
		le->peer = strdup(out);
	} else {
		struct rtnl_link *peer = rtnl_link_get(cache, rtnl_link_get_link(l));
		if (!peer)
			return pr_err("network namespace: veth %s: its peer (ifindex %d) is not in the namespace", name,
				      rtnl_link_get_link(l)), -EIO;
		le->peer = strdup(rtnl_link_get_name(peer));
		rtnl_link_put(peer);
	}
	return le->peer ? 0 : -ENOMEM;
}

int netlink_dump_one_link(struct nl_sock *sk, const char *name, NetnsEntry *e)
{
	struct nl_cache *cache;
	struct rtnl_link *l;
	NetLinkEntry *le;
	int ret;

	if ((ret = rtnl_link_alloc_cache(sk, AF_UNSPEC, &cache)) < 0)
		return pr_err("network namespace: can't list the links: %s", nl_geterror(ret)), -EIO;
	if (!(l = rtnl_link_get_by_name(cache, name))) {
		nl_cache_free(cache);
		return pr_err("network namespace: no link %s", name), -ENODEV;
	}
	if (!(e->links = calloc(1, sizeof(*e->links))) || !(le = malloc(sizeof(*le)))) {
		ret = -ENOMEM;
		goto out;
	}
	net_link_entry__init(le);
	e->links[e->n_links++] = le;
	ret = dump_one(cache, l, le, NULL, 0);
out:
	rtnl_link_put(l);
	nl_cache_free(cache);
	return ret;
}

int netlink_dump_links(struct nl_sock *sk, NetnsEntry *e, const struct cr_external *ext, size_t nr_ext)
{
	struct nl_cache *cache;
	int ret, n;

	if ((ret = rtnl_link_alloc_cache(sk, AF_UNSPEC, &cache)) < 0)
		return pr_err("network namespace: can't list the links: %s", nl_geterror(ret)), -EIO;
	n = nl_cache_nitems(cache);
	if (!(e->links = calloc(n ? n : 1, sizeof(*e->links)))) {
		nl_cache_free(cache);
		return -ENOMEM;
	}
	ret = 0;
	for (struct nl_object *o = nl_cache_get_first(cache); o && !ret; o = nl_cache_get_next(o)) {
		NetLinkEntry *le = malloc(sizeof(*le));
		if (!le) {
			ret = -ENOMEM;
			break;
		}
		net_link_entry__init(le);
		e->links[e->n_links++] = le;
		ret = dump_one(cache, (struct rtnl_link *)o, le, ext, nr_ext);
	}
	nl_cache_free(cache);
	return ret;
}

static bool valid_ifname(const char *n)
{
	size_t l = n ? strlen(n) : 0;

	if (!l || l >= IFNAMSIZ || !strcmp(n, ".") || !strcmp(n, ".."))
		return false;
	for (const char *p = n; *p; p++)
		if (*p == '/' || *p == ':' || *p <= ' ' || *p > '~')
			return false;
	return true;
}

int netlink_validate_link(const NetLinkEntry *l)
{
	bool lo = !strcmp(l->kind, "loopback"), veth = !strcmp(l->kind, "veth"), tun = !strcmp(l->kind, "tun");

	if (!valid_ifname(l->name) || (!lo && !veth && !tun) || (tun && nettun_validate(l)) ||
	    (!tun && (l->has_tun_flags || l->has_tun_owner || l->has_tun_group)) || (lo && strcmp(l->name, "lo")) || l->ifindex < 1 ||
	    l->ifindex > (1u << 30) || (l->flags & ~LINK_FLAGS) || l->mtu < 68 || l->mtu > 65536 ||
	    (l->has_address && l->address.len != 6) || (veth && !valid_ifname(l->peer)) || (lo && l->peer) ||
	    (l->has_txqlen && l->txqlen > (1u << 24)) ||
	    (l->has_peer_netns && (!veth || l->peer_outside || l->peer_netns > 4096 || !l->has_peer_ifindex)) ||
	    (l->has_peer_ifindex && (!l->has_peer_netns || l->peer_ifindex < 1 || l->peer_ifindex > (1u << 30))))
		return pr_err("netns.img: bad link %s", valid_ifname(l->name) ? l->name : "(bad name)"), -EINVAL;
	return 0;
}

static const NetLinkEntry *find(const NetnsEntry *e, const char *name)
{
	for (size_t i = 0; i < e->n_links; i++)
		if (!strcmp(e->links[i]->name, name))
			return e->links[i];
	return NULL;
}

static int make_veth(struct nl_sock *sk, const NetLinkEntry *le, const struct netns_restore *nr)
{
	const char *peer_name = le->peer;
	bool outside = le->peer_outside;
	char park[IFNAMSIZ];
	int ret;

	/* its peer's namespace is made later: the peer waits here for it (net-peer.c) */
	if (le->has_peer_netns) {
		netpeer_park_name(park, le->ifindex);
		peer_name = park;
	}
	if (outside) {
		const char *given = ext_value(nr->ext, nr->nr_ext, "veth", le->name);
		if (given && !valid_ifname(given))
			return pr_err("--external veth[%s]:%s: not a link name", le->name, given), -EINVAL;
		if (given)
			peer_name = given;
	}
	for (int tries = 0, with_index = 1;; tries++) {
		struct rtnl_link *l = rtnl_link_veth_alloc(), *peer;

		if (!l)
			return -ENOMEM;
		peer = rtnl_link_veth_get_peer(l);
		rtnl_link_set_name(l, le->name);
		if (with_index)
			rtnl_link_set_ifindex(l, le->ifindex);
		if (with_index && le->has_peer_netns)
			rtnl_link_set_ifindex(peer, le->peer_ifindex);
		rtnl_link_set_mtu(l, le->mtu);
		rtnl_link_set_name(peer, peer_name);
		rtnl_link_set_mtu(peer, le->mtu);
		if (outside)
			rtnl_link_set_ns_fd(peer, nr->host_fd);
		ret = rtnl_link_add(sk, l, NLM_F_CREATE | NLM_F_EXCL);
		rtnl_link_put(peer);
		rtnl_link_veth_release(l);
		if (ret >= 0)
			return 0;
		/* the index is taken (a device of the new namespace's own) */
		if (ret == -NLE_BUSY && with_index) {
			with_index = 0;
			continue;
		}
		/* the dumped namespace's pair may still be on its way out (the kernel
		 * removes a dead namespace's devices a moment later) */
		if (ret == -NLE_EXIST && outside && tries < 100) {
			usleep(50000);
			continue;
		}
		return pr_err("network namespace: can't create veth %s (peer %s%s): %s", le->name, peer_name,
			      outside ? " outside" : "", nl_geterror(ret)), -EIO;
	}
}

/* MTU, MAC, queue length and every flag but up (links go up after their addresses). */
int netlink_configure(struct nl_sock *sk, const NetLinkEntry *le, bool up)
{
	struct rtnl_link *cur, *chg;
	int ret;

	if ((ret = rtnl_link_get_kernel(sk, 0, le->name, &cur)) < 0)
		return pr_err("network namespace: link %s is missing after its creation: %s", le->name,
			      nl_geterror(ret)), -EIO;
	if (!(chg = rtnl_link_alloc())) {
		rtnl_link_put(cur);
		return -ENOMEM;
	}
	if (up) {
		rtnl_link_set_flags(chg, IFF_UP);
	} else {
		unsigned set = le->flags & ~IFF_UP;
		rtnl_link_set_flags(chg, set);
		rtnl_link_unset_flags(chg, LINK_FLAGS & ~IFF_UP & ~set);
		rtnl_link_set_mtu(chg, le->mtu);
		if (le->has_txqlen)
			rtnl_link_set_txqlen(chg, le->txqlen);
		if (le->has_address) {
			struct nl_addr *a = nl_addr_build(AF_LLC, le->address.data, 6);
			if (a) {
				rtnl_link_set_addr(chg, a);
				nl_addr_put(a);
			}
		}
	}
	ret = rtnl_link_change(sk, cur, chg, 0);
	rtnl_link_put(chg);
	rtnl_link_put(cur);
	if (ret < 0)
		return pr_err("network namespace: can't %s link %s: %s", up ? "bring up" : "configure", le->name,
			      nl_geterror(ret)), -EIO;
	return 0;
}

int netlink_restore_links(struct nl_sock *sk, const NetnsEntry *e, const struct netns_restore *nr)
{
	int ret;

	for (size_t i = 0; i < e->n_links; i++) {
		const NetLinkEntry *le = e->links[i];
		struct rtnl_link *cur;

		/* lo, the second end of a pair made with the first, or one moved here
		 * from the namespace of its peer (net-peer.c) */
		if (rtnl_link_get_kernel(sk, 0, le->name, &cur) >= 0) {
			rtnl_link_put(cur);
		} else if (!strcmp(le->kind, "veth")) {
			bool inside = !le->peer_outside && !le->has_peer_netns;
			const NetLinkEntry *p = inside ? find(e, le->peer) : NULL;
			char park[IFNAMSIZ];
			if (inside && (!p || strcmp(p->kind, "veth") || strcmp(p->peer, le->name)))
				return pr_err("netns.img: veth %s's peer %s is not its pair", le->name, le->peer), -EINVAL;
			if (le->has_peer_netns)
				netpeer_park_name(park, le->ifindex);
			if (le->has_peer_netns && find(e, park))
				return pr_err("network namespace: veth %s: its peer's temporary name %s is a link of the "
					      "namespace: rename that link before the dump", le->name, park), -EEXIST;
			if ((ret = make_veth(sk, le, nr)))
				return ret;
		} else if (!strcmp(le->kind, "tun")) {
			if ((ret = nettun_make(le)))
				return ret;
		} else {
			return pr_err("network namespace: no %s in the new namespace", le->name), -EIO;
		}
		if ((ret = netlink_configure(sk, le, false)))
			return ret;
	}
	return 0;
}

int netlink_links_up(struct nl_sock *sk, const NetnsEntry *e)
{
	int ret;

	for (size_t i = 0; i < e->n_links; i++)
		if ((e->links[i]->flags & IFF_UP) && (ret = netlink_configure(sk, e->links[i], true)))
			return ret;
	return 0;
}

/* Addresses, routes (every table) and rules of the tree's network namespace.
 * Links are named by their index in the image and found by name on restore.
 * Routes the kernel makes itself (proto kernel: connected, local, broadcast,
 * link-local, multicast) come back with the addresses; the new namespace's
 * default rules are replaced by the saved ones.  IPv6 addresses come back
 * without duplicate address detection (they had passed it). */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/fib_rules.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>
#include <netlink/netlink.h>
#include <netlink/cache.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>
#include <netlink/route/rule.h>
#include "log.h"
#include "ns/net.h"

/* address flags a user sets (the others are the kernel's: tentative, secondary...) */
#define ADDR_FLAGS (IFA_F_NODAD | IFA_F_HOMEADDRESS | IFA_F_MANAGETEMPADDR | IFA_F_NOPREFIXROUTE | IFA_F_MCAUTOJOIN)
#define FOREVER 0xffffffffu

static int alen(uint32_t family)
{
	return family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
}

static int put_addr(ProtobufCBinaryData *b, protobuf_c_boolean *has, struct nl_addr *a)
{
	if (!a || !nl_addr_get_len(a))
		return 0;
	if (!(b->data = malloc(nl_addr_get_len(a))))
		return -ENOMEM;
	b->len = nl_addr_get_len(a);
	memcpy(b->data, nl_addr_get_binary_addr(a), b->len);
	if (has)
		*has = true;
	return 0;
}

/* An nl_addr of the image's bytes (NULL bytes: the family's zero address). */
static struct nl_addr *mk_addr(uint32_t family, const ProtobufCBinaryData *b, bool has, uint32_t prefixlen)
{
	static const uint8_t zero[16];
	struct nl_addr *a = nl_addr_build(family, has ? b->data : zero, alen(family));

	if (a)
		nl_addr_set_prefixlen(a, prefixlen);
	return a;
}

/* The restored index of the link that had index old. */
static int new_ifindex(struct nl_sock *sk, const NetnsEntry *e, uint32_t old)
{
	const char *name = netns_link_name(e, old);
	struct rtnl_link *l;
	int idx;

	if (!name)
		return pr_err("netns.img: no link of index %u", old), -EINVAL;
	if (rtnl_link_get_kernel(sk, 0, name, &l) < 0)
		return pr_err("network namespace: link %s is missing", name), -EIO;
	idx = rtnl_link_get_ifindex(l);
	rtnl_link_put(l);
	return idx;
}

static void *grow(void *arr, size_t n, size_t sz)
{
	return realloc(arr, (n + 1) * sz);
}

/* ------------------------------------------------------------------ addresses */

int netaddr_dump(struct nl_sock *sk, NetnsEntry *e)
{
	struct nl_cache *cache;
	int ret = 0;

	if ((ret = rtnl_addr_alloc_cache(sk, &cache)) < 0)
		return pr_err("network namespace: can't list the addresses: %s", nl_geterror(ret)), -EIO;
	ret = 0;
	for (struct nl_object *o = nl_cache_get_first(cache); o && !ret; o = nl_cache_get_next(o)) {
		struct rtnl_addr *a = (struct rtnl_addr *)o;
		int fam = rtnl_addr_get_family(a);
		NetAddrEntry *ae, **n;

		if (fam != AF_INET && fam != AF_INET6)
			continue;
		if (!(n = grow(e->addrs, e->n_addrs, sizeof(*n))) || !(ae = malloc(sizeof(*ae)))) {
			if (n)
				e->addrs = n;
			ret = -ENOMEM;
			break;
		}
		e->addrs = n;
		net_addr_entry__init(ae);
		e->addrs[e->n_addrs++] = ae;
		ae->family = fam;
		ae->ifindex = rtnl_addr_get_ifindex(a);
		ae->prefixlen = rtnl_addr_get_prefixlen(a);
		ae->flags = rtnl_addr_get_flags(a) & ADDR_FLAGS;
		ae->scope = rtnl_addr_get_scope(a);
		if ((ret = put_addr(&ae->local, NULL, rtnl_addr_get_local(a))))
			break;
		struct nl_addr *peer = rtnl_addr_get_peer(a);
		if (peer && nl_addr_cmp(peer, rtnl_addr_get_local(a)) && (ret = put_addr(&ae->peer, &ae->has_peer, peer)))
			break;
		if (fam == AF_INET && (ret = put_addr(&ae->broadcast, &ae->has_broadcast, rtnl_addr_get_broadcast(a))))
			break;
		if (fam == AF_INET && rtnl_addr_get_label(a) && !(ae->label = strdup(rtnl_addr_get_label(a))))
			ret = -ENOMEM;
		if (rtnl_addr_get_valid_lifetime(a) != FOREVER) {
			ae->has_valid_lft = ae->has_preferred_lft = true;
			ae->valid_lft = rtnl_addr_get_valid_lifetime(a);
			ae->preferred_lft = rtnl_addr_get_preferred_lifetime(a);
		}
	}
	nl_cache_free(cache);
	return ret;
}

int netaddr_restore(struct nl_sock *sk, const NetnsEntry *e)
{
	for (size_t i = 0; i < e->n_addrs; i++) {
		const NetAddrEntry *ae = e->addrs[i];
		struct rtnl_addr *a = rtnl_addr_alloc();
		struct nl_addr *local, *peer = NULL, *brd = NULL;
		int idx = new_ifindex(sk, e, ae->ifindex), ret;
		char txt[INET6_ADDRSTRLEN];

		if (idx < 0 || !a) {
			rtnl_addr_put(a);
			return idx < 0 ? idx : -ENOMEM;
		}
		inet_ntop(ae->family, ae->local.data, txt, sizeof(txt));
		local = mk_addr(ae->family, &ae->local, true, ae->prefixlen);
		if (ae->has_peer)
			peer = mk_addr(ae->family, &ae->peer, true, ae->prefixlen);
		if (ae->has_broadcast)
			brd = mk_addr(ae->family, &ae->broadcast, true, 32);
		rtnl_addr_set_family(a, ae->family);
		rtnl_addr_set_ifindex(a, idx);
		rtnl_addr_set_local(a, local);
		if (peer)
			rtnl_addr_set_peer(a, peer);
		if (brd)
			rtnl_addr_set_broadcast(a, brd);
		rtnl_addr_set_prefixlen(a, ae->prefixlen);
		rtnl_addr_set_scope(a, ae->scope);
		rtnl_addr_set_flags(a, ae->flags | (ae->family == AF_INET6 ? IFA_F_NODAD : 0));
		if (ae->label)
			rtnl_addr_set_label(a, ae->label);
		if (ae->has_valid_lft) {
			rtnl_addr_set_valid_lifetime(a, ae->valid_lft);
			rtnl_addr_set_preferred_lifetime(a, ae->preferred_lft);
		}
		ret = rtnl_addr_add(sk, a, 0);
		nl_addr_put(local);
		nl_addr_put(peer);
		nl_addr_put(brd);
		rtnl_addr_put(a);
		/* lo's own 127.0.0.1 and ::1, or an IPv6 link-local the link made itself */
		if (ret == -NLE_EXIST)
			continue;
		if (ret < 0)
			return pr_err("network namespace: can't add address %s/%u to %s: %s", txt, ae->prefixlen,
				      netns_link_name(e, ae->ifindex), nl_geterror(ret)), -EIO;
	}
	return 0;
}

/* ------------------------------------------------------------------ routes */

int netroute_dump(struct nl_sock *sk, NetnsEntry *e)
{
	struct nl_cache *cache;
	int ret;

	if ((ret = rtnl_route_alloc_cache(sk, AF_UNSPEC, 0, &cache)) < 0)
		return pr_err("network namespace: can't list the routes: %s", nl_geterror(ret)), -EIO;
	ret = 0;
	for (struct nl_object *o = nl_cache_get_first(cache); o && !ret; o = nl_cache_get_next(o)) {
		struct rtnl_route *r = (struct rtnl_route *)o;
		int fam = rtnl_route_get_family(r);
		NetRouteEntry *re, **n;
		uint32_t mtu;

		if ((fam != AF_INET && fam != AF_INET6) || rtnl_route_get_protocol(r) == RTPROT_KERNEL ||
		    (rtnl_route_get_flags(r) & RTM_F_CLONED))
			continue;
		if (!(n = grow(e->routes, e->n_routes, sizeof(*n))) || !(re = malloc(sizeof(*re)))) {
			if (n)
				e->routes = n;
			ret = -ENOMEM;
			break;
		}
		e->routes = n;
		net_route_entry__init(re);
		e->routes[e->n_routes++] = re;
		re->family = fam;
		re->table = rtnl_route_get_table(r);
		re->tos = rtnl_route_get_tos(r);
		re->protocol = rtnl_route_get_protocol(r);
		re->scope = rtnl_route_get_scope(r);
		re->type = rtnl_route_get_type(r);
		re->priority = rtnl_route_get_priority(r);
		struct nl_addr *dst = rtnl_route_get_dst(r), *src = rtnl_route_get_src(r);
		re->dst_len = dst ? nl_addr_get_prefixlen(dst) : 0;
		re->src_len = src ? nl_addr_get_prefixlen(src) : 0;
		if ((ret = put_addr(&re->dst, &re->has_dst, dst)) || (ret = put_addr(&re->src, &re->has_src, src)) ||
		    (ret = put_addr(&re->pref_src, &re->has_pref_src, rtnl_route_get_pref_src(r))))
			break;
		if (rtnl_route_get_metric(r, RTAX_MTU, &mtu) == 0) {
			re->has_mtu = true;
			re->mtu = mtu;
		}
		int nh = rtnl_route_get_nnexthops(r);
		if (nh > 0 && !(re->nexthops = calloc(nh, sizeof(*re->nexthops)))) {
			ret = -ENOMEM;
			break;
		}
		for (int k = 0; k < nh && !ret; k++) {
			struct rtnl_nexthop *x = rtnl_route_nexthop_n(r, k);
			NetNexthop *h = malloc(sizeof(*h));
			if (!h) {
				ret = -ENOMEM;
				break;
			}
			net_nexthop__init(h);
			re->nexthops[re->n_nexthops++] = h;
			h->ifindex = rtnl_route_nh_get_ifindex(x);
			h->has_weight = h->has_flags = true;
			h->weight = rtnl_route_nh_get_weight(x);
			h->flags = rtnl_route_nh_get_flags(x) & RTNH_F_ONLINK;
			ret = put_addr(&h->gateway, &h->has_gateway, rtnl_route_nh_get_gateway(x));
		}
	}
	nl_cache_free(cache);
	return ret;
}

int netroute_restore(struct nl_sock *sk, const NetnsEntry *e)
{
	for (size_t i = 0; i < e->n_routes; i++) {
		const NetRouteEntry *re = e->routes[i];
		struct rtnl_route *r = rtnl_route_alloc();
		struct nl_addr *dst, *src = NULL, *pref = NULL;
		char txt[INET6_ADDRSTRLEN] = "default";
		int ret = 0;

		if (!r)
			return -ENOMEM;
		if (re->has_dst)
			inet_ntop(re->family, re->dst.data, txt, sizeof(txt));
		rtnl_route_set_family(r, re->family);
		rtnl_route_set_table(r, re->table);
		rtnl_route_set_tos(r, re->tos);
		rtnl_route_set_protocol(r, re->protocol);
		rtnl_route_set_scope(r, re->scope);
		rtnl_route_set_type(r, re->type);
		rtnl_route_set_priority(r, re->priority);
		dst = mk_addr(re->family, &re->dst, re->has_dst, re->dst_len);
		rtnl_route_set_dst(r, dst);
		if (re->has_src && (src = mk_addr(re->family, &re->src, true, re->src_len)))
			rtnl_route_set_src(r, src);
		if (re->has_pref_src && (pref = mk_addr(re->family, &re->pref_src, true, alen(re->family) * 8)))
			rtnl_route_set_pref_src(r, pref);
		if (re->has_mtu)
			rtnl_route_set_metric(r, RTAX_MTU, re->mtu);
		for (size_t k = 0; k < re->n_nexthops && !ret; k++) {
			const NetNexthop *h = re->nexthops[k];
			struct rtnl_nexthop *x = rtnl_route_nh_alloc();
			if (!x) {
				ret = -ENOMEM;
				break;
			}
			if (h->ifindex) {
				int idx = new_ifindex(sk, e, h->ifindex);
				if (idx < 0) {
					rtnl_route_nh_free(x);
					ret = idx;
					break;
				}
				rtnl_route_nh_set_ifindex(x, idx);
			}
			if (h->has_gateway) {
				struct nl_addr *gw = mk_addr(re->family, &h->gateway, true, alen(re->family) * 8);
				rtnl_route_nh_set_gateway(x, gw);
				nl_addr_put(gw);
			}
			if (h->has_weight && re->n_nexthops > 1)
				rtnl_route_nh_set_weight(x, h->weight);
			if (h->has_flags && h->flags)
				rtnl_route_nh_set_flags(x, h->flags);
			rtnl_route_add_nexthop(r, x);
		}
		if (!ret)
			ret = rtnl_route_add(sk, r, NLM_F_CREATE | NLM_F_EXCL);
		nl_addr_put(dst);
		nl_addr_put(src);
		nl_addr_put(pref);
		rtnl_route_put(r);
		/* made by the kernel already (an IPv6 prefix route of an address) */
		if (ret == -NLE_EXIST)
			continue;
		if (ret < 0)
			return pr_err("network namespace: can't add route %s/%u (table %u): %s", txt, re->dst_len, re->table,
				      ret == -ENOMEM ? strerror(ENOMEM) : nl_geterror(ret)), ret == -ENOMEM ? ret : -EIO;
	}
	return 0;
}

/* ------------------------------------------------------------------ rules */

int netrule_dump(struct nl_sock *sk, NetnsEntry *e)
{
	struct nl_cache *cache;
	int ret;

	if ((ret = rtnl_rule_alloc_cache(sk, AF_UNSPEC, &cache)) < 0)
		return pr_err("network namespace: can't list the routing rules: %s", nl_geterror(ret)), -EIO;
	ret = 0;
	for (struct nl_object *o = nl_cache_get_first(cache); o && !ret; o = nl_cache_get_next(o)) {
		struct rtnl_rule *r = (struct rtnl_rule *)o;
		int fam = rtnl_rule_get_family(r);
		NetRuleEntry *re, **n;

		if (fam != AF_INET && fam != AF_INET6)
			continue;
		if (!(n = grow(e->rules, e->n_rules, sizeof(*n))) || !(re = malloc(sizeof(*re)))) {
			if (n)
				e->rules = n;
			ret = -ENOMEM;
			break;
		}
		e->rules = n;
		net_rule_entry__init(re);
		e->rules[e->n_rules++] = re;
		re->family = fam;
		re->priority = rtnl_rule_get_prio(r);
		re->table = rtnl_rule_get_table(r);
		re->action = rtnl_rule_get_action(r);
		re->tos = rtnl_rule_get_dsfield(r);
		struct nl_addr *src = rtnl_rule_get_src(r), *dst = rtnl_rule_get_dst(r);
		re->src_len = src ? nl_addr_get_prefixlen(src) : 0;
		re->dst_len = dst ? nl_addr_get_prefixlen(dst) : 0;
		if ((ret = put_addr(&re->src, &re->has_src, src)) || (ret = put_addr(&re->dst, &re->has_dst, dst)))
			break;
		if ((rtnl_rule_get_iif(r) && !(re->iif = strdup(rtnl_rule_get_iif(r)))) ||
		    (rtnl_rule_get_oif(r) && !(re->oif = strdup(rtnl_rule_get_oif(r))))) {
			ret = -ENOMEM;
			break;
		}
		uint32_t mark = rtnl_rule_get_mark(r), mask = rtnl_rule_get_mask(r);
		if (mark && mark != 0xffffffffu) {   /* libnl's "unset" is all ones */
			re->has_mark = re->has_mask = true;
			re->mark = mark;
			re->mask = mask;
		}
		if (re->action == FR_ACT_GOTO) {
			re->has_goto_prio = true;
			re->goto_prio = rtnl_rule_get_goto(r);
		}
	}
	nl_cache_free(cache);
	return ret;
}

int netrule_restore(struct nl_sock *sk, const NetnsEntry *e)
{
	struct nl_cache *cache;
	int ret;

	/* the new namespace's defaults (local, main, default) go: the saved set replaces them */
	if ((ret = rtnl_rule_alloc_cache(sk, AF_UNSPEC, &cache)) < 0)
		return pr_err("network namespace: can't list the routing rules: %s", nl_geterror(ret)), -EIO;
	for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		int fam = rtnl_rule_get_family((struct rtnl_rule *)o);
		if ((fam == AF_INET || fam == AF_INET6) && (ret = rtnl_rule_delete(sk, (struct rtnl_rule *)o, 0)) < 0) {
			nl_cache_free(cache);
			return pr_err("network namespace: can't remove a default rule: %s", nl_geterror(ret)), -EIO;
		}
	}
	nl_cache_free(cache);
	for (size_t i = 0; i < e->n_rules; i++) {
		const NetRuleEntry *re = e->rules[i];
		struct rtnl_rule *r = rtnl_rule_alloc();
		struct nl_addr *src = NULL, *dst = NULL;

		if (!r)
			return -ENOMEM;
		rtnl_rule_set_family(r, re->family);
		rtnl_rule_set_prio(r, re->priority);
		rtnl_rule_set_table(r, re->table);
		rtnl_rule_set_action(r, re->action);
		if (re->tos)
			rtnl_rule_set_dsfield(r, re->tos);
		if (re->has_src && (src = mk_addr(re->family, &re->src, true, re->src_len)))
			rtnl_rule_set_src(r, src);
		if (re->has_dst && (dst = mk_addr(re->family, &re->dst, true, re->dst_len)))
			rtnl_rule_set_dst(r, dst);
		if (re->iif)
			rtnl_rule_set_iif(r, re->iif);
		if (re->oif)
			rtnl_rule_set_oif(r, re->oif);
		if (re->has_mark) {
			rtnl_rule_set_mark(r, re->mark);
			rtnl_rule_set_mask(r, re->mask);
		}
		if (re->has_goto_prio)
			rtnl_rule_set_goto(r, re->goto_prio);
		ret = rtnl_rule_add(sk, r, NLM_F_CREATE | NLM_F_EXCL);
		nl_addr_put(src);
		nl_addr_put(dst);
		rtnl_rule_put(r);
		if (ret < 0)
			return pr_err("network namespace: can't add rule %u (table %u): %s", re->priority, re->table,
				      nl_geterror(ret)), -EIO;
	}
	return 0;
}

/* ------------------------------------------------------------------ validation */

static bool addr_ok(uint32_t family, const ProtobufCBinaryData *b, bool has, uint32_t prefixlen)
{
	return (!has || b->len == (size_t)alen(family)) && prefixlen <= (uint32_t)alen(family) * 8;
}

static bool name_ok(const char *n)
{
	return !n || (strlen(n) > 0 && strlen(n) < 16 && !strchr(n, '/'));
}

int netaddr_validate(const NetnsEntry *e)
{
	for (size_t i = 0; i < e->n_addrs; i++) {
		const NetAddrEntry *a = e->addrs[i];
		if (!alen(a->family) || !addr_ok(a->family, &a->local, true, a->prefixlen) ||
		    !addr_ok(a->family, &a->peer, a->has_peer, 0) || !addr_ok(a->family, &a->broadcast, a->has_broadcast, 0) ||
		    (a->flags & ~ADDR_FLAGS) || a->scope > 255 || !netns_link_name(e, a->ifindex) || !name_ok(a->label) ||
		    (a->has_valid_lft != a->has_preferred_lft))
			return pr_err("netns.img: bad address %zu", i), -EINVAL;
	}
	for (size_t i = 0; i < e->n_routes; i++) {
		const NetRouteEntry *r = e->routes[i];
		bool ok = alen(r->family) && addr_ok(r->family, &r->dst, r->has_dst, r->dst_len) &&
			  addr_ok(r->family, &r->src, r->has_src, r->src_len) && addr_ok(r->family, &r->pref_src, r->has_pref_src, 0) &&
			  r->tos <= 255 && r->protocol <= 255 && r->scope <= 255 && r->type <= RTN_MAX && r->n_nexthops <= 256;
		for (size_t k = 0; ok && k < r->n_nexthops; k++) {
			const NetNexthop *h = r->nexthops[k];
			ok = (!h->ifindex || netns_link_name(e, h->ifindex)) && addr_ok(r->family, &h->gateway, h->has_gateway, 0) &&
			     (!h->has_weight || h->weight <= 255) && (!h->has_flags || !(h->flags & ~RTNH_F_ONLINK));
		}
		if (!ok)
			return pr_err("netns.img: bad route %zu", i), -EINVAL;
	}
	for (size_t i = 0; i < e->n_rules; i++) {
		const NetRuleEntry *r = e->rules[i];
		if (!alen(r->family) || !addr_ok(r->family, &r->src, r->has_src, r->src_len) ||
		    !addr_ok(r->family, &r->dst, r->has_dst, r->dst_len) || r->action > FR_ACT_PROHIBIT || r->tos > 255 ||
		    !name_ok(r->iif) || !name_ok(r->oif))
			return pr_err("netns.img: bad rule %zu", i), -EINVAL;
	}
	return 0;
}

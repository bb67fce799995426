/* The tree's own network namespace (net.c: the namespace; net-link.c, net-addr.c,
 * net-sysctl.c: what is in it).  Documentation/netns.md. */
#ifndef LIB_NS_NET_H
#define LIB_NS_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "cr/cr.h"
#include "netdev.pb-c.h"

struct img_dir;
struct tree;
struct nl_sock;

/* ---- net.c */
struct netns_dump {
	int fd;                  /* the tree's namespace (-1: it shares ours) */
	const char *external;    /* --external net[INODE]:KEY matched it: the key */
	uint32_t img_id;         /* 0: the root's (netns.img); else a nested one (netns-ID.img) */
};

/* Which namespace the tree is in: its own (every task in it), an external one, or
 * ours.  Its own or external: sock_diag and the network lock work in it from now on. */
int netns_dump_prepare(const struct tree *t, const struct cr_external *ext, size_t nr_ext, struct netns_dump *nd);
/* netns.img: links, addresses, routes, rules, sysctls (or the external key). */
int netns_dump(struct img_dir *dir, const struct netns_dump *nd, const struct cr_external *ext, size_t nr_ext);
void netns_dump_end(struct netns_dump *nd);

/* A socket in the namespace being dumped (ours when none): the parasite's
 * control socket has an abstract name, which only its namespace sees.  -errno
 * on failure. */
int netns_socket(int domain, int type, int protocol);
/* A netlink socket in the namespace being dumped (ours when none). */
int netns_nl_connect(struct nl_sock *sk, int protocol);
/* fn(arg) on a thread of ours that entered namespace nsfd: crtool's own is untouched. */
int netns_call(int nsfd, int (*fn)(void *), void *arg);

struct netns_restore {
	NetnsEntry *e;           /* NULL: the tree shared the caller's namespace */
	int host_fd;             /* the caller's namespace (the outside ends of veths) */
	int join_fd;             /* an external namespace to join (--external net[KEY]:PATH) */
	const struct cr_external *ext;
	size_t nr_ext;
	uint32_t id;             /* 0: the root's namespace; else a nested one */
	/* a veth's peer in namespace id of the tree: 1 if that one is filled before
	 * this one (*pid then a process in it, once it is), 0 if after, -errno;
	 * NULL (the root's): every other one is made after */
	int (*peer_made)(void *arg, uint32_t id, pid_t *pid);
	void *peer_arg;
};

/* netns.img, if any, read and validated only (the hostile-image checks). */
int netns_check_image(struct img_dir *dir);
int netns_load(struct img_dir *dir, const struct cr_external *ext, size_t nr_ext, struct netns_restore *nr);
/* The same for nested namespace id (netns-ID.img, which must be there). */
int netns_load_id(struct img_dir *dir, uint32_t id, const struct cr_external *ext, size_t nr_ext,
		  struct netns_restore *nr);
/* Whether the restored root makes the namespace, and so takes the network lock itself. */
bool netns_restore_own(const struct netns_restore *nr);
/* In the restored root, before any socket: join or make the namespace, fill it. */
int netns_restore(const struct netns_restore *nr);
/* In the task that makes a nested one: the same without the network lock (the
 * maker has crtool take its part: nested.c). */
int netns_restore_nested(const struct netns_restore *nr);
/* While dumping: sock_diag and the parasite's socket work in namespace fd from
 * now on (-1: ours), for the process dumped next. */
void netns_dump_target(int fd);
int netns_dump_current(void);
/* The tree's other network namespaces (-1: ours), where a socket of the process
 * dumped next may be (made there before the process moved: a socketpair of its
 * parent's); at most NETNS_MAX_OTHERS. */
#define NETNS_MAX_OTHERS 4097
void netns_dump_set_others(const int *fds, size_t n);
size_t netns_dump_others(const int **fds);
/* In a restored task: a socket of the caller's namespace (the lazy-pages daemon's
 * abstract name is there); -1 and errno on failure. */
int netns_caller_socket(int domain, int type, int protocol);
/* A task about to leave the caller's network namespace keeps host_fd (the
 * caller's) as that socket's namespace, unless it has one already. */
void netns_keep_caller(int host_fd);
/* That fd (-1: none), which the restored tasks keep until their restorer. */
int netns_caller_fd(void);
/* Before the restorer: the task keeps no fd of ours. */
void netns_caller_close(void);
/* The root (host_pid) holds the lock in its new namespace: ours to remove. */
int netns_adopt_lock(const struct netns_restore *nr, pid_t host_pid);
void netns_free(struct netns_restore *nr);

/* ---- net-link.c, net-addr.c, net-sysctl.c: run inside the namespace */
int netlink_dump_links(struct nl_sock *sk, NetnsEntry *e, const struct cr_external *ext, size_t nr_ext);
int netlink_restore_links(struct nl_sock *sk, const NetnsEntry *e, const struct netns_restore *nr);
/* after the addresses: the links up (routes need them up) */
int netlink_links_up(struct nl_sock *sk, const NetnsEntry *e);
/* Link name alone, into e (which has no links yet). */
int netlink_dump_one_link(struct nl_sock *sk, const char *name, NetnsEntry *e);
/* A link made already: its MTU, MAC, queue length and flags but up; or (up) up. */
int netlink_configure(struct nl_sock *sk, const NetLinkEntry *le, bool up);
int netlink_validate_link(const NetLinkEntry *l);

int netaddr_dump(struct nl_sock *sk, NetnsEntry *e);
int netaddr_restore(struct nl_sock *sk, const NetnsEntry *e);
int netroute_dump(struct nl_sock *sk, NetnsEntry *e);
int netroute_restore(struct nl_sock *sk, const NetnsEntry *e);
int netrule_dump(struct nl_sock *sk, NetnsEntry *e);
int netrule_restore(struct nl_sock *sk, const NetnsEntry *e);
int netaddr_validate(const NetnsEntry *e);

int netsysctl_dump(NetnsEntry *e);
int netsysctl_restore(const NetnsEntry *e);
int netsysctl_validate(const NetnsEntry *e);

/* ---- net-tun.c: tun and tap links (their fds: files/tun.c) */
/* In the namespace: le's tun flags, owner and group (le->ifindex, name set). */
int nettun_dump(NetLinkEntry *le);
/* The tun part of a link of kind "tun" is sound: 0, or -EINVAL. */
int nettun_validate(const NetLinkEntry *le);
/* Make it on /dev/net/tun, persistent until the tree's fds are its queues again. */
int nettun_make(const NetLinkEntry *le);
/* A device of our namespace the tree owns: the link, its addresses and the
 * routes through it (every nexthop), as a NetnsEntry of its own. */
int nettun_dump_host(const char *name, NetnsEntry **out);
int nettun_validate_host(const NetnsEntry *e, const char *name);
/* Just made by TUNSETIFF in the caller's namespace: configured as e says. */
int nettun_restore_host(const NetnsEntry *e);

/* ---- net-peer.c: a veth between two namespaces of the tree */
/* While dumping: the tree's namespaces saved whole (fds, their ids: 0 the
 * root's); resets what netns_dump_peers_used() says. */
int netns_dump_set_tree(const int *fds, const uint32_t *ids, size_t n);
/* Whether a link of the dump has its peer in another namespace of the tree
 * (format version 3). */
bool netns_dump_peers_used(void);
/* In the dumped namespace: link l, whose peer has netnsid nsid, in le if that
 * peer is in one of the tree's (1; 0: outside the tree; -errno). */
struct rtnl_link;
int netpeer_find(struct rtnl_link *l, int32_t nsid, NetLinkEntry *le);
/* The name of the end of the veth whose first end has index ifindex, parked in
 * the first end's namespace until the peer's namespace takes it. */
void netpeer_park_name(char *buf, uint32_t ifindex);
/* Whether le's peer namespace is filled before ours (see peer_made). */
int netpeer_made_before(const struct netns_restore *nr, const NetLinkEntry *le, pid_t *pid);
/* In a new namespace, first: the ends parked for it in namespaces filled before. */
int netpeer_pull_all(struct nl_sock *sk, const NetnsEntry *e, const struct netns_restore *nr);

/* The saved ifindex of a link -> its name in the image (NULL if none). */
const char *netns_link_name(const NetnsEntry *e, uint32_t ifindex);

#endif

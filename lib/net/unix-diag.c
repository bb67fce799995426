/* sock_diag (NETLINK_SOCK_DIAG) queries for AF_UNIX sockets, through libnl:
 * one exact request per inode, so no table of every socket on the host. */
#include <errno.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "log.h"
#include "ns/net.h"
#include "net/unix-diag.h"

#define DIAG_NOCOOKIE (~0U)   /* INET_DIAG_NOCOOKIE: match any cookie */

static int parse(struct nlmsghdr *h, struct unix_diag *d)
{
	struct unix_diag_msg *m = nlmsg_data(h);
	struct nlattr *tb[UNIX_DIAG_MAX + 1];

	if (nlmsg_parse(h, sizeof(*m), tb, UNIX_DIAG_MAX, NULL) < 0)
		return pr_err("sock_diag: a malformed answer for unix socket %u", d->ino), -EIO;
	d->type = m->udiag_type;
	d->state = m->udiag_state;
	if (tb[UNIX_DIAG_NAME]) {
		int len = nla_len(tb[UNIX_DIAG_NAME]);
		if (len < 0 || len > (int)sizeof(d->name))
			return pr_err("sock_diag: unix socket %u has a name of %d bytes", d->ino, len), -EIO;
		memcpy(d->name, nla_data(tb[UNIX_DIAG_NAME]), len);
		d->name_len = len;
	}
	if (tb[UNIX_DIAG_VFS] && nla_len(tb[UNIX_DIAG_VFS]) >= (int)sizeof(struct unix_diag_vfs)) {
		struct unix_diag_vfs *v = nla_data(tb[UNIX_DIAG_VFS]);
		d->has_vfs = true;
		d->vfs_ino = v->udiag_vfs_ino;
		d->vfs_dev = v->udiag_vfs_dev;
	}
	if (tb[UNIX_DIAG_PEER]) {
		d->has_peer = true;
		d->peer = nla_get_u32(tb[UNIX_DIAG_PEER]);
	}
	if (tb[UNIX_DIAG_RQLEN] && nla_len(tb[UNIX_DIAG_RQLEN]) >= (int)sizeof(struct unix_diag_rqlen)) {
		struct unix_diag_rqlen *r = nla_data(tb[UNIX_DIAG_RQLEN]);
		d->rqueue = r->udiag_rqueue;
		d->wqueue = r->udiag_wqueue;
	}
	if (tb[UNIX_DIAG_SHUTDOWN])
		d->shutdown = nla_get_u8(tb[UNIX_DIAG_SHUTDOWN]);
	if (tb[UNIX_DIAG_ICONS] && nla_len(tb[UNIX_DIAG_ICONS]) > 0) {
		int n = nla_len(tb[UNIX_DIAG_ICONS]) / sizeof(uint32_t);
		if (!(d->icons = malloc(n * sizeof(uint32_t))))
			return -ENOMEM;
		memcpy(d->icons, nla_data(tb[UNIX_DIAG_ICONS]), n * sizeof(uint32_t));
		d->nr_icons = n;
	}
	return 0;
}

static int get_here(uint32_t ino, struct unix_diag *d)
{
	struct unix_diag_req req = {
		.sdiag_family = AF_UNIX,
		.udiag_states = ~0U,
		.udiag_ino = ino,
		.udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_VFS | UDIAG_SHOW_PEER | UDIAG_SHOW_ICONS |
			      UDIAG_SHOW_RQLEN,
		.udiag_cookie = { DIAG_NOCOOKIE, DIAG_NOCOOKIE },
	};
	struct nl_sock *sk = nl_socket_alloc();
	unsigned char *buf = NULL;
	struct sockaddr_nl from;
	int ret, n;

	memset(d, 0, sizeof(*d));
	d->ino = ino;
	if (!sk)
		return -ENOMEM;
	if ((ret = netns_nl_connect(sk, NETLINK_SOCK_DIAG)) < 0) {
		ret = (pr_err("sock_diag: can't open a netlink socket: %s", nl_geterror(ret)), -EIO);
		goto out;
	}
	if ((ret = nl_send_simple(sk, SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST, &req, sizeof(req))) < 0) {
		ret = (pr_err("sock_diag: can't ask about unix socket %u: %s", ino, nl_geterror(ret)), -EIO);
		goto out;
	}
	if ((n = nl_recv(sk, &from, &buf, NULL)) <= 0) {
		ret = (pr_err("sock_diag: no answer about unix socket %u: %s", ino, nl_geterror(n)), -EIO);
		goto out;
	}
	ret = -ENOENT;
	for (struct nlmsghdr *h = (struct nlmsghdr *)buf; nlmsg_ok(h, n); h = nlmsg_next(h, &n)) {
		if (h->nlmsg_type == NLMSG_ERROR) {
			struct nlmsgerr *e = nlmsg_data(h);
			/* ENOENT: no unix socket of that inode (another family's, or gone) */
			if (e->error && e->error != -ENOENT)
				ret = (pr_err("sock_diag: unix socket %u: %s", ino, strerror(-e->error)), e->error);
			break;
		}
		if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY && h->nlmsg_len >= (uint32_t)nlmsg_size(sizeof(struct unix_diag_msg))) {
			ret = parse(h, d);
			break;
		}
	}
out:
	free(buf);
	nl_socket_free(sk);
	if (ret)
		unix_diag_free(d);
	return ret;
}

int unix_diag_get(uint32_t ino, struct unix_diag *d)
{
	int ret = get_here(ino, d), cur = netns_dump_current();
	const int *others;
	size_t n = netns_dump_others(&others);

	/* a socket made in another namespace of the tree than its holder's */
	for (size_t i = 0; ret == -ENOENT && i < n; i++) {
		netns_dump_target(others[i]);
		ret = get_here(ino, d);
		netns_dump_target(cur);
	}
	return ret;
}

void unix_diag_free(struct unix_diag *d)
{
	free(d->icons);
	d->icons = NULL;
	d->nr_icons = 0;
}

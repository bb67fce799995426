/* Unix sockets (AF_UNIX): stream, datagram and seqpacket.
 *
 * Dump: sock_diag says what the kernel knows (type, state, name, peer, queued
 * connections, shutdown); the socket itself, taken with pidfd_getfd, gives its
 * options and its receive queue, read with MSG_PEEK from SO_PEEK_OFF 0 message
 * by message so the queue stays intact (--leave-running).  Peers are inodes;
 * a peer outside the process is external and needs --ext-unix-sk.
 *
 * Restore: every socket of the process is made when its first fd is restored
 * (a mutual pair with socketpair(), a listener with its queued connections
 * connected again in order, a datagram client connected to its server's
 * name); once every fd is in place the queues are sent again from the peers,
 * then the shutdowns and the options are applied. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>
#include <dirent.h>
#include "files/files.h"
#include "log.h"
#include "net/sk-filter.h"
#include "net/sockopt.h"
#include "net/unix-diag.h"
#include "ns/ns.h"
#include "ns/userns.h"
#include "util.h"

#define TCP_ESTABLISHED 1
#define TCP_CLOSE 7
#define TCP_LISTEN 10
#define RCV_SHUTDOWN 1
#define SEND_SHUTDOWN 2
#define UNIX_QUEUE_MAX (64u << 20)  /* bytes of one socket's queue in an image */
#define UNIX_MSG_MAX (8u << 20)     /* a datagram larger than this can't be queued anyway */
#define UNIX_ICONS_MAX 65536
#ifndef SO_PASSSEC
#define SO_PASSSEC 34
#endif

/* A socket made on restore. */
struct unix_rst {
	uint32_t ino;
	const FdinfoEntry *e;
	int fd;       /* stashed until handed out to its fd, then -1 */
	int helper;   /* the other end of a socketpair standing for a peer that is gone, or -1 */
	bool deferred;  /* files in flight on its queue are fds of the process: filled in unix_finish */
	bool flying;    /* in flight (SCM_RIGHTS): fd is kept to fill its peer's queue, until unix_finish */
};

/* ---------------------------------------------------------------- dump */

static bool unix_match(const struct fd_dump_ctx *c)
{
	struct unix_diag d;

	if (!S_ISSOCK(c->st.st_mode) || unix_diag_get(c->st.st_ino, &d))
		return false;
	unix_diag_free(&d);
	return true;
}

/* The fd of the process holding socket ino (its first fd), or NULL. */
static const struct fd_dump_ctx *fd_of_ino(const struct fd_dump_ctx *c, uint32_t ino)
{
	for (int i = 0; i < c->nr_all; i++)
		if (S_ISSOCK(c->all[i].st.st_mode) && c->all[i].st.st_ino == ino && c->all[i].dup_of < 0)
			return &c->all[i];
	return NULL;
}

/* A process other than pid that has socket ino open (for the messages), or 0. */
static pid_t holder_of(pid_t pid, uint32_t ino)
{
	char want[32], path[300], link[64];
	struct dirent *pe, *fe;
	pid_t found = 0;
	DIR *procs = opendir("/proc");

	snprintf(want, sizeof(want), "socket:[%u]", ino);
	while (procs && !found && (pe = readdir(procs))) {
		int other = atoi(pe->d_name);
		DIR *fds;

		if (other <= 0 || other == pid)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd", other);
		if (!(fds = opendir(path)))
			continue;
		while (!found && (fe = readdir(fds))) {
			ssize_t n;
			snprintf(path, sizeof(path), "/proc/%d/fd/%s", other, fe->d_name);
			if ((n = readlink(path, link, sizeof(link) - 1)) > 0 && (link[n] = 0, !strcmp(link, want)))
				found = other;
		}
		closedir(fds);
	}
	if (procs)
		closedir(procs);
	return found;
}

/* A printable form of a socket name: "/path", "@abstract" or "unnamed". */
static void name_str(const char *name, int len, char *buf, size_t size)
{
	if (!len) {
		snprintf(buf, size, "unnamed");
		return;
	}
	size_t o = 0;
	if (name[0])
		len = strnlen(name, len);   /* a path: up to its 0 */
	for (int i = 0; i < len && o + 5 < size; i++) {
		unsigned char ch = name[i];
		if (!i && !ch)
			buf[o++] = '@';
		else if (ch >= 0x20 && ch < 0x7f)
			buf[o++] = ch;
		else
			o += snprintf(buf + o, size - o, "\\x%02x", ch);
	}
	buf[o] = 0;
}

static const char *type_str(int t)
{
	return t == SOCK_STREAM ? "stream" : t == SOCK_DGRAM ? "datagram" : t == SOCK_SEQPACKET ? "seqpacket" : "?";
}

/* Is ino the client of a connection queued on a listening socket of the process? */
static bool queued_in_process(const struct fd_dump_ctx *c, uint32_t ino)
{
	bool found = false;

	for (int i = 0; i < c->nr_all && !found; i++) {
		struct unix_diag l;
		if (!S_ISSOCK(c->all[i].st.st_mode) || c->all[i].dup_of >= 0 || unix_diag_get(c->all[i].st.st_ino, &l))
			continue;
		for (int k = 0; l.state == TCP_LISTEN && k < l.nr_icons; k++)
			found |= l.icons[k] == ino;
		unix_diag_free(&l);
	}
	cr_error_reset();   /* a socket of another family is no error here */
	return found;
}

static int get_int(int fd, int opt, int *v)
{
	socklen_t l = sizeof(*v);
	return getsockopt(fd, SOL_SOCKET, opt, v, &l);
}

static int dump_opts(int fd, UnixSkOpts *o)
{
	int v;
	struct timeval tv;
	socklen_t l = sizeof(tv);

	if (get_int(fd, SO_RCVBUF, &v))
		return -errno;
	o->rcvbuf = v;
	if (get_int(fd, SO_SNDBUF, &v))
		return -errno;
	o->sndbuf = v;
	if (!get_int(fd, SO_PASSCRED, &v) && v)
		o->has_passcred = o->passcred = true;
	if (!get_int(fd, SO_PASSSEC, &v) && v)
		o->has_passsec = o->passsec = true;
	if (!get_int(fd, SO_REUSEADDR, &v) && v)
		o->has_reuseaddr = o->reuseaddr = true;
	if (!get_int(fd, SO_KEEPALIVE, &v) && v)
		o->has_keepalive = o->keepalive = true;
	if (!get_int(fd, SO_PRIORITY, &v) && v) {
		o->has_priority = true;
		o->priority = v;
	}
	if (!get_int(fd, SO_RCVLOWAT, &v) && v != 1) {
		o->has_rcvlowat = true;
		o->rcvlowat = v;
	}
	if (!getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, &l) && (tv.tv_sec || tv.tv_usec)) {
		o->has_rcvtimeo_us = true;
		o->rcvtimeo_us = tv.tv_sec * 1000000ull + tv.tv_usec;
	}
	l = sizeof(tv);
	if (!getsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, &l) && (tv.tv_sec || tv.tv_usec)) {
		o->has_sndtimeo_us = true;
		o->sndtimeo_us = tv.tv_sec * 1000000ull + tv.tv_usec;
	}
	return 0;
}

static int queue_add(UnixSkEntry *u, const void *data, size_t len)
{
	ProtobufCBinaryData *q = realloc(u->queue, (u->n_queue + 1) * sizeof(*q));

	if (!q)
		return -ENOMEM;
	u->queue = q;
	q[u->n_queue].len = len;
	if (!(q[u->n_queue].data = malloc(len ? len : 1)))
		return -ENOMEM;
	memcpy(q[u->n_queue].data, data, len);
	u->n_queue++;
	return 0;
}

/* Read the receive queue without taking it: MSG_PEEK from SO_PEEK_OFF 0, one
 * message (or, on a stream, one run of bytes) at a time; SO_PEEK_OFF is put
 * back as it was.  Files in flight (SCM_RIGHTS) come to us as copies: each is
 * described on e, attached to its message, and our copy closed.  On a stream a
 * run ends with the first message that carries files, and the kernel gives its
 * files with the whole run (as to a reader with a large enough buffer): the run
 * is sent again as one piece with them. */
static int peek_queue(const struct fd_dump_ctx *c, int sk, const struct unix_diag *d, FdinfoEntry *e)
{
	UnixSkEntry *u = e->unix_sk;
	int old_off = -1, zero = 0, ret = 0;
	size_t total = 0;
	char *buf = malloc(UNIX_MSG_MAX);
	union {
		char b[CMSG_SPACE(sizeof(int) * 253) + CMSG_SPACE(sizeof(struct ucred)) + 256];
		struct cmsghdr align;
	} ctl;

	if (!buf)
		return -ENOMEM;
	if (get_int(sk, SO_PEEK_OFF, &old_off) || setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero))) {
		ret = pr_perror("pid %d: fd %d: can't set the peek offset of the unix socket", c->pid, c->fd);
		goto out;
	}
	for (int resets = 0;;) {
		struct iovec iov = { buf, UNIX_MSG_MAX };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof(ctl.b) };
		ssize_t n = recvmsg(sk, &m, MSG_PEEK | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

		if (n < 0 && errno == ECONNRESET && !resets++)
			continue;   /* the peer went away with data unread: the error is reported once */
		if (n < 0) {
			if (errno != EAGAIN)
				ret = pr_perror("pid %d: fd %d: can't read the queue of the unix socket", c->pid, c->fd);
			break;
		}
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm))
			if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
				int *fds = (int *)CMSG_DATA(cm), nr = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
				for (int i = 0; i < nr; i++) {
					if (!ret)
						ret = files_dump_in_flight(c, fds[i], u->n_queue, e);
					close(fds[i]);
				}
			}
		if (!ret && (m.msg_flags & MSG_CTRUNC))
			ret = (pr_err("pid %d: fd %d: a message in the queue of the unix socket carries more than %d "
				      "files or other control data that can't be read", c->pid, c->fd, 253), -EOPNOTSUPP);
		if (ret)
			break;
		if (m.msg_flags & MSG_TRUNC) {
			ret = (pr_err("pid %d: fd %d: a message of more than %u bytes is queued on the unix socket", c->pid,
				     c->fd, UNIX_MSG_MAX), -EOPNOTSUPP);
			break;
		}
		/* 0: the end of a stream, or an empty datagram (after a shutdown, the end too) */
		if (!n && (d->type == SOCK_STREAM || (d->shutdown & RCV_SHUTDOWN)))
			break;
		if ((total += n) > UNIX_QUEUE_MAX) {
			ret = (pr_err("pid %d: fd %d: more than %u bytes are queued on the unix socket", c->pid, c->fd,
				     UNIX_QUEUE_MAX), -EOPNOTSUPP);
			break;
		}
		if ((ret = queue_add(u, buf, n)))
			break;
	}
	if (setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &old_off, sizeof(old_off)) && !ret)
		ret = pr_perror("pid %d: fd %d: can't put the peek offset of the unix socket back", c->pid, c->fd);
out:
	free(buf);
	/* a stream's runs are one byte stream: keep them as one, unless files ride on them */
	if (!ret && d->type == SOCK_STREAM && u->n_queue > 1 && !e->n_in_flight) {
		size_t len = 0;
		uint8_t *all;
		for (size_t i = 0; i < u->n_queue; i++)
			len += u->queue[i].len;
		if (!(all = malloc(len)))
			return -ENOMEM;
		len = 0;
		for (size_t i = 0; i < u->n_queue; i++) {
			memcpy(all + len, u->queue[i].data, u->queue[i].len);
			len += u->queue[i].len;
			free(u->queue[i].data);
		}
		u->queue[0].data = all;
		u->queue[0].len = len;
		u->n_queue = 1;
	}
	return ret;
}

static int set_bytes(ProtobufCBinaryData *b, const void *p, size_t len)
{
	if (!(b->data = malloc(len ? len : 1)))
		return -ENOMEM;
	memcpy(b->data, p, len);
	b->len = len;
	return 0;
}

/* The peer is not in the process: refuse unless --ext-unix-sk, else note what it was. */
static int external_peer(const struct fd_dump_ctx *c, const struct unix_diag *d, UnixSkEntry *u, const char *why)
{
	char name[300], pname[300] = "";
	struct unix_diag p = { 0 };
	pid_t holder = d->peer ? holder_of(c->pid, d->peer) : 0;
	int ret = 0;

	name_str(d->name, d->name_len, name, sizeof(name));
	if (d->peer && !unix_diag_get(d->peer, &p))
		name_str(p.name, p.name_len, pname, sizeof(pname));
	cr_error_reset();
	if (!c->ext_unix_sk) {
		char who[64] = "";
		if (holder)
			snprintf(who, sizeof(who), ", held by pid %d", holder);
		ret = (pr_err("pid %d: fd %d: unix %s socket (%s) is %s socket:[%u] (%s%s) outside the process: "
			     "dump with --ext-unix-sk to restore it with that peer gone", c->pid, c->fd,
			     type_str(d->type), name, why, d->peer, pname[0] ? pname : "unnamed", who), -EOPNOTSUPP);
	} else {
		u->has_external = u->external = true;
		if (p.name_len)
			ret = set_bytes(&u->peer_name, p.name, p.name_len), u->has_peer_name = true;
	}
	unix_diag_free(&p);
	return ret;
}

/* The process a file in flight is dumped for (the dumper holds our copy of it). */
static const struct fd_dump_ctx *proc_ctx(const struct fd_dump_ctx *c)
{
	while (c->owner)
		c = c->owner;
	return c;
}

/* A peer no fd of the process holds, nor any other process: a socket in flight,
 * which must be in flight to the process too (checked once it is dumped). */
static bool peer_flying(const struct fd_dump_ctx *c, uint32_t peer)
{
	if (!c->flying || holder_of(getpid(), peer))
		return false;
	return !flying_add(&c->flying->need, &c->flying->nr_need, peer, proc_ctx(c)->fd);
}

/* The peer of a unix socket in flight: an fd of the process (the very socket
 * again on restore), another socket in flight to it, or outside (--ext-unix-sk). */
static int flying_peer(const struct fd_dump_ctx *c, const struct unix_diag *d, UnixSkEntry *u)
{
	const struct fd_dump_ctx *pc = proc_ctx(c), *p = fd_of_ino(c, d->peer);
	pid_t holder;

	if (p && p->share.id)
		return pr_err("pid %d: fd %d: a unix %s socket in flight (SCM_RIGHTS) in the unix socket's queue is "
			      "connected to fd %d, which other processes of the tree hold too: that can't be "
			      "checkpointed yet", pc->pid, pc->fd, type_str(d->type), p->fd), -EOPNOTSUPP;
	if (p)
		return 0;
	if ((holder = files_share_holder(c->scan, c->st.st_dev, d->peer)))
		return pr_err("pid %d: fd %d: a unix %s socket in flight (SCM_RIGHTS) in the unix socket's queue is "
			      "connected to socket:[%u] of pid %d, another process of the tree: that can't be "
			      "checkpointed yet (only a peer the receiving process holds, or one in flight to it)",
			      pc->pid, pc->fd, type_str(d->type), d->peer, holder), -EOPNOTSUPP;
	if (peer_flying(c, d->peer))
		return 0;
	if (c->ext_unix_sk)
		return external_peer(c, d, u, "connected to");
	holder = holder_of(getpid(), d->peer);
	return pr_err("pid %d: fd %d: a unix %s socket in flight (SCM_RIGHTS) in the unix socket's queue is connected "
		      "to socket:[%u], held by pid %d outside the tree: that can't be checkpointed (dump with "
		      "--ext-unix-sk to restore it with that peer gone)", pc->pid, pc->fd, type_str(d->type), d->peer,
		      holder), -EOPNOTSUPP;
}

/* The peer is not in the process: in another process of the tree (a pair
 * spread over the tree is made once, by the shared files' mechanism), in
 * flight to the process, or outside. */
static int peer_elsewhere(const struct fd_dump_ctx *c, const struct unix_diag *d, UnixSkEntry *u)
{
	pid_t holder = files_share_holder(c->scan, c->st.st_dev, d->peer);
	char name[300];

	if (!holder && peer_flying(c, d->peer))
		return 0;
	if (!holder)
		return external_peer(c, d, u, "connected to");
	if (!unix_pair_key(d->ino)) {
		name_str(d->name, d->name_len, name, sizeof(name));
		return pr_err("pid %d: fd %d: unix %s socket (%s) is connected to socket:[%u] of pid %d, which is not "
			      "connected back: only socket pairs can be spread over processes", c->pid, c->fd,
			      type_str(d->type), name, d->peer, holder), -EOPNOTSUPP;
	}
	if (!c->share.id)
		return pr_err("pid %d: fd %d: the unix socket pair of socket:[%u] is held outside the tree too", c->pid,
			      c->fd, d->ino), -EOPNOTSUPP;
	return 0;
}

uint64_t unix_pair_key(uint64_t ino)
{
	struct unix_diag d, p;
	uint64_t key = 0;

	if (unix_diag_get(ino, &d)) {
		cr_error_reset();   /* not a unix socket */
		return 0;
	}
	if (d.peer && d.state != TCP_LISTEN && !unix_diag_get(d.peer, &p)) {
		if (p.peer == ino)
			key = d.peer < ino ? d.peer : ino;
		unix_diag_free(&p);
	}
	cr_error_reset();
	unix_diag_free(&d);
	return key;
}

static int dump_listener(const struct fd_dump_ctx *c, const struct unix_diag *d, UnixSkEntry *u)
{
	char name[300];

	name_str(d->name, d->name_len, name, sizeof(name));
	u->has_backlog = true;
	u->backlog = d->wqueue;
	if (d->nr_icons > UNIX_ICONS_MAX)
		return pr_err("pid %d: fd %d: %d connections are queued on unix socket %s", c->pid, c->fd, d->nr_icons,
			      name), -EOPNOTSUPP;
	if (!(u->icons = calloc(d->nr_icons ? d->nr_icons : 1, sizeof(uint32_t))))
		return -ENOMEM;
	for (int i = 0; i < d->nr_icons; i++) {
		const struct fd_dump_ctx *cl = d->icons[i] ? fd_of_ino(c, d->icons[i]) : NULL;
		struct unix_diag cd;

		if (!cl) {
			/* its client is gone or outside: on restore, that connection is not there */
			if (!c->ext_unix_sk && d->icons[i])
				return pr_err("pid %d: fd %d: unix socket %s has a connection not yet accepted from "
					      "socket:[%u] outside the process: dump with --ext-unix-sk to restore it "
					      "without that connection", c->pid, c->fd, name, d->icons[i]), -EOPNOTSUPP;
			continue;
		}
		if (unix_diag_get(d->icons[i], &cd))
			return -EIO;
		unix_diag_free(&cd);
		/* its bytes are in a socket no fd reaches until it is accepted */
		if (cd.wqueue)   /* (buffer memory, not bytes) */
			return pr_err("pid %d: fd %d: unix socket %s has a connection not yet accepted, from fd %d, with "
				      "data queued, which can't be read without accepting it", c->pid, c->fd, name,
				      cl->fd), -EOPNOTSUPP;
		u->icons[u->n_icons++] = d->icons[i];
		if (c->owner && c->flying && flying_add(&c->flying->icons, &c->flying->nr_icons, d->icons[i], 0))
			return -ENOMEM;
	}
	return 0;
}

static int unix_dump(const struct fd_dump_ctx *c, FdinfoEntry *e)
{
	struct unix_diag d;
	UnixSkEntry *u;
	char name[300], who[400];
	int ret, sk = -1;

	if ((ret = unix_diag_get(c->st.st_ino, &d)))
		return ret;
	if (!(e->unix_sk = u = malloc(sizeof(*u)))) {
		ret = -ENOMEM;
		goto out;
	}
	unix_sk_entry__init(u);
	if (!(u->opts = malloc(sizeof(*u->opts)))) {
		ret = -ENOMEM;
		goto out;
	}
	unix_sk_opts__init(u->opts);
	u->ino = d.ino;
	u->type = d.type;
	u->state = d.state;
	name_str(d.name, d.name_len, name, sizeof(name));
	if (d.type != SOCK_STREAM && d.type != SOCK_DGRAM && d.type != SOCK_SEQPACKET) {
		ret = (pr_err("pid %d: fd %d: unix socket of type %d can't be checkpointed", c->pid, c->fd, d.type),
		       -EOPNOTSUPP);
		goto out;
	}
	if (d.name_len) {
		if ((ret = set_bytes(&u->name, d.name, d.name_len)))
			goto out;
		u->has_name = true;
	}
	if (d.name_len && d.name[0]) {
		char path[sizeof(d.name) + 1];
		struct stat st;

		memcpy(path, d.name, d.name_len);
		path[d.name_len] = 0;
		if (path[0] != '/') {
			ret = (pr_err("pid %d: fd %d: unix socket bound to the relative path %s, which can't be "
				      "checkpointed (bind it to an absolute path)", c->pid, c->fd, path), -EOPNOTSUPP);
			goto out;
		}
		/* its socket file, if the path still leads to it (in the process's own
		 * mount namespace, if it has one) */
		if (d.has_vfs && !ns_stat_path(proc_ctx(c)->pid, path, &st) && S_ISSOCK(st.st_mode) && st.st_ino == d.vfs_ino) {
			if (!(u->file = malloc(sizeof(*u->file)))) {
				ret = -ENOMEM;
				goto out;
			}
			unix_sk_file__init(u->file);
			u->file->mode = st.st_mode & 07777;
			u->file->uid = st.st_uid;
			u->file->gid = st.st_gid;
		}
	}
	if (d.shutdown) {
		u->has_shutdown = true;
		u->shutdown = d.shutdown;
	}
	if (d.state == TCP_LISTEN) {
		ret = dump_listener(c, &d, u);
	} else if (d.peer) {
		u->has_peer = true;
		u->peer = d.peer;
		if (c->owner)
			ret = flying_peer(c, &d, u);
		else if (!fd_of_ino(c, d.peer))
			ret = peer_elsewhere(c, &d, u);
	} else if (d.has_peer && !(d.type != SOCK_DGRAM && queued_in_process(c, d.ino))) {
		/* connected, but the peer has no inode: closed, or a listener outside has not accepted it yet */
		if (d.type == SOCK_DGRAM || d.shutdown == (RCV_SHUTDOWN | SEND_SHUTDOWN))
			u->has_peer_gone = u->peer_gone = true;
		else if (!c->ext_unix_sk && c->flying)
			/* by a listener in flight to the process, or the dump fails once all is seen */
			ret = flying_add(&c->flying->wait, &c->flying->nr_wait, d.ino, proc_ctx(c)->fd);
		else
			ret = external_peer(c, &d, u, "waiting to be accepted by a listening socket, not");
	}
	/* a queue other processes share is refilled by whichever makes it: the peers
	 * of what flies on it would be in another process's fd table */
	if (!ret && c->owner && proc_ctx(c)->share.id && ((u->has_peer && !u->external) || u->n_icons))
		ret = (pr_err("pid %d: fd %d: a unix socket in flight (SCM_RIGHTS) with a peer in the process, on the "
			      "queue of a unix socket other processes of the tree hold too: that can't be checkpointed "
			      "yet", proc_ctx(c)->pid, proc_ctx(c)->fd), -EOPNOTSUPP);
	if (!ret && c->owner && c->flying)
		ret = flying_add(&c->flying->ino, &c->flying->nr, d.ino, proc_ctx(c)->fd);
	if (ret)
		goto out;
	if ((sk = files_getfd(c->pid, c->fd)) < 0) {
		ret = sk;
		goto out;
	}
	if ((ret = dump_opts(sk, u->opts))) {
		ret = (pr_err("pid %d: fd %d: can't read the options of unix socket %s: %s", c->pid, c->fd, name,
			     strerror(-ret)), ret);
		goto out;
	}
	snprintf(who, sizeof(who), "pid %d: fd %d: unix socket %s", c->pid, c->fd, name);
	if ((ret = sk_filter_dump(sk, who, &u->opts->filter)))
		goto out;
	if (!get_int(sk, SO_PEEK_OFF, &ret) && ret >= 0) {
		u->opts->has_peek_off = true;
		u->opts->peek_off = ret;
	}
	ret = 0;
	if (d.state != TCP_LISTEN && (d.type == SOCK_DGRAM || d.rqueue))
		ret = peek_queue(c, sk, &d, e);
out:
	if (sk >= 0)
		close(sk);
	unix_diag_free(&d);
	return ret;
}

/* ---------------------------------------------------------------- restore */

static const FdinfoEntry skip_entry;   /* stands for an fd that is no unix socket's first */

/* The i'th unix socket entry this process can make: its own, then those of the
 * descriptions shared over the tree it makes for others (NULL: the end). */
static const FdinfoEntry *entry_n(const struct files_image *fi, size_t i)
{
	const FdinfoEntry *e;

	/* the sockets in flight on the queues come first: peers of the process's too */
	if (i < fi->nr_flying)
		return fi->flying[i];
	i -= fi->nr_flying;
	e = i < fi->nr ? fi->fds[i] : files_share_rep(fi, i - fi->nr);

	/* the plan lists every process's shared descriptions: only those made here count */
	if (e && i >= fi->nr && files_share_elsewhere(fi, e))
		return &skip_entry;
	return !e || (e->unix_sk && !e->has_dup_of) ? e : &skip_entry;
}

static const FdinfoEntry *entry_of_ino(const struct files_image *fi, uint32_t ino)
{
	const FdinfoEntry *x;

	for (size_t i = 0; (x = entry_n(fi, i)); i++)
		if (x->unix_sk && x->unix_sk->ino == ino)
			return x;
	return NULL;
}

static struct unix_rst *rst_of(struct files_image *fi, uint32_t ino)
{
	for (size_t i = 0; i < fi->nr_unix_sks; i++)
		if (fi->unix_sks[i].ino == ino)
			return &fi->unix_sks[i];
	return NULL;
}

static bool is_flying(const struct files_image *fi, const FdinfoEntry *e)
{
	for (size_t i = 0; i < fi->nr_flying; i++)
		if (fi->flying[i] == e)
			return true;
	return false;
}

static int rst_add(struct files_image *fi, const FdinfoEntry *e, int fd, int helper)
{
	struct unix_rst *r = realloc(fi->unix_sks, (fi->nr_unix_sks + 1) * sizeof(*r));

	if (!r) {
		close(fd);
		if (helper >= 0)
			close(helper);
		return -ENOMEM;
	}
	fi->unix_sks = r;
	if ((fd = files_stash_fd(fi, fd)) < 0 || (helper >= 0 && (helper = files_stash_fd(fi, helper)) < 0))
		return -EIO;
	fi->unix_sks[fi->nr_unix_sks++] = (struct unix_rst){ .ino = e->unix_sk->ino, .e = e, .fd = fd, .helper = helper,
							     .flying = is_flying(fi, e) };
	return 0;
}

static socklen_t addr_of(const ProtobufCBinaryData *name, struct sockaddr_un *a)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	memcpy(a->sun_path, name->data, name->len);
	return offsetof(struct sockaddr_un, sun_path) + name->len;
}

static bool is_path(const ProtobufCBinaryData *name)
{
	return name->len && name->data[0];
}

static int new_sock(const FdinfoEntry *e)
{
	int sk = socket(AF_UNIX, e->unix_sk->type | SOCK_CLOEXEC, 0);

	if (sk < 0)
		return pr_perror("fd %u: can't create a unix %s socket", e->fd, type_str(e->unix_sk->type));
	return sk;
}

struct bind_args {
	int sk;
	const struct sockaddr_un *a;
	socklen_t len;
};

static int bind_now(void *p)
{
	const struct bind_args *b = p;

	return bind(b->sk, (const struct sockaddr *)b->a, b->len);
}

/* Bind the socket's name; a connected stream socket's name is its listener's:
 * only with force (the client of a connection that had bound its own). */
static int bind_name_as(int sk, const FdinfoEntry *e, bool force)
{
	const UnixSkEntry *u = e->unix_sk;
	struct sockaddr_un a;
	socklen_t len;
	struct stat st;
	char shown[300];

	if (!u->has_name || (!force && u->type != SOCK_DGRAM && u->state == TCP_ESTABLISHED))
		return 0;
	len = addr_of(&u->name, &a);
	name_str((char *)u->name.data, u->name.len, shown, sizeof(shown));
	/* the dumped process's socket file stays behind it: ours replaces it */
	if (is_path(&u->name) && !lstat(a.sun_path, &st)) {
		if (!S_ISSOCK(st.st_mode))
			return pr_err("fd %u: can't bind the unix socket to %s: a file that is not a socket is there",
				      e->fd, shown), -EEXIST;
		unlink(a.sun_path);
	}
	/* in the tree's user namespace, by the file's owner (userns_as_owner) */
	struct bind_args b = { sk, &a, len };
	if (userns_as_owner(u->file ? u->file->uid : 0, u->file ? u->file->gid : 0, bind_now, &b))
		return pr_perror("fd %u: can't bind the unix socket to %s", e->fd, shown);
	if (u->file && (chmod(a.sun_path, u->file->mode) || chown(a.sun_path, userns_uid_in(u->file->uid), userns_gid_in(u->file->gid))))
		return pr_perror("fd %u: can't give the socket file %s its mode and owner", e->fd, shown);
	return 0;
}

static int bind_name(int sk, const FdinfoEntry *e)
{
	return bind_name_as(sk, e, false);
}

static bool same_name(const ProtobufCBinaryData *a, const ProtobufCBinaryData *b)
{
	return a->len == b->len && !memcmp(a->data, b->data, a->len);
}

/* The listening socket of the image bound to name, or NULL. */
static const FdinfoEntry *listener_named(const struct files_image *fi, const ProtobufCBinaryData *name, uint32_t type)
{
	const FdinfoEntry *x;

	for (size_t i = 0; (x = entry_n(fi, i)); i++) {
		const UnixSkEntry *l = x->unix_sk;
		if (l && l->state == TCP_LISTEN && l->type == type && l->has_name && same_name(&l->name, name))
			return x;
	}
	return NULL;
}

/* Of a connected stream pair, the side accept() gave: it has its listener's
 * name (and the client none, or one that is no listener's). */
static bool accepted_side(const struct files_image *fi, const UnixSkEntry *x, const UnixSkEntry *other)
{
	if (x->type == SOCK_DGRAM || !x->has_name)
		return false;
	return !other->has_name || (listener_named(fi, &x->name, x->type) &&
				    !listener_named(fi, &other->name, other->type));
}

static int connect_name(int sk, const ProtobufCBinaryData *name, uint32_t fd);

/* An accepted connection again: cli connects to lsk (listening on srv's name)
 * and the accepted socket is srv's, with the names both had. */
static int accept_pair(struct files_image *fi, int lsk, const FdinfoEntry *srv, const FdinfoEntry *cli)
{
	int c = new_sock(cli), sk, ret;

	if (c < 0)
		return c;
	if ((ret = bind_name_as(c, cli, true)) || (ret = connect_name(c, &srv->unix_sk->name, cli->fd))) {
		close(c);
		return ret;
	}
	if ((sk = accept4(lsk, NULL, NULL, SOCK_CLOEXEC)) < 0) {
		close(c);
		return pr_perror("fd %u: can't accept its connection again", srv->fd);
	}
	return rst_add(fi, cli, c, -1) ?: rst_add(fi, srv, sk, -1);
}

/* An accepted connection whose listener is gone: a listener of our own on the
 * name for a moment (when the name is free), else a plain pair without names. */
static int accept_pair_alone(struct files_image *fi, const FdinfoEntry *srv, const FdinfoEntry *cli)
{
	const UnixSkEntry *u = srv->unix_sk;
	struct sockaddr_un a;
	socklen_t len = addr_of(&u->name, &a);
	int l = new_sock(srv), ret, sv[2];
	struct stat st;

	if (l < 0)
		return l;
	if ((is_path(&u->name) && !lstat(a.sun_path, &st)) || bind(l, (struct sockaddr *)&a, len) || listen(l, 1)) {
		close(l);
		pr_debug("fd %u: its name is taken: restored without it", srv->fd);
		if (socketpair(AF_UNIX, u->type | SOCK_CLOEXEC, 0, sv))
			return pr_perror("fd %u: can't create a unix socket pair", srv->fd);
		return rst_add(fi, srv, sv[0], -1) ?: rst_add(fi, cli, sv[1], -1);
	}
	ret = accept_pair(fi, l, srv, cli);
	close(l);
	if (is_path(&u->name) && !u->file)
		unlink(a.sun_path);
	return ret;
}

static int connect_name(int sk, const ProtobufCBinaryData *name, uint32_t fd)
{
	struct sockaddr_un a;
	socklen_t len = addr_of(name, &a);
	char shown[300];

	if (!connect(sk, (struct sockaddr *)&a, len))
		return 0;
	name_str((char *)name->data, name->len, shown, sizeof(shown));
	return pr_perror("fd %u: can't connect the unix socket to %s again", fd, shown);
}

static int make(struct files_image *fi, const FdinfoEntry *e, int depth);

/* The listener with its queued connections: each client connects again, in order. */
static int make_listener(struct files_image *fi, const FdinfoEntry *e, int depth)
{
	const UnixSkEntry *u = e->unix_sk;
	int sk = new_sock(e), ret;

	if (sk < 0)
		return sk;
	if ((ret = bind_name(sk, e)) || (listen(sk, u->backlog) && (ret = pr_perror("fd %u: can't listen", e->fd)))) {
		close(sk);
		return ret;
	}
	if ((ret = rst_add(fi, e, sk, -1)))
		return ret;
	sk = rst_of(fi, u->ino)->fd;
	/* the connections it accepted, before those still queued (not those an
	 * ancestor makes for the tree: they come down through fork) */
	const FdinfoEntry *x, *y;

	for (size_t i = 0; (x = entry_n(fi, i)); i++) {
		if (!x->unix_sk || x->unix_sk->type != u->type || !x->unix_sk->has_peer ||
		    x->unix_sk->state != TCP_ESTABLISHED || !x->unix_sk->has_name || !same_name(&x->unix_sk->name, &u->name) ||
		    rst_of(fi, x->unix_sk->ino) || files_share_elsewhere(fi, x) || !(y = entry_of_ino(fi, x->unix_sk->peer)) ||
		    !y->unix_sk->has_peer || y->unix_sk->peer != x->unix_sk->ino || !accepted_side(fi, x->unix_sk, y->unix_sk))
			continue;
		if ((ret = accept_pair(fi, sk, x, y)))
			return ret;
	}
	for (size_t i = 0; i < u->n_icons; i++) {
		const FdinfoEntry *ce = entry_of_ino(fi, u->icons[i]);
		int cl;

		if (!ce || ce->unix_sk->type != u->type || rst_of(fi, u->icons[i]))
			return pr_err("fd %u: a connection queued on it comes from socket:[%u], not a fresh unix socket "
				      "of the image", e->fd, u->icons[i]), -EINVAL;
		if (!u->has_name)
			return pr_err("fd %u: a listening unix socket without a name", e->fd), -EINVAL;
		if ((cl = new_sock(ce)) < 0)
			return cl;
		/* never wait: the backlog had room for it at the dump */
		if (fcntl(cl, F_SETFL, O_NONBLOCK) || connect_name(cl, &u->name, ce->fd)) {
			close(cl);
			return -EIO;
		}
		if ((ret = rst_add(fi, ce, cl, -1)))
			return ret;
	}
	(void)depth;
	return 0;
}

/* A socket whose peer is gone (or outside): one end of a socketpair whose other
 * end sends its queue and then closes. */
static int make_orphan(struct files_image *fi, const FdinfoEntry *e)
{
	int sv[2], ret;

	if (socketpair(AF_UNIX, e->unix_sk->type | SOCK_CLOEXEC, 0, sv))
		return pr_perror("fd %u: can't create a unix socket pair", e->fd);
	if ((ret = bind_name(sv[0], e))) {
		close(sv[0]);
		close(sv[1]);
		return ret;
	}
	return rst_add(fi, e, sv[0], sv[1]);
}

static const FdinfoEntry *listener_of(const struct files_image *fi, uint32_t ino)
{
	const FdinfoEntry *x;

	for (size_t i = 0; (x = entry_n(fi, i)); i++) {
		const UnixSkEntry *l = x->unix_sk;
		for (size_t k = 0; l && k < l->n_icons; k++)
			if (l->icons[k] == ino)
				return x;
	}
	return NULL;
}

/* Make the socket of e (and whatever it needs first), stashed in fi->unix_sks. */
static int make(struct files_image *fi, const FdinfoEntry *e, int depth)
{
	const UnixSkEntry *u = e->unix_sk;
	const FdinfoEntry *pe, *le;
	int sk, sv[2], ret;

	if (rst_of(fi, u->ino))
		return 0;
	if (depth > 2)
		return pr_err("fd %u: the unix sockets' peers loop", e->fd), -EINVAL;
	if ((le = listener_of(fi, u->ino)))
		return make(fi, le, depth + 1) ?: (rst_of(fi, u->ino) ? 0 : -EIO);
	if (u->state == TCP_LISTEN)
		return make_listener(fi, e, depth);
	if (u->external || u->peer_gone) {
		/* a datagram socket finds its outside peer again by name, if it is there */
		if (u->external && u->type == SOCK_DGRAM && u->has_peer_name) {
			if ((sk = new_sock(e)) < 0)
				return sk;
			if (!(ret = bind_name(sk, e)) && !connect_name(sk, &u->peer_name, e->fd))
				return rst_add(fi, e, sk, -1);
			close(sk);
			if (ret)
				return ret;
			cr_error_reset();
			pr_warn("fd %u: its outside peer is not there: restored with the peer gone", e->fd);
		}
		return make_orphan(fi, e);
	}
	if (u->has_peer) {
		if (!(pe = entry_of_ino(fi, u->peer)) || pe->unix_sk->type != u->type)
			return pr_err("fd %u: its peer socket:[%u] is no unix socket of the image", e->fd, u->peer), -EINVAL;
		if (pe->unix_sk->has_peer && pe->unix_sk->peer == u->ino && !rst_of(fi, pe->unix_sk->ino)) {
			const FdinfoEntry *srv = accepted_side(fi, u, pe->unix_sk) ? e
						 : accepted_side(fi, pe->unix_sk, u) ? pe : NULL;
			const FdinfoEntry *cli = srv == e ? pe : e;

			/* an accepted connection: through its listener, to have the names back */
			if (srv && (le = listener_named(fi, &srv->unix_sk->name, u->type)))
				return make(fi, le, depth + 1) ?: (rst_of(fi, u->ino) ? 0 : -EIO);
			if (srv)
				return accept_pair_alone(fi, srv, cli);
			/* a mutual pair */
			if (socketpair(AF_UNIX, u->type | SOCK_CLOEXEC, 0, sv))
				return pr_perror("fd %u: can't create a unix socket pair", e->fd);
			if ((ret = bind_name(sv[0], e)) || (ret = bind_name(sv[1], pe))) {
				close(sv[0]);
				close(sv[1]);
				return ret;
			}
			return rst_add(fi, e, sv[0], -1) ?: rst_add(fi, pe, sv[1], -1);
		}
		if (u->type != SOCK_DGRAM || !pe->unix_sk->has_name)
			return pr_err("fd %u: its peer socket:[%u] is neither connected back nor has a name", e->fd,
				      u->peer), -EINVAL;
		/* a datagram client: its server first, then connect to its name */
		if ((ret = make(fi, pe, depth + 1)))
			return ret;
		if ((sk = new_sock(e)) < 0)
			return sk;
		if ((ret = bind_name(sk, e)) || (ret = connect_name(sk, &pe->unix_sk->name, e->fd))) {
			close(sk);
			return ret;
		}
		return rst_add(fi, e, sk, -1);
	}
	if ((sk = new_sock(e)) < 0)
		return sk;
	if ((ret = bind_name(sk, e))) {
		close(sk);
		return ret;
	}
	return rst_add(fi, e, sk, -1);
}

static int settle(struct files_image *fi, size_t from);

static int unix_restore(struct files_image *fi, const FdinfoEntry *e, bool *inherited)
{
	size_t made = fi->nr_unix_sks;
	struct unix_rst *r;
	int ret, fd;

	(void)inherited;
	/* what is made together (a pair, a listener and its clients) is filled together */
	if ((ret = make(fi, e, 0)) || (ret = settle(fi, made)))
		return ret;
	if (!(r = rst_of(fi, e->unix_sk->ino)) || r->fd < 0)
		return pr_err("fd %u: unix socket:[%u] is in the image twice", e->fd, e->unix_sk->ino), -EINVAL;
	if (r->flying) {
		/* a copy goes on its message; ours sends its peer's queue, if that waits */
		if ((fd = fcntl(r->fd, F_DUPFD_CLOEXEC, fi->top)) < 0)
			return pr_perror("can't duplicate a unix socket in flight");
	} else {
		fd = r->fd;
		r->fd = -1;
	}
	if (files_set_fl(fd, e->flags)) {
		close(fd);
		return -EIO;
	}
	return fd;
}

/* Message i of e's queue, sent again from from (to a, when named), with the
 * files that were in flight on it. */
static int send_piece(struct files_image *fi, const FdinfoEntry *e, size_t i, int from, const struct sockaddr_un *a,
		      socklen_t alen)
{
	const ProtobufCBinaryData *q = &e->unix_sk->queue[i];
	int fds[253], nr = 0, ret = 0;
	bool own[253];
	size_t off = 0;

	for (size_t k = 0; k < e->n_in_flight && !ret; k++) {
		if (e->in_flight[k]->msg != i)
			continue;
		if (nr == (int)ARRAY_SIZE(fds))
			ret = (pr_err("fd %u: more than %zu files in flight on one message", e->fd, ARRAY_SIZE(fds)), -EINVAL);
		else if ((fds[nr] = files_restore_in_flight(fi, e->in_flight[k]->file, &own[nr])) < 0)
			ret = fds[nr];
		else
			nr++;
	}
	do {
		ssize_t n;

		if (ret)
			break;
		/* the files go with the first part (a stream's piece may take several sends) */
		n = send_fds(from, q->data + off, q->len - off, fds, off ? 0 : nr, (const struct sockaddr *)a, alen,
			     MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			ret = pr_perror("fd %u: can't put %zu queued bytes%s back into the unix socket", e->fd, q->len - off,
					nr ? " and the files in flight" : "");
			break;
		}
		off += n;
	} while (off < q->len);
	for (int k = 0; k < nr; k++)
		if (own[k])
			close(fds[k]);
	return ret;
}

/* Send the saved queue of r's socket again, from the socket that sent it (in
 * place: every fd is at its number, the peer's too). */
static int refill(struct files_image *fi, struct unix_rst *r, bool in_place)
{
	const UnixSkEntry *u = r->e->unix_sk;
	const FdinfoEntry *pe = u->has_peer && !u->external ? entry_of_ino(fi, u->peer) : NULL;
	struct sockaddr_un a;
	socklen_t alen = 0;
	int from = -1, tmp = -1, big = UNIX_QUEUE_MAX, ret = 0;

	if (!u->n_queue)
		return 0;
	if (r->helper >= 0)
		from = r->helper;
	else if (pe && pe->unix_sk->has_peer && pe->unix_sk->peer == u->ino && rst_of(fi, pe->unix_sk->ino) &&
		 rst_of(fi, pe->unix_sk->ino)->fd >= 0)
		from = rst_of(fi, pe->unix_sk->ino)->fd;   /* made with it, not handed out yet (or in flight) */
	else if (in_place && pe && pe->unix_sk->has_peer && pe->unix_sk->peer == u->ino && !is_flying(fi, pe))
		from = pe->fd;
	else if (u->type == SOCK_DGRAM && u->has_name) {
		/* messages to a named datagram socket: from a socket of our own */
		alen = addr_of(&u->name, &a);
		if ((from = tmp = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
			return pr_perror("fd %u: can't create a unix socket to refill its queue", r->e->fd);
	} else
		return pr_err("fd %u: unix socket with a queue but no peer to send it again", r->e->fd), -EINVAL;
	/* the sender's buffer must hold the whole queue; its own size is set afterwards */
	setsockopt(from, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big));
	for (size_t i = 0; i < u->n_queue && !ret; i++)
		ret = send_piece(fi, r->e, i, from, alen ? &a : NULL, alen);
	if (tmp >= 0)
		close(tmp);
	return ret;
}

static int set_int(int fd, int opt, int v)
{
	return setsockopt(fd, SOL_SOCKET, opt, &v, sizeof(v));
}

static int restore_opts(int fd, const UnixSkOpts *o, uint32_t n)
{
	struct timeval tv;

	if (sockopt_set_buf(fd, SO_RCVBUF, o->rcvbuf, n) || sockopt_set_buf(fd, SO_SNDBUF, o->sndbuf, n))
		return -EIO;
	if ((o->passcred && set_int(fd, SO_PASSCRED, 1)) || (o->passsec && set_int(fd, SO_PASSSEC, 1)) ||
	    (o->reuseaddr && set_int(fd, SO_REUSEADDR, 1)) || (o->keepalive && set_int(fd, SO_KEEPALIVE, 1)) ||
	    (o->has_priority && set_int(fd, SO_PRIORITY, o->priority)) ||
	    (o->has_rcvlowat && set_int(fd, SO_RCVLOWAT, o->rcvlowat)) ||
	    (o->has_peek_off && set_int(fd, SO_PEEK_OFF, o->peek_off)))
		return pr_perror("fd %u: can't set the options of the unix socket", n);
	if (o->has_rcvtimeo_us) {
		tv = (struct timeval){ o->rcvtimeo_us / 1000000, o->rcvtimeo_us % 1000000 };
		if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)))
			return pr_perror("fd %u: can't set SO_RCVTIMEO", n);
	}
	if (o->has_sndtimeo_us) {
		tv = (struct timeval){ o->sndtimeo_us / 1000000, o->sndtimeo_us % 1000000 };
		if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)))
			return pr_perror("fd %u: can't set SO_SNDTIMEO", n);
	}
	return o->filter ? sk_filter_restore(fd, o->filter, n) : 0;
}

/* Files in flight that join fds of the process (the same description, or an end
 * of one of its pipes), or a TCP connection (its port is bound again over the
 * listener's, which must be bound first): sent once every fd is in place. */
static bool in_flight_fds_of_process(const FdinfoEntry *e)
{
	for (size_t i = 0; i < e->n_in_flight; i++)
		if (e->in_flight[i]->file->has_dup_of || e->in_flight[i]->file->kind == FD_KIND__FD_PIPE ||
		    (e->in_flight[i]->file->inet && e->in_flight[i]->file->inet->tcp))
			return true;
	return false;
}

/* After its queue: the helper gone, then shutdown and options, on fd. */
static int settle_rest(struct unix_rst *r, int fd)
{
	static const int how[] = { 0, SHUT_RD, SHUT_WR, SHUT_RDWR };
	const UnixSkEntry *u = r->e->unix_sk;

	if (r->helper >= 0) {
		close(r->helper);
		r->helper = -1;
	}
	if (u->shutdown && shutdown(fd, how[u->shutdown & 3]) && errno != ENOTCONN)
		return pr_perror("fd %u: can't shut the unix socket down", r->e->fd);
	return restore_opts(fd, u->opts, r->e->fd);
}

/* The sockets made since from: their queues are sent again (all before any
 * shutdown: a pair's ends send to each other), then the peers that are gone go,
 * then shutdowns and options.  A queue that carries fds of the process waits
 * until they are all in place (unix_finish). */
static int settle(struct files_image *fi, size_t from)
{
	/* sockets in flight made while the queues are sent settle by themselves */
	size_t to = fi->nr_unix_sks;
	int ret = 0;

	for (size_t i = from; i < to; i++)
		fi->unix_sks[i].deferred = in_flight_fds_of_process(fi->unix_sks[i].e);
	for (size_t i = from; i < to && !ret; i++)
		if (!fi->unix_sks[i].deferred)
			ret = refill(fi, &fi->unix_sks[i], false);
	for (size_t i = from; i < to && !ret; i++)
		if (!fi->unix_sks[i].deferred)
			ret = settle_rest(&fi->unix_sks[i], fi->unix_sks[i].fd);
	return ret;
}

/* Once every fd is in place (every connect by name done): the socket files that
 * were unlinked at the dump go. */
static int unix_finish(struct files_image *fi, const FdinfoEntry *e)
{
	int ret = 0;

	(void)e;
	if (fi->unix_done)
		return 0;
	fi->unix_done = true;
	/* (sockets in flight made meanwhile join the end of the list) */
	for (size_t i = 0; i < fi->nr_unix_sks && !ret; i++)
		if (fi->unix_sks[i].deferred && !(ret = refill(fi, &fi->unix_sks[i], true)))
			ret = settle_rest(&fi->unix_sks[i], fi->unix_sks[i].flying ? fi->unix_sks[i].fd
										  : (int)fi->unix_sks[i].e->fd);
	for (size_t i = 0; i < fi->nr_unix_sks && !ret; i++) {
		const UnixSkEntry *u = fi->unix_sks[i].e->unix_sk;

		if (fi->unix_sks[i].flying) {
			/* every queue is filled: its messages hold it now */
			close(fi->unix_sks[i].fd);
			fi->unix_sks[i].fd = -1;
		} else if (fi->unix_sks[i].fd >= 0)
			ret = (pr_err("unix socket:[%u] was made but no fd took it", u->ino), -EINVAL);
		if (!ret && is_path(&u->name) && !u->file && (u->type == SOCK_DGRAM || u->state != TCP_ESTABLISHED)) {
			/* the path was unlinked (or replaced) at the dump */
			struct sockaddr_un a;
			addr_of(&u->name, &a);
			unlink(a.sun_path);
		}
	}
	return ret;
}

/* A path name ends at its first 0 byte (bind may count a trailing 0): nothing after it. */
static bool path_ok(const ProtobufCBinaryData *name)
{
	if (!name->data[0])
		return true;   /* abstract: any bytes */
	for (size_t i = strnlen((char *)name->data, name->len); i < name->len; i++)
		if (name->data[i])
			return false;
	return true;
}

static int unix_validate(const FdinfoEntry *e)
{
	const UnixSkEntry *u = e->unix_sk;
	size_t total = 0;

	if (!u || !u->opts)
		return pr_err("fdinfo: fd %u is a unix socket without its record", e->fd), -EINVAL;
	if (u->opts->filter && sk_filter_validate(u->opts->filter, "fdinfo: a unix socket"))
		return -EINVAL;
	if (u->type != SOCK_STREAM && u->type != SOCK_DGRAM && u->type != SOCK_SEQPACKET)
		return pr_err("fdinfo: fd %u: unix socket of type %u", e->fd, u->type), -EINVAL;
	if (u->state != TCP_ESTABLISHED && u->state != TCP_CLOSE && u->state != TCP_LISTEN)
		return pr_err("fdinfo: fd %u: unix socket in state %u", e->fd, u->state), -EINVAL;
	if (u->has_name && (!u->name.len || u->name.len > sizeof(((struct sockaddr_un *)0)->sun_path) ||
			    !path_ok(&u->name)))
		return pr_err("fdinfo: fd %u: a unix socket name of %zu bytes", e->fd, u->name.len), -EINVAL;
	if (u->has_peer_name && (!u->peer_name.len || u->peer_name.len > sizeof(((struct sockaddr_un *)0)->sun_path)))
		return pr_err("fdinfo: fd %u: a unix peer name of %zu bytes", e->fd, u->peer_name.len), -EINVAL;
	if (u->state == TCP_LISTEN && (u->n_queue || u->has_peer || u->type == SOCK_DGRAM || u->n_icons > UNIX_ICONS_MAX))
		return pr_err("fdinfo: fd %u: a listening unix socket with a queue or a peer", e->fd), -EINVAL;
	if (u->n_icons && u->state != TCP_LISTEN)
		return pr_err("fdinfo: fd %u: queued connections on a unix socket that is not listening", e->fd), -EINVAL;
	for (size_t i = 0; i < u->n_queue; i++)
		if ((total += u->queue[i].len) > UNIX_QUEUE_MAX || u->queue[i].len > UNIX_MSG_MAX)
			return pr_err("fdinfo: fd %u: more than %u bytes queued on a unix socket", e->fd, UNIX_QUEUE_MAX),
			       -EINVAL;
	if (u->type == SOCK_STREAM && u->n_queue > 1 && !e->n_in_flight)
		return pr_err("fdinfo: fd %u: a unix stream socket's queue in %zu pieces", e->fd, u->n_queue), -EINVAL;
	if ((u->shutdown & ~3u) || (u->external && u->peer_gone) || (u->has_peer && u->peer == u->ino) ||
	    (u->file && (u->file->mode & ~07777u)))
		return pr_err("fdinfo: fd %u: an inconsistent unix socket record", e->fd), -EINVAL;
	return 0;
}

const struct fd_ops unix_sk_fd_ops = {
	.kind = FD_KIND__FD_UNIX_SK, .name = "unix socket",
	.match = unix_match, .dump = unix_dump, .restore = unix_restore, .finish = unix_finish,
	.validate = unix_validate,
};

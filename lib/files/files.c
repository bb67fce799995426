/* The fd table: walk /proc/pid/fd on dump, rebuild it exactly on restore. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/kcmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "fault.h"
#include "files/files.h"
#include "image/image.h"
#include "log.h"
#include "ns/net.h"
#include "proc/proc.h"
#include "util.h"

#define MAX_FD (1 << 20)

/* Order matters: the first whose match() says yes owns the fd (memfd before
 * regular files, terminals before other devices; inet sockets, told by one
 * getsockopt, before unix ones, which take a sock_diag query each). */
static const struct fd_ops *const fd_kinds[] = {
	&memfd_fd_ops, &mqueue_fd_ops, &reg_fd_ops, &pty_fd_ops, &tty_fd_ops, &chr_fd_ops, &pipe_fd_ops, &fifo_fd_ops,
	&eventfd_fd_ops, &signalfd_fd_ops, &timerfd_fd_ops, &inotify_fd_ops, &epoll_fd_ops, &inet_fd_ops,
	&unix_sk_fd_ops, &netlink_fd_ops, &pidfd_fd_ops, &packet_fd_ops, &tun_fd_ops,
	&fanotify_fd_ops,
};

/* fanotify fds and leases need IMG_VERSION_FANOTIFY_LEASE (fanotify.c, lease.c) */
static bool fanotify_lease_seen;

void files_dump_reset(void)
{
	fanotify_lease_seen = false;
}

void files_dump_mark_fanotify_lease(void)
{
	fanotify_lease_seen = true;
}

bool files_dump_fanotify_lease_used(void)
{
	return fanotify_lease_seen;
}

static const struct fd_ops *ops_by_kind(FdKind kind)
{
	for (size_t i = 0; i < ARRAY_SIZE(fd_kinds); i++)
		if (fd_kinds[i]->kind == kind)
			return fd_kinds[i];
	return NULL;
}

int files_kind_restore(struct files_image *fi, const FdinfoEntry *e, bool *inherited)
{
	return ops_by_kind(e->kind)->restore(fi, e, inherited);
}

const char *fdinfo_value(const char *text, const char *key)
{
	size_t kl = strlen(key);

	for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		if (strncmp(l, key, kl))
			continue;
		l += kl;
		while (*l == ' ' || *l == '\t')
			l++;
		return l;
	}
	return NULL;
}

int files_getfd(pid_t pid, int fd)
{
	int pidfd = syscall(SYS_pidfd_open, pid, 0), ret;

	if (pidfd < 0)
		return pr_perror("pidfd_open(%d)", pid);
	ret = syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	if (ret < 0)
		ret = pr_perror("can't get fd %d of pid %d (pidfd_getfd)", fd, pid);
	close(pidfd);
	return ret;
}

int reopen_fd(int fd, int flags)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return open(path, flags);
}

int files_stash_fd(struct files_image *fi, int fd)
{
	int moved = fcntl(fd, F_DUPFD_CLOEXEC, fi->top);

	if (moved < 0)
		return pr_perror("can't move fd %d above %d", fd, fi->top);
	close(fd);
	return moved;
}

int files_set_fl(int fd, uint32_t flags)
{
	/* the flags F_SETFL can change; the rest were fixed at open */
	const uint32_t settable = O_APPEND | O_NONBLOCK | O_ASYNC | O_DIRECT | O_NOATIME;
	int cur = fcntl(fd, F_GETFL);

	if (cur < 0 || fcntl(fd, F_SETFL, (cur & ~settable) | (flags & settable)))
		return pr_perror("can't set the file flags 0%o of a restored fd", flags & settable);
	return 0;
}

static const char *sk_family(int f)
{
	switch (f) {
	case AF_UNIX: return "AF_UNIX";
	case AF_INET: return "AF_INET";
	case AF_INET6: return "AF_INET6";
	case AF_NETLINK: return "AF_NETLINK";
	case AF_PACKET: return "AF_PACKET";
	case AF_ALG: return "AF_ALG";
	case AF_VSOCK: return "AF_VSOCK";
	case AF_BLUETOOTH: return "AF_BLUETOOTH";
	case AF_XDP: return "AF_XDP";
	default: return NULL;
	}
}

static const char *sk_type(int t)
{
	switch (t) {
	case SOCK_STREAM: return "SOCK_STREAM";
	case SOCK_DGRAM: return "SOCK_DGRAM";
	case SOCK_RAW: return "SOCK_RAW";
	case SOCK_RDM: return "SOCK_RDM";
	case SOCK_SEQPACKET: return "SOCK_SEQPACKET";
	case SOCK_PACKET: return "SOCK_PACKET";
	default: return NULL;
	}
}

/* "socket (family AF_PACKET, type SOCK_RAW, protocol 768)": asked of the socket itself. */
static void socket_kind(const struct fd_dump_ctx *c, char *buf, size_t len)
{
	int fd = files_getfd(c->pid, c->fd), v[3] = { -1, -1, -1 };
	const int opt[3] = { SO_DOMAIN, SO_TYPE, SO_PROTOCOL };
	char fam[16], type[16];

	for (int i = 0; fd >= 0 && i < 3; i++) {
		socklen_t l = sizeof(v[i]);
		getsockopt(fd, SOL_SOCKET, opt[i], &v[i], &l);
	}
	if (fd >= 0)
		close(fd);
	cr_error_reset();   /* only the unsupported kind is the error */
	snprintf(fam, sizeof(fam), "%d", v[0]);
	snprintf(type, sizeof(type), "%d", v[1]);
	snprintf(buf, len, "socket (family %s, type %s, protocol %d)", sk_family(v[0]) ?: fam, sk_type(v[1]) ?: type,
		 v[2]);
}

/* A name for a file we can't dump: "socket (...)", "io_uring", "perf_event", ... */
static void unsupported_kind(const struct fd_dump_ctx *c, char *buf, size_t len)
{
	const char *l = c->link;

	if (!strncmp(l, "anon_inode:", 11)) {
		l += 11;
		if (*l == '[')
			l++;
		snprintf(buf, len, "%.*s", (int)strcspn(l, "]"), l);
	} else if (!strncmp(l, "socket:", 7))
		socket_kind(c, buf, len);
	else if (S_ISFIFO(c->st.st_mode))
		snprintf(buf, len, "named pipe (FIFO)");
	else if (S_ISCHR(c->st.st_mode))
		snprintf(buf, len, "character device");
	else if (S_ISBLK(c->st.st_mode))
		snprintf(buf, len, "block device");
	else
		snprintf(buf, len, "file of an unknown kind");
}

static const struct fd_ops *match_kind(const struct fd_dump_ctx *c)
{
	for (size_t i = 0; i < ARRAY_SIZE(fd_kinds); i++)
		if (fd_kinds[i]->match(c))
			return fd_kinds[i];
	return NULL;
}

static int dump_one(const struct fd_dump_ctx *c, struct img *img)
{
	const struct fd_ops *ops = match_kind(c);
	FdinfoEntry *e;
	char kind[96];
	int ret;

	if (!ops) {
		unsupported_kind(c, kind, sizeof(kind));
		return pr_err("pid %d: fd %d is a %s (%s), which can't be checkpointed yet", c->pid, c->fd, kind,
			      c->link), -EOPNOTSUPP;
	}
	if (!(e = malloc(sizeof(*e))))
		return -ENOMEM;
	fdinfo_entry__init(e);
	e->fd = c->fd;
	e->kind = ops->kind;
	e->flags = c->flags & ~O_CLOEXEC;
	e->cloexec = c->flags & O_CLOEXEC;
	if (c->dup_of >= 0) {
		/* the same open file description: everything but the fd flags is shared */
		e->has_dup_of = true;
		e->dup_of = c->dup_of;
		ret = 0;
	} else {
		if (c->share.id) {
			e->has_shared_id = e->has_shared_group = true;
			e->shared_id = c->share.id;
			e->shared_group = c->share.group;
		}
		if (!(ret = ops->dump(c, e)))
			ret = locks_dump(c, e);
	}
	if (!ret)
		ret = img_write_msg(img, &e->base);
	/* everything in e was malloc'ed: free it as a decoded message */
	img_free_msg(&e->base);
	return ret;
}

static int collect_one(pid_t pid, int fd, struct fd_dump_ctx *c);

/* Kinds a file in flight may be: restoring them makes an equal open file in the
 * receiving process by themselves (no peer or target fds to find), or, for a
 * pipe, with the other end only where the socket's owner has it. */
static bool in_flight_kind_ok(FdKind k)
{
	return k == FD_KIND__FD_REG || k == FD_KIND__FD_CHR || k == FD_KIND__FD_MEMFD || k == FD_KIND__FD_EVENTFD ||
	       k == FD_KIND__FD_SIGNALFD || k == FD_KIND__FD_TIMERFD || k == FD_KIND__FD_INOTIFY ||
	       k == FD_KIND__FD_MQUEUE || k == FD_KIND__FD_PIPE || k == FD_KIND__FD_UNIX_SK ||
	       k == FD_KIND__FD_INET;
}

/* A connection in flight is out of reach once restored (on a queue): what it had
 * not sent yet can't be sent then, as it is for an fd's (tcp_restore_resume). */
static bool in_flight_tcp_waits(const FdinfoEntry *e)
{
	return e->kind == FD_KIND__FD_INET && e->inet && e->inet->tcp && (e->inet->tcp->unsent || e->inet->tcp->fin_sent);
}

int flying_add(struct flying_ref **v, size_t *nr, uint32_t ino, int fd)
{
	struct flying_ref *n = realloc(*v, (*nr + 1) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	*v = n;
	n[(*nr)++] = (struct flying_ref){ ino, fd };
	return 0;
}

static bool flying_has(const struct flying_ref *v, size_t nr, uint32_t ino)
{
	for (size_t i = 0; i < nr; i++)
		if (v[i].ino == ino)
			return true;
	return false;
}

/* Every peer a unix socket in flight needs that no fd of the process holds is
 * in flight on one of its queues too (made with it on restore). */
static int flying_check(pid_t pid, const struct flying_dump *fl)
{
	for (size_t i = 0; i < fl->nr_need; i++)
		if (!flying_has(fl->ino, fl->nr, fl->need[i].ino))
			return pr_err("pid %d: fd %d: a unix socket (or one in flight on its queue) is connected to "
				      "socket:[%u], which no process holds and which is not in flight (SCM_RIGHTS) to "
				      "the process: that can't be checkpointed yet", pid, fl->need[i].fd,
				      fl->need[i].ino), -EOPNOTSUPP;
	for (size_t i = 0; i < fl->nr_wait; i++)
		if (!flying_has(fl->icons, fl->nr_icons, fl->wait[i].ino))
			return pr_err("pid %d: fd %d: unix socket:[%u] waits to be accepted by a listening socket that is "
				      "neither open in the process nor in flight to it: dump with --ext-unix-sk to "
				      "restore it with that peer gone", pid, fl->wait[i].fd, fl->wait[i].ino),
			       -EOPNOTSUPP;
	return 0;
}

int files_dump_in_flight(const struct fd_dump_ctx *owner, int local_fd, uint32_t msg, FdinfoEntry *sock)
{
	/* it sees the process's fds (its peer may be one), and nests one deeper */
	struct fd_dump_ctx lc = { .pid = getpid(), .fd = local_fd, .dup_of = -1, .shell_job = owner->shell_job,
				  .ghosts = owner->ghosts, .all = owner->all, .nr_all = owner->nr_all,
				  .scan = owner->scan, .ext_unix_sk = owner->ext_unix_sk, .owner = owner,
				  .depth = owner->depth + 1, .flying = owner->flying };
	const struct fd_dump_ctx *proc = owner;   /* the process's fd whose queue carries it, at any depth */
	InFlightFile **n, *f;
	FdinfoEntry *e;
	const struct fd_ops *ops;
	char kind[96];
	int ret;

	while (proc->owner)
		proc = proc->owner;
	if (!(f = malloc(sizeof(*f))) || !(e = malloc(sizeof(*e)))) {
		free(f);
		return -ENOMEM;
	}
	in_flight_file__init(f);
	fdinfo_entry__init(e);
	f->msg = msg;
	f->file = e;
	if (!(n = realloc(sock->in_flight, (sock->n_in_flight + 1) * sizeof(*n)))) {
		img_free_msg(&f->base);
		return -ENOMEM;
	}
	sock->in_flight = n;
	sock->in_flight[sock->n_in_flight++] = f;
	if ((ret = collect_one(lc.pid, local_fd, &lc)))
		goto out;
	ops = match_kind(&lc);
	e->kind = ops ? ops->kind : FD_KIND__FD_REG;
	e->flags = lc.flags & ~O_CLOEXEC;
	/* still open in the process too (sent, and kept): the same description */
	for (int i = 0; i < owner->nr_all; i++)
		if (syscall(SYS_kcmp, owner->all[i].pid, lc.pid, KCMP_FILE, owner->all[i].fd, local_fd) == 0) {
			e->has_dup_of = true;
			e->dup_of = owner->all[i].fd;
			goto out;
		}
	if (lc.depth > IN_FLIGHT_DEPTH) {
		ret = (pr_err("pid %d: fd %d: files in flight (SCM_RIGHTS) nest more than %d deep in the unix socket's "
			      "queue (a socket in flight in its own queue?): that can't be checkpointed", proc->pid,
			      proc->fd, IN_FLIGHT_DEPTH), -EOPNOTSUPP);
		goto out;
	}
	if (!ops || !in_flight_kind_ok(ops->kind)) {
		unsupported_kind(&lc, kind, sizeof(kind));
		ret = (pr_err("pid %d: fd %d: a %s (%s) is in flight (SCM_RIGHTS) in the unix socket's queue, and "
			      "not open in the process: that can't be checkpointed yet", proc->pid, proc->fd,
			      ops ? ops->name : kind, lc.link), -EOPNOTSUPP);
		goto out;
	}
	if (ops->kind == FD_KIND__FD_PIPE || S_ISSOCK(lc.st.st_mode)) {
		/* made again (a pipe with its bytes, joined to the owner's fds of it; a
		 * socket): nobody else may hold it (another process would be left with
		 * one of its own, or the two would fight over a port) */
		pid_t other = files_pipe_held_elsewhere(owner->scan, proc->pid, lc.st.st_dev, lc.st.st_ino, lc.link);
		if (other) {
			ret = other < 0 ? other
					: (pr_err("pid %d: fd %d: a %s (%s) is in flight (SCM_RIGHTS) in the unix socket's "
						  "queue, and process %d has it open too: that can't be checkpointed yet",
						  proc->pid, proc->fd, ops->name, lc.link, other), -EOPNOTSUPP);
			goto out;
		}
	}
	ret = ops->dump(&lc, e);
	if (!ret && in_flight_tcp_waits(e))
		ret = (pr_err("pid %d: fd %d: a TCP connection in flight (SCM_RIGHTS) in the unix socket's queue has "
			      "bytes or its FIN not sent yet: that can't be checkpointed yet (try again once they are "
			      "out)", proc->pid, proc->fd), -EAGAIN);
out:
	free(lc.link);
	free(lc.fdinfo);
	return ret;
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

int files_list_fds(pid_t pid, int **out)
{
	char path[64];
	struct dirent *de;
	int *fds = NULL, nr = 0, cap = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d) {
		struct proc_stat st;

		/* a zombie has no fds, and its /proc/PID/fd belongs to root: only root could look */
		if (errno == EACCES && !proc_parse_stat_quiet(pid, &st) && st.state == 'Z') {
			*out = NULL;
			return 0;
		}
		return pr_perror("can't open %s", path);
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (nr == cap) {
			int *n = realloc(fds, (cap = cap ? cap * 2 : 64) * sizeof(int));
			if (!n) {
				closedir(d);
				free(fds);
				return -ENOMEM;
			}
			fds = n;
		}
		fds[nr++] = atoi(de->d_name);
	}
	closedir(d);
	qsort(fds, nr, sizeof(int), cmp_int);
	*out = fds;
	return nr;
}

static int collect_one(pid_t pid, int fd, struct fd_dump_ctx *c)
{
	char path[64], name[32];
	const char *p;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	if (!(c->link = xreadlink(path)))
		return pr_perror("can't read %s", path);
	if (stat(path, &c->st))
		return pr_perror("can't stat %s (%s)", path, c->link);
	snprintf(name, sizeof(name), "fdinfo/%d", fd);
	if (!(c->fdinfo = read_proc(pid, name, NULL)))
		return pr_perror("can't read /proc/%d/fdinfo/%d", pid, fd);
	if (!(p = fdinfo_value(c->fdinfo, "pos:")) || sscanf(p, "%" SCNu64, &c->pos) != 1 ||
	    !(p = fdinfo_value(c->fdinfo, "flags:")) || sscanf(p, "%o", &c->flags) != 1)
		return pr_err("can't parse /proc/%d/fdinfo/%d", pid, fd), -EINVAL;
	return 0;
}

/* dup()ed fds share one open file description (offset, flags, locks): find the first. */
static void find_dups(pid_t pid, struct fd_dump_ctx *all, int nr)
{
	for (int i = 0; i < nr; i++) {
		all[i].dup_of = -1;
		for (int j = 0; j < i && all[i].dup_of < 0; j++)
			if (all[j].dup_of < 0 && all[j].st.st_dev == all[i].st.st_dev &&
			    all[j].st.st_ino == all[i].st.st_ino &&
			    syscall(SYS_kcmp, pid, pid, KCMP_FILE, all[j].fd, all[i].fd) == 0)
				all[i].dup_of = all[j].fd;
	}
}

int files_dump(pid_t pid, pid_t img_id, struct img_dir *dir, MmEntry *mm, bool shell_job, bool ext_unix_sk,
	       bool orphan_pts, const struct share_scan *share, int order)
{
	struct ghost_dump *ghosts = NULL;
	struct flying_dump flying = { 0 };
	struct fd_dump_ctx *all = NULL;
	struct img *img = NULL;
	int *fds = NULL, nr, ret = 0;

	if ((nr = files_list_fds(pid, &fds)) < 0)
		return nr;
	if (!(all = calloc(nr ? nr : 1, sizeof(*all)))) {
		ret = -ENOMEM;
		goto out;
	}
	for (int i = 0; i < nr && !ret; i++) {
		all[i] = (struct fd_dump_ctx){ .pid = pid, .fd = fds[i], .shell_job = shell_job,
					       .ext_unix_sk = ext_unix_sk, .orphan_pts = orphan_pts, .all = all, .nr_all = nr };
		ret = collect_one(pid, fds[i], &all[i]);
		all[i].share = files_share_lookup(share, order, fds[i]);
		all[i].scan = share;
		all[i].held_outside = all[i].share.outside;
	}
	if (ret || (ret = ghost_dump_open(&ghosts, dir, pid, img_id, share)))
		goto out;
	find_dups(pid, all, nr);
	if (!(img = img_create(dir, IMG_FDINFO, img_id))) {
		ret = -EIO;
		goto out;
	}
	for (int i = 0; i < nr && !ret; i++) {
		all[i].ghosts = ghosts;
		all[i].flying = &flying;
		ret = dump_one(&all[i], img);
	}
	if (!ret)
		ret = flying_check(pid, &flying);
	if (!ret)
		ret = ghost_dump_vmas(ghosts, pid, mm);
	if (!ret)
		ret = img_close_write(img);
	else
		img_close(img);
	img = NULL;
out:
	if (ghosts) {
		int r = ghost_dump_close(ghosts, !ret);
		ret = ret ? ret : r;
	}
	for (int i = 0; all && i < nr; i++) {
		free(all[i].link);
		free(all[i].fdinfo);
	}
	free(all);
	free(fds);
	free(flying.ino);
	free(flying.need);
	free(flying.icons);
	free(flying.wait);
	return ret;
}

static const FdinfoEntry *entry_of(const struct files_image *fi, uint32_t fd)
{
	for (size_t i = 0; i < fi->nr; i++)
		if (fi->fds[i]->fd == fd)
			return fi->fds[i];
	return NULL;
}

static int validate_one(const struct files_image *fi, const FdinfoEntry *e, const char *img)
{
	if (e->has_dup_of) {
		const FdinfoEntry *o = e->dup_of < e->fd ? entry_of(fi, e->dup_of) : NULL;
		if (!o || o->kind != e->kind)
			return pr_err("%s: fd %u duplicates fd %u, which is not an earlier fd of its kind", img, e->fd,
				      e->dup_of), -EINVAL;
		return 0;
	}
	return ops_by_kind(e->kind)->validate(e) ?: locks_validate(e);
}

/* Files in flight to a unix socket: each attached to a message of its queue, of
 * a kind that can be made alone, or the same as an fd of the process; a unix
 * socket in flight may carry files in flight itself, not deeper than the kernel. */
static int validate_in_flight(const struct files_image *fi, const FdinfoEntry *e, const char *img, int depth)
{
	for (size_t i = 0; i < e->n_in_flight; i++) {
		const InFlightFile *f = e->in_flight[i];
		const FdinfoEntry *file = f->file, *o;

		if (e->kind != FD_KIND__FD_UNIX_SK || !e->unix_sk || f->msg >= e->unix_sk->n_queue ||
		    !in_flight_kind_ok(file->kind) || depth >= IN_FLIGHT_DEPTH ||
		    (file->n_in_flight && (file->kind != FD_KIND__FD_UNIX_SK || file->has_dup_of)))
			return pr_err("%s: fd %u: a file in flight that is not on a message of a unix socket's queue, "
				      "or of a kind that can't be in flight", img, e->fd), -EINVAL;
		if (file->has_dup_of) {
			if (!(o = entry_of(fi, file->dup_of)) || o->kind != file->kind)
				return pr_err("%s: fd %u: a file in flight is fd %u, which is not an fd of its kind", img,
					      e->fd, file->dup_of), -EINVAL;
		} else if (ops_by_kind(file->kind)->validate(file))
			return -EINVAL;
		else if (file->kind == FD_KIND__FD_PIPE && (file->pipe->external || !file->pipe->has_size))
			return pr_err("%s: fd %u: a pipe in flight without its size and bytes", img, e->fd), -EINVAL;
		else if (in_flight_tcp_waits(file))
			return pr_err("%s: fd %u: a TCP connection in flight with bytes not sent yet", img, e->fd), -EINVAL;
		if (file->n_in_flight && validate_in_flight(fi, file, img, depth + 1))
			return -EINVAL;
	}
	return 0;
}

/* The unix sockets in flight of their own (not fds of the process), at any depth:
 * the peers of the process's sockets may be among them. */
static int collect_flying(struct files_image *fi, const FdinfoEntry *e)
{
	for (size_t i = 0; i < e->n_in_flight; i++) {
		const FdinfoEntry *file = e->in_flight[i]->file;
		const FdinfoEntry **n;

		if (file->kind != FD_KIND__FD_UNIX_SK || file->has_dup_of)
			continue;
		if (!(n = realloc(fi->flying, (fi->nr_flying + 1) * sizeof(*n))))
			return -ENOMEM;
		fi->flying = n;
		fi->flying[fi->nr_flying++] = file;
		if (collect_flying(fi, file))
			return -ENOMEM;
	}
	return 0;
}

int files_restore_in_flight(struct files_image *fi, const FdinfoEntry *file, bool *own)
{
	bool inherited = false;
	int fd;

	*own = false;
	if (file->has_dup_of)
		return file->dup_of;   /* in place: the queues are sent once every fd is */
	if (file->kind == FD_KIND__FD_PIPE) {
		*own = (fd = pipe_restore_in_flight(fi, file)) >= 0;
		return fd;
	}
	fd = files_kind_restore(fi, file, &inherited);
	*own = fd >= 0 && !inherited;
	return fd;
}

int files_load(struct img_dir *dir, pid_t pid, struct files_image *fi)
{
	struct img *img = img_open(dir, IMG_FDINFO, pid);
	struct rlimit rl;
	FdinfoEntry *e;
	int ret;

	memset(fi, 0, sizeof(*fi));
	fi->id = pid;
	if (!img)
		return -ENOENT;
	while ((ret = img_read_msg(img, &fdinfo_entry__descriptor, (ProtobufCMessage **)&e)) > 0) {
		FdinfoEntry **n = realloc(fi->fds, (fi->nr + 1) * sizeof(*fi->fds));

		if (!n) {
			img_free_msg(&e->base);
			ret = -ENOMEM;
			break;
		}
		fi->fds = n;
		fi->fds[fi->nr++] = e;
		if (!ops_by_kind(e->kind)) {
			pr_err("%s: fd %u has unknown kind %d", img->name, e->fd, e->kind);
			ret = -EINVAL;
			break;
		}
		if (e->fd >= MAX_FD || (fi->nr > 1 && fi->fds[fi->nr - 2]->fd >= e->fd)) {
			pr_err("%s: fd numbers out of range or out of order (fd %u)", img->name, e->fd);
			ret = -EINVAL;
			break;
		}
		/* without CAP_SYS_RESOURCE the hard limit can't be raised: no such fd can be made */
		if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_max != RLIM_INFINITY && e->fd >= rl.rlim_max) {
			pr_err("%s: fd %u is above the RLIMIT_NOFILE hard limit (%lu) of the restore", img->name, e->fd,
			       (unsigned long)rl.rlim_max);
			ret = -EMFILE;
			break;
		}
		if ((ret = validate_one(fi, e, img->name)))
			break;
	}
	for (size_t i = 0; ret >= 0 && i < fi->nr; i++)
		if (fi->fds[i]->n_in_flight && !(ret = validate_in_flight(fi, fi->fds[i], img->name, 0)))
			ret = collect_flying(fi, fi->fds[i]);
	img_close(img);
	if (ret >= 0)
		ret = ghost_load(dir, pid, fi);
	if (ret < 0) {
		files_free(fi);
		return ret;
	}
	fi->top = fi->nr ? (int)fi->fds[fi->nr - 1]->fd + 1 : 3;
	if (fi->top < 3)
		fi->top = 3;
	return 0;
}

void files_free(struct files_image *fi)
{
	for (size_t i = 0; i < fi->nr; i++)
		img_free_msg(&fi->fds[i]->base);
	free(fi->fds);
	for (size_t i = 0; i < fi->nr_ghosts; i++)
		img_free_msg(&fi->ghosts[i]->base);
	free(fi->ghosts);
	free(fi->ghost_fds);
	free(fi->pipes);
	free(fi->unix_sks);
	free(fi->flying);
	memset(fi, 0, sizeof(*fi));
}

int files_prepare(struct files_image *fi, struct img_dir *dir)
{
	return ghost_restore_all(fi, dir);
}

int files_map_ghosts(struct files_image *fi, MmEntry *mm)
{
	for (size_t i = 0; i < mm->n_vmas; i++) {
		VmaEntry *v = mm->vmas[i];
		char *path;
		int fd;

		if (fi->skip_checks)
			v->has_file_size = v->has_file_mtime_ns = false;
		if (!v->has_ghost_id)
			continue;
		if ((fd = ghost_fd(fi, v->ghost_id, "a memory area")) < 0)
			return fd;
		/* premap opens the area's path: make it the recreated file */
		if (asprintf(&path, "/proc/self/fd/%d", fd) < 0)
			return -ENOMEM;
		free(v->path);
		v->path = path;
	}
	return 0;
}

static bool fd_wanted(const struct files_image *fi, int fd, int keep_fd)
{
	if (fd == keep_fd || files_share_keeps(fi, fd) || fd == netns_caller_fd() || kept_fd_is(fd))
		return true;
	for (size_t i = 0; i < fi->nr; i++)
		if ((int)fi->fds[i]->fd == fd)
			return true;
	for (size_t i = 0; fi->ghost_fds && i < fi->nr_ghosts; i++)
		if (fi->ghost_fds[i] == fd)
			return true;
	for (size_t i = 0; fi->inherit_kept && i < fi->nr_inherit; i++)
		if (fi->inherit_kept[i] == fd)
			return true;
	return false;
}

/* getdents64 into the stack rather than opendir: its 32 KiB buffer was fresh
 * memory, faulted in by every task of the tree.  A batch is closed before the
 * next is read; /proc/self/fd reads on by fd number, so nothing is skipped. */
static int close_others(struct files_image *fi, int keep_fd)
{
	int dfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char buf[2048] __attribute__((aligned(8)));
	long n;

	if (dfd < 0)
		return pr_perror("can't list /proc/self/fd");
	while ((n = syscall(SYS_getdents64, dfd, buf, sizeof(buf))) > 0)
		for (long off = 0; off < n;) {
			struct linux_dirent64 { uint64_t ino; int64_t off; unsigned short reclen; unsigned char type;
						char name[]; } *de = (void *)(buf + off);
			int fd = atoi(de->name);

			off += de->reclen;
			if (de->name[0] != '.' && fd != dfd && !fd_wanted(fi, fd, keep_fd))
				close(fd);
		}
	close(dfd);
	return n < 0 ? pr_perror("can't list /proc/self/fd") : 0;
}

/* The key --inherit-fd names a file of the dump by: its path, or kind:[inode]. */
static void entry_key(const FdinfoEntry *e, char *buf, size_t len)
{
	buf[0] = 0;
	if (e->pipe)
		snprintf(buf, len, "pipe:[%lu]", (unsigned long)e->pipe->ino);
	else if (e->unix_sk)
		snprintf(buf, len, "socket:[%u]", e->unix_sk->ino);
	else if (e->fifo)
		snprintf(buf, len, "%s", e->fifo->path);
	else if (e->reg)
		snprintf(buf, len, "%s", e->reg->path);
	else if (e->tty_path)
		snprintf(buf, len, "%s", e->tty_path);
}

/* The caller's fd that stands for entry e (--inherit-fd), or -1. */
static int inherited_fd(const struct files_image *fi, const FdinfoEntry *e)
{
	char key[4200];

	if (!fi->nr_inherit || !fi->inherit_kept)
		return -1;
	entry_key(e, key, sizeof(key));
	for (size_t i = 0; key[0] && i < fi->nr_inherit; i++)
		if (!strcmp(fi->inherit[i].key, key))
			return fi->inherit_kept[i];
	return -1;
}

/* First of all: the caller's fds named by --inherit-fd go above the fd table
 * before installing the image's fds can overwrite them. */
static int keep_inherited(struct files_image *fi)
{
	if (!fi->nr_inherit)
		return 0;
	if (!(fi->inherit_kept = calloc(fi->nr_inherit, sizeof(int))))
		return -ENOMEM;
	for (size_t i = 0; i < fi->nr_inherit; i++)
		if ((fi->inherit_kept[i] = fcntl(fi->inherit_from ? fi->inherit_from[i] : fi->inherit[i].fd,
						 F_DUPFD_CLOEXEC, fi->top)) < 0)
			return pr_perror("--inherit-fd fd[%d]:%s: the caller has no fd %d", fi->inherit[i].fd,
					 fi->inherit[i].key, fi->inherit[i].fd);
	return 0;
}

static int install_one(struct files_image *fi, const FdinfoEntry *e)
{
	bool inherited = false;
	int fd;

	if (fault_hit("restore-file-open"))
		return -EIO;
	if (!e->has_dup_of && (fd = inherited_fd(fi, e)) >= 0) {
		/* the caller's own file, as --inherit-fd says */
		if (dup2(fd, e->fd) < 0)
			return pr_perror("can't put the inherited fd %d at fd %u", fd, e->fd);
		if (fcntl(e->fd, F_SETFD, e->cloexec ? FD_CLOEXEC : 0))
			return pr_perror("can't set close-on-exec of fd %u", e->fd);
		return 0;
	}

	if (e->has_dup_of) {
		if (dup2(e->dup_of, e->fd) < 0)
			return pr_perror("can't duplicate fd %u as fd %u", e->dup_of, e->fd);
	} else if (e->has_shared_id) {
		/* made by an ancestor (or by us, above the table) and handed down */
		if ((fd = files_share_fd(fi, e)) < 0)
			return fd;
		if (dup2(fd, e->fd) < 0)
			return pr_perror("can't install shared file %u as fd %u", e->shared_id, e->fd);
	} else {
		fd = ops_by_kind(e->kind)->restore(fi, e, &inherited);
		if (fd < 0)
			return fd;
		if (fd != (int)e->fd) {
			if (dup2(fd, e->fd) < 0)
				return pr_perror("can't install fd %u", e->fd);
			close(fd);
		}
	}
	if (fcntl(e->fd, F_SETFD, e->cloexec ? FD_CLOEXEC : 0))
		return pr_perror("can't set close-on-exec of fd %u", e->fd);
	return 0;
}

int files_restore(struct files_image *fi, int *keep_fd)
{
	int moved = fcntl(*keep_fd, F_DUPFD_CLOEXEC, fi->top), ret;

	if (moved < 0)
		return pr_perror("can't move the control fd above %d", fi->top);
	close(*keep_fd);
	*keep_fd = moved;
	/* libcr's old root and mounts of a tree in its own mount tree: not where a file goes */
	if ((ret = kept_fds_move_above(fi->top)))
		return ret;
	if ((ret = keep_inherited(fi)) || (ret = files_share_adopt(fi)) || (ret = files_share_create(fi)))
		return ret;
	for (size_t i = 0; i < fi->nr; i++)
		if ((ret = install_one(fi, fi->fds[i])))
			return ret;
	/* what refers to other fds, now that all are in place */
	for (size_t i = 0; i < fi->nr; i++) {
		const FdinfoEntry *e = fi->fds[i];
		const struct fd_ops *ops = ops_by_kind(e->kind);

		/* a shared one (an epoll set) is finished once, by the holder whose entry made it */
		if (e->has_shared_id && !files_share_is_rep(fi, e))
			continue;
		if (!e->has_dup_of && ops->finish && (ret = ops->finish(fi, e)))
			return ret;
	}
	for (size_t i = 0; i < fi->nr_pipes; i++)
		for (int k = 0; k < 2; k++)
			if (fi->pipes[i].end[k] >= 0) {
				close(fi->pipes[i].end[k]);
				fi->pipes[i].end[k] = -1;
			}
	/* the caller's fds kept for --inherit-fd stay until the children are forked */
	return close_others(fi, *keep_fd);
}

void files_after_fork(struct files_image *fi)
{
	files_share_release(fi);
	/* every child has its copies of the kept --inherit-fd files now */
	for (size_t i = 0; fi->inherit_kept && i < fi->nr_inherit; i++)
		if (fi->inherit_kept[i] >= 0)
			close(fi->inherit_kept[i]);
	free(fi->inherit_kept);
	fi->inherit_kept = NULL;
}

int files_finish(struct files_image *fi)
{
	int ret = ghost_finish(fi);

	/* Last: closing any fd of a file drops the process's POSIX locks on it. */
	for (size_t i = 0; i < fi->nr && !ret; i++)
		if (!fi->fds[i]->has_dup_of)
			ret = locks_restore(fi->fds[i]);
	return ret;
}

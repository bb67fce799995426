/* epoll: every registered fd with its events and data, from the "tfd:" lines
 * of /proc/PID/fdinfo.  A registration names the fd number it was made with;
 * kcmp(KCMP_EPOLL_TFD) tells whether that fd is still the registered file.
 * Restore adds the targets once every fd is in place (an epoll inside an epoll
 * included). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/kcmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "files/files.h"
#include "log.h"

static bool epoll_match(const struct fd_dump_ctx *c)
{
	return !strcmp(c->link, "anon_inode:[eventpoll]");
}

static int add_target(const struct fd_dump_ctx *c, EpollEntry *ep, const char *line)
{
	EpollTargetEntry *t = malloc(sizeof(*t)), **n;
	struct kcmp_epoll_slot slot = { .efd = c->fd };
	int tfd;

	if (!t)
		return -ENOMEM;
	epoll_target_entry__init(t);
	if (!(n = realloc(ep->targets, (ep->n_targets + 1) * sizeof(*n)))) {
		free(t);
		return -ENOMEM;
	}
	ep->targets = n;
	ep->targets[ep->n_targets++] = t;
	if (sscanf(line, "%d events: %x data: %" SCNx64, &tfd, &t->events, &t->data) != 3 || tfd < 0)
		return pr_err("pid %d: can't parse the epoll line '%.60s' of fd %d", c->pid, line, c->fd), -EINVAL;
	t->tfd = slot.tfd = tfd;
	if (syscall(SYS_kcmp, c->pid, c->pid, KCMP_EPOLL_TFD, tfd, &slot))
		return pr_err("pid %d: epoll fd %d watches a file registered as fd %d, which is closed or another file "
			      "now: can't be checkpointed", c->pid, c->fd, tfd), -EOPNOTSUPP;
	return 0;
}

static int epoll_dump(const struct fd_dump_ctx *c, FdinfoEntry *e)
{
	const char *p = c->fdinfo;
	int ret;

	if (!(e->epoll = malloc(sizeof(*e->epoll))))
		return -ENOMEM;
	epoll_entry__init(e->epoll);
	while ((p = fdinfo_value(p, "tfd:"))) {
		if ((ret = add_target(c, e->epoll, p)))
			return ret;
		if (!(p = strchr(p, '\n')))
			break;
	}
	return 0;
}

static int epoll_restore(struct files_image *fi, const FdinfoEntry *e, bool *inherited)
{
	int fd = epoll_create1(EPOLL_CLOEXEC);

	(void)fi;
	*inherited = false;
	if (fd < 0)
		return pr_perror("can't create the epoll of fd %u", e->fd);
	if (files_set_fl(fd, e->flags)) {
		close(fd);
		return -EIO;
	}
	return fd;
}

/* The flags that are not poll events: what a spent EPOLLONESHOT keeps. */
#define EP_NOT_EVENTS (EPOLLWAKEUP | EPOLLONESHOT | EPOLLET | EPOLLEXCLUSIVE)

static bool spent_oneshot(const EpollTargetEntry *t)
{
	return !(t->events & ~EP_NOT_EVENTS);
}

static int ctl(const FdinfoEntry *e, int op, const EpollTargetEntry *t, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.u64 = t->data };

	if (epoll_ctl(e->fd, op, t->tfd, &ev))
		return pr_perror("epoll fd %u: can't watch fd %u again (events 0x%x)", e->fd, t->tfd, t->events);
	return 0;
}

/* A one-shot registration that went off keeps no events: the only way back to
 * that state is to let it go off again.  Alone in the epoll, armed for any
 * readiness, a wait takes each that is ready; one that is not stays armed with
 * the events it had (EPOLLERR|EPOLLHUP, which the kernel always adds). */
static int spend_oneshots(const FdinfoEntry *e, size_t nr)
{
	struct epoll_event evs[64];
	int n, ret;

	for (size_t i = 0; i < e->epoll->n_targets; i++)
		if (spent_oneshot(e->epoll->targets[i]) &&
		    (ret = ctl(e, EPOLL_CTL_ADD, e->epoll->targets[i],
			       e->epoll->targets[i]->events | EPOLLIN | EPOLLOUT | EPOLLPRI)))
			return ret;
	if ((n = epoll_wait(e->fd, evs, nr < 64 ? nr : 64, 0)) < 0)
		return pr_perror("epoll fd %u: can't spend its one-shot registrations", e->fd);
	for (size_t i = 0; i < e->epoll->n_targets; i++) {
		const EpollTargetEntry *t = e->epoll->targets[i];
		bool fired = false;

		for (int k = 0; k < n && !fired; k++)
			fired = evs[k].data.u64 == t->data;
		if (spent_oneshot(t) && !fired && (ret = ctl(e, EPOLL_CTL_MOD, t, t->events)))
			return ret;
	}
	return 0;
}

static int epoll_finish(struct files_image *fi, const FdinfoEntry *e)
{
	size_t spent = 0;
	int ret;

	(void)fi;
	for (size_t i = 0; i < e->epoll->n_targets; i++)
		spent += spent_oneshot(e->epoll->targets[i]);
	if (spent && (ret = spend_oneshots(e, spent)))
		return ret;
	for (size_t i = 0; i < e->epoll->n_targets; i++)
		if (!spent_oneshot(e->epoll->targets[i]) &&
		    (ret = ctl(e, EPOLL_CTL_ADD, e->epoll->targets[i], e->epoll->targets[i]->events)))
			return ret;
	return 0;
}

int epoll_watch_again(struct files_image *fi, int fd)
{
	int ret;

	for (size_t i = 0; i < fi->nr; i++) {
		const FdinfoEntry *e = fi->fds[i];

		if (e->kind != FD_KIND__FD_EPOLL || e->has_dup_of || !e->epoll)
			continue;
		/* a spent one-shot one comes back disarmed (its flags only), not spent */
		for (size_t k = 0; k < e->epoll->n_targets; k++)
			if ((int)e->epoll->targets[k]->tfd == fd &&
			    (ret = ctl(e, EPOLL_CTL_ADD, e->epoll->targets[k], e->epoll->targets[k]->events)))
				return ret;
	}
	return 0;
}

static int epoll_validate(const FdinfoEntry *e)
{
	if (!e->epoll)
		return pr_err("fdinfo: fd %u is an epoll without its targets", e->fd), -EINVAL;
	for (size_t i = 0; i < e->epoll->n_targets; i++)
		if (e->epoll->targets[i]->tfd == e->fd)
			return pr_err("fdinfo: epoll fd %u watches itself", e->fd), -EINVAL;
	return 0;
}

const struct fd_ops epoll_fd_ops = {
	.kind = FD_KIND__FD_EPOLL, .name = "epoll",
	.match = epoll_match, .dump = epoll_dump, .restore = epoll_restore, .finish = epoll_finish,
	.validate = epoll_validate,
};

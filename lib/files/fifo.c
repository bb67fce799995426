/* Named pipes (FIFOs), reopened by path.  When no other process has the FIFO
 * open, the pipe behind it is the process's own: the size and the bytes in it
 * are saved like a pipe's and put back through a read-write opener that also
 * keeps the opens from blocking.  Otherwise the pipe lives on with the others:
 * just reopened. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "files/files.h"
#include "log.h"
#include "util.h"
#include "ns/ns.h"

static bool fifo_match(const struct fd_dump_ctx *c)
{
	return S_ISFIFO(c->st.st_mode) && c->link[0] == '/';
}

static int fifo_dump(const struct fd_dump_ctx *c, FdinfoEntry *e)
{
	FifoEntry *f = malloc(sizeof(*f));
	struct stat st;

	if (!f)
		return -ENOMEM;
	fifo_entry__init(f);
	e->fifo = f;
	if (!(f->path = strdup(c->link)))
		return -ENOMEM;
	f->ino = c->st.st_ino;
	if (ns_stat_path(c->pid, f->path, &st) || st.st_ino != c->st.st_ino || st.st_dev != c->st.st_dev)
		return pr_err("pid %d: fd %d is the FIFO %s, which was removed or replaced: can't be checkpointed",
			      c->pid, c->fd, c->link), -EOPNOTSUPP;
	if (c->held_outside)
		return 0;
	if (c->share.id && !c->share.first)
		return 0;   /* another process of the tree carries the contents */
	for (int i = 0; !c->share.id && i < c->nr_all && c->all[i].fd < c->fd; i++)
		if (fifo_match(&c->all[i]) && c->all[i].st.st_ino == c->st.st_ino && c->all[i].st.st_dev == c->st.st_dev)
			return 0;   /* the first fd of the FIFO carries its contents */
	f->has_size = f->has_data = true;
	return pipe_peek(c->pid, c->fd, &f->size, &f->data);
}

/* The read-write opener that owns the FIFO's contents while its fds are opened. */
static int fifo_holder(struct files_image *fi, const FdinfoEntry *e)
{
	struct pipe_rst *p;
	char what[64];
	int fd;

	for (size_t i = 0; i < fi->nr_pipes; i++)
		if (fi->pipes[i].fifo && fi->pipes[i].ino == e->fifo->ino)
			return 0;
	if (!e->fifo->has_size)
		return 0;
	if (!(p = realloc(fi->pipes, (fi->nr_pipes + 1) * sizeof(*p))))
		return -ENOMEM;
	fi->pipes = p;
	if ((fd = open(e->fifo->path, O_RDWR | O_NONBLOCK | O_CLOEXEC)) < 0)
		return pr_perror("can't open the FIFO %s for fd %u", e->fifo->path, e->fd);
	snprintf(what, sizeof(what), "the FIFO of fd %u", e->fd);
	if (pipe_refill(fd, e->fifo->size, &e->fifo->data, what) || (fd = files_stash_fd(fi, fd)) < 0) {
		close(fd);
		return -EIO;
	}
	/* the holder goes with the other spare pipe ends once every fd is in place */
	fi->pipes[fi->nr_pipes++] = (struct pipe_rst){ .ino = e->fifo->ino, .fifo = true, .end = { fd, -1 }, .first = { -1, -1 } };
	return 0;
}

static int fifo_restore(struct files_image *fi, const FdinfoEntry *e, bool *inherited)
{
	struct stat st;
	int fd, ret;

	*inherited = false;
	if ((ret = fifo_holder(fi, e)))
		return ret;
	/* non-blocking: a side without its peer must not hang the restore */
	fd = open(e->fifo->path, (e->flags & O_ACCMODE) | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 && errno == ENXIO)
		return pr_err("fd %u: the FIFO %s has no reader to open its write side against", e->fd,
			      e->fifo->path), -ENXIO;
	if (fd < 0)
		return pr_perror("can't reopen the FIFO %s for fd %u", e->fifo->path, e->fd);
	if (fstat(fd, &st) || !S_ISFIFO(st.st_mode)) {
		close(fd);
		return pr_err("fd %u: %s is no longer a FIFO", e->fd, e->fifo->path), -ESTALE;
	}
	if (files_set_fl(fd, e->flags)) {
		close(fd);
		return -EIO;
	}
	return fd;
}

static int fifo_validate(const FdinfoEntry *e)
{
	const FifoEntry *f = e->fifo;

	if (!f || !path_is_clean(f->path))
		return pr_err("fdinfo: fd %u is a FIFO without an absolute path, or one with . or ..", e->fd), -EINVAL;
	if (f->has_data && f->has_size && f->data.len > f->size)
		return pr_err("fdinfo: fd %u: a FIFO of %u bytes holds %zu", e->fd, f->size, f->data.len), -EINVAL;
	return 0;
}

const struct fd_ops fifo_fd_ops = {
	.kind = FD_KIND__FD_FIFO, .name = "FIFO",
	.match = fifo_match, .dump = fifo_dump, .restore = fifo_restore, .validate = fifo_validate,
};

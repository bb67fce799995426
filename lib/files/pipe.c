/* Pipes.  A pipe no other process has open is the process's own (both ends
 * in it, or the other end closed): its size and the bytes in it are saved
 * (read with tee(), so the running process loses nothing) and a new pipe is
 * made on restore.  A pipe another process has open too (the stdin/stdout of
 * a job) is external: the restored process inherits the restoring caller's fd
 * of the same number. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include "files/files.h"
#include "log.h"
#include "util.h"

#define PIPE_MAX_SAVED (64u << 20)   /* an image record's limit */

static bool pipe_match(const struct fd_dump_ctx *c)
{
	return S_ISFIFO(c->st.st_mode) && !strncmp(c->link, "pipe:[", 6);
}

int pipe_peek(pid_t pid, int fd, uint32_t *size, ProtobufCBinaryData *data)
{
	char path[64];
	int src, tmp[2] = { -1, -1 }, avail = 0, sz, ret = 0;
	ssize_t n;

	/* a new reader of the same pipe: tee() copies the bytes out without taking them */
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	if ((src = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) < 0)
		return pr_perror("can't open %s to read the pipe's contents", path);
	if ((sz = fcntl(src, F_GETPIPE_SZ)) < 0 || ioctl(src, FIONREAD, &avail)) {
		ret = pr_perror("can't read the size of %s", path);
		goto out;
	}
	*size = sz;
	data->len = 0;
	data->data = NULL;
	if (!avail)
		goto out;
	if (avail > sz || (uint32_t)avail > PIPE_MAX_SAVED) {
		ret = (pr_err("pid %d: fd %d: a pipe of %d bytes holds %d", pid, fd, sz, avail), -EINVAL);
		goto out;
	}
	/* as many slots as the pipe: one tee() takes every buffer */
	if (pipe2(tmp, O_CLOEXEC | O_NONBLOCK) || fcntl(tmp[0], F_SETPIPE_SZ, sz) < sz) {
		ret = pr_perror("can't make a pipe of %d bytes to copy pid %d's fd %d", sz, pid, fd);
		goto out;
	}
	n = tee(src, tmp[1], avail, SPLICE_F_NONBLOCK);
	if (n != avail) {
		ret = n < 0 ? pr_perror("can't copy the contents of pid %d's fd %d", pid, fd)
			    : (pr_err("pid %d: fd %d: copied %zd of the %d bytes in the pipe", pid, fd, n, avail), -EIO);
		goto out;
	}
	if (!(data->data = malloc(avail))) {
		ret = -ENOMEM;
		goto out;
	}
	if (read(tmp[0], data->data, avail) != avail) {
		ret = pr_perror("can't read the copy of pid %d's fd %d", pid, fd);
		goto out;
	}
	data->len = avail;
out:
	close(src);
	if (tmp[0] >= 0) {
		close(tmp[0]);
		close(tmp[1]);
	}
	return ret;
}

int pipe_refill(int wfd, uint32_t size, const ProtobufCBinaryData *data, const char *what)
{
	if (size && fcntl(wfd, F_SETPIPE_SZ, size) < 0)
		return pr_perror("can't set the size of %s to %u bytes", what, size);
	if (data->len && write(wfd, data->data, data->len) != (ssize_t)data->len)
		return pr_perror("can't put the %zu saved bytes back into %s", data->len, what);
	return 0;
}

static int pipe_dump(const struct fd_dump_ctx *c, FdinfoEntry *e)
{
	if (!(e->pipe = malloc(sizeof(*e->pipe))))
		return -ENOMEM;
	pipe_entry__init(e->pipe);
	e->pipe->ino = c->st.st_ino;
	if (c->held_outside) {
		e->pipe->has_external = e->pipe->external = true;
		return 0;
	}
	/* the first fd of the pipe (in the tree, when others hold it too) carries its size and bytes */
	if (c->share.id && !c->share.first)
		return 0;
	for (int i = 0; !c->share.id && i < c->nr_all && c->all[i].fd < c->fd; i++)
		if (pipe_match(&c->all[i]) && c->all[i].st.st_ino == c->st.st_ino)
			return 0;
	e->pipe->has_size = e->pipe->has_data = true;
	return pipe_peek(c->pid, c->fd, &e->pipe->size, &e->pipe->data);
}

static struct pipe_rst *pipe_get(struct files_image *fi, const FdinfoEntry *e)
{
	struct pipe_rst *p;
	int ends[2];
	char what[64];

	for (size_t i = 0; i < fi->nr_pipes; i++)
		if (!fi->pipes[i].fifo && fi->pipes[i].ino == e->pipe->ino)
			return &fi->pipes[i];
	if (!e->pipe->has_size)
		return pr_err("fd %u is the first fd of pipe:[%lu] but has no size", e->fd,
			      (unsigned long)e->pipe->ino), NULL;
	if (!(p = realloc(fi->pipes, (fi->nr_pipes + 1) * sizeof(*p))))
		return NULL;
	fi->pipes = p;
	if (pipe2(ends, O_CLOEXEC))
		return pr_perror("can't create a pipe for fd %u", e->fd), NULL;
	snprintf(what, sizeof(what), "the pipe of fd %u", e->fd);
	if (pipe_refill(ends[1], e->pipe->size, &e->pipe->data, what) ||
	    (ends[0] = files_stash_fd(fi, ends[0])) < 0 || (ends[1] = files_stash_fd(fi, ends[1])) < 0) {
		close(ends[0]);
		close(ends[1]);
		return NULL;
	}
	p = &fi->pipes[fi->nr_pipes++];
	*p = (struct pipe_rst){ .ino = e->pipe->ino, .end = { ends[0], ends[1] }, .first = { -1, -1 } };
	return p;
}

static int pipe_restore(struct files_image *fi, const FdinfoEntry *e, bool *inherited)
{
	struct stat st;
	struct pipe_rst *p;
	int acc = e->flags & O_ACCMODE, fd;

	if (e->pipe->external) {
		if (fstat(e->fd, &st) || !S_ISFIFO(st.st_mode))
			return pr_err("fd %u was a pipe to outside the process (pipe:[%lu]): restore with fd %u open "
				      "as a pipe (it is inherited as it is)", e->fd, (unsigned long)e->pipe->ino, e->fd),
			       -EBADF;
		*inherited = true;
		return e->fd;
	}
	if (!(p = pipe_get(fi, e)))
		return -EIO;
	if (acc != O_RDWR && p->first[acc == O_WRONLY] < 0) {
		/* the first fd of each side takes the end pipe2() made */
		int k = acc == O_WRONLY;
		fd = p->end[k];
		p->end[k] = -1;
		p->first[k] = e->fd;
	} else {
		/* another open file description of the same pipe */
		int via = p->first[0] >= 0 ? p->first[0] : p->first[1] >= 0 ? p->first[1]
					  : p->end[0] >= 0 ? p->end[0] : p->end[1];
		fd = reopen_fd(via, (e->flags & O_ACCMODE) | O_CLOEXEC);
		if (fd < 0)
			return pr_perror("can't open pipe:[%lu] again for fd %u", (unsigned long)e->pipe->ino, e->fd);
		if (acc == O_RDWR)
			p->first[0] = p->first[0] >= 0 ? p->first[0] : (int)e->fd;
	}
	if (files_set_fl(fd, e->flags)) {
		close(fd);
		return -EIO;
	}
	return fd;
}

int pipe_restore_in_flight(struct files_image *fi, const FdinfoEntry *e)
{
	struct pipe_rst *p = pipe_get(fi, e);
	int k = (e->flags & O_ACCMODE) == O_WRONLY, fd;

	if (!p)
		return -EIO;
	/* an end pipe2() made and no fd took; else a new description of the pipe
	 * through any end it has (never one of the fds': each is its own) */
	if ((e->flags & O_ACCMODE) != O_RDWR && p->end[k] >= 0) {
		fd = p->end[k];
		p->end[k] = -1;
	} else {
		int via = p->end[0] >= 0 ? p->end[0] : p->end[1] >= 0 ? p->end[1] : p->first[0] >= 0 ? p->first[0] : p->first[1];
		if ((fd = reopen_fd(via, (e->flags & O_ACCMODE) | O_CLOEXEC)) < 0)
			return pr_perror("can't open pipe:[%lu] again for a file in flight", (unsigned long)e->pipe->ino);
	}
	if (files_set_fl(fd, e->flags)) {
		close(fd);
		return -EIO;
	}
	return fd;
}

static int pipe_validate(const FdinfoEntry *e)
{
	const PipeEntry *p = e->pipe;

	if (!p)
		return pr_err("fdinfo: fd %u is a pipe without its pipe record", e->fd), -EINVAL;
	if (p->has_data && (p->data.len > PIPE_MAX_SAVED || (p->has_size && p->data.len > p->size)))
		return pr_err("fdinfo: fd %u: a pipe of %u bytes holds %zu", e->fd, p->size, p->data.len), -EINVAL;
	if (p->external && (p->has_data || p->has_size))
		return pr_err("fdinfo: fd %u: an external pipe carries contents", e->fd), -EINVAL;
	return 0;
}

const struct fd_ops pipe_fd_ops = {
	.kind = FD_KIND__FD_PIPE, .name = "pipe",
	.match = pipe_match, .dump = pipe_dump, .restore = pipe_restore, .validate = pipe_validate,
};

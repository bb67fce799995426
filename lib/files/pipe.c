/* Pipes.  For now only the one kind a single process can hold without its peer:
 * a pipe to the caller (stdin/stdout/stderr of a job), restored as the restoring
 * caller's own fd of the same number. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "files/files.h"
#include "log.h"

static bool pipe_match(const struct fd_dump_ctx *c)
{
	return S_ISFIFO(c->st.st_mode) && !strncmp(c->link, "pipe:[", 6);
}

static int pipe_dump(const struct fd_dump_ctx *c, FdinfoEntry *e)
{
	e->pipe = malloc(sizeof(*e->pipe));
	if (!e->pipe)
		return -ENOMEM;
	pipe_entry__init(e->pipe);
	e->pipe->ino = c->st.st_ino;
	e->pipe->has_external = true;
	e->pipe->external = true;
	return 0;
}

static int pipe_restore(struct files_image *fi, const FdinfoEntry *e, bool *inherited)
{
	struct stat st;

	(void)fi;
	if (fstat(e->fd, &st) || !S_ISFIFO(st.st_mode))
		return pr_err("fd %u was a pipe to outside the process (pipe:[%lu]): restore with fd %u open "
			      "as a pipe (it is inherited as it is)", e->fd, (unsigned long)e->pipe->ino, e->fd),
		       -EBADF;
	*inherited = true;
	return e->fd;
}

static int pipe_validate(const FdinfoEntry *e)
{
	if (!e->pipe)
		return pr_err("fdinfo: fd %u is a pipe without its pipe record", e->fd), -EINVAL;
	return 0;
}

const struct fd_ops pipe_fd_ops = {
	.kind = FD_KIND__FD_PIPE, .name = "pipe",
	.match = pipe_match, .dump = pipe_dump, .restore = pipe_restore, .validate = pipe_validate,
};

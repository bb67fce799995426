/* memfd_create() files: no path leads to them, so the content is saved whole
 * (a ghost, shared with the memory areas that map the same memfd) together with
 * its name and seals; each fd is a new open of the recreated memfd at its
 * position.  The seals go on last, once every fd and mapping exists. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "files/files.h"
#include "log.h"

#define PREFIX "/memfd:"
#define DELETED " (deleted)"

static bool memfd_match(const struct fd_dump_ctx *c)
{
	size_t len = strlen(c->link), dl = strlen(DELETED);

	return S_ISREG(c->st.st_mode) && !(c->flags & O_PATH) && !strncmp(c->link, PREFIX, strlen(PREFIX)) &&
	       len > dl && !strcmp(c->link + len - dl, DELETED) && c->st.st_nlink == 0;
}

static int memfd_dump(const struct fd_dump_ctx *c, FdinfoEntry *e)
{
	size_t len = strlen(c->link) - strlen(PREFIX) - strlen(DELETED);
	char src[64], *name = strndup(c->link + strlen(PREFIX), len);
	int ret;

	if (!name || !(e->memfd = malloc(sizeof(*e->memfd)))) {
		free(name);
		return -ENOMEM;
	}
	memfd_entry__init(e->memfd);
	e->memfd->pos = c->pos;
	snprintf(src, sizeof(src), "/proc/%d/fd/%d", c->pid, c->fd);
	ret = ghost_dump_file(c->ghosts, src, &c->st, GHOST_KIND__GHOST_MEMFD, name, &e->memfd->ghost_id);
	free(name);
	return ret;
}

static int memfd_restore(struct files_image *fi, const FdinfoEntry *e, bool *inherited)
{
	int g = ghost_fd(fi, e->memfd->ghost_id, "a memfd"), fd;

	*inherited = false;
	if (g < 0)
		return g;
	fd = reopen_fd(g, (e->flags & ~(O_CREAT | O_TRUNC | O_EXCL)) | O_CLOEXEC);
	if (fd < 0)
		return pr_perror("can't open the recreated memfd of fd %u", e->fd);
	if (lseek(fd, e->memfd->pos, SEEK_SET) < 0) {
		int ret = pr_perror("can't seek the memfd of fd %u to %lu", e->fd, (unsigned long)e->memfd->pos);
		close(fd);
		return ret;
	}
	return fd;
}

static int memfd_validate(const FdinfoEntry *e)
{
	if (!e->memfd)
		return pr_err("fdinfo: fd %u is a memfd without its memfd record", e->fd), -EINVAL;
	return 0;
}

const struct fd_ops memfd_fd_ops = {
	.kind = FD_KIND__FD_MEMFD, .name = "memfd",
	.match = memfd_match, .dump = memfd_dump, .restore = memfd_restore, .validate = memfd_validate,
};

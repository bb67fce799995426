/* Memory character devices (/dev/null, /dev/zero, /dev/full, /dev/[u]random):
 * stateless, reopened by path. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "files/files.h"
#include "log.h"

#define MEM_MAJOR 1

static bool chr_match(const struct fd_dump_ctx *c)
{
	return S_ISCHR(c->st.st_mode) && major(c->st.st_rdev) == MEM_MAJOR;
}

static int chr_dump(const struct fd_dump_ctx *c, FdinfoEntry *e)
{
	(void)c;
	e->reg = malloc(sizeof(*e->reg));
	if (!e->reg)
		return -ENOMEM;
	reg_file_entry__init(e->reg);
	e->reg->path = strdup(c->link);
	e->reg->mode = c->st.st_mode;
	e->reg->has_dev = true;
	e->reg->dev = c->st.st_rdev;
	return e->reg->path ? 0 : -ENOMEM;
}

static int chr_restore(struct files_image *fi, const FdinfoEntry *e, bool *inherited)
{
	struct stat st;
	int fd;

	(void)fi;
	*inherited = false;
	fd = open(e->reg->path, (e->flags & ~(O_CREAT | O_TRUNC | O_EXCL | O_CLOEXEC)) | O_NOCTTY);
	if (fd < 0)
		return pr_perror("can't reopen %s for fd %u", e->reg->path, e->fd);
	if (fstat(fd, &st) || !S_ISCHR(st.st_mode) || st.st_rdev != e->reg->dev) {
		close(fd);
		return pr_err("fd %u: %s is not the device it was", e->fd, e->reg->path), -ESTALE;
	}
	return fd;
}

static int chr_validate(const FdinfoEntry *e)
{
	if (!e->reg || !e->reg->path || strncmp(e->reg->path, "/dev/", 5))
		return pr_err("fdinfo: fd %u is a device outside /dev", e->fd), -EINVAL;
	return 0;
}

const struct fd_ops chr_fd_ops = {
	.kind = FD_KIND__FD_CHR, .name = "character device",
	.match = chr_match, .dump = chr_dump, .restore = chr_restore, .validate = chr_validate,
};

/* Regular files and directories: reopened by path at their position and flags. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "files/files.h"
#include "log.h"

static bool reg_match(const struct fd_dump_ctx *c)
{
	return S_ISREG(c->st.st_mode) || S_ISDIR(c->st.st_mode);
}

static int reg_dump(const struct fd_dump_ctx *c, FdinfoEntry *e)
{
	RegFileEntry *r = malloc(sizeof(*r));

	if (!r)
		return -ENOMEM;
	if (c->link[0] != '/' || strstr(c->link, " (deleted)"))
		return free(r), pr_err("pid %d: fd %d is a file with no reachable path (%s): unlinked files are "
				       "not supported yet", c->pid, c->fd, c->link), -EOPNOTSUPP;
	reg_file_entry__init(r);
	r->path = strdup(c->link);
	r->pos = c->pos;
	r->size = c->st.st_size;
	r->mode = c->st.st_mode;
	r->has_mtime_ns = r->has_dev = r->has_ino = true;
	r->mtime_ns = c->st.st_mtim.tv_sec * 1000000000ULL + c->st.st_mtim.tv_nsec;
	r->dev = c->st.st_dev;
	r->ino = c->st.st_ino;
	e->reg = r;
	return r->path ? 0 : -ENOMEM;
}

static int reg_restore(const FdinfoEntry *e, bool shell_job, bool *inherited)
{
	const RegFileEntry *r = e->reg;
	/* O_CREAT/O_TRUNC/O_EXCL acted at the original open; never again */
	int flags = e->flags & ~(O_CREAT | O_TRUNC | O_EXCL | O_NOCTTY | O_CLOEXEC);
	struct stat st;
	int fd;

	(void)shell_job;
	*inherited = false;
	fd = open(r->path, flags | O_NOCTTY);
	if (fd < 0)
		return pr_perror("can't reopen %s for fd %u", r->path, e->fd);
	if (fstat(fd, &st) || (st.st_mode & S_IFMT) != (r->mode & S_IFMT)) {
		close(fd);
		return pr_err("fd %u: %s is no longer the same kind of file", e->fd, r->path), -ESTALE;
	}
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size < r->pos && !(e->flags & O_APPEND)) {
		close(fd);
		return pr_err("fd %u: %s shrank to %lld bytes, below the saved position %lu", e->fd, r->path,
			      (long long)st.st_size, (unsigned long)r->pos), -ESTALE;
	}
	if (lseek(fd, r->pos, SEEK_SET) < 0 && S_ISREG(st.st_mode)) {
		int ret = pr_perror("can't seek %s to %lu", r->path, (unsigned long)r->pos);
		close(fd);
		return ret;
	}
	return fd;
}

static int reg_validate(const FdinfoEntry *e)
{
	if (!e->reg || !e->reg->path || e->reg->path[0] != '/')
		return pr_err("fdinfo: fd %u has no absolute file path", e->fd), -EINVAL;
	return 0;
}

const struct fd_ops reg_fd_ops = {
	.kind = FD_KIND__FD_REG, .name = "regular file",
	.match = reg_match, .dump = reg_dump, .restore = reg_restore, .validate = reg_validate,
};

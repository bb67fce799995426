/* Character devices that need nothing but their path: the memory devices
 * (/dev/null, /dev/zero, /dev/full, /dev/random, /dev/urandom) and /dev/tty,
 * the caller's controlling terminal under --shell-job.  Reopened by path and
 * checked to be the same device. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "files/files.h"
#include "log.h"
#include "util.h"

#define MEM_MAJOR 1
#define TTYAUX_MAJOR 5   /* 5:0 is /dev/tty */

static bool is_dev_tty(dev_t rdev)
{
	return major(rdev) == TTYAUX_MAJOR && minor(rdev) == 0;
}

static bool chr_match(const struct fd_dump_ctx *c)
{
	return S_ISCHR(c->st.st_mode) && (major(c->st.st_rdev) == MEM_MAJOR || is_dev_tty(c->st.st_rdev));
}

static int chr_dump(const struct fd_dump_ctx *c, FdinfoEntry *e)
{
	if (is_dev_tty(c->st.st_rdev) && !c->shell_job)
		return pr_err("pid %d: fd %d is /dev/tty, its controlling terminal: dump with --shell-job to leave "
			      "the terminal to the caller", c->pid, c->fd), -EOPNOTSUPP;
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
	bool tty = is_dev_tty(e->reg->dev);
	struct stat st;
	int fd;

	*inherited = false;
	if (tty && !fi->shell_job)
		return pr_err("fd %u was /dev/tty, the controlling terminal: restore with --shell-job", e->fd), -EINVAL;
	int flags = (e->flags & ~(O_CREAT | O_TRUNC | O_EXCL)) | O_NOCTTY | O_CLOEXEC;
	fd = open(e->reg->path, flags);
	/* A memory device opened before the process pivot_rooted into a root without
	 * /dev (a stdin of /dev/null handed down): the same device, by the host's path. */
	if (fd < 0 && errno == ENOENT && !tty)
		fd = host_open(e->reg->path, flags);
	if (fd < 0 && tty && errno == ENXIO)
		return pr_err("fd %u was /dev/tty, but the restoring crtool has no controlling terminal to give it",
			      e->fd), -ENXIO;
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
	if (!e->reg || !path_is_clean(e->reg->path) || strncmp(e->reg->path, "/dev/", 5) || !e->reg->has_dev ||
	    (major(e->reg->dev) != MEM_MAJOR && !is_dev_tty(e->reg->dev)))
		return pr_err("fdinfo: fd %u is a device outside /dev or not one of the memory devices and /dev/tty",
			      e->fd), -EINVAL;
	return 0;
}

const struct fd_ops chr_fd_ops = {
	.kind = FD_KIND__FD_CHR, .name = "character device",
	.match = chr_match, .dump = chr_dump, .restore = chr_restore, .validate = chr_validate,
};

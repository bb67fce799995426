/* Terminals of a shell job (--shell-job): the caller's terminal, inherited as
 * the restoring caller's own fd of the same number. */
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

static bool tty_match(const struct fd_dump_ctx *c)
{
	unsigned maj = major(c->st.st_rdev);

	/* 5:0 (/dev/tty) is chr.c's: it names whatever the controlling terminal is */
	return S_ISCHR(c->st.st_mode) && (maj == 4 || (maj == 5 && minor(c->st.st_rdev)) || (maj >= 136 && maj <= 143));
}

static int tty_dump(const struct fd_dump_ctx *c, FdinfoEntry *e)
{
	if (!c->shell_job && pty_slave_index(&c->st) >= 0)
		return pr_err("pid %d: fd %d is the terminal %s, whose master is outside the tree: dump with "
			      "--shell-job to leave it to the caller, or --orphan-pts-master to make it anew at "
			      "restore (a runtime's console)", c->pid, c->fd, c->link), -EOPNOTSUPP;
	if (!c->shell_job)
		return pr_err("pid %d: fd %d is a terminal (%s): dump with --shell-job to leave it to the caller",
			      c->pid, c->fd, c->link), -EOPNOTSUPP;
	e->tty_path = strdup(c->link);
	return e->tty_path ? 0 : -ENOMEM;
}

static int tty_restore(struct files_image *fi, const FdinfoEntry *e, bool *inherited)
{
	if (!fi->shell_job)
		return pr_err("fd %u was the terminal %s: restore with --shell-job", e->fd, e->tty_path), -EINVAL;
	if (!isatty(e->fd))
		return pr_err("fd %u was the terminal %s: with --shell-job fd %u must be a terminal", e->fd,
			      e->tty_path, e->fd), -EBADF;
	*inherited = true;
	return e->fd;
}

static int tty_validate(const FdinfoEntry *e)
{
	if (!path_is_clean(e->tty_path))
		return pr_err("fdinfo: fd %u is a terminal without a clean absolute path", e->fd), -EINVAL;
	return 0;
}

const struct fd_ops tty_fd_ops = {
	.kind = FD_KIND__FD_TTY, .name = "terminal",
	.match = tty_match, .dump = tty_dump, .restore = tty_restore, .validate = tty_validate,
};

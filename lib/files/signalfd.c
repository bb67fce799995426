/* signalfd: the set of signals it accepts, from /proc/PID/fdinfo. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include "files/files.h"
#include "log.h"

static bool signalfd_match(const struct fd_dump_ctx *c)
{
	return !strcmp(c->link, "anon_inode:[signalfd]");
}

static int signalfd_dump(const struct fd_dump_ctx *c, FdinfoEntry *e)
{
	const char *m = fdinfo_value(c->fdinfo, "sigmask:");

	if (!(e->signalfd = malloc(sizeof(*e->signalfd))))
		return -ENOMEM;
	signalfd_entry__init(e->signalfd);
	if (!m || sscanf(m, "%" SCNx64, &e->signalfd->sigmask) != 1)
		return pr_err("pid %d: can't parse the mask of signalfd %d", c->pid, c->fd), -EINVAL;
	return 0;
}

static int signalfd_restore(struct files_image *fi, const FdinfoEntry *e, bool *inherited)
{
	sigset_t set;
	int fd;

	(void)fi;
	*inherited = false;
	/* the kernel's 64-bit mask as is: sigaddset() refuses glibc's own signals 32 and 33 */
	sigemptyset(&set);
	memcpy(&set, &e->signalfd->sigmask, sizeof(e->signalfd->sigmask));
	if ((fd = signalfd(-1, &set, SFD_CLOEXEC)) < 0)
		return pr_perror("can't create the signalfd of fd %u", e->fd);
	if (files_set_fl(fd, e->flags)) {
		close(fd);
		return -EIO;
	}
	return fd;
}

static int signalfd_validate(const FdinfoEntry *e)
{
	if (!e->signalfd)
		return pr_err("fdinfo: fd %u is a signalfd without its mask", e->fd), -EINVAL;
	return 0;
}

const struct fd_ops signalfd_fd_ops = {
	.kind = FD_KIND__FD_SIGNALFD, .name = "signalfd",
	.match = signalfd_match, .dump = signalfd_dump, .restore = signalfd_restore, .validate = signalfd_validate,
};

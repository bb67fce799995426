/* eventfd: the counter and EFD_SEMAPHORE, from /proc/PID/fdinfo. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include "files/files.h"
#include "log.h"

static bool eventfd_match(const struct fd_dump_ctx *c)
{
	return !strcmp(c->link, "anon_inode:[eventfd]");
}

static int eventfd_dump(const struct fd_dump_ctx *c, FdinfoEntry *e)
{
	const char *cnt = fdinfo_value(c->fdinfo, "eventfd-count:");
	const char *sem = fdinfo_value(c->fdinfo, "eventfd-semaphore:");

	if (!(e->eventfd = malloc(sizeof(*e->eventfd))))
		return -ENOMEM;
	eventfd_entry__init(e->eventfd);
	if (!cnt || sscanf(cnt, "%" SCNx64, &e->eventfd->count) != 1)
		return pr_err("pid %d: can't parse the counter of eventfd %d", c->pid, c->fd), -EINVAL;
	/* kernels before 6.6 don't say; EFD_SEMAPHORE is then taken as unset */
	if (!sem)
		pr_warn("pid %d: the kernel does not tell whether eventfd %d is a semaphore", c->pid, c->fd);
	e->eventfd->semaphore = sem && *sem == '1';
	return 0;
}

static int eventfd_restore(struct files_image *fi, const FdinfoEntry *e, bool *inherited)
{
	const EventfdEntry *ev = e->eventfd;
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK | (ev->semaphore ? EFD_SEMAPHORE : 0));

	(void)fi;
	*inherited = false;
	if (fd < 0)
		return pr_perror("can't create the eventfd of fd %u", e->fd);
	/* eventfd()'s initial value is only 32 bits wide: write the 64-bit count */
	if ((ev->count && write(fd, &ev->count, sizeof(ev->count)) != sizeof(ev->count)) || files_set_fl(fd, e->flags)) {
		int ret = pr_perror("can't set the eventfd of fd %u to %lu", e->fd, (unsigned long)ev->count);
		close(fd);
		return ret;
	}
	return fd;
}

static int eventfd_validate(const FdinfoEntry *e)
{
	if (!e->eventfd || e->eventfd->count == UINT64_MAX)
		return pr_err("fdinfo: fd %u is an eventfd without a valid counter", e->fd), -EINVAL;
	return 0;
}

const struct fd_ops eventfd_fd_ops = {
	.kind = FD_KIND__FD_EVENTFD, .name = "eventfd",
	.match = eventfd_match, .dump = eventfd_dump, .restore = eventfd_restore, .validate = eventfd_validate,
};

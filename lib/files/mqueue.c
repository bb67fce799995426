/* POSIX message queue descriptors: the queue's name and the open flags.  The
 * queue itself, with its messages, belongs to the IPC namespace (ipc.c), which
 * is restored before any fd; a queue of a namespace shared with the caller is
 * simply opened again by name. */
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include "files/files.h"
#include "log.h"

#define MQUEUE_MAGIC 0x19800202

static bool mqueue_match(const struct fd_dump_ctx *c)
{
	char path[64];
	struct statfs sfs;

	if (!S_ISREG(c->st.st_mode) || c->link[0] != '/')
		return false;
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", c->pid, c->fd);
	return !statfs(path, &sfs) && sfs.f_type == MQUEUE_MAGIC;
}

static int mqueue_dump(const struct fd_dump_ctx *c, FdinfoEntry *e)
{
	if (!(e->mqueue_name = strdup(c->link + 1)))
		return -ENOMEM;
	return 0;
}

static int mqueue_restore(struct files_image *fi, const FdinfoEntry *e, bool *inherited)
{
	char name[300];
	mqd_t q;

	(void)fi;
	*inherited = false;
	snprintf(name, sizeof(name), "/%s", e->mqueue_name);
	q = mq_open(name, (e->flags & (O_ACCMODE | O_NONBLOCK)) | O_CLOEXEC);
	if (q == (mqd_t)-1)
		return pr_perror("can't open the message queue %s for fd %u", name, e->fd);
	return q;
}

static int mqueue_validate(const FdinfoEntry *e)
{
	if (!e->mqueue_name || !e->mqueue_name[0] || strchr(e->mqueue_name, '/') || strlen(e->mqueue_name) > 255)
		return pr_err("fdinfo: fd %u is a message queue without a valid name", e->fd), -EINVAL;
	return 0;
}

const struct fd_ops mqueue_fd_ops = {
	.kind = FD_KIND__FD_MQUEUE, .name = "message queue",
	.match = mqueue_match, .dump = mqueue_dump, .restore = mqueue_restore, .validate = mqueue_validate,
};

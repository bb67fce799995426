/* pidfds (pidfd_open, clone's CLONE_PIDFD): Go's os/exec, systemd and asyncio
 * keep one per child they started.  A pidfd names a process: one of the tree
 * (saved by its PID in the images), or one that is gone (fdinfo says Pid: -1).
 * A pidfd of a process outside the tree is refused: nothing at the restore can
 * stand for it.
 *
 * The restore can open a pidfd only once the process it names exists, which is
 * after every process of the tree is forked, long after the fd table is made:
 * the table gets a placeholder at the fd's number (a pidfd of the restoring
 * process itself), replaced then (pidfd_restore_late), and the epolls that
 * watch it are told of the new file.  A pidfd of a process
 * gone is one of a child that exits and is reaped at once. */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "files/files.h"
#include "log.h"
#include "proc/proc.h"
#include "util.h"

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif

static bool pidfd_match(const struct fd_dump_ctx *c)
{
	return !strcmp(c->link, "anon_inode:[pidfd]");
}

static int pidfd_dump(const struct fd_dump_ctx *c, FdinfoEntry *e)
{
	const char *pid_s = fdinfo_value(c->fdinfo, "Pid:");
	pid_t pid, vpid;

	if (!pid_s || sscanf(pid_s, "%d", &pid) != 1)
		return pr_err("pid %d: fd %d: the kernel does not say which process pidfd %d names", c->pid, c->fd,
			      c->fd), -EIO;
	e->has_pidfd_pid = true;
	if (pid == -1) {
		e->pidfd_pid = -1;   /* a process that is gone */
		return 0;
	}
	if (pid == 0)
		return pr_err("pid %d: fd %d is a pidfd of a process in a pid namespace crtool can't see: it can't be "
			      "checkpointed", c->pid, c->fd), -EOPNOTSUPP;
	if (!files_share_in_tree(c->scan, pid)) {
		char *status = read_proc(pid, "status", NULL);
		const char *t = status ? fdinfo_value(status, "Tgid:") : NULL;
		pid_t tgid = t ? atoi(t) : 0;
		free(status);
		if (tgid && tgid != pid && files_share_in_tree(c->scan, tgid))
			return pr_err("pid %d: fd %d is a pidfd of thread %d of process %d of the tree (PIDFD_THREAD): only "
				      "a process's can be checkpointed", c->pid, c->fd, pid, tgid), -EOPNOTSUPP;
		return pr_err("pid %d: fd %d is a pidfd of process %d, which is not in the tree: nothing at the restore "
			      "could stand for it, so it can't be checkpointed", c->pid, c->fd, pid), -EOPNOTSUPP;
	}
	if (files_share_in_pidns(c->scan, c->pid) || files_share_in_pidns(c->scan, pid))
		return pr_err("pid %d: fd %d is a pidfd of process %d, %s a nested pid namespace: not supported (the "
			      "images name processes by their PIDs in the tree's namespace)", c->pid, c->fd, pid,
			      files_share_in_pidns(c->scan, c->pid) ? "held in" : "which is in"), -EOPNOTSUPP;
	/* the tree's PID for it: the one in its own namespace */
	if (!proc_nspid(c->fdinfo, &vpid) || vpid < 1)
		return pr_err("pid %d: fd %d: can't read the pid namespaces of the process pidfd %d names", c->pid,
			      c->fd, c->fd), -EIO;
	e->pidfd_pid = vpid;
	return 0;
}

static int pidfd_open(pid_t pid, unsigned flags)
{
	return syscall(SYS_pidfd_open, pid, flags);
}

static int pidfd_restore(struct files_image *fi, const FdinfoEntry *e, bool *inherited)
{
	int fd = pidfd_open(getpid(), 0);

	(void)fi;
	*inherited = false;
	if (fd < 0)
		return pr_perror("fd %u: can't open a pidfd (to hold its place)", e->fd);
	return fd;
}

/* A pidfd of a process that exited and was reaped: a child's, made so. */
static int gone_pidfd(void)
{
	int pidfd = -1;
	struct clone_args ca = { .flags = CLONE_PIDFD, .pidfd = (uintptr_t)&pidfd, .exit_signal = SIGCHLD };
	long child = syscall(SYS_clone3, &ca, sizeof(ca));

	if (child < 0)
		return pr_perror("can't start a child for a pidfd of a process gone");
	if (child == 0)
		syscall(SYS_exit, 0);
	while (waitpid(child, NULL, __WALL) < 0 && errno == EINTR)
		;
	return pidfd;
}

int pidfd_restore_late(struct files_image *fi)
{
	for (size_t i = 0; i < fi->nr; i++) {
		const FdinfoEntry *e = fi->fds[i];
		int fd;

		if (e->kind != FD_KIND__FD_PIDFD || e->has_dup_of)
			continue;
		fd = e->pidfd_pid > 0 ? pidfd_open(e->pidfd_pid, e->flags & PIDFD_THREAD) : gone_pidfd();
		if (fd < 0)
			return e->pidfd_pid > 0 ? pr_perror("fd %u: can't open a pidfd of process %d", e->fd, e->pidfd_pid)
						: fd;
		if (files_set_fl(fd, e->flags) || dup3(fd, e->fd, e->cloexec ? O_CLOEXEC : 0) < 0) {
			int ret = pr_perror("fd %u: can't put the pidfd in place", e->fd);
			close(fd);
			return ret;
		}
		close(fd);
	}
	/* fds that were dup()s of a pidfd: of the placeholder, until now */
	for (size_t i = 0; i < fi->nr; i++) {
		const FdinfoEntry *e = fi->fds[i];
		if (e->kind == FD_KIND__FD_PIDFD && e->has_dup_of &&
		    dup3(e->dup_of, e->fd, e->cloexec ? O_CLOEXEC : 0) < 0)
			return pr_perror("can't duplicate pidfd %u as fd %u", e->dup_of, e->fd);
	}
	/* closing a placeholder took it out of the epolls that watched it */
	for (size_t i = 0; i < fi->nr; i++)
		if (fi->fds[i]->kind == FD_KIND__FD_PIDFD && epoll_watch_again(fi, fi->fds[i]->fd))
			return -EIO;
	return 0;
}

int pidfd_check_targets(const struct files_image *fi, const uint32_t *pids, size_t nr)
{
	for (size_t i = 0; i < fi->nr; i++) {
		const FdinfoEntry *e = fi->fds[i];
		bool found = false;

		if (e->kind != FD_KIND__FD_PIDFD || e->has_dup_of || e->pidfd_pid < 0)
			continue;
		for (size_t k = 0; k < nr && !found; k++)
			found = pids[k] == (uint32_t)e->pidfd_pid;
		if (!found)
			return pr_err("fdinfo-%d.img: fd %u is a pidfd of process %d, which is not in the images", fi->id,
				      e->fd, e->pidfd_pid), -EINVAL;
	}
	return 0;
}

static int pidfd_validate(const FdinfoEntry *e)
{
	if (!e->has_pidfd_pid || e->pidfd_pid == 0 || e->pidfd_pid < -1)
		return pr_err("fdinfo: fd %u is a pidfd without the process it names", e->fd), -EINVAL;
	return 0;
}

const struct fd_ops pidfd_fd_ops = {
	.kind = FD_KIND__FD_PIDFD, .name = "pidfd",
	.match = pidfd_match, .dump = pidfd_dump, .restore = pidfd_restore, .validate = pidfd_validate,
};

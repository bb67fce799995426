/* File leases (fcntl F_SETLEASE) on regular files.  A lease belongs to the open
 * file description; fdinfo lists it among the "lock:" lines as
 * "1: LEASE  ACTIVE    READ 1234 fe:00:10953878 0 EOF".  The lease-break signal
 * goes to the file's owner (F_SETLEASE makes the caller the owner), with the
 * file's F_SETSIG signal: both are saved, and the process that owned the file
 * takes the lease again, once every fd is in place (after the locks).  A lease
 * being broken (an open of another process waits for the holder to give it up)
 * is refused: the waiting open and the break timer can't be carried over. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/kcmp.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "files/files.h"
#include "log.h"
#include "util.h"

/* Does process pid hold the open file description of c (an fd of it, kcmp)? */
static bool holds(pid_t pid, const struct fd_dump_ctx *c)
{
	int *fds, nr = files_list_fds(pid, &fds);
	bool found = false;

	if (nr < 0) {
		cr_error_reset();   /* gone: it holds nothing */
		return false;
	}
	for (int i = 0; i < nr && !found; i++)
		found = syscall(SYS_kcmp, pid, c->pid, KCMP_FILE, fds[i], c->fd) == 0;
	free(fds);
	return found;
}

int lease_dump(const struct fd_dump_ctx *c, const char *line, FdinfoEntry *e)
{
	char type[16], state[16], rw[16];
	int pid, fd, owner = 0, sig = 0;

	if (sscanf(line, "%*d: %15s %15s %15s %d", type, state, rw, &pid) != 4 || strcmp(type, "LEASE"))
		return pr_err("pid %d: fd %d: can't parse the lease line '%.60s'", c->pid, c->fd, line), -EINVAL;
	if (!strcmp(state, "BREAKING"))
		return pr_err("pid %d: fd %d (%s) holds a lease that is being broken (another process opened the file, "
			      "or waits to): that can't be checkpointed (try again once the holder has given it up)", c->pid,
			      c->fd, c->link), -EAGAIN;
	if (e->kind != FD_KIND__FD_REG)
		return pr_err("pid %d: fd %d (%s) holds a lease, which can be checkpointed only on a file reopened by "
			      "its path, not yet on a memfd", c->pid, c->fd, c->link), -EOPNOTSUPP;
	if (strcmp(state, "ACTIVE") || (strcmp(rw, "READ") && strcmp(rw, "WRITE")))
		return pr_err("pid %d: fd %d (%s): a lease in state %s %s, which can't be checkpointed", c->pid, c->fd,
			      c->link, state, rw), -EOPNOTSUPP;
	/* the file's owner (F_GETOWN: the last to set the lease) and F_GETSIG, on our copy of it */
	if ((fd = files_getfd(c->pid, c->fd)) < 0)
		return fd;
	owner = fcntl(fd, F_GETOWN);
	sig = fcntl(fd, F_GETSIG);
	close(fd);
	if (sig < 0)
		return pr_perror("pid %d: fd %d: F_GETSIG", c->pid, c->fd);
	if (owner <= 0)
		owner = pid;
	files_dump_mark_fanotify_lease();
	/* a description the tree shares: the owner's entry carries the lease (when it
	 * still holds the description; else every holder's does, the last one taking
	 * it becomes the owner) */
	if (c->share.id && owner != c->pid && files_share_in_tree(c->scan, owner) && holds(owner, c))
		return 0;
	e->has_lease = true;
	e->lease = strcmp(rw, "WRITE") ? LEASE_KIND__LEASE_READ : LEASE_KIND__LEASE_WRITE;
	if (sig) {
		e->has_lease_sig = true;
		e->lease_sig = sig;
	}
	return 0;
}

int lease_validate(const FdinfoEntry *e)
{
	if (!e->has_lease)
		return e->has_lease_sig ? pr_err("fdinfo: fd %u has a lease signal without a lease", e->fd), -EINVAL : 0;
	if ((e->lease != LEASE_KIND__LEASE_READ && e->lease != LEASE_KIND__LEASE_WRITE) ||
	    (e->has_lease_sig && (!e->lease_sig || e->lease_sig > 64)))
		return pr_err("fdinfo: fd %u has a malformed lease record", e->fd), -EINVAL;
	if (e->kind != FD_KIND__FD_REG)
		return pr_err("fdinfo: fd %u has a lease, and is not a regular file", e->fd), -EINVAL;
	return 0;
}

int lease_restore(const FdinfoEntry *e)
{
	int type = e->lease == LEASE_KIND__LEASE_WRITE ? F_WRLCK : F_RDLCK, err;
	char path[64], *target;

	if (!e->has_lease)
		return 0;
	if (e->has_lease_sig && fcntl(e->fd, F_SETSIG, e->lease_sig))
		return pr_perror("fd %u: can't set its signal (F_SETSIG %u)", e->fd, e->lease_sig);
	if (!fcntl(e->fd, F_SETLEASE, type))
		return 0;
	err = errno;
	snprintf(path, sizeof(path), "/proc/self/fd/%u", e->fd);
	target = xreadlink(path);
	errno = err;
	if (err == EAGAIN)
		pr_err("fd %u: can't take the %s lease on %s again: another open file conflicts with it (%s)", e->fd,
		       type == F_WRLCK ? "write" : "read", target ? target : "?",
		       type == F_WRLCK ? "the file is open elsewhere" : "the file is open for writing");
	else
		pr_perror("fd %u: can't take the %s lease on %s again", e->fd, type == F_WRLCK ? "write" : "read",
			  target ? target : "?");
	free(target);
	return -err;
}

/* File locks held through an fd: flock(2), POSIX (fcntl F_SETLK) and OFD
 * (F_OFD_SETLK) locks.  /proc/PID/fdinfo/N lists, as "lock:" lines, the locks
 * whose owner is this open file description (flock, OFD) or this process
 * (POSIX, taken through this fd).  Restore takes them again, once every fd is
 * in place: closing any fd of a file drops the process's POSIX locks on it. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>
#include "files/files.h"
#include "log.h"
#include "util.h"

static const char *kind_name(FileLockKind k)
{
	return k == FILE_LOCK_KIND__LOCK_FLOCK ? "flock" : k == FILE_LOCK_KIND__LOCK_POSIX ? "POSIX" : "OFD";
}

/* "1: POSIX  ADVISORY  WRITE 9699 fe:00:10953878 10 29" (end "EOF": to the end) */
static int parse_lock(const struct fd_dump_ctx *c, const char *line, FileLockEntry *l)
{
	char type[16], mode[16], rw[16], end[24];
	uint64_t start;
	int n = sscanf(line, "%*d: %15s %15s %15s %*d %*x:%*x:%*u %" SCNu64 " %23s", type, mode, rw, &start, end);

	if (n != 5)
		return pr_err("pid %d: fd %d: can't parse the lock line '%.60s'", c->pid, c->fd, line), -EINVAL;
	if (!strcmp(type, "FLOCK"))
		l->kind = FILE_LOCK_KIND__LOCK_FLOCK;
	else if (!strcmp(type, "POSIX"))
		l->kind = FILE_LOCK_KIND__LOCK_POSIX;
	else if (!strcmp(type, "OFDLCK"))
		l->kind = FILE_LOCK_KIND__LOCK_OFD;
	else
		return pr_err("pid %d: fd %d (%s) holds a %s, which can't be checkpointed yet", c->pid, c->fd,
			      c->link, type), -EOPNOTSUPP;
	if (strcmp(mode, "ADVISORY"))
		return pr_err("pid %d: fd %d (%s) holds a %s lock, which can't be checkpointed", c->pid, c->fd,
			      c->link, mode), -EOPNOTSUPP;
	if (strcmp(rw, "READ") && strcmp(rw, "WRITE"))
		return pr_err("pid %d: fd %d (%s): lock of unknown type %s", c->pid, c->fd, c->link, rw), -EINVAL;
	l->write = !strcmp(rw, "WRITE");
	l->start = start;
	if (!strcmp(end, "EOF"))
		l->len = 0;
	else {
		uint64_t last = strtoull(end, NULL, 10);
		if (last < start)
			return pr_err("pid %d: fd %d: lock ends before it starts: '%.60s'", c->pid, c->fd, line), -EINVAL;
		l->len = last - start + 1;
	}
	return 0;
}

static bool is_lease(const char *line)
{
	char type[16];

	return sscanf(line, "%*d: %15s", type) == 1 && !strcmp(type, "LEASE");
}

int locks_dump(const struct fd_dump_ctx *c, FdinfoEntry *e)
{
	for (const char *p = c->fdinfo; (p = fdinfo_value(p, "lock:")); ) {
		FileLockEntry *l, **n;
		int ret;

		/* a lease is no lock: lease.c */
		if (is_lease(p)) {
			if ((ret = lease_dump(c, p, e)))
				return ret;
			if (!(p = strchr(p, '\n')))
				break;
			continue;
		}
		l = malloc(sizeof(*l));
		n = realloc(e->locks, (e->n_locks + 1) * sizeof(*n));
		if (n)
			e->locks = n;
		if (!l || !n) {
			free(l);
			return -ENOMEM;
		}
		file_lock_entry__init(l);
		e->locks[e->n_locks++] = l;
		if ((ret = parse_lock(c, p, l)))
			return ret;
		p = strchr(p, '\n');
		if (!p)
			break;
	}
	return 0;
}

int locks_validate(const FdinfoEntry *e)
{
	for (size_t i = 0; i < e->n_locks; i++) {
		const FileLockEntry *l = e->locks[i];
		if (l->kind < FILE_LOCK_KIND__LOCK_FLOCK || l->kind > FILE_LOCK_KIND__LOCK_OFD ||
		    l->start > INT64_MAX || l->len > INT64_MAX - l->start ||
		    (l->kind == FILE_LOCK_KIND__LOCK_FLOCK && (l->start || l->len)))
			return pr_err("fdinfo: fd %u has a malformed lock record", e->fd), -EINVAL;
	}
	return lease_validate(e);
}

static int take(int fd, const FileLockEntry *l)
{
	struct flock fl = { .l_type = l->write ? F_WRLCK : F_RDLCK, .l_whence = SEEK_SET,
			    .l_start = (off_t)l->start, .l_len = (off_t)l->len };

	switch (l->kind) {
	case FILE_LOCK_KIND__LOCK_FLOCK:
		return flock(fd, (l->write ? LOCK_EX : LOCK_SH) | LOCK_NB);
	case FILE_LOCK_KIND__LOCK_POSIX:
		return fcntl(fd, F_SETLK, &fl);
	default:
		return fcntl(fd, F_OFD_SETLK, &fl);
	}
}

int locks_restore(const FdinfoEntry *e)
{
	for (size_t i = 0; i < e->n_locks; i++) {
		const FileLockEntry *l = e->locks[i];
		char path[64], *target;
		int err;

		if (!take(e->fd, l))
			continue;
		err = errno;
		snprintf(path, sizeof(path), "/proc/self/fd/%u", e->fd);
		target = xreadlink(path);
		errno = err;
		if (err == EAGAIN || err == EWOULDBLOCK || err == EACCES)
			pr_err("fd %u: can't take the %s %s lock on %s again (bytes %lu+%lu): someone else holds a "
			       "conflicting lock", e->fd, kind_name(l->kind), l->write ? "write" : "read",
			       target ? target : "?", (unsigned long)l->start, (unsigned long)l->len);
		else
			pr_perror("fd %u: can't take the %s lock on %s again", e->fd, kind_name(l->kind),
				  target ? target : "?");
		free(target);
		return -err;
	}
	return lease_restore(e);
}

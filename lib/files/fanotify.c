/* fanotify: the group's fanotify_init flags and every mark, each with its masks.
 * fdinfo shows the flags ("fanotify flags:X event-flags:Y") and one line per
 * mark: an inode by device and file handle (turned into a path as inotify's
 * watches are), a mount by its id (hex), a file system by its device.  Restore
 * makes the group again and marks the same objects by path.  Events queued and
 * not read yet are not saved: the restored group starts empty.  A process that
 * waits for the answer to a permission event can't be carried over: refused. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <unistd.h>
#include "files/files.h"
#include "log.h"
#include "util.h"

#define MAX_MARKS (1 << 16)

#ifndef FAN_PRE_ACCESS
#define FAN_PRE_ACCESS 0x00100000
#endif
#define PERM_EVENTS (FAN_OPEN_PERM | FAN_ACCESS_PERM | FAN_OPEN_EXEC_PERM | FAN_PRE_ACCESS)
/* the mark flags fdinfo shows (mflags) */
#define SHOWN_MFLAGS (FAN_MARK_IGNORED_SURV_MODIFY | FAN_MARK_EVICTABLE | FAN_MARK_IGNORE)

static bool fanotify_match(const struct fd_dump_ctx *c)
{
	return !strcmp(c->link, "anon_inode:[fanotify]");
}

static FanotifyMarkEntry *new_mark(FanotifyEntry *fa)
{
	FanotifyMarkEntry *m = malloc(sizeof(*m)), **n;

	if (!m)
		return NULL;
	fanotify_mark_entry__init(m);
	if (!(n = realloc(fa->marks, (fa->n_marks + 1) * sizeof(*n)))) {
		free(m);
		return NULL;
	}
	fa->marks = n;
	fa->marks[fa->n_marks++] = m;
	return m;
}

/* The path (as libcr sees it) and stat of an open file; -EOPNOTSUPP when no path leads to it. */
static int fd_path(const struct fd_dump_ctx *c, int fd, FanotifyMarkEntry *m, const char *what)
{
	char lpath[64];
	struct stat st;

	snprintf(lpath, sizeof(lpath), "/proc/self/fd/%d", fd);
	m->path = xreadlink(lpath);
	if (fstat(fd, &st) || !m->path || m->path[0] != '/' || strstr(m->path, " (deleted)"))
		return pr_err("pid %d: fanotify fd %d: a mark is on %s, which no path leads to (%s)", c->pid, c->fd, what,
			      m->path ? m->path : "?"), -EOPNOTSUPP;
	m->has_dev = m->has_ino = true;
	m->dev = st.st_dev;
	m->ino = st.st_ino;
	return 0;
}

/* "ino:a72405 sdev:fe00000 mflags:40 mask:a ignored_mask:20 fhandle-bytes:8 fhandle-type:1 f_handle:0524..." */
static int inode_mark(const struct fd_dump_ctx *c, FanotifyMarkEntry *m, const char *line)
{
	unsigned sdev, mflags, mask, ign, bytes, type;
	char hex[2 * FILES_MAX_HANDLE + 1], what[96];
	uint64_t ino;
	int fd, ret;

	if (sscanf(line, "ino:%" SCNx64 " sdev:%x mflags:%x mask:%x ignored_mask:%x fhandle-bytes:%x fhandle-type:%x "
		   "f_handle:%256s", &ino, &sdev, &mflags, &mask, &ign, &bytes, &type, hex) != 8 ||
	    bytes > FILES_MAX_HANDLE || strlen(hex) != 2 * bytes)
		return pr_err("pid %d: fanotify fd %d: can't parse the mark '%.80s'", c->pid, c->fd, line), -EINVAL;
	m->kind = FANOTIFY_MARK_KIND__FAN_MARK_KIND_INODE;
	m->mflags = mflags;
	m->mask = mask;
	m->ignored_mask = ign;
	snprintf(what, sizeof(what), "fanotify fd %d's mark on inode %" PRIu64, c->fd, ino);
	if ((fd = files_open_fhandle(c->pid, sdev, bytes, type, hex, what)) < 0)
		return fd;
	snprintf(what, sizeof(what), "inode %" PRIu64, ino);
	ret = fd_path(c, fd, m, what);
	close(fd);
	return ret;
}

/* "mnt_id:1b mflags:0 mask:8 ignored_mask:0": the mount point of that mount in pid's mountinfo. */
static int mount_mark(const struct fd_dump_ctx *c, FanotifyMarkEntry *m, const char *line)
{
	unsigned id, mflags, mask, ign;
	char *info, mnt[4096] = "", path[4200];
	struct statx sx;
	int fd, ret;

	if (sscanf(line, "mnt_id:%x mflags:%x mask:%x ignored_mask:%x", &id, &mflags, &mask, &ign) != 4)
		return pr_err("pid %d: fanotify fd %d: can't parse the mark '%.80s'", c->pid, c->fd, line), -EINVAL;
	m->kind = FANOTIFY_MARK_KIND__FAN_MARK_KIND_MOUNT;
	m->mflags = mflags;
	m->mask = mask;
	m->ignored_mask = ign;
	if (!(info = read_proc(c->pid, "mountinfo", NULL)))
		return pr_perror("can't read /proc/%d/mountinfo", c->pid);
	for (char *l = info; l && *l && !mnt[0]; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		unsigned lid;
		if (sscanf(l, "%u %*d %*u:%*u %*s %4095s", &lid, mnt) != 2 || lid != id)
			mnt[0] = 0;
	}
	free(info);
	/* mount points escape spaces as \040 */
	if (!mnt[0] || strchr(mnt, '\\'))
		return pr_err("pid %d: fanotify fd %d: a mark is on mount %u, which is %s", c->pid, c->fd, id,
			      mnt[0] ? "at a path with special characters" : "not in the process's mount namespace"),
		       -EOPNOTSUPP;
	snprintf(path, sizeof(path), "/proc/%d/root%s", c->pid, mnt);
	if ((fd = open(path, O_PATH | O_CLOEXEC)) < 0)
		return pr_perror("pid %d: fanotify fd %d: can't open mount point %s", c->pid, c->fd, mnt);
	/* another mount over it: the path leads elsewhere */
	if (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &sx) || !(sx.stx_mask & STATX_MNT_ID) || sx.stx_mnt_id != id)
		ret = (pr_err("pid %d: fanotify fd %d: a mark is on mount %u at %s, which another mount covers", c->pid,
			      c->fd, id, mnt), -EOPNOTSUPP);
	else
		ret = fd_path(c, fd, m, mnt);
	close(fd);
	return ret;
}

/* "sdev:fe00000 mflags:0 mask:200 ignored_mask:0": the root of a mount of that file system. */
static int sb_mark(const struct fd_dump_ctx *c, FanotifyMarkEntry *m, const char *line)
{
	unsigned sdev, mflags, mask, ign;
	char what[64];
	int fd, ret;

	if (sscanf(line, "sdev:%x mflags:%x mask:%x ignored_mask:%x", &sdev, &mflags, &mask, &ign) != 4)
		return pr_err("pid %d: fanotify fd %d: can't parse the mark '%.80s'", c->pid, c->fd, line), -EINVAL;
	m->kind = FANOTIFY_MARK_KIND__FAN_MARK_KIND_SB;
	m->mflags = mflags;
	m->mask = mask;
	m->ignored_mask = ign;
	if ((fd = files_open_mount_of(c->pid, sdev)) < 0)
		return fd;
	snprintf(what, sizeof(what), "file system %u:%u", sdev >> 20, sdev & 0xfffff);
	ret = fd_path(c, fd, m, what);
	close(fd);
	return ret;
}

/* A process in the middle of an access that a permission event holds (it waits,
 * killable, in fanotify_get_response, which the kernel may inline into
 * fanotify_handle_event, for the listener's answer): its pid, or 0.  (Not any
 * fanotify_ function: a listener blocked in read is no waiter.)
 * Events that wait can't be carried over, and which group holds one is not shown
 * anywhere: any waiter refuses the dump of a group that asks for permission events. */
static pid_t perm_waiter(void)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	pid_t found = 0;

	if (!d)
		return 0;
	while (!found && (de = readdir(d))) {
		pid_t pid = atoi(de->d_name);
		char *w;

		if (pid <= 0 || !(w = read_proc(pid, "wchan", NULL)))
			continue;
		if (!strcmp(w, "fanotify_handle_event") || !strcmp(w, "fanotify_get_response"))
			found = pid;
		free(w);
	}
	closedir(d);
	cr_error_reset();   /* processes that went away meanwhile are no error */
	return found;
}

static int fanotify_dump(const struct fd_dump_ctx *c, FdinfoEntry *e)
{
	const char *p = fdinfo_value(c->fdinfo, "fanotify flags:");
	FanotifyEntry *fa;
	bool perm = false;
	pid_t w;
	int ret;

	if (!(e->fanotify = fa = malloc(sizeof(*fa))))
		return -ENOMEM;
	fanotify_entry__init(fa);
	if (!p || sscanf(p, "%x event-flags:%x", &fa->init_flags, &fa->event_flags) != 2)
		return pr_err("pid %d: fanotify fd %d: can't parse its flags in fdinfo", c->pid, c->fd), -EINVAL;
	files_dump_mark_fanotify_lease();
	for (p = c->fdinfo; (p = fdinfo_value(p, "fanotify")); p = strchr(p, '\n')) {
		FanotifyMarkEntry *m;

		if (!strncmp(p, "flags:", 6))
			continue;
		if (!(m = new_mark(fa)))
			return -ENOMEM;
		if (!strncmp(p, "ino:", 4))
			ret = inode_mark(c, m, p);
		else if (!strncmp(p, "mnt_id:", 7))
			ret = mount_mark(c, m, p);
		else if (!strncmp(p, "sdev:", 5))
			ret = sb_mark(c, m, p);
		else
			ret = (pr_err("pid %d: fanotify fd %d has a mark of a kind libcr doesn't know ('%.*s'), which "
				      "can't be checkpointed yet", c->pid, c->fd, (int)strcspn(p, "\n"), p), -EOPNOTSUPP);
		if (ret)
			return ret;
		perm |= (m->mask & PERM_EVENTS) != 0;
	}
	if (perm && (w = perm_waiter()))
		return pr_err("pid %d: fanotify fd %d asks for permission events, and process %d waits for the answer to "
			      "one: that can't be checkpointed (try again once it is answered)", c->pid, c->fd, w),
		       -EAGAIN;
	return 0;
}

/* Add the mark's mask, then its ignore mask, as fanotify_mark took them. */
static int mark_again(int fd, const FdinfoEntry *e, const FanotifyMarkEntry *m)
{
	unsigned obj = m->kind == FANOTIFY_MARK_KIND__FAN_MARK_KIND_MOUNT ? FAN_MARK_MOUNT
		     : m->kind == FANOTIFY_MARK_KIND__FAN_MARK_KIND_SB	  ? FAN_MARK_FILESYSTEM
									  : FAN_MARK_DONT_FOLLOW;
	unsigned flags = FAN_MARK_ADD | obj | (m->mflags & FAN_MARK_EVICTABLE);
	unsigned ign = (m->mflags & FAN_MARK_IGNORE ? FAN_MARK_IGNORE : FAN_MARK_IGNORED_MASK) |
		       (m->mflags & FAN_MARK_IGNORED_SURV_MODIFY);
	struct statx sx;

	/* a mount or file system mark on a path that is no mount root any more would
	 * mark the mount (or file system) around it: someone else's */
	if (obj != FAN_MARK_DONT_FOLLOW && !statx(AT_FDCWD, m->path, AT_SYMLINK_NOFOLLOW, 0, &sx) &&
	    (sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) && !(sx.stx_attributes & STATX_ATTR_MOUNT_ROOT))
		return pr_err("fanotify fd %u: %s, where a %s mark was, is no mount point any more", e->fd, m->path,
			      obj == FAN_MARK_MOUNT ? "mount" : "file system"), -ENOENT;
	if (m->mask && fanotify_mark(fd, flags, m->mask, AT_FDCWD, m->path))
		return pr_perror("fanotify fd %u: can't mark %s again (mask %#" PRIx64 ")", e->fd, m->path, m->mask);
	if (m->ignored_mask && fanotify_mark(fd, flags | ign, m->ignored_mask, AT_FDCWD, m->path))
		return pr_perror("fanotify fd %u: can't mark %s again (ignored mask %#" PRIx64 ")", e->fd, m->path,
				 m->ignored_mask);
	return 0;
}

static int fanotify_restore(struct files_image *fi, const FdinfoEntry *e, bool *inherited)
{
	const FanotifyEntry *fa = e->fanotify;
	int fd = fanotify_init(fa->init_flags, fa->event_flags), ret = 0;

	(void)fi;
	*inherited = false;
	if (fd < 0)
		return pr_perror("can't make the fanotify of fd %u again (fanotify_init flags %#x, event flags %#x)", e->fd,
				 fa->init_flags, fa->event_flags);
	for (size_t i = 0; i < fa->n_marks && !ret; i++)
		ret = mark_again(fd, e, fa->marks[i]);
	if (!ret)
		ret = files_set_fl(fd, e->flags);
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

static int fanotify_validate(const FdinfoEntry *e)
{
	const FanotifyEntry *fa = e->fanotify;

	if (!fa)
		return pr_err("fdinfo: fd %u is a fanotify without its flags and marks", e->fd), -EINVAL;
	if (fa->n_marks > MAX_MARKS)
		return pr_err("fdinfo: fanotify fd %u has %zu marks", e->fd, fa->n_marks), -EINVAL;
	for (size_t i = 0; i < fa->n_marks; i++) {
		const FanotifyMarkEntry *m = fa->marks[i];

		if (m->kind < FANOTIFY_MARK_KIND__FAN_MARK_KIND_INODE || m->kind > FANOTIFY_MARK_KIND__FAN_MARK_KIND_SB ||
		    !path_is_clean(m->path) || (m->mflags & ~SHOWN_MFLAGS) || (m->mask >> 32) ||
		    (m->ignored_mask >> 32) || (!m->mask && !m->ignored_mask))
			return pr_err("fdinfo: fanotify fd %u: mark %zu has no absolute path, an unknown kind or flags, "
				      "or no mask", e->fd, i), -EINVAL;
	}
	return 0;
}

const struct fd_ops fanotify_fd_ops = {
	.kind = FD_KIND__FD_FANOTIFY, .name = "fanotify",
	.match = fanotify_match, .dump = fanotify_dump, .restore = fanotify_restore, .validate = fanotify_validate,
};

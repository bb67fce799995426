/* inotify: the watches, each with its wd and mask.  fdinfo names a watched
 * inode by device and file handle only; the dump turns the handle into a path
 * (open_by_handle_at through a mount of that device), the restore adds the
 * watch at that path again.  Watch descriptors come from a cyclic counter, so
 * adding and removing a watch moves it on until the wd is the one saved. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "files/files.h"
#include "log.h"
#include "util.h"

#define MAX_WD_STEPS (1 << 16)   /* how far restore walks the wd counter */

static bool inotify_match(const struct fd_dump_ctx *c)
{
	return !strcmp(c->link, "anon_inode:inotify");
}

int files_open_mount_of(pid_t pid, unsigned kdev)
{
	char *info = read_proc(pid, "mountinfo", NULL), path[4200];
	unsigned maj, min;
	int fd = -1;

	if (!info)
		return pr_perror("can't read /proc/%d/mountinfo", pid);
	for (char *l = info; l && *l && fd < 0; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		char mnt[4096];
		if (sscanf(l, "%*d %*d %u:%u %*s %4095s", &maj, &min, mnt) != 3 || maj != kdev >> 20 ||
		    min != (kdev & 0xfffff))
			continue;
		/* mount points escape spaces as \040: take the first mount without any */
		if (strchr(mnt, '\\'))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/root%s", pid, mnt);
		fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);   /* O_PATH: open_by_handle_at says EBADF */
	}
	free(info);
	if (fd < 0)
		return pr_err("pid %d: no mount of device %u:%u to resolve a watch or mark through", pid, kdev >> 20,
			      kdev & 0xfffff), -ENOENT;
	return fd;
}

int files_open_fhandle(pid_t pid, unsigned sdev, unsigned bytes, unsigned type, const char *hex, const char *what)
{
	union { struct file_handle h; char buf[sizeof(struct file_handle) + FILES_MAX_HANDLE]; } fh;
	int mfd, fd;

	if (bytes > FILES_MAX_HANDLE || strlen(hex) != 2 * bytes)
		return errno = EINVAL, -EINVAL;
	fh.h.handle_bytes = bytes;
	fh.h.handle_type = type;
	for (unsigned i = 0; i < bytes; i++)
		sscanf(hex + 2 * i, "%2hhx", (unsigned char *)&fh.h.f_handle[i]);
	if ((mfd = files_open_mount_of(pid, sdev)) < 0)
		return mfd;
	fd = open_by_handle_at(mfd, &fh.h, O_PATH | O_CLOEXEC);
	close(mfd);
	return fd < 0 ? pr_perror("pid %d: can't open the file of %s", pid, what) : fd;
}

/* "wd:1 ino:3c51a sdev:fe00000 mask:300 ignored_mask:0 fhandle-bytes:8 fhandle-type:1 f_handle:1ac5..." */
static int add_watch(const struct fd_dump_ctx *c, InotifyEntry *in, const char *line)
{
	InotifyWatchEntry *w = malloc(sizeof(*w)), **n;
	unsigned wd, sdev, mask, ign, bytes, type;
	char hex[2 * FILES_MAX_HANDLE + 1], lpath[96];
	uint64_t ino;
	struct stat st;
	int fd;

	if (!w)
		return -ENOMEM;
	inotify_watch_entry__init(w);
	if (!(n = realloc(in->watches, (in->n_watches + 1) * sizeof(*n)))) {
		free(w);
		return -ENOMEM;
	}
	in->watches = n;
	in->watches[in->n_watches++] = w;
	if (sscanf(line, "wd:%x ino:%" SCNx64 " sdev:%x mask:%x ignored_mask:%x fhandle-bytes:%x fhandle-type:%x "
		   "f_handle:%256s", &wd, &ino, &sdev, &mask, &ign, &bytes, &type, hex) != 8 ||
	    bytes > FILES_MAX_HANDLE || strlen(hex) != 2 * bytes)
		return pr_err("pid %d: inotify fd %d: can't parse the watch '%.80s'", c->pid, c->fd, line), -EINVAL;
	w->wd = wd;
	w->mask = mask;
	w->ignored_mask = ign;
	snprintf(lpath, sizeof(lpath), "inotify fd %d's watch %u (inode %" PRIu64 ")", c->fd, wd, ino);
	if ((fd = files_open_fhandle(c->pid, sdev, bytes, type, hex, lpath)) < 0)
		return fd;
	snprintf(lpath, sizeof(lpath), "/proc/self/fd/%d", fd);
	w->path = xreadlink(lpath);
	if (fstat(fd, &st) || !w->path || w->path[0] != '/' || strstr(w->path, " (deleted)")) {
		close(fd);
		return pr_err("pid %d: inotify fd %d: watch %u is on inode %" PRIu64 ", which no path leads to (%s)",
			      c->pid, c->fd, wd, ino, w->path ? w->path : "?"), -EOPNOTSUPP;
	}
	close(fd);
	w->dev = st.st_dev;
	w->ino = st.st_ino;
	return 0;
}

static int cmp_wd(const void *a, const void *b)
{
	uint32_t x = (*(InotifyWatchEntry *const *)a)->wd, y = (*(InotifyWatchEntry *const *)b)->wd;

	return x < y ? -1 : x > y;
}

static int inotify_dump(const struct fd_dump_ctx *c, FdinfoEntry *e)
{
	const char *p = c->fdinfo;
	int ret;

	if (!(e->inotify = malloc(sizeof(*e->inotify))))
		return -ENOMEM;
	inotify_entry__init(e->inotify);
	while ((p = fdinfo_value(p, "inotify"))) {
		if ((ret = add_watch(c, e->inotify, p)))
			return ret;
		if (!(p = strchr(p, '\n')))
			break;
	}
	/* an inotify without watches has no array: qsort(NULL, 0) is undefined */
	if (e->inotify->n_watches)
		qsort(e->inotify->watches, e->inotify->n_watches, sizeof(*e->inotify->watches), cmp_wd);
	return 0;
}

/* Add the watch, stepping the wd counter on until it gives the saved wd. */
static int watch_again(int fd, const FdinfoEntry *e, const InotifyWatchEntry *w)
{
	for (int step = 0; step < MAX_WD_STEPS; step++) {
		int wd = inotify_add_watch(fd, w->path, w->mask | IN_DONT_FOLLOW);

		if (wd < 0)
			return pr_perror("inotify fd %u: can't watch %s again", e->fd, w->path);
		if ((uint32_t)wd == w->wd)
			return 0;
		if ((uint32_t)wd > w->wd)
			break;
		inotify_rm_watch(fd, wd);
	}
	return pr_err("inotify fd %u: can't get watch descriptor %u back for %s", e->fd, w->wd, w->path), -EBUSY;
}

static int inotify_restore(struct files_image *fi, const FdinfoEntry *e, bool *inherited)
{
	char buf[4096];
	int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK), ret = 0;

	(void)fi;
	*inherited = false;
	if (fd < 0)
		return pr_perror("can't create the inotify of fd %u", e->fd);
	for (size_t i = 0; i < e->inotify->n_watches && !ret; i++)
		ret = watch_again(fd, e, e->inotify->watches[i]);
	/* drop what the steps queued (IN_IGNORED of each removed watch) */
	while (!ret && read(fd, buf, sizeof(buf)) > 0)
		;
	if (!ret)
		ret = files_set_fl(fd, e->flags);
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

static int inotify_validate(const FdinfoEntry *e)
{
	const InotifyEntry *in = e->inotify;

	if (!in)
		return pr_err("fdinfo: fd %u is an inotify without its watches", e->fd), -EINVAL;
	for (size_t i = 0; i < in->n_watches; i++)
		if (!path_is_clean(in->watches[i]->path) || !in->watches[i]->wd ||
		    in->watches[i]->wd > MAX_WD_STEPS || (i && in->watches[i - 1]->wd >= in->watches[i]->wd))
			return pr_err("fdinfo: inotify fd %u: watch %zu has no absolute path or a bad wd", e->fd, i),
			       -EINVAL;
	return 0;
}

const struct fd_ops inotify_fd_ops = {
	.kind = FD_KIND__FD_INOTIFY, .name = "inotify",
	.match = inotify_match, .dump = inotify_dump, .restore = inotify_restore, .validate = inotify_validate,
};

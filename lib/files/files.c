/* The fd table: walk /proc/pid/fd on dump, rebuild it exactly on restore. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "files/files.h"
#include "image/image.h"
#include "log.h"
#include "proc/proc.h"
#include "util.h"

/* Order matters: the first whose match() says yes owns the fd. */
static const struct fd_ops *const fd_kinds[] = { &reg_fd_ops, &tty_fd_ops, &chr_fd_ops, &pipe_fd_ops };

static const struct fd_ops *ops_by_kind(FdKind kind)
{
	for (size_t i = 0; i < ARRAY_SIZE(fd_kinds); i++)
		if (fd_kinds[i]->kind == kind)
			return fd_kinds[i];
	return NULL;
}

/* A name for a file we can't dump: "socket", "eventfd", "named pipe", ... */
static void unsupported_kind(const struct fd_dump_ctx *c, char *buf, size_t len)
{
	const char *l = c->link;

	if (!strncmp(l, "anon_inode:", 11)) {
		l += 11;
		if (*l == '[')
			l++;
		snprintf(buf, len, "%.*s", (int)strcspn(l, "]"), l);
	} else if (!strncmp(l, "socket:", 7))
		snprintf(buf, len, "socket");
	else if (S_ISFIFO(c->st.st_mode))
		snprintf(buf, len, "named pipe (FIFO)");
	else if (S_ISCHR(c->st.st_mode))
		snprintf(buf, len, "character device");
	else if (S_ISBLK(c->st.st_mode))
		snprintf(buf, len, "block device");
	else
		snprintf(buf, len, "file of an unknown kind");
}

static int dump_one(pid_t pid, int fd, bool shell_job, struct img *img)
{
	FdinfoEntry e = FDINFO_ENTRY__INIT;
	struct fd_dump_ctx c = { .pid = pid, .fd = fd, .shell_job = shell_job };
	char path[64], *link, kind[64];
	const struct fd_ops *ops = NULL;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	link = xreadlink(path);
	if (!link)
		return pr_perror("can't read %s", path);
	c.link = link;
	if (stat(path, &c.st)) {
		ret = pr_perror("can't stat %s (%s)", path, link);
		goto out;
	}
	if ((ret = proc_parse_fdinfo(pid, fd, &c.pos, &c.flags)))
		goto out;
	for (size_t i = 0; i < ARRAY_SIZE(fd_kinds) && !ops; i++)
		if (fd_kinds[i]->match(&c))
			ops = fd_kinds[i];
	if (!ops) {
		unsupported_kind(&c, kind, sizeof(kind));
		pr_err("pid %d: fd %d is a %s (%s), which can't be checkpointed yet", pid, fd, kind, link);
		ret = -EOPNOTSUPP;
		goto out;
	}
	e.fd = fd;
	e.kind = ops->kind;
	e.flags = c.flags & ~O_CLOEXEC;
	e.cloexec = c.flags & O_CLOEXEC;
	if (!(ret = ops->dump(&c, &e)))
		ret = img_write_msg(img, &e.base);
	/* free what dump allocated: the entry is on our stack */
	if (e.reg) {
		free(e.reg->path);
		free(e.reg);
	}
	free(e.pipe);
	free(e.tty_path);
out:
	free(link);
	return ret;
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

int files_dump(pid_t pid, pid_t img_id, struct img_dir *dir, bool shell_job)
{
	char path[64];
	struct dirent *de;
	int *fds = NULL, nr = 0, cap = 0, ret = 0;
	struct img *img;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d)
		return pr_perror("can't open %s", path);
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (nr == cap) {
			int *n = realloc(fds, (cap = cap ? cap * 2 : 64) * sizeof(int));
			if (!n) {
				ret = -ENOMEM;
				break;
			}
			fds = n;
		}
		fds[nr++] = atoi(de->d_name);
	}
	closedir(d);
	if (ret)
		goto out;
	qsort(fds, nr, sizeof(int), cmp_int);
	img = img_create(dir, IMG_FDINFO, img_id);
	if (!img) {
		ret = -EIO;
		goto out;
	}
	for (int i = 0; i < nr && !ret; i++)
		ret = dump_one(pid, fds[i], shell_job, img);
	if (ret)
		img_close(img);
	else
		ret = img_close_write(img);
out:
	free(fds);
	return ret;
}

int files_load(struct img_dir *dir, pid_t pid, FdinfoEntry ***fdsp, size_t *nrp)
{
	struct img *img = img_open(dir, IMG_FDINFO, pid);
	FdinfoEntry **fds = NULL, *e;
	size_t nr = 0;
	int ret;

	if (!img)
		return -ENOENT;
	while ((ret = img_read_msg(img, &fdinfo_entry__descriptor, (ProtobufCMessage **)&e)) > 0) {
		const struct fd_ops *ops = ops_by_kind(e->kind);
		FdinfoEntry **n = realloc(fds, (nr + 1) * sizeof(*fds));

		if (!n) {
			img_free_msg(&e->base);
			ret = -ENOMEM;
			break;
		}
		fds = n;
		fds[nr++] = e;
		if (!ops) {
			pr_err("%s: fd %u has unknown kind %d", img->name, e->fd, e->kind);
			ret = -EINVAL;
			break;
		}
		if (e->fd > 1 << 20 || (nr > 1 && fds[nr - 2]->fd >= e->fd)) {
			pr_err("%s: fd numbers out of range or out of order (fd %u)", img->name, e->fd);
			ret = -EINVAL;
			break;
		}
		if ((ret = ops->validate(e)))
			break;
	}
	img_close(img);
	if (ret < 0) {
		files_free(fds, nr);
		return ret;
	}
	*fdsp = fds;
	*nrp = nr;
	return 0;
}

void files_free(FdinfoEntry **fds, size_t nr)
{
	for (size_t i = 0; i < nr; i++)
		img_free_msg(&fds[i]->base);
	free(fds);
}

static int close_others(FdinfoEntry **fds, size_t nr, int keep_fd)
{
	DIR *d = opendir("/proc/self/fd");
	int dfd, closing[1024], n = 0;
	struct dirent *de;

	if (!d)
		return pr_perror("can't list /proc/self/fd");
	dfd = dirfd(d);
	while ((de = readdir(d))) {
		int fd = atoi(de->d_name);
		bool wanted = fd == keep_fd || fd == dfd || de->d_name[0] == '.';

		for (size_t i = 0; i < nr && !wanted; i++)
			wanted = (int)fds[i]->fd == fd;
		if (!wanted && n < (int)ARRAY_SIZE(closing))
			closing[n++] = fd;
	}
	closedir(d);
	for (int i = 0; i < n; i++)
		close(closing[i]);
	return 0;
}

int files_restore(FdinfoEntry **fds, size_t nr, bool shell_job, int *keep_fd)
{
	int top = nr ? (int)fds[nr - 1]->fd + 1 : 3;
	int moved = fcntl(*keep_fd, F_DUPFD_CLOEXEC, top > 3 ? top : 3);

	if (moved < 0)
		return pr_perror("can't move the control fd above %d", top);
	close(*keep_fd);
	*keep_fd = moved;
	for (size_t i = 0; i < nr; i++) {
		const FdinfoEntry *e = fds[i];
		bool inherited = false;
		int fd = ops_by_kind(e->kind)->restore(e, shell_job, &inherited);

		if (fd < 0)
			return fd;
		if (fd != (int)e->fd) {
			if (dup2(fd, e->fd) < 0)
				return pr_perror("can't install fd %u", e->fd);
			close(fd);
		}
		if (fcntl(e->fd, F_SETFD, e->cloexec ? FD_CLOEXEC : 0))
			return pr_perror("can't set close-on-exec of fd %u", e->fd);
	}
	return close_others(fds, nr, *keep_fd);
}

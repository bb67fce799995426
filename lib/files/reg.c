/* Regular files and directories: reopened by path at their position and flags,
 * after checking that the file is still the one the dump saw (size, mtime).
 * A file unlinked while open, or replaced by another at its path, is saved
 * whole as a ghost (ghost.c) and reopened from the recreated copy.  O_PATH fds
 * of any file type are reopened the same way. */
#include <errno.h>
#include <linux/magic.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include "files/files.h"
#include "log.h"
#include "util.h"
#include "ns/ns.h"

#define DELETED " (deleted)"

static bool reg_match(const struct fd_dump_ctx *c)
{
	if (c->flags & O_PATH)
		return c->link[0] == '/';
	return S_ISREG(c->st.st_mode) || S_ISDIR(c->st.st_mode);
}

/* Is the open file still reachable at its path?  If not, its content must be saved. */
static bool needs_ghost(const struct fd_dump_ctx *c, char *path)
{
	size_t len = strlen(path), dl = strlen(DELETED);
	struct stat st;

	if (len > dl && !strcmp(path + len - dl, DELETED)) {
		path[len - dl] = 0;
		return true;
	}
	return ns_stat_path(c->pid, path, &st) || st.st_dev != c->st.st_dev || st.st_ino != c->st.st_ino;
}

static int reg_dump(const struct fd_dump_ctx *c, FdinfoEntry *e)
{
	RegFileEntry *r = malloc(sizeof(*r));
	char src[64];

	if (!r)
		return -ENOMEM;
	reg_file_entry__init(r);
	e->reg = r;
	if (c->link[0] != '/')
		return pr_err("pid %d: fd %d is a file with no path (%s), which can't be checkpointed", c->pid, c->fd,
			      c->link), -EOPNOTSUPP;
	/* A file on a mount of another namespace (opened before the process made its
	 * own, say) is fine if its path leads to it in the process's tree too; if not,
	 * saving it whole would bring it back at a path of the wrong tree. */
	int in_tree = ns_fd_in_tree(c->pid, c->fdinfo);
	if (in_tree < 0)
		return in_tree;
	if (!(r->path = strdup(c->link)))
		return -ENOMEM;
	/* on a mount of the tree that another covers: reopened below that mount */
	uint32_t mnt_id;
	char *rel = NULL;
	/* (an unlinked file is no covered one: it is saved whole, a ghost) */
	int covered = in_tree && c->st.st_nlink && needs_ghost(c, r->path)
			      ? ns_fd_covered(c->pid, c->fdinfo, r->path, &mnt_id, &rel) : 0;
	if (covered < 0)
		return covered;
	if (covered) {
		r->has_mnt_id = true;
		r->mnt_id = mnt_id;
		r->mnt_rel = rel;
	}
	if (!in_tree && needs_ghost(c, r->path))
		return pr_err("pid %d: fd %d is %s, on a mount outside the process's own mount namespace: "
			      "the restored tree could not name it; close it, or open it inside the tree",
			      c->pid, c->fd, c->link), -EOPNOTSUPP;
	r->pos = c->pos;
	r->size = c->st.st_size;
	r->mode = c->st.st_mode;
	r->has_mtime_ns = r->has_dev = r->has_ino = true;
	r->mtime_ns = stat_mtime_ns(&c->st);
	r->dev = c->st.st_dev;
	r->ino = c->st.st_ino;
	if (covered || !needs_ghost(c, r->path))
		return 0;
	if (!S_ISREG(c->st.st_mode))
		return pr_err("pid %d: fd %d is %s, which was removed while open: only regular files can be "
			      "saved whole", c->pid, c->fd, c->link), -EOPNOTSUPP;
	snprintf(src, sizeof(src), "/proc/%d/fd/%d", c->pid, c->fd);
	r->has_ghost_id = true;
	return ghost_dump_file(c->ghosts, src, &c->st, GHOST_KIND__GHOST_FILE, r->path, &r->ghost_id);
}

/* The file at the path must be the one the dump saw: same size, same mtime
 * (to the second where the file came back through an archive). */
static int check_unchanged(const FdinfoEntry *e, const struct stat *st)
{
	const RegFileEntry *r = e->reg;
	char what[256] = "";
	size_t n = 0;

	if ((uint64_t)st->st_size != r->size)
		n += snprintf(what + n, sizeof(what) - n, "size %lu, now %lld", (unsigned long)r->size,
			      (long long)st->st_size);
	if (r->has_mtime_ns && !mtime_unchanged(r->mtime_ns, st))
		snprintf(what + n, sizeof(what) - n, "%smtime %lu.%09lu, now %lld.%09ld", n ? "; " : "",
			 (unsigned long)(r->mtime_ns / 1000000000ULL), (unsigned long)(r->mtime_ns % 1000000000ULL),
			 (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
	if (!what[0])
		return 0;
	return pr_err("fd %u: %s changed since the dump (%s): restore with --skip-file-checks to use it as it is",
		      e->fd, r->path, what), -ESTALE;
}

/* A file whose contents the kernel makes as they are read (/proc, /sys): its size
 * and mtime are the inode's, made anew with it (node keeps /proc/self/maps open),
 * and say nothing of a change. */
static bool generated_fs(int fd)
{
	struct statfs sf;

	return !fstatfs(fd, &sf) && (sf.f_type == PROC_SUPER_MAGIC || sf.f_type == SYSFS_MAGIC);
}

static int reg_restore(struct files_image *fi, const FdinfoEntry *e, bool *inherited)
{
	const RegFileEntry *r = e->reg;
	/* O_CREAT/O_TRUNC/O_EXCL acted at the original open; never again */
	int flags = (e->flags & ~(O_CREAT | O_TRUNC | O_EXCL | O_CLOEXEC)) | O_NOCTTY | O_CLOEXEC;
	struct stat st;
	int fd, ret;

	/* made with O_TMPFILE (MariaDB's temp files): its ghost is a file, not a directory */
	if ((flags & O_TMPFILE) == O_TMPFILE)
		flags &= ~O_TMPFILE;

	*inherited = false;
	if (r->has_ghost_id) {
		int g = ghost_fd(fi, r->ghost_id, r->path);
		if (g < 0)
			return g;
		fd = reopen_fd(g, flags);
	} else if (r->has_mnt_id) {
		/* covered: the O_PATH fd opened before its mount was covered, opened anew */
		int kept = mnt_restored_file(r->mnt_id, r->mnt_rel);
		if (kept < 0)
			return pr_err("fd %u: %s was under mount %u, which the restored tree lacks", e->fd, r->path,
				      r->mnt_id), -ENOENT;
		fd = reopen_fd(kept, flags);
	} else
		fd = open(r->path, flags);
	if (fd < 0)
		return pr_perror("can't reopen %s for fd %u", r->path, e->fd);
	if (fstat(fd, &st) || (st.st_mode & S_IFMT) != (r->mode & S_IFMT)) {
		close(fd);
		return pr_err("fd %u: %s is no longer the same kind of file", e->fd, r->path), -ESTALE;
	}
	if (S_ISREG(st.st_mode) && !r->has_ghost_id && !fi->skip_checks && !generated_fs(fd) &&
	    (ret = check_unchanged(e, &st))) {
		close(fd);
		return ret;
	}
	if (!(e->flags & O_PATH) && lseek(fd, r->pos, SEEK_SET) < 0 && S_ISREG(st.st_mode)) {
		ret = pr_perror("can't seek %s to %lu", r->path, (unsigned long)r->pos);
		close(fd);
		return ret;
	}
	return fd;
}

static int reg_validate(const FdinfoEntry *e)
{
	if (!e->reg || !path_is_clean(e->reg->path))
		return pr_err("fdinfo: fd %u has no absolute file path, or one with . or ..", e->fd), -EINVAL;
	char rel[4200];
	if (e->reg->has_mnt_id && (!e->reg->mnt_rel || *e->reg->mnt_rel == '/' ||
				   (snprintf(rel, sizeof(rel), "/%s", e->reg->mnt_rel), !path_is_clean(rel))))
		return pr_err("fdinfo: fd %u: a path below a mount that is absolute or has . or ..", e->fd), -EINVAL;
	if (e->reg->has_ghost_id && !S_ISREG(e->reg->mode))
		return pr_err("fdinfo: fd %u: only a regular file can be a ghost", e->fd), -EINVAL;
	return 0;
}

const struct fd_ops reg_fd_ops = {
	.kind = FD_KIND__FD_REG, .name = "regular file",
	.match = reg_match, .dump = reg_dump, .restore = reg_restore, .validate = reg_validate,
};

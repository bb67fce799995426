/* The files of a tmpfs mount: saved at dump (walked in a clone of that mount
 * alone, made in the tree's mount namespace: the files under the mounts on it
 * are saved too), made again in the new tmpfs at restore, before anything is
 * mounted on it.  Directories, regular files with their bytes, symlinks,
 * device nodes, fifos and sockets, with mode, owner and times; hard links come
 * back as separate files. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sched.h>
#include <unistd.h>
#include "image/image.h"
#include "log.h"
#include "ns/mnt.h"
#include "ns/userns.h"
#include "util.h"

#define TMPFS_FILE_MAX (32u << 20)   /* a file we keep in one record */

struct walk {
	struct img *img;
	uint32_t mnt_id;
	const char *mp;
};

static uint64_t ts_ns(struct statx_timestamp t)
{
	return (uint64_t)t.tv_sec * 1000000000ull + t.tv_nsec;
}

static int save_one(struct walk *w, int dfd, const char *name, const char *rel, const struct statx *st, bool covered)
{
	TmpfsEntry e = TMPFS_ENTRY__INIT;
	char target[4096];
	void *data = NULL;
	int ret;

	e.path = (char *)rel;
	e.mode = st->stx_mode;
	e.uid = st->stx_uid;
	e.gid = st->stx_gid;
	e.mtime_ns = ts_ns(st->stx_mtime);
	e.atime_ns = ts_ns(st->stx_atime);
	if (covered) {
		/* a mount point inside: only the kind of thing it is (what is under stays hidden) */
	} else if (S_ISCHR(st->stx_mode) || S_ISBLK(st->stx_mode)) {
		e.has_rdev = true;
		e.rdev = makedev(st->stx_rdev_major, st->stx_rdev_minor);
	} else if (S_ISLNK(st->stx_mode)) {
		ssize_t n = readlinkat(dfd, name, target, sizeof(target) - 1);
		if (n < 0)
			return pr_perror("can't read the symlink %s%s%s", w->mp, *rel ? "/" : "", rel);
		target[n] = 0;
		e.target = target;
	} else if (S_ISREG(st->stx_mode)) {
		if (st->stx_size > TMPFS_FILE_MAX)
			return pr_err("tmpfs %s: file %s is %llu bytes; files over %u bytes are not saved", w->mp, rel,
				      (unsigned long long)st->stx_size, TMPFS_FILE_MAX), -EFBIG;
		int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
		if (fd < 0 && errno == EPERM)
			fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return pr_perror("can't read %s/%s of the tree's tmpfs", w->mp, rel);
		data = malloc(st->stx_size + 1);
		ret = data ? read_all(fd, data, st->stx_size) : -ENOMEM;
		close(fd);
		if (ret) {
			free(data);
			return pr_err("can't read %s/%s of the tree's tmpfs: %s", w->mp, rel, strerror(-ret)), ret;
		}
		e.has_data = true;
		e.data.data = data;
		e.data.len = st->stx_size;
	}
	ret = img_write_msg(w->img, &e.base);
	free(data);
	return ret;
}

static int walk_dir(struct walk *w, int dfd, const char *rel)
{
	DIR *d;
	struct dirent *de;
	int fd = dup(dfd), ret = 0;

	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return pr_perror("can't list %s/%s of the tree's tmpfs", w->mp, rel);
	}
	while (!ret && (errno = 0, de = readdir(d))) {
		struct statx st;
		char *sub;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (statx(dfd, de->d_name, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS | STATX_MNT_ID, &st)) {
			ret = pr_perror("can't stat %s/%s/%s of the tree's tmpfs", w->mp, rel, de->d_name);
			break;
		}
		if (asprintf(&sub, "%s%s%s", rel, *rel ? "/" : "", de->d_name) < 0) {
			ret = -ENOMEM;
			break;
		}
		bool covered = st.stx_mnt_id != w->mnt_id;
		ret = save_one(w, dfd, de->d_name, sub, &st, covered);
		if (!ret && !covered && S_ISDIR(st.stx_mode)) {
			int child = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			ret = child < 0 ? pr_perror("can't open %s/%s of the tree's tmpfs", w->mp, sub)
					: walk_dir(w, child, sub);
			if (child >= 0)
				close(child);
		}
		free(sub);
	}
	if (!ret && errno)
		ret = pr_perror("can't list %s/%s of the tree's tmpfs", w->mp, rel);
	closedir(d);
	return ret;
}

/* The mount mnt of pid's mount namespace alone, cloned (OPEN_TREE_CLONE, none of
 * the mounts on it): what they cover shows.  A child joins the namespace, at
 * the task's root, and sends the clone back.  -EBUSY if another mount covers
 * mnt's own mount point (a stack: the path leads to the top one). */
static int clone_mount(pid_t pid, const MntEntry *mnt)
{
	int sk[2], fd = -1, status;
	char c;
	pid_t child;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sk))
		return pr_perror("can't make a socket pair");
	if ((child = fork()) == 0) {
		char path[64];
		struct statx st;
		int ns, root, code = 0;

		snprintf(path, sizeof(path), "/proc/%d/ns/mnt", pid);
		ns = open(path, O_RDONLY | O_CLOEXEC);
		snprintf(path, sizeof(path), "/proc/%d/root", pid);
		root = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (ns < 0 || root < 0 || setns(ns, CLONE_NEWNS) || fchdir(root) || chroot("."))
			_exit(1);
		if (statx(AT_FDCWD, mnt->mountpoint, 0, STATX_MNT_ID, &st) || st.stx_mnt_id != mnt->mnt_id)
			code = 2;
		else if ((fd = syscall(SYS_open_tree, AT_FDCWD, mnt->mountpoint, OPEN_TREE_CLONE | O_CLOEXEC)) < 0)
			_exit(1);
		_exit(send_fds(sk[1], "m", 1, &fd, code ? 0 : 1, NULL, 0, 0) == 1 ? code : 1);
	}
	close(sk[1]);
	if (child > 0 && recv_fd(sk[0], &c, 1, &fd) != 1)
		fd = -1;
	close(sk[0]);
	if (child < 0)
		return pr_perror("can't fork");
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) == 1 || fd < 0) {
		if (fd >= 0)
			close(fd);
		if (WIFEXITED(status) && WEXITSTATUS(status) == 2)
			return -EBUSY;
		return pr_err("can't reach the tmpfs at %s in the mount namespace of pid %d", mnt->mountpoint, pid),
		       -EIO;
	}
	return fd;
}

int tmpfs_dump(struct img_dir *dir, pid_t pid, const MntEntry *mnt)
{
	struct walk w = { .mp = mnt->mountpoint };
	struct statx st;
	int fd, ret;

	if ((fd = clone_mount(pid, mnt)) < 0 && fd != -EBUSY)
		return fd;
	if (!(w.img = img_create(dir, IMG_TMPFS, mnt->mnt_id))) {
		if (fd >= 0)
			close(fd);
		return -EIO;
	}
	/* a tmpfs another mount covers whole: nobody reaches its files by path; it
	 * comes back empty (no record) */
	if (fd < 0) {
		pr_info("the tmpfs at %s is covered by another mount: its hidden files are not saved", mnt->mountpoint);
		return img_close_write(w.img);
	}
	/* open_tree gives an O_PATH fd: a directory fd of the clone to read */
	int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	close(fd);
	if ((fd = dfd) < 0)
		return img_close(w.img), pr_perror("can't open the tmpfs at %s of pid %d", mnt->mountpoint, pid);
	if (statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS | STATX_MNT_ID, &st)) {
		ret = pr_perror("can't stat the tmpfs at %s of pid %d", mnt->mountpoint, pid);
	} else {
		w.mnt_id = st.stx_mnt_id;   /* the clone's: every file of it (no mount on it) */
		ret = save_one(&w, fd, ".", "", &st, false) ?: walk_dir(&w, fd, "");
	}
	close(fd);
	if (ret) {
		img_close(w.img);
		return ret;
	}
	return img_close_write(w.img);
}

/* A relative path of the image: "" (the root) or name/name, no . or .. */
static bool rel_path_ok(const char *p)
{
	if (!*p)
		return true;
	if (*p == '/' || p[strlen(p) - 1] == '/' || strstr(p, "//"))
		return false;
	for (const char *c = p; c; c = strchr(c, '/') ? strchr(c, '/') + 1 : NULL)
		if (!strncmp(c, "./", 2) || !strcmp(c, ".") || !strncmp(c, "../", 3) || !strcmp(c, ".."))
			return false;
	return true;
}

static int validate(const TmpfsEntry *e, uint32_t id, unsigned n)
{
	mode_t t = e->mode & S_IFMT;

	if (!rel_path_ok(e->path) || (!*e->path) != !n || (!n && t != S_IFDIR) ||
	    (t != S_IFDIR && t != S_IFREG && t != S_IFLNK && t != S_IFCHR && t != S_IFBLK && t != S_IFIFO &&
	     t != S_IFSOCK) ||
	    (t == S_IFLNK && (!e->target || !*e->target)) || (e->has_data && t != S_IFREG) ||
	    (e->has_rdev && t != S_IFCHR && t != S_IFBLK))
		return pr_err("tmpfs-%u.img: record %u (%s) has a bad path, type or content", id, n, e->path), -EINVAL;
	return 0;
}

int tmpfs_check(struct img_dir *dir, uint32_t id)
{
	struct img *img = img_open(dir, IMG_TMPFS, id);
	TmpfsEntry *e;
	unsigned n = 0;
	int ret;

	if (!img)
		return -ENOENT;
	while ((ret = img_read_msg(img, &tmpfs_entry__descriptor, (ProtobufCMessage **)&e)) > 0) {
		ret = validate(e, id, n++);
		img_free_msg(&e->base);
		if (ret)
			break;
	}
	img_close(img);
	return ret < 0 ? ret : 0;   /* empty: a tmpfs that was covered whole */
}

/* The directory that holds rel's last component, without following any symlink
 * or leaving the tmpfs (the image names only paths inside it). */
static int parent_of(int root, const char *rel, const char **base)
{
	const char *slash = strrchr(rel, '/');
	struct open_how how = { .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
				.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV };
	char dirpath[4096];

	*base = slash ? slash + 1 : rel;
	if (!slash)
		return fcntl(root, F_DUPFD_CLOEXEC, 0);
	snprintf(dirpath, sizeof(dirpath), "%.*s", (int)(slash - rel), rel);
	return syscall(SYS_openat2, root, dirpath, &how, sizeof(how));
}

static int make_one(int root, const TmpfsEntry *e)
{
	const char *base;
	mode_t t = e->mode & S_IFMT;
	int pfd, ret = 0;

	if (!*e->path)
		return fchown(root, userns_uid_in(e->uid), userns_gid_in(e->gid)) || fchmod(root, e->mode & 07777)
			       ? pr_perror("can't set the owner and mode of a tmpfs root") : 0;
	if ((pfd = parent_of(root, e->path, &base)) < 0)
		return pr_perror("can't reach the directory of %s in the new tmpfs", e->path);
	if (t == S_IFDIR)
		ret = mkdirat(pfd, base, 0700);
	else if (t == S_IFLNK)
		ret = symlinkat(e->target, pfd, base);
	else if (t == S_IFREG) {
		int fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		ret = fd < 0 ? -1 : 0;
		if (fd >= 0 && e->has_data && write_all(fd, e->data.data, e->data.len))
			ret = -1;
		if (fd >= 0)
			close(fd);
	} else
		ret = mknodat(pfd, base, t | 0600, e->has_rdev ? e->rdev : 0);
	if (!ret)
		ret = fchownat(pfd, base, userns_uid_in(e->uid), userns_gid_in(e->gid), AT_SYMLINK_NOFOLLOW);
	if (!ret && t != S_IFLNK)
		ret = fchmodat(pfd, base, e->mode & 07777, 0);
	if (ret)
		ret = pr_perror("can't make %s in the new tmpfs", e->path);
	close(pfd);
	return ret;
}

static int set_times(int root, const TmpfsEntry *e)
{
	struct timespec ts[2] = { { e->atime_ns / 1000000000, e->atime_ns % 1000000000 },
				  { e->mtime_ns / 1000000000, e->mtime_ns % 1000000000 } };
	const char *base;
	int pfd, ret;

	if (!*e->path)
		return futimens(root, ts) ? pr_perror("can't set the times of a tmpfs root") : 0;
	if ((pfd = parent_of(root, e->path, &base)) < 0)
		return pr_perror("can't reach the directory of %s in the new tmpfs", e->path);
	ret = utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW) ? pr_perror("can't set the times of %s", e->path) : 0;
	close(pfd);
	return ret;
}

struct tmpfs_fill {
	struct img *img;
	uint32_t id;
	int root;
};

/* The image is in memory: its files are made by the root of the tree's user
 * namespace, if it has one (userns_as_root). */
static int fill(void *p)
{
	const struct tmpfs_fill *f = p;
	struct img *img = f->img;
	uint32_t id = f->id;
	int root = f->root;
	TmpfsEntry **all = NULL;
	size_t n = 0;
	int ret;

	for (;;) {
		TmpfsEntry *e, **na;
		if ((ret = img_read_msg(img, &tmpfs_entry__descriptor, (ProtobufCMessage **)&e)) <= 0)
			break;
		if ((ret = validate(e, id, n)) || (ret = make_one(root, e)) ||
		    !(na = realloc(all, (n + 1) * sizeof(*na)))) {
			img_free_msg(&e->base);
			ret = ret ?: -ENOMEM;
			break;
		}
		all = na;
		all[n++] = e;
	}
	/* children first: making a file in a directory changes its times */
	for (size_t i = n; !ret && i-- > 0;)
		ret = set_times(root, all[i]);
	for (size_t i = 0; i < n; i++)
		img_free_msg(&all[i]->base);
	free(all);
	return ret;
}

int tmpfs_restore(struct img_dir *dir, uint32_t id, int root)
{
	struct tmpfs_fill f = { img_open(dir, IMG_TMPFS, id), id, root };
	int ret;

	if (!f.img)
		return -ENOENT;
	ret = userns_as_root(fill, &f);
	img_close(f.img);
	return ret;
}

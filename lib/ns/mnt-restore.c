/* Restore of the tree's own mount namespace, in the restored root: a new mount
 * namespace, private (nothing propagates back to ours); the root mount on a
 * staging directory; every other mount on it, parents first, each made again as
 * mnt-dump.c decided (a tmpfs gets its files back before anything is mounted
 * on it); then propagation and per-mount flags; then pivot_root into it, so
 * that the files the tree opens next resolve in its own mount tree. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "cr/cr.h"
#include "files/files.h"
#include "image/image.h"
#include "log.h"
#include "ns/mnt.h"
#include "ns/ns.h"
#include "ns/userns.h"
#include "util.h"

/* Our mount namespace is private by then: mounting over this directory hides it
 * from nobody but us (the sources are opened before). */
#define STAGE "/tmp"

/* Files of the tree under mounts others cover: each opened O_PATH once its mount
 * is made (before anything covers it), kept until the restorer. */
static struct { uint32_t id; const char *rel; int slot; } kept_files[64];
static size_t nr_kept_files;

void mnt_fds_free(int *src, int *mfd, size_t nr)
{
	for (size_t k = 0; src && mfd && k < nr; k++) {
		if (src[k] >= 0)
			close(src[k]);
		if (mfd[k] >= 0)
			close(mfd[k]);
	}
	free(src);
	free(mfd);
}

int mnt_restored_file(uint32_t mnt_id, const char *rel)
{
	for (size_t i = 0; i < nr_kept_files; i++)
		if (kept_files[i].id == mnt_id && !strcmp(kept_files[i].rel, rel))
			return kept_fd_get(kept_files[i].slot);
	return -1;
}

int mnt_keep_files(const MntEntry *e, int mfd, const struct ns_args *a)
{
	for (size_t i = 0; i < a->nr_keep_files; i++) {
		const struct ns_keep_file *f = &a->keep_files[i];
		int fd, slot;

		if (f->mnt_id != e->mnt_id || mnt_restored_file(f->mnt_id, f->rel) >= 0)
			continue;
		if (nr_kept_files == ARRAY_SIZE(kept_files))
			return pr_err("more than %zu open files under covered mounts", ARRAY_SIZE(kept_files)), -ENOSPC;
		if ((fd = openat(mfd, *f->rel ? f->rel : ".", O_PATH | O_CLOEXEC)) < 0)
			return pr_perror("can't find %s below mount %s, where a file of the tree was open", f->rel,
					 e->mountpoint);
		if ((slot = kept_fd_add(fd)) < 0) {
			close(fd);
			return pr_err("too many fds kept for the restore"), slot;
		}
		kept_files[nr_kept_files++] = (typeof(kept_files[0])){ f->mnt_id, f->rel, slot };
	}
	return 0;
}

static const char *const new_fs_types[] = { "tmpfs", "proc", "sysfs", "devpts", "mqueue", "cgroup", "cgroup2" };

int mnt_index_of(const struct mnt_state *s, size_t before, uint32_t id)
{
	for (size_t i = 0; i < before; i++)
		if (s->e[i]->mnt_id == id)
			return i;
	return -1;
}

/* Is prefix a leading part of path on a component boundary?  The rest (or "") in *rest. */
static bool under(const char *path, const char *prefix, const char **rest)
{
	size_t l = strcmp(prefix, "/") ? strlen(prefix) : 0;

	if (strncmp(path, prefix, l) || (path[l] && path[l] != '/'))
		return false;
	*rest = path + l;
	return true;
}

#define MNT_FLAGS_KNOWN (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME | \
			 MS_NOSYMFOLLOW)

static int validate(const struct mnt_state *s)
{
	char img[40];

	snprintf(img, sizeof(img), s->id ? "mountpoints-%u.img" : "mountpoints.img", s->id);

	for (size_t k = 0; k < s->nr; k++) {
		const MntEntry *e = s->e[k];
		int parent = k ? mnt_index_of(s, k, e->parent_id) : -1, src = -1;
		const char *rest;
		bool type_ok = false, pivoted = mnt_pivoted(s);

		for (size_t t = 0; t < ARRAY_SIZE(new_fs_types); t++)
			type_ok |= !strcmp(e->fstype, new_fs_types[t]);
		/* an overlayfs over its parent's directories, in a nested namespace that pivot_rooted */
		type_ok |= pivoted && !strcmp(e->fstype, "overlay") && e->options && strstr(e->options, "lowerdir=");
		if (e->how == MNT_HOW_BIND)
			src = mnt_index_of(s, k, e->bind_of);
		/* a nested namespace's copy of its parent's: found, not made (its root must be
		 * one, or none is: it pivot_rooted) */
		if (s->id && (e->inherited || (!k && !pivoted))) {
			if (pivoted || !e->inherited || !path_is_clean(e->mountpoint) || (e->flags & ~MNT_FLAGS_KNOWN) ||
			    mnt_index_of(s, k, e->mnt_id) >= 0 || (!k && strcmp(e->mountpoint, "/")) ||
			    (k && (parent < 0 || !s->e[parent]->inherited ||
				   !under(e->mountpoint, s->e[parent]->mountpoint, &rest))))
				return pr_err("mountpoints-%u.img: mount %zu (%s) is not a valid mount of the nested "
					      "namespace", s->id, k, e->mountpoint), -EINVAL;
			continue;
		}
		/* the root of a host bind may be no path ("net:[...]" of an nsfs mount): unused */
		if (!path_is_clean(e->mountpoint) || (e->how != MNT_HOW_HOST && !path_is_clean(e->root)) ||
		    (e->flags & ~MNT_FLAGS_KNOWN) ||
		    mnt_index_of(s, k, e->mnt_id) >= 0 || (!k && strcmp(e->mountpoint, "/")) ||
		    (k && (parent < 0 || !under(e->mountpoint, s->e[parent]->mountpoint, &rest))) ||
		    !e->has_how || e->how < MNT_HOW_FS || e->how > (pivoted ? MNT_HOW_PARENT : MNT_HOW_EXTERNAL) ||
		    (e->how == MNT_HOW_PARENT && (!e->parent_path || !path_is_clean(e->parent_path))) ||
		    (e->how == MNT_HOW_FS && (!type_ok || strcmp(e->root, "/"))) ||
		    (e->how == MNT_HOW_BIND && (src < 0 || !under(e->root, s->e[src]->root, &rest))) ||
		    (e->how == MNT_HOW_HOST && (((k || pivoted) && !e->host_path) || (e->host_path && !path_is_clean(e->host_path)))) ||
		    (e->how == MNT_HOW_EXTERNAL && (!e->ext_key || !*e->ext_key)) ||
		    (e->options && strlen(e->options) > 4000))
			return pr_err("%s: mount %zu (%s) is not a valid mount of the tree", img, k, e->mountpoint),
			       -EINVAL;
	}
	return 0;
}

void mnt_free(void *state)
{
	struct mnt_state *s = state;

	for (size_t i = 0; i < s->nr; i++)
		img_free_msg(&s->e[i]->base);
	free(s->e);
	free(s);
}

int mnt_load_table(struct img_dir *dir, uint32_t id, void **state)
{
	struct mnt_state *s = xzalloc(sizeof(*s));
	struct img *img;
	MntEntry *e;
	int ret;

	if (!s)
		return -ENOMEM;
	*state = s;
	s->dir = dir;
	s->id = id;
	if (!(img = img_open(dir, id ? IMG_MNTS_N : IMG_MNTS, id)))
		return -ENOENT;
	while ((ret = img_read_msg(img, &mnt_entry__descriptor, (ProtobufCMessage **)&e)) > 0) {
		MntEntry **n = s->nr < 4096 ? realloc(s->e, (s->nr + 1) * sizeof(*n)) : NULL;
		if (!n) {
			img_free_msg(&e->base);
			ret = s->nr < 4096 ? -ENOMEM : (pr_err("the mount image of namespace %u (0: the tree's): more than 4096 mounts", id), -E2BIG);
			break;
		}
		s->e = n;
		s->e[s->nr++] = e;
	}
	img_close(img);
	if (ret < 0)
		return ret;
	if (!s->nr)
		return pr_err("the mount image of namespace %u (0: the tree's) holds no mount", id), -EINVAL;
	if ((ret = validate(s)))
		return ret;
	for (size_t k = 0; k < s->nr && !ret; k++)
		if (!s->e[k]->inherited && s->e[k]->how == MNT_HOW_FS && !strcmp(s->e[k]->fstype, "tmpfs"))
			ret = tmpfs_check(dir, s->e[k]->mnt_id);
	return ret;
}

static int mnt_load(struct img_dir *dir, void **state)
{
	return mnt_load_table(dir, 0, state);
}

/* The caller's path for a mount: --root for the root, --external for an external one. */
int mnt_source_of(const MntEntry *e, size_t k, const struct ns_args *a, const char **path)
{
	*path = NULL;
	if (!k && a->root) {
		*path = a->root;
		return 0;
	}
	if (e->how == MNT_HOW_EXTERNAL) {
		for (size_t i = 0; i < a->nr_ext; i++)
			if (!strncmp(a->ext[i].key, "mnt[", 4) && !strncmp(a->ext[i].key + 4, e->ext_key, strlen(e->ext_key)) &&
			    !strcmp(a->ext[i].key + 4 + strlen(e->ext_key), "]"))
				*path = a->ext[i].value;
		if (!*path)
			return pr_err("mount %s was external at dump (named %s): restore with --external mnt[%s]:PATH",
				      e->mountpoint, e->ext_key, e->ext_key), -EINVAL;
	} else if (e->how == MNT_HOW_HOST) {
		if (!e->host_path)
			return pr_err("the root mount of the tree (%s of device %u:%u) is not on this host: restore "
				      "with --root DIR", e->root, e->dev_major, e->dev_minor), -ENOENT;
		*path = e->host_path;
	}
	return 0;
}

struct mountpoint {
	const char *target;
	bool dir;
};

static int make_mountpoint_now(void *p)
{
	const struct mountpoint *m = p;
	int fd;

	if (m->dir ? mkdir(m->target, 0755)
		   : ((fd = open(m->target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0 ? -1 : close(fd)))
		return pr_perror("can't make the mount point %s", m->target);
	return 0;
}

/* A mount point the parent's files lack (a host directory that changed): made
 * (owned by the root of the tree's user namespace, if it has one). */
static int make_mountpoint(const char *target, bool dir)
{
	struct mountpoint m = { target, dir };
	struct stat st;

	if (!lstat(target, &st))
		return 0;
	return userns_as_root(make_mountpoint_now, &m);
}

int mnt_set_propagation(int fd, uint64_t prop, const char *mp)
{
	struct mount_attr attr = { .propagation = prop };

	if (mount_setattr(fd, "", AT_EMPTY_PATH, &attr, sizeof(attr)))
		return pr_perror("can't set the propagation of mount %s", mp);
	return 0;
}

/* shared:N and master:N as they were, where the tree holds the peer group. */
static int restore_propagation(const struct mnt_state *s, size_t k, const int *mfd)
{
	const MntEntry *e = s->e[k];
	int src = e->how == MNT_HOW_BIND ? mnt_index_of(s, k, e->bind_of) : -1;
	uint32_t src_group = src >= 0 && s->e[src]->has_shared_id ? s->e[src]->shared_id : 0;
	int ret = 0;

	/* a bind of a shared mount joined its peer group */
	if (src_group && e->has_master_id && e->master_id == src_group)
		ret = mnt_set_propagation(mfd[k], MS_SLAVE, e->mountpoint);
	else if (src_group && (!e->has_shared_id || e->shared_id != src_group))
		ret = mnt_set_propagation(mfd[k], MS_PRIVATE, e->mountpoint);
	else if (e->has_master_id && e->master_id)
		pr_debug("mount %s: its master (peer group %u) is outside the tree; left private", e->mountpoint,
			 e->master_id);
	if (!ret && k && e->has_shared_id && e->shared_id && e->shared_id != src_group)
		ret = mnt_set_propagation(mfd[k], MS_SHARED, e->mountpoint);
	return ret;
}

/* A bind of /dev/pts/N of the tree's new devpts (runc's /dev/console is the
 * terminal's slave): the pty must exist first, so it is made now, the tree's
 * slave at N takes it (files/pty.c). */
static int devpts_file(const MntEntry *src, int src_fd, const char *rest, const char *from)
{
	char *end;
	unsigned long n;

	if (strcmp(src->fstype, "devpts") || src->how != MNT_HOW_FS || rest[0] != '/' || !rest[1] ||
	    !access(from, F_OK))
		return 0;
	n = strtoul(rest + 1, &end, 10);
	if (*end || n >= (1 << 20))
		return 0;
	return pty_premake(src_fd, n);
}

int mnt_make(const struct mnt_state *s, size_t k, const int *src, int *mfd, const char *stage)
{
	const MntEntry *e = s->e[k];
	char target[4200], from[4300];
	int ret = 0;

	snprintf(target, sizeof(target), "%s%s", stage, k || !*stage ? e->mountpoint : "");
	if (k && (ret = make_mountpoint(target, !e->has_is_dir || e->is_dir)))
		return ret;
	if (src[k] >= 0) {
		snprintf(from, sizeof(from), "/proc/self/fd/%d", src[k]);
		if (mount(from, target, NULL, MS_BIND, NULL)) {
			if (errno == EINVAL && userns_restoring())
				return pr_err("can't bind mount %s of the tree alone: in the tree's user namespace the "
					      "mounts of ours under it are locked to it (MNT_LOCKED), and a mount of ours "
					      "with others under it (a copy of our mount namespace) can't be restored there",
					      k ? e->mountpoint : "/"), -EOPNOTSUPP;
			return k ? pr_perror("can't bind the path given for %s there", e->mountpoint)
				 : pr_perror("can't bind the tree's root on " STAGE " (a private mount of ours)");
		}
	} else if (e->how == MNT_HOW_BIND) {
		int j = mnt_index_of(s, k, e->bind_of);
		const char *rest;
		under(e->root, s->e[j]->root, &rest);
		snprintf(from, sizeof(from), "/proc/self/fd/%d%s", mfd[j], rest);
		if ((ret = devpts_file(s->e[j], mfd[j], rest, from)))
			return ret;
		if (mount(from, target, NULL, MS_BIND, NULL))
			return pr_perror("can't bind %s of %s at %s", *rest ? rest : "/", s->e[j]->mountpoint,
					 e->mountpoint);
	} else {
		const char *source = e->source && *e->source ? e->source : e->fstype;
		/* uid= and gid= as the tree's user namespace names them */
		char *mapped = userns_mount_options(e->options);
		const char *opts = mapped ? mapped : e->options;
		int err = mount(source, target, e->fstype, 0, opts && *opts ? opts : NULL) ? errno : 0;
		free(mapped);
		if (err)
			return errno = err, pr_perror("can't mount %s (%s, options %s)", e->mountpoint, e->fstype,
						      e->options ? e->options : "");
	}
	if ((mfd[k] = open(target, O_PATH | O_CLOEXEC)) < 0)
		return pr_perror("can't open the new mount %s", e->mountpoint);
	if (e->how == MNT_HOW_FS && !strcmp(e->fstype, "tmpfs")) {
		int dfd = open(target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			return pr_perror("can't open the new tmpfs %s", e->mountpoint);
		ret = tmpfs_restore(s->dir, e->mnt_id, dfd);
		close(dfd);
		if (ret)
			return ret;
	}
	return 0;
}

/* Filesystems whose every mount is a superblock of its own: only theirs may be
 * made read-only (sysfs, mqueue and cgroup mounts share ours). */
static bool fresh_sb(const MntEntry *e)
{
	return e->how == MNT_HOW_FS &&
	       (!strcmp(e->fstype, "tmpfs") || !strcmp(e->fstype, "proc") || !strcmp(e->fstype, "devpts"));
}

/* Per-mount flags, and a read-only superblock, once nothing more is made in it. */
int mnt_set_flags(const MntEntry *e, int fd)
{
	struct mount_attr attr = { .attr_clr = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
					       MOUNT_ATTR_NOEXEC | MOUNT_ATTR__ATIME | MOUNT_ATTR_NODIRATIME |
					       MOUNT_ATTR_NOSYMFOLLOW };
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (fresh_sb(e) && e->has_sb_ro && e->sb_ro && mount(NULL, path, NULL, MS_REMOUNT | MS_RDONLY, NULL))
		return pr_perror("can't make the filesystem of %s read-only", e->mountpoint);
	attr.attr_set = (e->flags & MS_RDONLY ? MOUNT_ATTR_RDONLY : 0) | (e->flags & MS_NOSUID ? MOUNT_ATTR_NOSUID : 0) |
			(e->flags & MS_NODEV ? MOUNT_ATTR_NODEV : 0) | (e->flags & MS_NOEXEC ? MOUNT_ATTR_NOEXEC : 0) |
			(e->flags & MS_NODIRATIME ? MOUNT_ATTR_NODIRATIME : 0) |
			(e->flags & MS_NOSYMFOLLOW ? MOUNT_ATTR_NOSYMFOLLOW : 0) |
			(e->flags & MS_NOATIME ? MOUNT_ATTR_NOATIME
					       : e->flags & MS_RELATIME ? MOUNT_ATTR_RELATIME : MOUNT_ATTR_STRICTATIME);
	if (mount_setattr(fd, "", AT_EMPTY_PATH, &attr, sizeof(attr)))
		return pr_perror("can't set the flags of mount %s", e->mountpoint);
	return 0;
}

static int mnt_restore(void *state, const struct ns_args *a)
{
	const struct mnt_state *s = state;
	int *src = calloc(s->nr, sizeof(int)), *mfd = calloc(s->nr, sizeof(int)), ret = 0, old_root = -1;
	bool *skip = calloc(s->nr, sizeof(bool));

	if (!src || !mfd || !skip) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t k = 0; k < s->nr; k++)
		src[k] = mfd[k] = -1;
	/* the images dir (and its parents) stay reachable from the old root */
	if ((old_root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
		ret = pr_perror("can't open our root");
		goto out;
	}
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
		ret = pr_perror("can't create a private mount namespace");
		goto out;
	}
	for (size_t k = 0; k < s->nr && !ret; k++) {
		const MntEntry *e = s->e[k];
		int parent = k ? mnt_index_of(s, k, e->parent_id) : -1;
		const char *path;

		if (parent >= 0 && skip[parent]) {
			skip[k] = true;
			continue;
		}
		if ((ret = mnt_source_of(e, k, a, &path)) || !path || (src[k] = open(path, O_PATH | O_CLOEXEC)) >= 0)
			continue;
		/* one the host's propagation brought in (a netns file of /run/netns, say),
		 * gone from the host since: not the tree's to keep */
		if (errno == ENOENT && k && e->how == MNT_HOW_HOST && (e->has_master_id || e->has_shared_id)) {
			pr_warn("mount %s came from the host's %s, which is gone: left out", e->mountpoint, path);
			skip[k] = true;
		} else {
			ret = pr_perror("can't open %s for mount %s", path, e->mountpoint);
		}
	}
	for (size_t k = 0; k < s->nr && !ret; k++) {
		int j = s->e[k]->how == MNT_HOW_BIND ? mnt_index_of(s, k, s->e[k]->bind_of) : -1;
		if (j >= 0 && skip[j] && !skip[k])
			ret = (pr_err("mount %s binds a part of %s, which is gone from the host", s->e[k]->mountpoint,
				      s->e[j]->mountpoint), -ENOENT);
		else if (!skip[k])
			ret = mnt_make(s, k, src, mfd, STAGE) ?: restore_propagation(s, k, mfd) ?:
			      mnt_keep_files(s->e[k], mfd[k], a);
	}
	for (size_t k = s->nr; !ret && k-- > 0;)
		if (!skip[k])
			ret = mnt_set_flags(s->e[k], mfd[k]);
	if (ret)
		goto out;
	/* the old root goes on top of the new one, and then away */
	if (fchdir(mfd[0]) || syscall(SYS_pivot_root, ".", ".") || umount2(".", MNT_DETACH) || chdir("/")) {
		ret = pr_perror("can't pivot_root into the restored mount tree");
		goto out;
	}
	if (s->e[0]->has_shared_id && s->e[0]->shared_id)
		ret = mnt_set_propagation(AT_FDCWD, MS_SHARED, "/");
	host_root_set(old_root);
	old_root = -1;
out:
	if (old_root >= 0)
		close(old_root);
	mnt_fds_free(src, mfd, s->nr);
	free(skip);
	return ret;
}

const struct ns_kind ns_kind_mnt = { "mnt", CLONE_NEWNS, mnt_dump, mnt_load, mnt_restore, mnt_free };

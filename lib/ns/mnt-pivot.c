/* Restore of a nested mount namespace that pivot_rooted: a process of the tree
 * made a mount namespace, built a root in it (a tmpfs, a bind of a directory,
 * an overlayfs), bound what it needed from its old root (/usr, /bin...),
 * pivot_rooted into it and, usually, detached the old root -- a container
 * started by a process of the tree.  The dump (mnt-dump.c) saved every mount of
 * it as one to make, none inherited.  Its maker, right after its fork, does what
 * the process did:
 *  - unshare(CLONE_NEWNS): a copy of its parent's namespace, made a slave at
 *    once (nothing propagates back);
 *  - the sources opened there: the directories of its parent's namespace that
 *    it binds (parent_path), the host's, the caller's --external;
 *  - the root mount on a staging directory of the copy, every other mount on
 *    it, parents first (mnt_make, as the root's namespace is made), the
 *    tree's files under mounts others cover opened as soon as their mount is;
 *  - per-mount flags; pivot_root into it, the copy detached (what was left of
 *    the old root was saved as mounts like the others: made again above);
 *  - propagation as mnt-nested.c sets it.
 * Its joiners' setns() then puts them at its root, as it did them. */
#include <dirent.h>
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
#include "log.h"
#include "ns/mnt.h"
#include "ns/ns.h"
#include "util.h"

/* A directory of the copy to build the new tree on: nobody else sees the copy
 * (a slave, detached after the pivot), and the sources are open before. */
static int stage_dir(char *out, size_t len)
{
	struct stat st;
	struct dirent *de;
	DIR *d;

	if (!lstat("/tmp", &st) && S_ISDIR(st.st_mode)) {
		snprintf(out, len, "/tmp");
		return 0;
	}
	if (!(d = opendir("/")))
		return pr_perror("can't list the root of the copy of its parent's mount namespace");
	*out = 0;
	while (!*out && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && !fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) &&
		    S_ISDIR(st.st_mode))
			snprintf(out, len, "/%s", de->d_name);
	closedir(d);
	if (!*out)
		return pr_err("the root of its parent's mount namespace has no directory to build a nested one on"),
		       -ENOENT;
	return 0;
}

/* Mount k's source, opened in the copy (a bind takes mounts of our namespace only). */
static int open_source(const MntEntry *e, size_t k, const struct ns_args *a, pid_t pid, int *fd)
{
	const char *path = NULL;
	int ret;

	*fd = -1;
	if (e->how == MNT_HOW_PARENT) {
		if ((*fd = open(e->parent_path, O_PATH | O_CLOEXEC)) < 0)
			return pr_perror("pid %d: can't open %s of its parent's mount namespace for mount %s of its own",
					 pid, e->parent_path, e->mountpoint);
		return 0;
	}
	/* (never --root: that is the tree's root's) */
	if ((ret = mnt_source_of(e, k ? k : 1, a, &path)) || !path)
		return ret;
	if ((*fd = host_open(path, O_PATH)) < 0)
		return pr_perror("pid %d: can't open %s for mount %s", pid, path, e->mountpoint);
	return 0;
}

int mnt_pivoted_restore(const struct mnt_state *s, pid_t pid, const struct ns_args *a)
{
	int *src = calloc(s->nr, sizeof(int)), *mfd = calloc(s->nr, sizeof(int)), ret = 0;
	char stage[300];

	if (!src || !mfd) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t k = 0; k < s->nr; k++)
		src[k] = mfd[k] = -1;
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL)) {
		ret = pr_perror("pid %d: can't make its nested mount namespace %u", pid, s->id);
		goto out;
	}
	for (size_t k = 0; k < s->nr && !ret; k++)
		ret = open_source(s->e[k], k, a, pid, &src[k]);
	/* the images, the lazy-pages daemon's name... stay host paths after the pivot
	 * (the copy's root, if the tree's root has kept none: the host's view) */
	if (ret || (ret = host_root_keep()) || (ret = stage_dir(stage, sizeof(stage))))
		goto out;
	pr_debug("pid %d: nested mount namespace %u is built on %s", pid, s->id, stage);
	for (size_t k = 0; k < s->nr && !ret; k++)
		ret = mnt_make(s, k, src, mfd, stage) ?: mnt_keep_files(s->e[k], mfd[k], a);
	for (size_t k = s->nr; !ret && k-- > 0;)
		ret = mnt_set_flags(s->e[k], mfd[k]);
	if (ret)
		goto out;
	/* the copy goes on top of the new root, and then away */
	if (fchdir(mfd[0]) || syscall(SYS_pivot_root, ".", ".") || umount2(".", MNT_DETACH) || chdir("/")) {
		ret = pr_perror("pid %d: can't pivot_root into the mounts of its nested mount namespace %u", pid, s->id);
		goto out;
	}
	/* (a shared mount can't be pivot_rooted into: propagation last) */
	ret = mnt_nested_propagation(s, mfd, pid);
out:
	mnt_fds_free(src, mfd, s->nr);
	return ret;
}

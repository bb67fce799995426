/* The tree's own mount namespace (mnt-dump.c, mnt-restore.c, mnt-tmpfs.c). */
#ifndef LIB_NS_MNT_H
#define LIB_NS_MNT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "mnt.pb-c.h"

struct img_dir;

/* How a mount is made again (MntEntry.how). */
enum mnt_how {
	MNT_HOW_FS = 1,        /* a new filesystem of its type (a tmpfs gets its files back) */
	MNT_HOW_BIND = 2,      /* a bind of a part of an earlier mount of the tree (bind_of) */
	MNT_HOW_HOST = 3,      /* a bind of the host's directory or file (host_path) */
	MNT_HOW_EXTERNAL = 4,  /* the caller names it (ext_key) and gives its path at restore */
	MNT_HOW_PARENT = 5,    /* a nested namespace that pivot_rooted: a bind of what its
	                        * parent's namespace shows at parent_path */
};

/* One line of a mountinfo file. */
struct mountinfo {
	uint32_t id, parent, major, minor;
	char *root, *mountpoint, *fstype, *source, *options;
	uint32_t flags;        /* per-mount MS_* */
	bool sb_ro;
	uint32_t shared, master;
};

/* Parse the text of a mountinfo file (changed in place; path names it in
 * messages) into *out (mountinfo_free); -EIO for a line it can't parse. */
int mountinfo_parse(char *text, const char *path, struct mountinfo **out, size_t *nr);
/* Parse /proc/<pid>/mountinfo (pid 0: ours) into *out (mountinfo_free). */
int mountinfo_read(pid_t pid, struct mountinfo **out, size_t *nr);
void mountinfo_free(struct mountinfo *m, size_t nr);

/* The mounts of mountpoints.img (id 0) or mountpoints-<id>.img (a nested
 * namespace), validated; e[0] is the root. */
struct mnt_state {
	struct img_dir *dir;
	uint32_t id;
	MntEntry **e;
	size_t nr;
};

struct ns_args;
/* Save the mounts of pid's mount namespace into mountpoints.img (and tmpfs-*.img). */
int mnt_dump(struct img_dir *dir, pid_t pid, const struct ns_args *a);

/* ---- shared by the root's namespace (mnt-restore.c) and nested ones (mnt-nested.c) */
/* Read and validate the image of namespace id (0: the tree's own) into *state (mnt_free). */
int mnt_load_table(struct img_dir *dir, uint32_t id, void **state);
void mnt_free(void *state);
/* The index below before of the mount with dump id id, or -1. */
int mnt_index_of(const struct mnt_state *s, size_t before, uint32_t id);
/* The caller's path for mount k (--root, --external) or the host's, in *path (NULL: none). */
int mnt_source_of(const MntEntry *e, size_t k, const struct ns_args *a, const char **path);
/* Make mount k at stage + its mount point (src[k]: its opened source, or -1; mfd:
 * the mounts made so far, O_PATH), its fd in mfd[k]; a tmpfs gets its files. */
int mnt_make(const struct mnt_state *s, size_t k, const int *src, int *mfd, const char *stage);
/* Per-mount flags (and a read-only superblock of a new one) on mount fd. */
int mnt_set_flags(const MntEntry *e, int fd);
int mnt_set_propagation(int fd, uint64_t prop, const char *mp);
/* The tree's files under mount e (mfd) that another covers, opened O_PATH before
 * anything does (mnt_restored_file), in this process and those it forks. */
int mnt_keep_files(const MntEntry *e, int mfd, const struct ns_args *a);

/* ---- nested mount namespaces (nested.c) */
/* Save the mounts of pid's namespace into mountpoints-<id>.img, each either
 * inherited from base_pid's (its parent's) or to make. */
int mnt_nested_dump(struct img_dir *dir, pid_t pid, pid_t base_pid, uint32_t id, const struct ns_args *a);
/* In its maker (pid: for messages), right after its fork: the namespace made.  owned
 * (NULL: none): one a nested user namespace owns, whose copy of ours owned(arg, &fd)
 * makes there once the mounts the images lack are gone. */
int mnt_nested_restore(void *state, pid_t pid, const struct ns_args *a, int (*owned)(void *, int *), void *arg);
/* shared:N and master:M of a nested namespace's mounts (mfd: each one's fd, -1: left as the copy is). */
int mnt_nested_propagation(const struct mnt_state *s, const int *mfd, pid_t pid);
/* A nested namespace whose root mount is not its parent's: it pivot_rooted (mnt-pivot.c). */
static inline bool mnt_pivoted(const struct mnt_state *s)
{
	return s->id && s->nr && !s->e[0]->inherited;
}
/* Its maker makes it: every mount on a staging directory of a copy of its parent's
 * namespace, then pivot_root into it, the copy detached. */
int mnt_pivoted_restore(const struct mnt_state *s, pid_t pid, const struct ns_args *a);
/* Did this dump save a nested namespace that pivot_rooted (image format version 11)?
 * mnt_dump_reset() before a dump. */
bool mnt_dump_nested_root_used(void);
void mnt_dump_reset(void);

/* Save the files of the tmpfs mounted at mnt (seen through /proc/pid/root) into tmpfs-<id>.img. */
int tmpfs_dump(struct img_dir *dir, pid_t pid, const MntEntry *mnt);
/* Check tmpfs-<id>.img. */
int tmpfs_check(struct img_dir *dir, uint32_t id);
/* Recreate the files of tmpfs-<id>.img in the directory dfd (the new tmpfs's root). */
int tmpfs_restore(struct img_dir *dir, uint32_t id, int dfd);

/* The sources and the made mounts of a namespace being made (-1: none), closed and freed. */
void mnt_fds_free(int *src, int *mfd, size_t nr);

#endif

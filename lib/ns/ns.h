/* Namespaces the tree's root has of its own (ns.c): which, and the restore hook
 * that makes each again in the restored root.  One row per kind in ns.c's table;
 * pid, IPC, network and time namespaces have their own code (pidns.c, ipc.c,
 * ns/net.c, ns/time.c), which runs before the table. */
#ifndef LIB_NS_NS_H
#define LIB_NS_NS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "ns/nested.h"

struct img_dir;
struct tree;
struct cr_external;
struct stat;
struct nested_dump;

/* What the caller says about the dump or the restore of namespaces. */
struct ns_args {
	const struct cr_external *ext;   /* --external TYPE[KEY]:VALUE */
	const struct nested_dump *nested; /* dump: the namespaces nested below the root's */
	size_t nr_ext;
	const char *root;                /* restore: the root mount's directory (may be NULL) */
	const struct ns_keep_file *keep_files;  /* restore: covered files the tree has open */
	size_t nr_keep_files;
};

struct ns_kind {
	const char *name;    /* as in /proc/PID/ns/ and ns.img */
	int clone_flag;
	/* save the namespace of pid (the tree's root, frozen) */
	int (*dump)(struct img_dir *dir, pid_t pid, const struct ns_args *a);
	/* read and validate its images before anything is created */
	int (*load)(struct img_dir *dir, void **state);
	/* in the restored root, in table order: make the namespace and fill it */
	int (*restore)(void *state, const struct ns_args *a);
	void (*free)(void *state);
};

#define NS_MAX_KINDS 8

/* What ns.img says, loaded and validated. */
struct ns_set {
	const struct ns_kind *kinds[NS_MAX_KINDS];
	void *state[NS_MAX_KINDS];
	size_t nr;
	struct nested_set nested;        /* the instances nested below the root's */
};

/* The inode of pid's namespace of this kind ("mnt", "net", "ipc", "time"...): its
 * identity; 0, or -errno with a message. */
int ns_ino(pid_t pid, const char *kind, uint64_t *ino);
/* 1 if pid has a namespace of this kind ("mnt", "uts"...) other than ours, 0 if not. */
int ns_own(pid_t pid, const char *kind);
/* 1 if a and b share the namespace of this kind, 0 if not. */
int ns_same(pid_t a, pid_t b, const char *kind);
/* Is every live task of t in its root's namespace of this kind?  0, or an error
 * naming one that is not (label: the kind as the message names it, "network"...):
 * only namespaces of the tree's root are checkpointed. */
int ns_check_tree(const struct tree *t, const char *kind, const char *label);
/* stat() of a path as process pid names it: through /proc/pid/root when it is in
 * a mount namespace of its own (its paths are that tree's). */
int ns_stat_path(pid_t pid, const char *path, struct stat *st);
/* For a process in a mount namespace of its own: 1 if the open file described
 * by fdinfo (the text of /proc/pid/fdinfo/N) is on a mount of that namespace,
 * 0 if it is on one of another (the caller's, say: a file the tree can't name);
 * 1 for a process that shares ours. */
int ns_fd_in_tree(pid_t pid, const char *fdinfo);
/* For a process in a mount namespace of its own whose open file (fdinfo, path as
 * /proc showed it) is on a mount of that namespace but its path leads elsewhere
 * (another mount covers it): 1, with the mount's id and the path below that
 * mount's root (malloc'ed) in *rel; 0 if not so; or -errno. */
int ns_fd_covered(pid_t pid, const char *fdinfo, const char *path, uint32_t *mnt_id, char **rel);
/* A file of the tree under a mount that another covers: opened (O_PATH) as soon
 * as its mount is made, before anything covers it. */
struct ns_keep_file {
	uint32_t mnt_id;
	const char *rel;
};
/* In a restored task, after the mount tree: that O_PATH fd (reopen it), or -1. */
int mnt_restored_file(uint32_t mnt_id, const char *rel);
/* Each kind of the table the tree's root has of its own: checked for the whole
 * tree, saved, and listed in ns.img. */
int ns_dump(struct img_dir *dir, const struct tree *t, const struct ns_args *a);
/* ns.img and each listed kind's images (none: the tree shared ours). */
int ns_load(struct img_dir *dir, struct ns_set *set);
void ns_free(struct ns_set *set);
/* In the restored root, after its IPC namespace and before its files. */
int ns_restore(const struct ns_set *set, const struct ns_args *a);
/* true if the set holds this kind. */
bool ns_has(const struct ns_set *set, const char *kind);

/* The UTS namespace of pid saved as utsns.img (id 0) or, nested, utsns-ID.img;
 * read and validated; made (unshare) and set in the caller; freed. */
int uts_ns_dump(struct img_dir *dir, pid_t pid, uint32_t id);
int uts_ns_load(struct img_dir *dir, uint32_t id, void **state);
int uts_ns_restore(void *state);
void uts_ns_free(void *state);
/* The kinds whose namespaces may differ between processes of the tree (nested.c). */
bool ns_nestable(const char *kind);

/* The kinds (uts.c, mnt-dump.c + mnt-restore.c, ns.c for cgroup). */
extern const struct ns_kind ns_kind_uts, ns_kind_mnt, ns_kind_cgroup;

#endif

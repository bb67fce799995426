/* cgroups: which cgroups the tree's processes are in (v2 and every v1
 * hierarchy), and the limits of those below the root task's; the freezer that
 * holds a whole cgroup still while its tasks are seized (cgroup-freeze.c). */
#ifndef LIB_CGROUP_H
#define LIB_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "cr/cr.h"
#include "cgroup.pb-c.h"
#include "pstree.pb-c.h"

struct tree;
struct img_dir;

/* One mounted hierarchy: controllers as /proc/PID/cgroup names them ("" for v2). */
struct cg_hier {
	char *controllers;
	char *mnt;              /* where it is mounted */
	char *mroot;            /* the cgroup at that mount point ("/" unless a bind or cgroupns mount) */
};

struct cg_hiers {
	struct cg_hier *h;
	size_t nr;
};

/* The hierarchies mounted here (from /proc/self/mountinfo). */
int cg_hiers_read(struct cg_hiers *hs);
void cg_hiers_free(struct cg_hiers *hs);
const struct cg_hier *cg_hier_find(const struct cg_hiers *hs, const char *controllers);
/* The directory of cgroup path (as /proc/PID/cgroup shows it) in hierarchy h; malloc'ed. */
char *cg_dir(const struct cg_hier *h, const char *path);

/* cgroup.img for the seized tree. */
int cgroup_dump(const struct tree *t, struct img_dir *dir);

struct cgroup_image {
	CgroupEntry *e;         /* NULL: images without cgroup.img */
	char ***procs;          /* per set: its cgroup.procs files, NULL-terminated (after prepare) */
	char **v2;              /* per set: its cgroup v2 directory, or NULL */
	char **created;         /* cgroups the restore made, parents first */
	size_t nr_created;
};

/* Read and validate cgroup.img, if there is one. */
int cgroup_load(struct img_dir *dir, PstreeEntry *const *entries, size_t nr, struct cgroup_image *ci);
/* Before the tree exists: find each hierarchy here and the root of its cgroups
 * (the caller's roots, else our own cgroup), make missing cgroups and write the
 * limits as mode asks. */
int cgroup_prepare(struct cgroup_image *ci, int mode, const struct cr_cgroup_root *roots, size_t nr_roots);
/* An fd of the v2 cgroup of pid's set, for clone3's CLONE_INTO_CGROUP; -1 if none. */
int cgroup_v2_fd(const struct cgroup_image *ci, uint32_t pid);
/* In the new task pid (the images' PID), before it does anything else. */
/* pid and other were in the same cgroups at the dump (a child forked by a parent
 * that is in its cgroups already inherits them). */
bool cgroup_same(const struct cgroup_image *ci, uint32_t pid, uint32_t other);
int cgroup_enter(const struct cgroup_image *ci, uint32_t pid);
/* A failed restore: remove the cgroups it made (the tree is dead by now). */
void cgroup_undo(struct cgroup_image *ci);
void cgroup_free(struct cgroup_image *ci);

/* The freezer (cgroup-freeze.c): freeze path's cgroup, seize every task in it and
 * in its descendants (PTRACE_SEIZE + PTRACE_INTERRUPT), thaw it: the stops then
 * hold, and tree_seize finds those tasks already seized. */
struct cg_freezer {
	char *dir;
	bool v2;
	bool was_frozen;
	bool frozen;
};
int cgroup_freeze_seize(const char *path, struct cg_freezer *fz);
/* After tree_seize: fail, naming it, if a task of the cgroup is not in the tree. */
int cgroup_freeze_check(const struct cg_freezer *fz);
/* Leave the cgroup as it was found (frozen again if it was), forget the rest. */
void cgroup_freeze_end(struct cg_freezer *fz);

#endif

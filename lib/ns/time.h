/* The tree's own time namespace, and nested ones' offsets (time.c). */
#ifndef LIB_NS_TIME_H
#define LIB_NS_TIME_H

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "timens.pb-c.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

struct img_dir;
struct tree;

/* timens.img when the root has its own time namespace (other processes' may differ:
 * nested.c, through timens_dump_id). */
int timens_dump(struct img_dir *dir, const struct tree *t);
/* timens-ID.img: the offsets of nested time namespace id, read through pid, whose
 * time_for_children it is (what its timens_offsets shows). */
int timens_dump_id(struct img_dir *dir, pid_t pid, uint32_t id);
/* *out: NULL when the tree shared the caller's. */
int timens_load(struct img_dir *dir, TimensEntry **out);
int timens_load_id(struct img_dir *dir, uint32_t id, TimensEntry **out);
/* A new time namespace for our children with e's offsets (more if the host's
 * clocks are behind the namespace's at the dump); enter: and go into it (a
 * single-threaded task, before its vDSO is placed). */
int timens_make(const TimensEntry *e, bool enter);
/* In the restored root, before its vDSO is placed: a new time namespace with the
 * offsets, entered. */
int timens_restore(const TimensEntry *e);

#endif

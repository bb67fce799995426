/* The tree's own time namespace (time.c). */
#ifndef LIB_NS_TIME_H
#define LIB_NS_TIME_H

#include "timens.pb-c.h"

struct img_dir;
struct tree;

/* timens.img when the root has its own time namespace (every task in it). */
int timens_dump(struct img_dir *dir, const struct tree *t);
/* *out: NULL when the tree shared the caller's. */
int timens_load(struct img_dir *dir, TimensEntry **out);
/* In the restored root, before its vDSO is placed: a new time namespace with the
 * offsets, entered. */
int timens_restore(const TimensEntry *e);

#endif

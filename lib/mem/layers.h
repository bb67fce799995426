/* Pages of earlier rounds (layers.c). */
#ifndef LIB_MEM_LAYERS_H
#define LIB_MEM_LAYERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "image/image.h"

struct layer;

/* Read [start, start + len) of pid's memory from dir's parent images (and theirs);
 * *top caches the loaded layers (NULL at first; free with layers_free). */
int layers_read(struct layer **top, struct img_dir *dir, pid_t pid, uint64_t start, uint64_t len, void *dst);
void layers_free(struct layer *top);

/* The pages of pid as the images in dir (and its parents) hold them. */
int layers_open(const char *dir, pid_t pid, struct layer **out);
/* Read [start, start + len) through the layers; every page must be listed. */
int layers_get(struct layer *l, pid_t pid, uint64_t start, uint64_t len, void *dst);
/* The runs of dir's own pagemap (data or in a parent), in address order. */
size_t layers_nr_runs(const struct layer *l);
void layers_run(const struct layer *l, size_t i, uint64_t *start, uint64_t *end);
/* Is the page at addr listed (not a zero page)? */
bool layers_listed(const struct layer *l, uint64_t addr);

#endif

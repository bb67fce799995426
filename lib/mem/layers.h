/* Pages of earlier rounds (layers.c). */
#ifndef LIB_MEM_LAYERS_H
#define LIB_MEM_LAYERS_H

#include <stdint.h>
#include <sys/types.h>
#include "image/image.h"

struct layer;

/* Read [start, start + len) of pid's memory from dir's parent images (and theirs);
 * *top caches the loaded layers (NULL at first; free with layers_free). */
int layers_read(struct layer **top, struct img_dir *dir, pid_t pid, uint64_t start, uint64_t len, void *dst);
void layers_free(struct layer *top);

#endif

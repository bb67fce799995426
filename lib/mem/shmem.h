/* Shared anonymous memory (MAP_SHARED|MAP_ANONYMOUS, shmem) of a restored tree:
 * one object per dumped object, created by libcr before the tree forks, so that
 * every process inherits it and maps the same pages again where it had them. */
#ifndef LIB_SHMEM_H
#define LIB_SHMEM_H

#include <stddef.h>
#include <stdint.h>
#include "mm.pb-c.h"

struct shmem_obj {
	uint64_t ino;       /* the dumped object's inode: its identity in the images */
	uint64_t size;
	void *addr;         /* our mapping of the new object */
};

struct shmem_set {
	struct shmem_obj *objs;
	size_t nr;
};

/* Create one object for every shm_ino the address spaces name. */
int shmem_prepare(struct shmem_set *set, MmEntry *const *mms, size_t nr_mms);
const struct shmem_obj *shmem_find(const struct shmem_set *set, uint64_t ino);
void shmem_release(struct shmem_set *set);

#endif

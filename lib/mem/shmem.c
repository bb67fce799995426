#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include "log.h"
#include "mem/shmem.h"

const struct shmem_obj *shmem_find(const struct shmem_set *set, uint64_t ino)
{
	for (size_t i = 0; set && i < set->nr; i++)
		if (set->objs[i].ino == ino)
			return &set->objs[i];
	return NULL;
}

int shmem_prepare(struct shmem_set *set, MmEntry *const *mms, size_t nr_mms)
{
	for (size_t m = 0; m < nr_mms; m++) {
		for (size_t i = 0; mms[m] && i < mms[m]->n_vmas; i++) {
			const VmaEntry *v = mms[m]->vmas[i];
			if (v->kind != VMA_KIND__VMA_ANON_SHARED || !v->has_shm_ino || shmem_find(set, v->shm_ino))
				continue;
			struct shmem_obj *n = realloc(set->objs, (set->nr + 1) * sizeof(*n));
			if (!n)
				return -ENOMEM;
			set->objs = n;
			/* MAP_NORESERVE: only what the processes touch gets memory */
			void *p = mmap(NULL, v->shm_size, PROT_READ | PROT_WRITE,
				       MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
			if (p == MAP_FAILED)
				return pr_perror("can't create shared memory of %lu bytes", (unsigned long)v->shm_size);
			set->objs[set->nr++] = (struct shmem_obj){ v->shm_ino, v->shm_size, p };
		}
	}
	return 0;
}

void shmem_release(struct shmem_set *set)
{
	for (size_t i = 0; i < set->nr; i++)
		munmap(set->objs[i].addr, set->objs[i].size);
	free(set->objs);
	set->objs = NULL;
	set->nr = 0;
}

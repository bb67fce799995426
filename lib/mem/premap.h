#ifndef LIB_PREMAP_H
#define LIB_PREMAP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "image/image.h"
#include "mm.pb-c.h"
#include "restorer-args.h"

/* Bytes needed to premap every area of the image. */
uint64_t premap_size(const MmEntry *mm);
/* Validate the layout and the pagemap against the mm image, creating nothing. */
int premap_check(struct img_dir *dir, pid_t pid, const MmEntry *mm, unsigned long task_size);
/* Reserve len bytes (PROT_NONE) free here and outside every area of the image. */
int premap_reserve(const MmEntry *mm, uint64_t len, unsigned long task_size, uint64_t *out);
/* Map and fill every area at premap_start..; rv gets one entry per area (capacity n_vmas).
 * With lazy (a lazy restore), private anonymous areas stay empty and are listed in
 * *lazy (malloc'ed) for the lazy-pages daemon. */
struct shmem_set;
struct lazy_area;
int premap_build(struct img_dir *dir, pid_t pid, const MmEntry *mm, const struct shmem_set *shm,
		 uint64_t premap_start, struct rst_vma *rv, uint32_t *nr, struct lazy_area **lazy, size_t *nr_lazy);
/* This kernel's vDSO/vvar areas in our address space, found once by libcr: the
 * tasks it forks have them at the same places. */
#define PREMAP_VDSO_KINDS 3
struct vdso_here {
	struct { uint64_t start, len; } k[PREMAP_VDSO_KINDS];   /* len 0: absent */
};
int premap_vdso_here(struct vdso_here *here);
/* Those areas matched by kind to the image's, and where the image wants them. */
int premap_vdso(const MmEntry *mm, const struct vdso_here *here, struct rst_vdso_area *areas, uint32_t *nr);

#endif

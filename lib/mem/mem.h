/* Memory: the VMA list, the page pipeline (scanner -> parasite -> pipe -> sink)
 * on dump, and premapping on restore. */
#ifndef LIB_MEM_H
#define LIB_MEM_H

#include <stdint.h>
#include <sys/types.h>
#include "image/image.h"
#include "mm.pb-c.h"

#include <sys/mman.h>

/* The madvise() advice kept per area (VmEntry.madv holds 1 << MADV_*). */
#define MEM_MADV_RESTORED                                                                        \
	(1ULL << MADV_HUGEPAGE | 1ULL << MADV_NOHUGEPAGE | 1ULL << MADV_DONTDUMP |                \
	 1ULL << MADV_DONTFORK | 1ULL << MADV_WIPEONFORK | 1ULL << MADV_MERGEABLE)

struct infect_ctx;
struct proc_stat;

struct page_stats {
	uint64_t pages_scanned;   /* pages in dumpable areas */
	uint64_t pages_written;   /* pages stored */
};

/* Fill mm (fields and VMAs) from /proc/pid; brk comes from the parasite. */
int mem_collect(pid_t pid, const struct proc_stat *st, uint64_t brk, MmEntry *mm);
void mem_free(MmEntry *mm);
/* Whether a VMA's pages go into the image, and which of them. */
int mem_vma_dumps_content(const VmaEntry *v);

/* Drain the task's pages through the parasite into pagemap-<id>.img and pages-<id>.img
 * (id: the task's PID in the images). */
int mem_dump_pages(struct infect_ctx *ctx, const MmEntry *mm, struct img_dir *dir, unsigned pages_id,
		   struct page_stats *stats);

/* Validate a decoded mm image against this machine: sorted, non-overlapping,
 * page aligned, inside user space. */
int mem_validate(const MmEntry *mm, unsigned long task_size);

#endif

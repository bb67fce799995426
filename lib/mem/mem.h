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

/* Dirty tracking for one process (see track.h). */
struct dirty_track {
	int uffd;                 /* -1: none, every page counts as written */
	const MmEntry *parent;    /* the previous round's areas, or NULL */
	bool arm;                 /* protect the areas not tracked yet: more rounds follow */
	struct shm_stored *stored; /* shared anonymous areas stored already, or NULL */
};

/* The shared anonymous areas (object and range) an earlier process of this dump
 * stored: the object is one, its pages are stored once for the tree. */
struct shm_stored {
	size_t nr;
	struct shm_area { uint64_t ino, pgoff, len; } *a;
};
void shm_stored_free(struct shm_stored *s);

/* The runs of pages a pre-dump copies once the tree runs again. */
struct page_runs {
	struct page_run {
		uint64_t start, len;
	} *r;
	size_t nr;
};

/* Drain the task's pages through the parasite into pagemap-<id>.img and pages-<id>.img
 * (id: the task's PID in the images).  With dt, pages of tracked areas not written
 * since the previous round are listed as in the parent images.  With later (a
 * pre-dump; ctx may then be NULL), only the pagemap is written and the runs to copy
 * are added to *later, for mem_copy_runs. */
int mem_dump_pages(struct infect_ctx *ctx, pid_t pid, const MmEntry *mm, struct img_dir *dir, unsigned pages_id,
		   struct page_stats *stats, const struct dirty_track *dt, struct page_runs *later);
/* Whether a dump of this process stored pages in two parts (format version 16). */
bool mem_pages_parts_used(void);
void mem_pages_parts_reset(void);
/* Copy the runs from the (running) process into pages-<id>.img; -ESRCH (no
 * message) if it has exited meanwhile. */
int mem_copy_runs(pid_t pid, struct img_dir *dir, unsigned pages_id, const struct page_runs *runs);
/* Where the parasite's syscalls run: the start of the first executable area, or 0. */
uint64_t mem_exec_site(const MmEntry *mm);

/* Validate a decoded mm image against this machine: sorted, non-overlapping,
 * page aligned, inside user space. */
int mem_validate(const MmEntry *mm, unsigned long task_size);

#endif

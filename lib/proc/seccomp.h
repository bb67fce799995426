/* seccomp: every thread's mode and filter chain.  Dumped with
 * PTRACE_SECCOMP_GET_FILTER/GET_METADATA while the tree is seized (chains equal
 * in content and order share their filters in seccomp.img); restored by the
 * restorer as the thread's last setting, while libcr traces it with
 * PTRACE_O_SUSPEND_SECCOMP so that the filter never sees the restore's own calls. */
#ifndef LIB_PROC_SECCOMP_H
#define LIB_PROC_SECCOMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "pstree.pb-c.h"
#include "seccomp.pb-c.h"

struct tree;
struct img_dir;
struct restorer_args;
struct rst_thread;

#ifndef PTRACE_O_SUSPEND_SECCOMP
#define PTRACE_O_SUSPEND_SECCOMP (1 << 21)
#endif

/* The thread's seccomp mode (the "Seccomp:" line of its status): 0, 1 or 2; -1 if gone. */
int seccomp_thread_mode(pid_t pid, pid_t tid);

/* seccomp.img for the seized tree (no file when no thread has a mode). */
int seccomp_dump(const struct tree *t, struct img_dir *dir);

struct seccomp_image {
	SeccompEntry *e;        /* NULL: no thread had seccomp */
	size_t *depth;          /* per filter (index id-1): filters in its chain */
};

/* Read and validate seccomp.img, if there is one; pids/nr_threads: the tree (pstree). */
int seccomp_load(struct img_dir *dir, PstreeEntry *const *entries, size_t nr, struct seccomp_image *si);
void seccomp_free(struct seccomp_image *si);
static inline bool seccomp_any(const struct seccomp_image *si) { return si->e && si->e->n_threads; }
/* *len: bytes of restorer region the task's filters take. */
int seccomp_area_size(const struct seccomp_image *si, const PstreeEntry *p, size_t *len);
/* Fill the threads' seccomp fields (and a->seccomp_tsync), the programs copied to area. */
int seccomp_restorer_args(const struct seccomp_image *si, const PstreeEntry *p, struct restorer_args *a,
			  struct rst_thread *threads, uint64_t area);

#endif

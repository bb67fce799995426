/* A second CPU for the fill of a task's memory (see copyin-share.c). */
#ifndef LIB_MEM_COPYIN_SHARE_H
#define LIB_MEM_COPYIN_SHARE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include "mem/copyin.h"

/* One batch at a time, in memory shared by libcr's process and the restoring tasks. */
struct copyin_share {
	uint32_t state;         /* COPYIN_SHARE_* (copyin-share.c) */
	uint32_t seq;           /* bumped at each post: libcr's process waits on it */
	uint64_t pidns;         /* inode of libcr's pid namespace: only tasks in it post */
	uint64_t helped;        /* bytes libcr's process copied, for the stats */
	/* the batch: pieces of task pid's memory, from the window [lo, hi) of its fd */
	int32_t pid, uffd, fd;
	uint32_t nr, next;      /* next: the first piece no one has claimed yet */
	uint64_t lo, hi;
	struct copyin_piece redo;   /* what the helper claimed but could not copy */
	struct copyin_piece pieces[COPYIN_BATCH];
};

/* libcr's process, before the tasks start; and when the restore ends. */
void copyin_share_init(struct copyin_share *sh);
void copyin_share_end(void);
/* libcr's process, while it waits: read seq first, then look at everything else,
 * then serve (true: it copied a batch, look again) or wait for word to leave val
 * or a post, at most ts. */
uint32_t copyin_share_seq(struct copyin_share *sh);
bool copyin_share_serve(struct copyin_share *sh);
void copyin_share_wait(struct copyin_share *sh, uint32_t seq, uint32_t *word, uint32_t val,
		       const struct timespec *ts);

/* A restoring task: copy the pieces (in image order, from fd) through uffd, with
 * libcr's process taking some of them when it is free. */
int copyin_share_fill(int uffd, int fd, const struct copyin_piece *p, size_t nr, uint64_t bytes);

#endif

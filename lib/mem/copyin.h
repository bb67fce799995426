/* Filling fresh private anonymous memory with UFFDIO_COPY (see copyin.c). */
#ifndef LIB_MEM_COPYIN_H
#define LIB_MEM_COPYIN_H

#include <stdbool.h>
#include <stdint.h>
#include "mm.pb-c.h"

/* len bytes at dst (in the task's memory) from offset off of the pages image */
struct copyin_piece {
	uint64_t dst, off, len;
};

#define COPYIN_BATCH 1024   /* pieces queued before they are copied */

struct copyin {
	int uffd;               /* -1: not available (the fill populates and reads) */
	struct { uint64_t start, len; } *areas;   /* registered for the fill */
	size_t nr, cap;
	/* queued pieces, in image order, all from fd (copyin_queue) */
	int fd;
	struct copyin_piece *batch;
	size_t nr_batch;
	uint64_t batch_bytes;
};

/* Never fails: without userfaultfd copyin_usable says no. */
void copyin_open(struct copyin *ci);
/* Can area v (at its premap place) be filled this way? */
bool copyin_usable(const struct copyin *ci, const VmaEntry *v);
/* Register a whole area, once, before anything is filled (see fill_pages). */
int copyin_area(struct copyin *ci, uint64_t start, uint64_t len);
/* Fill [dst, dst + len) from a buffer, now. */
int copyin_from_buf(struct copyin *ci, char *dst, const void *src, uint64_t len);
/* Fill [dst, dst + len) from fd at page-aligned off: queued, copied by
 * copyin_flush at the latest (or sooner, when the queue is full). */
int copyin_queue(struct copyin *ci, char *dst, int fd, uint64_t off, uint64_t len);
int copyin_flush(struct copyin *ci);
/* Unregister every area (they become ordinary memory again) and close;
 * what is still queued is dropped: flush first. */
int copyin_close(struct copyin *ci);

/* One piece through uffd from src; quiet: the bytes copied (all, or up to a failure). */
uint64_t copyin_piece_copy(int uffd, const struct copyin_piece *p, const char *src);

#endif

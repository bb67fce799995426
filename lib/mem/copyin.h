/* Filling fresh private anonymous memory with UFFDIO_COPY (see copyin.c). */
#ifndef LIB_MEM_COPYIN_H
#define LIB_MEM_COPYIN_H

#include <stdbool.h>
#include <stdint.h>
#include "mm.pb-c.h"

struct copyin {
	int uffd;               /* -1: not available (the fill populates and reads) */
	struct { uint64_t start, len; } *areas;   /* registered for the fill */
	size_t nr, cap;
};

/* Never fails: without userfaultfd copyin_usable says no. */
void copyin_open(struct copyin *ci);
/* Can area v (at its premap place) be filled this way? */
bool copyin_usable(const struct copyin *ci, const VmaEntry *v);
/* Register a whole area, once, before anything is filled (see fill_pages). */
int copyin_area(struct copyin *ci, uint64_t start, uint64_t len);
/* Fill [dst, dst + len) from a buffer, or from fd at page-aligned off. */
int copyin_from_buf(struct copyin *ci, char *dst, const void *src, uint64_t len);
int copyin_from_fd(struct copyin *ci, char *dst, int fd, uint64_t off, uint64_t len);
/* Unregister every area (they become ordinary memory again) and close. */
int copyin_close(struct copyin *ci);

#endif

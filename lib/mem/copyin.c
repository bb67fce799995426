/* Filling fresh private anonymous memory from the images.  Populating an area
 * and then reading into it makes the kernel clear every page before it is
 * overwritten (clear_page was half of a 1 GiB restore's profile).  UFFDIO_COPY
 * allocates each page and copies into it in one pass: the area is registered
 * with a userfaultfd of the restoring task for the time of the fill, and the
 * pages come from the pages image mapped read-only (its page cache, no copy in
 * between).  Pages that are not in the image stay missing and fault in as zero
 * pages later, as before.  Without userfaultfd the fill populates and reads. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "kerndat.h"
#include "log.h"
#include "mem/copyin.h"
#include "mem/copyin-share.h"
#include "uapi-compat.h"

/* A batch of pieces spans at most this much of the image: both sides map it whole. */
#define COPYIN_WINDOW (256UL << 20)
/* and a piece is at most this long, so that a large run can be shared out */
#define COPYIN_PIECE  (4UL << 20)

void copyin_open(struct copyin *ci)
{
	struct uffdio_api api = { .api = UFFD_API };

	memset(ci, 0, sizeof(*ci));
	ci->uffd = ci->fd = -1;
	if (!kerndat_get()->uffd || !(ci->batch = malloc(COPYIN_BATCH * sizeof(*ci->batch))))
		return;
	/* we copy from user space: no kernel-mode faults to serve, so no privilege needed */
	ci->uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	if (ci->uffd >= 0 && ioctl(ci->uffd, UFFDIO_API, &api)) {
		close(ci->uffd);
		ci->uffd = -1;
	}
}

bool copyin_usable(const struct copyin *ci, const VmaEntry *v)
{
	return ci->uffd >= 0 && v->kind == VMA_KIND__VMA_ANON_PRIVATE;
}

int copyin_area(struct copyin *ci, uint64_t start, uint64_t len)
{
	struct uffdio_register reg = { .range = { start, len }, .mode = UFFDIO_REGISTER_MODE_MISSING };

	if (ci->nr == ci->cap) {
		size_t cap = ci->cap ? ci->cap * 2 : 16;
		void *n = realloc(ci->areas, cap * sizeof(*ci->areas));
		if (!n)
			return -ENOMEM;
		ci->areas = n;
		ci->cap = cap;
	}
	if (ioctl(ci->uffd, UFFDIO_REGISTER, &reg))
		return pr_perror("can't register 0x%lx-0x%lx to fill it", (unsigned long)start,
				 (unsigned long)(start + len));
	ci->areas[ci->nr].start = start;
	ci->areas[ci->nr++].len = len;
	return 0;
}

uint64_t copyin_piece_copy(int uffd, const struct copyin_piece *p, const char *src)
{
	uint64_t done = 0;

	while (done < p->len) {
		struct uffdio_copy c = { .dst = p->dst + done, .src = (uint64_t)src + done, .len = p->len - done };

		if (!ioctl(uffd, UFFDIO_COPY, &c))
			return p->len;
		/* EAGAIN: the address space changed under the copy; what was copied counts */
		if (errno != EAGAIN || c.copy <= 0)
			break;
		done += c.copy;
	}
	return done;
}

int copyin_from_buf(struct copyin *ci, char *dst, const void *src, uint64_t len)
{
	struct copyin_piece p = { (uint64_t)dst, 0, len };
	uint64_t done = copyin_piece_copy(ci->uffd, &p, src);

	if (done < len)
		return pr_perror("can't fill 0x%lx (%lu bytes)", (unsigned long)(p.dst + done),
				 (unsigned long)(len - done));
	return 0;
}

int copyin_flush(struct copyin *ci)
{
	int ret;

	if (!ci->nr_batch)
		return 0;
	ret = copyin_share_fill(ci->uffd, ci->fd, ci->batch, ci->nr_batch, ci->batch_bytes);
	ci->nr_batch = 0;
	ci->batch_bytes = 0;
	return ret;
}

int copyin_queue(struct copyin *ci, char *dst, int fd, uint64_t off, uint64_t len)
{
	while (len) {
		uint64_t n = len < COPYIN_PIECE ? len : COPYIN_PIECE;
		int ret;

		if (ci->nr_batch && (fd != ci->fd || ci->nr_batch == COPYIN_BATCH ||
				     off + n - ci->batch[0].off > COPYIN_WINDOW) &&
		    (ret = copyin_flush(ci)))
			return ret;
		ci->fd = fd;
		ci->batch[ci->nr_batch++] = (struct copyin_piece){ (uint64_t)dst, off, n };
		ci->batch_bytes += n;
		dst += n;
		off += n;
		len -= n;
	}
	return 0;
}

int copyin_close(struct copyin *ci)
{
	int ret = 0;

	for (size_t i = 0; i < ci->nr; i++) {
		struct uffdio_range r = { ci->areas[i].start, ci->areas[i].len };
		if (ioctl(ci->uffd, UFFDIO_UNREGISTER, &r) && !ret)
			ret = pr_perror("can't unregister 0x%lx after filling it", (unsigned long)r.start);
	}
	if (ci->uffd >= 0)
		close(ci->uffd);
	free(ci->areas);
	free(ci->batch);
	memset(ci, 0, sizeof(*ci));
	ci->uffd = ci->fd = -1;
	return ret;
}

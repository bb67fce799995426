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
#include "uapi-compat.h"

#define COPYIN_MAP_CHUNK (64UL << 20)   /* the image mapped this much at a time */

void copyin_open(struct copyin *ci)
{
	struct uffdio_api api = { .api = UFFD_API };

	memset(ci, 0, sizeof(*ci));
	ci->uffd = -1;
	if (!kerndat_get()->uffd)
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

int copyin_from_buf(struct copyin *ci, char *dst, const void *src, uint64_t len)
{
	uint64_t done = 0;

	while (done < len) {
		struct uffdio_copy c = { .dst = (uint64_t)dst + done, .src = (uint64_t)src + done, .len = len - done };

		if (!ioctl(ci->uffd, UFFDIO_COPY, &c)) {
			done = len;
			break;
		}
		/* EAGAIN: the address space changed under the copy; what was copied counts */
		if (errno != EAGAIN || c.copy < 0)
			return pr_perror("can't fill 0x%lx (%lu bytes)", (unsigned long)(dst + done),
					 (unsigned long)(len - done));
		done += c.copy;
	}
	return 0;
}

int copyin_from_fd(struct copyin *ci, char *dst, int fd, uint64_t off, uint64_t len)
{
	while (len) {
		uint64_t n = len < COPYIN_MAP_CHUNK ? len : COPYIN_MAP_CHUNK;
		void *src = mmap(NULL, n, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, off);
		int ret;

		if (src == MAP_FAILED)
			return pr_perror("can't map %lu bytes of the pages image at %lu", (unsigned long)n,
					 (unsigned long)off);
		ret = copyin_from_buf(ci, dst, src, n);
		munmap(src, n);
		if (ret)
			return ret;
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
	memset(ci, 0, sizeof(*ci));
	ci->uffd = -1;
	return ret;
}

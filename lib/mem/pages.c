/* The page pipeline, dump side: a scanner finds the pages worth storing, the
 * parasite vmsplices them into a pipe, we splice the pipe into the pages image.
 * Page contents never pass through our memory (except for unreadable areas,
 * read through /proc/pid/mem).
 *
 * A large batch is split: its first half goes into pages-ID.img through the
 * first pipe, its second half into pages-ID.part1.img through a second pipe
 * that a second thread drains, both at once.  One file takes one writer at a
 * time (on tmpfs its inode lock; the copy into its page cache is what bounds a
 * dump), two files fill on two CPUs: 1 GiB went from 0.33 s to 0.19 s here.
 * Each pagemap entry says which file holds its run (part 1, or 0 absent), so
 * the entries of a batch are written at its flush, once the split is known. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include "infect/infect.h"
#include "kerndat.h"
#include "fault.h"
#include "log.h"
#include "mem/mem.h"
#include "mem/page-server.h"
#include "mem/track.h"
#include "proc/proc.h"
#include "uapi-compat.h"
#include "util.h"

#define PM_PRESENT (1ULL << 63)
#define PM_SWAPPED (1ULL << 62)
#define PM_FILE    (1ULL << 61)

/* A batch this large is split over the two files.  Below it the second drainer
 * (a thread, a pipe, a file) saves little, and the images stay readable by older
 * readers (version 16 is needed only where part 1 is written). */
#define SPLIT_MIN (16ULL << 20)
/* Pagemap entries held for one batch at most (parent runs add to no batch). */
#define PENDING_MAX 4096
#define DRAIN_TIMEOUT_MS 10000

/* A pagemap entry of the batch being gathered. */
struct pending_run {
	uint64_t start, len;
	bool in_parent;
};

/* The second drainer: a thread that splices the second page pipe into part 1
 * while the dumping thread drains the first into part 0. */
struct drainer {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int pipe_rd, out_fd, stop_fd;  /* stop_fd: an eventfd, the batch is given up */
	uint64_t bytes;                /* of the batch given it; 0: idle */
	bool quit;
	bool inject;                   /* CR_FAULT pages-write-part1: fail halfway through */
	int err;                       /* the batch's failure: errno, or -1 stalled, -2 pipe closed */
};

struct page_sink {
	struct infect_ctx *ctx;
	pid_t pid;
	struct img_dir *imgs;
	struct img *pagemap;
	struct img *pages;
	struct img *part1;    /* pages-ID.part1.img, made at the first split batch */
	unsigned pages_id;
	bool can_split;       /* local files, written now: a batch may fill two at once */
	int mem_fd;           /* /proc/pid/mem, opened on first unreadable area */
	uint32_t nr_iovs;     /* pending in ctx->args->iovs */
	uint64_t batch_bytes;
	struct pending_run *runs;  /* the batch's pagemap entries, in address order */
	size_t nr_runs, cap_runs;
	struct drainer *drainer;
	struct page_stats *stats;
	struct page_runs *later;  /* a pre-dump: runs to copy once the tree runs again */
};

static bool parts_used;

bool mem_pages_parts_used(void)
{
	return parts_used;
}

void mem_pages_parts_reset(void)
{
	parts_used = false;
}

/* A write into a pages image failed (errno): where it was going, and why. */
static int write_failed(const struct page_sink *s, const struct img *to)
{
	if (to->ps)
		return pr_perror("can't send pages of %d to the page server %s", s->pid, to->ps->where);
	return pr_perror("can't write pages of %d into %s/%s", s->pid, s->imgs->path, to->name);
}

/* Move 'bytes' from a page pipe into an image: 0, else errno (-1: nothing came
 * for DRAIN_TIMEOUT_MS; -2: the pipe closed early; 1: 'other' became readable
 * first).  Neither logs: the second drainer runs on another thread. */
static int splice_all(int pipe_rd, int out_fd, uint64_t bytes, int other)
{
	struct pollfd pfd[2] = { { .fd = pipe_rd, .events = POLLIN }, { .fd = other, .events = POLLIN } };

	while (bytes) {
		ssize_t n = splice(pipe_rd, NULL, out_fd, NULL, bytes, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n > 0) {
			bytes -= n;
			continue;
		}
		if (n == 0)
			return -2;
		if (errno != EAGAIN && errno != EINTR)
			return errno;
		int ready = poll(pfd, 2, DRAIN_TIMEOUT_MS);
		if (ready < 0 && errno == EINTR)
			continue;   /* SIGINT/SIGTERM: the caller's next fault_hit() says "interrupted" */
		if (ready <= 0)
			return -1;
		if ((pfd[1].revents & (POLLIN | POLLHUP)) && !(pfd[0].revents & POLLIN))
			return 1;
	}
	return 0;
}

static int drain_failed(const struct page_sink *s, const struct img *to, int err)
{
	if (err == -1)
		return pr_err("pages of %d stopped flowing", s->pid), -ETIMEDOUT;
	if (err == -2)
		return pr_err("page pipe of %d closed early", s->pid), -EIO;
	errno = err;
	return write_failed(s, to);
}

/* Splice exactly 'bytes' from the first page pipe into the image while the parasite fills it. */
static int drain_pipe(struct page_sink *s, uint64_t bytes)
{
	int err;

	while (bytes) {
		/* in steps, so that an injected failure lands mid-stream */
		uint64_t step = bytes < (1ULL << 20) ? bytes : (1ULL << 20);
		if (fault_hit("pages-write"))
			return errno = ENOSPC, write_failed(s, s->pages);
		if ((err = splice_all(s->ctx->pipe_rd, s->pages->fd, step, s->ctx->sock)) == 1)
			return infect_cmd_recv(s->ctx, PARASITE_CMD_DUMP_PAGES, NULL) ?: -EIO;
		if (err)
			return drain_failed(s, s->pages, err);
		bytes -= step;
	}
	return 0;
}

static void *drainer_main(void *arg)
{
	struct drainer *d = arg;

	pthread_mutex_lock(&d->lock);
	for (;;) {
		while (!d->bytes && !d->quit)
			pthread_cond_wait(&d->cond, &d->lock);
		if (d->quit)
			break;
		uint64_t bytes = d->bytes;
		bool inject = d->inject;
		pthread_mutex_unlock(&d->lock);
		/* its blocks first, as reserve_space() does, while the first thread reserves its own */
		off_t at = lseek(d->out_fd, 0, SEEK_CUR);
		int err = at >= 0 && fallocate(d->out_fd, FALLOC_FL_KEEP_SIZE, at, bytes) && errno == ENOSPC ? ENOSPC : 0;
		if (!err)
			err = inject ? splice_all(d->pipe_rd, d->out_fd, bytes / 2, d->stop_fd) ?: ENOSPC
				     : splice_all(d->pipe_rd, d->out_fd, bytes, d->stop_fd);
		pthread_mutex_lock(&d->lock);
		d->err = err;
		d->bytes = 0;
		pthread_cond_broadcast(&d->cond);
	}
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

static void drainer_stop(struct drainer *d)
{
	if (!d)
		return;
	pthread_mutex_lock(&d->lock);
	d->quit = true;
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
	pthread_join(d->thread, NULL);
	pthread_mutex_destroy(&d->lock);
	pthread_cond_destroy(&d->cond);
	close(d->stop_fd);
	free(d);
}

/* The second pipe, part 1 and the thread that joins them: once per process, at its
 * first split batch. */
static int split_prepare(struct page_sink *s)
{
	struct drainer *d;
	int ret;

	if (s->drainer)
		return 0;
	if (!s->part1 && !(s->part1 = img_create(s->imgs, IMG_PAGES_PART1, s->pages_id)))
		return -EIO;
	if ((ret = infect_pipe2(s->ctx)))
		return ret;
	if (!(d = calloc(1, sizeof(*d))))
		return -ENOMEM;
	*d = (struct drainer){ .pipe_rd = s->ctx->pipe2_rd, .out_fd = s->part1->fd,
			       .stop_fd = eventfd(0, EFD_CLOEXEC) };
	if (d->stop_fd < 0) {
		free(d);
		return pr_perror("can't make an eventfd for the second page drainer");
	}
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->cond, NULL);
	if ((ret = pthread_create(&d->thread, NULL, drainer_main, d))) {
		close(d->stop_fd);
		free(d);
		errno = ret;
		return pr_perror("can't start the second page drainer");
	}
	s->drainer = d;
	parts_used = true;
	return 0;
}

static void drainer_give(struct drainer *d, uint64_t bytes)
{
	bool inject = fault_hit("pages-write-part1");   /* here: fault_hit is not thread-safe */

	pthread_mutex_lock(&d->lock);
	d->inject = inject;
	d->err = 0;
	d->bytes = bytes;
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
}

/* Wait for the drainer's batch (stopping it first if 'stop'): its err. */
static int drainer_wait(struct drainer *d, bool stop)
{
	uint64_t one = 1;
	int err;

	if (stop && write(d->stop_fd, &one, sizeof(one)) != sizeof(one))
		stop = false;
	pthread_mutex_lock(&d->lock);
	while (d->bytes)
		pthread_cond_wait(&d->cond, &d->lock);
	err = d->err;
	pthread_mutex_unlock(&d->lock);
	if (stop)
		(void)!read(d->stop_fd, &one, sizeof(one));
	return err;
}

/* Allocate an image's blocks for its part of the batch in one call before
 * splicing into them: on tmpfs that is ~10x faster than allocating page by page
 * as the data arrives.  Filesystems without fallocate just take the slower path.
 * (Reserving step by step on another CPU while this one splices gained nothing:
 * both take the file's inode lock in turn.) */
static int reserve_space(struct page_sink *s, struct img *img, uint64_t bytes)
{
	off_t at = lseek(img->fd, 0, SEEK_CUR);

	if (at >= 0 && fallocate(img->fd, FALLOC_FL_KEEP_SIZE, at, bytes) && errno == ENOSPC)
		return pr_perror("no room for %lu bytes of pages in %s/%s", (unsigned long)bytes, s->imgs->path, img->name);
	return 0;
}

static int write_entry(struct page_sink *s, uint64_t start, uint64_t len, bool in_parent, uint32_t part)
{
	PagemapEntry pe = PAGEMAP_ENTRY__INIT;

	pe.vaddr = start;
	pe.nr_pages = len / PAGE_SIZE;
	pe.has_in_parent = pe.in_parent = in_parent;
	pe.has_part = part != 0;
	pe.part = part;
	return img_write_msg(s->pagemap, &pe.base);
}

/* The batch's entries: the bytes before 'split' are in part 0, the rest in part 1
 * (a run across the split becomes two entries). */
static int write_entries(struct page_sink *s, uint64_t split)
{
	uint64_t pos = 0;
	int ret = 0;

	for (size_t i = 0; i < s->nr_runs && !ret; i++) {
		struct pending_run *r = &s->runs[i];
		uint64_t start = r->start, len = r->len;

		if (r->in_parent) {
			ret = write_entry(s, start, len, true, 0);
			continue;
		}
		if (pos < split && pos + len > split) {
			uint64_t head = split - pos;
			if ((ret = write_entry(s, start, head, false, 0)))
				break;
			start += head;
			len -= head;
			pos = split;
		}
		ret = write_entry(s, start, len, false, pos >= split);
		pos += len;
	}
	s->nr_runs = 0;
	return ret;
}

/* Flush the batch: its entries, then its pages, split if it is large. */
static int flush_batch(struct page_sink *s)
{
	uint64_t done, split = UINT64_MAX;
	int ret, err;

	if (s->can_split && s->batch_bytes >= SPLIT_MIN) {
		split = s->batch_bytes / 2 & ~(uint64_t)(PAGE_SIZE - 1);
		if ((ret = split_prepare(s)))
			return ret;
	}
	if ((ret = write_entries(s, split)) || !s->nr_iovs)
		return ret;
	if (split > s->batch_bytes)
		split = s->batch_bytes;
	s->ctx->args->nr_iovs = s->nr_iovs;
	s->ctx->args->split = split;
	/* the second thread reserves part 1's blocks while we reserve part 0's */
	if (split < s->batch_bytes)
		drainer_give(s->drainer, s->batch_bytes - split);
	if (!(ret = reserve_space(s, s->pages, split)) && !(ret = img_raw_begin(s->pages, s->batch_bytes)) &&
	    !(ret = infect_cmd_send(s->ctx, PARASITE_CMD_DUMP_PAGES)))
		ret = drain_pipe(s, split);
	if (split < s->batch_bytes && (err = drainer_wait(s->drainer, ret != 0)) && !ret)
		ret = drain_failed(s, s->part1, err);
	if (ret)
		return ret;
	if ((ret = infect_cmd_recv(s->ctx, PARASITE_CMD_DUMP_PAGES, &done)))
		return ret;
	if (done != s->batch_bytes)
		return pr_err("the parasite moved %lu bytes of %d's memory, expected %lu", (unsigned long)done,
			      s->pid, (unsigned long)s->batch_bytes), -EIO;
	s->nr_iovs = 0;
	s->batch_bytes = 0;
	return 0;
}

/* Hold an entry for the batch's flush (flushing first a batch that holds enough). */
static int add_run(struct page_sink *s, uint64_t start, uint64_t end, bool in_parent)
{
	if (s->nr_runs == PENDING_MAX) {
		int ret = flush_batch(s);
		if (ret)
			return ret;
	}
	if (s->nr_runs == s->cap_runs) {
		size_t cap = s->cap_runs ? s->cap_runs * 2 : 64;
		struct pending_run *n = realloc(s->runs, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		s->runs = n;
		s->cap_runs = cap;
	}
	s->runs[s->nr_runs++] = (struct pending_run){ start, end - start, in_parent };
	return 0;
}

/* Unreadable areas (PROT_NONE with content) can't be vmspliced: read them via /proc/pid/mem. */
static int copy_via_mem(struct page_sink *s, uint64_t start, uint64_t len)
{
	char buf[64 << 10];

	if (s->mem_fd < 0) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/mem", s->pid);
		s->mem_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (s->mem_fd < 0)
			return pr_perror("can't open %s", path);
	}
	while (len) {
		size_t chunk = len < sizeof(buf) ? len : sizeof(buf);
		ssize_t n = pread(s->mem_fd, buf, chunk, start);
		if (n != (ssize_t)chunk)
			return pr_perror("can't read memory of %d at 0x%lx", s->pid, (unsigned long)start);
		int ret = img_raw_begin(s->pages, chunk) ?: write_all(s->pages->fd, buf, chunk);
		if (ret)
			return errno = -ret, write_failed(s, s->pages);
		start += chunk;
		len -= chunk;
	}
	return 0;
}

/* A run of pages whose content is in the parent images. */
static int emit_parent_run(struct page_sink *s, uint64_t start, uint64_t end)
{
	return add_run(s, start, end, true);
}

/* One run of pages to store, in image order. */
static int emit_run(struct page_sink *s, const VmaEntry *v, uint64_t start, uint64_t end)
{
	int ret;

	s->stats->pages_written += (end - start) / PAGE_SIZE;
	if (s->later) {
		struct page_runs *l = s->later;
		if ((ret = add_run(s, start, end, false)))
			return ret;
		if (l->nr && l->r[l->nr - 1].start + l->r[l->nr - 1].len == start) {
			l->r[l->nr - 1].len += end - start;
			return 0;
		}
		struct page_run *n = realloc(l->r, (l->nr + 1) * sizeof(*n));
		if (!n)
			return -ENOMEM;
		l->r = n;
		l->r[l->nr++] = (struct page_run){ start, end - start };
		return 0;
	}
	if (!(v->prot & PROT_READ)) {
		/* after the batch, into part 0 */
		if ((ret = flush_batch(s)) || (ret = write_entry(s, start, end - start, false, 0)))
			return ret;
		return copy_via_mem(s, start, end - start);
	}
	/* a full batch goes first: the run's entry and bytes must land in the same one */
	struct parasite_iov *iov = s->ctx->args->iovs;
	bool extend = s->nr_iovs && iov[s->nr_iovs - 1].base + iov[s->nr_iovs - 1].len == start;
	if (!extend && s->nr_iovs == PARASITE_MAX_IOVS && (ret = flush_batch(s)))
		return ret;
	if ((ret = add_run(s, start, end, false)))
		return ret;
	/* extend the previous iovec when contiguous (add_run may have flushed it) */
	if (s->nr_iovs && iov[s->nr_iovs - 1].base + iov[s->nr_iovs - 1].len == start) {
		iov[s->nr_iovs - 1].len += end - start;
	} else {
		iov[s->nr_iovs].base = start;
		iov[s->nr_iovs].len = end - start;
		s->nr_iovs++;
	}
	s->batch_bytes += end - start;
	return 0;
}

/* Scanner, fast path: PAGEMAP_SCAN returns runs of matching pages directly. */
static int scan_pagemap_scan(struct page_sink *s, int pm_fd, const VmaEntry *v)
{
	struct page_region regs[512];
	struct pm_scan_arg arg = {
		.size = sizeof(arg),
		.start = v->start,
		.end = v->end,
		.vec = (uintptr_t)regs,
		.vec_len = ARRAY_SIZE(regs),
		.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
		.return_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
	};

	/* the shared zero page holds nothing; in private file mappings only CoW'd (anon) pages count */
	arg.category_inverted = arg.category_mask = PAGE_IS_PFNZERO;
	if (v->kind == VMA_KIND__VMA_FILE_PRIVATE)
		arg.category_inverted = arg.category_mask = PAGE_IS_PFNZERO | PAGE_IS_FILE;
	while (arg.start < arg.end) {
		long n = ioctl(pm_fd, PAGEMAP_SCAN, &arg);
		if (n < 0)
			return pr_perror("PAGEMAP_SCAN of pid %d at 0x%lx", s->pid, (unsigned long)arg.start);
		for (long i = 0; i < n; i++) {
			int ret = emit_run(s, v, regs[i].start, regs[i].end);
			if (ret)
				return ret;
		}
		arg.start = arg.walk_end;
	}
	return 0;
}

/* Scanner of a tracked area: one PAGEMAP_SCAN returns the present pages split by
 * whether they were written since the last round, and protects them again.  1 if
 * the area is not tracked (the kernel refuses PM_SCAN_CHECK_WPASYNC). */
static int scan_tracked(struct page_sink *s, int pm_fd, const VmaEntry *v)
{
	struct page_region regs[512];
	struct pm_scan_arg arg = {
		.size = sizeof(arg),
		.flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC,
		.start = v->start,
		.end = v->end,
		.vec = (uintptr_t)regs,
		.vec_len = ARRAY_SIZE(regs),
		.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
		.category_inverted = PAGE_IS_PFNZERO,
		.category_mask = PAGE_IS_PFNZERO,
		.return_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED | PAGE_IS_WRITTEN,
	};
	bool first = true;

	while (arg.start < arg.end) {
		long n = ioctl(pm_fd, PAGEMAP_SCAN, &arg);
		if (n < 0 && first && errno == EPERM)
			return 1;
		if (n < 0)
			return pr_perror("PAGEMAP_SCAN (written pages) of pid %d at 0x%lx", s->pid,
					 (unsigned long)arg.start);
		first = false;
		for (long i = 0; i < n; i++) {
			int ret = regs[i].categories & PAGE_IS_WRITTEN ? emit_run(s, v, regs[i].start, regs[i].end)
								       : emit_parent_run(s, regs[i].start, regs[i].end);
			if (ret)
				return ret;
		}
		arg.start = arg.walk_end;
	}
	return 0;
}

/* The same area, with the same bounds, in the previous round. */
static bool in_parent(const MmEntry *parent, const VmaEntry *v)
{
	for (size_t i = 0; parent && i < parent->n_vmas; i++)
		if (parent->vmas[i]->start == v->start && parent->vmas[i]->end == v->end)
			return track_eligible(parent->vmas[i]);
	return false;
}

/* Scanner, portable path: read pagemap entries. */
static int scan_pagemap(struct page_sink *s, int pm_fd, const VmaEntry *v)
{
	uint64_t ents[4096];
	uint64_t run_start = 0;

	for (uint64_t addr = v->start; addr < v->end;) {
		uint64_t n = (v->end - addr) / PAGE_SIZE;
		if (n > ARRAY_SIZE(ents))
			n = ARRAY_SIZE(ents);
		if (pread(pm_fd, ents, n * 8, addr / PAGE_SIZE * 8) != (ssize_t)(n * 8))
			return pr_perror("can't read pagemap of pid %d", s->pid);
		for (uint64_t i = 0; i < n; i++, addr += PAGE_SIZE) {
			uint64_t e = ents[i];
			bool want = (e & PM_SWAPPED) || ((e & PM_PRESENT) &&
				    !(v->kind == VMA_KIND__VMA_FILE_PRIVATE && (e & PM_FILE)));
			if (want && !run_start)
				run_start = addr;
			if (!want && run_start) {
				int ret = emit_run(s, v, run_start, addr);
				if (ret)
					return ret;
				run_start = 0;
			}
		}
	}
	return run_start ? emit_run(s, v, run_start, v->end) : 0;
}

/* Scanner of shared anonymous memory: the pages the object holds, not only those this
 * process has mapped.  A page written by a process that has since exited (a
 * PostgreSQL backend writing shared buffers) is in no page table, yet it is data;
 * SEEK_DATA on the object (through map_files) finds it, swapped out or not. */
static int scan_shmem(struct page_sink *s, const VmaEntry *v)
{
	char mf[128];
	off_t lo = v->pgoff, hi = v->pgoff + (v->end - v->start);
	int fd, ret = 0;

	snprintf(mf, sizeof(mf), "/proc/%d/map_files/%lx-%lx", s->pid, (unsigned long)v->start,
		 (unsigned long)v->end);
	fd = open(mf, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return pr_perror("can't open %s (shared anonymous memory of pid %d)", mf, s->pid);
	while (lo < hi && !ret) {
		off_t data = lseek(fd, lo, SEEK_DATA), hole;
		if (data < 0 && errno == ENXIO)
			break;
		if (data < 0 || (hole = lseek(fd, data, SEEK_HOLE)) < 0) {
			ret = pr_perror("can't find the pages of %s", mf);
			break;
		}
		if (data >= hi)
			break;
		if (hole > hi)
			hole = hi;
		ret = emit_run(s, v, v->start + (data - v->pgoff), v->start + (hole - v->pgoff));
		lo = hole;
	}
	close(fd);
	return ret;
}

void shm_stored_free(struct shm_stored *s)
{
	free(s->a);
	*s = (struct shm_stored){ 0 };
}

/* 1 if an earlier process stored this area of the object, else 0 and it is noted */
static int shm_seen(struct shm_stored *s, const VmaEntry *v)
{
	struct shm_area a = { v->shm_ino, v->pgoff, v->end - v->start }, *n;

	if (!s)
		return 0;
	for (size_t i = 0; i < s->nr; i++)
		if (s->a[i].ino == a.ino && s->a[i].pgoff == a.pgoff && s->a[i].len == a.len)
			return 1;
	if (!(n = realloc(s->a, (s->nr + 1) * sizeof(*n))))
		return -ENOMEM;
	s->a = n;
	s->a[s->nr++] = a;
	return 0;
}

/* Without PAGEMAP_SCAN (Linux before 6.7) the pagemap gives 8 bytes for every page of an
 * area, present or not: 2 GiB to read for a 1 TiB reservation (MariaDB, the JVM and Go
 * keep such).  Where that much is to be read, smaps' Rss and Swap tell the areas holding
 * no page at all, which are skipped.  smaps walks the page tables too, so for less it
 * would cost more than it saves.  *empty: one flag per area of mm, or NULL. */
#define SMAPS_WORTH (256ULL << 20)

static int unpopulated_areas(pid_t pid, const MmEntry *mm, bool **empty)
{
	struct proc_vma *pv;
	uint64_t total = 0;
	int nr, ret;

	*empty = NULL;
	for (size_t i = 0; i < mm->n_vmas; i++)
		if (mem_vma_dumps_content(mm->vmas[i]))
			total += mm->vmas[i]->end - mm->vmas[i]->start;
	if (total < SMAPS_WORTH)
		return 0;
	if ((ret = proc_parse_smaps(pid, &pv, &nr)))
		return ret;
	if (!(*empty = calloc(mm->n_vmas ? mm->n_vmas : 1, sizeof(bool)))) {
		free(pv);
		return -ENOMEM;
	}
	/* both in address order; an area that changed since is not skipped */
	for (size_t i = 0, k = 0; i < mm->n_vmas; i++) {
		const VmaEntry *v = mm->vmas[i];
		while (k < (size_t)nr && pv[k].start < v->start)
			k++;
		if (k < (size_t)nr && pv[k].start == v->start && pv[k].end == v->end)
			(*empty)[i] = !pv[k].rss_kb && !pv[k].swap_kb;
	}
	free(pv);
	return 0;
}

int mem_dump_pages(struct infect_ctx *ctx, pid_t pid, const MmEntry *mm, struct img_dir *dir, unsigned pages_id,
		   struct page_stats *stats, const struct dirty_track *dt, struct page_runs *later)
{
	struct page_sink s = { .ctx = ctx, .pid = pid, .imgs = dir, .pages_id = pages_id, .mem_fd = -1,
			       .stats = stats, .later = later };
	PagemapHead head = PAGEMAP_HEAD__INIT;
	bool fast = kerndat_get()->pagemap_scan, *empty = NULL;
	char path[64];
	int pm_fd, ret;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	pm_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (pm_fd < 0)
		return pr_perror("can't open %s", path);
	s.pagemap = img_create(dir, IMG_PAGEMAP, pages_id);
	s.pages = later ? NULL : img_create(dir, IMG_PAGES, pages_id);
	ret = -EIO;
	if (!s.pagemap || (!later && !s.pages))
		goto out;
	s.can_split = s.pages && !s.pages->ps;
	head.pages_id = pages_id;
	if ((ret = img_write_msg(s.pagemap, &head.base)) || (!fast && (ret = unpopulated_areas(pid, mm, &empty))))
		goto out;
	for (size_t i = 0; i < mm->n_vmas; i++) {
		const VmaEntry *v = mm->vmas[i];
		if (!mem_vma_dumps_content(v))
			continue;
		stats->pages_scanned += (v->end - v->start) / PAGE_SIZE;
		if (dt && dt->uffd >= 0 && track_eligible(v)) {
			if (in_parent(dt->parent, v) && (ret = scan_tracked(&s, pm_fd, v)) <= 0) {
				if (ret)
					goto out;
				continue;
			}
			/* new (or moved) since the last round: stored whole, and tracked from now on */
			if (dt->arm && (ret = track_arm(dt->uffd, v)))
				goto out;
		}
		if (v->kind == VMA_KIND__VMA_ANON_SHARED && v->has_shm_ino)
			ret = (ret = shm_seen(dt ? dt->stored : NULL, v)) ? (ret > 0 ? 0 : ret) : scan_shmem(&s, v);
		else if (empty && empty[i])
			ret = 0;   /* not a page in it (smaps) */
		else
			ret = fast ? scan_pagemap_scan(&s, pm_fd, v) : scan_pagemap(&s, pm_fd, v);
		if (ret)
			goto out;
	}
	if ((ret = flush_batch(&s)))
		goto out;
	ret = img_close_write(s.pagemap);
	s.pagemap = NULL;
	if (!ret && s.pages)
		ret = img_close_write(s.pages);
	s.pages = NULL;
	if (!ret && s.part1)
		ret = img_close_write(s.part1);
	s.part1 = NULL;
out:
	drainer_stop(s.drainer);
	free(empty);
	free(s.runs);
	img_close(s.pagemap);
	img_close(s.pages);
	img_close(s.part1);
	if (s.mem_fd >= 0)
		close(s.mem_fd);
	close(pm_fd);
	return ret;
}

int mem_copy_runs(pid_t pid, struct img_dir *dir, unsigned pages_id, const struct page_runs *runs)
{
	struct img *pages = img_create(dir, IMG_PAGES, pages_id);
	const size_t chunk = 4 << 20;
	char *buf = malloc(chunk), path[64];
	int ret = 0, mem;

	/* /proc/pid/mem reads any area, whatever its protection */
	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	mem = open(path, O_RDONLY | O_CLOEXEC);
	if (mem < 0 && (errno == ENOENT || errno == ESRCH)) {
		img_close(pages);
		free(buf);
		return -ESRCH;   /* exited since it was listed: the caller forgets it */
	}
	if (!pages || !buf || mem < 0) {
		ret = mem < 0 ? pr_perror("can't open %s", path) : pages ? -ENOMEM : -EIO;
		free(buf);
		img_close(pages);
		if (mem >= 0)
			close(mem);
		return ret;
	}
	for (size_t i = 0; i < runs->nr && !ret; i++)
		for (uint64_t at = runs->r[i].start, end = at + runs->r[i].len; at < end && !ret;) {
			size_t len = end - at < chunk ? end - at : chunk;
			ssize_t n = pread(mem, buf, len, at);

			/* The tree runs: an area unmapped meanwhile reads short.  Its pages are
			 * stored as zeros; the area is new to the next round, stored whole there. */
			if (n < (ssize_t)len)
				memset(buf + (n > 0 ? n : 0), 0, len - (n > 0 ? n : 0));
			ret = img_raw_begin(pages, len) ?: write_all(pages->fd, buf, len);
			at += len;
		}
	free(buf);
	close(mem);
	if (ret) {
		errno = -ret;
		ret = pr_perror("can't write %s", pages->name);
		img_close(pages);
		return ret;
	}
	return img_close_write(pages);
}

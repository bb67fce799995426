/* Restore of pages kept in earlier rounds: a pagemap run marked in_parent is read
 * from the images directory's "parent" (a pre-dump), whose own runs may point to
 * its parent in turn.  Each layer's pagemap of the process is loaded once. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "log.h"
#include "mem/layers.h"
#include "mem/parts.h"
#include "mm.pb-c.h"
#include "util.h"

#define MAX_LAYERS 64

struct layer_run {
	uint64_t start, end;
	uint64_t off;           /* in its part's file; unused for a run in the parent */
	bool in_parent;
	uint8_t part;
};

struct layer {
	struct img_dir dir;
	struct page_parts pages;
	struct layer_run *r;
	size_t nr;
	int depth;
	struct layer *parent;
};

static int layer_load(struct layer *l, const char *path, pid_t pid)
{
	struct img *pm;
	PagemapHead *head = NULL;
	PagemapEntry *pe;
	uint64_t off[PAGE_PARTS] = { 0 };
	int ret, part;

	if ((ret = img_dir_open(&l->dir, path)))
		return ret;
	if (!(pm = img_open(&l->dir, IMG_PAGEMAP, pid)))
		return -ENOENT;
	if ((ret = img_read_one(pm, &pagemap_head__descriptor, (ProtobufCMessage **)&head)))
		goto out;
	page_parts_init(&l->pages, &l->dir, head->pages_id);
	if (!page_parts_get(&l->pages, 0)) {
		ret = -ENOENT;
		goto out;
	}
	while ((ret = img_read_msg(pm, &pagemap_entry__descriptor, (ProtobufCMessage **)&pe)) > 0) {
		uint64_t start = pe->vaddr, len = (uint64_t)pe->nr_pages * PAGE_SIZE;
		bool parent = pe->has_in_parent && pe->in_parent;
		struct layer_run *n;

		part = page_part(pm, pe);
		img_free_msg(&pe->base);
		if (part < 0) {
			ret = part;
			break;
		}
		if (!len || start & (PAGE_SIZE - 1) || start + len < start ||
		    (l->nr && start < l->r[l->nr - 1].end)) {
			ret = (pr_err("%s: run 0x%lx is empty, unaligned or out of order", pm->name, (unsigned long)start),
			       -EINVAL);
			break;
		}
		if (!(n = realloc(l->r, (l->nr + 1) * sizeof(*n)))) {
			ret = -ENOMEM;
			break;
		}
		l->r = n;
		l->r[l->nr++] = (struct layer_run){ start, start + len, parent ? 0 : off[part], parent, part };
		if (!parent)
			off[part] += len;
	}
	if (!ret)
		ret = page_parts_check(&l->pages, off);
out:
	img_free_msg(head ? &head->base : NULL);
	img_close(pm);
	return ret;
}

/* len bytes at off: in pieces (one pread moves at most 2 GiB - 4 KiB). */
static int pread_run(struct img *pages, char *dst, uint64_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pread(pages->fd, dst, len > (1UL << 30) ? (1UL << 30) : len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n ? pr_perror("can't read %s", pages->name)
				 : (pr_err("%s is truncated at offset %lu", pages->name, (unsigned long)off), -EIO);
		dst += n;
		off += n;
		len -= n;
	}
	return 0;
}

static int layer_read(struct layer **lp, const char *child_path, pid_t pid, int depth, uint64_t start,
		      uint64_t len, char *dst)
{
	struct layer *l = *lp;
	uint64_t end = start + len;
	size_t lo = 0, hi;
	int ret;

	if (!l) {
		if (depth >= MAX_LAYERS)
			return pr_err("more than %d layers of parent images (a loop of parent links?)", MAX_LAYERS),
			       -ELOOP;
		if (!(l = *lp = calloc(1, sizeof(*l))))
			return -ENOMEM;
		l->dir.dfd = -1;
		l->depth = depth;
		char path[4096];
		snprintf(path, sizeof(path), "%s/parent", child_path);
		if ((ret = layer_load(l, path, pid)))
			return pr_err("pages of pid %d are in the parent images %s, which can't be read", pid, path),
			       ret;
	}
	/* the first run that ends above start */
	for (hi = l->nr; lo < hi;) {
		size_t mid = (lo + hi) / 2;
		if (l->r[mid].end <= start)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; start < end; i++) {
		const struct layer_run *r = &l->r[i];
		if (i >= l->nr || r->start > start)
			return pr_err("pages of pid %d at 0x%lx are in no parent image (%s)", pid, (unsigned long)start,
				      l->dir.path), -EINVAL;
		uint64_t piece = (r->end < end ? r->end : end) - start;
		if (r->in_parent)
			ret = layer_read(&l->parent, l->dir.path, pid, depth + 1, start, piece, dst);
		else
			ret = pread_run(l->pages.f[r->part], dst, piece, r->off + (start - r->start));
		if (ret)
			return ret;
		start += piece;
		dst += piece;
	}
	return 0;
}

int layers_read(struct layer **top, struct img_dir *dir, pid_t pid, uint64_t start, uint64_t len, void *dst)
{
	return layer_read(top, dir->path, pid, 0, start, len, dst);
}

int layers_open(const char *dir, pid_t pid, struct layer **out)
{
	struct layer *l = calloc(1, sizeof(*l));
	int ret;

	if (!l)
		return -ENOMEM;
	l->dir.dfd = -1;
	if ((ret = layer_load(l, dir, pid))) {
		layers_free(l);
		return ret;
	}
	*out = l;
	return 0;
}

int layers_get(struct layer *l, pid_t pid, uint64_t start, uint64_t len, void *dst)
{
	return layer_read(&l, NULL, pid, 0, start, len, dst);
}

size_t layers_nr_runs(const struct layer *l)
{
	return l->nr;
}

void layers_run(const struct layer *l, size_t i, uint64_t *start, uint64_t *end)
{
	*start = l->r[i].start;
	*end = l->r[i].end;
}

bool layers_listed(const struct layer *l, uint64_t addr)
{
	size_t lo = 0, hi = l->nr;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (l->r[mid].end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < l->nr && l->r[lo].start <= addr;
}

void layers_free(struct layer *l)
{
	while (l) {
		struct layer *p = l->parent;
		page_parts_close(&l->pages);
		if (l->dir.dfd >= 0)
			img_dir_close(&l->dir);
		free(l->r);
		free(l);
		l = p;
	}
}

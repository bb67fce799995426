/* Which file of the pages image holds a pagemap entry's run (parts.h). */
#include <errno.h>
#include <sys/stat.h>
#include "log.h"
#include "mem/parts.h"

void page_parts_init(struct page_parts *p, struct img_dir *dir, unsigned pages_id)
{
	*p = (struct page_parts){ .dir = dir, .pages_id = pages_id };
}

int page_part(const struct img *pagemap, const PagemapEntry *pe)
{
	if (pe->has_part && pe->part >= PAGE_PARTS)
		return pr_err("%s: run 0x%lx is in part %u of the pages: there are %d", pagemap->name,
			      (unsigned long)pe->vaddr, pe->part, PAGE_PARTS), -EINVAL;
	return pe->has_part ? (int)pe->part : 0;
}

struct img *page_parts_get(struct page_parts *p, int k)
{
	if (!p->f[k])
		p->f[k] = img_open(p->dir, k ? IMG_PAGES_PART1 : IMG_PAGES, p->pages_id);
	return p->f[k];
}

int page_parts_check(struct page_parts *p, const uint64_t bytes[PAGE_PARTS])
{
	/* every file first: a missing one is named as missing, not as a size */
	for (int k = 0; k < PAGE_PARTS; k++)
		if ((bytes[k] || !k) && !page_parts_get(p, k))
			return -ENOENT;
	for (int k = 0; k < PAGE_PARTS; k++) {
		struct img *f = p->f[k];
		struct stat st;

		if (!bytes[k] && k)
			continue;
		if (fstat(f->fd, &st) || (uint64_t)st.st_size != bytes[k])
			return pr_err("%s holds %lld bytes, its pagemap lists %lu", f->name, (long long)st.st_size,
				      (unsigned long)bytes[k]), -EINVAL;
	}
	return 0;
}

void page_parts_close(struct page_parts *p)
{
	for (int k = 0; k < PAGE_PARTS; k++) {
		img_close(p->f[k]);
		p->f[k] = NULL;
	}
}

/* The pages a pagemap lists are in one or two files, by its entries' part:
 * pages-ID.img and pages-ID.part1.img (pages.c splits large batches over both so
 * that two CPUs write them).  The readers' side of that (parts.c). */
#ifndef LIB_MEM_PARTS_H
#define LIB_MEM_PARTS_H

#include <stdint.h>
#include "image/image.h"
#include "mm.pb-c.h"

#define PAGE_PARTS 2

struct page_parts {
	struct img_dir *dir;
	unsigned pages_id;
	struct img *f[PAGE_PARTS];
};

void page_parts_init(struct page_parts *p, struct img_dir *dir, unsigned pages_id);
/* The entry's part, or -EINVAL with a message naming the pagemap. */
int page_part(const struct img *pagemap, const PagemapEntry *pe);
/* Part k's file, opened on first use; NULL (img_open's message) if it is missing. */
struct img *page_parts_get(struct page_parts *p, int k);
/* Each part's file holds exactly bytes[k] (a part with none need not exist), or
 * -EINVAL with a message. */
int page_parts_check(struct page_parts *p, const uint64_t bytes[PAGE_PARTS]);
void page_parts_close(struct page_parts *p);

#endif

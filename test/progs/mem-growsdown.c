/* mem-growsdown: a MAP_GROWSDOWN area grown by touching below it.
 *
 * 64 MiB of address space is reserved and released, and a 4-page
 * MAP_GROWSDOWN area is placed at its top, so there is room below it (more
 * than the kernel's stack guard gap).  Touching the 16 pages below the area,
 * one by one, grows it downwards; all 20 pages are filled with data.  After
 * restore: the area spans the same range, its VmFlags still say "gd"
 * (growsdown), the data is intact, and touching below it grows it again.
 *
 * --corrupt: one byte changes after CHECK.
 */
#include "tst.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#define RESERVE (64 * TST_MIB)
#define INIT_PAGES 4
#define GROW_PAGES 16

static void range_of(unsigned long addr, unsigned long *start, unsigned long *end, const char *when)
{
	static struct tst_map maps[4096];
	int n = tst_read_maps(maps, 4096);
	const struct tst_map *m = tst_map_of(maps, n, addr);
	if (!m)
		tst_fail("%s: nothing mapped at %lx", when, addr);
	if (strcmp(m->perms, "rw-p"))
		tst_fail("%s: growsdown area %lx-%lx is %s", when, m->start, m->end, m->perms);
	*start = m->start;
	*end = m->end;
	char flags[256];
	if (!tst_vmflags(m->start, flags, sizeof(flags)))
		tst_fail("%s: no smaps entry for %lx", when, m->start);
	if (!strstr(flags, " gd") && strncmp(flags, "gd", 2))
		tst_fail("%s: area %lx-%lx is not growsdown any more (VmFlags: %s)", when, m->start, m->end,
			 flags);
}

int main(int argc, char **argv)
{
	tst_init(argc, argv);
	uint64_t seed = tst_seed();
	unsigned char *res = mmap(NULL, RESERVE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (res == MAP_FAILED || munmap(res, RESERVE))
		tst_fail("reserve: %s", strerror(errno));
	unsigned char *top = res + RESERVE - INIT_PAGES * TST_PAGE;
	unsigned char *area = mmap(top, INIT_PAGES * TST_PAGE, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS | MAP_GROWSDOWN | MAP_FIXED_NOREPLACE, -1, 0);
	if (area == MAP_FAILED)
		tst_fail("mmap MAP_GROWSDOWN: %s", strerror(errno));
	if (area != top)
		tst_fail("mmap MAP_GROWSDOWN at %p gave %p", top, area);
	unsigned long end = (unsigned long)area + INIT_PAGES * TST_PAGE, s0, e0;
	for (int p = 1; p <= GROW_PAGES; p++)
		area[-(long)p * (long)TST_PAGE] = 1; /* each touch grows it by a page */
	unsigned char *low = area - GROW_PAGES * TST_PAGE;
	size_t len = end - (unsigned long)low;
	range_of((unsigned long)area, &s0, &e0, "before READY");
	if (s0 != (unsigned long)low || e0 != end)
		tst_fail("after growing: %lx-%lx, want %p-%lx", s0, e0, low, end);
	tst_fill(low, len, seed);

	tst_ready();
	tst_wait_check();

	if (tst_corrupting())
		low[TST_PAGE + 1] ^= 1;
	unsigned long s1, e1;
	range_of((unsigned long)area, &s1, &e1, "after CHECK");
	if (s1 != s0 || e1 != e0)
		tst_fail("area is %lx-%lx, was %lx-%lx", s1, e1, s0, e0);
	long off = tst_cmp_fill(low, len, seed);
	if (off >= 0)
		tst_fail("byte %ld (page %ld) differs", off, off / (long)TST_PAGE);
	/* Grows again. */
	low[-(long)TST_PAGE] = 7;
	range_of((unsigned long)area, &s1, &e1, "after growing again");
	if (s1 != s0 - TST_PAGE)
		tst_fail("touching below did not grow it: %lx-%lx", s1, e1);
	if (low[-(long)TST_PAGE] != 7)
		tst_fail("the new page lost its write");
	tst_pass();
}

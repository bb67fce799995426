/* mem-prot: mprotect'ed regions, guard pages and a PROT_NONE hole.
 *
 * One anonymous private region, cut by mprotect into nine VMAs (in pages):
 *
 *   0 ---  guard, never touched
 *   1-4  r--  data written, then made read-only
 *   5 ---  guard
 *   6-9  rw-  data
 *   10 ---  the hole between two rw regions: data written, then PROT_NONE
 *   11-14 rw- data
 *   15 ---  guard
 *   16-19 r-x data (no code in it), then made r-x
 *   20 ---  guard
 *
 * with an unmapped page on each side so nothing outside can merge with it.
 * The check compares the exact list of address ranges and permissions in
 * /proc/self/maps with the layout (before READY and after CHECK), compares
 * every readable byte, probes that r-- really refuses writes and a guard page
 * really refuses reads (SIGSEGV), and finally opens the hole and the guards
 * (mprotect PROT_READ) to check the data hidden under PROT_NONE and that the
 * guards are still zero.
 *
 * Apart: a 1 TiB PROT_NONE reservation (MariaDB keeps 8 TB): not charged to the
 * commit limit, it must come back whole, ---p, whatever the machine's memory.
 *
 * --corrupt: after CHECK one rw page is changed.
 */
#include "tst.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>

#define NPAGES 21

static const struct region {
	int first, count;
	int prot;
	const char *perms;
	bool data;
} layout[] = {
	{ 0, 1, PROT_NONE, "---p", false },
	{ 1, 4, PROT_READ, "r--p", true },
	{ 5, 1, PROT_NONE, "---p", false },
	{ 6, 4, PROT_READ | PROT_WRITE, "rw-p", true },
	{ 10, 1, PROT_NONE, "---p", true },
	{ 11, 4, PROT_READ | PROT_WRITE, "rw-p", true },
	{ 15, 1, PROT_NONE, "---p", false },
	{ 16, 4, PROT_READ | PROT_EXEC, "r-xp", true },
	{ 20, 1, PROT_NONE, "---p", false },
};
#define NREG (int)(sizeof(layout) / sizeof(layout[0]))

static unsigned char *base;
static uint64_t seed;

static uint64_t page_seed(int p)
{
	return seed * 31 + (uint64_t)p;
}

static void check_maps(const char *when)
{
	static struct tst_map maps[4096];
	int n = tst_read_maps(maps, 4096);
	unsigned long lo = (unsigned long)base, hi = lo + NPAGES * TST_PAGE;
	int r = 0;
	for (int i = 0; i < n; i++) {
		const struct tst_map *m = &maps[i];
		if (m->end <= lo - TST_PAGE || m->start >= hi + TST_PAGE)
			continue;
		if (m->start < lo || m->end > hi)
			tst_fail("%s: %lx-%lx %s %s overlaps the unmapped page around %lx-%lx", when,
				 m->start, m->end, m->perms, m->name, lo, hi);
		if (r == NREG)
			tst_fail("%s: extra map %lx-%lx %s", when, m->start, m->end, m->perms);
		const struct region *g = &layout[r];
		unsigned long ws = lo + (unsigned long)g->first * TST_PAGE;
		unsigned long we = ws + (unsigned long)g->count * TST_PAGE;
		if (m->start != ws || m->end != we || strcmp(m->perms, g->perms) || m->inode || m->name[0])
			tst_fail("%s: region %d is %lx-%lx %s '%s', want %lx-%lx %s (anonymous)", when, r,
				 m->start, m->end, m->perms, m->name, ws, we, g->perms);
		r++;
	}
	if (r != NREG)
		tst_fail("%s: found %d of the %d regions in maps", when, r, NREG);
}

static void check_data(const char *when)
{
	for (int r = 0; r < NREG; r++) {
		const struct region *g = &layout[r];
		if (!(g->prot & PROT_READ))
			continue;
		for (int p = g->first; p < g->first + g->count; p++) {
			long off = tst_cmp_fill(base + p * TST_PAGE, TST_PAGE, page_seed(p));
			if (off >= 0)
				tst_fail("%s: page %d (%s) differs at offset %ld", when, p, g->perms, off);
		}
	}
}

static sigjmp_buf jb;
static void on_segv(int sig)
{
	siglongjmp(jb, sig);
}

/* Does touching addr (write or read) fault? */
static bool faults(volatile unsigned char *addr, bool write_)
{
	volatile bool write = write_;   /* lives across the longjmp */

	if (sigsetjmp(jb, 1))
		return true;
	if (write)
		*addr = *addr;
	else
		(void)*addr;
	return false;
}

int main(int argc, char **argv)
{
	tst_init(argc, argv);
	seed = tst_seed();
	unsigned char *area = mmap(NULL, (NPAGES + 2) * TST_PAGE, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED)
		tst_fail("mmap: %s", strerror(errno));
	base = area + TST_PAGE;
	if (munmap(area, TST_PAGE) || munmap(base + NPAGES * TST_PAGE, TST_PAGE))
		tst_fail("munmap: %s", strerror(errno));
	for (int r = 0; r < NREG; r++) {
		const struct region *g = &layout[r];
		if (g->data)
			for (int p = g->first; p < g->first + g->count; p++)
				tst_fill(base + p * TST_PAGE, TST_PAGE, page_seed(p));
		if (mprotect(base + g->first * TST_PAGE, (size_t)g->count * TST_PAGE, g->prot))
			tst_fail("mprotect region %d: %s", r, strerror(errno));
	}
	check_maps("before READY");
	check_data("before READY");
	const size_t resv_len = 1UL << 40;
	/* far below the pages above, whose guard pages around must stay unmapped (without
	 * a hint the kernel may put it right against them) */
	unsigned char *resv = mmap(base - (4UL << 40), resv_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (resv == MAP_FAILED)
		tst_fail("a 1 TiB PROT_NONE reservation: %s", strerror(errno));

	tst_ready();
	tst_wait_check();

	if (tst_corrupting())
		base[7 * TST_PAGE + 99] ^= 0x10;
	check_maps("after CHECK");
	check_data("after CHECK");
	static struct tst_map maps[4096];
	int nm = tst_read_maps(maps, 4096);
	const struct tst_map *rm = tst_map_of(maps, nm, (unsigned long)resv);
	if (!rm || rm->start != (unsigned long)resv || rm->end - rm->start != resv_len || strcmp(rm->perms, "---p"))
		tst_fail("the 1 TiB reservation is not whole: %lx-%lx %s", rm ? rm->start : 0, rm ? rm->end : 0,
			 rm ? rm->perms : "none");

	struct sigaction sa = { .sa_handler = on_segv };
	sigaction(SIGSEGV, &sa, NULL);
	if (!faults(base + 2 * TST_PAGE, true))
		tst_fail("writing the r-- region did not fault");
	if (!faults(base + 17 * TST_PAGE, true))
		tst_fail("writing the r-x region did not fault");
	if (!faults(base + 5 * TST_PAGE, false))
		tst_fail("reading guard page 5 did not fault");
	if (!faults(base + 10 * TST_PAGE, false))
		tst_fail("reading the PROT_NONE hole did not fault");
	if (faults(base + 12 * TST_PAGE, true))
		tst_fail("writing an rw- region faulted");

	/* What lies under PROT_NONE. */
	static const unsigned char zero[TST_PAGE];
	for (int r = 0; r < NREG; r++) {
		const struct region *g = &layout[r];
		if (g->prot != PROT_NONE)
			continue;
		if (mprotect(base + g->first * TST_PAGE, TST_PAGE, PROT_READ))
			tst_fail("mprotect: %s", strerror(errno));
		unsigned char *pg = base + g->first * TST_PAGE;
		if (g->data) {
			long off = tst_cmp_fill(pg, TST_PAGE, page_seed(g->first));
			if (off >= 0)
				tst_fail("the data under the PROT_NONE hole (page %d) differs at offset %ld",
					 g->first, off);
		} else if (memcmp(pg, zero, TST_PAGE)) {
			tst_fail("guard page %d is not zero", g->first);
		}
	}
	tst_pass();
}

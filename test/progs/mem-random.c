/* mem-random: a large anonymous private mapping full of random data.
 *
 * --size MiB (default 256).  Every page but a few is filled from a seeded
 * PRNG stream; every 64th page is never touched (must read back as zero, and
 * must still be zero: the engine skips zero pages) and every 64th+1 page is
 * written with zeros explicitly.  The check regenerates the whole expected
 * content from the seed and compares every byte, and also checks a hash taken
 * at READY.
 *
 * --corrupt: one byte in the middle is flipped after CHECK.
 */
#include "tst.h"

#include <inttypes.h>
#include <string.h>
#include <sys/mman.h>

static uint64_t page_seed(uint64_t seed, size_t page)
{
	return seed ^ ((uint64_t)page * 0x9E3779B97F4A7C15ULL) ^ 0x5555;
}

static void fill(unsigned char *mem, size_t pages, uint64_t seed)
{
	for (size_t p = 0; p < pages; p++) {
		if (p % 64 == 0)
			continue; /* never touched */
		if (p % 64 == 1)
			memset(mem + p * TST_PAGE, 0, TST_PAGE);
		else
			tst_fill(mem + p * TST_PAGE, TST_PAGE, page_seed(seed, p));
	}
}

static void check(const unsigned char *mem, size_t pages, uint64_t seed)
{
	static const unsigned char zero[TST_PAGE];
	for (size_t p = 0; p < pages; p++) {
		const unsigned char *pg = mem + p * TST_PAGE;
		long off;
		if (p % 64 <= 1)
			off = memcmp(pg, zero, TST_PAGE) ? 0 : -1;
		else
			off = tst_cmp_fill(pg, TST_PAGE, page_seed(seed, p));
		if (off >= 0)
			tst_fail("page %zu (%s) differs at offset %ld (address %p)", p,
				 p % 64 <= 1 ? "zero page" : "random page", off, (void *)pg);
	}
}

int main(int argc, char **argv)
{
	tst_init_opts(argc, argv, "size", NULL);
	long mib = tst_opt_long("size", 256);
	if (mib <= 0 || mib > 64 * 1024)
		tst_fail("bad --size %ld", mib);
	size_t len = (size_t)mib * TST_MIB, pages = len / TST_PAGE;
	unsigned char *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		tst_fail("mmap %ld MiB failed", mib);
	uint64_t seed = tst_seed();
	fill(mem, pages, seed);
	check(mem, pages, seed); /* the program itself is right */
	uint64_t hash = tst_hash(mem, len);

	tst_ready();
	tst_wait_check();

	if (tst_corrupting())
		mem[len / 2 + 123] ^= 0x40;
	check(mem, pages, seed);
	uint64_t h2 = tst_hash(mem, len);
	if (h2 != hash)
		tst_fail("hash %016" PRIx64 " != %016" PRIx64 " taken at READY", h2, hash);
	tst_pass();
}

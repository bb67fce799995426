/* mem-file-shared: a MAP_SHARED mapping of a file, written through.
 *
 * A 64-page file in /tmp holds a known pattern; it is mapped MAP_SHARED and
 * every other page is rewritten through the mapping.  After restore the
 * mapping and the file (read with pread) both hold the new content, maps
 * still names the file with rw-s, and the mapping is still shared with the
 * file in both directions (a store shows up in pread, a pwrite shows up in
 * the mapping).
 */
#include "tst.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGES 64

static uint64_t seed;

static uint64_t page_seed(int page)
{
	return page % 2 ? ~seed ^ (uint64_t)page : seed + (uint64_t)page;
}

static void check(int fd, unsigned char *map, const char *path, const char *when)
{
	static unsigned char buf[PAGES * TST_PAGE];
	if (pread(fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf))
		tst_fail("%s: pread: %s", when, strerror(errno));
	for (int p = 0; p < PAGES; p++) {
		long off = tst_cmp_fill(map + p * TST_PAGE, TST_PAGE, page_seed(p));
		if (off >= 0)
			tst_fail("%s: mapping page %d differs at offset %ld", when, p, off);
		off = tst_cmp_fill(buf + p * TST_PAGE, TST_PAGE, page_seed(p));
		if (off >= 0)
			tst_fail("%s: file page %d differs at offset %ld", when, p, off);
	}
	static struct tst_map maps[4096];
	int n = tst_read_maps(maps, 4096);
	const struct tst_map *m = tst_map_of(maps, n, (unsigned long)map);
	if (!m || m->start != (unsigned long)map || m->end != (unsigned long)map + PAGES * TST_PAGE ||
	    strcmp(m->perms, "rw-s") || m->offset != 0 || strcmp(m->name, path))
		tst_fail("%s: mapping is %lx-%lx %s %llx %s, want %p-%p rw-s 0 %s", when,
			 m ? m->start : 0, m ? m->end : 0, m ? m->perms : "?", m ? m->offset : 0,
			 m ? m->name : "(none)", map, map + PAGES * TST_PAGE, path);
}

int main(int argc, char **argv)
{
	tst_init(argc, argv);
	seed = tst_seed();
	const char *path = tst_tmp_path("shared");
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		tst_fail("create %s: %s", path, strerror(errno));
	static unsigned char buf[PAGES * TST_PAGE];
	for (int p = 0; p < PAGES; p++)
		tst_fill(buf + p * TST_PAGE, TST_PAGE, seed + (uint64_t)p);
	if (pwrite(fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf))
		tst_fail("write %s: %s", path, strerror(errno));
	unsigned char *map = mmap(NULL, PAGES * TST_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		tst_fail("mmap: %s", strerror(errno));
	for (int p = 1; p < PAGES; p += 2)
		tst_fill(map + p * TST_PAGE, TST_PAGE, page_seed(p));
	check(fd, map, path, "before READY");

	tst_ready();
	tst_wait_check();

	if (tst_corrupting())
		map[3 * TST_PAGE + 5] ^= 1;
	check(fd, map, path, "after CHECK");

	/* Still shared, both directions. */
	map[10] ^= 0xff;
	unsigned char b;
	if (pread(fd, &b, 1, 10) != 1 || b != map[10])
		tst_fail("a store to the mapping does not reach the file (not MAP_SHARED any more)");
	unsigned char v = (unsigned char)(map[TST_PAGE * 7 + 3] + 1);
	if (pwrite(fd, &v, 1, TST_PAGE * 7 + 3) != 1)
		tst_fail("pwrite: %s", strerror(errno));
	if (map[TST_PAGE * 7 + 3] != v)
		tst_fail("a pwrite to the file does not show in the mapping");
	tst_pass();
}

/* mem-file-private: a MAP_PRIVATE mapping of a file, modified in place.
 *
 * A 64-page file in /tmp holds a known pattern.  It is mapped MAP_PRIVATE
 * read-write, and every third page is overwritten (copy-on-write: the file
 * keeps the old data).  A second, read-only private mapping of pages 16..31
 * (at file offset 16 pages) is left clean.  After restore the modified pages
 * hold the new data, the clean pages still show the file, /proc/self/maps
 * still names the file at the same offsets, the file on disk is unchanged,
 * and the mapping is still private (a write after restore does not reach the
 * file).
 */
#include "tst.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGES 64
#define RO_OFF 16
#define RO_PAGES 16

static uint64_t seed;

static uint64_t file_seed(int page)
{
	return seed + (uint64_t)page * 7919;
}
static uint64_t new_seed(int page)
{
	return ~seed - (uint64_t)page * 104729;
}
static bool modified(int page)
{
	return page % 3 == 1;
}

static void check_file(int fd, const char *when)
{
	static unsigned char buf[PAGES * TST_PAGE];
	if (pread(fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf))
		tst_fail("%s: pread of the file: %s", when, strerror(errno));
	for (int p = 0; p < PAGES; p++) {
		long off = tst_cmp_fill(buf + p * TST_PAGE, TST_PAGE, file_seed(p));
		if (off >= 0)
			tst_fail("%s: the file on disk changed: page %d offset %ld", when, p, off);
	}
	struct stat st;
	if (fstat(fd, &st) || st.st_size != PAGES * TST_PAGE)
		tst_fail("%s: file size is %lld", when, (long long)st.st_size);
}

static void check_maps(const char *path, unsigned char *rw, unsigned char *ro, const char *when)
{
	static struct tst_map maps[4096];
	int n = tst_read_maps(maps, 4096);
	const struct tst_map *m = tst_map_of(maps, n, (unsigned long)rw);
	if (!m || m->start != (unsigned long)rw || m->end != (unsigned long)rw + PAGES * TST_PAGE ||
	    strcmp(m->perms, "rw-p") || m->offset != 0 || strcmp(m->name, path))
		tst_fail("%s: rw mapping is %lx-%lx %s %llx %s, want %p-%p rw-p 0 %s", when,
			 m ? m->start : 0, m ? m->end : 0, m ? m->perms : "?", m ? m->offset : 0,
			 m ? m->name : "(none)", rw, rw + PAGES * TST_PAGE, path);
	m = tst_map_of(maps, n, (unsigned long)ro);
	if (!m || m->start != (unsigned long)ro || m->end != (unsigned long)ro + RO_PAGES * TST_PAGE ||
	    strcmp(m->perms, "r--p") || m->offset != RO_OFF * TST_PAGE || strcmp(m->name, path))
		tst_fail("%s: ro mapping is %lx-%lx %s %llx %s, want %p-%p r--p %lx %s", when,
			 m ? m->start : 0, m ? m->end : 0, m ? m->perms : "?", m ? m->offset : 0,
			 m ? m->name : "(none)", ro, ro + RO_PAGES * TST_PAGE, RO_OFF * TST_PAGE, path);
}

static void check_mem(unsigned char *rw, unsigned char *ro, const char *when)
{
	for (int p = 0; p < PAGES; p++) {
		uint64_t s = modified(p) ? new_seed(p) : file_seed(p);
		long off = tst_cmp_fill(rw + p * TST_PAGE, TST_PAGE, s);
		if (off >= 0)
			tst_fail("%s: rw mapping page %d (%s) differs at offset %ld", when, p,
				 modified(p) ? "modified" : "clean", off);
	}
	for (int p = 0; p < RO_PAGES; p++) {
		long off = tst_cmp_fill(ro + p * TST_PAGE, TST_PAGE, file_seed(RO_OFF + p));
		if (off >= 0)
			tst_fail("%s: ro mapping page %d differs at offset %ld", when, p, off);
	}
}

int main(int argc, char **argv)
{
	tst_init(argc, argv);
	seed = tst_seed();
	const char *path = tst_tmp_path("private");
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		tst_fail("create %s: %s", path, strerror(errno));
	static unsigned char buf[PAGES * TST_PAGE];
	for (int p = 0; p < PAGES; p++)
		tst_fill(buf + p * TST_PAGE, TST_PAGE, file_seed(p));
	if (pwrite(fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf) || fsync(fd))
		tst_fail("write %s: %s", path, strerror(errno));

	unsigned char *rw = mmap(NULL, PAGES * TST_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	unsigned char *ro = mmap(NULL, RO_PAGES * TST_PAGE, PROT_READ, MAP_PRIVATE, fd, RO_OFF * TST_PAGE);
	if (rw == MAP_FAILED || ro == MAP_FAILED)
		tst_fail("mmap: %s", strerror(errno));
	/* Keep the fd open for the file checks: a regular file, allowed. */
	for (int p = 0; p < PAGES; p++)
		if (modified(p))
			tst_fill(rw + p * TST_PAGE, TST_PAGE, new_seed(p));
	/* Touch the clean pages too, so they are present (mapped from the cache). */
	volatile unsigned char sink = 0;
	for (int p = 0; p < PAGES; p++)
		sink ^= rw[p * TST_PAGE];
	(void)sink;

	check_mem(rw, ro, "before READY");
	check_file(fd, "before READY");
	check_maps(path, rw, ro, "before READY");
	tst_ready();
	tst_wait_check();

	if (tst_corrupting())
		rw[5 * TST_PAGE + 17] ^= 1;
	check_maps(path, rw, ro, "after CHECK");
	check_mem(rw, ro, "after CHECK");
	check_file(fd, "after CHECK");
	/* Still private: writing a clean page must not reach the file. */
	tst_fill(rw, TST_PAGE, 42);
	check_file(fd, "after writing the mapping");
	tst_pass();
}

/* file-unlinked: files whose path no longer leads to them, open and mapped.
 *
 * In a directory of its own the program makes
 *   unlinked  64 pages: random data in pages 0-4 and 40-42, holes elsewhere;
 *             open as fd 20 (O_RDWR, position 12345), mapped MAP_SHARED
 *             (pages 0-1) and MAP_PRIVATE (pages 40-42, page 40 then written
 *             in memory); mode 0640 and a chosen mtime; then unlinked.
 *   replaced  2 pages of random data, open as fd 21 (O_RDONLY, position 100)
 *             and mapped MAP_PRIVATE read-only (page 0); then replaced by
 *             another file renamed over its path.
 *   tmpfile   made with O_TMPFILE in DIR (never linked: MariaDB's temp files),
 *             open as fd 22 (O_RDWR), 3000 bytes of random data, position 1234.
 * After CHECK: fd 20 is an unlinked file (no links, /proc names it
 * "DIR/unlinked (deleted)") with the same size, mode, mtime, position and
 * content (holes read as zeros); the shared mapping shows the file's pages and
 * sees a write made through fd 20 (one file, not a copy); the private mapping
 * kept its written page and the file's other pages.  fd 21 is an unlinked file
 * named after DIR/replaced with the old content and position, and its mapping
 * the old page, while DIR/replaced is still the new file; fd 22 has no links,
 * its content and position, and is writable; the directory holds
 * nothing else (no leftovers of the restore).
 */
#include "tst.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PG TST_PAGE
#define UNL_PAGES 64

static char dir[128], unl[160], rep[160];

static void fill_pages(int fd, off_t page, int n, uint64_t seed)
{
	static char buf[8 * PG];
	tst_fill(buf, n * PG, seed);
	if (pwrite(fd, buf, n * PG, page * PG) != (ssize_t)(n * PG))
		tst_fail("pwrite: %s", strerror(errno));
}

/* What page p of the unlinked file holds: data in 0-4 and 40-42, zeros elsewhere. */
static void expect_unl_page(int p, uint64_t seed, char *out)
{
	static char buf[8 * PG];
	if (p < 5) {
		tst_fill(buf, 5 * PG, seed);
		memcpy(out, buf + p * PG, PG);
	} else if (p >= 40 && p < 43) {
		tst_fill(buf, 3 * PG, seed + 1);
		memcpy(out, buf + (p - 40) * PG, PG);
	} else {
		memset(out, 0, PG);
	}
}

static void link_is(int fd, const char *want_prefix, const char *want_suffix)
{
	char p[64], l[512];
	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(p, l, sizeof(l) - 1);
	l[n > 0 ? n : 0] = 0;
	size_t pl = strlen(want_prefix), sl = strlen(want_suffix), ll = strlen(l);
	if (strncmp(l, want_prefix, pl) || ll < pl + sl || strcmp(l + ll - sl, want_suffix))
		tst_fail("fd %d is '%s', want '%s...%s'", fd, l, want_prefix, want_suffix);
}

int main(int argc, char **argv)
{
	tst_init(argc, argv);
	uint64_t seed = tst_seed();
	snprintf(dir, sizeof(dir), "%s", tst_tmp_path("dir"));
	snprintf(unl, sizeof(unl), "%s/unlinked", dir);
	snprintf(rep, sizeof(rep), "%s/replaced", dir);
	if (mkdir(dir, 0700))
		tst_fail("mkdir %s: %s", dir, strerror(errno));

	/* the unlinked file */
	int f = open(unl, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (f < 0 || ftruncate(f, UNL_PAGES * PG))
		tst_fail("create %s: %s", unl, strerror(errno));
	fill_pages(f, 0, 5, seed);
	fill_pages(f, 40, 3, seed + 1);
	if (dup2(f, 20) != 20 || close(f) || lseek(20, 12345, SEEK_SET) != 12345)
		tst_fail("dup2/lseek: %s", strerror(errno));
	char *sh = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, 20, 0);
	char *pr = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, 20, 40 * PG);
	if (sh == MAP_FAILED || pr == MAP_FAILED)
		tst_fail("mmap: %s", strerror(errno));
	tst_fill(pr, PG, seed + 2);   /* page 40 now differs from the file in this mapping */
	struct timespec mt[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_sec = 1234567890, .tv_nsec = 987654321 } };
	if (fchmod(20, 0640) || futimens(20, mt) || unlink(unl))
		tst_fail("chmod/utimens/unlink: %s", strerror(errno));

	/* the replaced file */
	f = open(rep, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (f < 0)
		tst_fail("create %s: %s", rep, strerror(errno));
	fill_pages(f, 0, 2, seed + 3);
	close(f);
	f = open(rep, O_RDONLY);
	if (f < 0 || dup2(f, 21) != 21 || close(f) || lseek(21, 100, SEEK_SET) != 100)
		tst_fail("open %s: %s", rep, strerror(errno));
	char *rm = mmap(NULL, PG, PROT_READ, MAP_PRIVATE, 21, 0);
	if (rm == MAP_FAILED)
		tst_fail("mmap: %s", strerror(errno));
	char tmp[200];
	snprintf(tmp, sizeof(tmp), "%s.new", rep);
	f = open(tmp, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (f < 0)
		tst_fail("create %s: %s", tmp, strerror(errno));
	fill_pages(f, 0, 1, seed + 4);
	close(f);
	if (rename(tmp, rep))
		tst_fail("rename: %s", strerror(errno));
	static char tmpd[3000], tmpr[3000];
	tst_fill(tmpd, sizeof(tmpd), seed + 5);
	f = open(dir, O_TMPFILE | O_RDWR, 0600);
	if (f < 0 || dup2(f, 22) != 22 || close(f) || write(22, tmpd, sizeof(tmpd)) != (ssize_t)sizeof(tmpd) ||
	    lseek(22, 1234, SEEK_SET) != 1234)
		tst_fail("O_TMPFILE fd 22: %s", strerror(errno));
	struct stat unl_st, rep_st, new_st;
	fstat(20, &unl_st);
	fstat(21, &rep_st);
	stat(rep, &new_st);

	tst_ready();
	tst_wait_check();

	static char page[PG], want[PG];
	struct stat st;
	if (tst_corrupting())
		pwrite(20, "x", 1, 3 * PG);
	/* fd 20 */
	if (fstat(20, &st))
		tst_fail("fstat 20: %s", strerror(errno));
	if (st.st_nlink != 0 || st.st_size != unl_st.st_size || st.st_mode != unl_st.st_mode ||
	    st.st_mtim.tv_sec != mt[1].tv_sec || st.st_mtim.tv_nsec != mt[1].tv_nsec)
		tst_fail("fd 20: links %lu size %lld mode %o mtime %lld.%09ld; want 0, %lld, %o, %lld.%09ld",
			 (unsigned long)st.st_nlink, (long long)st.st_size, st.st_mode, (long long)st.st_mtim.tv_sec,
			 st.st_mtim.tv_nsec, (long long)unl_st.st_size, unl_st.st_mode, (long long)mt[1].tv_sec,
			 mt[1].tv_nsec);
	link_is(20, unl, " (deleted)");
	if (lseek(20, 0, SEEK_CUR) != 12345)
		tst_fail("fd 20 at %lld, want 12345", (long long)lseek(20, 0, SEEK_CUR));
	for (int p = 0; p < UNL_PAGES; p++) {
		expect_unl_page(p, seed, want);
		if (pread(20, page, PG, p * PG) != (ssize_t)PG || memcmp(page, want, PG))
			tst_fail("page %d of the unlinked file differs", p);
	}
	/* its mappings */
	for (int p = 0; p < 2; p++) {
		expect_unl_page(p, seed, want);
		if (memcmp(sh + p * PG, want, PG))
			tst_fail("page %d of the shared mapping differs from the unlinked file", p);
	}
	if (pwrite(20, "THROUGH-FD", 10, 100) != 10 || memcmp(sh + 100, "THROUGH-FD", 10))
		tst_fail("a write through fd 20 does not show in its shared mapping: not the same file");
	if (tst_cmp_fill(pr, PG, seed + 2) >= 0)
		tst_fail("the private mapping lost its written page");
	for (int p = 1; p < 3; p++) {
		expect_unl_page(40 + p, seed, want);
		if (memcmp(pr + p * PG, want, PG))
			tst_fail("page %d of the private mapping differs from the file", p);
	}
	/* fd 21 and the new file at its path */
	if (fstat(21, &st))
		tst_fail("fstat 21: %s", strerror(errno));
	if (st.st_nlink != 0 || st.st_size != rep_st.st_size || lseek(21, 0, SEEK_CUR) != 100)
		tst_fail("fd 21: links %lu size %lld position %lld; want 0, %lld, 100", (unsigned long)st.st_nlink,
			 (long long)st.st_size, (long long)lseek(21, 0, SEEK_CUR), (long long)rep_st.st_size);
	link_is(21, rep, " (deleted)");
	static char two[2 * PG];
	if (pread(21, two, 2 * PG, 0) != (ssize_t)(2 * PG) || tst_cmp_fill(two, 2 * PG, seed + 3) >= 0)
		tst_fail("fd 21 does not hold the replaced file's content");
	if (memcmp(rm, two, PG))
		tst_fail("the mapping of the replaced file differs from it");
	if (stat(rep, &st) || st.st_ino != new_st.st_ino || st.st_size != (off_t)PG)
		tst_fail("%s is not the new file any more", rep);
	f = open(rep, O_RDONLY);
	if (f < 0 || pread(f, page, PG, 0) != (ssize_t)PG || tst_cmp_fill(page, PG, seed + 4) >= 0)
		tst_fail("%s lost the new file's content", rep);
	close(f);
	if (fstat(22, &st) || st.st_nlink != 0 || st.st_size != (off_t)sizeof(tmpd) || lseek(22, 0, SEEK_CUR) != 1234 ||
	    (fcntl(22, F_GETFL) & O_ACCMODE) != O_RDWR)
		tst_fail("O_TMPFILE fd 22: links %lu size %lld position %lld flags 0x%x", (unsigned long)st.st_nlink,
			 (long long)st.st_size, (long long)lseek(22, 0, SEEK_CUR), fcntl(22, F_GETFL));
	if (pread(22, tmpr, sizeof(tmpr), 0) != (ssize_t)sizeof(tmpr) || memcmp(tmpr, tmpd, sizeof(tmpd)) ||
	    pwrite(22, "x", 1, 5000) != 1)
		tst_fail("O_TMPFILE fd 22 lost its content or can't be written");
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, "replaced"))
			tst_fail("%s holds '%s' after the restore", dir, e->d_name);
	if (d)
		closedir(d);
	tst_pass();
}

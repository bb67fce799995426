/* memfd: memfd_create() files, open and mapped, with seals.
 *
 *   A  "test memfd A" (MFD_ALLOW_SEALING): 1 MiB with data in pages 0-2 and
 *      100, open as fd 20 (position 777) and fd 23 (its dup), reopened
 *      O_RDONLY through /proc/self/fd as fd 22, mapped MAP_SHARED (pages 0-3),
 *      sealed F_SEAL_SHRINK|F_SEAL_GROW
 *   B  "memfd B" without MFD_ALLOW_SEALING (seals: F_SEAL_SEAL), fd 21, mode 0640
 *   C  "mapped only": 2 pages mapped MAP_SHARED, its fd closed
 * After CHECK: names (/proc/self/fd and maps), modes, sizes, seals, positions,
 * flags and contents are as they were; fd 22 and fd 20 are one memfd, fd 23 a
 * dup of 20; a write through fd 20 shows in A's mapping; A refuses to shrink or
 * grow; B refuses new seals; C's mapping holds its bytes.
 */
#include "tst.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PG TST_PAGE

static void move_to(int fd, int at)
{
	if (fd < 0 || dup2(fd, at) != at || close(fd))
		tst_fail("memfd as fd %d: %s", at, strerror(errno));
}

static void link_is(const char *path, const char *want)
{
	char l[256];
	ssize_t n = readlink(path, l, sizeof(l) - 1);
	l[n > 0 ? n : 0] = 0;
	if (strcmp(l, want))
		tst_fail("%s is '%s', want '%s'", path, l, want);
}

static bool maps_has(const char *name)
{
	static char maps[1 << 16];
	tst_read_file("/proc/self/maps", maps, sizeof(maps));
	return strstr(maps, name) != NULL;
}

int main(int argc, char **argv)
{
	tst_init(argc, argv);
	uint64_t seed = tst_seed();
	static char page[PG];

	move_to(memfd_create("test memfd A", MFD_ALLOW_SEALING), 20);
	if (ftruncate(20, 256 * PG))
		tst_fail("ftruncate: %s", strerror(errno));
	static char d0[3 * PG], d100[PG];
	tst_fill(d0, sizeof(d0), seed);
	tst_fill(d100, sizeof(d100), seed + 1);
	if (pwrite(20, d0, sizeof(d0), 0) != sizeof(d0) || pwrite(20, d100, PG, 100 * PG) != PG)
		tst_fail("pwrite: %s", strerror(errno));
	lseek(20, 777, SEEK_SET);
	if (dup2(20, 23) != 23)
		tst_fail("dup2: %s", strerror(errno));
	move_to(open("/proc/self/fd/20", O_RDONLY), 22);
	char *ma = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, 20, 0);
	if (ma == MAP_FAILED || fcntl(20, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW))
		tst_fail("mmap/seal A: %s", strerror(errno));

	move_to(memfd_create("memfd B", 0), 21);
	if (write(21, "bbbbbbbbbb", 10) != 10 || fchmod(21, 0640))
		tst_fail("memfd B: %s", strerror(errno));

	int c = memfd_create("mapped only", 0);
	if (c < 0 || ftruncate(c, 2 * PG))
		tst_fail("memfd C: %s", strerror(errno));
	char *mc = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, c, 0);
	if (mc == MAP_FAILED)
		tst_fail("mmap C: %s", strerror(errno));
	close(c);
	tst_fill(mc, 2 * PG, seed + 2);

	struct stat st0[4];
	int fl[4], seals[4];
	for (int i = 0; i < 4; i++) {
		fstat(20 + i, &st0[i]);
		fl[i] = fcntl(20 + i, F_GETFL);
		seals[i] = fcntl(20 + i, F_GET_SEALS);
	}

	tst_ready();
	tst_wait_check();

	if (tst_corrupting())
		mc[5] ^= 1;
	link_is("/proc/self/fd/20", "/memfd:test memfd A (deleted)");
	link_is("/proc/self/fd/21", "/memfd:memfd B (deleted)");
	link_is("/proc/self/fd/22", "/memfd:test memfd A (deleted)");
	if (!maps_has("/memfd:test memfd A (deleted)") || !maps_has("/memfd:mapped only (deleted)"))
		tst_fail("/proc/self/maps lacks the memfd mappings");
	for (int i = 0; i < 4; i++) {
		struct stat st;
		fstat(20 + i, &st);
		if (st.st_size != st0[i].st_size || st.st_mode != st0[i].st_mode || st.st_nlink)
			tst_fail("fd %d: size %lld mode %o links %lu; was %lld, %o, 0", 20 + i, (long long)st.st_size,
				 st.st_mode, (unsigned long)st.st_nlink, (long long)st0[i].st_size, st0[i].st_mode);
		if (fcntl(20 + i, F_GETFL) != fl[i] || fcntl(20 + i, F_GET_SEALS) != seals[i])
			tst_fail("fd %d: flags %#o seals %#x; were %#o %#x", 20 + i, fcntl(20 + i, F_GETFL),
				 fcntl(20 + i, F_GET_SEALS), fl[i], seals[i]);
	}
	struct stat a, b;
	fstat(20, &a);
	fstat(22, &b);
	if (a.st_ino != b.st_ino || syscall(SYS_kcmp, getpid(), getpid(), KCMP_FILE, 20, 23) ||
	    !syscall(SYS_kcmp, getpid(), getpid(), KCMP_FILE, 20, 22))
		tst_fail("fds 20, 22, 23 are not one memfd with 23 a dup of 20");
	if (lseek(20, 0, SEEK_CUR) != 777 || lseek(22, 0, SEEK_CUR) != 0)
		tst_fail("positions %lld/%lld, want 777/0", (long long)lseek(20, 0, SEEK_CUR),
			 (long long)lseek(22, 0, SEEK_CUR));
	for (int p = 0; p < 256; p++) {
		if (pread(22, page, PG, p * PG) != PG)
			tst_fail("pread A: %s", strerror(errno));
		const char *want = p < 3 ? d0 + p * PG : p == 100 ? d100 : NULL;
		if (want ? memcmp(page, want, PG) : tst_hash(page, PG) != tst_hash((char[PG]){ 0 }, PG))
			tst_fail("page %d of memfd A differs", p);
	}
	if (memcmp(ma, d0, 3 * PG))
		tst_fail("the mapping of memfd A differs from it");
	if (pwrite(20, "VIA-FD", 6, 10) != 6 || memcmp(ma + 10, "VIA-FD", 6))
		tst_fail("a write through fd 20 does not show in A's mapping");
	if (ftruncate(20, PG) == 0 || ftruncate(20, 512 * PG) == 0)
		tst_fail("memfd A lost its F_SEAL_SHRINK|F_SEAL_GROW");
	if (fcntl(21, F_ADD_SEALS, F_SEAL_WRITE) == 0)
		tst_fail("memfd B accepts seals");
	if (pread(21, page, 100, 0) != 10 || memcmp(page, "bbbbbbbbbb", 10))
		tst_fail("memfd B's content differs");
	if (tst_cmp_fill(mc, 2 * PG, seed + 2) >= 0)
		tst_fail("the mapped-only memfd C differs at %ld", tst_cmp_fill(mc, 2 * PG, seed + 2));
	tst_pass();
}

/* mem-code: the program's code comes back as the files hold it.
 *
 * The dump runs syscalls in the process from the start of its first executable
 * mapping (the program's own code, its _init usually), with that code replaced by a
 * syscall and a trap for the time of each call.  Whatever the dump saves of those
 * pages must be the program's code, not the planted bytes: a process caught before
 * its _init ran trapped on them once restored (a `sleep` that asyncio had just
 * started, caught in ld.so).
 *
 * At CHECK every private executable mapping of a file (the program, libc, ld.so)
 * is compared byte for byte with the file at its offset, and _init is called
 * again: it only calls __gmon_start__ when there is one, so twice is harmless.
 *
 * A shared, writable and executable mapping of a file (a JIT's code file) lies
 * below the program, first of the executable mappings: the site must not be
 * there, where the planted bytes would reach the file (and its mtime, which the
 * restore then finds changed).  Its file must be as it was, mtime included.
 *
 * --corrupt: after CHECK a byte of the first executable mapping is changed
 * (through /proc/self/mem, as a debugger would), so the compare must fail.
 */
#include "tst.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

extern void _init(void);

#define SHARED_AT 0x10000000UL
static const char jit_code[16] = "libcr-mem-code!";
static struct stat jit_st;
static int jit_fd;

/* The shared executable mapping, first of all executable mappings. */
static void map_shared_code(void)
{
	char page[TST_PAGE] = { 0 };
	const char *path = tst_tmp_path("jit");

	memcpy(page, jit_code, sizeof(jit_code));
	jit_fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (jit_fd < 0 || write(jit_fd, page, sizeof(page)) != (ssize_t)sizeof(page))
		tst_fail("can't write %s: %s", path, strerror(errno));
	void *at = mmap((void *)SHARED_AT, TST_PAGE, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_SHARED | MAP_FIXED_NOREPLACE,
			jit_fd, 0);
	if (at != (void *)SHARED_AT)
		tst_fail("can't map %s shared at %#lx: %s", path, SHARED_AT, strerror(errno));
	/* an hour ago: a write through the mapping would make it now */
	struct timespec old[2] = { { time(NULL) - 3600, 123456789 }, { time(NULL) - 3600, 123456789 } };
	if (futimens(jit_fd, old) || fstat(jit_fd, &jit_st))
		tst_fail("fstat %s: %s", path, strerror(errno));
}

static void check_shared_code(const char *when)
{
	char head[sizeof(jit_code)];
	struct stat st;

	if (memcmp((void *)SHARED_AT, jit_code, sizeof(jit_code)))
		tst_fail("%s: the shared code mapping holds %02x %02x %02x %02x", when, ((unsigned char *)SHARED_AT)[0],
			 ((unsigned char *)SHARED_AT)[1], ((unsigned char *)SHARED_AT)[2], ((unsigned char *)SHARED_AT)[3]);
	if (pread(jit_fd, head, sizeof(head), 0) != (ssize_t)sizeof(head) || memcmp(head, jit_code, sizeof(head)))
		tst_fail("%s: the shared code file changed", when);
	if (fstat(jit_fd, &st) || st.st_mtim.tv_sec != jit_st.st_mtim.tv_sec || st.st_mtim.tv_nsec != jit_st.st_mtim.tv_nsec)
		tst_fail("%s: the shared code file was written to (mtime %ld.%09ld, was %ld.%09ld)", when,
			 (long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec, (long)jit_st.st_mtim.tv_sec, jit_st.st_mtim.tv_nsec);
}

/* 0 if the mapping holds the file's bytes (zeros past its end), else the offset
 * into the mapping of the first byte that differs, or -1 if the file can't be read. */
static long compare_with_file(const struct tst_map *m, long *differs)
{
	static unsigned char buf[64 * 1024];
	const unsigned char *mem = (const unsigned char *)m->start;
	unsigned long len = m->end - m->start;
	int fd = open(m->name, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	*differs = -1;
	for (unsigned long off = 0; off < len && *differs < 0; off += sizeof(buf)) {
		unsigned long want = len - off < sizeof(buf) ? len - off : sizeof(buf);
		ssize_t got = pread(fd, buf, want, m->offset + off);
		if (got < 0) {
			close(fd);
			return -1;
		}
		memset(buf + got, 0, want - got);   /* past the end of the file: zeros */
		for (unsigned long i = 0; i < want; i++)
			if (mem[off + i] != buf[i]) {
				*differs = off + i;
				break;
			}
	}
	close(fd);
	return 0;
}

static int check_code(const char *when)
{
	static struct tst_map maps[4096];
	int n = tst_read_maps(maps, 4096), checked = 0;

	for (int i = 0; i < n; i++) {
		const struct tst_map *m = &maps[i];
		long differs;
		if (m->perms[2] != 'x' || m->perms[3] != 'p' || m->name[0] != '/' || strstr(m->name, " (deleted)"))
			continue;
		if (compare_with_file(m, &differs))
			tst_fail("%s: can't read %s to compare its code: %s", when, m->name, strerror(errno));
		if (differs >= 0) {
			const unsigned char *b = (const unsigned char *)m->start + differs;
			tst_fail("%s: %s mapped at %lx (offset %llx) differs from the file at +%lx: "
				 "%02x %02x %02x %02x in memory",
				 when, m->name, m->start, m->offset, differs, b[0], b[1], b[2], b[3]);
		}
		checked++;
	}
	return checked;
}

/* Change the first byte of the first private executable file mapping, as a
 * debugger's breakpoint would. */
static void corrupt_code(void)
{
	static struct tst_map maps[4096];
	int n = tst_read_maps(maps, 4096);

	for (int i = 0; i < n; i++)
		if (maps[i].perms[2] == 'x' && maps[i].perms[3] == 'p' && maps[i].name[0] == '/') {
			unsigned char b = *(volatile unsigned char *)maps[i].start ^ 0xff;
			int fd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
			if (fd < 0 || pwrite(fd, &b, 1, maps[i].start) != 1)
				tst_fail("corrupt: can't write to /proc/self/mem: %s", strerror(errno));
			close(fd);
			return;
		}
}

int main(int argc, char **argv)
{
	tst_init(argc, argv);
	map_shared_code();
	int n = check_code("before");
	if (n < 2)
		tst_fail("before: %d executable file mappings, expected the program's and libc's at least", n);
	tst_ready();
	tst_wait_check();
	if (tst_corrupting())
		corrupt_code();
	if (check_code("after") != n)
		tst_fail("after: the executable file mappings are not the %d there were", n);
	check_shared_code("after");
	_init();
	tst_pass();
}

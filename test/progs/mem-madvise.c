/* mem-madvise: the advice a program gave its memory survives.
 *
 * Areas with MADV_HUGEPAGE (VmFlags hg), MADV_NOHUGEPAGE (nh), MADV_DONTDUMP (dd),
 * MADV_DONTFORK (dc) and MADV_WIPEONFORK (wf), and one area given no advice at
 * all, each filled with data.  After restore every area has its data, its flag,
 * and no flag it did not have (the restore may back memory with huge pages, but
 * must not mark areas as if the program had asked for them).  WIPEONFORK and
 * DONTFORK still act: a child forked after the check sees the wiped area as
 * zeros and the DONTFORK area not at all.
 *
 * --corrupt: one byte changes after CHECK.
 */
#include "tst.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

struct area {
	const char *what;
	int advice;            /* -1: none */
	const char *flag;      /* VmFlags code it must have, or NULL */
	size_t len;
	unsigned char *p;
};

static struct area areas[] = {
	{ "hugepage", MADV_HUGEPAGE, "hg", 8 * TST_MIB, NULL },
	{ "nohugepage", MADV_NOHUGEPAGE, "nh", 4 * TST_MIB, NULL },
	{ "dontdump", MADV_DONTDUMP, "dd", TST_MIB, NULL },
	{ "dontfork", MADV_DONTFORK, "dc", TST_MIB, NULL },
	{ "wipeonfork", MADV_WIPEONFORK, "wf", TST_MIB, NULL },
	{ "no advice", -1, NULL, 8 * TST_MIB, NULL },
};

static bool has_flag(const char *flags, const char *code)
{
	size_t n = strlen(code);

	for (const char *p = flags; (p = strstr(p, code)); p += n)
		if ((p == flags || p[-1] == ' ') && (p[n] == ' ' || !p[n] || p[n] == '\n'))
			return true;
	return false;
}

static void check_flags(const char *when)
{
	static const char *const advised[] = { "hg", "nh", "dd", "dc", "wf" };
	char flags[256];

	for (size_t i = 0; i < sizeof(areas) / sizeof(areas[0]); i++) {
		struct area *a = &areas[i];
		if (!tst_vmflags((unsigned long)a->p, flags, sizeof(flags)))
			tst_fail("%s: no smaps entry for the %s area at %p", when, a->what, a->p);
		for (size_t f = 0; f < sizeof(advised) / sizeof(advised[0]); f++) {
			bool want = a->flag && !strcmp(a->flag, advised[f]);
			if (has_flag(flags, advised[f]) != want)
				tst_fail("%s: the %s area %s VmFlags %s (VmFlags: %s)", when, a->what,
					 want ? "lost" : "gained", advised[f], flags);
		}
	}
}

int main(int argc, char **argv)
{
	tst_init(argc, argv);
	uint64_t seed = tst_seed();

	for (size_t i = 0; i < sizeof(areas) / sizeof(areas[0]); i++) {
		struct area *a = &areas[i];
		/* a guard page on each side keeps the kernel from merging neighbours */
		unsigned char *r = mmap(NULL, a->len + 2 * TST_PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (r == MAP_FAILED)
			tst_fail("mmap: %s", strerror(errno));
		a->p = r + TST_PAGE;
		if (mprotect(a->p, a->len, PROT_READ | PROT_WRITE))
			tst_fail("mprotect: %s", strerror(errno));
		if (a->advice >= 0 && madvise(a->p, a->len, a->advice))
			tst_fail("madvise(%s): %s", a->what, strerror(errno));
		tst_fill(a->p, a->len, seed + i);
	}
	check_flags("before READY");

	tst_ready();
	tst_wait_check();

	if (tst_corrupting())
		areas[0].p[12345] ^= 1;
	check_flags("after CHECK");
	for (size_t i = 0; i < sizeof(areas) / sizeof(areas[0]); i++) {
		long off = tst_cmp_fill(areas[i].p, areas[i].len, seed + i);
		if (off >= 0)
			tst_fail("the %s area differs at byte %ld", areas[i].what, off);
	}

	/* The advice still acts: 0 in the child means wiped and unmapped as asked. */
	volatile unsigned char *wipe = areas[4].p, *nofork = areas[3].p;
	pid_t child = fork();
	if (child < 0)
		tst_fail("fork: %s", strerror(errno));
	if (child == 0) {
		signal(SIGSEGV, SIG_DFL);
		if (wipe[0] || wipe[TST_MIB - 1])
			_exit(2);
		(void)nofork[0];   /* must fault: the area was not inherited */
		_exit(3);
	}
	int st;
	if (waitpid(child, &st, 0) != child)
		tst_fail("waitpid: %s", strerror(errno));
	if (WIFEXITED(st) && WEXITSTATUS(st) == 2)
		tst_fail("the wipe-on-fork area was inherited with its data");
	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGSEGV)
		tst_fail("the dont-fork area was inherited by a child (status 0x%x)", st);
	tst_pass();
}

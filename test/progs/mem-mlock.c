/* mem-mlock: locked memory stays locked.
 *
 * Area L (1 MiB, seeded data) is mlock()ed; area F (1 MiB) is locked with
 * mlock2(MLOCK_ONFAULT) and only its first half written; area U, next to L and
 * as large, is not locked.  After CHECK: L's VmFlags have lo, F's lo and lf, U's
 * neither; the data is intact; VmLck in /proc/self/status covers L and F's
 * written half at least.
 *
 * --future: mlockall(MCL_FUTURE) once the areas are made: after CHECK an area
 * mapped anew is locked (lo); --future-onfault: MCL_FUTURE | MCL_ONFAULT (lo and
 * lf).  Without either, an area mapped after CHECK is not locked.
 *
 * --corrupt: L is unlocked after CHECK.
 */
#include "tst.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SIZE (1 << 20)
#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 1
#endif
#ifndef MCL_ONFAULT
#define MCL_ONFAULT 4
#endif

static char *map(void)
{
	char *p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		tst_fail("mmap: %s", strerror(errno));
	return p;
}

/* Are the two-letter VmFlags of the area at p exactly as wanted (lo, lf)? */
static void check_flags(const char *p, const char *name, bool lo, bool lf)
{
	char flags[256];

	if (!tst_vmflags((unsigned long)p, flags, sizeof(flags)))
		tst_fail("area %s (%p) is not in smaps", name, (void *)p);
	if ((strstr(flags, " lo") != NULL || !strncmp(flags, "lo", 2)) != lo ||
	    (strstr(flags, " lf") != NULL || !strncmp(flags, "lf", 2)) != lf)
		tst_fail("area %s: VmFlags \"%s\", want%s lo and%s lf", name, flags, lo ? "" : " no", lf ? "" : " no");
}

static long vmlck_kb(void)
{
	char buf[4096], *l;

	if (tst_read_file("/proc/self/status", buf, sizeof(buf)) <= 0 || !(l = strstr(buf, "VmLck:")))
		tst_fail("no VmLck in /proc/self/status");
	return strtol(l + 6, NULL, 10);
}

int main(int argc, char **argv)
{
	tst_init_opts(argc, argv, NULL, "future,future-onfault");
	bool future = tst_opt_flag("future") || tst_opt_flag("future-onfault");
	bool onfault = tst_opt_flag("future-onfault");
	uint64_t seed = tst_seed();
	char *l = map(), *u = map(), *f = map();

	tst_fill(l, SIZE, seed);
	tst_fill(u, SIZE, seed + 1);
	if (mlock(l, SIZE))
		tst_fail("mlock: %s", strerror(errno));
	if (syscall(SYS_mlock2, f, SIZE, MLOCK_ONFAULT))
		tst_fail("mlock2(MLOCK_ONFAULT): %s", strerror(errno));
	tst_fill(f, SIZE / 2, seed + 2);
	check_flags(l, "L", true, false);
	check_flags(f, "F", true, true);
	check_flags(u, "U", false, false);
	if (future && mlockall(MCL_FUTURE | (onfault ? MCL_ONFAULT : 0)))
		tst_fail("mlockall: %s", strerror(errno));

	tst_ready();
	tst_wait_check();

	if (tst_corrupting())
		munlock(l, SIZE);
	check_flags(l, "L", true, false);
	check_flags(f, "F", true, true);
	check_flags(u, "U", false, false);
	if (tst_cmp_fill(l, SIZE, seed) >= 0 || tst_cmp_fill(u, SIZE, seed + 1) >= 0 ||
	    tst_cmp_fill(f, SIZE / 2, seed + 2) >= 0)
		tst_fail("the data of an area changed");
	if (vmlck_kb() < (SIZE + SIZE / 2) / 1024)
		tst_fail("VmLck is %ld kB, want at least %d", vmlck_kb(), (SIZE + SIZE / 2) / 1024);
	/* what it maps now is locked as mlockall said, or not at all */
	char *n = map();
	check_flags(n, "N (mapped after CHECK)", future, onfault);
	munmap(n, SIZE);
	tst_pass();
	return 0;
}

/* vdso-clock: the vDSO and its data pages after restore.
 *
 * The program finds __vdso_clock_gettime, __vdso_gettimeofday, __vdso_time
 * and __vdso_getcpu in the vDSO's ELF dynamic symbol table and calls them
 * directly (glibc's clock_gettime goes through the vDSO too).  At READY it
 * records the [vdso], [vvar] and [vvar_vclock] mappings.  After CHECK:
 *   - the vDSO and vvar mappings are at the same addresses with the same
 *     sizes, and getauxval(AT_SYSINFO_EHDR) is still the [vdso] start;
 *   - every vDSO clock agrees with the clock_gettime syscall: for
 *     CLOCK_MONOTONIC, CLOCK_BOOTTIME and CLOCK_REALTIME a syscall reading
 *     lies between two vDSO readings (a stale copy of the vvar data instead
 *     of this kernel's live pages would stand still);
 *   - time goes forward: MONOTONIC is later than at READY, and the vDSO clock
 *     advances over a 20 ms sleep by 20 ms to 1 s;
 *   - gettimeofday, time and getcpu through the vDSO give sane answers.
 * aarch64's vDSO names them __kernel_* and has no time or getcpu.
 */
#include "tst.h"

#include <elf.h>
#include <errno.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#if defined(__aarch64__)
#define VDSO(name) "__kernel_" name
#else
#define VDSO(name) "__vdso_" name
#define VDSO_TIME_GETCPU 1
#endif

typedef int (*gettime_fn)(clockid_t, struct timespec *);
typedef int (*gtod_fn)(struct timeval *, void *);
typedef time_t (*time_fn)(time_t *);
typedef long (*getcpu_fn)(unsigned *, unsigned *, void *);

static void *vdso_sym(const char *want)
{
	uintptr_t base = getauxval(AT_SYSINFO_EHDR);
	if (!base)
		tst_fail("no AT_SYSINFO_EHDR in the auxiliary vector");
	const Elf64_Ehdr *eh = (const void *)base;
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG))
		tst_fail("no ELF header at AT_SYSINFO_EHDR %lx", (unsigned long)base);
	const Elf64_Phdr *ph = (const void *)(base + eh->e_phoff);
	uintptr_t load = 0;
	bool have_load = false;
	const Elf64_Dyn *dyn = NULL;
	for (int i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type == PT_LOAD && !have_load) {
			load = base + ph[i].p_offset - ph[i].p_vaddr;
			have_load = true;
		} else if (ph[i].p_type == PT_DYNAMIC) {
			dyn = (const void *)(base + ph[i].p_offset);
		}
	}
	if (!have_load || !dyn)
		tst_fail("vDSO has no PT_LOAD or PT_DYNAMIC");
	const Elf64_Sym *sym = NULL;
	const char *str = NULL;
	const Elf64_Word *hash = NULL;
	for (; dyn->d_tag != DT_NULL; dyn++) {
		if (dyn->d_tag == DT_SYMTAB)
			sym = (const void *)(load + dyn->d_un.d_ptr);
		else if (dyn->d_tag == DT_STRTAB)
			str = (const void *)(load + dyn->d_un.d_ptr);
		else if (dyn->d_tag == DT_HASH)
			hash = (const void *)(load + dyn->d_un.d_ptr);
	}
	if (!sym || !str || !hash)
		tst_fail("vDSO lacks DT_SYMTAB/DT_STRTAB/DT_HASH");
	Elf64_Word nsyms = hash[1]; /* nchain */
	for (Elf64_Word i = 0; i < nsyms; i++)
		if (sym[i].st_shndx != SHN_UNDEF && ELF64_ST_TYPE(sym[i].st_info) == STT_FUNC &&
		    !strcmp(str + sym[i].st_name, want))
			return (void *)(load + sym[i].st_value);
	tst_fail("no %s in the vDSO", want);
}

struct range {
	unsigned long start, end;
	bool present;
};

static void special(const char *name, struct range *r)
{
	static struct tst_map maps[4096];
	int n = tst_read_maps(maps, 4096);
	const struct tst_map *m = tst_find_map(maps, n, name);
	r->present = m != NULL;
	r->start = m ? m->start : 0;
	r->end = m ? m->end : 0;
}

static uint64_t ns(struct timespec ts)
{
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void sandwich(gettime_fn vgt, clockid_t clk, const char *name)
{
	struct timespec a, b, c;
	/* A few tries: a preemption between the calls is fine, a stale clock is not. */
	for (int tries = 0; tries < 5; tries++) {
		if (vgt(clk, &a) || syscall(SYS_clock_gettime, clk, &b) || vgt(clk, &c))
			tst_fail("%s: clock_gettime failed", name);
		if (ns(a) <= ns(b) && ns(b) <= ns(c))
			return;
	}
	tst_fail("%s: vDSO says %llu..%llu ns but the syscall says %llu", name, (unsigned long long)ns(a),
		 (unsigned long long)ns(c), (unsigned long long)ns(b));
}

int main(int argc, char **argv)
{
	tst_init(argc, argv);
	gettime_fn vgt = (gettime_fn)vdso_sym(VDSO("clock_gettime"));
	gtod_fn vgtod = (gtod_fn)vdso_sym(VDSO("gettimeofday"));
#ifdef VDSO_TIME_GETCPU
	time_fn vtime = (time_fn)vdso_sym(VDSO("time"));
	getcpu_fn vgetcpu = (getcpu_fn)vdso_sym(VDSO("getcpu"));
#endif
	static const char *names[] = { "[vdso]", "[vvar]", "[vvar_vclock]" };
	struct range before[3], after[3];
	for (int i = 0; i < 3; i++)
		special(names[i], &before[i]);
	if (!before[0].present)
		tst_fail("no [vdso] mapping");
	if (getauxval(AT_SYSINFO_EHDR) != before[0].start)
		tst_fail("AT_SYSINFO_EHDR %lx is not the [vdso] start %lx", getauxval(AT_SYSINFO_EHDR),
			 before[0].start);
	sandwich(vgt, CLOCK_MONOTONIC, "CLOCK_MONOTONIC");
	struct timespec t_ready;
	vgt(CLOCK_MONOTONIC, &t_ready);

	tst_ready();
	tst_wait_check();

	for (int i = 0; i < 3; i++) {
		special(names[i], &after[i]);
		if (after[i].present != before[i].present || after[i].start != before[i].start ||
		    after[i].end != before[i].end)
			tst_fail("%s is %lx-%lx%s, was %lx-%lx%s", names[i], after[i].start, after[i].end,
				 after[i].present ? "" : " (absent)", before[i].start, before[i].end,
				 before[i].present ? "" : " (absent)");
	}
	if (getauxval(AT_SYSINFO_EHDR) != after[0].start)
		tst_fail("AT_SYSINFO_EHDR %lx is not the [vdso] start %lx", getauxval(AT_SYSINFO_EHDR),
			 after[0].start);
	if (memcmp((void *)after[0].start, ELFMAG, SELFMAG))
		tst_fail("no ELF header at the [vdso] start");
	if (vdso_sym(VDSO("clock_gettime")) != (void *)vgt)
		tst_fail("%s moved", VDSO("clock_gettime"));

	struct timespec t1, t2;
	if (vgt(CLOCK_MONOTONIC, &t1))
		tst_fail("vDSO clock_gettime(CLOCK_MONOTONIC) failed");
	if (tst_corrupting())
		t1 = t_ready;
	if (ns(t1) <= ns(t_ready))
		tst_fail("CLOCK_MONOTONIC did not advance since READY (%llu <= %llu)",
			 (unsigned long long)ns(t1), (unsigned long long)ns(t_ready));
	sandwich(vgt, CLOCK_MONOTONIC, "CLOCK_MONOTONIC");
	sandwich(vgt, CLOCK_BOOTTIME, "CLOCK_BOOTTIME");
	sandwich(vgt, CLOCK_REALTIME, "CLOCK_REALTIME");
	sandwich(clock_gettime, CLOCK_MONOTONIC, "glibc CLOCK_MONOTONIC");
	vgt(CLOCK_MONOTONIC, &t1);
	tst_sleep_ms(20);
	vgt(CLOCK_MONOTONIC, &t2);
	uint64_t d = ns(t2) - ns(t1);
	if (ns(t2) < ns(t1) || d < 20000000ULL || d > 1000000000ULL)
		tst_fail("the vDSO clock moved %lld ns over a 20 ms sleep", (long long)(ns(t2) - ns(t1)));

	struct timeval tv, tv_sys;
	if (vgtod(&tv, NULL) || syscall(SYS_gettimeofday, &tv_sys, NULL))
		tst_fail("gettimeofday failed");
	long long diff = (tv.tv_sec - tv_sys.tv_sec) * 1000000LL + (tv.tv_usec - tv_sys.tv_usec);
	if (diff > 10000 || diff < -10000)
		tst_fail("vDSO gettimeofday is %lld us off the syscall", diff);
#ifdef VDSO_TIME_GETCPU
	time_t tt = vtime(NULL), ts = (time_t)syscall(SYS_time, NULL);
	if (tt < ts - 1 || tt > ts + 1)
		tst_fail("vDSO time() %lld, syscall %lld", (long long)tt, (long long)ts);
	unsigned cpu = ~0U, node = ~0U;
	if (vgetcpu(&cpu, &node, NULL) || cpu >= 4096)
		tst_fail("vDSO getcpu: cpu %u node %u", cpu, node);
#endif
	tst_pass();
}

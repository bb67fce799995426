/* Unit tests of the kernel probe (lib/kerndat.c): facts that hold on any
 * machine libcr supports, cross-checked where possible by a second, simpler
 * look at the same kernel; the cr_check() table must agree with kerndat; the
 * probe runs once, under concurrent first calls, and leaves nothing behind.
 * KERNDAT_VERBOSE=1 in the environment prints the table. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include "cr/cr.h"
#include "kerndat.h"
#include "log.h"

static int npass, nfail;
static char why[1024];
static const struct kerndat *kd;
static double first_call_ms;
static int fds_before, fds_after, maps_before, maps_after;
static const struct kerndat *thread_kd[4];
static int concurrent_status;

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return -1;
}

#define CHECK(cond, ...) do { if (!(cond)) return fail(__VA_ARGS__); } while (0)

static void run(const char *name, int (*fn)(void))
{
	why[0] = 0;
	if (fn() == 0) {
		printf("PASS %s\n", name);
		npass++;
	} else {
		printf("FAIL %s: %s\n", name, why);
		nfail++;
	}
	fflush(stdout);
}

/* ---- helpers */

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static int count_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	int n = 0, c;

	if (!f)
		return -1;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static const struct cr_feature *feature(const char *name)
{
	const struct cr_feature *f;
	int n = cr_check(&f);

	for (int i = 0; i < n; i++)
		if (!strcmp(f[i].name, name))
			return &f[i];
	return NULL;
}

static void *first_call(void *arg)
{
	thread_kd[(long)arg] = kerndat_get();
	return NULL;
}

/* ---- tests */

static int t_once_concurrent(void)
{
	CHECK(concurrent_status == 0, "%s", concurrent_status == 1 ? "threads got different tables"
	      : concurrent_status < 0 ? "fork/waitpid failed" : "the child failed or crashed");
	return 0;
}

static int t_cached(void)
{
	double t0 = now_ms();
	const struct kerndat *again = kerndat_get();
	double dt = now_ms() - t0;

	CHECK(again == kd, "second call returned another table");
	CHECK(dt < 1.0, "second call took %.3f ms: probed again?", dt);
	return 0;
}

static int t_fast(void)
{
	/* Well under 100 ms on an idle machine; the bound leaves room for a busy CI. */
	printf("     first kerndat_get(): %.1f ms\n", first_call_ms);
	CHECK(first_call_ms < 1000, "probing took %.0f ms", first_call_ms);
	return 0;
}

static int t_no_leaks(void)
{
	pid_t w = waitpid(-1, NULL, WNOHANG);

	CHECK(fds_after == fds_before, "fds: %d before, %d after", fds_before, fds_after);
	CHECK(maps_after == maps_before, "mappings: %d before, %d after", maps_before, maps_after);
	CHECK(w < 0 && errno == ECHILD, "a probe child is left (waitpid: %d)", (int)w);
	return 0;
}

static int t_core_features(void)
{
	CHECK(kd->ptrace_seize, "ptrace_seize is false");
	CHECK(kd->memfd, "memfd is false");
	CHECK(kd->vmsplice, "vmsplice is false");
	CHECK(kd->prctl_mm_map, "prctl_mm_map is false (every supported kernel has CHECKPOINT_RESTORE)");
	return 0;
}

static int t_ptrace_family(void)
{
	/* GETSIGMASK (3.11) and PEEKSIGINFO (3.10) predate every kernel with clone3. */
	if (kd->clone3_set_tid) {
		CHECK(kd->ptrace_getsigmask, "clone3 set_tid but no PTRACE_GETSIGMASK");
		CHECK(kd->ptrace_peeksiginfo, "clone3 set_tid but no PTRACE_PEEKSIGINFO");
	}
	if (kd->ptrace_get_rseq_conf)
		CHECK(kd->rseq, "PTRACE_GET_RSEQ_CONFIGURATION works but rseq() does not");
	return 0;
}

static int t_dirty_track_choice(void)
{
	enum dirty_track_mode want = kd->pagemap_scan && kd->uffd_wp_async ? DIRTY_TRACK_PAGEMAP_SCAN_UFFD_WP
				   : kd->soft_dirty ? DIRTY_TRACK_SOFT_DIRTY : DIRTY_TRACK_NONE;

	CHECK(kd->dirty_track == want, "mode %d, expected %d", kd->dirty_track, want);
	if (kd->uffd_wp_async)
		CHECK(kd->uffd && kd->pagemap_scan, "WP-async without uffd or PAGEMAP_SCAN");
	/* PAGEMAP_SCAN and UFFD_FEATURE_WP_ASYNC arrived together (6.7). */
	if (kd->pagemap_scan && kd->uffd)
		CHECK(kd->dirty_track == DIRTY_TRACK_PAGEMAP_SCAN_UFFD_WP,
		      "PAGEMAP_SCAN and userfaultfd work, but WP-async mode is not chosen");
	return 0;
}

/* A freshly written page is soft-dirty exactly when the kernel has soft-dirty. */
static int t_soft_dirty_crosscheck(void)
{
	long page = sysconf(_SC_PAGESIZE);
	uint64_t e = 0;
	char *a;
	int pm;

	a = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(a != MAP_FAILED, "mmap: %s", strerror(errno));
	a[0] = 1;
	pm = open("/proc/self/pagemap", O_RDONLY);
	if (pm < 0 || pread(pm, &e, sizeof(e), (uintptr_t)a / page * sizeof(e)) != sizeof(e)) {
		munmap(a, page);
		return fail("pagemap: %s", strerror(errno));
	}
	close(pm);
	munmap(a, page);
	CHECK(e & (1ULL << 63), "the written page is not present (entry 0x%llx)", (unsigned long long)e);
	CHECK(!!(e & (1ULL << 55)) == kd->soft_dirty, "fresh page soft-dirty bit %d, kerndat soft_dirty %d",
	      !!(e & (1ULL << 55)), kd->soft_dirty);
	return 0;
}

static int t_layout(void)
{
	long page = sysconf(_SC_PAGESIZE);

	CHECK(kd->task_size > (1UL << 32) && kd->task_size % page == 0, "task_size 0x%lx", kd->task_size);
	CHECK((uintptr_t)&page < kd->task_size, "the stack lies above task_size 0x%lx", kd->task_size);
	CHECK(kd->vdso_size > 0 && kd->vdso_size % page == 0, "vdso_size %lu", kd->vdso_size);
	CHECK(kd->vvar_size % page == 0 && kd->vvar_vclock_size % page == 0, "vvar %lu, vvar_vclock %lu",
	      kd->vvar_size, kd->vvar_vclock_size);
	return 0;
}

#if defined(__x86_64__)
#include <cpuid.h>

static int t_x86_xsave(void)
{
	unsigned int a, b, c, d, lo, hi;

	CHECK(kd->task_size == 0x7ffffffff000UL || kd->task_size == 0xfffffffffff000UL,
	      "task_size 0x%lx", kd->task_size);
	if (!kd->ptrace_seize)
		return 0;	/* the regset is read from a stopped tracee */
	CHECK(kd->xsave_size >= 576, "xsave_size %u", kd->xsave_size);
	CHECK((kd->xfeatures_mask & 3) == 3, "xfeatures 0x%llx lacks x87/SSE",
	      (unsigned long long)kd->xfeatures_mask);
	CHECK(__get_cpuid(1, &a, &b, &c, &d) && (c & bit_OSXSAVE), "no OSXSAVE");
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	/* The kernel programs XCR0 with exactly the user features it reports,
	 * and CPUID(0xD).EBX is the standard-format size for XCR0. */
	CHECK(kd->xfeatures_mask == (((uint64_t)hi << 32) | lo), "xfeatures 0x%llx, XCR0 0x%llx",
	      (unsigned long long)kd->xfeatures_mask, (unsigned long long)(((uint64_t)hi << 32) | lo));
	__cpuid_count(0xd, 0, a, b, c, d);
	CHECK(kd->xsave_size == b, "xsave_size %u, CPUID(0xD).EBX %u", kd->xsave_size, b);
	return 0;
}
#endif

static int t_table_shape(void)
{
	const struct cr_feature *f, *g;
	int n = cr_check(&f), m = cr_check(&g);

	CHECK(n > 0 && f, "cr_check returned %d", n);
	CHECK(m == n && g == f, "a second cr_check returned another table");
	CHECK(cr_check(NULL) == n, "cr_check(NULL) returned another count");
	for (int i = 0; i < n; i++) {
		CHECK(f[i].name && f[i].name[0], "entry %d has no name", i);
		CHECK(f[i].needed_for && f[i].needed_for[0], "%s: no needed_for", f[i].name);
		CHECK(f[i].detail, "%s: detail is NULL", f[i].name);
		CHECK(f[i].ok || f[i].detail[0], "%s is missing without saying why", f[i].name);
		for (int j = 0; j < i; j++)
			CHECK(strcmp(f[i].name, f[j].name), "%s twice", f[i].name);
	}
	return 0;
}

static int t_table_matches(void)
{
	static const struct {
		const char *name;
		size_t off;
	} rows[] = {
#define ROW(n, field) { n, __builtin_offsetof(struct kerndat, field) }
		ROW("ptrace-seize", ptrace_seize),
		ROW("ptrace-getsigmask", ptrace_getsigmask),
		ROW("ptrace-peeksiginfo", ptrace_peeksiginfo),
		ROW("ptrace-rseq-conf", ptrace_get_rseq_conf),
		ROW("clone3-set-tid", clone3_set_tid),
		ROW("prctl-mm-map", prctl_mm_map),
		ROW("memfd", memfd),
		ROW("vmsplice", vmsplice),
		ROW("kcmp", kcmp),
		ROW("pagemap-scan", pagemap_scan),
		ROW("userfaultfd", uffd),
		ROW("uffd-wp-async", uffd_wp_async),
		ROW("soft-dirty", soft_dirty),
		ROW("tcp-repair", tcp_repair),
		ROW("time-ns", time_ns),
		ROW("rseq", rseq),
		ROW("timer-restore-ids", timer_restore_ids),
		ROW("pidfd-getfd", pidfd_getfd),
#undef ROW
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct cr_feature *f = feature(rows[i].name);
		bool v = *(const bool *)((const char *)kd + rows[i].off);

		CHECK(f, "no row %s", rows[i].name);
		CHECK(f->ok == v, "row %s ok=%d, kerndat %d", rows[i].name, f->ok, v);
	}
	return 0;
}

static int t_table_dirty_tracking(void)
{
	const struct cr_feature *f = feature("dirty-tracking"), *sd = feature("soft-dirty");
	const char *want = kd->dirty_track == DIRTY_TRACK_PAGEMAP_SCAN_UFFD_WP ? "mode: pagemap-scan+uffd-wp"
			 : kd->dirty_track == DIRTY_TRACK_SOFT_DIRTY ? "mode: soft-dirty" : "none: ";

	CHECK(f && sd, "no dirty-tracking or soft-dirty row");
	CHECK(f->ok == (kd->dirty_track != DIRTY_TRACK_NONE), "dirty-tracking ok=%d, mode %d", f->ok,
	      kd->dirty_track);
	CHECK(!strncmp(f->detail, want, strlen(want)), "detail \"%s\", expected \"%s...\"", f->detail, want);
	if (!kd->soft_dirty && kd->dirty_track == DIRTY_TRACK_PAGEMAP_SCAN_UFFD_WP)
		CHECK(strstr(sd->detail, "CONFIG_MEM_SOFT_DIRTY") && strstr(sd->detail, "PAGEMAP_SCAN"),
		      "soft-dirty detail \"%s\"", sd->detail);
	return 0;
}

static int t_table_arch(void)
{
	const struct cr_feature *v = feature("vdso");

	CHECK(v && v->ok == (kd->vdso_size != 0), "vdso row disagrees with vdso_size %lu", kd->vdso_size);
#if defined(__x86_64__)
	{
		const struct cr_feature *x = feature("xsave"), *m = feature("arch-map-vdso");

		CHECK(x && x->ok == (kd->xsave_size >= 576), "xsave row disagrees with xsave_size %u", kd->xsave_size);
		CHECK(m && m->ok == kd->arch_map_vdso, "arch-map-vdso row disagrees with kerndat");
	}
#endif
	return 0;
}

/* In a forked child, so that the threads' stacks and malloc arenas do not
 * blur the leak count of the main process: 0 if all four agree. */
static int concurrent_first_calls(void)
{
	pthread_t th[4];
	int st;
	pid_t pid = fork();

	if (pid == 0) {
		for (long i = 0; i < 4; i++)
			if (pthread_create(&th[i], NULL, first_call, (void *)i))
				_exit(2);
		for (int i = 0; i < 4; i++)
			pthread_join(th[i], NULL);
		for (int i = 0; i < 4; i++)
			if (!thread_kd[i] || thread_kd[i] != kerndat_get())
				_exit(1);
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int main(void)
{
	double t0;

	concurrent_status = concurrent_first_calls();

	fds_before = count_fds();
	maps_before = count_maps();
	t0 = now_ms();
	kd = kerndat_get();
	first_call_ms = now_ms() - t0;
	fds_after = count_fds();
	maps_after = count_maps();

	if (getenv("KERNDAT_VERBOSE")) {
		const struct cr_feature *f;
		int n = cr_check(&f);

		for (int i = 0; i < n; i++)
			printf("     %-8s %-20s %s\n", f[i].ok ? "OK" : "MISSING", f[i].name, f[i].detail);
	}

	run("once-under-concurrent-first-calls", t_once_concurrent);
	run("cached", t_cached);
	run("fast", t_fast);
	run("no-leaks", t_no_leaks);
	run("core-features", t_core_features);
	run("ptrace-family", t_ptrace_family);
	run("dirty-track-choice", t_dirty_track_choice);
	run("soft-dirty-crosscheck", t_soft_dirty_crosscheck);
	run("layout", t_layout);
#if defined(__x86_64__)
	run("x86-xsave", t_x86_xsave);
#endif
	run("table-shape", t_table_shape);
	run("table-matches-kerndat", t_table_matches);
	run("table-dirty-tracking", t_table_dirty_tracking);
	run("table-arch", t_table_arch);

	printf("%d passed, %d failed\n", npass, nfail);
	return nfail ? 1 : 0;
}

/* Kernel features, probed once per process (principle 8).
 *
 * Every probe tries the mechanism itself, on this process or on a throw-away
 * child, and never reads a version number: kernels backport, distributions
 * disable, seccomp filters and missing capabilities hide.  A probe that fails
 * leaves its feature false and a note saying why; cr_check() turns both into
 * the table `crtool check` prints.  Everything a probe creates (children,
 * fds, mappings) is gone when it returns.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <linux/kcmp.h>
#include "uapi-compat.h"
#include "kerndat.h"
#include "net/inet.h"
#include "kerndat-arch.h"
#include "log.h"
#include "util.h"

static struct kerndat kdat;

/* Why a feature is missing, or extra facts; shown by cr_check(). */
static struct {
	char ptrace[192], sigmask[96], peeksiginfo[96], rseq_conf[96];
	char clone3[160], mm_map[128], memfd[96], vmsplice[96], kcmp[96];
	char mm_exe[160], pagemap_scan[128], uffd[128], wp_async[160], soft_dirty[160];
	char tcp_repair[128], time_ns[128], rseq[128], timer_ids[128], getfd[128];
	char seccomp[128];
} note;

#define NOTE(field, ...) snprintf(note.field, sizeof(note.field), __VA_ARGS__)

/* The soft-dirty probe's verdicts besides 0 and an errno. */
#define SD_NEVER_SET	(-1)	/* bit 55 stays clear: no CONFIG_MEM_SOFT_DIRTY */
#define SD_NOT_CLEARED	(-2)	/* clear_refs did not clear it */

static long page_size;

/* strerror, with the two usual reasons for ENOSYS. */
static const char *errtext(int e)
{
	return e == ENOSYS ? "ENOSYS (the kernel lacks it, or a seccomp filter refuses it)" : strerror(e);
}

/* ---------------------------------------------------------------- memory */

/* Transparent huge pages: the restore fills memory a huge page at a time where the
 * process could have had huge pages (MADV_COLLAPSE): any area in "always" mode, an
 * area with MADV_HUGEPAGE in "madvise" mode, none in "never". */
static void probe_thp(struct kerndat *kd)
{
	char *enabled = read_file("/sys/kernel/mm/transparent_hugepage/enabled", NULL);
	char *size = read_file("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", NULL);

	if (enabled && size && !strstr(enabled, "[never]"))
		kd->thp_size = strtoul(size, NULL, 10);
	kd->thp_always = enabled && strstr(enabled, "[always]");
	if (kd->thp_size & (kd->thp_size - 1) || kd->thp_size < (unsigned long)page_size)
		kd->thp_size = 0;
	free(enabled);
	free(size);
}

/* ---------------------------------------------------------------- files */

static void probe_memfd(struct kerndat *kd)
{
	int fd = memfd_create("cr-kerndat", MFD_CLOEXEC);
	void *p;

	if (fd < 0) {
		NOTE(memfd, "memfd_create: %s", errtext(errno));
		return;
	}
	/* The parasite is loaded by mapping a memfd shared: try exactly that. */
	if (ftruncate(fd, page_size)) {
		NOTE(memfd, "ftruncate of a memfd: %s", strerror(errno));
	} else if ((p = mmap(NULL, page_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED) {
		NOTE(memfd, "mmap of a memfd: %s", strerror(errno));
	} else {
		munmap(p, page_size);
		kd->memfd = true;
	}
	close(fd);
}

/* vmsplice of user pages into a pipe, read back; kcmp on the same pipe. */
static void probe_pipe(struct kerndat *kd)
{
	pid_t self = getpid();
	struct iovec iov;
	char *buf, *back;
	int p[2];
	long ret;

	if (pipe2(p, O_CLOEXEC)) {
		NOTE(vmsplice, "pipe: %s", strerror(errno));
		NOTE(kcmp, "pipe: %s", strerror(errno));
		return;
	}

	buf = mmap(NULL, page_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	back = malloc(page_size);
	if (buf == MAP_FAILED || !back) {
		NOTE(vmsplice, "out of memory");
	} else {
		memset(buf, 0x5a, page_size);
		iov.iov_base = buf;
		iov.iov_len = page_size;
		ret = vmsplice(p[1], &iov, 1, 0);
		if (ret != page_size)
			NOTE(vmsplice, "vmsplice: %s", ret < 0 ? errtext(errno) : "short transfer");
		else if (read_all(p[0], back, page_size) || memcmp(buf, back, page_size))
			NOTE(vmsplice, "vmsplice: pipe returned other bytes than were spliced");
		else
			kd->vmsplice = true;
	}
	if (buf != MAP_FAILED)
		munmap(buf, page_size);
	free(back);

	/* Same file: 0; different files: 1 or 2 (an ordering). */
	ret = syscall(SYS_kcmp, self, self, KCMP_FILE, p[0], p[0]);
	if (ret == 0)
		ret = syscall(SYS_kcmp, self, self, KCMP_FILE, p[0], p[1]);
	if (ret > 0)
		kd->kcmp = true;
	else if (ret < 0 && errno == ENOSYS)
		NOTE(kcmp, "kcmp: ENOSYS (kernel without CONFIG_KCMP, or a seccomp filter)");
	else if (ret < 0)
		NOTE(kcmp, "kcmp: %s", strerror(errno));
	else
		NOTE(kcmp, "kcmp says two ends of a pipe are the same file");

	close(p[0]);
	close(p[1]);
}

/* ---------------------------------------------------------------- memory */

static long pagemap_scan(int pm, void *start, size_t len, uint64_t flags, uint64_t categories,
			 struct page_region *vec, size_t nvec)
{
	struct pm_scan_arg a = {
		.size = sizeof(a),
		.flags = flags,
		.start = (uintptr_t)start,
		.end = (uintptr_t)start + len,
		.vec = (uintptr_t)vec,
		.vec_len = nvec,
		.category_mask = categories,
		.return_mask = categories,
	};

	return ioctl(pm, PAGEMAP_SCAN, &a);
}

/* Exactly one region, [start + first page, start + (first + count) pages)? */
static bool one_region(long n, const struct page_region *r, char *start, long first, long count)
{
	return n == 1 && r->start == (uintptr_t)(start + first * page_size) &&
	       r->end == (uintptr_t)(start + (first + count) * page_size);
}

static void probe_pagemap_scan(struct kerndat *kd, int pm)
{
	struct page_region r[4];
	char *a;
	long n;

	/* the tests' way to take the path of kernels before 6.7 on this one */
	const char *force = getenv("CR_PAGEMAP");
	if (force && !strcmp(force, "read")) {
		NOTE(pagemap_scan, "not used: CR_PAGEMAP=read (/proc/PID/pagemap is read instead)");
		return;
	}
	a = mmap(NULL, 4 * page_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED) {
		NOTE(pagemap_scan, "mmap: %s", strerror(errno));
		return;
	}
	a[page_size] = 1;
	n = pagemap_scan(pm, a, 4 * page_size, 0, PAGE_IS_PRESENT, r, 4);
	if (n < 0 && (errno == ENOTTY || errno == EINVAL))
		NOTE(pagemap_scan, "ioctl(PAGEMAP_SCAN): %s (kernel without it: Linux < 6.7)", strerror(errno));
	else if (n < 0)
		NOTE(pagemap_scan, "ioctl(PAGEMAP_SCAN): %s", strerror(errno));
	else if (!one_region(n, r, a, 1, 1))
		NOTE(pagemap_scan, "PAGEMAP_SCAN reported %ld regions for one present page", n);
	else
		kd->pagemap_scan = true;
	munmap(a, 4 * page_size);
}

/* A userfaultfd, whichever way this kernel and its sysctls allow.  On failure
 * *err_sys and errno are the errors of the syscall and of /dev/userfaultfd. */
static int uffd_open(const char **how, int *err_sys)
{
	const int flags = O_CLOEXEC | O_NONBLOCK;
	int fd, dev;

	*how = "userfaultfd(UFFD_USER_MODE_ONLY)";
	fd = syscall(SYS_userfaultfd, flags | UFFD_USER_MODE_ONLY);
	if (fd >= 0)
		return fd;
	*how = "userfaultfd()";		/* before 5.11 the flag is EINVAL */
	fd = syscall(SYS_userfaultfd, flags);
	if (fd >= 0)
		return fd;
	*err_sys = errno;
	*how = "/dev/userfaultfd";
	dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return -1;
	fd = ioctl(dev, USERFAULTFD_IOC_NEW, flags | UFFD_USER_MODE_ONLY);
	close(dev);
	return fd;
}

static void probe_uffd(struct kerndat *kd, uint64_t *features)
{
	struct uffdio_api api = { .api = UFFD_API };
	const char *how;
	int err_sys = 0, fd = uffd_open(&how, &err_sys);

	if (fd < 0) {
		NOTE(uffd, "userfaultfd: %s; /dev/userfaultfd: %s", strerror(err_sys), strerror(errno));
		return;
	}
	/* Asking for no features returns the ones this kernel has. */
	if (ioctl(fd, UFFDIO_API, &api)) {
		NOTE(uffd, "UFFDIO_API: %s", strerror(errno));
	} else {
		kd->uffd = true;
		*features = api.features;
		NOTE(uffd, "via %s, features 0x%llx", how, (unsigned long long)api.features);
	}
	close(fd);
}

/* The dirty tracking of kernels without soft-dirty: write-protect an area with
 * an async userfaultfd, write one page, and let PAGEMAP_SCAN find exactly that
 * page (and re-protect it, so the next scan finds nothing). */
static void probe_wp_async(struct kerndat *kd, int pm, uint64_t features)
{
	const uint64_t want = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED;
	const uint64_t scan = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC;
	struct uffdio_api api = { .api = UFFD_API, .features = want };
	struct uffdio_register reg;
	struct uffdio_writeprotect wp;
	struct page_region r[4];
	const size_t len = 4 * page_size;
	const char *how;
	char *a = MAP_FAILED;
	long n1 = -1, n2 = -1, n3 = -1;
	int fd = -1, err_sys;

	if (!kd->uffd || !kd->pagemap_scan) {
		NOTE(wp_async, "needs %s", !kd->uffd ? "userfaultfd" : "PAGEMAP_SCAN");
		return;
	}
	if ((features & want) != want) {
		NOTE(wp_async, "userfaultfd lacks %s",
		     !(features & UFFD_FEATURE_WP_ASYNC) ? "UFFD_FEATURE_WP_ASYNC" : "UFFD_FEATURE_WP_UNPOPULATED");
		return;
	}
	fd = uffd_open(&how, &err_sys);
	if (fd < 0 || ioctl(fd, UFFDIO_API, &api)) {
		NOTE(wp_async, "UFFDIO_API(WP_ASYNC|WP_UNPOPULATED): %s", strerror(errno));
		goto out;
	}
	a = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED) {
		NOTE(wp_async, "mmap: %s", strerror(errno));
		goto out;
	}
	reg = (struct uffdio_register){ .range = { (uintptr_t)a, len }, .mode = UFFDIO_REGISTER_MODE_WP };
	if (ioctl(fd, UFFDIO_REGISTER, &reg)) {
		NOTE(wp_async, "UFFDIO_REGISTER(MODE_WP): %s", strerror(errno));
		goto out;
	}
	wp = (struct uffdio_writeprotect){ .range = { (uintptr_t)a, len }, .mode = UFFDIO_WRITEPROTECT_MODE_WP };
	if (ioctl(fd, UFFDIO_WRITEPROTECT, &wp)) {
		NOTE(wp_async, "UFFDIO_WRITEPROTECT: %s", strerror(errno));
		goto out;
	}

	a[2 * page_size] = 1;		/* resolved by the kernel: no fault message */
	n1 = pagemap_scan(pm, a, len, scan, PAGE_IS_WRITTEN, r, 4);
	if (!one_region(n1, r, a, 2, 1))
		goto bad;
	n2 = pagemap_scan(pm, a, len, scan, PAGE_IS_WRITTEN, r, 4);
	if (n2 != 0)
		goto bad;
	a[0] = 1;
	n3 = pagemap_scan(pm, a, len, scan, PAGE_IS_WRITTEN, r, 4);
	if (!one_region(n3, r, a, 0, 1))
		goto bad;
	kd->uffd_wp_async = true;
	goto out;
bad:
	if (n1 < 0 || n2 < 0 || n3 < 0)
		NOTE(wp_async, "PAGEMAP_SCAN(PM_SCAN_WP_MATCHING|PM_SCAN_CHECK_WPASYNC): %s", strerror(errno));
	else
		NOTE(wp_async, "PAGEMAP_SCAN did not report exactly the written page (rounds: %ld %ld %ld regions)",
		     n1, n2, n3);
out:
	if (a != MAP_FAILED)
		munmap(a, len);
	if (fd >= 0)
		close(fd);
}

/* ---------------------------------------------------------------- net */

static void probe_tcp_repair(struct kerndat *kd)
{
	int one = 1, fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		NOTE(tcp_repair, "no TCP socket: %s", strerror(errno));
		return;
	}
	if (setsockopt(fd, SOL_TCP, TCP_REPAIR, &one, sizeof(one)) == 0)
		kd->tcp_repair = true;
	else if (errno == EPERM)
		NOTE(tcp_repair, "setsockopt(TCP_REPAIR): EPERM (needs CAP_NET_ADMIN)");
	else
		NOTE(tcp_repair, "setsockopt(TCP_REPAIR): %s", strerror(errno));
	close(fd);
}

/* ---------------------------------------------------------------- tasks */

static long read_long_file(const char *path)
{
	char *s = read_file(path, NULL);
	long v;

	if (!s)
		return -1;
	v = strtol(s, NULL, 10);
	free(s);
	return v;
}

static void reap(pid_t pid)
{
	while (waitpid(pid, NULL, __WALL) < 0 && errno == EINTR)
		;
}

/* Really create a process at a chosen free PID, as restore does. */
static void probe_clone3_set_tid(struct kerndat *kd)
{
	long last = read_long_file("/proc/sys/kernel/ns_last_pid");
	long max = read_long_file("/proc/sys/kernel/pid_max");

	if (last < 0)
		last = getpid();
	if (max < 1024)
		max = 32768;

	for (int i = 0; i < 16; i++) {
		pid_t want = last + 100 + i * 37;
		struct clone_args a = {
			.exit_signal = SIGCHLD,
			.set_tid = (uintptr_t)&want,
			.set_tid_size = 1,
		};
		long pid;

		if (want >= max)
			want = 300 + want % (max - 300);
		pid = syscall(__NR_clone3, &a, sizeof(a));
		if (pid == 0)
			syscall(SYS_exit_group, 0);	/* the child: no libc state touched */
		if (pid > 0) {
			reap(pid);
			if (pid == want)
				kd->clone3_set_tid = true;
			else
				NOTE(clone3, "clone3 asked for PID %d, got %ld", want, pid);
			return;
		}
		if (errno == EEXIST)
			continue;		/* taken meanwhile: try another */
		if (errno == ENOSYS)
			NOTE(clone3, "clone3: ENOSYS (Linux < 5.3, or refused by a seccomp filter)");
		else if (errno == E2BIG)
			NOTE(clone3, "clone3 without set_tid (Linux < 5.5)");
		else if (errno == EPERM)
			NOTE(clone3, "clone3 set_tid: EPERM (needs CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE "
			     "over the PID namespace)");
		else
			NOTE(clone3, "clone3 set_tid=%d: %s", want, strerror(errno));
		return;
	}
	NOTE(clone3, "clone3 set_tid: every PID tried was taken");
}

static void probe_rseq(struct kerndat *kd)
{
	/* No area and no length is invalid whether or not this thread is
	 * registered: EINVAL means the syscall exists, and nothing changes. */
	if (syscall(SYS_rseq, NULL, 0, 0, 0) < 0 && errno == EINVAL)
		kd->rseq = true;
	else
		NOTE(rseq, "rseq: %s", errtext(errno));
}

#define PR_TIMER_CREATE_RESTORE_IDS 77
#define PR_TIMER_CREATE_RESTORE_IDS_GET 2

static void probe_timer_ids(struct kerndat *kd)
{
	/* GET only reads the mode; EINVAL: the kernel predates it */
	if (prctl(PR_TIMER_CREATE_RESTORE_IDS, PR_TIMER_CREATE_RESTORE_IDS_GET, 0, 0, 0) >= 0)
		kd->timer_restore_ids = true;
	else
		NOTE(timer_ids, "PR_TIMER_CREATE_RESTORE_IDS: %s (Linux 6.15 has it)", errtext(errno));
}

static void probe_pidfd_getfd(struct kerndat *kd)
{
	int pidfd = syscall(SYS_pidfd_open, getpid(), 0), fd = -1;

	if (pidfd >= 0)
		fd = syscall(SYS_pidfd_getfd, pidfd, pidfd, 0);
	if (fd >= 0)
		kd->pidfd_getfd = true;
	else
		NOTE(getfd, "%s: %s", pidfd < 0 ? "pidfd_open" : "pidfd_getfd", errtext(errno));
	if (fd >= 0)
		close(fd);
	if (pidfd >= 0)
		close(pidfd);
}

/* The mm fields of this process, as PR_SET_MM_MAP takes them (a forked child
 * has the same ones).  brk is left for the child to read. */
static int read_mm_map(struct prctl_mm_map *m, uint64_t *auxv, size_t auxv_max)
{
	unsigned long long v[53] = { 0 };
	char *s, *p, *tok, *save;
	size_t len = 0;
	int i = 3;		/* the first field after "(comm) " is field 3 */

	s = read_file("/proc/self/stat", NULL);
	if (!s)
		return -errno;
	p = strrchr(s, ')');
	if (p)
		for (tok = strtok_r(p + 1, " \n", &save); tok && i < 53; tok = strtok_r(NULL, " \n", &save))
			v[i++] = strtoull(tok, NULL, 10);
	free(s);
	if (i <= 51)
		return -EINVAL;
	*m = (struct prctl_mm_map){
		.start_code = v[26], .end_code = v[27], .start_stack = v[28],
		.start_data = v[45], .end_data = v[46], .start_brk = v[47],
		.arg_start = v[48], .arg_end = v[49], .env_start = v[50], .env_end = v[51],
		.exe_fd = (uint32_t)-1,
	};

	s = read_file("/proc/self/auxv", &len);
	if (s) {
		len = len < auxv_max * sizeof(*auxv) ? len : auxv_max * sizeof(*auxv);
		memcpy(auxv, s, len);
		free(s);
		m->auxv = (__u64 *)auxv;
		m->auxv_size = len;
	}
	return 0;
}

/* What the helper child found about itself. 0 = works, > 0 = errno. */
struct child_report {
	int mm_map;
	int mm_exe;			/* PR_SET_MM_MAP with an exe_fd */
	int time_ns, time_ns_step;	/* step 1: unshare, 2: timens_offsets */
	int soft_dirty;			/* or SD_NEVER_SET / SD_NOT_CLEARED */
	int map_vdso;			/* kerndat_arch_map_vdso() */
};

/* In the child from here on: syscalls only, no locks, no malloc. */

static int child_mm_map(struct prctl_mm_map *m)
{
	m->brk = syscall(SYS_brk, 0);
	if (prctl(PR_SET_MM, PR_SET_MM_MAP, (unsigned long)m, sizeof(*m), 0))
		return errno;
	return 0;
}

/* /proc/PID/exe: the capability is checked first; EBUSY then only says that the
 * old executable is still mapped (the restorer unmaps it before). */
static int child_mm_exe(struct prctl_mm_map *m)
{
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return errno;
	m->exe_fd = fd;
	m->brk = syscall(SYS_brk, 0);
	if (prctl(PR_SET_MM, PR_SET_MM_MAP, (unsigned long)m, sizeof(*m), 0) && errno != EBUSY)
		ret = errno;
	m->exe_fd = (uint32_t)-1;
	close(fd);
	return ret;
}

static int child_time_ns(int *step)
{
	static const char offs[] = "monotonic 1 0\n";
	int fd, ret = 0;

	*step = 1;
	if (unshare(CLONE_NEWTIME))
		return errno;
	*step = 2;		/* offsets may be set until a task enters the namespace */
	fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	if (write(fd, offs, sizeof(offs) - 1) != (ssize_t)sizeof(offs) - 1)
		ret = errno ? errno : EIO;
	close(fd);
	return ret;
}

static int pagemap_entry(int pm, void *addr, uint64_t *e)
{
	off_t off = (uintptr_t)addr / page_size * sizeof(*e);

	return pread(pm, e, sizeof(*e), off) == sizeof(*e) ? 0 : (errno ? errno : EIO);
}

static int child_soft_dirty(void)
{
	const uint64_t soft_dirty = 1ULL << 55;
	int pm = -1, cr = -1, ret;
	uint64_t e;
	char *a;

	a = mmap(NULL, page_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED)
		return errno;
	a[0] = 1;
	pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	cr = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
	if (pm < 0 || cr < 0) {
		ret = errno;
		goto out;
	}
	if (write(cr, "4", 1) != 1) {
		ret = errno;
		goto out;
	}
	ret = pagemap_entry(pm, a, &e);
	if (ret)
		goto out;
	if (e & soft_dirty) {
		ret = SD_NOT_CLEARED;
		goto out;
	}
	a[0] = 2;
	ret = pagemap_entry(pm, a, &e);
	if (!ret && !(e & soft_dirty))
		ret = SD_NEVER_SET;
out:
	if (pm >= 0)
		close(pm);
	if (cr >= 0)
		close(cr);
	munmap(a, page_size);
	return ret;
}

static void __attribute__((noreturn)) helper_main(int wfd, pid_t parent, struct prctl_mm_map *mm, int mm_err)
{
	struct child_report r = { 0 };
	sigset_t s;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	r.mm_map = mm_err ? mm_err : child_mm_map(mm);
	r.mm_exe = mm_err ? mm_err : child_mm_exe(mm);
	r.time_ns = child_time_ns(&r.time_ns_step);
	r.soft_dirty = child_soft_dirty();
	r.map_vdso = kerndat_arch_map_vdso();

	/* A blocked signal pending in the shared queue, for PTRACE_GETSIGMASK and
	 * PTRACE_PEEKSIGINFO(_SHARED) to find. */
	sigemptyset(&s);
	sigaddset(&s, SIGUSR2);
	sigprocmask(SIG_BLOCK, &s, NULL);
	kill(getpid(), SIGUSR2);

	if (write(wfd, &r, sizeof(r)) != sizeof(r))
		_exit(1);
	close(wfd);
	for (;;)
		pause();
}

static int wait_stopped(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, __WALL) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFSTOPPED(st) ? 0 : -ECHILD;
}

static void probe_ptrace(struct kerndat *kd, pid_t pid)
{
	struct ptrace_peeksiginfo_args pa = { .off = 0, .flags = PTRACE_PEEKSIGINFO_SHARED, .nr = 1 };
	struct ptrace_rseq_configuration rc;
	uint64_t mask = 0;
	siginfo_t si;
	long ret;

	if (ptrace(PTRACE_SEIZE, pid, NULL, NULL)) {
		NOTE(ptrace, "PTRACE_SEIZE: %s%s", errtext(errno),
		     errno == EPERM ? " (needs CAP_SYS_PTRACE or a permissive Yama ptrace_scope)" : "");
		goto not_seized;
	}
	if (ptrace(PTRACE_INTERRUPT, pid, NULL, NULL)) {
		NOTE(ptrace, "PTRACE_INTERRUPT: %s", strerror(errno));
		goto not_seized;
	}
	ret = wait_stopped(pid);
	if (ret) {
		NOTE(ptrace, "waiting for the PTRACE_INTERRUPT stop: %s", strerror(-ret));
		goto not_seized;
	}
	kd->ptrace_seize = true;

	if (ptrace(PTRACE_GETSIGMASK, pid, (void *)sizeof(mask), &mask))
		NOTE(sigmask, "PTRACE_GETSIGMASK: %s", strerror(errno));
	else if (!(mask & (1ULL << (SIGUSR2 - 1))))
		NOTE(sigmask, "PTRACE_GETSIGMASK: mask 0x%llx lacks the blocked signal",
		     (unsigned long long)mask);
	else
		kd->ptrace_getsigmask = true;

	ret = ptrace(PTRACE_PEEKSIGINFO, pid, &pa, &si);
	if (ret < 0)
		NOTE(peeksiginfo, "PTRACE_PEEKSIGINFO: %s", strerror(errno));
	else if (ret != 1 || si.si_signo != SIGUSR2)
		NOTE(peeksiginfo, "PTRACE_PEEKSIGINFO did not return the pending signal");
	else
		kd->ptrace_peeksiginfo = true;

	memset(&rc, 0, sizeof(rc));
	ret = ptrace(PTRACE_GET_RSEQ_CONFIGURATION, pid, (void *)sizeof(rc), &rc);
	if (ret < 0) {
		NOTE(rseq_conf, "PTRACE_GET_RSEQ_CONFIGURATION: %s", strerror(errno));
	} else {
		kd->ptrace_get_rseq_conf = true;
		if (rc.rseq_abi_pointer)
			NOTE(rseq, "threads here are registered (by libc: %u-byte area, signature 0x%x)",
			     rc.rseq_abi_size, rc.signature);
		else
			NOTE(rseq, "threads here are not registered");
	}

	/* the parasite and the restorer must run unfiltered in a task with seccomp */
	if (ptrace(PTRACE_SETOPTIONS, pid, NULL, (void *)(long)(1 << 21) /* PTRACE_O_SUSPEND_SECCOMP */)) {
		NOTE(seccomp, "PTRACE_O_SUSPEND_SECCOMP: %s%s", strerror(errno),
		     errno == EPERM ? " (needs CAP_SYS_ADMIN)" : " (kernel without CONFIG_CHECKPOINT_RESTORE?)");
	} else {
		kd->seccomp_suspend = true;
		ptrace(PTRACE_SETOPTIONS, pid, NULL, NULL);
	}

	kerndat_arch_probe_stopped(pid, kd);
	return;
not_seized:
	NOTE(seccomp, "not probed: needs ptrace-seize");
	NOTE(sigmask, "not probed: needs ptrace-seize");
	NOTE(peeksiginfo, "not probed: needs ptrace-seize");
	NOTE(rseq_conf, "not probed: needs ptrace-seize");
}

/* One child answers for itself (PR_SET_MM_MAP, time namespace, soft-dirty,
 * the arch's vDSO call), then stops with a blocked signal pending so that the
 * ptrace requests have something to read. */
static void probe_helper_child(struct kerndat *kd)
{
	struct child_report r;
	struct prctl_mm_map mm;
	uint64_t auxv[128];
	int p[2], mm_err;
	pid_t parent = getpid(), pid;

	mm_err = -read_mm_map(&mm, auxv, sizeof(auxv) / sizeof(auxv[0]));
	if (pipe2(p, O_CLOEXEC)) {
		NOTE(ptrace, "pipe: %s", strerror(errno));
		return;
	}
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		helper_main(p[1], parent, &mm, mm_err);
	}
	close(p[1]);
	if (pid < 0) {
		NOTE(ptrace, "fork: %s", strerror(errno));
		close(p[0]);
		return;
	}
	if (read_all(p[0], &r, sizeof(r))) {
		NOTE(ptrace, "the probe child died before reporting");
		NOTE(mm_map, "the probe child died before reporting");
		NOTE(time_ns, "the probe child died before reporting");
		NOTE(soft_dirty, "the probe child died before reporting");
		close(p[0]);
		kill(pid, SIGKILL);
		reap(pid);
		return;
	}
	close(p[0]);

	kd->prctl_mm_map = r.mm_map == 0;
	if (r.mm_map)
		NOTE(mm_map, "prctl(PR_SET_MM, PR_SET_MM_MAP): %s%s", strerror(r.mm_map),
		     r.mm_map == EINVAL ? " (kernel without CONFIG_CHECKPOINT_RESTORE?)" : "");
	kd->prctl_mm_exe = r.mm_exe == 0;
	if (r.mm_exe)
		NOTE(mm_exe, "prctl(PR_SET_MM_MAP) with exe_fd: %s%s", strerror(r.mm_exe),
		     r.mm_exe == EPERM ? " (needs CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN)" : "");
	kd->time_ns = r.time_ns == 0;
	if (r.time_ns)
		NOTE(time_ns, "%s: %s%s", r.time_ns_step == 1 ? "unshare(CLONE_NEWTIME)" : "timens_offsets",
		     strerror(r.time_ns), r.time_ns == EPERM ? " (needs CAP_SYS_ADMIN)" :
		     r.time_ns_step == 1 && r.time_ns == EINVAL ? " (kernel without CONFIG_TIME_NS)" : "");
	kd->soft_dirty = r.soft_dirty == 0;
	if (r.soft_dirty == SD_NOT_CLEARED)
		NOTE(soft_dirty, "clear_refs did not clear the soft-dirty bit");
	else if (r.soft_dirty > 0)
		NOTE(soft_dirty, "clear_refs/pagemap: %s", strerror(r.soft_dirty));

	/* SD_NEVER_SET is worded by cr_check(), which knows the tracking mode. */
	kd->arch_map_vdso = r.map_vdso == 1;

	probe_ptrace(kd, pid);
	kill(pid, SIGKILL);
	reap(pid);
}

/* ---------------------------------------------------------------- layout */

static void probe_vdso(struct kerndat *kd)
{
	char *maps = read_file("/proc/self/maps", NULL), *line, *save, *name;
	unsigned long s, e;

	if (!maps)
		return;
	for (line = strtok_r(maps, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, "%lx-%lx", &s, &e) != 2 || !(name = strrchr(line, ' ')))
			continue;
		name++;
		if (!strcmp(name, "[vdso]"))
			kd->vdso_size += e - s;
		else if (!strcmp(name, "[vvar]"))
			kd->vvar_size += e - s;
		else if (!strcmp(name, "[vvar_vclock]"))
			kd->vvar_vclock_size += e - s;
	}
	free(maps);
}

/* ---------------------------------------------------------------- all */

static void probe_all(void)
{
	struct kerndat *kd = &kdat;
	uint64_t uffd_features = 0;
	double t0 = now_ms();
	int saved_errno = errno, pm;

	page_size = sysconf(_SC_PAGESIZE);

	probe_memfd(kd);
	probe_pipe(kd);

	pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (pm >= 0) {
		probe_pagemap_scan(kd, pm);
		probe_uffd(kd, &uffd_features);
		probe_wp_async(kd, pm, uffd_features);
		close(pm);
	} else {
		NOTE(pagemap_scan, "/proc/self/pagemap: %s", strerror(errno));
		probe_uffd(kd, &uffd_features);
		NOTE(wp_async, "needs PAGEMAP_SCAN");
	}

	probe_tcp_repair(kd);
	probe_rseq(kd);
	probe_timer_ids(kd);
	probe_pidfd_getfd(kd);
	probe_clone3_set_tid(kd);
	probe_helper_child(kd);
	probe_vdso(kd);
	kd->task_size = kerndat_arch_task_size();
	probe_thp(kd);

	if (kd->pagemap_scan && kd->uffd_wp_async)
		kd->dirty_track = DIRTY_TRACK_PAGEMAP_SCAN_UFFD_WP;
	else if (kd->soft_dirty)
		kd->dirty_track = DIRTY_TRACK_SOFT_DIRTY;
	else
		kd->dirty_track = DIRTY_TRACK_NONE;

	pr_debug("kerndat: probed in %.1f ms: seize %d clone3-set-tid %d mm-map %d memfd %d vmsplice %d "
		 "pagemap-scan %d uffd %d wp-async %d soft-dirty %d tcp-repair %d time-ns %d dirty-track %d",
		 now_ms() - t0, kd->ptrace_seize, kd->clone3_set_tid, kd->prctl_mm_map, kd->memfd,
		 kd->vmsplice, kd->pagemap_scan, kd->uffd, kd->uffd_wp_async, kd->soft_dirty,
		 kd->tcp_repair, kd->time_ns, kd->dirty_track);
	errno = saved_errno;
}

const struct kerndat *kerndat_get(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, probe_all);
	return &kdat;
}

/* ---------------------------------------------------------------- cr_check */

static struct cr_feature features[40];
static int nr_features;
static char netlock_detail[160], netlock_ns_detail[160], dirty_detail[96], soft_dirty_detail[160], vdso_detail[128], task_size_detail[96];

static void add(const char *name, bool ok, const char *needed_for, const char *detail)
{
	if (nr_features < (int)(sizeof(features) / sizeof(features[0])))
		features[nr_features++] = (struct cr_feature){ name, ok, needed_for, detail ? detail : "" };
}

static void build_table(void)
{
	const struct kerndat *kd = kerndat_get();
	const char *mode;

	switch (kd->dirty_track) {
	case DIRTY_TRACK_PAGEMAP_SCAN_UFFD_WP:
		mode = "mode: pagemap-scan+uffd-wp";
		break;
	case DIRTY_TRACK_SOFT_DIRTY:
		mode = "mode: soft-dirty";
		break;
	default:
		mode = "none: every pre-dump copies all pages";
		break;
	}
	snprintf(dirty_detail, sizeof(dirty_detail), "%s", mode);

	if (!kd->soft_dirty && !note.soft_dirty[0])
		snprintf(soft_dirty_detail, sizeof(soft_dirty_detail),
			 "kernel built without CONFIG_MEM_SOFT_DIRTY%s",
			 kd->dirty_track == DIRTY_TRACK_PAGEMAP_SCAN_UFFD_WP ?
			 " (PAGEMAP_SCAN is used instead)" : "");
	else
		snprintf(soft_dirty_detail, sizeof(soft_dirty_detail), "%s", note.soft_dirty);

	if (kd->vdso_size)
		snprintf(vdso_detail, sizeof(vdso_detail), "[vdso] %lu KiB, [vvar] %lu KiB, [vvar_vclock] %lu KiB",
			 kd->vdso_size >> 10, kd->vvar_size >> 10, kd->vvar_vclock_size >> 10);
	else
		snprintf(vdso_detail, sizeof(vdso_detail), "no [vdso] in /proc/self/maps (booted with vdso=0?)");
	snprintf(task_size_detail, sizeof(task_size_detail), "0x%lx", kd->task_size);

	add("ptrace-seize", kd->ptrace_seize, "seize: dump of every task", note.ptrace);
	add("ptrace-getsigmask", kd->ptrace_getsigmask, "dump of blocked signal masks", note.sigmask);
	add("ptrace-peeksiginfo", kd->ptrace_peeksiginfo, "dump of pending signals", note.peeksiginfo);
	add("ptrace-rseq-conf", kd->ptrace_get_rseq_conf, "dump of rseq registrations", note.rseq_conf);
	add("clone3-set-tid", kd->clone3_set_tid, "restore at original PIDs", note.clone3);
	add("prctl-mm-map", kd->prctl_mm_map, "restore of the mm layout: brk, stack, arg/env, auxv",
	    note.mm_map);
	add("prctl-mm-exe", kd->prctl_mm_exe, "restore of /proc/PID/exe (PR_SET_MM_MAP exe_fd)", note.mm_exe);
	add("memfd", kd->memfd, "dump: loading the parasite into the target", note.memfd);
	add("vmsplice", kd->vmsplice, "dump: moving pages out of the target without copies", note.vmsplice);
	add("kcmp", kd->kcmp, "telling shared files, fs and mm apart", note.kcmp);
	add("pagemap-scan", kd->pagemap_scan, "fast page scanning; dirty tracking without soft-dirty",
	    note.pagemap_scan);
	add("userfaultfd", kd->uffd, "lazy restore, post-copy migration", note.uffd);
	add("uffd-wp-async", kd->uffd_wp_async, "pre-dump/live migration dirty tracking, with PAGEMAP_SCAN",
	    note.wp_async);
	add("soft-dirty", kd->soft_dirty, "pre-dump/live migration dirty tracking without PAGEMAP_SCAN",
	    soft_dirty_detail);
	add("dirty-tracking", kd->dirty_track != DIRTY_TRACK_NONE, "pre-dump/live migration dirty tracking",
	    dirty_detail);
	add("tcp-repair", kd->tcp_repair, "established TCP connections (--tcp-established)", note.tcp_repair);
	add("network-lock", netlock_probe(netlock_detail, sizeof(netlock_detail)),
	    "locking TCP connections while they are dumped and restored", netlock_detail);
	add("network-lock-netns", netlock_probe_netns(netlock_ns_detail, sizeof(netlock_ns_detail)),
	    "locking the connections of a tree in its own network namespace inside it", netlock_ns_detail);
	add("time-ns", kd->time_ns, "time namespaces: monotonic/boottime offsets", note.time_ns);
	add("rseq", kd->rseq, "restore of rseq registrations", note.rseq);
	add("timer-restore-ids", kd->timer_restore_ids, "restore of POSIX timers at their ids", note.timer_ids);
	add("seccomp-suspend", kd->seccomp_suspend, "dump and restore of tasks with seccomp filters or strict mode",
	    note.seccomp);
	add("pidfd-getfd", kd->pidfd_getfd, "dump of timerfds (moving an expired periodic one on)", note.getfd);
	add("vdso", kd->vdso_size != 0, "restore: this kernel's vDSO where the image had one", vdso_detail);
	add("task-size", kd->task_size != 0, "restore: checking that the image's mappings fit",
	    task_size_detail);

	nr_features += kerndat_arch_features(kd, features + nr_features,
					     (int)(sizeof(features) / sizeof(features[0])) - nr_features);
}

CR_EXPORT int cr_check(const struct cr_feature **out)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, build_table);
	if (out)
		*out = features;
	return nr_features;
}

/* Unit tests of the /proc parsers (lib/proc/parse.c): crafted text with the
 * awkward cases (parens and spaces in comm, deleted paths, VmFlags codes that
 * look alike, "unlimited"), malformed text rejected, and the live files of this
 * process agreeing with what the syscalls say. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include "log.h"
#include "proc/proc.h"

static int npass, nfail;
static char why[1024];

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

/* fields 4..52 of a stat line: ppid=100 pgid=200 sid=300, flags=0x400040,
 * start_code=0x1000 ... env_end=0x9000, exit_signal=17 */
static void make_stat(char *buf, size_t len, const char *comm, int nfields)
{
	int n = snprintf(buf, len, "4242 (%s) S", comm);

	for (int i = 4; i < 4 + nfields; i++) {
		unsigned long v = i;
		switch (i) {
		case 4: v = 100; break;
		case 5: v = 200; break;
		case 6: v = 300; break;
		case 9: v = 0x400040; break;
		case 26: v = 0x1000; break;
		case 27: v = 0x2000; break;
		case 28: v = 0x7ffd0000; break;
		case 38: v = 17; break;
		case 51: v = 0x9000; break;
		}
		n += snprintf(buf + n, len - n, i == 19 ? " -5" : " %lu", v);
	}
	snprintf(buf + n, len - n, "\n");
}

static int t_stat_crafted(void)
{
	char buf[2048];
	struct proc_stat st;

	make_stat(buf, sizeof(buf), "a) (b c", 49);
	CHECK(proc_parse_stat_buf(buf, &st) == 0, "parse failed");
	CHECK(!strcmp(st.comm, "a) (b c"), "comm \"%s\"", st.comm);
	CHECK(st.state == 'S' && st.ppid == 100 && st.pgid == 200 && st.sid == 300, "ids %d %d %d", st.ppid,
	      st.pgid, st.sid);
	CHECK(st.flags == 0x400040 && st.exit_signal == 17, "flags 0x%lx exit_signal %d", st.flags, st.exit_signal);
	CHECK(st.start_code == 0x1000 && st.end_code == 0x2000 && st.start_stack == 0x7ffd0000, "code/stack");
	CHECK(st.env_end == 0x9000, "env_end 0x%lx", (unsigned long)st.env_end);
	return 0;
}

static int t_stat_malformed(void)
{
	char buf[2048];
	struct proc_stat st;

	make_stat(buf, sizeof(buf), "x", 20);  /* a kernel before 3.5 or a cut-off read */
	CHECK(proc_parse_stat_buf(buf, &st) == -EINVAL, "short stat accepted");
	CHECK(proc_parse_stat_buf("4242 no-parens S 1 2 3", &st) == -EINVAL, "no parens accepted");
	CHECK(proc_parse_stat_buf("4242 (x)", &st) == -EINVAL, "no state accepted");
	return 0;
}

static int t_stat_live(void)
{
	struct proc_stat st;

	CHECK(proc_parse_stat(getpid(), &st) == 0, "%s", cr_last_error());
	CHECK(st.ppid == getppid() && st.pgid == getpgrp() && st.sid == getsid(0), "ids %d %d %d", st.ppid,
	      st.pgid, st.sid);
	CHECK(st.state == 'R', "state %c", st.state);
	CHECK(st.start_code <= (uint64_t)(uintptr_t)t_stat_live && (uint64_t)(uintptr_t)t_stat_live < st.end_code,
	      "this function is outside start_code..end_code");
	return 0;
}

static int t_status(void)
{
	static const char text[] = "Name:\tx\nUmask:\t0027\nState:\tS (sleeping)\nUid:\t1\t2\t3\t4\n"
				   "Gid:\t5\t6\t7\t8\nGroups:\t10 20 30 \nThreads:\t1\nSigPnd:\t0\nShdPnd:\t0\nSigBlk:\t0\n"
				   "CapInh:\t0\nCapPrm:\t1ff\nCapEff:\t1ff\nCapBnd:\t1ff\nTracerPid:\t0\n";
	struct proc_status st;

	CHECK(proc_parse_status_buf(text, &st) == 0, "parse failed");
	CHECK(st.uid[0] == 1 && st.uid[3] == 4 && st.gid[0] == 5 && st.gid[3] == 8, "uid/gid");
	CHECK(st.ngroups == 3 && st.groups[2] == 30, "groups: %u", st.ngroups);
	CHECK(st.umask == 027 && st.cap_eff == 0x1ff && st.threads == 1, "umask %o", st.umask);
	CHECK(proc_parse_status_buf("Name:\tx\nGid:\t1 1 1 1\n", &st) == -EINVAL, "status without Uid accepted");

	CHECK(proc_parse_status(getpid(), &st) == 0, "%s", cr_last_error());
	CHECK(st.uid[0] == getuid() && st.uid[1] == geteuid() && st.gid[0] == getgid(), "live uid/gid");
	mode_t m = umask(022);
	umask(m);
	CHECK(st.umask == (int)m, "live umask %o, want %o", st.umask, m);
	return 0;
}

/* NSpid: every level, outermost first; more levels than room: counted, not stored */
static int t_nspid(void)
{
	static const char text[] = "Name:\tx\nTgid:\t900\nNSpid:\t900\t12\t1\nNSsid:\t1\n";
	pid_t at[3] = { 0 }, own = 0, two[2] = { 0 };

	CHECK(proc_nspid_all(text, at, 3) == 3 && at[0] == 900 && at[1] == 12 && at[2] == 1, "levels %d %d %d",
	      at[0], at[1], at[2]);
	CHECK(proc_nspid(text, &own) == 3 && own == 1, "own %d", own);
	CHECK(proc_nspid_all(text, two, 2) == 3 && two[0] == 900 && two[1] == 12, "two of three");
	CHECK(proc_nspid_all("Name:\tx\n", at, 3) == 0, "no NSpid line");
	return 0;
}

static int t_smaps_crafted(void)
{
	static const char text[] =
		"00400000-00452000 r-xp 00001000 fe:00 1234    /usr/bin/prog with space\n"
		"Size:                328 kB\n"
		"VmFlags: rd ex mr mw me dw sd \n"
		"7f0000000000-7f0000100000 rw-s 00000000 00:05 77   /dev/shm/gone (deleted)\n"
		"VmFlags: rd wr sh mr mw me ms dd \n"
		"7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0\n"
		"Rss:                   8 kB\n"
		"VmFlags: rd wr mr mw me gd ac hg dc wf mg\n";
	struct proc_vma *v;
	int n;

	CHECK(proc_parse_smaps_buf(text, &v, &n) == 0, "parse failed");
	CHECK(n == 3, "%d areas", n);
	CHECK(v[0].start == 0x400000 && v[0].end == 0x452000 && v[0].pgoff == 0x1000, "range/offset");
	CHECK(v[0].prot == (PROT_READ | PROT_EXEC) && !v[0].shared && v[0].ino == 1234, "prot/ino");
	CHECK(v[0].dev_major == 0xfe && v[0].dev_minor == 0, "dev");
	CHECK(!strcmp(v[0].path, "/usr/bin/prog with space") && !v[0].deleted, "path \"%s\"", v[0].path);
	/* "sd" (soft-dirty) is not "dd", "dw" not "gd" */
	CHECK(!v[0].growsdown && !v[0].madv, "area 0: growsdown %d madv 0x%lx", v[0].growsdown,
	      (unsigned long)v[0].madv);
	CHECK(v[1].shared && v[1].deleted && !strcmp(v[1].path, "/dev/shm/gone"), "deleted path \"%s\"", v[1].path);
	CHECK(v[1].madv == 1ULL << MADV_DONTDUMP, "area 1: madv 0x%lx", (unsigned long)v[1].madv);
	CHECK(v[2].growsdown && !v[2].path[0], "area 2: growsdown/path");
	CHECK(v[2].madv == (1ULL << MADV_HUGEPAGE | 1ULL << MADV_DONTFORK | 1ULL << MADV_WIPEONFORK |
			    1ULL << MADV_MERGEABLE), "area 2: madv 0x%lx", (unsigned long)v[2].madv);
	free(v);
	CHECK(proc_parse_smaps_buf("00400000 r-xp 0 fe:00 1 /x\n", &v, &n) == 0 && n == 0,
	      "a line without a range was taken as an area");
	free(v);
	CHECK(proc_parse_smaps_buf("00400000-00300000 r-xp zz fe:00 1 /x\n", &v, &n) == -EINVAL,
	      "a malformed area line was accepted");
	return 0;
}

static int t_smaps_live(void)
{
	char *area = mmap(NULL, 1 << 20, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct proc_vma *v;
	int n, found = 0, vdso = 0;

	CHECK(area != MAP_FAILED && !madvise(area, 1 << 20, MADV_DONTDUMP), "mmap/madvise");
	CHECK(proc_parse_smaps(getpid(), &v, &n) == 0, "%s", cr_last_error());
	for (int i = 0; i < n; i++) {
		if (v[i].start == (uint64_t)(uintptr_t)area) {
			found = v[i].end - v[i].start == 1 << 20 && v[i].prot == PROT_READ &&
				v[i].madv == 1ULL << MADV_DONTDUMP && !v[i].path[0];
			if (v[i].path[0])
				printf("# anonymous area parsed with path \"%s\"\n", v[i].path);
		}
		vdso += !strcmp(v[i].path, "[vdso]");
	}
	free(v);
	munmap(area, 1 << 20);
	CHECK(found, "the test's own read-only, dontdump area was not parsed as such");
	CHECK(vdso == 1, "%d [vdso] areas", vdso);
	return 0;
}

static int t_limits(void)
{
	char text[4096] = "Limit                     Soft Limit           Hard Limit           Units     \n";
	struct proc_rlimit lim[PROC_NR_RLIMITS];
	struct rlimit rl;

	for (int i = 0; i < PROC_NR_RLIMITS; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text), "%-26s%-21s%-21s%-10s\n", "Max thing",
			 i == 3 ? "8388608" : "unlimited", i == 7 ? "1024" : "unlimited", "bytes");
	CHECK(proc_parse_limits_buf(text, lim) == 0, "parse failed");
	CHECK(lim[3].cur == 8388608 && lim[3].max == UINT64_MAX && lim[7].max == 1024, "values");
	text[strlen(text) / 2] = 0;
	CHECK(proc_parse_limits_buf(text, lim) == -EINVAL, "a cut-off limits file was accepted");

	CHECK(proc_parse_limits(getpid(), lim) == 0, "%s", cr_last_error());
	for (int r = 0; r < PROC_NR_RLIMITS; r++) {
		CHECK(getrlimit(r, &rl) == 0, "getrlimit %d", r);
		CHECK(lim[r].cur == (uint64_t)rl.rlim_cur && lim[r].max == (uint64_t)rl.rlim_max,
		      "limit %d: %lu/%lu, getrlimit says %lu/%lu", r, (unsigned long)lim[r].cur,
		      (unsigned long)lim[r].max, (unsigned long)rl.rlim_cur, (unsigned long)rl.rlim_max);
	}
	return 0;
}

static int t_fdinfo_threads(void)
{
	uint64_t pos;
	uint32_t flags;
	pid_t *tids;
	int fds[2];

	CHECK(pipe2(fds, O_NONBLOCK | O_CLOEXEC) == 0, "pipe2");
	CHECK(proc_parse_fdinfo(getpid(), fds[1], &pos, &flags) == 0, "%s", cr_last_error());
	CHECK(pos == 0 && (flags & O_NONBLOCK) && (flags & O_CLOEXEC) && (flags & O_ACCMODE) == O_WRONLY,
	      "fdinfo flags 0%o", flags);
	close(fds[0]);
	close(fds[1]);
	CHECK(proc_parse_fdinfo(getpid(), fds[1], &pos, &flags) < 0, "a closed fd was parsed");
	CHECK(proc_list_threads(getpid(), &tids) == 1 && tids[0] == getpid(), "thread list");
	free(tids);
	return 0;
}

int main(void)
{
	run("stat-crafted", t_stat_crafted);
	run("stat-malformed", t_stat_malformed);
	run("stat-live", t_stat_live);
	run("status", t_status);
	run("nspid", t_nspid);
	run("smaps-crafted", t_smaps_crafted);
	run("smaps-live", t_smaps_live);
	run("limits", t_limits);
	run("fdinfo-and-threads", t_fdinfo_threads);
	printf("%d passed, %d failed\n", npass, nfail);
	return nfail != 0;
}

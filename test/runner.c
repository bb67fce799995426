/* runner: checkpoint and restore one test program in each mode, then tell it
 * to check its state.
 *
 *   runner [--crtool PATH] [--keep] [--mode restore|leave-running|twice|predump|lazy]...
 *          [--expect-fail] [--timeout SEC] [--dump-arg ARG]... [--restore-arg ARG]... [--before-restore CMD] [-v] -- PROG [ARGS...]
 *
 * Modes (default: all three, in this order):
 *   restore        dump (the test is killed), restore -d, CHECK
 *   leave-running  dump --leave-running (the test keeps running), CHECK
 *   twice          dump, restore, dump, restore, CHECK
 *   predump        pre-dump, pre-dump (over the first), dump over the second
 *                  (only the pages written since), restore, CHECK
 *   lazy           dump, crtool lazy-pages, restore --lazy-pages (the test runs
 *                  while its memory is filled on fault), CHECK, the daemon must
 *                  then finish and exit 0
 * (predump and lazy are not among the default modes: run-all asks for them)
 *
 * The test's stdin is a pipe from the runner (pipe_in), its stdout and stderr a
 * pipe to the runner (pipe_out).  crtool restore gets the same pipe ends as its
 * fds 0, 1, 2, so the restored test is wired to the runner exactly as before.
 * The runner is a child subreaper: the restored process (a child of crtool,
 * which exits at once) is reparented to it and reaped by it.
 *
 * One line per case: "PASS name mode" or "FAIL name mode: reason" (followed,
 * on failure, by indented crtool stderr and test output); then, alone on the
 * last line, "N passed, N failed".  Exit status 1 if any case failed.
 *
 * --expect-fail: a case passes only if every crtool step succeeded and the
 * test then reported FAIL and exited 1 (the negative test: the runner notices
 * lost state).  A crtool failure still fails the case.
 *
 * --dump-arg ARG: pass ARG to every crtool dump (e.g. --tcp-established).
 * --restore-arg ARG: pass ARG to every crtool restore (e.g. --manage-cgroups=full).
 * --before-restore CMD: run CMD with sh before every restore, the test's pid in
 * $TEST_PID (e.g. to remove what the restore must make again); non-zero fails the case.
 *
 * PROG without a '/' is looked up next to the runner binary.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define OUT_MAX (256 * 1024)

static const char *crtool = "build/crtool";
static bool keep, expect_fail, verbose;
static int timeout_s = 120;      /* each crtool step */
static const int ready_s = 60;   /* test start to READY */
static const int check_s = 60;   /* CHECK to PASS/FAIL */
static const int exit_s = 20;    /* PASS/FAIL to exit, dump to death */

static char **prog_argv;
static const char *dump_args[4];
static int nr_dump_args;
static const char *restore_args[4];
static int nr_restore_args;
static const char *before_restore;   /* shell command run before each restore */
static char prog_path[PATH_MAX];
static char name[512];

/* State of one case. */
static struct {
	const char *mode;
	char work[PATH_MAX];
	int in_r, in_w, out_r, out_w;
	pid_t pid;            /* the test's pid (the same after every restore) */
	bool is_child;        /* pid is (still) a child we must reap */
	bool reaped;          /* we reaped it: its wait status is in reaped_status */
	int reaped_status;
	char out[OUT_MAX];    /* everything read from pipe_out */
	size_t out_len;
	size_t scan;          /* lines before this offset have been looked at */
	char reason[1024];
	char details[OUT_MAX];/* crtool stderr etc. shown on failure */
	size_t details_len;
} c;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

__attribute__((format(printf, 1, 2))) static bool failf(const char *fmt, ...)
{
	if (c.reason[0])
		return false; /* keep the first reason */
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c.reason, sizeof(c.reason), fmt, ap);
	va_end(ap);
	return false;
}

static void add_details(const char *title, const char *text, size_t len)
{
	size_t room = sizeof(c.details) - c.details_len - 1;
	int n = snprintf(c.details + c.details_len, room, "  --- %s\n", title);
	if (n < 0 || (size_t)n >= room)
		return;
	c.details_len += (size_t)n;
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
		room = sizeof(c.details) - c.details_len - 1;
		n = snprintf(c.details + c.details_len, room, "    %.*s\n", (int)l, p);
		if (n < 0 || (size_t)n >= room)
			return;
		c.details_len += (size_t)n;
		p += l + 1;
	}
}

static void add_file_details(const char *title, const char *path)
{
	static char buf[64 * 1024];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n > 0)
		add_details(title, buf, (size_t)n);
}

/* One line per thread of PID and of its descendants: state, wait channel and the
 * call it is in; what a hung crtool and its target were doing when it timed out. */
static void task_states(pid_t pid, char *buf, size_t size, size_t *len, int depth)
{
	char path[384], line[256], comm[32] = "", wchan[64] = "", sc[64] = "", kids[512] = "";
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	if (!d || depth > 8) {
		if (d)
			closedir(d);
		return;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		const char *names[] = { "comm", "wchan", "syscall", "children" };
		char *outs[] = { comm, wchan, sc, kids };
		size_t sizes[] = { sizeof(comm), sizeof(wchan), sizeof(sc), sizeof(kids) };
		for (int k = 0; k < 4; k++) {
			snprintf(path, sizeof(path), "/proc/%d/task/%s/%s", (int)pid, e->d_name, names[k]);
			int fd = open(path, O_RDONLY | O_CLOEXEC);
			ssize_t n = fd < 0 ? -1 : read(fd, outs[k], sizes[k] - 1);
			if (fd >= 0)
				close(fd);
			outs[k][n > 0 ? n : 0] = 0;
			outs[k][strcspn(outs[k], "\n")] = 0;
		}
		int n = snprintf(line, sizeof(line), "%*s%d/%s %s: wchan %s, syscall %s\n", depth * 2, "", (int)pid,
				 e->d_name, comm, wchan[0] ? wchan : "-", sc[0] ? sc : "-");
		if (n > 0 && *len + (size_t)n < size)
			*len += (size_t)snprintf(buf + *len, size - *len, "%s", line);
		char *save = NULL;
		for (char *k = strtok_r(kids, " ", &save); k; k = strtok_r(NULL, " ", &save))
			task_states(atoi(k), buf, size, len, depth + 1);
	}
	closedir(d);
}

static void reset_child_state(void)
{
	struct sigaction sa = { .sa_handler = SIG_DFL };
	for (int s = 1; s < NSIG; s++)
		sigaction(s, &sa, NULL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	syscall(SYS_close_range, 3U, ~0U, 0U);
}

/* ---- reading the test's output */

/* Read whatever pipe_out holds now (non-blocking). */
static void drain_out(void)
{
	for (;;) {
		if (c.out_len == sizeof(c.out) - 1) {
			/* keep the tail */
			memmove(c.out, c.out + sizeof(c.out) / 2, sizeof(c.out) / 2);
			c.out_len -= sizeof(c.out) / 2;
			c.scan = c.scan > sizeof(c.out) / 2 ? c.scan - sizeof(c.out) / 2 : 0;
		}
		ssize_t n = read(c.out_r, c.out + c.out_len, sizeof(c.out) - 1 - c.out_len);
		if (n <= 0)
			break;
		c.out_len += (size_t)n;
	}
	c.out[c.out_len] = 0;
}

enum line { L_NONE, L_READY, L_PASS, L_FAIL };

/* The next complete protocol line after c.scan. */
static enum line next_line(char *text, size_t len)
{
	while (c.scan < c.out_len) {
		char *p = c.out + c.scan, *nl = memchr(p, '\n', c.out_len - c.scan);
		if (!nl)
			return L_NONE;
		c.scan = (size_t)(nl + 1 - c.out);
		size_t l = (size_t)(nl - p);
		snprintf(text, len, "%.*s", (int)l, p);
		if (l == 5 && !memcmp(p, "READY", 5))
			return L_READY;
		if (l == 4 && !memcmp(p, "PASS", 4))
			return L_PASS;
		if (l >= 4 && !memcmp(p, "FAIL", 4))
			return L_FAIL;
	}
	return L_NONE;
}

/* Has the test (our child) exited?  Records the status. */
static bool test_exited(int *status)
{
	if (!c.is_child)
		return kill(c.pid, 0) && errno == ESRCH;
	pid_t r = waitpid(c.pid, status, WNOHANG | __WALL);
	if (r == c.pid) {
		/* kept: a caller waiting for a line may be the one that reaps it */
		c.is_child = false;
		c.reaped = true;
		c.reaped_status = *status;
		return true;
	}
	if (r < 0 && errno == ECHILD) {
		c.is_child = false;
		return kill(c.pid, 0) && errno == ESRCH;
	}
	return false;
}

static const char *status_str(int st)
{
	static char buf[64];
	if (WIFEXITED(st))
		snprintf(buf, sizeof(buf), "exited with status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, sizeof(buf), "killed by signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
	else
		snprintf(buf, sizeof(buf), "status 0x%x", st);
	return buf;
}

/* Wait for a protocol line; returns it (L_NONE on timeout or death). */
static enum line wait_line(int secs, const char *what, char *text, size_t len)
{
	double deadline = now() + secs;
	int st = 0;
	for (;;) {
		drain_out();
		enum line l = next_line(text, len);
		if (l != L_NONE)
			return l;
		if (test_exited(&st)) {
			drain_out();
			l = next_line(text, len);
			if (l != L_NONE)
				return l;
			failf("test %s while waiting for %s", status_str(st), what);
			return L_NONE;
		}
		double left = deadline - now();
		if (left <= 0) {
			failf("timeout (%d s) waiting for %s", secs, what);
			return L_NONE;
		}
		struct pollfd p = { .fd = c.out_r, .events = POLLIN };
		poll(&p, 1, left > 0.05 ? 50 : (int)(left * 1000) + 1);
	}
}

/* Wait until the test process is gone; *status valid if it was our child. */
static bool wait_test_exit(int secs, int *status, bool *have_status)
{
	double deadline = now() + secs;
	if (c.reaped) {
		*status = c.reaped_status;
		*have_status = true;
		return true;
	}
	*have_status = c.is_child;
	while (!test_exited(status)) {
		if (now() > deadline)
			return false;
		usleep(5000);
	}
	return true;
}

/* ---- running crtool */

/* Run crtool with argv; fds[0..2] for its stdin/out/err.  Returns its wait
 * status, or -1 if it timed out (it is killed) or could not start. */
static int run_crtool(char *const argv[], const int fds[3])
{
	pid_t p = fork();
	if (p < 0) {
		failf("fork: %s", strerror(errno));
		return -1;
	}
	if (p == 0) {
		for (int i = 0; i < 3; i++) {
			if (fds[i] == i) {
				fcntl(i, F_SETFD, 0);
				continue;
			}
			dup2(fds[i], i);
		}
		reset_child_state();
		execv(argv[0], argv);
		dprintf(2, "Error: runner: cannot execute %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	double deadline = now() + timeout_s;
	int st;
	for (;;) {
		pid_t r = waitpid(p, &st, WNOHANG);
		if (r == p)
			break;
		if (now() > deadline) {
			static char states[8192];
			size_t len = 0;
			task_states(p, states, sizeof(states), &len, 0);
			task_states(c.pid, states, sizeof(states), &len, 0);
			add_details("crtool and the test at the timeout", states, len);
			kill(p, SIGKILL);
			waitpid(p, &st, 0);
			failf("%s %s: timeout after %d s", argv[0], argv[1], timeout_s);
			return -1;
		}
		drain_out(); /* crtool restore writes to pipe_out too */
		usleep(2000);
	}
	if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
		failf("cannot execute %s", argv[0]);
	return st;
}

/* The images dir of an earlier pre-dump the next dump builds on ("" for none). */
static char prev_dir[PATH_MAX + 16];

static bool crtool_dump(int round, bool leave_running)
{
	char dir[PATH_MAX + 16], err[PATH_MAX + 16], pid[32];
	snprintf(dir, sizeof(dir), "%s/img%d", c.work, round);
	snprintf(err, sizeof(err), "%s/dump%d.err", c.work, round);
	snprintf(pid, sizeof(pid), "%d", (int)c.pid);
	if (mkdir(dir, 0700))
		return failf("mkdir %s: %s", dir, strerror(errno));
	int efd = open(err, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int nfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (efd < 0 || nfd < 0)
		return failf("open %s: %s", err, strerror(errno));
	char *argv[16];
	int n = 0;
	argv[n++] = (char *)crtool;
	argv[n++] = "dump";
	argv[n++] = "-t";
	argv[n++] = pid;
	argv[n++] = "-D";
	argv[n++] = dir;
	if (leave_running)
		argv[n++] = "--leave-running";
	if (prev_dir[0]) {
		argv[n++] = "--prev-images-dir";
		argv[n++] = prev_dir;
	}
	if (verbose)
		argv[n++] = "-v";
	for (int k = 0; k < nr_dump_args; k++)
		argv[n++] = (char *)dump_args[k];
	argv[n] = NULL;
	int fds[3] = { nfd, efd, efd };
	double t0 = now();
	int st = run_crtool(argv, fds);
	close(efd);
	close(nfd);
	if (verbose)
		printf("  (dump %d took %.3f s)\n", round, now() - t0);
	char title[64];
	snprintf(title, sizeof(title), "crtool dump (round %d) output", round);
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st)) {
		add_file_details(title, err);
		if (st != -1)
			failf("crtool dump (round %d) %s", round, status_str(st));
		return false;
	}
	if (verbose)
		add_file_details(title, err);
	/* The images a dump of one process must have written. */
	static const char *const images[] = { "inventory.img", "pstree.img", "core-%d.img",
					      "mm-%d.img", "pagemap-%d.img", "fdinfo-%d.img",
					      "fs-%d.img", "pages-%d.img" };
	for (size_t i = 0; i < sizeof(images) / sizeof(images[0]); i++) {
		char img[64], path[PATH_MAX + 80];
		snprintf(img, sizeof(img), images[i], (int)c.pid);
		snprintf(path, sizeof(path), "%s/%s", dir, img);
		struct stat st;
		if (stat(path, &st))
			return failf("crtool dump (round %d) exited 0 but wrote no %s", round, img);
		if (st.st_size < 8)
			return failf("crtool dump (round %d) wrote %s of %lld bytes", round, img,
				     (long long)st.st_size);
	}
	return true;
}

/* Lazy mode: the lazy-pages daemon serving the restore, and its stderr. */
static pid_t lazy_pid = -1;
static bool restore_lazy;

static bool crtool_lazy_start(int round)
{
	char dir[PATH_MAX + 16], err[PATH_MAX + 16], line[256] = "";
	int p[2];
	snprintf(dir, sizeof(dir), "%s/img%d", c.work, round);
	snprintf(err, sizeof(err), "%s/lazy.err", c.work);
	if (pipe2(p, O_CLOEXEC))
		return failf("pipe: %s", strerror(errno));
	lazy_pid = fork();
	if (lazy_pid == 0) {
		int efd = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(p[1], 1);
		dup2(efd >= 0 ? efd : p[1], 2);
		execl(crtool, crtool, "lazy-pages", "-D", dir, "-v", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	if (lazy_pid < 0) {
		close(p[0]);
		return failf("fork: %s", strerror(errno));
	}
	/* "lazy-pages: listening" once it serves */
	struct pollfd pfd = { .fd = p[0], .events = POLLIN };
	size_t len = 0;
	double t0 = now();
	while (!strstr(line, "listening") && now() - t0 < timeout_s && len < sizeof(line) - 1) {
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		ssize_t n = read(p[0], line + len, sizeof(line) - 1 - len);
		if (n <= 0)
			break;
		len += n;
		line[len] = 0;
	}
	close(p[0]);
	if (!strstr(line, "listening")) {
		add_file_details("crtool lazy-pages output", err);
		return failf("crtool lazy-pages did not start serving");
	}
	restore_lazy = true;
	return true;
}

/* The daemon finishes once every page is in: within the timeout, with status 0. */
static bool crtool_lazy_finish(void)
{
	char err[PATH_MAX + 16];
	int st = 0;
	double t0 = now();
	snprintf(err, sizeof(err), "%s/lazy.err", c.work);
	while (waitpid(lazy_pid, &st, WNOHANG) == 0) {
		if (now() - t0 > timeout_s) {
			add_file_details("crtool lazy-pages output", err);
			return failf("crtool lazy-pages still running %d s after the check", timeout_s);
		}
		usleep(10000);
	}
	lazy_pid = -1;
	if (verbose)
		add_file_details("crtool lazy-pages output", err);
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		add_file_details("crtool lazy-pages output", err);
		return failf("crtool lazy-pages %s", status_str(st));
	}
	return true;
}

static bool crtool_restore(int round)
{
	char dir[PATH_MAX + 16], pidf[PATH_MAX + 16];
	if (before_restore) {
		char env[32];
		snprintf(env, sizeof(env), "%d", (int)c.pid);
		setenv("TEST_PID", env, 1);
		int st = system(before_restore);
		if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st))
			return failf("--before-restore command (round %d) %s", round, st == -1 ? "could not run" : status_str(st));
	}
	snprintf(dir, sizeof(dir), "%s/img%d", c.work, round);
	snprintf(pidf, sizeof(pidf), "%s/restore%d.pid", c.work, round);
	char *argv[16] = { (char *)crtool, "restore", "-D", dir, "-d", "--pidfile", pidf };
	int na = 7;
	if (restore_lazy)
		argv[na++] = "--lazy-pages";
	for (int k = 0; k < nr_restore_args; k++)
		argv[na++] = (char *)restore_args[k];
	argv[na] = NULL;
	int fds[3] = { c.in_r, c.out_w, c.out_w };
	double t0 = now();
	int st = run_crtool(argv, fds);
	if (verbose)
		printf("  (restore %d took %.3f s)\n", round, now() - t0);
	drain_out();
	if (st == -1)
		return false;
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		return failf("crtool restore (round %d) %s", round, status_str(st));
	char buf[64] = "";
	int fd = open(pidf, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return failf("restore (round %d): no pidfile %s: %s", round, pidf, strerror(errno));
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	char *end;
	long p = strtol(buf, &end, 10);
	if (end == buf || (*end && *end != '\n'))
		return failf("restore (round %d): pidfile holds '%s'", round, buf);
	if (p != c.pid)
		return failf("restored as pid %ld, not the original pid %d", p, (int)c.pid);
	if (kill(c.pid, 0))
		return failf("restored pid %d does not exist: %s", (int)c.pid, strerror(errno));
	/* crtool has exited, so the restored process is now our child. */
	c.is_child = true;
	c.reaped = false;
	int dummy = 0;
	pid_t r = waitpid(c.pid, &dummy, WNOHANG | __WALL);
	if (r < 0 && errno == ECHILD) {
		c.is_child = false;
		return failf("restored pid %d is not a child of the runner (a subreaper)", (int)c.pid);
	}
	if (r == c.pid) { /* it died at once */
		c.is_child = false;
		return failf("restored process %s right away", status_str(dummy));
	}
	return true;
}

/* After a dump without --leave-running the test must be gone. */
static bool check_killed(int round)
{
	int st = 0;
	bool have;
	if (!wait_test_exit(exit_s, &st, &have))
		return failf("test still running %d s after dump (round %d) without --leave-running",
			     exit_s, round);
	if (have && !WIFSIGNALED(st))
		return failf("test %s during dump (round %d)", status_str(st), round);
	/* The rest of a killed tree was reparented to us (a subreaper): reap it all, so
	 * that its PIDs are free for the restore. */
	for (int i = 0; i < 500; i++) {
		pid_t r = waitpid(-1, NULL, __WALL | WNOHANG);
		if (r < 0 && errno == ECHILD)
			break;
		if (r == 0)
			usleep(10000);
	}
	return true;
}

static bool check_still_running(void)
{
	int st;
	if (test_exited(&st))
		return failf("test %s after dump --leave-running", status_str(st));
	char path[64], buf[4096];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)c.pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return failf("open %s: %s", path, strerror(errno));
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	char *s = strstr(buf, "\nState:\t"), *t = strstr(buf, "\nTracerPid:\t");
	if (s && (s[8] == 't' || s[8] == 'T'))
		return failf("test left stopped after dump --leave-running (State: %c)", s[8]);
	if (t && atoi(t + 12) != 0)
		return failf("test still traced after dump --leave-running (TracerPid: %d)", atoi(t + 12));
	return true;
}

/* CHECK, then the verdict and the exit status. */
static bool check_test(void)
{
	if (write(c.in_w, "CHECK\n", 6) != 6)
		return failf("writing CHECK to the test: %s", strerror(errno));
	char text[1024];
	enum line l;
	while ((l = wait_line(check_s, "PASS/FAIL", text, sizeof(text))) == L_READY)
		;
	if (l == L_NONE)
		return false;
	int st = 0;
	bool have;
	if (!wait_test_exit(exit_s, &st, &have))
		return failf("test did not exit %d s after '%s'", exit_s, text);
	if (expect_fail) {
		if (l == L_PASS)
			return failf("expected the test to fail, but it passed");
		if (have && !(WIFEXITED(st) && WEXITSTATUS(st) == 1))
			return failf("test said '%s' but %s (expected exit status 1)", text, status_str(st));
		return true;
	}
	if (l == L_FAIL)
		return failf("%s", text);
	if (!have)
		return failf("cannot learn the exit status of the restored test (not our child)");
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		return failf("test said PASS but %s", status_str(st));
	return true;
}

/* ---- setting up and tearing down a case */

static bool start_test(void)
{
	int in[2], out[2];
	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC))
		return failf("pipe: %s", strerror(errno));
	c.in_r = in[0];
	c.in_w = in[1];
	c.out_r = out[0];
	c.out_w = out[1];
	fcntl(c.out_r, F_SETFL, O_NONBLOCK); /* the runner's own description only */
	pid_t p = fork();
	if (p < 0)
		return failf("fork: %s", strerror(errno));
	if (p == 0) {
		setsid();
		dup2(c.in_r, 0);
		dup2(c.out_w, 1);
		dup2(c.out_w, 2);
		reset_child_state();
		execv(prog_path, prog_argv);
		dprintf(1, "FAIL: runner: cannot execute %s: %s\n", prog_path, strerror(errno));
		_exit(127);
	}
	c.pid = p;
	c.is_child = true;
	c.reaped = false;
	char text[1024];
	enum line l = wait_line(ready_s, "READY", text, sizeof(text));
	if (l == L_READY)
		return true;
	if (l == L_FAIL)
		return failf("before READY: %s", text);
	if (l == L_PASS)
		return failf("test said PASS before READY");
	return false;
}

/* All pids whose parent is in `parents`. */
static int children_of(const pid_t *parents, int np, pid_t *out, int max)
{
	DIR *d = opendir("/proc");
	int n = 0;
	if (!d)
		return 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < max) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		char path[300], buf[512];
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len <= 0)
			continue;
		buf[len] = 0;
		char *rp = strrchr(buf, ')');
		int ppid;
		char state;
		if (!rp || sscanf(rp + 1, " %c %d", &state, &ppid) != 2)
			continue;
		for (int i = 0; i < np; i++)
			if (ppid == parents[i]) {
				out[n++] = atoi(e->d_name);
				break;
			}
	}
	closedir(d);
	return n;
}

/* The session id of pid, or -1. */
static pid_t session_of(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return -1;
	buf[len] = 0;
	char *rp = strrchr(buf, ')');
	char state;
	int ppid, pgrp, sid;
	if (!rp || sscanf(rp + 1, " %c %d %d %d", &state, &ppid, &pgrp, &sid) != 4)
		return -1;
	return state == 'Z' ? -1 : sid;
}

/* Kill everything below the runner (test, restored test, stray crtool). */
static void kill_descendants(void)
{
	for (int round = 0; round < 50; round++) {
		pid_t set[1024];
		int n = 1, done = 0;
		set[0] = getpid();
		while (done < n) { /* breadth-first over the tree */
			int k = children_of(set + done, n - done, set + n, 1024 - n);
			done = n;
			n += k;
			if (!k)
				break;
		}
		if (c.pid > 0 && n < 1024 && session_of(c.pid) == c.pid) {
			int k;
			for (k = 1; k < n && set[k] != c.pid; k++)
				;
			if (k == n) /* restored, but not reparented to us */
				set[n++] = c.pid;
		}
		if (n == 1)
			break;
		for (int i = 1; i < n; i++)
			kill(set[i], SIGKILL);
		usleep(2000);
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
	}
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

static void rm_rf(const char *path)
{
	struct stat st;
	if (lstat(path, &st))
		return;
	if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(path);
		if (d) {
			struct dirent *e;
			while ((e = readdir(d))) {
				if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
					continue;
				char sub[PATH_MAX];
				snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
				rm_rf(sub);
			}
			closedir(d);
		}
		rmdir(path);
	} else {
		unlink(path);
	}
}

/* Temp files a killed test could not remove: /tmp/libcr-tst-PID-* */
static void rm_test_tmp(void)
{
	if (c.pid <= 0)
		return;
	char prefix[64];
	int pl = snprintf(prefix, sizeof(prefix), "libcr-tst-%d-", (int)c.pid);
	DIR *d = opendir("/tmp");
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, prefix, (size_t)pl)) {
			char p[PATH_MAX];
			snprintf(p, sizeof(p), "/tmp/%s", e->d_name);
			rm_rf(p);
		}
	closedir(d);
}

static bool check_still_running(void);

/* One pre-dump round into img-preN, over the previous one; the test runs on. */
static bool crtool_pre_dump(int n)
{
	char dir[PATH_MAX + 16], err[PATH_MAX + 16], pid[32], title[64];
	snprintf(dir, sizeof(dir), "%s/img-pre%d", c.work, n);
	snprintf(err, sizeof(err), "%s/pre-dump%d.err", c.work, n);
	snprintf(pid, sizeof(pid), "%d", (int)c.pid);
	if (mkdir(dir, 0700))
		return failf("mkdir %s: %s", dir, strerror(errno));
	int efd = open(err, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int nfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (efd < 0 || nfd < 0)
		return failf("open %s: %s", err, strerror(errno));
	char *argv[12];
	int k = 0;
	argv[k++] = (char *)crtool;
	argv[k++] = "pre-dump";
	argv[k++] = "-t";
	argv[k++] = pid;
	argv[k++] = "-D";
	argv[k++] = dir;
	if (prev_dir[0]) {
		argv[k++] = "--prev-images-dir";
		argv[k++] = prev_dir;
	}
	argv[k] = NULL;
	int fds[3] = { nfd, efd, efd };
	int st = run_crtool(argv, fds);
	close(efd);
	close(nfd);
	snprintf(title, sizeof(title), "crtool pre-dump (round %d) output", n);
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st)) {
		add_file_details(title, err);
		if (st != -1)
			failf("crtool pre-dump (round %d) %s", n, status_str(st));
		return false;
	}
	snprintf(prev_dir, sizeof(prev_dir), "%s", dir);
	return check_still_running();
}

static bool run_mode(const char *mode)
{
	prev_dir[0] = 0;
	restore_lazy = false;
	if (!start_test())
		return false;
	if (!strcmp(mode, "restore")) {
		return crtool_dump(1, false) && check_killed(1) && crtool_restore(1) && check_test();
	} else if (!strcmp(mode, "leave-running")) {
		return crtool_dump(1, true) && check_still_running() && check_test();
	} else if (!strcmp(mode, "lazy")) {
		return crtool_dump(1, false) && check_killed(1) && crtool_lazy_start(1) && crtool_restore(1) &&
		       check_test() && crtool_lazy_finish();
	} else if (!strcmp(mode, "predump")) {
		return crtool_pre_dump(1) && crtool_pre_dump(2) && crtool_dump(1, false) && check_killed(1) &&
		       crtool_restore(1) && check_test();
	} else { /* twice */
		return crtool_dump(1, false) && check_killed(1) && crtool_restore(1) &&
		       crtool_dump(2, false) && check_killed(2) && crtool_restore(2) && check_test();
	}
}

static bool run_case(const char *mode)
{
	memset(&c, 0, sizeof(c));
	c.mode = mode;
	c.in_r = c.in_w = c.out_r = c.out_w = -1;
	snprintf(c.work, sizeof(c.work), "/tmp/libcr-run-XXXXXX");
	bool ok;
	if (!mkdtemp(c.work))
		ok = failf("mkdtemp: %s", strerror(errno));
	else
		ok = run_mode(mode);
	if (ok && c.reason[0])
		ok = false;
	kill_descendants();
	if (lazy_pid > 0) {
		kill(lazy_pid, SIGKILL);
		waitpid(lazy_pid, NULL, 0);
		lazy_pid = -1;
	}
	if (c.out_r >= 0) {
		drain_out();
		close(c.out_r);
	}
	int fds[] = { c.in_r, c.in_w, c.out_w };
	for (int i = 0; i < 3; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	rm_test_tmp();
	if (ok) {
		printf("PASS %s %s\n", name, mode);
		if (verbose && c.details_len)
			fputs(c.details, stdout);
	} else {
		printf("FAIL %s %s: %s\n", name, mode, c.reason[0] ? c.reason : "unknown");
		if (c.out_len)
			add_details("test output (and crtool restore stderr)", c.out, c.out_len);
		fputs(c.details, stdout);
		if (keep)
			printf("  --- images and logs kept in %s\n", c.work);
	}
	if (!keep)
		rm_rf(c.work);
	fflush(stdout);
	return ok;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: runner [--crtool PATH] [--keep] [--mode restore|leave-running|twice|predump|lazy]...\n"
		"              [--expect-fail] [--timeout SEC] [--dump-arg ARG]... [--restore-arg ARG]... [--before-restore CMD] [-v] -- PROG [ARGS...]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *modes[8];
	int nmodes = 0, i;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--")) {
			i++;
			break;
		} else if (!strcmp(a, "--crtool") && i + 1 < argc) {
			crtool = argv[++i];
		} else if (!strcmp(a, "--keep")) {
			keep = true;
		} else if (!strcmp(a, "--expect-fail")) {
			expect_fail = true;
		} else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			verbose = true;
		} else if (!strcmp(a, "--dump-arg") && i + 1 < argc && nr_dump_args < 4) {
			dump_args[nr_dump_args++] = argv[++i];
		} else if (!strcmp(a, "--restore-arg") && i + 1 < argc && nr_restore_args < 4) {
			restore_args[nr_restore_args++] = argv[++i];
		} else if (!strcmp(a, "--before-restore") && i + 1 < argc) {
			before_restore = argv[++i];
		} else if (!strcmp(a, "--timeout") && i + 1 < argc) {
			timeout_s = atoi(argv[++i]);
			if (timeout_s <= 0)
				usage();
		} else if (!strcmp(a, "--mode") && i + 1 < argc) {
			char *list = strdup(argv[++i]);
			for (char *m = strtok(list, ","); m; m = strtok(NULL, ",")) {
				if (strcmp(m, "restore") && strcmp(m, "leave-running") && strcmp(m, "twice") &&
				    strcmp(m, "predump") && strcmp(m, "lazy")) {
					fprintf(stderr, "runner: unknown mode '%s'\n", m);
					usage();
				}
				if (nmodes < 8)
					modes[nmodes++] = m;
			}
		} else {
			usage();
		}
	}
	if (i >= argc)
		usage();
	prog_argv = argv + i;
	if (!nmodes) {
		modes[nmodes++] = "restore";
		modes[nmodes++] = "leave-running";
		modes[nmodes++] = "twice";
	}
	if (strchr(prog_argv[0], '/')) {
		snprintf(prog_path, sizeof(prog_path), "%s", prog_argv[0]);
	} else {
		char self[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		self[n > 0 ? n : 0] = 0;
		char *slash = strrchr(self, '/');
		if (slash)
			slash[1] = 0;
		snprintf(prog_path, sizeof(prog_path), "%s%s", slash ? self : "./", prog_argv[0]);
	}
	if (access(prog_path, X_OK)) {
		fprintf(stderr, "runner: %s: %s\n", prog_path, strerror(errno));
		return 2;
	}
	if (strchr(crtool, '/') == NULL) {
		fprintf(stderr, "runner: --crtool needs a path (got '%s')\n", crtool);
		return 2;
	}
	/* name: the program and its arguments */
	const char *base = strrchr(prog_argv[0], '/');
	size_t nl = (size_t)snprintf(name, sizeof(name), "%s", base ? base + 1 : prog_argv[0]);
	for (int k = 1; prog_argv[k] && nl < sizeof(name); k++)
		nl += (size_t)snprintf(name + nl, sizeof(name) - nl, " %s", prog_argv[k]);

	signal(SIGPIPE, SIG_IGN);
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) {
		fprintf(stderr, "runner: PR_SET_CHILD_SUBREAPER: %s\n", strerror(errno));
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	int passed = 0, failed = 0;
	for (int m = 0; m < nmodes; m++) {
		if (run_case(modes[m]))
			passed++;
		else
			failed++;
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}

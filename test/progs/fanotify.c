/* fanotify: groups with their flags and marks.
 *
 * In a directory D of its own, with a file f, a file p and (when mounting is
 * permitted) a tmpfs at D/m:
 *   fd 20  FAN_CLASS_NOTIF|FAN_NONBLOCK|FAN_CLOEXEC, event flags O_RDONLY|O_LARGEFILE:
 *          f: FAN_MODIFY|FAN_CLOSE_WRITE, ignored mask FAN_OPEN (IGNORED_SURV_MODIFY);
 *          D: FAN_CLOSE_WRITE|FAN_EVENT_ON_CHILD; the mount D/m: FAN_OPEN
 *   fd 21  FAN_CLASS_NOTIF|FAN_REPORT_FID|FAN_NONBLOCK: the file system of D/m: FAN_CREATE|FAN_ONDIR;
 *          the directory D/m/sub: ignore FAN_CREATE (FAN_MARK_IGNORE_SURV)
 *   fd 22  FAN_CLASS_CONTENT (blocking), event flags O_RDWR: p: FAN_OPEN_PERM
 * The queues are empty at the dump (queued events are not saved).
 * After CHECK: the "fanotify" lines of fdinfo are as they were (flags, event
 * flags, every mark with its masks, inode and file handle); the file flags too;
 * nothing is queued; writing f gives FAN_MODIFY and FAN_CLOSE_WRITE on f; creating
 * D/m/x gives FAN_OPEN on it (the mount mark) on fd 20 and FAN_CREATE on fd 21,
 * creating D/m/sub/y nothing on fd 21 (ignored);
 * a child opening p waits until fd 22's FAN_OPEN_PERM event is answered.
 * --corrupt: the mark on f is removed after CHECK.
 */
#include "tst.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char mnt[256];
static int mounted;

#define FAIL(...) (mounted ? umount2(mnt, MNT_DETACH) : 0, tst_fail(__VA_ARGS__))

static int cmp_line(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The "fanotify" lines of fd's fdinfo, sorted (the kernel lists marks newest first). */
static void marks(int fd, char *out, size_t len)
{
	char path[64], buf[8192], *lines[64];
	int nr = 0;
	size_t n = 0;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	tst_read_file(path, buf, sizeof(buf));
	for (char *l = strstr(buf, "fanotify "); l && nr < 64; l = strstr(l + 1, "\nfanotify ")) {
		if (*l == '\n')
			l++;
		lines[nr++] = l;
	}
	for (char *s = buf; (s = strchr(s, '\n')); s++)
		*s = 0;
	qsort(lines, nr, sizeof(*lines), cmp_line);
	out[0] = 0;
	for (int i = 0; i < nr; i++)
		n += snprintf(out + n, n < len ? len - n : 0, "%s\n", lines[i]);
}

static void mark(int fd, unsigned flags, uint64_t mask, const char *path)
{
	if (fanotify_mark(fd, FAN_MARK_ADD | flags, mask, AT_FDCWD, path))
		FAIL("fanotify_mark %s %#llx: %s", path, (unsigned long long)mask, strerror(errno));
}

/* The union of the event masks of fd 20's queue on path (event fds closed). */
static uint64_t events_on(int fd, const char *path, int *others)
{
	static char buf[16384];
	uint64_t mask = 0;
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		struct fanotify_event_metadata *m = (void *)buf;
		for (; FAN_EVENT_OK(m, n); m = FAN_EVENT_NEXT(m, n)) {
			char l[64], p[512] = "";
			snprintf(l, sizeof(l), "/proc/self/fd/%d", m->fd);
			if (m->fd >= 0 && readlink(l, p, sizeof(p) - 1) < 0)
				p[0] = 0;
			if (!strcmp(p, path))
				mask |= m->mask;
			else
				++*others, tst_info("event %#llx on '%s'", (unsigned long long)m->mask, p);
			if (m->fd >= 0)
				close(m->fd);
		}
	}
	return mask;
}

/* fd 21 (FAN_REPORT_FID): the union of its events' masks, and how many. */
static uint64_t fid_events(int fd, int *nr)
{
	static char buf[4096];
	uint64_t mask = 0;
	ssize_t n;

	*nr = 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		struct fanotify_event_metadata *m = (void *)buf;
		for (; FAN_EVENT_OK(m, n); m = FAN_EVENT_NEXT(m, n)) {
			if (m->fd != FAN_NOFD)
				FAIL("a FAN_REPORT_FID event with an fd");
			mask |= m->mask;
			++*nr;
		}
	}
	return mask;
}

int main(int argc, char **argv)
{
	tst_init(argc, argv);
	const char *dir = tst_tmp_path("dir");
	char f[256], p[256], x[320], sub[320], y[320];
	snprintf(f, sizeof(f), "%s/f", dir);
	snprintf(p, sizeof(p), "%s/p", dir);
	snprintf(mnt, sizeof(mnt), "%s/m", dir);
	snprintf(x, sizeof(x), "%s/x", mnt);
	snprintf(sub, sizeof(sub), "%s/sub", mnt);
	snprintf(y, sizeof(y), "%s/sub/y", mnt);
	if (mkdir(dir, 0700) || mkdir(mnt, 0700) || close(open(f, O_CREAT | O_WRONLY, 0600)) ||
	    close(open(p, O_CREAT | O_WRONLY, 0600)))
		FAIL("setup: %s", strerror(errno));
	mounted = !mount("libcr-fanotify", mnt, "tmpfs", 0, "size=64k");
	if (!mounted)
		tst_info("no tmpfs at %s (%s): no mount and file system marks", mnt, strerror(errno));

	int a = fanotify_init(FAN_CLASS_NOTIF | FAN_NONBLOCK | FAN_CLOEXEC, O_RDONLY | O_LARGEFILE);
	int b = fanotify_init(FAN_CLASS_NOTIF | FAN_REPORT_FID | FAN_NONBLOCK, O_RDONLY);
	int c = fanotify_init(FAN_CLASS_CONTENT, O_RDWR);
	if (a < 0 || b < 0 || c < 0 || dup2(a, 20) != 20 || dup2(b, 21) != 21 || dup2(c, 22) != 22)
		FAIL("fanotify_init: %s", strerror(errno));
	close(a), close(b), close(c);
	/* dup2 leaves close-on-exec off: put it back as fanotify_init set it */
	fcntl(20, F_SETFD, FD_CLOEXEC);
	mark(20, 0, FAN_MODIFY | FAN_CLOSE_WRITE, f);
	mark(20, FAN_MARK_IGNORED_MASK | FAN_MARK_IGNORED_SURV_MODIFY, FAN_OPEN, f);
	mark(20, FAN_MARK_ONLYDIR, FAN_CLOSE_WRITE | FAN_EVENT_ON_CHILD, dir);
	if (mounted) {
		mark(20, FAN_MARK_MOUNT, FAN_OPEN, mnt);
		mark(21, FAN_MARK_FILESYSTEM, FAN_CREATE | FAN_ONDIR, mnt);
		if (mkdir(sub, 0700))
			FAIL("mkdir %s: %s", sub, strerror(errno));
		mark(21, FAN_MARK_IGNORE_SURV, FAN_CREATE, sub);
	}
	mark(22, 0, FAN_OPEN_PERM, p);
	int others = 0, nr;
	events_on(20, "\1", &others);   /* nothing should be queued; empty it anyway */
	fid_events(21, &nr);
	static char before[3][4096], after[4096];
	for (int i = 0; i < 3; i++)
		marks(20 + i, before[i], sizeof(before[i]));
	int fl[3] = { fcntl(20, F_GETFL), fcntl(21, F_GETFL), fcntl(22, F_GETFL) };
	int fdfl = fcntl(20, F_GETFD);

	tst_ready();
	tst_wait_check();

	if (tst_corrupting())
		fanotify_mark(20, FAN_MARK_REMOVE, FAN_MODIFY | FAN_CLOSE_WRITE, AT_FDCWD, f);
	for (int i = 0; i < 3; i++) {
		marks(20 + i, after, sizeof(after));
		if (strcmp(before[i], after))
			FAIL("fd %d: the fanotify lines are\n%s\nwere\n%s", 20 + i, after, before[i]);
		if (fcntl(20 + i, F_GETFL) != fl[i])
			FAIL("fd %d: flags %#o, were %#o", 20 + i, fcntl(20 + i, F_GETFL), fl[i]);
	}
	if (fcntl(20, F_GETFD) != fdfl)
		FAIL("fd 20: fd flags %d, were %d", fcntl(20, F_GETFD), fdfl);
	others = 0;
	if (events_on(20, "\1", &others), others)
		FAIL("%d events are queued on fd 20 that nobody caused", others);
	if (fid_events(21, &nr), nr)
		FAIL("%d events are queued on fd 21 that nobody caused", nr);

	int wf = open(f, O_WRONLY);
	if (wf < 0 || write(wf, "x", 1) != 1 || close(wf))
		FAIL("write %s: %s", f, strerror(errno));
	uint64_t got = events_on(20, f, &others);
	if (got != (FAN_MODIFY | FAN_CLOSE_WRITE) || others)
		FAIL("writing %s: events %#llx (and %d others), want FAN_MODIFY|FAN_CLOSE_WRITE", f,
		     (unsigned long long)got, others);
	if (mounted) {
		int xf = open(x, O_CREAT | O_RDONLY, 0600);
		if (xf < 0)
			FAIL("create %s: %s", x, strerror(errno));
		close(xf);
		got = events_on(20, x, &others);
		if (got != FAN_OPEN || others)
			FAIL("creating %s: events %#llx (and %d others) on fd 20, want FAN_OPEN (mount mark)", x,
			     (unsigned long long)got, others);
		got = fid_events(21, &nr);
		if (got != FAN_CREATE || nr != 1)
			FAIL("creating %s: %d events %#llx on fd 21, want one FAN_CREATE (file system mark)", x, nr,
			     (unsigned long long)got);
		if ((xf = open(y, O_CREAT | O_RDONLY, 0600)) < 0)
			FAIL("create %s: %s", y, strerror(errno));
		close(xf);
		events_on(20, "\1", &others);
		if ((got = fid_events(21, &nr)) || nr)
			FAIL("creating %s: %d events %#llx on fd 21, want none (ignored in %s)", y, nr,
			     (unsigned long long)got, sub);
	}

	/* a permission event: the child's open waits for our answer */
	pid_t kid = fork();
	if (kid == 0) {
		int r = open(p, O_RDONLY);
		_exit(r < 0 ? 1 : 0);
	}
	static char buf[4096];
	ssize_t n = read(22, buf, sizeof(buf));
	struct fanotify_event_metadata *m = (void *)buf;
	if (n < (ssize_t)sizeof(*m) || m->mask != FAN_OPEN_PERM || m->pid != kid) {
		kill(kid, SIGKILL);
		FAIL("fd 22: read %zd: want FAN_OPEN_PERM of pid %d, got mask %#llx of pid %d", n, kid,
		     n > 0 ? (unsigned long long)m->mask : 0ULL, n > 0 ? m->pid : 0);
	}
	struct fanotify_response resp = { .fd = m->fd, .response = FAN_ALLOW };
	if (write(22, &resp, sizeof(resp)) != sizeof(resp))
		FAIL("answer the permission event: %s", strerror(errno));
	close(m->fd);
	int st;
	if (waitpid(kid, &st, 0) != kid || !WIFEXITED(st) || WEXITSTATUS(st))
		FAIL("the child's open of %s failed (status %#x)", p, st);
	if (mounted)
		umount2(mnt, MNT_DETACH);
	tst_pass();
}

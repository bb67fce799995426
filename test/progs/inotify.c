/* inotify: watches with their descriptors and masks.
 *
 * In a directory of its own: fd 20 (O_NONBLOCK) watches the directory
 * (IN_CREATE|IN_DELETE, wd 1), a watch on file "gone" is added and removed
 * (so wd 2 is a hole), then file "f" (IN_MODIFY|IN_CLOSE_WRITE, wd 3) and
 * /dev (IN_DELETE_SELF|IN_ONLYDIR|IN_EXCL_UNLINK, wd 4: another file system, flags
 * that are not events).  fd 21 is a second inotify with no watches.
 * The queue is emptied before the dump (queued events may be dropped).
 * After CHECK: the "inotify wd:" lines of fdinfo name the same wds and masks
 * (and inodes); creating "new" in the directory gives IN_CREATE on wd 1 with
 * that name; writing "f" gives IN_MODIFY then IN_CLOSE_WRITE on wd 3; nothing
 * else is queued; fd 21 has no watches; flags as they were.
 */
#include "tst.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

/* The watch lines of fdinfo without what restore can't keep: the file handle
 * bytes of a file of the same inode are the same, so keep everything. */
static void watches(int fd, char *out, size_t len)
{
	char path[64], buf[4096];
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	tst_read_file(path, buf, sizeof(buf));
	size_t n = 0;
	out[0] = 0;
	for (char *l = strstr(buf, "inotify wd:"); l; l = strstr(l + 1, "inotify wd:"))
		n += snprintf(out + n, n < len ? len - n : 0, "%.*s\n", (int)strcspn(l, "\n"), l);
}

/* Next event, with its name. */
static struct inotify_event *next_event(int fd, char *buf, size_t len, int *off, int *have)
{
	if (*off >= *have) {
		*have = read(fd, buf, len);
		*off = 0;
		if (*have <= 0)
			return NULL;
	}
	struct inotify_event *ev = (struct inotify_event *)(buf + *off);
	*off += sizeof(*ev) + ev->len;
	return ev;
}

int main(int argc, char **argv)
{
	tst_init(argc, argv);
	const char *dir = tst_tmp_path("dir");
	char f[256], gone[256], nw[256];
	snprintf(f, sizeof(f), "%s/f", dir);
	snprintf(gone, sizeof(gone), "%s/gone", dir);
	snprintf(nw, sizeof(nw), "%s/new", dir);
	if (mkdir(dir, 0700) || close(open(f, O_CREAT | O_WRONLY, 0600)) || close(open(gone, O_CREAT | O_WRONLY, 0600)))
		tst_fail("setup: %s", strerror(errno));
	int in = inotify_init1(IN_NONBLOCK), e = inotify_init();
	if (in < 0 || e < 0 || dup2(in, 20) != 20 || dup2(e, 21) != 21 || close(in) || close(e))
		tst_fail("inotify_init: %s", strerror(errno));
	int w1 = inotify_add_watch(20, dir, IN_CREATE | IN_DELETE);
	int w2 = inotify_add_watch(20, gone, IN_OPEN);
	inotify_rm_watch(20, w2);
	int w3 = inotify_add_watch(20, f, IN_MODIFY | IN_CLOSE_WRITE);
	int w4 = inotify_add_watch(20, "/dev", IN_DELETE_SELF | IN_ONLYDIR | IN_EXCL_UNLINK);
	if (w1 != 1 || w2 != 2 || w3 != 3 || w4 != 4)
		tst_fail("watch descriptors %d %d %d %d, expected 1 2 3 4", w1, w2, w3, w4);
	static char buf[8192], before[2048], after[2048];
	while (read(20, buf, sizeof(buf)) > 0) /* the IN_IGNORED of wd 2 */
		;
	watches(20, before, sizeof(before));
	int fl[2] = { fcntl(20, F_GETFL), fcntl(21, F_GETFL) };

	tst_ready();
	tst_wait_check();

	if (tst_corrupting())
		inotify_rm_watch(20, w3);
	watches(20, after, sizeof(after));
	if (strcmp(before, after))
		tst_fail("the watches are\n%s\nwere\n%s", after, before);
	watches(21, after, sizeof(after));
	if (after[0])
		tst_fail("fd 21 has watches: %s", after);
	if (fcntl(20, F_GETFL) != fl[0] || fcntl(21, F_GETFL) != fl[1])
		tst_fail("flags %#o/%#o, were %#o/%#o", fcntl(20, F_GETFL), fcntl(21, F_GETFL), fl[0], fl[1]);
	if (read(20, buf, sizeof(buf)) != -1 || errno != EAGAIN)
		tst_fail("events are queued that nobody caused");
	if (close(open(nw, O_CREAT | O_WRONLY, 0600)))
		tst_fail("create %s: %s", nw, strerror(errno));
	int wf = open(f, O_WRONLY);
	if (wf < 0 || write(wf, "x", 1) != 1 || close(wf))
		tst_fail("write %s: %s", f, strerror(errno));
	int off = 0, have = 0;
	struct inotify_event *ev = next_event(20, buf, sizeof(buf), &off, &have);
	if (!ev || ev->wd != 1 || !(ev->mask & IN_CREATE) || strcmp(ev->name, "new"))
		tst_fail("first event: wd %d mask %#x name '%s', want wd 1 IN_CREATE 'new'", ev ? ev->wd : -1,
			 ev ? ev->mask : 0, ev && ev->len ? ev->name : "");
	ev = next_event(20, buf, sizeof(buf), &off, &have);
	if (!ev || ev->wd != 3 || ev->mask != IN_MODIFY)
		tst_fail("second event: wd %d mask %#x, want wd 3 IN_MODIFY", ev ? ev->wd : -1, ev ? ev->mask : 0);
	ev = next_event(20, buf, sizeof(buf), &off, &have);
	if (!ev || ev->wd != 3 || ev->mask != IN_CLOSE_WRITE)
		tst_fail("third event: wd %d mask %#x, want wd 3 IN_CLOSE_WRITE", ev ? ev->wd : -1, ev ? ev->mask : 0);
	if ((ev = next_event(20, buf, sizeof(buf), &off, &have)))
		tst_fail("an extra event: wd %d mask %#x", ev->wd, ev->mask);
	tst_pass();
}

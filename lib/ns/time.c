/* The tree's own time namespace: its monotonic and boottime offsets
 * (/proc/PID/timens_offsets).  Restore: the root unshares CLONE_NEWTIME, which
 * makes a namespace for its children, writes the offsets into it before any
 * task is in it, and enters it itself (setns on ns/time_for_children) before
 * its vDSO is placed.  The namespace's clocks as they were at the dump are
 * saved too: on a host whose clocks are behind (another machine, a reboot)
 * the offsets grow so that the tree never sees its clocks go back.  Time
 * namespaces nested below the root's (nested.c) are saved and made by the
 * same code, one timens-ID.img each. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "image/image.h"
#include "kerndat.h"
#include "log.h"
#include "ns/ns.h"
#include "ns/time.h"
#include "proc/tree.h"
#include "util.h"

#define NSEC 1000000000LL

static uint64_t clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return ts.tv_sec * NSEC + ts.tv_nsec;
}

/* The offsets of the namespace pid's children are born in (its time_for_children:
 * what /proc/PID/timens_offsets shows), and that namespace's clocks now. */
static int read_offsets(pid_t pid, TimensEntry *e)
{
	char *txt, *line;
	int found = 0;

	if (!(txt = read_proc(pid, "timens_offsets", NULL)))
		return pr_perror("can't read the time offsets of pid %d", pid);
	for (line = strtok(txt, "\n"); line; line = strtok(NULL, "\n")) {
		char name[32];
		long long sec;
		long nsec;
		if (sscanf(line, "%31s %lld %ld", name, &sec, &nsec) != 3)
			continue;
		if (!strcmp(name, "monotonic") || !strcmp(name, "1")) {
			e->monotonic_sec = sec;
			e->monotonic_nsec = nsec;
			found |= 1;
		} else if (!strcmp(name, "boottime") || !strcmp(name, "7")) {
			e->boottime_sec = sec;
			e->boottime_nsec = nsec;
			found |= 2;
		}
	}
	free(txt);
	if (found != 3)
		return pr_err("pid %d: can't parse its timens_offsets", pid), -EIO;
	e->monotonic_ns_at_dump = clock_ns(CLOCK_MONOTONIC) + e->monotonic_sec * NSEC + e->monotonic_nsec;
	e->boottime_ns_at_dump = clock_ns(CLOCK_BOOTTIME) + e->boottime_sec * NSEC + e->boottime_nsec;
	return 0;
}

int timens_dump(struct img_dir *dir, const struct tree *t)
{
	pid_t root = t->tasks[0].s.pid;
	uint64_t ns = 0, ours = 0, children = 0;
	TimensEntry e = TIMENS_ENTRY__INIT;
	int ret;

	/* no time namespaces on this kernel: everyone shares the one clock */
	if (access("/proc/self/ns/time", F_OK) && errno == ENOENT)
		return 0;
	if ((ret = ns_ino(getpid(), "time", &ours)) || (ret = ns_ino(root, "time", &ns)) ||
	    (ret = ns_ino(root, "time_for_children", &children)))
		return ret;
	if (ns == ours)
		return 0;   /* (a namespace it made for its children is a nested one: nested.c) */
	/* its own namespace's offsets show only through its time_for_children */
	if (children != ns)
		return pr_err("pid %d, the root of the tree, is in a time namespace of its own and made another for "
			      "its children (unshare CLONE_NEWTIME): the offsets of its own can't be read; dump "
			      "its parent or its children instead", root), -EOPNOTSUPP;
	if ((ret = read_offsets(root, &e)))
		return ret;
	pr_info("time namespace: monotonic %+lld.%09u s, boottime %+lld.%09u s", (long long)e.monotonic_sec,
		e.monotonic_nsec, (long long)e.boottime_sec, e.boottime_nsec);
	return img_write_one(dir, IMG_TIMENS, 0, &e.base);
}

int timens_dump_id(struct img_dir *dir, pid_t pid, uint32_t id)
{
	TimensEntry e = TIMENS_ENTRY__INIT;
	int ret = read_offsets(pid, &e);

	if (ret)
		return ret;
	pr_info("nested time namespace %u (through pid %d): monotonic %+lld.%09u s, boottime %+lld.%09u s", id, pid,
		(long long)e.monotonic_sec, e.monotonic_nsec, (long long)e.boottime_sec, e.boottime_nsec);
	return img_write_one(dir, IMG_TIMENS_N, id, &e.base);
}

static int load(struct img_dir *dir, enum img_kind kind, uint32_t id, TimensEntry **out)
{
	struct img *img;
	TimensEntry *e;
	char name[32];
	int ret;

	*out = NULL;
	snprintf(name, sizeof(name), id ? "timens-%u.img" : "timens.img", id);
	if (!kerndat_get()->time_ns)
		return pr_err("the tree had a time namespace of its own, and this kernel has none (crtool check: "
			      "time-ns)"), -EOPNOTSUPP;
	if (!(img = img_open(dir, kind, id)))
		return -ENOENT;
	ret = img_read_one(img, &timens_entry__descriptor, (ProtobufCMessage **)&e);
	img_close(img);
	if (ret < 0)
		return ret;
	/* the kernel takes offsets within +-(KTIME_MAX / 2) s; a sane bound below it */
	if (e->monotonic_nsec >= NSEC || e->boottime_nsec >= NSEC || llabs(e->monotonic_sec) > (1LL << 40) ||
	    llabs(e->boottime_sec) > (1LL << 40) || e->monotonic_ns_at_dump > (1ULL << 62) ||
	    e->boottime_ns_at_dump > (1ULL << 62)) {
		img_free_msg(&e->base);
		return pr_err("%s: bad offsets", name), -EINVAL;
	}
	*out = e;
	return 0;
}

int timens_load(struct img_dir *dir, TimensEntry **out)
{
	*out = NULL;
	if (faccessat(dir->dfd, "timens.img", F_OK, 0))
		return 0;
	return load(dir, IMG_TIMENS, 0, out);
}

int timens_load_id(struct img_dir *dir, uint32_t id, TimensEntry **out)
{
	return load(dir, IMG_TIMENS_N, id, out);
}

/* The saved offset, or more if the host's clock is behind where the namespace's was. */
static void offset_for(clockid_t c, int64_t sec, uint32_t nsec, uint64_t at_dump, long long *osec, long *onsec)
{
	int64_t off = sec * NSEC + nsec, need = (int64_t)at_dump - (int64_t)clock_ns(c);

	if (need > off)
		off = need;
	*osec = off / NSEC;
	*onsec = off % NSEC;
	if (*onsec < 0) {
		*onsec += NSEC;
		(*osec)--;
	}
}

int timens_make(const TimensEntry *e, bool enter)
{
	char buf[128];
	long long ms, bs;
	long mn, bn;
	int fd, ret;

	if (unshare(CLONE_NEWTIME))
		return pr_perror("can't create a time namespace (unshare CLONE_NEWTIME)");
	offset_for(CLOCK_MONOTONIC, e->monotonic_sec, e->monotonic_nsec, e->monotonic_ns_at_dump, &ms, &mn);
	offset_for(CLOCK_BOOTTIME, e->boottime_sec, e->boottime_nsec, e->boottime_ns_at_dump, &bs, &bn);
	snprintf(buf, sizeof(buf), "monotonic %lld %ld\nboottime %lld %ld\n", ms, mn, bs, bn);
	if (write_file("/proc/self/timens_offsets", buf))
		return pr_perror("can't set the time namespace's offsets (monotonic %lld.%09ld s, "
				 "boottime %lld.%09ld s)", ms, mn, bs, bn);
	if (!enter)
		return 0;
	if ((fd = open("/proc/self/ns/time_for_children", O_RDONLY | O_CLOEXEC)) < 0)
		return pr_perror("can't open the new time namespace");
	ret = setns(fd, CLONE_NEWTIME);
	close(fd);
	if (ret)
		return pr_perror("can't enter the new time namespace");
	return 0;
}

int timens_restore(const TimensEntry *e)
{
	return e ? timens_make(e, true) : 0;
}

/* timerfd: clock, armed value and interval, unread expirations.  The time left
 * is read at the dump; restore takes off the real time that passed since (the
 * timer runs on while the process is away) and counts the expirations missed
 * meanwhile as unread ticks (TFD_IOC_SET_TICKS). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include "files/files.h"
#include "log.h"
#include "util.h"

#ifndef TFD_IOC_SET_TICKS
#define TFD_IOC_SET_TICKS _IOW('T', 0, uint64_t)
#endif
#define NSEC 1000000000ULL

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec * NSEC + ts.tv_nsec;
}

static bool timerfd_match(const struct fd_dump_ctx *c)
{
	return !strcmp(c->link, "anon_inode:[timerfd]");
}

static int parse_pair(const char *text, const char *key, uint64_t *ns)
{
	const char *v = fdinfo_value(text, key);
	uint64_t sec, nsec;

	if (!v || sscanf(v, "(%" SCNu64 ", %" SCNu64 ")", &sec, &nsec) != 2 || nsec >= NSEC)
		return -EINVAL;
	*ns = sec * NSEC + nsec;
	return 0;
}

static int timerfd_dump(const struct fd_dump_ctx *c, FdinfoEntry *e)
{
	TimerfdEntry *t = malloc(sizeof(*t));
	struct itimerspec its;
	const char *clk, *ticks, *fl;
	char name[32], *info = NULL;
	int fd, ret = 0;

	if (!t)
		return -ENOMEM;
	timerfd_entry__init(t);
	e->timerfd = t;
	/* A periodic timer that went off is moved on only when read: until then fdinfo
	 * says 0 left.  timerfd_gettime() on the same file moves it on (the count of
	 * expirations the process will read stays the same), then fdinfo is exact. */
	if ((fd = files_getfd(c->pid, c->fd)) < 0)
		return fd;
	if (timerfd_gettime(fd, &its))
		ret = pr_perror("pid %d: timerfd_gettime on its fd %d", c->pid, c->fd);
	close(fd);
	snprintf(name, sizeof(name), "fdinfo/%d", c->fd);
	if (!ret && !(info = read_proc(c->pid, name, NULL)))
		ret = pr_perror("can't read /proc/%d/fdinfo/%d", c->pid, c->fd);
	t->dumped_at_ns = now_ns(CLOCK_REALTIME);
	if (ret)
		return ret;
	clk = fdinfo_value(info, "clockid:");
	ticks = fdinfo_value(info, "ticks:");
	fl = fdinfo_value(info, "settime flags:");
	if (!clk || !ticks || !fl || sscanf(clk, "%d", &t->clockid) != 1 || sscanf(ticks, "%" SCNu64, &t->ticks) != 1 ||
	    sscanf(fl, "%o", &t->settime_flags) != 1 || parse_pair(info, "it_value:", &t->value_ns) ||
	    parse_pair(info, "it_interval:", &t->interval_ns))
		ret = (pr_err("pid %d: can't parse timerfd %d's fdinfo", c->pid, c->fd), -EINVAL);
	free(info);
	return ret;
}

static struct timespec ts_of(uint64_t ns)
{
	return (struct timespec){ .tv_sec = ns / NSEC, .tv_nsec = ns % NSEC };
}

static int timerfd_restore(struct files_image *fi, const FdinfoEntry *e, bool *inherited)
{
	const TimerfdEntry *t = e->timerfd;
	uint64_t now = now_ns(CLOCK_REALTIME), gone = now > t->dumped_at_ns ? now - t->dumped_at_ns : 0;
	uint64_t left = t->value_ns, ticks = t->ticks;
	struct itimerspec its = { .it_interval = ts_of(t->interval_ns) };
	int fd, ret = 0;

	(void)fi;
	*inherited = false;
	if ((fd = timerfd_create(t->clockid, TFD_CLOEXEC)) < 0)
		return pr_perror("can't create the timerfd of fd %u (clock %d)", e->fd, t->clockid);
	if (left) {
		if (gone < left)
			left -= gone;
		else if (t->interval_ns) {
			/* it went off while away: once, then every interval since */
			uint64_t over = gone - left;
			ticks += 1 + over / t->interval_ns;
			left = t->interval_ns - over % t->interval_ns;
		} else {
			ticks++;
			left = 0;
		}
	}
	if (left) {
		its.it_value = ts_of(t->settime_flags & TFD_TIMER_ABSTIME ? now_ns(t->clockid) + left : left);
		if (timerfd_settime(fd, t->settime_flags, &its, NULL))
			ret = pr_perror("can't arm the timerfd of fd %u", e->fd);
	}
	/* after settime, which clears them */
	if (!ret && ticks && ioctl(fd, TFD_IOC_SET_TICKS, &ticks))
		ret = pr_perror("can't set the %lu unread expirations of timerfd %u (TFD_IOC_SET_TICKS)",
				(unsigned long)ticks, e->fd);
	if (!ret)
		ret = files_set_fl(fd, e->flags);
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

static int timerfd_validate(const FdinfoEntry *e)
{
	const TimerfdEntry *t = e->timerfd;

	if (!t || t->settime_flags & ~(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET) ||
	    t->value_ns > INT64_MAX / 2 || t->interval_ns > INT64_MAX / 2)
		return pr_err("fdinfo: fd %u is a timerfd without valid settings", e->fd), -EINVAL;
	return 0;
}

const struct fd_ops timerfd_fd_ops = {
	.kind = FD_KIND__FD_TIMERFD, .name = "timerfd",
	.match = timerfd_match, .dump = timerfd_dump, .restore = timerfd_restore, .validate = timerfd_validate,
};

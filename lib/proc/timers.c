/* POSIX timers.  /proc/PID/timers lists each timer's id, clock and how it
 * notifies (signal, value, target); only the owner can read the time left and
 * the interval, so the parasite calls timer_gettime for them.  The restorer
 * creates them again at the same ids (PR_TIMER_CREATE_RESTORE_IDS) and arms
 * them with the time left less the real time the process was away. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "image/image.h"
#include "infect/infect.h"
#include "kerndat.h"
#include "log.h"
#include "proc/timers.h"
#include "proc/tree.h"
#include "restorer-args.h"
#include "util.h"

#define NSEC 1000000000ULL
#ifndef SIGEV_THREAD_ID
#define SIGEV_THREAD_ID 4
#endif

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * NSEC + ts.tv_nsec;
}

/* A CPU-time clock: the process's or a thread's own (CLOCK_PROCESS/THREAD_CPUTIME_ID),
 * or one named by pid (clock_getcpuclockid, pthread_getcpuclockid: ~pid << 3, bit 2
 * for a thread, the low bits which clock).  It counts the restored process's CPU
 * time, from 0: a timer on it is armed relative, with the CPU time it had left. */
static bool cpu_clock(int clockid)
{
	return clockid < 0 || clockid == CLOCK_PROCESS_CPUTIME_ID || clockid == CLOCK_THREAD_CPUTIME_ID;
}

/* The pid a CPU clock names must be the process (or 0: the caller), a thread's tid
 * one of its threads: restored at the same ids, the clock is theirs again. */
static bool cpu_clock_ours(int clockid, pid_t pid, const pid_t *tids, size_t nr_tids)
{
	pid_t who = ~(clockid >> 3);

	if (clockid >= 0 || !who)
		return clockid >= 0 || (clockid & 3) != 3;
	if ((clockid & 3) == 3)
		return false;
	if (!(clockid & 4))
		return who == pid;
	for (size_t k = 0; k < nr_tids; k++)
		if (tids[k] == who)
			return true;
	return false;
}

/* One "ID: ..." record of /proc/PID/timers (PIDs as we see them; the image
 * gets the task's own: a thread target becomes its TID in the tree). */
static int parse_one(const struct tree_task *task, const char *rec, PosixTimerEntry *t)
{
	pid_t pid = task->s.pid;
	char how[16], whom[8];
	const char *sig = strstr(rec, "\nsignal:"), *notify = strstr(rec, "\nnotify:"), *clk = strstr(rec, "\nClockID:");
	int target, k;

	if (sscanf(rec, "ID: %d", &t->id) != 1 || !sig || !notify || !clk ||
	    sscanf(sig, "\nsignal: %d/%" SCNx64, &t->signo, &t->sival) != 2 ||
	    sscanf(notify, "\nnotify: %15[a-z]/%7[a-z].%d", how, whom, &target) != 3 ||
	    sscanf(clk, "\nClockID: %d", &t->clockid) != 1)
		return pr_err("pid %d: can't parse /proc/%d/timers near '%.40s'", pid, pid, rec), -EINVAL;
	/* (a process of a nested pid namespace named itself by its PIDs there, and is
	 * restored at them) */
	if (!cpu_clock_ours(t->clockid, task->pid_ns ? task->inner_tids[0] : task->vpid,
			    task->pid_ns ? task->inner_tids : task->vtids ? task->vtids : task->s.tids, task->s.nr_threads))
		return pr_err("pid %d: POSIX timer %d counts the CPU time of another process (clock %d, pid %d): "
			      "it can't be checkpointed", pid, t->id, t->clockid, ~(t->clockid >> 3)), -EOPNOTSUPP;
	if (!strcmp(how, "signal"))
		t->notify = SIGEV_SIGNAL;
	else if (!strcmp(how, "none"))
		t->notify = SIGEV_NONE;
	else
		return pr_err("pid %d: POSIX timer %d notifies by '%s', which can't be checkpointed", pid, t->id, how),
		       -EOPNOTSUPP;
	if (!strcmp(whom, "tid")) {
		for (k = 0; k < task->s.nr_threads && task->s.tids[k] != target; k++)
			;
		if (k == task->s.nr_threads)
			return pr_err("pid %d: POSIX timer %d signals thread %d, which is not one of its threads", pid,
				      t->id, target), -EOPNOTSUPP;
		t->notify |= SIGEV_THREAD_ID;
		t->has_notify_tid = true;
		t->notify_tid = task->vtids ? task->vtids[k] : target;
	}
	return 0;
}

static int cmp_id(const void *a, const void *b)
{
	int x = (*(PosixTimerEntry *const *)a)->id, y = (*(PosixTimerEntry *const *)b)->id;

	return x < y ? -1 : x > y;
}

static int read_list(const struct tree_task *task, struct posix_timers *pt)
{
	pid_t pid = task->s.pid;
	char *text = read_proc(pid, "timers", NULL);
	int ret = 0;

	if (!text)
		return pr_perror("can't read /proc/%d/timers", pid);
	for (char *rec = strstr(text, "ID:"); rec && !ret; rec = strstr(rec + 1, "\nID:"), rec = rec ? rec + 1 : NULL) {
		PosixTimerEntry *t = malloc(sizeof(*t)), **n = realloc(pt->t, (pt->nr + 1) * sizeof(*n));
		if (n)
			pt->t = n;
		if (!t || !n) {
			free(t);
			ret = -ENOMEM;
			break;
		}
		posix_timer_entry__init(t);
		pt->t[pt->nr++] = t;
		ret = parse_one(task, rec, t);
	}
	free(text);
	if (!ret && pt->nr > RST_MAX_POSIX_TIMERS)
		ret = (pr_err("pid %d has %zu POSIX timers; at most %d can be checkpointed", pid, pt->nr,
			      RST_MAX_POSIX_TIMERS), -EOPNOTSUPP);
	if (!ret)
		qsort(pt->t, pt->nr, sizeof(*pt->t), cmp_id);
	return ret;
}

/* Ask the parasite for the time left, the interval and the overrun, a batch at a time. */
static int read_settings(struct infect_ctx *ctx, struct posix_timers *pt)
{
	struct parasite_timers *pa = &ctx->args->timers;
	int ret;

	for (size_t done = 0; done < pt->nr;) {
		uint32_t n = pt->nr - done < PARASITE_MAX_TIMERS ? pt->nr - done : PARASITE_MAX_TIMERS;
		pa->nr = n;
		for (uint32_t i = 0; i < n; i++)
			pa->t[i].id = pt->t[done + i]->id;
		/* read somewhere between: take the middle */
		uint64_t t0 = realtime_ns(), at;
		if ((ret = infect_cmd(ctx, PARASITE_CMD_DUMP_TIMERS, NULL)))
			return ret;
		at = t0 + (realtime_ns() - t0) / 2;
		for (uint32_t i = 0; i < n; i++) {
			PosixTimerEntry *t = pt->t[done + i];
			t->interval_ns = pa->t[i].interval_sec * NSEC + pa->t[i].interval_nsec;
			t->value_ns = pa->t[i].value_sec * NSEC + pa->t[i].value_nsec;
			t->overrun = pa->t[i].overrun;
			t->dumped_at_ns = at;
		}
		done += n;
	}
	return 0;
}

int timers_dump(struct infect_ctx *ctx, struct img_dir *dir, const struct tree_task *task)
{
	struct posix_timers pt = { 0 };
	struct img *img = NULL;
	int ret = read_list(task, &pt);

	if (!ret)
		ret = read_settings(ctx, &pt);
	if (!ret && !(img = img_create(dir, IMG_TIMERS, task->vpid)))
		ret = -EIO;
	for (size_t i = 0; i < pt.nr && !ret; i++)
		ret = img_write_msg(img, &pt.t[i]->base);
	if (img)
		ret = ret ? (img_close(img), ret) : img_close_write(img);
	timers_free(&pt);
	return ret;
}

static int validate(const PosixTimerEntry *t, const PosixTimerEntry *prev, const char *img)
{
	int how = t->notify & ~SIGEV_THREAD_ID;

	if (t->id < 0 || (prev && prev->id >= t->id) || t->signo < 0 || t->signo > 64 ||
	    (how != SIGEV_SIGNAL && how != SIGEV_NONE) || (t->notify & SIGEV_THREAD_ID && !t->has_notify_tid) ||
	    t->value_ns > INT64_MAX / 2 || t->interval_ns > INT64_MAX / 2)
		return pr_err("%s: POSIX timer %d is malformed (ids must increase; signal 0-64; notify "
			      "SIGEV_SIGNAL or SIGEV_NONE)", img, t->id), -EINVAL;
	return 0;
}

int timers_load(struct img_dir *dir, pid_t pid, struct posix_timers *pt)
{
	struct img *img = img_open(dir, IMG_TIMERS, pid);
	PosixTimerEntry *t;
	int ret;

	memset(pt, 0, sizeof(*pt));
	if (!img)
		return -ENOENT;
	while ((ret = img_read_msg(img, &posix_timer_entry__descriptor, (ProtobufCMessage **)&t)) > 0) {
		PosixTimerEntry **n = realloc(pt->t, (pt->nr + 1) * sizeof(*n));
		if (!n) {
			img_free_msg(&t->base);
			ret = -ENOMEM;
			break;
		}
		pt->t = n;
		pt->t[pt->nr++] = t;
		if ((ret = validate(t, pt->nr > 1 ? pt->t[pt->nr - 2] : NULL, img->name)))
			break;
		if (pt->nr > RST_MAX_POSIX_TIMERS) {
			ret = (pr_err("%s: more than %d POSIX timers", img->name, RST_MAX_POSIX_TIMERS), -EINVAL);
			break;
		}
	}
	img_close(img);
	if (ret < 0) {
		timers_free(pt);
		return ret;
	}
	if (pt->nr && !kerndat_get()->timer_restore_ids) {
		timers_free(pt);
		return pr_err("pid %d has POSIX timers, and this kernel can't create a timer at a chosen id "
			      "(PR_TIMER_CREATE_RESTORE_IDS, Linux 6.15)", pid), -EOPNOTSUPP;
	}
	return 0;
}

void timers_free(struct posix_timers *pt)
{
	for (size_t i = 0; i < pt->nr; i++)
		img_free_msg(&pt->t[i]->base);
	free(pt->t);
	pt->t = NULL;
	pt->nr = 0;
}

/* Clocks that run while the process is away (the CPU-time ones do not). */
static bool runs_while_away(int clockid)
{
	return clockid == CLOCK_REALTIME || clockid == CLOCK_MONOTONIC || clockid == CLOCK_BOOTTIME ||
	       clockid == CLOCK_REALTIME_ALARM || clockid == CLOCK_BOOTTIME_ALARM || clockid == CLOCK_TAI;
}

int timers_restorer_args(const struct posix_timers *pt, const PstreeEntry *p, struct restorer_args *a)
{
	uint64_t now = realtime_ns();

	a->nr_posix_timers = pt->nr;
	for (size_t i = 0; i < pt->nr; i++) {
		const PosixTimerEntry *t = pt->t[i];
		struct rst_posix_timer *r = &a->posix_timers[i];
		uint64_t left = t->value_ns, gone = now > t->dumped_at_ns ? now - t->dumped_at_ns : 0;

		size_t k;

		for (k = 0; t->has_notify_tid && k < p->n_threads && p->threads[k] != (uint32_t)t->notify_tid; k++)
			;
		if (t->has_notify_tid && k == p->n_threads)
			return pr_err("POSIX timer %d of pid %u signals thread %d, which is not one of its threads", t->id,
				      p->pid, t->notify_tid), -EINVAL;
		bool nested = p->n_pid_ns_threads == p->n_threads;   /* (pidview_check) */
		if (!cpu_clock_ours(t->clockid, nested ? p->pid_ns_threads[0] : p->pid,
				    (const pid_t *)(nested ? p->pid_ns_threads : p->threads), p->n_threads))
			return pr_err("POSIX timer %d of pid %u counts CPU time of clock %d, not of the process or "
				      "one of its threads", t->id, p->pid, t->clockid), -EINVAL;
		if (!left && t->interval_ns)
			left = t->interval_ns;   /* went off, its signal pending: next period */
		if (left && runs_while_away(t->clockid)) {
			if (gone < left)
				left -= gone;
			else if (t->interval_ns)
				left = t->interval_ns - (gone - left) % t->interval_ns;
			else
				left = 1;   /* went off while away: at once */
		}
		/* absolute in the timer's clock: the restorer arms it a little later */
		if (left && !cpu_clock(t->clockid)) {
			struct timespec ts;
			if (clock_gettime(t->clockid, &ts))
				return pr_perror("POSIX timer %d: can't read its clock %d", t->id, t->clockid);
			left += ts.tv_sec * NSEC + ts.tv_nsec;
		}
		*r = (struct rst_posix_timer){   /* value: when it expires (0: disarmed) */
			.id = t->id, .clockid = t->clockid, .notify = t->notify, .signo = t->signo,
			.tid = t->has_notify_tid ? t->notify_tid : 0, .sival = t->sival, .relative = cpu_clock(t->clockid),
			.interval_sec = t->interval_ns / NSEC, .interval_nsec = t->interval_ns % NSEC,
			.value_sec = left / NSEC, .value_nsec = left % NSEC,
		};
	}
	return 0;
}

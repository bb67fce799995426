/* POSIX timers (timer_create): dump through /proc/PID/timers and the parasite,
 * restore by the restorer at the same ids (restorer_args.posix_timers). */
#ifndef LIB_PROC_TIMERS_H
#define LIB_PROC_TIMERS_H

#include <stddef.h>
#include <sys/types.h>
#include "pstree.pb-c.h"
#include "timer.pb-c.h"

struct infect_ctx;
struct tree_task;
struct img_dir;
struct restorer_args;

struct posix_timers {
	PosixTimerEntry **t;
	size_t nr;
};

/* Write timers-<vpid>.img (maybe empty); the parasite must be running. */
int timers_dump(struct infect_ctx *ctx, struct img_dir *dir, const struct tree_task *task);
/* Read and validate timers-<pid>.img. */
int timers_load(struct img_dir *dir, pid_t pid, struct posix_timers *pt);
void timers_free(struct posix_timers *pt);
/* Fill a->posix_timers, taking off the time since the dump. */
int timers_restorer_args(const struct posix_timers *pt, const PstreeEntry *p, struct restorer_args *a);

#endif

#ifndef LIB_SEIZE_H
#define LIB_SEIZE_H

#include <stdbool.h>
#include <sys/types.h>
#include "proc/proc.h"

struct seized {
	pid_t pid;
	struct proc_stat stat;
	struct proc_status status;
	bool attached;
	int nr_threads;
	pid_t *tids;            /* every thread, stopped; tids[0] is pid */
	int stop_sig;           /* the group stop (job control) it was in when seized: SIGSTOP,
				   SIGTSTP...; 0 if it was running */
};

/* Check that pid can be dumped and stop it with PTRACE_SEIZE + PTRACE_INTERRUPT.
 * Every thread is stopped too.  Refuses (with a message) kernel threads,
 * zombies and traced tasks.  A task in a group stop (SIGSTOP...) is seized
 * too: it reports that stop, which stop_sig records, and goes back to it when
 * let go. */
int seize_task(pid_t pid, struct seized *s);
/* Until each of the threads, let go with a group stop pending, is stopped again
 * (a second at most): whoever looks next must find the task as it was. */
void seize_wait_group_stop(const pid_t *tids, int n);
/* A thread seized while in restart_syscall: the call it restarts, as its kernel
 * stack showed (RESTARTING_*), or -1. */
enum { RESTARTING_POLL = 1, RESTARTING_FUTEX = 2 };
int seize_restart_hint(pid_t tid);
void seize_forget_hints(void);
/* The children of every thread of a seized task (stable while it is stopped);
 * returns their number, *kids malloc'ed. */
int seize_children(const struct seized *s, pid_t **kids);
/* A thread already seized and interrupted (by the cgroup freezer): seize_task
 * only waits for its stop.  Those no seize_task took are left over: how many
 * (the first in *first); release them (each waited for and detached). */
int seize_adopt(pid_t tid);
size_t seize_adopted_left(pid_t *first);
void seize_adopted_release(void);
/* Detach every thread and let the task run on. */
int unseize_task(struct seized *s);
/* A zombie leader's threads that run on (0: a real zombie), and the refusal of
 * such a process. */
int seize_live_threads(pid_t pid);
int seize_refuse_zombie_leader(pid_t pid, const char *comm, int live);

#endif

/* Nested pid namespaces at the restore: which PID a process uses for another.
 * The images keep the tree's PIDs; a process in a nested namespace calls with
 * its namespace's (setpgid, pidfd_open, the thread ids it clones and signals). */
#include <errno.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "log.h"
#include "proc/pidview.h"
#include "restorer-args.h"

#define MAX_PID (1U << 22)

static int index_of(PstreeEntry *const *entries, size_t before, uint32_t pid)
{
	for (size_t i = 0; i < before; i++)
		if (entries[i]->pid == pid)
			return i;
	return -1;
}

static uint32_t ns_of(const PstreeEntry *e)
{
	return e->has_pid_ns ? e->pid_ns : 0;
}

int pidview_check(PstreeEntry *const *entries, size_t nr)
{
	for (size_t i = 0; i < nr; i++) {
		const PstreeEntry *e = entries[i];
		int parent = i ? index_of(entries, i, e->ppid) : -1;
		uint32_t ns = ns_of(e), kids = e->has_pid_ns_children ? e->pid_ns_children : 0;

		if (!ns && !e->n_pid_ns_threads && !kids)
			continue;
		if (ns && (!i || parent < 0 || e->zombie || e->n_pid_ns_threads != e->n_threads ||
			   ns > nr || (ns_of(entries[parent]) && ns_of(entries[parent]) != ns)))
			return pr_err("pstree.img: pid %u is in nested pid namespace %u, but it is the root, a zombie, "
				      "its PIDs there do not match its threads, or its parent is in another nested one",
				      e->pid, ns), -EINVAL;
		if (!ns && e->n_pid_ns_threads)
			return pr_err("pstree.img: pid %u has PIDs in a nested pid namespace it is not in", e->pid), -EINVAL;
		for (size_t t = 0; t < e->n_pid_ns_threads; t++) {
			uint32_t v = e->pid_ns_threads[t];
			/* the init is 1 there, forked from outside; the others were forked inside, or
			 * after it by its parent */
			const PstreeEntry *pe = entries[parent];
			bool outside = !ns_of(pe), after_init = outside && pe->has_pid_ns_children && pe->pid_ns_children == ns;
			if (!v || v > MAX_PID || (t == 0 && (v == 1 ? !outside : outside && !after_init)))
				return pr_err("pstree.img: pid %u has a bad PID %u in nested pid namespace %u", e->pid, v, ns),
				       -EINVAL;
			for (size_t j = 0; j <= i; j++)
				for (size_t u = 0; ns_of(entries[j]) == ns && u < entries[j]->n_pid_ns_threads; u++)
					if (entries[j]->pid_ns_threads[u] == v && (j != i || u != t))
						return pr_err("pstree.img: PID %u appears twice in nested pid namespace %u", v,
							      ns), -EINVAL;
		}
		if (!kids)
			continue;
		bool found = false;
		for (size_t j = i + 1; j < nr && !found; j++)
			found = entries[j]->ppid == e->pid && ns_of(entries[j]) == kids && entries[j]->n_pid_ns_threads &&
				entries[j]->pid_ns_threads[0] == 1;
		if (ns || e->zombie || e->n_threads != 1 || !found)
			return pr_err("pstree.img: pid %u has its children born in nested pid namespace %u, but it is in "
				      "one itself, has threads, or no child of it is that namespace's init", e->pid, kids),
			       -EINVAL;
	}
	return 0;
}

uint32_t pidview_pid(PstreeEntry *const *entries, size_t nr, size_t viewer, uint32_t pid)
{
	uint32_t ns = ns_of(entries[viewer]);
	int i;

	if (!ns)
		return pid;   /* (a process in a nested namespace has its PID here too) */
	if ((i = index_of(entries, nr, pid)) < 0 || ns_of(entries[i]) != ns)
		return 0;
	return entries[i]->pid_ns_threads[0];
}

uint32_t pidview_tid(const PstreeEntry *e, uint32_t tid)
{
	for (size_t t = 0; t < e->n_threads && t < e->n_pid_ns_threads; t++)
		if (e->threads[t] == tid)
			return e->pid_ns_threads[t];
	return 0;
}

int pidview_enter_children(pid_t child, uint32_t pid)
{
	int fd = syscall(SYS_pidfd_open, child, 0), ret = 0;

	if (fd < 0)
		return pr_perror("pid %u: can't open a pidfd of its child %d (the init of its nested pid namespace)", pid,
				 child);
	if (setns(fd, CLONE_NEWPID))
		ret = pr_perror("pid %u: can't have its children born in the nested pid namespace of its child %d "
				"(setns)", pid, child);
	close(fd);
	return ret;
}

void pidview_restorer_args(const PstreeEntry *e, struct restorer_args *a)
{
	struct rst_thread *threads = (struct rst_thread *)a->threads;

	a->pid = e->pid_ns_threads[0];
	for (uint32_t i = 0; i < a->nr_threads; i++) {
		threads[i].outer_tid = threads[i].tid;
		threads[i].tid = pidview_tid(e, threads[i].tid);
	}
	for (uint32_t i = 0; i < a->nr_posix_timers && i < RST_MAX_POSIX_TIMERS; i++)
		if (a->posix_timers[i].tid)
			a->posix_timers[i].tid = pidview_tid(e, a->posix_timers[i].tid);
}

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

static uint32_t parent_of(const PstreeEntry *e)
{
	return e->has_pid_ns_parent ? e->pid_ns_parent : 0;
}

/* How many levels below the tree's e's namespace is (its PIDs between: pid_ns_mid). */
static int depth_of(const PstreeEntry *e)
{
	return !ns_of(e) ? 0 : e->n_threads ? 1 + (int)(e->n_pid_ns_mid / e->n_threads) : 1;
}

/* Thread t of e at level l below the tree's (0: the tree's PID, its depth: its own). */
static uint32_t level_pid(const PstreeEntry *e, size_t t, int l)
{
	int depth = depth_of(e);

	if (!l)
		return e->threads[t];
	if (l == depth)
		return e->pid_ns_threads[t];
	return e->pid_ns_mid[t * (depth - 1) + l - 1];
}

static int first_in(PstreeEntry *const *entries, size_t nr, uint32_t ns)
{
	for (size_t j = 0; j < nr; j++)
		if (ns_of(entries[j]) == ns)
			return j;
	return -1;
}

/* The namespace at level l above e's own (l <= its depth): each namespace's parent
 * is what its first process says (pidview_check: they all say the same). */
static uint32_t ns_at(PstreeEntry *const *entries, size_t nr, const PstreeEntry *e, int l)
{
	uint32_t ns = ns_of(e);

	for (int d = depth_of(e); d > l && ns; d--) {
		int j = first_in(entries, nr, ns);
		ns = j < 0 ? 0 : parent_of(entries[j]);
	}
	return ns;
}

/* Its init is in the image (it makes the namespace on restore). */
static bool has_init(PstreeEntry *const *entries, size_t nr, uint32_t ns)
{
	for (size_t j = 0; j < nr; j++)
		if (ns_of(entries[j]) == ns && entries[j]->n_pid_ns_threads && entries[j]->pid_ns_threads[0] == 1)
			return true;
	return false;
}

/* Where its children are born, besides its own namespace and pid_ns_children:
 * a namespace of the tree nested below its own (setns), or a new one (unshare). */
static int check_children_elsewhere(PstreeEntry *const *entries, size_t nr, const PstreeEntry *e)
{
	uint32_t kids = e->has_pid_ns_children ? e->pid_ns_children : 0;
	uint32_t entered = e->has_pid_ns_entered ? e->pid_ns_entered : 0;
	bool unshared = e->has_pid_ns_unshared && e->pid_ns_unshared;
	int f;

	if (!entered && !unshared)
		return 0;
	if ((kids != 0) + (entered != 0) + unshared > 1 || e->zombie || e->n_threads != 1)
		return pr_err("pstree.img: pid %u has its children born in more than one pid namespace (pid_ns_children, "
			      "pid_ns_entered, pid_ns_unshared), or it is a zombie or has threads", e->pid), -EINVAL;
	if (entered && (entered > nr || (f = first_in(entries, nr, entered)) < 0 ||
			depth_of(entries[f]) <= depth_of(e) || ns_at(entries, nr, entries[f], depth_of(e)) != ns_of(e) ||
			!has_init(entries, nr, entered)))
		return pr_err("pstree.img: pid %u has its children born in nested pid namespace %u (pid_ns_entered), "
			      "which is not one of the tree's nested below its own with its init", e->pid, entered),
		       -EINVAL;
	return 0;
}

int pidview_check(PstreeEntry *const *entries, size_t nr)
{
	for (size_t i = 0; i < nr; i++) {
		const PstreeEntry *e = entries[i];
		int parent = i ? index_of(entries, i, e->ppid) : -1;
		uint32_t ns = ns_of(e), kids = e->has_pid_ns_children ? e->pid_ns_children : 0, up = parent_of(e);
		int ret;

		if ((ret = check_children_elsewhere(entries, nr, e)))
			return ret;
		if (!ns && !e->n_pid_ns_threads && !kids && !e->n_pid_ns_mid && !up)
			continue;
		/* its parent is in its namespace, or in one it is nested in (its init's is its
		 * parent, the others' any above: they entered it by setns) */
		if (ns && (!i || parent < 0 || e->zombie || e->n_pid_ns_threads != e->n_threads || ns > nr ||
			   (ns_of(entries[parent]) != ns &&
			    (depth_of(entries[parent]) >= depth_of(e) ||
			     ns_at(entries, i + 1, e, depth_of(entries[parent])) != ns_of(entries[parent])))))
			return pr_err("pstree.img: pid %u is in nested pid namespace %u, but it is the root, a zombie, "
				      "its PIDs there do not match its threads, or its parent is in another nested one",
				      e->pid, ns), -EINVAL;
		if (!ns && (e->n_pid_ns_threads || e->n_pid_ns_mid || up))
			return pr_err("pstree.img: pid %u has PIDs in a nested pid namespace it is not in", e->pid), -EINVAL;
		int first = ns ? first_in(entries, i + 1, ns) : -1;
		const PstreeEntry *pe = ns ? entries[parent] : NULL;
		/* its namespace is at its parent's (if forked inside) or below, as every
		 * process of it says */
		if (ns && (up == ns || up > nr || e->n_pid_ns_mid % e->n_threads ||
			   depth_of(e) >= RST_MAX_PID_LEVELS || (up != 0) != (depth_of(e) > 1) ||
			   parent_of(entries[first]) != up || depth_of(entries[first]) != depth_of(e) ||
			   (ns_of(pe) == ns && depth_of(e) != depth_of(pe))))
			return pr_err("pstree.img: pid %u is in nested pid namespace %u, made in %u, but its PIDs at "
				      "the levels between (%zu) do not match that depth, or its namespace's other "
				      "processes or its parent say otherwise", e->pid, ns, up, e->n_pid_ns_mid), -EINVAL;
		for (size_t t = 0; t < e->n_pid_ns_threads; t++) {
			uint32_t v = e->pid_ns_threads[t];
			/* the init is 1 there, forked from the namespace's parent; the others were
			 * forked inside, or from above after the init (unshare, or setns) */
			bool outside = ns_of(pe) != ns;
			if (!v || v > MAX_PID ||
			    (t == 0 && (v == 1 ? !outside || depth_of(pe) + 1 != depth_of(e)
					       : outside && !has_init(entries, nr, ns))))
				return pr_err("pstree.img: pid %u has a bad PID %u in nested pid namespace %u", e->pid, v, ns),
				       -EINVAL;
			for (size_t j = 0; j <= i; j++)
				for (size_t u = 0; ns_of(entries[j]) == ns && u < entries[j]->n_pid_ns_threads; u++)
					if (entries[j]->pid_ns_threads[u] == v && (j != i || u != t))
						return pr_err("pstree.img: PID %u appears twice in nested pid namespace %u", v,
							      ns), -EINVAL;
		}
		/* at the levels between, each once in the namespace there (the nested ones' processes too) */
		for (int l = 1; l < depth_of(e); l++) {
			uint32_t at = ns_at(entries, i + 1, e, l);
			for (size_t t = 0; t < e->n_threads; t++) {
				uint32_t v = level_pid(e, t, l);
				if (!v || v > MAX_PID)
					return pr_err("pstree.img: pid %u has a bad PID %u at level %d (nested pid namespace "
						      "%u)", e->pid, v, l, at), -EINVAL;
				for (size_t j = 0; j <= i; j++)
					for (size_t u = 0; depth_of(entries[j]) >= l && u < entries[j]->n_threads &&
							   ns_at(entries, i + 1, entries[j], l) == at; u++)
						if (level_pid(entries[j], u, l) == v && (j != i || u != t))
							return pr_err("pstree.img: PID %u appears twice in nested pid namespace "
								      "%u", v, at), -EINVAL;
			}
		}
		if (!kids)
			continue;
		bool found = false;
		for (size_t j = i + 1; j < nr && !found; j++)
			found = entries[j]->ppid == e->pid && ns_of(entries[j]) == kids && parent_of(entries[j]) == ns &&
				entries[j]->n_pid_ns_threads && entries[j]->pid_ns_threads[0] == 1;
		if (e->zombie || e->n_threads != 1 || !found)
			return pr_err("pstree.img: pid %u has its children born in nested pid namespace %u, but it has "
				      "threads, or no child of it is that namespace's init", e->pid, kids),
			       -EINVAL;
	}
	return 0;
}

uint32_t pidview_pid(PstreeEntry *const *entries, size_t nr, size_t viewer, uint32_t pid)
{
	const PstreeEntry *v = entries[viewer];
	uint32_t ns = ns_of(v);
	int i, l = depth_of(v);

	if (!ns)
		return pid;   /* (a process in a nested namespace has its PID here too) */
	/* one of its namespace, or of one nested in it */
	if ((i = index_of(entries, nr, pid)) < 0 || depth_of(entries[i]) < l || ns_at(entries, nr, entries[i], l) != ns)
		return 0;
	return level_pid(entries[i], 0, l);
}

uint32_t pidview_tid(const PstreeEntry *e, uint32_t tid)
{
	for (size_t t = 0; t < e->n_threads && t < e->n_pid_ns_threads; t++)
		if (e->threads[t] == tid)
			return e->pid_ns_threads[t];
	return 0;
}

int pidview_set_tid(const PstreeEntry *e, size_t t, int32_t *tid)
{
	int depth = depth_of(e);

	for (int l = depth; l >= 0; l--)
		tid[depth - l] = level_pid(e, t, l);
	return depth + 1;
}

int pidview_enter(PstreeEntry *const *entries, size_t nr, size_t viewer, uint32_t ns, const uint32_t *born)
{
	int m = -1, fd, ret = 0;
	uint32_t me = entries[viewer]->pid, pid;

	for (size_t j = 0; j < nr && m < 0; j++)
		if (ns_of(entries[j]) == ns && (!born || __atomic_load_n(&born[j], __ATOMIC_SEQ_CST)))
			m = j;
	if (m < 0)
		return -EAGAIN;
	pid = pidview_pid(entries, nr, viewer, entries[m]->pid);
	if (!pid)
		return pr_err("pid %u: can't see pid %u of nested pid namespace %u", me, entries[m]->pid, ns), -EINVAL;
	if ((fd = syscall(SYS_pidfd_open, pid, 0)) < 0)
		return pr_perror("pid %u: can't open a pidfd of %u (%u to it), in nested pid namespace %u", me,
				 entries[m]->pid, pid, ns);
	if (setns(fd, CLONE_NEWPID))
		ret = pr_perror("pid %u: can't have its children born in nested pid namespace %u, that of %u (setns)",
				me, ns, entries[m]->pid);
	close(fd);
	return ret;
}

int pidview_enter_own(uint32_t me)
{
	int fd = syscall(SYS_pidfd_open, getpid(), 0), ret = 0;

	if (fd < 0)
		return pr_perror("pid %u: can't open a pidfd of itself", me);
	if (setns(fd, CLONE_NEWPID))
		ret = pr_perror("pid %u: can't have its children born in its own pid namespace again (setns)", me);
	close(fd);
	return ret;
}

int pidview_children_ns(PstreeEntry *const *entries, size_t nr, size_t idx)
{
	const PstreeEntry *e = entries[idx];
	uint32_t ns = e->has_pid_ns_entered && e->pid_ns_entered ? e->pid_ns_entered
		      : e->has_pid_ns_children ? e->pid_ns_children : 0;

	if (ns)
		return pidview_enter(entries, nr, idx, ns, NULL);
	return 0;
}

int pidview_children_unshare(PstreeEntry *const *entries, size_t idx)
{
	const PstreeEntry *e = entries[idx];

	if (e->has_pid_ns_unshared && e->pid_ns_unshared && unshare(CLONE_NEWPID))
		return pr_perror("pid %u: can't make the pid namespace its children are born in (unshare(CLONE_NEWPID))",
				 e->pid);
	return 0;
}

void pidview_restorer_args(const PstreeEntry *e, struct restorer_args *a)
{
	struct rst_thread *threads = (struct rst_thread *)a->threads;

	a->pid = e->pid_ns_threads[0];
	for (uint32_t i = 0; i < a->nr_threads; i++) {
		for (size_t t = 0; t < e->n_threads; t++)
			if (e->threads[t] == (uint32_t)threads[i].tid)
				threads[i].nr_set_tid = pidview_set_tid(e, t, threads[i].set_tid);
		threads[i].tid = pidview_tid(e, threads[i].tid);
	}
	for (uint32_t i = 0; i < a->nr_posix_timers && i < RST_MAX_POSIX_TIMERS; i++)
		if (a->posix_timers[i].tid)
			a->posix_timers[i].tid = pidview_tid(e, a->posix_timers[i].tid);
}

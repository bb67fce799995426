#include <errno.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include "util.h"
#include "log.h"
#include "ns/ns.h"
#include "proc/proc.h"
#include "proc/tree.h"

struct tree_task *tree_find(const struct tree *t, pid_t pid)
{
	for (int i = 0; i < t->nr; i++)
		if (t->tasks[i].s.pid == pid)
			return &t->tasks[i];
	return NULL;
}

static struct tree_task *add_task(struct tree *t)
{
	struct tree_task *n = realloc(t->tasks, (t->nr + 1) * sizeof(*n));

	if (!n)
		return NULL;
	t->tasks = n;
	memset(&n[t->nr], 0, sizeof(n[0]));
	return &n[t->nr++];
}

/* A child of a stopped parent: seize it, or record it if it is (or just became) a zombie. */
static int add_child(struct tree *t, pid_t pid)
{
	struct proc_stat st;
	struct tree_task *task;
	int ret;

	if (proc_parse_stat(pid, &st))
		return pr_err("child %d vanished while the tree was seized", pid), -ESRCH;
	/* a zombie leader with threads running on is no zombie: not to be dumped as one */
	int live = st.state == 'Z' ? seize_live_threads(pid) : 0;
	if (live)
		return seize_refuse_zombie_leader(pid, st.comm, live);
	if (!(task = add_task(t)))
		return -ENOMEM;
	if (st.state != 'Z') {
		ret = seize_task(pid, &task->s);
		if (!ret)
			return 0;
		/* it may have exited between the look and the seize: its parent can't reap it now */
		if (ret != -ESRCH || proc_parse_stat(pid, &st) || st.state != 'Z') {
			t->nr--;
			return ret;
		}
		if ((live = seize_live_threads(pid))) {   /* only its main thread exited */
			t->nr--;
			cr_error_reset();
			return seize_refuse_zombie_leader(pid, st.comm, live);
		}
		cr_error_reset();
	}
	task->zombie = true;
	task->s.pid = pid;
	task->s.stat = st;
	return 0;
}

int tree_seize(pid_t root, struct tree *t)
{
	seize_forget_hints();
	int ret;

	memset(t, 0, sizeof(*t));
	if (!add_task(t))
		return -ENOMEM;
	if ((ret = seize_task(root, &t->tasks[0].s))) {
		free(t->tasks);
		t->tasks = NULL;
		t->nr = 0;
		return ret;
	}
	for (int i = 0; i < t->nr && !ret; i++) {
		pid_t *kids;
		int n;

		if (t->tasks[i].zombie)
			continue;
		n = seize_children(&t->tasks[i].s, &kids);
		if (n < 0) {
			ret = n;
			break;
		}
		for (int k = 0; k < n && !ret; k++)
			if (!tree_find(t, kids[k]))
				ret = add_child(t, kids[k]);
		free(kids);
	}
	if (ret)
		tree_release(t, false);
	return ret;
}

/* NSpid of a task or thread: its PID at every level, ours first, its own last. */
static int nspid(pid_t pid, pid_t tid, int *levels, pid_t *at, int max)
{
	char name[64], *buf;

	snprintf(name, sizeof(name), "task/%d/status", tid);
	if (!(buf = read_proc(pid, name, NULL)))
		return pr_perror("can't read /proc/%d/%s", pid, name);
	*levels = proc_nspid_all(buf, at, max);
	free(buf);
	if (!*levels)
		at[0] = tid, *levels = 1;   /* no NSpid: a kernel without pid namespaces */
	return 0;
}

pid_t tree_vpid(const struct tree *t, pid_t pid)
{
	const struct tree_task *task = tree_find(t, pid);

	return task ? task->vpid : t->own_pidns ? 0 : pid;
}

#define MAX_PIDNS 4096
#define MAX_PIDNS_LEVELS 40   /* the kernel nests 32 at most */
#define MAX_SET_TID 32        /* clone3's set_tid: a PID at 32 levels at most */

/* Nested pid namespaces by inode: the index + 1 is the id. */
struct pidns_ids {
	uint64_t *ino;
	size_t nr;
};

static int pidns_id(struct pidns_ids *ids, uint64_t ino, uint32_t *id)
{
	for (size_t i = 0; i < ids->nr; i++)
		if (ids->ino[i] == ino)
			return *id = i + 1, 0;
	if (ids->nr >= MAX_PIDNS)
		return pr_err("the tree is in more than %d nested pid namespaces", MAX_PIDNS), -E2BIG;
	uint64_t *n = realloc(ids->ino, (ids->nr + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	ids->ino = n;
	ids->ino[ids->nr++] = ino;
	*id = ids->nr;
	return 0;
}

/* The namespace a nested one was made in (NS_GET_PARENT): 0 for the tree's. */
static int pidns_parent(pid_t pid, uint64_t tree_ino, struct pidns_ids *ids, uint32_t *id)
{
	char path[64];
	struct stat st;
	int fd, pfd, ret = 0;

	snprintf(path, sizeof(path), "/proc/%d/ns/pid", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return pr_perror("can't open %s", path);
	pfd = ioctl(fd, NS_GET_PARENT);
	close(fd);
	if (pfd < 0)
		return pr_perror("pid %d: can't find the parent of its pid namespace (NS_GET_PARENT)", pid);
	if (fstat(pfd, &st))
		ret = pr_perror("pid %d: can't stat the parent of its pid namespace", pid);
	close(pfd);
	if (ret)
		return ret;
	if (st.st_ino == tree_ino)
		return *id = 0, 0;
	return pidns_id(ids, st.st_ino, id);
}

/* A nested task: forked inside by another (its parent is in the same namespace),
 * its init (forked by a process of the namespace's parent), or forked there by a
 * process of a namespace above whose children were born there (after unshare and
 * the init's fork, or after setns): that needs the init in the tree. */
static int check_nested(struct tree *t, const struct tree_task *task)
{
	const struct tree_task *parent = tree_find(t, task->s.stat.ppid);
	pid_t pid = task->s.pid;

	if (!parent)
		return pr_err("pid %d, in a nested pid namespace, has no parent in the tree", pid), -EINVAL;
	if (parent->pid_ns == task->pid_ns)
		return 0;
	if (task->inner_tids[0] == 1) {
		if (parent->pid_ns != task->pid_ns_parent)
			return pr_err("pid %d is the init of a pid namespace nested in the tree's, but its parent %d "
				      "is not in the namespace that one was made in: not supported", pid, parent->s.pid),
			       -EOPNOTSUPP;
		return 0;
	}
	for (int i = 0; i < t->nr; i++)
		if (t->tasks[i].pid_ns == task->pid_ns && t->tasks[i].inner_tids[0] == 1) {
			/* older readers knew only the children of the init's own parent */
			if (parent->pid_ns_children != task->pid_ns)
				t->pidns_setns = true;
			return 0;
		}
	return pr_err("pid %d is in a pid namespace nested in the tree's whose init is not in the tree (it is "
		      "%d there, and its parent %d is outside it: it entered it by setns): only namespaces "
		      "made by the tree's processes (unshare(CLONE_NEWPID) and fork, as `unshare -p -f` does, "
		      "or clone(CLONE_NEWPID)) are supported; dump the tree that holds that namespace's init",
		      pid, task->inner_tids[0], parent->s.pid), -EOPNOTSUPP;
}

static int refuse_threads(const struct tree_task *task, const char *how)
{
	return pr_err("pid %d has %d threads and its children are born in a nested pid namespace (%s): not "
		      "supported (the restore clones its threads after it enters that namespace, and the kernel "
		      "clones no thread then)", task->s.pid, task->s.nr_threads, how), -EOPNOTSUPP;
}

/* pid_for_children of a live task that is not its own namespace: that of a child
 * that is its init (pid_ns_children: it did unshare(CLONE_NEWPID) and forked, or
 * entered its child's by setns), a new one nobody is in yet (pid_ns_unshared), or
 * another nested namespace of the tree (pid_ns_entered: setns). */
static int check_children_ns(struct tree *t, int i, const uint64_t *inos)
{
	struct tree_task *task = &t->tasks[i];
	uint64_t ino = 0;
	char path[64];
	struct stat st;

	/* (a namespace no process is in yet has a link to nothing: the unshare without a
	 * fork; no link at all: a kernel before 4.12, where nobody can tell) */
	snprintf(path, sizeof(path), "/proc/%d/ns/pid_for_children", task->s.pid);
	if (!stat(path, &st))
		ino = st.st_ino;
	else if (errno != ENOENT)
		return pr_perror("can't read %s", path);
	else if (lstat(path, &st))
		return 0;
	if (ino == inos[i])
		return 0;
	if (task->s.nr_threads > 1)
		return refuse_threads(task, ino ? "pid_for_children, after unshare(CLONE_NEWPID) or setns"
						: "after unshare(CLONE_NEWPID)");
	if (!ino) {
		/* the kernel unshares only while pid_for_children is one's own: the new
		 * namespace is nested in it, and its next child will be the init */
		task->pid_ns_unshared = t->pidns_setns = true;
		return 0;
	}
	for (int j = i + 1; j < t->nr; j++) {
		struct tree_task *c = &t->tasks[j];

		if (!c->zombie && c->s.stat.ppid == task->s.pid && inos[j] == ino && c->inner_tids[0] == 1 &&
		    c->pid_ns_parent == task->pid_ns)
			return task->pid_ns_children = c->pid_ns, 0;
	}
	for (int j = 0; j < t->nr; j++)
		if (t->tasks[j].pid_ns && !t->tasks[j].zombie && inos[j] == ino) {
			task->pid_ns_entered = t->tasks[j].pid_ns;
			t->pidns_setns = true;
			return 0;
		}
	return pr_err("pid %d has its children born in a pid namespace (its /proc/PID/ns/pid_for_children, after "
		      "setns or unshare(CLONE_NEWPID)) that no process of the tree is in: its init is outside the "
		      "tree (nsenter into another's), or all its processes exited; not supported", task->s.pid),
	       -EOPNOTSUPP;
}

int tree_map_pidns(struct tree *t)
{
	int mine, root_levels, levels, ret;
	pid_t self = getpid(), at[MAX_PIDNS_LEVELS], v;
	struct pidns_ids ids = { 0 };
	uint64_t *inos;

	if ((ret = nspid(self, self, &mine, at, MAX_PIDNS_LEVELS)))
		return ret;
	if ((ret = nspid(t->tasks[0].s.pid, t->tasks[0].s.pid, &root_levels, at, MAX_PIDNS_LEVELS)))
		return ret;
	if (root_levels >= MAX_PIDNS_LEVELS)
		return pr_err("pid %d is %d pid namespaces deep: too deep", t->tasks[0].s.pid, root_levels), -EOPNOTSUPP;
	v = at[root_levels - 1];
	if (root_levels > mine && v != 1)
		return pr_err("pid %d is in a pid namespace that it does not lead (it is %d there): dump that "
			      "namespace's init", t->tasks[0].s.pid, v), -EOPNOTSUPP;
	t->own_pidns = root_levels > mine;
	if (!(inos = calloc(t->nr, sizeof(*inos))))
		return -ENOMEM;
	for (int i = 0; i < t->nr && !ret; i++) {
		struct tree_task *task = &t->tasks[i];
		int n = task->zombie ? 1 : task->s.nr_threads;

		if (!(task->vtids = calloc(n, sizeof(pid_t))))
			ret = -ENOMEM;
		for (int k = 0; k < n && !ret; k++) {
			pid_t tid = task->zombie ? task->s.pid : task->s.tids[k];
			if ((ret = nspid(task->s.pid, tid, &levels, at, MAX_PIDNS_LEVELS)))
				break;
			int depth = levels - root_levels;
			if (depth < 0)
				ret = (pr_err("pid %d is in a pid namespace above the tree's root's", task->s.pid), -EINVAL);
			else if (depth >= MAX_SET_TID)
				ret = (pr_err("pid %d is in a pid namespace nested %d levels below the tree's: a restore "
					      "sets a PID at %d levels at most (clone3 set_tid); dump a process nested "
					      "deeper", task->s.pid, depth, MAX_SET_TID), -EOPNOTSUPP);
			else if (depth && task->zombie)
				ret = (pr_err("pid %d is a zombie in a pid namespace nested in the tree's: not supported "
					      "(dump once its parent has reaped it)", task->s.pid), -EOPNOTSUPP);
			else if (k && depth != task->pid_depth)
				ret = (pr_err("thread %d of pid %d is in another pid namespace than its leader", tid,
					      task->s.pid), -EINVAL);
			else if (depth && !k && (!(task->inner_tids = calloc(n, sizeof(pid_t))) ||
						 (depth > 1 && !(task->mid_tids = calloc(n * (depth - 1), sizeof(pid_t))))))
				ret = -ENOMEM;
			if (ret)
				break;
			task->vtids[k] = at[root_levels - 1];
			if (!depth)
				continue;
			task->inner_tids[k] = at[levels - 1];
			for (int l = 1; l < depth; l++)
				task->mid_tids[k * (depth - 1) + l - 1] = at[root_levels - 1 + l];
			if (k)
				continue;
			task->pid_depth = depth;
			if (!(ret = ns_ino(task->s.pid, "pid", &inos[i])))
				ret = pidns_id(&ids, inos[i], &task->pid_ns);
			if (!ret && depth > 1)
				ret = pidns_parent(task->s.pid, inos[0], &ids, &task->pid_ns_parent);
		}
		if (ret)
			break;
		task->vpid = task->vtids[0];
		if (!task->pid_ns && !task->zombie)
			ret = ns_ino(task->s.pid, "pid", &inos[i]);
	}
	for (int i = 0; i < t->nr && !ret; i++)
		if (!t->tasks[i].zombie)
			ret = check_children_ns(t, i, inos);
	for (int i = 0; i < t->nr && !ret; i++)
		if (t->tasks[i].pid_ns)
			ret = check_nested(t, &t->tasks[i]);
	free(inos);
	free(ids.ino);
	return ret;
}

void tree_release_stopped(struct tree *t)
{
	/* A process-wide SIGSTOP pending before the threads are let go: each one
	 * takes part in the group stop before it returns to user code. */
	for (int i = 0; i < t->nr; i++)
		if (!t->tasks[i].zombie && t->tasks[i].s.attached)
			kill(t->tasks[i].s.pid, SIGSTOP);
	tree_release(t, false);
}

void tree_release(struct tree *t, bool kill_tasks)
{
	for (int i = 0; i < t->nr; i++) {
		struct tree_task *task = &t->tasks[i];
		free(task->vtids);
		free(task->inner_tids);
		free(task->mid_tids);
		task->vtids = task->inner_tids = task->mid_tids = NULL;
		if (task->zombie || !task->s.attached)
			continue;
		if (kill_tasks) {
			kill(task->s.pid, SIGKILL);
			task->s.attached = false;
		}
		unseize_task(&task->s);
	}
	free(t->tasks);
	t->tasks = NULL;
	t->nr = 0;
}

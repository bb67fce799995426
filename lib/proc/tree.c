#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>
#include "util.h"
#include "log.h"
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
static int nspid(pid_t pid, pid_t tid, int *levels, pid_t *own)
{
	char name[64], *buf;

	snprintf(name, sizeof(name), "task/%d/status", tid);
	if (!(buf = read_proc(pid, name, NULL)))
		return pr_perror("can't read /proc/%d/%s", pid, name);
	*levels = proc_nspid(buf, own);
	free(buf);
	if (!*levels)
		*own = tid, *levels = 1;   /* no NSpid: a kernel without pid namespaces */
	return 0;
}

pid_t tree_vpid(const struct tree *t, pid_t pid)
{
	const struct tree_task *task = tree_find(t, pid);

	return task ? task->vpid : t->own_pidns ? 0 : pid;
}

int tree_map_pidns(struct tree *t)
{
	int mine, root_levels, levels, ret;
	pid_t self = getpid(), v;

	if ((ret = nspid(self, self, &mine, &v)) ||
	    (ret = nspid(t->tasks[0].s.pid, t->tasks[0].s.pid, &root_levels, &v)))
		return ret;
	if (root_levels > mine && v != 1)
		return pr_err("pid %d is in a pid namespace that it does not lead (it is %d there): dump that "
			      "namespace's init", t->tasks[0].s.pid, v), -EOPNOTSUPP;
	t->own_pidns = root_levels > mine;
	for (int i = 0; i < t->nr; i++) {
		struct tree_task *task = &t->tasks[i];
		int n = task->zombie ? 1 : task->s.nr_threads;

		if (!(task->vtids = calloc(n, sizeof(pid_t))))
			return -ENOMEM;
		for (int k = 0; k < n; k++) {
			pid_t tid = task->zombie ? task->s.pid : task->s.tids[k];
			if ((ret = nspid(task->s.pid, tid, &levels, &task->vtids[k])))
				return ret;
			if (levels != root_levels)
				return pr_err("pid %d is in a pid namespace nested in the tree's: nested pid "
					      "namespaces are not supported (only the uts, net, ipc and cgroup namespaces of "
					      "the tree's processes may differ from the root's)", task->s.pid), -EOPNOTSUPP;
		}
		task->vpid = task->vtids[0];
	}
	return 0;
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
		task->vtids = NULL;
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

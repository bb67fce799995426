#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
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

void tree_release(struct tree *t, bool kill_tasks)
{
	for (int i = 0; i < t->nr; i++) {
		struct tree_task *task = &t->tasks[i];
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

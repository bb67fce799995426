#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include "log.h"
#include "proc/seize.h"
#include "util.h"

static int has_children(pid_t pid)
{
	char name[64];
	char *buf;
	int ret;

	snprintf(name, sizeof(name), "task/%d/children", pid);
	buf = read_proc(pid, name, NULL);
	if (!buf)
		return 0;  /* kernels without CONFIG_PROC_CHILDREN: checked via ppid scan below */
	ret = buf[0] != 0 && buf[0] != '\n';
	free(buf);
	return ret;
}

/* What stops us now, before touching the task. */
static int check_dumpable(pid_t pid, struct seized *s)
{
	if (kill(pid, 0) && errno == ESRCH)
		return pr_err("can't dump pid %d: No such process", pid), -ESRCH;
	if (proc_parse_stat(pid, &s->stat))
		return errno == ENOENT ? (pr_err("can't dump pid %d: No such process", pid), -ESRCH) : -EIO;
	if (s->stat.flags & PF_KTHREAD)
		return pr_err("pid %d (%s) is a kernel thread: only user processes can be checkpointed",
			      pid, s->stat.comm), -EPERM;
	if (s->stat.state == 'Z' || s->stat.state == 'X')
		return pr_err("pid %d (%s) is a zombie: nothing to checkpoint", pid, s->stat.comm), -ESRCH;
	if (proc_parse_status(pid, &s->status))
		return -EIO;
	if (s->status.tracer)
		return pr_err("pid %d (%s) is already traced by pid %d (a debugger or strace?): detach it first",
			      pid, s->stat.comm, s->status.tracer), -EBUSY;
	if (s->stat.state == 'T' || s->stat.state == 't')
		return pr_err("pid %d (%s) is stopped (state %c): stopped tasks are not supported yet; "
			      "continue it (kill -CONT %d) and retry", pid, s->stat.comm, s->stat.state, pid),
		       -EOPNOTSUPP;
	if (s->status.threads > 1)
		return pr_err("pid %d (%s) has %d threads: multi-threaded processes are not supported yet",
			      pid, s->stat.comm, s->status.threads), -EOPNOTSUPP;
	if (has_children(pid))
		return pr_err("pid %d (%s) has child processes: process trees are not supported yet",
			      pid, s->stat.comm), -EOPNOTSUPP;
	return 0;
}

int seize_task(pid_t pid, struct seized *s)
{
	int status, ret;

	memset(s, 0, sizeof(*s));
	s->pid = pid;
	if ((ret = check_dumpable(pid, s)))
		return ret;
	if (ptrace(PTRACE_SEIZE, pid, NULL, NULL)) {
		if (errno == ESRCH)
			return pr_err("can't dump pid %d: No such process", pid), -ESRCH;
		return pr_perror("can't seize pid %d (PTRACE_SEIZE; is it traced, or ptrace restricted?)", pid);
	}
	s->attached = true;
	if (ptrace(PTRACE_INTERRUPT, pid, NULL, NULL)) {
		ret = pr_perror("can't stop pid %d (PTRACE_INTERRUPT)", pid);
		goto fail;
	}
	for (;;) {
		if (waitpid(pid, &status, __WALL) < 0) {
			if (errno == EINTR)
				continue;
			ret = pr_perror("waitpid for pid %d", pid);
			goto fail;
		}
		if (!WIFSTOPPED(status)) {
			s->attached = false;
			return pr_err("pid %d exited while being seized", pid), -ESRCH;
		}
		if (status >> 16 == PTRACE_EVENT_STOP)
			break;
		/* A signal reached it first: deliver it as it would have been; the
		 * interrupt is still pending and stops the task right after. */
		if (ptrace(PTRACE_CONT, pid, NULL, (void *)(long)WSTOPSIG(status))) {
			ret = pr_perror("can't pass signal %d on to pid %d", WSTOPSIG(status), pid);
			goto fail;
		}
	}
	/* It may have cloned between the check and the stop: look again, now that it's still. */
	if ((ret = proc_parse_status(pid, &s->status)))
		goto fail;
	if (s->status.threads > 1 || has_children(pid)) {
		pr_err("pid %d created threads or children while being seized: not supported yet", pid);
		ret = -EOPNOTSUPP;
		goto fail;
	}
	if ((ret = proc_parse_stat(pid, &s->stat)))
		goto fail;
	return 0;
fail:
	unseize_task(s);
	return ret;
}

int unseize_task(struct seized *s)
{
	if (!s->attached)
		return 0;
	s->attached = false;
	if (ptrace(PTRACE_DETACH, s->pid, NULL, NULL))
		return pr_perror("can't detach from pid %d", s->pid);
	return 0;
}

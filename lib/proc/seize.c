#include <dirent.h>
#include <errno.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include "log.h"
#include "fault.h"
#include "proc/privs.h"
#include "proc/seize.h"
#include "proc/seccomp.h"
#include "util.h"

int seize_children(const struct seized *s, pid_t **out)
{
	pid_t *kids = NULL;
	int n = 0;

	for (int t = 0; t < s->nr_threads; t++) {
		char name[64], *buf, *p, *end;

		snprintf(name, sizeof(name), "task/%d/children", s->tids[t]);
		buf = read_proc(s->pid, name, NULL);
		if (!buf) {
			free(kids);
			return pr_perror("can't read /proc/%d/%s (CONFIG_PROC_CHILDREN)", s->pid, name);
		}
		for (p = buf;; p = end) {
			long c = strtol(p, &end, 10);
			if (end == p)
				break;
			pid_t *nk = realloc(kids, (n + 1) * sizeof(pid_t));
			if (!nk) {
				free(buf);
				free(kids);
				return -ENOMEM;
			}
			kids = nk;
			kids[n++] = c;
		}
		free(buf);
	}
	*out = kids;
	return n;
}

/* Threads the freezer seized and interrupted while their cgroup was frozen
 * (cgroup-freeze.c): their stop is on its way, and they are ours to wait for. */
static pid_t *adopted;
static size_t nr_adopted;

int seize_adopt(pid_t tid)
{
	pid_t *n = realloc(adopted, (nr_adopted + 1) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	adopted = n;
	adopted[nr_adopted++] = tid;
	return 0;
}

static bool is_adopted(pid_t tid, bool take)
{
	for (size_t i = 0; i < nr_adopted; i++)
		if (adopted[i] == tid) {
			if (take)
				adopted[i] = adopted[--nr_adopted];
			return true;
		}
	return false;
}

size_t seize_adopted_left(pid_t *first)
{
	if (nr_adopted)
		*first = adopted[0];
	return nr_adopted;
}

static int wait_interrupt_stop(pid_t tid, int *stop_sig);

void seize_adopted_release(void)
{
	for (size_t i = 0; i < nr_adopted; i++)
		if (wait_interrupt_stop(adopted[i], NULL) == 0)
			ptrace(PTRACE_DETACH, adopted[i], NULL, NULL);
	free(adopted);
	adopted = NULL;
	nr_adopted = 0;
}

/* A zombie leader whose other threads run on (main returned by pthread_exit):
 * the process lives, and is not the zombie its leader's state says.  How many
 * threads run on (0 for a zombie). */
int seize_live_threads(pid_t pid)
{
	struct proc_stat st;
	pid_t *tids;
	int n, live = 0;

	if ((n = proc_list_threads(pid, &tids)) < 0) {
		cr_error_reset();
		return 0;
	}
	for (int i = 0; i < n; i++)
		live += tids[i] != pid && !proc_parse_stat_quiet(tids[i], &st) && st.state != 'Z' && st.state != 'X';
	free(tids);
	return live;
}

int seize_refuse_zombie_leader(pid_t pid, const char *comm, int live)
{
	return pr_err("pid %d (%s): its main thread has exited and %d other thread%s run%s on (pthread_exit in "
		      "main): such a process can't be checkpointed yet", pid, comm, live, live > 1 ? "s" : "",
		      live > 1 ? "" : "s"), -EOPNOTSUPP;
}

/* What stops us now, before touching the task. */
static int check_dumpable(pid_t pid, struct seized *s)
{
	int live;

	if (kill(pid, 0) && errno == ESRCH)
		return pr_err("can't dump pid %d: No such process", pid), -ESRCH;
	if (proc_parse_stat(pid, &s->stat))
		return errno == ENOENT ? (pr_err("can't dump pid %d: No such process", pid), -ESRCH) : -EIO;
	if (s->stat.flags & PF_KTHREAD)
		return pr_err("pid %d (%s) is a kernel thread: only user processes can be checkpointed",
			      pid, s->stat.comm), -EPERM;
	if ((s->stat.state == 'Z' || s->stat.state == 'X') && (live = seize_live_threads(pid)))
		return seize_refuse_zombie_leader(pid, s->stat.comm, live);
	if (s->stat.state == 'Z' || s->stat.state == 'X')
		return pr_err("pid %d (%s) is a zombie: nothing to checkpoint", pid, s->stat.comm), -ESRCH;
	if (proc_parse_status(pid, &s->status))
		return -EIO;
	if (s->status.tracer && !is_adopted(pid, false))
		return pr_err("pid %d (%s) is already traced by pid %d (a debugger or strace?): detach it first",
			      pid, s->stat.comm, s->status.tracer), -EBUSY;
	if (s->stat.state == 't' && !is_adopted(pid, false))
		return pr_err("pid %d (%s) is in a tracing stop (state t) with no tracer we know of: continue it "
			      "and retry", pid, s->stat.comm), -EOPNOTSUPP;
	return 0;
}

/* Threads found waiting in restart_syscall when seized: which call it restarts.
 * The interrupt that stops them would lose that (the restart block is the
 * kernel's), and only the kernel stack still tells, before the seize. */
static struct restart_hint { pid_t tid; int nr; } *hints;
static size_t nr_hints;

void seize_forget_hints(void)
{
	free(hints);
	hints = NULL;
	nr_hints = 0;
}

int seize_restart_hint(pid_t tid)
{
	for (size_t i = 0; i < nr_hints; i++)
		if (hints[i].tid == tid)
			return hints[i].nr;
	return -1;
}

/* The syscall a blocked thread is in (/proc/TID/syscall): 0, or -1 when it is
 * running or in none. */
static int read_syscall(pid_t tid, long *nr, unsigned long args[6])
{
	char path[64], *s;
	int n;

	snprintf(path, sizeof(path), "/proc/%d/syscall", tid);
	if (!(s = read_file(path, NULL)))
		return -1;
	n = sscanf(s, "%ld %lx %lx %lx %lx %lx %lx", nr, &args[0], &args[1], &args[2], &args[3], &args[4], &args[5]);
	free(s);
	return n == 7 && *nr >= 0 ? 0 : -1;
}

static void note_restart(pid_t tid, long nr)
{
	char path[64], *s;

	if (nr != __NR_restart_syscall)
		return;
	nr = -1;
	snprintf(path, sizeof(path), "/proc/%d/stack", tid);
	if ((s = read_file(path, NULL))) {
		if (strstr(s, "do_restart_poll"))
			nr = RESTARTING_POLL;
		else if (strstr(s, "futex_wait_restart"))
			nr = RESTARTING_FUTEX;
	}
	free(s);
	struct restart_hint *n = nr >= 0 ? realloc(hints, (nr_hints + 1) * sizeof(*n)) : NULL;
	if (n) {
		hints = n;
		hints[nr_hints++] = (struct restart_hint){ tid, nr };
	}
}

/* Is the blocked thread in vfork() (or a clone with CLONE_VFORK: posix_spawn,
 * Python's subprocess)?  Then it waits for its child to exec or exit, and no
 * ptrace stop can reach it before: the wait ends only for that or a fatal signal. */
static bool in_vfork(pid_t tid, long nr, const unsigned long args[6])
{
	uint64_t flags = 0;

#ifdef __NR_vfork
	if (nr == __NR_vfork)
		return true;
#endif
	if (nr == __NR_clone)
		return args[0] & CLONE_VFORK;
	if (nr == __NR_clone3) {
		struct iovec local = { &flags, sizeof(flags) }, remote = { (void *)args[0], sizeof(flags) };
		return process_vm_readv(tid, &local, 1, &remote, 1, 0) == sizeof(flags) && (flags & CLONE_VFORK);
	}
	return false;
}

#define VFORK_WAIT_MS 2000

/* A thread in vfork() is let finish it first (a child about to exec: asyncio's,
 * a shell's): seized then, it could not stop until the child execs, and a child
 * that never does would hold the dump for ever. */
static int wait_vfork_done(pid_t tid)
{
	unsigned long args[6];
	long nr;

	for (int ms = 0; !read_syscall(tid, &nr, args) && in_vfork(tid, nr, args); ms++) {
		if (ms == VFORK_WAIT_MS)
			return pr_err("pid %d waits in vfork() for its child to exec or exit (still after %d s): until "
				      "then it can't be stopped, and the child runs in its memory; try again once "
				      "the child has exec'd", tid, VFORK_WAIT_MS / 1000), -EBUSY;
		if (fault_cancelled("a vfork() to end"))
			return -EINTR;
		usleep(1000);
	}
	return 0;
}

/* A stopped thread with seccomp: its filters (or strict mode) must not see the
 * parasite's calls.  Read once it is stopped: it can't install one any more. */
static int suspend_seccomp(pid_t tid)
{
	if (seccomp_thread_mode(tid, tid) <= 0)
		return 0;
	if (ptrace(PTRACE_SETOPTIONS, tid, NULL, (void *)(long)PTRACE_O_SUSPEND_SECCOMP)) {
		int err = errno, ret = privs_explain(err, CAP_SYS_ADMIN, -1,
						     "dumping a process with seccomp filters (PTRACE_O_SUSPEND_SECCOMP)");
		if (ret)
			return ret;
		errno = err;
		return pr_perror("can't suspend the seccomp filters of %d while it is dumped "
				 "(PTRACE_O_SUSPEND_SECCOMP needs CAP_SYS_ADMIN)", tid);
	}
	return 0;
}

/* A thread the freezer seized and interrupted, now thawed: it stops at its
 * interrupt at once, unless it waits in vfork() for a child that the freezer
 * interrupted too, before its exec: that wait would never end.  The thaw wakes
 * every task a moment (a vfork() waiter goes back to sleep), so it is looked at
 * until it has stopped or is seen waiting there. */
static int wait_adopted_stop(pid_t tid)
{
	unsigned long args[6];
	struct proc_stat st;
	long nr;

	for (int ms = 0; ms < 100; ms++) {
		if (proc_parse_stat_quiet(tid, &st) || st.state == 't' || st.state == 'Z' || st.state == 'X')
			return 0;
		if (!read_syscall(tid, &nr, args) && in_vfork(tid, nr, args))
			return wait_vfork_done(tid);
		usleep(1000);
	}
	return 0;
}

/* Stop one thread with PTRACE_SEIZE + PTRACE_INTERRUPT.  1 if it is gone already.
 * *stop_sig (if given): the group stop it is in, or 0. */
static int seize_thread(pid_t tid, int *stop_sig)
{
	if (fault_hit("seize"))
		return -EPERM;
	unsigned long args[6];
	long nr;
	int ret;
	if (is_adopted(tid, false)) {
		if ((ret = wait_adopted_stop(tid))) {
			is_adopted(tid, true);   /* traced until we go: no stop of it to wait for */
			return ret;
		}
		is_adopted(tid, true);
		return wait_interrupt_stop(tid, stop_sig);
	}
	bool blocked = !read_syscall(tid, &nr, args);
	if (blocked && in_vfork(tid, nr, args)) {
		if ((ret = wait_vfork_done(tid)))
			return ret;
		blocked = !read_syscall(tid, &nr, args);   /* what it does now */
	}
	if (blocked)
		note_restart(tid, nr);
	if (ptrace(PTRACE_SEIZE, tid, NULL, NULL)) {
		struct proc_stat st;

		if (errno == ESRCH)
			return 1;
		/* EPERM also for a task that is exiting (its exit_state is set): gone */
		if (errno == EPERM && (proc_parse_stat_quiet(tid, &st) || st.state == 'Z' || st.state == 'X'))
			return 1;
		int err = errno, ret = err == EPERM ? privs_ptrace_denied(tid) : 0;
		if (ret)
			return ret;
		errno = err;
		return pr_perror("can't seize %d (PTRACE_SEIZE; is it traced, or ptrace restricted?)", tid);
	}
	if (ptrace(PTRACE_INTERRUPT, tid, NULL, NULL)) {
		if (errno == ESRCH)
			return 1;
		return pr_perror("can't stop %d (PTRACE_INTERRUPT)", tid);
	}
	return wait_interrupt_stop(tid, stop_sig);
}

/* Until a seized and interrupted thread reports its stop.  1 if it is gone.
 * The stop names SIGTRAP for our interrupt, the stop signal for a group stop the
 * thread is in (one it was in when seized: the seize reports it). */
static int wait_interrupt_stop(pid_t tid, int *stop_sig)
{
	int status;

	for (;;) {
		if (waitpid(tid, &status, __WALL) < 0) {
			if (errno == EINTR && fault_cancelled("a seized thread to stop"))   /* crtool's SIGINT, SIGTERM */
				return -EINTR;
			if (errno == EINTR)
				continue;
			return errno == ECHILD ? 1 : pr_perror("waitpid for %d", tid);
		}
		if (!WIFSTOPPED(status))
			return 1;
		if (status >> 16 == PTRACE_EVENT_STOP) {
			if (stop_sig)
				*stop_sig = WSTOPSIG(status) == SIGTRAP ? 0 : WSTOPSIG(status);
			return suspend_seccomp(tid);
		}
		/* A signal reached it first: deliver it as it would have been; the
		 * interrupt is still pending and stops the thread right after. */
		if (ptrace(PTRACE_CONT, tid, NULL, (void *)(long)WSTOPSIG(status)))
			return errno == ESRCH ? 1 : pr_perror("can't pass signal %d on to %d", WSTOPSIG(status), tid);
	}
}

static bool is_seized(const struct seized *s, pid_t tid)
{
	for (int i = 0; i < s->nr_threads; i++)
		if (s->tids[i] == tid)
			return true;
	return false;
}

/* Seize every thread, listing them again until a pass finds no new one: threads
 * that the not-yet-stopped ones create while we work are caught by the next pass. */
static int seize_threads(struct seized *s)
{
	for (int pass = 0;; pass++) {
		pid_t *tids;
		int n = proc_list_threads(s->pid, &tids), found = 0, ret = 0;

		if (n < 0)
			return n;
		for (int i = 0; i < n && !ret; i++) {
			if (is_seized(s, tids[i]))
				continue;
			found++;
			ret = seize_thread(tids[i], NULL);
			if (ret == 1) {       /* exited meanwhile */
				ret = 0;
				continue;
			}
			if (ret)
				break;
			pid_t *nt = realloc(s->tids, (s->nr_threads + 1) * sizeof(pid_t));
			if (!nt) {
				ptrace(PTRACE_DETACH, tids[i], NULL, NULL);
				ret = -ENOMEM;
				break;
			}
			s->tids = nt;
			s->tids[s->nr_threads++] = tids[i];
		}
		free(tids);
		if (ret || !found)
			return ret;
		if (pass > 1000)
			return pr_err("pid %d keeps creating threads faster than they can be stopped", s->pid),
			       -EAGAIN;
	}
}

int seize_task(pid_t pid, struct seized *s)
{
	int ret;

	memset(s, 0, sizeof(*s));
	s->pid = pid;
	if ((ret = check_dumpable(pid, s)))
		return ret;
	ret = seize_thread(pid, &s->stop_sig);
	if (ret == 1)
		return pr_err("pid %d exited while being seized", pid), -ESRCH;
	if (ret)
		return ret;
	s->tids = malloc(sizeof(pid_t));
	if (!s->tids) {
		ptrace(PTRACE_DETACH, pid, NULL, NULL);
		return -ENOMEM;
	}
	s->tids[0] = pid;
	s->nr_threads = 1;
	s->attached = true;
	if ((ret = seize_threads(s)))
		goto fail;
	/* It may have forked between the check and the stop: look again, now that it's still. */
	if ((ret = proc_parse_status(pid, &s->status)))
		goto fail;
	if (s->status.threads != s->nr_threads) {
		pr_err("pid %d has %d threads, %d of them stopped: a thread escaped seizing", pid,
		       s->status.threads, s->nr_threads);
		ret = -EAGAIN;
		goto fail;
	}
	if ((ret = proc_parse_stat(pid, &s->stat)))
		goto fail;
	return 0;
fail:
	unseize_task(s);
	return ret;
}

void seize_wait_group_stop(const pid_t *tids, int n)
{
	for (int i = 0; i < n; i++) {
		struct proc_stat st;

		for (int ms = 0; ms < 1000; ms++) {
			if (proc_parse_stat_quiet(tids[i], &st) || st.state == 'T')
				break;
			usleep(1000);
		}
	}
}

int unseize_task(struct seized *s)
{
	int ret = 0;

	if (!s->attached)
		goto out;
	s->attached = false;
	for (int i = 0; i < s->nr_threads; i++)
		if (ptrace(PTRACE_DETACH, s->tids[i], NULL, NULL) && errno != ESRCH)
			ret = pr_perror("can't detach from %d", s->tids[i]);
	/* a task seized in a group stop goes back to it once let go */
	if (s->stop_sig)
		seize_wait_group_stop(s->tids, s->nr_threads);
out:
	free(s->tids);
	s->tids = NULL;
	s->nr_threads = 0;
	return ret;
}

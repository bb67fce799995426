/* Process and thread attributes nothing else restores (attrs.h).
 *
 * Dump: the process's from /proc, each thread's affinity and I/O priority by
 * syscalls on its TID, and what only the task can tell (THP disabled, MDWE,
 * timer slack) from the parasite and remote syscalls (core.c).
 * Restore: the process's are set by the new task before the restorer (THP
 * before its memory is premapped, so that it gets the pages it had); the
 * threads' by each thread in the restorer, before its credentials drop the right
 * to; MDWE last of all, once nothing more is mapped. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "log.h"
#include "parasite-args.h"
#include "proc/attrs.h"
#include "proc/proc.h"
#include "util.h"

#define OOM_SCORE_ADJ_MAX 1000
#define COREDUMP_FILTER_BITS 0x1ff
#define LOGINUID_UNSET 4294967295U
#define IOPRIO_WHO_PROCESS 1
#define IOPRIO_CLASS(v) ((uint32_t)(v) >> 13)
#define MDWE_FLAGS 3                   /* PR_MDWE_REFUSE_EXEC_GAIN | PR_MDWE_NO_INHERIT */
#ifndef MCL_ONFAULT
#define MCL_ONFAULT 4
#endif
#ifndef PR_SET_MDWE
#define PR_SET_MDWE 65
#endif
/* sched_getaffinity's buffer: masks up to 8192 CPUs are read, up to 1024 restored */
#define AFFINITY_READ 1024

/* ------------------------------------------------------------------ dump */

/* A number in a /proc file; *present false if there is no such file. */
static int read_number(const char *path, int base, long long *v, bool *present)
{
	char *buf = read_file(path, NULL), *end;

	*present = buf != NULL;
	if (!buf)
		return errno == ENOENT ? 0 : pr_perror("can't read %s", path);
	errno = 0;
	*v = strtoll(buf, &end, base);
	int bad = errno || end == buf;
	free(buf);
	return bad ? (pr_err("%s: not a number", path), -EIO) : 0;
}

static int read_proc_number(pid_t pid, const char *name, int base, long long *v, bool *present)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
	return read_number(path, base, v, present);
}

int attrs_dump_process(pid_t pid, CoreEntry *c)
{
	long long v;
	bool present;
	int ret;

	if ((ret = read_proc_number(pid, "oom_score_adj", 10, &v, &present)))
		return ret;
	c->has_oom_score_adj = present;
	c->oom_score_adj = v;
	if ((ret = read_proc_number(pid, "coredump_filter", 16, &v, &present)))
		return ret;
	c->has_coredump_filter = present;
	c->coredump_filter = v;
	/* (no such file: a kernel without audit) */
	if ((ret = read_proc_number(pid, "loginuid", 10, &v, &present)))
		return ret;
	c->has_loginuid = present;
	c->loginuid = v;
	return 0;
}

int attrs_dump_thread(pid_t tid, ThreadEntry *te)
{
	uint8_t mask[AFFINITY_READ];
	long n = syscall(SYS_sched_getaffinity, tid, sizeof(mask), mask);

	if (n < 0)
		return pr_perror("can't read the CPU affinity of thread %d", tid);
	while (n > 0 && !mask[n - 1])
		n--;
	if (!(te->cpu_affinity.data = malloc(n ? n : 1)))
		return -ENOMEM;
	memcpy(te->cpu_affinity.data, mask, n);
	te->cpu_affinity.len = n;
	te->has_cpu_affinity = true;

	long prio = syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, tid);
	if (prio < 0)
		return pr_perror("can't read the I/O priority of thread %d", tid);
	te->has_ioprio = true;
	te->ioprio = prio;
	return 0;
}

void attrs_from_misc(CoreEntry *c, const struct parasite_misc *m)
{
	c->has_thp_disabled = c->has_mdwe = true;
	c->thp_disabled = m->thp_disabled > 0;
	c->mdwe = m->mdwe;
	if (m->timer_slack_ns >= 0) {
		c->threads[0]->has_timer_slack_ns = true;
		c->threads[0]->timer_slack_ns = m->timer_slack_ns;
	}
}

/* The dumper's own attributes: what a restoring process like it would give a task
 * that a reader without them restores (each is inherited from the parent). */
static struct {
	bool read;
	long long oom, coredump, loginuid;
	bool has_loginuid;
	long ioprio, slack;
	uint8_t mask[AFFINITY_READ];
	long mask_len;
} self;

static int read_self(void)
{
	bool present;
	int ret;

	if (self.read)
		return 0;
	if ((ret = read_number("/proc/self/oom_score_adj", 10, &self.oom, &present)) ||
	    (ret = read_number("/proc/self/coredump_filter", 16, &self.coredump, &present)) ||
	    (ret = read_number("/proc/self/loginuid", 10, &self.loginuid, &self.has_loginuid)))
		return ret;
	self.ioprio = syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0);
	self.slack = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
	if ((self.mask_len = syscall(SYS_sched_getaffinity, 0, sizeof(self.mask), self.mask)) < 0)
		return pr_perror("can't read our own CPU affinity");
	self.read = true;
	return 0;
}

/* Does the mask name every CPU ours does? */
static bool covers_ours(const ProtobufCBinaryData *mask)
{
	for (long i = 0; i < self.mask_len; i++)
		if (self.mask[i] & ~((size_t)i < mask->len ? mask->data[i] : 0))
			return false;
	return true;
}

int attrs_set(const CoreEntry *c, bool *set)
{
	int ret;

	*set = false;
	if ((ret = read_self()))
		return ret;
	if ((c->has_oom_score_adj && c->oom_score_adj != self.oom) ||
	    (c->has_coredump_filter && c->coredump_filter != self.coredump) ||
	    (c->has_loginuid && (!self.has_loginuid || c->loginuid != self.loginuid)) || c->thp_disabled || c->mdwe ||
	    c->mlockall)
		return *set = true, 0;
	for (size_t i = 0; i < c->n_threads; i++) {
		const ThreadEntry *te = c->threads[i];
		/* (a real-time thread's slack is 0) */
		if ((te->has_ioprio && te->ioprio != self.ioprio) ||
		    (te->has_timer_slack_ns && te->timer_slack_ns && te->timer_slack_ns != (uint64_t)self.slack) ||
		    (te->has_cpu_affinity && !covers_ours(&te->cpu_affinity)))
			return *set = true, 0;
	}
	return 0;
}

/* /proc shows no MCL_FUTURE, but its effect: a mapping made since is locked.  The
 * parasite's is one: VmLck grows by its size, and its VmFlags say lf as well for
 * MCL_ONFAULT (smaps, read only then: it walks every page table). */
int attrs_dump_mlockall(pid_t pid, uint64_t parasite_at, uint64_t vm_lck_kb, CoreEntry *c)
{
	struct proc_status st;
	struct proc_vma *vmas = NULL;
	int nr = 0, ret;

	if ((ret = proc_parse_status(pid, &st)))
		return pr_perror("can't read /proc/%d/status", pid);
	if (st.vm_lck_kb <= vm_lck_kb)
		return 0;
	if ((ret = proc_parse_smaps(pid, &vmas, &nr)))
		return ret;
	c->has_mlockall = true;
	c->mlockall = MCL_FUTURE;
	for (int i = 0; i < nr; i++)
		if (vmas[i].start == parasite_at && (vmas[i].lock & 2))
			c->mlockall |= MCL_ONFAULT;
	free(vmas);
	return 0;
}

/* --------------------------------------------------------------- restore */

int attrs_validate(const CoreEntry *c, pid_t pid)
{
	if (c->has_oom_score_adj && (c->oom_score_adj < -OOM_SCORE_ADJ_MAX || c->oom_score_adj > OOM_SCORE_ADJ_MAX))
		return pr_err("core-%d.img: oom_score_adj %d is outside -1000..1000", pid, c->oom_score_adj), -EINVAL;
	if (c->has_coredump_filter && c->coredump_filter & ~COREDUMP_FILTER_BITS)
		return pr_err("core-%d.img: coredump_filter 0x%x has unknown bits", pid, c->coredump_filter), -EINVAL;
	if (c->has_mdwe && c->mdwe & ~MDWE_FLAGS)
		return pr_err("core-%d.img: MDWE flags 0x%x are unknown", pid, c->mdwe), -EINVAL;
	if (c->has_mlockall && c->mlockall && (c->mlockall & ~(MCL_FUTURE | MCL_ONFAULT) || !(c->mlockall & MCL_FUTURE)))
		return pr_err("core-%d.img: mlockall flags 0x%x are not MCL_FUTURE, with or without MCL_ONFAULT", pid,
			      c->mlockall), -EINVAL;
	for (size_t i = 0; i < c->n_threads; i++) {
		const ThreadEntry *te = c->threads[i];

		if (te->has_ioprio && IOPRIO_CLASS(te->ioprio) > 3)
			return pr_err("core-%d.img: thread %u has I/O priority class %u", pid, te->tid,
				      IOPRIO_CLASS(te->ioprio)), -EINVAL;
		if (te->has_cpu_affinity && te->cpu_affinity.len > RST_CPU_MASK_WORDS * 8)
			return pr_err("core-%d.img: thread %u is bound to CPUs above %d, more than libcr restores",
				      pid, te->tid, RST_CPU_MASK_WORDS * 64 - 1), -EOPNOTSUPP;
	}
	return 0;
}

/* Write /proc/self/NAME unless it reads the same already. */
static int set_proc(pid_t pid, const char *name, int base, long long want, const char *what, const char *hint)
{
	long long have;
	bool present;
	char path[64], buf[32];
	int ret;

	snprintf(path, sizeof(path), "/proc/self/%s", name);
	if ((ret = read_number(path, base, &have, &present)))
		return ret;
	if (!present)
		return pr_warn("pid %u: this kernel has no %s (%s): it is not restored", pid, path, what), 0;
	if (have == want)
		return 0;
	snprintf(buf, sizeof(buf), base == 16 ? "0x%llx" : "%lld", want);
	if ((ret = write_file(path, buf)))
		return pr_err("pid %u: can't set its %s to %s: %s%s", pid, what, buf, strerror(-ret),
			      ret == -EACCES || ret == -EPERM ? hint : ""), ret;
	return 0;
}

int attrs_restore_process(const CoreEntry *c, pid_t pid)
{
	int ret;

	if (c->has_thp_disabled && prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0) != c->thp_disabled &&
	    prctl(PR_SET_THP_DISABLE, c->thp_disabled, 0, 0, 0))
		return pr_perror("pid %u: can't %s transparent huge pages", pid, c->thp_disabled ? "disable" : "enable");
	if (c->has_oom_score_adj &&
	    (ret = set_proc(pid, "oom_score_adj", 10, c->oom_score_adj, "OOM score adjustment",
			    " (lowering it below the restoring process's needs CAP_SYS_RESOURCE)")))
		return ret;
	if (c->has_coredump_filter &&
	    (ret = set_proc(pid, "coredump_filter", 16, c->coredump_filter, "core dump filter", "")))
		return ret;
	if (c->has_loginuid &&
	    (ret = set_proc(pid, "loginuid", 10, c->loginuid, "audit login uid", " (that needs CAP_AUDIT_CONTROL)")))
		return ret;
	return 0;
}

int attrs_restorer_thread(const ThreadEntry *te, struct rst_thread *t)
{
	uint64_t allowed[RST_CPU_MASK_WORDS] = { 0 };
	bool any = false;

	t->has_ioprio = te->has_ioprio;
	t->ioprio = te->ioprio;
	t->timer_slack_ns = te->has_timer_slack_ns ? te->timer_slack_ns : 0;
	if (!te->has_cpu_affinity)
		return 0;
	memcpy(t->cpu_mask, te->cpu_affinity.data, te->cpu_affinity.len);
	/* Another machine may lack the CPUs it was bound to, or a cpuset keep them from
	 * us: the kernel refuses a mask that leaves nothing to run on. */
	if (syscall(SYS_sched_getaffinity, 0, sizeof(allowed), allowed) < 0)
		return pr_perror("can't read the CPU affinity of the restoring process");
	for (int w = 0; w < RST_CPU_MASK_WORDS; w++)
		any |= (t->cpu_mask[w] & allowed[w]) != 0;
	if (!any) {
		pr_warn("thread %u was bound to CPUs none of which it may run on here: it keeps the restoring "
			"process's affinity", te->tid);
		return 0;
	}
	t->cpu_mask_len = sizeof(t->cpu_mask);
	return 0;
}

void attrs_restorer_process(const CoreEntry *c, struct restorer_args *a)
{
	a->mdwe = c->has_mdwe ? c->mdwe : 0;
	a->mlockall = c->has_mlockall ? c->mlockall : 0;
}

#include <errno.h>
#include <linux/kcmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sched.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>
#include "arch.h"
#include "image/image.h"
#include "infect/infect.h"
#include "kerndat.h"
#include "log.h"
#include "parasite-args.h"
#include "proc/attrs.h"
#include "ns/userns.h"
#include "proc/core.h"
#include "proc/privs.h"
#include "proc/proc.h"
#include "proc/seize.h"
#include "uapi-compat.h"
#include "util.h"

#ifndef PTRACE_PEEKSIGINFO
#define PTRACE_PEEKSIGINFO 0x4209
#endif
#define PEEKSIGINFO_SHARED 1
#define MAX_QUEUED_SIGNALS RST_MAX_SIGINFO

struct peeksiginfo_args { uint64_t off; uint32_t flags; int32_t nr; };

static int dump_pending(pid_t tid, bool shared, SiginfoEntry ***out, size_t *nr)
{
	uint8_t si[128];

	for (uint64_t off = 0; off < MAX_QUEUED_SIGNALS; off++) {
		struct peeksiginfo_args a = { off, shared ? PEEKSIGINFO_SHARED : 0, 1 };
		long n = ptrace(PTRACE_PEEKSIGINFO, tid, &a, si);
		if (n < 0)
			return pr_perror("can't read queued signals of %d (PTRACE_PEEKSIGINFO)", tid);
		if (n == 0)
			return 0;
		SiginfoEntry *e = malloc(sizeof(*e));
		SiginfoEntry **arr = realloc(*out, (*nr + 1) * sizeof(*arr));
		if (!e || !arr) {
			free(e);
			return -ENOMEM;
		}
		*out = arr;
		siginfo_entry__init(e);
		e->siginfo.data = malloc(sizeof(si));
		if (!e->siginfo.data) {
			free(e);
			return -ENOMEM;
		}
		memcpy(e->siginfo.data, si, sizeof(si));
		e->siginfo.len = sizeof(si);
		e->shared = shared;
		arr[(*nr)++] = e;
	}
	return pr_err("pid %d has more than %d queued signals", tid, MAX_QUEUED_SIGNALS), -E2BIG;
}

static int dump_sched(pid_t tid, ThreadEntry *te)
{
	struct sched_param sp;
	int policy = sched_getscheduler(tid);

	errno = 0;
	int nice = getpriority(PRIO_PROCESS, tid);
	if (policy < 0 || sched_getparam(tid, &sp) || errno)
		return pr_perror("can't read the scheduling policy of %d", tid);
	te->sched = malloc(sizeof(*te->sched));
	if (!te->sched)
		return -ENOMEM;
	sched_entry__init(te->sched);
	te->sched->policy = policy;
	te->sched->prio = sp.sched_priority;
	te->sched->nice = nice;
	return 0;
}

/* One stopped thread: registers as given (the leader's as seized, before the
 * parasite changed them), and what can be read from outside. */
static int dump_thread(pid_t pid, pid_t tid, const arch_regs_t *seized_regs, const void *xstate, size_t xlen,
		       uint64_t sigmask, ThreadEntry *te)
{
	struct ptrace_rseq_configuration rseq;
	arch_regs_t regs = *seized_regs;
	char name[64], *comm;
	int ret;

	thread_entry__init(te);
	te->tid = tid;
	te->sigmask = sigmask;
	arch_regs_for_image(&regs, seize_restart_hint(tid));
	/* the xstate buffer is handed to the image */
	void *xs = malloc(xlen);
	if (!xs)
		return -ENOMEM;
	memcpy(xs, xstate, xlen);
	if ((ret = arch_thread_to_image(te, &regs, xs, xlen)))
		return free(xs), ret;
	if (kerndat_get()->ptrace_get_rseq_conf &&
	    ptrace(PTRACE_GET_RSEQ_CONFIGURATION, tid, sizeof(rseq), &rseq) == sizeof(rseq) &&
	    rseq.rseq_abi_pointer) {
		te->rseq = malloc(sizeof(*te->rseq));
		if (!te->rseq)
			return -ENOMEM;
		rseq_entry__init(te->rseq);
		te->rseq->rseq_abi_pointer = rseq.rseq_abi_pointer;
		te->rseq->rseq_abi_size = rseq.rseq_abi_size;
		te->rseq->signature = rseq.signature;
	}
	long rl_len;
	uint64_t rl_head;
	if (syscall(SYS_get_robust_list, tid, &rl_head, &rl_len))
		return pr_perror("can't get the robust futex list of %d", tid);
	te->has_robust_list = te->has_robust_list_len = true;
	te->robust_list = rl_head;
	te->robust_list_len = rl_len;
	if ((ret = dump_sched(tid, te)) || (ret = attrs_dump_thread(tid, te)))
		return ret;
	snprintf(name, sizeof(name), "task/%d/comm", tid);
	comm = read_proc(pid, name, NULL);
	if (!comm)
		return pr_perror("can't read /proc/%d/task/%d/comm", pid, tid);
	comm[strcspn(comm, "\n")] = 0;
	te->comm = comm;
	return 0;   /* (its queued signals: core_dump_pending, once the parasite is gone) */
}

/* What a thread may hold apart from its process and the images keep only per
 * process: its fs_struct (cwd, root, umask: unshare(CLONE_FS)), its fd table
 * (unshare(CLONE_FILES)) and its namespaces (setns in one thread).  A thread that
 * has any of them apart is refused: restored, it would have its process's. */
static bool same_inode(const char *a, const char *b)
{
	struct stat sa, sb;

	return !stat(a, &sa) && !stat(b, &sb) && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static const char *const thread_nss[] = { "mnt", "net", "uts", "ipc", "cgroup", "time", "pid_for_children" };
#define NR_THREAD_NSS (sizeof(thread_nss) / sizeof(thread_nss[0]))

/* The leader's namespaces, read once for all its threads (0: the kernel has no such one) */
struct leader_ns {
	ino_t ino[NR_THREAD_NSS];
};

static void leader_ns_read(pid_t pid, struct leader_ns *l)
{
	char path[64];
	struct stat st;

	for (size_t i = 0; i < NR_THREAD_NSS; i++) {
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, thread_nss[i]);
		l->ino[i] = stat(path, &st) ? 0 : st.st_ino;
	}
}

static int check_thread_apart(pid_t pid, pid_t tid, const struct proc_status *leader, const struct leader_ns *l)
{
	char a[64], b[64];
	struct proc_status ts;
	struct stat st;

	if (syscall(SYS_kcmp, pid, tid, KCMP_FILES, 0, 0) > 0)
		return pr_err("pid %d: thread %d has a file descriptor table of its own (unshare(CLONE_FILES)): "
			      "not supported", pid, tid), -EOPNOTSUPP;
	if (syscall(SYS_kcmp, pid, tid, KCMP_FS, 0, 0) > 0) {
		snprintf(a, sizeof(a), "/proc/%d/cwd", pid);
		snprintf(b, sizeof(b), "/proc/%d/cwd", tid);
		bool cwd = same_inode(a, b);
		snprintf(a, sizeof(a), "/proc/%d/root", pid);
		snprintf(b, sizeof(b), "/proc/%d/root", tid);
		bool root = same_inode(a, b);
		if (proc_parse_status(tid, &ts))
			return -EIO;
		if (!cwd || !root || leader->umask != ts.umask)
			return pr_err("pid %d: thread %d has a %s of its own (unshare(CLONE_FS)): not supported", pid, tid,
				      !cwd ? "working directory" : !root ? "root directory" : "umask"), -EOPNOTSUPP;
	}
	/* (nsfs inodes: one device for all) */
	for (size_t i = 0; i < NR_THREAD_NSS; i++) {
		snprintf(b, sizeof(b), "/proc/%d/ns/%s", tid, thread_nss[i]);
		if (!l->ino[i] || stat(b, &st) || st.st_ino == l->ino[i])
			continue;
		return pr_err("pid %d: thread %d is in a %s namespace of its own (setns or unshare in one thread): "
			      "not supported", pid, tid, thread_nss[i]), -EOPNOTSUPP;
	}
	return 0;
}

/* A thread other than the leader: its registers straight from ptrace. */
static int dump_other_thread(pid_t pid, pid_t tid, const struct proc_status *leader, const struct leader_ns *l,
			     ThreadEntry *te)
{
	arch_regs_t regs;
	void *xs = NULL;
	size_t xlen;
	uint64_t mask;
	int ret;

	if ((ret = check_thread_apart(pid, tid, leader, l)) || (ret = arch_get_regs(tid, &regs)) ||
	    (ret = arch_get_xstate(tid, &xs, &xlen)))
		return ret;
	if (ptrace(PTRACE_GETSIGMASK, tid, sizeof(mask), &mask))
		ret = pr_perror("can't get the signal mask of %d (PTRACE_GETSIGMASK)", tid);
	else
		ret = dump_thread(pid, tid, &regs, xs, xlen, mask, te);
	free(xs);
	return ret;
}

/* Credentials as /proc/TID/status shows them, the ids as the task sees them (in
 * the tree's own user namespace). */
static int creds_from_status(const struct proc_status *st, pid_t pid, CredsEntry **out)
{
	CredsEntry *cr = *out = malloc(sizeof(*cr));

	if (!cr)
		return -ENOMEM;
	creds_entry__init(cr);
	cr->uid = st->uid[0]; cr->euid = st->uid[1];
	cr->suid = st->uid[2]; cr->fsuid = st->uid[3];
	cr->gid = st->gid[0]; cr->egid = st->gid[1];
	cr->sgid = st->gid[2]; cr->fsgid = st->gid[3];
	cr->n_groups = st->ngroups;
	cr->groups = malloc(sizeof(uint32_t) * (st->ngroups + 1));
	if (!cr->groups)
		return -ENOMEM;
	memcpy(cr->groups, st->groups, sizeof(uint32_t) * st->ngroups);
	cr->cap_inh = st->cap_inh; cr->cap_prm = st->cap_prm;
	cr->cap_eff = st->cap_eff; cr->cap_bnd = st->cap_bnd;
	cr->has_cap_amb = true;
	cr->cap_amb = st->cap_amb;
	return userns_creds_inside(cr, pid);
}

/* The ids, groups and capabilities as /proc shows them: the same raw values make
 * the same translated creds (creds_from_status), so no translation is needed to compare. */
static bool status_creds_same(const struct proc_status *a, const struct proc_status *b)
{
	return !memcmp(a->uid, b->uid, sizeof(a->uid)) && !memcmp(a->gid, b->gid, sizeof(a->gid)) &&
	       a->ngroups == b->ngroups && !memcmp(a->groups, b->groups, a->ngroups * sizeof(a->groups[0])) &&
	       a->cap_inh == b->cap_inh && a->cap_prm == b->cap_prm && a->cap_eff == b->cap_eff &&
	       a->cap_bnd == b->cap_bnd && a->cap_amb == b->cap_amb && a->no_new_privs == b->no_new_privs;
}

/* A thread's credentials are its own (set*id and capset act on the calling
 * thread; glibc makes every thread follow, a raw syscall does not): kept on the
 * thread where they differ from the leader's, or its no_new_privs does. */
static int dump_thread_creds(pid_t pid, pid_t tid, const struct proc_status *leader, ThreadEntry *te)
{
	struct proc_status st;
	CredsEntry *cr;
	int ret;

	if (proc_parse_status(tid, &st))
		return -EIO;
	if (status_creds_same(&st, leader))
		return 0;
	if ((ret = creds_from_status(&st, pid, &cr))) {
		img_free_msg(cr ? &cr->base : NULL);
		return ret;
	}
	cr->has_no_new_privs = true;
	cr->no_new_privs = st.no_new_privs > 0;
	te->creds = cr;
	return 0;
}

int core_dump_seized(const struct seized *s, struct infect_ctx *ctx, CoreEntry **out)
{
	struct proc_rlimit lim[PROC_NR_RLIMITS];
	CoreEntry *c = calloc(1, sizeof(*c));
	char *pers;
	int ret;

	if (!c)
		return -ENOMEM;
	*out = c;
	core_entry__init(c);
	c->pid = s->pid;
	pers = read_proc(s->pid, "personality", NULL);
	if (!pers)
		return pr_perror("can't read /proc/%d/personality", s->pid);
	c->personality = strtoul(pers, NULL, 16);
	free(pers);
	c->umask = s->status.umask < 0 ? 022 : s->status.umask;
	c->exit_signal = s->stat.exit_signal;

	if ((ret = creds_from_status(&s->status, s->pid, &c->creds)))
		return ret;

	/* limits from /proc: prlimit() on another process needs CAP_SYS_RESOURCE here */
	if ((ret = proc_parse_limits(s->pid, lim)))
		return ret;
	c->rlimits = calloc(PROC_NR_RLIMITS, sizeof(*c->rlimits));
	if (!c->rlimits)
		return -ENOMEM;
	for (int i = 0; i < PROC_NR_RLIMITS; i++) {
		RlimitEntry *r = c->rlimits[i] = malloc(sizeof(*r));
		if (!r)
			return -ENOMEM;
		c->n_rlimits++;
		rlimit_entry__init(r);
		r->resource = i;
		r->cur = lim[i].cur;
		r->max = lim[i].max;
	}
	if ((ret = attrs_dump_process(s->pid, c)))
		return ret;
	c->has_stop_signal = s->stop_sig != 0;
	c->stop_signal = s->stop_sig;

	struct leader_ns lns;
	if (s->nr_threads > 1)
		leader_ns_read(s->pid, &lns);
	c->threads = calloc(s->nr_threads, sizeof(*c->threads));
	if (!c->threads)
		return -ENOMEM;
	for (int i = 0; i < s->nr_threads; i++) {
		ThreadEntry *te = c->threads[i] = malloc(sizeof(ThreadEntry));
		if (!te)
			return -ENOMEM;
		thread_entry__init(te);   /* freed as one if the dump fails before it is filled */
		c->n_threads++;
		ret = i ? dump_other_thread(s->pid, s->tids[i], &s->status, &lns, te)
			: dump_thread(s->pid, s->pid, &ctx->orig_regs, ctx->orig_xstate, ctx->orig_xstate_len,
				      ctx->orig_sigmask, te);
		if (!ret && i)
			ret = dump_thread_creds(s->pid, s->tids[i], &s->status, te);
		if (ret)
			return ret;
	}
	return 0;
}

int core_dump_misc(CoreEntry *c, const struct parasite_misc *misc)
{
	CredsEntry *cr = c->creds;

	c->has_dumpable = true;
	c->dumpable = misc->dumpable;
	c->has_pdeath_sig = c->has_child_subreaper = true;
	c->pdeath_sig = misc->pdeath_sig;
	c->child_subreaper = misc->child_subreaper;
	if (misc->want_ns_last_pid && misc->ns_last_pid >= 0) {
		c->has_ns_last_pid = true;
		c->ns_last_pid = misc->ns_last_pid;
	}
	attrs_from_misc(c, misc);
	cr->has_securebits = cr->has_no_new_privs = true;
	cr->securebits = misc->securebits;
	cr->no_new_privs = misc->no_new_privs;
	c->threads[0]->has_clear_child_tid = true;
	c->threads[0]->clear_child_tid = misc->tid_address;
	c->sigactions = calloc(64, sizeof(*c->sigactions));
	if (!c->sigactions)
		return -ENOMEM;
	for (int sig = 1; sig <= 64; sig++) {
		const struct parasite_sigaction *ps = &misc->sigactions[sig - 1];
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		SigactionEntry *sa = c->sigactions[c->n_sigactions] = malloc(sizeof(*sa));
		if (!sa)
			return -ENOMEM;
		c->n_sigactions++;
		sigaction_entry__init(sa);
		sa->sig = sig;
		sa->handler = ps->handler;
		sa->flags = ps->flags;
		sa->restorer = ps->restorer;
		sa->mask = ps->mask;
	}
	c->itimers = calloc(3, sizeof(*c->itimers));
	if (!c->itimers)
		return -ENOMEM;
	for (int w = 0; w < 3; w++) {
		ItimerEntry *it = c->itimers[w] = malloc(sizeof(*it));
		if (!it)
			return -ENOMEM;
		c->n_itimers++;
		itimer_entry__init(it);
		it->which = w;
		it->isec = misc->itimers[w][0]; it->iusec = misc->itimers[w][1];
		it->vsec = misc->itimers[w][2]; it->vusec = misc->itimers[w][3];
	}
	if (misc->altstack_sp || misc->altstack_flags) {
		AltstackEntry *as = c->threads[0]->altstack = malloc(sizeof(*as));
		if (!as)
			return -ENOMEM;
		altstack_entry__init(as);
		as->sp = misc->altstack_sp;
		as->size = misc->altstack_size;
		as->flags = misc->altstack_flags;
	}
	return 0;
}

/* What only a thread itself can tell: its clear_child_tid address and signal
 * stack, by a remote syscall in each thread but the leader (the parasite told
 * the leader's).  Results land in the parasite's shared scratch words. */
int core_dump_thread_misc(CoreEntry *c, const struct seized *s, struct infect_ctx *ctx)
{
	volatile uint64_t *scratch = ctx->args->thread_scratch;
	uint64_t remote = infect_scratch_remote(ctx);
	long r;
	int ret;

	for (size_t i = 1; i < c->n_threads; i++) {
		ThreadEntry *te = c->threads[i];

		scratch[0] = 0;
		if ((ret = infect_thread_syscall(ctx, s->tids[i], __NR_prctl, &r, PR_GET_TID_ADDRESS, remote, 0)))
			return ret;
		if (r)
			return pr_err("prctl(PR_GET_TID_ADDRESS) in thread %u: %s", te->tid, strerror(-r)), -EIO;
		te->has_clear_child_tid = true;
		te->clear_child_tid = scratch[0];
		if ((ret = infect_thread_syscall(ctx, s->tids[i], __NR_sigaltstack, &r, 0, remote, 0)))
			return ret;
		if (r)
			return pr_err("sigaltstack in thread %u: %s", te->tid, strerror(-r)), -EIO;
		/* stack_t: ss_sp, ss_flags (int + pad), ss_size */
		if (scratch[0] || (uint32_t)scratch[1] != 2 /* SS_DISABLE */) {
			AltstackEntry *as = te->altstack = malloc(sizeof(*as));
			if (!as)
				return -ENOMEM;
			altstack_entry__init(as);
			as->sp = scratch[0];
			as->flags = (uint32_t)scratch[1];
			as->size = scratch[2];
		}
		if ((ret = infect_thread_syscall(ctx, s->tids[i], __NR_prctl, &r, PR_GET_TIMERSLACK, 0, 0)))
			return ret;
		if (r < 0)
			return pr_err("prctl(PR_GET_TIMERSLACK) in thread %u: %s", te->tid, strerror(-r)), -EIO;
		te->has_timer_slack_ns = true;
		te->timer_slack_ns = r;
	}
	return 0;
}

static void free_pending(SiginfoEntry ***si, size_t *n)
{
	for (size_t i = 0; i < *n; i++) {
		free((*si)[i]->siginfo.data);
		free((*si)[i]);
	}
	free(*si);
	*si = NULL;
	*n = 0;
}

int core_dump_pending(CoreEntry *c, const struct seized *s)
{
	int ret;

	for (size_t i = 0; i < c->n_threads; i++) {
		ThreadEntry *te = c->threads[i];

		free_pending(&te->pending, &te->n_pending);
		if ((ret = dump_pending(s->tids[i], false, &te->pending, &te->n_pending)))
			return ret;
	}
	free_pending(&c->shared_pending, &c->n_shared_pending);
	return dump_pending(s->pid, true, &c->shared_pending, &c->n_shared_pending);
}

void core_free(CoreEntry *c)
{
	/* Built by hand with malloc, or unpacked: both free the same way. */
	if (c)
		protobuf_c_message_free_unpacked(&c->base, NULL);
}

static int validate_pending(pid_t pid, SiginfoEntry **si, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (si[i]->siginfo.len != 128)
			return pr_err("core-%d.img: malformed queued signal", pid), -EINVAL;
	return 0;
}

int core_validate(const CoreEntry *c, pid_t pid)
{
	size_t queued = c->n_shared_pending;
	int ret;

	if (c->pid != (uint32_t)pid)
		return pr_err("core-%d.img belongs to pid %u", pid, c->pid), -EINVAL;
	if (c->n_threads < 1 || c->n_threads > CORE_MAX_THREADS || c->threads[0]->tid != (uint32_t)pid)
		return pr_err("core-%d.img: %zu threads, the first of them not the leader (at most %d)", pid,
			      c->n_threads, CORE_MAX_THREADS), -EINVAL;
	if (c->creds->n_groups > 64)
		return pr_err("core-%d.img: %zu supplementary groups (at most 64)", pid, c->creds->n_groups), -EINVAL;
	for (size_t i = 0; i < c->n_threads; i++)
		if (c->threads[i] && c->threads[i]->creds && c->threads[i]->creds->n_groups > 64)
			return pr_err("core-%d.img: thread %zu has %zu supplementary groups (at most 64)", pid, i,
				      c->threads[i]->creds->n_groups), -EINVAL;
	for (size_t i = 0; i < c->n_sigactions; i++)
		if (c->sigactions[i]->sig < 1 || c->sigactions[i]->sig > 64)
			return pr_err("core-%d.img: sigaction for bad signal %u", pid, c->sigactions[i]->sig), -EINVAL;
	for (size_t i = 0; i < c->n_rlimits; i++)
		if (c->rlimits[i]->resource >= RLIM_NLIMITS)
			return pr_err("core-%d.img: bad rlimit %u", pid, c->rlimits[i]->resource), -EINVAL;
	for (size_t i = 0; i < c->n_itimers; i++)
		if (c->itimers[i]->which > 2 || c->itimers[i]->iusec >= 1000000 || c->itimers[i]->vusec >= 1000000)
			return pr_err("core-%d.img: malformed interval timer", pid), -EINVAL;
	if (c->has_pdeath_sig && c->pdeath_sig > 64)
		return pr_err("core-%d.img: pdeath signal %u", pid, c->pdeath_sig), -EINVAL;
	if (c->has_stop_signal && c->stop_signal > 64)
		return pr_err("core-%d.img: stopped by signal %u", pid, c->stop_signal), -EINVAL;
	if (c->has_ns_last_pid && c->ns_last_pid >= (1U << 22))
		return pr_err("core-%d.img: its pid namespace's last PID %u is beyond any pid_max", pid, c->ns_last_pid),
		       -EINVAL;
	if ((ret = validate_pending(pid, c->shared_pending, c->n_shared_pending)) || (ret = attrs_validate(c, pid)))
		return ret;
	for (size_t t = 0; t < c->n_threads; t++) {
		const ThreadEntry *te = c->threads[t];
		if (!te->tid || te->tid > (1U << 22))
			return pr_err("core-%d.img: thread %zu has a bad TID %u", pid, t, te->tid), -EINVAL;
		for (size_t u = 0; u < t; u++)
			if (c->threads[u]->tid == te->tid)
				return pr_err("core-%d.img: TID %u twice", pid, te->tid), -EINVAL;
		if (strcmp(te->arch, ARCH_NAME))
			return pr_err("core-%d.img holds %s registers; this is %s", pid, te->arch, ARCH_NAME), -EINVAL;
		if (te->sched && (te->sched->policy & ~0x40000000u) > 7)
			return pr_err("core-%d.img: thread %u has scheduling policy %u", pid, te->tid,
				      te->sched->policy), -EINVAL;
		queued += te->n_pending;
		if ((ret = validate_pending(pid, te->pending, te->n_pending)) ||
		    (ret = arch_thread_validate(te)))
			return ret;
	}
	if (queued > MAX_QUEUED_SIGNALS)
		return pr_err("core-%d.img: too many queued signals", pid), -EINVAL;
	return 0;
}

int core_restore_early(const CoreEntry *c)
{
	umask(c->umask);
	if (personality(c->personality) < 0)
		return pr_perror("can't set personality 0x%x", c->personality);
	for (size_t i = 0; i < c->n_rlimits; i++) {
		const RlimitEntry *r = c->rlimits[i];
		struct rlimit rl = { r->cur, r->max };

		if (setrlimit(r->resource, &rl) == 0)
			continue;
		/* Raising a hard limit needs CAP_SYS_RESOURCE: keep ours, but never above the image's soft. */
		struct rlimit cur;
		getrlimit(r->resource, &cur);
		if (errno == EPERM && r->max > cur.rlim_max) {
			pr_warn("rlimit %u: can't raise the hard limit to %lu (no CAP_SYS_RESOURCE); keeping %lu",
				r->resource, (unsigned long)r->max, (unsigned long)cur.rlim_max);
			rl.rlim_max = cur.rlim_max;
			if (rl.rlim_cur > rl.rlim_max)
				rl.rlim_cur = rl.rlim_max;
			if (!setrlimit(r->resource, &rl))
				continue;
		}
		return pr_perror("can't set rlimit %u to %lu/%lu", r->resource, (unsigned long)r->cur,
				 (unsigned long)r->max);
	}
	return 0;
}

static void siginfo_to_args(SiginfoEntry **si, size_t n, struct rst_siginfo *out)
{
	for (size_t i = 0; i < n; i++) {
		out[i].shared = si[i]->shared;
		memcpy(out[i].info, si[i]->siginfo.data, 128);
	}
}

static int thread_args(const ThreadEntry *te, struct rst_thread *t, struct restorer_args *a,
		       struct rst_siginfo *si, const struct core_thread_area *area)
{
	int ret;

	t->tid = te->tid;
	t->args = (uint64_t)a;
	t->siginfo = (uint64_t)si;
	t->nr_siginfo = te->n_pending;
	siginfo_to_args(te->pending, te->n_pending, si);
	if (te->altstack) {
		t->altstack_sp = te->altstack->sp;
		t->altstack_size = te->altstack->size;
		t->altstack_flags = te->altstack->flags;
	}
	if (te->has_robust_list) {
		t->robust_list = te->robust_list;
		t->robust_list_len = te->robust_list_len;
	}
	if (te->rseq) {
		t->has_rseq = 1;
		t->rseq_ptr = te->rseq->rseq_abi_pointer;
		t->rseq_len = te->rseq->rseq_abi_size;
		t->rseq_sig = te->rseq->signature;
	}
	if (te->sched) {
		t->has_sched = 1;
		t->sched_policy = te->sched->policy;
		t->sched_prio = te->sched->prio;
		t->nice = te->sched->nice;
	}
	snprintf(t->comm, sizeof(t->comm), "%s", te->comm);
	if ((ret = attrs_restorer_thread(te, t)))
		return ret;
	t->clear_child_tid = te->has_clear_child_tid ? te->clear_child_tid : 0;
	arch_tls_from_image(te, t->tls);
	t->stack_top = (uint64_t)area->stack + RESTORER_THREAD_STACK;
	/* Every signal stays blocked through sigreturn until libcr detaches and sets the real mask. */
	t->sigframe = arch_build_sigframe(area->frame, area->frame_len, (uint64_t)area->frame, te, ~0ULL);
	if (!t->sigframe)
		return pr_err("no room for the signal frame of thread %u", te->tid), -ENOSPC;
	return 0;
}

int core_restorer_args(const CoreEntry *c, struct restorer_args *a, struct rst_thread *threads,
		       struct rst_siginfo *si, const struct core_thread_area *areas)
{
	const CredsEntry *cr = c->creds;
	int ret;

	for (size_t i = 0; i < c->n_sigactions; i++) {
		const SigactionEntry *s = c->sigactions[i];
		struct rst_sigaction *d = &a->sigactions[s->sig - 1];
		d->handler = s->handler; d->flags = s->flags; d->restorer = s->restorer; d->mask = s->mask;
	}
	for (size_t i = 0; i < c->n_itimers; i++) {
		const ItimerEntry *it = c->itimers[i];
		a->itimers[it->which][0] = it->isec; a->itimers[it->which][1] = it->iusec;
		a->itimers[it->which][2] = it->vsec; a->itimers[it->which][3] = it->vusec;
		/* ITIMER_REAL reads 0 left while its SIGALRM is pending (it re-arms when the
		 * signal is taken); setitimer with 0 would disarm it: let it expire at once. */
		if (it->which == ITIMER_REAL && !it->vsec && !it->vusec && (it->isec || it->iusec))
			a->itimers[it->which][3] = 1;
	}
	a->dumpable = c->has_dumpable ? c->dumpable : 1;
	a->pdeath_sig = c->has_pdeath_sig ? c->pdeath_sig : 0;
	attrs_restorer_process(c, a);
	a->pid = c->pid;
	a->siginfo = (uint64_t)si;
	a->nr_siginfo = c->n_shared_pending;
	siginfo_to_args(c->shared_pending, c->n_shared_pending, si);
	si += c->n_shared_pending;
	a->threads = (uint64_t)threads;
	a->nr_threads = c->n_threads;
	for (size_t i = 0; i < c->n_threads; i++) {
		if ((ret = thread_args(c->threads[i], &threads[i], a, si, &areas[i])))
			return ret;
		si += c->threads[i]->n_pending;
	}

	a->creds.uid = cr->uid; a->creds.euid = cr->euid; a->creds.suid = cr->suid; a->creds.fsuid = cr->fsuid;
	a->creds.gid = cr->gid; a->creds.egid = cr->egid; a->creds.sgid = cr->sgid; a->creds.fsgid = cr->fsgid;
	a->creds.ngroups = cr->n_groups;
	memcpy(a->creds.groups, cr->groups, cr->n_groups * sizeof(uint32_t));
	a->creds.cap_inh = cr->cap_inh; a->creds.cap_prm = cr->cap_prm;
	a->creds.cap_eff = cr->cap_eff; a->creds.cap_bnd = cr->cap_bnd;
	a->creds.cap_amb = cr->has_cap_amb ? cr->cap_amb : 0;
	a->creds.securebits = cr->has_securebits ? cr->securebits : 0;
	a->creds.no_new_privs = cr->has_no_new_privs && cr->no_new_privs;
	/* this task has the caller's credentials: what they allow the restorer to do */
	struct privs p;
	if ((ret = privs_get(&p)))
		return ret;
	a->creds.flags = privs_restorer_flags(&p, cr);
	/* a user namespace whose setgroups is "deny" keeps the groups it was made with */
	if (userns_setgroups_denied())
		a->creds.flags &= ~RST_CREDS_GROUPS;
	a->creds.last_cap = p.last_cap < 0 ? 40 : p.last_cap;
	/* a thread with credentials of its own: the process's securebits, its own ids and capabilities */
	for (size_t i = 0; i < c->n_threads; i++) {
		const CredsEntry *tc = c->threads[i]->creds;
		struct rst_creds *d = &threads[i].creds;
		if (!tc)
			continue;
		threads[i].has_creds = 1;
		*d = a->creds;
		d->uid = tc->uid; d->euid = tc->euid; d->suid = tc->suid; d->fsuid = tc->fsuid;
		d->gid = tc->gid; d->egid = tc->egid; d->sgid = tc->sgid; d->fsgid = tc->fsgid;
		d->ngroups = tc->n_groups;
		memcpy(d->groups, tc->groups, tc->n_groups * sizeof(uint32_t));
		d->cap_inh = tc->cap_inh; d->cap_prm = tc->cap_prm; d->cap_eff = tc->cap_eff; d->cap_bnd = tc->cap_bnd;
		d->cap_amb = tc->has_cap_amb ? tc->cap_amb : 0;
		if (tc->has_no_new_privs)
			d->no_new_privs = tc->no_new_privs;
		d->flags = privs_restorer_flags(&p, tc);
		if (userns_setgroups_denied())
			d->flags &= ~RST_CREDS_GROUPS;
	}
	privs_free(&p);
	return 0;
}

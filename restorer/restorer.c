/* The restorer: the last code the restored task runs before it becomes itself.
 * libcr's memory is unmapped here, the premapped areas move to their final
 * addresses, the per-task kernel state that needs the final address space is set,
 * and rt_sigreturn loads the saved registers.  Freestanding: no libc. */
#include "sys.h"
#include "restorer-args.h"
#include "restorer-arch.h"

#include "blob-lib.c.inc"

#define MREMAP_MAYMOVE 1
#define MREMAP_FIXED 2
#define PR_SET_DUMPABLE 4
#define PR_SET_KEEPCAPS 8
#define PR_CAPBSET_DROP 24
#define PR_SET_SECUREBITS 28
#define PR_SET_NO_NEW_PRIVS 38
#define PR_SET_MM 35
#define PR_SET_MM_MAP 14
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#define SECBIT_KEEP_CAPS 0x10

#define PR_SET_NAME 15
#define PR_SET_PDEATHSIG 1
#define PR_SET_TIMERSLACK 29
#define PR_SET_MDWE 65
#define IOPRIO_WHO_PROCESS 1
#define MLOCK_ONFAULT 1
#define CLONE_THREAD_FLAGS 0x50f00   /* VM FS FILES SIGHAND THREAD SYSVSEM */
#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define PRIO_PROCESS 0

/* Steps, reported in a result field so that libcr can say what failed. */
enum {
	STEP_VDSO_PARK = 1, STEP_UNMAP, STEP_MOVE_VMA, STEP_VDSO_PLACE, STEP_UNMAP_PREMAP,
	STEP_MM_MAP, STEP_SIGACTION, STEP_ITIMER, STEP_ALTSTACK, STEP_RSEQ, STEP_TLS,
	STEP_ROBUST, STEP_SIGQUEUE, STEP_CREDS, STEP_DUMPABLE, STEP_CLONE_THREAD, STEP_SCHED,
	STEP_POSIX_TIMERS, STEP_SECCOMP, STEP_AFFINITY, STEP_IOPRIO, STEP_TIMERSLACK, STEP_MDWE, STEP_MLOCK,
	STEP_MLOCKALL,
};

struct clone_args {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
		set_tid_size, cgroup;
};

static void __attribute__((noreturn)) fail(int64_t *result, int step, long err)
{
	*result = ((int64_t)step << 32) | (uint32_t)(-err);
	/* libcr traces us: the trap hands control back with the result set. */
	for (;;) {
		arch_trap();
		sys_exit_group(127);
	}
}

#define CHECK(res, step, expr) do { long __r = (expr); if (__r < 0) fail(res, step, __r); } while (0)
/* a process-wide step */
#define CHECK_P(a, step, expr) CHECK(&(a)->result, step, expr)

/* Unmap everything outside [keep_start, keep_end) pairs, given sorted and disjoint. */
static void unmap_others(struct restorer_args *a)
{
	uint64_t keep[2][2] = { { a->rst_start, a->rst_start + a->rst_len },
				{ a->premap_start, a->premap_start + a->premap_len } };
	uint64_t pos = 0x1000;  /* mmap_min_addr is at least one page */

	if (keep[0][0] > keep[1][0]) {
		uint64_t t0 = keep[0][0], t1 = keep[0][1];
		keep[0][0] = keep[1][0]; keep[0][1] = keep[1][1];
		keep[1][0] = t0; keep[1][1] = t1;
	}
	for (int i = 0; i < 2; i++) {
		if (keep[i][0] == keep[i][1])
			continue;
		if (keep[i][0] > pos)
			CHECK_P(a, STEP_UNMAP, sys_munmap((void *)pos, keep[i][0] - pos));
		if (keep[i][1] > pos)
			pos = keep[i][1];
	}
	if (a->task_size > pos)
		CHECK_P(a, STEP_UNMAP, sys_munmap((void *)pos, a->task_size - pos));
}

/* A thread's step failed: report it, and let the leader go on to its trap (it
 * waits for every thread) so that libcr sees the failure. */
static void __attribute__((noreturn)) thread_fail(struct restorer_args *a, struct rst_thread *t, int step, long err)
{
	t->result = ((int64_t)step << 32) | (uint32_t)(-err);
	if (t != (struct rst_thread *)a->threads) {
		__atomic_fetch_add(&a->threads_done, 1, __ATOMIC_SEQ_CST);
		SC(__NR_futex, &a->threads_done, FUTEX_WAKE, 1, 0, 0, 0);
	}
	fail(&t->result, step, err);
}

#define CHECK_T(a, t, step, expr) do { long __r = (expr); if (__r < 0) thread_fail(a, t, step, __r); } while (0)

static void restore_creds(struct restorer_args *a, struct rst_thread *t)
{
	struct rst_creds *c = t->has_creds ? &t->creds : &a->creds;
	struct { uint32_t version; int pid; } hdr = { 0x20080522, 0 };  /* _LINUX_CAPABILITY_VERSION_3 */
	struct { uint32_t eff, prm, inh; } data[2];

	/* Keep capabilities across the uid change, then set them exactly.  The
	 * bounding set shrinks first, while we still have CAP_SETPCAP; a change of
	 * uid to non-root empties the effective set, so it is raised again to the
	 * kept permitted set until the securebits are final (that needs CAP_SETPCAP).
	 * A caller without CAP_SETPCAP (or CAP_SETGID) has the image's securebits,
	 * bounding set (and groups) already: libcr checked; only keep-caps moves. */
	uint32_t setpcap = c->flags & RST_CREDS_SETPCAP, keepcaps = !(c->flags & RST_CREDS_KEEPCAPS_LOCKED);

	if (setpcap) {
		CHECK_T(a, t, STEP_CREDS, sys_prctl(PR_SET_SECUREBITS, c->securebits | SECBIT_KEEP_CAPS, 0, 0, 0));
		for (uint32_t cap = 0; cap <= c->last_cap && cap < 64; cap++)
			if (!(c->cap_bnd & (1ULL << cap)))
				CHECK_T(a, t, STEP_CREDS, sys_prctl(PR_CAPBSET_DROP, cap, 0, 0, 0));
	} else if (keepcaps) {
		CHECK_T(a, t, STEP_CREDS, sys_prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0));
	}
	if (c->flags & RST_CREDS_GROUPS)
		CHECK_T(a, t, STEP_CREDS, sys_setgroups(c->ngroups, c->groups));
	CHECK_T(a, t, STEP_CREDS, sys_setresgid(c->gid, c->egid, c->sgid));
	sys_setfsgid(c->fsgid);
	CHECK_T(a, t, STEP_CREDS, sys_setresuid(c->uid, c->euid, c->suid));
	sys_setfsuid(c->fsuid);
	CHECK_T(a, t, STEP_CREDS, sys_capget(&hdr, data));
	data[0].eff = data[0].prm; data[1].eff = data[1].prm;
	CHECK_T(a, t, STEP_CREDS, sys_capset(&hdr, data));
	if (setpcap)
		CHECK_T(a, t, STEP_CREDS, sys_prctl(PR_SET_SECUREBITS, c->securebits, 0, 0, 0));
	else if (keepcaps)
		CHECK_T(a, t, STEP_CREDS, sys_prctl(PR_SET_KEEPCAPS, !!(c->securebits & SECBIT_KEEP_CAPS), 0, 0, 0));
	data[0].eff = c->cap_eff; data[1].eff = c->cap_eff >> 32;
	data[0].prm = c->cap_prm; data[1].prm = c->cap_prm >> 32;
	data[0].inh = c->cap_inh; data[1].inh = c->cap_inh >> 32;
	CHECK_T(a, t, STEP_CREDS, sys_capset(&hdr, data));
	CHECK_T(a, t, STEP_CREDS, sys_prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0));
	for (uint32_t cap = 0; cap <= c->last_cap && cap < 64; cap++)
		if (c->cap_amb & (1ULL << cap))
			CHECK_T(a, t, STEP_CREDS, sys_prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0));
	if (c->no_new_privs)
		CHECK_T(a, t, STEP_CREDS, sys_prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
}

#define SECCOMP_SET_MODE_STRICT 0
#define SECCOMP_SET_MODE_FILTER 1
#define SECCOMP_FILTER_FLAG_TSYNC 1
#define CAP_SYS_ADMIN 21

/* Installing a filter needs no_new_privs or CAP_SYS_ADMIN: with neither among
 * the final creds, the filters go in before them.  Either way libcr traces us
 * with PTRACE_O_SUSPEND_SECCOMP, so they never see the rest of the restore. */
static int seccomp_early(const struct restorer_args *a)
{
	return !a->creds.no_new_privs && !(a->creds.cap_eff & (1ULL << CAP_SYS_ADMIN));
}

static void install_filters(struct restorer_args *a, struct rst_thread *t, uint32_t flags)
{
	const struct rst_seccomp_filter *f = (const struct rst_seccomp_filter *)t->seccomp;

	for (uint32_t i = 0; t->seccomp_mode == 2 && i < t->nr_seccomp; i++) {
		struct { uint16_t len; uint16_t pad[3]; uint64_t filter; } prog = { (uint16_t)f[i].len, { 0 }, f[i].prog };
		long r = SC(__NR_seccomp, SECCOMP_SET_MODE_FILTER, f[i].flags | flags, &prog, 0, 0, 0);
		/* with TSYNC, a positive result names a thread that could not follow */
		CHECK_T(a, t, STEP_SECCOMP, r > 0 ? -16 /* EBUSY */ : r);
	}
}

/* Strict mode last of all: only read, write, exit and sigreturn are left after it. */
static void install_strict(struct restorer_args *a, struct rst_thread *t)
{
	if (t->seccomp_mode == 1)
		CHECK_T(a, t, STEP_SECCOMP, SC(__NR_seccomp, SECCOMP_SET_MODE_STRICT, 0, 0, 0, 0, 0));
}

/* What each thread sets for itself, the leader included; creds last (they may
 * take away the right to do the rest). */
static void restore_thread(struct restorer_args *a, struct rst_thread *t)
{

	if (t->altstack_sp || t->altstack_flags) {
		struct { uint64_t sp; int32_t flags; int32_t pad; uint64_t size; } ss = {
			t->altstack_sp, t->altstack_flags & ~1 /* SS_ONSTACK is state, not a flag */, 0, t->altstack_size };
		CHECK_T(a, t, STEP_ALTSTACK, SC(__NR_sigaltstack, &ss, 0, 0, 0, 0, 0));
	}
	if (t->has_rseq)
		CHECK_T(a, t, STEP_RSEQ, sys_rseq((void *)t->rseq_ptr, t->rseq_len, 0, t->rseq_sig));
	CHECK_T(a, t, STEP_TLS, arch_restore_tls(t));
	sys_set_tid_address((void *)t->clear_child_tid);
	if (t->robust_list)
		CHECK_T(a, t, STEP_ROBUST, SC(__NR_set_robust_list, t->robust_list, t->robust_list_len, 0, 0, 0, 0));
	if (t->comm[0])
		sys_prctl(PR_SET_NAME, (unsigned long)t->comm, 0, 0, 0);
	if (t->has_sched) {
		int prio = t->sched_prio;
		CHECK_T(a, t, STEP_SCHED, SC(__NR_sched_setscheduler, 0, t->sched_policy, &prio, 0, 0, 0));
		CHECK_T(a, t, STEP_SCHED, SC(__NR_setpriority, PRIO_PROCESS, 0, t->nice, 0, 0, 0));
	}
	if (t->cpu_mask_len)
		CHECK_T(a, t, STEP_AFFINITY, SC(__NR_sched_setaffinity, 0, t->cpu_mask_len, t->cpu_mask, 0, 0, 0));
	if (t->has_ioprio)
		CHECK_T(a, t, STEP_IOPRIO, SC(__NR_ioprio_set, IOPRIO_WHO_PROCESS, 0, t->ioprio, 0, 0, 0));
	/* after the policy: a real-time thread keeps no slack, and the kernel ignores this for it */
	if (t->timer_slack_ns)
		CHECK_T(a, t, STEP_TIMERSLACK, sys_prctl(PR_SET_TIMERSLACK, t->timer_slack_ns, 0, 0, 0));
	for (uint32_t i = 0; i < t->nr_siginfo; i++) {
		struct rst_siginfo *si = (struct rst_siginfo *)t->siginfo + i;
		CHECK_T(a, t, STEP_SIGQUEUE, sys_rt_tgsigqueueinfo(a->pid, t->tid, *(int32_t *)si->info, si->info));
	}
	if (seccomp_early(a))
		install_filters(a, t, a->seccomp_tsync ? SECCOMP_FILTER_FLAG_TSYNC : 0);
	restore_creds(a, t);
	if (!seccomp_early(a) && !a->seccomp_tsync)
		install_filters(a, t, 0);
}

/* A cloned thread: its setup, then it tells the leader and becomes itself. */
static void __attribute__((noreturn)) thread_main(struct rst_thread *t)
{
	struct restorer_args *a = (struct restorer_args *)t->args;

	restore_thread(a, t);
	install_strict(a, t);
	__atomic_fetch_add(&a->threads_done, 1, __ATOMIC_SEQ_CST);
	SC(__NR_futex, &a->threads_done, FUTEX_WAKE, 1, 0, 0, 0);
	arch_trap();
	arch_sigreturn(t->sigframe);
}

/* Clone every other thread at its TID; each runs thread_main on its own stack. */
static void clone_threads(struct restorer_args *a)
{
	struct rst_thread *threads = (struct rst_thread *)a->threads;

	for (uint32_t i = 1; i < a->nr_threads; i++) {
		struct rst_thread *t = &threads[i];
		/* in a nested pid namespace: its TID at every level, innermost first */
		int nested = t->nr_set_tid && t->nr_set_tid <= RST_MAX_PID_LEVELS;
		struct clone_args ca = {
			.flags = CLONE_THREAD_FLAGS,
			.stack = t->stack_top - RESTORER_THREAD_STACK,
			.stack_size = RESTORER_THREAD_STACK,
			.set_tid = nested ? (uint64_t)t->set_tid : (uint64_t)&t->tid,
			.set_tid_size = nested ? t->nr_set_tid : 1,
		};
		CHECK_P(a, STEP_CLONE_THREAD, arch_clone_thread(&ca, sizeof(ca), thread_main, t));
	}
}

#define PR_TIMER_CREATE_RESTORE_IDS 77

/* Each POSIX timer at its own id: with PR_TIMER_CREATE_RESTORE_IDS on,
 * timer_create takes the id to use from where it would store the new one.
 * Armed (at absolute times; CPU-time clocks relative) once all exist; signals stay blocked until libcr
 * sets the final masks. */
static void restore_posix_timers(struct restorer_args *a)
{
	if (!a->nr_posix_timers)
		return;
	CHECK_P(a, STEP_POSIX_TIMERS, sys_prctl(PR_TIMER_CREATE_RESTORE_IDS, 1, 0, 0, 0));
	for (uint32_t i = 0; i < a->nr_posix_timers && i < RST_MAX_POSIX_TIMERS; i++) {
		const struct rst_posix_timer *t = &a->posix_timers[i];
		struct { uint64_t value; int32_t signo, notify, tid, pad[11]; } sev = {
			.value = t->sival, .signo = t->signo, .notify = t->notify, .tid = t->tid };
		int32_t id = t->id;

		CHECK_P(a, STEP_POSIX_TIMERS, SC(__NR_timer_create, t->clockid, &sev, &id, 0, 0, 0));
		if (id != t->id)
			fail(&a->result, STEP_POSIX_TIMERS, -16 /* EBUSY */);
	}
	CHECK_P(a, STEP_POSIX_TIMERS, sys_prctl(PR_TIMER_CREATE_RESTORE_IDS, 0, 0, 0, 0));
	for (uint32_t i = 0; i < a->nr_posix_timers && i < RST_MAX_POSIX_TIMERS; i++) {
		const struct rst_posix_timer *t = &a->posix_timers[i];
		struct { int64_t isec, insec, vsec, vnsec; } its = {
			t->interval_sec, t->interval_nsec, t->value_sec, t->value_nsec };

		if (its.vsec || its.vnsec)
			CHECK_P(a, STEP_POSIX_TIMERS, SC(__NR_timer_settime, t->id, t->relative ? 0 : 1 /* TIMER_ABSTIME */,
							       &its, 0, 0, 0));
	}
}

void __attribute__((noreturn)) restorer_main(struct restorer_args *a)
{
	const struct rst_vma *vmas = (const struct rst_vma *)a->vmas;
	struct rst_thread *leader = (struct rst_thread *)a->threads;

	/* 1. Park this kernel's vDSO/vvar inside our region, out of the way of any VMA. */
	for (uint32_t i = 0; i < a->nr_vdso; i++)
		if (a->vdso[i].cur != a->vdso[i].scratch)
			CHECK_P(a, STEP_VDSO_PARK, sys_mremap((void *)a->vdso[i].cur, a->vdso[i].len, a->vdso[i].len,
						       MREMAP_MAYMOVE | MREMAP_FIXED, (void *)a->vdso[i].scratch));
	/* 2. Drop everything libcr had mapped. */
	unmap_others(a);
	/* 3. Move each premapped area to its final address (premap never overlaps one). */
	for (uint32_t i = 0; i < a->nr_vmas; i++) {
		uint64_t len = vmas[i].end - vmas[i].start;
		CHECK_P(a, STEP_MOVE_VMA, sys_mremap((void *)vmas[i].premap, len, len, MREMAP_MAYMOVE | MREMAP_FIXED,
						   (void *)vmas[i].start));
		/* locked where it was (its pages are all in by now, but on-fault ones) */
		if (vmas[i].lock)
			CHECK_P(a, STEP_MLOCK, SC(__NR_mlock2, vmas[i].start, len, vmas[i].lock & 2 ? MLOCK_ONFAULT : 0,
						  0, 0, 0));
	}
	/* 4. The vDSO/vvar go where the image had them (unmapped when the image had none). */
	for (uint32_t i = 0; i < a->nr_vdso; i++) {
		if (a->vdso[i].target)
			CHECK_P(a, STEP_VDSO_PLACE, sys_mremap((void *)a->vdso[i].scratch, a->vdso[i].len,
							  a->vdso[i].len, MREMAP_MAYMOVE | MREMAP_FIXED,
							  (void *)a->vdso[i].target));
		else
			CHECK_P(a, STEP_VDSO_PLACE, sys_munmap((void *)a->vdso[i].scratch, a->vdso[i].len));
	}
	CHECK_P(a, STEP_UNMAP_PREMAP, sys_munmap((void *)a->premap_start, a->premap_len));

	/* 5. mm fields: needs the final layout and the old exe unmapped. */
	CHECK_P(a, STEP_MM_MAP, sys_prctl(PR_SET_MM, PR_SET_MM_MAP, (unsigned long)&a->mm, sizeof(a->mm), 0));
	sys_close(a->mm.exe_fd);

	/* 6. Process-wide state. */
	for (int sig = 1; sig <= 64; sig++) {
		struct sys_sigaction sa;
		if (sig == 9 || sig == 19)
			continue;
		sa.handler = (void *)a->sigactions[sig - 1].handler;
		sa.flags = a->sigactions[sig - 1].flags;
		sa.restorer = (void *)a->sigactions[sig - 1].restorer;
		sa.mask = a->sigactions[sig - 1].mask;
		CHECK_P(a, STEP_SIGACTION, sys_rt_sigaction(sig, &sa, 0));
	}
	for (int w = 0; w < 3; w++) {
		struct sys_itimerval v = {
			{ a->itimers[w][0], a->itimers[w][1] }, { a->itimers[w][2], a->itimers[w][3] } };
		CHECK_P(a, STEP_ITIMER, sys_setitimer(w, &v, 0));
	}
	for (uint32_t i = 0; i < a->nr_siginfo; i++) {
		struct rst_siginfo *si = (struct rst_siginfo *)a->siginfo + i;
		CHECK_P(a, STEP_SIGQUEUE, sys_rt_sigqueueinfo(a->pid, *(int32_t *)si->info, si->info));
	}

	/* 7. The threads (every signal stays blocked in all of them until libcr lets go). */
	clone_threads(a);
	/* once the threads exist (a timer may signal one of them), before the creds */
	restore_posix_timers(a);
	restore_thread(a, leader);
	for (;;) {
		uint32_t done = __atomic_load_n(&a->threads_done, __ATOMIC_SEQ_CST);
		if (done == a->nr_threads - 1)
			break;
		SC(__NR_futex, &a->threads_done, FUTEX_WAIT, done, 0, 0, 0);
	}
	/* once all memory is in place: it forbids making any executable (and is never undone) */
	if (a->mdwe)
		CHECK_P(a, STEP_MDWE, sys_prctl(PR_SET_MDWE, a->mdwe, 0, 0, 0));
	/* what it maps from now on is locked (what it had is locked area by area) */
	if (a->mlockall)
		CHECK_P(a, STEP_MLOCKALL, SC(__NR_mlockall, a->mlockall, 0, 0, 0, 0, 0));
	/* setresuid() in any thread may have cleared it: set it after all of them. */
	CHECK_P(a, STEP_DUMPABLE, sys_prctl(PR_SET_DUMPABLE, a->dumpable, 0, 0, 0));
	CHECK_P(a, STEP_DUMPABLE, sys_prctl(PR_SET_PDEATHSIG, a->pdeath_sig, 0, 0, 0));
	/* a chain all threads share: once, for all of them, now that their creds are final */
	if (a->seccomp_tsync && !seccomp_early(a))
		install_filters(a, leader, SECCOMP_FILTER_FLAG_TSYNC);
	install_strict(a, leader);

	/* 8. Hand over to libcr (it unmaps this region after the sigreturns), then become the task. */
	a->result = 0;
	arch_trap();
	arch_sigreturn(leader->sigframe);
}

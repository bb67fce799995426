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

/* Steps, reported in args->result so that libcr can say what failed. */
enum {
	STEP_VDSO_PARK = 1, STEP_UNMAP, STEP_MOVE_VMA, STEP_VDSO_PLACE, STEP_UNMAP_PREMAP,
	STEP_MM_MAP, STEP_SIGACTION, STEP_ITIMER, STEP_ALTSTACK, STEP_RSEQ, STEP_TLS,
	STEP_ROBUST, STEP_SIGQUEUE, STEP_CREDS, STEP_DUMPABLE,
};

static void __attribute__((noreturn)) fail(struct restorer_args *a, int step, long err)
{
	a->result = ((int64_t)step << 32) | (uint32_t)(-err);
	/* libcr traces us: the trap hands control back with the result set. */
	for (;;) {
		arch_trap();
		sys_exit_group(127);
	}
}

#define CHECK(a, step, expr) do { long __r = (expr); if (__r < 0) fail(a, step, __r); } while (0)

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
			CHECK(a, STEP_UNMAP, sys_munmap((void *)pos, keep[i][0] - pos));
		if (keep[i][1] > pos)
			pos = keep[i][1];
	}
	if (a->task_size > pos)
		CHECK(a, STEP_UNMAP, sys_munmap((void *)pos, a->task_size - pos));
}

static void restore_creds(struct restorer_args *a)
{
	struct rst_creds *c = &a->creds;
	struct { uint32_t version; int pid; } hdr = { 0x20080522, 0 };  /* _LINUX_CAPABILITY_VERSION_3 */
	struct { uint32_t eff, prm, inh; } data[2];

	/* Keep capabilities across the uid change, then set them exactly. */
	CHECK(a, STEP_CREDS, sys_prctl(PR_SET_SECUREBITS, c->securebits | SECBIT_KEEP_CAPS, 0, 0, 0));
	CHECK(a, STEP_CREDS, sys_setgroups(c->ngroups, c->groups));
	CHECK(a, STEP_CREDS, sys_setresgid(c->gid, c->egid, c->sgid));
	sys_setfsgid(c->fsgid);
	CHECK(a, STEP_CREDS, sys_setresuid(c->uid, c->euid, c->suid));
	sys_setfsuid(c->fsuid);
	for (uint32_t cap = 0; cap <= c->last_cap && cap < 64; cap++)
		if (!(c->cap_bnd & (1ULL << cap)))
			CHECK(a, STEP_CREDS, sys_prctl(PR_CAPBSET_DROP, cap, 0, 0, 0));
	data[0].eff = c->cap_eff; data[1].eff = c->cap_eff >> 32;
	data[0].prm = c->cap_prm; data[1].prm = c->cap_prm >> 32;
	data[0].inh = c->cap_inh; data[1].inh = c->cap_inh >> 32;
	CHECK(a, STEP_CREDS, sys_capset(&hdr, data));
	CHECK(a, STEP_CREDS, sys_prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0));
	for (uint32_t cap = 0; cap <= c->last_cap && cap < 64; cap++)
		if (c->cap_amb & (1ULL << cap))
			CHECK(a, STEP_CREDS, sys_prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0));
	CHECK(a, STEP_CREDS, sys_prctl(PR_SET_SECUREBITS, c->securebits, 0, 0, 0));
	if (c->no_new_privs)
		CHECK(a, STEP_CREDS, sys_prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
}

void __attribute__((noreturn)) restorer_main(struct restorer_args *a)
{
	const struct rst_vma *vmas = (const struct rst_vma *)a->vmas;

	/* 1. Park this kernel's vDSO/vvar inside our region, out of the way of any VMA. */
	for (uint32_t i = 0; i < a->nr_vdso; i++)
		if (a->vdso[i].cur != a->vdso[i].scratch)
			CHECK(a, STEP_VDSO_PARK, sys_mremap((void *)a->vdso[i].cur, a->vdso[i].len, a->vdso[i].len,
						     MREMAP_MAYMOVE | MREMAP_FIXED, (void *)a->vdso[i].scratch));
	/* 2. Drop everything libcr had mapped. */
	unmap_others(a);
	/* 3. Move each premapped area to its final address (premap never overlaps one). */
	for (uint32_t i = 0; i < a->nr_vmas; i++) {
		uint64_t len = vmas[i].end - vmas[i].start;
		CHECK(a, STEP_MOVE_VMA, sys_mremap((void *)vmas[i].premap, len, len, MREMAP_MAYMOVE | MREMAP_FIXED,
					    (void *)vmas[i].start));
	}
	/* 4. The vDSO/vvar go where the image had them (unmapped when the image had none). */
	for (uint32_t i = 0; i < a->nr_vdso; i++) {
		if (a->vdso[i].target)
			CHECK(a, STEP_VDSO_PLACE, sys_mremap((void *)a->vdso[i].scratch, a->vdso[i].len,
							a->vdso[i].len, MREMAP_MAYMOVE | MREMAP_FIXED,
							(void *)a->vdso[i].target));
		else
			CHECK(a, STEP_VDSO_PLACE, sys_munmap((void *)a->vdso[i].scratch, a->vdso[i].len));
	}
	CHECK(a, STEP_UNMAP_PREMAP, sys_munmap((void *)a->premap_start, a->premap_len));

	/* 5. mm fields: needs the final layout and the old exe unmapped. */
	CHECK(a, STEP_MM_MAP, sys_prctl(PR_SET_MM, PR_SET_MM_MAP, (unsigned long)&a->mm, sizeof(a->mm), 0));
	sys_close(a->mm.exe_fd);

	/* 6. Per-task state. */
	for (int sig = 1; sig <= 64; sig++) {
		struct sys_sigaction sa;
		if (sig == 9 || sig == 19)
			continue;
		sa.handler = (void *)a->sigactions[sig - 1].handler;
		sa.flags = a->sigactions[sig - 1].flags;
		sa.restorer = (void *)a->sigactions[sig - 1].restorer;
		sa.mask = a->sigactions[sig - 1].mask;
		CHECK(a, STEP_SIGACTION, sys_rt_sigaction(sig, &sa, 0));
	}
	for (int w = 0; w < 3; w++) {
		struct sys_itimerval v = {
			{ a->itimers[w][0], a->itimers[w][1] }, { a->itimers[w][2], a->itimers[w][3] } };
		CHECK(a, STEP_ITIMER, sys_setitimer(w, &v, 0));
	}
	if (a->altstack_sp || a->altstack_flags) {
		struct { uint64_t sp; int32_t flags; int32_t pad; uint64_t size; } ss = {
			a->altstack_sp, a->altstack_flags & ~1 /* SS_ONSTACK is state, not a flag */, 0, a->altstack_size };
		CHECK(a, STEP_ALTSTACK, SC(__NR_sigaltstack, &ss, 0, 0, 0, 0, 0));
	}
	if (a->has_rseq)
		CHECK(a, STEP_RSEQ, sys_rseq((void *)a->rseq_ptr, a->rseq_len, 0, a->rseq_sig));
	CHECK(a, STEP_TLS, arch_restore_tls(a));
	sys_set_tid_address((void *)a->clear_child_tid);
	if (a->robust_list)
		CHECK(a, STEP_ROBUST, SC(__NR_set_robust_list, a->robust_list, a->robust_list_len, 0, 0, 0, 0));
	for (uint32_t i = 0; i < a->nr_siginfo; i++) {
		struct rst_siginfo *si = (struct rst_siginfo *)a->siginfo + i;
		int sig = *(int32_t *)si->info;
		if (si->shared)
			CHECK(a, STEP_SIGQUEUE, sys_rt_sigqueueinfo(a->pid, sig, si->info));
		else
			CHECK(a, STEP_SIGQUEUE, sys_rt_tgsigqueueinfo(a->pid, a->pid, sig, si->info));
	}
	restore_creds(a);
	/* setresuid() may have cleared it: set it last. */
	CHECK(a, STEP_DUMPABLE, sys_prctl(PR_SET_DUMPABLE, a->dumpable, 0, 0, 0));

	/* 7. Hand over to libcr (it unmaps this region after the sigreturn), then become the task. */
	a->result = 0;
	arch_trap();
	arch_sigreturn(a->sigframe);
}

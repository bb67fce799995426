#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include "arch.h"
#include "core.pb-c.h"
#include "inventory.pb-c.h"
#include "kerndat.h"
#include "log.h"
#include "proc/seize.h"

#ifndef NT_X86_XSTATE
#define NT_X86_XSTATE 0x202
#endif

/* Kernel return values of an interrupted syscall (include/linux/errno.h). */
#define ERESTARTSYS           512
#define ERESTARTNOINTR        513
#define ERESTARTNOHAND        514
#define ERESTART_RESTARTBLOCK 516

const unsigned char arch_syscall_insn[8] = { 0x0f, 0x05, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc };

int arch_get_regs(pid_t tid, arch_regs_t *regs)
{
	if (ptrace(PTRACE_GETREGS, tid, NULL, regs))
		return pr_perror("can't get registers of %d (PTRACE_GETREGS)", tid);
	return 0;
}

int arch_set_regs(pid_t tid, const arch_regs_t *regs)
{
	if (ptrace(PTRACE_SETREGS, tid, NULL, regs))
		return pr_perror("can't set registers of %d (PTRACE_SETREGS)", tid);
	return 0;
}

int arch_get_xstate(pid_t tid, void **buf, size_t *len)
{
	size_t size = kerndat_get()->xsave_size;
	struct iovec iov;

	if (!size)
		size = 64 << 10;
	*buf = aligned_alloc(64, (size + 63) & ~63UL);
	if (!*buf)
		return -ENOMEM;
	memset(*buf, 0, size);
	iov.iov_base = *buf;
	iov.iov_len = size;
	if (ptrace(PTRACE_GETREGSET, tid, NT_X86_XSTATE, &iov)) {
		int ret = pr_perror("can't get xstate of %d (PTRACE_GETREGSET NT_X86_XSTATE)", tid);
		free(*buf);
		*buf = NULL;
		return ret;
	}
	*len = iov.iov_len;
	return 0;
}

int arch_set_xstate(pid_t tid, const void *buf, size_t len)
{
	struct iovec iov = { (void *)buf, len };

	if (ptrace(PTRACE_SETREGSET, tid, NT_X86_XSTATE, &iov))
		return pr_perror("can't set xstate of %d (PTRACE_SETREGSET NT_X86_XSTATE)", tid);
	return 0;
}

void arch_regs_setup_syscall(arch_regs_t *r, const arch_regs_t *orig, uint64_t site, long nr,
			     const long a[6])
{
	*r = *orig;
	r->rax = nr;
	r->rdi = a[0]; r->rsi = a[1]; r->rdx = a[2];
	r->r10 = a[3]; r->r8 = a[4]; r->r9 = a[5];
	r->rip = site;
	r->orig_rax = -1;   /* no syscall restart logic on resume */
}

long arch_regs_syscall_ret(const arch_regs_t *r)
{
	return (long)r->rax;
}

void arch_regs_setup_call(arch_regs_t *r, const arch_regs_t *orig, uint64_t ip, uint64_t sp, uint64_t arg)
{
	*r = *orig;
	r->rip = ip;
	r->rsp = sp & ~15UL;
	r->rdi = arg;
	r->orig_rax = -1;
	r->eflags &= ~(1UL << 10);   /* DF clear, as the ABI requires at a call */
}

uint64_t arch_regs_ip(const arch_regs_t *r)
{
	return r->rip;
}

int arch_step_over_trap(pid_t tid)
{
	(void)tid;
	return 0;
}

/* restarting: the syscall a thread seized in restart_syscall was restarting
 * (seize_restart_hint), or -1. */
void arch_regs_for_image(arch_regs_t *r, int restarting)
{
	if ((long)r->orig_rax < 0)
		return;
	switch ((long)r->rax) {
	case -ERESTARTSYS:
	case -ERESTARTNOINTR:
	case -ERESTARTNOHAND:
		r->rax = r->orig_rax;
		r->rip -= 2;
		break;
	case -ERESTART_RESTARTBLOCK:
		/* The restart block (the time left) does not survive.  poll and futex
		 * waits start over with their own arguments: a wait a little longer than
		 * asked is what any loaded machine gives, while EINTR from a poll many
		 * programs treat as fatal (script(1) kills its shell).  The sleeps get
		 * EINTR from restart_syscall, as after a signal without SA_RESTART. */
		if (r->orig_rax == 7 /* poll */ || r->orig_rax == 202 /* futex */)
			r->rax = r->orig_rax;
		else if (r->orig_rax == 219 && restarting == RESTARTING_POLL)
			r->rax = 7;     /* its arguments are still those of the first call */
		else if (r->orig_rax == 219 && restarting == RESTARTING_FUTEX)
			r->rax = 202;
		else
			r->rax = 219;  /* __NR_restart_syscall */
		r->rip -= 2;
		break;
	}
	r->orig_rax = -1;
}

int arch_thread_to_image(ThreadEntry *te, const arch_regs_t *r, const void *xsave, size_t xlen)
{
	ThreadCoreX86 *tc = malloc(sizeof(*tc));
	UserX86Regs *g = malloc(sizeof(*g));

	if (!tc || !g) {
		free(tc);
		free(g);
		return -ENOMEM;
	}
	thread_core_x86__init(tc);
	user_x86_regs__init(g);
	g->r15 = r->r15; g->r14 = r->r14; g->r13 = r->r13; g->r12 = r->r12;
	g->bp = r->rbp; g->bx = r->rbx; g->r11 = r->r11; g->r10 = r->r10;
	g->r9 = r->r9; g->r8 = r->r8; g->ax = r->rax; g->cx = r->rcx;
	g->dx = r->rdx; g->si = r->rsi; g->di = r->rdi; g->orig_ax = r->orig_rax;
	g->ip = r->rip; g->cs = r->cs; g->flags = r->eflags; g->sp = r->rsp;
	g->ss = r->ss; g->fs_base = r->fs_base; g->gs_base = r->gs_base;
	g->ds = r->ds; g->es = r->es; g->fs = r->fs; g->gs = r->gs;
	tc->gpregs = g;
	tc->xsave.data = (uint8_t *)xsave;
	tc->xsave.len = xlen;
	te->x86 = tc;
	te->arch = strdup(ARCH_NAME);
	return 0;
}

/* Offsets in the xsave area (the kernel's struct xregs_state / _fpx_sw_bytes). */
#define XSAVE_LEGACY_SIZE   512
#define XSAVE_HDR_SIZE      64
#define FP_XSTATE_MAGIC1    0x46505853u
#define FP_XSTATE_MAGIC2    0x46505845u
#define SW_BYTES_OFF        464

int arch_thread_validate(const ThreadEntry *te)
{
	size_t xsave_max = kerndat_get()->xsave_size ? kerndat_get()->xsave_size : 64 << 10;

	if (!te->x86 || !te->x86->gpregs)
		return pr_err("thread %u: no x86_64 registers in the image", te->tid), -EINVAL;
	if (te->x86->xsave.len < XSAVE_LEGACY_SIZE + XSAVE_HDR_SIZE || te->x86->xsave.len > xsave_max)
		return pr_err("thread %u: xsave area of %zu bytes does not fit this CPU (%zu bytes)",
			      te->tid, te->x86->xsave.len, xsave_max), -EINVAL;
	if (te->x86->gpregs->ip >= (1ULL << 47) || te->x86->gpregs->sp >= (1ULL << 47))
		return pr_err("thread %u: instruction or stack pointer outside user space", te->tid), -EINVAL;
	return 0;
}

void arch_tls_from_image(const ThreadEntry *te, uint64_t tls[2])
{
	tls[0] = te->x86->gpregs->fs_base;
	tls[1] = te->x86->gpregs->gs_base;
}

/* The kernel's x86_64 signal frame (arch/x86/include/asm/sigframe.h): the return
 * address, then the ucontext, then siginfo; the fpstate pointer in the sigcontext
 * points at an xsave area whose software bytes say how much of it is valid. */
struct k_sigcontext {
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t di, si, bp, bx, dx, ax, cx, sp, ip, flags;
	uint16_t cs, gs, fs, ss;
	uint64_t err, trapno, oldmask, cr2;
	uint64_t fpstate;
	uint64_t reserved1[8];
};

struct k_ucontext {
	uint64_t uc_flags;
	uint64_t uc_link;
	struct { uint64_t ss_sp; int32_t ss_flags; int32_t pad; uint64_t ss_size; } uc_stack;
	struct k_sigcontext uc_mcontext;
	uint64_t uc_sigmask;
};

struct k_rt_sigframe {
	uint64_t pretcode;
	struct k_ucontext uc;
	uint8_t info[128];
};

#define UC_FP_XSTATE         0x1
#define UC_SIGCONTEXT_SS     0x2
#define UC_STRICT_RESTORE_SS 0x4

size_t arch_sigframe_size(const ThreadEntry *te)
{
	return te->x86->xsave.len + 8192;
}

uint64_t arch_build_sigframe(void *buf, size_t len, uint64_t addr, const ThreadEntry *te, uint64_t sigmask)
{
	const UserX86Regs *g = te->x86->gpregs;
	size_t xlen = te->x86->xsave.len;
	size_t fp_off, frame_off;
	struct k_rt_sigframe *f;
	uint8_t *fp;
	uint32_t sw[2];
	uint64_t xfeatures;

	/* [frame][pad][xsave area (64-aligned) + magic2], frame placed below the xsave area */
	if (len < xlen + 4 + sizeof(*f) + 128)
		return 0;
	fp_off = (len - xlen - 4) & ~63UL;
	frame_off = (fp_off - sizeof(*f)) & ~15UL;
	frame_off -= 8;   /* as after a call: the kernel pops pretcode off an aligned stack */
	fp = (uint8_t *)buf + fp_off;
	f = (struct k_rt_sigframe *)((uint8_t *)buf + frame_off);
	memset(f, 0, sizeof(*f));

	memcpy(fp, te->x86->xsave.data, xlen);
	/* The software bytes tell rt_sigreturn to XRSTOR the area: no more than the
	 * kernel takes from a task without AMX tile permission, or it falls back to
	 * the legacy area alone (and the upper halves of the vector registers are lost). */
	const struct kerndat *kd = kerndat_get();
	size_t xsize = kd->sigframe_xstate_size && kd->sigframe_xstate_size < xlen ? kd->sigframe_xstate_size : xlen;
	memcpy(&xfeatures, fp + XSAVE_LEGACY_SIZE, sizeof(xfeatures));  /* xsave header: xstate_bv */
	xfeatures = kd->sigframe_xfeatures ? kd->sigframe_xfeatures
		    : kd->xfeatures_mask ? kd->xfeatures_mask : xfeatures;
	uint64_t bv;
	memcpy(&bv, fp + XSAVE_LEGACY_SIZE, sizeof(bv));
	bv &= xfeatures;
	memcpy(fp + XSAVE_LEGACY_SIZE, &bv, sizeof(bv));
	sw[0] = FP_XSTATE_MAGIC1;
	sw[1] = xsize + 4;   /* extended_size */
	memcpy(fp + SW_BYTES_OFF, sw, sizeof(sw));
	memcpy(fp + SW_BYTES_OFF + 8, &xfeatures, sizeof(xfeatures));
	sw[0] = xsize;       /* xstate_size */
	memcpy(fp + SW_BYTES_OFF + 16, &sw[0], 4);
	sw[0] = FP_XSTATE_MAGIC2;
	memcpy(fp + xsize, &sw[0], 4);

	f->uc.uc_flags = UC_FP_XSTATE | UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS;
	/* rt_sigreturn also sets the alternate signal stack from here */
	if (te->altstack) {
		f->uc.uc_stack.ss_sp = te->altstack->sp;
		f->uc.uc_stack.ss_size = te->altstack->size;
		f->uc.uc_stack.ss_flags = te->altstack->flags & ~1;  /* SS_ONSTACK is state */
	} else {
		f->uc.uc_stack.ss_flags = 2;  /* SS_DISABLE */
	}
	struct k_sigcontext *sc = &f->uc.uc_mcontext;
	sc->r8 = g->r8; sc->r9 = g->r9; sc->r10 = g->r10; sc->r11 = g->r11;
	sc->r12 = g->r12; sc->r13 = g->r13; sc->r14 = g->r14; sc->r15 = g->r15;
	sc->di = g->di; sc->si = g->si; sc->bp = g->bp; sc->bx = g->bx;
	sc->dx = g->dx; sc->ax = g->ax; sc->cx = g->cx; sc->sp = g->sp;
	sc->ip = g->ip; sc->flags = g->flags;
	sc->cs = g->cs; sc->ss = g->ss; sc->gs = 0; sc->fs = 0;
	sc->fpstate = addr + fp_off;
	f->uc.uc_sigmask = sigmask;
	/* rt_sigreturn finds the frame at sp - 8: sp points just past pretcode */
	return addr + frame_off + 8;
}

void arch_jump_to_restorer(uint64_t entry, uint64_t stack_top, uint64_t args)
{
	/* fixed registers: nothing may be clobbered between the stack switch and the jump */
	__asm__ volatile("movq %0, %%rsp\n\t"
			 "xorl %%ebp, %%ebp\n\t"
			 "jmpq *%1\n\t"
			 :
			 : "c"(stack_top & ~15UL), "a"(entry), "D"(args)
			 : "memory");
	__builtin_unreachable();
}

int arch_thread_restore_late(pid_t tid, const ThreadEntry *te)
{
	(void)tid;
	(void)te;
	return 0;
}

void arch_cpu_features(uint64_t *xfeatures, uint32_t *xsave_size)
{
	*xfeatures = kerndat_get()->xfeatures_mask;
	*xsave_size = kerndat_get()->xsave_size;
}

void arch_inventory_fill(InventoryEntry *inv)
{
	inv->has_xfeatures_mask = inv->has_xsave_size = true;
	inv->xfeatures_mask = kerndat_get()->xfeatures_mask;
	inv->xsave_size = kerndat_get()->xsave_size;
}

int arch_inventory_check(const InventoryEntry *inv, const char *dir)
{
	uint64_t xf = kerndat_get()->xfeatures_mask;

	if (inv->has_xfeatures_mask && (inv->xfeatures_mask & ~xf))
		return pr_err("images in %s need CPU state features 0x%lx that this CPU lacks (has 0x%lx)",
			      dir, (unsigned long)(inv->xfeatures_mask & ~xf), (unsigned long)xf), -EINVAL;
	return 0;
}

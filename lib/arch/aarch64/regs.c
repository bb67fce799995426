/* aarch64 behind the arch interface (lib/arch.h): registers over ptrace regsets,
 * remote syscalls (number in x8), the image form of a thread and its rt_sigframe. */
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include "arch.h"
#include "core.pb-c.h"
#include "inventory.pb-c.h"
#include "kerndat.h"
#include "log.h"

/* svc #0; brk #0 */
const unsigned char arch_syscall_insn[8] = { 0x01, 0x00, 0x00, 0xd4, 0x00, 0x00, 0x20, 0xd4 };

#define FPSIMD_BYTES 512          /* v0-v31 */
#define PACA_KEYS_LEN 64          /* struct user_pac_address_keys: apia, apib, apda, apdb */
#define PACG_KEYS_LEN 16          /* struct user_pac_generic_keys: apga */
#define SVE_HDR_LEN 16            /* struct user_sve_header */
#define SVE_PT_REGS_SVE 1         /* header flags: the registers are in SVE form */

/* The kernel's struct user_sve_header (asm/ptrace.h). */
struct sve_hdr {
	uint32_t size, max_size;
	uint16_t vl, max_vl, flags, reserved;
};

/* What arch_get_xstate hands out: everything but the general registers, in one
 * buffer (the infect code keeps it opaque, core.c hands it to arch_thread_to_image). */
struct a64_xstate {
	uint32_t sve_len, paca_len, pacg_len, pad;
	uint64_t tls;                      /* tpidr_el0 */
	struct user_fpsimd_struct fp;      /* NT_PRFPREG */
	uint8_t data[];                    /* NT_ARM_SVE, NT_ARM_PACA_KEYS, NT_ARM_PACG_KEYS */
};

/* The largest SVE vector length of the threads converted since the last
 * inventory: the inventory is written after every task's core. */
static uint32_t dumped_sve_vl;
static bool dumped_pac;

static int getregset(pid_t tid, int type, void *buf, size_t *len)
{
	struct iovec iov = { buf, *len };

	if (ptrace(PTRACE_GETREGSET, tid, (void *)(long)type, &iov))
		return -errno;
	*len = iov.iov_len;
	return 0;
}

static int setregset(pid_t tid, int type, const void *buf, size_t len)
{
	struct iovec iov = { (void *)buf, len };

	return ptrace(PTRACE_SETREGSET, tid, (void *)(long)type, &iov) ? -errno : 0;
}

int arch_get_regs(pid_t tid, arch_regs_t *regs)
{
	size_t len = sizeof(*regs);

	if (getregset(tid, NT_PRSTATUS, regs, &len))
		return pr_perror("can't get registers of %d (PTRACE_GETREGSET NT_PRSTATUS)", tid);
	return 0;
}

int arch_set_regs(pid_t tid, const arch_regs_t *regs)
{
	if (setregset(tid, NT_PRSTATUS, regs, sizeof(*regs)))
		return pr_perror("can't set registers of %d (PTRACE_SETREGSET NT_PRSTATUS)", tid);
	return 0;
}

int arch_get_xstate(pid_t tid, void **buf, size_t *len)
{
	unsigned long hwcap = getauxval(AT_HWCAP);
	size_t sve_max = 0, n;
	struct sve_hdr h;
	struct a64_xstate *x;
	int ret;

	/* the SVE regset's size depends on the thread's vector length: ask first */
	if (hwcap & HWCAP_SVE) {
		n = sizeof(h);
		if ((ret = getregset(tid, NT_ARM_SVE, &h, &n)))
			return errno = -ret, pr_perror("can't get the SVE header of %d (NT_ARM_SVE)", tid);
		sve_max = h.max_size;
	}
	x = calloc(1, sizeof(*x) + sve_max + PACA_KEYS_LEN + PACG_KEYS_LEN);
	if (!x)
		return -ENOMEM;
	n = sizeof(x->fp);
	if ((ret = getregset(tid, NT_PRFPREG, &x->fp, &n)) || n != sizeof(x->fp)) {
		free(x);
		errno = ret ? -ret : EIO;
		return pr_perror("can't get FP/SIMD registers of %d (NT_PRFPREG)", tid);
	}
	n = sizeof(x->tls);
	if ((ret = getregset(tid, NT_ARM_TLS, &x->tls, &n))) {
		free(x);
		return errno = -ret, pr_perror("can't get tpidr_el0 of %d (NT_ARM_TLS)", tid);
	}
	if (sve_max) {
		n = sve_max;
		if ((ret = getregset(tid, NT_ARM_SVE, x->data, &n))) {
			free(x);
			return errno = -ret, pr_perror("can't get SVE registers of %d (NT_ARM_SVE)", tid);
		}
		/* the kernel pads to the largest size: keep what the header says is there */
		memcpy(&h, x->data, sizeof(h));
		x->sve_len = h.size < n ? h.size : n;
	}
	if (hwcap & HWCAP_PACA) {
		n = PACA_KEYS_LEN;
		if ((ret = getregset(tid, NT_ARM_PACA_KEYS, x->data + x->sve_len, &n)) || n != PACA_KEYS_LEN) {
			free(x);
			errno = ret ? -ret : EIO;
			return pr_perror("can't get pointer-authentication keys of %d (NT_ARM_PACA_KEYS)", tid);
		}
		x->paca_len = n;
	}
	if (hwcap & HWCAP_PACG) {
		n = PACG_KEYS_LEN;
		if ((ret = getregset(tid, NT_ARM_PACG_KEYS, x->data + x->sve_len + x->paca_len, &n)) ||
		    n != PACG_KEYS_LEN) {
			free(x);
			errno = ret ? -ret : EIO;
			return pr_perror("can't get the generic pointer-authentication key of %d (NT_ARM_PACG_KEYS)",
					 tid);
		}
		x->pacg_len = n;
	}
	*buf = x;
	*len = sizeof(*x) + x->sve_len + x->paca_len + x->pacg_len;
	return 0;
}

/* The state a syscall of the thread may have changed (FP/SIMD, SVE) or that
 * rt_sigreturn does not carry (SVE, PAC keys); all optional parts as given. */
static int set_extra(pid_t tid, const uint8_t *sve, size_t sve_len, const uint8_t *paca, size_t paca_len,
		     const uint8_t *pacg, size_t pacg_len)
{
	if (sve_len && setregset(tid, NT_ARM_SVE, sve, sve_len)) {
		struct sve_hdr h;
		memcpy(&h, sve, sizeof(h));
		return pr_perror("can't set SVE registers of %d with vector length %u bytes (NT_ARM_SVE)", tid, h.vl);
	}
	if (paca_len && setregset(tid, NT_ARM_PACA_KEYS, paca, paca_len))
		return pr_perror("can't set pointer-authentication keys of %d (NT_ARM_PACA_KEYS)", tid);
	if (pacg_len && setregset(tid, NT_ARM_PACG_KEYS, pacg, pacg_len))
		return pr_perror("can't set the generic pointer-authentication key of %d (NT_ARM_PACG_KEYS)", tid);
	return 0;
}

int arch_set_xstate(pid_t tid, const void *buf, size_t len)
{
	const struct a64_xstate *x = buf;

	if (len < sizeof(*x) || len != sizeof(*x) + x->sve_len + x->paca_len + x->pacg_len)
		return pr_err("internal: bad register state of %d", tid), -EINVAL;
	if (setregset(tid, NT_PRFPREG, &x->fp, sizeof(x->fp)))
		return pr_perror("can't set FP/SIMD registers of %d (NT_PRFPREG)", tid);
	if (setregset(tid, NT_ARM_TLS, &x->tls, sizeof(x->tls)))
		return pr_perror("can't set tpidr_el0 of %d (NT_ARM_TLS)", tid);
	return set_extra(tid, x->data, x->sve_len, x->data + x->sve_len, x->paca_len,
			 x->data + x->sve_len + x->paca_len, x->pacg_len);
}

void arch_regs_setup_syscall(arch_regs_t *r, const arch_regs_t *orig, uint64_t site, long nr,
			     const long a[6])
{
	*r = *orig;
	for (int i = 0; i < 6; i++)
		r->regs[i] = a[i];
	r->regs[8] = nr;
	r->pc = site;
}

long arch_regs_syscall_ret(const arch_regs_t *r)
{
	return (long)r->regs[0];
}

void arch_regs_setup_call(arch_regs_t *r, const arch_regs_t *orig, uint64_t ip, uint64_t sp, uint64_t arg)
{
	*r = *orig;
	r->pc = ip;
	r->sp = sp & ~15UL;
	r->regs[0] = arg;
	r->regs[29] = r->regs[30] = 0;   /* no frame to unwind into */
}

uint64_t arch_regs_ip(const arch_regs_t *r)
{
	return r->pc;
}

int arch_step_over_trap(pid_t tid)
{
	arch_regs_t r;

	if (arch_get_regs(tid, &r))
		return -EIO;
	r.pc += 4;
	return arch_set_regs(tid, &r) ? -EIO : 0;
}

void arch_regs_for_image(arch_regs_t *r, int restarting)
{
	/* Nothing to do: the kernel rewinds an interrupted syscall (pc back to the
	 * svc, x0 back to its first argument; x8 still holds the number) before the
	 * thread stops for us, so these registers already restart it.  A syscall
	 * with a restart block (a relative sleep) starts over: never shorter. */
	(void)r;
	(void)restarting;   /* seize's restart hint is for x86_64's restart_syscall */
}

/* A part of the xstate buffer as an image field of its own (the image frees each). */
static int dup_part(ProtobufCBinaryData *b, protobuf_c_boolean *has, const uint8_t *p, size_t len)
{
	if (!len)
		return 0;
	b->data = malloc(len);
	if (!b->data)
		return -ENOMEM;
	memcpy(b->data, p, len);
	b->len = len;
	*has = true;
	return 0;
}

/* Takes @xs (the buffer from arch_get_xstate) on success. */
int arch_thread_to_image(ThreadEntry *te, const arch_regs_t *r, const void *xs, size_t xlen)
{
	const struct a64_xstate *x = xs;
	ThreadCoreAarch64 *tc = calloc(1, sizeof(*tc));
	uint8_t *v = malloc(FPSIMD_BYTES);
	uint64_t *g = malloc(31 * sizeof(uint64_t));
	struct sve_hdr h;

	if (!tc || !v || !g || xlen < sizeof(*x)) {
		free(tc), free(v), free(g);
		return -ENOMEM;
	}
	thread_core_aarch64__init(tc);
	te->aarch64 = tc;   /* freed with the entry from here on */
	memcpy(g, r->regs, 31 * sizeof(uint64_t));
	tc->n_regs = 31;
	tc->regs = g;
	tc->sp = r->sp;
	tc->pc = r->pc;
	tc->pstate = r->pstate;
	memcpy(v, x->fp.vregs, FPSIMD_BYTES);
	tc->vregs.data = v;
	tc->vregs.len = FPSIMD_BYTES;
	tc->fpsr = x->fp.fpsr;
	tc->fpcr = x->fp.fpcr;
	tc->tpidr = x->tls;
	if (dup_part(&tc->sve, &tc->has_sve, x->data, x->sve_len) ||
	    dup_part(&tc->paca_keys, &tc->has_paca_keys, x->data + x->sve_len, x->paca_len) ||
	    dup_part(&tc->pacg_keys, &tc->has_pacg_keys, x->data + x->sve_len + x->paca_len, x->pacg_len))
		return -ENOMEM;
	if (x->sve_len >= sizeof(h)) {
		memcpy(&h, x->data, sizeof(h));
		if (h.vl > dumped_sve_vl)
			dumped_sve_vl = h.vl;
	}
	if (x->paca_len || x->pacg_len)
		dumped_pac = true;
	te->arch = strdup(ARCH_NAME);
	if (!te->arch)
		return -ENOMEM;
	free((void *)xs);
	return 0;
}

int arch_thread_validate(const ThreadEntry *te)
{
	const ThreadCoreAarch64 *tc = te->aarch64;
	uint32_t max_vl = kerndat_get()->sve_max_vl;
	struct sve_hdr h;

	if (!tc)
		return pr_err("thread %u: no aarch64 registers in the image", te->tid), -EINVAL;
	if (tc->n_regs != 31 || tc->vregs.len != FPSIMD_BYTES)
		return pr_err("thread %u: malformed aarch64 registers", te->tid), -EINVAL;
	if (tc->pc >= kerndat_get()->task_size || tc->sp >= kerndat_get()->task_size)
		return pr_err("thread %u: instruction or stack pointer outside user space", te->tid), -EINVAL;
	if ((tc->has_paca_keys && tc->paca_keys.len != PACA_KEYS_LEN) ||
	    (tc->has_pacg_keys && tc->pacg_keys.len != PACG_KEYS_LEN))
		return pr_err("thread %u: malformed pointer-authentication keys", te->tid), -EINVAL;
	if ((tc->has_paca_keys && !(getauxval(AT_HWCAP) & HWCAP_PACA)) ||
	    (tc->has_pacg_keys && !(getauxval(AT_HWCAP) & HWCAP_PACG)))
		return pr_err("thread %u uses pointer authentication (paca/pacg), which this CPU lacks", te->tid),
		       -EINVAL;
	if (!tc->has_sve)
		return 0;
	if (tc->sve.len < SVE_HDR_LEN)
		return pr_err("thread %u: malformed SVE registers", te->tid), -EINVAL;
	memcpy(&h, tc->sve.data, sizeof(h));
	if (h.size != tc->sve.len || !h.vl || h.vl % 16)
		return pr_err("thread %u: malformed SVE registers", te->tid), -EINVAL;
	if (!max_vl)
		return pr_err("thread %u has SVE registers; this CPU has no SVE", te->tid), -EINVAL;
	if (h.vl > max_vl)
		return pr_err("thread %u: SVE vector length %u bytes; this CPU's longest is %u", te->tid, h.vl,
			      max_vl), -EINVAL;
	return 0;
}

/* The kernel's arm64 signal frame (arch/arm64/kernel/signal.c, uapi sigcontext.h):
 * siginfo, then the ucontext whose sigcontext ends in records; rt_sigreturn needs
 * the fpsimd record and a terminator. */
struct k_sigcontext {
	uint64_t fault_address;
	uint64_t regs[31];
	uint64_t sp, pc, pstate;
	uint8_t reserved[4096] __attribute__((aligned(16)));
};

struct k_ucontext {
	uint64_t uc_flags;
	uint64_t uc_link;
	struct { uint64_t ss_sp; int32_t ss_flags; int32_t pad; uint64_t ss_size; } uc_stack;
	uint64_t uc_sigmask;
	uint8_t unused[1024 / 8 - 8];   /* glibc's 1024-bit sigset_t */
	struct k_sigcontext uc_mcontext;
};

struct k_rt_sigframe {
	uint8_t info[128];
	struct k_ucontext uc;
};

#define FPSIMD_MAGIC 0x46508001

struct k_fpsimd_context {
	uint32_t magic, size;
	uint32_t fpsr, fpcr;
	uint8_t vregs[FPSIMD_BYTES];
};

size_t arch_sigframe_size(const ThreadEntry *te)
{
	(void)te;
	return sizeof(struct k_rt_sigframe) + 64;
}

uint64_t arch_build_sigframe(void *buf, size_t len, uint64_t addr, const ThreadEntry *te, uint64_t sigmask)
{
	const ThreadCoreAarch64 *tc = te->aarch64;
	struct k_fpsimd_context fp;
	struct k_rt_sigframe *f;
	size_t off;

	if (len < sizeof(*f) + 16)
		return 0;
	off = (len - sizeof(*f)) & ~15UL;   /* rt_sigreturn wants a 16-byte aligned sp */
	f = (struct k_rt_sigframe *)((uint8_t *)buf + off);
	memset(f, 0, sizeof(*f));
	if (te->altstack) {
		f->uc.uc_stack.ss_sp = te->altstack->sp;
		f->uc.uc_stack.ss_size = te->altstack->size;
		f->uc.uc_stack.ss_flags = te->altstack->flags & ~1;  /* SS_ONSTACK is state */
	} else {
		f->uc.uc_stack.ss_flags = 2;  /* SS_DISABLE */
	}
	f->uc.uc_sigmask = sigmask;
	memcpy(f->uc.uc_mcontext.regs, tc->regs, sizeof(f->uc.uc_mcontext.regs));
	f->uc.uc_mcontext.sp = tc->sp;
	f->uc.uc_mcontext.pc = tc->pc;
	f->uc.uc_mcontext.pstate = tc->pstate;
	fp.magic = FPSIMD_MAGIC;
	fp.size = sizeof(fp);
	fp.fpsr = tc->fpsr;
	fp.fpcr = tc->fpcr;
	memcpy(fp.vregs, tc->vregs.data, FPSIMD_BYTES);
	memcpy(f->uc.uc_mcontext.reserved, &fp, sizeof(fp));
	/* the terminating record (magic 0, size 0) is already zero */
	return addr + off;
}

void arch_tls_from_image(const ThreadEntry *te, uint64_t tls[2])
{
	tls[0] = te->aarch64->tpidr;
	tls[1] = 0;
}

int arch_thread_restore_late(pid_t tid, const ThreadEntry *te)
{
	const ThreadCoreAarch64 *tc = te->aarch64;

	/* The SVE registers go in after the last syscall the thread makes (a syscall
	 * discards them); the frame carried v0-v31, fpsr and fpcr. */
	return set_extra(tid, tc->has_sve ? tc->sve.data : NULL, tc->has_sve ? tc->sve.len : 0,
			 tc->has_paca_keys ? tc->paca_keys.data : NULL, tc->has_paca_keys ? tc->paca_keys.len : 0,
			 tc->has_pacg_keys ? tc->pacg_keys.data : NULL, tc->has_pacg_keys ? tc->pacg_keys.len : 0);
}

void arch_jump_to_restorer(uint64_t entry, uint64_t stack_top, uint64_t args)
{
	register uint64_t x0 __asm__("x0") = args;

	/* fixed registers: nothing may be clobbered between the stack switch and the branch */
	__asm__ volatile("mov sp, %1\n\t"
			 "mov x29, xzr\n\t"
			 "mov x30, xzr\n\t"
			 "br %2\n\t"
			 :
			 : "r"(x0), "r"(stack_top & ~15UL), "r"(entry)
			 : "memory");
	__builtin_unreachable();
}

/* The CPU features the image's registers need, by their /proc/cpuinfo names. */
static const struct {
	const char *name;
	unsigned long hwcap;
} features[] = {
	{ "fp", HWCAP_FP }, { "asimd", HWCAP_ASIMD }, { "sve", HWCAP_SVE },
	{ "paca", HWCAP_PACA }, { "pacg", HWCAP_PACG },
};

void arch_cpu_features(uint64_t *mask, uint32_t *size)
{
	*mask = getauxval(AT_HWCAP) & (HWCAP_FP | HWCAP_ASIMD | HWCAP_SVE | HWCAP_PACA | HWCAP_PACG);
	*size = kerndat_get()->sve_max_vl;
}

void arch_inventory_fill(InventoryEntry *inv)
{
	static char *names[5];
	unsigned long hwcap = getauxval(AT_HWCAP);
	size_t n = 0;

	names[n++] = "fp";
	names[n++] = "asimd";
	if (dumped_sve_vl)
		names[n++] = "sve";
	if (dumped_pac && (hwcap & HWCAP_PACA))
		names[n++] = "paca";
	if (dumped_pac && (hwcap & HWCAP_PACG))
		names[n++] = "pacg";
	inv->cpu_features = names;
	inv->n_cpu_features = n;
	inv->has_sve_vl = true;
	inv->sve_vl = dumped_sve_vl;
	dumped_sve_vl = 0;
	dumped_pac = false;
}

int arch_inventory_check(const InventoryEntry *inv, const char *dir)
{
	unsigned long hwcap = getauxval(AT_HWCAP);
	uint32_t max_vl = kerndat_get()->sve_max_vl;

	for (size_t i = 0; i < inv->n_cpu_features; i++) {
		size_t k = 0;
		while (k < sizeof(features) / sizeof(features[0]) && strcmp(features[k].name, inv->cpu_features[i]))
			k++;
		if (k == sizeof(features) / sizeof(features[0]))
			return pr_err("images in %s need CPU feature '%.32s', unknown to this libcr", dir,
				      inv->cpu_features[i]), -EINVAL;
		if (!(hwcap & features[k].hwcap))
			return pr_err("images in %s need CPU feature '%s' that this CPU lacks", dir, features[k].name),
			       -EINVAL;
	}
	if (inv->has_sve_vl && inv->sve_vl > max_vl)
		return pr_err("images in %s need SVE vector length %u bytes; this CPU's longest is %u", dir,
			      inv->sve_vl, max_vl), -EINVAL;
	return 0;
}

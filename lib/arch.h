/* The arch interface used by generic code (principle 3): each architecture
 * (lib/arch/ARCH) implements these and names its register type in arch-regs.h. */
#ifndef LIB_ARCH_H
#define LIB_ARCH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "arch-regs.h"   /* ARCH_NAME, arch_regs_t */

struct ThreadEntry;
struct InventoryEntry;

/* General registers and the extended (FPU/vector) state of a stopped tracee. */
int arch_get_regs(pid_t tid, arch_regs_t *regs);
int arch_set_regs(pid_t tid, const arch_regs_t *regs);
/* xstate: *buf malloc'ed, *len its size. */
int arch_get_xstate(pid_t tid, void **buf, size_t *len);
int arch_set_xstate(pid_t tid, const void *buf, size_t len);

/* Remote execution: the instruction bytes to plant (syscall; trap), and register setup. */
extern const unsigned char arch_syscall_insn[8];
void arch_regs_setup_syscall(arch_regs_t *r, const arch_regs_t *orig, uint64_t site, long nr,
			     const long args[6]);
long arch_regs_syscall_ret(const arch_regs_t *r);
void arch_regs_setup_call(arch_regs_t *r, const arch_regs_t *orig, uint64_t ip, uint64_t sp, uint64_t arg);
uint64_t arch_regs_ip(const arch_regs_t *r);
/* @tid stopped at the blobs' trap instruction: let it resume after it (x86_64:
 * int3 already stopped past itself; aarch64: brk stops at itself). */
int arch_step_over_trap(pid_t tid);

/* The registers the task must resume with when it is restored elsewhere: an
 * interrupted syscall is turned into its restart (what the kernel would do). */
/* restarting: what a thread seized in restart_syscall restarts (RESTARTING_* of
 * proc/seize.h), or -1. */
void arch_regs_for_image(arch_regs_t *r, int restarting);

/* Image conversion of one thread's registers; the malloc'ed @xsave (from
 * arch_get_xstate) belongs to the image on success. */
int arch_thread_to_image(struct ThreadEntry *te, const arch_regs_t *regs, const void *xsave, size_t xlen);
int arch_thread_validate(const struct ThreadEntry *te);

/* Restore: the bytes arch_build_sigframe needs for this thread's frame. */
size_t arch_sigframe_size(const struct ThreadEntry *te);
/* Restore: lay out an rt_sigframe for rt_sigreturn at the top of [buf, buf+len),
 * which will live at address 'addr' in the restored task; returns the frame's
 * address (the sp to sigreturn with) or 0 if it does not fit. */
uint64_t arch_build_sigframe(void *buf, size_t len, uint64_t addr, const struct ThreadEntry *te,
			     uint64_t sigmask);
/* The thread pointers the restorer sets (x86_64: fs and gs base, from the general registers). */
void arch_tls_from_image(const struct ThreadEntry *te, uint64_t tls[2]);

/* Jump into the restorer on its own stack; never returns. */
void arch_jump_to_restorer(uint64_t entry, uint64_t stack_top, uint64_t args) __attribute__((noreturn));

/* Restore: the thread @tid of a restored task is stopped at the exit of its last
 * syscall (its rt_sigreturn, or libcr's final munmap): set what rt_sigreturn did
 * not (x86_64: nothing, the frame carried it all). */
int arch_thread_restore_late(pid_t tid, const struct ThreadEntry *te);

/* The CPU features the image's registers rely on, into the inventory (x86_64:
 * XCR0 and the xsave size), and their check on the restoring machine: one error
 * line naming the missing feature. */
void arch_inventory_fill(struct InventoryEntry *inv);
/* This CPU's register-state features as a mask, for comparing two machines
 * (x86_64: XCR0 and the xsave size; aarch64: the HWCAP bits of fp, asimd, sve,
 * paca, pacg and the longest SVE vector length). */
void arch_cpu_features(uint64_t *features, uint32_t *size);
int arch_inventory_check(const struct InventoryEntry *inv, const char *dir);

#endif

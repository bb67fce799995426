#ifndef RESTORER_ARCH_H
#define RESTORER_ARCH_H

#include "sys.h"
#include "restorer-args.h"

/* tpidr_el0 is writable from user mode: no syscall needed.  (rt_sigreturn does
 * not touch it; the rest of the FP/SVE/PAC state is set by libcr over ptrace
 * once the thread has returned from rt_sigreturn.) */
static inline long arch_restore_tls(const struct rst_thread *t)
{
	__asm__ volatile("msr tpidr_el0, %0" : : "r"(t->tls[0]) : "memory");
	return 0;
}

void arch_sigreturn(uint64_t frame) __attribute__((noreturn));
/* clone3(ca, size); the new thread calls fn(arg) on ca's stack and never returns.
 * Returns the new TID or -errno in the caller. */
struct clone_args;
long arch_clone_thread(struct clone_args *ca, unsigned long size, void (*fn)(struct rst_thread *),
		       struct rst_thread *arg);

#endif

#ifndef RESTORER_ARCH_H
#define RESTORER_ARCH_H

#include "sys.h"
#include "restorer-args.h"

#define ARCH_SET_GS 0x1001
#define ARCH_SET_FS 0x1002

static inline long arch_restore_tls(const struct rst_thread *t)
{
	long r = SC(__NR_arch_prctl, ARCH_SET_FS, t->tls[0], 0, 0, 0, 0);
	if (r)
		return r;
	return SC(__NR_arch_prctl, ARCH_SET_GS, t->tls[1], 0, 0, 0, 0);
}

void arch_sigreturn(uint64_t frame) __attribute__((noreturn));
/* clone3(ca, size); the new thread calls fn(arg) on ca's stack and never returns.
 * Returns the new TID or -errno in the caller. */
struct clone_args;
long arch_clone_thread(struct clone_args *ca, unsigned long size, void (*fn)(struct rst_thread *),
		       struct rst_thread *arg);

#endif

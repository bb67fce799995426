#ifndef RESTORER_ARCH_H
#define RESTORER_ARCH_H

#include "sys.h"
#include "restorer-args.h"

#define ARCH_SET_GS 0x1001
#define ARCH_SET_FS 0x1002

static inline long arch_restore_tls(const struct restorer_args *a)
{
	long r = SC(__NR_arch_prctl, ARCH_SET_FS, a->fs_base, 0, 0, 0, 0);
	if (r)
		return r;
	return SC(__NR_arch_prctl, ARCH_SET_GS, a->gs_base, 0, 0, 0, 0);
}

void arch_sigreturn(uint64_t frame) __attribute__((noreturn));

#endif

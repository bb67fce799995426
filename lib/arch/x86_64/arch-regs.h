/* x86_64: what the arch interface (lib/arch.h) calls the registers. */
#ifndef LIB_ARCH_REGS_H
#define LIB_ARCH_REGS_H

#include <sys/user.h>

#define ARCH_NAME "x86_64"
/* the signature glibc registers rseq with (its RSEQ_SIG) */
#define ARCH_RSEQ_SIG 0x53053053

typedef struct user_regs_struct arch_regs_t;

#endif

/* aarch64: what the arch interface (lib/arch.h) calls the registers: the
 * NT_PRSTATUS regset (x0-x30, sp, pc, pstate). */
#ifndef LIB_ARCH_REGS_H
#define LIB_ARCH_REGS_H

#include <sys/user.h>

#define ARCH_NAME "aarch64"
/* the signature glibc registers rseq with (its RSEQ_SIG: brk #0x45e0, little-endian) */
#define ARCH_RSEQ_SIG 0xd428bc00

typedef struct user_regs_struct arch_regs_t;

#endif

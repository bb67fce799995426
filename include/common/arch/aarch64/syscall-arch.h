/* aarch64 raw system call entry for the freestanding blobs: number in x8,
 * arguments in x0-x5, result in x0. */
#ifndef COMMON_SYSCALL_ARCH_H
#define COMMON_SYSCALL_ARCH_H

static inline long __raw_syscall6(long n, long a1, long a2, long a3, long a4, long a5, long a6)
{
	register long x8 __asm__("x8") = n;
	register long x0 __asm__("x0") = a1;
	register long x1 __asm__("x1") = a2;
	register long x2 __asm__("x2") = a3;
	register long x3 __asm__("x3") = a4;
	register long x4 __asm__("x4") = a5;
	register long x5 __asm__("x5") = a6;

	__asm__ volatile("svc #0"
			 : "+r"(x0)
			 : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
			 : "memory", "cc");
	return x0;
}

#define arch_trap() __asm__ volatile("brk #0" ::: "memory")

#endif

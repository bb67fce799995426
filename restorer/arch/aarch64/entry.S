/* Restorer entry: libcr switches to the restorer's stack and branches here with
 * the args in x0.  restorer_main never returns (it ends in rt_sigreturn). */
	.section .head.text, "ax"
	.globl __export_restorer_entry
__export_restorer_entry:
	bl	restorer_main
	brk	#1

/* void arch_sigreturn(uint64_t frame): the frame is the rt_sigframe, exactly
 * what the kernel's rt_sigreturn expects at sp. */
	.text
	.globl arch_sigreturn
arch_sigreturn:
	mov	sp, x0
	mov	x8, #139        /* __NR_rt_sigreturn */
	svc	#0
	brk	#1

/* libcr runs its last remote syscall (munmap of this region) from here, under
 * PTRACE_SYSCALL: it never returns into the unmapped code. */
	.globl __export_restorer_syscall_site
__export_restorer_syscall_site:
	svc	#0
	brk	#1

/* long arch_clone_thread(struct clone_args *ca, size_t size, fn, arg): clone3
 * keeps every register but x0 and sp in the child, so fn and arg ride in x9/x10. */
	.globl arch_clone_thread
arch_clone_thread:
	mov	x9, x2
	mov	x10, x3
	mov	x8, #435        /* __NR_clone3 */
	svc	#0
	cbnz	x0, 1f
	mov	x0, x10         /* the child, on its own stack */
	blr	x9
	brk	#1
1:	ret

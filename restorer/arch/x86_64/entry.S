/* Restorer entry: libcr switches to the restorer's stack and calls here with the
 * args in rdi.  restorer_main never returns (it ends in rt_sigreturn). */
	.section .head.text, "ax"
	.globl __export_restorer_entry
__export_restorer_entry:
	call	restorer_main
	ud2

/* void arch_sigreturn(uint64_t frame): the frame is the rt_sigframe minus its
 * return address, exactly what the kernel's rt_sigreturn expects at rsp. */
	.text
	.globl arch_sigreturn
arch_sigreturn:
	movq	%rdi, %rsp
	movl	$15, %eax       /* __NR_rt_sigreturn */
	syscall
	ud2

/* libcr runs its last remote syscall (munmap of this region) from here, under
 * PTRACE_SYSCALL: it never returns into the unmapped code. */
	.globl __export_restorer_syscall_site
__export_restorer_syscall_site:
	syscall
	ud2

/* long arch_clone_thread(struct clone_args *ca, size_t size, fn, arg): clone3 keeps
 * every register but rax and rsp in the child, so fn and arg ride in r8/r9. */
	.globl arch_clone_thread
arch_clone_thread:
	movq	%rdx, %r8
	movq	%rcx, %r9
	movl	$435, %eax      /* __NR_clone3 */
	syscall
	testq	%rax, %rax
	jnz	1f
	movq	%r9, %rdi       /* the child, on its own stack */
	call	*%r8
	ud2
1:	ret

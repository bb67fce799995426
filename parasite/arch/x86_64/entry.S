/* Parasite entry: the dumper sets rsp to the blob's stack top and rdi to the
 * shared args area, then resumes the task here.  On return we trap so that the
 * dumper regains control in a ptrace stop. */
	.section .head.text, "ax"
	.globl __export_parasite_entry
__export_parasite_entry:
	call	parasite_main
	int3
	jmp	__export_parasite_entry   /* never reached: the dumper cures the task */

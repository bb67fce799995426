/* Parasite entry: the dumper sets sp to the blob's stack top and x0 to the
 * shared args area, then resumes the task here.  On return we trap so that the
 * dumper regains control in a ptrace stop. */
	.section .head.text, "ax"
	.globl __export_parasite_entry
__export_parasite_entry:
	bl	parasite_main
	brk	#0
	b	__export_parasite_entry   /* never reached: the dumper cures the task */

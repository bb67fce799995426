/* Parasite control, in the shape of CRIU's compel: prepare a seized task, run
 * remote syscalls in it, infect it with the parasite blob, talk to the parasite,
 * cure it.  Every call returns 0 or -errno with the message already recorded. */
#ifndef LIB_INFECT_H
#define LIB_INFECT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "arch.h"
#include "parasite-args.h"

struct infect_ctx {
	pid_t pid;
	arch_regs_t orig_regs;      /* as seized: restored by cure */
	void *orig_xstate;
	size_t orig_xstate_len;
	uint64_t orig_sigmask;
	bool saved;                 /* orig_* hold the task's own state */
	bool curing;
	int pending;                /* a command sent, its reply not read yet (0: none) */
	uint64_t site;              /* where the syscall+trap bytes go, for one remote syscall at a time */
	unsigned char site_orig[64];
	bool site_known;            /* site_orig holds what is there */
	bool site_planted;          /* the syscall+trap bytes are there now */
	/* parasite */
	int memfd;
	void *local;                /* our mapping of the blob area */
	uint64_t remote;            /* the task's mapping of it */
	size_t map_len;
	struct parasite_args *args; /* in the shared mapping */
	int sock;                   /* connected to the parasite */
	int pipe_rd;                /* the parasite writes pages into the other end */
	int pipe2_rd;               /* the second page pipe (infect_pipe2), or -1 */
	bool running;               /* the parasite daemon is serving */
};

/* Save the task's registers, xstate and sigmask, block its signals, and take
 * 'exec_addr' (the start of an executable mapping) as the syscall site.  Its bytes
 * are replaced only while a remote syscall runs: the pages drained meanwhile
 * must hold the program's own code. */
int infect_prepare(struct infect_ctx *ctx, pid_t pid, uint64_t exec_addr);
/* Run one syscall in the task; its return value (maybe -errno) in *ret. */
int infect_syscall(struct infect_ctx *ctx, long nr, long *ret, long a0, long a1, long a2, long a3,
		   long a4, long a5);
/* Run one syscall in another stopped thread of the task (signals blocked meanwhile),
 * at the planted site; the thread is left exactly as it was. */
int infect_thread_syscall(struct infect_ctx *ctx, pid_t tid, long nr, long *ret, long a0, long a1, long a2);
/* The task's address of args->thread_scratch (after infect_parasite), for
 * syscalls that write their result to memory. */
uint64_t infect_scratch_remote(const struct infect_ctx *ctx);
/* Map the parasite into the task and start it serving on a socket. */
int infect_parasite(struct infect_ctx *ctx);
/* Give the parasite a second page pipe (once; ctx->pipe2_rd), for batches split
 * over two files (DUMP_PAGES with args->split). */
int infect_pipe2(struct infect_ctx *ctx);
/* One command: send, and wait for the reply (ret < 0 is the parasite's -errno). */
int infect_cmd(struct infect_ctx *ctx, enum parasite_cmd cmd, uint64_t *arg);
/* Send a command without waiting, for streaming commands (DUMP_PAGES). */
int infect_cmd_send(struct infect_ctx *ctx, enum parasite_cmd cmd);
int infect_cmd_recv(struct infect_ctx *ctx, enum parasite_cmd cmd, uint64_t *arg);
/* Stop the parasite, unmap it and put back every register and byte we changed.
 * Safe to call at any point after infect_prepare, also after a failure. */
int infect_cure(struct infect_ctx *ctx);

#endif

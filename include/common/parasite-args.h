/* What the dumper and the parasite share: the layout of the area that follows the
 * parasite blob in the injected memfd (both sides map it), and the commands sent
 * over the control socket.  Plain fixed-size types only: the blob has no libc. */
#ifndef COMMON_PARASITE_ARGS_H
#define COMMON_PARASITE_ARGS_H

#include <stdint.h>

#define PARASITE_STACK_SIZE   (64 << 10)
#define PARASITE_ARGS_SIZE    (1 << 20)   /* shared area for command payloads */
#define PARASITE_MAX_TIMERS   64         /* POSIX timers per DUMP_TIMERS command */

enum parasite_cmd {
	PARASITE_CMD_INIT = 1,     /* reply carries nothing; the pipe fd comes with it */
	PARASITE_CMD_DUMP_PAGES,   /* vmsplice args->iovs[0..nr_iovs) into the pipe */
	PARASITE_CMD_DUMP_MISC,    /* fill args->misc */
	PARASITE_CMD_FINI,         /* close fds, return to the trap */
	PARASITE_CMD_DUMP_TIMERS,  /* timer_gettime/getoverrun of args->timers.t[0..nr).id */
	PARASITE_CMD_PIPE2,        /* the second page pipe's fd comes with it (see split) */
};

struct parasite_msg {
	uint32_t cmd;
	int32_t ret;    /* reply: 0 or -errno */
	uint64_t arg;   /* reply of DUMP_PAGES: bytes spliced */
};

struct parasite_iov {
	uint64_t base;
	uint64_t len;
};

struct parasite_sigaction {
	uint64_t handler, flags, restorer, mask;
};

struct parasite_misc {
	struct parasite_sigaction sigactions[64];   /* index sig-1 */
	int64_t itimers[3][4];                      /* real, virtual, prof: isec iusec vsec vusec */
	uint64_t brk;
	int32_t dumpable;
	int32_t securebits;
	int32_t no_new_privs;
	int32_t pad;
	uint64_t tid_address;
	uint64_t altstack_sp, altstack_size;
	int32_t altstack_flags;
	int32_t pdeath_sig;          /* PR_GET_PDEATHSIG */
	int32_t child_subreaper;     /* PR_GET_CHILD_SUBREAPER */
	int32_t pgid, sid;           /* getpgid(0), getsid(0): in the task's pid namespace */
	int32_t thp_disabled;        /* PR_GET_THP_DISABLE */
	int32_t mdwe;                /* PR_GET_MDWE (0 where the kernel lacks it) */
	int64_t timer_slack_ns;      /* PR_GET_TIMERSLACK (the leader's) */
	int32_t want_ns_last_pid;    /* set by the dumper: the task is the init of a pid namespace */
	int32_t ns_last_pid;         /* then /proc/sys/kernel/ns_last_pid as it reads it (-1: unreadable) */
};

/* One POSIX timer: the id is the dumper's, the rest the parasite's answer. */
struct parasite_timer {
	int32_t id;
	int32_t overrun;
	int64_t interval_sec, interval_nsec, value_sec, value_nsec;
};

struct parasite_timers {
	uint32_t nr;
	uint32_t pad;
	struct parasite_timer t[PARASITE_MAX_TIMERS];
};

/* The shared area, at blob base + PARASITE_ARGS_OFF (page aligned after the blob). */
struct parasite_args {
	/* set by the dumper before the parasite starts */
	struct { uint16_t family; char path[108]; } addr;  /* dumper's socket */
	uint32_t addr_len;
	int32_t pipe_fd;        /* set by the parasite after INIT: its end of the pipe */
	int32_t sock_fd;
	uint32_t nr_iovs;
	int32_t pipe2_fd;       /* set by the parasite after PIPE2, else -1 */
	/* DUMP_PAGES: the first split bytes of the iovs go into the pipe, the rest into
	 * the second pipe, both at once (two files fill in parallel); split >= the
	 * iovs' total: all into the first */
	uint64_t split;
	struct parasite_misc misc;
	uint64_t thread_scratch[4];   /* remote syscalls in other threads write here */
	struct parasite_timers timers;
	struct parasite_iov iovs[];   /* up to PARASITE_MAX_IOVS */
};

#define PARASITE_MAX_IOVS ((PARASITE_ARGS_SIZE - sizeof(struct parasite_args)) / sizeof(struct parasite_iov))

#endif

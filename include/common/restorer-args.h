/* What libcr hands to the restorer blob: everything the restored task needs once
 * the library's own memory is gone.  All pointers are absolute addresses inside
 * the restorer region, which the restorer never unmaps. */
#ifndef COMMON_RESTORER_ARGS_H
#define COMMON_RESTORER_ARGS_H

#include <stdint.h>

#define RESTORER_STACK_SIZE (64 << 10)
#define RESTORER_THREAD_STACK (32 << 10)   /* per cloned thread, for its restorer part */
#define RST_MAX_SIGINFO 1024   /* queued signals per task we carry over */
#define RST_MAX_VDSO_AREAS 4
#define RST_MAX_POSIX_TIMERS 256

struct rst_vma {
	uint64_t premap;    /* where the area was built */
	uint64_t start, end;
	uint32_t prot;
	uint32_t lock;      /* mlock2 after the move: 1, or 3 for MLOCK_ONFAULT (0: none) */
};

struct rst_vdso_area {
	uint64_t cur;       /* where this kernel mapped it in the restoring process */
	uint64_t scratch;   /* parking place inside the restorer region */
	uint64_t target;    /* where the image had it */
	uint64_t len;
};

/* The kernel's struct prctl_mm_map (linux/prctl.h), kept here for the blob. */
struct rst_mm_map {
	uint64_t start_code, end_code, start_data, end_data, start_brk, brk, start_stack;
	uint64_t arg_start, arg_end, env_start, env_end;
	uint64_t auxv;      /* pointer */
	uint32_t auxv_size;
	uint32_t exe_fd;
};

struct rst_sigaction {
	uint64_t handler, flags, restorer, mask;
};

/* What the restorer may do with the caller's rights (libcr checked the rest). */
#define RST_CREDS_SETPCAP         1   /* securebits and the bounding set may change */
#define RST_CREDS_GROUPS          2   /* setgroups: the list differs, or CAP_SETGID */
#define RST_CREDS_KEEPCAPS_LOCKED 4   /* no PR_SET_KEEPCAPS either */

struct rst_creds {
	uint32_t uid, euid, suid, fsuid, gid, egid, sgid, fsgid;
	uint32_t flags;                   /* RST_CREDS_* */
	uint32_t ngroups;
	uint32_t groups[64];
	uint64_t cap_inh, cap_prm, cap_eff, cap_bnd, cap_amb;
	uint32_t securebits;
	uint32_t no_new_privs;
	uint32_t last_cap;
};

struct rst_siginfo {
	uint32_t shared;    /* queued process-wide rather than to the thread */
	uint32_t pad;
	uint8_t info[128];  /* siginfo_t */
};

/* One seccomp filter to install (SECCOMP_SET_MODE_FILTER), outermost first. */
struct rst_seccomp_filter {
	uint64_t prog;      /* struct sock_filter[len] */
	uint32_t len;
	uint32_t flags;     /* SECCOMP_FILTER_FLAG_* */
};

/* CPUs an affinity mask may name: 1024 */
#define RST_CPU_MASK_WORDS 16
#define RST_MAX_PID_LEVELS 32   /* the kernel nests pid namespaces 32 deep at most */

/* One thread: what it sets for itself before its rt_sigreturn.  threads[0] is the
 * leader, which runs the restorer from its start; the others are cloned by it. */
struct rst_thread {
	int32_t tid;
	uint32_t nr_siginfo;                  /* signals queued to this thread */
	uint64_t args;                        /* the struct restorer_args */
	uint64_t siginfo;                     /* struct rst_siginfo[nr_siginfo] */
	uint64_t sigframe;                    /* rt_sigframe prepared by the arch code: sp for sigreturn */
	uint64_t stack_top;                   /* where a cloned thread runs the restorer */
	uint64_t tls[2];                      /* the arch's thread pointers (x86_64: fs, gs base; aarch64: tpidr_el0) */
	uint64_t altstack_sp, altstack_size;
	int32_t altstack_flags;
	uint32_t has_rseq;
	uint64_t rseq_ptr;
	uint32_t rseq_len, rseq_sig;
	uint64_t clear_child_tid;
	uint64_t robust_list, robust_list_len;
	uint32_t has_sched;
	int32_t sched_policy, sched_prio, nice;
	char comm[16];
	uint32_t seccomp_mode;                /* 0, 1 (strict) or 2 (filters) */
	uint32_t nr_seccomp;                  /* mode 2: filters to install */
	uint64_t seccomp;                     /* struct rst_seccomp_filter[nr_seccomp] */
	int64_t result;                       /* where the thread reports a failure (step<<32|-errno) */
	/* in a nested pid namespace: tid is its TID there, and these are its TIDs at
	 * every level, innermost (tid) first down to the tree's: clone3's set_tid
	 * (0: none, the thread is cloned at tid alone) */
	uint32_t nr_set_tid;
	int32_t set_tid[RST_MAX_PID_LEVELS];
	uint32_t cpu_mask_len;                /* bytes of cpu_mask for sched_setaffinity (0: keep the inherited) */
	uint32_t has_ioprio;
	int32_t ioprio;                       /* ioprio_set(IOPRIO_WHO_PROCESS) */
	uint64_t timer_slack_ns;              /* PR_SET_TIMERSLACK (0: keep the inherited) */
	uint64_t cpu_mask[RST_CPU_MASK_WORDS];
	uint32_t has_creds;                   /* its own credentials (else the process's: args->creds) */
	struct rst_creds creds;
};

/* A POSIX timer to create at its id and arm: value is the absolute expiry in its
 * clock (TIMER_ABSTIME), taking off the time the process was away; 0: disarmed.
 * relative: a CPU-time clock, value is the CPU time left (it restarts from 0). */
struct rst_posix_timer {
	int32_t id, clockid, notify, signo, tid, relative;
	uint64_t sival;
	int64_t interval_sec, interval_nsec, value_sec, value_nsec;
};

struct restorer_args {
	uint64_t task_size;
	uint64_t rst_start, rst_len;          /* this region: kept */
	uint64_t premap_start, premap_len;    /* premapped areas: moved out, then unmapped */

	uint32_t nr_vmas;
	uint32_t nr_vdso;
	uint64_t vmas;                        /* struct rst_vma[nr_vmas], sorted by start */
	struct rst_vdso_area vdso[RST_MAX_VDSO_AREAS];

	struct rst_mm_map mm;
	struct rst_sigaction sigactions[64];  /* index sig-1; SIGKILL/SIGSTOP skipped */
	int64_t itimers[3][4];                /* isec iusec vsec vusec */
	int32_t dumpable;
	int32_t pdeath_sig;                   /* PR_SET_PDEATHSIG: credential changes clear it */
	uint32_t mdwe;                        /* PR_SET_MDWE flags, set last (0: none) */
	uint32_t mlockall;                    /* mlockall flags (MCL_FUTURE...), set last (0: none) */
	uint32_t nr_siginfo;                  /* signals queued to the process */
	uint64_t siginfo;                     /* struct rst_siginfo[nr_siginfo] */
	int32_t pid;
	uint32_t nr_threads;
	uint64_t threads;                     /* struct rst_thread[nr_threads] */
	uint32_t threads_done;                /* futex: cloned threads through their setup */
	uint32_t pad;
	struct rst_creds creds;
	uint32_t seccomp_tsync;               /* every thread shares the leader's chain: it installs
						 it for all with SECCOMP_FILTER_FLAG_TSYNC */
	uint32_t pad_seccomp;

	int64_t result;                       /* a process-wide step failed (step<<32|-errno) */

	uint32_t nr_posix_timers;
	uint32_t pad_timers;
	struct rst_posix_timer posix_timers[RST_MAX_POSIX_TIMERS];   /* in id order */
};

#endif

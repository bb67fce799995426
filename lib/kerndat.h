/* Kernel features, probed once per process (principle 8).  Code asks here;
 * `crtool check` prints the same table through cr_check(). */
#ifndef LIB_KERNDAT_H
#define LIB_KERNDAT_H

#include <stdbool.h>
#include <stdint.h>

enum dirty_track_mode {
	DIRTY_TRACK_NONE,
	DIRTY_TRACK_PAGEMAP_SCAN_UFFD_WP,   /* PAGEMAP_SCAN + userfaultfd WP-async */
	DIRTY_TRACK_SOFT_DIRTY,
};

struct kerndat {
	bool ptrace_seize;          /* PTRACE_SEIZE + PTRACE_INTERRUPT */
	bool ptrace_getsigmask;     /* PTRACE_GETSIGMASK */
	bool ptrace_peeksiginfo;    /* PTRACE_PEEKSIGINFO */
	bool ptrace_get_rseq_conf;  /* PTRACE_GET_RSEQ_CONFIGURATION */
	bool clone3_set_tid;        /* clone3 with set_tid (Linux 5.5) */
	bool prctl_mm_map;          /* PR_SET_MM_MAP */
	bool prctl_mm_exe;          /* PR_SET_MM_MAP with exe_fd (CAP_CHECKPOINT_RESTORE) */
	bool memfd;                 /* memfd_create */
	bool vmsplice;              /* vmsplice of user pages into a pipe */
	bool pagemap_scan;          /* PAGEMAP_SCAN ioctl (Linux 6.7) */
	bool uffd;                  /* userfaultfd */
	bool uffd_wp_async;         /* UFFD_FEATURE_WP_ASYNC | WP_UNPOPULATED */
	bool soft_dirty;            /* pagemap soft-dirty bit (CONFIG_MEM_SOFT_DIRTY) */
	bool tcp_repair;            /* TCP_REPAIR */
	bool time_ns;               /* CLONE_NEWTIME */
	bool kcmp;                  /* kcmp() */
	bool arch_map_vdso;         /* x86_64: arch_prctl(ARCH_MAP_VDSO_64) */
	bool rseq;                  /* rseq() registration */
	bool timer_restore_ids;     /* PR_TIMER_CREATE_RESTORE_IDS: timer_create at a chosen id (6.15) */
	bool pidfd_getfd;           /* pidfd_getfd: another process's open file description (5.6) */
	bool seccomp_suspend;       /* PTRACE_O_SUSPEND_SECCOMP (CAP_SYS_ADMIN, CONFIG_CHECKPOINT_RESTORE) */
	enum dirty_track_mode dirty_track;
	uint64_t xfeatures_mask;    /* x86_64: XCR0 as reported by the kernel (xsave area) */
	uint32_t xsave_size;        /* x86_64: size of the NT_X86_XSTATE regset */
	/* x86_64: what rt_sigreturn restores for a task that has not asked for the
	 * dynamic features (AMX tile data): its xfeatures and xsave size */
	uint64_t sigframe_xfeatures;
	uint32_t sigframe_xstate_size;
	uint32_t sve_max_vl;        /* aarch64: the longest SVE vector length (bytes), 0: no SVE */
	unsigned long task_size;    /* highest user address + 1 */
	unsigned long thp_size;     /* PMD huge page size, 0 if THP is off ("never") */
	bool thp_always;            /* "always": any area may hold huge pages, not only madvised ones */
	/* the vDSO layout of this kernel: sizes in bytes, 0 if absent */
	unsigned long vdso_size, vvar_size, vvar_vclock_size;
};

/* The probed features (probing on first call; never fails: missing is false). */
const struct kerndat *kerndat_get(void);

#endif

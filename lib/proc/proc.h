/* Parsers for /proc/<pid> files.  Each fills a plain struct; -errno on failure
 * (with a message naming the pid and file). */
#ifndef LIB_PROC_H
#define LIB_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define PF_KTHREAD 0x00200000

struct proc_stat {
	char comm[32];
	char state;
	pid_t ppid, pgid, sid;
	unsigned long flags;
	int exit_signal;
	int exit_code;             /* a zombie's wait() status (field 52) */
	unsigned tty_nr;           /* the controlling terminal's device (0: none) */
	int tpgid;                 /* its foreground process group (-1: none) */
	uint64_t start_code, end_code, start_stack;
	uint64_t start_data, end_data, start_brk;
	uint64_t arg_start, arg_end, env_start, env_end;
};

struct proc_status {
	uint32_t uid[4], gid[4];   /* real, effective, saved, fs */
	uint32_t ngroups;
	uint32_t groups[64];
	uint64_t cap_inh, cap_prm, cap_eff, cap_bnd, cap_amb;
	int umask;                 /* -1 if the kernel does not report it */
	int threads;
	pid_t tracer;
	int no_new_privs;
	int seccomp;
	uint64_t sigpnd, shdpnd, sigblk;
	uint64_t vm_lck_kb;        /* VmLck: locked memory (0 if the kernel does not say) */
};

struct proc_vma {
	uint64_t start, end, pgoff;
	uint32_t prot;             /* PROT_* */
	bool shared;               /* 's' in maps */
	bool growsdown;            /* VmFlags gd */
	uint64_t madv;             /* 1 << MADV_* for the VmFlags madvise() sets (hg, nh, dd...) */
	uint32_t lock;             /* VmFlags lo: 1 (mlock); with lf: 3 (mlock2 MLOCK_ONFAULT) */
	uint32_t dev_major, dev_minor;
	uint64_t ino;
	char path[4096];           /* file path, [heap], [stack], [vdso]... or "" */
	bool deleted;              /* path ends with " (deleted)" (stripped) */
	uint64_t rss_kb, swap_kb;  /* smaps' Rss and Swap (0 from maps) */
};

struct proc_rlimit { uint64_t cur, max; };
#define PROC_NR_RLIMITS 16

int proc_parse_stat_buf(const char *buf, struct proc_stat *st);
int proc_parse_stat(pid_t pid, struct proc_stat *st);
/* Same, without recording an error (for polling a task that may be gone). */
int proc_parse_stat_quiet(pid_t pid, struct proc_stat *st);
int proc_parse_status_buf(const char *buf, struct proc_status *st);
/* The NSpid line of a status or pidfd fdinfo text: how many levels (0: none), the
 * last, the PID in the process's own namespace, in *own. */
int proc_nspid(const char *text, pid_t *own);
/* The same, each level's PID (outermost first) in out[0..max-1]; returns how many
 * levels there are (more than max: the rest not stored). */
int proc_nspid_all(const char *text, pid_t *out, int max);
int proc_parse_status(pid_t pid, struct proc_status *st);
/* /proc/pid/smaps (maps + VmFlags); *vmas is malloc'ed. */
int proc_parse_smaps_buf(const char *buf, struct proc_vma **vmas, int *nr);
int proc_parse_smaps(pid_t pid, struct proc_vma **vmas, int *nr);
/* The areas only, from /proc/PID/maps: no page walk, no VmFlags (growsdown, madv unset). */
int proc_parse_maps(pid_t pid, struct proc_vma **vmas, int *nr);
int proc_parse_limits_buf(const char *buf, struct proc_rlimit lim[PROC_NR_RLIMITS]);
int proc_parse_limits(pid_t pid, struct proc_rlimit lim[PROC_NR_RLIMITS]);
/* "flags:\t0100002" and "pos:\t..." of /proc/pid/fdinfo/N. */
int proc_parse_fdinfo(pid_t pid, int fd, uint64_t *pos, uint32_t *flags);
/* Threads of pid from /proc/pid/task; returns count, *tids malloc'ed. */
int proc_list_threads(pid_t pid, pid_t **tids);

#endif

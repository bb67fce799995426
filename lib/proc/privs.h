/* The caller's own privileges, and what an image may ask for with them.
 *
 * libcr never gives a restored process more privilege than its caller had
 * (principle 7): every uid, gid, group, capability and securebit an image asks
 * for, and every file it reopens, is checked here against the caller's real
 * credentials (getresuid, capget, ...) before anything is created.  Operations
 * that need a capability say which, when the caller lacks it. */
#ifndef LIB_PROC_PRIVS_H
#define LIB_PROC_PRIVS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/capability.h>
#include "core.pb-c.h"
#include "fdinfo.pb-c.h"
#include "mm.pb-c.h"

#ifndef CAP_CHECKPOINT_RESTORE
#define CAP_CHECKPOINT_RESTORE 40
#endif

struct files_image;

struct privs {
	uid_t uid[4];            /* real, effective, saved, fs */
	gid_t gid[4];
	gid_t *groups;           /* supplementary, sorted */
	int ngroups;
	uint64_t eff, prm, inh, bnd, amb;
	uint32_t securebits;
	bool no_new_privs;
	int last_cap;
};

/* --unprivileged: the only capabilities libcr uses, whatever else the caller holds */
#define PRIVS_UNPRIV_CAPS ((1ULL << CAP_CHECKPOINT_RESTORE) | (1ULL << CAP_SYS_PTRACE))
/* Until called again with false (the end of the dump or restore), this thread and
 * the processes it forks count only PRIVS_UNPRIV_CAPS of the caller's. */
void privs_limit(bool on);

/* The caller's credentials, as the kernel reports them (limited: see privs_limit). */
int privs_get(struct privs *p);
void privs_free(struct privs *p);
/* cap in the caller's effective set */
bool privs_has(const struct privs *p, int cap);
/* "CAP_SYS_ADMIN", or "capability N" */
const char *cap_name(int cap);
/* 0 if the calling thread holds cap (or alt, unless alt < 0) in its effective set; else
 * one error line "OP needs CAP (or ALT), which the caller (uid U) lacks" and -EPERM. */
int privs_need(int cap, int alt, const char *op);
/* After an EPERM/EACCES from OP: the same line when the caller lacks cap, else 0
 * (the failure has another cause: the caller reports errno as it is). */
int privs_explain(int err, int cap, int alt, const char *op);

/* Process pid of an image (its core, mm, fs and fds) asks for nothing the caller
 * could not set or open itself: else one line naming pid and what it asked for. */
int privs_check_task(const struct privs *p, uint32_t pid, const CoreEntry *core, const MmEntry *mm,
		     const char *cwd, const char *root, const struct files_image *fi);

/* What the restorer may do with the caller's rights (RST_CREDS_* of restorer-args.h). */
uint32_t privs_restorer_flags(const struct privs *p, const CredsEntry *cr);

/* Why ptrace of pid is refused, as one line, after PTRACE_SEIZE failed with EPERM. */
int privs_ptrace_denied(pid_t pid);

#endif

/* Attributes the kernel keeps for a process or a thread that nothing else
 * restores: the OOM score adjustment, the core dump filter, the audit login
 * uid, transparent huge pages disabled (PR_SET_THP_DISABLE), memory-deny-write-
 * execute (PR_SET_MDWE), mlockall(MCL_FUTURE), and per thread the CPU affinity,
 * the I/O priority and the timer slack. */
#ifndef LIB_PROC_ATTRS_H
#define LIB_PROC_ATTRS_H

#include <stdbool.h>
#include <sys/types.h>
#include "core.pb-c.h"
#include "restorer-args.h"

struct parasite_misc;

/* Dump, from outside: the process's (/proc) and one thread's (syscalls on its TID). */
int attrs_dump_process(pid_t pid, CoreEntry *c);
int attrs_dump_thread(pid_t tid, ThreadEntry *te);
/* mlockall(MCL_FUTURE): the parasite's area, mapped at parasite_at since the
 * seize (when VmLck read vm_lck_kb), is locked if and only if it is in force. */
int attrs_dump_mlockall(pid_t pid, uint64_t parasite_at, uint64_t vm_lck_kb, CoreEntry *c);
/* What only the task can tell (the parasite's answer, for the leader). */
void attrs_from_misc(CoreEntry *c, const struct parasite_misc *m);
/* *set: whether any attribute differs from the dumper's own, which a restoring
 * process like it hands down (a reader before IMG_VERSION_TASK_ATTRS would leave
 * that without a word). */
int attrs_set(const CoreEntry *c, bool *set);

int attrs_validate(const CoreEntry *c, pid_t pid);
/* Restore, in the new task before the restorer: the process's attributes. */
int attrs_restore_process(const CoreEntry *c, pid_t pid);
/* The restorer's share: each thread's affinity, I/O priority and slack, MDWE and
 * mlockall(MCL_FUTURE). */
int attrs_restorer_thread(const ThreadEntry *te, struct rst_thread *t);
void attrs_restorer_process(const CoreEntry *c, struct restorer_args *a);

#endif

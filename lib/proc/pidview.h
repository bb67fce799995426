/* PIDs as a restored process sees them: one in a pid namespace nested below the
 * tree's (pstree.img pid_ns) knows its namespace's processes by their PIDs there
 * (pid_ns_threads), and no other; the images name every process by its PID in
 * the tree's namespace. */
#ifndef LIB_PIDVIEW_H
#define LIB_PIDVIEW_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "pstree.pb-c.h"

/* pstree.img's nested pid namespaces: each one level below the one it was made in
 * (pid_ns_parent), its init (PID 1 there) forked by a process of that one, the rest
 * by processes in it or above it (after the init: they entered it), every PID at
 * every level once; pid_ns_children names a child's namespace it is init of,
 * pid_ns_entered another nested below its own, pid_ns_unshared a new one. */
int pidview_check(PstreeEntry *const *entries, size_t nr);
/* The PID of process pid as process viewer sees it (at the viewer's level: pid is
 * in its namespace or one nested in it): 0 if it sees none of it. */
uint32_t pidview_pid(PstreeEntry *const *entries, size_t nr, size_t viewer, uint32_t pid);
/* Thread tid of e (a process of a nested namespace) by its TID there; 0: not one of its. */
uint32_t pidview_tid(const PstreeEntry *e, uint32_t tid);
/* clone3's set_tid for thread t of e (after pidview_check): its PID at every level,
 * innermost first down to the tree's; how many (at most RST_MAX_PID_LEVELS). */
int pidview_set_tid(const PstreeEntry *e, size_t t, int32_t *tid);

/* Have the viewer's children born in nested namespace ns (setns to it through a
 * pidfd of one of its processes, the first born[j] says exists; NULL: all do):
 * -EAGAIN while none does yet.  pidview_enter_own: in its own again. */
int pidview_enter(PstreeEntry *const *entries, size_t nr, size_t viewer, uint32_t ns, const uint32_t *born);
int pidview_enter_own(uint32_t me);
/* Once the whole tree exists and the task forks no more: the pid namespace its
 * children are born in as it was (pid_ns_children, pid_ns_entered: setns, through a
 * pidfd, before it enters a nested user namespace: that needs privileges over the
 * target's memory's, the root's; pid_ns_unshared: unshare(CLONE_NEWPID) after, so
 * that the user namespace it is in owns it, and its next child is PID 1 there). */
int pidview_children_ns(PstreeEntry *const *entries, size_t nr, size_t idx);
int pidview_children_unshare(PstreeEntry *const *entries, size_t idx);
struct restorer_args;
/* A process of a nested namespace: its restorer knows itself and its threads by
 * their PIDs there (tgsigqueueinfo, timers' thread), and clones each thread at its
 * TID there and in the tree's namespace. */
void pidview_restorer_args(const PstreeEntry *e, struct restorer_args *a);

#endif

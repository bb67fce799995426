/* Pid and mount namespaces owned by a nested user namespace (userns-pid.c): made at
 * the restore by a helper in the owner, entered by the init's parent before it clones
 * the init, or by the mount namespace's maker. */
#ifndef LIB_NS_USERNS_PID_H
#define LIB_NS_USERNS_PID_H

#include <stddef.h>
#include "pstree.pb-c.h"

struct usernest_set;

/* pstree.img's pid_ns_owner: only on a nested namespace's init, naming a listed
 * user namespace. */
int usernest_pid_check(const struct usernest_set *set, PstreeEntry *const *entries, size_t nr);
/* In restored task parent, before it clones init (entries[init], pid_ns_owner set):
 * a new pid namespace nested in parent's, owned by that user namespace, as *fd. */
int usernest_pid_make(const struct usernest_set *set, PstreeEntry *const *entries, size_t nr, size_t parent,
		      size_t init, int *fd);
/* In restored task self, right after its fork: a copy of its mount namespace owned by
 * nested user namespace owner (whose mounts are locked, as the kernel does), as *fd. */
int usernest_mnt_make(const struct usernest_set *set, PstreeEntry *const *entries, size_t nr, size_t self,
		      uint32_t owner, int *fd);

#endif

#ifndef LIB_PIDNS_H
#define LIB_PIDNS_H

/* In the first task of a new pid + mount namespace: private mounts, and a /proc
 * of this pid namespace. */
int pidns_mount_proc(void);

#endif

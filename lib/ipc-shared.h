/* SysV segments of an IPC namespace the tree shares with the caller (ipc-shared.c). */
#ifndef LIB_IPC_SHARED_H
#define LIB_IPC_SHARED_H

#include <sys/types.h>
#include "mm.pb-c.h"

/* Dump: the segment v attaches outlives the tree (not removed): record its key and
 * size, so that restore attaches the same live segment again.  Refused otherwise. */
int ipc_shared_shm_dump(pid_t pid, VmaEntry *v);
/* Restore: the segment is still there, with the key and size it had. */
int ipc_shared_shm_check(const VmaEntry *v);

#endif

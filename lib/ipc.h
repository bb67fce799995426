/* SysV IPC of a tree in its own IPC namespace (ipc.c). */
#ifndef LIB_IPC_H
#define LIB_IPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "ipc.pb-c.h"

struct img_dir;

struct ipc_image {
	bool own_ns;             /* ipc.img exists: the tree had its own namespace */
	uint32_t id;             /* 0: the root's (ipc.img); else a nested one (ipc-ID.img) */
	IpcEntry **e;
	size_t nr;
};

/* Save every object of pid's IPC namespace into ipc.img and ipcdata.img. */
int ipc_dump(struct img_dir *dir, pid_t pid);
/* The same for a nested namespace: ipc-ID.img and ipcdata-ID.img (id 0: the root's). */
int ipc_dump_id(struct img_dir *dir, pid_t pid, uint32_t id);

int ipc_load(struct img_dir *dir, struct ipc_image *ii);
int ipc_load_id(struct img_dir *dir, uint32_t id, struct ipc_image *ii);
void ipc_free(struct ipc_image *ii);
/* In the restored root, first: a new IPC namespace with every object remade. */
int ipc_restore(struct img_dir *dir, const struct ipc_image *ii);
/* Once every process has attached its segments: remove those that were removed. */
int ipc_finish(const struct ipc_image *ii);

#endif

/*
 * SysV shared memory of an IPC namespace the tree shares with the caller (the
 * host's, typically: PostgreSQL's postmaster keeps a small segment there).  Such a
 * segment belongs to the namespace, not to the tree: it stays when the tree is
 * killed (unless it was removed with IPC_RMID), keeping its id, key and contents.
 * So its contents are not saved; the restored process attaches the live segment,
 * which restore checks is still the one that was attached (same id, key and size).
 * A removed segment dies with its last attach: that is refused.
 */
#include <errno.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include "ipc-shared.h"
#include "log.h"

int ipc_shared_shm_dump(pid_t pid, VmaEntry *v)
{
	struct shmid_ds ds;

	if (shmctl((int)v->sysv_shmid, IPC_STAT, &ds))
		return pr_perror("pid %d: can't read SysV segment %u (at 0x%lx)", pid, v->sysv_shmid,
				 (unsigned long)v->start);
	if (ds.shm_perm.mode & SHM_DEST)
		return pr_err("pid %d has SysV shared memory (segment %u at 0x%lx), removed while attached, of an "
			      "IPC namespace it shares with processes outside the tree: it would not outlive the "
			      "dump; run the tree in its own IPC namespace (unshare -i) to checkpoint it", pid,
			      v->sysv_shmid, (unsigned long)v->start), -EOPNOTSUPP;
	v->has_sysv_key = v->has_sysv_size = true;
	v->sysv_key = (uint32_t)ds.shm_perm.__key;
	v->sysv_size = ds.shm_segsz;
	return 0;
}

int ipc_shared_shm_check(const VmaEntry *v)
{
	struct shmid_ds ds;

	if (shmctl((int)v->sysv_shmid, IPC_STAT, &ds) || (uint32_t)ds.shm_perm.__key != v->sysv_key ||
	    ds.shm_segsz != v->sysv_size)
		return pr_err("SysV segment %u (key 0x%x, %lu bytes) that area 0x%lx attached is gone from the IPC "
			      "namespace or was replaced: its contents live there, not in the images",
			      v->sysv_shmid, v->sysv_key, (unsigned long)v->sysv_size, (unsigned long)v->start),
		       -ENOENT;
	return 0;
}

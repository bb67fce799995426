#ifndef LIB_INVENTORY_H
#define LIB_INVENTORY_H

#include <sys/types.h>
#include "image/image.h"
#include "inventory.pb-c.h"

/* version: the oldest reader the dump needs (IMG_VERSION_*: image.h) */
int inventory_write(struct img_dir *dir, pid_t root_pid, bool own_pidns, uint32_t version);
/* The inventory of a pre-dump: memory only, a parent for the next round. */
int inventory_write_pre_dump(struct img_dir *dir, pid_t root_pid);
/* Read and check it fits this machine (format version, arch, page size, CPU features). */
int inventory_read(struct img_dir *dir, InventoryEntry **out);

#endif

/* inventory.img: what the image directory is and what it relies on. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include "arch.h"
#include "image/image.h"
#include "image/inventory.h"
#include "log.h"
#include "util.h"

static int write_inventory(struct img_dir *dir, pid_t root_pid, bool own_pidns, bool pre_dump, uint32_t version)
{
	InventoryEntry inv = INVENTORY_ENTRY__INIT;
	struct utsname u;
	struct img *img;
	int ret;

	uname(&u);
	inv.img_version = version;
	inv.arch = ARCH_NAME;
	inv.kernel_release = u.release;
	inv.tool_version = CR_VERSION;
	inv.root_pid = root_pid;
	inv.has_own_pidns = own_pidns;
	inv.own_pidns = own_pidns;
	inv.has_pre_dump = inv.pre_dump = pre_dump;
	inv.page_size = PAGE_SIZE;
	arch_inventory_fill(&inv);
	img = img_create(dir, IMG_INVENTORY, 0);
	if (!img)
		return -EIO;
	if ((ret = img_write_msg(img, &inv.base))) {
		img_close(img);
		return ret;
	}
	return img_close_write(img);
}

int inventory_write(struct img_dir *dir, pid_t root_pid, bool own_pidns, uint32_t version)
{
	return write_inventory(dir, root_pid, own_pidns, false, version);
}

int inventory_write_pre_dump(struct img_dir *dir, pid_t root_pid)
{
	return write_inventory(dir, root_pid, false, true, IMG_VERSION_BASE);
}

int inventory_read(struct img_dir *dir, InventoryEntry **out)
{
	struct img *img = img_open(dir, IMG_INVENTORY, 0);
	InventoryEntry *inv;
	int ret;

	if (!img)
		return -ENOENT;
	ret = img_read_one(img, &inventory_entry__descriptor, (ProtobufCMessage **)&inv);
	img_close(img);
	if (ret)
		return ret;
	*out = inv;
	if (inv->img_version < IMG_VERSION_BASE || inv->img_version > IMG_VERSION)
		return pr_err("images in %s have format version %u; this libcr reads versions %u to %u%s", dir->path,
			      inv->img_version, IMG_VERSION_BASE, IMG_VERSION,
			      inv->img_version > IMG_VERSION ? " (made by a newer crtool: restore them with that one)" : ""),
		       -EINVAL;
	if (strcmp(inv->arch, ARCH_NAME))
		return pr_err("images in %s were made on %s; this machine is %s", dir->path, inv->arch, ARCH_NAME),
		       -EINVAL;
	if (inv->page_size != PAGE_SIZE)
		return pr_err("images in %s use %u-byte pages; this machine uses %lu", dir->path, inv->page_size,
			      PAGE_SIZE), -EINVAL;
	return arch_inventory_check(inv, dir->path);
}

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "fault.h"
#include "image/image.h"
#include "log.h"
#include "mem/page-server.h"
#include "util.h"
#include "inventory.pb-c.h"
#include "pstree.pb-c.h"
#include "core.pb-c.h"
#include "mm.pb-c.h"
#include "fdinfo.pb-c.h"
#include "ghost.pb-c.h"
#include "timer.pb-c.h"
#include "ipc.pb-c.h"
#include "netdev.pb-c.h"
#include "timens.pb-c.h"
#include "seccomp.pb-c.h"
#include "cgroup.pb-c.h"
#include "ns.pb-c.h"
#include "mnt.pb-c.h"

static const struct img_desc descs[IMG__NR] = {
	[IMG_INVENTORY] = { "inventory.img",  0x494e5601, NULL, &inventory_entry__descriptor },
	[IMG_PSTREE]    = { "pstree.img",     0x50535401, NULL, &pstree_entry__descriptor },
	[IMG_CORE]      = { "core-%u.img",    0x434f5201, NULL, &core_entry__descriptor },
	[IMG_MM]        = { "mm-%u.img",      0x4d4d0001, NULL, &mm_entry__descriptor },
	[IMG_PAGEMAP]   = { "pagemap-%u.img", 0x50474d01, &pagemap_head__descriptor, &pagemap_entry__descriptor },
	[IMG_FDINFO]    = { "fdinfo-%u.img",  0x46444901, NULL, &fdinfo_entry__descriptor },
	[IMG_FS]        = { "fs-%u.img",      0x46530001, NULL, &fs_entry__descriptor },
	[IMG_PAGES]     = { "pages-%u.img",   0, NULL, NULL },
	[IMG_PAGES_PART1] = { "pages-%u.part1.img", 0, NULL, NULL },
	[IMG_GHOST]     = { "ghost-%u.img",   0x47485301, NULL, &ghost_entry__descriptor },
	[IMG_GHOSTDATA] = { "ghostdata-%u.img", 0, NULL, NULL },
	[IMG_TIMERS]    = { "timers-%u.img",  0x544d5201, NULL, &posix_timer_entry__descriptor },
	[IMG_IPC]       = { "ipc.img",        0x49504301, NULL, &ipc_entry__descriptor },
	[IMG_IPCDATA]   = { "ipcdata.img",    0, NULL, NULL },
	[IMG_NETNS]     = { "netns.img",      0x4e455401, NULL, &netns_entry__descriptor },
	[IMG_TIMENS]    = { "timens.img",     0x544e5301, NULL, &timens_entry__descriptor },
	[IMG_SECCOMP]   = { "seccomp.img",    0x53434d01, NULL, &seccomp_entry__descriptor },
	[IMG_CGROUP]    = { "cgroup.img",     0x43475201, NULL, &cgroup_entry__descriptor },
	[IMG_NS]        = { "ns.img",         0x4e530001, NULL, &ns_entry__descriptor },
	[IMG_UTSNS]     = { "utsns.img",      0x55545301, NULL, &uts_entry__descriptor },
	[IMG_MNTS]      = { "mountpoints.img", 0x4d4e5401, NULL, &mnt_entry__descriptor },
	[IMG_TMPFS]     = { "tmpfs-%u.img",   0x544d5001, NULL, &tmpfs_entry__descriptor },
	[IMG_USERNS]    = { "userns.img",     0x55534e01, NULL, &userns_entry__descriptor },
	[IMG_UTSNS_N]   = { "utsns-%u.img",   0x55545301, NULL, &uts_entry__descriptor },
	[IMG_NETNS_N]   = { "netns-%u.img",   0x4e455401, NULL, &netns_entry__descriptor },
	[IMG_IPC_N]     = { "ipc-%u.img",     0x49504301, NULL, &ipc_entry__descriptor },
	[IMG_IPCDATA_N] = { "ipcdata-%u.img", 0, NULL, NULL },
	[IMG_TIMENS_N]  = { "timens-%u.img",  0x544e5301, NULL, &timens_entry__descriptor },
	[IMG_MNTS_N]    = { "mountpoints-%u.img", 0x4d4e5401, NULL, &mnt_entry__descriptor },
};

bool img_kind_is_raw(enum img_kind kind)
{
	return !descs[kind].magic;
}

const struct img_desc *img_desc(enum img_kind kind)
{
	return &descs[kind];
}

int img_kind_of_name(const char *base)
{
	for (int k = 0; k < IMG__NR; k++) {
		const char *fmt = descs[k].name, *pct = strchr(fmt, '%');
		size_t pre = pct ? (size_t)(pct - fmt) : strlen(fmt);

		if (strncmp(base, fmt, pre))
			continue;
		if (!pct) {
			if (!strcmp(base, fmt))
				return k;
			continue;
		}
		const char *p = base + pre;
		if (*p < '0' || *p > '9')
			continue;
		while (*p >= '0' && *p <= '9')
			p++;
		if (!strcmp(p, pct + 2))
			return k;
	}
	return -1;
}

int img_dir_open(struct img_dir *dir, const char *path)
{
	dir->dfd = host_open(path, O_RDONLY | O_DIRECTORY);
	if (dir->dfd < 0)
		return pr_perror("images directory %s", path);
	dir->path = strdup(path);
	return 0;
}

void img_dir_close(struct img_dir *dir)
{
	if (dir->dfd >= 0)
		close(dir->dfd);
	dir->dfd = -1;
	free(dir->path);
	dir->path = NULL;
}

static void img_name(char *buf, size_t len, enum img_kind kind, unsigned id)
{
	snprintf(buf, len, descs[kind].name, id);
}

struct img *img_create(struct img_dir *dir, enum img_kind kind, unsigned id)
{
	struct img *img = xzalloc(sizeof(*img));

	if (!img)
		return NULL;
	img->kind = kind;
	img_name(img->name, sizeof(img->name), kind, id);
	if (fault_hit("image-create")) {
		free(img);
		return NULL;
	}
	if (dir->ps && kind == IMG_PAGES) {
		/* page contents stream to the page server; the socket stays the server's */
		img->ps = dir->ps;
		img->fd = -1;
		if (ps_file_open(dir->ps, img->name)) {
			free(img);
			return NULL;
		}
		img->fd = dup(dir->ps->sk);
		return img;
	}
	img->fd = openat(dir->dfd, img->name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (img->fd < 0) {
		pr_perror("can't create image %s/%s", dir->path, img->name);
		free(img);
		return NULL;
	}
	if (descs[kind].magic) {
		uint32_t hdr[2] = { IMG_MAGIC, descs[kind].magic };
		img->wcap = 64 << 10;
		img->wbuf = malloc(img->wcap);
		if (!img->wbuf) {
			img_close(img);
			return NULL;
		}
		memcpy(img->wbuf, hdr, sizeof(hdr));
		img->wlen = sizeof(hdr);
	}
	return img;
}

static int img_flush(struct img *img)
{
	int ret;

	if (!img->wlen)
		return 0;
	if (fault_hit("image-write"))
		return errno = EIO, pr_perror("can't write image %s", img->name);
	if (fault_hit("image-enospc"))
		return errno = ENOSPC, pr_perror("can't write image %s", img->name);
	if (fault_hit("image-short-write")) {
		write_all(img->fd, img->wbuf, img->wlen / 2);
		return errno = ENOSPC, pr_perror("can't write image %s (short write)", img->name);
	}
	ret = write_all(img->fd, img->wbuf, img->wlen);
	if (ret)
		return errno = -ret, pr_perror("can't write image %s", img->name);
	img->wlen = 0;
	return 0;
}

int img_write_msg(struct img *img, const ProtobufCMessage *msg)
{
	size_t len = protobuf_c_message_get_packed_size(msg);
	size_t need = 8 + len;
	uint32_t hdr[2];

	if (len > IMG_MAX_RECORD)
		return pr_err("record for %s too large (%zu bytes)", img->name, len), -EFBIG;
	if (img->wlen + need > img->wcap) {
		if (img_flush(img))
			return -EIO;
		if (need > img->wcap) {
			unsigned char *nb = realloc(img->wbuf, need);
			if (!nb)
				return -ENOMEM;
			img->wbuf = nb;
			img->wcap = need;
		}
	}
	protobuf_c_message_pack(msg, img->wbuf + img->wlen + 8);
	hdr[0] = len;
	hdr[1] = crc32c(0, img->wbuf + img->wlen + 8, len);
	memcpy(img->wbuf + img->wlen, hdr, 8);
	img->wlen += need;
	return 0;
}

int img_raw_begin(struct img *img, uint64_t len)
{
	return img->ps ? ps_file_data(img->ps, len) : 0;
}

int img_close_write(struct img *img)
{
	int ret;

	if (img->ps) {
		ret = ps_file_close(img->ps);
		img_close(img);
		return ret;
	}
	ret = img_flush(img);

	if (!ret && fsync(img->fd) && errno != EINVAL)
		ret = pr_perror("can't sync image %s", img->name);
	if (!ret && close(img->fd))
		ret = pr_perror("can't close image %s", img->name);
	else if (ret)
		close(img->fd);
	img->fd = -1;
	img_close(img);
	return ret;
}

void img_close(struct img *img)
{
	if (!img)
		return;
	if (img->fd >= 0)
		close(img->fd);
	free(img->wbuf);
	free(img->data);
	free(img);
}

static struct img *img_load(int fd, enum img_kind kind, const char *name)
{
	struct img *img = xzalloc(sizeof(*img));
	struct stat st;
	uint32_t hdr[2];

	if (!img)
		return NULL;
	img->kind = kind;
	img->fd = fd;
	snprintf(img->name, sizeof(img->name), "%s", name);
	if (fstat(fd, &st))
		goto err_errno;
	if (st.st_size < IMG_HDR_SIZE) {
		pr_err("image %s is truncated: %lld bytes, shorter than its header", name,
		       (long long)st.st_size);
		goto err;
	}
	img->size = st.st_size;
	img->data = malloc(img->size);
	if (!img->data)
		goto err_errno;
	if (read_all(fd, img->data, img->size)) {
		pr_perror("can't read image %s", name);
		goto err;
	}
	memcpy(hdr, img->data, sizeof(hdr));
	if (hdr[0] != IMG_MAGIC || hdr[1] != descs[kind].magic) {
		pr_err("image %s has a bad magic (%08x %08x): not a libcr %s image or corrupt",
		       name, hdr[0], hdr[1], descs[kind].name);
		goto err;
	}
	img->pos = IMG_HDR_SIZE;
	return img;
err_errno:
	pr_perror("can't load image %s", name);
err:
	img_close(img);
	return NULL;
}

struct img *img_open(struct img_dir *dir, enum img_kind kind, unsigned id)
{
	char name[64];
	int fd;

	img_name(name, sizeof(name), kind, id);
	fd = openat(dir->dfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			pr_err("image %s/%s is missing: the images directory is incomplete", dir->path, name);
		else
			pr_perror("can't open image %s/%s", dir->path, name);
		return NULL;
	}
	if (img_kind_is_raw(kind)) {
		struct img *img = xzalloc(sizeof(*img));
		if (!img) {
			close(fd);
			return NULL;
		}
		img->kind = kind;
		img->fd = fd;
		snprintf(img->name, sizeof(img->name), "%s", name);
		return img;
	}
	return img_load(fd, kind, name);
}

struct img *img_open_path(const char *path)
{
	const char *base = strrchr(path, '/');
	int kind, fd;

	base = base ? base + 1 : path;
	kind = img_kind_of_name(base);
	if (kind < 0 || img_kind_is_raw(kind)) {
		pr_err("%s: not a record image libcr knows (pages and ghostdata images are raw bytes)", path);
		return NULL;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		pr_perror("can't open image %s", path);
		return NULL;
	}
	return img_load(fd, kind, base);
}

int img_read_msg(struct img *img, const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out)
{
	uint32_t hdr[2];
	size_t left = img->size - img->pos;

	*out = NULL;
	if (!left)
		return 0;
	if (left < 8) {
		pr_err("image %s is truncated at offset %zu (record header needs 8 bytes, %zu left)",
		       img->name, img->pos, left);
		return -EIO;
	}
	memcpy(hdr, img->data + img->pos, 8);
	if (hdr[0] > IMG_MAX_RECORD || hdr[0] > left - 8) {
		pr_err("image %s is truncated or corrupt at offset %zu (record %u claims %u bytes, %zu left)",
		       img->name, img->pos, img->nr_read, hdr[0], left - 8);
		return -EIO;
	}
	if (crc32c(0, img->data + img->pos + 8, hdr[0]) != hdr[1]) {
		pr_err("image %s is corrupt: checksum mismatch in record %u at offset %zu",
		       img->name, img->nr_read, img->pos);
		return -EIO;
	}
	*out = protobuf_c_message_unpack(desc, NULL, hdr[0], img->data + img->pos + 8);
	if (!*out) {
		pr_err("image %s is corrupt: record %u at offset %zu does not decode as %s",
		       img->name, img->nr_read, img->pos, desc->name);
		return -EIO;
	}
	img->pos += 8 + hdr[0];
	img->nr_read++;
	return 1;
}

int img_read_one(struct img *img, const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out)
{
	int ret = img_read_msg(img, desc, out);

	if (ret == 0) {
		pr_err("image %s is truncated: no %s record", img->name, desc->name);
		return -EIO;
	}
	return ret < 0 ? ret : 0;
}

void img_free_msg(ProtobufCMessage *msg)
{
	if (msg)
		protobuf_c_message_free_unpacked(msg, NULL);
}

int img_write_one(struct img_dir *dir, enum img_kind kind, unsigned id, const ProtobufCMessage *msg)
{
	struct img *img = img_create(dir, kind, id);
	int ret;

	if (!img)
		return -EIO;
	if ((ret = img_write_msg(img, msg))) {
		img_close(img);
		return ret;
	}
	return img_close_write(img);
}

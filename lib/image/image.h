/* The image directory: one file per kind of state, each a header followed by
 * length-prefixed, checksummed protobuf records (see Documentation/image-format.md).
 * Page contents live in raw pages-<id>.img files indexed by pagemap-<pid>.img. */
#ifndef LIB_IMAGE_H
#define LIB_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>

/* The format version an image directory records is the oldest reader that can
 * restore it: 1, unless it uses what version 1 readers would skip without a word
 * (unknown protobuf fields), which raises it: 2 = processes in nested namespaces
 * (pstree.img's namespace ids; a version 1 reader would restore them all in the
 * root's); 3 = a veth whose ends are in two namespaces of the tree (netdev's
 * peer_netns: a version 2 reader would look for the peer in the same one); 4 =
 * processes in nested pid namespaces (pstree.img's pid_ns, which a version 3 reader
 * would skip, restoring them in the tree's pid namespace); 5 = a process or thread
 * attribute other than the dumper's (core.img's oom_score_adj, cpu_affinity...:
 * attrs.h) or a stopped process, which a version 4 reader would leave at the
 * restoring process's, or let run; 6 = processes in nested time namespaces
 * (pstree.img's time_ns, time_ns_children, which a version 5 reader would skip,
 * restoring them in the root's time namespace); 7 = processes in nested mount
 * namespaces (pstree.img's mnt_ns, mountpoints-ID.img); 8 = established TCP
 * connections of processes in nested network namespaces (an older reader would
 * lock them in the root's namespace only, and they could be reset while their
 * own is restored); 9 = pid namespaces nested more than one level (pstree.img's
 * pid_ns_parent and pid_ns_mid: an older reader would make every one a child of
 * the tree's); 10 = processes in nested user namespaces (pstree.img's user_ns,
 * ns.img's "user" instances and owners: an older reader refuses the kind); 11 = a
 * nested mount namespace that pivot_rooted (mountpoints-ID.img
 * whose root mount is not inherited, mounts bound from its parent's namespace:
 * an older reader refuses it); 12 = a process whose children are born in a pid
 * namespace it entered by setns, or in one it unshared and has forked nothing
 * into yet (pstree.img's pid_ns_unshared, pid_ns_entered), and a child born so
 * (in a nested namespace, its parent outside, not its init): an older reader
 * refuses them; 13 = fanotify fds (fdinfo's FD_FANOTIFY, which an older reader
 * calls an unknown kind) or file leases (fdinfo's lease, which an older reader
 * would drop); 14 = tun/tap devices (fdinfo's FD_TUN, netns.img's
 * links of kind "tun": an older reader refuses both); 15 = mlockall(MCL_FUTURE) in
 * force (core.img's mlockall: an older reader would leave what the process maps
 * next unlocked); 16 = pages in two files (pagemap entries' part, pages-N.part1.img:
 * an older reader would take part 1's runs from pages-N.img); 17 = a pid
 * namespace owned by a nested user namespace (pstree.img's pid_ns_owner: an older
 * reader would make it in the root's user namespace), or a time or mount namespace
 * owned so (ns.img's owner on kind "time" or "mnt": an older reader refuses it).
 * A reader takes every version up to its own IMG_VERSION. */
#define IMG_VERSION          18
#define IMG_VERSION_BASE     1
#define IMG_VERSION_NESTED   2
#define IMG_VERSION_VETH_PEER 3
#define IMG_VERSION_PIDNS    4
#define IMG_VERSION_TASK_ATTRS 5
#define IMG_VERSION_TIME_NS  6
#define IMG_VERSION_NESTED_MNT 7
#define IMG_VERSION_NESTED_TCP 8
#define IMG_VERSION_PIDNS_DEEP 9
#define IMG_VERSION_NESTED_USER 10
#define IMG_VERSION_NESTED_MNT_ROOT 11
#define IMG_VERSION_PIDNS_SETNS 12
#define IMG_VERSION_FANOTIFY_LEASE 13
#define IMG_VERSION_TUN      14
#define IMG_VERSION_MLOCKALL 15
#define IMG_VERSION_PAGES_PARTS 16
#define IMG_VERSION_USERNS_OWNED 17
#define IMG_VERSION_THREAD_CREDS 18
#define IMG_MAGIC     0x4d495243u  /* "CRIM" */
#define IMG_HDR_SIZE  8
#define IMG_MAX_RECORD (64u << 20) /* a sane upper bound for one record */

enum img_kind {
	IMG_INVENTORY,
	IMG_PSTREE,
	IMG_CORE,
	IMG_MM,
	IMG_PAGEMAP,
	IMG_FDINFO,
	IMG_FS,
	IMG_PAGES,     /* raw pages, no header */
	IMG_PAGES_PART1, /* part 1 of the pages (pagemap entries with part 1), raw */
	IMG_GHOST,     /* saved files: unlinked, replaced, memfd */
	IMG_GHOSTDATA, /* their bytes, raw, no header */
	IMG_TIMERS,    /* POSIX timers */
	IMG_IPC,       /* SysV IPC objects of the tree's own IPC namespace */
	IMG_IPCDATA,   /* their shared memory contents, raw */
	IMG_NETNS,     /* the tree's own network namespace */
	IMG_TIMENS,    /* the tree's own time namespace: its offsets */
	IMG_SECCOMP,   /* every thread's seccomp mode and filters */
	IMG_CGROUP,    /* the tasks' cgroups (and their limits) */
	IMG_NS,        /* which namespaces the tree's root has of its own */
	IMG_UTSNS,     /* hostname and domainname of the tree's own UTS namespace */
	IMG_MNTS,      /* the mounts of the tree's own mount namespace */
	IMG_TMPFS,     /* the files of one tmpfs mount (id: the mount's id) */
	IMG_USERNS,    /* uid/gid maps and setgroups of the tree's own user namespace */
	IMG_UTSNS_N,   /* a nested UTS namespace (id: its instance in ns.img) */
	IMG_NETNS_N,   /* a nested network namespace */
	IMG_IPC_N,     /* the SysV objects of a nested IPC namespace */
	IMG_IPCDATA_N, /* and their shared memory contents, raw */
	IMG_TIMENS_N,  /* the offsets of a nested time namespace */
	IMG_MNTS_N,    /* the mounts of a nested mount namespace */
	IMG__NR,
};

struct img_desc {
	const char *name;      /* file name, with %u for the pid/id where per-task */
	uint32_t magic;
	const ProtobufCMessageDescriptor *head; /* optional first record's type */
	const ProtobufCMessageDescriptor *msg;  /* every (other) record's type */
};

const struct img_desc *img_desc(enum img_kind kind);
/* Raw images (pages, ghost data) have no header and no records. */
bool img_kind_is_raw(enum img_kind kind);
/* Which kind a file name is (basename), or -1. */
int img_kind_of_name(const char *basename);

struct page_server;

struct img_dir {
	int dfd;
	char *path;
	struct page_server *ps;  /* pages images go to this page server (NULL: here) */
};

int img_dir_open(struct img_dir *dir, const char *path);
void img_dir_close(struct img_dir *dir);

struct img {
	enum img_kind kind;
	int fd;
	struct page_server *ps; /* a pages image streamed to a page server (fd is its socket) */
	char name[64];          /* file name for messages */
	/* writing: */
	unsigned char *wbuf;
	size_t wlen, wcap;
	/* reading: the whole file in memory */
	unsigned char *data;
	size_t size, pos;
	unsigned nr_read;
};

/* Create (truncate) an image for writing; id is the pid or pages id. */
struct img *img_create(struct img_dir *dir, enum img_kind kind, unsigned id);
/* Open for reading; header checked.  Missing file: NULL with a message. */
struct img *img_open(struct img_dir *dir, enum img_kind kind, unsigned id);
/* Open any image file by path, kind from its name (for crtool show). */
struct img *img_open_path(const char *path);
/* The next len raw bytes written to img->fd (a pages image) belong to it: a page
 * server is told so first; nothing to do for a local file. */
int img_raw_begin(struct img *img, uint64_t len);
/* Flush, fsync and close a written image; 0 or -errno. */
int img_close_write(struct img *img);
void img_close(struct img *img);

int img_write_msg(struct img *img, const ProtobufCMessage *msg);
/* Read the next record as type desc.  1: a message in *out, 0: end of image,
 * <0: corrupt or truncated (message says where). */
int img_read_msg(struct img *img, const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out);
/* Create an image of kind/id holding exactly msg, synced and closed. */
int img_write_one(struct img_dir *dir, enum img_kind kind, unsigned id, const ProtobufCMessage *msg);
/* Read exactly one record (error if absent). */
int img_read_one(struct img *img, const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out);
void img_free_msg(ProtobufCMessage *msg);

/* CRC32C of a record (the CPU's instruction where it has one); _portable: the
 * bytewise table, the reference */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);
uint32_t crc32c_portable(uint32_t crc, const void *buf, size_t len);

#endif

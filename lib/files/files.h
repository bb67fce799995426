/* Open files: one file per fd kind under lib/files/, each with its dump and
 * restore side by side behind struct fd_ops (principle 1). */
#ifndef LIB_FILES_H
#define LIB_FILES_H

#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>
#include "fdinfo.pb-c.h"
#include "ghost.pb-c.h"
#include "mm.pb-c.h"

struct img_dir;
struct ghost_dump;
struct share_scan;
struct share_plan;
struct cr_inherit_fd;

/* What the tree-wide scan knows of one fd (shared.c). */
struct share_info {
	uint32_t id;            /* open file description held by several processes (0: none) */
	uint32_t group;         /* the pipe or FIFO it is an end of (= id otherwise) */
	bool first;             /* the group's first fd in tree order: carries its contents */
	bool outside;           /* a pipe or FIFO a process outside the tree has open too */
	bool pty_pair;          /* a pty whose master a process of the tree holds */
};
struct unix_rst;
/* Dump: the unix sockets in flight on the process's queues (at any depth), and
 * the peers they need that are in flight too (checked once the process is dumped). */
struct flying_ref {
	uint32_t ino;
	int fd;                    /* the process's fd it was met on (for the message) */
};
struct flying_dump {
	struct flying_ref *ino, *need;    /* sockets in flight; peers needed among them */
	size_t nr, nr_need;
	struct flying_ref *icons, *wait;  /* clients queued on listeners in flight; clients of
					     the process queued on no listener it holds */
	size_t nr_icons, nr_wait;
};
/* SCM_RIGHTS nests no deeper than this (the kernel's MAX_RECURSION_LEVEL) */
#define IN_FLIGHT_DEPTH 4
int flying_add(struct flying_ref **v, size_t *nr, uint32_t ino, int fd);

/* What a kind's dump sees of one fd. */
struct fd_dump_ctx {
	pid_t pid;
	int fd;
	char *link;             /* readlink of /proc/pid/fd/N */
	struct stat st;         /* stat of the open file */
	char *fdinfo;           /* the text of /proc/pid/fdinfo/N */
	uint64_t pos;
	uint32_t flags;         /* open flags from fdinfo */
	int dup_of;             /* an earlier fd sharing this open file description, or -1 */
	bool held_outside;      /* a pipe or FIFO a process outside the tree has open too */
	struct share_info share;
	const struct share_scan *scan;  /* the whole tree's fds */
	bool shell_job;
	bool ext_unix_sk;       /* --ext-unix-sk: unix sockets connected outside may be dumped */
	bool orphan_pts;        /* --orphan-pts-master: a pts slave whose master is outside is saved */
	const struct fd_dump_ctx *all;  /* every fd of the process, in increasing order */
	int nr_all;
	struct ghost_dump *ghosts;
	/* a file in flight (SCM_RIGHTS): the socket whose queue carries it, how deep
	 * (1: on a queue of the process's own socket), and the process's sockets in flight */
	const struct fd_dump_ctx *owner;
	int depth;
	struct flying_dump *flying;
};

/* The restore side: the process's fd images and what restoring them needs. */
struct pipe_rst {
	uint64_t ino;
	bool fifo;              /* a FIFO's read-write holder (end[0]), not a pipe */
	int end[2];             /* read, write end; -1 once handed out or closed */
	int first[2];           /* fd number that took each end (-1: none yet) */
};

struct files_image {
	FdinfoEntry **fds;
	size_t nr;
	GhostEntry **ghosts;
	size_t nr_ghosts;
	pid_t id;               /* the process's PID in the images */
	/* options */
	bool shell_job;
	bool skip_checks;       /* --skip-file-checks: use changed files as they are */
	bool tcp_close;         /* --tcp-close: established connections come back closed */
	/* in the restored task */
	int *ghost_fds;         /* per ghost, the recreated file (above every restored fd) */
	struct pipe_rst *pipes;
	size_t nr_pipes;
	struct unix_rst *unix_sks;  /* unix sockets made so far (lib/net/unix.c) */
	const FdinfoEntry **flying; /* the unix sockets in flight on the queues, at any depth */
	size_t nr_flying;
	size_t nr_unix_sks;
	bool unix_done;         /* the socket files unlinked at the dump are unlinked again */
	int top;                /* one above the highest fd number in the image */
	struct share_plan *share;  /* files shared with other processes of the tree */
	/* --inherit-fd: the caller's files that stand for files of the dump, by key */
	const struct cr_inherit_fd *inherit;
	size_t nr_inherit;
	int *inherit_kept;      /* in the restored task: each one kept above the fd table, until
				   its children are forked (they take them from it) */
	const int *inherit_from;/* a child's: its parent's inherit_kept (the caller's numbers mean
				   nothing in a table the parent has restored) */
	size_t share_task;      /* this process's index in the plan */
};

struct fd_ops {
	FdKind kind;
	const char *name;
	/* Does this kind own the fd?  The first that says yes dumps it. */
	bool (*match)(const struct fd_dump_ctx *c);
	/* Fill the kind's part of e; everything allocated with malloc (freed as a message). */
	int (*dump)(const struct fd_dump_ctx *c, FdinfoEntry *e);
	/* Return an fd (any number) that is the restored file, or -errno; *inherited set
	 * when it is the caller's own fd to be used as it is (not closed/duplicated). */
	int (*restore)(struct files_image *fi, const FdinfoEntry *e, bool *inherited);
	/* Optional: once every fd is in place (epoll targets). */
	int (*finish)(struct files_image *fi, const FdinfoEntry *e);
	int (*validate)(const FdinfoEntry *e);
};

extern const struct fd_ops reg_fd_ops, chr_fd_ops, pipe_fd_ops, tty_fd_ops, fifo_fd_ops, memfd_fd_ops,
	eventfd_fd_ops, signalfd_fd_ops, timerfd_fd_ops, inotify_fd_ops, epoll_fd_ops, mqueue_fd_ops, unix_sk_fd_ops,
	pty_fd_ops, netlink_fd_ops, pidfd_fd_ops, packet_fd_ops, tun_fd_ops,
	fanotify_fd_ops;

/* ---- tun/tap (tun.c): whether this dump has any (image version 14) */
void tun_dump_note(void);
void tun_dump_reset(void);
bool tun_dump_used(void);
/* The namespace dump met device name (netns: its inode) with that many queues. */
int tun_dump_link(uint64_t netns, const char *name, uint32_t queues, bool persist);
/* Once every process is dumped: each device without persistence has all its
 * queues in the tree. */
int tun_dump_check(void);

/* ---- ptys (pty.c) */
bool pty_is_master(const struct stat *st);
/* N of /dev/pts/N for a slave, -1 for anything else. */
int pty_slave_index(const struct stat *st);
/* The index of pid's pty master at fd (fdinfo tty-index), or -1. */
int pty_master_index(pid_t pid, int fd);
/* The fd number of a restored slave of pty index, or -1. */
int pty_find_slave(const struct files_image *fi, uint32_t index);
/* Restore: does any process of the tree have a slave whose master was outside? */
bool pty_any_orphan(const struct files_image *fi);
/* Restore, in a restored task: the masters of such ptys go to libcr through this
 * socket (a kept fd's slot: util.h), each with its index as the message. */
void pty_set_master_sink(int kept_slot);
/* Restore, in the root task while its mounts are made: pair index made now, in
 * the devpts mounted at devpts_fd, for a bind of /dev/pts/N (runc's /dev/console);
 * the tree's slave takes it later. */
int pty_premake(int devpts_fd, uint32_t index);
extern const struct fd_ops inet_fd_ops;

/* Dump every fd of pid into fdinfo-<img_id>.img (img_id: its PID in the images),
 * and the contents of unlinked files and memfds (open or mapped in mm: their
 * areas get a ghost_id) into ghost-<img_id>.img.  An fd of an unsupported kind
 * fails the dump with a message naming pid, fd and kind. */
int files_dump(pid_t pid, pid_t img_id, struct img_dir *dir, MmEntry *mm, bool shell_job, bool ext_unix_sk,
	       bool orphan_pts, const struct share_scan *share, int order);
/* Load and validate fdinfo-<pid>.img and ghost-<pid>.img. */
int files_load(struct img_dir *dir, pid_t pid, struct files_image *fi);
void files_free(struct files_image *fi);
/* In the restored task, first: recreate the ghosts. */
int files_prepare(struct files_image *fi, struct img_dir *dir);
/* Then, with its mm read: point the memory areas that map ghosts at the new files. */
int files_map_ghosts(struct files_image *fi, MmEntry *mm);
/* In the restored task: make its fd table exactly the image's, keeping keep_fd
 * (our control channel, moved above every restored fd; its new number returned)
 * and the ghosts (the memory is premapped from them later). */
int files_restore(struct files_image *fi, int *keep_fd);
/* After fork_children: the shared files kept for the children are closed. */
void files_after_fork(struct files_image *fi);
/* Once the memory is premapped: seal the memfds, drop the ghosts, take the
 * file locks again (last: closing any fd of a file drops POSIX locks on it). */
int files_finish(struct files_image *fi);

/* ---- pidfds (pidfd.c) */
/* In a restored process once every process of the tree exists: its pidfds, in
 * place of what held their numbers. */
int pidfd_restore_late(struct files_image *fi);
/* fd is another file than when the epolls were filled (a late pidfd, its placeholder
 * closed): the epolls of the process that watched fd watch it again (epoll.c). */
int epoll_watch_again(struct files_image *fi, int fd);
/* Each pidfd names a process of the images (pids: every PID of pstree.img). */
int pidfd_check_targets(const struct files_image *fi, const uint32_t *pids, size_t nr);

/* ---- helpers the kinds share (files.c) */

/* The value after "key" on its line of an fdinfo text (spaces skipped), or NULL. */
const char *fdinfo_value(const char *text, const char *key);
/* Move fd above every fd number of the image (close-on-exec); the new fd or -errno. */
int files_stash_fd(struct files_image *fi, int fd);
/* The target's very open file description behind its fd (pidfd_getfd), or -errno. */
int files_getfd(pid_t pid, int fd);
/* Open /proc/self/fd/N with flags: a new open file description of the same file. */
int reopen_fd(int fd, int flags);
/* Read the bytes waiting in a pipe (or FIFO) of pid at fd, leaving them in place. */
int pipe_peek(pid_t pid, int fd, uint32_t *size, ProtobufCBinaryData *data);
/* A pipe end in flight to a unix socket of the process: the pipe its fds have,
 * or a new one with the saved bytes; an fd of our own to send, or -errno.  Once
 * every fd is in place (the pipe's ends may be at their numbers). */
int pipe_restore_in_flight(struct files_image *fi, const FdinfoEntry *e);
/* Size a new pipe and put the saved bytes into it through its write end. */
int pipe_refill(int wfd, uint32_t size, const ProtobufCBinaryData *data, const char *what);
/* Set the file status flags (O_NONBLOCK, O_APPEND, ...) an fd had. */
int files_set_fl(int fd, uint32_t flags);

/* The kind's restore of one entry (see fd_ops.restore). */
int files_kind_restore(struct files_image *fi, const FdinfoEntry *e, bool *inherited);
/* Every fd number pid has open, sorted; the count or -errno. */
int files_list_fds(pid_t pid, int **out);

/* ---- files shared between processes of the tree (shared.c) */
/* Dump: scan every fd of the tree's processes (pids in tree order, parents first). */
int files_share_scan(const pid_t *pids, int nr_pids, struct share_scan **out);
/* What the scan found of fd of the order'th process (all zero when not shared). */
struct share_info files_share_lookup(const struct share_scan *s, int order, int fd);
void files_share_free(struct share_scan *s);
/* Dump: for a pipe (or socket) in flight to owner's socket (link "pipe:[N]"), a process other
 * than the owner that has the pipe open, in the tree or outside it (the
 * owner's own fds count as elsewhere when other processes share them); 0 if
 * none; -errno. */
pid_t files_pipe_held_elsewhere(const struct share_scan *s, pid_t owner, uint64_t dev, uint64_t ino,
				const char *link);
/* Dump: a ghost (dev, ino) several processes of the tree use: its tree-wide id
 * (1..), *first when this is the first time it is asked (that process's image
 * carries its bytes); 0 when there are too many. */
uint32_t files_share_ghost(const struct share_scan *s, uint64_t dev, uint64_t ino, bool *first);
/* Dump: is pid (as we see it) a process of the tree? */
bool files_share_in_tree(const struct share_scan *s, pid_t pid);
/* A process of the tree in a nested pid namespace (marked so by the dump). */
int files_share_mark_pidns(struct share_scan *s, pid_t pid);
bool files_share_in_pidns(const struct share_scan *s, pid_t pid);
/* Dump: a process of the tree that holds the file (dev, ino), or 0. */
pid_t files_share_holder(const struct share_scan *s, uint64_t dev, uint64_t ino);
/* Restore: the entry that makes the i'th shared description (NULL past the last), whichever
 * process's image it is from: kinds whose objects link to each other (unix sockets) look there. */
const FdinfoEntry *files_share_rep(const struct files_image *fi, size_t i);
/* The object a unix socket pair is for sharing: its lower inode; 0: not a pair (net/unix.c). */
uint64_t unix_pair_key(uint64_t ino);
/* Restore: which process makes each shared group (fis[t] NULL for a zombie;
 * parent[t] the index of t's parent, -1 for the root).  Sets fis[t]->share. */
int files_share_plan(struct files_image *const *fis, const ssize_t *parent, size_t nr_tasks,
		     struct share_plan **out);
void files_share_plan_free(struct share_plan *p);
int files_share_adopt(struct files_image *fi);
int files_share_create(struct files_image *fi);
int files_share_fd(const struct files_image *fi, const FdinfoEntry *e);
bool files_share_is_rep(const struct files_image *fi, const FdinfoEntry *e);
/* Restore: e is a shared description another process of the tree makes (and hands down). */
bool files_share_elsewhere(const struct files_image *fi, const FdinfoEntry *e);
bool files_share_keeps(const struct files_image *fi, int fd);
/* A file in flight to owner's unix socket (sock): local_fd, our copy from a
 * MSG_PEEK, attached to message msg of its queue, is added to sock->in_flight. */
int files_dump_in_flight(const struct fd_dump_ctx *owner, int local_fd, uint32_t msg, FdinfoEntry *sock);
/* Make an in-flight file in the restoring process: an fd to send, or -errno;
 * *own: the fd is ours to close once sent. */
int files_restore_in_flight(struct files_image *fi, const FdinfoEntry *file, bool *own);
void files_share_release(struct files_image *fi);

/* ---- locks (locks.c) */
int locks_dump(const struct fd_dump_ctx *c, FdinfoEntry *e);
int locks_restore(const FdinfoEntry *e);
int locks_validate(const FdinfoEntry *e);

/* ---- leases (lease.c) */
/* A "lock:" line of type LEASE: into e->lease (or left to the process of the tree
 * that took it), or refused while it is being broken. */
int lease_dump(const struct fd_dump_ctx *c, const char *line, FdinfoEntry *e);
/* After the locks: F_SETLEASE on the restored fd. */
int lease_restore(const FdinfoEntry *e);
int lease_validate(const FdinfoEntry *e);

/* ---- the image version this dump needs (lib/dump.c asks) */
/* Before a dump: nothing seen yet. */
void files_dump_reset(void);
/* Some fd was a fanotify or held a lease: IMG_VERSION_FANOTIFY_LEASE. */
bool files_dump_fanotify_lease_used(void);
void files_dump_mark_fanotify_lease(void);

/* A mount of the device (kernel dev_t: major << 20 | minor), opened (O_DIRECTORY) in
 * pid's root: a file handle of fdinfo is opened through it (inotify.c). */
int files_open_mount_of(pid_t pid, unsigned kdev);
/* The file of a handle in fdinfo ("fhandle-bytes", "fhandle-type", "f_handle" hex),
 * opened O_PATH through such a mount; a failure names it as what. */
#define FILES_MAX_HANDLE 128
int files_open_fhandle(pid_t pid, unsigned sdev, unsigned bytes, unsigned type, const char *hex, const char *what);

/* ---- ghosts (ghost.c) */
struct ghost_dump;
/* A ghost id with this bit names a ghost several processes use, by its shared_id. */
#define GHOST_SHARED 0x80000000u
int ghost_dump_open(struct ghost_dump **g, struct img_dir *dir, pid_t pid, pid_t img_id,
		    const struct share_scan *scan);
/* Save the file that src (an openable path: /proc/pid/fd/N or map_files/...) is, once
 * per inode; *id names it. */
int ghost_dump_file(struct ghost_dump *g, const char *src, const struct stat *st, GhostKind kind,
		    const char *name, uint32_t *id);
int ghost_dump_vmas(struct ghost_dump *g, pid_t pid, MmEntry *mm);
int ghost_dump_close(struct ghost_dump *g, bool write);
int ghost_load(struct img_dir *dir, pid_t pid, struct files_image *fi);
int ghost_restore_all(struct files_image *fi, struct img_dir *dir);
/* Restore, before the tree forks: check that each ghost shared by processes has
 * one image with its bytes (fis[t] NULL for a zombie). */
int ghost_plan_shared(struct files_image *const *fis, size_t nr);
/* The plan's entries point into the images: dropped with them. */
void ghost_plan_free(void);
/* Every ghost the process's fds and memory areas name is in the images (its own,
 * or a shared one); after ghost_plan_shared. */
int ghost_check_refs(const struct files_image *fi, const MmEntry *mm);
/* In the tree's root, before its files: make the shared ghosts, which every
 * process inherits (kept fds). */
int ghost_create_shared(struct img_dir *dir);
/* The recreated file of ghost id, or -1 with a message. */
int ghost_fd(struct files_image *fi, uint32_t id, const char *user);
const GhostEntry *ghost_get(const struct files_image *fi, uint32_t id);
/* Seal the memfds, close the ghosts' own fds. */
int ghost_finish(struct files_image *fi);

#endif

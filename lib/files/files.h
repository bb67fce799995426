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
	bool held_outside;      /* a pipe or FIFO some other process has open too */
	bool shell_job;
	const struct fd_dump_ctx *all;  /* every fd of the process, in increasing order */
	int nr_all;
	struct ghost_dump *ghosts;
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
	/* in the restored task */
	int *ghost_fds;         /* per ghost, the recreated file (above every restored fd) */
	struct pipe_rst *pipes;
	size_t nr_pipes;
	int top;                /* one above the highest fd number in the image */
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
	eventfd_fd_ops, signalfd_fd_ops, timerfd_fd_ops, inotify_fd_ops, epoll_fd_ops;

/* Dump every fd of pid into fdinfo-<img_id>.img (img_id: its PID in the images),
 * and the contents of unlinked files and memfds (open or mapped in mm: their
 * areas get a ghost_id) into ghost-<img_id>.img.  An fd of an unsupported kind
 * fails the dump with a message naming pid, fd and kind. */
int files_dump(pid_t pid, pid_t img_id, struct img_dir *dir, MmEntry *mm, bool shell_job);
/* Load and validate fdinfo-<pid>.img and ghost-<pid>.img. */
int files_load(struct img_dir *dir, pid_t pid, struct files_image *fi);
void files_free(struct files_image *fi);
/* In the restored task, first: recreate the ghosts and point the memory areas
 * that map them at the new files. */
int files_prepare(struct files_image *fi, struct img_dir *dir, MmEntry *mm);
/* In the restored task: make its fd table exactly the image's, keeping keep_fd
 * (our control channel, moved above every restored fd; its new number returned)
 * and the ghosts (the memory is premapped from them later). */
int files_restore(struct files_image *fi, int *keep_fd);
/* Once the memory is premapped: seal the memfds, drop the ghosts, take the
 * file locks again (last: closing any fd of a file drops POSIX locks on it). */
int files_finish(struct files_image *fi);

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
/* Size a new pipe and put the saved bytes into it through its write end. */
int pipe_refill(int wfd, uint32_t size, const ProtobufCBinaryData *data, const char *what);
/* Set the file status flags (O_NONBLOCK, O_APPEND, ...) an fd had. */
int files_set_fl(int fd, uint32_t flags);

/* ---- locks (locks.c) */
int locks_dump(const struct fd_dump_ctx *c, FdinfoEntry *e);
int locks_restore(const FdinfoEntry *e);
int locks_validate(const FdinfoEntry *e);

/* ---- ghosts (ghost.c) */
struct ghost_dump;
int ghost_dump_open(struct ghost_dump **g, struct img_dir *dir, pid_t pid, pid_t img_id);
/* Save the file that src (an openable path: /proc/pid/fd/N or map_files/...) is, once
 * per inode; *id names it. */
int ghost_dump_file(struct ghost_dump *g, const char *src, const struct stat *st, GhostKind kind,
		    const char *name, uint32_t *id);
int ghost_dump_vmas(struct ghost_dump *g, pid_t pid, MmEntry *mm);
int ghost_dump_close(struct ghost_dump *g, bool write);
int ghost_load(struct img_dir *dir, pid_t pid, struct files_image *fi);
int ghost_restore_all(struct files_image *fi, struct img_dir *dir);
/* The recreated file of ghost id, or -1 with a message. */
int ghost_fd(struct files_image *fi, uint32_t id, const char *user);
const GhostEntry *ghost_get(const struct files_image *fi, uint32_t id);
/* Seal the memfds, close the ghosts' own fds. */
int ghost_finish(struct files_image *fi);

#endif

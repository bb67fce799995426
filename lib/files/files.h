/* Open files: one file per fd kind under lib/files/, each with its dump and
 * restore side by side behind struct fd_ops (principle 1). */
#ifndef LIB_FILES_H
#define LIB_FILES_H

#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>
#include "fdinfo.pb-c.h"

/* What a kind's dump sees of one fd. */
struct fd_dump_ctx {
	pid_t pid;
	int fd;
	const char *link;       /* readlink of /proc/pid/fd/N */
	struct stat st;         /* stat of the open file */
	uint64_t pos;
	uint32_t flags;         /* open flags from fdinfo */
	bool shell_job;
};

struct fd_ops {
	FdKind kind;
	const char *name;
	/* Does this kind own the fd?  The first that says yes dumps it. */
	bool (*match)(const struct fd_dump_ctx *c);
	int (*dump)(const struct fd_dump_ctx *c, FdinfoEntry *e);
	/* Return an fd (any number) that is the restored file, or -errno; *keep set
	 * when it is the caller's own fd to be used as it is (not closed/duplicated). */
	int (*restore)(const FdinfoEntry *e, bool shell_job, bool *inherited);
	int (*validate)(const FdinfoEntry *e);
};

extern const struct fd_ops reg_fd_ops, chr_fd_ops, pipe_fd_ops, tty_fd_ops;

/* Dump every fd of pid into fdinfo-<img_id>.img (img_id: its PID in the images); an fd of an unsupported kind fails
 * the dump with a message naming pid, fd and kind. */
struct img_dir;
int files_dump(pid_t pid, pid_t img_id, struct img_dir *dir, bool shell_job);
/* Load and validate fdinfo-<pid>.img. */
int files_load(struct img_dir *dir, pid_t pid, FdinfoEntry ***fds, size_t *nr);
void files_free(FdinfoEntry **fds, size_t nr);
/* In the restored task: make its fd table exactly the image's, keeping keep_fd
 * (our control channel, moved above every restored fd; its new number returned). */
int files_restore(FdinfoEntry **fds, size_t nr, bool shell_job, int *keep_fd);

#endif

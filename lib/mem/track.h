/* Dirty-page tracking between pre-dump rounds (track.c). */
#ifndef LIB_MEM_TRACK_H
#define LIB_MEM_TRACK_H

#include <stdbool.h>
#include <sys/types.h>
#include "mm.pb-c.h"

struct infect_ctx;

struct track_entry {
	pid_t vpid;             /* the process's PID in the images */
	pid_t pid;              /* and here (the keeper watches it) */
	int uffd;
};

/* The userfaultfds of one tree, by process. */
struct track_set {
	struct track_entry *e;
	size_t nr;
};

int track_set_add(struct track_set *ts, pid_t vpid, pid_t pid, int uffd);
/* The userfaultfd tracking vpid, or -1. */
int track_fd(const struct track_set *ts, pid_t vpid);
void track_set_free(struct track_set *ts);

/* A userfaultfd (WP async) of the seized task's mm, held by us; fd or -errno. */
int track_create(struct infect_ctx *ctx);
/* Areas whose writes are tracked: private anonymous and writable. */
bool track_eligible(const VmaEntry *v);
/* Register the area for write-protect tracking and protect every page of it. */
int track_arm(int uffd, const VmaEntry *v);

/* Hand the set to a keeper process that serves it to the round dumping after
 * images dir 'dir' (its fds stay ours too: the caller frees the set). */
int track_keep(const char *dir, struct track_set *ts);
/* Take the set the keeper of prev_dir holds (an empty set, with a warning, if there
 * is none: then every page counts as written). */
int track_fetch(const char *prev_dir, struct track_set *ts);

#endif

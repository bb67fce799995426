/* Rounds of memory dumps: the previous round's images, and the pre-dump itself. */
#ifndef LIB_PREDUMP_H
#define LIB_PREDUMP_H

#include "image/image.h"
#include "mem/track.h"
#include "mm.pb-c.h"

/* The images an incremental round builds on. */
struct prev_images {
	struct img_dir dir;       /* dfd -1: none */
	struct track_set track;   /* the userfaultfds its round left tracking */
};

/* Open prev (NULL: none), link it as dir's "parent" and take its tracking over. */
int prev_images_open(struct prev_images *p, const char *prev, struct img_dir *dir);
/* The previous round's areas of the process vpid (NULL if it had none). */
MmEntry *prev_images_mm(struct prev_images *p, pid_t vpid);
/* Ends the tracking still held (closing the userfaultfds drops it). */
void prev_images_close(struct prev_images *p);

#endif

/* Lazy restore: the tree runs before its anonymous memory is in place; a daemon
 * fills the pages on fault through userfaultfd and pushes the rest (lazy.c). */
#ifndef LIB_MEM_LAZY_H
#define LIB_MEM_LAZY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* An area restored lazily: premapped (empty) at premap, its pages belong at start. */
struct lazy_area {
	uint64_t premap, start, len;
	uint64_t flags;
};

#define LAZY_WIPE_ON_FORK 1   /* MADV_WIPEONFORK: a child forked meanwhile gets zeros here */

/* The restore's own connection to the daemon of images dir `dir`, held until the
 * tree is restored (fd, or -errno with a message naming the missing daemon). */
int lazy_session_open(const char *dir);
/* In a restored task, its memory premapped: register the areas with a new
 * userfaultfd and hand it to the daemon (the task keeps no fd of it). */
int lazy_register(const char *dir, pid_t vpid, const struct lazy_area *a, size_t n);

/* The daemon: serve every task of one restore from the images in dir, then return
 * (once the restore is over and every page is in place, or its process gone). */
int lazy_serve(const char *dir, void (*ready)(void *), void *arg);

#endif

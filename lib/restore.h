/* Internal entry points of the restore beside cr_restore(). */
#ifndef LIB_RESTORE_H
#define LIB_RESTORE_H

/* Load and validate every image of the directory as a restore does before it
 * creates anything; creates nothing.  0 or -errno with a message. */
int restore_check_images(const char *path);

/* Lock the TCP connections of the images (a migration's receiver, before the
 * service address moves here: the peers' packets are dropped, not reset, until
 * the restore).  *lock: the lock's name (NULL: no connection), which the next
 * cr_restore replaces by its own once tcp_restore_replace() names it. */
int restore_lock_early(const char *path, char **lock);

/* The next cr_restore, if it fails with the connections locked, leaves its lock
 * in place and *name (replaced) naming it, for the caller to drop later. */
void restore_keep_lock(char **name);

#endif

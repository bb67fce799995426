/* Internal entry points of the restore beside cr_restore(). */
#ifndef LIB_RESTORE_H
#define LIB_RESTORE_H

/* Load and validate every image of the directory as a restore does before it
 * creates anything; creates nothing.  0 or -errno with a message. */
int restore_check_images(const char *path);

#endif

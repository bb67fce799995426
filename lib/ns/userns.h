/* The tree's own user namespace (userns.c): its uid/gid maps and setgroups,
 * the ownership of the root's other namespaces, the tasks' ids as they see
 * them, and the namespace made again first at restore, its maps written by
 * libcr from outside before the root goes on. */
#ifndef LIB_NS_USERNS_H
#define LIB_NS_USERNS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ns.pb-c.h"

struct img_dir;
struct tree;
struct CredsEntry;
struct UsernsEntry;

#define USERNS_MAX_EXTENTS 340   /* the kernel's limit per map (user_namespaces(7)) */

/* A map as /proc/PID/uid_map shows it to us: inside id, our id, count. */
struct userns_map {
	UsernsExtent e[USERNS_MAX_EXTENTS];
	size_t nr;
};
int userns_read_map(pid_t pid, const char *name, struct userns_map *m);
/* Our id in (first), or (uint32_t)-1 if unmapped. */
uint32_t userns_map_in(const struct userns_map *m, uint32_t id);
/* Dump: the root's maps (nr 0: the tree shares ours), once userns_dump ran. */
void userns_root_maps(const struct userns_map **uid, const struct userns_map **gid);
/* The kernel's rules for a map of an image (img, name: for the message). */
int userns_validate_map(UsernsExtent *const *e, size_t n, const char *img, const char *name);
/* Dump: a task's ids (ours) mapped in through these maps, and its groups if asked. */
int userns_creds_map_in(struct CredsEntry *cr, pid_t pid, const struct userns_map *u, const struct userns_map *g,
			bool groups);

/* Dump: check the tree against the root's user namespace (every task in it,
 * the root's other namespaces owned by it) and, if it is one of its own, save
 * its maps in userns.img; from then on the tasks' ids are translated. */
int userns_dump(struct img_dir *dir, const struct tree *t);
/* Dump: a task's credentials (read from /proc, in our view) as the task sees
 * them in the tree's own user namespace; nothing to do without one. */
int userns_creds_inside(struct CredsEntry *cr, pid_t pid);
/* Restore: userns.img, validated (*out NULL: the tree shared ours). */
int userns_load(struct img_dir *dir, struct UsernsEntry **out);
void userns_free(struct UsernsEntry *e);
/* Restore, in the parent, once child was cloned with CLONE_NEWUSER: setgroups,
 * then its uid and gid maps. */
int userns_write_maps(pid_t child, const struct UsernsEntry *e);
/* Restore: the image's inside id for a host (image-view) owner id, for a chown
 * made in the restored user namespace (unchanged without one, or unmapped). */
uint32_t userns_uid_in(uint32_t host);
uint32_t userns_gid_in(uint32_t host);
/* Restore: the restored tree's maps, for userns_uid_in/gid_in in its tasks. */
void userns_set_current(const struct UsernsEntry *e);
/* Restore, in a task: fn(arg) with the file system ids of the restored user
 * namespace's root (what a file it creates is owned by: a file system mounted
 * in that namespace takes no owner unmapped there); straight fn(arg) without
 * one.  In a thread of its own, whose ids go with it: the task keeps ours. */
int userns_as_root(int (*fn)(void *), void *arg);
/* The same with the ids of a file's owner (ours, as the image has them): the
 * file it makes is theirs from the start (one owned by our root, unmapped in
 * the namespace, could not be given away there). */
int userns_as_owner(uint32_t uid, uint32_t gid, int (*fn)(void *), void *arg);
/* Restore, in a task: mount options (tmpfs, devpts...) with their uid= and
 * gid= mapped in (malloc'ed), or NULL without a user namespace of its own. */
char *userns_mount_options(const char *opts);
/* Restore, in a task: is it in the tree's own (new) user namespace? */
bool userns_restoring(void);
/* Restore, in a task: is setgroups denied in the restored user namespace? */
bool userns_setgroups_denied(void);
/* Restore: an id of the image (inside view) in ours, or (uint32_t)-1 if unmapped. */
uint32_t userns_uid_out(const struct UsernsEntry *e, uint32_t inside);
uint32_t userns_gid_out(const struct UsernsEntry *e, uint32_t inside);
/* Restore: the creds of a core with its ids mapped out to ours (for the checks
 * of --unprivileged), into *out (groups: a copy the caller frees); -EPERM if
 * one is unmapped. */
int userns_creds_outside(const struct UsernsEntry *e, const struct CredsEntry *in, struct CredsEntry *out);
/* Restore --unprivileged: could the caller write these maps itself? */
int userns_check_unprivileged(const struct UsernsEntry *e);

#endif

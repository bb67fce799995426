/* User namespaces nested below the root's (userns-nested.c): a process of the
 * tree that made one (unshare -U, clone with CLONE_NEWUSER) or entered one, to
 * any depth, and the UTS, network, IPC, cgroup, time, pid and mount namespaces such a one owns.  Each is an ns.img nested
 * instance of kind "user" with its parent, maps, setgroups and owner; a process
 * records its id (pstree.img user_ns). */
#ifndef LIB_NS_USERNS_NESTED_H
#define LIB_NS_USERNS_NESTED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "ns.pb-c.h"
#include "pstree.pb-c.h"

struct tree;
struct userns_map;

/* ---- dump */
/* Which user namespace each live task is in, their parents, maps and owners;
 * refuses what the restore could not make (see the .c).  After userns_dump. */
int usernest_dump_scan(const struct tree *t);
/* The maps (our view) of the nested user namespace pid is in: 1 with *u, *g
 * set, 0 if it is in the root's. */
int usernest_maps_of(pid_t pid, const struct userns_map **u, const struct userns_map **g);
/* The user namespace owning pid's namespace of this kind ("uts", "time_for_children"...):
 * 0 for the root's, else a nested one's id; an error if no process of the tree is in it. */
int usernest_owner(pid_t pid, const char *kind, uint32_t *id);
/* Some nested pid namespace is owned by a nested user namespace (IMG_VERSION_USERNS_OWNED). */
bool usernest_dump_pid_owned(void);
/* How many were found; the ns.img record of the i'th (its arrays are ours). */
size_t usernest_dump_count(void);
void usernest_dump_record(size_t i, NsInstance *m);
/* Task i's id in pstree.img. */
void usernest_dump_pstree(int i, PstreeEntry *e);
void usernest_dump_free(void);

/* ---- restore */
struct usernest_inst {
	uint32_t id, parent;     /* parent 0: the root's user namespace */
	uint32_t owner_uid;      /* in the parent's view */
	bool setgroups_allow;
	UsernsExtent *ext;       /* uid extents, then gid extents */
	UsernsExtent **uid, **gid;
	size_t n_uid, n_gid;
	int fd, slot;            /* made: the namespace (crtool's), kept in the tasks */
};

struct usernest_set {
	struct usernest_inst *inst;
	size_t nr;
};

/* The "user" instances of ns.img's list, validated (parents listed before children). */
int usernest_load(NsInstance **list, size_t n, struct usernest_set *set);
bool usernest_listed(const struct usernest_set *set, uint32_t id);
/* pstree.img's user_ns against the list: the root and zombies have none, a process
 * in one has one thread. */
int usernest_plan(const struct usernest_set *set, PstreeEntry **entries, size_t nr);
/* crtool, before the tree forks (root_fd -1: the root's is ours) or once the root's
 * own has maps (root_fd: it; root: its image, for the ids a maker takes there): each
 * one made by a helper, in order, with its maps and owner. */
int usernest_make(struct usernest_set *set, int root_fd, const UsernsEntry *root);
/* Restore: could the caller make them all without CAP_SETUID, CAP_SETGID and
 * CAP_SYS_ADMIN?  0, or the error naming what it lacks. */
int usernest_check_unprivileged(const struct usernest_set *set, const UsernsEntry *root);
/* The fd of user namespace id (made), or -1. */
int usernest_fd(const struct usernest_set *set, uint32_t id);
/* Run fn(arg) in a helper process that entered user namespace userns_fd (pre(arg)
 * first, outside it, if given); it makes a namespace there, which comes back as *out
 * (its /proc/self/ns/KIND). */
int usernest_run_in(int userns_fd, int (*pre)(void *), int (*fn)(void *), void *arg, const char *kind, int *out);
/* Nested user namespace id's maps with the lower ids in our view (through its parents',
 * up to the root's: root, NULL if ours): for userns_set_current in a helper there.
 * Free with usernest_ours_free. */
int usernest_ours(const struct usernest_set *set, uint32_t id, const UsernsEntry *root, UsernsEntry *out);
void usernest_ours_free(UsernsEntry *e);
/* In the restored root, before its files: each namespace's fd kept for the tasks. */
int usernest_keep_fds(struct usernest_set *set);
/* A restored task, before its kept fds close: a copy of its user namespace's fd in
 * *fd (-1: it is in the root's); 0 or -errno. */
int usernest_take_fd(const struct usernest_set *set, const PstreeEntry *e, int *fd);
/* Then at the end (its children forked, cwd and root set, before the restorer):
 * its supplementary groups (saved in our view: see the .c) and into it (setns),
 * which gives up our privileges over everything else. */
int usernest_enter(int fd, uint32_t pid, const uint32_t *groups, size_t n_groups);
/* Closes crtool's fds (after the tree forked) or all of it. */
void usernest_close_fds(struct usernest_set *set);
void usernest_free(struct usernest_set *set);

#endif

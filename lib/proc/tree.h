/* The process tree being dumped: the root and every descendant, each seized
 * (all threads stopped) or, for a zombie, only recorded. */
#ifndef LIB_TREE_H
#define LIB_TREE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "proc/seize.h"

struct tree_task {
	struct seized s;      /* a zombie has s.pid and s.stat only */
	bool zombie;
	bool attrs_set;       /* attributes a reader before IMG_VERSION_TASK_ATTRS would drop (attrs.h) */
	bool mlockall;        /* mlockall(MCL_FUTURE) in force (IMG_VERSION_MLOCKALL) */
	bool thread_creds;    /* a thread with credentials of its own (IMG_VERSION_THREAD_CREDS) */
	pid_t vpid;           /* the PID in the tree's own pid namespace (= s.pid if it has none) */
	pid_t *vtids;         /* the same for every thread (live tasks) */
	pid_t vpgid, vsid;    /* group and session in the tree's namespace (live tasks, from inside) */
	/* in a pid namespace nested below the tree's: its id (from 1; 0: the tree's),
	 * each thread's PID there; the nested namespace its children are born in
	 * (pid_for_children, that of a child that is its init; 0: its own) */
	uint32_t pid_ns;
	pid_t *inner_tids;
	uint32_t pid_ns_children;
	/* how many levels below the tree's its namespace is, that namespace's parent
	 * (0: the tree's), and each thread's PIDs at the levels between, thread after
	 * thread, outermost first (pid_depth - 1 each) */
	int pid_depth;
	uint32_t pid_ns_parent;
	pid_t *mid_tids;
	/* its children are born in a pid namespace it unshared and has forked nothing
	 * into yet, or in nested namespace pid_ns_entered of the tree (setns) */
	bool pid_ns_unshared;
	uint32_t pid_ns_entered;
};

struct tree {
	struct tree_task *tasks;   /* parents before their children; tasks[0] is the root */
	int nr;
	bool own_pidns;            /* the root is the init of a pid namespace below ours */
	bool pidns_setns;          /* pid_ns_unshared, pid_ns_entered, or a child born so */
};

/* A PID of ours (a task, its parent, group or session) as the tree sees it; 0 for
 * one outside the tree when the tree has its own pid namespace (groups and
 * sessions: see vpgid/vsid). */
pid_t tree_vpid(const struct tree *t, pid_t pid);

/* Seize root and then, breadth first, every child of a seized task: a stopped
 * task cannot fork, so each one's children are final once it is seized.  On
 * failure everything seized so far is let go. */
int tree_seize(pid_t root, struct tree *t);
/* Fill vpid/vtids from NSpid (after tree_seize), and the nested pid namespaces:
 * at any depth below the tree's, each made by a process of the tree (in the
 * namespace's parent) that forked its init (see pid_ns), entered by others of
 * the tree above it (setns) whose children are born there, or unshared and not
 * forked into yet; a namespace whose init is outside the tree is refused. */
int tree_map_pidns(struct tree *t);
/* The task with this pid, or NULL. */
struct tree_task *tree_find(const struct tree *t, pid_t pid);
/* Let every live task go on running, or kill them all. */
void tree_release(struct tree *t, bool kill_tasks);
/* Let the tree go stopped (SIGSTOP): neither running nor killed, for a caller that
 * decides later (a migration: SIGKILL once restored elsewhere, SIGCONT if not). */
void tree_release_stopped(struct tree *t);

#endif

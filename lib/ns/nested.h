/* Namespaces nested below the root's (nested.c): processes of one tree in
 * different UTS, network, IPC, cgroup, time or mount namespaces.  The root's namespaces
 * keep their own code and images (uts.c, net.c, ipc.c, time.c, mnt-*.c); every other
 * instance of these
 * kinds that a live process of the tree is in is saved once, by the same code,
 * under an id, and each process records the id it is in (pstree.img). */
#ifndef LIB_NS_NESTED_H
#define LIB_NS_NESTED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "ipc.h"
#include "ns/net.h"
#include "ns/userns-nested.h"
#include "ns.pb-c.h"
#include "pstree.pb-c.h"

struct img_dir;
struct tree;
struct cr_external;

/* (mount last: a mount of mqueue or sysfs is the IPC or network namespace's of its
 * maker, and the time namespace's offsets are written through its /proc) */
enum { NEST_UTS, NEST_NET, NEST_IPC, NEST_CGROUP, NEST_TIME, NEST_MNT, NEST_KINDS };

/* ---- dump */
struct nested_dump_inst {
	int kind;                /* NEST_* */
	uint32_t id;             /* from 1, per kind */
	uint64_t ino;
	pid_t pid;               /* a live process in it (time: whose time_for_children it is) */
	pid_t base_pid;          /* mount: the parent of the first in tree order (what it copied);
				  * time made for children: a process in it */
	int fd;                  /* network: the namespace, for sock_diag (-1 else) */
	int unsharer;            /* time: the task that made it for its children (-1: none) */
	uint32_t owner;          /* the nested user namespace owning it (0: the root's) */
};

struct nested_dump {
	struct nested_dump_inst *inst;
	size_t nr;
	uint32_t (*ids)[NEST_KINDS];   /* per task of the tree: 0 = the root's */
	uint32_t *time_children;       /* per task: its time_for_children's id if not its own */
	int cur_net;                   /* the network namespace sock_diag looks in */
};

/* Which instance each live task is in; refuses a process in the dumper's own
 * namespace of a kind when the root has one of its own. */
int nested_dump_scan(const struct tree *t, struct nested_dump *nd);
/* Each instance's state: utsns-ID.img, netns-ID.img, ipc-ID.img + ipcdata-ID.img,
 * timens-ID.img. */
int nested_dump_write(struct img_dir *dir, const struct nested_dump *nd, const struct cr_external *ext,
		      size_t nr_ext);
/* The tree's network namespaces saved whole, for the veths between two of them
 * (root_fd: the root's own, -1 when it is ours or external). */
int nested_dump_net_tree(const struct nested_dump *nd, int root_fd);
/* Before dumping task i: sock_diag and the parasite's socket in its network
 * namespace (root_fd: the root's, -1 when it is ours).  (Its TCP connections
 * were locked in that namespace by tcp_dump_prepare.) */
int nested_dump_enter(struct nested_dump *nd, const struct tree *t, int i, int root_fd);
/* The ns.img list (none: NULL; else free (*out)[0], then *out) and a task's
 * ids in its pstree record. */
int nested_dump_list(const struct nested_dump *nd, NsInstance ***out, size_t *n);
void nested_dump_pstree(const struct nested_dump *nd, int i, PstreeEntry *e);
void nested_dump_free(struct nested_dump *nd);

/* ---- restore */
struct nested_inst {
	int kind;
	uint32_t id;
	void *uts;               /* UtsEntry */
	void *time;              /* TimensEntry */
	bool unshared;           /* time: its maker made it for its children only, not entering it */
	void *mnt;               /* struct mnt_state */
	struct ipc_image ipc;
	struct netns_restore net;
	size_t maker;            /* index in pstree.img of the first process in it: makes it */
	int host_slot, join_slot;      /* network: its fds kept through the root's files (util.h) */
	uint32_t owner;          /* the nested user namespace owning it (0: the root's): made by */
	int fd, slot;            /* crtool in it before the tree forks; every process in it joins */
};

struct nested_set {
	struct nested_inst *inst;
	size_t nr;
	struct usernest_set user;  /* the nested user namespaces */
	size_t nr_entries;       /* pstree.img's records (nested_plan) */
	uint32_t *ready;         /* shared with the tasks: 1 once instance i is made and filled; */
	uint32_t *locked;        /* 1 once crtool holds its connections' lock, 2 if it can't */
	uint32_t *failed;        /* the restore's "some task failed" word */
	const struct ns_args *args;  /* the caller's --external (mounts of nested mount namespaces) */
	uint32_t *wake;          /* the word crtool sleeps on meanwhile */
	/* The makers of network namespaces with connections send them (their fds) to
	 * crtool, which locks them there: nft runs in crtool's mount namespace, and
	 * forks no process in the tree's pid namespace. */
	int lock_sk[2];          /* [0] crtool's end, [1] the tasks' (-1: none) */
	int lock_slot;           /* [1] kept through the root's files (util.h) */
};

/* ns.img's list: each instance's images read and validated. */
int nested_load(struct img_dir *dir, NsInstance **list, size_t n, struct nested_set *set);
/* Each veth whose peer is in another network namespace of the tree: that one's
 * image holds the peer, paired with it (root: netns.img's entry, NULL if none). */
int nested_check_net_peers(const struct nested_set *set, const NetnsEntry *root);
/* crtool, before the tree forks: the nested user namespaces (below ours: root_fd -1,
 * root NULL; or below the root's own, see usernest_make), then the namespaces they own
 * (cg, entries: a cgroup namespace's root is its maker's cgroup). */
struct cgroup_image;
int nested_make_user(struct nested_set *set, struct img_dir *dir, const struct cgroup_image *cg,
		     PstreeEntry **entries, int root_fd, const UsernsEntry *root);
/* Below the tree's own: crtool hands what it made to the restored root over sk, which
 * takes them (in its copy of the set) before it goes on. */
int nested_send_user(struct nested_set *set, int sk);
int nested_recv_user(struct nested_set *set, int sk);
/* pstree.img's ids against the list (before anything is created): which
 * process makes each instance. */
int nested_plan(struct nested_set *set, PstreeEntry **entries, size_t nr);
/* Shared words for the tasks (before the tree forks); wake: the word crtool sleeps on. */
int nested_prepare(struct nested_set *set, uint32_t *failed, uint32_t *wake);
/* crtool, once the tree forked: its copy of the tasks' end goes. */
void nested_forked(struct nested_set *set);
/* crtool, while the tasks get ready: the network namespaces their makers sent are
 * locked (0, or -errno with the message). */
int nested_serve_locks(struct nested_set *set);
/* In the restored root, before its files: the fds the others need are kept
 * through files_restore (the tasks inherit the root's table). */
int nested_keep_fds(struct nested_set *set);
/* In restored task idx, right after its fork: make, join or keep each namespace. */
int nested_restore_task(const struct nested_set *set, struct img_dir *dir, PstreeEntry **entries, size_t idx);
/* The IPC instance task idx made (NULL if none): its removed segments go at the end. */
const struct ipc_image *nested_ipc_made(const struct nested_set *set, size_t idx);
void nested_free(struct nested_set *set);

#endif

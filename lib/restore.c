/* Restore: the steps, in order.  The new task is built in two halves: libcr
 * code (forked from us at the original PID) recreates what needs libc, then the
 * restorer blob turns it into the dumped process and ends in rt_sigreturn, where
 * we catch it with ptrace to unmap the blob. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <malloc.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/futex.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "arch.h"
#include "cgroup.h"
#include "cr/cr.h"
#include "fault.h"
#include "files/files.h"
#include "image/image.h"
#include "image/inventory.h"
#include "kerndat.h"
#include "ipc.h"
#include "ns/ns.h"
#include "ns/userns.h"
#include "ns/userns-nested.h"
#include "ns.pb-c.h"
#include "log.h"
#include "mem/copyin-share.h"
#include "mem/mem.h"
#include "mem/lazy.h"
#include "mem/premap.h"
#include "mem/shmem.h"
#include "net/inet.h"
#include "notify.h"
#include "proc/attrs.h"
#include "proc/core.h"
#include "proc/timers.h"
#include "proc/privs.h"
#include "proc/pidview.h"
#include "proc/proc.h"
#include "proc/seize.h"
#include "proc/seccomp.h"
#include "pidns.h"
#include "ns/userns-pid.h"
#include "ns/net.h"
#include "ns/time.h"
#include "pstree.pb-c.h"
#include "restore.h"
#include "restorer-args.h"
#include "restorer-blob.h"
#include "util.h"

#ifndef PTRACE_SETSIGMASK
#define PTRACE_SETSIGMASK 0x420b
#endif

/* One process, as read from the images. */
struct task_image {
	const PstreeEntry *pstree;
	/* core, mm, fs, timers: validated by libcr, then read again by the task itself
	 * (see drop_own_images); live processes only (not zombies) */
	CoreEntry *core;
	uint32_t exit_signal;   /* from the core: its parent clones it with this */
	MmEntry *mm;
	FsEntry *fs;
	struct files_image files;
	struct posix_timers timers;
};

/* The whole tree, read and validated before anything is created. */
struct restore_set {
	InventoryEntry *inv;
	struct shmem_set shm;   /* shared anonymous memory, mapped before the tree forks */
	struct share_plan *files_share;  /* open files several processes hold */
	struct ipc_image ipc;            /* the tree's own IPC namespace, if it had one */
	struct seccomp_image seccomp;    /* the threads' seccomp filters */
	struct cgroup_image cg;          /* the processes' cgroups */
	struct ns_set ns;                /* its other namespaces of its own (mount, UTS...) */
	UsernsEntry *userns;             /* its own user namespace, if it had one */
	PstreeEntry **entries;  /* parents before their children; [0] is the root */
	struct task_image *tasks;
	size_t nr, nr_live;
	/* groups whose leader had exited: a helper at the leader's PID holds each while
	 * the members join, forked by the parent of the first member */
	struct group_helper { uint32_t pgid; size_t creator; } *helpers;
	size_t nr_helpers;
	/* sessions whose leader is gone: a helper at the session's PID, forked by the
	 * parent of its members, calls setsid and clones them with CLONE_PARENT */
	struct session_helper { uint32_t sid; size_t creator; } *sessions;
	size_t nr_sessions;
};

#define MAX_PROCESSES 32768

/* How a task failed, and where its restorer args are: filled by the task. */
struct child_report {
	char error[1024];
	char warnings[512];     /* its warnings, a line each (see child_log) */
	uint64_t args_addr;
	uint64_t rst_start, rst_len;
	uint64_t syscall_site;
	double memory_ms;       /* premapping and filling memory */
};

/* Shared by libcr and every task it creates (inherited through the forks):
 * futex words for the stages all tasks pass together. */
struct restore_shared {
	uint32_t created;       /* tasks that exist, each in its session */
	uint32_t joined;        /* tasks in their process group */
	uint32_t ready;         /* live tasks waiting to jump into the restorer */
	uint32_t go;            /* set when libcr traces them all */
	uint32_t failed;        /* 1 + index of the first task that failed */
	uint32_t born;          /* tasks created so far (see born_of) */
	struct copyin_share copy;   /* libcr's process helps fill a large area */
	struct child_report rep[];   /* and after them, each task's born flag */
};

static const char *const restorer_steps[] = {
	"", "parking the vDSO", "unmapping libcr", "moving an area into place", "placing the vDSO",
	"unmapping the premap area", "PR_SET_MM_MAP", "sigaction", "setitimer", "sigaltstack", "rseq",
	"TLS", "set_robust_list", "queueing pending signals", "credentials", "PR_SET_DUMPABLE or PR_SET_PDEATHSIG",
	"cloning a thread at its TID", "scheduling policy and nice", "POSIX timers", "seccomp filters",
	"CPU affinity", "I/O priority", "timer slack", "PR_SET_MDWE", "locking memory (mlock2)",
	"mlockall(MCL_FUTURE)",
};

static int read_one(struct img_dir *dir, enum img_kind kind, pid_t pid, const ProtobufCMessageDescriptor *d,
		    ProtobufCMessage **out)
{
	struct img *img = img_open(dir, kind, pid);
	int ret;

	if (!img)
		return -ENOENT;
	ret = img_read_one(img, d, out);
	img_close(img);
	return ret;
}

/* core-PID.img, checked against pstree.img */
static int load_core(struct img_dir *dir, struct task_image *t)
{
	pid_t pid = t->pstree->pid;
	int ret;

	if ((ret = read_one(dir, IMG_CORE, pid, &core_entry__descriptor, (ProtobufCMessage **)&t->core)) ||
	    (ret = core_validate(t->core, pid)))
		return ret;
	if (t->core->n_threads != t->pstree->n_threads)
		return pr_err("pid %d: pstree.img lists %zu threads, core-%d.img %zu", pid, t->pstree->n_threads,
			      pid, t->core->n_threads), -EINVAL;
	for (size_t i = 0; i < t->core->n_threads; i++)
		if (t->core->threads[i]->tid != t->pstree->threads[i])
			return pr_err("pid %d: thread %zu is %u in pstree.img, %u in core-%d.img", pid, i,
				      t->pstree->threads[i], t->core->threads[i]->tid, pid), -EINVAL;
	t->exit_signal = t->core->exit_signal;
	return 0;
}

/* The images only the task itself needs: core, mm, fs, timers */
static int load_own(struct img_dir *dir, struct task_image *t)
{
	pid_t pid = t->pstree->pid;
	int ret;

	if ((ret = load_core(dir, t)))
		return ret;
	if ((ret = read_one(dir, IMG_MM, pid, &mm_entry__descriptor, (ProtobufCMessage **)&t->mm)) ||
	    (ret = mem_validate(t->mm, kerndat_get()->task_size)) ||
	    (ret = premap_check(dir, pid, t->mm, kerndat_get()->task_size)))
		return ret;
	if ((ret = read_one(dir, IMG_FS, pid, &fs_entry__descriptor, (ProtobufCMessage **)&t->fs)))
		return ret;
	if (!path_is_clean(t->fs->cwd) || !path_is_clean(t->fs->root))
		return pr_err("fs-%d.img: cwd or root is not an absolute path, or has . or ..", pid), -EINVAL;
	return timers_load(dir, pid, &t->timers);
}

static void free_own(struct task_image *t)
{
	img_free_msg(t->core ? &t->core->base : NULL);
	img_free_msg(t->mm ? &t->mm->base : NULL);
	img_free_msg(t->fs ? &t->fs->base : NULL);
	timers_free(&t->timers);
	t->core = NULL;
	t->mm = NULL;
	t->fs = NULL;
}

static int find_entry(const struct restore_set *rs, size_t before, uint32_t pid)
{
	for (size_t i = 0; i < before; i++)
		if (rs->entries[i]->pid == pid)
			return i;
	return -1;
}

/* pstree.img: a tree, parents first, every PID and TID once. */
static int check_tree(const struct restore_set *rs)
{
	for (size_t i = 0; i < rs->nr; i++) {
		const PstreeEntry *e = rs->entries[i];
		int parent = i ? find_entry(rs, i, e->ppid) : -1;

		/* PID 1 only for the init of the tree's own pid namespace */
		if (e->pid < 1 || (e->pid == 1 && (i || !rs->inv->own_pidns)) || e->pid > (1U << 22) ||
		    e->n_threads < 1 || e->threads[0] != e->pid ||
		    (e->zombie && e->n_threads != 1))
			return pr_err("pstree.img: process %zu (pid %u) has a bad pid or thread list", i, e->pid),
			       -EINVAL;
		if (i == 0 && (e->pid != rs->inv->root_pid || e->zombie || (rs->inv->own_pidns && e->pid != 1)))
			return pr_err("pstree.img: root pid %u does not match the inventory (%u) or is a zombie",
				      e->pid, rs->inv->root_pid), -EINVAL;
		if (i && (parent < 0 || rs->entries[parent]->zombie))
			return pr_err("pstree.img: the parent %u of pid %u is not an earlier live process", e->ppid,
				      e->pid), -EINVAL;
		for (size_t t = 0; t < e->n_threads; t++)
			for (size_t j = 0; j <= i; j++)
				for (size_t u = 0; u < rs->entries[j]->n_threads; u++)
					if (rs->entries[j]->threads[u] == e->threads[t] && (j != i || u != t))
						return pr_err("pstree.img: PID %u appears twice", e->threads[t]), -EINVAL;
	}
	return 0;
}

static const struct session_helper *session_helper_of(const struct restore_set *rs, uint32_t sid, size_t creator)
{
	for (size_t s = 0; s < rs->nr_sessions; s++)
		if (rs->sessions[s].sid == sid && rs->sessions[s].creator == creator)
			return &rs->sessions[s];
	return NULL;
}

/* A process in a session other than its parent's, whose leader is gone: the
 * session is remade by a helper at the leader's PID (see fork_children). */
static int plan_session_helpers(struct restore_set *rs)
{
	for (size_t i = 1; i < rs->nr; i++) {
		const PstreeEntry *e = rs->entries[i];
		int parent = find_entry(rs, i, e->ppid);

		if (e->sid == e->pid || e->sid == rs->entries[parent]->sid || session_helper_of(rs, e->sid, parent))
			continue;
		if (find_entry(rs, rs->nr, e->sid) >= 0 || e->sid <= 1 || e->sid > (1U << 22))
			return pr_err("pstree.img: pid %u is in session %u, which is neither its parent's nor one "
				      "whose leader is gone", e->pid, e->sid), -EINVAL;
		struct session_helper *n = realloc(rs->sessions, (rs->nr_sessions + 1) * sizeof(*n));
		if (!n)
			return -ENOMEM;
		rs->sessions = n;
		rs->sessions[rs->nr_sessions++] = (struct session_helper){ e->sid, parent };
	}
	return 0;
}

/* A group whose leader is not in the tree gets a helper, forked by the parent of
 * its first member, in that member's session.  The root's group may be the
 * caller's (--shell-job): it has no parent in the tree to fork a helper. */
static int plan_group_helpers(struct restore_set *rs)
{
	for (size_t i = 1; i < rs->nr; i++) {
		const PstreeEntry *e = rs->entries[i];
		bool known = find_entry(rs, rs->nr, e->pgid) >= 0;

		for (size_t h = 0; h < rs->nr_helpers && !known; h++)
			known = rs->helpers[h].pgid == e->pgid;
		/* a session helper leads the group of the session's own id */
		for (size_t s = 0; s < rs->nr_sessions && !known; s++)
			known = rs->sessions[s].sid == e->pgid && e->sid == e->pgid;
		if (known || (e->pgid == rs->entries[0]->pgid && e->sid == rs->entries[0]->sid))
			continue;
		int parent = find_entry(rs, i, e->ppid);
		if (e->pgid <= 1 || e->pgid > (1U << 22) || rs->entries[parent]->sid != e->sid)
			return pr_err("pstree.img: pid %u is in group %u, which no process of the tree leads, "
				      "and its parent is in another session", e->pid, e->pgid), -EINVAL;
		struct group_helper *n = realloc(rs->helpers, (rs->nr_helpers + 1) * sizeof(*n));
		if (!n)
			return -ENOMEM;
		rs->helpers = n;
		rs->helpers[rs->nr_helpers++] = (struct group_helper){ e->pgid, parent };
	}
	return 0;
}

static int load_images(struct img_dir *dir, struct restore_set *rs)
{
	struct img *img;
	PstreeEntry *e;
	int ret;

	if ((ret = inventory_read(dir, &rs->inv)))
		return ret;
	if (rs->inv->has_pre_dump && rs->inv->pre_dump)
		return pr_err("%s holds a pre-dump (memory only): restore from the dump made after it with "
			      "--prev-images-dir", dir->path), -EINVAL;
	if (!(img = img_open(dir, IMG_PSTREE, 0)))
		return -ENOENT;
	while ((ret = img_read_msg(img, &pstree_entry__descriptor, (ProtobufCMessage **)&e)) > 0) {
		PstreeEntry **n = rs->nr < MAX_PROCESSES ? realloc(rs->entries, (rs->nr + 1) * sizeof(*n)) : NULL;
		if (!n) {
			img_free_msg(&e->base);
			ret = rs->nr < MAX_PROCESSES ? -ENOMEM
				: (pr_err("pstree.img: more than %d processes", MAX_PROCESSES), -E2BIG);
			break;
		}
		rs->entries = n;
		rs->entries[rs->nr++] = e;
	}
	img_close(img);
	if (ret < 0)
		return ret;
	if (!rs->nr)
		return pr_err("pstree.img holds no process"), -EINVAL;
	if ((ret = check_tree(rs)) || (ret = pidview_check(rs->entries, rs->nr)))
		return ret;
	if ((ret = plan_session_helpers(rs)) || (ret = plan_group_helpers(rs)) || (ret = ipc_load(dir, &rs->ipc)) ||
	    (ret = seccomp_load(dir, rs->entries, rs->nr, &rs->seccomp)) ||
	    (ret = cgroup_load(dir, rs->entries, rs->nr, &rs->cg)) ||
	    (ret = ns_load(dir, &rs->ns)) || (ret = nested_plan(&rs->ns.nested, rs->entries, rs->nr)) ||
	    (ret = userns_load(dir, &rs->userns)))
		return ret;
	if (!(rs->tasks = calloc(rs->nr, sizeof(*rs->tasks))))
		return -ENOMEM;
	/* The files first: they stay, while the rest is dropped before the tree forks
	 * (drop_own_images), and leaves no holes between them. */
	for (size_t i = 0; i < rs->nr; i++) {
		rs->tasks[i].pstree = rs->entries[i];
		if (rs->entries[i]->zombie)
			continue;
		rs->nr_live++;
		if ((ret = files_load(dir, rs->entries[i]->pid, &rs->tasks[i].files)))
			return ret;
	}
	uint32_t pids[rs->nr];
	for (size_t i = 0; i < rs->nr; i++)
		pids[i] = rs->entries[i]->pid;
	for (size_t i = 0; i < rs->nr; i++)
		if (!rs->entries[i]->zombie && (ret = pidfd_check_targets(&rs->tasks[i].files, pids, rs->nr)))
			return ret;
	for (size_t i = 0; i < rs->nr; i++)
		if (!rs->entries[i]->zombie && (ret = load_own(dir, &rs->tasks[i])))
			return ret;
	MmEntry *mms[rs->nr];
	struct files_image *fis[rs->nr];
	ssize_t parent[rs->nr];
	for (size_t i = 0; i < rs->nr; i++) {
		mms[i] = rs->tasks[i].mm;
		fis[i] = rs->entries[i]->zombie ? NULL : &rs->tasks[i].files;
		parent[i] = i ? find_entry(rs, i, rs->entries[i]->ppid) : -1;
	}
	if ((ret = files_share_plan(fis, parent, rs->nr, &rs->files_share)) || (ret = ghost_plan_shared(fis, rs->nr)))
		return ret;
	for (size_t i = 0; i < rs->nr; i++)
		if (fis[i] && (ret = ghost_check_refs(fis[i], mms[i])))
			return ret;
	return shmem_prepare(&rs->shm, mms, rs->nr);
}

/* libcr has validated every image; the tasks read their own core, mm, fs and
 * timers again themselves.  Dropped here, with the freed pages given back, they
 * are not in the tree's first task: every fork copies, and every restorer
 * unmaps, the page tables of all its parent holds, so a tree of N processes each
 * inheriting the images of all N cost N^2 (a core alone is 12 KiB with AMX). */
static void drop_own_images(struct restore_set *rs)
{
	for (size_t i = 0; i < rs->nr; i++)
		free_own(&rs->tasks[i]);
	malloc_trim(0);
}

static void free_images(struct restore_set *rs)
{
	for (size_t i = 0; rs->tasks && i < rs->nr; i++) {
		struct task_image *t = &rs->tasks[i];
		free_own(t);
		files_free(&t->files);
	}
	shmem_release(&rs->shm);
	files_share_plan_free(rs->files_share);
	ghost_plan_free();
	ipc_free(&rs->ipc);
	seccomp_free(&rs->seccomp);
	cgroup_free(&rs->cg);
	ns_free(&rs->ns);
	userns_free(rs->userns);
	for (size_t i = 0; i < rs->nr; i++)
		img_free_msg(&rs->entries[i]->base);
	free(rs->entries);
	free(rs->tasks);
	free(rs->helpers);
	free(rs->sessions);
	img_free_msg(rs->inv ? &rs->inv->base : NULL);
}

/* Nothing the tree asks for may exceed the caller's own privileges (principle 7):
 * its credentials, the files it reopens, and what the restore itself needs to do
 * for it, all checked against the caller's real credentials before anything exists. */
static int check_privileges(const struct restore_set *rs, bool new_pidns)
{
	struct privs p;
	int ret;

	if ((ret = privs_need(CAP_CHECKPOINT_RESTORE, CAP_SYS_ADMIN,
			      "restore (each process at its original PID: clone3 with set_tid)")))
		return ret;
	/* the maps first: what the namespace grants rests on them */
	if (rs->userns && (ret = userns_check_unprivileged(rs->userns)))
		return ret;
	if (new_pidns && (ret = privs_need(CAP_SYS_ADMIN, -1, "restore into a new pid namespace")))
		return ret;
	for (size_t i = 0; i < rs->nr && !ret; i++)
		if (((rs->entries[i]->has_pid_ns && rs->entries[i]->pid_ns) ||
		     (rs->entries[i]->has_pid_ns_unshared && rs->entries[i]->pid_ns_unshared)) &&
		    (ret = privs_need(CAP_SYS_ADMIN, -1, "restore of the pid namespaces nested in the tree's")))
			return ret;
	if (rs->ipc.own_ns && (ret = privs_need(CAP_SYS_ADMIN, -1, "restore of the tree's own IPC namespace")))
		return ret;
	for (size_t i = 0; i < rs->ns.nr && !ret; i++) {
		char op[96];
		snprintf(op, sizeof(op), "restore of the tree's own %s namespace", rs->ns.kinds[i]->name);
		ret = privs_need(CAP_SYS_ADMIN, -1, op);
	}
	if (ret || (rs->ns.nested.nr &&
		    (ret = privs_need(CAP_SYS_ADMIN, -1, "restore of the namespaces nested below the tree's root"))))
		return ret;
	/* nested user namespaces: what any user may make, or the capabilities to write their maps */
	if ((ret = usernest_check_unprivileged(&rs->ns.nested.user, rs->userns)))
		return ret;
	if (seccomp_any(&rs->seccomp) &&
	    (ret = privs_need(CAP_SYS_ADMIN, -1, "restore of seccomp filters (PTRACE_O_SUSPEND_SECCOMP)")))
		return ret;
	if ((ret = privs_get(&p)))
		return ret;
	for (size_t i = 0; i < rs->nr && !ret; i++) {
		const struct task_image *t = &rs->tasks[i];
		if (rs->entries[i]->zombie)
			continue;
		/* one in a nested user namespace: its ids there are these of ours (its groups are ours) */
		if (rs->entries[i]->has_user_ns && rs->entries[i]->user_ns) {
			UsernsEntry ours = USERNS_ENTRY__INIT;
			CoreEntry core = *t->core;
			CredsEntry out;
			if (!(ret = usernest_ours(&rs->ns.nested.user, rs->entries[i]->user_ns, rs->userns, &ours)) &&
			    !(ret = userns_creds_outside(&ours, t->core->creds, &out))) {
				memcpy(out.groups, t->core->creds->groups, t->core->creds->n_groups * sizeof(uint32_t));
				core.creds = &out;
				ret = privs_check_task(&p, t->pstree->pid, &core, t->mm, t->fs->cwd, t->fs->root, &t->files);
				free(out.groups);
			}
			usernest_ours_free(&ours);
			continue;
		}
		if (!rs->userns) {
			ret = privs_check_task(&p, t->pstree->pid, t->core, t->mm, t->fs->cwd, t->fs->root, &t->files);
			continue;
		}
		/* the ids it asks for, in the tree's user namespace, are these of ours */
		CoreEntry core = *t->core;
		CredsEntry out;
		if (!(ret = userns_creds_outside(rs->userns, t->core->creds, &out))) {
			core.creds = &out;
			ret = privs_check_task(&p, t->pstree->pid, &core, t->mm, t->fs->cwd, t->fs->root, &t->files);
			free(out.groups);
		}
	}
	privs_free(&p);
	return ret;
}

/* Read and validate every image of a directory exactly as a restore does first,
 * creating nothing: the fuzz targets and the hostile-image tests drive it. */
int restore_check_images(const char *path)
{
	struct img_dir dir = { .dfd = -1 };
	struct restore_set rs = { 0 };
	int ret;

	cr_error_reset();
	if ((ret = img_dir_open(&dir, path)))
		return ret;
	ret = load_images(&dir, &rs);
	if (!ret && !(ret = netns_check_image(&dir))) {
		TimensEntry *tn;
		if (!(ret = timens_load(&dir, &tn)) && tn)
			img_free_msg(&tn->base);
	}
	free_images(&rs);
	img_dir_close(&dir);
	return ret;
}

static char **kept_lock;   /* restore_keep_lock() */

void restore_keep_lock(char **name)
{
	kept_lock = name;
}

int restore_lock_early(const char *path, char **lock)
{
	struct img_dir dir = { .dfd = -1 };
	struct restore_set rs = { 0 };
	struct netns_restore net = { .host_fd = -1, .join_fd = -1 };
	int ret;

	*lock = NULL;
	cr_error_reset();
	if ((ret = img_dir_open(&dir, path)))
		return ret;
	if ((ret = load_images(&dir, &rs)) || (ret = netns_load(&dir, NULL, 0, &net)))
		goto out;
	/* a tree with its own network namespace locks its connections in it itself */
	if (netns_restore_own(&net))
		goto out;
	/* (a nested network namespace's are locked in it, which is not made yet) */
	for (size_t i = 0; i < rs.nr && !ret; i++)
		if (!rs.entries[i]->has_net_ns || !rs.entries[i]->net_ns)
			ret = tcp_restore_collect(&rs.tasks[i].files, false, "m", 0);
	/* taken and left in place: the restore's own lock replaces it */
	if (!ret && !(ret = tcp_restore_lock()) && netlock_name()) {
		if (!(*lock = strdup(netlock_name())))
			ret = -ENOMEM;
		netlock_keep();
	}
	if (ret)
		netlock_unlock();
out:
	netns_free(&net);
	free_images(&rs);
	img_dir_close(&dir);
	return ret;
}

/* Session first (only a session leader's own setsid can make it); groups once
 * every task exists (see join_group). */
static int restore_session(const PstreeEntry *p, bool root, bool shell_job)
{
	if ((pid_t)p->sid == (pid_t)p->pid) {
		if (setsid() < 0)
			return pr_perror("can't make pid %u a session leader", p->pid);
		return 0;
	}
	if (root && !shell_job)
		return pr_err("pid %u was in session %u of a process outside the images: restore with --shell-job",
			      p->pid, p->sid), -EINVAL;
	if ((pid_t)p->pgid == (pid_t)p->pid && setpgid(0, 0))
		return pr_perror("can't make pid %u a process group leader", p->pid);
	return 0;
}

static int join_group(const struct restore_set *rs, size_t idx)
{
	const PstreeEntry *root = rs->entries[0], *p = rs->entries[idx];
	/* by its PID in a nested pid namespace; one it can't see there it inherited */
	pid_t pgid = pidview_pid(rs->entries, rs->nr, idx, p->pgid);

	/* the root's group, led by no process of the tree, was the shell's (--shell-job):
	 * its members stay in the caller's, which they inherited */
	if (p->pgid == root->pgid && root->pgid != root->pid && find_entry(rs, rs->nr, root->pgid) < 0)
		return 0;
	if ((pid_t)p->pgid != (pid_t)p->pid && pgid && getpgid(0) != pgid && setpgid(0, pgid))
		return pr_perror("can't put pid %u into process group %u", p->pid, p->pgid);
	return 0;
}

static void futex_wake_all(uint32_t *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
}

/* Wait until *word reaches want; false if some task failed meanwhile. */
static bool stage_wait(struct restore_shared *sh, uint32_t *word, uint32_t want)
{
	for (;;) {
		uint32_t cur = __atomic_load_n(word, __ATOMIC_SEQ_CST);
		struct timespec ts = { 0, 100 * 1000 * 1000 };

		if (__atomic_load_n(&sh->failed, __ATOMIC_SEQ_CST))
			return false;
		if (cur >= want)
			return true;
		syscall(SYS_futex, word, FUTEX_WAIT, cur, &ts, NULL, 0);
	}
}

/* One more task at this stage; the last of want wakes the waiters (waking them
 * all at every step would cost n wakeups per task: quadratic in the tree). */
static void stage_done(uint32_t *word, uint32_t want)
{
	if (__atomic_add_fetch(word, 1, __ATOMIC_SEQ_CST) >= want)
		futex_wake_all(word);
}

/* glibc registered rseq for the thread we were forked from; that area is about to go. */
static void unregister_inherited_rseq(void)
{
	extern const ptrdiff_t __rseq_offset __attribute__((weak));
	extern const unsigned int __rseq_size __attribute__((weak));
	const unsigned lens[] = { &__rseq_size ? __rseq_size : 32, 32, 20 };

	if (!&__rseq_offset)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(lens); i++)
		if (!syscall(__NR_rseq, (char *)__builtin_thread_pointer() + __rseq_offset, lens[i], 1, ARCH_RSEQ_SIG))
			return;
}

/* Layout of the restorer region; everything the blob touches lives here. */
struct rst_layout {
	uint64_t blob, args, vmas, threads, siginfo, auxv, seccomp, frames, frame_len, stacks, stack_top, scratch, len;
};

static void plan_layout(const struct task_image *t, uint64_t vdso_len, size_t seccomp_len, struct rst_layout *l)
{
	const CoreEntry *c = t->core;
	uint64_t at = PAGE_ALIGN(restorer_blob_size), xlen = 0;

	for (size_t i = 0; i < c->n_threads; i++)
		if (arch_sigframe_size(c->threads[i]) > xlen)
			xlen = arch_sigframe_size(c->threads[i]);
	l->blob = 0;
	l->args = at;
	at = PAGE_ALIGN(at + sizeof(struct restorer_args));
	l->vmas = at;
	at = PAGE_ALIGN(at + (t->mm->n_vmas + 1) * sizeof(struct rst_vma));
	l->threads = at;
	at = PAGE_ALIGN(at + c->n_threads * sizeof(struct rst_thread));
	l->siginfo = at;
	at = PAGE_ALIGN(at + RST_MAX_SIGINFO * sizeof(struct rst_siginfo));
	l->auxv = at;
	at = PAGE_ALIGN(at + (t->mm->n_mm_saved_auxv + 2) * sizeof(uint64_t));
	l->seccomp = at;
	at = PAGE_ALIGN(at + seccomp_len);
	l->frame_len = PAGE_ALIGN(xlen);
	l->frames = at;
	at += c->n_threads * l->frame_len;
	l->stacks = at;                       /* the cloned threads' restorer stacks */
	at += (c->n_threads - 1) * RESTORER_THREAD_STACK;
	at += RESTORER_STACK_SIZE;            /* the leader's */
	l->stack_top = at;
	l->scratch = at;
	at += vdso_len;
	l->len = at;
}

static int thread_areas(const struct task_image *t, const struct rst_layout *l, uint64_t base,
			struct core_thread_area **out)
{
	size_t n = t->core->n_threads;
	struct core_thread_area *areas = calloc(n, sizeof(*areas));

	if (!areas)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		areas[i].frame = (void *)(base + l->frames + i * l->frame_len);
		areas[i].frame_len = l->frame_len;
		/* the leader runs on the main restorer stack; this one stays unused */
		areas[i].stack = (void *)(base + l->stacks + (i ? i - 1 : 0) * RESTORER_THREAD_STACK);
	}
	*out = areas;
	return 0;
}

/* Everything the tasks need, inherited through the forks (never freed there). */
struct restore_ctx {
	struct img_dir *dir;
	struct restore_set *rs;
	struct restore_shared *sh;
	bool shell_job;
	bool new_pidns;
	bool lazy;              /* private anonymous memory filled by the lazy-pages daemon */
	bool sibling;           /* the root is our parent's child (cr_restore_opts.sibling) */
	pid_t *host_pids;       /* libcr's side: each task's PID as we see it (0: none yet) */
	struct vdso_here vdso;  /* where the kernel put our vDSO: the same in every task we fork */
	const struct netns_restore *net;   /* the tree's own network namespace, if it had one */
	const TimensEntry *timens;         /* its own time namespace, if it had one */
	struct ns_args ns_args; /* --root, --external */
	int userns_sync[2];     /* the root ([1]) and we ([0]): ready, then its user namespace's maps are written */
	int pts_sk;             /* the tasks' end of the socket the masters of orphan ptys come by (-1: none) */
};

/* Once its files are restored, a task's fd 2 may be the restored process's: its
 * warnings go to its report instead (finish_task logs them), the rest nowhere. */
static void child_log(enum cr_log_level level, const char *msg, void *user)
{
	struct child_report *rep = user;
	size_t n = strnlen(rep->warnings, sizeof(rep->warnings));

	if (level == CR_LOG_WARN && n + 1 < sizeof(rep->warnings))
		snprintf(rep->warnings + n, sizeof(rep->warnings) - n, "%s\n", msg);
}

static void __attribute__((noreturn)) child_fail(const struct restore_ctx *c, size_t idx)
{
	uint32_t none = 0;

	snprintf(c->sh->rep[idx].error, sizeof(c->sh->rep[idx].error), "%s",
		 cr_error_isset() ? cr_last_error() : "restore failed");
	__atomic_compare_exchange_n(&c->sh->failed, &none, idx + 1, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
	futex_wake_all(&c->sh->created);
	futex_wake_all(&c->sh->ready);
	futex_wake_all(&c->sh->go);
	_exit(1);
}

/* Set once task j exists: one that forks a child into a nested pid namespace from
 * outside it waits for a process of that namespace to setns through. */
static uint32_t *born_of(const struct restore_ctx *c)
{
	return (uint32_t *)&c->sh->rep[c->rs->nr];
}

static void mark_born(const struct restore_ctx *c, size_t j)
{
	__atomic_store_n(&born_of(c)[j], 1, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&c->sh->born, 1, __ATOMIC_SEQ_CST);
	futex_wake_all(&c->sh->born);
}

/* tid: its PID at every level, innermost first (in nested pid namespaces), the
 * tree's last (tid[n - 1]) */
static pid_t clone_at_cgroup(const int32_t *tid, int n, uint64_t flags, int exit_signal, int cgroup_fd)
{
	pid_t pid = tid[n - 1];
	struct clone_args ca = {
		.flags = flags | (cgroup_fd >= 0 ? CLONE_INTO_CGROUP : 0),
		.exit_signal = exit_signal,
		.set_tid = (uintptr_t)tid,
		.set_tid_size = n,
		.cgroup = cgroup_fd >= 0 ? cgroup_fd : 0,
	};

	/* A PID held by a zombie is free as soon as its parent reaps it: a tree killed
	 * by the dump just before may still be waiting for init (up to a few seconds). */
	if (fault_hit("restore-fork"))
		return errno = EAGAIN, -1;
	for (int tries = 0;; tries++) {
		struct proc_stat st;
		pid_t ret = syscall(__NR_clone3, &ca, sizeof(ca));

		if (ret >= 0 || errno != EEXIST || tries >= 500)
			return ret;
		if (proc_parse_stat_quiet(pid, &st) == 0 && st.state != 'Z' && st.state != 'X') {
			errno = EEXIST;
			return ret;
		}
		usleep(10000);   /* dying, or gone just now: try again */
	}
}

static pid_t clone_at(pid_t pid, int exit_signal)
{
	int32_t tid = pid;

	return clone_at_cgroup(&tid, 1, 0, exit_signal, -1);
}

/* The fd a task was cloned into its v2 cgroup with: the child closes its copy first. */
static int cg_clone_fd = -1;

/* A process of the tree: born in its v2 cgroup (CLONE_INTO_CGROUP) where the kernel
 * takes it; else it writes itself there (cgroup_enter) like into the v1 ones.  The
 * init of a nested pid namespace makes it (PID 1 there). */
static pid_t clone_task(const struct restore_ctx *c, size_t idx, uint64_t flags, int exit_signal)
{
	const PstreeEntry *e = c->rs->entries[idx];
	int fd = e->zombie ? -1 : cgroup_v2_fd(&c->rs->cg, e->pid);
	int32_t tid[RST_MAX_PID_LEVELS] = { (int32_t)e->pid };
	int n = e->n_pid_ns_threads ? pidview_set_tid(e, 0, tid) : 1;
	pid_t pid;

	/* (one a nested user namespace owns: its parent entered it, made, see fork_child) */
	if (n > 1 && tid[0] == 1 && !(e->has_pid_ns_owner && e->pid_ns_owner))
		flags |= CLONE_NEWPID;
	if (fd >= 0) {
		cg_clone_fd = fd;
		pid = clone_at_cgroup(tid, n, flags, exit_signal, fd);
		if (pid == 0)
			return 0;
		int err = errno;
		cg_clone_fd = -1;
		close(fd);
		if (pid > 0 || err == EEXIST)
			return errno = err, pid;
		pr_debug("pid %u: clone3 into its cgroup failed (%s), it joins it after", e->pid, strerror(err));
	}
	return clone_at_cgroup(tid, n, flags, exit_signal, -1);
}

static int clone_failed(uint32_t pid)
{
	int err = errno, ret;
	char op[96];

	snprintf(op, sizeof(op), "restoring pid %u at its PID (clone3 with set_tid)", pid);
	if ((ret = privs_explain(err, CAP_CHECKPOINT_RESTORE, CAP_SYS_ADMIN, op)))
		return ret;
	errno = err;
	if (errno == EEXIST)
		return pr_err("can't restore pid %u: the PID is in use by another process; stop it, or restore "
			      "into a new pid namespace (--new-pidns)", pid), -EEXIST;
	return pr_perror("can't create pid %u (clone3 with set_tid)", pid);
}

/* A zombie: exit as it did, once it is in its group (its parent's wait() gets the status). */
static void __attribute__((noreturn)) become_zombie(const struct restore_ctx *c, size_t idx)
{
	const PstreeEntry *e = c->rs->entries[idx];
	int status = e->exit_status;

	stage_done(&c->sh->created, c->rs->nr);
	if (!stage_wait(c->sh, &c->sh->created, c->rs->nr) || join_group(c->rs, idx))
		child_fail(c, idx);
	stage_done(&c->sh->joined, c->rs->nr);
	if (WIFSIGNALED(status)) {
		struct rlimit no_core = { 0, 0 };
		sigset_t set;
		setrlimit(RLIMIT_CORE, &no_core);
		signal(WTERMSIG(status), SIG_DFL);
		sigemptyset(&set);
		sigaddset(&set, WTERMSIG(status));
		sigprocmask(SIG_UNBLOCK, &set, NULL);
		kill(getpid(), WTERMSIG(status));
	}
	_exit(WEXITSTATUS(status));
}

static void __attribute__((noreturn)) child_main(const struct restore_ctx *c, size_t idx);

/* A child of idx that idx forks itself (not a session's helper for it). */
static bool forks_itself(const struct restore_set *rs, size_t idx, const PstreeEntry *e)
{
	const PstreeEntry *self = rs->entries[idx];

	return e->ppid == self->pid && (e->sid == e->pid || e->sid == self->sid || !session_helper_of(rs, e->sid, idx));
}

static bool in_other_pidns(const PstreeEntry *parent, const PstreeEntry *e)
{
	return (e->has_pid_ns ? e->pid_ns : 0) != (parent->has_pid_ns ? parent->pid_ns : 0);
}

/* The children of idx born in a nested pid namespace from outside it (not its
 * init): each once a process of its namespace exists to enter it through, in
 * whatever order they come (the init may be another branch's); then its
 * children are born in its own namespace again, until pidview_children_ns.
 * The wait ends: a namespace's init descends only from processes of shallower
 * namespaces (pidview_check), so whatever it waits for in turn is shallower. */
/* Child j of this task, cloned at its PIDs; it goes on in child_main. */
static int fork_child(const struct restore_ctx *c, size_t j)
{
	const PstreeEntry *e = c->rs->entries[j];
	int ns_fd = -1, ret;
	size_t self = 0;

	/* the init of a pid namespace a nested user namespace owns: into it, made there */
	if (e->has_pid_ns_owner && e->pid_ns_owner) {
		while (c->rs->entries[self]->pid != e->ppid)
			self++;
		if ((ret = usernest_pid_make(&c->rs->ns.nested.user, c->rs->entries, c->rs->nr, self, j, &ns_fd)))
			return ret;
		ret = setns(ns_fd, CLONE_NEWPID) ? pr_perror("pid %u can't enter the pid namespace made for its child %u "
							     "(setns)", e->ppid, e->pid) : 0;
		close(ns_fd);
		if (ret)
			return ret;
	}
	pid_t pid = clone_task(c, j, 0, e->zombie ? SIGCHLD : (int)c->rs->tasks[j].exit_signal);

	if (pid == 0)
		child_main(c, j);
	if (pid < 0)
		return clone_failed(e->pid);
	mark_born(c, j);
	return ns_fd >= 0 ? pidview_enter_own(e->ppid) : 0;
}

static int fork_entered(const struct restore_ctx *c, size_t idx, size_t pending)
{
	const struct restore_set *rs = c->rs;
	const PstreeEntry *self = rs->entries[idx];
	bool done[rs->nr];
	int ret;

	memset(done, 0, sizeof(done));
	while (pending) {
		uint32_t seen = __atomic_load_n(&c->sh->born, __ATOMIC_SEQ_CST);
		bool progress = false;

		for (size_t j = idx + 1; j < rs->nr; j++) {
			const PstreeEntry *e = rs->entries[j];
			if (done[j] || !forks_itself(rs, idx, e) || !in_other_pidns(self, e) || e->pid_ns_threads[0] == 1)
				continue;
			ret = pidview_enter(rs->entries, rs->nr, idx, e->pid_ns, born_of(c));
			if (ret == -EAGAIN)
				continue;
			if (ret)
				return ret;
			if ((ret = fork_child(c, j)))
				return ret;
			done[j] = progress = true;
			pending--;
		}
		if (!progress) {
			struct timespec ts = { 0, 100 * 1000 * 1000 };
			if (__atomic_load_n(&c->sh->failed, __ATOMIC_SEQ_CST))
				return pr_err("pid %u: another process failed while it waited to fork into a nested pid "
					      "namespace", self->pid), -ECANCELED;
			syscall(SYS_futex, &c->sh->born, FUTEX_WAIT, seen, &ts, NULL, 0);
		}
	}
	return pidview_enter_own(self->pid);
}

/* Create every child of task idx at its PID; wait for zombies among them to be dead. */
static int fork_children(const struct restore_ctx *c, size_t idx)
{
	const struct restore_set *rs = c->rs;
	uint32_t me = rs->entries[idx]->pid;

	/* our table is restored: a child finds the caller's --inherit-fd files where we keep them */
	for (size_t j = idx + 1; j < rs->nr; j++)
		if (rs->entries[j]->ppid == me)
			rs->tasks[j].files.inherit_from = rs->tasks[idx].files.inherit_kept;
	for (size_t h = 0; h < rs->nr_helpers; h++) {
		if (rs->helpers[h].creator != idx)
			continue;
		pid_t pid = clone_at(rs->helpers[h].pgid, SIGCHLD);
		if (pid == 0) {
			/* holds the group until every member is in it */
			stage_wait(c->sh, &c->sh->joined, rs->nr);
			_exit(0);
		}
		if (pid < 0)
			return clone_failed(rs->helpers[h].pgid);
		/* made the group's leader by us, before any member tries to join */
		if (setpgid(pid, pid))
			return pr_perror("can't make helper %d the leader of its process group", pid);
	}
	for (size_t s = 0; s < rs->nr_sessions; s++) {
		const struct session_helper *sh = &rs->sessions[s];
		int st;
		if (sh->creator != idx)
			continue;
		pid_t helper = clone_at(sh->sid, SIGCHLD);
		if (helper == 0) {
			/* the session's new leader makes the members, as our children, in it */
			if (setsid() < 0) {
				pr_perror("can't remake session %u", sh->sid);
				child_fail(c, idx);
			}
			for (size_t j = idx + 1; j < rs->nr; j++) {
				const PstreeEntry *e = rs->entries[j];
				if (e->ppid != me || e->sid != sh->sid)
					continue;
				if (e->has_pid_ns_owner && e->pid_ns_owner) {
					pr_err("pid %u, the init of a pid namespace owned by a nested user namespace, is in "
					       "a session its parent does not lead nor is in: not supported", e->pid);
					child_fail(c, idx);
				}
				pid_t pid = clone_task(c, j, CLONE_PARENT, 0);
				if (pid == 0)
					child_main(c, j);
				if (pid < 0) {
					clone_failed(e->pid);
					child_fail(c, idx);
				}
				mark_born(c, j);
			}
			_exit(0);
		}
		if (helper < 0)
			return clone_failed(sh->sid);
		if (waitpid(helper, &st, 0) != helper || !WIFEXITED(st) || WEXITSTATUS(st))
			return pr_err("the helper that remakes session %u failed", sh->sid), -EIO;
	}
	/* Children in its own pid namespace, then those that are inits of nested ones
	 * (CLONE_NEWPID); then those born in nested ones after their init (it had done
	 * unshare(CLONE_NEWPID) and forked the init, or entered one by setns): it enters
	 * each one's namespace once a process is there (made by it, or another) */
	const PstreeEntry *self = rs->entries[idx];
	size_t pending = 0;
	for (int pass = 0; pass < 2; pass++)
		for (size_t j = idx + 1; j < rs->nr; j++) {
			const PstreeEntry *e = rs->entries[j];
			bool nested = in_other_pidns(self, e);
			if (!forks_itself(rs, idx, e))
				continue;
			if (nested && e->pid_ns_threads[0] != 1) {
				pending += !pass;
				continue;
			}
			if (pass != nested)
				continue;
			int ret = fork_child(c, j);
			if (ret)
				return ret;
		}
	return pending ? fork_entered(c, idx, pending) : 0;
}

/* The zombies' and group helpers' exits queued SIGCHLD here; the image's own
 * pending signals come later.  Helpers are reaped: their PIDs were not ours. */
static int settle_zombie_children(const struct restore_ctx *c, size_t idx)
{
	const struct restore_set *rs = c->rs;
	struct timespec zero = { 0, 0 };
	sigset_t chld;
	siginfo_t si;

	for (size_t h = 0; h < rs->nr_helpers; h++)
		if (rs->helpers[h].creator == idx && waitpid(rs->helpers[h].pgid, NULL, 0) < 0)
			return pr_perror("group helper %u did not exit", rs->helpers[h].pgid);
	for (size_t j = idx + 1; j < rs->nr; j++)
		if (rs->entries[j]->zombie && rs->entries[j]->ppid == rs->entries[idx]->pid &&
		    waitid(P_PID, rs->entries[j]->pid, &si, WEXITED | WNOWAIT))
			return pr_perror("zombie %u did not exit", rs->entries[j]->pid);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	while (sigtimedwait(&chld, &si, &zero) == SIGCHLD)
		;
	return 0;
}

/* A session leader whose terminal was a pty of the tree: it is again, before the
 * children are forked (they take it from the leader). */
/* The init of a pid namespace: its PIDs go on from where they were (the restore's
 * own clones, at chosen PIDs, leave the kernel's cursor alone).  Last, once every
 * process and helper exists.  Best effort: without a procfs where it is, or the
 * right, new processes just get the lowest free PIDs. */
static void restore_ns_last_pid(const struct task_image *t)
{
	char buf[16];

	if (!t->core->has_ns_last_pid || getpid() != 1)
		return;
	snprintf(buf, sizeof(buf), "%u", t->core->ns_last_pid);
	if (write_file("/proc/sys/kernel/ns_last_pid", buf))
		pr_warn("pid %u: can't set its pid namespace's last PID to %s: new processes there get the lowest "
			"free PIDs", t->pstree->pid, buf);
}

static int take_ctty(const struct task_image *t)
{
	const PstreeEntry *p = t->pstree;
	int fd;

	if (!p->has_ctty_index || (fd = pty_find_slave(&t->files, p->ctty_index)) < 0)
		return 0;   /* the caller's terminal (--shell-job), or none of the tree's */
	if (ioctl(fd, TIOCSCTTY, 0))
		return pr_perror("pid %u can't take pty %u as its controlling terminal again", p->pid, p->ctty_index);
	return 0;
}

/* Once every group exists: the terminal's foreground group, as it was. */
static int set_foreground(const struct task_image *t)
{
	const PstreeEntry *p = t->pstree;
	sigset_t ttou, old;
	int fd, ret = 0;

	if (!p->has_ctty_index || !p->has_fg_pgid || (fd = pty_find_slave(&t->files, p->ctty_index)) < 0)
		return 0;
	/* from a group in the background this would stop us with SIGTTOU */
	sigemptyset(&ttou);
	sigaddset(&ttou, SIGTTOU);
	sigprocmask(SIG_BLOCK, &ttou, &old);
	if (tcsetpgrp(fd, p->fg_pgid))
		ret = pr_perror("can't make group %u the foreground of pty %u again", p->fg_pgid, p->ctty_index);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return ret;
}

/* The new task at its original PID: libc work, then the jump into the restorer. */
static void __attribute__((noreturn)) child_main(const struct restore_ctx *c, size_t idx)
{
	const struct kerndat *kd = kerndat_get();
	struct task_image *t = &c->rs->tasks[idx];
	struct child_report *rep = &c->sh->rep[idx];
	struct rst_vdso_area vdso[RST_MAX_VDSO_AREAS];
	uint32_t nr_vdso, nr_vmas;
	uint64_t vdso_len = 0, base, premap_len;
	struct rst_layout l;
	struct restorer_args *a;
	sigset_t all, chld;

	if (idx)   /* (not its parent's report, which it inherited) */
		cr_set_log(child_log, rep, CR_LOG_WARN);

	/* A caller given its capability by file capabilities is not dumpable, nor are
	 * we: libcr could not trace us without CAP_SYS_PTRACE.  The restorer sets the
	 * image's value at the end. */
	if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 1)
		prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	/* SIGCHLD from zombie children is drained before the task becomes itself */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	/* kept through files_restore; the children inherit it, and pty.c's slot */
	if (idx == 0 && c->pts_sk >= 0) {
		int slot = kept_fd_add(c->pts_sk);
		if (slot < 0) {
			pr_err("can't keep the socket for the masters of the tree's terminals");
			child_fail(c, idx);
		}
		pty_set_master_sink(slot);
	}
	/* its cgroups first: all it allocates from here on is charged there */
	if (cg_clone_fd >= 0) {
		close(cg_clone_fd);
		cg_clone_fd = -1;
	}
	/* a child in its parent's cgroups has them already: its parent, which forked it,
	 * may be in the tree's mount namespace by now, where the cgroup files are not
	 * ours (a container's /sys/fs/cgroup is read-only) */
	if (!(idx && cgroup_same(&c->rs->cg, t->pstree->pid, t->pstree->ppid)) &&
	    cgroup_enter(&c->rs->cg, t->pstree->pid))
		child_fail(c, idx);
	if (idx == 0 && c->new_pidns && t->pstree->pid == 1 && pidns_mount_proc())
		child_fail(c, idx);
	/* the time and network namespaces first: the vDSO and every socket are in them */
	if (idx == 0 && (timens_restore(c->timens) || netns_restore(c->net)))
		child_fail(c, idx);
	/* the IPC namespace before anything: children inherit it, memory attaches to it */
	if (idx == 0 && ipc_restore(c->dir, &c->rs->ipc))
		child_fail(c, idx);
	/* then its other namespaces; the mount tree last, so that files open in it */
	if (idx == 0 && ns_restore(&c->rs->ns, &c->ns_args))
		child_fail(c, idx);
	/* another process: its UTS, network and IPC namespaces, made, joined or its parent's */
	if (idx == 0 && nested_keep_fds(&c->rs->ns.nested))
		child_fail(c, idx);
	if (nested_restore_task(&c->rs->ns.nested, c->dir, c->rs->entries, idx))
		child_fail(c, idx);
	if (restore_session(t->pstree, idx == 0, c->shell_job))
		child_fail(c, idx);
	if (t->pstree->zombie)
		become_zombie(c, idx);
	/* Files before the children: they get their own tables, the images dir stays open.
	 * Files whose content is in the images (unlinked, memfd) are made first: the
	 * fds open them, and the memory maps them later; those several processes
	 * use, by the root, for all. */
	if (idx == 0 && ghost_create_shared(c->dir))
		child_fail(c, idx);
	if (files_prepare(&t->files, c->dir))
		child_fail(c, idx);
	cr_set_log(child_log, &c->sh->rep[idx], CR_LOG_WARN);
	if (files_restore(&t->files, &c->dir->dfd) ||
	    take_ctty(t) || fork_children(c, idx))
		child_fail(c, idx);
	/* Our own core, mm, fs and timers only now: the children did not inherit them
	 * (a chain of N would carry N sets; see drop_own_images). */
	if (load_own(c->dir, t) || files_map_ghosts(&t->files, t->mm))
		child_fail(c, idx);
	files_after_fork(&t->files);
	stage_done(&c->sh->created, c->rs->nr);
	if (!stage_wait(c->sh, &c->sh->created, c->rs->nr))
		_exit(1);
	/* every process of the tree exists: the pidfds that name them can be opened */
	if (pidfd_restore_late(&t->files))
		child_fail(c, idx);
	if (join_group(c->rs, idx))
		child_fail(c, idx);
	stage_done(&c->sh->joined, c->rs->nr);
	if (!stage_wait(c->sh, &c->sh->joined, c->rs->nr))
		_exit(1);
	if (set_foreground(t))
		child_fail(c, idx);
	if (settle_zombie_children(c, idx))
		child_fail(c, idx);
	if (t->core->has_child_subreaper && prctl(PR_SET_CHILD_SUBREAPER, t->core->child_subreaper, 0, 0, 0)) {
		pr_perror("can't make pid %u a child subreaper", t->pstree->pid);
		child_fail(c, idx);
	}
	if (attrs_restore_process(t->core, t->pstree->pid))
		child_fail(c, idx);

	premap_len = premap_size(t->mm);
	if (premap_vdso(t->mm, &c->vdso, vdso, &nr_vdso))
		child_fail(c, idx);
	for (uint32_t i = 0; i < nr_vdso; i++)
		vdso_len += vdso[i].len;
	size_t seccomp_len;
	if (seccomp_area_size(&c->rs->seccomp, t->pstree, &seccomp_len))
		child_fail(c, idx);
	plan_layout(t, vdso_len, seccomp_len, &l);
	if (premap_reserve(t->mm, l.len + premap_len, kd->task_size, &base))
		child_fail(c, idx);
	/* the restorer region first, the premapped areas after it */
	if (mmap((void *)base, l.len, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
		 -1, 0) == MAP_FAILED) {
		pr_perror("can't map the restorer");
		child_fail(c, idx);
	}
	memcpy((void *)base, restorer_blob, sizeof(restorer_blob));
	/* the instruction cache does not see data writes on every CPU (aarch64) */
	__builtin___clear_cache((char *)base, (char *)base + sizeof(restorer_blob));
	pr_debug("pid %u: restorer at 0x%lx (%lu bytes), premap at 0x%lx (%lu bytes)", t->pstree->pid,
		 (unsigned long)base, (unsigned long)l.len, (unsigned long)(base + l.len), (unsigned long)premap_len);
	a = (struct restorer_args *)(base + l.args);
	a->task_size = kd->task_size;
	a->rst_start = base;
	a->rst_len = l.len;
	a->premap_start = base + l.len;
	a->premap_len = premap_len;
	a->vmas = base + l.vmas;
	uint64_t scratch = base + l.scratch;
	for (uint32_t i = 0; i < nr_vdso; i++) {
		vdso[i].scratch = scratch;
		scratch += vdso[i].len;
		a->vdso[i] = vdso[i];
	}
	a->nr_vdso = nr_vdso;
	double t_mem = now_ms();
	struct lazy_area *lazy = NULL;
	size_t nr_lazy = 0;
	if (premap_build(c->dir, t->pstree->pid, t->mm, &c->rs->shm, a->premap_start, (struct rst_vma *)a->vmas,
			 &nr_vmas, c->lazy ? &lazy : NULL, &nr_lazy) ||
	    (c->lazy && lazy_register(c->dir->path, t->pstree->pid, lazy, nr_lazy)))
		child_fail(c, idx);
	free(lazy);
	a->nr_vmas = nr_vmas;
	rep->memory_ms = now_ms() - t_mem;
	if (files_finish(&t->files))
		child_fail(c, idx);

	const MmEntry *mm = t->mm;
	a->mm = (struct rst_mm_map){
		.start_code = mm->mm_start_code, .end_code = mm->mm_end_code,
		.start_data = mm->mm_start_data, .end_data = mm->mm_end_data,
		.start_brk = mm->mm_start_brk, .brk = mm->mm_brk, .start_stack = mm->mm_start_stack,
		.arg_start = mm->mm_arg_start, .arg_end = mm->mm_arg_end,
		.env_start = mm->mm_env_start, .env_end = mm->mm_env_end,
		.auxv = base + l.auxv, .auxv_size = mm->n_mm_saved_auxv * sizeof(uint64_t),
	};
	memcpy((void *)(base + l.auxv), mm->mm_saved_auxv, a->mm.auxv_size);
	struct core_thread_area *areas;
	if (thread_areas(t, &l, base, &areas) ||
	    core_restorer_args(t->core, a, (struct rst_thread *)(base + l.threads),
			       (struct rst_siginfo *)(base + l.siginfo), areas) ||
	    timers_restorer_args(&t->timers, t->pstree, a))
		child_fail(c, idx);
	free(areas);
	if (seccomp_restorer_args(&c->rs->seccomp, t->pstree, a, (struct rst_thread *)(base + l.threads), base + l.seccomp))
		child_fail(c, idx);
	if (t->pstree->n_pid_ns_threads)
		pidview_restorer_args(t->pstree, a);

	int exe_fd = open(mm->exe_path, O_RDONLY | O_CLOEXEC);
	if (exe_fd < 0) {
		pr_perror("can't open the executable %s", mm->exe_path);
		child_fail(c, idx);
	}
	a->mm.exe_fd = exe_fd;
	/* the caller runs the same program (a program restoring its own fork): the
	 * kernel refuses to replace an exe that is still mapped, and there is
	 * nothing to replace (-1: keep it) */
	struct stat ours, theirs;
	if (!stat("/proc/self/exe", &ours) && !fstat(exe_fd, &theirs) && ours.st_dev == theirs.st_dev &&
	    ours.st_ino == theirs.st_ino) {
		close(exe_fd);
		a->mm.exe_fd = (uint32_t)-1;
	}
	/* its own user namespace last, once nothing needs our privileges (see userns-nested.c) */
	int user_fd;
	if (usernest_take_fd(&c->rs->ns.nested.user, t->pstree, &user_fd))
		child_fail(c, idx);
	img_dir_close(c->dir);
	netns_caller_close();
	kept_fds_close();
	if (chdir(t->fs->cwd)) {
		pr_perror("can't change to the working directory %s", t->fs->cwd);
		child_fail(c, idx);
	}
	if (strcmp(t->fs->root, "/") && chroot(t->fs->root)) {
		pr_perror("can't change root to %s", t->fs->root);
		child_fail(c, idx);
	}
	/* (its groups are set from here, before it enters: see usernest_enter) */
	if (user_fd >= 0)
		a->creds.flags &= ~RST_CREDS_GROUPS;
	/* the last thing that may fork is behind (a new namespace's init would be taken) */
	if (core_restore_early(t->core) || pidview_children_ns(c->rs->entries, c->rs->nr, idx) ||
	    usernest_enter(user_fd, t->pstree->pid, t->core->creds->groups, t->core->creds->n_groups) ||
	    pidview_children_unshare(c->rs->entries, idx))
		child_fail(c, idx);

	rep->args_addr = (uint64_t)a;
	rep->rst_start = base;
	rep->rst_len = l.len;
	rep->syscall_site = base + restorer_blob_restorer_syscall_site;
	/* Wait until libcr traces us: the restorer ends in a trap only it can catch. */
	stage_done(&c->sh->ready, c->rs->nr_live);
	/* every process has attached its SysV segments: those removed before are removed again */
	if (idx == 0 && c->rs->ipc.nr && (!stage_wait(c->sh, &c->sh->ready, c->rs->nr_live) || ipc_finish(&c->rs->ipc)))
		child_fail(c, idx);
	const struct ipc_image *nested_ipc = nested_ipc_made(&c->rs->ns.nested, idx);
	if (nested_ipc && nested_ipc->nr &&
	    (!stage_wait(c->sh, &c->sh->ready, c->rs->nr_live) || ipc_finish(nested_ipc)))
		child_fail(c, idx);
	if (!stage_wait(c->sh, &c->sh->go, 1))
		_exit(1);
	restore_ns_last_pid(t);
	if (fault_hit("restore-restorer"))
		child_fail(c, idx);
	unregister_inherited_rseq();
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	arch_jump_to_restorer(base + restorer_blob_restorer_entry, base + l.stack_top, (uint64_t)a);
}

static int wait_stopped(pid_t pid, int *status, const char *what)
{
	while (waitpid(pid, status, __WALL) < 0)
		if (errno != EINTR)
			return pr_perror("waitpid %d (%s)", pid, what);
	if (WIFSTOPPED(*status))
		return 0;
	return -ECHILD;
}

static int syscall_stop(pid_t pid, const char *what)
{
	int status;

	if (ptrace(PTRACE_SYSCALL, pid, NULL, NULL))
		return pr_perror("PTRACE_SYSCALL on %d (%s)", pid, what);
	if (wait_stopped(pid, &status, what) || WSTOPSIG(status) != (SIGTRAP | 0x80))
		return pr_err("restored pid %d did not reach %s (status 0x%x)", pid, what, status), -EIO;
	return 0;
}

static int64_t peek_result(pid_t pid, uint64_t addr)
{
	errno = 0;
	int64_t r = ptrace(PTRACE_PEEKDATA, pid, addr, NULL);
	return errno ? -1 : r;
}

static int report_step(pid_t pid, pid_t tid, int64_t result)
{
	unsigned step = result >> 32;

	if (result == -1)
		return pr_perror("can't read the restorer's result in pid %d", pid);
	return pr_err("restorer of pid %d failed at %s%s%.0d: %s", pid,
		      step < ARRAY_SIZE(restorer_steps) ? restorer_steps[step] : "?",
		      tid != pid ? " in thread " : "", tid != pid ? tid : 0, strerror((int)(uint32_t)result)), -EIO;
}

/* Until the leader traps: let every thread it clones run (each starts stopped,
 * auto-attached by PTRACE_O_TRACECLONE).  tids[] gets their TIDs as we see them,
 * in the image's order (the restorer clones them in that order). */
static int run_to_leader_trap(pid_t pid, pid_t *tids, size_t n)
{
	size_t cloned = 1;
	int status;

	tids[0] = pid;
	for (;;) {
		if (wait_stopped(pid, &status, "restore"))
			return -ECHILD;
		if (status >> 8 == (SIGTRAP | PTRACE_EVENT_CLONE << 8)) {
			unsigned long tid;
			int st;
			if (ptrace(PTRACE_GETEVENTMSG, pid, NULL, &tid))
				return pr_perror("can't get the new thread of pid %d", pid);
			if (wait_stopped(tid, &st, "a new thread") || ptrace(PTRACE_CONT, tid, NULL, NULL))
				return pr_err("restored thread %lu of pid %d vanished", tid, pid), -ESRCH;
			if (cloned == n)
				return pr_err("the restorer of pid %d cloned more threads than the image has", pid), -EIO;
			tids[cloned++] = tid;
		} else if (WSTOPSIG(status) != SIGTRAP || status >> 16) {
			arch_regs_t r;
			arch_get_regs(pid, &r);
			return pr_err("restorer of pid %d crashed with signal %d (%s) at 0x%lx", pid,
				      WSTOPSIG(status), strsignal(WSTOPSIG(status)), (unsigned long)arch_regs_ip(&r)),
			       -EIO;
		} else {
			return 0;
		}
		if (ptrace(PTRACE_CONT, pid, NULL, NULL))
			return pr_perror("can't resume restored pid %d", pid);
	}
}

/* Every thread trapped just before its rt_sigreturn: check what each reported,
 * let the sigreturns run, unmap the restorer with one remote munmap, set each
 * thread's real signal mask, let go. */
/* Bring one task out of its restorer; it stays stopped, its threads in tids,
 * until every task of the tree is done (release_tasks). */
static int finish_task(pid_t pid, const struct child_report *rep, const CoreEntry *core, pid_t *tids)
{
	arch_regs_t regs, call;
	uint64_t threads;
	int64_t result;
	int ret, status;

	/* the child filled rep before it waited for us: read it only from here on */
	if ((ret = run_to_leader_trap(pid, tids, core->n_threads)))
		return ret;
	for (const char *w = rep->warnings, *nl; *w && (nl = memchr(w, '\n', rep->warnings + sizeof(rep->warnings) - w));
	     w = nl + 1)
		pr_warn("%.*s", (int)(nl - w), w);
	const long args[6] = { (long)rep->rst_start, (long)rep->rst_len };
	result = peek_result(pid, rep->args_addr + offsetof(struct restorer_args, result));
	if (result)
		return report_step(pid, pid, result);
	errno = 0;
	threads = ptrace(PTRACE_PEEKDATA, pid, rep->args_addr + offsetof(struct restorer_args, threads), NULL);
	if (errno)
		return pr_perror("can't read the restorer's threads in pid %d", pid);
	for (size_t i = 0; i < core->n_threads; i++) {
		pid_t tid = tids[i];
		if (i && (wait_stopped(tid, &status, "restore") || WSTOPSIG(status) != SIGTRAP))
			return pr_err("restored thread %d of pid %d did not reach its trap (status 0x%x)", tid, pid,
				      status), -EIO;
		result = peek_result(pid, threads + i * sizeof(struct rst_thread) + offsetof(struct rst_thread, result));
		if (result)
			return report_step(pid, tid, result);
	}
	for (size_t i = 0; i < core->n_threads; i++) {
		pid_t tid = tids[i];
		if ((ret = arch_step_over_trap(tid)) || (ret = syscall_stop(tid, "rt_sigreturn entry")) ||
		    (ret = syscall_stop(tid, "rt_sigreturn exit")))
			return ret;
	}
	if ((ret = arch_get_regs(pid, &regs)))
		return ret;
	arch_regs_setup_syscall(&call, &regs, rep->syscall_site, __NR_munmap, args);
	if ((ret = arch_set_regs(pid, &call)) || (ret = syscall_stop(pid, "munmap entry")) ||
	    (ret = syscall_stop(pid, "munmap exit")) || (ret = arch_get_regs(pid, &call)))
		return ret;
	if (arch_regs_syscall_ret(&call))
		return pr_err("can't unmap the restorer from pid %d: %s", pid,
			      strerror(-arch_regs_syscall_ret(&call))), -EIO;
	if ((ret = arch_set_regs(pid, &regs)))
		return ret;
	/* every thread is at a syscall exit now: the state rt_sigreturn does not carry */
	for (size_t i = 0; i < core->n_threads; i++)
		if ((ret = arch_thread_restore_late(tids[i], core->threads[i])))
			return ret;
	for (size_t i = 0; i < core->n_threads; i++) {
		pid_t tid = tids[i];
		uint64_t mask = core->threads[i]->sigmask;
		if (ptrace(PTRACE_SETSIGMASK, tid, sizeof(mask), &mask))
			return pr_perror("can't set the signal mask of %d", tid);
	}
	return 0;
}

/* A task killed while we still traced it, by one released before it (a parent
 * ending its child, the program's own act): its exit waits for us, its tracer; we
 * take it, and so hand it to its parent's wait(). */
static void reap_traced_dead(pid_t tid)
{
	for (int i = 0; i < 1000; i++) {
		pid_t r = waitpid(tid, NULL, __WALL | WNOHANG);
		if (r == tid || (r < 0 && errno != EINTR))
			return;
		usleep(1000);
	}
}

/* All at once, once every task is itself again: a parent that ran on while its
 * child was still in the restorer could act on it (a signal, a wait) too early. */
static int release_tasks(const struct restore_set *rs, pid_t **tids)
{
	int ret = 0;

	for (size_t i = 0; i < rs->nr; i++) {
		const CoreEntry *core = rs->tasks[i].core;
		/* A process dumped in a group stop stops again as it is let go.  (SIGSTOP
		 * whatever stopped it: a handler may catch SIGTSTP now, and an orphaned
		 * group ignores it.) */
		if (tids[i] && core && core->stop_signal && kill(tids[i][0], SIGSTOP) && !ret)
			ret = pr_perror("can't stop restored pid %u again (it was stopped by signal %u)",
					rs->entries[i]->pid, core->stop_signal);
		for (size_t k = 0; tids[i] && k < rs->entries[i]->n_threads; k++)
			if (ptrace(PTRACE_DETACH, tids[i][k], NULL, NULL)) {
				if (errno == ESRCH)
					reap_traced_dead(tids[i][k]);
				else if (!ret)
					ret = pr_perror("can't detach from restored %d (thread %zu of pid %u of the images)",
							tids[i][k], k, rs->entries[i]->pid);
			}
		if (tids[i] && core && core->stop_signal)
			seize_wait_group_stop(tids[i], rs->entries[i]->n_threads);
	}
	return ret;
}

/* Init of a new pid namespace whose root is not PID 1: it creates the root at
 * its PID, reaps orphans, and exits as the root did (PID 1 can't die of a
 * signal it sends itself: a signal death becomes 128 + signal). */
static void __attribute__((noreturn)) pidns_init(const struct restore_ctx *c)
{
	int status;
	pid_t root, r;

	if (pidns_mount_proc())
		child_fail(c, 0);
	root = clone_task(c, 0, 0, c->rs->tasks[0].exit_signal);
	if (root == 0)
		child_main(c, 0);
	if (root < 0) {
		clone_failed(c->rs->entries[0]->pid);
		child_fail(c, 0);
	}
	prctl(PR_SET_NAME, "crtool-pidns-init");
	/* The root has its copies: the init keeps none of the caller's files (a pipe
	 * it held would never see its end while the tree runs). */
	syscall(SYS_close_range, 0, ~0U, 0);
	for (;;) {
		r = waitpid(-1, &status, __WALL);
		if (r < 0 && errno != EINTR)
			_exit(127);
		if (r == root)
			_exit(WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status));
	}
}

/* A root cloned into a new user namespace: nothing until we have written its
 * maps (until then it has no ids there); then the tasks map the owners of the
 * files they create into it. */
static void userns_wait_maps(const struct restore_ctx *c)
{
	char go;

	if (!c->rs->userns)
		return;
	close(c->userns_sync[0]);
	/* its /proc files are the caller's to write only if it is dumpable (a
	 * crtool given its capability by file capabilities is not) */
	if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 1)
		prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	if (write(c->userns_sync[1], "", 1) != 1 ||
	    /* (the root's copy of the set: its own) */
	    nested_recv_user((struct nested_set *)&c->rs->ns.nested, c->userns_sync[1]) ||
	    read(c->userns_sync[1], &go, 1) != 1)
		_exit(1);   /* we failed to write them, and said why */
	close(c->userns_sync[1]);
	userns_set_current(c->rs->userns);
}

/* Ours, once the root says it is ready: the maps of its new user namespace,
 * then let it go on. */
static int userns_release_root(struct restore_ctx *c, pid_t pid, struct nested_set *nested)
{
	char ready, path[64];
	int ret = 0, fd;

	close(c->userns_sync[1]);
	c->userns_sync[1] = -1;
	if (read(c->userns_sync[0], &ready, 1) != 1) {
		pr_err("the restored root (pid %d) died before its user namespace had maps", pid);
		ret = -EIO;
	}
	if (!ret)
		ret = userns_write_maps(pid, c->rs->userns);
	/* the user namespaces nested below it, made there now, and the root takes them */
	if (!ret && nested->user.nr) {
		snprintf(path, sizeof(path), "/proc/%d/ns/user", pid);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			ret = pr_perror("can't open the restored root's user namespace");
		else {
			ret = nested_make_user(nested, c->dir, &c->rs->cg, c->rs->entries, fd, c->rs->userns) ?:
			      nested_send_user(nested, c->userns_sync[0]);
			close(fd);
		}
	}
	if (!ret && write(c->userns_sync[0], "", 1) != 1)
		ret = pr_perror("can't let the restored root go on");
	close(c->userns_sync[0]);
	c->userns_sync[0] = -1;
	return ret;
}

/* The caller's child that stands for the tree (see cr_restore). */
static pid_t clone_root(const struct restore_ctx *c)
{
	const struct restore_set *rs = c->rs;
	uint64_t user = rs->userns ? CLONE_NEWUSER : 0;
	struct clone_args ca = { .flags = CLONE_NEWPID | CLONE_NEWNS | user, .exit_signal = SIGCHLD };
	pid_t pid;

	/* a sibling is our parent's child: the kernel gives it our own exit signal
	 * (clone3 wants exit_signal 0 with CLONE_PARENT) */
	if (!c->new_pidns) {
		pid = clone_task(c, 0, (c->sibling ? CLONE_PARENT : 0) | user, c->sibling ? 0 : rs->tasks[0].exit_signal);
		if (pid == 0) {
			userns_wait_maps(c);
			child_main(c, 0);
		}
		return pid < 0 ? clone_failed(rs->entries[0]->pid) : pid;
	}
	if (rs->entries[0]->pid == 1)
		ca.exit_signal = rs->tasks[0].exit_signal;
	if (c->sibling) {
		ca.flags |= CLONE_PARENT;
		ca.exit_signal = 0;
	}
	pid = syscall(__NR_clone3, &ca, sizeof(ca));
	if (pid == 0) {
		userns_wait_maps(c);
		if (rs->entries[0]->pid == 1)
			child_main(c, 0);
		pidns_init(c);
	}
	return pid < 0 ? pr_perror("can't create a pid namespace (clone3 with CLONE_NEWPID)") : pid;
}

/* Our PIDs of the tasks: in a new pid namespace their own differ; walk the tree
 * from our child and read each task's PID in its namespace (last of NSpid). */
static int map_host_pids(const struct restore_ctx *c, pid_t top)
{
	const struct restore_set *rs = c->rs;
	pid_t queue[rs->nr + 1];
	size_t head = 0, tail = 0;

	if (!c->new_pidns) {
		for (size_t i = 0; i < rs->nr; i++)
			c->host_pids[i] = rs->entries[i]->pid;
		return 0;
	}
	queue[tail++] = top;
	while (head < tail) {
		struct seized s = { .pid = queue[head], .nr_threads = 1, .tids = &queue[head] };
		char *status = read_proc(queue[head], "status", NULL);
		pid_t *kids;
		int n;

		head++;
		if (!status)
			return pr_perror("can't read the status of restored pid %d", s.pid);
		/* ours, then the tree's namespace's (then a nested one's) */
		pid_t inner = -1, at[2];
		if (proc_nspid_all(status, at, 2) >= 2)
			inner = at[1];
		free(status);
		for (size_t i = 0; i < rs->nr; i++)
			if ((int)rs->entries[i]->pid == inner && !(rs->entries[i]->pid != 1 && s.pid == top))
				c->host_pids[i] = s.pid;
		n = seize_children(&s, &kids);
		if (n < 0)
			return n;
		for (int k = 0; k < n && tail < rs->nr + 1; k++)
			queue[tail++] = kids[k];
		free(kids);
	}
	for (size_t i = 0; i < rs->nr; i++)
		if (!c->host_pids[i])
			return pr_err("restored pid %u is not in the new pid namespace", rs->entries[i]->pid), -ESRCH;
	return 0;
}

/* Kill every task of the tree that exists, and reap those we can (libcr is their
 * subreaper during the restore, so orphans come to us). */
/* The tree's PIDs and TIDs may still be held for a moment by the tree a dump
 * has just killed: wait (5 s at most) while zombies or dying tasks hold them, as
 * the restorer can't for a thread; one a live task holds is named at once. */
static int wait_ids_free(const struct restore_set *rs)
{
	double deadline = now_ms() + 5000;

	for (size_t i = 0; i < rs->nr; i++)
		for (size_t t = 0; t < rs->entries[i]->n_threads; t++) {
			pid_t id = rs->entries[i]->threads[t];
			struct proc_stat st;
			bool live = false;

			while (proc_parse_stat_quiet(id, &st) == 0 && now_ms() < deadline) {
				if ((live = st.state != 'Z' && st.state != 'X'))
					break;
				usleep(10000);
			}
			/* a live process at the PID: the clone says so, as for every PID */
			if (live && t == 0)
				break;
			if (live)
				return pr_err("can't restore pid %u: its thread %d is in use by another process; stop it, "
					      "or restore into a new pid namespace (--new-pidns)", rs->entries[i]->pid, id),
				       -EEXIST;
		}
	return 0;
}

/* Reap pid (our child, or a task we trace) after its threads that we trace: the
 * kernel keeps a leader until its threads are reaped, and only the tracer reaps a
 * traced thread (waiting on the leader alone hung once a restorer had cloned). */
static void reap_task(pid_t pid)
{
	char path[64];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	if ((d = opendir(path))) {
		while ((de = readdir(d))) {
			pid_t tid = atoi(de->d_name);
			if (tid > 0 && tid != pid)
				while (waitpid(tid, NULL, __WALL) < 0 && errno == EINTR)
					;
		}
		closedir(d);
	}
	while (waitpid(pid, NULL, __WALL) < 0 && errno == EINTR)
		;
}

static void kill_tree(const struct restore_ctx *c, pid_t top)
{
	const struct restore_set *rs = c->rs;

	/* a pid namespace dies with its init */
	kill(top, SIGKILL);
	for (size_t i = 0; !c->new_pidns && i < rs->nr; i++)
		kill(rs->entries[i]->pid, SIGKILL);
	/* the tasks we trace first, each after its threads, then our child */
	for (size_t i = rs->nr; i-- > 0;)
		if (c->host_pids && c->host_pids[i] && c->host_pids[i] != top)
			reap_task(c->host_pids[i]);
	reap_task(top);
	/* descendants first: a nested namespace's init exits only once the others of its
	 * namespace are reaped, and one whose parent died outside it is ours to reap */
	for (size_t i = rs->nr; !c->new_pidns && i-- > 0;)
		reap_task(rs->entries[i]->pid);
}

/* A task that should be alive died without saying why (it crashed)? */
static int find_dead(const struct restore_set *rs, int *status)
{
	for (size_t i = 0; i < rs->nr; i++) {
		struct proc_stat st;
		if (!rs->entries[i]->zombie && proc_parse_stat_quiet(rs->entries[i]->pid, &st) == 0 && st.state == 'Z') {
			*status = st.exit_code;
			return i;
		}
	}
	return -1;
}

/* "exit status N" or "killed by signal N" of a wait() status. */
static const char *how_it_ended(int status, char *buf, size_t len)
{
	if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "exit status %d", WEXITSTATUS(status));
	return buf;
}

/* Our parent's child (cr_restore_opts.sibling) is not ours to wait for: a zombie,
 * or gone already (reaped by the parent). */
static bool sibling_dead(pid_t pid, int *status)
{
	struct proc_stat st;

	if (proc_parse_stat_quiet(pid, &st))
		return *status = 0, true;
	if (st.state != 'Z')
		return false;
	*status = st.exit_code;
	return true;
}

/* Until every live task waits for the jump, or one failed or died. */
static int wait_ready(const struct restore_ctx *c, pid_t root)
{
	struct restore_shared *sh = c->sh;
	int status, dead;

	for (int ticks = 0;; ticks++) {
		uint32_t seq = copyin_share_seq(&sh->copy);   /* (first: a post after this wakes us) */
		uint32_t failed = __atomic_load_n(&sh->failed, __ATOMIC_SEQ_CST);
		uint32_t ready = __atomic_load_n(&sh->ready, __ATOMIC_SEQ_CST);
		struct timespec ts = { 0, 100 * 1000 * 1000 };

		if (failed)
			return pr_err("%s", sh->rep[failed - 1].error[0] ? sh->rep[failed - 1].error
								   : "restore failed"), -EIO;
		if (ready >= c->rs->nr_live)
			return 0;
		/* the makers of nested network namespaces with connections wait for their lock */
		int ret = nested_serve_locks(&c->rs->ns.nested);
		if (ret)
			return ret;
		char how[64];
		if (c->sibling ? sibling_dead(root, &status) : waitpid(root, &status, __WALL | WNOHANG) == root)
			return pr_err("restored pid %d died during restore (%s)", root, how_it_ended(status, how, sizeof(how))),
			       -EIO;
		if (!c->new_pidns && ticks % 10 == 9 && (dead = find_dead(c->rs, &status)) >= 0)
			return pr_err("restored pid %u died during restore (%s)", c->rs->entries[dead]->pid,
				      how_it_ended(status, how, sizeof(how))), -EIO;
		if (copyin_share_serve(&sh->copy))
			continue;
		copyin_share_wait(&sh->copy, seq, &sh->ready, ready, &ts);
	}
}

/* A terminal whose master was outside the tree (orphan_pts_master at the dump)
 * is made anew, and its master must go to the caller: is there one, and who takes it? */
static int plan_orphan_ptys(const struct restore_set *rs, const struct cr_restore_opts *o, int sk[2])
{
	for (size_t i = 0; i < rs->nr; i++) {
		const struct files_image *fi = &rs->tasks[i].files;
		if (rs->entries[i]->zombie || !pty_any_orphan(fi))
			continue;
		for (size_t j = 0; !o->pts_master && j < fi->nr; j++)
			if (fi->fds[j]->kind == FD_KIND__FD_PTY && fi->fds[j]->pty && fi->fds[j]->pty->ext_master)
				return pr_err("pid %u: fd %u is /dev/pts/%u, whose master was outside the tree: restore "
					      "with --console-socket PATH (cr_restore_opts.pts_master) to take the new one",
					      rs->entries[i]->pid, fi->fds[j]->fd, fi->fds[j]->pty->index), -EINVAL;
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sk) ||
		    fcntl(sk[0], F_SETFL, O_NONBLOCK))
			return pr_perror("can't make the socket for the masters of the tree's terminals");
		return 0;
	}
	return 0;
}

/* Every task is past its files: each new master is in the socket, for the caller. */
static int hand_pts_masters(int sk, const struct cr_restore_opts *o)
{
	uint32_t index;
	int fd, ret;
	ssize_t n;

	/* the end: every task has closed its end (0), or holds it still (EAGAIN) */
	while ((n = recv_fd(sk, &index, sizeof(index), &fd)) > 0) {
		if (n != sizeof(index) || fd < 0) {
			if (fd >= 0)
				close(fd);
			return pr_err("a malformed message on the socket of the terminals' masters (%zd bytes, fd %d)",
				      n, fd), -EIO;
		}
		pr_info("pty %u: its new master goes to the caller", index);
		ret = o->pts_master(o->pts_master_arg, fd, index);
		close(fd);
		if (ret)
			return pr_err("the caller refused the master of pty %u (returned %d)", index, ret), -ECANCELED;
	}
	return !n || errno == EAGAIN ? 0 : pr_perror("can't receive the masters of the tree's terminals");
}

static int restore(const struct cr_restore_opts *uopts)
{
	struct cr_restore_opts opts = { 0 };
	struct img_dir dir = { .dfd = -1 };
	struct restore_set rs = { 0 };
	struct netns_restore net = { .host_fd = -1, .join_fd = -1 };
	TimensEntry *timens = NULL;
	struct restore_ctx c = { .dir = &dir, .rs = &rs, .net = &net, .userns_sync = { -1, -1 }, .pts_sk = -1 };
	size_t sh_len = 0;
	int ret, was_subreaper = 0, lazy_sk = -1, pts_sk[2] = { -1, -1 };
	pid_t **tids = NULL;    /* every restored thread, stopped until all are done */
	struct ns_keep_file *keep_files = NULL;
	bool created = false, net_locked = false;
	pid_t pid = -1;
	double t0 = now_ms(), mem_ms = 0;

	cr_error_reset();
	fault_cancel_reset();
	if (!uopts || uopts->sz < offsetof(struct cr_restore_opts, images_dir) + sizeof(char *))
		return pr_err("cr_restore: bad options (set .sz = sizeof(struct cr_restore_opts))"), -EINVAL;
	memcpy(&opts, uopts, uopts->sz < sizeof(opts) ? uopts->sz : sizeof(opts));
	c.shell_job = opts.shell_job;
	c.new_pidns = opts.new_pidns;
	c.lazy = opts.sz > offsetof(struct cr_restore_opts, lazy_pages) && opts.lazy_pages;
	c.ns_args = (struct ns_args){ .ext = opts.externals, .nr_ext = opts.nr_externals,
				      .root = opts.sz > offsetof(struct cr_restore_opts, root) ? opts.root : NULL };
	c.sibling = opts.sibling;
	privs_limit(opts.unprivileged);
	if ((ret = img_dir_open(&dir, opts.images_dir))) {
		privs_limit(false);
		return ret;
	}
	if ((ret = notify_call(opts.notify, opts.notify_arg, "pre-restore", 0)) || (ret = load_images(&dir, &rs)) ||
	    (ret = check_privileges(&rs, c.new_pidns || (rs.inv->has_own_pidns && rs.inv->own_pidns))) ||
	    (ret = plan_orphan_ptys(&rs, &opts, pts_sk)))
		goto out;
	c.pts_sk = pts_sk[1];
	if ((ret = netns_load(&dir, opts.externals, opts.nr_externals, &net)) ||
	    (ret = nested_check_net_peers(&rs.ns.nested, net.e)) || (ret = timens_load(&dir, &timens)) ||
	    (netns_restore_own(&net) &&
	     (ret = privs_need(CAP_SYS_ADMIN, -1, "restore of the tree's own network namespace"))) ||
	    (timens && (ret = privs_need(CAP_SYS_ADMIN, -1, "restore of the tree's own time namespace"))))
		goto out;
	c.timens = timens;
	/* files of the tree under mounts that others cover: opened before they are */
	for (size_t i = 0; i < rs.nr; i++)
		for (size_t j = 0; !rs.entries[i]->zombie && j < rs.tasks[i].files.nr; j++) {
			const FdinfoEntry *e = rs.tasks[i].files.fds[j];
			struct ns_keep_file *n;
			if (e->kind != FD_KIND__FD_REG || !e->reg || !e->reg->has_mnt_id)
				continue;
			if (!(n = realloc(keep_files, (c.ns_args.nr_keep_files + 1) * sizeof(*n)))) {
				ret = -ENOMEM;
				goto out;
			}
			keep_files = n;
			keep_files[c.ns_args.nr_keep_files++] = (struct ns_keep_file){ e->reg->mnt_id, e->reg->mnt_rel };
			c.ns_args.keep_files = keep_files;
		}
	if (c.ns_args.root && !ns_has(&rs.ns, "mnt")) {
		pr_err("--root %s: the tree was dumped in its dumper's mount namespace, not one of its own",
		       c.ns_args.root);
		ret = -EINVAL;
		goto out;
	}
	if (c.lazy && rs.userns) {
		pr_err("--lazy-pages: the tree has its own user namespace, where its tasks can't ask userfaultfd for "
		       "fork events (that needs CAP_SYS_PTRACE in ours); restore it without --lazy-pages");
		ret = -EOPNOTSUPP;
		goto out;
	}
	/* the daemon serves this restore until we hang up: it must be there first */
	if (c.lazy && (ret = lazy_sk = lazy_session_open(dir.path)) < 0)
		goto out;
	/* a tree dumped as the init of its own pid namespace goes into a new one */
	if (rs.inv->has_own_pidns && rs.inv->own_pidns)
		c.new_pidns = true;
	for (size_t i = 0; i < rs.nr; i++) {
		rs.tasks[i].files.shell_job = opts.shell_job;
		rs.tasks[i].files.skip_checks = opts.skip_file_checks;
		if (opts.sz > offsetof(struct cr_restore_opts, nr_inherit_fds)) {
			rs.tasks[i].files.inherit = opts.inherit_fds;
			rs.tasks[i].files.nr_inherit = opts.nr_inherit_fds;
		}
		rs.tasks[i].files.tcp_close = opts.tcp_close;
		if ((ret = tcp_restore_collect(&rs.tasks[i].files, opts.tcp_close, "r",
					       rs.entries[i]->has_net_ns ? rs.entries[i]->net_ns : 0)))
			goto out;
	}
	if (opts.sz > offsetof(struct cr_restore_opts, nr_cgroup_roots) &&
	    (ret = cgroup_prepare(&rs.cg, opts.manage_cgroups, opts.cgroup_roots, opts.nr_cgroup_roots)))
		goto out;
	/* the peers of restored connections must not hear from us until they are back */
	if ((ret = notify_call(opts.notify, opts.notify_arg, "network-lock", 0)))
		goto out;
	if (netns_restore_own(&net))
		tcp_restore_lock_elsewhere();
	else if ((ret = tcp_restore_lock()))
		goto out;
	else
		net_locked = netlock_name() != NULL;
	sh_len = sizeof(*c.sh) + rs.nr * (sizeof(struct child_report) + sizeof(uint32_t));
	c.sh = mmap(NULL, sh_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (c.sh == MAP_FAILED) {
		c.sh = NULL;
		ret = pr_perror("can't set up the restore");
		goto out;
	}
	copyin_share_init(&c.sh->copy);
	prctl(PR_GET_CHILD_SUBREAPER, &was_subreaper);
	if (rs.nr > 1 && prctl(PR_SET_CHILD_SUBREAPER, 1)) {
		ret = pr_perror("can't become the subreaper of the restored tree");
		goto out;
	}
	if (!(c.host_pids = calloc(rs.nr, sizeof(pid_t)))) {
		ret = -ENOMEM;
		goto out;
	}
	if ((ret = premap_vdso_here(&c.vdso)) || (!c.new_pidns && (ret = wait_ids_free(&rs))) ||
	    (ret = nested_prepare(&rs.ns.nested, &c.sh->failed, &c.sh->ready)))
		goto out;
	rs.ns.nested.args = &c.ns_args;
	drop_own_images(&rs);
	/* the nested user namespaces, and the UTS namespaces they own, by crtool: the
	 * tree inherits them (below a tree's own, once the root has it: userns_release_root) */
	if (!rs.userns && (ret = nested_make_user(&rs.ns.nested, &dir, &rs.cg, rs.entries, -1, NULL)))
		goto out;
	if (rs.userns && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, c.userns_sync)) {
		ret = pr_perror("can't make a socket pair");
		goto out;
	}
	if ((pid = clone_root(&c)) < 0) {
		ret = pid;
		goto out;
	}
	created = true;
	if (rs.userns && (ret = userns_release_root(&c, pid, &rs.ns.nested)))
		goto out;
	if (pts_sk[1] >= 0) {
		close(pts_sk[1]);
		pts_sk[1] = c.pts_sk = -1;
	}
	nested_forked(&rs.ns.nested);
	if ((ret = wait_ready(&c, pid)) || (pts_sk[0] >= 0 && (ret = hand_pts_masters(pts_sk[0], &opts))) ||
	    (ret = map_host_pids(&c, pid)) ||
	    (ret = netns_adopt_lock(&net, c.host_pids[0])) ||
	    (ret = notify_call(opts.notify, opts.notify_arg, "setup-namespaces", pid)) ||
	    (ret = notify_call(opts.notify, opts.notify_arg, "post-setup-namespaces", pid)))
		goto out;
	for (size_t i = 0; i < rs.nr; i++) {
		pid_t p = c.host_pids[i];
		if (!rs.entries[i]->zombie &&
		    ptrace(PTRACE_SEIZE, p, NULL,
			   (void *)(long)(PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL | PTRACE_O_TRACECLONE |
					  /* the filters the restorer installs must not see the rest of the restore */
					  (seccomp_any(&rs.seccomp) ? PTRACE_O_SUSPEND_SECCOMP : 0)))) {
			ret = pr_perror("can't trace the restored pid %d", p);
			goto out;
		}
	}
	if (!(tids = calloc(rs.nr, sizeof(*tids)))) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < rs.nr; i++)
		if (!rs.entries[i]->zombie && !(tids[i] = calloc(rs.entries[i]->n_threads, sizeof(pid_t)))) {
			ret = -ENOMEM;
			goto out;
		}
	/* Every socket is in place: the connections' lock goes, and what they had
	 * to send goes out again, before anything of the tree runs. */
	netlock_unlock();
	net_locked = false;
	if ((ret = notify_call(opts.notify, opts.notify_arg, "network-unlock", pid)))
		goto out;
	for (size_t i = 0; i < rs.nr && !ret; i++)
		if (!rs.entries[i]->zombie)
			ret = tcp_restore_resume(c.host_pids[i], &rs.tasks[i].files);
	tcp_restore_resume_end();
	if (ret)
		goto out;
	c.sh->go = 1;
	futex_wake_all(&c.sh->go);
	for (size_t i = 0; i < rs.nr; i++) {
		if (rs.entries[i]->zombie)
			continue;
		if ((ret = load_core(&dir, &rs.tasks[i])) ||
		    (ret = finish_task(c.host_pids[i], &c.sh->rep[i], rs.tasks[i].core, tids[i]))) {
			if (ret == -ECHILD) {   /* the task exited: its own report, or the first failure's, says why */
				const char *why = c.sh->rep[i].error;
				if (!why[0] && c.sh->failed)
					why = c.sh->rep[c.sh->failed - 1].error;
				pr_err("%s", why[0] ? why : "a restored task died");
				ret = -EIO;
			}
			goto out;
		}
		mem_ms += c.sh->rep[i].memory_ms;
	}
	/* every task is in place and stopped: the caller's last word before they run */
	if ((ret = notify_call(opts.notify, opts.notify_arg, "post-restore", pid)) ||
	    (ret = notify_call(opts.notify, opts.notify_arg, "pre-resume", pid)) ||
	    (ret = release_tasks(&rs, tids)))
		goto out;
	/* the tree runs: a failure now can't undo it, so it is only logged */
	if (notify_call(opts.notify, opts.notify_arg, "post-resume", pid))
		pr_warn("%s", cr_last_error());
	ret = pid;
	pr_info("stats: restore processes=%zu memory_ms=%.3f helped_mib=%.1f total_ms=%.3f", rs.nr_live, mem_ms,
		c.sh->copy.helped / 1048576.0, now_ms() - t0);
out:
	if (ret < 0 && created)
		kill_tree(&c, pid);
	if (ret < 0)
		cgroup_undo(&rs.cg);
	for (size_t i = 0; tids && i < rs.nr; i++)
		free(tids[i]);
	free(tids);
	/* a migration's receiver keeps the lock of a failed restore until the service
	 * address has moved back (restore_keep_lock) */
	if (ret < 0 && net_locked && kept_lock) {
		free(*kept_lock);
		*kept_lock = strdup(netlock_name());
		netlock_keep();
	}
	kept_lock = NULL;
	netlock_unlock();
	free(c.host_pids);
	if (rs.nr > 1)
		prctl(PR_SET_CHILD_SUBREAPER, was_subreaper);
	copyin_share_end();
	if (c.sh)
		munmap(c.sh, sh_len);
	if (lazy_sk >= 0)
		close(lazy_sk);   /* the daemon finishes the pages and goes */
	for (int i = 0; i < 2; i++)
		if (c.userns_sync[i] >= 0)
			close(c.userns_sync[i]);
	netns_free(&net);
	img_free_msg(timens ? &timens->base : NULL);
	free(keep_files);
	for (int i = 0; i < 2; i++)
		if (pts_sk[i] >= 0)
			close(pts_sk[i]);
	free_images(&rs);
	img_dir_close(&dir);
	privs_limit(false);
	return ret;
}

CR_EXPORT int cr_restore(const struct cr_restore_opts *uopts)
{
	return cr_error_named(restore(uopts), "restore");
}

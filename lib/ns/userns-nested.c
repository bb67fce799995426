/* User namespaces nested below the root's: `unshare -U -r -f`, a sandbox's
 * children, a process that joined one by setns, to any depth.
 *
 * Dump: each live process's user namespace is compared (by inode) with the
 * root's; every other one gets an id, its parent (NS_GET_PARENT: the root's or
 * another one a process of the tree is in), its uid and gid maps as its parent
 * wrote them (we read the lower ids in our view and map them into the parent's
 * through the parent's maps), setgroups and its owner (NS_GET_OWNER_UID, in the
 * parent's view).  The ids of its processes are saved as they see them, but for
 * their supplementary groups, which stay in our view: a user namespace made
 * without privileges maps one gid, and the groups its maker had are unmapped
 * there (kept, and seen as the overflow gid); the restore sets them before the
 * task enters the namespace, where setgroups may be denied.  Other
 * namespaces may be owned by one of them (NS_GET_USERNS): a UTS, network, IPC or
 * cgroup namespace is saved with its owner (nested.c), and a time one its processes
 * are in, and a mount one (its maker makes it through a helper: userns-pid.c); a pid
 * namespace's owner on its init's record (userns-pid.c makes it); a time one made for
 * a process's children only is refused, as is an owner no process of the tree is in.
 *
 * Restore: a task's children and threads are cloned at their PIDs in the tree's
 * pid namespace (clone3 set_tid), which takes CAP_CHECKPOINT_RESTORE over the
 * user namespace owning it: no process inside a nested user namespace has
 * that.  So the tasks are restored in the root's user namespace, as the others,
 * and each enters its own (setns) at the very end, after its children exist
 * and just before the restorer sets its ids and capabilities inside.  setns
 * into a user namespace wants a single-threaded caller, and the restorer clones
 * the threads: a process with threads in a nested user namespace is refused.
 * The namespaces themselves are made by crtool, before the tree forks (below the
 * tree's own user namespace: once the root has it, with its maps, the fds sent
 * to the root before it goes on), each by
 * a helper that enters the parent (setns), takes the owner's uid there and
 * unshares CLONE_NEWUSER, its maps written by its own parent helper (which is
 * in the parent namespace with every capability there: setgroups first, then
 * uid_map and gid_map); crtool keeps the namespace's fd, and so do the tasks
 * through the root's files.  A UTS, network, IPC, cgroup or time namespace a nested
 * one owns is made the same way (a helper in its owner, nested.c), and every
 * process in it joins it. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "cr/cr.h"
#include "fault.h"
#include "log.h"
#include "ns/ns.h"
#include "ns/userns.h"
#include "ns/userns-nested.h"
#include "ns/userns-pid.h"
#include "proc/privs.h"
#include "proc/tree.h"
#include "util.h"

#define MAX_USERNS 1024

/* ------------------------------------------------------------------ dump */

struct uinst {
	uint32_t id, parent;          /* parent 0: the root's */
	uint64_t ino, parent_ino;
	pid_t pid;                    /* a live process in it */
	struct userns_map uid, gid;   /* as we read them: lower ids ours */
	UsernsExtent *puid, *pgid;    /* lower ids in the parent's view */
	UsernsExtent **puidp, **pgidp;
	bool setgroups_allow;
	uint32_t owner_uid;           /* in the parent's view */
};

static struct {
	struct uinst *inst;
	size_t nr;
	uint64_t root_ino;
	uint32_t *task_id;            /* per task of the tree: 0, or the id it is in */
	uint32_t *pid_owner;          /* per task: the id owning the pid namespace it is the init of */
	pid_t *task_pid;
	int nr_tasks;
} ud;

static struct uinst *by_ino(uint64_t ino)
{
	for (size_t i = 0; i < ud.nr; i++)
		if (ud.inst[i].ino == ino)
			return &ud.inst[i];
	return NULL;
}

static int ns_fd_ino(int fd, uint64_t *ino)
{
	struct stat st;

	if (fstat(fd, &st))
		return -errno;
	*ino = st.st_ino;
	return 0;
}

/* The inode of the namespace ioctl(req) gives for pid's namespace of kind. */
static int ns_related(pid_t pid, const char *kind, unsigned long req, uint64_t *ino)
{
	char path[64];
	int fd, rfd, ret;

	snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, kind);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return pr_perror("can't open %s", path);
	rfd = ioctl(fd, req);
	close(fd);
	if (rfd < 0)
		return pr_perror("can't find the %s of pid %d's %s namespace (%s)",
				 req == NS_GET_PARENT ? "parent" : "owner", pid, kind,
				 req == NS_GET_PARENT ? "NS_GET_PARENT" : "NS_GET_USERNS");
	ret = ns_fd_ino(rfd, ino);
	close(rfd);
	return ret ? pr_perror("can't stat the namespace related to pid %d's %s namespace", pid, kind) : 0;
}

/* The parent's maps as we read them (nr 0: ours, where our ids are its). */
static void parent_maps(const struct uinst *x, const struct userns_map **u, const struct userns_map **g)
{
	if (x->parent) {
		const struct uinst *p = &ud.inst[x->parent - 1];
		*u = &p->uid;
		*g = &p->gid;
	} else {
		userns_root_maps(u, g);
	}
}

/* Our id through the parent's maps (first: the parent's, lower: ours). */
static uint32_t to_parent(const struct userns_map *pm, uint32_t id)
{
	return pm->nr ? userns_map_in(pm, id) : id;
}

/* x's map with each extent's lower ids in the parent's view: an extent lies in
 * one extent of the parent's (the kernel checks that when the map is written). */
static int map_to_parent(const struct uinst *x, const struct userns_map *m, const struct userns_map *pm,
			 const char *name, UsernsExtent **out, UsernsExtent ***outp)
{
	if (!(*out = calloc(m->nr, sizeof(**out))) || !(*outp = calloc(m->nr, sizeof(**outp))))
		return -ENOMEM;
	for (size_t i = 0; i < m->nr; i++) {
		const UsernsExtent *e = &m->e[i];
		uint32_t lower = to_parent(pm, e->lower_first), last = to_parent(pm, e->lower_first + e->count - 1);

		if (lower == (uint32_t)-1 || last == (uint32_t)-1 || last - lower != e->count - 1)
			return pr_err("pid %d: its user namespace's %s extent %u %u %u is not one range of its parent's ids",
				      x->pid, name, e->first, e->lower_first, e->count), -EINVAL;
		userns_extent__init(&(*out)[i]);
		(*out)[i].first = e->first;
		(*out)[i].lower_first = lower;
		(*out)[i].count = e->count;
		(*outp)[i] = &(*out)[i];
	}
	return 0;
}

/* Its maps, setgroups and owner, once its parent has its id. */
static int read_inst(struct uinst *x)
{
	const struct userns_map *pu, *pg;
	char path[64], *sg;
	uid_t owner;
	int fd, ret;

	if ((ret = userns_read_map(x->pid, "uid_map", &x->uid)) || (ret = userns_read_map(x->pid, "gid_map", &x->gid)))
		return ret;
	if (!x->uid.nr || !x->gid.nr)
		return pr_err("pid %d is in a nested user namespace whose %s map was never written (its ids are "
			      "unmapped there): not supported", x->pid, x->uid.nr ? "gid" : "uid"), -EOPNOTSUPP;
	if (!(sg = read_proc(x->pid, "setgroups", NULL)))
		return pr_perror("can't read /proc/%d/setgroups", x->pid);
	x->setgroups_allow = !strncmp(sg, "allow", 5);
	free(sg);
	snprintf(path, sizeof(path), "/proc/%d/ns/user", x->pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return pr_perror("can't open %s", path);
	ret = ioctl(fd, NS_GET_OWNER_UID, &owner);
	close(fd);
	if (ret)
		return pr_perror("can't read the owner of pid %d's user namespace (NS_GET_OWNER_UID)", x->pid);
	parent_maps(x, &pu, &pg);
	if ((x->owner_uid = to_parent(pu, owner)) == (uint32_t)-1)
		return pr_err("pid %d: the owner of its user namespace (uid %u) is not mapped in the parent", x->pid,
			      owner), -EINVAL;
	if ((ret = map_to_parent(x, &x->uid, pu, "uid", &x->puid, &x->puidp)) ||
	    (ret = map_to_parent(x, &x->gid, pg, "gid", &x->pgid, &x->pgidp)))
		return ret;
	pr_info("pid %d is in nested user namespace %u (parent %u, %zu uid and %zu gid extents, setgroups %s, owner %u)",
		x->pid, x->id, x->parent, x->uid.nr, x->gid.nr, x->setgroups_allow ? "allow" : "deny", x->owner_uid);
	return 0;
}

/* Ids by depth: each after its parent. */
static int number(void)
{
	uint32_t next = 1;

	for (bool progress = true; progress;) {
		progress = false;
		for (size_t i = 0; i < ud.nr; i++) {
			struct uinst *x = &ud.inst[i], *p;
			if (x->id)
				continue;
			if (x->parent_ino == ud.root_ino)
				x->parent = 0;
			else if ((p = by_ino(x->parent_ino)) && p->id)
				x->parent = p->id;
			else if (p)
				continue;
			else
				return pr_err("pid %d is in a user namespace whose parent no process of the tree is in, nor "
					      "is it the root's (it is nested below one that only a process outside the "
					      "tree, or none, holds): not supported", x->pid), -EOPNOTSUPP;
			x->id = next++;
			progress = true;
		}
	}
	/* by id, so that ud.inst[id - 1] is it */
	for (size_t i = 0; i < ud.nr; i++)
		while (ud.inst[i].id != i + 1) {
			struct uinst tmp = ud.inst[ud.inst[i].id - 1];
			ud.inst[ud.inst[i].id - 1] = ud.inst[i];
			ud.inst[i] = tmp;
		}
	return 0;
}

int usernest_dump_scan(const struct tree *t)
{
	pid_t root = t->tasks[0].s.pid;
	uint64_t ours, ino;
	int ret;

	usernest_dump_free();
	if ((ret = ns_ino(root, "user", &ud.root_ino)) || (ret = ns_ino(getpid(), "user", &ours)))
		return ret;
	if (!(ud.task_id = calloc(t->nr, sizeof(*ud.task_id))) || !(ud.task_pid = calloc(t->nr, sizeof(pid_t))) ||
	    !(ud.pid_owner = calloc(t->nr, sizeof(*ud.pid_owner))))
		return -ENOMEM;
	ud.nr_tasks = t->nr;
	for (int i = 0; i < t->nr; i++) {
		const struct tree_task *task = &t->tasks[i];
		pid_t pid = task->s.pid;
		struct uinst *x;

		ud.task_pid[i] = pid;
		if (task->zombie)
			continue;   /* no namespaces left: restored in its parent's */
		if ((ret = ns_ino(pid, "user", &ino)))
			return ret;
		if (ino == ud.root_ino)
			continue;
		if (ino == ours)
			return pr_err("pid %d is in the dumper's own user namespace while the root of the tree (pid %d) "
				      "has another: a process that went back to the caller's namespace is not supported",
				      pid, root), -EOPNOTSUPP;
		if (task->s.nr_threads > 1)
			return pr_err("pid %d has %d threads in a user namespace nested below the root's: not supported "
				      "(the restore clones threads at their TIDs from outside that namespace, and a "
				      "process enters one only single-threaded)", pid, task->s.nr_threads), -EOPNOTSUPP;
		if (!(x = by_ino(ino))) {
			if (ud.nr == MAX_USERNS)
				return pr_err("the tree is in more than %d nested user namespaces", MAX_USERNS), -E2BIG;
			struct uinst *n = realloc(ud.inst, (ud.nr + 1) * sizeof(*n));
			if (!n)
				return -ENOMEM;
			ud.inst = n;
			x = memset(&ud.inst[ud.nr++], 0, sizeof(*x));
			x->ino = ino;
			x->pid = pid;
			if ((ret = ns_related(pid, "user", NS_GET_PARENT, &x->parent_ino)))
				return ret;
		}
		ud.task_id[i] = 1;   /* numbered below */
	}
	if (!ud.nr)
		return 0;
	if ((ret = number()))
		return ret;
	for (size_t i = 0; i < ud.nr; i++)
		if ((ret = read_inst(&ud.inst[i])))
			return ret;
	for (int i = 0; i < t->nr; i++) {
		if (!ud.task_id[i])
			continue;
		if ((ret = ns_ino(t->tasks[i].s.pid, "user", &ino)))
			return ret;
		ud.task_id[i] = by_ino(ino)->id;
	}
	/* the owner of each nested pid namespace, on its init's record (userns-pid.c makes it) */
	for (int i = 0; i < t->nr; i++) {
		const struct tree_task *task = &t->tasks[i];

		if (task->pid_ns && !task->zombie && task->inner_tids[0] == 1 &&
		    (ret = usernest_owner(task->s.pid, "pid", &ud.pid_owner[i])))
			return ret;
	}
	return 0;
}

int usernest_maps_of(pid_t pid, const struct userns_map **u, const struct userns_map **g)
{
	for (int i = 0; i < ud.nr_tasks; i++)
		if (ud.task_pid[i] == pid && ud.task_id[i]) {
			*u = &ud.inst[ud.task_id[i] - 1].uid;
			*g = &ud.inst[ud.task_id[i] - 1].gid;
			return 1;
		}
	return 0;
}

int usernest_owner(pid_t pid, const char *kind, uint32_t *id)
{
	uint64_t ino;
	const struct uinst *x;
	int ret = ns_related(pid, kind, NS_GET_USERNS, &ino);

	if (ret)
		return ret;
	if (ino == ud.root_ino)
		return *id = 0, 0;
	if (!(x = by_ino(ino)))
		return pr_err("pid %d's %s namespace is owned by a user namespace that no process of the tree is in, "
			      "other than the root's: not supported", pid, kind), -EOPNOTSUPP;
	*id = x->id;
	return 0;
}

bool usernest_dump_pid_owned(void)
{
	for (int i = 0; ud.pid_owner && i < ud.nr_tasks; i++)
		if (ud.pid_owner[i])
			return true;
	return false;
}

size_t usernest_dump_count(void)
{
	return ud.nr;
}

void usernest_dump_record(size_t i, NsInstance *m)
{
	const struct uinst *x = &ud.inst[i];

	m->kind = "user";
	m->id = x->id;
	m->has_ino = true;
	m->ino = x->ino;
	m->has_owner = x->parent != 0;
	m->owner = x->parent;
	m->n_uid_map = x->uid.nr;
	m->uid_map = x->puidp;
	m->n_gid_map = x->gid.nr;
	m->gid_map = x->pgidp;
	m->has_setgroups_allow = true;
	m->setgroups_allow = x->setgroups_allow;
	m->has_owner_uid = true;
	m->owner_uid = x->owner_uid;
}

void usernest_dump_pstree(int i, PstreeEntry *e)
{
	if (ud.task_id && i < ud.nr_tasks) {
		e->has_user_ns = (e->user_ns = ud.task_id[i]) != 0;
		e->has_pid_ns_owner = (e->pid_ns_owner = ud.pid_owner[i]) != 0;
	}
}

void usernest_dump_free(void)
{
	for (size_t i = 0; i < ud.nr; i++) {
		free(ud.inst[i].puid);
		free(ud.inst[i].pgid);
		free(ud.inst[i].puidp);
		free(ud.inst[i].pgidp);
	}
	free(ud.inst);
	free(ud.task_id);
	free(ud.task_pid);
	free(ud.pid_owner);
	memset(&ud, 0, sizeof(ud));
}

/* ------------------------------------------------------------------ restore */

static const struct usernest_inst *find(const struct usernest_set *set, uint32_t id)
{
	for (size_t i = 0; i < set->nr; i++)
		if (set->inst[i].id == id)
			return &set->inst[i];
	return NULL;
}

bool usernest_listed(const struct usernest_set *set, uint32_t id)
{
	return find(set, id);
}

static int copy_map(UsernsExtent *const *e, size_t n, UsernsExtent *to, UsernsExtent **top)
{
	for (size_t i = 0; i < n; i++) {
		userns_extent__init(&to[i]);
		to[i].first = e[i]->first;
		to[i].lower_first = e[i]->lower_first;
		to[i].count = e[i]->count;
		top[i] = &to[i];
	}
	return 0;
}

int usernest_load(NsInstance **list, size_t n, struct usernest_set *set)
{
	memset(set, 0, sizeof(*set));
	for (size_t i = 0; i < n; i++) {
		const NsInstance *l = list[i];
		struct usernest_inst *x;
		char img[64];
		int ret;

		if (strcmp(l->kind, "user"))
			continue;
		snprintf(img, sizeof(img), "ns.img: nested user namespace %u", l->id);
		if (!l->id || l->id > MAX_USERNS || find(set, l->id) || set->nr == MAX_USERNS)
			return pr_err("%s: a bad id, or listed twice", img), -EINVAL;
		if (l->has_owner && l->owner && !find(set, l->owner))
			return pr_err("%s: its parent %u is not a user namespace listed before it", img, l->owner), -EINVAL;
		if (!l->has_owner_uid || !l->has_setgroups_allow)
			return pr_err("%s: its owner or setgroups is missing", img), -EINVAL;
		if ((ret = userns_validate_map(l->uid_map, l->n_uid_map, img, "uid")) ||
		    (ret = userns_validate_map(l->gid_map, l->n_gid_map, img, "gid")))
			return ret;
		if (!(x = realloc(set->inst, (set->nr + 1) * sizeof(*x))))
			return -ENOMEM;
		set->inst = x;
		x = memset(&set->inst[set->nr++], 0, sizeof(*x));
		x->fd = x->slot = -1;
		x->id = l->id;
		x->parent = l->has_owner ? l->owner : 0;
		x->owner_uid = l->owner_uid;
		x->setgroups_allow = l->setgroups_allow;
		x->n_uid = l->n_uid_map;
		x->n_gid = l->n_gid_map;
		x->ext = calloc(x->n_uid + x->n_gid, sizeof(*x->ext));
		x->uid = calloc(x->n_uid + x->n_gid, sizeof(*x->uid));
		if (!x->ext || !x->uid)
			return -ENOMEM;
		x->gid = x->uid + x->n_uid;
		copy_map(l->uid_map, x->n_uid, x->ext, x->uid);
		copy_map(l->gid_map, x->n_gid, x->ext + x->n_uid, x->gid);
	}
	return 0;
}

int usernest_plan(const struct usernest_set *set, PstreeEntry **entries, size_t nr)
{
	for (size_t t = 0; t < nr; t++) {
		const PstreeEntry *e = entries[t];

		if (!e->has_user_ns || !e->user_ns)
			continue;
		if (!t || e->zombie || !find(set, e->user_ns))
			return pr_err("pstree.img: pid %u is in nested user namespace %u, but it is the root or a zombie, "
				      "or ns.img does not list it", e->pid, e->user_ns), -EINVAL;
		if (e->n_threads != 1)
			return pr_err("pstree.img: pid %u has %zu threads in nested user namespace %u (one at most)",
				      e->pid, e->n_threads, e->user_ns), -EINVAL;
	}
	return usernest_pid_check(set, entries, nr);
}

/* A helper's answer: the namespace's fd, or its error's text. */
static int helper_reply(int sk, int ret, const char *kind)
{
	char path[64];
	int fd;

	if (!ret) {
		snprintf(path, sizeof(path), "/proc/self/ns/%s", kind);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			ret = pr_perror("can't open the %s namespace made", kind);
		else if (send_fds(sk, "", 1, &fd, 1, NULL, 0, 0) != 1)
			ret = pr_perror("can't hand the %s namespace made to crtool", kind);
	}
	if (ret) {
		const char *m = cr_error_isset() ? cr_last_error() : "the helper failed";
		if (send(sk, m, strlen(m), 0) < 0)
			return 1;
	}
	return ret ? 1 : 0;
}

/* fn in a child of ours; its reply: an fd into *out, or an error. */
static int run_helper(int (*fn)(void *, int), void *arg, int *out)
{
	char buf[1024];
	int sk[2], fd = -1, st;
	ssize_t n;
	pid_t pid;

	if (fault_hit("restore-userns"))
		return -EIO;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sk))
		return pr_perror("can't make a socket for a user namespace helper");
	if ((pid = fork()) == 0) {
		close(sk[0]);
		cr_set_log(NULL, NULL, CR_LOG_ERROR);   /* its error goes back as the reply */
		_exit(fn(arg, sk[1]));
	}
	close(sk[1]);
	if (pid < 0) {
		close(sk[0]);
		return pr_perror("can't fork a user namespace helper");
	}
	n = recv_fd(sk[0], buf, sizeof(buf) - 1, &fd);
	close(sk[0]);
	waitpid(pid, &st, 0);
	if (fd >= 0) {
		*out = fd;
		return 0;
	}
	buf[n > 0 ? n : 0] = 0;
	return pr_err("%s", n > 0 ? buf : "a user namespace helper died"), -EIO;
}

/* In a helper: into the parent user namespace (-1: ours already). */
static int enter_parent(int fd)
{
	if (fd >= 0 && setns(fd, CLONE_NEWUSER))
		return pr_perror("can't enter the parent user namespace (setns)");
	return 0;
}

struct make_user {
	const struct usernest_inst *x;
	int parent_fd;
	gid_t gid;                /* a gid mapped in the parent for the maker (-1: keep ours) */
};

/* The helper: a child unshares it with the owner's uid; we, in the parent with
 * every capability there, write its maps; its fd is the reply. */
static int make_user(void *arg, int sk)
{
	const struct make_user *m = arg;
	const struct usernest_inst *x = m->x;
	int p[2], q[2], ret;
	char c;
	pid_t child;

	if (enter_parent(m->parent_fd) || pipe(p) || pipe(q))
		return helper_reply(sk, -1, "user");
	if ((child = fork()) == 0) {
		close(p[0]);
		close(q[1]);
		/* the owner of the new one is its maker's euid (and needs a gid mapped there) */
		if ((m->gid != (gid_t)-1 && setresgid(m->gid, m->gid, m->gid)) ||
		    (geteuid() != x->owner_uid && setresuid(x->owner_uid, x->owner_uid, x->owner_uid)))
			_exit(1);
		/* its /proc files are ours to write only if it is dumpable */
		prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
		if (unshare(CLONE_NEWUSER) || write(p[1], "", 1) != 1)
			_exit(1);
		(void)!read(q[0], &c, 1);   /* until we are done with it */
		_exit(0);
	}
	close(p[1]);
	close(q[0]);
	ret = child < 0 || read(p[0], &c, 1) != 1
		      ? pr_err("the maker of nested user namespace %u failed (its owner uid %u or its gid %d in the "
			       "parent)", x->id, x->owner_uid, (int)m->gid), -EIO
		      : 0;
	if (!ret) {
		UsernsEntry e = USERNS_ENTRY__INIT;
		e.n_uid_map = x->n_uid;
		e.uid_map = x->uid;
		e.n_gid_map = x->n_gid;
		e.gid_map = x->gid;
		e.setgroups_allow = x->setgroups_allow;
		ret = userns_write_maps(child, &e);
	}
	if (!ret) {
		char path[64];
		int fd;
		snprintf(path, sizeof(path), "/proc/%d/ns/user", child);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || send_fds(sk, "", 1, &fd, 1, NULL, 0, 0) != 1)
			ret = pr_perror("can't hand nested user namespace %u to crtool", x->id);
	}
	close(q[1]);
	if (child > 0)
		waitpid(child, NULL, 0);
	if (ret) {
		char why[512];
		snprintf(why, sizeof(why), "%s", cr_last_error());
		pr_err("nested user namespace %u: %s", x->id, why);
		return helper_reply(sk, ret, "user");
	}
	return 0;
}

/* A gid the parent maps (its 0 if it has one), for the maker: -1 to keep ours. */
static gid_t maker_gid(UsernsExtent *const *g, size_t n)
{
	if (!n)
		return (gid_t)-1;
	for (size_t i = 0; i < n; i++)
		if (!g[i]->first)
			return 0;
	return g[0]->first;
}

int usernest_make(struct usernest_set *set, int root_fd, const UsernsEntry *root)
{
	for (size_t i = 0; i < set->nr; i++) {
		struct usernest_inst *x = &set->inst[i];
		const struct usernest_inst *p = x->parent ? find(set, x->parent) : NULL;
		struct make_user m = { x, p ? p->fd : root_fd, (gid_t)-1 };
		int ret;

		if (p)
			m.gid = maker_gid(p->gid, p->n_gid);
		else if (root)
			m.gid = maker_gid(root->gid_map, root->n_gid_map);
		if ((ret = run_helper(make_user, &m, &x->fd)))
			return ret;
		pr_debug("nested user namespace %u made (fd %d)", x->id, x->fd);
	}
	return 0;
}

/* Without privileges (user_namespaces(7)): a namespace its own maker writes the
 * maps of maps one id each, the caller's, with setgroups denied, and is the caller's
 * (then the caller may also enter it, and those below it). */
int usernest_check_unprivileged(const struct usernest_set *set, const UsernsEntry *root)
{
	uid_t euid = geteuid();
	gid_t egid = getegid();
	int ret = 0;

	for (size_t i = 0; i < set->nr && !ret; i++) {
		const struct usernest_inst *x = &set->inst[i];
		UsernsEntry ours = USERNS_ENTRY__INIT, parent = USERNS_ENTRY__INIT;
		uint32_t owner = x->owner_uid;
		char op[160];

		if ((ret = usernest_ours(set, x->id, root, &ours)) ||
		    (x->parent && (ret = usernest_ours(set, x->parent, root, &parent))))
			goto next;
		if (x->parent || root)
			owner = userns_uid_out(x->parent ? &parent : root, owner);
		if (ours.n_uid_map != 1 || ours.uid_map[0]->count != 1 || ours.uid_map[0]->lower_first != euid ||
		    ours.n_gid_map != 1 || ours.gid_map[0]->count != 1 || ours.gid_map[0]->lower_first != egid ||
		    ours.setgroups_allow || owner != euid) {
			snprintf(op, sizeof(op), "restore of nested user namespace %u (its maps map other ids than the "
				 "caller's own, setgroups is allowed, or another user owns it)", x->id);
			ret = privs_need(CAP_SETUID, -1, op) ?: privs_need(CAP_SETGID, -1, op) ?:
			      privs_need(CAP_SYS_ADMIN, -1, op);
		}
next:
		usernest_ours_free(&ours);
		usernest_ours_free(&parent);
	}
	return ret;
}

int usernest_fd(const struct usernest_set *set, uint32_t id)
{
	const struct usernest_inst *x = find(set, id);

	return x ? (x->slot >= 0 ? kept_fd_get(x->slot) : x->fd) : -1;
}

struct run_in {
	int userns_fd;
	int (*pre)(void *), (*fn)(void *);
	void *arg;
	const char *kind;
};

static int run_in_helper(void *arg, int sk)
{
	const struct run_in *r = arg;

	return helper_reply(sk, (r->pre ? r->pre(r->arg) : 0) ?: enter_parent(r->userns_fd) ?: r->fn(r->arg), r->kind);
}

int usernest_run_in(int userns_fd, int (*pre)(void *), int (*fn)(void *), void *arg, const char *kind, int *out)
{
	struct run_in r = { userns_fd, pre, fn, arg, kind };

	return run_helper(run_in_helper, &r, out);
}

/* Each extent's lower ids from the parent's view into ours, through the parent's
 * extents (lower in ours already): one of them holds it whole (the kernel's rule). */
static int lower_to_ours(UsernsExtent *const *pe, size_t pn, const UsernsExtent *e, UsernsExtent *out)
{
	*out = *e;
	if (!pe)
		return 0;   /* the parent is ours */
	for (size_t i = 0; i < pn; i++)
		if (e->lower_first >= pe[i]->first &&
		    (uint64_t)e->lower_first + e->count <= (uint64_t)pe[i]->first + pe[i]->count) {
			out->lower_first = pe[i]->lower_first + (e->lower_first - pe[i]->first);
			return 0;
		}
	return -EINVAL;
}

static int compose(UsernsExtent *const *pe, size_t pn, UsernsExtent *const *e, size_t n, UsernsExtent ***out)
{
	UsernsExtent **p = calloc(n + 1, sizeof(*p)), *x = calloc(n + 1, sizeof(*x));

	if (!p || !x) {
		free(p);
		free(x);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		p[i] = &x[i];
		if (lower_to_ours(pe, pn, e[i], &x[i])) {
			free(p);
			free(x);
			return pr_err("a nested user namespace's extent %u %u %u is not within one of its parent's", e[i]->first,
				      e[i]->lower_first, e[i]->count), -EINVAL;
		}
	}
	*out = p;
	return 0;
}

int usernest_ours(const struct usernest_set *set, uint32_t id, const UsernsEntry *root, UsernsEntry *out)
{
	const struct usernest_inst *x = find(set, id);
	UsernsEntry parent = USERNS_ENTRY__INIT;
	int ret;

	userns_entry__init(out);
	if (!x)
		return -ENOENT;
	if (x->parent && (ret = usernest_ours(set, x->parent, root, &parent)))
		return ret;
	const UsernsEntry *p = x->parent ? &parent : root;
	ret = compose(p ? p->uid_map : NULL, p ? p->n_uid_map : 0, x->uid, x->n_uid, &out->uid_map) ?:
	      compose(p ? p->gid_map : NULL, p ? p->n_gid_map : 0, x->gid, x->n_gid, &out->gid_map);
	out->n_uid_map = out->uid_map ? x->n_uid : 0;
	out->n_gid_map = out->gid_map ? x->n_gid : 0;
	out->setgroups_allow = x->setgroups_allow;
	usernest_ours_free(&parent);
	return ret;
}

void usernest_ours_free(UsernsEntry *e)
{
	if (e->uid_map)
		free(e->uid_map[0]);
	if (e->gid_map)
		free(e->gid_map[0]);
	free(e->uid_map);
	free(e->gid_map);
	e->uid_map = e->gid_map = NULL;
}

int usernest_keep_fds(struct usernest_set *set)
{
	for (size_t i = 0; i < set->nr; i++)
		if ((set->inst[i].slot = kept_fd_add(set->inst[i].fd)) < 0)
			return pr_err("can't keep the fd of nested user namespace %u", set->inst[i].id), -ENOSPC;
	return 0;
}

int usernest_take_fd(const struct usernest_set *set, const PstreeEntry *e, int *fd)
{
	*fd = -1;
	if (!e->has_user_ns || !e->user_ns)
		return 0;
	if ((*fd = usernest_fd(set, e->user_ns)) < 0 || (*fd = fcntl(*fd, F_DUPFD_CLOEXEC, 0)) < 0)
		return pr_err("pid %u: can't find the fd of its user namespace (%u): %s", e->pid, e->user_ns,
			      strerror(errno)), -EBADF;
	return 0;
}

int usernest_enter(int fd, uint32_t pid, const uint32_t *groups, size_t n_groups)
{
	int ret = 0;

	gid_t g[n_groups + 1];

	if (fd < 0)
		return 0;
	/* in the user namespace we are in: the root's own, if it had one */
	for (size_t i = 0; i < n_groups; i++)
		if ((g[i] = userns_gid_in(groups[i])) == (gid_t)-1) {
			close(fd);
			return pr_err("pid %u: its supplementary group %u is not mapped in the tree's user namespace", pid,
				      groups[i]), -EINVAL;
		}
	/* (the same as ours: nothing to set, and a caller without CAP_SETGID could not) */
	gid_t cur[n_groups + 1];
	bool same = getgroups(n_groups + 1, cur) == (int)n_groups;
	for (size_t i = 0; same && i < n_groups; i++)
		same = cur[i] == g[i];
	if (!same && setgroups(n_groups, g))
		ret = pr_perror("pid %u can't set its supplementary groups", pid);
	else if (setns(fd, CLONE_NEWUSER))
		ret = pr_perror("pid %u can't enter its nested user namespace (setns)", pid);
	close(fd);
	return ret;
}

void usernest_close_fds(struct usernest_set *set)
{
	for (size_t i = 0; i < set->nr; i++)
		if (set->inst[i].fd >= 0) {
			close(set->inst[i].fd);
			set->inst[i].fd = -1;
		}
}

void usernest_free(struct usernest_set *set)
{
	usernest_close_fds(set);
	for (size_t i = 0; i < set->nr; i++) {
		free(set->inst[i].ext);
		free(set->inst[i].uid);
	}
	free(set->inst);
	memset(set, 0, sizeof(*set));
}

/* Processes of one tree in different UTS, network, IPC, cgroup, time or mount
 * namespaces: a worker forked into a network namespace of its own, a sandboxed child
 * with its own hostname and mounts, `ip netns exec` children, `unshare -T -f` ones
 * with other clocks.
 *
 * Dump: every live process's namespace of each kind is compared (by inode)
 * with the root's; each other instance gets an id (from 1, per kind) and is
 * saved once through the code that saves the root's (uts.c, net.c, ipc.c),
 * read through a process that is in it.  A process records the ids it is in
 * (pstree.img; 0 is the root's namespace, whether the root's own or ours).  A
 * process in our own namespace while the root has another is refused: the
 * restore would have nothing to join.  Zombies have no namespaces left (the
 * kernel drops them at exit): they are restored in their parent's.  Neither
 * is an instance that no live process is in saved (an exited process's, kept
 * only by a socket or an fd): /proc shows it through no process.
 *
 * Restore: the first process in an instance (pstree order: parents first, so
 * none of its ancestors is in it) makes it right after its fork, before its
 * children exist: unshare, then the saved state (hostname; links, addresses,
 * routes; SysV objects; the mounts it changed, mnt-nested.c).  Its descendants inherit it.  Any other process in
 * it whose parent is elsewhere joins it: setns through a pidfd of the maker,
 * once the maker says it is filled.  The maker precedes every joiner in
 * pstree order and is not its descendant, so it never waits for a joiner.
 *
 * Time namespaces differ in one way: unshare(CLONE_NEWTIME) makes one for the
 * caller's children only (its time_for_children), and only there do the
 * offsets show (timens_offsets).  A process that did so records that one too,
 * and makes it on restore without entering it, so that its children are born
 * in it: every process in it must have been born in it (none entered it by
 * setns), else the restore could not put it there.  A namespace nobody made
 * so is made, entered, by its first process like the other kinds (the maker
 * enters it before its vDSO is placed: a task of a time namespace has another
 * vvar page).  Offsets are the host's plus the namespace's, so the rule that
 * keeps the root's clocks from going back on a host whose clocks are behind
 * (time.c) applies to each. */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/futex.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "image/image.h"
#include "log.h"
#include "net/inet.h"
#include "ns/mnt.h"
#include "ns/nested.h"
#include "ns/ns.h"
#include "ns/time.h"
#include "ns/userns.h"
#include "ns/userns-pid.h"
#include "cgroup.h"
#include "proc/pidview.h"
#include "proc/privs.h"
#include "proc/tree.h"
#include "util.h"

#define MAX_INSTANCES 4096

static const struct {
	const char *name, *label;
	int flag;
} kinds[NEST_KINDS] = {
	[NEST_UTS] = { "uts", "UTS", CLONE_NEWUTS },
	[NEST_NET] = { "net", "network", CLONE_NEWNET },
	[NEST_IPC] = { "ipc", "IPC", CLONE_NEWIPC },
	/* nothing to save: its root is the cgroup its maker is in when it unshares
	 * (put there first, like the root's own) */
	[NEST_CGROUP] = { "cgroup", "cgroup", CLONE_NEWCGROUP },
	[NEST_TIME] = { "time", "time", CLONE_NEWTIME },
	[NEST_MNT] = { "mnt", "mount", CLONE_NEWNS },
};

/* ------------------------------------------------------------------ dump */

static int add_instance(struct nested_dump *nd, int kind, uint64_t ino, const struct tree_task *t, uint32_t *id)
{
	uint32_t n = 0;

	for (size_t i = 0; i < nd->nr; i++) {
		if (nd->inst[i].kind != kind)
			continue;
		if (nd->inst[i].ino == ino)
			return *id = nd->inst[i].id, 0;
		n++;
	}
	struct nested_dump_inst *x = realloc(nd->inst, (nd->nr + 1) * sizeof(*x));
	if (!x)
		return -ENOMEM;
	nd->inst = x;
	x = &nd->inst[nd->nr++];
	pid_t pid = t->s.pid;
	*x = (struct nested_dump_inst){ kind, n + 1, ino, pid, t->s.stat.ppid, -1, -1, 0 };
	if (kind == NEST_NET) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
		if ((x->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			return pr_perror("can't open the network namespace of pid %d", pid);
	}
	pr_info("pid %d is in nested %s namespace %u (inode %llu)", pid, kinds[kind].name, x->id,
		(unsigned long long)ino);
	*id = x->id;
	return 0;
}

static struct nested_dump_inst *dump_inst(const struct nested_dump *nd, int kind, uint32_t id)
{
	for (size_t i = 0; i < nd->nr; i++)
		if (nd->inst[i].kind == kind && nd->inst[i].id == id)
			return &nd->inst[i];
	return NULL;
}

/* The time namespaces processes made for their children (see the top), and through
 * whom each instance's offsets are read.  own, kids: each task's time and
 * time_for_children (0 for a zombie). */
static int scan_time(const struct tree *t, struct nested_dump *nd, uint64_t rino, uint64_t ours, uint64_t *own,
		     uint64_t *kids)
{
	struct nested_dump_inst *x;
	int ret;

	for (int i = 0; i < t->nr; i++) {
		pid_t pid = t->tasks[i].s.pid;

		if (t->tasks[i].zombie)
			continue;
		if ((ret = ns_ino(pid, "time", &own[i])) || (ret = ns_ino(pid, "time_for_children", &kids[i])))
			return ret;
		if (kids[i] == own[i])
			continue;
		if (kids[i] == rino || kids[i] == ours)
			return pr_err("pid %d has its children born in %s time namespace while it is in another: not "
				      "supported", pid, kids[i] == rino ? "the root's" : "the dumper's"), -EOPNOTSUPP;
		if ((ret = add_instance(nd, NEST_TIME, kids[i], &t->tasks[i], &nd->time_children[i])))
			return ret;
		x = dump_inst(nd, NEST_TIME, nd->time_children[i]);
		if (x->unsharer >= 0)
			return pr_err("pids %d and %d both have nested time namespace %u for their children without being "
				      "in it: not supported", t->tasks[x->unsharer].s.pid, pid, x->id), -EOPNOTSUPP;
		x->unsharer = i;
		x->pid = pid;
	}
	for (int i = 1; i < t->nr; i++) {
		const struct tree_task *parent;

		if (!nd->ids[i][NEST_TIME] || (x = dump_inst(nd, NEST_TIME, nd->ids[i][NEST_TIME]))->unsharer < 0)
			continue;
		x->base_pid = t->tasks[i].s.pid;   /* one in it, for the messages */
		parent = tree_find(t, t->tasks[i].s.stat.ppid);
		if (!parent || kids[parent - t->tasks] != own[i])
			return pr_err("pid %d is in the time namespace pid %d made for its children (unshare "
				      "CLONE_NEWTIME) but its parent's children are not born there (it entered it by "
				      "setns, or its parent made another since): not supported",
				      t->tasks[i].s.pid, t->tasks[x->unsharer].s.pid), -EOPNOTSUPP;
	}
	for (size_t k = 0; k < nd->nr; k++) {
		int reader = -1, member = -1;

		x = &nd->inst[k];
		if (x->kind != NEST_TIME || x->unsharer >= 0)
			continue;
		for (int i = 1; i < t->nr && reader < 0; i++) {
			if (t->tasks[i].zombie || own[i] != x->ino)
				continue;
			if (member < 0)
				member = i;
			if (kids[i] == x->ino)
				reader = i;
		}
		if (reader < 0)
			return pr_err("pid %d is in nested time namespace %u, whose offsets show through no process of the "
				      "tree (every one in it made another for its children: unshare CLONE_NEWTIME "
				      "after entering it): not supported", t->tasks[member].s.pid, x->id), -EOPNOTSUPP;
		x->pid = t->tasks[reader].s.pid;
	}
	return 0;
}

static int scan_owners(struct nested_dump *nd);

int nested_dump_scan(const struct tree *t, struct nested_dump *nd)
{
	pid_t root = t->tasks[0].s.pid;
	uint64_t time_root = 0, time_ours = 0;
	int ret;

	memset(nd, 0, sizeof(*nd));
	nd->cur_net = -1;
	if (!(nd->ids = calloc(t->nr, sizeof(*nd->ids))) || !(nd->time_children = calloc(t->nr, sizeof(uint32_t))))
		return -ENOMEM;
	for (int k = 0; k < NEST_KINDS; k++) {
		uint64_t rino, ours, ino;

		/* no time namespaces on this kernel: everyone shares the one clock */
		if (k == NEST_TIME && access("/proc/self/ns/time", F_OK) && errno == ENOENT)
			continue;
		if ((ret = ns_ino(root, kinds[k].name, &rino)) || (ret = ns_ino(getpid(), kinds[k].name, &ours)))
			return ret;
		if (k == NEST_TIME) {
			time_root = rino;
			time_ours = ours;
		}
		for (int i = 1; i < t->nr; i++) {
			pid_t pid = t->tasks[i].s.pid;

			if (t->tasks[i].zombie)
				continue;   /* no namespaces left: restored in its parent's */
			if ((ret = ns_ino(pid, kinds[k].name, &ino)))
				return ret;
			if (ino == rino)
				continue;
			if (ino == ours)
				return pr_err("pid %d is in the dumper's own %s namespace while the root of the tree "
					      "(pid %d) has another: a process that went back to the caller's "
					      "namespace is not supported", pid, kinds[k].label, root), -EOPNOTSUPP;
			if ((ret = add_instance(nd, k, ino, &t->tasks[i], &nd->ids[i][k])))
				return ret;
			if (nd->nr > MAX_INSTANCES)
				return pr_err("the tree is in more than %d nested namespaces", MAX_INSTANCES), -E2BIG;
		}
	}
	if (time_root) {
		uint64_t *own = calloc(t->nr, sizeof(*own)), *kids = calloc(t->nr, sizeof(*kids));
		ret = own && kids ? scan_time(t, nd, time_root, time_ours, own, kids) : -ENOMEM;
		free(own);
		free(kids);
		if (!ret && nd->nr > MAX_INSTANCES)
			ret = (pr_err("the tree is in more than %d nested namespaces", MAX_INSTANCES), -E2BIG);
		if (ret)
			return ret;
	}
	return scan_owners(nd);
}

/* The user namespace owning each instance: the root's, or a nested one a process of
 * the tree is in; only some kinds are made again in a nested one (by crtool, before
 * the tree forks: see userns-nested.c). */
static int scan_owners(struct nested_dump *nd)
{
	for (size_t i = 0; i < nd->nr; i++) {
		struct nested_dump_inst *x = &nd->inst[i];
		const char *name = x->kind == NEST_TIME && x->unsharer >= 0 ? "time_for_children" : kinds[x->kind].name;
		int ret = usernest_owner(x->pid, name, &x->owner);

		if (ret)
			return ret;
		/* A time namespace made for a process's children only (unshare CLONE_NEWTIME), the
		 * process staying out: only its own unshare, inside the owner, could make that
		 * pair, and it must stay outside while it forks at chosen PIDs. */
		if (x->owner && x->kind == NEST_TIME && x->unsharer >= 0)
			return pr_err("pid %d has its children born in a time namespace owned by a user namespace nested "
				      "below the root's, without being in it (unshare CLONE_NEWTIME, as `unshare -U -T -f` "
				      "leaves its parent; pid %d is in it): not supported", x->pid, x->base_pid),
			       -EOPNOTSUPP;
	}
	return 0;
}
int nested_dump_write(struct img_dir *dir, const struct nested_dump *nd, const struct cr_external *ext,
		      size_t nr_ext)
{
	int ret = 0;

	for (size_t i = 0; i < nd->nr && !ret; i++) {
		const struct nested_dump_inst *x = &nd->inst[i];

		switch (x->kind) {
		case NEST_UTS:
			ret = uts_ns_dump(dir, x->pid, x->id);
			break;
		case NEST_IPC:
			ret = privs_need(CAP_SYS_ADMIN, -1, "dumping a nested IPC namespace (setns)") ?:
			      ipc_dump_id(dir, x->pid, x->id);
			break;
		case NEST_CGROUP:
			break;
		case NEST_TIME:
			ret = timens_dump_id(dir, x->pid, x->id);
			break;
		case NEST_MNT: {
			struct ns_args a = { .ext = ext, .nr_ext = nr_ext };
			ret = mnt_nested_dump(dir, x->pid, x->base_pid, x->id, &a);
			break;
		}
		default: {
			struct netns_dump d = { .fd = x->fd, .img_id = x->id };
			ret = netns_dump(dir, &d, ext, nr_ext);
		}
		}
	}
	return ret;
}

int nested_dump_net_tree(const struct nested_dump *nd, int root_fd)
{
	int fds[MAX_INSTANCES + 1];
	uint32_t ids[MAX_INSTANCES + 1];
	size_t n = 0;

	if (root_fd >= 0) {
		fds[n] = root_fd;
		ids[n++] = 0;
	}
	for (size_t i = 0; i < nd->nr && n <= MAX_INSTANCES; i++)
		if (nd->inst[i].kind == NEST_NET) {
			fds[n] = nd->inst[i].fd;
			ids[n++] = nd->inst[i].id;
		}
	return netns_dump_set_tree(fds, ids, n);
}

int nested_dump_enter(struct nested_dump *nd, const struct tree *t, int i, int root_fd)
{
	uint32_t id = nd->ids ? nd->ids[i][NEST_NET] : 0;
	int fd = root_fd;

	for (size_t k = 0; id && k < nd->nr; k++)
		if (nd->inst[k].kind == NEST_NET && nd->inst[k].id == id)
			fd = nd->inst[k].fd;
	if (fd != nd->cur_net) {
		/* the table of sockets is one namespace's */
		inet_diag_reset();
		netns_dump_target(fd);
		nd->cur_net = fd;
	}
	/* where else a socket it holds may have been made */
	static int others[NETNS_MAX_OTHERS];
	size_t n = 0;
	if (root_fd != fd)
		others[n++] = root_fd;
	for (size_t k = 0; k < nd->nr && n < NETNS_MAX_OTHERS; k++)
		if (nd->inst[k].kind == NEST_NET && nd->inst[k].fd != fd)
			others[n++] = nd->inst[k].fd;
	netns_dump_set_others(others, n);
	(void)t;
	return 0;
}

int nested_dump_list(const struct nested_dump *nd, NsInstance ***out, size_t *n)
{
	NsInstance **l, *m;

	size_t nu = usernest_dump_count(), total = nd->nr + nu;

	*out = NULL;
	*n = 0;
	if (!total)
		return 0;
	l = calloc(total, sizeof(*l));
	m = calloc(total, sizeof(*m));
	if (!l || !m) {
		free(l);
		free(m);
		return -ENOMEM;
	}
	for (size_t i = 0; i < nd->nr; i++) {
		ns_instance__init(&m[i]);
		m[i].kind = (char *)kinds[nd->inst[i].kind].name;
		m[i].id = nd->inst[i].id;
		m[i].has_ino = true;
		m[i].ino = nd->inst[i].ino;
		m[i].has_owner = (m[i].owner = nd->inst[i].owner) != 0;
		l[i] = &m[i];
	}
	/* (the user namespaces last: a reader takes them whatever their place) */
	for (size_t i = 0; i < nu; i++) {
		ns_instance__init(&m[nd->nr + i]);
		usernest_dump_record(i, &m[nd->nr + i]);
		l[nd->nr + i] = &m[nd->nr + i];
	}
	*out = l;
	*n = total;
	return 0;
}

void nested_dump_pstree(const struct nested_dump *nd, int i, PstreeEntry *e)
{
	if (!nd->ids)
		return;
	e->has_uts_ns = (e->uts_ns = nd->ids[i][NEST_UTS]) != 0;
	e->has_net_ns = (e->net_ns = nd->ids[i][NEST_NET]) != 0;
	e->has_ipc_ns = (e->ipc_ns = nd->ids[i][NEST_IPC]) != 0;
	e->has_cgroup_ns = (e->cgroup_ns = nd->ids[i][NEST_CGROUP]) != 0;
	e->has_time_ns = (e->time_ns = nd->ids[i][NEST_TIME]) != 0;
	e->has_time_ns_children = (e->time_ns_children = nd->time_children[i]) != 0;
	e->has_mnt_ns = (e->mnt_ns = nd->ids[i][NEST_MNT]) != 0;
}

void nested_dump_free(struct nested_dump *nd)
{
	netns_dump_set_others(NULL, 0);
	netns_dump_set_tree(NULL, NULL, 0);
	for (size_t i = 0; i < nd->nr; i++)
		if (nd->inst[i].fd >= 0)
			close(nd->inst[i].fd);
	free(nd->inst);
	free(nd->ids);
	free(nd->time_children);
	memset(nd, 0, sizeof(*nd));
	nd->cur_net = -1;
}

/* ------------------------------------------------------------------ restore */

static int kind_of(const char *name)
{
	for (int k = 0; k < NEST_KINDS; k++)
		if (!strcmp(kinds[k].name, name))
			return k;
	return -1;
}

static struct nested_inst *find(const struct nested_set *set, int kind, uint32_t id)
{
	for (size_t i = 0; i < set->nr; i++)
		if (set->inst[i].kind == kind && set->inst[i].id == id)
			return &set->inst[i];
	return NULL;
}

int nested_load(struct img_dir *dir, NsInstance **list, size_t n, struct nested_set *set)
{
	int ret = 0;

	memset(set, 0, sizeof(*set));
	if (!n)
		return 0;
	if (n > MAX_INSTANCES)
		return pr_err("ns.img: %zu nested namespaces, more than %d", n, MAX_INSTANCES), -EINVAL;
	if ((ret = usernest_load(list, n, &set->user)))
		return ret;
	if (!(set->inst = calloc(n, sizeof(*set->inst))))
		return -ENOMEM;
	for (size_t i = 0; i < n && !ret; i++) {
		int k = kind_of(list[i]->kind);
		struct nested_inst *x = &set->inst[set->nr];

		if (!strcmp(list[i]->kind, "user"))
			continue;   /* usernest_load's */
		x->net.host_fd = x->net.join_fd = -1;
		x->fd = x->slot = -1;
		if (k < 0 || !list[i]->id || list[i]->id > MAX_INSTANCES || find(set, k, list[i]->id))
			return pr_err("ns.img: nested namespace \"%s\" %u: not a user, uts, net, ipc, cgroup, time or mnt namespace, a bad id, "
				      "or listed twice", list[i]->kind, list[i]->id), -EINVAL;
		x->owner = list[i]->has_owner ? list[i]->owner : 0;
		if (x->owner && !usernest_listed(&set->user, x->owner))
			return pr_err("ns.img: nested %s namespace %u is owned by nested user namespace %u, which ns.img "
				      "does not list", list[i]->kind, list[i]->id, x->owner), -EINVAL;
		x->kind = k;
		x->id = list[i]->id;
		set->nr++;
		if (k == NEST_UTS)
			ret = uts_ns_load(dir, x->id, &x->uts);
		else if (k == NEST_IPC)
			ret = ipc_load_id(dir, x->id, &x->ipc);
		else if (k == NEST_MNT)
			ret = mnt_load_table(dir, x->id, &x->mnt);
		else if (k == NEST_NET)
			/* (always saved whole: never an external one) */
			ret = netns_load_id(dir, x->id, NULL, 0, &x->net);
		else if (k == NEST_TIME)
			ret = timens_load_id(dir, x->id, (TimensEntry **)&x->time);
		/* made by a helper in its owner, which can't reach another namespace */
		for (size_t l = 0; !ret && x->owner && k == NEST_NET && l < x->net.e->n_links; l++) {
			const NetLinkEntry *le = x->net.e->links[l];
			if (le->has_peer_netns || le->peer_outside)
				return pr_err("netns-%u.img: veth %s's peer is in another network namespace, and this one is "
					      "owned by nested user namespace %u: not supported", x->id, le->name, x->owner),
				       -EOPNOTSUPP;
		}
	}
	return ret;
}

/* Network namespace id's image: the root's (0; NULL if not saved whole) or a nested one's. */
static const NetnsEntry *net_image(const struct nested_set *set, const NetnsEntry *root, uint32_t id)
{
	const struct nested_inst *y;

	if (!id)
		return root && !root->external ? root : NULL;
	y = find(set, NEST_NET, id);
	return y ? y->net.e : NULL;
}

int nested_check_net_peers(const struct nested_set *set, const NetnsEntry *root)
{
	for (size_t i = 0; i <= set->nr; i++) {
		uint32_t id = i < set->nr ? set->inst[i].id : 0;
		const NetnsEntry *e = i < set->nr ? (set->inst[i].kind == NEST_NET ? set->inst[i].net.e : NULL)
						  : net_image(set, root, 0);
		char img[32];

		snprintf(img, sizeof(img), id ? "netns-%u.img" : "netns.img", id);
		for (size_t k = 0; e && k < e->n_links; k++) {
			const NetLinkEntry *le = e->links[k], *p = NULL;
			const NetnsEntry *pe;

			if (!le->has_peer_netns)
				continue;
			if (!(pe = net_image(set, root, le->peer_netns)))
				return pr_err("%s: veth %s's peer is in network namespace %u of the tree, which the images do "
					      "not hold (%s)", img, le->name, le->peer_netns,
					      le->peer_netns ? "ns.img does not list it" : "the root's was not saved"), -EINVAL;
			for (size_t j = 0; j < pe->n_links && !p; j++)
				if (!strcmp(pe->links[j]->name, le->peer))
					p = pe->links[j];
			if (!p || !p->has_peer_netns || p->peer_netns != id || strcmp(p->peer, le->name) ||
			    p->peer_ifindex != le->ifindex || le->peer_ifindex != p->ifindex)
				return pr_err("%s: veth %s's peer %s is not its pair in network namespace %u", img, le->name,
					      le->peer, le->peer_netns), -EINVAL;
		}
	}
	return 0;
}

static uint32_t task_id(const PstreeEntry *e, int kind)
{
	switch (kind) {
	case NEST_UTS:
		return e->has_uts_ns ? e->uts_ns : 0;
	case NEST_NET:
		return e->has_net_ns ? e->net_ns : 0;
	case NEST_IPC:
		return e->has_ipc_ns ? e->ipc_ns : 0;
	case NEST_TIME:
		return e->has_time_ns ? e->time_ns : 0;
	case NEST_MNT:
		return e->has_mnt_ns ? e->mnt_ns : 0;
	default:
		return e->has_cgroup_ns ? e->cgroup_ns : 0;
	}
}

/* The instance of the kind e's children are born in. */
static uint32_t children_id(const PstreeEntry *e, int kind)
{
	return kind == NEST_TIME && e->has_time_ns_children ? e->time_ns_children : task_id(e, kind);
}

static const PstreeEntry *parent_of(PstreeEntry **entries, size_t idx)
{
	for (size_t j = 0; j < idx; j++)
		if (entries[j]->pid == entries[idx]->ppid)
			return entries[j];
	return NULL;
}

int nested_plan(struct nested_set *set, PstreeEntry **entries, size_t nr)
{
	set->nr_entries = nr;
	for (size_t i = 0; i < set->nr; i++)
		set->inst[i].maker = SIZE_MAX;
	for (size_t t = 0; t < nr; t++)
		for (int k = 0; k < NEST_KINDS; k++) {
			uint32_t id = task_id(entries[t], k);
			struct nested_inst *x;

			if (!id)
				continue;
			if (!t || entries[t]->zombie)
				return pr_err("pstree.img: pid %u names a nested %s namespace, but it is the root or a "
					      "zombie", entries[t]->pid, kinds[k].name), -EINVAL;
			if (!(x = find(set, k, id)))
				return pr_err("pstree.img: pid %u is in nested %s namespace %u, which ns.img does not "
					      "list", entries[t]->pid, kinds[k].name, id), -EINVAL;
			if (x->maker == SIZE_MAX)
				x->maker = t;
		}
	/* time namespaces made for children: by that process, before anyone is in them */
	for (size_t t = 0; t < nr; t++) {
		const PstreeEntry *e = entries[t];
		struct nested_inst *x;

		if (!e->has_time_ns_children)
			continue;
		if (e->zombie || !e->time_ns_children || e->time_ns_children == task_id(e, NEST_TIME) ||
		    !(x = find(set, NEST_TIME, e->time_ns_children)) || x->maker < t)
			return pr_err("pstree.img: pid %u makes nested time namespace %u for its children, but it is a "
				      "zombie, the id is its own or unlisted, or a process before it is in it or made it",
				      e->pid, e->time_ns_children), -EINVAL;
		if (x->owner)
			return pr_err("pstree.img: pid %u makes nested time namespace %u for its children, but nested user "
				      "namespace %u owns it (only one its processes are in is made there)", e->pid, x->id,
				      x->owner), -EINVAL;
		x->maker = t;
		x->unshared = true;
	}
	for (size_t t = 1; t < nr; t++) {
		uint32_t id = task_id(entries[t], NEST_TIME);
		const struct nested_inst *x = id ? find(set, NEST_TIME, id) : NULL;
		const PstreeEntry *p;

		if (x && x->unshared && (!(p = parent_of(entries, t)) || children_id(p, NEST_TIME) != id))
			return pr_err("pstree.img: pid %u is in nested time namespace %u, which pid %u makes for its "
				      "children, but its parent's children are not born there", entries[t]->pid, id,
				      entries[x->maker]->pid), -EINVAL;
	}
	for (size_t i = 0; i < set->nr; i++)
		if (set->inst[i].maker == SIZE_MAX)
			return pr_err("ns.img: nested %s namespace %u holds no process of pstree.img",
				      kinds[set->inst[i].kind].name, set->inst[i].id), -EINVAL;
	return usernest_plan(&set->user, entries, nr);
}

/* In a helper in the owner (nested_make_user): each kind made and filled there. */
struct owned {
	struct nested_inst *x;
	struct img_dir *dir;
	const struct cgroup_image *cg;
	uint32_t maker_pid;
	UsernsEntry ours;        /* the owner's maps in our view: the ids of IPC objects */
};

static int owned_pre(void *arg)
{
	const struct owned *o = arg;

	/* a cgroup namespace's root is the cgroup its maker is in */
	return o->x->kind == NEST_CGROUP ? cgroup_enter(o->cg, o->maker_pid) : 0;
}

static int owned_make(void *arg)
{
	struct owned *o = arg;
	struct nested_inst *x = o->x;

	switch (x->kind) {
	case NEST_UTS:
		return uts_ns_restore(x->uts);
	case NEST_NET:
		return netns_restore_nested(&x->net);
	case NEST_IPC:
		userns_set_current(&o->ours);
		return ipc_restore(o->dir, &x->ipc);
	case NEST_TIME:
		/* for our children: its fd is /proc/self/ns/time_for_children (nested_make_user) */
		return timens_make(x->time, false);
	default:
		if (unshare(CLONE_NEWCGROUP))
			return pr_perror("can't create nested cgroup namespace %u", x->id);
		return 0;
	}
}

/* The fds nested_make_user made, in order: the user namespaces', then the owned ones'. */
static int *made_fd(struct nested_set *set, size_t i)
{
	if (i < set->user.nr)
		return &set->user.inst[i].fd;
	i -= set->user.nr;
	for (size_t k = 0; k < set->nr; k++)
		if (set->inst[k].owner && set->inst[k].kind != NEST_MNT && !i--)
			return &set->inst[k].fd;
	return NULL;
}

int nested_send_user(struct nested_set *set, int sk)
{
	int *fd;

	for (uint32_t i = 0; (fd = made_fd(set, i)); i++)
		if (send_fds(sk, &i, sizeof(i), fd, 1, NULL, 0, 0) != sizeof(i))
			return pr_perror("can't hand the nested user namespaces to the restored root");
	return 0;
}

int nested_recv_user(struct nested_set *set, int sk)
{
	int *fd;

	for (uint32_t i = 0, got; (fd = made_fd(set, i)); i++)
		if (recv_fd(sk, &got, sizeof(got), fd) != sizeof(got) || got != i || *fd < 0)
			return pr_err("the restored root did not get nested user namespace fd %u", i), -EIO;
	return 0;
}

int nested_make_user(struct nested_set *set, struct img_dir *dir, const struct cgroup_image *cg,
		     PstreeEntry **entries, int root_fd, const UsernsEntry *root)
{
	int ret = usernest_make(&set->user, root_fd, root);

	for (size_t i = 0; i < set->nr && !ret; i++) {
		struct nested_inst *x = &set->inst[i];
		struct owned o = { x, dir, cg, entries[x->maker]->pid, USERNS_ENTRY__INIT };

		if (!x->owner || x->kind == NEST_MNT)
			continue;   /* (a mount one: its maker, see make) */
		if (!(ret = usernest_ours(&set->user, x->owner, root, &o.ours)))
			ret = usernest_run_in(usernest_fd(&set->user, x->owner), owned_pre, owned_make, &o,
					      x->kind == NEST_TIME ? "time_for_children" : kinds[x->kind].name, &x->fd);
		usernest_ours_free(&o.ours);
		/* its connections locked before any socket is made there: by us, who hold it */
		if (!ret && x->kind == NEST_NET && netlock_has_nested(x->id)) {
			int fd = fcntl(x->fd, F_DUPFD_CLOEXEC, 0);
			ret = fd < 0 ? pr_perror("can't lock nested network namespace %u", x->id)
				     : netlock_lock_nested(x->id, fd);
		}
	}
	return ret;
}

int nested_prepare(struct nested_set *set, uint32_t *failed, uint32_t *wake)
{
	bool lock = false;

	set->failed = failed;
	set->wake = wake;
	set->lock_sk[0] = set->lock_sk[1] = -1;
	set->lock_slot = -1;
	if (!set->nr)
		return 0;
	if ((set->ready = mmap(NULL, 2 * set->nr * sizeof(uint32_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
			       -1, 0)) == MAP_FAILED) {
		set->ready = NULL;
		return pr_perror("can't map the words of the nested namespaces");
	}
	set->locked = set->ready + set->nr;
	for (size_t i = 0; i < set->nr; i++)
		lock |= set->inst[i].kind == NEST_NET && netlock_has_nested(set->inst[i].id);
	if (lock && (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, set->lock_sk) ||
		     fcntl(set->lock_sk[0], F_SETFL, O_NONBLOCK)))
		return pr_perror("can't make the socket for the network locks of the nested namespaces");
	return 0;
}

void nested_forked(struct nested_set *set)
{
	if (set->ready && set->lock_sk[1] >= 0)
		close(set->lock_sk[1]);
	set->lock_sk[1] = -1;
}

int nested_serve_locks(struct nested_set *set)
{
	uint32_t id;
	ssize_t n;
	int fd, ret;

	while (set->ready && set->lock_sk[0] >= 0 && (n = recv_fd(set->lock_sk[0], &id, sizeof(id), &fd)) > 0) {
		struct nested_inst *x = find(set, NEST_NET, id);

		if (n != sizeof(id) || fd < 0 || !x) {
			if (fd >= 0)
				close(fd);
			return pr_err("a malformed message on the socket of the nested namespaces' network locks (%zd "
				      "bytes, fd %d)", n, fd), -EIO;
		}
		ret = netlock_lock_nested(id, fd);
		/* the maker waits for the word: its sockets come next */
		__atomic_store_n(&set->locked[x - set->inst], ret ? 2 : 1, __ATOMIC_SEQ_CST);
		syscall(SYS_futex, &set->locked[x - set->inst], FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
		if (ret)
			return ret;
	}
	return 0;
}

/* In the maker of network namespace x, filled: crtool takes its connections'
 * lock in it before any socket is made there (a peer restored before, in another
 * of the tree's namespaces, would meet no socket: a reset). */
static int lock_made(const struct nested_set *set, const struct nested_inst *x)
{
	size_t i = x - set->inst;
	int fd, sk = kept_fd_get(set->lock_slot);
	ssize_t n;

	if (x->kind != NEST_NET || !netlock_has_nested(x->id))
		return 0;
	if ((fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) < 0)
		return pr_perror("can't open nested network namespace %u to lock its connections", x->id);
	n = sk >= 0 ? send_fds(sk, &x->id, sizeof(x->id), &fd, 1, NULL, 0, 0) : -1;
	close(fd);
	if (n != sizeof(x->id))
		return pr_perror("can't hand nested network namespace %u to crtool to lock its connections", x->id);
	syscall(SYS_futex, set->wake, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
	for (;;) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		uint32_t v = __atomic_load_n(&set->locked[i], __ATOMIC_SEQ_CST);

		if (v == 1)
			return 0;
		if (v || __atomic_load_n(set->failed, __ATOMIC_SEQ_CST))
			return pr_err("the network lock of nested network namespace %u was not taken (crtool says why)",
				      x->id), -ECANCELED;
		syscall(SYS_futex, &set->locked[i], FUTEX_WAIT, 0, &ts, NULL, 0);
	}
}

struct owned_mnt {
	const struct nested_set *set;
	PstreeEntry **entries;
	size_t idx;
	uint32_t owner;
};

/* A mount namespace a nested user namespace owns: a copy of ours made there by a helper of ours. */
static int owned_mnt(void *arg, int *fd)
{
	const struct owned_mnt *o = arg;

	return usernest_mnt_make(&o->set->user, o->entries, o->set->nr_entries, o->idx, o->owner, fd);
}

static int make(const struct nested_set *set, struct img_dir *dir, struct nested_inst *x, PstreeEntry **entries,
		size_t idx)
{
	pid_t pid = entries[idx]->pid;
	struct owned_mnt o = { set, entries, idx, x->owner };

	switch (x->kind) {
	case NEST_MNT:
		return mnt_nested_restore(x->mnt, pid, set->args, x->owner ? owned_mnt : NULL, &o);
	case NEST_UTS:
		return uts_ns_restore(x->uts);
	case NEST_IPC:
		return ipc_restore(dir, &x->ipc);
	case NEST_CGROUP:
		if (unshare(CLONE_NEWCGROUP))
			return pr_perror("can't create nested cgroup namespace %u", x->id);
		return 0;
	case NEST_TIME:
		return timens_make(x->time, !x->unshared);
	default:
		return netns_restore_nested(&x->net);
	}
}

/* Until the maker has filled it; false if the restore failed meanwhile. */
static bool wait_made(const struct nested_set *set, size_t i)
{
	for (;;) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };

		if (__atomic_load_n(&set->ready[i], __ATOMIC_SEQ_CST))
			return true;
		if (__atomic_load_n(set->failed, __ATOMIC_SEQ_CST))
			return false;
		syscall(SYS_futex, &set->ready[i], FUTEX_WAIT, 0, &ts, NULL, 0);
	}
}

struct peer_ctx {
	const struct nested_set *set;
	PstreeEntry **entries;
	size_t idx;               /* the maker of the namespace being filled */
	uint32_t id;              /* and its id */
};

/* netns_restore's peer_made: the root's namespace is filled before any fork; a
 * nested one before ours if its maker comes first in pstree order (we then
 * wait for it: it never waits for us, see above). */
static int peer_made(void *arg, uint32_t id, pid_t *pid)
{
	const struct peer_ctx *c = arg;
	const struct nested_inst *y;

	if (!id) {
		*pid = c->entries[0]->pid;
		return 1;
	}
	if (!(y = find(c->set, NEST_NET, id)) || id == c->id)
		return pr_err("netns-%u.img: a veth's peer is in nested network namespace %u, which ns.img does not list "
			      "besides it", c->id, id), -EINVAL;
	if (y->maker > c->idx)
		return 0;
	if (!wait_made(c->set, y - c->set->inst))
		return pr_err("the restore failed before nested network namespace %u (a veth's peer's) was made", id),
		       -ECANCELED;
	*pid = c->entries[y->maker]->pid;
	return 1;
}

/* Through the maker (earlier in pstree order), by its PID as joiner idx sees it. */
static int join(PstreeEntry **entries, size_t idx, uint32_t maker, int kind, uint32_t id)
{
	pid_t pid = pidview_pid(entries, idx, idx, maker);
	int fd, ret = 0;

	if (!pid)
		return pr_err("pid %u, in a nested pid namespace, can't join its %s namespace (%u; 0: the root's) "
			      "through pid %u, which is outside its pid namespace: not supported", entries[idx]->pid,
			      kinds[kind].name, id, maker), -EOPNOTSUPP;
	if ((fd = syscall(SYS_pidfd_open, pid, 0)) < 0)
		return pr_perror("can't open a pidfd of pid %d to join its %s namespace", pid, kinds[kind].name);
	if (setns(fd, kinds[kind].flag))
		ret = id ? pr_perror("can't join nested %s namespace %u (setns through pid %d)", kinds[kind].name, id, pid)
			 : pr_perror("can't join the root's %s namespace (setns through pid %d)", kinds[kind].name, pid);
	close(fd);
	return ret;
}

int nested_keep_fds(struct nested_set *set)
{
	if (set->ready && set->lock_sk[1] >= 0 && (set->lock_slot = kept_fd_add(set->lock_sk[1])) < 0)
		return pr_err("can't keep the socket of the nested namespaces' network locks"), -ENOSPC;
	if (usernest_keep_fds(&set->user))
		return -ENOSPC;
	for (size_t i = 0; i < set->nr; i++) {
		struct nested_inst *x = &set->inst[i];

		x->host_slot = x->join_slot = -1;
		if (x->fd >= 0 && (x->slot = kept_fd_add(x->fd)) < 0)
			return pr_err("can't keep the fd of nested %s namespace %u", kinds[x->kind].name, x->id), -ENOSPC;
		if (x->kind != NEST_NET)
			continue;
		if ((x->net.host_fd >= 0 && (x->host_slot = kept_fd_add(x->net.host_fd)) < 0) ||
		    (x->net.join_fd >= 0 && (x->join_slot = kept_fd_add(x->net.join_fd)) < 0))
			return pr_err("can't keep the fds of nested network namespace %u", x->id), -ENOSPC;
	}
	return 0;
}

/* Made and filled: its joiners may go on. */
static void made(const struct nested_set *set, size_t xi)
{
	__atomic_store_n(&set->ready[xi], 1, __ATOMIC_SEQ_CST);
	syscall(SYS_futex, &set->ready[xi], FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
}

int nested_restore_task(const struct nested_set *set, struct img_dir *dir, PstreeEntry **entries, size_t idx)
{
	const PstreeEntry *e = entries[idx], *parent = idx ? parent_of(entries, idx) : NULL;
	int ret;

	if (e->zombie)
		return 0;
	for (int k = 0; k < NEST_KINDS; k++) {
		uint32_t id = task_id(e, k);
		struct nested_inst *x;

		if (!parent || id == children_id(parent, k))
			continue;   /* inherited from the parent, which forked us in it (the root: its own) */
		if (!id) {      /* back in the root's (the root made it before any fork) */
			if ((ret = join(entries, idx, entries[0]->pid, k, 0)))
				return ret;
			continue;
		}
		x = find(set, k, id);
		size_t xi = x - set->inst;
		/* the fds of the caller's namespace (and a joined one) came through files_restore kept */
		if (k == NEST_NET) {
			x->net.host_fd = kept_fd_get(x->host_slot);
			x->net.join_fd = kept_fd_get(x->join_slot);
			/* the lazy-pages daemon's name is in the caller's network namespace */
			netns_keep_caller(x->net.host_fd);
		}
		if (x->owner && k != NEST_MNT) {   /* made by crtool in its user namespace: joined by everyone */
			if (setns(kept_fd_get(x->slot), kinds[k].flag))
				return pr_perror("pid %u can't join nested %s namespace %u (owned by nested user namespace %u)",
						 e->pid, kinds[k].name, id, x->owner);
			continue;
		}
		if (x->maker == idx) {
			struct peer_ctx pc = { set, entries, idx, id };
			x->net.peer_made = peer_made;
			x->net.peer_arg = &pc;
			if ((ret = make(set, dir, x, entries, idx)) || (ret = lock_made(set, x)))
				return ret;
			made(set, xi);
			continue;
		}
		if (!wait_made(set, xi))
			return pr_err("pid %u: the restore failed before nested %s namespace %u was made", e->pid,
				      kinds[k].name, id), -ECANCELED;
		/* (setns into one that pivot_rooted moves our root: host paths keep the host's) */
		if (k == NEST_MNT && mnt_pivoted(x->mnt) && (ret = host_root_keep()))
			return ret;
		if ((ret = join(entries, idx, entries[x->maker]->pid, k, id)))
			return ret;
	}
	/* after its own: the time namespace its children are born in (not entered) */
	if (e->has_time_ns_children) {
		struct nested_inst *x = find(set, NEST_TIME, e->time_ns_children);
		if ((ret = make(set, dir, x, entries, idx)))
			return ret;
		made(set, x - set->inst);
	}
	return 0;
}

const struct ipc_image *nested_ipc_made(const struct nested_set *set, size_t idx)
{
	for (size_t i = 0; i < set->nr; i++)
		if (set->inst[i].kind == NEST_IPC && set->inst[i].maker == idx)
			return &set->inst[i].ipc;
	return NULL;
}

void nested_free(struct nested_set *set)
{
	for (size_t i = 0; i < set->nr; i++) {
		struct nested_inst *x = &set->inst[i];
		if (x->uts)
			uts_ns_free(x->uts);
		if (x->time)
			img_free_msg(&((TimensEntry *)x->time)->base);
		if (x->mnt)
			mnt_free(x->mnt);
		ipc_free(&x->ipc);
		netns_free(&x->net);
		if (x->fd >= 0)
			close(x->fd);
	}
	usernest_free(&set->user);
	/* (the socket's fds are set once the words are there: a zeroed set has none) */
	for (int i = 0; set->ready && i < 2; i++)
		if (set->lock_sk[i] >= 0)
			close(set->lock_sk[i]);
	if (set->ready)
		munmap(set->ready, 2 * set->nr * sizeof(uint32_t));
	free(set->inst);
	memset(set, 0, sizeof(*set));
}

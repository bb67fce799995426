/* User namespaces.  Dump: a tree whose root has a user namespace of its own
 * saves its uid/gid maps (as we read them: inside id, our id, count) and its
 * setgroups setting; every task must be in it, and each other namespace the
 * root has of its own must be owned by it (what a container runtime makes).
 * The tasks' credentials are saved as the tasks see them (mapped in through
 * the maps): the restorer sets them with setresuid/setgroups inside the new
 * namespace.  File owners stay in our view (stat from here) and are mapped in
 * when a restored task chowns what it creates.
 *
 * Restore: the root is cloned with CLONE_NEWUSER (with CLONE_NEWPID when the
 * tree has its own pid namespace) and waits until we have written its maps
 * from outside (setgroups before gid_map, as the kernel wants); every other
 * namespace it makes from then on (unshare) is owned by the new one.  It keeps
 * our kernel ids (host root) until the restorer sets the image's, so it can
 * still read the images, which are ours. */
#include <errno.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "core.pb-c.h"
#include "image/image.h"
#include "log.h"
#include "ns.pb-c.h"
#include "ns/ns.h"
#include "ns/userns.h"
#include "ns/userns-nested.h"
#include "proc/privs.h"
#include "proc/tree.h"
#include "util.h"

#define MAX_EXTENTS USERNS_MAX_EXTENTS

/* dump: the maps of the tree being dumped (nr 0: the tree shares ours) */
static struct userns_map dumped_uid, dumped_gid;
/* restore: the maps of the tree being restored, in its tasks */
static const UsernsEntry *current;

int userns_read_map(pid_t pid, const char *name, struct userns_map *m)
{
	char *text = read_proc(pid, name, NULL), *line, *save;

	m->nr = 0;
	if (!text)
		return pr_perror("can't read /proc/%d/%s", pid, name);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned first, lower, count;
		if (sscanf(line, "%u %u %u", &first, &lower, &count) != 3 || m->nr == MAX_EXTENTS) {
			free(text);
			return pr_err("can't parse /proc/%d/%s: \"%s\"", pid, name, line), -EINVAL;
		}
		UsernsExtent *x = &m->e[m->nr++];
		userns_extent__init(x);
		x->first = first;
		x->lower_first = lower;
		x->count = count;
	}
	free(text);
	return 0;
}

/* From our side (lower) to inside (first), or the other way; -1: unmapped. */
static uint32_t map_id(UsernsExtent *const *e, size_t n, uint32_t id, bool in)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t from = in ? e[i]->lower_first : e[i]->first, to = in ? e[i]->first : e[i]->lower_first;
		if (id >= from && (uint64_t)id < (uint64_t)from + e[i]->count)
			return to + (id - from);
	}
	return (uint32_t)-1;
}

uint32_t userns_map_in(const struct userns_map *m, uint32_t id)
{
	UsernsExtent *p[MAX_EXTENTS];

	for (size_t i = 0; i < m->nr; i++)
		p[i] = (UsernsExtent *)&m->e[i];
	return map_id(p, m->nr, id, true);
}

static const char *const owned_kinds[] = { "mnt", "uts", "ipc", "net", "cgroup", "time", "pid" };

/* Each namespace the root has of its own is owned by the root's user namespace. */
static int check_owners(pid_t root)
{
	uint64_t user;
	int ret = ns_ino(root, "user", &user);

	for (size_t i = 0; i < ARRAY_SIZE(owned_kinds) && !ret; i++) {
		const char *kind = owned_kinds[i];
		char path[64];
		struct stat st;
		int own = ns_own(root, kind), fd, ufd;

		if (own <= 0) {
			ret = own;
			continue;
		}
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", root, kind);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			return pr_perror("can't open the %s namespace of pid %d", kind, root);
		ufd = ioctl(fd, NS_GET_USERNS);
		close(fd);
		if (ufd < 0)
			return pr_perror("can't find the user namespace owning pid %d's %s namespace (NS_GET_USERNS)",
					 root, kind);
		ret = fstat(ufd, &st) ? pr_perror("can't stat the owner of pid %d's %s namespace", root, kind) : 0;
		close(ufd);
		if (!ret && st.st_ino != user)
			return pr_err("pid %d's %s namespace is owned by another user namespace than pid %d's own: only "
				      "namespaces owned by the tree's user namespace are checkpointed", root, kind, root),
			       -EOPNOTSUPP;
	}
	return ret;
}

int userns_dump(struct img_dir *dir, const struct tree *t)
{
	UsernsEntry e = USERNS_ENTRY__INIT;
	UsernsExtent *up[MAX_EXTENTS], *gp[MAX_EXTENTS];
	pid_t root = t->tasks[0].s.pid;
	char *sg;
	int own = ns_own(root, "user"), ret;

	dumped_uid.nr = dumped_gid.nr = 0;
	if (own < 0)
		return own;
	/* (the other tasks' user namespaces, nested below the root's: userns-nested.c) */
	if ((ret = check_owners(root)))
		return ret;
	if (!own)
		return 0;
	/* the restore sets the children's PIDs from inside the new user namespace:
	 * only a pid namespace it owns lets it */
	if (!t->own_pidns) {
		for (int i = 1; i < t->nr; i++)
			if (!t->tasks[i].zombie)
				return pr_err("pid %d is in a user namespace of its own with child processes (pid %d) but "
					      "in our pid namespace: a tree in its own user namespace needs its own pid "
					      "namespace too, unless its root is alone", root, t->tasks[i].s.pid),
				       -EOPNOTSUPP;
	}
	if ((ret = userns_read_map(root, "uid_map", &dumped_uid)) || (ret = userns_read_map(root, "gid_map", &dumped_gid)))
		return ret;
	if (!(sg = read_proc(root, "setgroups", NULL)))
		return pr_perror("can't read /proc/%d/setgroups", root);
	e.setgroups_allow = !strncmp(sg, "allow", 5);
	free(sg);
	for (size_t i = 0; i < dumped_uid.nr; i++)
		up[i] = &dumped_uid.e[i];
	for (size_t i = 0; i < dumped_gid.nr; i++)
		gp[i] = &dumped_gid.e[i];
	e.n_uid_map = dumped_uid.nr;
	e.uid_map = up;
	e.n_gid_map = dumped_gid.nr;
	e.gid_map = gp;
	pr_info("the tree has its own user namespace (%zu uid and %zu gid extents, setgroups %s)", dumped_uid.nr,
		dumped_gid.nr, e.setgroups_allow ? "allow" : "deny");
	return img_write_one(dir, IMG_USERNS, 0, &e.base);
}

void userns_root_maps(const struct userns_map **uid, const struct userns_map **gid)
{
	*uid = &dumped_uid;
	*gid = &dumped_gid;
}

int userns_creds_inside(CredsEntry *cr, pid_t pid)
{
	const struct userns_map *u = &dumped_uid, *g = &dumped_gid;
	int nested = usernest_maps_of(pid, &u, &g);

	if (nested < 0)
		return nested;
	if (!u->nr)
		return 0;
	return userns_creds_map_in(cr, pid, u, g, !nested);
}

int userns_creds_map_in(CredsEntry *cr, pid_t pid, const struct userns_map *u, const struct userns_map *g,
			bool groups)
{
	uint32_t *ids[] = { &cr->uid, &cr->euid, &cr->suid, &cr->fsuid, &cr->gid, &cr->egid, &cr->sgid, &cr->fsgid };

	for (size_t i = 0; i < ARRAY_SIZE(ids); i++) {
		uint32_t in = userns_map_in(i < 4 ? u : g, *ids[i]);
		if (in == (uint32_t)-1)
			return pr_err("pid %d: its %s %u is not mapped in its user namespace", pid, i < 4 ? "uid" : "gid",
				      *ids[i]), -EOPNOTSUPP;
		*ids[i] = in;
	}
	for (size_t i = 0; groups && i < cr->n_groups; i++) {
		uint32_t in = userns_map_in(g, cr->groups[i]);
		if (in == (uint32_t)-1)
			return pr_err("pid %d: its supplementary group %u is not mapped in its user namespace", pid,
				      cr->groups[i]), -EOPNOTSUPP;
		cr->groups[i] = in;
	}
	return 0;
}

/* The kernel's rules for a map (user_namespaces(7)): 1 to 340 extents, none
 * empty or wrapping around, none overlapping another on either side. */
int userns_validate_map(UsernsExtent *const *e, size_t n, const char *img, const char *name)
{
	if (n < 1 || n > MAX_EXTENTS)
		return pr_err("%s: the %s map has %zu extents (1 to %d)", img, name, n, MAX_EXTENTS), -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (!e[i]->count || (uint64_t)e[i]->first + e[i]->count > UINT32_MAX ||
		    (uint64_t)e[i]->lower_first + e[i]->count > UINT32_MAX)
			return pr_err("%s: %s extent %u %u %u is empty or runs past the last id", img, name,
				      e[i]->first, e[i]->lower_first, e[i]->count), -EINVAL;
		for (size_t j = 0; j < i; j++) {
			bool in = e[i]->first < (uint64_t)e[j]->first + e[j]->count &&
				  e[j]->first < (uint64_t)e[i]->first + e[i]->count;
			bool out = e[i]->lower_first < (uint64_t)e[j]->lower_first + e[j]->count &&
				   e[j]->lower_first < (uint64_t)e[i]->lower_first + e[i]->count;
			if (in || out)
				return pr_err("%s: %s extents %zu and %zu overlap", img, name, j, i), -EINVAL;
		}
	}
	return 0;
}

int userns_load(struct img_dir *dir, UsernsEntry **out)
{
	UsernsEntry *e;
	struct img *img;
	int ret;

	*out = NULL;
	if (faccessat(dir->dfd, img_desc(IMG_USERNS)->name, F_OK, 0))
		return 0;   /* the tree shared our user namespace */
	if (!(img = img_open(dir, IMG_USERNS, 0)))
		return -EIO;
	ret = img_read_one(img, &userns_entry__descriptor, (ProtobufCMessage **)&e);
	img_close(img);
	if (ret)
		return ret;
	if ((ret = userns_validate_map(e->uid_map, e->n_uid_map, "userns.img", "uid")) ||
	    (ret = userns_validate_map(e->gid_map, e->n_gid_map, "userns.img", "gid"))) {
		img_free_msg(&e->base);
		return ret;
	}
	*out = e;
	return 0;
}

void userns_free(UsernsEntry *e)
{
	img_free_msg(e ? &e->base : NULL);
}

static int write_map(pid_t child, const char *name, UsernsExtent *const *e, size_t n)
{
	char path[64], *buf = malloc(n * 36 + 1);
	size_t len = 0;
	int ret;

	if (!buf)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		len += sprintf(buf + len, "%u %u %u\n", e[i]->first, e[i]->lower_first, e[i]->count);
	snprintf(path, sizeof(path), "/proc/%d/%s", child, name);
	ret = write_file(path, buf);
	free(buf);
	if (ret)
		return pr_perror("can't write the %s of the restored user namespace (pid %d)", name, child);
	return 0;
}

int userns_write_maps(pid_t child, const UsernsEntry *e)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/setgroups", child);
	if (write_file(path, e->setgroups_allow ? "allow" : "deny"))
		return pr_perror("can't write the setgroups of the restored user namespace (pid %d)", child);
	return write_map(child, "uid_map", e->uid_map, e->n_uid_map) ?:
	       write_map(child, "gid_map", e->gid_map, e->n_gid_map);
}

void userns_set_current(const UsernsEntry *e)
{
	current = e;
}

struct as_ids {
	uint32_t uid, gid;   /* inside */
	int (*fn)(void *);
	void *arg;
	int ret, err;
};

static void *as_thread(void *p)
{
	struct as_ids *a = p;

	/* the raw calls: they change this thread only */
	syscall(SYS_setfsgid, a->gid);
	syscall(SYS_setfsuid, a->uid);
	a->ret = a->fn(a->arg);
	a->err = errno;   /* errno is the thread's own */
	return NULL;
}

static int run_as(uint32_t uid, uint32_t gid, int (*fn)(void *), void *arg)
{
	struct as_ids a = { uid, gid, fn, arg, 0, 0 };
	pthread_t th;
	int err;

	if ((err = pthread_create(&th, NULL, as_thread, &a)))
		return errno = err, pr_perror("can't start a thread to make files in the user namespace");
	pthread_join(th, NULL);
	errno = a.err;
	return a.ret;
}

int userns_as_root(int (*fn)(void *), void *arg)
{
	if (!current)
		return fn(arg);
	/* its own 0, else its first id */
	return run_as(userns_uid_out(current, 0) != (uint32_t)-1 ? 0 : current->uid_map[0]->first,
		      userns_gid_out(current, 0) != (uint32_t)-1 ? 0 : current->gid_map[0]->first, fn, arg);
}

int userns_as_owner(uint32_t uid, uint32_t gid, int (*fn)(void *), void *arg)
{
	uint32_t u = userns_uid_in(uid), g = userns_gid_in(gid);

	if (!current || u == (uint32_t)-1 || g == (uint32_t)-1)
		return userns_as_root(fn, arg);
	return run_as(u, g, fn, arg);
}

char *userns_mount_options(const char *opts)
{
	size_t len = opts ? strlen(opts) : 0;
	char *out, *w, *copy, *tok, *save;

	if (!current || !opts)
		return NULL;
	/* each option at most grows from a short id to 10 digits */
	if (!(out = malloc(len * 2 + 64)) || !(copy = strdup(opts))) {
		free(out);
		return NULL;
	}
	w = out;
	*w = 0;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		unsigned id;
		char end;
		bool uid = !strncmp(tok, "uid=", 4), gid = !strncmp(tok, "gid=", 4);
		if (w != out)
			*w++ = ',';
		if ((uid || gid) && sscanf(tok + 4, "%u%c", &id, &end) == 1)
			w += sprintf(w, "%.4s%u", tok, uid ? userns_uid_in(id) : userns_gid_in(id));
		else
			w += sprintf(w, "%s", tok);
	}
	free(copy);
	return out;
}

bool userns_restoring(void)
{
	return current;
}

bool userns_setgroups_denied(void)
{
	return current && !current->setgroups_allow;
}

uint32_t userns_uid_in(uint32_t host)
{
	return current ? map_id(current->uid_map, current->n_uid_map, host, true) : host;
}

uint32_t userns_gid_in(uint32_t host)
{
	return current ? map_id(current->gid_map, current->n_gid_map, host, true) : host;
}

uint32_t userns_uid_out(const UsernsEntry *e, uint32_t inside)
{
	return map_id(e->uid_map, e->n_uid_map, inside, false);
}

uint32_t userns_gid_out(const UsernsEntry *e, uint32_t inside)
{
	return map_id(e->gid_map, e->n_gid_map, inside, false);
}

int userns_creds_outside(const UsernsEntry *e, const CredsEntry *in, CredsEntry *out)
{
	*out = *in;
	out->uid = userns_uid_out(e, in->uid); out->euid = userns_uid_out(e, in->euid);
	out->suid = userns_uid_out(e, in->suid); out->fsuid = userns_uid_out(e, in->fsuid);
	out->gid = userns_gid_out(e, in->gid); out->egid = userns_gid_out(e, in->egid);
	out->sgid = userns_gid_out(e, in->sgid); out->fsgid = userns_gid_out(e, in->fsgid);
	/* capabilities in a user namespace of its own are over what it owns only:
	 * anyone who makes one holds them all there, CAP_SETPCAP too (its bounding
	 * set may shrink): checked as none, and our own bounding set */
	out->cap_inh = out->cap_prm = out->cap_eff = out->cap_amb = out->cap_bnd = 0;
	for (int cap = 0; cap < 64; cap++) {
		int r = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
		if (r < 0)
			break;
		out->cap_bnd |= (uint64_t)(r == 1) << cap;
	}
	if (!(out->groups = malloc((in->n_groups + 1) * sizeof(uint32_t))))
		return -ENOMEM;
	for (size_t i = 0; i < in->n_groups; i++)
		out->groups[i] = userns_gid_out(e, in->groups[i]);
	return 0;
}

int userns_check_unprivileged(const UsernsEntry *e)
{
	uid_t euid = geteuid();
	gid_t egid = getegid();
	int ret;

	/* without CAP_SETUID/CAP_SETGID over our namespace, one id of our own each,
	 * and gid_map only once setgroups is denied (user_namespaces(7)) */
	if (e->n_uid_map != 1 || e->uid_map[0]->count != 1 || e->uid_map[0]->lower_first != euid)
		if ((ret = privs_need(CAP_SETUID, -1, "restore of the tree's user namespace (its uid_map maps other "
						    "ids than the caller's own)")))
			return ret;
	if (e->n_gid_map != 1 || e->gid_map[0]->count != 1 || e->gid_map[0]->lower_first != egid || e->setgroups_allow)
		if ((ret = privs_need(CAP_SETGID, -1, "restore of the tree's user namespace (its gid_map maps other "
						    "ids than the caller's own, or setgroups is allowed)")))
			return ret;
	return 0;
}

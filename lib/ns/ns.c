/* Namespaces of the tree's root: at dump, each kind of the table whose namespace
 * the root does not share with us is saved (other tasks' namespaces of the
 * kinds ns_nestable names are nested.c's, nested pid namespaces proc/tree.c's;
 * only the user namespace may not differ); at restore
 * the root makes each again, in table order, before its files are opened.
 *
 * Order matters at restore: a mount of mqueue, sysfs or cgroup belongs to the
 * IPC, network or cgroup namespace of the task that mounts it, so the mount
 * namespace comes last (and ends with pivot_root into the new tree). */

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "image/image.h"
#include "log.h"
#include "ns/ns.h"
#include "ns.pb-c.h"
#include "proc/tree.h"
#include "util.h"

/* The cgroup namespace holds nothing to save: its root is the cgroup the
 * restored root is in when it unshares (put there first by the cgroup code). */
static int cgroup_dump(struct img_dir *dir, pid_t pid, const struct ns_args *a)
{
	(void)dir, (void)pid, (void)a;
	return 0;
}

static int cgroup_restore(void *state, const struct ns_args *a)
{
	(void)state, (void)a;
	if (unshare(CLONE_NEWCGROUP))
		return pr_perror("can't create a cgroup namespace");
	return 0;
}

const struct ns_kind ns_kind_cgroup = { "cgroup", CLONE_NEWCGROUP, cgroup_dump, NULL, cgroup_restore, NULL };

/* Restore order (see the top of this file).  The network and time namespaces
 * (net.c, time.c) are made before this table runs, by hooks of their own in
 * restore.c; a row here would do as well (dump, load, restore, free). */
static const struct ns_kind *const kinds[] = { &ns_kind_uts, &ns_kind_cgroup, &ns_kind_mnt };

int ns_ino(pid_t pid, const char *kind, uint64_t *ino)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, kind);
	if (stat(path, &st))
		return pr_perror("can't read the %s namespace of pid %d", kind, pid);
	*ino = st.st_ino;
	return 0;
}

int ns_own(pid_t pid, const char *kind)
{
	uint64_t theirs, ours;
	int ret = ns_ino(pid, kind, &theirs) ?: ns_ino(getpid(), kind, &ours);

	return ret ? ret : theirs != ours;
}

int ns_same(pid_t a, pid_t b, const char *kind)
{
	uint64_t x, y;
	int ret = ns_ino(a, kind, &x) ?: ns_ino(b, kind, &y);

	return ret ? ret : x == y;
}

int ns_stat_path(pid_t pid, const char *path, struct stat *st)
{
	char where[4200];

	if (ns_own(pid, "mnt") != 1)
		return stat(path, st);
	snprintf(where, sizeof(where), "/proc/%d/root%s", pid, path);
	return stat(where, st);
}

int ns_fd_in_tree(pid_t pid, const char *fdinfo)
{
	const char *m = fdinfo ? strstr(fdinfo, "mnt_id:") : NULL;
	char *info, *line, *save;
	int id, found = 0;

	if (!m || ns_own(pid, "mnt") != 1)
		return 1;
	id = atoi(m + 7);
	if (!(info = read_proc(pid, "mountinfo", NULL)))
		return pr_perror("can't read the mountinfo of pid %d", pid);
	for (line = strtok_r(info, "\n", &save); line && !found; line = strtok_r(NULL, "\n", &save))
		found = atoi(line) == id;
	free(info);
	return found;
}

int ns_fd_covered(pid_t pid, const char *fdinfo, const char *path, uint32_t *mnt_id, char **rel)
{
	const char *m = fdinfo ? strstr(fdinfo, "mnt_id:") : NULL, *rest;
	char where[4200], *info, *line, *save, mp[4096];
	struct statx st;
	int id, found = 0;

	if (!m || ns_own(pid, "mnt") != 1)
		return 0;
	id = atoi(m + 7);
	/* its path leads into the same mount: a file replaced or removed there, not covered */
	snprintf(where, sizeof(where), "/proc/%d/root%s", pid, path);
	if (!statx(AT_FDCWD, where, AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &st) && (int)st.stx_mnt_id == id)
		return 0;
	if (!(info = read_proc(pid, "mountinfo", NULL)))
		return pr_perror("can't read the mountinfo of pid %d", pid);
	for (line = strtok_r(info, "\n", &save); line && !found; line = strtok_r(NULL, "\n", &save))
		found = atoi(line) == id && sscanf(line, "%*u %*u %*u:%*u %*s %4095s", mp) == 1;
	free(info);
	/* (a mount point with a space in it is escaped: not matched, and the file saved whole) */
	size_t l = found && strcmp(mp, "/") ? strlen(mp) : 0;
	if (!found || strncmp(path, mp, l) || (path[l] && path[l] != '/'))
		return 0;
	rest = path + l;
	while (*rest == '/')
		rest++;
	if (!(*rel = strdup(rest)))
		return -ENOMEM;
	*mnt_id = id;
	return 1;
}

bool ns_nestable(const char *kind)
{
	return !strcmp(kind, "uts") || !strcmp(kind, "net") || !strcmp(kind, "ipc") || !strcmp(kind, "cgroup") ||
	       !strcmp(kind, "time") || !strcmp(kind, "mnt");
}

int ns_check_tree(const struct tree *t, const char *kind, const char *label)
{
	pid_t root = t->tasks[0].s.pid;
	uint64_t ns, other;
	int ret = ns_ino(root, kind, &ns);

	for (int i = 1; i < t->nr && !ret; i++) {
		pid_t pid = t->tasks[i].s.pid;

		if (t->tasks[i].zombie || (ret = ns_ino(pid, kind, &other)) || other == ns)
			continue;
		int own = ns_own(root, kind);
		return pr_err("pid %d is in another %s namespace than the root of the tree (pid %d)%s: nested %s "
			      "namespaces are not supported (only the uts, net, ipc, cgroup, time and mnt namespaces of the tree's "
			      "processes may differ from the root's)",
			      pid, label, root, own == 0 ? ", which shares ours" : "", label), -EOPNOTSUPP;
	}
	return ret;
}

int ns_dump(struct img_dir *dir, const struct tree *t, const struct ns_args *a)
{
	NsEntry e = NS_ENTRY__INIT;
	char *names[ARRAY_SIZE(kinds)];
	int ret;

	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
		const struct ns_kind *k = kinds[i];
		int own = ns_own(t->tasks[0].s.pid, k->name);

		if (own < 0)
			return own;
		if (!ns_nestable(k->name) && (ret = ns_check_tree(t, k->name, k->name)))
			return ret;
		if (!own)
			continue;
		pr_info("the tree has its own %s namespace", k->name);
		if ((ret = k->dump(dir, t->tasks[0].s.pid, a)))
			return ret;
		names[e.n_kinds++] = (char *)k->name;
	}
	if (a->nested && (ret = nested_dump_list(a->nested, &e.nested, &e.n_nested)))
		return ret;
	e.kinds = names;
	ret = e.n_kinds || e.n_nested ? img_write_one(dir, IMG_NS, 0, &e.base) : 0;
	if (e.nested) {
		free(e.nested[0]);   /* the array of records nested_dump_list made */
		free(e.nested);
	}
	return ret;
}

static const struct ns_kind *kind_by_name(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++)
		if (!strcmp(kinds[i]->name, name))
			return kinds[i];
	return NULL;
}

bool ns_has(const struct ns_set *set, const char *kind)
{
	for (size_t i = 0; i < set->nr; i++)
		if (!strcmp(set->kinds[i]->name, kind))
			return true;
	return false;
}

int ns_load(struct img_dir *dir, struct ns_set *set)
{
	NsEntry *e;
	struct img *img;
	int ret;

	memset(set, 0, sizeof(*set));
	if (faccessat(dir->dfd, img_desc(IMG_NS)->name, F_OK, 0))
		return 0;   /* the tree shared every namespace of the table with its dumper */
	if (!(img = img_open(dir, IMG_NS, 0)))
		return -EIO;
	ret = img_read_one(img, &ns_entry__descriptor, (ProtobufCMessage **)&e);
	img_close(img);
	if (ret)
		return ret;
	for (size_t i = 0; i < e->n_kinds && !ret; i++) {
		const struct ns_kind *k = kind_by_name(e->kinds[i]);
		if (!k || ns_has(set, k->name) || set->nr == NS_MAX_KINDS)
			ret = (pr_err("ns.img: namespace kind \"%s\" is unknown to this libcr or listed twice",
				      e->kinds[i]), -EINVAL);
		else
			set->kinds[set->nr++] = k;
	}
	if (!ret)
		ret = nested_load(dir, e->nested, e->n_nested, &set->nested);
	img_free_msg(&e->base);
	/* each kind in table order, whatever order the image lists them in */
	for (size_t i = 0, n = 0; !ret && i < ARRAY_SIZE(kinds); i++)
		if (ns_has(set, kinds[i]->name))
			set->kinds[n++] = kinds[i];
	for (size_t i = 0; !ret && i < set->nr; i++)
		if (set->kinds[i]->load)
			ret = set->kinds[i]->load(dir, &set->state[i]);
	return ret;
}

void ns_free(struct ns_set *set)
{
	for (size_t i = 0; i < set->nr; i++)
		if (set->kinds[i]->free && set->state[i])
			set->kinds[i]->free(set->state[i]);
	nested_free(&set->nested);
	memset(set, 0, sizeof(*set));
}

int ns_restore(const struct ns_set *set, const struct ns_args *a)
{
	int ret;

	for (size_t i = 0; i < set->nr; i++)
		if ((ret = set->kinds[i]->restore(set->state[i], a)))
			return ret;
	return 0;
}

/* Dump of the tree's own mount namespace: every mount of the root task's
 * mountinfo, parents before children, each with how it is made again:
 *  - a second mount of a filesystem mounted earlier in the tree: a bind of it;
 *  - a directory or file of a filesystem the host has mounted too (the
 *    container's rootfs, a volume, every mount of a mere copy of our mount
 *    namespace): bound from the same place on the host again;
 *  - else proc, sysfs, devpts, mqueue, cgroup, cgroup2, tmpfs (its files saved):
 *    a new filesystem of the type, with its options;
 *  - one the caller names with --external mnt[MOUNTPOINT]:NAME: left out, its
 *    path given at restore.
 * Anything else (an overlayfs only the tree has, a FUSE mount...) fails the dump.
 * A nested namespace that pivot_rooted (its root mount is not its parent's copy:
 * a container started by a process of the tree) has every mount made again:
 * besides the above, a bind of a directory its parent's namespace shows (the
 * container's rootfs, /usr bound in: parent_path) and an overlayfs over
 * directories of its parent's namespace; what was left of its old root is
 * mounts like the others, or nothing if it was detached. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "cr/cr.h"
#include "image/image.h"
#include "log.h"
#include "ns/mnt.h"
#include "ns/ns.h"
#include "proc/proc.h"
#include "util.h"

static const char *const new_fs_types[] = { "tmpfs", "proc", "sysfs", "devpts", "mqueue", "cgroup", "cgroup2" };
/* never made anew: only a bind of the host's own mount of one (or --external) */
static const char *const refused_types[] = { "overlay", "fuse", "aufs", "nfs", "nfs4", "cifs" };

static bool in_list(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(s, list[i]) || (!strcmp(list[i], "fuse") && !strncmp(s, "fuse.", 5)))
			return true;
	return false;
}

/* Is prefix a leading part of path, on a component boundary?  The rest in *rest. */
static bool path_under(const char *path, const char *prefix, const char **rest)
{
	size_t l = strlen(prefix);

	if (!strcmp(prefix, "/")) {
		*rest = path;
		return true;
	}
	if (strncmp(path, prefix, l) || (path[l] && path[l] != '/'))
		return false;
	*rest = path[l] ? path + l : "/";
	return true;
}

/* Parents before children, from the root (the mount whose parent is not listed). */
static int order_mounts(const struct mountinfo *m, size_t n, size_t *order)
{
	size_t nr = 0, roots = 0;

	for (size_t i = 0; i < n; i++) {
		bool has_parent = false;
		for (size_t j = 0; j < n && !has_parent; j++)
			has_parent = j != i && m[j].id == m[i].parent;
		if (!has_parent) {
			order[nr++] = i;
			roots++;
		}
	}
	if (roots != 1 || strcmp(m[order[0]].mountpoint, "/"))
		return pr_err("the tree's mount namespace has %zu top mounts (want one, at /)", roots), -EOPNOTSUPP;
	for (size_t k = 0; k < nr; k++)
		for (size_t j = 0; j < n; j++)
			if (m[j].parent == m[order[k]].id && j != order[k])
				order[nr++] = j;
	if (nr != n)
		return pr_err("the tree's mountinfo is not one tree of mounts"), -EIO;
	return 0;
}

/* Where the host (our own mount namespace) shows this part of the filesystem,
 * if it exists there still: a malloc'ed path, or NULL. */
static char *host_path_of(const struct mountinfo *mi, const struct mountinfo *host, size_t nh)
{
	const struct mountinfo *best = NULL;
	const char *rest = NULL, *r;

	for (size_t i = 0; i < nh; i++)
		if (host[i].major == mi->major && host[i].minor == mi->minor && path_under(mi->root, host[i].root, &r) &&
		    (!best || strlen(host[i].root) > strlen(best->root))) {
			best = &host[i];
			rest = r;
		}
	if (!best)
		return NULL;
	char *path = malloc(strlen(best->mountpoint) + strlen(rest) + 2);
	struct stat st;
	if (!path)
		return NULL;
	sprintf(path, "%s%s", best->mountpoint, strcmp(rest, "/") ? rest : "");
	if (!strcmp(best->mountpoint, "/") && strcmp(rest, "/"))
		strcpy(path, rest);
	if (stat(path, &st) || major(st.st_dev) != mi->major || minor(st.st_dev) != mi->minor) {
		free(path);
		return NULL;
	}
	return path;
}

/* A pivoted nested namespace's view of its parent's (base_pid's) namespace. */
struct parent_view {
	pid_t pid, base_pid;
	const struct mountinfo *b;
	size_t nb;
};

static bool nested_root_dumped;

bool mnt_dump_nested_root_used(void)
{
	return nested_root_dumped;
}

void mnt_dump_reset(void)
{
	nested_root_dumped = false;
}

/* The same file: path under /proc/<pid>/root (that mount, if reach: its id). */
static bool same_file(pid_t pid, const char *path, uint32_t reach, const struct statx *want)
{
	char where[4300];
	struct statx st;

	/* (path "/": /proc/PID/root/, through the link) */
	snprintf(where, sizeof(where), "/proc/%d/root%s", pid, path);
	if (statx(AT_FDCWD, where, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS | STATX_MNT_ID, &st))
		return false;
	if (reach)
		return (st.stx_mask & STATX_MNT_ID) && st.stx_mnt_id == reach;
	return st.stx_dev_major == want->stx_dev_major && st.stx_dev_minor == want->stx_dev_minor &&
	       (!want->stx_ino || st.stx_ino == want->stx_ino);
}

/* Where the parent's namespace shows the part of the filesystem mounted at mi (a
 * malloc'ed path), or NULL: the same device, a mount whose root holds mi's, and
 * that path leading to the same directory or file there. */
static char *parent_path_of(const struct mountinfo *mi, const struct parent_view *pv)
{
	struct statx want = { .stx_dev_major = mi->major, .stx_dev_minor = mi->minor };
	const struct mountinfo *best = NULL;
	char *path = NULL;

	/* the inode mounted there, if its path still reaches this mount */
	if (same_file(pv->pid, mi->mountpoint, mi->id, &want)) {
		char where[4300];
		struct statx st;
		snprintf(where, sizeof(where), "/proc/%d/root%s", pv->pid, mi->mountpoint);
		if (!statx(AT_FDCWD, where, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &st))
			want.stx_ino = st.stx_ino;
	}
	for (size_t i = 0; i < pv->nb; i++) {
		const struct mountinfo *b = &pv->b[i];
		const char *rest;
		char *p;

		if (b->major != mi->major || b->minor != mi->minor || !path_under(mi->root, b->root, &rest) ||
		    (best && strlen(b->root) <= strlen(best->root)))
			continue;
		if (asprintf(&p, "%s%s", strcmp(b->mountpoint, "/") ? b->mountpoint : "",
			     strcmp(rest, "/") ? rest : (strcmp(b->mountpoint, "/") ? "" : "/")) < 0)
			return free(path), NULL;
		if (!same_file(pv->base_pid, p, 0, &want)) {
			free(p);
			continue;
		}
		free(path);
		path = p;
		best = b;
	}
	return path;
}

/* An overlayfs of a pivoted nested namespace is made again over the same
 * directories, which its parent's namespace must show: 0 or an error. */
static int overlay_check(const struct mountinfo *mi, const struct parent_view *pv)
{
	static const char *const keys[] = { "lowerdir=", "upperdir=", "workdir=" };
	char *opts = mi->options ? strdup(mi->options) : NULL, *save, *o;
	int ret = 0, lower = 0;

	if (!opts)
		return mi->options ? -ENOMEM : (pr_err("pid %d: the overlayfs at %s has no options", pv->pid,
						       mi->mountpoint), -EOPNOTSUPP);
	for (o = strtok_r(opts, ",", &save); o && !ret; o = strtok_r(NULL, ",", &save))
		for (size_t k = 0; k < ARRAY_SIZE(keys) && !ret; k++) {
			char *dirs, *d, *dsave;
			if (strncmp(o, keys[k], strlen(keys[k])))
				continue;
			lower += !k;
			dirs = o + strlen(keys[k]);
			for (d = strtok_r(dirs, ":", &dsave); d && !ret; d = strtok_r(NULL, ":", &dsave)) {
				char where[4300];
				struct stat st;
				snprintf(where, sizeof(where), "/proc/%d/root%s", pv->base_pid, d);
				if (*d != '/' || strchr(d, '\\') || !path_is_clean(d) || stat(where, &st) ||
				    !S_ISDIR(st.st_mode))
					ret = (pr_err("pid %d: the overlayfs at %s of its nested mount namespace has %s%s, which "
						      "is no directory its parent's namespace (pid %d) shows: not supported",
						      pv->pid, mi->mountpoint, keys[k], d, pv->base_pid), -EOPNOTSUPP);
			}
		}
	if (!ret && !lower)
		ret = (pr_err("pid %d: the overlayfs at %s of its nested mount namespace has no lowerdir", pv->pid,
			      mi->mountpoint), -EOPNOTSUPP);
	free(opts);
	return ret;
}

static const char *external_of(const char *mountpoint, const struct ns_args *a)
{
	for (size_t i = 0; i < a->nr_ext; i++) {
		const char *k = a->ext[i].key;
		size_t l = strlen(mountpoint);
		if (!strncmp(k, "mnt[", 4) && !strncmp(k + 4, mountpoint, l) && !strcmp(k + 4 + l, "]"))
			return a->ext[i].value;
	}
	return NULL;
}

/* How mount k of the order is made again; 0, or an error naming it.  pv: the
 * parent's namespace of a nested one that pivot_rooted (else NULL). */
static int classify(MntEntry *e, const struct mountinfo *m, const size_t *order, size_t k,
		    const struct mountinfo *host, size_t nh, const struct ns_args *a, const struct parent_view *pv)
{
	const struct mountinfo *mi = &m[order[k]];
	const char *ext = external_of(mi->mountpoint, a), *rest;

	e->has_how = true;
	if (ext) {
		e->how = MNT_HOW_EXTERNAL;
		e->ext_key = (char *)ext;
		return 0;
	}
	/* a filesystem already mounted in the tree, this part of it under that mount's root */
	for (size_t j = 0; j < k; j++) {
		const struct mountinfo *src = &m[order[j]];
		if (src->major == mi->major && src->minor == mi->minor && path_under(mi->root, src->root, &rest)) {
			e->how = MNT_HOW_BIND;
			e->has_bind_of = true;
			e->bind_of = src->id;
			return 0;
		}
	}
	/* a pivoted nested namespace: what its parent's namespace shows (the
	 * container's rootfs, /usr bound in, the old root kept), bound from there */
	if (pv && (e->parent_path = parent_path_of(mi, pv))) {
		e->how = MNT_HOW_PARENT;
		return 0;
	}
	if (pv && !strcmp(mi->fstype, "overlay")) {
		e->how = MNT_HOW_FS;
		return overlay_check(mi, pv);
	}
	/* the same filesystem mounted on the host (a copy of our mount namespace shares
	 * them, a container's volumes too): bound from there, so that it stays shared --
	 * whatever its type: an overlayfs of another container the host has mounted is
	 * the host's, not the tree's */
	if ((e->host_path = host_path_of(mi, host, nh))) {
		e->how = MNT_HOW_HOST;
		return 0;
	}
	if (k && in_list(mi->fstype, refused_types, ARRAY_SIZE(refused_types)))
		return pr_err("mount %s (%s) can't be checkpointed: an %s filesystem inside the tree is not "
			      "supported; name it with --external mnt[%s]:NAME and bind it at restore",
			      mi->mountpoint, mi->fstype, mi->fstype, mi->mountpoint), -EOPNOTSUPP;
	if (in_list(mi->fstype, new_fs_types, ARRAY_SIZE(new_fs_types)) && !strcmp(mi->root, "/")) {
		e->how = MNT_HOW_FS;
		return 0;
	}
	e->how = MNT_HOW_HOST;
	if (pv && !k)
		return pr_err("pid %d: the root mount of its nested mount namespace (%s, %s of device %u:%u) is neither a "
			      "filesystem libcr can make again nor a part of one its parent's namespace (pid %d) or the "
			      "host has: not supported", pv->pid, mi->fstype, mi->root, mi->major, mi->minor, pv->base_pid),
		       -EOPNOTSUPP;
	/* the root may come from the caller at restore (--root) */
	if (k)
		return pr_err("mount %s (%s, %s of device %u:%u) is neither a filesystem libcr can make again nor "
			      "a part of one mounted in the tree or on the host; name it with --external mnt[%s]:NAME",
			      mi->mountpoint, mi->fstype, mi->root, mi->major, mi->minor, mi->mountpoint), -EOPNOTSUPP;
	return 0;
}

/* The mount of base (parents mapped in bmap) that nested mount k is the copy of:
 * same filesystem, root, type and mount point, on the copy of the same parent. */
static int base_copy(const struct mountinfo *m, const size_t *order, size_t k, const int *bmap,
		     const struct mountinfo *b, size_t nb, const size_t *border)
{
	const struct mountinfo *mi = &m[order[k]];
	int parent = -1;

	if (k) {
		for (size_t j = 0; j < k && parent < 0; j++)
			if (m[order[j]].id == mi->parent)
				parent = bmap[j];
		if (parent < 0)
			return -1;
	}
	for (size_t i = 0; i < nb; i++) {
		const struct mountinfo *bi = &b[border[i]];
		if ((k ? bi->parent == b[border[parent]].id : !i) && bi->major == mi->major &&
		    bi->minor == mi->minor && !strcmp(bi->root, mi->root) && !strcmp(bi->mountpoint, mi->mountpoint) &&
		    !strcmp(bi->fstype, mi->fstype))
			return i;
	}
	return -1;
}

static bool has_group(const struct mountinfo *m, size_t n, uint32_t group)
{
	for (size_t i = 0; group && i < n; i++)
		if (m[i].shared == group)
			return true;
	return false;
}

/* A nested namespace's mount that may not be made again: one whose peer group
 * reaches outside it (what it mounts would propagate out), or one made on a
 * mount that another covers (it could not be reached by its path). */
static int nested_check(const struct mountinfo *m, size_t n, const size_t *order, size_t k, const MntEntry *e,
			const struct mountinfo *b, size_t nb, const struct mountinfo *host, size_t nh, pid_t pid)
{
	const struct mountinfo *mi = &m[order[k]];

	if (mi->shared && (has_group(b, nb, mi->shared) || has_group(host, nh, mi->shared)))
		return pr_err("pid %d: mount %s of its nested mount namespace is shared with a mount outside it "
			      "(peer group %u): not supported; make it private or a slave (mount --make-rslave)",
			      pid, mi->mountpoint, mi->shared), -EOPNOTSUPP;
	if (e->inherited)
		return 0;
	/* its parent, overmounted by another (not by this one) */
	const struct mountinfo *p = NULL;
	for (size_t j = 0; j < n && !p; j++)
		if (m[j].id == mi->parent)
			p = &m[j];
	for (size_t i = 0; p && i < n; i++)
		if (m[i].parent == p->id && m[i].id != mi->id && !strcmp(m[i].mountpoint, p->mountpoint))
			return pr_err("pid %d: mount %s of its nested mount namespace is on %s, which another "
				      "mount covers: not supported", pid, mi->mountpoint, p->mountpoint), -EOPNOTSUPP;
	return 0;
}

/* Is the proc mounted at mp in pid's namespace of pid's own pid namespace (the one
 * it mounts a proc of at restore)?  pid has its PID there in it, as the same process. */
static int proc_is_own(pid_t pid, const char *mp)
{
	char *status = read_proc(pid, "status", NULL), path[4300], own_ns[64];
	pid_t own = pid;
	struct stat a, b;

	if (!status)
		return pr_perror("can't read the status of pid %d", pid);
	proc_nspid(status, &own);
	free(status);
	snprintf(path, sizeof(path), "/proc/%d/root%s/%d/ns/pid", pid, strcmp(mp, "/") ? mp : "", own);
	snprintf(own_ns, sizeof(own_ns), "/proc/%d/ns/pid", pid);
	return !stat(path, &a) && !stat(own_ns, &b) && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* The mounts of pid's namespace into image kind (id): base_pid's namespace is
 * the one a nested one is compared with (0: pid's is the tree's own). */
static int dump_table(struct img_dir *dir, pid_t pid, pid_t base_pid, int kind, uint32_t id,
		      const struct ns_args *a)
{
	struct mountinfo *m = NULL, *host = NULL, *b = NULL;
	size_t n = 0, nh = 0, nb = 0, *order = NULL, *border = NULL;
	int *bmap = NULL;
	MntEntry *e = NULL;
	struct img *img = NULL;
	struct parent_view pv = { pid, base_pid, NULL, 0 }, *pivoted = NULL;
	int ret;

	if ((ret = mountinfo_read(pid, &m, &n)) || (ret = mountinfo_read(0, &host, &nh)) ||
	    (base_pid && (ret = mountinfo_read(base_pid, &b, &nb))))
		goto out;
	if (!(order = calloc(n, sizeof(*order))) || !(e = calloc(n, sizeof(*e))) ||
	    !(bmap = calloc(n, sizeof(*bmap))) || (nb && !(border = calloc(nb, sizeof(*border))))) {
		ret = -ENOMEM;
		goto out;
	}
	if ((ret = order_mounts(m, n, order)) || (nb && (ret = order_mounts(b, nb, border))))
		goto out;
	for (size_t k = 0; k < n && !ret; k++) {
		const struct mountinfo *mi = &m[order[k]];
		char path[4200];
		struct stat st;

		mnt_entry__init(&e[k]);
		e[k].mnt_id = mi->id;
		e[k].parent_id = k ? mi->parent : 0;
		e[k].dev_major = mi->major;
		e[k].dev_minor = mi->minor;
		e[k].root = mi->root;
		e[k].mountpoint = mi->mountpoint;
		e[k].flags = mi->flags;
		e[k].fstype = mi->fstype;
		e[k].source = mi->source;
		e[k].options = mi->options;
		e[k].has_sb_ro = e[k].sb_ro = mi->sb_ro;
		e[k].has_shared_id = !!mi->shared;
		e[k].shared_id = mi->shared;
		e[k].has_master_id = !!mi->master;
		e[k].master_id = mi->master;
		snprintf(path, sizeof(path), "/proc/%d/root%s", pid, mi->mountpoint);
		e[k].has_is_dir = true;
		e[k].is_dir = stat(path, &st) || S_ISDIR(st.st_mode);
		if (base_pid) {
			bmap[k] = base_copy(m, order, k, bmap, b, nb, border);
			e[k].has_inherited = e[k].inherited = bmap[k] >= 0;
			e[k].has_master_outside = e[k].master_outside = mi->master && !has_group(m, n, mi->master);
			/* another root than its parent's: it pivot_rooted, every mount is made */
			if (!k && !e[k].inherited) {
				pr_debug("pid %d: its nested mount namespace has another root mount (%s of device %u:%u, "
					 "%s) than its parent's (pid %d)", pid, mi->root, mi->major, mi->minor, mi->fstype,
					 base_pid);
				pv.b = b;
				pv.nb = nb;
				pivoted = &pv;
			}
			if ((ret = nested_check(m, n, order, k, &e[k], b, nb, host, nh, pid)))
				break;
			if (e[k].inherited) {
				pr_debug("pid %d: mount %u %s is its parent's", pid, mi->id, mi->mountpoint);
				continue;
			}
		}
		if ((ret = classify(&e[k], m, order, k, host, nh, a, pivoted)))
			break;
		pr_debug("mount %u %s (%s, root %s): how %u", mi->id, mi->mountpoint, mi->fstype, mi->root, e[k].how);
		/* its maker mounts it again, of its own pid namespace */
		if (base_pid && e[k].how == MNT_HOW_FS && !strcmp(mi->fstype, "proc") &&
		    (ret = proc_is_own(pid, mi->mountpoint)) <= 0) {
			if (!ret)
				ret = (pr_err("pid %d: the proc at %s of its nested mount namespace shows another pid "
					      "namespace than pid %d's own (unshare -p -f --mount-proc): not supported",
					      pid, mi->mountpoint, pid), -EOPNOTSUPP);
			break;
		}
		ret = 0;
		if (e[k].how == MNT_HOW_FS && !strcmp(mi->fstype, "tmpfs"))
			ret = tmpfs_dump(dir, pid, &e[k]);
	}
	if (ret)
		goto out;
	if (!(img = img_create(dir, kind, id))) {
		ret = -EIO;
		goto out;
	}
	for (size_t k = 0; k < n && !ret; k++)
		ret = img_write_msg(img, &e[k].base);
	if (ret)
		img_close(img);
	else
		ret = img_close_write(img);
	nested_root_dumped |= !ret && pivoted;
out:
	for (size_t k = 0; e && k < n; k++) {
		if (e[k].how == MNT_HOW_HOST)
			free(e[k].host_path);
		free(e[k].parent_path);
	}
	free(e);
	free(order);
	free(border);
	free(bmap);
	mountinfo_free(m, n);
	mountinfo_free(host, nh);
	mountinfo_free(b, nb);
	return ret;
}

int mnt_dump(struct img_dir *dir, pid_t pid, const struct ns_args *a)
{
	return dump_table(dir, pid, 0, IMG_MNTS, 0, a);
}

int mnt_nested_dump(struct img_dir *dir, pid_t pid, pid_t base_pid, uint32_t id, const struct ns_args *a)
{
	return dump_table(dir, pid, base_pid, IMG_MNTS_N, id, a);
}

/* Restore of a mount namespace nested below the root's: a process of the tree
 * that did unshare(CLONE_NEWNS) and then changed its mounts (systemd's
 * PrivateTmp, a sandbox's tmpfs and read-only binds, `unshare -m`).  The dump
 * (mnt-dump.c) recorded each of its mounts either as inherited -- the copy of
 * its parent's namespace's mount at the same place -- or as one to make, like
 * the root's.  Its maker (nested.c), right after its fork, does what the
 * process did:
 *  - unshare(CLONE_NEWNS), a copy of its parent's namespace, made a slave at
 *    once (nothing done in it propagates back to the parent's or the host's);
 *    one a nested user namespace owns is a copy of that made there, once the
 *    mounts below are gone (they would be locked in it);
 *  - each inherited mount found in the copy (by its parent and mount point);
 *    every mount of the copy that none is, unmounted (children first);
 *  - every other mount made as mnt-restore.c makes the root's, parents first,
 *    at its own path (no staging: the copy is the tree already);
 *  - the files of its processes under mounts that others cover (kept_files of
 *    mnt-restore.c) opened as soon as their mount is there, for the maker and
 *    its descendants;
 *  - per-mount flags where they differ, then propagation: private, peer groups
 *    of its own (joined through MOVE_MOUNT_SET_GROUP), slaves of those, or the
 *    slave of its parent's namespace that the copy is.
 * One whose root mount is not inherited (it pivot_rooted) is mnt-pivot.c's. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "log.h"
#include "ns/mnt.h"
#include "ns/ns.h"
#include "util.h"

/* Is live mount i the top one of the copy (its parent not in it)? */
static bool is_top(const struct mountinfo *m, size_t n, size_t i)
{
	for (size_t j = 0; j < n; j++)
		if (j != i && m[j].id == m[i].parent)
			return false;
	return true;
}

/* Does path lead to live mount id (not to another covering it)? */
static bool reaches(const char *path, uint32_t id)
{
	struct statx st;

	return !statx(AT_FDCWD, path, AT_NO_AUTOMOUNT, STATX_MNT_ID, &st) && (st.stx_mask & STATX_MNT_ID) &&
	       st.stx_mnt_id == id;
}

/* Each inherited record's mount in the copy (live[k]: its index in m, -1 for one
 * to make, -2 for one left out). */
static int find_copies(const struct mnt_state *s, const struct mountinfo *m, size_t n, int *live, bool *used,
		       pid_t pid)
{
	for (size_t k = 0; k < s->nr; k++) {
		const MntEntry *e = s->e[k];
		int pl = k ? live[mnt_index_of(s, k, e->parent_id)] : -1;

		live[k] = -1;
		if (k && pl == -2) {
			if (!e->inherited)
				return pr_err("pid %d: mount %s of its nested mount namespace is on one that is gone",
					      pid, e->mountpoint), -ENOENT;
			live[k] = -2;
			continue;
		}
		if (!e->inherited)
			continue;
		for (size_t i = 0; i < n && live[k] < 0; i++)
			if (!used[i] && (k ? (pl >= 0 && m[i].parent == m[pl].id) : is_top(m, n, i)) &&
			    !strcmp(m[i].mountpoint, e->mountpoint) && !strcmp(m[i].fstype, e->fstype)) {
				live[k] = i;
				used[i] = true;
			}
		/* one of its parent's namespace (the host's, a mount its propagation brought in)
		 * gone from there since: not the tree's to keep */
		if (live[k] < 0 && k) {
			pr_warn("pid %d: mount %s (%s) came from its parent's mount namespace, which lacks it now: "
				"left out", pid, e->mountpoint, e->fstype);
			live[k] = -2;
		} else if (live[k] < 0) {
			return pr_err("pid %d: the root mount (%s) of its nested mount namespace is not its parent's "
				      "now", pid, e->fstype), -ENOENT;
		}
	}
	return 0;
}

/* The copy's mounts the namespace did not have: unmounted, children first. */
static int unmount_others(const struct mountinfo *m, size_t n, bool *used, pid_t pid)
{
	bool progress = true;

	while (progress) {
		progress = false;
		for (size_t i = n; i-- > 0;) {
			bool busy = false;

			if (used[i])
				continue;
			for (size_t j = 0; j < n && !busy; j++)
				busy = !used[j] && j != i && m[j].parent == m[i].id;
			if (busy)
				continue;
			if (!reaches(m[i].mountpoint, m[i].id))
				return pr_err("pid %d: mount %s of its parent's namespace, which its own lacks, is covered "
					      "by another: not supported", pid, m[i].mountpoint), -EOPNOTSUPP;
			if (umount2(m[i].mountpoint, MNT_DETACH))
				return pr_perror("pid %d: can't unmount %s, which its nested mount namespace lacks", pid,
						 m[i].mountpoint);
			used[i] = progress = true;
		}
	}
	return 0;
}

static int set_group(int from, int to, const char *mp)
{
	if (syscall(SYS_move_mount, from, "", to, "",
		    MOVE_MOUNT_SET_GROUP | MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH))
		return pr_perror("can't put mount %s in its peer group", mp);
	return 0;
}

static int leader(const struct mnt_state *s, uint32_t group)
{
	for (size_t k = 0; group && k < s->nr; k++)
		if (s->e[k]->has_shared_id && s->e[k]->shared_id == group)
			return k;
	return -1;
}

/* shared:N and master:M as the dump saw them; each group's first mount is its
 * leader, a master's leader is set up before its slaves. */
int mnt_nested_propagation(const struct mnt_state *s, const int *mfd, pid_t pid)
{
	bool *done = calloc(s->nr, sizeof(bool)), progress = true;
	size_t left = s->nr;
	int ret = 0;

	if (!done)
		return -ENOMEM;
	for (size_t k = 0; k < s->nr && !ret; k++) {
		/* an inherited mount another covers: left as the copy is (a slave, or private) */
		if (mfd[k] < 0) {
			pr_debug("pid %d: mount %s is covered: its propagation is the copy's", pid, s->e[k]->mountpoint);
			done[k] = true;
			left--;
		} else if (!(s->e[k]->has_master_id && s->e[k]->master_outside)) {
			ret = mnt_set_propagation(mfd[k], MS_PRIVATE, s->e[k]->mountpoint);
		}
	}
	while (!ret && left && progress) {
		progress = false;
		for (size_t k = 0; k < s->nr && !ret; k++) {
			const MntEntry *e = s->e[k];
			uint32_t group = e->has_shared_id ? e->shared_id : 0;
			int l = leader(s, group), ml = -1;

			if (done[k])
				continue;
			if (e->has_master_id && e->master_id && !e->master_outside) {
				if ((ml = leader(s, e->master_id)) < 0 || ml == (int)k) {
					ret = (pr_err("pid %d: mount %s is the slave of peer group %u, which no mount of its "
						     "nested namespace is in", pid, e->mountpoint, e->master_id), -EINVAL);
					break;
				}
				if (!done[ml])
					continue;
			}
			if (l >= 0 && l != (int)k) {
				if (!done[l])
					continue;
				/* the peers of a group share its master too */
				ret = (e->master_outside ? mnt_set_propagation(mfd[k], MS_PRIVATE, e->mountpoint) : 0) ?:
				      set_group(mfd[l], mfd[k], e->mountpoint);
			} else {
				if (ml >= 0)
					ret = set_group(mfd[ml], mfd[k], e->mountpoint) ?:
					      mnt_set_propagation(mfd[k], MS_SLAVE, e->mountpoint);
				if (!ret && group)
					ret = mnt_set_propagation(mfd[k], MS_SHARED, e->mountpoint);
			}
			done[k] = progress = true;
			left--;
		}
	}
	if (!ret && left)
		ret = (pr_err("pid %d: the peer groups of its nested mount namespace are each other's slaves", pid), -EINVAL);
	free(done);
	return ret;
}

int mnt_nested_restore(void *state, pid_t pid, const struct ns_args *a, int (*owned)(void *, int *), void *arg)
{
	const struct mnt_state *s = state;
	struct mountinfo *m = NULL;
	size_t n = 0;
	int *live = calloc(s->nr, sizeof(int)), *src = calloc(s->nr, sizeof(int)), *mfd = calloc(s->nr, sizeof(int));
	bool *used = NULL;
	int ret;

	if (mnt_pivoted(s) && owned) {
		free(live);
		free(src);
		free(mfd);
		return pr_err("pid %d: its nested mount namespace %u, owned by a nested user namespace, pivot_rooted: not "
			      "supported", pid, s->id), -EOPNOTSUPP;
	}
	if (mnt_pivoted(s)) {
		free(live);
		free(src);
		free(mfd);
		return mnt_pivoted_restore(s, pid, a);
	}
	if (!live || !src || !mfd) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t k = 0; k < s->nr; k++)
		src[k] = mfd[k] = -1;
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL)) {
		ret = pr_perror("pid %d: can't make its nested mount namespace %u", pid, s->id);
		goto out;
	}
	if ((ret = mountinfo_read(0, &m, &n)))
		goto out;
	if (!(used = calloc(n, sizeof(bool)))) {
		ret = -ENOMEM;
		goto out;
	}
	if ((ret = find_copies(s, m, n, live, used, pid)) || (ret = unmount_others(m, n, used, pid)))
		goto out;
	/* One a nested user namespace owns: a copy of this one made there by a helper (its
	 * mounts locked, as the original's copy's were; the restore's own, like a new pid
	 * namespace's /proc, are gone from it already), entered, and read again. */
	if (owned) {
		int fd = -1;
		if ((ret = owned(arg, &fd)))
			goto out;
		ret = setns(fd, CLONE_NEWNS) ? pr_perror("pid %d: can't enter its nested mount namespace %u, made in "
							 "its owner", pid, s->id) : 0;
		close(fd);
		mountinfo_free(m, n);
		free(used);
		m = NULL;
		used = NULL;
		n = 0;
		if (ret || (ret = mountinfo_read(0, &m, &n)))
			goto out;
		if (!(used = calloc(n, sizeof(bool)))) {
			ret = -ENOMEM;
			goto out;
		}
		if ((ret = find_copies(s, m, n, live, used, pid)) || (ret = unmount_others(m, n, used, pid)))
			goto out;
	}
	/* the inherited mounts, before anything covers them; the sources of the others */
	for (size_t k = 0; k < s->nr && !ret; k++) {
		const MntEntry *e = s->e[k];
		const char *path;

		if (live[k] == -2)
			continue;
		if (live[k] >= 0) {
			if ((mfd[k] = open(e->mountpoint, O_PATH | O_CLOEXEC)) >= 0 && !reaches(e->mountpoint, m[live[k]].id)) {
				close(mfd[k]);
				mfd[k] = -1;
			}
			if (mfd[k] >= 0)
				ret = mnt_keep_files(e, mfd[k], a);
			continue;
		}
		if ((ret = mnt_source_of(e, k, a, &path)) || !path)
			continue;
		if ((src[k] = host_open(path, O_PATH)) < 0)
			ret = pr_perror("pid %d: can't open %s for mount %s", pid, path, e->mountpoint);
	}
	for (size_t k = 0; k < s->nr && !ret; k++) {
		const MntEntry *e = s->e[k];
		int j = e->how == MNT_HOW_BIND ? mnt_index_of(s, k, e->bind_of) : -1;

		if (live[k] != -1)
			continue;
		if (j >= 0 && mfd[j] < 0)
			ret = (pr_err("pid %d: mount %s binds a part of %s, which another mount covers: not supported",
				     pid, e->mountpoint, s->e[j]->mountpoint), -EOPNOTSUPP);
		else
			ret = mnt_make(s, k, src, mfd, "") ?: mnt_keep_files(e, mfd[k], a);
	}
	for (size_t k = s->nr; !ret && k-- > 0;) {
		const MntEntry *e = s->e[k];

		if (live[k] == -2 || (live[k] >= 0 && m[live[k]].flags == e->flags))
			continue;
		if (mfd[k] < 0)
			ret = (pr_err("pid %d: mount %s has other flags than its parent's, and another mount covers it: "
				     "not supported", pid, e->mountpoint), -EOPNOTSUPP);
		else
			ret = mnt_set_flags(e, mfd[k]);
	}
	if (!ret)
		ret = mnt_nested_propagation(s, mfd, pid);
out:
	mnt_fds_free(src, mfd, s->nr);
	free(live);
	free(used);
	mountinfo_free(m, n);
	return ret;
}

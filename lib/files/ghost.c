/* Ghosts: files the dump saves whole because no path leads to them any more.
 * A regular file unlinked (or replaced by another at its path) while open or
 * mapped, and every memfd.  Saved once per inode into ghost-<pid>.img (what the
 * file was) and ghostdata-<pid>.img (its bytes, holes left out); restore
 * recreates each before memory is premapped, under its old path when that is
 * free (so /proc shows the same name), unlinks it again at once, and hands the
 * fds and memory areas that used it new opens of the recreated file.
 *
 * A ghost several processes of the tree use (Python's multiprocessing maps each
 * of its sem_open semaphores, unlinked at once, in every worker) is one file
 * again: the first user in tree order carries its bytes, the others name it by a
 * tree-wide id; the restore makes it in the root before the tree forks, and
 * every process inherits it (a kept fd, see util.h). */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <unistd.h>
#include "files/files.h"
#include "image/image.h"
#include "log.h"
#include "ns/userns.h"
#include "util.h"
#include "ns/ns.h"

#define MEMFD_NAME_MAX 249   /* memfd_create(2): longer names fail with EINVAL */

struct ghost_known {
	dev_t dev;
	ino_t ino;
	uint32_t id;
};

struct ghost_dump {
	pid_t pid;              /* as we see it; the images use the process's own PID */
	const struct share_scan *scan;  /* the tree's processes */
	struct img *img;
	struct img *data;
	uint64_t data_off;
	struct ghost_known *known;
	size_t nr;
};

int ghost_dump_open(struct ghost_dump **gp, struct img_dir *dir, pid_t pid, pid_t img_id,
		    const struct share_scan *scan)
{
	struct ghost_dump *g = xzalloc(sizeof(*g));

	if (!g)
		return -ENOMEM;
	g->pid = pid;
	g->scan = scan;
	g->img = img_create(dir, IMG_GHOST, img_id);
	g->data = g->img ? img_create(dir, IMG_GHOSTDATA, img_id) : NULL;
	*gp = g;
	return g->data ? 0 : -EIO;
}

int ghost_dump_close(struct ghost_dump *g, bool write)
{
	int ret = 0;

	if (write && g->img && g->data) {
		ret = img_close_write(g->img);
		g->img = NULL;
		ret = img_close_write(g->data) ?: ret;
		g->data = NULL;
	}
	img_close(g->img);
	img_close(g->data);
	free(g->known);
	free(g);
	return ret;
}

/* Copy [off, off+len) of fd into the data image. */
static int copy_out(struct ghost_dump *g, int fd, off_t off, uint64_t len, const char *name)
{
	while (len) {
		ssize_t n = sendfile(g->data->fd, fd, &off, len > (1UL << 30) ? (1UL << 30) : len);
		if (n <= 0)
			return n ? pr_perror("can't save the content of %s", name)
				 : (pr_err("%s shrank while it was saved", name), -EIO);
		len -= n;
		g->data_off += n;
	}
	return 0;
}

/* The runs of fd that hold data (SEEK_DATA/SEEK_HOLE), copied out. */
static int save_extents(struct ghost_dump *g, int fd, uint64_t size, GhostEntry *e)
{
	uint64_t pos = 0;

	while (pos < size) {
		off_t data = lseek(fd, pos, SEEK_DATA), hole;
		GhostExtent *x, **n;
		int ret;

		if (data < 0 && errno == ENXIO)
			break;
		if (data < 0 && errno == EINVAL)   /* no hole support: all of it */
			data = pos, hole = size;
		else if (data < 0 || (hole = lseek(fd, data, SEEK_HOLE)) < 0)
			return pr_perror("can't find the data of %s", e->name);
		if ((uint64_t)hole > size)
			hole = size;
		if ((uint64_t)data >= size)
			break;
		if (!(x = malloc(sizeof(*x))) || !(n = realloc(e->extents, (e->n_extents + 1) * sizeof(*n)))) {
			free(x);
			return -ENOMEM;
		}
		ghost_extent__init(x);
		x->off = data;
		x->len = hole - data;
		e->extents = n;
		e->extents[e->n_extents++] = x;
		if ((ret = copy_out(g, fd, data, x->len, e->name)))
			return ret;
		pos = hole;
	}
	return 0;
}

/* Does process other have the inode open (an fd) or mapped?  Only names that
 * end in " (deleted)" can be it: a ghost has no path. */
static bool uses_inode(pid_t other, const struct stat *st)
{
	char path[300], link[4096], *maps, *l;
	struct dirent *fe;
	struct stat ost;
	bool found = false;
	DIR *fds;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/fd", other);
	if ((fds = opendir(path))) {
		while (!found && (fe = readdir(fds))) {
			snprintf(path, sizeof(path), "/proc/%d/fd/%s", other, fe->d_name);
			if (fe->d_name[0] == '.' || (n = readlink(path, link, sizeof(link) - 1)) <= 0)
				continue;
			link[n] = 0;
			found = strstr(link, " (deleted)") && !stat(path, &ost) && ost.st_dev == st->st_dev &&
				ost.st_ino == st->st_ino;
		}
		closedir(fds);
	}
	if (found || !(maps = read_proc(other, "maps", NULL)))
		return found;
	for (l = maps; l && *l && !found; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		unsigned maj, min;
		unsigned long ino;
		if (sscanf(l, "%*x-%*x %*s %*x %x:%x %lu", &maj, &min, &ino) == 3)
			found = ino == st->st_ino && makedev(maj, min) == st->st_dev;
	}
	free(maps);
	return found;
}

/* Who else has the ghost open or mapped: nobody (0), processes of the tree only
 * (1: it is shared, one file for all of them again), or a process outside the
 * tree, which would be left with a file of its own: refused. */
static int other_users(struct ghost_dump *g, const struct stat *st, const char *name)
{
	struct dirent *pe;
	DIR *procs = opendir("/proc");
	int outside = 0, inside = 0;

	if (!procs)
		return pr_perror("can't list /proc");
	while (!outside && (pe = readdir(procs))) {
		int p = atoi(pe->d_name);
		if (p <= 0 || p == g->pid || p == getpid() || !uses_inode(p, st))
			continue;
		if (files_share_in_tree(g->scan, p))
			inside = p;
		else
			outside = p;
	}
	closedir(procs);
	if (outside)
		return pr_err("pid %d: %s, which no path leads to, is open or mapped in pid %d too, which is not in "
			      "the tree: it can't be checkpointed", g->pid, name, outside), -EOPNOTSUPP;
	return inside ? 1 : 0;
}

int ghost_dump_file(struct ghost_dump *g, const char *src, const struct stat *st, GhostKind kind,
		    const char *name, uint32_t *id)
{
	GhostEntry *e;
	struct ghost_known *k;
	struct statfs sfs;
	uint32_t shared_id = 0;
	bool owner = true;
	int fd, ret;

	for (size_t i = 0; i < g->nr; i++)
		if (g->known[i].dev == st->st_dev && g->known[i].ino == st->st_ino) {
			*id = g->known[i].id;
			return 0;
		}
	if (!(k = realloc(g->known, (g->nr + 1) * sizeof(*k))))
		return -ENOMEM;
	g->known = k;
	if ((ret = other_users(g, st, name)) < 0)
		return ret;
	if (ret) {
		shared_id = files_share_ghost(g->scan, st->st_dev, st->st_ino, &owner);
		if (!shared_id)
			return pr_err("pid %d: more ghosts shared between processes than an image holds", g->pid), -E2BIG;
	}
	fd = open(src, O_RDONLY | O_CLOEXEC | O_NOATIME);
	if (fd < 0 && errno == EPERM)
		fd = open(src, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return pr_perror("pid %d: can't open %s (%s) to save its content", g->pid, src, name);
	if (!fstatfs(fd, &sfs) && sfs.f_type == HUGETLBFS_MAGIC) {
		close(fd);
		return pr_err("pid %d: %s is a hugetlb memfd, which can't be checkpointed yet", g->pid, name),
		       -EOPNOTSUPP;
	}
	if (!(e = malloc(sizeof(*e)))) {
		close(fd);
		return -ENOMEM;
	}
	ghost_entry__init(e);
	e->id = g->nr + 1;
	e->kind = kind;
	e->name = strdup(name);
	e->mode = st->st_mode;
	e->uid = st->st_uid;
	e->gid = st->st_gid;
	e->size = st->st_size;
	e->mtime_ns = stat_mtime_ns(st);
	e->data_off = g->data_off;
	if (kind == GHOST_KIND__GHOST_MEMFD) {
		int seals = fcntl(fd, F_GET_SEALS);
		e->has_seals = seals > 0;
		e->seals = seals > 0 ? seals : 0;
	}
	/* a shared memfd is sealed as soon as it is made, before its users map it:
	 * F_SEAL_FUTURE_WRITE would refuse the writable maps it allowed before */
	if (shared_id && (e->seals & F_SEAL_FUTURE_WRITE)) {
		close(fd);
		img_free_msg(&e->base);
		return pr_err("pid %d: memfd %s, shared with other processes of the tree, is sealed with "
			      "F_SEAL_FUTURE_WRITE: it can't be checkpointed yet", g->pid, name), -EOPNOTSUPP;
	}
	if (shared_id) {
		e->has_shared_id = e->has_shared_owner = true;
		e->shared_id = shared_id;
		e->shared_owner = owner;
	}
	/* the bytes once, with the first user */
	ret = !e->name ? -ENOMEM : owner ? save_extents(g, fd, e->size, e) : 0;
	close(fd);
	if (!ret)
		ret = img_write_msg(g->img, &e->base);
	if (!ret) {
		/* a shared one is named by its tree-wide id: any process may make an fd of it */
		*id = shared_id ? GHOST_SHARED | shared_id : e->id;
		g->known[g->nr++] = (struct ghost_known){ st->st_dev, st->st_ino, *id };
		pr_debug("pid %d: saved %s (%lu bytes) as ghost %u", g->pid, name, (unsigned long)e->size, e->id);
	}
	img_free_msg(&e->base);
	return ret;
}

int ghost_dump_vmas(struct ghost_dump *g, pid_t pid, MmEntry *mm)
{
	for (size_t i = 0; mm && i < mm->n_vmas; i++) {
		VmaEntry *v = mm->vmas[i];
		struct stat mst, pst;
		char mf[128];
		bool memfd;
		int ret;

		if (v->kind != VMA_KIND__VMA_FILE_PRIVATE && v->kind != VMA_KIND__VMA_FILE_SHARED)
			continue;
		snprintf(mf, sizeof(mf), "/proc/%d/map_files/%lx-%lx", pid, (unsigned long)v->start,
			 (unsigned long)v->end);
		if (stat(mf, &mst))
			return pr_perror("can't stat %s (%s)", mf, v->path);
		memfd = !strncmp(v->path, "/memfd:", 7);
		/* still the file at its path: mapped again from there on restore */
		if (!memfd && !ns_stat_path(pid, v->path, &pst) && pst.st_dev == mst.st_dev && pst.st_ino == mst.st_ino)
			continue;
		if ((ret = ghost_dump_file(g, mf, &mst, memfd ? GHOST_KIND__GHOST_MEMFD : GHOST_KIND__GHOST_FILE,
					   memfd ? v->path + 7 : v->path, &v->ghost_id)))
			return ret;
		v->has_ghost_id = true;
	}
	return 0;
}

/* ---- restore */

static int validate(const GhostEntry *e, uint32_t want_id, uint64_t *data_len)
{
	uint64_t end = 0;

	if (e->id != want_id)
		return pr_err("ghost image: ghost %u out of order (expected %u)", e->id, want_id), -EINVAL;
	if (e->kind != GHOST_KIND__GHOST_FILE && e->kind != GHOST_KIND__GHOST_MEMFD)
		return pr_err("ghost image: ghost %u has unknown kind %d", e->id, e->kind), -EINVAL;
	if (e->kind == GHOST_KIND__GHOST_FILE ? !path_is_clean(e->name) || !S_ISREG(e->mode)
					      : strlen(e->name) > MEMFD_NAME_MAX)
		return pr_err("ghost image: ghost %u has a bad name or mode", e->id), -EINVAL;
	if (e->size > INT64_MAX || e->data_off != *data_len)
		return pr_err("ghost image: ghost %u has a bad size or data offset", e->id), -EINVAL;
	if ((e->has_shared_owner && !e->has_shared_id) ||
	    (e->has_shared_id && (!e->shared_id || e->shared_id >= GHOST_SHARED ||
				  (!e->shared_owner && e->n_extents))))
		return pr_err("ghost image: ghost %u (%s) is shared with a bad id, or carries bytes that are "
			      "another's", e->id, e->name), -EINVAL;
	for (size_t i = 0; i < e->n_extents; i++) {
		const GhostExtent *x = e->extents[i];
		if (!x->len || x->off < end || x->off > e->size || x->len > e->size - x->off)
			return pr_err("ghost image: ghost %u (%s): extent %zu is empty, unsorted or beyond its size",
				      e->id, e->name, i), -EINVAL;
		end = x->off + x->len;
		*data_len += x->len;
	}
	return 0;
}

int ghost_load(struct img_dir *dir, pid_t pid, struct files_image *fi)
{
	struct img *img = img_open(dir, IMG_GHOST, pid), *data;
	uint64_t data_len = 0;
	GhostEntry *e;
	struct stat st;
	int ret;

	if (!img)
		return -ENOENT;
	while ((ret = img_read_msg(img, &ghost_entry__descriptor, (ProtobufCMessage **)&e)) > 0) {
		GhostEntry **n = realloc(fi->ghosts, (fi->nr_ghosts + 1) * sizeof(*n));
		if (!n) {
			img_free_msg(&e->base);
			ret = -ENOMEM;
			break;
		}
		fi->ghosts = n;
		fi->ghosts[fi->nr_ghosts++] = e;
		if ((ret = validate(e, fi->nr_ghosts, &data_len)))
			break;
	}
	img_close(img);
	if (ret < 0)
		return ret;
	if (!(data = img_open(dir, IMG_GHOSTDATA, pid)))
		return -ENOENT;
	if (fstat(data->fd, &st))
		ret = pr_perror("can't stat %s", data->name);
	else if ((uint64_t)st.st_size != data_len) {
		pr_err("%s holds %lld bytes, its ghosts list %lu: truncated or corrupt", data->name,
		       (long long)st.st_size, (unsigned long)data_len);
		ret = -EINVAL;
	}
	img_close(data);
	return ret;
}

static int create_file_now(void *p)
{
	const GhostEntry *e = p;
	char *beside = NULL;
	int fd = open(e->name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	/* the path is taken (the file was replaced): beside it, under a name of our own */
	if (fd < 0 && errno == EEXIST) {
		if (asprintf(&beside, "%s.cr-ghost-%d-%u", e->name, getpid(), e->id) < 0)
			return -ENOMEM;
		fd = open(beside, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	}
	if (fd < 0) {
		int ret = pr_perror("can't recreate the unlinked file %s", beside ? beside : e->name);
		free(beside);
		return ret;
	}
	if (unlink(beside ? beside : e->name)) {
		int ret = pr_perror("can't unlink the recreated file %s", beside ? beside : e->name);
		close(fd);
		free(beside);
		return ret;
	}
	free(beside);
	return fd;
}

/* In the tree's own user namespace, made by its owner (userns_as_owner). */
static int create_file(const GhostEntry *e)
{
	return userns_as_owner(e->uid, e->gid, create_file_now, (void *)e);
}

static int create_memfd(const GhostEntry *e)
{
	/* seals == F_SEAL_SEAL alone is how a memfd made without MFD_ALLOW_SEALING looks */
	unsigned flags = MFD_CLOEXEC | (e->seals == F_SEAL_SEAL ? 0 : MFD_ALLOW_SEALING);
	int fd = memfd_create(e->name, flags);

	if (fd < 0)
		return pr_perror("can't recreate the memfd %s", e->name);
	return fd;
}

static int fill(int data_fd, const GhostEntry *e, int fd)
{
	off_t src = e->data_off;
	struct timespec times[2] = { { .tv_nsec = UTIME_OMIT },
				     { .tv_sec = e->mtime_ns / 1000000000ULL, .tv_nsec = e->mtime_ns % 1000000000ULL } };

	if (ftruncate(fd, e->size))
		return pr_perror("can't size the recreated %s to %lu bytes", e->name, (unsigned long)e->size);
	for (size_t i = 0; i < e->n_extents; i++) {
		uint64_t len = e->extents[i]->len;
		if (lseek(fd, e->extents[i]->off, SEEK_SET) < 0)
			return pr_perror("can't seek in the recreated %s", e->name);
		while (len) {
			ssize_t n = sendfile(fd, data_fd, &src, len > (1UL << 30) ? (1UL << 30) : len);
			if (n <= 0)
				return n ? pr_perror("can't write the content of %s", e->name)
					 : (pr_err("ghost data ends inside %s", e->name), -EIO);
			len -= n;
		}
	}
	if (fchown(fd, userns_uid_in(e->uid), userns_gid_in(e->gid)) || fchmod(fd, e->mode & 07777) || futimens(fd, times))
		return pr_perror("can't set the owner, mode or times of the recreated %s", e->name);
	return 0;
}

int ghost_restore_all(struct files_image *fi, struct img_dir *dir)
{
	struct img *data;
	int ret = 0;

	if (!fi->nr_ghosts)
		return 0;
	if (!(fi->ghost_fds = malloc(fi->nr_ghosts * sizeof(int))))
		return -ENOMEM;
	for (size_t i = 0; i < fi->nr_ghosts; i++)
		fi->ghost_fds[i] = -1;
	/* opened here, in the task: the fds libcr had are gone by now */
	if (!(data = img_open(dir, IMG_GHOSTDATA, fi->id)))
		return -ENOENT;
	for (size_t i = 0; i < fi->nr_ghosts && !ret; i++) {
		const GhostEntry *e = fi->ghosts[i];
		int fd;

		if (e->has_shared_id)
			continue;   /* made by the root, named by its shared id */
		fd = e->kind == GHOST_KIND__GHOST_FILE ? create_file(e) : create_memfd(e);

		if (fd < 0) {
			ret = fd;
			break;
		}
		if ((ret = fill(data->fd, e, fd))) {
			close(fd);
			break;
		}
		if ((fd = files_stash_fd(fi, fd)) < 0)
			ret = fd;
		fi->ghost_fds[i] = fd;
	}
	img_close(data);
	return ret;
}

const GhostEntry *ghost_get(const struct files_image *fi, uint32_t id)
{
	return id >= 1 && id <= fi->nr_ghosts ? fi->ghosts[id - 1] : NULL;
}

/* The ghosts processes share, by shared_id - 1: the entry with the bytes, the
 * image they are in, and the kept fd's slot once made (in the root; inherited). */
static struct shared_ghost {
	const GhostEntry *e;
	pid_t img;
	int slot;
} *shared;
static uint32_t nr_shared;

void ghost_plan_free(void)
{
	free(shared);
	shared = NULL;
	nr_shared = 0;
}

int ghost_plan_shared(struct files_image *const *fis, size_t nr)
{
	uint32_t max = 0;

	ghost_plan_free();   /* a library caller's previous restore */
	for (size_t t = 0; t < nr; t++)
		for (size_t i = 0; fis[t] && i < fis[t]->nr_ghosts; i++)
			if (fis[t]->ghosts[i]->has_shared_id && fis[t]->ghosts[i]->shared_id > max)
				max = fis[t]->ghosts[i]->shared_id;
	if (!max)
		return 0;
	if (max > nr * 4096 || !(shared = calloc(max, sizeof(*shared))))
		return max > nr * 4096 ? (pr_err("ghost images: shared ghost %u of %zu processes", max, nr), -EINVAL)
				       : -ENOMEM;
	nr_shared = max;
	for (size_t t = 0; t < nr; t++)
		for (size_t i = 0; fis[t] && i < fis[t]->nr_ghosts; i++) {
			const GhostEntry *e = fis[t]->ghosts[i];
			if (!e->has_shared_id || !e->shared_owner)
				continue;
			if (shared[e->shared_id - 1].e)
				return pr_err("ghost-%d.img: shared ghost %u (%s) has its bytes in two images", fis[t]->id,
					      e->shared_id, e->name), -EINVAL;
			shared[e->shared_id - 1] = (struct shared_ghost){ e, fis[t]->id, -1 };
		}
	for (size_t t = 0; t < nr; t++)
		for (size_t i = 0; fis[t] && i < fis[t]->nr_ghosts; i++) {
			const GhostEntry *e = fis[t]->ghosts[i];
			if (e->has_shared_id && (!shared[e->shared_id - 1].e || shared[e->shared_id - 1].e->kind != e->kind))
				return pr_err("ghost-%d.img: shared ghost %u (%s) has no image with its bytes", fis[t]->id,
					      e->shared_id, e->name), -EINVAL;
		}
	return 0;
}

static bool ghost_known(const struct files_image *fi, uint32_t id)
{
	uint32_t sid = id & ~GHOST_SHARED;

	if (id & GHOST_SHARED)
		return sid >= 1 && sid <= nr_shared && shared[sid - 1].e;
	return ghost_get(fi, id) && !fi->ghosts[id - 1]->has_shared_id;
}

int ghost_check_refs(const struct files_image *fi, const MmEntry *mm)
{
	for (size_t i = 0; i < fi->nr; i++) {
		const FdinfoEntry *e = fi->fds[i];
		uint32_t id = e->memfd ? e->memfd->ghost_id : e->reg && e->reg->has_ghost_id ? e->reg->ghost_id : 0;
		if ((e->memfd || (e->reg && e->reg->has_ghost_id)) && !ghost_known(fi, id))
			return pr_err("fdinfo-%d.img: fd %u names ghost 0x%x, which no ghost image has", fi->id, e->fd, id),
			       -EINVAL;
	}
	for (size_t i = 0; mm && i < mm->n_vmas; i++)
		if (mm->vmas[i]->has_ghost_id && !ghost_known(fi, mm->vmas[i]->ghost_id))
			return pr_err("mm-%d.img: the area at 0x%lx names ghost 0x%x, which no ghost image has", fi->id,
				      (unsigned long)mm->vmas[i]->start, mm->vmas[i]->ghost_id), -EINVAL;
	return 0;
}

int ghost_create_shared(struct img_dir *dir)
{
	struct img *data = NULL;
	pid_t data_of = 0;
	int ret = 0;

	for (uint32_t i = 0; i < nr_shared && !ret; i++) {
		const GhostEntry *e = shared[i].e;
		int fd;

		if (!e)
			continue;   /* an id no process uses any more */
		if (!data || data_of != shared[i].img) {
			img_close(data);
			if (!(data = img_open(dir, IMG_GHOSTDATA, data_of = shared[i].img)))
				return -ENOENT;
		}
		if ((fd = e->kind == GHOST_KIND__GHOST_FILE ? create_file(e) : create_memfd(e)) < 0) {
			ret = fd;
			break;
		}
		/* sealed now, before any process maps it (the dump refused the one seal
		 * that would refuse their maps) */
		if ((ret = fill(data->fd, e, fd)) ||
		    (e->kind == GHOST_KIND__GHOST_MEMFD && e->seals && e->seals != F_SEAL_SEAL &&
		     fcntl(fd, F_ADD_SEALS, e->seals) && (ret = pr_perror("can't seal the memfd %s with 0x%x", e->name,
									   e->seals)))) {
			close(fd);
			break;
		}
		if ((shared[i].slot = kept_fd_add(fd)) < 0) {
			close(fd);
			ret = (pr_err("more files kept for the whole tree than libcr holds (shared ghost %s)", e->name),
			       -ENOSPC);
		}
	}
	img_close(data);
	return ret;
}

int ghost_fd(struct files_image *fi, uint32_t id, const char *user)
{
	if (id & GHOST_SHARED) {
		uint32_t sid = id & ~GHOST_SHARED;
		int fd = sid >= 1 && sid <= nr_shared ? kept_fd_get(shared[sid - 1].slot) : -1;
		if (fd < 0)
			return pr_err("%s refers to shared ghost %u, which no ghost image has", user, sid), -EINVAL;
		return fd;
	}
	if (!ghost_get(fi, id) || !fi->ghost_fds || fi->ghost_fds[id - 1] < 0)
		return pr_err("%s refers to ghost %u, which the ghost image does not have", user, id), -EINVAL;
	return fi->ghost_fds[id - 1];
}

int ghost_finish(struct files_image *fi)
{
	int ret = 0;

	for (size_t i = 0; i < fi->nr_ghosts && fi->ghost_fds; i++) {
		const GhostEntry *e = fi->ghosts[i];
		int fd = fi->ghost_fds[i];

		if (fd < 0)
			continue;
		/* sealed last: F_SEAL_WRITE would have refused the content and the maps */
		if (!ret && e->kind == GHOST_KIND__GHOST_MEMFD && e->seals && e->seals != F_SEAL_SEAL &&
		    fcntl(fd, F_ADD_SEALS, e->seals))
			ret = pr_perror("can't seal the memfd %s with 0x%x", e->name, e->seals);
		close(fd);
		fi->ghost_fds[i] = -1;
	}
	return ret;
}

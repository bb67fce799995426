/* Open files shared between processes of the tree.
 *
 * Dump: one pass over every fd of the tree finds the open file descriptions
 * (kcmp KCMP_FILE) that several processes hold, and the pipes and FIFOs whose
 * ends are spread over several processes.  Each such description gets an id;
 * the descriptions of one pipe or FIFO share a group.  The first fd of a group
 * in tree order carries the object's contents (the bytes in a pipe).  A second
 * pass over every other process of the system tells which pipes and FIFOs
 * somebody outside the tree has open too: those are external.
 *
 * Restore: the group is created once, by the lowest common ancestor of every
 * process holding one of its descriptions, and handed down through fork().
 * Every process on the way keeps the fds above its own fd table until its
 * children exist, then closes the ones it does not hold itself. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "files/files.h"
#include "log.h"
#include "net/inet.h"
#include "util.h"

#define MAX_SHARED_ID (1u << 24)
#define PTY_DEV (~0ULL - 1)   /* the scan's key of a pty pair: (PTY_DEV, index) */

struct share_rec {
	uint64_t dev, ino;
	uint64_t own_ino;       /* the file's inode (ino is the object's: a unix pair's is its lower end's) */
	pid_t pid;
	int order;              /* the process's place in the tree */
	int fd;
	bool pipe_like;         /* a pipe or FIFO (or unix socket pair, or pty): its ends are one object */
	bool pty_master;
	char *link;
	struct share_info info;
};

struct share_scan {
	struct share_rec *recs; /* sorted by (order, fd) once the ids are given */
	size_t nr;
	pid_t *pids;            /* the tree's processes */
	int nr_pids;
	bool *pidns;            /* each in a nested pid namespace (NULL: none) */
	struct shared_ghosts *ghosts;  /* met while the processes are dumped, one by one */
};

/* Ghosts several processes of the tree use, by inode: the index + 1 is the id. */
struct shared_ghosts {
	struct { uint64_t dev, ino; } *keys;
	uint32_t nr;
};

#define MAX_SHARED_GHOSTS 4096

static int cmp_object(const void *a, const void *b)
{
	const struct share_rec *x = a, *y = b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return x->order != y->order ? x->order - y->order : x->fd - y->fd;
}

static int cmp_place(const void *a, const void *b)
{
	const struct share_rec *x = a, *y = b;

	return x->order != y->order ? x->order - y->order : x->fd - y->fd;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add_process(struct share_scan *s, pid_t pid, int order)
{
	int *fds, nr = files_list_fds(pid, &fds), ret = 0;

	if (nr < 0)
		return nr;
	for (int i = 0; i < nr && !ret; i++) {
		char path[64];
		struct stat st;
		struct share_rec *n;
		uint64_t key;

		snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fds[i]);
		if (stat(path, &st))
			continue;   /* files_dump reports it */
		if (!(n = realloc(s->recs, (s->nr + 1) * sizeof(*n)))) {
			ret = -ENOMEM;
			break;
		}
		s->recs = n;
		n = &s->recs[s->nr];
		*n = (struct share_rec){ .dev = st.st_dev, .ino = st.st_ino, .own_ino = st.st_ino, .pid = pid,
					 .order = order, .fd = fds[i], .pipe_like = S_ISFIFO(st.st_mode) };
		/* the two ends of a unix socket pair are one object, like a pipe's (one
		 * getsockopt spares inet sockets the sock_diag query) */
		if (S_ISSOCK(st.st_mode) && sock_domain(pid, fds[i]) == AF_UNIX && (key = unix_pair_key(st.st_ino))) {
			n->ino = key;
			n->pipe_like = true;
		}
		/* so are a pty's master and slaves, by index; the slave's path tells
		 * whether a process outside the tree has the terminal too */
		int pty = pty_is_master(&st) ? pty_master_index(pid, fds[i]) : pty_slave_index(&st);
		if (pty >= 0) {
			n->dev = PTY_DEV;
			n->ino = pty;
			n->pipe_like = true;
			n->pty_master = pty_is_master(&st);
			if (asprintf(&n->link, "/dev/pts/%d", pty) < 0)
				continue;
		}
		if (n->pipe_like && !n->link && !(n->link = xreadlink(path)))
			continue;
		s->nr++;
	}
	free(fds);
	return ret;
}

/* Which pipes and FIFOs of the tree a process outside it has open too. */
static int mark_outside(struct share_scan *s, const pid_t *pids, int nr_pids)
{
	char **links = NULL;
	size_t nr_links = 0;
	struct dirent *pe, *fe;
	DIR *procs;

	for (size_t i = 0; i < s->nr; i++)
		if (s->recs[i].pipe_like) {
			char **n = realloc(links, (nr_links + 1) * sizeof(*n));
			if (!n)
				return free(links), -ENOMEM;
			links = n;
			links[nr_links++] = s->recs[i].link;
		}
	if (!nr_links)
		return 0;
	qsort(links, nr_links, sizeof(*links), cmp_str);
	if (!(procs = opendir("/proc")))
		return free(links), pr_perror("can't list /proc");
	while ((pe = readdir(procs))) {
		int other = atoi(pe->d_name), in_tree = other == getpid();
		char path[300], link[4096];
		DIR *fds;

		for (int i = 0; i < nr_pids && !in_tree; i++)
			in_tree = pids[i] == other;
		if (other <= 0 || in_tree)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd", other);
		if (!(fds = opendir(path)))
			continue;   /* gone, or a kernel thread */
		while ((fe = readdir(fds))) {
			char *key = link, **hit;
			ssize_t n;

			if (fe->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "/proc/%d/fd/%s", other, fe->d_name);
			if ((n = readlink(path, link, sizeof(link) - 1)) <= 0)
				continue;
			link[n] = 0;
			if (!(hit = bsearch(&key, links, nr_links, sizeof(*links), cmp_str)))
				continue;
			for (size_t i = 0; i < s->nr; i++)
				if (s->recs[i].pipe_like && !strcmp(s->recs[i].link, *hit))
					s->recs[i].info.outside = true;
		}
		closedir(fds);
	}
	closedir(procs);
	free(links);
	return 0;
}

static bool same_description(const struct share_rec *a, const struct share_rec *b)
{
	return syscall(SYS_kcmp, a->pid, b->pid, KCMP_FILE, a->fd, b->fd) == 0;
}

/* One object (dev, ino) held in recs[from, to): give its descriptions ids. */
static void give_ids(struct share_rec *r, size_t n, uint32_t *next_id)
{
	size_t desc[n];          /* per record: index of the record that represents its description */
	bool spread = false, outside = false;

	for (size_t i = 0; i < n; i++) {
		desc[i] = i;
		for (size_t j = 0; j < i && desc[i] == i; j++)
			if (desc[j] == j && same_description(&r[j], &r[i]))
				desc[i] = j;
		spread |= r[i].pid != r[0].pid;
		outside |= r[i].info.outside;
	}
	if (!spread)
		return;
	if (r[0].pipe_like) {
		/* a pipe or FIFO: every description is part of one object, unless it
		 * lives on outside the tree (then each process inherits its ends) */
		if (outside)
			return;
		bool master = false;
		for (size_t i = 0; i < n; i++)
			master |= r[i].pty_master;
		uint32_t group = *next_id;
		for (size_t i = 0; i < n; i++) {
			r[i].info.id = desc[i] == i ? (*next_id)++ : r[desc[i]].info.id;
			r[i].info.group = group;
			r[i].info.first = i == 0;
			r[i].info.pty_pair = master;
		}
		return;
	}
	for (size_t i = 0; i < n; i++) {
		bool many = false;
		if (desc[i] != i)
			continue;
		for (size_t j = i + 1; j < n && !many; j++)
			many = desc[j] == i && r[j].pid != r[i].pid;
		if (!many)
			continue;
		uint32_t id = (*next_id)++;
		for (size_t j = i; j < n; j++)
			if (desc[j] == i) {
				r[j].info.id = r[j].info.group = id;
				r[j].info.first = j == i;
			}
	}
}

int files_share_scan(const pid_t *pids, int nr_pids, struct share_scan **out)
{
	struct share_scan *s = calloc(1, sizeof(*s));
	uint32_t next_id = 1;
	int ret = 0;

	if (!s || !(s->pids = malloc((nr_pids ? nr_pids : 1) * sizeof(*s->pids))) ||
	    !(s->ghosts = calloc(1, sizeof(*s->ghosts)))) {
		if (s)
			free(s->pids);
		free(s);
		return -ENOMEM;
	}
	memcpy(s->pids, pids, nr_pids * sizeof(*pids));
	s->nr_pids = nr_pids;
	for (int i = 0; i < nr_pids && !ret; i++)
		ret = add_process(s, pids[i], i);
	if (!ret)
		ret = mark_outside(s, pids, nr_pids);
	if (ret) {
		files_share_free(s);
		return ret;
	}
	qsort(s->recs, s->nr, sizeof(*s->recs), cmp_object);
	for (size_t i = 0, j; i < s->nr; i = j) {
		for (j = i + 1; j < s->nr && s->recs[j].dev == s->recs[i].dev && s->recs[j].ino == s->recs[i].ino; j++)
			;
		if (j - i > 1)
			give_ids(&s->recs[i], j - i, &next_id);
	}
	qsort(s->recs, s->nr, sizeof(*s->recs), cmp_place);
	*out = s;
	return 0;
}

struct share_info files_share_lookup(const struct share_scan *s, int order, int fd)
{
	struct share_rec key = { .order = order, .fd = fd }, *r;

	r = s ? bsearch(&key, s->recs, s->nr, sizeof(*s->recs), cmp_place) : NULL;
	return r ? r->info : (struct share_info){ 0 };
}

pid_t files_share_holder(const struct share_scan *s, uint64_t dev, uint64_t ino)
{
	for (size_t i = 0; s && i < s->nr; i++)
		if (s->recs[i].dev == dev && s->recs[i].own_ino == ino)
			return s->recs[i].pid;
	return 0;
}

pid_t files_pipe_held_elsewhere(const struct share_scan *s, pid_t owner, uint64_t dev, uint64_t ino,
				const char *link)
{
	struct dirent *pe;
	pid_t found = 0;
	DIR *procs;

	bool owners = false, outside = false;

	for (size_t i = 0; s && i < s->nr; i++) {
		const struct share_rec *r = &s->recs[i];
		if (r->dev != dev || r->own_ino != ino)
			continue;
		if (r->pid != owner || r->info.id)
			return r->pid;
		owners = true;
		outside |= r->info.outside;
	}
	if (owners && !outside)
		return 0;   /* the owner's alone: the scan asked everybody outside */
	/* in no fd of the tree: whether a process outside has an end of it */
	if (!(procs = opendir("/proc")))
		return pr_perror("can't list /proc");
	while (!found && (pe = readdir(procs))) {
		pid_t other = atoi(pe->d_name);
		char path[64];
		struct dirent *fe;
		DIR *fds;

		if (other <= 0 || other == getpid() || other == owner)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd", other);
		if (!(fds = opendir(path)))
			continue;
		while (!found && (fe = readdir(fds))) {
			char fdpath[340], l[64];
			ssize_t n;

			snprintf(fdpath, sizeof(fdpath), "%s/%s", path, fe->d_name);
			if (fe->d_name[0] != '.' && (n = readlink(fdpath, l, sizeof(l) - 1)) > 0) {
				l[n] = 0;
				found = strcmp(l, link) ? 0 : other;
			}
		}
		closedir(fds);
	}
	closedir(procs);
	return found;
}

uint32_t files_share_ghost(const struct share_scan *s, uint64_t dev, uint64_t ino, bool *first)
{
	struct shared_ghosts *g = s->ghosts;
	void *n;

	*first = false;
	for (uint32_t i = 0; i < g->nr; i++)
		if (g->keys[i].dev == dev && g->keys[i].ino == ino)
			return i + 1;
	if (g->nr == MAX_SHARED_GHOSTS || !(n = realloc(g->keys, (g->nr + 1) * sizeof(*g->keys))))
		return 0;
	g->keys = n;
	g->keys[g->nr].dev = dev;
	g->keys[g->nr].ino = ino;
	*first = true;
	return ++g->nr;
}

bool files_share_in_tree(const struct share_scan *s, pid_t pid)
{
	for (int i = 0; s && i < s->nr_pids; i++)
		if (s->pids[i] == pid)
			return true;
	return false;
}

int files_share_mark_pidns(struct share_scan *s, pid_t pid)
{
	if (!s->pidns && !(s->pidns = calloc(s->nr_pids ? s->nr_pids : 1, sizeof(bool))))
		return -ENOMEM;
	for (int i = 0; i < s->nr_pids; i++)
		if (s->pids[i] == pid)
			s->pidns[i] = true;
	return 0;
}

bool files_share_in_pidns(const struct share_scan *s, pid_t pid)
{
	for (int i = 0; s && s->pidns && i < s->nr_pids; i++)
		if (s->pids[i] == pid)
			return s->pidns[i];
	return false;
}

void files_share_free(struct share_scan *s)
{
	for (size_t i = 0; s && i < s->nr; i++)
		free(s->recs[i].link);
	if (s) {
		free(s->recs);
		free(s->pids);
		free(s->pidns);
		if (s->ghosts)
			free(s->ghosts->keys);
		free(s->ghosts);
	}
	free(s);
}

/* ---- restore */

struct share_desc {
	uint32_t id, group;
	size_t rep_task;          /* the first holder: its entry carries the contents */
	const FdinfoEntry *rep;
	size_t owner;             /* the lowest common ancestor of the group's holders */
	int fd;                   /* where the description is open in the current task, or -1 */
};

struct share_plan {
	struct share_desc *d;
	size_t nr;
	size_t nr_tasks;
	uint8_t *carry;           /* bit (task * nr + desc): the task hands it down or holds it */
};

static bool carries(const struct share_plan *p, size_t task, size_t d)
{
	size_t bit = task * p->nr + d;
	return p->carry[bit / 8] & (1u << (bit % 8));
}

static struct share_desc *desc_of(const struct share_plan *p, uint32_t id)
{
	for (size_t i = 0; i < p->nr; i++)
		if (p->d[i].id == id)
			return &p->d[i];
	return NULL;
}

static size_t depth_of(const ssize_t *parent, size_t t)
{
	size_t d = 0;
	while (parent[t] >= 0)
		t = parent[t], d++;
	return d;
}

static size_t common_ancestor(const ssize_t *parent, size_t a, size_t b)
{
	size_t da = depth_of(parent, a), db = depth_of(parent, b);

	for (; da > db; da--)
		a = parent[a];
	for (; db > da; db--)
		b = parent[b];
	while (a != b)
		a = parent[a], b = parent[b];
	return a;
}

static int check_entry(const FdinfoEntry *e, pid_t pid)
{
	if (!e->shared_id || e->shared_id >= MAX_SHARED_ID || !e->has_shared_group || !e->shared_group ||
	    e->shared_group > e->shared_id || e->has_dup_of)
		return pr_err("fdinfo-%d.img: fd %u has a bad shared file id %u (group %u)", pid, e->fd, e->shared_id,
			      e->shared_group), -EINVAL;
	/* a ghost (unlinked file, memfd) held by several processes is one they all
	 * name by its shared id: any of them may make the description */
	if ((e->kind == FD_KIND__FD_MEMFD && e->memfd && !(e->memfd->ghost_id & GHOST_SHARED)) ||
	    (e->reg && e->reg->has_ghost_id && !(e->reg->ghost_id & GHOST_SHARED)))
		return pr_err("fdinfo-%d.img: fd %u is an unlinked file or memfd shared with another process, "
			      "which can't be restored", pid, e->fd), -EINVAL;
	return 0;
}

int files_share_plan(struct files_image *const *fis, const ssize_t *parent, size_t nr_tasks,
		     struct share_plan **out)
{
	struct share_plan *p = calloc(1, sizeof(*p));
	int ret = 0;

	if (!p)
		return -ENOMEM;
	p->nr_tasks = nr_tasks;
	/* every description, its first holder and its kind */
	for (size_t t = 0; t < nr_tasks && !ret; t++)
		for (size_t i = 0; fis[t] && i < fis[t]->nr && !ret; i++) {
			const FdinfoEntry *e = fis[t]->fds[i];
			struct share_desc *d;

			if (!e->has_shared_id)
				continue;
			if ((ret = check_entry(e, fis[t]->id)))
				break;
			if ((d = desc_of(p, e->shared_id))) {
				if (d->rep_task == t || d->group != e->shared_group || d->rep->kind != e->kind)
					ret = (pr_err("fdinfo-%d.img: fd %u: shared file %u is held twice or with another "
						      "kind or group", fis[t]->id, e->fd, e->shared_id), -EINVAL);
				d->owner = common_ancestor(parent, d->owner, t);
				continue;
			}
			if (!(d = realloc(p->d, (p->nr + 1) * sizeof(*d)))) {
				ret = -ENOMEM;
				break;
			}
			p->d = d;
			p->d[p->nr++] = (struct share_desc){ .id = e->shared_id, .group = e->shared_group, .rep_task = t,
							     .rep = e, .owner = t, .fd = -1 };
		}
	/* a group is made by one process: the common ancestor of all its descriptions' holders */
	for (size_t i = 0; i < p->nr && !ret; i++) {
		struct share_desc *g = desc_of(p, p->d[i].group);
		if (!g || g->rep->kind != p->d[i].rep->kind)
			ret = (pr_err("fdinfo: shared file %u is in group %u, which no process holds", p->d[i].id,
				      p->d[i].group), -EINVAL);
		else
			g->owner = common_ancestor(parent, g->owner, p->d[i].owner);
	}
	for (size_t i = 0; i < p->nr && !ret; i++)
		p->d[i].owner = desc_of(p, p->d[i].group)->owner;
	if (!ret && !(p->carry = calloc((nr_tasks * p->nr + 7) / 8 + 1, 1)))
		ret = -ENOMEM;
	/* who keeps each description open: its holders and everyone between them and the owner */
	for (size_t t = 0; t < nr_tasks && !ret; t++)
		for (size_t i = 0; fis[t] && i < fis[t]->nr; i++) {
			const FdinfoEntry *e = fis[t]->fds[i];
			if (!e->has_shared_id)
				continue;
			size_t d = desc_of(p, e->shared_id) - p->d;
			for (ssize_t u = t;; u = parent[u]) {
				size_t bit = u * p->nr + d;
				p->carry[bit / 8] |= 1u << (bit % 8);
				if ((size_t)u == p->d[d].owner)
					break;
			}
		}
	if (ret) {
		free(p->carry);
		free(p->d);
		free(p);
		return ret;
	}
	for (size_t t = 0; t < nr_tasks; t++)
		if (fis[t]) {
			fis[t]->share = p;
			fis[t]->share_task = t;
		}
	*out = p;
	return 0;
}

void files_share_plan_free(struct share_plan *p)
{
	if (!p)
		return;
	free(p->carry);
	free(p->d);
	free(p);
}

/* In a new task, first: the descriptions its parent handed down that it (or a
 * child) needs go above its own fd table, where rebuilding the table can't hit them. */
int files_share_adopt(struct files_image *fi)
{
	struct share_plan *p = fi->share;

	for (size_t i = 0; p && i < p->nr; i++) {
		struct share_desc *d = &p->d[i];
		if (d->fd < 0)
			continue;
		if (!carries(p, fi->share_task, i)) {
			d->fd = -1;   /* closed with the rest of the inherited table */
			continue;
		}
		int moved = fcntl(d->fd, F_DUPFD_CLOEXEC, fi->top);
		if (moved < 0)
			return pr_perror("can't keep a shared file (fd %d) above fd %d", d->fd, fi->top);
		close(d->fd);
		d->fd = moved;
	}
	return 0;
}

/* The groups this task is the common ancestor of: made here, descriptions in id
 * order (the group's first one carries the contents), kept above the fd table. */
int files_share_create(struct files_image *fi)
{
	struct share_plan *p = fi->share;

	for (size_t i = 0; p && i < p->nr; i++) {
		struct share_desc *d = &p->d[i];
		bool inherited = false;
		int fd;

		if (d->owner != fi->share_task || d->fd >= 0)
			continue;
		fd = files_kind_restore(fi, d->rep, &inherited);
		if (fd < 0)
			return fd;
		/* the caller's own fd (a terminal) stays where it is: keep a copy */
		d->fd = fcntl(fd, F_DUPFD_CLOEXEC, fi->top);
		if (d->fd < 0)
			return pr_perror("can't keep shared file %u above fd %d", d->id, fi->top);
		if (!inherited)
			close(fd);
	}
	return 0;
}

const FdinfoEntry *files_share_rep(const struct files_image *fi, size_t i)
{
	return fi->share && i < fi->share->nr ? fi->share->d[i].rep : NULL;
}

int files_share_fd(const struct files_image *fi, const FdinfoEntry *e)
{
	const struct share_desc *d = fi->share ? desc_of(fi->share, e->shared_id) : NULL;

	if (!d || d->fd < 0)
		return pr_err("fd %u: shared file %u was not handed down by the process that made it", e->fd,
			      e->shared_id), -EBADF;
	return d->fd;
}

bool files_share_elsewhere(const struct files_image *fi, const FdinfoEntry *e)
{
	const struct share_desc *d = fi->share && e->shared_id ? desc_of(fi->share, e->shared_id) : NULL;

	return d && d->owner != fi->share_task;
}

bool files_share_is_rep(const struct files_image *fi, const FdinfoEntry *e)
{
	const struct share_desc *d = fi->share ? desc_of(fi->share, e->shared_id) : NULL;
	return d && d->rep == e;
}

bool files_share_keeps(const struct files_image *fi, int fd)
{
	const struct share_plan *p = fi->share;

	for (size_t i = 0; p && i < p->nr; i++)
		if (p->d[i].fd == fd)
			return true;
	return false;
}

/* Once the children exist: they have their copies, ours go. */
void files_share_release(struct files_image *fi)
{
	struct share_plan *p = fi->share;

	for (size_t i = 0; p && i < p->nr; i++)
		if (p->d[i].fd >= 0) {
			close(p->d[i].fd);
			p->d[i].fd = -1;
		}
}

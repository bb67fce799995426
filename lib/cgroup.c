/* cgroups, both directions (see cgroup.h).
 *
 * Dump: /proc/PID/cgroup of every process (its threads must agree: threaded
 * cgroups are refused), each path made relative to the root task's cgroup of
 * the same hierarchy; processes with equal cgroups share a set; every cgroup
 * below the root's gets its limits saved.  Restore: the same paths under the
 * restorer's own cgroups, or under the roots the caller names; each task
 * writes itself into its cgroups' cgroup.procs first thing, so that all it
 * allocates is charged there. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cgroup.h"
#include "image/image.h"
#include "log.h"
#include "proc/tree.h"
#include "util.h"

#define MAX_SETS 4096
#define MAX_PATH_LEN 1024
#define MAX_VALUE 256

/* The limits a full restore writes, in this order (a cpuset needs cpus and mems
 * before a task can join; a cfs quota is checked against its period).  ctl ""
 * is cgroup v2, where the parent must enable the file's controller. */
static const struct limit { const char *ctl, *file; } limits[] = {
	{ "", "cpuset.cpus" },         { "", "cpuset.mems" },          { "", "cpu.max" },
	{ "", "cpu.weight" },          { "", "memory.max" },           { "", "memory.high" },
	{ "", "pids.max" },
	{ "cpuset", "cpuset.cpus" },   { "cpuset", "cpuset.mems" },    { "cpu", "cpu.cfs_period_us" },
	{ "cpu", "cpu.cfs_quota_us" }, { "cpu", "cpu.shares" },        { "memory", "memory.limit_in_bytes" },
	{ "memory", "memory.soft_limit_in_bytes" },                    { "pids", "pids.max" },
};

/* Is item one of the comma-separated words of list? */
static bool has_word(const char *list, const char *item)
{
	size_t n = strlen(item);

	for (const char *p = list; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
		if (!strncmp(p, item, n) && (p[n] == ',' || !p[n]))
			return true;
	return false;
}

static bool limit_applies(const struct limit *l, const char *controllers)
{
	return l->ctl[0] ? has_word(controllers, l->ctl) : !controllers[0];
}

static void hier_clear(struct cg_hier *h)
{
	free(h->controllers);
	free(h->mnt);
	free(h->mroot);
}

int cg_hiers_read(struct cg_hiers *hs)
{
	char *buf = read_file("/proc/self/mountinfo", NULL), *line, *save = NULL;

	memset(hs, 0, sizeof(*hs));
	if (!buf)
		return pr_perror("can't read /proc/self/mountinfo");
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char root[MAX_PATH_LEN], mnt[MAX_PATH_LEN], fstype[32], super[512], *dash = strstr(line, " - ");
		struct cg_hier h = { 0 };

		if (!dash || sscanf(line, "%*d %*d %*s %1023s %1023s", root, mnt) != 2 ||
		    sscanf(dash + 3, "%31s %*s %511s", fstype, super) != 2)
			continue;
		if (!strcmp(fstype, "cgroup2")) {
			h.controllers = strdup("");
		} else if (!strcmp(fstype, "cgroup")) {
			/* the hierarchy's name in /proc/PID/cgroup: its controllers, then name= */
			char ctl[512] = "", *w, *s2 = NULL;
			for (w = strtok_r(super, ",", &s2); w; w = strtok_r(NULL, ",", &s2)) {
				if (!strcmp(w, "rw") || !strcmp(w, "ro") || !strcmp(w, "relatime") || !strcmp(w, "noexec") ||
				    !strcmp(w, "nosuid") || !strcmp(w, "nodev") || !strncmp(w, "release_agent=", 14) ||
				    !strcmp(w, "clone_children") || !strcmp(w, "xattr") || !strcmp(w, "noprefix") ||
				    !strcmp(w, "cpuset_v2_mode") || !strcmp(w, "favordynmods"))
					continue;
				snprintf(ctl + strlen(ctl), sizeof(ctl) - strlen(ctl), "%s%s", ctl[0] ? "," : "", w);
			}
			h.controllers = strdup(ctl);
		} else {
			continue;
		}
		/* the first mount of a hierarchy is the one we use */
		if (!h.controllers || cg_hier_find(hs, h.controllers)) {
			free(h.controllers);
			continue;
		}
		h.mnt = strdup(mnt);
		h.mroot = strdup(root);
		struct cg_hier *n = realloc(hs->h, (hs->nr + 1) * sizeof(*n));
		if (!h.mnt || !h.mroot || !n) {
			if (n)
				hs->h = n;
			hier_clear(&h);
			free(buf);
			cg_hiers_free(hs);
			return -ENOMEM;
		}
		hs->h = n;
		hs->h[hs->nr++] = h;
	}
	free(buf);
	return 0;
}

void cg_hiers_free(struct cg_hiers *hs)
{
	for (size_t i = 0; i < hs->nr; i++)
		hier_clear(&hs->h[i]);
	free(hs->h);
	memset(hs, 0, sizeof(*hs));
}

/* /proc/PID/cgroup says "cpu,cpuacct" where the mount options may order them otherwise. */
static bool same_words(const char *a, const char *b)
{
	char copy[512], *w, *s = NULL;
	size_t na = 0, nb = 0;

	snprintf(copy, sizeof(copy), "%s", a);
	for (w = strtok_r(copy, ",", &s); w; w = strtok_r(NULL, ",", &s), na++)
		if (!has_word(b, w))
			return false;
	snprintf(copy, sizeof(copy), "%s", b);
	for (w = strtok_r(copy, ",", &s); w; w = strtok_r(NULL, ",", &s))
		nb++;
	return na == nb;
}

const struct cg_hier *cg_hier_find(const struct cg_hiers *hs, const char *controllers)
{
	for (size_t i = 0; i < hs->nr; i++)
		if (controllers[0] ? hs->h[i].controllers[0] && same_words(controllers, hs->h[i].controllers)
				   : !hs->h[i].controllers[0])
			return &hs->h[i];
	return NULL;
}

char *cg_dir(const struct cg_hier *h, const char *path)
{
	size_t rl = strlen(h->mroot);
	char *out;

	if (strcmp(h->mroot, "/")) {
		if (strncmp(path, h->mroot, rl) || (path[rl] && path[rl] != '/'))
			return errno = ENOENT, NULL;   /* not under what is mounted here */
		path += rl;
	}
	if (asprintf(&out, "%s%s%s", h->mnt, path[0] == '/' ? "" : "/", path) < 0)
		return NULL;
	/* "/sys/fs/cgroup/cpu/" for the root: no trailing slash */
	size_t n = strlen(out);
	if (n > 1 && out[n - 1] == '/')
		out[n - 1] = 0;
	return out;
}

/* ---- dump */

struct cg_line {
	char *ctl, *path;
};

static void lines_free(struct cg_line *l, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(l[i].ctl);
		free(l[i].path);
	}
	free(l);
}

/* "ID:CONTROLLERS:PATH" lines of a /proc cgroup file. */
static int parse_cgroup_file(char *buf, struct cg_line **out, size_t *nr)
{
	char *line, *save = NULL;

	*out = NULL;
	*nr = 0;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		struct cg_line *n;

		if (!c2)
			continue;
		*c2 = 0;
		if (!(n = realloc(*out, (*nr + 1) * sizeof(*n))))
			return -ENOMEM;
		*out = n;
		n[*nr].ctl = strdup(c1 + 1);
		n[*nr].path = strdup(c2 + 1);
		(*nr)++;
		if (!n[*nr - 1].ctl || !n[*nr - 1].path)
			return -ENOMEM;
	}
	return 0;
}

static int read_task_cgroups(pid_t pid, const struct tree_task *task, struct cg_line **out, size_t *nr)
{
	char *buf = read_proc(pid, "cgroup", NULL);
	int ret;

	if (!buf)
		return pr_perror("can't read /proc/%d/cgroup", pid);
	/* every thread in its process's cgroups (v2 threaded cgroups are not supported) */
	for (int k = 1; task && k < task->s.nr_threads; k++) {
		char name[64], *tb;
		snprintf(name, sizeof(name), "task/%d/cgroup", task->s.tids[k]);
		if (!(tb = read_proc(pid, name, NULL))) {
			free(buf);
			return pr_perror("can't read /proc/%d/%s", pid, name);
		}
		ret = strcmp(tb, buf);
		free(tb);
		if (ret) {
			free(buf);
			return pr_err("thread %d of pid %d is in other cgroups than its process (threaded cgroups "
				      "are not supported)", task->s.tids[k], pid), -EOPNOTSUPP;
		}
	}
	ret = parse_cgroup_file(buf, out, nr);
	free(buf);
	return ret;
}

/* path below root ("" for root itself), or NULL if it is not below it. */
static const char *below(const char *root, const char *path)
{
	size_t n = strlen(root);

	if (!strcmp(root, "/"))
		return path[0] == '/' ? path + 1 : NULL;
	if (strncmp(path, root, n) || (path[n] && path[n] != '/'))
		return NULL;
	return path[n] ? path + n + 1 : "";
}

struct cg_dump {
	CgroupEntry e;
	struct cg_line *roots;
	size_t nr_roots;
};

static CgroupMember *member_new(const char *ctl, const char *path)
{
	CgroupMember *m = malloc(sizeof(*m));

	if (!m)
		return NULL;
	cgroup_member__init(m);
	m->controllers = strdup(ctl);
	m->path = strdup(path);
	if (!m->controllers || !m->path) {
		free(m->controllers);
		free(m->path);
		free(m);
		return NULL;
	}
	return m;
}

static void member_free(CgroupMember *m)
{
	if (!m)
		return;
	free(m->controllers);
	free(m->path);
	free(m);
}

static bool set_equal(const CgroupSet *s, CgroupMember **m, size_t n)
{
	if (s->n_members != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (strcmp(s->members[i]->controllers, m[i]->controllers) || strcmp(s->members[i]->path, m[i]->path))
			return false;
	return true;
}

/* The set of these members: an existing one, or a new one taking them. */
static int set_of(CgroupEntry *e, CgroupMember **m, size_t n, uint32_t *id)
{
	for (size_t i = 0; i < e->n_sets; i++)
		if (set_equal(e->sets[i], m, n)) {
			for (size_t k = 0; k < n; k++)
				member_free(m[k]);
			free(m);
			*id = e->sets[i]->id;
			return 0;
		}
	CgroupSet **ns = realloc(e->sets, (e->n_sets + 1) * sizeof(*ns)), *s;
	if (!ns)
		return -ENOMEM;
	e->sets = ns;
	if (!(s = malloc(sizeof(*s))))
		return -ENOMEM;
	cgroup_set__init(s);
	s->id = *id = e->n_sets + 1;
	s->members = m;
	s->n_members = n;
	e->sets[e->n_sets++] = s;
	return 0;
}

static int add_prop(CgroupDir *d, const char *name, const char *value)
{
	CgroupProp **n = realloc(d->props, (d->n_props + 1) * sizeof(*n)), *p;

	if (!n)
		return -ENOMEM;
	d->props = n;
	if (!(p = malloc(sizeof(*p))))
		return -ENOMEM;
	cgroup_prop__init(p);
	p->name = strdup(name);
	p->value = strdup(value);
	d->props[d->n_props++] = p;
	return p->name && p->value ? 0 : -ENOMEM;
}

/* A file's content without its newline, or NULL. */
static char *read_value(const char *dir, const char *file)
{
	char path[PATH_MAX];
	char *v;

	if (snprintf(path, sizeof(path), "%s/%s", dir, file) >= (int)sizeof(path))
		return NULL;
	if (!(v = read_file(path, NULL)))
		return NULL;
	v[strcspn(v, "\n")] = 0;
	return v;
}

/* Cgroup rel (below the root task's, in hierarchy ctl) and its parents, parents
 * first, each once, with the limits it has. */
static int add_dirs(CgroupEntry *e, const struct cg_hiers *hs, const char *root, const char *ctl, const char *rel)
{
	char prefix[MAX_PATH_LEN];
	const struct cg_hier *h = cg_hier_find(hs, ctl);

	for (const char *p = rel; *p;) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - rel) : strlen(rel);
		bool known = false;
		int ret;

		p = slash ? slash + 1 : rel + len;
		if (len >= sizeof(prefix))
			return pr_err("cgroup path %s is too long", rel), -ENAMETOOLONG;
		memcpy(prefix, rel, len);
		prefix[len] = 0;
		for (size_t i = 0; i < e->n_dirs && !known; i++)
			known = !strcmp(e->dirs[i]->controllers, ctl) && !strcmp(e->dirs[i]->path, prefix);
		if (known)
			continue;
		CgroupDir **nd = realloc(e->dirs, (e->n_dirs + 1) * sizeof(*nd)), *d;
		if (!nd)
			return -ENOMEM;
		e->dirs = nd;
		if (!(d = malloc(sizeof(*d))))
			return -ENOMEM;
		cgroup_dir__init(d);
		e->dirs[e->n_dirs++] = d;
		d->controllers = strdup(ctl);
		d->path = strdup(prefix);
		if (!d->controllers || !d->path)
			return -ENOMEM;
		if (!h)
			continue;   /* not mounted here: membership only */
		char full[MAX_PATH_LEN * 2], *dir;
		snprintf(full, sizeof(full), "%s%s%s", root, strcmp(root, "/") ? "/" : "", prefix);
		if (!(dir = cg_dir(h, full)))
			continue;
		for (size_t l = 0; l < ARRAY_SIZE(limits); l++) {
			char *v;
			if (!limit_applies(&limits[l], ctl) || !(v = read_value(dir, limits[l].file)))
				continue;
			ret = add_prop(d, limits[l].file, v);
			free(v);
			if (ret) {
				free(dir);
				return ret;
			}
		}
		free(dir);
	}
	return 0;
}

static void entry_free(CgroupEntry *e)
{
	for (size_t i = 0; i < e->n_sets; i++) {
		for (size_t k = 0; k < e->sets[i]->n_members; k++)
			member_free(e->sets[i]->members[k]);
		free(e->sets[i]->members);
		free(e->sets[i]);
	}
	free(e->sets);
	for (size_t i = 0; i < e->n_tasks; i++)
		free(e->tasks[i]);
	free(e->tasks);
	for (size_t i = 0; i < e->n_dirs; i++) {
		for (size_t k = 0; k < e->dirs[i]->n_props; k++) {
			free(e->dirs[i]->props[k]->name);
			free(e->dirs[i]->props[k]->value);
			free(e->dirs[i]->props[k]);
		}
		free(e->dirs[i]->props);
		free(e->dirs[i]->controllers);
		free(e->dirs[i]->path);
		free(e->dirs[i]);
	}
	free(e->dirs);
	for (size_t i = 0; i < e->n_roots; i++)
		member_free(e->roots[i]);
	free(e->roots);
}

static int dump_task(CgroupEntry *e, const struct cg_hiers *hs, const struct cg_line *roots, size_t nr_roots,
		     const struct tree_task *task)
{
	struct cg_line *l;
	size_t n;
	int ret;

	if ((ret = read_task_cgroups(task->s.pid, task, &l, &n)))
		return ret;
	CgroupMember **m = calloc(n ? n : 1, sizeof(*m));
	if (!m) {
		lines_free(l, n);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n && !ret; i++) {
		const struct cg_line *r = NULL;
		const char *rel;
		for (size_t k = 0; k < nr_roots && !r; k++)
			if (!strcmp(roots[k].ctl, l[i].ctl))
				r = &roots[k];
		/* outside the root task's cgroup: kept absolute, restored only where it exists */
		if (!r || !(rel = below(r->path, l[i].path))) {
			pr_warn("pid %d is in cgroup %s of hierarchy \"%s\", outside the root task's: saved as it is",
				task->s.pid, l[i].path, l[i].ctl);
			if (!(m[i] = member_new(l[i].ctl, l[i].path)))
				ret = -ENOMEM;
			continue;
		}
		if (!(m[i] = member_new(l[i].ctl, rel)) || (ret = add_dirs(e, hs, r->path, l[i].ctl, rel)))
			ret = ret ? ret : -ENOMEM;
	}
	uint32_t id = 0;
	if (!ret && !(ret = set_of(e, m, n, &id))) {
		CgroupTask **nt = realloc(e->tasks, (e->n_tasks + 1) * sizeof(*nt)), *t;
		if (!nt)
			ret = -ENOMEM;
		else if (!(e->tasks = nt, t = malloc(sizeof(*t))))
			ret = -ENOMEM;
		else {
			cgroup_task__init(t);
			t->pid = task->vpid;
			t->set = id;
			e->tasks[e->n_tasks++] = t;
		}
	} else if (ret) {
		for (size_t i = 0; i < n; i++)
			member_free(m[i]);
		free(m);
	}
	lines_free(l, n);
	return ret;
}

int cgroup_dump(const struct tree *t, struct img_dir *dir)
{
	CgroupEntry e = CGROUP_ENTRY__INIT;
	struct cg_hiers hs;
	struct cg_line *roots;
	size_t nr_roots;
	int ret;

	if ((ret = cg_hiers_read(&hs)))
		return ret;
	if ((ret = read_task_cgroups(t->tasks[0].s.pid, NULL, &roots, &nr_roots))) {
		cg_hiers_free(&hs);
		return ret;
	}
	if (!(e.roots = calloc(nr_roots ? nr_roots : 1, sizeof(*e.roots))))
		ret = -ENOMEM;
	for (size_t i = 0; !ret && i < nr_roots; i++)
		if (!(e.roots[e.n_roots++] = member_new(roots[i].ctl, roots[i].path)))
			ret = -ENOMEM;
	for (int i = 0; !ret && i < t->nr; i++)
		if (!t->tasks[i].zombie)
			ret = dump_task(&e, &hs, roots, nr_roots, &t->tasks[i]);
	if (!ret) {
		ret = img_write_one(dir, IMG_CGROUP, 0, &e.base);
		pr_info("cgroups: %zu sets, %zu cgroups below the root's", e.n_sets, e.n_dirs);
	}
	entry_free(&e);
	lines_free(roots, nr_roots);
	cg_hiers_free(&hs);
	return ret;
}

/* ---- restore */

static bool ctl_ok(const char *s)
{
	if (strlen(s) > 200)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == ',' || *s == '=' ||
		      *s == '-' || *s == '.'))
			return false;
	return true;
}

/* "" or "a/b": relative, no "." or "..", no empty component */
static bool rel_ok(const char *p)
{
	if (!p[0])
		return true;
	if (strlen(p) >= MAX_PATH_LEN || p[0] == '/')
		return false;
	for (const char *c = p; *c;) {
		const char *e = strchr(c, '/');
		size_t n = e ? (size_t)(e - c) : strlen(c);
		if (!n || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.') || memchr(c, '\n', n))
			return false;
		c += n + (e ? 1 : 0);
		if (e && !*c)
			return false;
	}
	return true;
}

static int validate(const CgroupEntry *e, PstreeEntry *const *entries, size_t nr)
{
	if (e->n_sets > MAX_SETS)
		return pr_err("cgroup.img: %zu sets, more than %d", e->n_sets, MAX_SETS), -EINVAL;
	for (size_t i = 0; i < e->n_sets; i++) {
		const CgroupSet *s = e->sets[i];
		if (s->id != i + 1)
			return pr_err("cgroup.img: set %zu has id %u", i, s->id), -EINVAL;
		for (size_t k = 0; k < s->n_members; k++) {
			const char *mp = s->members[k]->path;
			if (!ctl_ok(s->members[k]->controllers) || (strcmp(mp, "/") && !rel_ok(mp[0] == '/' ? mp + 1 : mp)))
				return pr_err("cgroup.img: set %u has a bad hierarchy or path", s->id), -EINVAL;
			for (size_t j = 0; j < k; j++)
				if (!strcmp(s->members[j]->controllers, s->members[k]->controllers))
					return pr_err("cgroup.img: set %u names hierarchy \"%s\" twice", s->id,
						      s->members[k]->controllers), -EINVAL;
		}
	}
	if (e->n_tasks > nr)
		return pr_err("cgroup.img: %zu processes, the tree has %zu", e->n_tasks, nr), -EINVAL;
	for (size_t i = 0; i < e->n_tasks; i++) {
		const CgroupTask *t = e->tasks[i];
		bool found = false;
		if (!t->set || t->set > e->n_sets)
			return pr_err("cgroup.img: pid %u is in set %u, which does not exist", t->pid, t->set), -EINVAL;
		for (size_t p = 0; p < nr && !found; p++)
			found = entries[p]->pid == t->pid && !entries[p]->zombie;
		for (size_t j = 0; j < i && found; j++)
			found = e->tasks[j]->pid != t->pid;
		if (!found)
			return pr_err("cgroup.img: pid %u is not a live process of pstree.img, or is listed twice",
				      t->pid), -EINVAL;
	}
	for (size_t i = 0; i < e->n_dirs; i++) {
		const CgroupDir *d = e->dirs[i];
		if (!ctl_ok(d->controllers) || !rel_ok(d->path) || !d->path[0])
			return pr_err("cgroup.img: cgroup %zu has a bad hierarchy or path", i), -EINVAL;
		for (size_t k = 0; k < d->n_props; k++) {
			bool known = false;
			for (size_t l = 0; l < ARRAY_SIZE(limits) && !known; l++)
				known = limit_applies(&limits[l], d->controllers) && !strcmp(limits[l].file, d->props[k]->name);
			if (!known || strlen(d->props[k]->value) > MAX_VALUE || strchr(d->props[k]->value, '\n'))
				return pr_err("cgroup.img: cgroup %s has a limit %s that libcr does not restore, or a bad value",
					      d->path, d->props[k]->name), -EINVAL;
		}
		/* parents first: a cgroup's parent is made before it */
		const char *slash = strrchr(d->path, '/');
		bool parent = !slash;
		for (size_t j = 0; j < i && !parent; j++)
			parent = !strcmp(e->dirs[j]->controllers, d->controllers) &&
				 strlen(e->dirs[j]->path) == (size_t)(slash - d->path) &&
				 !strncmp(e->dirs[j]->path, d->path, slash - d->path);
		if (!parent)
			return pr_err("cgroup.img: the parent of cgroup %s comes after it", d->path), -EINVAL;
	}
	return 0;
}

int cgroup_load(struct img_dir *dir, PstreeEntry *const *entries, size_t nr, struct cgroup_image *ci)
{
	struct img *img;
	int ret;

	memset(ci, 0, sizeof(*ci));
	if (faccessat(dir->dfd, "cgroup.img", F_OK, 0))
		return 0;   /* images of an older libcr */
	if (!(img = img_open(dir, IMG_CGROUP, 0)))
		return -ENOENT;
	ret = img_read_one(img, &cgroup_entry__descriptor, (ProtobufCMessage **)&ci->e);
	img_close(img);
	return ret ? ret : validate(ci->e, entries, nr);
}

static int write_value(const char *dir, const char *file, const char *value)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/%s", dir, file) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	return write_file(path, value);
}

/* Where each hierarchy's cgroups go: one base directory per controllers string. */
struct base {
	const char *ctl;
	char *dir;
};

static const char *root_for(const char *ctl, const struct cr_cgroup_root *roots, size_t nr)
{
	const char *any = NULL;

	for (size_t i = 0; i < nr; i++) {
		const char *c = roots[i].controller;
		if (!c || !c[0])
			any = roots[i].path;
		else if (ctl[0] ? has_word(ctl, c) || same_words(ctl, c) : !strcmp(c, "unified") || !strcmp(c, "cgroup2"))
			return roots[i].path;
	}
	return any;
}

static int find_base(const char *ctl, const struct cg_hiers *hs, const struct cg_line *own, size_t nr_own,
		     const struct cr_cgroup_root *roots, size_t nr_roots, char **out)
{
	const struct cg_hier *h = cg_hier_find(hs, ctl);
	const char *path = root_for(ctl, roots, nr_roots), *name = ctl[0] ? ctl : "unified (v2)";
	struct stat st;

	if (!h)
		return pr_err("cgroup hierarchy %s of the images is not mounted here", name), -ENOENT;
	for (size_t i = 0; i < nr_own && !path; i++)
		if (ctl[0] ? same_words(own[i].ctl, ctl) : !own[i].ctl[0])
			path = own[i].path;
	if (!path || path[0] != '/')
		return pr_err("no cgroup to restore hierarchy %s under (give --cgroup-root %s:/PATH)", name,
			      ctl[0] ? ctl : "unified"), -ENOENT;
	if (!(*out = cg_dir(h, path)))
		return pr_err("cgroup root %s of hierarchy %s is not under its mount %s", path, name, h->mnt), -ENOENT;
	if (stat(*out, &st) || !S_ISDIR(st.st_mode))
		return pr_err("cgroup root %s of hierarchy %s does not exist (%s)", path, name, *out), -ENOENT;
	return 0;
}

static const char *base_of(const struct base *b, size_t nr, const char *ctl)
{
	for (size_t i = 0; i < nr; i++)
		if (!strcmp(b[i].ctl, ctl))
			return b[i].dir;
	return NULL;
}

static int add_base(struct base **b, size_t *nr, const char *ctl, const struct cg_hiers *hs, const struct cg_line *own,
		    size_t nr_own, const struct cr_cgroup_root *roots, size_t nr_roots)
{
	struct base *n;
	char *dir;
	int ret;

	if (base_of(*b, *nr, ctl))
		return 0;
	if ((ret = find_base(ctl, hs, own, nr_own, roots, nr_roots, &dir)))
		return ret;
	if (!(n = realloc(*b, (*nr + 1) * sizeof(*n)))) {
		free(dir);
		return -ENOMEM;
	}
	*b = n;
	n[(*nr)++] = (struct base){ ctl, dir };
	return 0;
}

/* A v2 limit file exists only once the parent enables its controller. */
static int enable_controller(const char *dir, const char *file)
{
	char parent[PATH_MAX], ctl[64];
	const char *dot = strchr(file, '.');

	snprintf(parent, sizeof(parent), "%s", dir);
	*strrchr(parent, '/') = 0;
	snprintf(ctl, sizeof(ctl), "+%.*s", (int)(dot - file), file);
	return write_value(parent, "cgroup.subtree_control", ctl);
}

static int apply_limits(const CgroupDir *d, const char *dir, int mode, bool made)
{
	for (size_t k = 0; k < d->n_props; k++) {
		const CgroupProp *p = d->props[k];
		char *cur = read_value(dir, p->name);
		int ret;

		if (!cur && !d->controllers[0] && !enable_controller(dir, p->name))
			cur = read_value(dir, p->name);
		if (!cur)
			return pr_perror("can't read %s/%s to restore it", dir, p->name);
		ret = strcmp(cur, p->value);
		free(cur);
		if (!ret)
			continue;
		if (mode == CR_CG_STRICT && !made)
			return pr_err("cgroup %s exists with %s other than in the images (%s): "
				      "--manage-cgroups strict restores only into cgroups it makes or that match",
				      dir, p->name, p->value), -EEXIST;
		if ((ret = write_value(dir, p->name, p->value)))
			return errno = -ret, pr_perror("can't set %s/%s to %s", dir, p->name, p->value);
	}
	return 0;
}

/* A new v1 cpuset has no cpus or mems: no task could join it. */
static int cpuset_inherit(const CgroupDir *d, const char *dir)
{
	char parent[PATH_MAX];
	static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };

	if (!has_word(d->controllers, "cpuset"))
		return 0;
	snprintf(parent, sizeof(parent), "%s", dir);
	*strrchr(parent, '/') = 0;
	for (size_t i = 0; i < 2; i++) {
		char *v = read_value(parent, files[i]);
		int ret = v ? write_value(dir, files[i], v) : -ENOENT;
		free(v);
		if (ret)
			return errno = -ret, pr_perror("can't give the new cpuset %s the %s of its parent", dir, files[i]);
	}
	return 0;
}

static int make_dirs(struct cgroup_image *ci, const struct base *b, size_t nr_b, int mode)
{
	const CgroupEntry *e = ci->e;

	for (size_t i = 0; i < e->n_dirs; i++) {
		const CgroupDir *d = e->dirs[i];
		char *dir;
		bool made = false;
		int ret;

		if (asprintf(&dir, "%s/%s", base_of(b, nr_b, d->controllers), d->path) < 0)
			return -ENOMEM;
		if (mkdir(dir, 0755) == 0) {
			char **n = realloc(ci->created, (ci->nr_created + 1) * sizeof(*n));
			if (!n) {
				rmdir(dir);
				free(dir);
				return -ENOMEM;
			}
			ci->created = n;
			ci->created[ci->nr_created++] = strdup(dir);
			made = true;
			pr_debug("cgroup %s made", dir);
		} else if (errno != EEXIST) {
			ret = pr_perror("can't make cgroup %s", dir);
			free(dir);
			return ret;
		}
		ret = made ? cpuset_inherit(d, dir) : 0;
		if (!ret && mode >= CR_CG_FULL)
			ret = apply_limits(d, dir, mode, made);
		free(dir);
		if (ret)
			return ret;
	}
	return 0;
}

/* Where a member's processes go: below the base of its hierarchy, or an absolute
 * cgroup (one outside the root task's at the dump) that must exist here.  NULL
 * with *ret 0: a hierarchy left out. */
static char *member_dir(const CgroupMember *m, const struct base *b, size_t nr_b, const struct cg_hiers *hs, int *ret)
{
	const struct cg_hier *h = cg_hier_find(hs, m->controllers);
	const char *base = base_of(b, nr_b, m->controllers);
	struct stat st;
	char *dir = NULL;

	if (m->path[0] != '/') {
		if (base && asprintf(&dir, "%s%s%s", base, m->path[0] ? "/" : "", m->path) < 0)
			*ret = -ENOMEM, dir = NULL;
		return dir;
	}
	if (!h)
		return NULL;
	if (!(dir = cg_dir(h, m->path)) || stat(dir, &st) || !S_ISDIR(st.st_mode)) {
		pr_err("cgroup %s of hierarchy %s, where a process was outside the root's cgroup, does not "
		       "exist here", m->path, m->controllers[0] ? m->controllers : "unified (v2)");
		*ret = -ENOENT;
		free(dir);
		return NULL;
	}
	return dir;
}

static bool below_root(const CgroupEntry *e, const char *ctl)
{
	for (size_t i = 0; i < e->n_sets; i++)
		for (size_t k = 0; k < e->sets[i]->n_members; k++)
			if (!strcmp(e->sets[i]->members[k]->controllers, ctl) && e->sets[i]->members[k]->path[0])
				return true;
	return false;
}

int cgroup_prepare(struct cgroup_image *ci, int mode, const struct cr_cgroup_root *roots, size_t nr_roots)
{
	const CgroupEntry *e = ci->e;
	struct cg_hiers hs;
	struct cg_line *own = NULL;
	size_t nr_own = 0, nr_b = 0;
	struct base *b = NULL;
	char *buf;
	int ret;

	if (!e || mode == CR_CG_IGNORE)
		return 0;
	if (mode < CR_CG_IGNORE || mode > CR_CG_STRICT)
		return pr_err("unknown --manage-cgroups mode %d", mode), -EINVAL;
	if ((ret = cg_hiers_read(&hs)))
		return ret;
	if (!(buf = read_file("/proc/self/cgroup", NULL))) {
		cg_hiers_free(&hs);
		return pr_perror("can't read /proc/self/cgroup");
	}
	ret = parse_cgroup_file(buf, &own, &nr_own);
	free(buf);
	for (size_t i = 0; !ret && i < e->n_sets; i++)
		for (size_t k = 0; !ret && k < e->sets[i]->n_members; k++) {
			const char *ctl = e->sets[i]->members[k]->controllers;
			/* a hierarchy this host lacks matters only if a process was below the root's cgroup in it */
			if (!cg_hier_find(&hs, ctl) && !below_root(e, ctl)) {
				pr_warn("cgroup hierarchy %s of the images is not mounted here: left out", ctl[0] ? ctl : "v2");
				continue;
			}
			ret = add_base(&b, &nr_b, ctl, &hs, own, nr_own, roots, nr_roots);
		}
	if (!ret)
		ret = make_dirs(ci, b, nr_b, mode);
	if (!ret && (!(ci->procs = calloc(e->n_sets, sizeof(*ci->procs))) || !(ci->v2 = calloc(e->n_sets, sizeof(char *)))))
		ret = -ENOMEM;
	for (size_t i = 0; !ret && i < e->n_sets; i++) {
		const CgroupSet *s = e->sets[i];
		if (!(ci->procs[i] = calloc(s->n_members + 1, sizeof(char *)))) {
			ret = -ENOMEM;
			break;
		}
		for (size_t k = 0, n = 0; !ret && k < s->n_members; k++) {
			const CgroupMember *m = s->members[k];
			char *dir = member_dir(m, b, nr_b, &hs, &ret);
			if (!dir)
				continue;
			if (asprintf(&ci->procs[i][n], "%s/cgroup.procs", dir) < 0)
				ret = -ENOMEM;
			else if (n++, !m->controllers[0])
				ci->v2[i] = dir, dir = NULL;
			free(dir);
		}
	}
	for (size_t i = 0; i < nr_b; i++)
		free(b[i].dir);
	free(b);
	lines_free(own, nr_own);
	cg_hiers_free(&hs);
	return ret;
}

static const CgroupTask *task_of(const struct cgroup_image *ci, uint32_t pid)
{
	for (size_t i = 0; ci->procs && i < ci->e->n_tasks; i++)
		if (ci->e->tasks[i]->pid == pid)
			return ci->e->tasks[i];
	return NULL;
}

int cgroup_v2_fd(const struct cgroup_image *ci, uint32_t pid)
{
	const CgroupTask *t = task_of(ci, pid);

	if (!t || !ci->v2[t->set - 1])
		return -1;
	return open(ci->v2[t->set - 1], O_PATH | O_DIRECTORY | O_CLOEXEC);
}

bool cgroup_same(const struct cgroup_image *ci, uint32_t pid, uint32_t other)
{
	const CgroupTask *t = task_of(ci, pid), *o = task_of(ci, other);

	return t && o && t->set == o->set;
}

int cgroup_enter(const struct cgroup_image *ci, uint32_t pid)
{
	const CgroupTask *t = task_of(ci, pid);

	if (!t)
		return 0;
	for (char **p = ci->procs[t->set - 1]; *p; p++) {
		/* "0": the writer, whatever its PID is in the namespace it is in */
		if (write_file(*p, "0"))
			return pr_perror("can't move pid %u into its cgroup (%s)", pid, *p);
	}
	return 0;
}

void cgroup_undo(struct cgroup_image *ci)
{
	/* children first; a cgroup a dying task still holds is left (EBUSY) */
	for (size_t i = ci->nr_created; i-- > 0;)
		for (int tries = 0; rmdir(ci->created[i]) && errno == EBUSY && tries < 50; tries++)
			usleep(10000);
}

void cgroup_free(struct cgroup_image *ci)
{
	for (size_t i = 0; ci->procs && i < ci->e->n_sets; i++) {
		for (char **p = ci->procs[i]; p && *p; p++)
			free(*p);
		free(ci->procs[i]);
		free(ci->v2 ? ci->v2[i] : NULL);
	}
	free(ci->procs);
	free(ci->v2);
	for (size_t i = 0; i < ci->nr_created; i++)
		free(ci->created[i]);
	free(ci->created);
	img_free_msg(ci->e ? &ci->e->base : NULL);
	memset(ci, 0, sizeof(*ci));
}

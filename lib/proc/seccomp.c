/* seccomp filters and strict mode, both directions (see seccomp.h).
 *
 * The kernel hands out a thread's chain oldest first: filter 0 (of
 * PTRACE_SECCOMP_GET_FILTER and GET_METADATA alike) is the first one installed,
 * the outermost, and the last index the innermost.  Chains equal in content and order are stored once, as a tree
 * of filters: what fork and clone share in the kernel is shared in the image.
 * A restored process installs its chain anew (processes do not share the
 * objects, which no program can tell); threads that all ran one chain get it
 * with SECCOMP_FILTER_FLAG_TSYNC, so that a later TSYNC of theirs works again. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <fcntl.h>
#include <unistd.h>
#include "image/image.h"
#include "kerndat.h"
#include "log.h"
#include "proc/seccomp.h"
#include "proc/tree.h"
#include "restorer-args.h"
#include "util.h"

#ifndef PTRACE_SECCOMP_GET_FILTER
#define PTRACE_SECCOMP_GET_FILTER 0x420c
#endif
#ifndef PTRACE_SECCOMP_GET_METADATA
#define PTRACE_SECCOMP_GET_METADATA 0x420d
#endif
#define FILTER_FLAG_LOG 2          /* the only flag a filter keeps (metadata) */
#define BPF_MAXINSNS 4096
#define MAX_INSNS_PER_PATH 32768   /* the kernel's bound: a filter costs its length + 4 */
#define INSN_SIZE 8

int seccomp_thread_mode(pid_t pid, pid_t tid)
{
	char name[64], *buf, *p;
	int mode = -1;

	snprintf(name, sizeof(name), "task/%d/status", tid);
	if (!(buf = read_proc(pid, name, NULL)))
		return -1;
	if ((p = strstr(buf, "\nSeccomp:")))
		mode = atoi(p + 9);
	else
		mode = 0;   /* a kernel without CONFIG_SECCOMP */
	free(buf);
	return mode;
}

/* The filters found so far, each at most once per (parent, flags, program). */
struct forest {
	SeccompFilter **f;
	size_t nr;
};

static uint32_t forest_add(struct forest *fo, uint32_t parent, uint32_t flags, uint8_t *prog, size_t len)
{
	for (size_t i = 0; i < fo->nr; i++) {
		SeccompFilter *f = fo->f[i];
		if (f->parent == parent && f->flags == flags && f->prog.len == len && !memcmp(f->prog.data, prog, len)) {
			free(prog);
			return f->id;
		}
	}
	SeccompFilter **n = realloc(fo->f, (fo->nr + 1) * sizeof(*n)), *f;
	if (!n || !(f = malloc(sizeof(*f)))) {
		if (n)
			fo->f = n;
		free(prog);
		return 0;
	}
	fo->f = n;
	seccomp_filter__init(f);
	f->id = fo->nr + 1;
	f->has_parent = parent != 0;
	f->parent = parent;
	f->flags = flags;
	f->prog.data = prog;
	f->prog.len = len;
	fo->f[fo->nr++] = f;
	return f->id;
}

/* A filter that can hand a call to a listener (SECCOMP_RET_USER_NOTIF): the
 * listener's fd can't be restored, and without it the call would fail. */
static bool notifies(const uint8_t *prog, long n)
{
	for (long i = 0; i < n; i++) {
		uint16_t code;
		uint32_t k;
		memcpy(&code, prog + i * INSN_SIZE, 2);
		memcpy(&k, prog + i * INSN_SIZE + 4, 4);
		if (code == (0x06 | 0x00) /* BPF_RET | BPF_K */ && (k & 0xffff0000U) == 0x7fc00000U)
			return true;
	}
	return false;
}

/* The chain of a stopped thread, into the forest: its innermost filter's id. */
static int dump_chain(pid_t tid, struct forest *fo, uint32_t *innermost)
{
	long n;
	size_t depth = 0;

	/* how deep: GET_FILTER answers ENOENT past the outermost */
	while ((n = ptrace(PTRACE_SECCOMP_GET_FILTER, tid, (void *)depth, NULL)) > 0)
		depth++;
	if (errno != ENOENT || !depth)
		return pr_perror("can't read the seccomp filters of thread %d (PTRACE_SECCOMP_GET_FILTER; "
				 "needs CAP_SYS_ADMIN and a tracer without seccomp)", tid);
	uint32_t parent = 0;
	for (size_t k = 0; k < depth; k++) {
		struct { uint64_t filter_off, flags; } md = { k, 0 };
		uint8_t *prog;

		n = ptrace(PTRACE_SECCOMP_GET_FILTER, tid, (void *)k, NULL);
		if (n <= 0 || n > BPF_MAXINSNS || !(prog = malloc(n * INSN_SIZE)))
			return n <= 0 ? pr_perror("can't read seccomp filter %zu of thread %d", k, tid) : -ENOMEM;
		if (ptrace(PTRACE_SECCOMP_GET_FILTER, tid, (void *)k, prog) != n) {
			free(prog);
			return pr_perror("seccomp filter %zu of thread %d changed while read", k, tid);
		}
		if (notifies(prog, n)) {
			free(prog);
			return pr_err("thread %d has a seccomp filter that passes calls to a listener "
				      "(SECCOMP_RET_USER_NOTIF): not supported", tid), -EOPNOTSUPP;
		}
		if (ptrace(PTRACE_SECCOMP_GET_METADATA, tid, (void *)sizeof(md), &md) < 0) {
			free(prog);
			return pr_perror("can't read the flags of seccomp filter %zu of thread %d "
					 "(PTRACE_SECCOMP_GET_METADATA)", k, tid);
		}
		if (!(parent = forest_add(fo, parent, md.flags & FILTER_FLAG_LOG, prog, n * INSN_SIZE)))
			return -ENOMEM;
	}
	*innermost = parent;
	return 0;
}

int seccomp_dump(const struct tree *t, struct img_dir *dir)
{
	SeccompEntry e = SECCOMP_ENTRY__INIT;
	struct forest fo = { 0 };
	SeccompThread **th = NULL;
	size_t nr_th = 0;
	int ret = 0;

	for (int i = 0; i < t->nr && !ret; i++) {
		const struct tree_task *task = &t->tasks[i];
		for (int k = 0; !task->zombie && k < task->s.nr_threads && !ret; k++) {
			pid_t tid = task->s.tids[k];
			int mode = seccomp_thread_mode(task->s.pid, tid);
			SeccompThread *st, **n;

			if (mode < 0) {
				ret = pr_perror("can't read the seccomp mode of thread %d of pid %d", tid, task->s.pid);
				break;
			}
			if (!mode)
				continue;
			if (mode > 2) {
				ret = (pr_err("thread %d of pid %d has seccomp mode %d, unknown to libcr", tid,
					      task->s.pid, mode), -EOPNOTSUPP);
				break;
			}
			if (!(n = realloc(th, (nr_th + 1) * sizeof(*n))) || !(st = malloc(sizeof(*st)))) {
				if (n)
					th = n;
				ret = -ENOMEM;
				break;
			}
			th = n;
			seccomp_thread__init(st);
			th[nr_th++] = st;
			st->tid = task->vtids[k];
			st->mode = mode;
			if (mode == 2) {
				st->has_filter = true;
				ret = dump_chain(tid, &fo, &st->filter);
			}
		}
	}
	if (!ret && nr_th) {
		e.filters = fo.f;
		e.n_filters = fo.nr;
		e.threads = th;
		e.n_threads = nr_th;
		ret = img_write_one(dir, IMG_SECCOMP, 0, &e.base);
		pr_info("seccomp: %zu threads, %zu distinct filters", nr_th, fo.nr);
	}
	for (size_t i = 0; i < fo.nr; i++) {
		free(fo.f[i]->prog.data);
		free(fo.f[i]);
	}
	free(fo.f);
	for (size_t i = 0; i < nr_th; i++)
		free(th[i]);
	free(th);
	return ret;
}

static int validate(const SeccompEntry *e, PstreeEntry *const *entries, size_t nr, size_t *depth)
{
	size_t *insns = calloc(e->n_filters + 1, sizeof(*insns));

	if (!insns)
		return -ENOMEM;
	for (size_t i = 0; i < e->n_filters; i++) {
		const SeccompFilter *f = e->filters[i];
		uint32_t parent = f->has_parent ? f->parent : 0;

		if (f->id != i + 1 || parent >= f->id || f->flags & ~FILTER_FLAG_LOG || !f->prog.len ||
		    f->prog.len % INSN_SIZE || f->prog.len / INSN_SIZE > BPF_MAXINSNS) {
			free(insns);
			return pr_err("seccomp.img: filter %zu (id %u) has a bad id, parent, flags or program", i, f->id),
			       -EINVAL;
		}
		insns[f->id] = (parent ? insns[parent] : 0) + f->prog.len / INSN_SIZE + 4;
		depth[i] = (parent ? depth[parent - 1] : 0) + 1;
		if (insns[f->id] > MAX_INSNS_PER_PATH) {
			free(insns);
			return pr_err("seccomp.img: the chain of filter %u is longer than the kernel allows", f->id),
			       -EINVAL;
		}
	}
	free(insns);
	size_t total = 0;
	for (size_t p = 0; p < nr; p++)
		total += entries[p]->zombie ? 0 : entries[p]->n_threads;
	if (e->n_threads > total)
		return pr_err("seccomp.img: %zu threads, the tree has %zu", e->n_threads, total), -EINVAL;
	for (size_t i = 0; i < e->n_threads; i++) {
		const SeccompThread *t = e->threads[i];
		bool found = false;

		if ((t->mode != 1 && t->mode != 2) || (t->mode == 2) != (t->has_filter && t->filter) ||
		    (t->mode == 2 && t->filter > e->n_filters))
			return pr_err("seccomp.img: thread %u has a bad mode or filter", t->tid), -EINVAL;
		for (size_t j = 0; j < i; j++)
			if (e->threads[j]->tid == t->tid)
				return pr_err("seccomp.img: thread %u appears twice", t->tid), -EINVAL;
		for (size_t p = 0; p < nr && !found; p++)
			for (size_t k = 0; !entries[p]->zombie && k < entries[p]->n_threads && !found; k++)
				found = entries[p]->threads[k] == t->tid;
		if (!found)
			return pr_err("seccomp.img: thread %u is not in pstree.img", t->tid), -EINVAL;
	}
	return 0;
}

int seccomp_load(struct img_dir *dir, PstreeEntry *const *entries, size_t nr, struct seccomp_image *si)
{
	struct img *img;
	int ret;

	memset(si, 0, sizeof(*si));
	if (faccessat(dir->dfd, "seccomp.img", F_OK, 0))
		return 0;   /* no thread had seccomp */
	if (!(img = img_open(dir, IMG_SECCOMP, 0)))
		return -ENOENT;
	ret = img_read_one(img, &seccomp_entry__descriptor, (ProtobufCMessage **)&si->e);
	img_close(img);
	if (ret)
		return ret;
	if (si->e->n_threads && !kerndat_get()->seccomp_suspend)
		return pr_err("the images have seccomp filters or strict mode, and this kernel or caller can't "
			      "suspend them while the restorer runs (crtool check: seccomp-suspend)"), -EOPNOTSUPP;
	if (!(si->depth = calloc(si->e->n_filters + 1, sizeof(*si->depth))))
		return -ENOMEM;
	return validate(si->e, entries, nr, si->depth);
}

void seccomp_free(struct seccomp_image *si)
{
	img_free_msg(si->e ? &si->e->base : NULL);
	free(si->depth);
	memset(si, 0, sizeof(*si));
}

static const SeccompThread *thread_of(const struct seccomp_image *si, uint32_t tid)
{
	for (size_t i = 0; si->e && i < si->e->n_threads; i++)
		if (si->e->threads[i]->tid == tid)
			return si->e->threads[i];
	return NULL;
}

/* All threads (more than one) run the same chain: the leader syncs it to the others. */
static bool shared_chain(const struct seccomp_image *si, const PstreeEntry *p)
{
	const SeccompThread *lead = thread_of(si, p->threads[0]);

	if (p->n_threads < 2 || !lead || lead->mode != 2)
		return false;
	for (size_t k = 1; k < p->n_threads; k++) {
		const SeccompThread *t = thread_of(si, p->threads[k]);
		if (!t || t->mode != 2 || t->filter != lead->filter)
			return false;
	}
	return true;
}

#define PARENT_OF(si, id) ((si)->e->filters[(id) - 1]->has_parent ? (si)->e->filters[(id) - 1]->parent : 0)

/* The programs are copied once per process, each thread's list pointing at them. */
int seccomp_area_size(const struct seccomp_image *si, const PstreeEntry *p, size_t *out)
{
	bool shared, *seen;
	size_t len = 0;

	*out = 0;
	if (!seccomp_any(si))
		return 0;
	if (!(seen = calloc(si->e->n_filters + 1, sizeof(*seen))))
		return -ENOMEM;
	shared = shared_chain(si, p);
	for (size_t k = 0; k < p->n_threads && !(shared && k); k++) {
		const SeccompThread *t = thread_of(si, p->threads[k]);
		if (!t || t->mode != 2)
			continue;
		for (uint32_t id = t->filter; id; id = PARENT_OF(si, id)) {
			len += sizeof(struct rst_seccomp_filter);
			if (!seen[id])
				len += si->e->filters[id - 1]->prog.len;
			seen[id] = true;
		}
	}
	free(seen);
	*out = len;
	return 0;
}

int seccomp_restorer_args(const struct seccomp_image *si, const PstreeEntry *p, struct restorer_args *a,
			  struct rst_thread *threads, uint64_t area)
{
	bool shared = shared_chain(si, p);
	uint64_t *placed = seccomp_any(si) ? calloc(si->e->n_filters + 1, sizeof(*placed)) : NULL;

	if (seccomp_any(si) && !placed)
		return -ENOMEM;
	a->seccomp_tsync = shared;
	for (size_t k = 0; k < p->n_threads; k++) {
		const SeccompThread *t = placed ? thread_of(si, p->threads[k]) : NULL;
		struct rst_thread *rt = &threads[k];

		rt->seccomp_mode = rt->nr_seccomp = 0;
		rt->seccomp = 0;
		if (!t || (shared && k))
			continue;   /* a shared chain comes with the leader's TSYNC */
		rt->seccomp_mode = t->mode;
		if (t->mode != 2)
			continue;
		size_t n = si->depth[t->filter - 1];
		struct rst_seccomp_filter *out = (struct rst_seccomp_filter *)area;
		area += n * sizeof(*out);
		/* walk innermost to outermost, filling the list from its end */
		for (uint32_t id = t->filter, at = n; id; id = PARENT_OF(si, id)) {
			const SeccompFilter *f = si->e->filters[id - 1];
			if (!placed[id]) {
				memcpy((void *)area, f->prog.data, f->prog.len);
				placed[id] = area;
				area += f->prog.len;
			}
			out[--at] = (struct rst_seccomp_filter){ placed[id], f->prog.len / INSN_SIZE, f->flags };
		}
		rt->nr_seccomp = n;
		rt->seccomp = (uint64_t)out;
	}
	free(placed);
	return 0;
}

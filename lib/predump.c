/* Pre-dump: a round of memory copied while the tree keeps running.  The tree is
 * frozen only to give each new process its tracker (a userfaultfd made in its mm
 * by the parasite's syscall); then, running, each process's pages are listed and
 * write-protected (the areas armed for tracking the first time, the written
 * pages protected again by the same PAGEMAP_SCAN that finds them) and copied.  A
 * page written after its protection is caught by the tracking and stored again
 * by the next round (the final dump, frozen, finds the last ones), so every
 * round's images plus the later ones are exact. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "cr/cr.h"
#include "image/image.h"
#include "image/inventory.h"
#include "infect/infect.h"
#include "kerndat.h"
#include "log.h"
#include "mem/mem.h"
#include "mem/page-server.h"
#include "predump.h"
#include "proc/proc.h"
#include "proc/tree.h"
#include "util.h"

int prev_images_open(struct prev_images *p, const char *prev, struct img_dir *dir)
{
	char real[PATH_MAX];
	int ret;

	memset(p, 0, sizeof(*p));
	p->dir.dfd = -1;
	if (!prev)
		return 0;
	if (!realpath(prev, real))
		return pr_perror("previous images directory %s", prev);
	if ((ret = img_dir_open(&p->dir, real)))
		return ret;
	if (faccessat(p->dir.dfd, "inventory.img", F_OK, 0))
		return pr_err("%s holds no images of an earlier round (no inventory.img)", real), -ENOENT;
	unlinkat(dir->dfd, "parent", 0);
	if (symlinkat(real, dir->dfd, "parent"))
		return pr_perror("can't link %s as the parent of %s", real, dir->path);
	return track_fetch(real, &p->track);
}

MmEntry *prev_images_mm(struct prev_images *p, pid_t vpid)
{
	struct img *img;
	MmEntry *mm = NULL;

	if (p->dir.dfd < 0 || !(img = img_open(&p->dir, IMG_MM, vpid))) {
		cr_error_reset();   /* a process new since that round: stored whole */
		return NULL;
	}
	if (img_read_one(img, &mm_entry__descriptor, (ProtobufCMessage **)&mm) ||
	    mem_validate(mm, kerndat_get()->task_size)) {
		cr_error_reset();
		img_free_msg(mm ? &mm->base : NULL);
		mm = NULL;
	}
	img_close(img);
	return mm;
}

void prev_images_close(struct prev_images *p)
{
	track_set_free(&p->track);
	if (p->dir.dfd >= 0)
		img_dir_close(&p->dir);
}

static void forget_task(struct img_dir *dir, struct track_entry *e)
{
	char name[64];

	snprintf(name, sizeof(name), "pagemap-%d.img", e->vpid);
	unlinkat(dir->dfd, name, 0);
	snprintf(name, sizeof(name), "mm-%d.img", e->vpid);
	unlinkat(dir->dfd, name, 0);
	if (e->uffd >= 0)
		close(e->uffd);
	e->uffd = -1;
}

/* An address of pid's code to run the tracker's syscall from (private: see
 * mem_exec_site): /proc/pid/maps is enough (smaps, which walks every page table,
 * would lengthen the freeze). */
static uint64_t exec_site(pid_t pid)
{
	struct proc_vma *v;
	uint64_t at = 0;
	int nr;

	if (proc_parse_maps(pid, &v, &nr))
		return 0;
	for (int i = 0; i < nr && !at; i++)
		if ((v[i].prot & PROT_EXEC) && !v[i].shared && strcmp(v[i].path, "[vdso]") &&
		    strcmp(v[i].path, "[vsyscall]"))
			at = v[i].start;
	free(v);
	return at;
}

/* One process, frozen: its tracker (a userfaultfd made in its mm the first time,
 * the previous round's after), into next.  Nothing else needs the tree stopped. */
static int predump_tracker(struct tree_task *task, struct prev_images *prev, struct track_set *next)
{
	struct infect_ctx ctx = { .pid = 0 };
	int uffd = track_fd(&prev->track, task->vpid), ret;
	uint64_t site;

	if (uffd >= 0) {
		/* ours now: the previous round's set closes its copy */
		for (size_t i = 0; i < prev->track.nr; i++)
			if (prev->track.e[i].vpid == task->vpid)
				prev->track.e[i].uffd = -1;
	} else {
		if (!(site = exec_site(task->s.pid)))
			return pr_err("pid %d has no private executable mapping to run syscalls from", task->s.pid), -ENOEXEC;
		if ((ret = infect_prepare(&ctx, task->s.pid, site)))
			return infect_cure(&ctx), ret;
		uffd = track_create(&ctx);
		ret = infect_cure(&ctx);
		if (uffd < 0 || ret) {
			if (uffd >= 0)
				close(uffd);
			return uffd < 0 ? uffd : ret;
		}
	}
	if ((ret = track_set_add(next, task->vpid, task->s.pid, uffd)))
		close(uffd);
	return ret;
}

/* Is the process gone (exited, or a zombie without memory)? */
static bool task_gone(pid_t pid)
{
	struct proc_stat st;

	return proc_parse_stat_quiet(pid, &st) || st.state == 'Z' || st.state == 'X';
}

/* One process, running: list its pages (the areas new to tracking armed, the
 * written pages protected again by the scan that finds them).  A write racing
 * the scan is either found by it or by the next round; the pages are copied
 * after it, so a page's copy is never older than its protection. */
static int predump_list(const struct track_entry *e, struct img_dir *dir, struct prev_images *prev,
			struct page_runs *runs, struct page_stats *stats)
{
	MmEntry mm = MM_ENTRY__INIT, *parent_mm = prev_images_mm(prev, e->vpid);
	struct proc_stat st;
	int ret;

	if (!(ret = proc_parse_stat(e->pid, &st)) && !(ret = mem_collect(e->pid, &st, 0, &mm))) {
		struct dirty_track dt = { .uffd = e->uffd, .parent = parent_mm, .arm = true };
		if (!(ret = mem_dump_pages(NULL, e->pid, &mm, dir, e->vpid, stats, &dt, runs)))
			ret = img_write_one(dir, IMG_MM, e->vpid, &mm.base);
	}
	img_free_msg(parent_mm ? &parent_mm->base : NULL);
	mem_free(&mm);
	return ret;
}

static int pre_dump(const struct cr_dump_opts *uopts)
{
	struct cr_dump_opts opts = { 0 };
	struct img_dir dir = { .dfd = -1 };
	struct tree tree = { 0 };
	struct page_stats stats = { 0 };
	struct prev_images prev = { .dir = { .dfd = -1 } };
	struct track_set next = { 0 };
	struct page_runs *runs = NULL;
	struct page_server ps = { .sk = -1 };
	double t0, t_frozen, frozen_ms = 0;
	int ret, nr = 0;

	cr_error_reset();
	if (!uopts || uopts->sz < offsetof(struct cr_dump_opts, shell_job) + sizeof(bool))
		return pr_err("cr_pre_dump: bad options (set .sz = sizeof(struct cr_dump_opts))"), -EINVAL;
	memcpy(&opts, uopts, uopts->sz < sizeof(opts) ? uopts->sz : sizeof(opts));
	if (kerndat_get()->dirty_track != DIRTY_TRACK_PAGEMAP_SCAN_UFFD_WP)
		return pr_err("pre-dump needs dirty-page tracking, which this kernel lacks (PAGEMAP_SCAN with "
			      "userfaultfd write-protect in async mode, Linux 6.7+): see crtool check"), -EOPNOTSUPP;
	if ((ret = img_dir_open(&dir, opts.images_dir)))
		return ret;
	t0 = now_ms();
	if ((ret = prev_images_open(&prev, opts.sz > offsetof(struct cr_dump_opts, prev_images_dir)
						   ? opts.prev_images_dir : NULL, &dir)))
		goto out;
	if (opts.sz > offsetof(struct cr_dump_opts, page_server) && opts.page_server) {
		if ((ret = ps_connect(&ps, opts.page_server)))
			goto out;
		dir.ps = &ps;
	}
	if ((ret = tree_seize(opts.pid, &tree)) || (ret = tree_map_pidns(&tree)))
		goto out;
	t_frozen = now_ms();
	if (!(runs = calloc(tree.nr, sizeof(*runs)))) {
		ret = -ENOMEM;
		goto out;
	}
	nr = tree.nr;
	/* runs[k] goes with next.e[k]: predump_tracker adds each live process to next */
	for (int i = 0; i < tree.nr && !ret; i++)
		if (!tree.tasks[i].zombie)
			ret = predump_tracker(&tree.tasks[i], &prev, &next);
	if (ret || (ret = inventory_write_pre_dump(&dir, tree.tasks[0].vpid)))
		goto out;
	/* every process tracked: the tree runs on while its pages are listed and copied */
	tree_release(&tree, false);
	frozen_ms = now_ms() - t_frozen;
	for (size_t k = 0; k < next.nr && !ret; k++) {
		ret = predump_list(&next.e[k], &dir, &prev, &runs[k], &stats);
		if (ret && task_gone(next.e[k].pid)) {
			cr_error_reset();   /* exited meanwhile: forgotten below */
			free(runs[k].r);
			runs[k] = (struct page_runs){ 0 };
			ret = -ESRCH;
		}
		if (!ret)
			ret = mem_copy_runs(next.e[k].pid, &dir, next.e[k].vpid, &runs[k]);
		if (ret == -ESRCH) {
			/* exited while the tree ran: its images go, so that a later process
			 * with the same PID is stored whole */
			forget_task(&dir, &next.e[k]);
			ret = 0;
		}
	}
	if (!ret)
		ret = ps_close(&ps);
	/* the keeper holds only the processes still here */
	size_t kept = 0;
	for (size_t k = 0; k < next.nr; k++)
		if (next.e[k].uffd >= 0)
			next.e[kept++] = next.e[k];
	next.nr = kept;
	if (!ret)
		ret = track_keep(dir.path, &next);
	if (!ret)
		pr_info("stats: frozen_ms=%.3f processes=%zu pages=%lu bytes=%lu total_ms=%.3f", frozen_ms, next.nr,
			(unsigned long)stats.pages_written, (unsigned long)(stats.pages_written * PAGE_SIZE),
			now_ms() - t0);
out:
	tree_release(&tree, false);
	for (int i = 0; runs && i < nr; i++)
		free(runs[i].r);
	free(runs);
	track_set_free(&next);
	prev_images_close(&prev);
	if (ps.sk >= 0)
		close(ps.sk);
	img_dir_close(&dir);
	return ret;
}

CR_EXPORT int cr_pre_dump(const struct cr_dump_opts *uopts)
{
	return cr_error_named(pre_dump(uopts), "pre-dump");
}

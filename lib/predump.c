/* Pre-dump: a round of memory copied while the tree keeps running.  The tree is
 * frozen only while each process's pages are listed and write-protected (the
 * areas armed for tracking the first time, the written pages protected again by
 * the same PAGEMAP_SCAN that finds them); the pages are copied once it runs
 * again.  A page written meanwhile is caught by the tracking and stored again by
 * the next round, so every round's images plus the later ones are exact. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* One process, frozen: list its pages (protecting them), keep its tracker. */
static int predump_task(struct tree_task *task, struct img_dir *dir, struct prev_images *prev,
			struct track_set *next, struct page_runs *runs, struct page_stats *stats)
{
	struct infect_ctx ctx = { .pid = 0 };
	MmEntry mm = MM_ENTRY__INIT, *parent_mm = NULL;
	int uffd = track_fd(&prev->track, task->vpid), ret;
	bool infected = false;

	if ((ret = mem_collect(task->s.pid, &task->s.stat, 0, &mm)))
		goto out;
	if (uffd < 0) {
		/* the first round for this process: a userfaultfd made in its mm */
		if (!mem_exec_site(&mm)) {
			pr_err("pid %d has no executable mapping to run syscalls from", task->s.pid);
			ret = -ENOEXEC;
			goto out;
		}
		infected = true;
		if ((ret = infect_prepare(&ctx, task->s.pid, mem_exec_site(&mm))) || (uffd = ret = track_create(&ctx)) < 0)
			goto out;
		ret = infect_cure(&ctx);
		infected = false;
		if (ret) {
			close(uffd);
			goto out;
		}
	} else {
		/* ours now: the previous round's set closes its copy */
		for (size_t i = 0; i < prev->track.nr; i++)
			if (prev->track.e[i].vpid == task->vpid)
				prev->track.e[i].uffd = -1;
		parent_mm = prev_images_mm(prev, task->vpid);
	}
	if ((ret = track_set_add(next, task->vpid, task->s.pid, uffd))) {
		close(uffd);
		goto out;
	}
	struct dirty_track dt = { .uffd = uffd, .parent = parent_mm, .arm = true };
	if ((ret = mem_dump_pages(NULL, task->s.pid, &mm, dir, task->vpid, stats, &dt, runs)))
		goto out;
	ret = img_write_one(dir, IMG_MM, task->vpid, &mm.base);
out:
	if (infected)
		infect_cure(&ctx);
	img_free_msg(parent_mm ? &parent_mm->base : NULL);
	mem_free(&mm);
	return ret;
}

CR_EXPORT int cr_pre_dump(const struct cr_dump_opts *uopts)
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
	/* runs[k] goes with next.e[k]: predump_task adds each live process to next */
	for (int i = 0; i < tree.nr && !ret; i++)
		if (!tree.tasks[i].zombie)
			ret = predump_task(&tree.tasks[i], &dir, &prev, &next, &runs[next.nr], &stats);
	if (ret || (ret = inventory_write_pre_dump(&dir, tree.tasks[0].vpid)))
		goto out;
	/* the pages are listed and protected: the tree runs on while they are copied */
	tree_release(&tree, false);
	frozen_ms = now_ms() - t_frozen;
	for (size_t k = 0; k < next.nr && !ret; k++) {
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

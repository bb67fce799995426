/* Dump: the steps, in order.  Each lives in the module that owns it. */
#include <errno.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include "cr/cr.h"
#include "files/files.h"
#include "image/image.h"
#include "image/inventory.h"
#include "infect/infect.h"
#include "log.h"
#include "mem/mem.h"
#include "proc/core.h"
#include "proc/seize.h"
#include "pstree.pb-c.h"
#include "fdinfo.pb-c.h"
#include "util.h"

#define PAGES_ID 1

static int write_one(struct img_dir *dir, enum img_kind kind, pid_t pid, const ProtobufCMessage *msg)
{
	struct img *img = img_create(dir, kind, pid);
	int ret;

	if (!img)
		return -EIO;
	if ((ret = img_write_msg(img, msg))) {
		img_close(img);
		return ret;
	}
	return img_close_write(img);
}

static int dump_pstree(struct img_dir *dir, const struct seized *s)
{
	PstreeEntry e = PSTREE_ENTRY__INIT;
	uint32_t tids[s->nr_threads];

	for (int i = 0; i < s->nr_threads; i++)
		tids[i] = s->tids[i];
	e.pid = s->pid;
	e.ppid = s->stat.ppid;
	e.pgid = s->stat.pgid;
	e.sid = s->stat.sid;
	e.n_threads = s->nr_threads;
	e.threads = tids;
	return write_one(dir, IMG_PSTREE, 0, &e.base);
}

static int dump_fs(struct img_dir *dir, pid_t pid)
{
	FsEntry e = FS_ENTRY__INIT;
	char path[64];
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/cwd", pid);
	e.cwd = xreadlink(path);
	snprintf(path, sizeof(path), "/proc/%d/root", pid);
	e.root = xreadlink(path);
	if (!e.cwd || !e.root)
		ret = pr_perror("can't read the cwd/root of pid %d", pid);
	else
		ret = write_one(dir, IMG_FS, pid, &e.base);
	free(e.cwd);
	free(e.root);
	return ret;
}

/* The syscall site: the start of the first executable mapping. */
static uint64_t exec_site(const MmEntry *mm)
{
	for (size_t i = 0; i < mm->n_vmas; i++)
		if ((mm->vmas[i]->prot & PROT_EXEC) && mm->vmas[i]->kind != VMA_KIND__VMA_VSYSCALL &&
		    mm->vmas[i]->kind != VMA_KIND__VMA_VDSO)
			return mm->vmas[i]->start;
	return 0;
}

static int check_session(const struct seized *s, bool shell_job)
{
	if (s->stat.sid == s->pid || shell_job)
		return 0;
	return pr_err("pid %d is in session %d, led by a process outside the dump: dump it with --shell-job "
		      "(and restore with --shell-job) to leave the session to the caller", s->pid, s->stat.sid),
	       -EOPNOTSUPP;
}

CR_EXPORT int cr_dump(const struct cr_dump_opts *uopts)
{
	struct cr_dump_opts opts = { 0 };
	struct img_dir dir = { .dfd = -1 };
	struct seized s = { 0 };
	struct infect_ctx ctx = { .pid = 0 };
	struct page_stats stats = { 0 };
	MmEntry mm = MM_ENTRY__INIT;
	CoreEntry *core = NULL;
	bool infected = false;
	double t0, t_frozen;
	int ret;

	cr_error_reset();
	if (!uopts || uopts->sz < offsetof(struct cr_dump_opts, shell_job) + sizeof(bool))
		return pr_err("cr_dump: bad options (set .sz = sizeof(struct cr_dump_opts))"), -EINVAL;
	memcpy(&opts, uopts, uopts->sz < sizeof(opts) ? uopts->sz : sizeof(opts));
	if ((ret = img_dir_open(&dir, opts.images_dir)))
		return ret;
	t0 = now_ms();
	if ((ret = seize_task(opts.pid, &s)))
		goto out;
	t_frozen = now_ms();
	if ((ret = check_session(&s, opts.shell_job)))
		goto out;
	if ((ret = mem_collect(s.pid, &s.stat, 0, &mm)))
		goto out;
	if ((ret = files_dump(s.pid, &dir, opts.shell_job)))
		goto out;
	if (!exec_site(&mm)) {
		pr_err("pid %d has no executable mapping to run the parasite from", s.pid);
		ret = -ENOEXEC;
		goto out;
	}
	infected = true;
	if ((ret = infect_prepare(&ctx, s.pid, exec_site(&mm))))
		goto out;
	if ((ret = core_dump_seized(&s, &ctx, &core)))
		goto out;
	if ((ret = infect_parasite(&ctx)))
		goto out;
	if ((ret = infect_cmd(&ctx, PARASITE_CMD_DUMP_MISC, NULL)) ||
	    (ret = core_dump_misc(core, &ctx.args->misc)) ||
	    (ret = core_dump_thread_misc(core, &ctx)))
		goto out;
	mm.mm_brk = ctx.args->misc.brk;
	if ((ret = mem_dump_pages(&ctx, &mm, &dir, PAGES_ID, &stats)))
		goto out;
	if ((ret = write_one(&dir, IMG_CORE, s.pid, &core->base)) ||
	    (ret = write_one(&dir, IMG_MM, s.pid, &mm.base)) ||
	    (ret = dump_fs(&dir, s.pid)) ||
	    (ret = dump_pstree(&dir, &s)) ||
	    (ret = inventory_write(&dir, s.pid)))
		goto out;
	ret = infect_cure(&ctx);
	infected = false;
	if (ret)
		goto out;
	if (!opts.leave_running) {
		/* The images are complete and synced: the original goes. */
		kill(s.pid, SIGKILL);
		s.attached = false;
	}
out:
	if (infected)
		infect_cure(&ctx);
	if (s.attached)
		unseize_task(&s);
	if (!ret)
		pr_info("stats: frozen_ms=%.3f pages=%lu bytes=%lu total_ms=%.3f", now_ms() - t_frozen,
			(unsigned long)stats.pages_written, (unsigned long)(stats.pages_written * PAGE_SIZE),
			now_ms() - t0);
	core_free(core);
	mem_free(&mm);
	img_dir_close(&dir);
	return ret;
}

/* Restore: the steps, in order.  The new task is built in two halves: libcr
 * code (forked from us at the original PID) recreates what needs libc, then the
 * restorer blob turns it into the dumped process and ends in rt_sigreturn, where
 * we catch it with ptrace to unmap the blob. */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "arch.h"
#include "cr/cr.h"
#include "files/files.h"
#include "image/image.h"
#include "image/inventory.h"
#include "kerndat.h"
#include "log.h"
#include "mem/mem.h"
#include "mem/premap.h"
#include "proc/core.h"
#include "pstree.pb-c.h"
#include "restorer-args.h"
#include "restorer-blob.h"
#include "util.h"

#ifndef PTRACE_SETSIGMASK
#define PTRACE_SETSIGMASK 0x420b
#endif

/* Everything read from the images, validated before anything is created. */
struct task_image {
	InventoryEntry *inv;
	PstreeEntry *pstree;
	CoreEntry *core;
	MmEntry *mm;
	FsEntry *fs;
	FdinfoEntry **fds;
	size_t nr_fds;
};

/* Shared with the child: how it failed, and where its restorer args are. */
struct child_report {
	char error[1024];
	uint64_t args_addr;
	uint64_t rst_start, rst_len;
	uint64_t syscall_site;
	double memory_ms;       /* premapping and filling memory */
};

static const char *const restorer_steps[] = {
	"", "parking the vDSO", "unmapping libcr", "moving an area into place", "placing the vDSO",
	"unmapping the premap area", "PR_SET_MM_MAP", "sigaction", "setitimer", "sigaltstack", "rseq",
	"TLS", "set_robust_list", "queueing pending signals", "credentials", "PR_SET_DUMPABLE",
	"cloning a thread at its TID", "scheduling policy and nice",
};

static int read_one(struct img_dir *dir, enum img_kind kind, pid_t pid, const ProtobufCMessageDescriptor *d,
		    ProtobufCMessage **out)
{
	struct img *img = img_open(dir, kind, pid);
	int ret;

	if (!img)
		return -ENOENT;
	ret = img_read_one(img, d, out);
	img_close(img);
	return ret;
}

static int load_images(struct img_dir *dir, struct task_image *t)
{
	int ret;
	pid_t pid;

	if ((ret = inventory_read(dir, &t->inv)))
		return ret;
	if ((ret = read_one(dir, IMG_PSTREE, 0, &pstree_entry__descriptor, (ProtobufCMessage **)&t->pstree)))
		return ret;
	pid = t->pstree->pid;
	if (pid <= 1 || pid != (pid_t)t->inv->root_pid || t->pstree->n_threads < 1 ||
	    t->pstree->threads[0] != (uint32_t)pid)
		return pr_err("pstree.img: root pid %u does not match the inventory (%u) or is not its first thread",
			      t->pstree->pid, t->inv->root_pid), -EINVAL;
	if ((ret = read_one(dir, IMG_CORE, pid, &core_entry__descriptor, (ProtobufCMessage **)&t->core)) ||
	    (ret = core_validate(t->core, pid)))
		return ret;
	if (t->core->n_threads != t->pstree->n_threads)
		return pr_err("pid %d: pstree.img lists %zu threads, core-%d.img %zu", pid, t->pstree->n_threads,
			      pid, t->core->n_threads), -EINVAL;
	for (size_t i = 0; i < t->core->n_threads; i++)
		if (t->core->threads[i]->tid != t->pstree->threads[i])
			return pr_err("pid %d: thread %zu is %u in pstree.img, %u in core-%d.img", pid, i,
				      t->pstree->threads[i], t->core->threads[i]->tid, pid), -EINVAL;
	if ((ret = read_one(dir, IMG_MM, pid, &mm_entry__descriptor, (ProtobufCMessage **)&t->mm)) ||
	    (ret = mem_validate(t->mm, kerndat_get()->task_size)))
		return ret;
	if ((ret = read_one(dir, IMG_FS, pid, &fs_entry__descriptor, (ProtobufCMessage **)&t->fs)))
		return ret;
	if (t->fs->cwd[0] != '/' || t->fs->root[0] != '/')
		return pr_err("fs-%d.img: cwd or root is not an absolute path", pid), -EINVAL;
	return files_load(dir, pid, &t->fds, &t->nr_fds);
}

static void free_images(struct task_image *t)
{
	img_free_msg(t->inv ? &t->inv->base : NULL);
	img_free_msg(t->pstree ? &t->pstree->base : NULL);
	img_free_msg(t->core ? &t->core->base : NULL);
	img_free_msg(t->mm ? &t->mm->base : NULL);
	img_free_msg(t->fs ? &t->fs->base : NULL);
	files_free(t->fds, t->nr_fds);
}

static int restore_session(const PstreeEntry *p, bool shell_job)
{
	if ((pid_t)p->sid == (pid_t)p->pid) {
		if (setsid() < 0)
			return pr_perror("can't make pid %u a session leader", p->pid);
		return 0;
	}
	if (!shell_job)
		return pr_err("pid %u was in session %u of a process outside the images: restore with --shell-job",
			      p->pid, p->sid), -EINVAL;
	if ((pid_t)p->pgid == (pid_t)p->pid && setpgid(0, 0))
		return pr_perror("can't make pid %u a process group leader", p->pid);
	return 0;
}

/* glibc registered rseq for the thread we were forked from; that area is about to go. */
static void unregister_inherited_rseq(void)
{
	extern const ptrdiff_t __rseq_offset __attribute__((weak));
	extern const unsigned int __rseq_size __attribute__((weak));
	const unsigned lens[] = { &__rseq_size ? __rseq_size : 32, 32, 20 };

	if (!&__rseq_offset)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(lens); i++)
		if (!syscall(__NR_rseq, (char *)__builtin_thread_pointer() + __rseq_offset, lens[i], 1, 0x53053053))
			return;
}

/* Layout of the restorer region; everything the blob touches lives here. */
struct rst_layout {
	uint64_t blob, args, vmas, threads, siginfo, auxv, frames, frame_len, stacks, stack_top, scratch, len;
};

static void plan_layout(const struct task_image *t, uint64_t vdso_len, struct rst_layout *l)
{
	const CoreEntry *c = t->core;
	uint64_t at = PAGE_ALIGN(restorer_blob_size), xlen = 0;

	for (size_t i = 0; i < c->n_threads; i++)
		if (c->threads[i]->x86 && c->threads[i]->x86->xsave.len > xlen)
			xlen = c->threads[i]->x86->xsave.len;
	l->blob = 0;
	l->args = at;
	at = PAGE_ALIGN(at + sizeof(struct restorer_args));
	l->vmas = at;
	at = PAGE_ALIGN(at + (t->mm->n_vmas + 1) * sizeof(struct rst_vma));
	l->threads = at;
	at = PAGE_ALIGN(at + c->n_threads * sizeof(struct rst_thread));
	l->siginfo = at;
	at = PAGE_ALIGN(at + RST_MAX_SIGINFO * sizeof(struct rst_siginfo));
	l->auxv = at;
	at = PAGE_ALIGN(at + (t->mm->n_mm_saved_auxv + 2) * sizeof(uint64_t));
	l->frame_len = PAGE_ALIGN(xlen + 8192);
	l->frames = at;
	at += c->n_threads * l->frame_len;
	l->stacks = at;                       /* the cloned threads' restorer stacks */
	at += (c->n_threads - 1) * RESTORER_THREAD_STACK;
	at += RESTORER_STACK_SIZE;            /* the leader's */
	l->stack_top = at;
	l->scratch = at;
	at += vdso_len;
	l->len = at;
}

static int thread_areas(const struct task_image *t, const struct rst_layout *l, uint64_t base,
			struct core_thread_area **out)
{
	size_t n = t->core->n_threads;
	struct core_thread_area *areas = calloc(n, sizeof(*areas));

	if (!areas)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		areas[i].frame = (void *)(base + l->frames + i * l->frame_len);
		areas[i].frame_len = l->frame_len;
		/* the leader runs on the main restorer stack; this one stays unused */
		areas[i].stack = (void *)(base + l->stacks + (i ? i - 1 : 0) * RESTORER_THREAD_STACK);
	}
	*out = areas;
	return 0;
}

static void __attribute__((noreturn)) child_fail(struct child_report *rep)
{
	snprintf(rep->error, sizeof(rep->error), "%s", cr_error_isset() ? cr_last_error() : "restore failed");
	_exit(1);
}

/* The new task, at its original PID: libc work, then the jump into the restorer. */
static void __attribute__((noreturn)) child_main(struct img_dir *dir, struct task_image *t, bool shell_job,
						 int go_fd, struct child_report *rep)
{
	const struct kerndat *kd = kerndat_get();
	struct rst_vdso_area vdso[RST_MAX_VDSO_AREAS];
	uint32_t nr_vdso, nr_vmas;
	uint64_t vdso_len = 0, base, premap_len = premap_size(t->mm);
	struct rst_layout l;
	struct restorer_args *a;
	sigset_t all;
	char go;

	if (restore_session(t->pstree, shell_job) || premap_vdso(t->mm, vdso, &nr_vdso))
		child_fail(rep);
	for (uint32_t i = 0; i < nr_vdso; i++)
		vdso_len += vdso[i].len;
	plan_layout(t, vdso_len, &l);
	if (premap_reserve(t->mm, l.len + premap_len, kd->task_size, &base))
		child_fail(rep);
	/* the restorer region first, the premapped areas after it */
	if (mmap((void *)base, l.len, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
		 -1, 0) == MAP_FAILED) {
		pr_perror("can't map the restorer");
		child_fail(rep);
	}
	memcpy((void *)base, restorer_blob, sizeof(restorer_blob));
	pr_debug("pid %u: restorer at 0x%lx (%lu bytes), premap at 0x%lx (%lu bytes)", t->pstree->pid,
		 (unsigned long)base, (unsigned long)l.len, (unsigned long)(base + l.len), (unsigned long)premap_len);
	a = (struct restorer_args *)(base + l.args);
	a->task_size = kd->task_size;
	a->rst_start = base;
	a->rst_len = l.len;
	a->premap_start = base + l.len;
	a->premap_len = premap_len;
	a->vmas = base + l.vmas;
	uint64_t scratch = base + l.scratch;
	for (uint32_t i = 0; i < nr_vdso; i++) {
		vdso[i].scratch = scratch;
		scratch += vdso[i].len;
		a->vdso[i] = vdso[i];
	}
	a->nr_vdso = nr_vdso;
	double t_mem = now_ms();
	if (premap_build(dir, t->pstree->pid, t->mm, a->premap_start, (struct rst_vma *)a->vmas, &nr_vmas))
		child_fail(rep);
	a->nr_vmas = nr_vmas;
	rep->memory_ms = now_ms() - t_mem;

	const MmEntry *mm = t->mm;
	a->mm = (struct rst_mm_map){
		.start_code = mm->mm_start_code, .end_code = mm->mm_end_code,
		.start_data = mm->mm_start_data, .end_data = mm->mm_end_data,
		.start_brk = mm->mm_start_brk, .brk = mm->mm_brk, .start_stack = mm->mm_start_stack,
		.arg_start = mm->mm_arg_start, .arg_end = mm->mm_arg_end,
		.env_start = mm->mm_env_start, .env_end = mm->mm_env_end,
		.auxv = base + l.auxv, .auxv_size = mm->n_mm_saved_auxv * sizeof(uint64_t),
	};
	memcpy((void *)(base + l.auxv), mm->mm_saved_auxv, a->mm.auxv_size);
	struct core_thread_area *areas;
	if (thread_areas(t, &l, base, &areas) ||
	    core_restorer_args(t->core, a, (struct rst_thread *)(base + l.threads),
			       (struct rst_siginfo *)(base + l.siginfo), areas))
		child_fail(rep);
	free(areas);

	/* Files after memory: the fd table must end exactly as the image's. */
	if (files_restore(t->fds, t->nr_fds, shell_job, &go_fd))
		child_fail(rep);
	if (chdir(t->fs->cwd)) {
		pr_perror("can't change to the working directory %s", t->fs->cwd);
		child_fail(rep);
	}
	if (strcmp(t->fs->root, "/") && chroot(t->fs->root)) {
		pr_perror("can't change root to %s", t->fs->root);
		child_fail(rep);
	}
	int exe_fd = open(mm->exe_path, O_RDONLY | O_CLOEXEC);
	if (exe_fd < 0) {
		pr_perror("can't open the executable %s", mm->exe_path);
		child_fail(rep);
	}
	a->mm.exe_fd = exe_fd;
	if (core_restore_early(t->core))
		child_fail(rep);

	rep->args_addr = (uint64_t)a;
	rep->rst_start = base;
	rep->rst_len = l.len;
	rep->syscall_site = base + restorer_blob_restorer_syscall_site;
	/* Wait until our parent traces us: the restorer ends in a trap only it can catch. */
	if (read(go_fd, &go, 1) != 1)
		_exit(1);
	close(go_fd);
	unregister_inherited_rseq();
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	arch_jump_to_restorer(base + restorer_blob_restorer_entry, base + l.stack_top, (uint64_t)a);
}

static int wait_stopped(pid_t pid, int *status, const char *what)
{
	while (waitpid(pid, status, __WALL) < 0)
		if (errno != EINTR)
			return pr_perror("waitpid %d (%s)", pid, what);
	if (WIFSTOPPED(*status))
		return 0;
	return -ECHILD;
}

static int syscall_stop(pid_t pid, const char *what)
{
	int status;

	if (ptrace(PTRACE_SYSCALL, pid, NULL, NULL))
		return pr_perror("PTRACE_SYSCALL on %d (%s)", pid, what);
	if (wait_stopped(pid, &status, what) || WSTOPSIG(status) != (SIGTRAP | 0x80))
		return pr_err("restored pid %d did not reach %s (status 0x%x)", pid, what, status), -EIO;
	return 0;
}

static int64_t peek_result(pid_t pid, uint64_t addr)
{
	errno = 0;
	int64_t r = ptrace(PTRACE_PEEKDATA, pid, addr, NULL);
	return errno ? -1 : r;
}

static int report_step(pid_t pid, pid_t tid, int64_t result)
{
	unsigned step = result >> 32;

	if (result == -1)
		return pr_perror("can't read the restorer's result in pid %d", pid);
	return pr_err("restorer of pid %d failed at %s%s%.0d: %s", pid,
		      step < ARRAY_SIZE(restorer_steps) ? restorer_steps[step] : "?",
		      tid != pid ? " in thread " : "", tid != pid ? tid : 0, strerror((int)(uint32_t)result)), -EIO;
}

/* Until the leader traps: let every thread it clones run (each starts stopped,
 * auto-attached by PTRACE_O_TRACECLONE). */
static int run_to_leader_trap(pid_t pid)
{
	int status;

	for (;;) {
		if (wait_stopped(pid, &status, "restore"))
			return -ECHILD;
		if (status >> 8 == (SIGTRAP | PTRACE_EVENT_CLONE << 8)) {
			unsigned long tid;
			int st;
			if (ptrace(PTRACE_GETEVENTMSG, pid, NULL, &tid))
				return pr_perror("can't get the new thread of pid %d", pid);
			if (wait_stopped(tid, &st, "a new thread") || ptrace(PTRACE_CONT, tid, NULL, NULL))
				return pr_err("restored thread %lu of pid %d vanished", tid, pid), -ESRCH;
		} else if (WSTOPSIG(status) != SIGTRAP || status >> 16) {
			arch_regs_t r;
			arch_get_regs(pid, &r);
			return pr_err("restorer of pid %d crashed with signal %d (%s) at 0x%lx", pid,
				      WSTOPSIG(status), strsignal(WSTOPSIG(status)), (unsigned long)arch_regs_ip(&r)),
			       -EIO;
		} else {
			return 0;
		}
		if (ptrace(PTRACE_CONT, pid, NULL, NULL))
			return pr_perror("can't resume restored pid %d", pid);
	}
}

/* Every thread trapped just before its rt_sigreturn: check what each reported,
 * let the sigreturns run, unmap the restorer with one remote munmap, set each
 * thread's real signal mask, let go. */
static int finish_task(pid_t pid, const struct child_report *rep, const CoreEntry *core)
{
	arch_regs_t regs, call;
	uint64_t threads;
	int64_t result;
	int ret, status;

	/* the child filled rep before it waited for us: read it only from here on */
	if ((ret = run_to_leader_trap(pid)))
		return ret;
	const long args[6] = { (long)rep->rst_start, (long)rep->rst_len };
	result = peek_result(pid, rep->args_addr + offsetof(struct restorer_args, result));
	if (result)
		return report_step(pid, pid, result);
	errno = 0;
	threads = ptrace(PTRACE_PEEKDATA, pid, rep->args_addr + offsetof(struct restorer_args, threads), NULL);
	if (errno)
		return pr_perror("can't read the restorer's threads in pid %d", pid);
	for (size_t i = 0; i < core->n_threads; i++) {
		pid_t tid = core->threads[i]->tid;
		if (i && (wait_stopped(tid, &status, "restore") || WSTOPSIG(status) != SIGTRAP))
			return pr_err("restored thread %d of pid %d did not reach its trap (status 0x%x)", tid, pid,
				      status), -EIO;
		result = peek_result(pid, threads + i * sizeof(struct rst_thread) + offsetof(struct rst_thread, result));
		if (result)
			return report_step(pid, tid, result);
	}
	for (size_t i = 0; i < core->n_threads; i++) {
		pid_t tid = core->threads[i]->tid;
		if ((ret = syscall_stop(tid, "rt_sigreturn entry")) || (ret = syscall_stop(tid, "rt_sigreturn exit")))
			return ret;
	}
	if ((ret = arch_get_regs(pid, &regs)))
		return ret;
	arch_regs_setup_syscall(&call, &regs, rep->syscall_site, __NR_munmap, args);
	if ((ret = arch_set_regs(pid, &call)) || (ret = syscall_stop(pid, "munmap entry")) ||
	    (ret = syscall_stop(pid, "munmap exit")) || (ret = arch_get_regs(pid, &call)))
		return ret;
	if (arch_regs_syscall_ret(&call))
		return pr_err("can't unmap the restorer from pid %d: %s", pid,
			      strerror(-arch_regs_syscall_ret(&call))), -EIO;
	if ((ret = arch_set_regs(pid, &regs)))
		return ret;
	for (size_t i = 0; i < core->n_threads; i++) {
		pid_t tid = core->threads[i]->tid;
		uint64_t mask = core->threads[i]->sigmask;
		if (ptrace(PTRACE_SETSIGMASK, tid, sizeof(mask), &mask))
			return pr_perror("can't set the signal mask of %d", tid);
	}
	for (size_t i = 0; i < core->n_threads; i++)
		if (ptrace(PTRACE_DETACH, core->threads[i]->tid, NULL, NULL))
			return pr_perror("can't detach from restored %d", core->threads[i]->tid);
	return 0;
}

static pid_t clone_at(pid_t pid, int exit_signal)
{
	pid_t tid = pid;
	struct clone_args ca = {
		.exit_signal = exit_signal,
		.set_tid = (uintptr_t)&tid,
		.set_tid_size = 1,
	};

	return syscall(__NR_clone3, &ca, sizeof(ca));
}

CR_EXPORT int cr_restore(const struct cr_restore_opts *uopts)
{
	struct cr_restore_opts opts = { 0 };
	struct img_dir dir = { .dfd = -1 };
	struct task_image t = { 0 };
	struct child_report *rep = MAP_FAILED;
	int go[2] = { -1, -1 }, status, ret;
	pid_t pid = -1;
	double t0 = now_ms();

	cr_error_reset();
	if (!uopts || uopts->sz < offsetof(struct cr_restore_opts, images_dir) + sizeof(char *))
		return pr_err("cr_restore: bad options (set .sz = sizeof(struct cr_restore_opts))"), -EINVAL;
	memcpy(&opts, uopts, uopts->sz < sizeof(opts) ? uopts->sz : sizeof(opts));
	if ((ret = img_dir_open(&dir, opts.images_dir)))
		return ret;
	if ((ret = load_images(&dir, &t)))
		goto out;
	rep = mmap(NULL, sizeof(*rep), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (rep == MAP_FAILED || pipe2(go, O_CLOEXEC)) {
		ret = pr_perror("can't set up the restore");
		goto out;
	}
	pid = clone_at(t.pstree->pid, t.core->exit_signal);
	if (pid == 0) {
		close(go[1]);
		child_main(&dir, &t, opts.shell_job, go[0], rep);
	}
	if (pid < 0) {
		if (errno == EEXIST)
			pr_err("can't restore pid %u: the PID is in use by another process; stop it, or restore "
			       "where that PID is free", t.pstree->pid);
		else
			pr_perror("can't create pid %u (clone3 with set_tid)", t.pstree->pid);
		ret = -errno;
		goto out;
	}
	close(go[0]);
	go[0] = -1;
	if (ptrace(PTRACE_SEIZE, pid, NULL,
		   (void *)(long)(PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL | PTRACE_O_TRACECLONE))) {
		ret = pr_perror("can't trace the restored pid %d", pid);
		goto fail;
	}
	if (write(go[1], "g", 1) != 1) {
		ret = pr_perror("can't wake the restored pid %d", pid);
		goto fail;
	}
	if ((ret = finish_task(pid, rep, t.core))) {
		if (ret == -ECHILD) {   /* the child exited: its own report says why */
			if (rep->error[0])
				pr_err("%s", rep->error);
			else
				pr_err("restored pid %d died during restore", pid);
			ret = -EIO;
		}
		goto fail;
	}
	ret = pid;
	pr_info("stats: restore memory_ms=%.3f total_ms=%.3f", rep->memory_ms, now_ms() - t0);
	goto out;
fail:
	kill(pid, SIGKILL);
	waitpid(pid, &status, __WALL);
out:
	if (go[0] >= 0)
		close(go[0]);
	if (go[1] >= 0)
		close(go[1]);
	if (rep != MAP_FAILED)
		munmap(rep, sizeof(*rep));
	free_images(&t);
	img_dir_close(&dir);
	return ret;
}

/* Dump: the steps, in order.  Each lives in the module that owns it. */
#include <errno.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include "cr/cr.h"
#include "cgroup.h"
#include "fault.h"
#include "files/files.h"
#include "image/image.h"
#include "image/inventory.h"
#include "infect/infect.h"
#include "ipc.h"
#include "ipc-shared.h"
#include "ns/ns.h"
#include "ns/userns.h"
#include "ns/userns-nested.h"
#include "dump.h"
#include "log.h"
#include "mem/mem.h"
#include "mem/page-server.h"
#include "predump.h"
#include "kerndat.h"
#include "net/inet.h"
#include "ns/net.h"
#include "ns/mnt.h"
#include "ns/nested.h"
#include "ns/time.h"
#include "notify.h"
#include "proc/attrs.h"
#include "proc/core.h"
#include "proc/privs.h"
#include "proc/seize.h"
#include "proc/seccomp.h"
#include "proc/timers.h"
#include "proc/tree.h"
#include "pstree.pb-c.h"
#include "fdinfo.pb-c.h"
#include "util.h"

/* pstree.img: every process of the tree, parents first. */
static int dump_pstree(struct img_dir *dir, const struct tree *t, const struct nested_dump *nested)
{
	struct img *img = img_create(dir, IMG_PSTREE, 0);
	uint32_t *pgids = calloc(t->nr, sizeof(uint32_t)), *sids = calloc(t->nr, sizeof(uint32_t));
	int ret = 0;

	if (!img || !pgids || !sids) {
		free(pgids);
		free(sids);
		return img ? (img_close(img), -ENOMEM) : -EIO;
	}
	for (int i = 0; i < t->nr && !ret; i++) {
		const struct tree_task *task = &t->tasks[i];
		PstreeEntry e = PSTREE_ENTRY__INIT;
		uint32_t one = task->vpid, *tids = task->zombie ? &one : calloc(task->s.nr_threads, sizeof(*tids));

		if (!tids) {
			ret = -ENOMEM;
			break;
		}
		e.pid = task->vpid;
		e.ppid = tree_vpid(t, task->s.stat.ppid);
		/* a live task said itself (a group's leader may be gone); a zombie's are in the tree */
		e.pgid = task->zombie ? tree_vpid(t, task->s.stat.pgid) : task->vpgid;
		e.sid = task->zombie ? tree_vpid(t, task->s.stat.sid) : task->vsid;
		if (task->pid_ns) {
			/* it said them in its own namespace: its group's leader there, or its
			 * parent's, as check_nested_sessions found (parents come first) */
			const struct tree_task *leader = tree_find(t, task->s.stat.pgid);
			int parent = tree_find(t, task->s.stat.ppid) - t->tasks;
			e.pgid = leader && leader->pid_ns == task->pid_ns ? (uint32_t)leader->vpid : pgids[parent];
			e.sid = task->s.stat.sid == task->s.pid ? (uint32_t)task->vpid : sids[parent];
			e.has_pid_ns = true;
			e.pid_ns = task->pid_ns;
			e.n_pid_ns_threads = task->s.nr_threads;
			e.pid_ns_threads = (uint32_t *)task->inner_tids;
			e.has_pid_ns_parent = (e.pid_ns_parent = task->pid_ns_parent) != 0;
			e.n_pid_ns_mid = task->mid_tids ? (size_t)task->s.nr_threads * (task->pid_depth - 1) : 0;
			e.pid_ns_mid = (uint32_t *)task->mid_tids;
		}
		e.has_pid_ns_children = (e.pid_ns_children = task->pid_ns_children) != 0;
		e.has_pid_ns_unshared = e.pid_ns_unshared = task->pid_ns_unshared;
		e.has_pid_ns_entered = (e.pid_ns_entered = task->pid_ns_entered) != 0;
		pgids[i] = e.pgid;
		sids[i] = e.sid;
		e.threads = tids;
		e.n_threads = task->zombie ? 1 : task->s.nr_threads;
		for (int k = 0; !task->zombie && k < task->s.nr_threads; k++)
			tids[k] = task->vtids[k];
		/* a session leader whose terminal is a pty of the tree takes it again on restore
		 * (a pty of the caller's is the caller's: --shell-job) */
		unsigned tmaj = (task->s.stat.tty_nr >> 8) & 0xfff;
		/* (vsid is what the task said: in a nested pid namespace its PID there, and a
		 * leader there with a pty is refused by check_nested_sessions) */
		if (!task->zombie && !task->pid_ns && task->vpid == task->vsid && tmaj >= 136 && tmaj <= 143) {
			e.has_ctty_index = true;
			e.ctty_index = (tmaj - 136) * 256 + ((task->s.stat.tty_nr & 0xff) | ((task->s.stat.tty_nr >> 12) & 0xfff00));
			if (task->s.stat.tpgid > 0 && tree_vpid(t, task->s.stat.tpgid)) {
				e.has_fg_pgid = true;
				e.fg_pgid = tree_vpid(t, task->s.stat.tpgid);
			}
		}
		nested_dump_pstree(nested, i, &e);
		usernest_dump_pstree(i, &e);
		if (task->zombie) {
			e.has_zombie = e.has_exit_status = true;
			e.zombie = true;
			e.exit_status = task->s.stat.exit_code;
		}
		ret = img_write_msg(img, &e.base);
		if (!task->zombie)
			free(tids);
	}
	free(pgids);
	free(sids);
	if (ret) {
		img_close(img);
		return ret;
	}
	return img_close_write(img);
}

/* In a mount namespace of its own, the restore finds the cwd by its path there:
 * a cwd on a mount detached since (an old root after pivot_root and umount -l)
 * or covered by another would be another directory. */
static int cwd_reachable(pid_t pid, const char *cwd, const char *root)
{
	char path[4200];
	struct stat a, b;
	int own = ns_own(pid, "mnt");

	if (own <= 0 || strcmp(root, "/"))
		return own < 0 ? own : 0;
	snprintf(path, sizeof(path), "/proc/%d/cwd", pid);
	if (stat(path, &a))
		return pr_perror("can't stat the working directory of pid %d", pid);
	snprintf(path, sizeof(path), "/proc/%d/root%s", pid, cwd);
	if (stat(path, &b) || a.st_dev != b.st_dev || a.st_ino != b.st_ino)
		return pr_err("pid %d: its working directory (%s) is not what that path leads to in its mount "
			      "namespace (on a mount detached from it, or covered since): not supported", pid, cwd),
		       -EOPNOTSUPP;
	return 0;
}

static int dump_fs(struct img_dir *dir, pid_t pid, pid_t img_id)
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
	else if ((ret = cwd_reachable(pid, e.cwd, e.root)) == 0)
		ret = img_write_one(dir, IMG_FS, img_id, &e.base);
	free(e.cwd);
	free(e.root);
	return ret;
}

/* Sessions and groups the restore can rebuild: a session led by a process of the
 * tree or inherited from the parent, and a group whose leader is in the tree (a
 * zombie leader counts); the root's session and group may be the caller's with
 * --shell-job. */
static int check_sessions(const struct tree *t, bool shell_job)
{
	const struct proc_stat *root = &t->tasks[0].s.stat;

	for (int i = 0; i < t->nr; i++) {
		const struct tree_task *task = &t->tasks[i];
		const struct proc_stat *st = &task->s.stat;
		pid_t pid = task->s.pid;
		const struct tree_task *parent = i ? tree_find(t, st->ppid) : NULL;
		bool external = shell_job && !t->own_pidns && st->sid == root->sid && root->sid != t->tasks[0].s.pid;

		/* a session whose leader is gone is remade on restore by a helper at its id */
		bool session_gone = i && !tree_find(t, st->sid) && kill(st->sid, 0) && errno == ESRCH;

		if (t->own_pidns && ((!tree_find(t, st->sid) && !session_gone) ||
				     (task->zombie && !tree_find(t, st->pgid))))
			return pr_err("pid %d, in the tree's own pid namespace, is in a session or group led from "
				      "outside it: start the namespace's init as a session leader (setsid)", pid),
			       -EOPNOTSUPP;
		if (st->sid != pid && !external && !(parent && parent->s.stat.sid == st->sid) && !session_gone)
			return pr_err("pid %d is in session %d, led by a process outside the dump%s", pid, st->sid,
				      i ? ": dump the tree that holds its leader"
					: ": dump it with --shell-job (and restore with --shell-job) to leave the "
					  "session to the caller"), -EOPNOTSUPP;
		/* a group whose leader exited is rebuilt by a helper task the parent forks */
		bool leader_gone = (parent && parent->s.stat.sid == st->sid && kill(st->pgid, 0) && errno == ESRCH) ||
				   (session_gone && st->pgid == st->sid);
		if (st->pgid != pid && !tree_find(t, st->pgid) && !(external && st->pgid == root->pgid) &&
		    !leader_gone)
			return pr_err("pid %d is in process group %d, whose leader is alive outside the dump: "
				      "dump the tree that holds it", pid, st->pgid), -EOPNOTSUPP;
	}
	return 0;
}

/* A group of the tree's namespace that pid's parent is in before it forks pid:
 * one the parent leads, the root's (the caller's with --shell-job), or one
 * inherited so from its own parent.  A group it joins later does not count. */
static bool group_set_at_fork(const struct tree *t, const struct tree_task *parent)
{
	while (parent != t->tasks && parent->s.stat.pgid != parent->s.pid) {
		const struct tree_task *up = tree_find(t, parent->s.stat.ppid);
		if (!up || up->s.stat.pgid != parent->s.stat.pgid)
			return false;
		parent = up;
	}
	return true;
}

/* A process in a nested pid namespace sees only its namespace's PIDs (and those of
 * the namespaces nested in it): its session is
 * its own or its parent's (inherited), and its group is led by a process of its
 * namespace (joined by its PID there) or inherited, down from the namespace's init,
 * from a group its parent was in before it forked; its terminal's foreground group
 * is not restored there. */
static int check_nested_sessions(const struct tree *t)
{
	for (int i = 1; i < t->nr; i++) {
		const struct tree_task *task = &t->tasks[i], *parent = tree_find(t, task->s.stat.ppid);
		const struct tree_task *leader = tree_find(t, task->s.stat.pgid);
		const struct proc_stat *st = &task->s.stat;
		unsigned tmaj = (st->tty_nr >> 8) & 0xfff;

		if (!task->pid_ns)
			continue;
		if (st->sid != task->s.pid && st->sid != parent->s.stat.sid)
			return pr_err("pid %d, in a nested pid namespace, is in session %d, neither its own nor its "
				      "parent's: not supported", task->s.pid, st->sid), -EOPNOTSUPP;
		if (st->sid == task->s.pid && tmaj >= 136 && tmaj <= 143)
			return pr_err("pid %d, in a nested pid namespace, leads a session whose terminal is a pty: "
				      "not supported", task->s.pid), -EOPNOTSUPP;
		if (leader && !leader->zombie && leader->pid_ns == task->pid_ns)
			continue;   /* its namespace's group (or its own) */
		if (st->pgid != parent->s.stat.pgid ||
		    (parent->pid_ns != task->pid_ns && !group_set_at_fork(t, parent)))
			return pr_err("pid %d, in a nested pid namespace, is in process group %d, which no process of "
				      "its namespace leads and which it did not inherit from a group its parent was in "
				      "when it forked: not supported", task->s.pid, st->pgid), -EOPNOTSUPP;
	}
	return 0;
}

/* One live process: its memory, files and state, through the parasite. */
static int dump_task(struct tree_task *task, struct img_dir *dir, const struct cr_dump_opts *opts,
		     const struct share_scan *share, int order, struct prev_images *prev, bool own_ipc,
		     struct page_stats *stats, struct shm_stored *stored)
{
	struct seized *s = &task->s;
	struct infect_ctx ctx = { .pid = 0 };
	MmEntry mm = MM_ENTRY__INIT, *parent_mm = NULL;
	CoreEntry *core = NULL;
	bool infected = false;
	int ret;

	if ((ret = mem_collect(s->pid, &s->stat, 0, &mm)))
		goto out;
	/* a segment of the caller's IPC namespace stays there: restore attaches it again */
	for (size_t i = 0; i < mm.n_vmas && !own_ipc; i++)
		if (mm.vmas[i]->kind == VMA_KIND__VMA_SYSV_SHM && (ret = ipc_shared_shm_dump(s->pid, mm.vmas[i])))
			goto out;
	if ((ret = files_dump(s->pid, task->vpid, dir, &mm, opts->shell_job, opts->ext_unix_sk,
				 opts->orphan_pts_master, share, order)))
		goto out;
	if (!mem_exec_site(&mm)) {
		pr_err("pid %d has no private executable mapping to run the parasite from", s->pid);
		ret = -ENOEXEC;
		goto out;
	}
	infected = true;
	if ((ret = infect_prepare(&ctx, s->pid, mem_exec_site(&mm))))
		goto out;
	if ((ret = core_dump_seized(s, &ctx, &core)))
		goto out;
	if ((ret = infect_parasite(&ctx)) || (ret = attrs_dump_mlockall(s->pid, ctx.remote, s->status.vm_lck_kb, core)))
		goto out;
	task->mlockall = core->mlockall != 0;
	for (size_t i = 0; i < core->n_threads; i++)
		task->thread_creds |= core->threads[i]->creds != NULL;
	/* an init: where its namespace's PIDs go on from (read from inside) */
	ctx.args->misc.want_ns_last_pid = task->vpid == 1 || (task->pid_ns && task->inner_tids && task->inner_tids[0] == 1);
	if ((ret = infect_cmd(&ctx, PARASITE_CMD_DUMP_MISC, NULL)) ||
	    (ret = core_dump_misc(core, &ctx.args->misc)) ||
	    (ret = core_dump_thread_misc(core, s, &ctx)))
		goto out;
	if ((ret = attrs_set(core, &task->attrs_set)))
		goto out;
	/* locked memory, which a reader before IMG_VERSION_TASK_ATTRS would unlock */
	for (size_t i = 0; i < mm.n_vmas; i++)
		task->attrs_set |= mm.vmas[i]->has_lock && mm.vmas[i]->lock;
	mm.mm_brk = ctx.args->misc.brk;
	task->vpgid = ctx.args->misc.pgid;
	task->vsid = ctx.args->misc.sid;
	if ((ret = timers_dump(&ctx, dir, task)))
		goto out;
	/* after a pre-dump: only the pages written since (the tracking ends with this dump) */
	parent_mm = prev_images_mm(prev, task->vpid);
	struct dirty_track dt = { .uffd = track_fd(&prev->track, task->vpid), .parent = parent_mm, .stored = stored };
	if ((ret = mem_dump_pages(&ctx, s->pid, &mm, dir, task->vpid, stats, &dt, NULL)))
		goto out;
	ret = infect_cure(&ctx);
	infected = false;
	/* stopped again (ptrace reads its queues only so): the signals of timers that
	 * expired while the parasite ran are queued by now */
	if (ret || (ret = core_dump_pending(core, s)))
		goto out;
	/* the images speak of PIDs as the tree sees them */
	core->pid = task->vpid;
	for (size_t i = 0; i < core->n_threads; i++)
		core->threads[i]->tid = task->vtids[i];
	if ((ret = img_write_one(dir, IMG_CORE, task->vpid, &core->base)) ||
	    (ret = img_write_one(dir, IMG_MM, task->vpid, &mm.base)) ||
	    (ret = dump_fs(dir, s->pid, task->vpid)))
		goto out;
out:
	if (infected)
		infect_cure(&ctx);
	core_free(core);
	mem_free(&mm);
	img_free_msg(parent_mm ? &parent_mm->base : NULL);
	return ret;
}

static int scan_shared_files(const struct tree *t, struct share_scan **share)
{
	pid_t *pids = malloc(t->nr * sizeof(*pids));
	int ret;

	if (!pids)
		return -ENOMEM;
	for (int i = 0; i < t->nr; i++)
		pids[i] = t->tasks[i].s.pid;
	ret = files_share_scan(pids, t->nr, share);
	free(pids);
	/* their pidfds speak of PIDs the images don't hold (see pidfd.c) */
	for (int i = 0; i < t->nr && !ret; i++)
		if (t->tasks[i].pid_ns)
			ret = files_share_mark_pidns(*share, t->tasks[i].s.pid);
	return ret;
}

/* The oldest format version that restores this dump right (image.h): the highest
 * any of its contents needs. */
#define NEED(v) (version = version > (v) ? version : (v))
static uint32_t img_version(const struct tree *t, const struct nested_dump *nested)
{
	uint32_t version = nested->nr || usernest_dump_count() ? IMG_VERSION_NESTED : IMG_VERSION_BASE;

	if (netns_dump_peers_used())
		NEED(IMG_VERSION_VETH_PEER);
	/* an older reader would lock them in the root's namespace only */
	if (tcp_dump_nested())
		NEED(IMG_VERSION_NESTED_TCP);
	for (int i = 0; i < t->nr; i++) {
		if (t->tasks[i].pid_ns)
			NEED(IMG_VERSION_PIDNS);
		if (t->tasks[i].pid_depth > 1)
			NEED(IMG_VERSION_PIDNS_DEEP);
		/* an older reader would refuse them (or fork into the wrong namespace) */
		if (t->pidns_setns)
			NEED(IMG_VERSION_PIDNS_SETNS);
		if (t->tasks[i].attrs_set || (!t->tasks[i].zombie && t->tasks[i].s.stop_sig))
			NEED(IMG_VERSION_TASK_ATTRS);
		if (t->tasks[i].mlockall)
			NEED(IMG_VERSION_MLOCKALL);
		/* an older reader would give the thread its process's credentials */
		if (t->tasks[i].thread_creds)
			NEED(IMG_VERSION_THREAD_CREDS);
	}
	if (usernest_dump_count())
		NEED(IMG_VERSION_NESTED_USER);
	/* an older reader would make the namespace in the root's user namespace */
	if (usernest_dump_pid_owned())
		NEED(IMG_VERSION_USERNS_OWNED);
	for (size_t i = 0; i < nested->nr; i++) {
		if (nested->inst[i].kind == NEST_TIME)
			NEED(IMG_VERSION_TIME_NS);
		/* an older reader refuses the owner of a time or mount namespace */
		if ((nested->inst[i].kind == NEST_TIME || nested->inst[i].kind == NEST_MNT) && nested->inst[i].owner)
			NEED(IMG_VERSION_USERNS_OWNED);
		if (nested->inst[i].kind == NEST_MNT)
			NEED(IMG_VERSION_NESTED_MNT);
	}
	/* an older reader would refuse its root mount, not inherited */
	if (mnt_dump_nested_root_used())
		NEED(IMG_VERSION_NESTED_MNT_ROOT);
	/* an older reader knows neither the fds nor the links */
	if (tun_dump_used())
		NEED(IMG_VERSION_TUN);
	/* an older reader would call the fd kind unknown, or drop the lease */
	if (files_dump_fanotify_lease_used())
		NEED(IMG_VERSION_FANOTIFY_LEASE);
	/* an older reader would take part 1's pages from part 0's file */
	if (mem_pages_parts_used())
		NEED(IMG_VERSION_PAGES_PARTS);
	return version;
}
#undef NEED

CR_EXPORT int cr_dump(const struct cr_dump_opts *uopts)
{
	return cr_error_named(dump_tree(uopts, false), "dump");
}

/* The tree's network namespace while its connections are held (the lock is in it). */
static struct netns_dump held_nd = { .fd = -1 };
/* The userfaultfds of a held dump's tracking: closing them walks every tracked
 * page table to drop the write-protect markers (~100 ms per 4 GiB), which the
 * stopped tree would wait for; a killed tree's mm is gone by then, or nobody waits. */
static struct track_set held_track;

void dump_release_net(bool tree_killed)
{
	/* killed: their sockets close in repair mode, silently, and the lock goes
	 * after them; else they leave repair mode before the lock goes */
	tcp_dump_finish(tree_killed);
	netlock_unlock();
	netns_dump_end(&held_nd);
	track_set_free(&held_track);
}

int dump_tree(const struct cr_dump_opts *uopts, bool hold_net)
{
	struct cr_dump_opts opts = { 0 };
	struct img_dir dir = { .dfd = -1 };
	struct tree tree = { 0 };
	struct page_stats stats = { 0 };
	struct share_scan *share = NULL;
	struct prev_images prev = { .dir = { .dfd = -1 } };
	struct page_server ps = { .sk = -1 };
	struct cg_freezer fz = { 0 };
	double t0, t_frozen;
	int ret, live = 0, own_ipc = 0;
	struct shm_stored stored = { 0 };   /* shared anonymous areas stored once for the tree */
	struct netns_dump nd = { .fd = -1 };
	struct nested_dump nested = { .cur_net = -1 };
	bool held = false;

	cr_error_reset();
	fault_cancel_reset();
	if (!uopts || uopts->sz < offsetof(struct cr_dump_opts, shell_job) + sizeof(bool))
		return pr_err("cr_dump: bad options (set .sz = sizeof(struct cr_dump_opts))"), -EINVAL;
	memcpy(&opts, uopts, uopts->sz < sizeof(opts) ? uopts->sz : sizeof(opts));
	privs_limit(opts.unprivileged);
	if (opts.unprivileged &&
	    ((ret = privs_need(CAP_CHECKPOINT_RESTORE, -1, "dump --unprivileged (reading /proc/PID/map_files)")) ||
	     (opts.tcp_established &&
	      (ret = privs_need(CAP_NET_ADMIN, -1, "--tcp-established (TCP_REPAIR and the network lock)"))))) {
		privs_limit(false);
		return ret;
	}
	if ((ret = img_dir_open(&dir, opts.images_dir))) {
		privs_limit(false);
		return ret;
	}
	t0 = now_ms();
	if ((ret = prev_images_open(&prev, opts.sz > offsetof(struct cr_dump_opts, prev_images_dir)
						   ? opts.prev_images_dir : NULL, &dir)))
		goto out;
	if (opts.sz > offsetof(struct cr_dump_opts, page_server) && opts.page_server) {
		if ((ret = ps_connect(&ps, opts.page_server)))
			goto out;
		dir.ps = &ps;
	}
	if ((ret = notify_call(opts.notify, opts.notify_arg, "pre-dump", opts.pid)))
		goto out;
	/* what the kernel offers is probed once, on first use: before the freeze, not in it
	 * (a fork and a few mappings, 5 ms here) */
	kerndat_get();
	if (opts.tcp_established)
		netlock_warm();
	/* a frozen cgroup first: nothing in it forks while the tree is seized (the
	 * tree is stopped from the freeze on) */
	t_frozen = now_ms();
	if (opts.sz > offsetof(struct cr_dump_opts, freeze_cgroup) && opts.freeze_cgroup &&
	    (ret = cgroup_freeze_seize(opts.freeze_cgroup, &fz)))
		goto out;
	if ((ret = tree_seize(opts.pid, &tree)) || (ret = cgroup_freeze_check(&fz)) || (ret = tree_map_pidns(&tree)))
		goto out;
	/* the user namespace first: it decides how the tasks' ids are saved; then
	 * which UTS, network and IPC namespace each process is in */
	if ((ret = userns_dump(&dir, &tree)) || (ret = usernest_dump_scan(&tree)) ||
	    (ret = nested_dump_scan(&tree, &nested)))
		goto out;
	if (!fz.dir)
		t_frozen = now_ms();
	inet_diag_reset();
	tun_dump_reset();
	mem_pages_parts_reset();
	/* the tree's own network namespace: its sockets are found and locked in it */
	if ((ret = notify_call(opts.notify, opts.notify_arg, "network-lock", opts.pid)) ||
	    (ret = netns_dump_prepare(&tree, opts.externals, opts.nr_externals, &nd)))
		goto out;
	if ((ret = check_sessions(&tree, opts.shell_job)) || (ret = check_nested_sessions(&tree)) || (ret = tcp_dump_prepare(&tree, opts.tcp_established, &nested, nd.fd)) ||
	    (ret = seccomp_dump(&tree, &dir)) || (ret = cgroup_dump(&tree, &dir)))
		goto out;
	/* files several processes hold: found once for the whole tree */
	if ((files_dump_reset(), ret = scan_shared_files(&tree, &share)))
		goto out;
	/* a tree in its own IPC namespace takes its SysV objects along */
	if ((ret = own_ipc = ns_own(tree.tasks[0].s.pid, "ipc")) < 0 ||
	    (own_ipc && ((ret = privs_need(CAP_SYS_ADMIN, -1, "dumping the tree's own IPC namespace (setns)")) ||
			 (ret = ipc_dump(&dir, tree.tasks[0].s.pid)))))
		goto out;
	/* a veth may join two of the tree's namespaces */
	if ((ret = nested_dump_net_tree(&nested, nd.external ? -1 : nd.fd)))
		goto out;
	if ((ret = netns_dump(&dir, &nd, opts.externals, opts.nr_externals)) || (ret = timens_dump(&dir, &tree)) ||
	    (mnt_dump_reset(), ret = nested_dump_write(&dir, &nested, opts.externals, opts.nr_externals)))
		goto out;
	/* the root's mount, UTS and cgroup namespaces, if it has its own, and the list of nested ones */
	struct ns_args nsa = { .ext = opts.externals, .nr_ext = opts.nr_externals, .nested = &nested };
	if ((ret = ns_dump(&dir, &tree, &nsa)))
		goto out;
	nested.cur_net = nd.fd;
	for (int i = 0; i < tree.nr && !ret; i++)
		if (!tree.tasks[i].zombie) {
			/* sock_diag and the parasite's socket in the task's network namespace */
			if ((ret = nested_dump_enter(&nested, &tree, i, nd.fd)))
				break;
			ret = dump_task(&tree.tasks[i], &dir, &opts, share, i, &prev,
					own_ipc || nested.ids[i][NEST_IPC], &stats, &stored);
			live++;
		}
	netns_dump_target(nd.fd);
	if (!ret)
		ret = tun_dump_check();
	if (ret || (ret = dump_pstree(&dir, &tree, &nested)) || (ret = inventory_write(&dir, tree.tasks[0].vpid, tree.own_pidns, img_version(&tree, &nested))) ||
	    (ret = ps_close(&ps)) || (ret = notify_call(opts.notify, opts.notify_arg, "post-dump", opts.pid)))
		goto out;
	/* The images are complete and synced: the originals go, unless asked to stay.
	 * Their connections close in repair mode (silently) and stay locked until the
	 * restore; left running or stopped (a migration that may still resume them),
	 * they leave repair mode before the lock goes. */
	if (opts.sz > offsetof(struct cr_dump_opts, stop_after) && opts.stop_after) {
		if (!(held = hold_net)) {   /* held: in repair mode, locked, until dump_release_net() */
			tcp_dump_finish(false);
			netlock_unlock();
		}
		tree_release_stopped(&tree);
	} else if (opts.leave_running) {
		tcp_dump_finish(false);
		netlock_unlock();
		tree_release(&tree, false);
	} else {
		tree_release(&tree, true);
		tcp_dump_finish(true);
		netlock_keep();
	}
	/* the tree runs on (or waits stopped): the caller's network may go again; a
	 * failure here can no longer undo the dump, so it is only logged */
	if ((opts.leave_running || opts.stop_after) &&
	    notify_call(opts.notify, opts.notify_arg, "network-unlock", opts.pid))
		pr_warn("%s", cr_last_error());
	pr_info("stats: frozen_ms=%.3f processes=%d pages=%lu bytes=%lu total_ms=%.3f", now_ms() - t_frozen, live,
		(unsigned long)stats.pages_written, (unsigned long)(stats.pages_written * PAGE_SIZE), now_ms() - t0);
	if (held) {
		held_nd = nd;
		track_set_free(&held_track);
		held_track = prev.track;
		prev.track = (struct track_set){ 0 };
		goto out_held;
	}
out:
	tcp_dump_finish(false);
	netlock_unlock();
	netns_dump_end(&nd);
out_held:
	nested_dump_free(&nested);
	usernest_dump_free();
	files_share_free(share);
	shm_stored_free(&stored);
	inet_diag_reset();
	tree_release(&tree, false);
	cgroup_freeze_end(&fz);
	prev_images_close(&prev);
	if (ps.sk >= 0)
		close(ps.sk);   /* a failed round: the server sees it cut short */
	img_dir_close(&dir);
	privs_limit(false);
	return ret;
}

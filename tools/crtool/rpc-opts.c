/* The options of an RPC request, mapped onto libcr's: each is honoured, tolerated
 * because libcr needs no action for it (the list in Documentation/criu-compat.md),
 * or refused with a line the runtime shows to its user.  Never silently dropped. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include "criu-compat.h"

bool lsm_unconfined(const char *profile)
{
	const char *colon = strchr(profile, ':');
	const char *name = colon ? colon + 1 : profile;

	return !name[0] || !strcmp(name, "unconfined") || !strcmp(name, "none");
}

int peer_fd_open(pid_t peer, int n, int flags)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", peer, n);
	return open(path, flags | O_CLOEXEC);
}

static int fail(char *msg, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *msg, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, len, fmt, ap);
	va_end(ap);
	return -1;
}

/* The path of a directory we hold open: its name if that still leads to it,
 * else the /proc/self/fd link (another mount namespace's path). */
static void dir_path(int fd, char *out, size_t len)
{
	char link[64];
	struct stat a, b;
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, out, len - 1);
	if (n > 0) {
		out[n] = 0;
		if (!stat(out, &a) && !fstat(fd, &b) && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
			return;
	}
	snprintf(out, len, "%s", link);
}

/* A directory fd of the caller's: opened here, and named. */
static int open_dir(pid_t peer, int n, const char *what, int *fd, char *path, size_t plen, char *msg, size_t len)
{
	*fd = peer_fd_open(peer, n, O_RDONLY | O_DIRECTORY);
	if (*fd < 0)
		return fail(msg, len, "%s %d: can't open the caller's fd (/proc/%d/fd/%d): %s", what, n, peer, n,
			    strerror(errno));
	if (path)
		dir_path(*fd, path, plen);
	return 0;
}

/* "TYPE[KEY]:VALUE" into key "TYPE[KEY]" and value. */
static int add_external(struct rpc_mapped *m, const char *key, size_t klen, const char *value)
{
	struct cr_external *e = realloc(m->ext, (m->nr_ext + 1) * sizeof(*e));
	char *k = strndup(key, klen), *v = strdup(value);

	if (!e || !k || !v) {
		free(k);
		free(v);
		if (e)
			m->ext = e;
		return -1;
	}
	m->ext = e;
	m->ext[m->nr_ext++] = (struct cr_external){ k, v };
	return 0;
}

/* Options with no libcr counterpart that are refused when set: name, set? */
static int refuse_unsupported(const RpcOpts *o, RpcType t, char *msg, size_t len)
{
	const struct { const char *name; bool set; const char *why; } no[] = {
		{ "auto_dedup", o->has_auto_dedup && o->auto_dedup, "libcr does not punch holes in parent images" },
		{ "force_irmap", o->has_force_irmap && o->force_irmap, "libcr has no inotify path map" },
		{ "exec_cmd", o->n_exec_cmd > 0, "libcr does not run a command after a restore" },
		{ "auto_ext_mnt", o->has_auto_ext_mnt && o->auto_ext_mnt, "name each external mount (ext_mnt, external)" },
		{ "ext_sharing", o->has_ext_sharing && o->ext_sharing, "not supported" },
		{ "ext_masters", o->has_ext_masters && o->ext_masters, "not supported" },
		{ "skip_mnt", o->n_skip_mnt > 0, "libcr dumps every mount of the namespace or fails naming it" },
		{ "enable_fs", o->n_enable_fs > 0, "not supported" },
		{ "unix_sk_ino", o->n_unix_sk_ino > 0, "use ext_unix_sk" },
		{ "irmap_scan_paths", o->n_irmap_scan_paths > 0, "libcr has no inotify path map" },
		{ "join_ns", o->n_join_ns > 0, "joining existing namespaces on restore is not supported" },
		{ "cgroup_props", o->cgroup_props != NULL, "not supported" },
		{ "cgroup_props_file", o->cgroup_props_file != NULL, "not supported" },
		{ "cgroup_dump_controller", o->n_cgroup_dump_controller > 0, "not supported" },
		{ "cgroup_yard", o->cgroup_yard != NULL, "not supported" },
		{ "lsm_profile", o->lsm_profile && !lsm_unconfined(o->lsm_profile), "libcr restores no LSM profile" },
		{ "lsm_mount_context", o->lsm_mount_context && o->lsm_mount_context[0], "libcr restores no LSM mount context" },
		{ "tls", (o->has_tls && o->tls) || o->tls_cacert || o->tls_cacrl || o->tls_cert || o->tls_key,
		  "libcr's page server has no TLS" },
		{ "pidfd_store_sk", o->has_pidfd_store_sk, "libcr keeps no pidfd store" },
		{ "mntns_compat_mode", o->has_mntns_compat_mode && o->mntns_compat_mode, "not supported" },
		{ "skip_file_rwx_check", o->has_skip_file_rwx_check && o->skip_file_rwx_check, "not supported" },
		{ "unprivileged", o->has_unprivileged && o->unprivileged, "libcr runs as root" },
		{ "lazy_pages (dump)", t != RPC_TYPE__RPC_RESTORE && o->has_lazy_pages && o->lazy_pages,
		  "dump to images, then restore them with lazy_pages and a lazy-pages daemon" },
		{ "ps.fd", o->ps && o->ps->has_fd, "give the page server's address and port" },
	};

	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (no[i].set)
			return fail(msg, len, "option %s is not supported by libcr: %s", no[i].name, no[i].why);
	if (o->has_empty_ns && (o->empty_ns & ~(unsigned)CLONE_NEWNET))
		return fail(msg, len, "option empty_ns 0x%x: only the network namespace (CLONE_NEWNET) may be left "
			    "to the runtime", o->empty_ns);
	/* a configuration file would add options we never saw: only an empty one is fine */
	if (o->config_file && o->config_file[0]) {
		struct stat st;
		if (!stat(o->config_file, &st) && st.st_size > 0)
			return fail(msg, len, "option config_file %s: libcr reads no CRIU configuration file; pass its "
				    "options in the request", o->config_file);
	}
	if (o->base.n_unknown_fields)
		return fail(msg, len, "option field %u is unknown to libcr's compatibility mode",
			    o->base.unknown_fields[0].tag);
	return 0;
}

static int map_externals(const RpcOpts *o, struct rpc_mapped *m, char *msg, size_t len)
{
	for (size_t i = 0; i < o->n_ext_mnt; i++) {
		char key[PATH_MAX + 8];
		snprintf(key, sizeof(key), "mnt[%s]", o->ext_mnt[i]->key);
		if (add_external(m, key, strlen(key), o->ext_mnt[i]->val))
			return fail(msg, len, "out of memory");
	}
	for (size_t i = 0; i < o->n_veths; i++) {
		char key[300];
		snprintf(key, sizeof(key), "veth[%s]", o->veths[i]->inside);
		if (add_external(m, key, strlen(key), o->veths[i]->outside))
			return fail(msg, len, "out of memory");
	}
	for (size_t i = 0; i < o->n_external; i++) {
		const char *e = o->external[i], *end = strstr(e, "]:");
		/* "TYPE[KEY]:VALUE"; a bare "TYPE[KEY]" has an empty value */
		size_t klen = end ? (size_t)(end - e) + 1 : strlen(e);
		if (!strchr(e, '[') || e[klen - 1] != ']')
			return fail(msg, len, "external %s: want TYPE[KEY] or TYPE[KEY]:VALUE", e);
		if (add_external(m, e, klen, end ? end + 2 : ""))
			return fail(msg, len, "out of memory");
	}
	return 0;
}

static int map_cgroups(const RpcOpts *o, int *mode, char *msg, size_t len)
{
	*mode = (o->has_manage_cgroups && o->manage_cgroups) ? CR_CG_SOFT : CR_CG_IGNORE;
	if (!o->has_manage_cgroups_mode)
		return 0;
	switch (o->manage_cgroups_mode) {
	case RPC_CG_MODE__RPC_CG_IGNORE:
	case RPC_CG_MODE__RPC_CG_NONE: *mode = CR_CG_IGNORE; break;
	case RPC_CG_MODE__RPC_CG_SOFT:
	case RPC_CG_MODE__RPC_CG_DEFAULT: *mode = CR_CG_SOFT; break;
	case RPC_CG_MODE__RPC_CG_FULL: *mode = CR_CG_FULL; break;
	case RPC_CG_MODE__RPC_CG_STRICT: *mode = CR_CG_STRICT; break;
	default:
		return fail(msg, len, "manage_cgroups_mode %d (props) is not supported by libcr", o->manage_cgroups_mode);
	}
	return 0;
}

int rpc_opts_map(const RpcOpts *o, RpcType t, pid_t peer, struct rpc_mapped *m, char *msg, size_t len)
{
	bool restore = t == RPC_TYPE__RPC_RESTORE;
	const char *log_name = o->log_file;
	int cg_mode;

	memset(m, 0, sizeof(*m));
	m->images_fd = m->work_fd = m->status_fd = -1;
	m->dump.sz = sizeof(m->dump);
	m->restore.sz = sizeof(m->restore);
	if (refuse_unsupported(o, t, msg, len) || map_externals(o, m, msg, len) || map_cgroups(o, &cg_mode, msg, len))
		return -1;
	if (open_dir(peer, o->images_dir_fd, "images_dir_fd", &m->images_fd, m->images_dir, sizeof(m->images_dir),
		     msg, len))
		return -1;
	if (o->has_work_dir_fd && open_dir(peer, o->work_dir_fd, "work_dir_fd", &m->work_fd, NULL, 0, msg, len))
		return -1;
	if (o->has_status_fd && (m->status_fd = peer_fd_open(peer, o->status_fd, O_WRONLY)) < 0)
		return fail(msg, len, "status_fd %d: can't open the caller's fd: %s", o->status_fd, strerror(errno));
	/* the log: a plain name in the work directory (else the images directory) */
	if (log_name && log_name[0] && !(o->has_log_to_stderr && o->log_to_stderr)) {
		if (strchr(log_name, '/') || !strcmp(log_name, "..") || !strcmp(log_name, "."))
			return fail(msg, len, "log_file %s: a file name in the work directory, not a path", log_name);
		if (asprintf(&m->log_path, "/proc/self/fd/%d/%s", m->work_fd >= 0 ? m->work_fd : m->images_fd,
			     log_name) < 0)
			return fail(msg, len, "out of memory");
	}
	m->verbosity = o->has_log_level && o->log_level > 2 ? o->log_level - 2 : 0;
	m->notify = o->has_notify_scripts && o->notify_scripts;
	m->orphan_pts_master = o->has_orphan_pts_master && o->orphan_pts_master;
	if (o->parent_img && o->parent_img[0]) {
		if (restore)
			return fail(msg, len, "parent_img belongs to a dump: a restore finds the parent through the "
				    "images' \"parent\" link");
		int n = snprintf(m->prev_dir, sizeof(m->prev_dir), "%s/%s", o->parent_img[0] == '/' ? "" : m->images_dir,
				 o->parent_img);
		if (n < 0 || n >= (int)sizeof(m->prev_dir))
			return fail(msg, len, "parent_img %s: path too long", o->parent_img);
	}
	if (o->ps && (o->ps->address || o->ps->has_port)) {
		if (restore || !o->ps->has_port)
			return fail(msg, len, "ps: a dump's page server needs an address and a port");
		snprintf(m->page_server, sizeof(m->page_server), "%s:%d", o->ps->address ? o->ps->address : "127.0.0.1",
			 o->ps->port);
	}
	if (restore) {
		struct cr_restore_opts *r = &m->restore;

		/* cg_root: where libcr puts the restored cgroups when it manages them; else the
		 * tasks start in the engine's, which joins them (runc has put it there) */
		if (o->n_cg_root && cg_mode != CR_CG_IGNORE &&
		    !(m->cg_roots = calloc(o->n_cg_root, sizeof(*m->cg_roots))))
			return fail(msg, len, "out of memory");
		for (size_t i = 0; i < o->n_cg_root; i++) {
			if (cg_mode == CR_CG_IGNORE) {
				if (cg_root_enter(o->cg_root[i]->ctrl, o->cg_root[i]->path, msg, len))
					return -1;
				continue;
			}
			m->cg_roots[m->nr_cg_roots++] = (struct cr_cgroup_root){
				cg_root_controller(o->cg_root[i]->ctrl), o->cg_root[i]->path };
		}
		r->cgroup_roots = m->cg_roots;
		r->nr_cgroup_roots = m->nr_cg_roots;
		if (o->has_leave_stopped && o->leave_stopped)
			return fail(msg, len, "option leave_stopped belongs to a dump");
		r->images_dir = m->images_dir;
		r->shell_job = o->has_shell_job && o->shell_job;
		r->lazy_pages = o->has_lazy_pages && o->lazy_pages;
		r->tcp_close = o->has_tcp_close && o->tcp_close;
		r->sibling = o->has_rst_sibling && o->rst_sibling;
		r->root = o->root && o->root[0] ? o->root : NULL;
		r->manage_cgroups = cg_mode;
		/* inherit_fd: descriptors of our own table (the runtime passed them to us) */
		if (o->n_inherit_fd && !(m->inherit = calloc(o->n_inherit_fd, sizeof(*m->inherit))))
			return fail(msg, len, "out of memory");
		for (size_t i = 0; i < o->n_inherit_fd; i++) {
			if (fcntl(o->inherit_fd[i]->fd, F_GETFD) < 0)
				return fail(msg, len, "inherit_fd %s: the engine has no fd %d", o->inherit_fd[i]->key,
					    o->inherit_fd[i]->fd);
			m->inherit[i] = (struct cr_inherit_fd){ o->inherit_fd[i]->fd, o->inherit_fd[i]->key };
			/* a network namespace the runtime made (runc, podman: key "extRootNetNS", the
			 * key of the dump's external net[INODE]:KEY): joined as libcr's external
			 * net[KEY], by a path that stays valid while we restore */
			if (ioctl(o->inherit_fd[i]->fd, NS_GET_NSTYPE) == CLONE_NEWNET) {
				char key[300], path[64];
				snprintf(key, sizeof(key), "net[%s]", o->inherit_fd[i]->key);
				snprintf(path, sizeof(path), "/proc/%d/fd/%d", getpid(), o->inherit_fd[i]->fd);
				if (add_external(m, key, strlen(key), path))
					return fail(msg, len, "out of memory");
			}
		}
		m->nr_inherit = o->n_inherit_fd;
		r->inherit_fds = m->inherit;
		r->nr_inherit_fds = m->nr_inherit;
		r->externals = m->ext;
		r->nr_externals = m->nr_ext;
		return 0;
	}
	struct cr_dump_opts *d = &m->dump;

	if (!o->has_pid || o->pid <= 0)
		return fail(msg, len, "pid is required: libcr does not dump the process that asks");
	if (o->n_cg_root || (o->has_rst_sibling && o->rst_sibling) || o->n_inherit_fd)
		return fail(msg, len, "options cg_root, rst_sibling and inherit_fd belong to a restore");
	if (o->has_tcp_close && o->tcp_close)
		return fail(msg, len, "option tcp_close belongs to a restore");
	d->pid = o->pid;
	d->images_dir = m->images_dir;
	d->leave_running = o->has_leave_running && o->leave_running;
	d->shell_job = o->has_shell_job && o->shell_job;
	d->ext_unix_sk = o->has_ext_unix_sk && o->ext_unix_sk;
	d->tcp_established = o->has_tcp_established && o->tcp_established;
	d->stop_after = o->has_leave_stopped && o->leave_stopped;
	d->prev_images_dir = m->prev_dir[0] ? m->prev_dir : NULL;
	d->page_server = m->page_server[0] ? m->page_server : NULL;
	d->externals = m->ext;
	d->nr_externals = m->nr_ext;
	d->manage_cgroups = cg_mode;
	d->freeze_cgroup = o->freeze_cgroup && o->freeze_cgroup[0] ? o->freeze_cgroup : NULL;
	d->orphan_pts_master = m->orphan_pts_master;
	return 0;
}

void rpc_opts_free(struct rpc_mapped *m)
{
	for (size_t i = 0; i < m->nr_ext; i++) {
		free((char *)m->ext[i].key);
		free((char *)m->ext[i].value);
	}
	free(m->ext);
	free(m->inherit);
	free(m->cg_roots);
	free(m->log_path);
	if (m->images_fd >= 0)
		close(m->images_fd);
	if (m->work_fd >= 0)
		close(m->work_fd);
	if (m->status_fd >= 0)
		close(m->status_fd);
}

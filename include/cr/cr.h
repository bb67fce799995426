/* libcr public API: checkpoint and restore of Linux processes.
 *
 * Conventions: every function returns 0 (or a positive value) on success and a
 * negative errno on failure; cr_last_error() then gives a one-line message naming
 * what failed.  Option structs start with their own size so that old callers and
 * newer libraries agree: set .sz = sizeof(struct ...) and zero the rest.
 * The library never prints and never exits; messages go to the log callback.
 */
#ifndef CR_CR_H
#define CR_CR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CR_API_VERSION 1

enum cr_log_level {
	CR_LOG_ERROR = 1,
	CR_LOG_WARN  = 2,
	CR_LOG_INFO  = 3,
	CR_LOG_DEBUG = 4,
};

typedef void (*cr_log_fn)(enum cr_log_level level, const char *msg, void *user);

/* Route library messages up to @level to @fn (NULL: drop them).  Process-wide. */
void cr_set_log(cr_log_fn fn, void *user, enum cr_log_level level);

/* The message of the last failure in this thread ("" if none). */
const char *cr_last_error(void);

/* The library's version string. */
const char *cr_version(void);

/* One `--external TYPE[KEY]:VALUE`: key is the whole "TYPE[KEY]" ("mnt[/path]",
 * "veth[eth0]", ...), value what follows the colon.  At dump, mnt[MOUNTPOINT]:NAME
 * leaves the mount at MOUNTPOINT out of the images under NAME; at restore,
 * mnt[NAME]:PATH bind-mounts the caller's PATH there. */
struct cr_external {
	const char *key;
	const char *value;
};

/* --manage-cgroups: what a restore does with the tasks' cgroups (a dump always
 * saves them, and their limits).  IGNORE: the tree stays in the restorer's
 * cgroups; SOFT: each task goes into its cgroups, made where missing; FULL:
 * also the limits (memory, pids, cpu, cpuset) are written; STRICT: like FULL,
 * but a cgroup that exists with other limits fails the restore. */
enum cr_cgroup_mode { CR_CG_IGNORE, CR_CG_SOFT, CR_CG_FULL, CR_CG_STRICT };

/* Where a restore puts the cgroups of a hierarchy (runc's cg_root): the root
 * task's cgroup at the dump becomes path; controller names the hierarchy ("memory",
 * "name=systemd", "unified" for cgroup v2), NULL every hierarchy without its own. */
struct cr_cgroup_root {
	const char *controller;
	const char *path;        /* as /proc/self/cgroup shows it, e.g. "/machine/ct1" */
};

/* A point of a dump or restore where the caller may act (a runtime locks the
 * network, runs its hooks...).  event: "pre-dump", "post-restore"...; pid: the
 * tree's root as the caller sees it (0 where it has none yet).  Return non-zero
 * to fail the operation: it is undone as for any other failure. */
typedef int (*cr_notify_fn)(void *arg, const char *event, pid_t pid);

/* A restore made the pty pair of a terminal whose master was outside the tree
 * (cr_dump_opts.orphan_pts_master): master_fd is the new master, index N of the
 * tasks' /dev/pts/N.  Called once per such pty, before the tree runs; the library
 * closes master_fd afterwards (dup it to keep it).  Non-zero fails the restore. */
typedef int (*cr_pts_master_fn)(void *arg, int master_fd, unsigned index);

struct cr_dump_opts {
	size_t sz;               /* sizeof(struct cr_dump_opts) */
	pid_t pid;               /* root of the tree to dump */
	const char *images_dir;  /* existing directory for the images */
	bool leave_running;      /* keep the tree running after the dump */
	bool shell_job;          /* the tree shares the caller's session/terminal */
	const char *prev_images_dir;  /* images of an earlier pre-dump of this tree: store only
					 the pages written since (the images dir gets a "parent" link) */
	bool stop_after;              /* neither kill the tree nor let it run: leave it stopped
					 (SIGSTOP) for the caller to SIGKILL or SIGCONT */
	const char *page_server;      /* "ADDR:PORT": the pages images go to this page server
					 (cr_page_server) instead of images_dir; ignore SIGPIPE
					 (the pages are spliced into the socket) */
	bool ext_unix_sk;        /* allow unix sockets connected outside the tree (restored with the
				    peer gone, or a datagram one connected to the same name again) */
	bool tcp_established;    /* save established TCP connections (TCP_REPAIR); else they fail the dump */
	const struct cr_external *externals;   /* objects outside the tree the caller names */
	size_t nr_externals;
	const char *freeze_cgroup;  /* a cgroup directory (v2 or v1 freezer) frozen while the tree is
				       seized, so that nothing in it forks meanwhile; every task in it
				       must belong to the tree */
	int manage_cgroups;      /* enum cr_cgroup_mode (the dump saves cgroups in every mode) */
	/* --- container use (Documentation/api.md, "Containers") --- */
	cr_notify_fn notify;     /* called at "pre-dump", "network-lock", "post-dump", "network-unlock" */
	void *notify_arg;
	bool unprivileged;       /* use no capability but CAP_CHECKPOINT_RESTORE (and CAP_SYS_PTRACE), even
				    if the caller has more; check up front that it has that one */
	bool orphan_pts_master;  /* a terminal whose master is outside the tree (a runtime's console, the
				    slave /dev/pts/N) is saved with its settings, to be made anew at restore
				    (cr_restore_opts.pts_master); else such a terminal fails the dump */
};

/* Checkpoint the tree rooted at opts->pid into opts->images_dir.  Unless
 * leave_running, the tree is killed once the images are complete and synced.
 * On failure the tree is left running as it was. */
int cr_dump(const struct cr_dump_opts *opts);

/* Copy the tree's memory into opts->images_dir while it keeps running (frozen only
 * to list the pages and protect them against writes), and track the pages written
 * afterwards, so that a later cr_pre_dump or cr_dump with prev_images_dir set to
 * this directory stores only those.  Tracking: PAGEMAP_SCAN with a userfaultfd in
 * write-protect async mode (the kernel's soft-dirty bits are not needed), held
 * between rounds by a small keeper process.  Uses pid, images_dir and
 * prev_images_dir of opts. */
int cr_pre_dump(const struct cr_dump_opts *opts);

struct cr_page_server_opts {
	size_t sz;               /* sizeof(struct cr_page_server_opts) */
	const char *address;     /* NULL: every address */
	int port;
	const char *images_dir;  /* where the received images go */
	void (*ready)(void *arg);/* called once it listens (may be NULL) */
	void *arg;
};

struct cr_lazy_pages_opts {
	size_t sz;               /* sizeof(struct cr_lazy_pages_opts) */
	const char *images_dir;
	void (*ready)(void *arg);/* called once it listens (may be NULL) */
	void *arg;
};

/* Serve a lazy restore (cr_restore_opts.lazy_pages) of images_dir: every page on
 * fault through userfaultfd, the others pushed meanwhile; returns once the restore
 * is over and every page is in place. */
int cr_lazy_pages(const struct cr_lazy_pages_opts *opts);

struct cr_serve_opts {
	size_t sz;               /* sizeof(struct cr_serve_opts) */
	const char *address;     /* NULL: every address */
	int port;
	const char *images_dir;  /* each round of the migration goes into a directory below */
	bool new_pidns;          /* restore into a new pid namespace (a destination on the
				    source's own host, where the PIDs are still taken) */
	const char *pidfile;     /* written with the restored tree's pid */
	void (*ready)(void *arg);/* called once it listens (may be NULL) */
	void *arg;
	bool stdio;              /* the migration comes on stdin/stdout (started by crtool
				    migrate --via ssh), not on address:port */
};

struct cr_migrate_opts {
	size_t sz;               /* sizeof(struct cr_migrate_opts) */
	pid_t pid;               /* root of the tree to move */
	const char *to;          /* "HOST:PORT" where cr_serve (crtool serve) listens */
	const char *work_dir;    /* the images here (all but the pages), a directory per round */
	int rounds;              /* most pre-copy rounds before the final dump (0: stop and copy) */
	bool lazy;               /* restore there with lazy pages */
	bool dry_run;            /* only the checks: nothing is frozen */
	bool force;              /* go on though checks failed */
	bool shell_job;
	const char *hook_dir;    /* executables named pre-dump, post-dump, pre-restore,
				    post-restore, failed-restore (may be NULL) */
	void (*progress)(void *arg, const char *line);  /* checks, rounds, summary */
	void *arg;
	bool tcp_established;    /* take established TCP connections along (dump and restore) */
	bool ssh;                /* to is "[USER@]HOST[:SSH_PORT]": ssh starts the receiver there
				    (remote_crtool serve --stdio) and carries the whole stream */
	const char *remote_crtool;     /* crtool's path there (NULL: "crtool", from its PATH) */
	const char *remote_dir;        /* serve's images dir there (NULL: /var/tmp/crtool-migrate) */
	const char *ssh_config;        /* ssh -F FILE (may be NULL) */
	const char *const *serve_args; /* more arguments of crtool serve there (NULL-terminated) */
	/* Addresses the hooks move to the destination (NULL-terminated, may be NULL): the
	 * check that the tree's TCP addresses exist there takes these as present */
	const char *const *ip_moves;
};

/* Move the tree to the host of opts->to: checks, pre-copy rounds, final dump
 * with the tree stopped, restore there; the source is killed only once the
 * restore there succeeded, and continues if anything failed. */
int cr_migrate(const struct cr_migrate_opts *opts);

/* The receiving end of one cr_migrate: answers its checks, stores every round's
 * images, restores the last round; returns when the migration hangs up. */
int cr_serve(const struct cr_serve_opts *opts);

/* Receive one dump's or pre-dump's pages (cr_dump_opts.page_server) into
 * images_dir, then return: 0 once the dumper said the round is complete. */
int cr_page_server(const struct cr_page_server_opts *opts);

struct cr_restore_opts {
	size_t sz;               /* sizeof(struct cr_restore_opts) */
	const char *images_dir;
	bool shell_job;          /* attach the tree to the caller's session/terminal */
	bool new_pidns;          /* restore into a new pid namespace (and a mount namespace with
				    its own /proc), at the original PIDs there */
	bool skip_file_checks;   /* reopen files that changed since the dump (size, mtime) as they are */
	bool lazy_pages;         /* start the tree before its private anonymous memory is in place:
				    cr_lazy_pages (crtool lazy-pages) on images_dir fills it */
	/* Files the caller hands in: every fd of the tree whose file had this key at the
	 * dump ("pipe:[INO]", "socket:[INO]", a path) gets the caller's fd instead */
	const struct cr_inherit_fd { int fd; const char *key; } *inherit_fds;
	size_t nr_inherit_fds;
	bool tcp_close;          /* established TCP connections come back as new, closed sockets */
	const struct cr_external *externals;  /* objects the caller hands in (see struct cr_external) */
	size_t nr_externals;
	int manage_cgroups;      /* enum cr_cgroup_mode */
	const struct cr_cgroup_root *cgroup_roots;
	size_t nr_cgroup_roots;
	const char *root;        /* a tree with its own mount namespace: its root mount is this
				    directory (bind-mounted), e.g. a container's rootfs */
	/* --- container use (Documentation/api.md, "Containers") --- */
	cr_notify_fn notify;     /* called at "pre-restore", "network-lock", "setup-namespaces",
				    "post-setup-namespaces", "network-unlock", "post-restore",
				    "pre-resume", "post-resume" */
	void *notify_arg;
	bool sibling;            /* the tree's root becomes a child of the caller's parent, not of the
				    caller (CLONE_PARENT): an engine run by a runtime that waits
				    for the container; the caller cannot waitpid() it */
	bool unprivileged;       /* use no capability but CAP_CHECKPOINT_RESTORE (and CAP_SYS_PTRACE), even
				    if the caller has more: an image asking for more is refused.  Without it
				    too, nothing is restored with more privilege than the caller had */
	cr_pts_master_fn pts_master;   /* takes the masters of orphan ptys (see above); an image with
					  one fails the restore without it */
	void *pts_master_arg;
};

/* Recreate the tree from opts->images_dir as children of the caller, at their
 * original PIDs.  Returns the pid (> 0) of the caller's child that stands for
 * the tree: the root itself or, in a new pid namespace where the root is not
 * PID 1, that namespace's init, which exits with the root's status.  The
 * caller may waitpid() it.  On failure nothing of the tree is left. */
int cr_restore(const struct cr_restore_opts *opts);

/* Run argv (execvp) as PID 1 of a new pid namespace, in a new mount namespace
 * with its own /proc, leading its own session; a tree started this way is dumped
 * with the namespace's PIDs and restored into a new namespace automatically.
 * Returns the child's pid (the caller waitpid()s it) or -errno. */
pid_t cr_spawn_pidns(char *const argv[]);

/* One kernel feature libcr uses, as probed on this machine. */
struct cr_feature {
	const char *name;        /* e.g. "ptrace-seize" */
	bool ok;
	const char *needed_for;  /* what uses it */
	const char *detail;      /* why it is missing, or extra facts ("" if none) */
};

/* Probe every kernel feature once; returns the number of entries in *out
 * (a static table owned by the library). */
int cr_check(const struct cr_feature **out);

/* What works for the calling user with --unprivileged: one entry per operation
 * (seizing its own processes, /proc/PID/map_files, clone3 set_tid, /proc/PID/exe,
 * ...), each saying which capability it needs and whether the caller has it. */
int cr_check_unprivileged(const struct cr_feature **out);

/* Decode one image file into text (json=false) or JSON, written to fd. */
int cr_show_image(const char *path, bool json, int out_fd);

/* Ask the cr_dump() or cr_restore() under way to stop at its next step, undo what
 * it did and fail ("interrupted").  Async-signal-safe: meant for a SIGINT or
 * SIGTERM handler (installed without SA_RESTART, so that waits end too). */
void cr_cancel(void);

/* Steps a test can make fail with CR_FAULT=NAME[:N] in the environment (the N-th
 * passage, default the first).  The table ends with a NULL name. */
struct cr_fault_step {
	const char *name;        /* e.g. "seize", "image-write" */
	const char *phase;       /* "dump" or "restore" */
	const char *what;
};
const struct cr_fault_step *cr_fault_steps(void);

#ifdef __cplusplus
}
#endif
#endif

/* crtool's compatibility mode: run as `criu` (argv[0]), it serves container
 * runtimes the way they expect a checkpoint engine to (Documentation/criu-compat.md). */
#ifndef CRTOOL_CRIU_COMPAT_H
#define CRTOOL_CRIU_COMPAT_H

#include <stdbool.h>
#include <sys/types.h>
#include "cr/cr.h"
#include "criu-rpc.pb-c.h"

/* The version the runtimes' gates see (runc >= 3.0, podman >= 3.11, libcriu >= 3.15). */
#define COMPAT_MAJOR 3
#define COMPAT_MINOR 19

/* argv[0] is "criu": CRIU's command line (dump, restore, pre-dump, check, swrk, -V). */
int criu_main(int argc, char **argv);

/* criu swrk FD: the protobuf RPC on an inherited SOCK_SEQPACKET socket. */
int criu_swrk(int argc, char **argv);

/* One request's options, mapped onto libcr's: what the runtime named and
 * what this process opened for it.  Filled by rpc_opts_map(), freed by rpc_opts_free(). */
struct rpc_mapped {
	struct cr_dump_opts dump;
	struct cr_restore_opts restore;
	char images_dir[4096];
	char prev_dir[4096];
	char page_server[300];
	char *log_path;          /* work dir (or images dir) / log_file, NULL: stderr */
	int verbosity;
	int images_fd, work_fd, status_fd;
	bool notify;             /* notify_scripts: the runtime waits on each event */
	bool orphan_pts_master;  /* restore: each new master of a terminal goes to the runtime */
	struct cr_external *ext;
	size_t nr_ext;
	struct cr_inherit_fd *inherit;
	size_t nr_inherit;
	struct cr_cgroup_root *cg_roots;
	size_t nr_cg_roots;
};

/* Check every option of req against what libcr honours for request type t and
 * fill m.  Returns 0, or -1 with msg (a line for cr_errmsg) filled. */
int rpc_opts_map(const RpcOpts *o, RpcType t, pid_t peer, struct rpc_mapped *m, char *msg, size_t len);
void rpc_opts_free(struct rpc_mapped *m);

/* A cgroup root the runtime names for a restore ([ctrl:]path): the restored tasks
 * start in the engine's cgroups, so the engine joins it unless it is there
 * already (runc moves it first; LXC does not).  0, or -1 with msg filled. */
int cg_root_enter(const char *ctrl, const char *path, char *msg, size_t len);
/* The hierarchy a runtime's controller name means, as cr_cgroup_root.controller
 * has it: NULL (every hierarchy), "unified" for "" and for a controller only
 * cgroup v2 has, else ctrl. */
const char *cg_root_controller(const char *ctrl);

/* The veths of pid's network namespace whose peer is outside (in ours): add(arg,
 * inside name, outside name) for each.  0, or -1 if they could not be listed. */
int veth_find_outside(pid_t pid, int (*add)(void *arg, const char *in, const char *out), void *arg);
/* Put link into the bridge master and up: 0 or -errno. */
int veth_attach(const char *link, const char *master);

/* An LSM profile that asks for no confinement ("apparmor:unconfined", "unconfined",
 * "none", ""): nothing to restore, so it is accepted. */
bool lsm_unconfined(const char *profile);

/* fd n of the caller's table, opened again here (through /proc/PEER/fd/N). */
int peer_fd_open(pid_t peer, int n, int flags);

#endif

/* crtool run as `criu`: CRIU's command line as LXC drives it (criu dump|pre-dump|
 * restore|check|swrk ...), mapped onto libcr.  Options that need no action in
 * libcr are accepted (each named below and in Documentation/criu-compat.md);
 * one libcr cannot honour fails with a line naming it. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "criu-compat.h"
#include "crtool.h"

enum {
	O_TCP = 256, O_FILE_LOCKS, O_LINK_REMAP, O_MANAGE_CG, O_EXT_MNT, O_EXTERNAL, O_FREEZE_CG, O_ROOT,
	O_SIBLING, O_PIDFILE, O_EXT_UNIX, O_PREV, O_PAGE_SERVER, O_ADDRESS, O_PORT, O_INHERIT, O_CG_ROOT,
	O_ACTION_SCRIPT, O_LSM, O_VETH, O_FORCE_IRMAP, O_GHOST_LIMIT, O_ENABLE_FS, O_EXT_SHARING,
	O_EXT_MASTERS, O_TCP_CLOSE, O_LAZY, O_TRACK_MEM, O_EVASIVE, O_SKIP_IN_FLIGHT, O_STATS, O_FEATURE,
	O_WEAK_SYSCTLS, O_NETWORK_LOCK, O_LEAVE_STOPPED,
};

static const struct option longopts[] = {
	{ "tree", required_argument, 0, 't' },
	{ "images-dir", required_argument, 0, 'D' },
	{ "work-dir", required_argument, 0, 'W' },
	{ "log-file", required_argument, 0, 'o' },
	{ "verbosity", optional_argument, 0, 'v' },
	{ "leave-running", no_argument, 0, 'R' },
	{ "shell-job", no_argument, 0, 'j' },
	{ "restore-detached", no_argument, 0, 'd' },
	{ "ext-unix-sk", no_argument, 0, 'x' },
	{ "tcp-established", no_argument, 0, O_TCP },
	{ "file-locks", no_argument, 0, 'l' },
	{ "link-remap", no_argument, 0, O_LINK_REMAP },
	{ "manage-cgroups", optional_argument, 0, O_MANAGE_CG },
	{ "ext-mount-map", required_argument, 0, 'M' },
	{ "external", required_argument, 0, O_EXTERNAL },
	{ "freeze-cgroup", required_argument, 0, O_FREEZE_CG },
	{ "root", required_argument, 0, 'r' },
	{ "restore-sibling", no_argument, 0, O_SIBLING },
	{ "pidfile", required_argument, 0, O_PIDFILE },
	{ "prev-images-dir", required_argument, 0, O_PREV },
	{ "page-server", no_argument, 0, O_PAGE_SERVER },
	{ "address", required_argument, 0, O_ADDRESS },
	{ "port", required_argument, 0, O_PORT },
	{ "inherit-fd", required_argument, 0, O_INHERIT },
	{ "cgroup-root", required_argument, 0, O_CG_ROOT },
	{ "action-script", required_argument, 0, O_ACTION_SCRIPT },
	{ "lsm-profile", required_argument, 0, O_LSM },
	{ "veth-pair", required_argument, 0, O_VETH },
	{ "force-irmap", no_argument, 0, O_FORCE_IRMAP },
	{ "ghost-limit", required_argument, 0, O_GHOST_LIMIT },
	{ "enable-fs", required_argument, 0, O_ENABLE_FS },
	{ "enable-external-sharing", no_argument, 0, O_EXT_SHARING },
	{ "enable-external-masters", no_argument, 0, O_EXT_MASTERS },
	{ "tcp-close", no_argument, 0, O_TCP_CLOSE },
	{ "lazy-pages", no_argument, 0, O_LAZY },
	{ "track-mem", no_argument, 0, O_TRACK_MEM },
	{ "evasive-devices", no_argument, 0, O_EVASIVE },
	{ "skip-in-flight", no_argument, 0, O_SKIP_IN_FLIGHT },
	{ "display-stats", no_argument, 0, O_STATS },
	{ "weak-sysctls", no_argument, 0, O_WEAK_SYSCTLS },
	{ "network-lock", required_argument, 0, O_NETWORK_LOCK },
	{ "leave-stopped", no_argument, 0, O_LEAVE_STOPPED },
	{ "feature", required_argument, 0, O_FEATURE },
	{ 0, 0, 0, 0 },
};

struct cli {
	const char *action;
	struct cr_dump_opts d;
	struct cr_restore_opts r;
	const char *images_dir, *work_dir, *log_file, *pidfile, *address, *port, *feature;
	bool detach, page_server;
	int verbosity, cg_mode;
	struct cr_external ext[256];
	size_t nr_ext;
	struct cr_inherit_fd inherit[64];
	size_t nr_inherit;
	const char *cg_root[64];
	size_t nr_cg_root;
	struct { const char *link, *master; } bridges[16];
	size_t nr_bridges;
	char *owned[256];       /* strings made here, freed at the end */
	size_t nr_owned;
};

static char *own(struct cli *c, char *s)
{
	if (s && c->nr_owned < sizeof(c->owned) / sizeof(c->owned[0]))
		c->owned[c->nr_owned++] = s;
	return s;
}

static int add_ext(struct cli *c, char *key, const char *value)
{
	if (!key)
		return crtool_fail("out of memory");
	if (c->nr_ext == sizeof(c->ext) / sizeof(c->ext[0]))
		return crtool_fail("more than %zu external objects", c->nr_ext);
	c->ext[c->nr_ext++] = (struct cr_external){ own(c, key), value };
	return 0;
}

/* --ext-mount-map KEY:VAL (a mount named outside, "mnt[KEY]:VAL"); "auto" lets the
 * mount code name external bind mounts itself */
static int opt_ext_mount(struct cli *c, const char *arg)
{
	const char *colon = strchr(arg, ':');
	char *key;

	if (!strcmp(arg, "auto"))
		return add_ext(c, strdup("mnt[]"), "auto");
	if (!colon || colon == arg)
		return crtool_fail("%s: --ext-mount-map %s: want KEY:VALUE (or auto)", c->action, arg);
	if (asprintf(&key, "mnt[%.*s]", (int)(colon - arg), arg) < 0)
		key = NULL;
	return add_ext(c, key, colon + 1);
}

/* --veth-pair IN=OUT[@BRIDGE]: the host end of the container's veth */
static int opt_veth(struct cli *c, const char *arg)
{
	const char *eq = strchr(arg, '=');
	char *key, *out;

	if (!eq || eq == arg || !eq[1])
		return crtool_fail("%s: --veth-pair %s: want IN=OUT[@BRIDGE]", c->action, arg);
	if (asprintf(&key, "veth[%.*s]", (int)(eq - arg), arg) < 0)
		key = NULL;
	out = own(c, strdup(eq + 1));
	if (!out)
		return crtool_fail("out of memory");
	if (strchr(out, '@')) {
		/* the bridge the outside end goes into, once the restore made it */
		if (c->nr_bridges == sizeof(c->bridges) / sizeof(c->bridges[0]))
			return crtool_fail("%s: too many --veth-pair", c->action);
		*strchr(out, '@') = 0;
		c->bridges[c->nr_bridges].link = out;
		c->bridges[c->nr_bridges++].master = out + strlen(out) + 1;
	}
	return add_ext(c, key, out);
}

/* --external TYPE[KEY]:VALUE, or TYPE[KEY] */
static int opt_external(struct cli *c, const char *arg)
{
	const char *end = strstr(arg, "]:");
	size_t klen = end ? (size_t)(end - arg) + 1 : strlen(arg);

	if (!strchr(arg, '[') || !klen || arg[klen - 1] != ']')
		return crtool_fail("%s: --external %s: want TYPE[KEY] or TYPE[KEY]:VALUE", c->action, arg);
	/* veth[IN]:OUT@BRIDGE (LXC's form of --veth-pair) */
	if (!strncmp(arg, "veth[", 5) && end && strchr(end + 2, '@')) {
		char *pair;
		if (asprintf(&pair, "%.*s=%s", (int)(klen - 6), arg + 5, end + 2) < 0)
			return crtool_fail("out of memory");
		return opt_veth(c, own(c, pair));
	}
	return add_ext(c, strndup(arg, klen), end ? end + 2 : "");
}

static int opt_inherit(struct cli *c, const char *arg)
{
	char *end;
	long fd = strncmp(arg, "fd[", 3) ? -1 : strtol(arg + 3, &end, 10);

	if (fd < 0 || end == arg + 3 || strncmp(end, "]:", 2) || !end[2])
		return crtool_fail("%s: --inherit-fd %s: want fd[N]:KEY", c->action, arg);
	if (c->nr_inherit == sizeof(c->inherit) / sizeof(c->inherit[0]))
		return crtool_fail("%s: more than %zu --inherit-fd", c->action, c->nr_inherit);
	c->inherit[c->nr_inherit++] = (struct cr_inherit_fd){ (int)fd, end + 2 };
	return 0;
}

static int opt_cgroups(struct cli *c, const char *arg)
{
	static const struct { const char *name; int mode; } modes[] = {
		{ "none", CR_CG_IGNORE }, { "ignore", CR_CG_IGNORE }, { "soft", CR_CG_SOFT },
		{ "full", CR_CG_FULL }, { "strict", CR_CG_STRICT },
	};

	if (!arg) {
		c->cg_mode = CR_CG_SOFT;
		return 0;
	}
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (!strcmp(arg, modes[i].name)) {
			c->cg_mode = modes[i].mode;
			return 0;
		}
	return crtool_fail("%s: --manage-cgroups=%s: want none, soft, full or strict (props is not supported)",
			   c->action, arg);
}

/* -v, -vv..., -v4, --verbosity=4: CRIU's levels 0-4 */
static void opt_verbose(struct cli *c, const char *arg)
{
	if (!arg)
		c->verbosity++;
	else if (arg[0] >= '0' && arg[0] <= '9')
		c->verbosity = atoi(arg) > 2 ? atoi(arg) - 2 : 0;
	else
		c->verbosity += 1 + strspn(arg, "v");
}

static int parse(struct cli *c, int argc, char **argv)
{
	int o;

	while ((o = getopt_long(argc, argv, "t:D:W:o:v::Rjdxlr:M:", longopts, NULL)) != -1) {
		switch (o) {
		case 't': {
			char *end;
			c->d.pid = strtol(optarg, &end, 10);
			if (*end || c->d.pid <= 0)
				return crtool_fail("%s: -t needs a process id", c->action);
			break;
		}
		case 'D': c->images_dir = optarg; break;
		case 'W': c->work_dir = optarg; break;
		case 'o': c->log_file = optarg; break;
		case 'v': opt_verbose(c, optarg); break;
		case 'R': c->d.leave_running = true; break;
		case 'j': c->d.shell_job = c->r.shell_job = true; break;
		case 'd': c->detach = true; break;
		case 'x': c->d.ext_unix_sk = true; break;
		case O_TCP: c->d.tcp_established = true; break;
		case O_MANAGE_CG: if (opt_cgroups(c, optarg)) return -1; break;
		case 'M': if (opt_ext_mount(c, optarg)) return -1; break;
		case O_EXTERNAL: if (opt_external(c, optarg)) return -1; break;
		case O_VETH: if (opt_veth(c, optarg)) return -1; break;
		case O_FREEZE_CG: c->d.freeze_cgroup = optarg; break;
		case 'r': c->r.root = optarg; break;
		case O_SIBLING: c->r.sibling = true; break;
		case O_PIDFILE: c->pidfile = optarg; break;
		case O_PREV: c->d.prev_images_dir = optarg; break;
		case O_PAGE_SERVER: c->page_server = true; break;
		case O_ADDRESS: c->address = optarg; break;
		case O_PORT: c->port = optarg; break;
		case O_INHERIT: if (opt_inherit(c, optarg)) return -1; break;
		case O_TCP_CLOSE: c->r.tcp_close = true; break;
		case O_LAZY: c->r.lazy_pages = true; break;
		case O_LEAVE_STOPPED: c->d.stop_after = true; break;
		case O_FEATURE: c->feature = optarg; break;
		case O_CG_ROOT:
			/* [CTRL:]PATH, joined at a restore (a dump's tasks are where they are) */
			if (c->nr_cg_root < sizeof(c->cg_root) / sizeof(c->cg_root[0]))
				c->cg_root[c->nr_cg_root++] = optarg;
			break;
		/* accepted: libcr needs no action for them (Documentation/criu-compat.md) */
		case 'l':               /* file locks are always dumped */
		case O_LINK_REMAP:      /* unlinked open files are always saved as ghost files */
		case O_FORCE_IRMAP:     /* inotify watches are dumped through their handles */
		case O_GHOST_LIMIT:     /* ghost files have no size limit */
		case O_ENABLE_FS:       /* a mount libcr can't dump fails the dump naming it */
		case O_EXT_SHARING:
		case O_EXT_MASTERS:     /* propagation to external mounts is kept by the mount code */
		case O_TRACK_MEM:       /* pre-dumps always track written pages */
		case O_EVASIVE:         /* devices are reopened by path */
		case O_STATS:           /* stats are always in the log */
		case O_WEAK_SYSCTLS:
		case O_NETWORK_LOCK:    /* libcr picks nftables or iptables itself */
		case O_SKIP_IN_FLIGHT:  /* connections not yet accepted are never saved (a listening
					   socket comes back with an empty queue) */
			break;
		case O_ACTION_SCRIPT:
			return crtool_fail("%s: --action-script is not supported by libcr: it runs no scripts (programs "
					   "linking libcr get the same events through cr_*_opts.notify)", c->action);
		case O_LSM:
			/* no profile to restore: what a tree without one gets anyway */
			if (lsm_unconfined(optarg))
				break;
			return crtool_fail("%s: --lsm-profile %s is not supported by libcr: it restores no LSM profile",
					   c->action, optarg);
		default:
			return crtool_fail("%s: bad option (Documentation/criu-compat.md lists what libcr's criu mode "
					   "accepts)", c->action);
		}
	}
	if (optind < argc)
		return crtool_fail("%s: unexpected argument '%s'", c->action, argv[optind]);
	return 0;
}

/* -o FILE: relative to the work dir (-W), else the images dir, as CRIU does */
static int setup_log(struct cli *c)
{
	const char *dir = c->work_dir ? c->work_dir : c->images_dir;
	char *path = NULL;

	if (c->log_file && c->log_file[0] != '/' && dir && asprintf(&path, "%s/%s", dir, c->log_file) < 0)
		return crtool_fail("out of memory");
	own(c, path);
	return crtool_log_setup(c->verbosity, path ? path : c->log_file) ? -1 : 0;
}

/* a veth of the tree with its peer outside, unless named already */
static int add_veth_found(void *arg, const char *in, const char *out)
{
	struct cli *c = arg;
	char *key;

	if (asprintf(&key, "veth[%s]", in) < 0)
		return -1;
	for (size_t i = 0; i < c->nr_ext; i++)
		if (!strcmp(c->ext[i].key, key)) {
			free(key);
			return 0;
		}
	char *value = own(c, strdup(out));
	return value ? add_ext(c, key, value) : -1;
}

/* --veth-pair IN=OUT@BRIDGE: OUT goes into BRIDGE once the restore made it, while
 * the tree is still stopped (nothing is lost on its connections meanwhile) */
static int restore_event(void *arg, const char *event, pid_t pid)
{
	struct cli *c = arg;

	(void)pid;
	if (strcmp(event, "post-restore"))
		return 0;
	for (size_t i = 0; i < c->nr_bridges; i++) {
		int err = veth_attach(c->bridges[i].link, c->bridges[i].master);
		if (err) {
			fprintf(stderr, "Error: restore: --veth-pair: can't put %s into %s: %s\n", c->bridges[i].link,
				c->bridges[i].master, strerror(-err));
			return -1;
		}
	}
	return 0;
}

static int do_dump(struct cli *c, bool pre)
{
	char ps[300];

	if (!c->d.pid || !c->images_dir)
		return crtool_fail("%s: -t PID and -D DIR are required", c->action);
	if (c->r.root || c->r.sibling || c->detach || c->nr_inherit || c->r.tcp_close || c->r.lazy_pages)
		return crtool_fail("%s: --root, --restore-sibling, --restore-detached, --inherit-fd, --tcp-close and "
				   "--lazy-pages belong to a restore", c->action);
	c->d.sz = sizeof(c->d);
	c->d.images_dir = c->images_dir;
	c->d.externals = c->ext;
	c->d.nr_externals = c->nr_ext;
	c->d.manage_cgroups = c->cg_mode;
	if (c->page_server) {
		if (!c->port)
			return crtool_fail("%s: --page-server needs --port (and --address)", c->action);
		snprintf(ps, sizeof(ps), "%s:%s", c->address ? c->address : "127.0.0.1", c->port);
		c->d.page_server = ps;
	}
	if (setup_log(c))
		return 1;
	/* CRIU finds a veth's outside end itself; libcr wants it named */
	if (!pre && veth_find_outside(c->d.pid, add_veth_found, c))
		return crtool_fail("dump: can't list the veths of pid %d's network namespace", c->d.pid);
	c->d.externals = c->ext;
	c->d.nr_externals = c->nr_ext;
	if ((pre ? cr_pre_dump(&c->d) : cr_dump(&c->d)) < 0)
		return crtool_fail(NULL);
	return 0;
}

static int do_restore(struct cli *c)
{
	pid_t pid;
	int status;

	if (!c->images_dir)
		return crtool_fail("restore: -D DIR is required");
	if (c->d.pid || c->d.leave_running || c->d.freeze_cgroup || c->d.prev_images_dir || c->page_server)
		return crtool_fail("restore: -t, --leave-running, --freeze-cgroup, --prev-images-dir and --page-server "
				   "belong to a dump");
	c->r.sz = sizeof(c->r);
	c->r.images_dir = c->images_dir;
	c->r.externals = c->ext;
	c->r.nr_externals = c->nr_ext;
	c->r.manage_cgroups = c->cg_mode;
	c->r.inherit_fds = c->inherit;
	c->r.nr_inherit_fds = c->nr_inherit;
	c->r.notify = restore_event;
	c->r.notify_arg = c;
	if (c->r.sibling && !c->detach)
		return crtool_fail("restore: --restore-sibling needs --restore-detached (the tree is our parent's child)");
	/* --cgroup-root: where libcr puts the restored cgroups when it manages them;
	 * else the tasks start in ours, so we join it first (LXC leaves us outside) */
	struct cr_cgroup_root roots[64];
	size_t nr_roots = 0;
	for (size_t i = 0; i < c->nr_cg_root; i++) {
		char msg[512], *colon = strchr(c->cg_root[i], ':'), *ctrl = NULL;
		const char *path = colon ? colon + 1 : c->cg_root[i];
		/* ":PATH": an empty controller is cgroup v2's, as /proc/PID/cgroup says "0::PATH" */
		if (colon)
			ctrl = own(c, strndup(c->cg_root[i], colon - c->cg_root[i]));
		if (c->cg_mode != CR_CG_IGNORE)
			roots[nr_roots++] = (struct cr_cgroup_root){ cg_root_controller(ctrl), path };
		else if (cg_root_enter(ctrl, path, msg, sizeof(msg)))
			return crtool_fail("restore: --cgroup-root: %s", msg);
	}
	c->r.cgroup_roots = roots;
	c->r.nr_cgroup_roots = nr_roots;
	if (setup_log(c))
		return 1;
	pid = cr_restore(&c->r);
	if (pid < 0)
		return crtool_fail(NULL);
	if (c->pidfile) {
		FILE *f = fopen(c->pidfile, "w");
		if (!f || fprintf(f, "%d", pid) < 0 || fclose(f)) {
			kill(pid, SIGKILL);
			return crtool_fail("restore: can't write the pid file %s; the restored tree was killed", c->pidfile);
		}
	}
	if (c->detach)
		return 0;
	signal(SIGINT, SIG_IGN);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

/* criu check [--feature NAME]: "Looks good." when libcr has what it needs */
static int do_check(struct cli *c)
{
	static const struct { const char *criu, *libcr; } names[] = {
		{ "mem_dirty_track", "dirty-tracking" }, { "uffd", "userfaultfd" }, { "uffd-noncoop", "userfaultfd" },
		{ "lazy_pages", "userfaultfd" },
	};
	static const char *const required[] = { "ptrace-seize", "clone3-set-tid", "prctl-mm-map", "memfd", "vmsplice" };
	const struct cr_feature *f;
	int n;

	if (crtool_log_setup(c->verbosity, NULL))
		return 1;
	n = cr_check(&f);
	for (size_t k = 0; k < sizeof(required) / sizeof(required[0]) + 1; k++) {
		const char *want = k < sizeof(required) / sizeof(required[0]) ? required[k] : NULL;
		if (!want && c->feature) {
			for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
				if (!strcmp(c->feature, names[i].criu))
					want = names[i].libcr;
			if (!want)
				return crtool_fail("check: feature %s is unknown to libcr", c->feature);
		}
		for (int i = 0; want && i < n; i++)
			if (!strcmp(f[i].name, want) && !f[i].ok)
				return crtool_fail("check: the kernel lacks %s%s%s", want, f[i].detail[0] ? ": " : "",
						   f[i].detail);
	}
	printf(c->feature ? "%s is supported\n" : "Looks good.\n", c->feature);
	return 0;
}

int criu_main(int argc, char **argv)
{
	struct cli c = { 0 };
	int ret;

	if (argc >= 2 && (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version"))) {
		printf("Version: %d.%d\nGitID: libcr-%s\n", COMPAT_MAJOR, COMPAT_MINOR, cr_version());
		return 0;
	}
	if (argc < 2) {
		fprintf(stderr, "usage: criu dump|pre-dump|restore|check|swrk ... (libcr %s in CRIU compatibility "
				"mode; see crtool(8))\n", cr_version());
		return 1;
	}
	c.action = argv[1];
	if (!strcmp(c.action, "swrk"))
		return criu_swrk(argc - 1, argv + 1);
	if (strcmp(c.action, "dump") && strcmp(c.action, "pre-dump") && strcmp(c.action, "restore") &&
	    strcmp(c.action, "check"))
		return crtool_fail("command '%s' is not supported by libcr's criu mode (dump, pre-dump, restore, check, "
				   "swrk)", c.action);
	/* a dump or restore undoes its work on SIGINT/SIGTERM */
	if (parse(&c, argc - 1, argv + 1))
		ret = 1;
	else if (!strcmp(c.action, "check"))
		ret = do_check(&c);
	else if (!strcmp(c.action, "restore"))
		ret = do_restore(&c);
	else
		ret = do_dump(&c, !strcmp(c.action, "pre-dump"));
	for (size_t i = 0; i < c.nr_owned; i++)
		free(c.owned[i]);
	return ret;
}

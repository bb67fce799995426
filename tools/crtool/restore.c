#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include "cr/cr.h"
#include "crtool.h"

static int write_pidfile(const char *path, pid_t pid)
{
	FILE *f = fopen(path, "w");

	if (!f || fprintf(f, "%d\n", pid) < 0 || fclose(f)) {
		perror(path);
		return -1;
	}
	return 0;
}

int crtool_cgroup_mode(const char *arg)
{
	static const char *const names[] = { [CR_CG_IGNORE] = "ignore", [CR_CG_SOFT] = "soft",
					     [CR_CG_FULL] = "full", [CR_CG_STRICT] = "strict" };

	if (!arg)
		return CR_CG_SOFT;
	for (int i = 0; i < 4; i++)
		if (!strcmp(arg, names[i]))
			return i;
	return -1;
}

int cmd_restore(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "images-dir", required_argument, 0, 'D' },
		{ "restore-detached", no_argument, 0, 'd' },
		{ "shell-job", no_argument, 0, 'j' },
		{ "pidfile", required_argument, 0, 'p' },
		{ "verbose", no_argument, 0, 'v' },
		{ "log-file", required_argument, 0, 'o' },
		{ "new-pidns", no_argument, 0, 'N' },
		{ "skip-file-checks", no_argument, 0, 'S' },
		{ "lazy-pages", no_argument, 0, 'L' },
		{ "inherit-fd", required_argument, 0, 'I' },
		{ "tcp-close", no_argument, 0, 'C' },
		{ "external", required_argument, 0, 'X' },
		{ "manage-cgroups", optional_argument, 0, 'M' },
		{ "cgroup-root", required_argument, 0, 'G' },
		{ "root", required_argument, 0, 'r' },
		{ "unprivileged", no_argument, 0, 'u' },
		{ "console-socket", required_argument, 0, 'c' },
		{ 0, 0, 0, 0 },
	};
	struct cr_restore_opts opts = { .sz = sizeof(opts) };
	struct cr_inherit_fd inherit[64];
	struct cr_external ext[64];
	unsigned long nr_ext = 0;
	struct cr_cgroup_root cg_roots[32];
	size_t nr_inherit = 0, nr_cg_roots = 0;
	const char *pidfile = NULL, *log_file = NULL;
	bool detach = false;
	int verbosity = 0, c, status;
	pid_t pid;

	while ((c = getopt_long(argc, argv, "D:djp:vo:", longopts, NULL)) != -1) {
		switch (c) {
		case 'D': opts.images_dir = optarg; break;
		case 'd': detach = true; break;
		case 'j': opts.shell_job = true; break;
		case 'p': pidfile = optarg; break;
		case 'v': verbosity++; break;
		case 'o': log_file = optarg; break;
		case 'N': opts.new_pidns = true; break;
		case 'S': opts.skip_file_checks = true; break;
		case 'L': opts.lazy_pages = true; break;
		case 'I': {
			/* fd[N]:KEY */
			char *end;
			long fd = strncmp(optarg, "fd[", 3) ? -1 : strtol(optarg + 3, &end, 10);
			if (fd < 0 || end == optarg + 3 || strncmp(end, "]:", 2) || !end[2])
				return crtool_fail("restore: --inherit-fd %s: want fd[N]:KEY (KEY: pipe:[INO], "
						   "socket:[INO] or a path)", optarg);
			if (nr_inherit == sizeof(inherit) / sizeof(inherit[0]))
				return crtool_fail("restore: more than %zu --inherit-fd", nr_inherit);
			inherit[nr_inherit++] = (struct cr_inherit_fd){ (int)fd, end + 2 };
			break;
		}
		case 'C': opts.tcp_close = true; break;
		case 'X':
			if (crtool_external("restore", optarg, ext, &nr_ext, 64))
				return 1;
			break;
		case 'M':
			if ((opts.manage_cgroups = crtool_cgroup_mode(optarg)) < 0)
				return crtool_fail("restore: --manage-cgroups %s: want ignore, soft, full or strict", optarg);
			break;
		case 'G': {
			/* [CONTROLLER:]PATH; the path is absolute, so a colon before the first slash names one */
			char *colon = strchr(optarg, ':'), *slash = strchr(optarg, '/');
			if (nr_cg_roots == sizeof(cg_roots) / sizeof(cg_roots[0]))
				return crtool_fail("restore: more than %zu --cgroup-root", nr_cg_roots);
			if (colon && (!slash || colon < slash)) {
				*colon = 0;
				cg_roots[nr_cg_roots] = (struct cr_cgroup_root){ optarg, colon + 1 };
			} else {
				cg_roots[nr_cg_roots] = (struct cr_cgroup_root){ NULL, optarg };
			}
			if (cg_roots[nr_cg_roots].path[0] != '/')
				return crtool_fail("restore: --cgroup-root %s: want [CONTROLLER:]/PATH", optarg);
			nr_cg_roots++;
			break;
		}
		case 'r': opts.root = optarg; break;
		case 'u': opts.unprivileged = true; break;
		case 'c':
			opts.pts_master = crtool_console_socket;
			opts.pts_master_arg = optarg;
			break;
		default: return crtool_fail("restore: bad option; usage: crtool restore -D DIR [-d] [--shell-job] "
					   "[--new-pidns] [--pidfile F] [--skip-file-checks] [--lazy-pages] "
					   "[--inherit-fd fd[N]:KEY]... [--tcp-close] [--root DIR] [--external TYPE[KEY]:VALUE]... "
					   "[--manage-cgroups[=MODE]] [--cgroup-root [CONTROLLER:]PATH]... [--unprivileged] "
					   "[--console-socket PATH]");
		}
	}
	if (!opts.images_dir)
		return crtool_fail("restore: -D DIR is required");
	opts.inherit_fds = inherit;
	opts.nr_inherit_fds = nr_inherit;
	opts.externals = ext;
	opts.nr_externals = nr_ext;
	opts.cgroup_roots = cg_roots;
	opts.nr_cgroup_roots = nr_cg_roots;
	if (crtool_log_setup(verbosity, log_file))
		return 1;
	pid = cr_restore(&opts);
	if (pid < 0)
		return crtool_fail(NULL);
	if (pidfile && write_pidfile(pidfile, pid)) {
		kill(pid, SIGKILL);
		return crtool_fail("restore: can't write the pid file; the restored tree was killed");
	}
	if (detach)
		return 0;
	/* Stand in for the tree's parent: wait and pass its status on. */
	signal(SIGINT, SIG_IGN);
	while (waitpid(pid, &status, 0) < 0)
		;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

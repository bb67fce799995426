#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cr/cr.h"
#include "crtool.h"

/* dump and pre-dump: one option set; pre-dump takes no --leave-running or --shell-job
 * (the tree always runs on) */
static int dump_or_pre_dump(int argc, char **argv, bool pre)
{
	const char *cmd = pre ? "pre-dump" : "dump";
	static const struct option longopts[] = {
		{ "tree", required_argument, 0, 't' },
		{ "images-dir", required_argument, 0, 'D' },
		{ "leave-running", no_argument, 0, 'R' },
		{ "shell-job", no_argument, 0, 'j' },
		{ "ext-unix-sk", no_argument, 0, 'U' },
		{ "tcp-established", no_argument, 0, 'T' },
		{ "verbose", no_argument, 0, 'v' },
		{ "log-file", required_argument, 0, 'o' },
		{ "prev-images-dir", required_argument, 0, 'P' },
		{ "page-server", required_argument, 0, 'S' },
		{ "external", required_argument, 0, 'X' },
		{ "freeze-cgroup", required_argument, 0, 'F' },
		{ "manage-cgroups", optional_argument, 0, 'M' },
		{ "unprivileged", no_argument, 0, 'u' },
		{ "orphan-pts-master", no_argument, 0, 'O' },
		{ 0, 0, 0, 0 },
	};
	struct cr_dump_opts opts = { .sz = sizeof(opts) };
	struct cr_external ext[64];
	unsigned long nr_ext = 0;
	const char *log_file = NULL;
	int verbosity = 0, c;
	char *end;

	while ((c = getopt_long(argc, argv, "t:D:Rjvo:", longopts, NULL)) != -1) {
		switch (c) {
		case 't':
			opts.pid = strtol(optarg, &end, 10);
			if (*end || opts.pid <= 0)
				return crtool_fail("%s: -t needs a process id (a positive number)", cmd);
			break;
		case 'D': opts.images_dir = optarg; break;
		case 'R':
		case 'j':
		case 'T':
			if (pre)
				return crtool_fail("pre-dump: the tree always keeps running, and --shell-job and "
						   "--tcp-established belong to the final dump");
			if (c == 'R')
				opts.leave_running = true;
			else if (c == 'j')
				opts.shell_job = true;
			else
				opts.tcp_established = true;
			break;
		case 'v': verbosity++; break;
		case 'o': log_file = optarg; break;
		case 'U': opts.ext_unix_sk = true; break;
		case 'P': opts.prev_images_dir = optarg; break;
		case 'S': opts.page_server = optarg; break;
		case 'X':
			if (crtool_external(cmd, optarg, ext, &nr_ext, 64))
				return 1;
			break;
		case 'F': opts.freeze_cgroup = optarg; break;
		case 'M':
			if ((opts.manage_cgroups = crtool_cgroup_mode(optarg)) < 0)
				return crtool_fail("%s: --manage-cgroups %s: want ignore, soft, full or strict", cmd, optarg);
			break;
		case 'u': opts.unprivileged = true; break;
		case 'O': opts.orphan_pts_master = true; break;
		default:
			return crtool_fail(pre ? "pre-dump: bad option; usage: crtool pre-dump -t PID -D DIR "
						 "[--prev-images-dir D] [--page-server A:P] [-v] [--log-file F]"
					       : "dump: bad option; usage: crtool dump -t PID -D DIR [--leave-running] "
						 "[--shell-job] [--orphan-pts-master] [--ext-unix-sk] [--tcp-established] [--prev-images-dir D] [--page-server A:P] [--unprivileged] [-v] "
						 "[--log-file F] [--external TYPE[KEY]:VALUE]... [--freeze-cgroup DIR] [--manage-cgroups[=MODE]]");
		}
	}
	opts.externals = ext;
	opts.nr_externals = nr_ext;
	if (!opts.pid || !opts.images_dir)
		return crtool_fail("%s: -t PID and -D DIR are required", cmd);
	if (crtool_log_setup(verbosity, log_file))
		return 1;
	if ((pre ? cr_pre_dump(&opts) : cr_dump(&opts)) < 0)
		return crtool_fail(NULL);
	return 0;
}

int cmd_dump(int argc, char **argv)
{
	return dump_or_pre_dump(argc, argv, false);
}

int cmd_pre_dump(int argc, char **argv)
{
	return dump_or_pre_dump(argc, argv, true);
}

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cr/cr.h"
#include "crtool.h"

int cmd_dump(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "tree", required_argument, 0, 't' },
		{ "images-dir", required_argument, 0, 'D' },
		{ "leave-running", no_argument, 0, 'R' },
		{ "shell-job", no_argument, 0, 'j' },
		{ "verbose", no_argument, 0, 'v' },
		{ "log-file", required_argument, 0, 'o' },
		{ 0, 0, 0, 0 },
	};
	struct cr_dump_opts opts = { .sz = sizeof(opts) };
	const char *log_file = NULL;
	int verbosity = 0, c;
	char *end;

	while ((c = getopt_long(argc, argv, "t:D:Rjvo:", longopts, NULL)) != -1) {
		switch (c) {
		case 't':
			opts.pid = strtol(optarg, &end, 10);
			if (*end || opts.pid <= 0)
				return crtool_fail("dump: -t needs a process id (a positive number)");
			break;
		case 'D': opts.images_dir = optarg; break;
		case 'R': opts.leave_running = true; break;
		case 'j': opts.shell_job = true; break;
		case 'v': verbosity++; break;
		case 'o': log_file = optarg; break;
		default: return crtool_fail("dump: bad option; usage: crtool dump -t PID -D DIR [--leave-running] "
					   "[--shell-job] [-v] [--log-file F]");
		}
	}
	if (!opts.pid || !opts.images_dir)
		return crtool_fail("dump: -t PID and -D DIR are required");
	if (crtool_log_setup(verbosity, log_file))
		return 1;
	if (cr_dump(&opts) < 0)
		return crtool_fail(NULL);
	return 0;
}

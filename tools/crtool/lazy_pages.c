#include <getopt.h>
#include <stdio.h>
#include "cr/cr.h"
#include "crtool.h"

/* "listening" on stdout once it serves: scripts wait for that line. */
static void say_ready(void *arg)
{
	(void)arg;
	printf("lazy-pages: listening\n");
	fflush(stdout);
}

int cmd_lazy_pages(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "images-dir", required_argument, 0, 'D' },
		{ "verbose", no_argument, 0, 'v' },
		{ "log-file", required_argument, 0, 'o' },
		{ 0, 0, 0, 0 },
	};
	struct cr_lazy_pages_opts opts = { .sz = sizeof(opts), .ready = say_ready };
	const char *log_file = NULL;
	int verbosity = 0, c;

	while ((c = getopt_long(argc, argv, "D:vo:", longopts, NULL)) != -1) {
		switch (c) {
		case 'D': opts.images_dir = optarg; break;
		case 'v': verbosity++; break;
		case 'o': log_file = optarg; break;
		default: return crtool_fail("lazy-pages: bad option; usage: crtool lazy-pages -D DIR [-v] [--log-file F]");
		}
	}
	if (!opts.images_dir)
		return crtool_fail("lazy-pages: -D DIR is required");
	if (crtool_log_setup(verbosity, log_file))
		return 1;
	if (cr_lazy_pages(&opts) < 0)
		return crtool_fail(NULL);
	return 0;
}

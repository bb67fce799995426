#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include "cr/cr.h"
#include "crtool.h"

/* "listening" on stdout once the socket listens: scripts wait for that line. */
static void say_ready(void *arg)
{
	(void)arg;
	printf("page server: listening\n");
	fflush(stdout);
}

int cmd_page_server(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "address", required_argument, 0, 'a' },
		{ "port", required_argument, 0, 'p' },
		{ "images-dir", required_argument, 0, 'D' },
		{ "verbose", no_argument, 0, 'v' },
		{ "log-file", required_argument, 0, 'o' },
		{ 0, 0, 0, 0 },
	};
	struct cr_page_server_opts opts = { .sz = sizeof(opts), .ready = say_ready };
	const char *log_file = NULL;
	int verbosity = 0, c;
	char *end;

	while ((c = getopt_long(argc, argv, "a:p:D:vo:", longopts, NULL)) != -1) {
		switch (c) {
		case 'a': opts.address = optarg; break;
		case 'p':
			opts.port = strtol(optarg, &end, 10);
			if (*end || opts.port <= 0 || opts.port > 65535)
				return crtool_fail("page-server: --port needs a port number (1-65535)");
			break;
		case 'D': opts.images_dir = optarg; break;
		case 'v': verbosity++; break;
		case 'o': log_file = optarg; break;
		default:
			return crtool_fail("page-server: bad option; usage: crtool page-server [--address A] --port P "
					   "-D DIR [-v] [--log-file F]");
		}
	}
	if (!opts.port || !opts.images_dir)
		return crtool_fail("page-server: --port P and -D DIR are required");
	if (crtool_log_setup(verbosity, log_file))
		return 1;
	if (cr_page_server(&opts) < 0)
		return crtool_fail(NULL);
	return 0;
}

#include <getopt.h>
#include <stdio.h>
#include <unistd.h>
#include "cr/cr.h"
#include "crtool.h"

#define SHOW_USAGE "usage: crtool show [-f] DIR/IMAGE.img [--json]"

int cmd_show(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "file", required_argument, 0, 'f' },
		{ "json", no_argument, 0, 'j' },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	const char *file = NULL;
	bool json = false;
	int c;

	optind = 1;
	opterr = 0;             /* one error line, ours */
	while ((c = getopt_long(argc, argv, "f:jh", longopts, NULL)) != -1) {
		switch (c) {
		case 'f': file = optarg; break;
		case 'j': json = true; break;
		case 'h': printf("%s\n", SHOW_USAGE); return 0;
		default: return crtool_fail("show: bad option; " SHOW_USAGE);
		}
	}
	if (optind < argc) {
		if (file || optind + 1 < argc)
			return crtool_fail("show: one image at a time; " SHOW_USAGE);
		file = argv[optind];
	}
	if (!file)
		return crtool_fail("show: which image? " SHOW_USAGE);
	fflush(stdout);
	if (cr_show_image(file, json, STDOUT_FILENO) < 0)
		return crtool_fail(NULL);
	return 0;
}

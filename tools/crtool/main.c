/* crtool: the command line of libcr. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cr/cr.h"
#include "crtool.h"
#include "criu-compat.h"

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;
} cmds[] = {
	{ "check",   cmd_check,   "check [--unprivileged]     probe every kernel feature libcr uses (for the calling user)" },
	{ "dump",    cmd_dump,    "dump -t PID -D DIR [--leave-running] [--shell-job] [--orphan-pts-master] [--ext-unix-sk] [--tcp-established] [--prev-images-dir D] "
				  "[--page-server A:P] [--freeze-cgroup DIR] [--manage-cgroups[=MODE]] [--external TYPE[KEY]:VALUE] [--unprivileged] [-v] [--log-file F]" },
	{ "pre-dump", cmd_pre_dump, "pre-dump -t PID -D DIR [--prev-images-dir D] [--page-server A:P] [-v] "
				    "[--log-file F]" },
	{ "migrate", cmd_migrate, "migrate -t PID --to HOST:PORT -W DIR [--via tcp|ssh] [--rounds N] [--lazy] [--dry-run] "
				  "[--force] [--hook-dir D] [--shell-job] [--tcp-established] [--remote-crtool PATH] "
				  "[--remote-dir D] [--ssh-config F] [--serve-arg ARG]... [-v]" },
	{ "serve",   cmd_serve,   "serve [--address A] --port P|--stdio -D DIR [--new-pidns] [--pidfile F] [-v]" },
	{ "lazy-pages", cmd_lazy_pages, "lazy-pages -D DIR [-v] [--log-file F]" },
	{ "page-server", cmd_page_server, "page-server [--address A] --port P -D DIR [-v] [--log-file F]" },
	{ "restore", cmd_restore, "restore -D DIR [-d|--restore-detached] [--shell-job] [--new-pidns] [--pidfile F] [--skip-file-checks] [--lazy-pages] [--inherit-fd fd[N]:KEY] [--tcp-close] [--manage-cgroups[=MODE]] [--cgroup-root [CTL:]PATH]... [--root DIR] [--external TYPE[KEY]:VALUE] [--unprivileged] [--console-socket PATH] [-v]" },
	{ "show",    cmd_show,    "show DIR/IMAGE.img [--json]  decode an image" },
	{ "exec-pidns", cmd_exec_pidns, "exec-pidns CMD [ARGS...]   run CMD as init of a new pid namespace" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: crtool COMMAND [OPTIONS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %s\n", cmds[i].usage);
	fprintf(f, "\n  crtool --version\n");
}

/* SIGINT, SIGTERM: libcr stops at its next step and undoes what it did; no
 * SA_RESTART, so that a wait under way ends too. */
static void on_signal(int sig)
{
	(void)sig;
	cr_cancel();
}

static void catch_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* CR_FAULT=list: the steps a test can make fail, one per line: NAME PHASE WHAT */
static int list_faults(void)
{
	for (const struct cr_fault_step *s = cr_fault_steps(); s->name; s++)
		printf("%s\t%s\t%s\n", s->name, s->phase, s->what);
	return 0;
}

int main(int argc, char **argv)
{
	const char *fault = getenv("CR_FAULT");

	if (fault && !strcmp(fault, "list"))
		return list_faults();
	/* a page server that goes away must fail the dump with a message, not kill us */
	signal(SIGPIPE, SIG_IGN);
	/* installed or linked as `criu`: the command line and RPC container runtimes use */
	const char *base = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	if (!strcmp(base, "criu")) {
		catch_signals();
		return criu_main(argc, argv);
	}
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("crtool %s\n", cr_version());
		return 0;
	}
	/* a dump or restore undoes its work on SIGINT/SIGTERM; a page server just stops */
	if (!strcmp(argv[1], "dump") || !strcmp(argv[1], "pre-dump") || !strcmp(argv[1], "restore"))
		catch_signals();
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "Error: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}

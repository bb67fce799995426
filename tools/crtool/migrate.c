#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cr/cr.h"
#include "crtool.h"

static void print_line(void *arg, const char *line)
{
	(void)arg;
	printf("migrate: %s\n", line);
	fflush(stdout);
}

int cmd_migrate(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "tree", required_argument, 0, 't' },
		{ "to", required_argument, 0, 'T' },
		{ "work-dir", required_argument, 0, 'W' },
		{ "via", required_argument, 0, 'V' },
		{ "rounds", required_argument, 0, 'r' },
		{ "lazy", no_argument, 0, 'L' },
		{ "dry-run", no_argument, 0, 'n' },
		{ "force", no_argument, 0, 'f' },
		{ "hook-dir", required_argument, 0, 'H' },
		{ "shell-job", no_argument, 0, 'j' },
		{ "verbose", no_argument, 0, 'v' },
		{ "log-file", required_argument, 0, 'o' },
		{ "tcp-established", no_argument, 0, 'E' },
		{ "remote-crtool", required_argument, 0, 'R' },
		{ "remote-dir", required_argument, 0, 'D' },
		{ "ssh-config", required_argument, 0, 'F' },
		{ "serve-arg", required_argument, 0, 'A' },
		{ "ip-moves", required_argument, 0, 'I' },
		{ 0, 0, 0, 0 },
	};
	struct cr_migrate_opts opts = { .sz = sizeof(opts), .rounds = 3, .progress = print_line };
	const char *log_file = NULL, *serve_args[33] = { 0 }, *ip_moves[33] = { 0 };
	int verbosity = 0, c, nr_serve_args = 0, nr_ip_moves = 0;
	char *end;

	while ((c = getopt_long(argc, argv, "t:W:vo:", longopts, NULL)) != -1) {
		switch (c) {
		case 't':
			opts.pid = strtol(optarg, &end, 10);
			if (*end || opts.pid <= 0)
				return crtool_fail("migrate: -t needs a process id (a positive number)");
			break;
		case 'T': opts.to = optarg; break;
		case 'W': opts.work_dir = optarg; break;
		case 'V':
			if (strcmp(optarg, "tcp") && strcmp(optarg, "ssh"))
				return crtool_fail("migrate: --via %s: tcp (a crtool serve listening there) or ssh "
						   "(migrate starts it there)", optarg);
			opts.ssh = !strcmp(optarg, "ssh");
			break;
		case 'E': opts.tcp_established = true; break;
		case 'R': opts.remote_crtool = optarg; break;
		case 'D': opts.remote_dir = optarg; break;
		case 'F': opts.ssh_config = optarg; break;
		case 'A':
			if (nr_serve_args == 32)
				return crtool_fail("migrate: at most 32 --serve-arg");
			serve_args[nr_serve_args++] = optarg;
			break;
		case 'I':
			if (nr_ip_moves == 32)
				return crtool_fail("migrate: at most 32 --ip-moves");
			ip_moves[nr_ip_moves++] = optarg;
			break;
		case 'r':
			opts.rounds = strtol(optarg, &end, 10);
			if (*end || opts.rounds < 0 || opts.rounds > 32)
				return crtool_fail("migrate: --rounds needs a number from 0 to 32");
			break;
		case 'L': opts.lazy = true; break;
		case 'n': opts.dry_run = true; break;
		case 'f': opts.force = true; break;
		case 'H': opts.hook_dir = optarg; break;
		case 'j': opts.shell_job = true; break;
		case 'v': verbosity++; break;
		case 'o': log_file = optarg; break;
		default:
			return crtool_fail("migrate: bad option; usage: crtool migrate -t PID --to HOST:PORT -W DIR "
					   "[--via tcp|ssh] [--rounds N] [--lazy] [--dry-run] [--force] [--hook-dir D] "
					   "[--shell-job] [--tcp-established] [--remote-crtool PATH] [--remote-dir D] "
					   "[--ssh-config F] [--serve-arg ARG]... [--ip-moves ADDR]...");
		}
	}
	if (!opts.pid || !opts.to || !opts.work_dir)
		return crtool_fail("migrate: -t PID, --to HOST:PORT (--via ssh: [USER@]HOST[:SSH_PORT]) and -W DIR "
				   "(the local images) are required");
	if (!opts.ssh && (opts.remote_crtool || opts.remote_dir || opts.ssh_config || nr_serve_args))
		return crtool_fail("migrate: --remote-crtool, --remote-dir, --ssh-config and --serve-arg go with --via ssh");
	opts.serve_args = serve_args;
	opts.ip_moves = ip_moves;
	if (crtool_log_setup(verbosity, log_file))
		return 1;
	if (cr_migrate(&opts) < 0)
		return crtool_fail(NULL);
	return 0;
}

static void say_ready(void *arg)
{
	(void)arg;
	printf("serve: listening\n");
	fflush(stdout);
}

int cmd_serve(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "address", required_argument, 0, 'a' },
		{ "port", required_argument, 0, 'p' },
		{ "images-dir", required_argument, 0, 'D' },
		{ "new-pidns", no_argument, 0, 'N' },
		{ "pidfile", required_argument, 0, 'P' },
		{ "verbose", no_argument, 0, 'v' },
		{ "log-file", required_argument, 0, 'o' },
		{ "stdio", no_argument, 0, 's' },
		{ 0, 0, 0, 0 },
	};
	struct cr_serve_opts opts = { .sz = sizeof(opts), .ready = say_ready };
	const char *log_file = NULL;
	int verbosity = 0, c;
	char *end;

	while ((c = getopt_long(argc, argv, "a:p:D:vo:", longopts, NULL)) != -1) {
		switch (c) {
		case 'a': opts.address = optarg; break;
		case 'p':
			opts.port = strtol(optarg, &end, 10);
			if (*end || opts.port <= 0 || opts.port > 65535)
				return crtool_fail("serve: --port needs a port number (1-65535)");
			break;
		case 'D': opts.images_dir = optarg; break;
		case 'N': opts.new_pidns = true; break;
		case 'P': opts.pidfile = optarg; break;
		case 'v': verbosity++; break;
		case 'o': log_file = optarg; break;
		case 's': opts.stdio = true; break;
		default:
			return crtool_fail("serve: bad option; usage: crtool serve [--address A] --port P|--stdio -D DIR "
					   "[--new-pidns] [--pidfile F]");
		}
	}
	if ((!opts.port && !opts.stdio) || !opts.images_dir)
		return crtool_fail("serve: --port P (or --stdio) and -D DIR are required");
	if (crtool_log_setup(verbosity, log_file))
		return 1;
	if (cr_serve(&opts) < 0)
		return crtool_fail(NULL);
	return 0;
}

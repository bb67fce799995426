/* crtool exec-pidns CMD [ARGS...]: CMD as init of a fresh pid namespace; exits
 * with its status (128 + signal if it was killed). */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include "cr/cr.h"
#include "crtool.h"

int cmd_exec_pidns(int argc, char **argv)
{
	int status;
	pid_t pid;

	if (argc > 1 && !strcmp(argv[1], "--"))
		argv++, argc--;
	if (argc < 2)
		return crtool_fail("exec-pidns: usage: crtool exec-pidns CMD [ARGS...]");
	pid = cr_spawn_pidns(argv + 1);
	if (pid < 0)
		return crtool_fail(NULL);
	signal(SIGINT, SIG_IGN);
	while (waitpid(pid, &status, 0) < 0)
		;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

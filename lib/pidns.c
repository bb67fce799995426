/* Pid namespaces: the first task of a new one gets a mount namespace with its
 * own /proc, so that /proc/<pid> names the namespace's tasks (what `unshare -p -m
 * --fork --mount-proc` sets up). */
#include <errno.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "cr/cr.h"
#include "log.h"
#include "pidns.h"

int pidns_mount_proc(void)
{
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		return pr_perror("can't make the new mount namespace private");
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL))
		return pr_perror("can't mount /proc for the new pid namespace");
	return 0;
}

CR_EXPORT pid_t cr_spawn_pidns(char *const argv[])
{
	struct clone_args ca = { .flags = CLONE_NEWPID | CLONE_NEWNS, .exit_signal = SIGCHLD };
	pid_t pid;

	cr_error_reset();
	if (!argv || !argv[0])
		return pr_err("cr_spawn_pidns: no program to run"), -EINVAL;
	pid = syscall(__NR_clone3, &ca, sizeof(ca));
	if (pid < 0)
		return pr_perror("can't create a pid namespace (clone3 with CLONE_NEWPID)");
	if (pid == 0) {
		/* PID 1 of the namespace, leading its own session like a container's init */
		if (pidns_mount_proc() || setsid() < 0)
			_exit(127);
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

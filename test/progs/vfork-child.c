/* vfork-child: a process whose vfork() child has not called exec, for test/errors.sh.
 *
 * The parent waits in vfork() until the child execs or exits, and no ptrace stop
 * reaches it meanwhile: a dump must refuse it within seconds, saying why, and
 * leave both running.  The child (it runs in the parent's memory, with its fds)
 * says READY, waits for CHECK and _exits; the parent, free again, reports PASS.
 * Not a runner test: it can't be dumped until the child is gone.
 */
#include "tst.h"

#include <errno.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int status;

	tst_init(argc, argv);
	pid_t child = vfork();
	if (child == 0) {
		tst_ready();
		tst_wait_check();
		_exit(0);
	}
	if (child < 0)
		tst_fail("vfork: %s", strerror(errno));
	if (waitpid(child, &status, 0) != child)
		tst_fail("waitpid %d: %s", child, strerror(errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		tst_fail("the vfork child ended with status 0x%x", status);
	tst_pass();
}

/* tracer: ptrace-seize another process and hold it, for test/errors.sh.
 *
 *   tracer --pid PID
 *
 * PTRACE_SEIZE does not stop the tracee; it keeps running, but it is traced
 * (TracerPid in its status), so a dump of it must fail saying so.  The tracer
 * prints READY, waits for CHECK (or is killed), then exits, which detaches.
 * Not a runner test: it would refuse to be dumped while it traces.
 */
#include "tst.h"

#include <errno.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/types.h>

int main(int argc, char **argv)
{
	tst_init_opts(argc, argv, "pid", NULL);
	long pid = tst_opt_long("pid", 0);
	if (pid <= 0)
		tst_fail("usage: tracer --pid PID");
	if (ptrace(PTRACE_SEIZE, (pid_t)pid, NULL, NULL))
		tst_fail("PTRACE_SEIZE %ld: %s", pid, strerror(errno));
	tst_ready();
	tst_wait_check();
	tst_pass();
}

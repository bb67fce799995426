/* Notify callbacks: the points of a dump or restore where a container runtime
 * acts (locks its network, runs its hooks, learns the restored pid). */
#include <errno.h>
#include "log.h"
#include "notify.h"

int notify_call(cr_notify_fn fn, void *arg, const char *event, pid_t pid)
{
	int ret;

	if (!fn)
		return 0;
	pr_debug("notify %s (pid %d)", event, pid);
	ret = fn(arg, event, pid);
	if (ret)
		return pr_err("the caller's notify callback failed at \"%s\" (returned %d)", event, ret), -ECANCELED;
	return 0;
}

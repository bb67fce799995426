/* Integer socket options (sockopt.h). */
#include <errno.h>
#include <sys/socket.h>
#include "log.h"
#include "net/sockopt.h"

int sockopt_get(int sk, int level, int name, uint32_t *v)
{
	int val = 0;
	socklen_t l = sizeof(val);

	if (getsockopt(sk, level, name, &val, &l))
		return -errno;
	*v = val;
	return 0;
}

int sockopt_set(int sk, int level, int name, int v, const char *what, unsigned fd)
{
	if (setsockopt(sk, level, name, &v, sizeof(v)))
		return pr_perror("fd %u: can't set %s to %d", fd, what, v);
	return 0;
}

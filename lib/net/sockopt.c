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

int sockopt_set_buf(int sk, int name, uint32_t want, unsigned fd)
{
	uint32_t cur = 0;

	if (sockopt_get(sk, SOL_SOCKET, name, &cur) || cur == want)
		return 0;
	return name == SO_RCVBUF ? sockopt_set(sk, SOL_SOCKET, SO_RCVBUFFORCE, want / 2, "SO_RCVBUF", fd)
				 : sockopt_set(sk, SOL_SOCKET, SO_SNDBUFFORCE, want / 2, "SO_SNDBUF", fd);
}

int sockopt_set(int sk, int level, int name, int v, const char *what, unsigned fd)
{
	if (setsockopt(sk, level, name, &v, sizeof(v)))
		return pr_perror("fd %u: can't set %s to %d", fd, what, v);
	return 0;
}

/* The new master of a terminal whose master was outside the tree (dumped with
 * --orphan-pts-master): crtool restore --console-socket PATH hands it over a
 * unix socket, as runc hands a container's console to its --console-socket. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "crtool.h"

ssize_t crtool_send_fd(int sk, const void *buf, size_t len, int fd, int flags)
{
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { (void *)buf, len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof(ctl.b) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);

	memset(ctl.b, 0, sizeof(ctl.b));
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sk, &m, flags);
}

int crtool_console_socket(void *arg, int master_fd, unsigned index)
{
	const char *path = arg;
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char name[32];
	int sk, n;

	if (strlen(path) >= sizeof(a.sun_path)) {
		fprintf(stderr, "Error: --console-socket %s: path too long\n", path);
		return -1;
	}
	strcpy(a.sun_path, path);
	n = snprintf(name, sizeof(name), "/dev/pts/%u", index);
	if ((sk = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(sk, (struct sockaddr *)&a, sizeof(a)) || crtool_send_fd(sk, name, n, master_fd, MSG_NOSIGNAL) != n) {
		fprintf(stderr, "Error: --console-socket %s: can't hand over the master of pty %u: %s\n", path, index,
			strerror(errno));
		if (sk >= 0)
			close(sk);
		return -1;
	}
	close(sk);
	return 0;
}

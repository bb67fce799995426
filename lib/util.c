#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <linux/openat2.h>
#include "log.h"
#include "util.h"

char *read_file(const char *path, size_t *lenp)
{
	size_t cap = 4096, len = 0;
	char *buf;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	buf = malloc(cap);
	while (buf) {
		ssize_t n;

		if (len + 1 >= cap) {
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			free(buf);
			buf = NULL;
			errno = e;
			break;
		}
		if (n == 0) {
			buf[len] = 0;
			if (lenp)
				*lenp = len;
			break;
		}
		len += n;
	}
	close(fd);
	return buf;
}

char *read_proc(pid_t pid, const char *name, size_t *len)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
	return read_file(path, len);
}

int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= n;
	}
	return 0;
}

int read_all(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= n;
	}
	return 0;
}

ssize_t send_fds(int sk, const void *buf, size_t len, const int *fds, int nr, const struct sockaddr *addr,
		 unsigned addr_len, int flags)
{
	union {
		char b[CMSG_SPACE(253 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { (void *)buf, len };
	struct msghdr m = { .msg_name = (void *)addr, .msg_namelen = addr_len, .msg_iov = &iov, .msg_iovlen = 1 };

	if (nr < 0 || nr > 253)
		return errno = EINVAL, -1;
	if (nr) {
		m.msg_control = ctl.b;
		m.msg_controllen = CMSG_SPACE(nr * sizeof(int));
		struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(nr * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, nr * sizeof(int));
	}
	return sendmsg(sk, &m, flags);
}

ssize_t recv_fd(int sk, void *buf, size_t len, int *fd)
{
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { buf, len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof(ctl.b) };
	ssize_t n = recvmsg(sk, &m, MSG_CMSG_CLOEXEC);
	struct cmsghdr *cm;

	*fd = -1;
	if (n >= 0 && (cm = CMSG_FIRSTHDR(&m)) && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
	    cm->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(fd, CMSG_DATA(cm), sizeof(int));
	return n;
}

int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return -errno;
	ret = write_all(fd, s, strlen(s));
	close(fd);
	return ret ? (errno = -ret, ret) : 0;
}

char *xreadlink(const char *path)
{
	char buf[PATH_MAX + 1];
	ssize_t n = readlink(path, buf, PATH_MAX);

	if (n < 0)
		return NULL;
	buf[n] = 0;
	return strdup(buf);
}

void *xzalloc(size_t size)
{
	return calloc(1, size);
}

bool path_is_clean(const char *path)
{
	if (!path || path[0] != '/')
		return false;
	for (const char *p = path; (p = strchr(p, '/')); ) {
		p++;
		if (p[0] == '.' && (!p[1] || p[1] == '/' || (p[1] == '.' && (!p[2] || p[2] == '/'))))
			return false;
	}
	return true;
}

double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

uint64_t stat_mtime_ns(const struct stat *st)
{
	return st->st_mtim.tv_sec * 1000000000ULL + st->st_mtim.tv_nsec;
}

bool mtime_unchanged(uint64_t dumped_ns, const struct stat *st)
{
	uint64_t now = stat_mtime_ns(st), sec = dumped_ns / 1000000000ULL;

	if (now == dumped_ns)
		return true;
	if (st->st_mtim.tv_nsec)
		return false;
	return (uint64_t)st->st_mtim.tv_sec == sec ||
	       (uint64_t)st->st_mtim.tv_sec == (dumped_ns + 500000000ULL) / 1000000000ULL;
}

#define MAX_KEPT 1024
static int kept[MAX_KEPT];
static int nr_kept;

int kept_fd_add(int fd)
{
	if (nr_kept == MAX_KEPT)
		return -ENOSPC;
	kept[nr_kept] = fd;
	return nr_kept++;
}

int kept_fd_get(int slot)
{
	return slot >= 0 && slot < nr_kept ? kept[slot] : -1;
}

bool kept_fd_is(int fd)
{
	for (int i = 0; i < nr_kept; i++)
		if (kept[i] == fd)
			return true;
	return false;
}

int kept_fds_move_above(int top)
{
	for (int i = 0; i < nr_kept; i++) {
		int moved;
		if (kept[i] < 0 || kept[i] >= top)
			continue;
		if ((moved = fcntl(kept[i], F_DUPFD_CLOEXEC, top)) < 0)
			return pr_perror("can't move fd %d above %d", kept[i], top);
		close(kept[i]);
		kept[i] = moved;
	}
	return 0;
}

void kept_fds_close(void)
{
	for (int i = 0; i < nr_kept; i++)
		if (kept[i] >= 0)
			close(kept[i]);
	nr_kept = 0;
}

static int host_root_slot = -1;

void host_root_set(int fd)
{
	host_root_slot = kept_fd_add(fd);
	if (host_root_slot < 0)
		close(fd);
}

int host_root_keep(void)
{
	int fd;

	if (kept_fd_get(host_root_slot) >= 0)
		return 0;
	if ((fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		return pr_perror("can't open our root");
	host_root_set(fd);
	return host_root_slot < 0 ? (pr_err("too many fds kept for the restore"), -ENOSPC) : 0;
}

int host_open(const char *path, int flags)
{
	struct open_how how = { .flags = flags | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT };
	int root = kept_fd_get(host_root_slot);

	if (root < 0)
		return open(path, flags | O_CLOEXEC);
	return syscall(SYS_openat2, root, path, &how, sizeof(how));
}

int host_stat(const char *path, struct stat *st)
{
	int fd, ret;

	if (kept_fd_get(host_root_slot) < 0)
		return stat(path, st);
	if ((fd = host_open(path, O_PATH)) < 0)
		return -1;
	ret = fstat(fd, st);
	close(fd);
	return ret;
}

int dir_socket_addr(const char *dir, const char *prefix, struct sockaddr_un *sa, unsigned *len)
{
	struct stat st;
	int n;

	if (host_stat(dir, &st))
		return pr_perror("can't stat the images directory %s", dir);
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	n = snprintf(sa->sun_path + 1, sizeof(sa->sun_path) - 1, "%s-%lx-%lx", prefix, (unsigned long)st.st_dev,
		     (unsigned long)st.st_ino);
	*len = offsetof(struct sockaddr_un, sun_path) + 1 + n;
	return 0;
}

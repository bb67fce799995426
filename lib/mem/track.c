/* Dirty-page tracking between pre-dump rounds, on kernels without soft-dirty:
 * a userfaultfd in write-protect async mode, created in the target's mm (by a
 * remote syscall) and held by us, write-protects its private anonymous areas;
 * the kernel resolves the write faults itself and clears the protection of each
 * page written, which PAGEMAP_SCAN reports as PAGE_IS_WRITTEN (and protects
 * again, in the same call, with PM_SCAN_WP_MATCHING).
 *
 * Between crtool runs a keeper process holds the userfaultfds: it listens on an
 * abstract unix socket named after the images directory, hands the fds to the
 * next round and exits; it also exits once every tracked process is gone.  When
 * the last fd closes, the kernel drops the registration: the running (or
 * restored) process never sees it. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include "files/files.h"
#include "infect/infect.h"
#include "log.h"
#include "mem/track.h"
#include "uapi-compat.h"
#include "util.h"

#define TRACK_MAX 4096   /* processes one keeper holds */

/* The keeper's socket: "\0libcr-track-DEV-INO" of the images directory. */
static int track_addr(const char *dir, struct sockaddr_un *sa, socklen_t *len)
{
	return dir_socket_addr(dir, "libcr-track", sa, len);
}

int track_set_add(struct track_set *ts, pid_t vpid, pid_t pid, int uffd)
{
	struct track_entry *n = realloc(ts->e, (ts->nr + 1) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	ts->e = n;
	ts->e[ts->nr++] = (struct track_entry){ .vpid = vpid, .pid = pid, .uffd = uffd };
	return 0;
}

int track_fd(const struct track_set *ts, pid_t vpid)
{
	for (size_t i = 0; ts && i < ts->nr; i++)
		if (ts->e[i].vpid == vpid)
			return ts->e[i].uffd;
	return -1;
}

void track_set_free(struct track_set *ts)
{
	for (size_t i = 0; i < ts->nr; i++)
		if (ts->e[i].uffd >= 0)
			close(ts->e[i].uffd);
	free(ts->e);
	memset(ts, 0, sizeof(*ts));
}

int track_create(struct infect_ctx *ctx)
{
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED };
	long remote;
	int fd, ret;

	/* made in the target, so that it belongs to the target's mm */
	if ((ret = infect_syscall(ctx, __NR_userfaultfd, &remote, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY, 0, 0,
				  0, 0, 0)))
		return ret;
	if (remote < 0)
		return errno = -remote, pr_perror("pid %d: userfaultfd() for dirty tracking", ctx->pid);
	fd = files_getfd(ctx->pid, remote);
	infect_syscall(ctx, __NR_close, &remote, remote, 0, 0, 0, 0, 0);
	if (fd < 0)
		return fd;
	if (ioctl(fd, UFFDIO_API, &api)) {
		ret = pr_perror("pid %d: UFFDIO_API(WP_ASYNC|WP_UNPOPULATED)", ctx->pid);
		close(fd);
		return ret;
	}
	return fd;
}

bool track_eligible(const VmaEntry *v)
{
	return v->kind == VMA_KIND__VMA_ANON_PRIVATE && (v->prot & PROT_WRITE);
}

int track_arm(int uffd, const VmaEntry *v)
{
	struct uffdio_register reg = { .range = { v->start, v->end - v->start }, .mode = UFFDIO_REGISTER_MODE_WP };
	struct uffdio_writeprotect wp = { .range = { v->start, v->end - v->start },
					  .mode = UFFDIO_WRITEPROTECT_MODE_WP };

	if (ioctl(uffd, UFFDIO_REGISTER, &reg)) {
		/* areas userfaultfd can't take (VM_DONTEXPAND ...) are stored whole every round */
		pr_debug("track: can't register 0x%lx-0x%lx: %s", (unsigned long)v->start, (unsigned long)v->end,
			 strerror(errno));
		return 0;
	}
	if (ioctl(uffd, UFFDIO_WRITEPROTECT, &wp)) {
		/* the tree runs while its areas are armed: this one was unmapped or split
		 * meanwhile (a thread's stack, say).  What is left of it is registered but
		 * unprotected, which the next round's scan reports as written: stored again. */
		if (errno == ENOENT || errno == EINVAL) {
			pr_debug("track: 0x%lx-0x%lx changed while it was armed: %s", (unsigned long)v->start,
				 (unsigned long)v->end, strerror(errno));
			return 0;
		}
		return pr_perror("can't write-protect 0x%lx-0x%lx for dirty tracking", (unsigned long)v->start,
				 (unsigned long)v->end);
	}
	return 0;
}

/* ---- the keeper */

static int send_one(int sk, const struct track_entry *e)
{
	return send_fds(sk, &e->vpid, sizeof(e->vpid), &e->uffd, 1, NULL, 0, MSG_NOSIGNAL) == sizeof(e->vpid) ? 0 : -1;
}

static void __attribute__((noreturn)) keeper_main(int lsk, const struct track_set *ts)
{
	struct pollfd *p = calloc(ts->nr + 1, sizeof(*p));
	size_t alive;

	if (!p)
		_exit(1);
	p[0] = (struct pollfd){ .fd = lsk, .events = POLLIN };
	for (size_t i = 0; i < ts->nr; i++)
		p[i + 1] = (struct pollfd){ .fd = (int)syscall(SYS_pidfd_open, ts->e[i].pid, 0), .events = POLLIN };
	for (;;) {
		if (poll(p, ts->nr + 1, -1) < 0)
			continue;
		alive = 0;
		for (size_t i = 0; i < ts->nr; i++) {
			if (p[i + 1].fd >= 0 && (p[i + 1].revents & POLLIN)) {
				close(p[i + 1].fd);
				p[i + 1].fd = -1;   /* exited: nothing to track */
			}
			alive += p[i + 1].fd >= 0;
		}
		if (!alive)
			_exit(0);
		if (!(p[0].revents & POLLIN))
			continue;
		int sk = accept4(lsk, NULL, NULL, SOCK_CLOEXEC);
		if (sk < 0)
			continue;
		/* only the processes still alive: a PID used again later is another process */
		poll(p + 1, ts->nr, 0);
		uint32_t n = 0;
		for (size_t i = 0; i < ts->nr; i++)
			n += p[i + 1].fd >= 0 && !(p[i + 1].revents & POLLIN);
		bool ok = send(sk, &n, sizeof(n), MSG_NOSIGNAL) == sizeof(n);
		for (size_t i = 0; i < ts->nr && ok; i++)
			if (p[i + 1].fd >= 0 && !(p[i + 1].revents & POLLIN))
				ok = !send_one(sk, &ts->e[i]);
		if (ok) {
			char c;
			/* the next round has them: wait for it to say so, then go */
			if (recv(sk, &c, 1, 0) == 1)
				_exit(0);
		}
		close(sk);
	}
}

int track_keep(const char *dir, struct track_set *ts)
{
	struct sockaddr_un sa;
	socklen_t len;
	int lsk, ret, status;
	pid_t pid;

	if (!ts->nr)
		return 0;
	if ((ret = track_addr(dir, &sa, &len)))
		return ret;
	lsk = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lsk < 0)
		return pr_perror("can't make the dirty tracker's socket");
	if (bind(lsk, (struct sockaddr *)&sa, len) || listen(lsk, 4)) {
		ret = errno == EADDRINUSE ? (pr_err("%s already has a dirty tracker: pre-dump into a new directory", dir),
					     -EADDRINUSE)
					  : pr_perror("can't listen for the next round of %s", dir);
		close(lsk);
		return ret;
	}
	/* double fork: the keeper is nobody's child we would have to reap */
	pid = fork();
	if (pid < 0) {
		close(lsk);
		return pr_perror("can't start the dirty tracker");
	}
	if (pid == 0) {
		sigset_t all;

		setsid();
		if (fork())
			_exit(0);
		sigfillset(&all);
		sigdelset(&all, SIGKILL);
		sigprocmask(SIG_SETMASK, &all, NULL);
		for (int fd = 0; fd < 3; fd++) {
			int null = open("/dev/null", O_RDWR);
			if (null >= 0 && null != fd) {
				dup2(null, fd);
				close(null);
			}
		}
		keeper_main(lsk, ts);
	}
	close(lsk);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return 0;
}

static int recv_one(int sk, pid_t *vpid, int *fd)
{
	if (recv_fd(sk, vpid, sizeof(*vpid), fd) != sizeof(*vpid) || *fd < 0) {
		if (*fd >= 0)
			close(*fd);
		return -1;
	}
	return 0;
}

int track_fetch(const char *prev_dir, struct track_set *ts)
{
	struct sockaddr_un sa;
	socklen_t len;
	uint32_t n = 0;
	int sk, ret;

	memset(ts, 0, sizeof(*ts));
	if ((ret = track_addr(prev_dir, &sa, &len)))
		return ret;
	sk = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sk < 0)
		return pr_perror("can't make a socket to the dirty tracker");
	if (connect(sk, (struct sockaddr *)&sa, len)) {
		pr_warn("no dirty tracker holds %s (%s): every page is stored again", prev_dir, strerror(errno));
		close(sk);
		return 0;
	}
	struct timeval tv = { .tv_sec = 10 };
	setsockopt(sk, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (recv(sk, &n, sizeof(n), MSG_WAITALL) != sizeof(n) || n > TRACK_MAX) {
		close(sk);
		return pr_err("the dirty tracker of %s did not answer", prev_dir), -EIO;
	}
	for (uint32_t i = 0; i < n; i++) {
		pid_t vpid;
		int fd;

		if (recv_one(sk, &vpid, &fd) || (ret = track_set_add(ts, vpid, 0, fd))) {
			track_set_free(ts);
			close(sk);
			return pr_err("the dirty tracker of %s sent a bad message", prev_dir), -EIO;
		}
	}
	send(sk, "", 1, MSG_NOSIGNAL);   /* we have them: the keeper may go */
	close(sk);
	return 0;
}

/* pidfd: pidfds of the processes a program started, as Go's os/exec and
 * systemd keep them.
 *
 *   C       a child that waits (dies with its parent), holding at fd 30 a pidfd
 *           of its parent
 *   Z       a child that exited with status 7, not reaped
 *   fd 20   pidfd of C, PIDFD_NONBLOCK
 *   fd 21   pidfd of the process itself, PIDFD_THREAD
 *   fd 22   pidfd of a child that exited and was reaped (names no process)
 *   fd 23   dup() of fd 20
 *   fd 24   pidfd of Z
 *   fd 25   an epoll watching fds 20 and 24 for EPOLLIN (asyncio's child watcher)
 * After CHECK: each names the process it did (fdinfo NSpid), with its flags; fd
 * 23 is fd 20's open file description (kcmp); fd 22 signals nothing (ESRCH);
 * C's fd 30 names its parent; waitid(P_PIDFD) through fd 24 reaps Z with
 * status 7, and SIGKILL through fd 20 ends C, reaped through fd 20 too; the
 * epoll reports fd 24 (Z is gone) but not fd 20 before, and fd 20 once C is.
 */
#include "tst.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif
#ifndef PIDFD_NONBLOCK
#define PIDFD_NONBLOCK O_NONBLOCK
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

static int pidfd_open(pid_t pid, unsigned flags)
{
	return syscall(SYS_pidfd_open, pid, flags);
}

/* "Pid:" of fd in process pid's fdinfo */
static long named_pid(pid_t pid, int fd)
{
	char path[64], buf[512];
	int f;
	ssize_t n;
	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, fd);
	if ((f = open(path, O_RDONLY)) < 0)
		return -100;   /* not there (yet) */
	n = read(f, buf, sizeof(buf) - 1);
	close(f);
	buf[n > 0 ? n : 0] = 0;
	/* the last PID of NSpid: the one in the process's own namespace, which is ours
	 * (Pid is in the namespace of the /proc we read, maybe not ours) */
	const char *p = strstr(buf, "\nNSpid:");
	long v = -100;
	char *end;
	if (!p)
		return v;
	for (p += 7;; p = end) {
		long x = strtol(p, &end, 10);
		if (end == p)
			break;
		v = x;
	}
	return v;
}

/* the fds the epoll at fd reports ready now, as bits */
static unsigned ready(int ep)
{
	struct epoll_event evs[8];
	unsigned bits = 0;
	int n = epoll_wait(ep, evs, 8, 0);

	for (int i = 0; i < n; i++)
		bits |= 1u << evs[i].data.u64;
	return bits;
}

static void at(int fd, int want)
{
	if (fd < 0 || (fd != want && (dup2(fd, want) != want || close(fd))))
		tst_fail("pidfd at fd %d: %s", want, strerror(errno));
}

int main(int argc, char **argv)
{
	tst_init(argc, argv);
	pid_t self = getpid(), c, z, gone;

	if ((c = fork()) == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != self)
			_exit(1);
		/* nothing of whoever started us (a shell's pipes): only the pidfd */
		syscall(SYS_close_range, 3, ~0U, 0);
		at(pidfd_open(self, 0), 30);
		for (;;)
			pause();
	}
	if ((z = fork()) == 0)
		_exit(7);
	if ((gone = fork()) == 0)
		_exit(0);
	if (c < 0 || z < 0 || gone < 0)
		tst_fail("fork: %s", strerror(errno));
	at(pidfd_open(gone, 0), 22);
	if (waitpid(gone, NULL, 0) != gone)
		tst_fail("waitpid: %s", strerror(errno));
	at(pidfd_open(c, PIDFD_NONBLOCK), 20);
	at(pidfd_open(self, PIDFD_THREAD), 21);
	at(dup(20), 23);
	at(pidfd_open(z, 0), 24);
	at(epoll_create1(0), 25);
	for (int fd = 20; fd <= 24; fd += 4) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = fd };
		if (epoll_ctl(25, EPOLL_CTL_ADD, fd, &ev))
			tst_fail("epoll_ctl: %s", strerror(errno));
	}
	/* Z has exited, C has its pidfd: only then is the tree what the dump must see */
	siginfo_t si = { 0 };
	if (waitid(P_PID, z, &si, WEXITED | WNOWAIT))
		tst_fail("waitid Z: %s", strerror(errno));
	for (int i = 0; i < 500 && named_pid(c, 30) != self; i++)
		tst_sleep_ms(2);
	if (named_pid(c, 30) != self)
		tst_fail("C has no pidfd of its parent at fd 30");
	int fl20 = fcntl(20, F_GETFL), fl21 = fcntl(21, F_GETFL);

	tst_ready();
	tst_wait_check();

	if (tst_corrupting())
		at(pidfd_open(self, 0), 22);
	if (named_pid(self, 20) != c || named_pid(self, 23) != c || named_pid(self, 21) != self ||
	    named_pid(self, 22) != -1 || named_pid(self, 24) != z)
		tst_fail("pidfds name %ld %ld %ld %ld %ld, want %d %d %d -1 %d", named_pid(self, 20), named_pid(self, 21),
			 named_pid(self, 22), named_pid(self, 23), named_pid(self, 24), c, self, c, z);
	if (fcntl(20, F_GETFL) != fl20 || !(fl20 & O_NONBLOCK) || fcntl(21, F_GETFL) != fl21 || !(fl21 & PIDFD_THREAD))
		tst_fail("pidfd flags %#o %#o, were %#o %#o", fcntl(20, F_GETFL), fcntl(21, F_GETFL), fl20, fl21);
	if (ready(25) != (1 << 24))
		tst_fail("the epoll reports %#x, want fd 24 (Z exited) alone", ready(25));
	if (syscall(SYS_kcmp, self, self, KCMP_FILE, 20, 23))
		tst_fail("fd 23 is not fd 20's open file description");
	if (syscall(SYS_pidfd_send_signal, 22, 0, NULL, 0) != -1 || errno != ESRCH)
		tst_fail("the pidfd of the process gone reaches one");
	if (named_pid(c, 30) != self)
		tst_fail("C's fd 30 names %ld, not its parent %d", named_pid(c, 30), self);
	memset(&si, 0, sizeof(si));
	if (waitid(P_PIDFD, 24, &si, WEXITED) || si.si_pid != z || si.si_code != CLD_EXITED || si.si_status != 7)
		tst_fail("waitid through fd 24: pid %d code %d status %d (%s), want Z %d exited 7", si.si_pid, si.si_code,
			 si.si_status, strerror(errno), z);
	if (syscall(SYS_pidfd_send_signal, 20, SIGKILL, NULL, 0))
		tst_fail("SIGKILL through fd 20: %s", strerror(errno));
	memset(&si, 0, sizeof(si));
	for (int i = 0; i < 500 && !si.si_pid; i++) {
		if (waitid(P_PIDFD, 20, &si, WEXITED | WNOHANG) && errno != EAGAIN)
			tst_fail("waitid through fd 20: %s", strerror(errno));
		if (!si.si_pid)
			tst_sleep_ms(2);
	}
	if (!(ready(25) & (1 << 20)))
		tst_fail("the epoll does not report fd 20 once C is gone");
	if (si.si_pid != c || si.si_code != CLD_KILLED)
		tst_fail("fd 20 reaped %d (code %d), want C %d killed", si.si_pid, si.si_code, c);
	tst_pass();
}

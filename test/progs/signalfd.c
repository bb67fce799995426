/* signalfd: the signals it takes.
 *
 * SIGUSR1, SIGUSR2 and SIGRTMIN+3 are blocked; fd 20 is a signalfd for
 * SIGUSR1 and SIGRTMIN+3 (O_NONBLOCK), fd 21 one for SIGUSR2 alone.  A
 * SIGRTMIN+3 with a value is queued before the dump.
 * After CHECK: the masks in fdinfo are as they were; fd 20 hands over the
 * queued SIGRTMIN+3 with its value, then a SIGUSR1 raised now; SIGUSR2 raised
 * now comes out of fd 21, not fd 20.
 */
#include "tst.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

static void mask_of(int fd, char *out, size_t len)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	tst_read_file(path, buf, sizeof(buf));
	char *m = strstr(buf, "sigmask:");
	if (!m)
		tst_fail("no sigmask in %s", path);
	snprintf(out, len, "%.*s", (int)strcspn(m, "\n"), m);
}

static int take(int fd, struct signalfd_siginfo *si)
{
	ssize_t n = read(fd, si, sizeof(*si));
	if (n != sizeof(*si))
		tst_fail("read signalfd %d: %zd: %s", fd, n, strerror(errno));
	return si->ssi_signo;
}

int main(int argc, char **argv)
{
	tst_init(argc, argv);
	int rt = SIGRTMIN + 3;
	sigset_t set, one;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, rt);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sigdelset(&set, SIGUSR2);
	sigemptyset(&one);
	sigaddset(&one, SIGUSR2);
	int a = signalfd(-1, &set, SFD_NONBLOCK), b = signalfd(-1, &one, 0);
	if (a < 0 || b < 0 || dup2(a, 20) != 20 || dup2(b, 21) != 21 || close(a) || close(b))
		tst_fail("signalfd: %s", strerror(errno));
	if (sigqueue(getpid(), rt, (union sigval){ .sival_int = 4242 }))
		tst_fail("sigqueue: %s", strerror(errno));
	char m20[64], m21[64], now[64];
	mask_of(20, m20, sizeof(m20));
	mask_of(21, m21, sizeof(m21));
	int fl = fcntl(20, F_GETFL);

	tst_ready();
	tst_wait_check();

	if (tst_corrupting())
		close(21);
	mask_of(20, now, sizeof(now));
	if (strcmp(now, m20))
		tst_fail("fd 20 %s, was %s", now, m20);
	mask_of(21, now, sizeof(now));
	if (strcmp(now, m21))
		tst_fail("fd 21 %s, was %s", now, m21);
	if (fcntl(20, F_GETFL) != fl)
		tst_fail("fd 20 flags %#o, were %#o", fcntl(20, F_GETFL), fl);
	struct signalfd_siginfo si;
	if (take(20, &si) != rt || si.ssi_int != 4242)
		tst_fail("fd 20 gave signal %u value %d, want %d with 4242", si.ssi_signo, si.ssi_int, rt);
	raise(SIGUSR1);
	raise(SIGUSR2);
	if (take(20, &si) != SIGUSR1)
		tst_fail("fd 20 gave signal %u, want SIGUSR1", si.ssi_signo);
	if (read(20, &si, sizeof(si)) != -1 || errno != EAGAIN)
		tst_fail("fd 20 takes SIGUSR2 too");
	if (take(21, &si) != SIGUSR2)
		tst_fail("fd 21 gave signal %u, want SIGUSR2", si.ssi_signo);
	tst_pass();
}

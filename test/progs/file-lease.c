/* file-lease: leases (fcntl F_SETLEASE) on regular files.
 *
 *   r   fd 20 (O_RDONLY): read lease
 *   w   fd 21 (O_RDWR): write lease, F_SETSIG SIGRTMIN+1
 *   s   fd 22 (O_RDONLY): read lease, fd 23 its dup; a forked child holds both
 *       (one open file description, one lease, taken by the parent)
 *   o   fd 24 (O_RDONLY): read lease taken by the parent, which closed the fd
 *       after forking two children: they share it, its owner holds it no more
 * After CHECK: F_GETLEASE gives the same on every fd (in the child too), the
 * "lock:" lines of fdinfo are as they were (and both children's fd 24 has its
 * lease), the parent owns the files
 * (F_GETOWN) and fd 21's signal is SIGRTMIN+1; then another process's
 * conflicting opens (O_NONBLOCK: EWOULDBLOCK) break each lease, and the
 * lease-break signal reaches the parent: SIGRTMIN+1 with si_fd 21 for w, SIGIO
 * for r and s.
 * --corrupt: the lease on r is given up after CHECK.
 */
#include "tst.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char path[4][128];

static void open_at(int i, int flags, int at)
{
	int f = open(path[i], flags | O_CREAT, 0600);
	if (f < 0 || dup2(f, at) != at || close(f))
		tst_fail("open %s as fd %d: %s", path[i], at, strerror(errno));
}

static void lease(int fd, int type)
{
	if (fcntl(fd, F_SETLEASE, type))
		tst_fail("F_SETLEASE %d on fd %d: %s", type, fd, strerror(errno));
}

/* The lock lines of fd's fdinfo without their running number. */
static void leases_of(int fd, char *out, size_t len)
{
	char p[64], buf[4096];
	snprintf(p, sizeof(p), "/proc/self/fdinfo/%d", fd);
	tst_read_file(p, buf, sizeof(buf));
	size_t n = 0;
	out[0] = 0;
	for (char *l = strstr(buf, "lock:"); l; l = strstr(l + 1, "lock:")) {
		char *colon = strchr(l + 5, ':');
		n += snprintf(out + n, n < len ? len - n : 0, "%.*s\n", (int)strcspn(colon + 1, "\n"), colon + 1);
	}
}

/* Another process opens file i with flags: the lease makes it fail with EWOULDBLOCK. */
static void conflict(int i, int flags)
{
	pid_t p = fork();
	if (p == 0) {
		int f = open(path[i], flags | O_NONBLOCK);
		_exit(f < 0 && errno == EWOULDBLOCK ? 0 : 1);
	}
	int st;
	if (p < 0 || waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st))
		tst_fail("an open of %s by another process did not meet the lease (status %#x)", path[i], st);
}

/* The lease-break signal sig arrives (si_fd: fd, unless -1). */
static void broken(int sig, int fd)
{
	sigset_t s;
	siginfo_t si;
	struct timespec ts = { 5, 0 };
	sigemptyset(&s);
	sigaddset(&s, sig);
	if (sigtimedwait(&s, &si, &ts) != sig)
		tst_fail("no lease-break signal %d for fd %d: %s", sig, fd, strerror(errno));
	if (fd >= 0 && si.si_fd != fd)
		tst_fail("lease-break signal %d names fd %d, want %d", sig, si.si_fd, fd);
}

/* A child that, told to, checks that its fds have read leases and says 'y' or 'n'. */
struct checker {
	pid_t pid;
	int go, res;
};

static struct checker checker(const int *fds, int n)
{
	int go[2], res[2];
	if (pipe(go) || pipe(res))
		tst_fail("pipe: %s", strerror(errno));
	pid_t kid = fork();
	if (kid < 0)
		tst_fail("fork: %s", strerror(errno));
	if (kid == 0) {
		char c;
		if (read(go[0], &c, 1) != 1)
			_exit(2);
		c = 'y';
		for (int i = 0; i < n; i++)
			if (fcntl(fds[i], F_GETLEASE) != F_RDLCK)
				c = 'n';
		_exit(write(res[1], &c, 1) == 1 ? 0 : 2);
	}
	close(go[0]);
	close(res[1]);
	return (struct checker){ kid, go[1], res[0] };
}

int main(int argc, char **argv)
{
	tst_init(argc, argv);
	const char *tags[4] = { "r", "w", "s", "o" };
	for (int i = 0; i < 4; i++) {
		snprintf(path[i], sizeof(path[i]), "%s", tst_tmp_path(tags[i]));
		open_at(i, O_WRONLY, 30);
		close(30);
	}
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGIO);
	sigaddset(&s, SIGRTMIN + 1);
	sigprocmask(SIG_BLOCK, &s, NULL);
	open_at(0, O_RDONLY, 20);
	open_at(1, O_RDWR, 21);
	open_at(2, O_RDONLY, 22);
	lease(20, F_RDLCK);
	if (fcntl(21, F_SETSIG, SIGRTMIN + 1))
		tst_fail("F_SETSIG: %s", strerror(errno));
	lease(21, F_WRLCK);
	lease(22, F_RDLCK);
	if (dup2(22, 23) != 23)
		tst_fail("dup2: %s", strerror(errno));
	open_at(3, O_RDONLY, 24);
	lease(24, F_RDLCK);
	struct checker kids[2] = { checker((const int[]){ 22, 23, 24 }, 3), checker((const int[]){ 24 }, 1) };
	close(24);
	static char before[3][1024], after[1024];
	for (int i = 0; i < 3; i++)
		leases_of(20 + i, before[i], sizeof(before[i]));

	tst_ready();
	tst_wait_check();

	if (tst_corrupting())
		lease(20, F_UNLCK);
	const int want[4] = { F_RDLCK, F_WRLCK, F_RDLCK, F_RDLCK };
	for (int fd = 20; fd < 24; fd++)
		if (fcntl(fd, F_GETLEASE) != want[fd - 20])
			tst_fail("fd %d: F_GETLEASE %d, want %d", fd, fcntl(fd, F_GETLEASE), want[fd - 20]);
	for (int i = 0; i < 3; i++) {
		leases_of(20 + i, after, sizeof(after));
		if (strcmp(before[i], after))
			tst_fail("fd %d: the lock lines are\n%s\nwere\n%s", 20 + i, after, before[i]);
	}
	for (int fd = 20; fd < 23; fd++)
		if (fcntl(fd, F_GETOWN) != getpid())
			tst_fail("fd %d: owner %d, want %d", fd, fcntl(fd, F_GETOWN), getpid());
	if (fcntl(21, F_GETSIG) != SIGRTMIN + 1)
		tst_fail("fd 21: F_GETSIG %d, want %d", fcntl(21, F_GETSIG), SIGRTMIN + 1);
	for (int i = 0; i < 2; i++) {
		char c = 'g';
		int st;
		if (write(kids[i].go, &c, 1) != 1 || read(kids[i].res, &c, 1) != 1 || c != 'y')
			tst_fail("child %d does not see the shared leases (%c)", i + 1, c);
		if (waitpid(kids[i].pid, &st, 0) != kids[i].pid || !WIFEXITED(st) || WEXITSTATUS(st))
			tst_fail("child %d: status %#x", i + 1, st);
	}

	conflict(1, O_RDONLY);
	broken(SIGRTMIN + 1, 21);
	lease(21, F_UNLCK);
	conflict(0, O_WRONLY);
	broken(SIGIO, -1);
	lease(20, F_UNLCK);
	conflict(2, O_RDWR);
	broken(SIGIO, -1);
	lease(22, F_UNLCK);
	tst_pass();
}

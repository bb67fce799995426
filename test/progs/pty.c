/* pty: a pseudo-terminal pair whose master is in the tree, as a terminal emulator
 * holds it.
 *
 *   root   holds the master and the slave; the slave is its controlling terminal
 *          (it leads its session); termios changed (no echo, no canonical mode,
 *          VMIN 1), window 33x101
 *   C      its child, in its own process group, the terminal's foreground group,
 *          reading the slave: each line it gets comes back as "got: LINE"
 *
 * After CHECK (in the root): the slave is /dev/pts/N with the same N, /dev/tty is
 * it, the settings, window size and foreground group are as they were, and a
 * line written to the master comes back from C through the slave.
 *
 * --corrupt: the window size changes after CHECK.
 */
#include "tst.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static void child(int s)
{
	char line[128];
	size_t len = 0;

	setpgid(0, 0);
	/* a read from the background would stop us (SIGTTIN): wait for the parent's tcsetpgrp */
	while (tcgetpgrp(s) != getpgrp())
		usleep(1000);
	for (;;) {
		char c;
		ssize_t n = read(s, &c, 1);
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			_exit(0);
		}
		if (c != '\n' && len < sizeof(line) - 1) {
			line[len++] = c;
			continue;
		}
		char out[160];
		int k = snprintf(out, sizeof(out), "got: %.*s\n", (int)len, line);
		if (write(s, out, k) != k)
			_exit(1);
		len = 0;
	}
}

int main(int argc, char **argv)
{
	struct termios t, got;
	struct winsize ws = { .ws_row = 33, .ws_col = 101 }, gws;
	char name[64], before[64];
	int m, s;

	tst_init(argc, argv);
	if (getsid(0) != getpid())
		tst_fail("the runner should start us as a session leader");
	if ((m = posix_openpt(O_RDWR | O_NOCTTY)) < 0 || grantpt(m) || unlockpt(m) || ptsname_r(m, name, sizeof(name)))
		tst_fail("posix_openpt: %s", strerror(errno));
	if ((s = open(name, O_RDWR)) < 0)
		tst_fail("open %s: %s", name, strerror(errno));
	if (ioctl(s, TIOCSCTTY, 0))
		tst_fail("TIOCSCTTY: %s", strerror(errno));
	tcgetattr(s, &t);
	t.c_lflag &= ~(ECHO | ICANON);
	t.c_oflag &= ~OPOST;   /* the answers come back byte for byte */
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	if (tcsetattr(s, TCSANOW, &t) || ioctl(s, TIOCSWINSZ, &ws))
		tst_fail("settings: %s", strerror(errno));
	snprintf(before, sizeof(before), "%s", name);

	pid_t c = fork();
	if (c < 0)
		tst_fail("fork: %s", strerror(errno));
	if (c == 0) {
		close(m);
		child(s);
	}
	setpgid(c, c);
	signal(SIGTTOU, SIG_IGN);
	if (tcsetpgrp(s, c))
		tst_fail("tcsetpgrp: %s", strerror(errno));
	/* a first round trip, so that C surely reads the slave */
	if (write(m, "one\n", 4) != 4)
		tst_fail("write: %s", strerror(errno));
	char buf[64];
	for (size_t have = 0; have < 9;) {
		ssize_t n = read(m, buf + have, sizeof(buf) - have);
		if (n <= 0)
			tst_fail("read of the first answer: %s", strerror(errno));
		have += n;
	}

	tst_ready();
	tst_wait_check();
	if (tst_corrupting()) {
		struct winsize other = { .ws_row = 1, .ws_col = 1 };
		ioctl(m, TIOCSWINSZ, &other);
	}

	if (ptsname_r(m, name, sizeof(name)) || strcmp(name, before))
		tst_fail("the slave is %s, was %s", name, before);
	/* the controlling terminal: field 7 of /proc/self/stat, against the slave's device */
	struct stat b;
	unsigned tty_nr = 0;
	FILE *f = fopen("/proc/self/stat", "r");
	char statbuf[1024] = "", *close_paren;
	if (f) {
		if (!fgets(statbuf, sizeof(statbuf), f))
			statbuf[0] = 0;
		fclose(f);
	}
	if (!(close_paren = strrchr(statbuf, ')')) || sscanf(close_paren + 2, "%*c %*d %*d %*d %u", &tty_nr) != 1 ||
	    fstat(s, &b) || tty_nr != (unsigned)((major(b.st_rdev) << 8) | (minor(b.st_rdev) & 0xff) |
						((minor(b.st_rdev) & ~0xffu) << 12)))
		tst_fail("the controlling terminal (tty_nr 0x%x) is not the pty any more", tty_nr);
	if (open("/dev/tty", O_RDWR) < 0)
		tst_fail("no controlling terminal: %s", strerror(errno));
	if (tcgetattr(s, &got) || (got.c_lflag & (ECHO | ICANON)) || got.c_cc[VMIN] != 1)
		tst_fail("the termios changed: lflag 0%o, VMIN %d", got.c_lflag, got.c_cc[VMIN]);
	if (ioctl(s, TIOCGWINSZ, &gws) || gws.ws_row != 33 || gws.ws_col != 101)
		tst_fail("the window is %ux%u, was 33x101", gws.ws_row, gws.ws_col);
	if (tcgetpgrp(s) != c)
		tst_fail("the foreground group is %d, was %d", tcgetpgrp(s), c);
	if (write(m, "two\n", 4) != 4)
		tst_fail("write: %s", strerror(errno));
	size_t have = 0;
	while (have < 9) {
		ssize_t n = read(m, buf + have, sizeof(buf) - 1 - have);
		if (n <= 0)
			tst_fail("no answer from C through the pty: %s", n ? strerror(errno) : "end of file");
		have += n;
	}
	buf[have] = 0;
	if (strcmp(buf, "got: two\n"))
		tst_fail("C answered \"%s\"", buf);
	kill(c, SIGKILL);
	waitpid(c, NULL, 0);
	tst_pass();
}

/* dev-special: the memory devices, and with --tty /dev/tty.
 *
 *   fd 20  /dev/null    O_WRONLY|O_APPEND
 *   fd 21  /dev/zero    O_RDONLY, FD_CLOEXEC
 *   fd 22  /dev/urandom O_RDONLY|O_NONBLOCK
 *   fd 23  /dev/full    O_RDWR
 *   fd 24  /dev/tty     O_RDWR (--tty only: the process needs a controlling
 *                       terminal, so the dump and restore need --shell-job)
 * After CHECK: each fd is the same device (rdev) with the same flags and fd
 * flags and behaves like it: /dev/null swallows, /dev/zero gives zeros,
 * /dev/urandom gives bytes, /dev/full refuses writes (ENOSPC); /dev/tty is a
 * terminal.
 */
#include "tst.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static const struct { const char *path; int flags, fdfl; } devs[] = {
	{ "/dev/null", O_WRONLY | O_APPEND, 0 }, { "/dev/zero", O_RDONLY, FD_CLOEXEC },
	{ "/dev/urandom", O_RDONLY | O_NONBLOCK, 0 }, { "/dev/full", O_RDWR, 0 }, { "/dev/tty", O_RDWR, 0 },
};

int main(int argc, char **argv)
{
	tst_init_opts(argc, argv, NULL, "tty");
	int n = tst_opt_flag("tty") ? 5 : 4, fl[5];
	dev_t rdev[5];
	for (int i = 0; i < n; i++) {
		int f = open(devs[i].path, devs[i].flags);
		if (f < 0 || dup2(f, 20 + i) != 20 + i || close(f))
			tst_fail("open %s: %s", devs[i].path, strerror(errno));
		fcntl(20 + i, F_SETFD, devs[i].fdfl);
		struct stat st;
		fstat(20 + i, &st);
		rdev[i] = st.st_rdev;
		fl[i] = fcntl(20 + i, F_GETFL);
	}

	tst_ready();
	tst_wait_check();

	if (tst_corrupting())
		fcntl(22, F_SETFL, 0);
	for (int i = 0; i < n; i++) {
		struct stat st;
		if (fstat(20 + i, &st) || !S_ISCHR(st.st_mode) || st.st_rdev != rdev[i])
			tst_fail("fd %d is not %s (%u:%u) any more", 20 + i, devs[i].path, major(rdev[i]), minor(rdev[i]));
		if (fcntl(20 + i, F_GETFL) != fl[i] || fcntl(20 + i, F_GETFD) != devs[i].fdfl)
			tst_fail("fd %d (%s): flags %#o/%#x, were %#o/%#x", 20 + i, devs[i].path, fcntl(20 + i, F_GETFL),
				 fcntl(20 + i, F_GETFD), fl[i], devs[i].fdfl);
	}
	char buf[64];
	memset(buf, 1, sizeof(buf));
	if (write(20, buf, sizeof(buf)) != sizeof(buf))
		tst_fail("/dev/null refused a write: %s", strerror(errno));
	if (read(21, buf, sizeof(buf)) != sizeof(buf) || buf[0] || memcmp(buf, buf + 1, sizeof(buf) - 1))
		tst_fail("/dev/zero did not give zeros");
	if (read(22, buf, sizeof(buf)) != sizeof(buf))
		tst_fail("/dev/urandom did not give bytes: %s", strerror(errno));
	if (write(23, buf, 1) != -1 || errno != ENOSPC)
		tst_fail("/dev/full took a write");
	if (n == 5 && !isatty(24))
		tst_fail("fd 24 (/dev/tty) is not a terminal");
	tst_pass();
}

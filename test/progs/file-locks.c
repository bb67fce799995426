/* file-locks: flock, POSIX and OFD locks held through open files.
 *
 *   l1  fd 20: flock LOCK_EX
 *   l2  fd 21: POSIX write lock on bytes 10-29, POSIX read lock from 50 to EOF
 *   l3  fd 22: OFD write lock on bytes 0-4; fd 23 (another open of l3): OFD
 *       read lock on bytes 100-199
 *   l4  fd 24: flock LOCK_SH, fd 25 its dup (one lock, one description)
 * After CHECK: the "lock:" lines of fdinfo are as they were (kind, type,
 * range); and probing from fresh open file descriptions (which conflict with
 * every lock above) finds each lock where it was and nothing elsewhere:
 * flock LOCK_EX|LOCK_NB fails on l1 and l4 (LOCK_SH still works on l4),
 * F_OFD_GETLK reports the POSIX and OFD locks with their ranges and types.
 */
#include "tst.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

static char path[4][128];

static void open_at(int i, int flags, int at)
{
	int f = open(path[i], flags | O_CREAT, 0600);
	if (f < 0 || dup2(f, at) != at || close(f))
		tst_fail("open %s as fd %d: %s", path[i], at, strerror(errno));
}

static void lk(int fd, int cmd, short type, off_t start, off_t len)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len };
	if (fcntl(fd, cmd, &fl))
		tst_fail("lock fd %d %lld+%lld: %s", fd, (long long)start, (long long)len, strerror(errno));
}

/* The lock lines of fd's fdinfo without their running number. */
static void locks_of(int fd, char *out, size_t len)
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

/* What a fresh open file description of file i finds in the way of a write
 * lock on start+len: the lock's type (F_UNLCK: nothing), start and length.
 * (Never closed: closing any fd of a file drops the process's POSIX locks.) */
static void probe(int i, off_t start, off_t len, short want_type, off_t want_start, off_t want_len)
{
	static int fds[4] = { -1, -1, -1, -1 };
	if (fds[i] < 0)
		fds[i] = open(path[i], O_RDWR);
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = start, .l_len = len };
	if (fds[i] < 0 || fcntl(fds[i], F_OFD_GETLK, &fl))
		tst_fail("F_OFD_GETLK on %s: %s", path[i], strerror(errno));
	if (fl.l_type != want_type || (want_type != F_UNLCK && (fl.l_start != want_start || fl.l_len != want_len)))
		tst_fail("%s, bytes %lld+%lld: found type %d at %lld+%lld, want type %d at %lld+%lld", path[i],
			 (long long)start, (long long)len, fl.l_type, (long long)fl.l_start, (long long)fl.l_len,
			 want_type, (long long)want_start, (long long)want_len);
}

static bool flock_free(int i, int op)
{
	int f = open(path[i], O_RDONLY);
	bool ok = f >= 0 && flock(f, op | LOCK_NB) == 0;
	close(f);
	return ok;
}

int main(int argc, char **argv)
{
	tst_init(argc, argv);
	for (int i = 0; i < 4; i++) {
		char tag[8];
		snprintf(tag, sizeof(tag), "l%d", i + 1);
		snprintf(path[i], sizeof(path[i]), "%s", tst_tmp_path(tag));
	}
	open_at(0, O_RDWR, 20);
	if (flock(20, LOCK_EX))
		tst_fail("flock: %s", strerror(errno));
	open_at(1, O_RDWR, 21);
	lk(21, F_SETLK, F_WRLCK, 10, 20);
	lk(21, F_SETLK, F_RDLCK, 50, 0);
	open_at(2, O_RDWR, 22);
	open_at(2, O_RDWR, 23);
	lk(22, F_OFD_SETLK, F_WRLCK, 0, 5);
	lk(23, F_OFD_SETLK, F_RDLCK, 100, 100);
	open_at(3, O_RDONLY, 24);
	if (flock(24, LOCK_SH) || dup2(24, 25) != 25)
		tst_fail("flock/dup2: %s", strerror(errno));
	static char before[6][1024], now[1024];
	for (int i = 0; i < 6; i++)
		locks_of(20 + i, before[i], sizeof(before[i]));

	tst_ready();
	tst_wait_check();

	if (tst_corrupting())
		lk(21, F_SETLK, F_UNLCK, 10, 5);
	for (int i = 0; i < 6; i++) {
		locks_of(20 + i, now, sizeof(now));
		if (strcmp(now, before[i]))
			tst_fail("fd %d holds\n%swant\n%s", 20 + i, now, before[i]);
	}
	if (flock_free(0, LOCK_SH))
		tst_fail("%s is not flock()ed exclusively any more", path[0]);
	if (flock_free(3, LOCK_EX) || !flock_free(3, LOCK_SH))
		tst_fail("%s is not flock()ed shared", path[3]);
	probe(1, 0, 10, F_UNLCK, 0, 0);
	probe(1, 10, 20, F_WRLCK, 10, 20);
	probe(1, 30, 20, F_UNLCK, 0, 0);
	probe(1, 50, 1, F_RDLCK, 50, 0);
	probe(1, 1 << 20, 1, F_RDLCK, 50, 0);
	probe(2, 0, 5, F_WRLCK, 0, 5);
	probe(2, 5, 95, F_UNLCK, 0, 0);
	probe(2, 150, 1, F_RDLCK, 100, 100);
	probe(2, 200, 100, F_UNLCK, 0, 0);
	tst_pass();
}

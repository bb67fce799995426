/* timerfd: clocks, armed values, intervals and unread expirations, with the
 * time the process was away counted as time that passed.
 *
 *   fd 20  CLOCK_MONOTONIC, one-shot in 3 s
 *   fd 21  CLOCK_REALTIME, TFD_TIMER_ABSTIME at now + 10 s, then every 1 s,
 *          O_NONBLOCK
 *   fd 22  CLOCK_BOOTTIME, every 50 ms from now on, never read before the
 *          check, O_NONBLOCK, FD_CLOEXEC
 *   fd 23  CLOCK_MONOTONIC, one-shot that went off before the dump: disarmed
 *          with 1 unread expiration
 * After CHECK (within TOL of the clocks): each timer expires when it would
 * have without the dump, i.e. fd 20 at arming + 3 s and fd 21 at its
 * absolute time; fd 22 has counted every 50 ms since it was armed (one tick
 * of slack) and its next expiry keeps the phase; fd 23 reads 1 and is
 * disarmed; clock ids, settime flags, flags and fd flags are as they were.
 */
#include "tst.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define MS 1000000LL
#define TOL (20 * MS)   /* a loaded machine or an emulated CPU (the arm64 VM) */

static int64_t ns_of(struct timespec ts)
{
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static struct timespec ts_of(int64_t ns)
{
	return (struct timespec){ .tv_sec = ns / 1000000000LL, .tv_nsec = ns % 1000000000LL };
}

static void make(int at, clockid_t clk, int flags, int setflags, int64_t value, int64_t interval)
{
	struct itimerspec its = { .it_interval = ts_of(interval), .it_value = ts_of(value) };
	int fd = timerfd_create(clk, flags);
	if (fd < 0 || timerfd_settime(fd, setflags, &its, NULL) || dup2(fd, at) != at || close(fd))
		tst_fail("timerfd as fd %d: %s", at, strerror(errno));
}

static void fdinfo_line(int fd, const char *key, char *out, size_t len)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	tst_read_file(path, buf, sizeof(buf));
	char *l = strstr(buf, key);
	snprintf(out, len, "%.*s", l ? (int)strcspn(l, "\n") : 0, l ? l : "");
}

static int64_t left(int fd, int64_t *interval)
{
	struct itimerspec its;
	if (timerfd_gettime(fd, &its))
		tst_fail("timerfd_gettime %d: %s", fd, strerror(errno));
	if (interval)
		*interval = ns_of(its.it_interval);
	return ns_of(its.it_value);
}

static void near(const char *what, int64_t got, int64_t want)
{
	if (got < want - TOL || got > want + TOL)
		tst_fail("%s: off by %.3f ms (%lld, want %lld)", what, (got - want) / 1e6, (long long)got, (long long)want);
}

int main(int argc, char **argv)
{
	tst_init(argc, argv);
	int64_t arm1 = tst_now_ns(CLOCK_MONOTONIC);
	make(20, CLOCK_MONOTONIC, 0, 0, 3000 * MS, 0);
	int64_t abs2 = tst_now_ns(CLOCK_REALTIME) + 10000 * MS;
	make(21, CLOCK_REALTIME, TFD_NONBLOCK, TFD_TIMER_ABSTIME, abs2, 1000 * MS);
	int64_t arm3 = tst_now_ns(CLOCK_BOOTTIME);
	make(22, CLOCK_BOOTTIME, TFD_NONBLOCK | TFD_CLOEXEC, 0, 50 * MS, 50 * MS);
	make(23, CLOCK_MONOTONIC, 0, 0, 1 * MS, 0);
	/* fd 22 goes off before the dump, however fast the dump is: an expired periodic
	 * timerfd nobody has read is the case where fdinfo says 0 left */
	tst_sleep_ms(70);
	char info[4][3][64];
	int fl[4], fdfl[4];
	for (int i = 0; i < 4; i++) {
		fdinfo_line(20 + i, "clockid:", info[i][0], 64);
		fdinfo_line(20 + i, "settime flags:", info[i][1], 64);
		fdinfo_line(20 + i, "it_interval:", info[i][2], 64);
		fl[i] = fcntl(20 + i, F_GETFL);
		fdfl[i] = fcntl(20 + i, F_GETFD);
	}

	tst_ready();
	tst_wait_check();

	if (tst_corrupting())
		arm1 += 60 * MS;
	int64_t m = tst_now_ns(CLOCK_MONOTONIC), r = tst_now_ns(CLOCK_REALTIME), b = tst_now_ns(CLOCK_BOOTTIME);
	int64_t l1 = left(20, NULL), iv2, l2 = left(21, &iv2), iv3, l3 = left(22, &iv3), l4 = left(23, NULL);
	uint64_t n3 = 0, n4 = 0;
	if (read(22, &n3, 8) != 8 || read(23, &n4, 8) != 8)
		tst_fail("reading fds 22/23: %s", strerror(errno));
	for (int i = 0; i < 4; i++) {
		char now[64];
		for (int k = 0; k < 3; k++) {
			fdinfo_line(20 + i, k == 0 ? "clockid:" : k == 1 ? "settime flags:" : "it_interval:", now, 64);
			if (strcmp(now, info[i][k]))
				tst_fail("fd %d: '%s', was '%s'", 20 + i, now, info[i][k]);
		}
		if (fcntl(20 + i, F_GETFL) != fl[i] || fcntl(20 + i, F_GETFD) != fdfl[i])
			tst_fail("fd %d: flags %#o/%#x, were %#o/%#x", 20 + i, fcntl(20 + i, F_GETFL), fcntl(20 + i, F_GETFD),
				 fl[i], fdfl[i]);
	}
	near("fd 20 expires", m + l1, arm1 + 3000 * MS);
	near("fd 21 expires", r + l2, abs2);
	if (iv2 != 1000 * MS || iv3 != 50 * MS)
		tst_fail("intervals %lld/%lld ns, want 1 s / 50 ms", (long long)iv2, (long long)iv3);
	/* fd 22: every 50 ms since arm3; the next one keeps the phase */
	int64_t due = (b - arm3) / (50 * MS);
	if ((int64_t)n3 < due - 1 || (int64_t)n3 > due + 1)
		tst_fail("fd 22 counted %llu expirations, %lld were due", (unsigned long long)n3, (long long)due);
	int64_t phase = (b + l3 - arm3) % (50 * MS);
	if (phase > TOL && phase < 50 * MS - TOL)
		tst_fail("fd 22's next expiry is %.3f ms out of its 50 ms phase", phase / 1e6);
	if (n4 != 1 || l4 != 0)
		tst_fail("fd 23: %llu expirations and %lld ns left, want 1 and disarmed", (unsigned long long)n4,
			 (long long)l4);
	tst_pass();
}

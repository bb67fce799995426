/* epoll: registered fds with their events and data, an epoll inside an epoll.
 *
 *   fd 20  epoll E1 watching
 *            fd 21 eventfd    EPOLLIN|EPOLLET, data 0x1122334455667788
 *            fd 22 pipe read  EPOLLIN|EPOLLRDHUP, data 22
 *            fd 23 pipe write EPOLLOUT|EPOLLONESHOT, data 23
 *            fd 24 epoll E2   EPOLLIN, data 24
 *   fd 24  epoll E2 watching fd 21 (EPOLLIN, data 99) and fd 26 (timerfd,
 *          EPOLLIN, data 26)
 *   fd 25  epoll E3 watching fd 23 EPOLLOUT|EPOLLONESHOT, data 7: waited on
 *          once before the dump, so the one shot is spent
 * The eventfd holds 1 and the pipe 3 bytes, the timerfd is disarmed.
 * After CHECK: the (fd, events, data) triples in fdinfo are as they were;
 * epoll_wait on E1 reports exactly 21, 22, 23 and 24 with their data, then
 * (one shot spent) not 23 again; E2 reports 21 only; E3 reports nothing; an
 * expiring timerfd shows up in E2.
 */
#include "tst.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

static void move_to(int fd, int at)
{
	if (fd < 0 || dup2(fd, at) != at || close(fd))
		tst_fail("as fd %d: %s", at, strerror(errno));
}

static void add(int ep, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev = { .events = events, .data.u64 = data };
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev))
		tst_fail("epoll_ctl(%d, ADD, %d): %s", ep, fd, strerror(errno));
}

/* "tfd events data" of each registration, sorted: what restore must keep. */
static void regs(int ep, char *out, size_t len)
{
	char path[64], buf[4096], lines[16][64];
	int n = 0;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", ep);
	tst_read_file(path, buf, sizeof(buf));
	for (char *l = strstr(buf, "tfd:"); l && n < 16; l = strstr(l + 1, "tfd:")) {
		int tfd;
		unsigned ev;
		unsigned long long data;
		if (sscanf(l, "tfd: %d events: %x data: %llx", &tfd, &ev, &data) != 3)
			tst_fail("can't parse '%.60s'", l);
		snprintf(lines[n++], 64, "%3d %08x %016llx", tfd, ev, data);
	}
	qsort(lines, n, 64, (int (*)(const void *, const void *))strcmp);
	size_t o = 0;
	out[0] = 0;
	for (int i = 0; i < n; i++)
		o += snprintf(out + o, o < len ? len - o : 0, "%s\n", lines[i]);
}

/* Data of the ready events, sorted, as text. */
static void ready(int ep, char *out, size_t len)
{
	struct epoll_event evs[16];
	int n = epoll_wait(ep, evs, 16, 0);
	if (n < 0)
		tst_fail("epoll_wait(%d): %s", ep, strerror(errno));
	uint64_t d[16];
	for (int i = 0; i < n; i++)
		d[i] = evs[i].data.u64;
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			if (d[j] < d[i]) {
				uint64_t t = d[i];
				d[i] = d[j];
				d[j] = t;
			}
	size_t o = 0;
	out[0] = 0;
	for (int i = 0; i < n; i++)
		o += snprintf(out + o, o < len ? len - o : 0, "%llx ", (unsigned long long)d[i]);
}

int main(int argc, char **argv)
{
	tst_init(argc, argv);
	int p[2];
	move_to(epoll_create1(0), 20);
	move_to(eventfd(1, EFD_NONBLOCK), 21);
	if (pipe(p))
		tst_fail("pipe: %s", strerror(errno));
	move_to(p[0], 22);
	move_to(p[1], 23);
	if (write(23, "abc", 3) != 3)
		tst_fail("write: %s", strerror(errno));
	move_to(epoll_create1(0), 24);
	fcntl(24, F_SETFD, FD_CLOEXEC);
	move_to(epoll_create1(0), 25);
	move_to(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK), 26);
	add(20, 21, EPOLLIN | EPOLLET, 0x1122334455667788ULL);
	add(20, 22, EPOLLIN | EPOLLRDHUP, 22);
	add(20, 23, EPOLLOUT | EPOLLONESHOT, 23);
	add(20, 24, EPOLLIN, 24);
	add(24, 21, EPOLLIN, 99);
	add(24, 26, EPOLLIN, 26);
	add(25, 23, EPOLLOUT | EPOLLONESHOT, 7);
	char got[256], r[3][1024], now[1024];
	ready(25, got, sizeof(got));
	if (strcmp(got, "7 "))
		tst_fail("E3 reported '%s' before the dump, want '7 '", got);
	for (int i = 0; i < 3; i++)
		regs(20 + 4 * (i > 0) + (i > 1), r[i], sizeof(r[i]));

	tst_ready();
	tst_wait_check();

	if (tst_corrupting())
		epoll_ctl(24, EPOLL_CTL_DEL, 21, NULL);
	for (int i = 0; i < 3; i++) {
		regs(20 + 4 * (i > 0) + (i > 1), now, sizeof(now));
		if (strcmp(now, r[i]))
			tst_fail("epoll fd %d watches\n%swatched\n%s", 20 + 4 * (i > 0) + (i > 1), now, r[i]);
	}
	if (fcntl(24, F_GETFD) != FD_CLOEXEC)
		tst_fail("epoll fd 24 lost FD_CLOEXEC");
	ready(20, got, sizeof(got));
	if (strcmp(got, "16 17 18 1122334455667788 "))
		tst_fail("E1 reported '%s', want '16 17 18 1122334455667788 '", got);
	ready(25, got, sizeof(got));
	if (strcmp(got, ""))
		tst_fail("E3 reported '%s' though its one shot was spent", got);
	ready(24, got, sizeof(got));
	if (strcmp(got, "63 "))
		tst_fail("E2 reported '%s', want '63 '", got);
	struct itimerspec its = { .it_value = { 0, 1000000 } };
	timerfd_settime(26, 0, &its, NULL);
	tst_sleep_ms(20);
	ready(24, got, sizeof(got));
	if (strcmp(got, "1a 63 "))
		tst_fail("E2 reported '%s' after the timer went off, want '1a 63 '", got);
	ready(20, got, sizeof(got));
	if (strstr(got, "17 "))
		tst_fail("E1 reported fd 23 twice though it is one-shot: '%s'", got);
	tst_pass();
}

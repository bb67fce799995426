/* sk-unix-pair: unix socket pairs inside the process, with data queued.
 *
 *   fds 10/11  stream pair: 100 KB queued 10 -> 11 and 3000 bytes 11 -> 10;
 *              10 O_NONBLOCK, SO_RCVBUF/SO_SNDBUF set, SO_PASSCRED on 11;
 *              fd 20 a dup() of 10
 *   fds 12/13  datagram pair: 5 datagrams 12 -> 13 (sizes 1, 100, 0, 5000,
 *              7), 2 the other way; SO_RCVTIMEO on 13, SO_REUSEADDR and
 *              SO_KEEPALIVE on 12; SO_PRIORITY 5 on 14; on 13 a locked classic
 *              BPF filter that drops datagrams of exactly 13 bytes
 *   fds 14/15  seqpacket pair: 3 messages each way; 14 shut down for
 *              writing (SHUT_WR), 15 for reading (SHUT_RD)
 *   fd 16      stream socket whose peer wrote 2000 bytes and closed
 *   fd 17      stream pair end 17/18 with SHUT_RDWR on 18, nothing queued
 *   fd 19      datagram socket whose peer is closed
 * After CHECK: the pairs are pairs (what one end sends the other gets), every
 * queued byte is there in order with the same message boundaries, and then
 * nothing more; shutdowns, flags, options and dup sharing are as they were.
 */
#include "tst.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/kcmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#define STREAM_A (100 * 1024)
#define STREAM_B 3000

static void pair(int type, int a, int b)
{
	int sv[2];
	if (socketpair(AF_UNIX, type, 0, sv) || dup2(sv[0], a) != a || dup2(sv[1], b) != b || close(sv[0]) ||
	    close(sv[1]))
		tst_fail("socketpair as %d/%d: %s", a, b, strerror(errno));
}

static void send_all(int fd, const void *buf, size_t len)
{
	if (send(fd, buf, len, MSG_DONTWAIT) != (ssize_t)len)
		tst_fail("fd %d: send of %zu bytes: %s", fd, len, strerror(errno));
}

/* Read exactly len bytes of a stream (the data is there: never blocks). */
static void recv_exact(int fd, void *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = recv(fd, (char *)buf + got, len - got, MSG_DONTWAIT);
		if (n <= 0)
			tst_fail("fd %d: recv returned %zd after %zu of %zu bytes: %s", fd, n, got, len,
				 n ? strerror(errno) : "EOF");
		got += n;
	}
}

static void expect_empty(int fd)
{
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);
	if (n != -1 || errno != EAGAIN)
		tst_fail("fd %d holds more than it did (recv %zd: %s)", fd, n, n < 0 ? strerror(errno) : "data");
}

static void expect_msg(int fd, const char *want, size_t len)
{
	static char buf[16384];
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n != (ssize_t)len || memcmp(buf, want, len))
		tst_fail("fd %d: a message of %zd bytes, want %zu (%s)", fd, n, len, n < 0 ? strerror(errno) : "");
}

static int getint(int fd, int opt)
{
	int v = -1;
	socklen_t l = sizeof(v);
	if (getsockopt(fd, SOL_SOCKET, opt, &v, &l))
		tst_fail("getsockopt %d on %d: %s", opt, fd, strerror(errno));
	return v;
}

static void check_pair(int a, int b)
{
	char buf[8];
	send_all(a, "ping", 4);
	if (recv(b, buf, sizeof(buf), MSG_DONTWAIT) != 4 || memcmp(buf, "ping", 4))
		tst_fail("%d -> %d does not carry a new message", a, b);
}

int main(int argc, char **argv)
{
	tst_init(argc, argv);
	uint64_t seed = tst_seed();
	static char sa[STREAM_A], sb[STREAM_B], d[5][5000], buf[STREAM_A];
	static const size_t dlen[5] = { 1, 100, 0, 5000, 7 };
	signal(SIGPIPE, SIG_IGN);

	pair(SOCK_STREAM, 10, 11);
	int v = 256 * 1024;
	if (setsockopt(11, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v)) || setsockopt(10, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v)))
		tst_fail("SO_RCVBUF/SO_SNDBUF: %s", strerror(errno));
	v = 1;
	if (setsockopt(11, SOL_SOCKET, SO_PASSCRED, &v, sizeof(v)))
		tst_fail("SO_PASSCRED: %s", strerror(errno));
	fcntl(10, F_SETFL, O_NONBLOCK);
	tst_fill(sa, sizeof(sa), seed);
	tst_fill(sb, sizeof(sb), seed + 1);
	for (size_t off = 0; off < sizeof(sa); off += 10000)   /* many writes: many skbs */
		send_all(10, sa + off, sizeof(sa) - off < 10000 ? sizeof(sa) - off : 10000);
	send_all(11, sb, sizeof(sb));
	if (dup2(10, 20) != 20)
		tst_fail("dup2: %s", strerror(errno));

	pair(SOCK_DGRAM, 12, 13);
	for (int i = 0; i < 5; i++) {
		tst_fill(d[i], dlen[i], seed + 10 + i);
		send_all(12, d[i], dlen[i]);
	}
	send_all(13, "back one", 8);
	send_all(13, "back two!", 9);
	struct timeval tv = { 3, 250000 };
	if (setsockopt(13, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)))
		tst_fail("SO_RCVTIMEO: %s", strerror(errno));

	pair(SOCK_SEQPACKET, 14, 15);
	send_all(14, "seq-a1", 6);
	send_all(14, "seq-a22", 7);
	send_all(14, "seq-a333", 8);
	send_all(15, "seq-b1", 6);
	send_all(15, "seq-b22", 7);
	send_all(15, "seq-b333", 8);
	if (shutdown(14, SHUT_WR) || shutdown(15, SHUT_RD))
		tst_fail("shutdown: %s", strerror(errno));

	pair(SOCK_STREAM, 16, 30);
	send_all(30, sa, 2000);
	close(30);
	pair(SOCK_STREAM, 17, 18);
	shutdown(18, SHUT_RDWR);
	pair(SOCK_DGRAM, 19, 31);
	close(31);

	v = 1;
	if (setsockopt(12, SOL_SOCKET, SO_REUSEADDR, &v, sizeof(v)) || setsockopt(12, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof(v)))
		tst_fail("SO_REUSEADDR, SO_KEEPALIVE: %s", strerror(errno));
	v = 5;
	if (setsockopt(14, SOL_SOCKET, SO_PRIORITY, &v, sizeof(v)))
		tst_fail("SO_PRIORITY: %s", strerror(errno));
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 13, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0),
		BPF_STMT(BPF_RET | BPF_K, 0xffff),
	};
	struct sock_fprog prog = { .len = 4, .filter = code };
	v = 1;
	if (setsockopt(13, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) ||
	    setsockopt(13, SOL_SOCKET, SO_LOCK_FILTER, &v, sizeof(v)))
		tst_fail("SO_ATTACH_FILTER: %s", strerror(errno));
	struct timeval tv0;   /* the kernel keeps it in jiffies: compare with what it reports */
	socklen_t tl = sizeof(tv0);
	getsockopt(13, SOL_SOCKET, SO_RCVTIMEO, &tv0, &tl);
	int fl[11], rcv11 = getint(11, SO_RCVBUF), snd10 = getint(10, SO_SNDBUF);
	for (int i = 0; i < 11; i++)
		fl[i] = fcntl(10 + i, F_GETFL);

	tst_ready();
	tst_wait_check();
	if (tst_corrupting())
		recv(13, buf, 1, MSG_DONTWAIT);

	for (int i = 0; i < 11; i++)
		if (fcntl(10 + i, F_GETFL) != fl[i])
			tst_fail("fd %d: flags %#o, were %#o", 10 + i, fcntl(10 + i, F_GETFL), fl[i]);
	if (getint(11, SO_RCVBUF) != rcv11 || getint(10, SO_SNDBUF) != snd10 || getint(11, SO_PASSCRED) != 1 ||
	    getint(10, SO_PASSCRED) != 0)
		tst_fail("options: rcvbuf %d (was %d), sndbuf %d (was %d), passcred %d/%d", getint(11, SO_RCVBUF), rcv11,
			 getint(10, SO_SNDBUF), snd10, getint(11, SO_PASSCRED), getint(10, SO_PASSCRED));
	if (getint(12, SO_REUSEADDR) != 1 || getint(12, SO_KEEPALIVE) != 1 || getint(13, SO_REUSEADDR) != 0 ||
	    getint(14, SO_PRIORITY) != 5 || getint(15, SO_PRIORITY) != 0)
		tst_fail("options: SO_REUSEADDR %d, SO_KEEPALIVE %d, SO_PRIORITY %d", getint(12, SO_REUSEADDR),
			 getint(12, SO_KEEPALIVE), getint(14, SO_PRIORITY));
	tl = sizeof(tv);
	if (getsockopt(13, SOL_SOCKET, SO_RCVTIMEO, &tv, &tl) || tv.tv_sec != tv0.tv_sec || tv.tv_usec != tv0.tv_usec)
		tst_fail("SO_RCVTIMEO is %ld.%06ld, was %ld.%06ld", (long)tv.tv_sec, (long)tv.tv_usec, (long)tv0.tv_sec,
			 (long)tv0.tv_usec);
	if (getint(10, SO_TYPE) != SOCK_STREAM || getint(12, SO_TYPE) != SOCK_DGRAM || getint(14, SO_TYPE) != SOCK_SEQPACKET)
		tst_fail("the socket types changed");
	if (syscall(SYS_kcmp, getpid(), getpid(), KCMP_FILE, 10, 20))
		tst_fail("fd 20 is no longer fd 10's open file description");

	/* the stream: every byte in order, then nothing */
	recv_exact(11, buf, STREAM_A);
	if (tst_cmp_fill(buf, STREAM_A, seed) >= 0)
		tst_fail("stream 10->11 differs at byte %ld", tst_cmp_fill(buf, STREAM_A, seed));
	expect_empty(11);
	recv_exact(20, buf, STREAM_B);
	if (memcmp(buf, sb, STREAM_B))
		tst_fail("stream 11->10 differs");
	expect_empty(10);
	check_pair(10, 11);
	check_pair(11, 20);

	/* datagrams: the same messages, the same boundaries */
	for (int i = 0; i < 5; i++)
		expect_msg(13, d[i], dlen[i]);
	expect_empty(13);
	expect_msg(12, "back one", 8);
	expect_msg(12, "back two!", 9);
	expect_empty(12);
	check_pair(12, 13);
	check_pair(13, 12);
	socklen_t insns = 0;
	if (getsockopt(13, SOL_SOCKET, SO_GET_FILTER, NULL, &insns) || insns != 4 || !getint(13, SO_LOCK_FILTER))
		tst_fail("fd 13: a filter of %u instructions (locked %d), want 4, locked", insns, getint(13, SO_LOCK_FILTER));
	send_all(12, "thirteen byte", 13);
	expect_empty(13);   /* its filter dropped it */

	/* seqpacket with its shutdowns */
	expect_msg(15, "seq-a1", 6);
	expect_msg(15, "seq-a22", 7);
	expect_msg(15, "seq-a333", 8);
	if (recv(15, buf, 10, MSG_DONTWAIT) != 0)
		tst_fail("fd 15 does not see the end after 14's SHUT_WR");
	expect_msg(14, "seq-b1", 6);
	expect_msg(14, "seq-b22", 7);
	expect_msg(14, "seq-b333", 8);
	if (send(14, "x", 1, MSG_DONTWAIT) != -1 || errno != EPIPE)
		tst_fail("fd 14 can send after SHUT_WR");
	check_pair(15, 14);   /* that way is still open */

	/* the peer that went away */
	recv_exact(16, buf, 2000);
	if (memcmp(buf, sa, 2000))
		tst_fail("fd 16's bytes differ");
	if (recv(16, buf, 1, MSG_DONTWAIT) != 0)
		tst_fail("fd 16 does not end after its peer closed");
	if (send(16, "x", 1, MSG_DONTWAIT) != -1 || errno != EPIPE)
		tst_fail("fd 16 can send to a closed peer");
	if (recv(17, buf, 1, MSG_DONTWAIT) != 0 || send(17, "x", 1, MSG_DONTWAIT) != -1 || errno != EPIPE)
		tst_fail("fd 17 does not see its peer's SHUT_RDWR");
	if (recv(18, buf, 1, MSG_DONTWAIT) != 0)
		tst_fail("fd 18 is not shut down");
	if (send(19, "x", 1, MSG_DONTWAIT) != -1)
		tst_fail("fd 19 can send to a closed peer");
	tst_pass();
}

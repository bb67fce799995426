/* sk-netlink: netlink sockets as daemons hold them.
 *
 *   fd 20  NETLINK_ROUTE, SOCK_RAW, bound by the kernel (port id = our PID),
 *          in groups RTNLGRP_IPV4_MROUTE (6), RTNLGRP_IPV6_MROUTE (19) and two
 *          past 32 (RTNLGRP_NEXTHOP 32, RTNLGRP_BRVLAN 33), NETLINK_EXT_ACK,
 *          NETLINK_GET_STRICT_CHK and NETLINK_NO_ENOBUFS set, SO_RCVBUF raised,
 *          O_NONBLOCK
 *   fd 21  NETLINK_GENERIC, SOCK_DGRAM, never bound
 *   fd 22  NETLINK_KOBJECT_UEVENT bound to a port id of our choosing
 *   fd 23  NETLINK_USERSOCK connected to fd 24's port id
 *   fd 24  NETLINK_USERSOCK bound to another chosen port id, with a locked
 *          classic BPF filter that drops messages shorter than 16 bytes
 * After CHECK each socket has its protocol, type, port id, groups, peer,
 * options, buffer size and filter as before, and works: fd 20 answers a
 * RTM_GETLINK dump that lists the loopback; a short and a long message from
 * fd 23 reach fd 24 only the long one (the filter), from fd 23's port id.
 * The groups are ones this host hardly ever sends to: a notification waiting
 * in the queue would make the dump refuse the socket (test/errors.sh checks
 * that refusal), and other tests add and remove links and addresses.
 */
#include "tst.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef SO_LOCK_FILTER
#define SO_LOCK_FILTER 44
#endif

struct nl_state {
	int protocol, type;
	struct sockaddr_nl self, peer;
	uint32_t groups[4];
	socklen_t groups_len;
	int opts[3], rcvbuf, fl, filter_len, filter_locked;
};

static const int bool_opts[3] = { NETLINK_EXT_ACK, NETLINK_GET_STRICT_CHK, NETLINK_NO_ENOBUFS };

static void state_of(int fd, struct nl_state *s)
{
	socklen_t l;
	memset(s, 0, sizeof(*s));
	l = sizeof(int);
	getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &s->protocol, &l);
	l = sizeof(int);
	getsockopt(fd, SOL_SOCKET, SO_TYPE, &s->type, &l);
	l = sizeof(s->self);
	getsockname(fd, (struct sockaddr *)&s->self, &l);
	l = sizeof(s->peer);
	getpeername(fd, (struct sockaddr *)&s->peer, &l);
	s->groups_len = sizeof(s->groups);
	getsockopt(fd, SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, s->groups, &s->groups_len);
	for (int i = 0; i < 3; i++) {
		l = sizeof(int);
		getsockopt(fd, SOL_NETLINK, bool_opts[i], &s->opts[i], &l);
	}
	l = sizeof(int);
	getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &s->rcvbuf, &l);
	s->fl = fcntl(fd, F_GETFL);
	l = 0;
	getsockopt(fd, SOL_SOCKET, SO_GET_FILTER, NULL, &l);
	s->filter_len = l;
	l = sizeof(int);
	getsockopt(fd, SOL_SOCKET, SO_LOCK_FILTER, &s->filter_locked, &l);
}

static void compare(int fd, const struct nl_state *a, const struct nl_state *b)
{
	if (a->protocol != b->protocol || a->type != b->type)
		tst_fail("fd %d: protocol %d type %d, was %d %d", fd, b->protocol, b->type, a->protocol, a->type);
	if (a->self.nl_pid != b->self.nl_pid)
		tst_fail("fd %d: port id %u, was %u", fd, b->self.nl_pid, a->self.nl_pid);
	if (a->peer.nl_pid != b->peer.nl_pid || a->peer.nl_groups != b->peer.nl_groups)
		tst_fail("fd %d: peer %u/%x, was %u/%x", fd, b->peer.nl_pid, b->peer.nl_groups, a->peer.nl_pid,
			 a->peer.nl_groups);
	if (memcmp(a->groups, b->groups, sizeof(a->groups)))
		tst_fail("fd %d: groups %x %x, were %x %x", fd, b->groups[0], b->groups[1], a->groups[0], a->groups[1]);
	if (memcmp(a->opts, b->opts, sizeof(a->opts)))
		tst_fail("fd %d: netlink options %d %d %d, were %d %d %d", fd, b->opts[0], b->opts[1], b->opts[2],
			 a->opts[0], a->opts[1], a->opts[2]);
	if (a->rcvbuf != b->rcvbuf || a->fl != b->fl)
		tst_fail("fd %d: SO_RCVBUF %d flags %#o, were %d %#o", fd, b->rcvbuf, b->fl, a->rcvbuf, a->fl);
	if (a->filter_len != b->filter_len || a->filter_locked != b->filter_locked)
		tst_fail("fd %d: a filter of %d instructions (locked %d), was %d (%d)", fd, b->filter_len,
			 b->filter_locked, a->filter_len, a->filter_locked);
}

static void join(int fd, int group)
{
	if (setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)))
		tst_fail("join group %d: %s", group, strerror(errno));
}

static void on(int fd, int level, int opt, int v)
{
	if (setsockopt(fd, level, opt, &v, sizeof(v)))
		tst_fail("setsockopt %d/%d: %s", level, opt, strerror(errno));
}

static void bind_port(int fd, uint32_t port)
{
	struct sockaddr_nl a = { .nl_family = AF_NETLINK, .nl_pid = port };
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)))
		tst_fail("bind port %u: %s", port, strerror(errno));
}

static void at(int fd, int want)
{
	if (fd < 0 || dup2(fd, want) != want || close(fd))
		tst_fail("socket at fd %d: %s", want, strerror(errno));
}

/* The dump of links must list the loopback (index 1). */
static void check_route(int fd)
{
	struct {
		struct nlmsghdr h;
		struct ifinfomsg i;
	} req = { .h = { .nlmsg_len = sizeof(req), .nlmsg_type = RTM_GETLINK, .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
			 .nlmsg_seq = 7 },
		  .i = { .ifi_family = AF_UNSPEC } };
	static char buf[65536];
	int lo = 0, done = 0;

	if (send(fd, &req, sizeof(req), 0) != sizeof(req))
		tst_fail("RTM_GETLINK: %s", strerror(errno));
	for (int tries = 0; !done && tries < 1000; tries++) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EAGAIN) {
			tst_sleep_ms(2);
			continue;
		}
		if (n <= 0)
			tst_fail("RTM_GETLINK answer: %s", strerror(errno));
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq != 7)
				continue;   /* a multicast notification */
			if (h->nlmsg_type == NLMSG_DONE)
				done = 1;
			else if (h->nlmsg_type == NLMSG_ERROR)
				tst_fail("RTM_GETLINK: error %d", ((struct nlmsgerr *)NLMSG_DATA(h))->error);
			else if (h->nlmsg_type == RTM_NEWLINK && ((struct ifinfomsg *)NLMSG_DATA(h))->ifi_index == 1)
				lo = 1;
		}
	}
	if (!done || !lo)
		tst_fail("RTM_GETLINK: done %d, loopback listed %d", done, lo);
}

int main(int argc, char **argv)
{
	tst_init(argc, argv);
	uint32_t port22 = 0x40000000u | (getpid() & 0xffff), port24 = port22 + 0x10000;
	struct sockaddr_nl any = { .nl_family = AF_NETLINK }, to24 = { .nl_family = AF_NETLINK, .nl_pid = port24 };
	/* pass only messages of 16 bytes or more: ld len; jge #16 -> accept; drop */
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0),
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 16, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0xffff),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog = { .len = 4, .filter = code };
	struct nl_state before[5], after[5];

	at(socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE), 20);
	if (bind(20, (struct sockaddr *)&any, sizeof(any)))
		tst_fail("bind: %s", strerror(errno));
	join(20, RTNLGRP_IPV4_MROUTE);
	join(20, RTNLGRP_IPV6_MROUTE);
	join(20, 32);
	join(20, 33);
	on(20, SOL_NETLINK, NETLINK_EXT_ACK, 1);
	on(20, SOL_NETLINK, NETLINK_GET_STRICT_CHK, 1);
	on(20, SOL_NETLINK, NETLINK_NO_ENOBUFS, 1);
	on(20, SOL_SOCKET, SO_RCVBUF, 300000);
	fcntl(20, F_SETFL, O_NONBLOCK);
	at(socket(AF_NETLINK, SOCK_DGRAM, NETLINK_GENERIC), 21);
	at(socket(AF_NETLINK, SOCK_RAW, NETLINK_KOBJECT_UEVENT), 22);
	bind_port(22, port22);
	at(socket(AF_NETLINK, SOCK_RAW, NETLINK_USERSOCK), 24);
	bind_port(24, port24);
	if (setsockopt(24, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)))
		tst_fail("SO_ATTACH_FILTER: %s", strerror(errno));
	on(24, SOL_SOCKET, SO_LOCK_FILTER, 1);
	at(socket(AF_NETLINK, SOCK_RAW, NETLINK_USERSOCK), 23);
	if (connect(23, (struct sockaddr *)&to24, sizeof(to24)))
		tst_fail("connect: %s", strerror(errno));
	for (int i = 0; i < 5; i++)
		state_of(20 + i, &before[i]);
	if (before[0].self.nl_pid != (uint32_t)getpid() || before[1].self.nl_pid || !before[3].self.nl_pid ||
	    before[4].filter_len != 4)
		tst_fail("set-up: port ids %u %u %u, filter %d", before[0].self.nl_pid, before[1].self.nl_pid,
			 before[3].self.nl_pid, before[4].filter_len);

	tst_ready();
	tst_wait_check();

	if (tst_corrupting())
		join(20, RTNLGRP_IPV6_IFADDR);
	for (int i = 0; i < 5; i++) {
		state_of(20 + i, &after[i]);
		compare(20 + i, &before[i], &after[i]);
	}
	check_route(20);
	char small[8] = "short", big[32] = "a message long enough to pass";
	struct sockaddr_nl from;
	socklen_t fl = sizeof(from);
	char buf[64];
	if (send(23, small, sizeof(small), 0) != sizeof(small) || send(23, big, sizeof(big), 0) != sizeof(big))
		tst_fail("fd 23 can't send to fd 24: %s", strerror(errno));
	ssize_t n = recvfrom(24, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
	if (n != sizeof(big) || memcmp(buf, big, sizeof(big)))
		tst_fail("fd 24 received %zd bytes (%s), want the long message only", n, n < 0 ? strerror(errno) : "?");
	if (from.nl_pid != after[3].self.nl_pid)
		tst_fail("the message came from port %u, fd 23 is %u", from.nl_pid, after[3].self.nl_pid);
	if (recv(24, buf, sizeof(buf), MSG_DONTWAIT) != -1 || errno != EAGAIN)
		tst_fail("fd 24 got more than the long message");
	tst_pass();
}

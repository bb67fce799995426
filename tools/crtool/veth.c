/* The veths of a container, as CRIU's command line leaves them: LXC names no veth
 * at the dump (CRIU finds the outside end itself) and, at the restore, gives
 * --veth-pair IN=OUT@BRIDGE, expecting OUT put into BRIDGE.  libcr wants the outside
 * end named at both (--external veth[IN]:OUT) and makes no bridge port, so this file
 * finds the names at the dump and attaches OUT after the restore.  Raw rtnetlink:
 * two requests, no library. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include "criu-compat.h"

#ifndef IFLA_LINK_NETNSID
#define IFLA_LINK_NETNSID 37
#endif

static int rtnl_open(void)
{
	return socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
}

/* One link of a RTM_GETLINK dump: "NAME PEER_IFINDEX" if it is a veth whose peer
 * is in another namespace. */
static void link_line(struct nlmsghdr *h, FILE *out)
{
	struct ifinfomsg *ifi = NLMSG_DATA(h);
	int len = h->nlmsg_len - NLMSG_LENGTH(sizeof(*ifi));
	const char *name = NULL;
	bool veth = false, other_ns = false;
	int peer = 0;

	for (struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == IFLA_IFNAME)
			name = RTA_DATA(a);
		else if (a->rta_type == IFLA_LINK)
			peer = *(int *)RTA_DATA(a);
		else if (a->rta_type == IFLA_LINK_NETNSID)
			other_ns = true;
		else if (a->rta_type == IFLA_LINKINFO) {
			int ilen = RTA_PAYLOAD(a);
			for (struct rtattr *b = RTA_DATA(a); RTA_OK(b, ilen); b = RTA_NEXT(b, ilen))
				if (b->rta_type == IFLA_INFO_KIND && !strcmp(RTA_DATA(b), "veth"))
					veth = true;
		}
	}
	if (name && veth && other_ns && peer > 0)
		fprintf(out, "%s %d\n", name, peer);
}

/* In a child entered into pid's network namespace: its veths with an outside peer. */
static void list_veths(pid_t pid, int fd)
{
	char path[64], buf[32768];
	struct { struct nlmsghdr h; struct ifinfomsg i; } req = {
		.h = { .nlmsg_len = sizeof(req), .nlmsg_type = RTM_GETLINK, .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP },
		.i = { .ifi_family = AF_UNSPEC },
	};
	FILE *out = fdopen(fd, "w");
	int ns, sk;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	if (!out || (ns = open(path, O_RDONLY)) < 0 || setns(ns, CLONE_NEWNET) || (sk = rtnl_open()) < 0 ||
	    send(sk, &req, sizeof(req), 0) < 0)
		_exit(1);
	for (;;) {
		ssize_t n = recv(sk, buf, sizeof(buf), 0);
		if (n <= 0)
			_exit(1);
		for (struct nlmsghdr *h = (void *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == NLMSG_DONE) {
				fclose(out);
				_exit(0);
			}
			if (h->nlmsg_type == NLMSG_ERROR)
				_exit(1);
			if (h->nlmsg_type == RTM_NEWLINK)
				link_line(h, out);
		}
	}
}

int veth_find_outside(pid_t pid, int (*add)(void *arg, const char *in, const char *out), void *arg)
{
	int p[2], status, ret = 0;
	char line[64], name[IF_NAMESIZE + 1], out[IF_NAMESIZE];
	pid_t child;
	FILE *f;

	/* a tree in our own namespace has no veth of its own */
	char path[64];
	struct stat a, b;
	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	if (stat(path, &a) || stat("/proc/self/ns/net", &b))
		return -1;
	if (a.st_ino == b.st_ino && a.st_dev == b.st_dev)
		return 0;
	if (pipe2(p, O_CLOEXEC))
		return -1;
	child = fork();
	if (child == 0) {
		close(p[0]);
		list_veths(pid, p[1]);
	}
	close(p[1]);
	f = fdopen(p[0], "r");
	while (f && fgets(line, sizeof(line), f)) {
		int ifindex;
		/* the outside end: in our namespace (the host's, where the runtime made it) */
		if (sscanf(line, "%15s %d", name, &ifindex) == 2 && if_indextoname(ifindex, out) && add(arg, name, out))
			ret = -1;
	}
	if (f)
		fclose(f);
	else
		close(p[0]);
	if (child < 0 || waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status))
		return -1;
	return ret;
}

/* RTM_NEWLINK on link: into master (a bridge), and up. */
int veth_attach(const char *link, const char *master)
{
	struct {
		struct nlmsghdr h;
		struct ifinfomsg i;
		char attrs[64];
	} req = {
		.h = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg)), .nlmsg_type = RTM_NEWLINK,
		       .nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK },
		.i = { .ifi_family = AF_UNSPEC, .ifi_flags = IFF_UP, .ifi_change = IFF_UP },
	};
	int idx = if_nametoindex(link), midx = if_nametoindex(master), sk, err = -1;
	struct rtattr *a = (void *)((char *)&req + NLMSG_ALIGN(req.h.nlmsg_len));
	char buf[1024];

	if (!idx || !midx)
		return -ENODEV;
	req.i.ifi_index = idx;
	a->rta_type = IFLA_MASTER;
	a->rta_len = RTA_LENGTH(sizeof(int));
	memcpy(RTA_DATA(a), &midx, sizeof(int));
	req.h.nlmsg_len = NLMSG_ALIGN(req.h.nlmsg_len) + RTA_ALIGN(a->rta_len);
	if ((sk = rtnl_open()) < 0)
		return -errno;
	if (send(sk, &req, req.h.nlmsg_len, 0) > 0) {
		ssize_t n = recv(sk, buf, sizeof(buf), 0);
		struct nlmsghdr *h = (void *)buf;
		if (n > 0 && NLMSG_OK(h, n) && h->nlmsg_type == NLMSG_ERROR)
			err = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
	}
	close(sk);
	return err;
}

/* sk-packet: AF_PACKET sockets as DHCP clients and capture tools hold them.
 *
 *   fd 20  SOCK_RAW, ETH_P_ALL, bound to lo, PACKET_AUXDATA on, an
 *          PACKET_MR_ALLMULTI membership on lo, and a classic BPF filter that
 *          passes only IPv4 UDP to port P (our own); O_NONBLOCK
 *   fd 21  SOCK_DGRAM, ETH_P_IP, not bound to an interface, in fanout group
 *          0x1234 (PACKET_FANOUT_HASH)
 *   fd 22  the same protocol, in the same fanout group
 * After CHECK: the types, protocols, interface, options, fanout and filter are
 * as they were; lo is in allmulti mode (the membership, held again); a UDP
 * datagram to port P reaches fd 20 as a frame with its payload at the end.
 */
#include "tst.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int opt(int fd, int level, int name)
{
	int v = -1;
	socklen_t l = sizeof(v);
	if (getsockopt(fd, level, name, &v, &l))
		tst_fail("getsockopt(%d, %d, %d): %s", fd, level, name, strerror(errno));
	return v;
}

static void at(int fd, int want)
{
	if (fd < 0 || dup2(fd, want) != want || close(fd))
		tst_fail("socket at fd %d: %s", want, strerror(errno));
}

static int lo_allmulti(void)
{
	char buf[32] = "";
	int f = open("/sys/class/net/lo/flags", O_RDONLY);
	if (f < 0 || read(f, buf, sizeof(buf) - 1) <= 0)
		tst_fail("/sys/class/net/lo/flags: %s", strerror(errno));
	close(f);
	return (strtol(buf, NULL, 0) & IFF_ALLMULTI) != 0;
}

int main(int argc, char **argv)
{
	tst_init(argc, argv);
	int lo = if_nametoindex("lo"), udp = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof(dst);

	/* our port: a UDP socket bound to it receives what we send (and drops it) */
	if (udp < 0 || bind(udp, (struct sockaddr *)&dst, sizeof(dst)) || getsockname(udp, (struct sockaddr *)&dst, &l))
		tst_fail("udp: %s", strerror(errno));
	uint16_t port = ntohs(dst.sin_port);
	/* Ethernet (14) + IPv4 without options (20): ethertype at 12, protocol at 23, dport at 36 */
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IP, 0, 5),
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 23),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_UDP, 0, 3),
		BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 36),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, port, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0xffff),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog = { .len = 8, .filter = code };
	struct sockaddr_ll ll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL), .sll_ifindex = lo };
	struct packet_mreq mr = { .mr_ifindex = lo, .mr_type = PACKET_MR_ALLMULTI };
	int one = 1, fanout = 0x1234 | (PACKET_FANOUT_HASH << 16);

	at(socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(ETH_P_ALL)), 20);
	if (setsockopt(20, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) ||
	    setsockopt(20, SOL_PACKET, PACKET_AUXDATA, &one, sizeof(one)) || bind(20, (struct sockaddr *)&ll, sizeof(ll)) ||
	    setsockopt(20, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)))
		tst_fail("fd 20: %s", strerror(errno));
	at(socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_IP)), 21);
	at(socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_IP)), 22);
	if (setsockopt(21, SOL_PACKET, PACKET_FANOUT, &fanout, sizeof(fanout)) ||
	    setsockopt(22, SOL_PACKET, PACKET_FANOUT, &fanout, sizeof(fanout)))
		tst_fail("PACKET_FANOUT: %s", strerror(errno));
	/* what was queued before the dump may be dropped: start empty */
	char frame[2048];
	while (recv(20, frame, sizeof(frame), 0) > 0)
		;
	int fl = fcntl(20, F_GETFL);
	if (!lo_allmulti())
		tst_fail("lo is not in allmulti mode after the membership");

	tst_ready();
	tst_wait_check();

	if (tst_corrupting())
		setsockopt(20, SOL_PACKET, PACKET_AUXDATA, &(int){ 0 }, sizeof(int));
	struct sockaddr_ll got = { 0 };
	l = sizeof(got);
	if (getsockname(20, (struct sockaddr *)&got, &l) || got.sll_ifindex != lo || got.sll_protocol != htons(ETH_P_ALL))
		tst_fail("fd 20 is bound to interface %d protocol %#x, was lo (%d) ETH_P_ALL", got.sll_ifindex,
			 ntohs(got.sll_protocol), lo);
	if (opt(20, SOL_SOCKET, SO_TYPE) != SOCK_RAW || opt(21, SOL_SOCKET, SO_TYPE) != SOCK_DGRAM ||
	    !opt(20, SOL_PACKET, PACKET_AUXDATA) ||
	    fcntl(20, F_GETFL) != fl)
		tst_fail("the packet sockets' types, protocols or options differ");
	l = sizeof(got);
	if (getsockname(21, (struct sockaddr *)&got, &l) || got.sll_protocol != htons(ETH_P_IP) || got.sll_ifindex)
		tst_fail("fd 21 receives protocol %#x on interface %d, was ETH_P_IP on any", ntohs(got.sll_protocol),
			 got.sll_ifindex);
	if (opt(21, SOL_PACKET, PACKET_FANOUT) != fanout || opt(22, SOL_PACKET, PACKET_FANOUT) != fanout)
		tst_fail("fanout %#x %#x, was %#x", opt(21, SOL_PACKET, PACKET_FANOUT), opt(22, SOL_PACKET, PACKET_FANOUT),
			 fanout);
	socklen_t insns = 0;
	if (getsockopt(20, SOL_SOCKET, SO_GET_FILTER, NULL, &insns) || insns != 8)
		tst_fail("fd 20: a filter of %u instructions, want 8", insns);
	if (!lo_allmulti())
		tst_fail("lo is not in allmulti mode: the membership is gone");
	const char msg[] = "to the packet socket";
	if (sendto(udp, msg, sizeof(msg), 0, (struct sockaddr *)&dst, sizeof(dst)) != sizeof(msg))
		tst_fail("sendto: %s", strerror(errno));
	ssize_t n = -1;
	for (int i = 0; i < 200 && n < 0; i++) {
		n = recv(20, frame, sizeof(frame), 0);
		if (n < 0)
			tst_sleep_ms(2);
	}
	if (n < (ssize_t)sizeof(msg) || memcmp(frame + n - sizeof(msg), msg, sizeof(msg)))
		tst_fail("fd 20 did not get the datagram's frame (%zd bytes: %s)", n, n < 0 ? strerror(errno) : "other");
	tst_pass();
}

/* sk-errors: sockets for test/net-errors.sh (not run by the runner).
 *
 *   --conn      an established TCP connection on 127.0.0.1 (both ends here)
 *   --dummy     the same connection over 10.99.0.1 (an address the script
 *               puts on lo, and removes before the restore)
 *   --odd       also a socket of a protocol libcr does not know at fd 9: UDP-Lite
 *               (AF_INET, SOCK_DGRAM, IPPROTO_UDPLITE)
 *   --packet    also an AF_PACKET socket at fd 9
 *   --many N    N more connections on 127.0.0.1 (a dump that takes a while)
 *   --closed    the check expects the connection's two ends closed (restored
 *               with --tcp-close): not connected, the listener listening
 * After CHECK: the connection still carries bytes both ways, fd 9 is what it
 * was.
 */
#include "tst.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static int lsk = -1, cli = -1, srv = -1;

static void connect_pair(const char *addr)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t l = sizeof(a);

	inet_pton(AF_INET, addr, &a.sin_addr);
	if ((lsk = socket(AF_INET, SOCK_STREAM, 0)) < 0 || bind(lsk, (struct sockaddr *)&a, l) || listen(lsk, 1) ||
	    getsockname(lsk, (struct sockaddr *)&a, &l) || (cli = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    connect(cli, (struct sockaddr *)&a, l) || (srv = accept(lsk, NULL, NULL)) < 0)
		tst_fail("connection over %s: %s", addr, strerror(errno));
	if (write(cli, "abc", 3) != 3)
		tst_fail("write: %s", strerror(errno));
}

int main(int argc, char **argv)
{
	tst_init_opts(argc, argv, "many", "conn,dummy,odd,packet,closed");
	int fd9 = -1, type = 0;

	struct rlimit rl;
	if (tst_opt_long("many", 0) && !getrlimit(RLIMIT_NOFILE, &rl)) {
		rl.rlim_cur = rl.rlim_max;   /* two fds per connection */
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	for (long i = tst_opt_long("many", 0); i > 0; i--)
		connect_pair("127.0.0.1");
	if (tst_opt_flag("conn"))
		connect_pair("127.0.0.1");
	if (tst_opt_flag("dummy"))
		connect_pair("10.99.0.1");
	if (tst_opt_flag("odd"))
		fd9 = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDPLITE);
	if (tst_opt_flag("packet"))
		fd9 = socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_ALL));
	if (tst_opt_flag("packet")) {
		/* a ring: what libcr refuses of packet sockets */
		struct tpacket_req rq = { .tp_block_size = 4096, .tp_block_nr = 1, .tp_frame_size = 2048, .tp_frame_nr = 2 };
		if (fd9 < 0 || setsockopt(fd9, SOL_PACKET, PACKET_RX_RING, &rq, sizeof(rq)))
			tst_fail("PACKET_RX_RING: %s", strerror(errno));
	}
	if ((tst_opt_flag("odd") || tst_opt_flag("packet")) && (fd9 < 0 || dup2(fd9, 9) != 9))
		tst_fail("socket: %s", strerror(errno));
	if (fd9 >= 0 && fd9 != 9)
		close(fd9);
	if (fd9 >= 0) {
		socklen_t l = sizeof(type);
		getsockopt(9, SOL_SOCKET, SO_TYPE, &type, &l);
	}

	tst_ready();
	tst_wait_check();

	if (cli >= 0 && tst_opt_flag("closed")) {
		struct sockaddr_storage a;
		socklen_t l = sizeof(a);
		int acc = -1;
		l = sizeof(acc);
		if (!getpeername(cli, (struct sockaddr *)&a, &l) || !getpeername(srv, (struct sockaddr *)&a, &l))
			tst_fail("a connection came back though restored with --tcp-close");
		if (getsockopt(lsk, SOL_SOCKET, SO_ACCEPTCONN, &acc, &l) || acc != 1)
			tst_fail("the listener is not listening");
	} else if (cli >= 0) {
		char b[4] = "";
		if (read(srv, b, 3) != 3 || memcmp(b, "abc", 3) || write(srv, "xyz", 3) != 3 || read(cli, b, 3) != 3 ||
		    memcmp(b, "xyz", 3))
			tst_fail("the connection is broken: %s", strerror(errno));
	}
	if (fd9 >= 0) {
		int t = -1;
		socklen_t l = sizeof(t);
		if (getsockopt(9, SOL_SOCKET, SO_TYPE, &t, &l) || t != type)
			tst_fail("fd 9 changed");
	}
	tst_pass();
}

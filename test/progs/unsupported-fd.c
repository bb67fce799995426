/* unsupported-fd: holds an fd of a kind the engine does not dump (yet).
 *
 * Used by test/errors.sh only (not by the runner): the dump must fail with a
 * message naming the fd and its kind, and leave this process running,
 * untraced, exactly as before.  The object sits at fd 5:
 *   (default)  an eventfd holding the count 42
 *   --socket   a unix datagram socket (one end of a socketpair; the other
 *              end is closed)
 * After CHECK the object must still be there and still work.
 */
#include "tst.h"

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define FD 5

int main(int argc, char **argv)
{
	tst_init_opts(argc, argv, NULL, "socket");
	bool sock = tst_opt_flag("socket");
	int f;
	if (sock) {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv))
			tst_fail("socketpair: %s", strerror(errno));
		close(sv[1]);
		f = sv[0];
	} else {
		f = eventfd(42, 0);
		if (f < 0)
			tst_fail("eventfd: %s", strerror(errno));
	}
	if (f != FD && (dup2(f, FD) != FD || close(f)))
		tst_fail("dup2: %s", strerror(errno));
	tst_info("fd %d is %s", FD, sock ? "a socket" : "an eventfd");

	tst_ready();
	tst_wait_check();

	if (sock) {
		int type = 0;
		socklen_t len = sizeof(type);
		if (getsockopt(FD, SOL_SOCKET, SO_TYPE, &type, &len) || type != SOCK_DGRAM)
			tst_fail("fd %d is not the datagram socket any more", FD);
	} else {
		uint64_t v = 0;
		if (read(FD, &v, sizeof(v)) != sizeof(v) || v != 42)
			tst_fail("eventfd count is %llu, want 42", (unsigned long long)v);
	}
	tst_pass();
}

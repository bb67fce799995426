/* poll-wait: a process blocked in poll() with a timeout when it is dumped (the
 * kernel can only restart such a call through its restart block, which a
 * restored process does not have).  After restore the poll must go on waiting
 * as if nothing happened: no EINTR (many programs treat that as fatal), no early
 * timeout.  It waits for the runner's CHECK on stdin that way.
 *
 * --corrupt: fails as if poll had returned EINTR.
 */
#include "tst.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct pollfd p = { .fd = 0, .events = POLLIN };
	char buf[16];

	tst_init(argc, argv);
	tst_ready();
	for (;;) {
		int n = poll(&p, 1, 120000);   /* two minutes: the runner is much faster */
		if (n < 0)
			tst_fail("poll: %s (a restored poll must not be interrupted)", strerror(errno));
		if (n == 0)
			tst_fail("poll timed out early");
		break;
	}
	ssize_t r = read(0, buf, sizeof(buf));
	if (r < 6 || strncmp(buf, "CHECK\n", 6))
		tst_fail("read %zd bytes, not CHECK", r);
	if (tst_corrupting())
		tst_fail("poll: Interrupted system call (--corrupt)");
	tst_pass();
}

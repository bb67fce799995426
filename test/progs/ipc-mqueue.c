/* ipc-mqueue: POSIX message queues of the process's own IPC namespace.
 *
 *   /lcr-jobs   mode 0640, 8 messages of up to 128 bytes, five queued with the
 *               priorities 1, 5, 5, 9, 0 (the two of priority 5 in their order)
 *   /lcr-empty  mode 0600, empty
 *
 * After CHECK: both queues exist with their mode and attributes, and the
 * messages come out as they would have: by priority, in order within one.
 *
 * --corrupt: one more message is queued after CHECK.
 */
#include "tst.h"

#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const unsigned prios[5] = { 1, 5, 5, 9, 0 };

static void text(char *buf, int i)
{
	snprintf(buf, 128, "message %d, priority %u", i, prios[i]);
}

int main(int argc, char **argv)
{
	struct mq_attr attr = { .mq_maxmsg = 8, .mq_msgsize = 128 };
	mqd_t q, e;
	char buf[128];

	tst_init(argc, argv);
	if (unshare(CLONE_NEWIPC))
		tst_fail("unshare(CLONE_NEWIPC): %s", strerror(errno));
	umask(0);
	if ((q = mq_open("/lcr-jobs", O_CREAT | O_RDWR, 0640, &attr)) == (mqd_t)-1 ||
	    (e = mq_open("/lcr-empty", O_CREAT | O_RDWR, 0600, &attr)) == (mqd_t)-1)
		tst_fail("mq_open: %s", strerror(errno));
	for (int i = 0; i < 5; i++) {
		text(buf, i);
		if (mq_send(q, buf, strlen(buf) + 1, prios[i]))
			tst_fail("mq_send: %s", strerror(errno));
	}
	tst_ready();
	tst_wait_check();
	if (tst_corrupting())
		mq_send(q, "extra", 6, 3);

	struct mq_attr got;
	struct stat st;
	if (mq_getattr(q, &got) || got.mq_maxmsg != 8 || got.mq_msgsize != 128 || got.mq_curmsgs != 5)
		tst_fail("/lcr-jobs: maxmsg %ld, msgsize %ld, %ld messages", got.mq_maxmsg, got.mq_msgsize, got.mq_curmsgs);
	if (fstat(q, &st) || (st.st_mode & 0777) != 0640)
		tst_fail("/lcr-jobs: mode 0%o, want 0640", st.st_mode & 0777);
	mqd_t again = mq_open("/lcr-empty", O_RDONLY | O_NONBLOCK);
	if (again == (mqd_t)-1 || mq_getattr(again, &got) || got.mq_curmsgs != 0)
		tst_fail("/lcr-empty is not there, or not empty: %s", strerror(errno));
	/* by priority, then in order: 3, 1, 2, 0, 4 */
	static const int order[5] = { 3, 1, 2, 0, 4 };
	for (int k = 0; k < 5; k++) {
		char want[128];
		unsigned prio;
		ssize_t n = mq_receive(q, buf, sizeof(buf), &prio);
		text(want, order[k]);
		if (n < 0 || strcmp(buf, want) || prio != prios[order[k]])
			tst_fail("message %d out: \"%.*s\" (priority %u), want \"%s\"", k, n < 0 ? 0 : (int)n, buf, prio,
				 want);
	}
	tst_pass();
}

/* thread-apart: a thread that holds part of its process's state apart, for
 * test/errors.sh.  The images keep a process's working directory, fd table and
 * namespaces once for all its threads, so a dump must refuse such a thread,
 * naming it and what it holds apart, and leave the process running.
 *
 *   --fs     the thread unshare(CLONE_FS)s and chdirs to /
 *   --files  the thread unshare(CLONE_FILES)s
 *   --netns  the thread unshare(CLONE_NEWNET)s (a network namespace of its own)
 */
#include "tst.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

static volatile int state;   /* 0 running, 1 done, -errno failed */

static void *apart(void *arg)
{
	int how = (int)(long)arg, r;

	r = unshare(how);
	if (!r && how == CLONE_FS)
		r = chdir("/");
	state = r ? -errno : 1;
	for (;;)
		pause();
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t;
	int how;

	tst_init_opts(argc, argv, NULL, "fs,files,netns");
	how = tst_opt_flag("fs") ? CLONE_FS : tst_opt_flag("files") ? CLONE_FILES : tst_opt_flag("netns") ? CLONE_NEWNET : 0;
	if (!how)
		tst_fail("usage: thread-apart --fs | --files | --netns");
	if (chdir("/tmp"))
		tst_fail("chdir /tmp: %s", strerror(errno));
	if (pthread_create(&t, NULL, apart, (void *)(long)how))
		tst_fail("pthread_create failed");
	while (!state)
		usleep(1000);
	if (state < 0)
		tst_fail("the thread's unshare failed: %s", strerror(-state));
	tst_ready();
	tst_wait_check();
	tst_pass();
}

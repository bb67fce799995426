/* zombie-leader: a process whose main thread has exited (pthread_exit in main)
 * while another thread runs on, for test/errors.sh.
 *
 * Its leader shows as a zombie, but the process lives: a dump must not take it
 * for a zombie (saved as one, its running thread would be lost) and, until such
 * a process can be restored, must refuse it, naming why, and leave it running.
 *
 *   zombie-leader          the process itself (the second thread speaks the protocol)
 *   zombie-leader --fork   its parent: a tree with such a child (the parent speaks;
 *                          at CHECK the child must still be running)
 */
#include "tst.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static volatile unsigned long steps;

/* The state of pid's main thread, from /proc/PID/stat ('?' if unreadable). */
static char leader_state(pid_t pid)
{
	char path[64], buf[512], *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (tst_read_file(path, buf, sizeof(buf)) <= 0 || !(p = strrchr(buf, ')')))
		return '?';
	return p[2];
}

static void wait_leader_gone(pid_t pid)
{
	for (int i = 0; leader_state(pid) != 'Z'; i++) {
		if (i == 2000)
			tst_fail("the main thread of %d is still '%c' after 2 s", pid, leader_state(pid));
		usleep(1000);
	}
}

static void *speaker(void *arg)
{
	(void)arg;
	wait_leader_gone(getpid());
	tst_ready();
	unsigned long before = steps;
	tst_wait_check();
	if (steps == before)
		tst_fail("the counting thread stood still");
	if (leader_state(getpid()) != 'Z')
		tst_fail("the main thread is '%c', not exited", leader_state(getpid()));
	tst_pass();
}

/* What pthread_exit() in main comes to, without its unwinding (which wants
 * libgcc_s, absent from the arm64 VM): the main thread alone exits. */
static void __attribute__((noreturn)) leader_exit(void)
{
	for (;;)
		syscall(SYS_exit, 0);
}

static void *counter(void *arg)
{
	(void)arg;
	for (;;) {
		steps++;
		usleep(1000);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t;

	tst_init_opts(argc, argv, NULL, "fork");
	if (tst_opt_flag("fork")) {
		pid_t child = fork();
		if (child < 0)
			tst_fail("fork: %s", strerror(errno));
		if (child == 0) {
			if (pthread_create(&t, NULL, counter, NULL))
				_exit(1);
			leader_exit();
		}
		wait_leader_gone(child);
		tst_ready();
		tst_wait_check();
		char path[64], status[4096], *th;
		snprintf(path, sizeof(path), "/proc/%d/status", child);
		if (tst_read_file(path, status, sizeof(status)) <= 0 || !(th = strstr(status, "Threads:")) ||
		    atoi(th + 8) < 2)
			tst_fail("the child %d no longer runs on without its main thread", child);
		kill(child, SIGKILL);
		tst_pass();
	}
	if (pthread_create(&t, NULL, counter, NULL) || pthread_create(&t, NULL, speaker, NULL))
		tst_fail("pthread_create failed");
	leader_exit();
}

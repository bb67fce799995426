/* stopped: processes in a group stop (job control) when dumped stay stopped.
 *
 * Child A stops itself with SIGSTOP.  Child B, in a process group of its own (a
 * group that is not orphaned, where SIGTSTP stops), has a second thread and
 * stops itself with SIGTSTP.  Each holds 1 MiB of seeded data.  The parent sees
 * both stop (waitpid WUNTRACED), then waits for CHECK.  After CHECK: every
 * thread of A and B is in state T, and after SIGCONT each child checks its data
 * (B's second thread its own counter too), reports on a pipe, and exits 0.
 *
 * --corrupt: A is continued before it is looked at.
 */
#include "tst.h"

#include <errno.h>
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define DATA (1 << 20)

static int report[2];
static uint64_t seed;
static atomic_long ticks;

static void say(const char *what)
{
	tst_write_all(report[1], what, strlen(what));
}

static void check_data(const char *data, uint64_t s, const char *who)
{
	char msg[96];

	snprintf(msg, sizeof(msg), "%s %s\n", who, tst_cmp_fill(data, DATA, s) < 0 ? "ok" : "bad-data");
	say(msg);
}

static void *ticker(void *arg)
{
	(void)arg;
	for (;;) {
		atomic_fetch_add(&ticks, 1);
		tst_sleep_ms(5);
	}
	return NULL;
}

static pid_t child_a(void)
{
	pid_t pid = fork();

	if (pid)
		return pid;
	char *data = malloc(DATA);
	tst_fill(data, DATA, seed + 1);
	raise(SIGSTOP);
	check_data(data, seed + 1, "A");
	_exit(0);
}

static pid_t child_b(void)
{
	pid_t pid = fork();
	pthread_t th;

	if (pid)
		return pid;
	setpgid(0, 0);
	char *data = malloc(DATA);
	tst_fill(data, DATA, seed + 2);
	if (pthread_create(&th, NULL, ticker, NULL))
		_exit(3);
	while (atomic_load(&ticks) < 3)
		tst_sleep_ms(1);
	kill(getpid(), SIGTSTP);
	long before = atomic_load(&ticks);
	check_data(data, seed + 2, "B");
	tst_sleep_ms(50);
	say(atomic_load(&ticks) > before ? "B-thread ok\n" : "B-thread stuck\n");
	_exit(0);
}

/* Is every thread of pid in state T? */
static bool all_stopped(pid_t pid, char *state)
{
	char path[320], buf[512];
	struct dirent *de;
	bool all = true;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	if (!(d = opendir(path)))
		return *state = '?', false;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/stat", pid, de->d_name);
		char *p = tst_read_file(path, buf, sizeof(buf)) > 0 ? strrchr(buf, ')') : NULL;
		*state = p ? p[2] : '?';
		if (*state != 'T') {
			all = false;
			break;
		}
	}
	closedir(d);
	return all;
}

static void wait_stopped(pid_t pid, const char *who)
{
	int status;

	if (waitpid(pid, &status, WUNTRACED) != pid || !WIFSTOPPED(status))
		tst_fail("child %s did not stop (status 0x%x)", who, status);
}

int main(int argc, char **argv)
{
	tst_init(argc, argv);
	char state, line[256] = "";
	seed = tst_seed();
	if (pipe(report))
		tst_fail("pipe: %s", strerror(errno));
	pid_t a = child_a(), b = child_b();
	wait_stopped(a, "A");
	wait_stopped(b, "B");

	tst_ready();
	tst_wait_check();

	if (tst_corrupting())
		kill(a, SIGCONT);
	if (!all_stopped(a, &state))
		tst_fail("child A is in state %c, not stopped", state);
	if (!all_stopped(b, &state))
		tst_fail("a thread of child B is in state %c, not stopped", state);
	kill(a, SIGCONT);
	kill(b, SIGCONT);
	close(report[1]);
	size_t got = 0;
	ssize_t n;
	while (got < sizeof(line) - 1 && (n = read(report[0], line + got, sizeof(line) - 1 - got)) > 0)
		got += n;
	line[got] = 0;
	if (!strstr(line, "A ok\n") || !strstr(line, "B ok\n") || !strstr(line, "B-thread ok\n"))
		tst_fail("the children reported: %s", line);
	for (int i = 0; i < 2; i++) {
		int status;
		pid_t p = waitpid(-1, &status, 0);
		if (p < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
			tst_fail("child %d ended with status 0x%x", p, status);
	}
	tst_pass();
	return 0;
}

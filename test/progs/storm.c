/* storm: a process that never stops changing while it is seized.
 *
 *   --forks    the main thread forks short-lived children without pause (each
 *              exits at once; the parent reaps them), so children appear and
 *              turn into zombies while the tree is being seized
 *   --threads  two threads create short-lived threads without pause
 *
 * The dump must catch a consistent tree (zombies included) or fail cleanly;
 * after restore the storm goes on: CHECK waits until 200 more children or
 * threads came and went, and every child exited with the status it was given
 * (a zombie restored with the wrong status, or one lost, is caught when reaped).
 *
 * --cgroup N  first move into the cgroup libcr-storm-N below the v2 root
 *             (made if missing; run-all dumps it with --freeze-cgroup and
 *             restores it into the same cgroup): after CHECK, still in it.
 *
 * --corrupt: the count of expected exits is off by one after CHECK.
 */
#include "tst.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* where cgroup v2 is mounted */
static void v2_mount(char *out, size_t len)
{
	static char buf[65536];
	char *line, *save = NULL;

	tst_read_file("/proc/self/mountinfo", buf, sizeof(buf));
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char mp[256], fs[32], *dash = strstr(line, " - ");
		if (dash && sscanf(line, "%*d %*d %*s %*s %255s", mp) == 1 && sscanf(dash + 3, "%31s", fs) == 1 &&
		    !strcmp(fs, "cgroup2") && (size_t)snprintf(out, len, "%s", mp) < len)
			return;
	}
	tst_fail("no cgroup v2 mounted here");
}

static void enter_cgroup(long n)
{
	char path[400], mnt[256];
	int fd;

	v2_mount(mnt, sizeof(mnt));
	if ((size_t)snprintf(path, sizeof(path), "%s/libcr-storm-%ld", mnt, n) >= sizeof(path) - 16)
		tst_fail("path too long");
	if (mkdir(path, 0755) && errno != EEXIST)
		tst_fail("mkdir %s: %s", path, strerror(errno));
	strcat(path, "/cgroup.procs");
	if ((fd = open(path, O_WRONLY)) < 0 || write(fd, "0", 1) != 1)
		tst_fail("can't enter %s: %s", path, strerror(errno));
	close(fd);
}

static void check_cgroup(long n)
{
	char buf[4096], want[64];

	tst_read_file("/proc/self/cgroup", buf, sizeof(buf));
	snprintf(want, sizeof(want), "\n0::/libcr-storm-%ld\n", n);
	memmove(buf + 1, buf, sizeof(buf) - 1);
	buf[0] = '\n';
	if (!strstr(buf, want))
		tst_fail("not in cgroup libcr-storm-%ld any more:%s", n, buf);
}

static atomic_long born, gone;
static atomic_int stop;
static char failure[256];

static void *short_lived(void *arg)
{
	(void)arg;
	atomic_fetch_add(&gone, 1);
	return NULL;
}

static void *spawner(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		pthread_t t;
		if (pthread_create(&t, NULL, short_lived, NULL) == 0) {
			atomic_fetch_add(&born, 1);
			pthread_detach(t);
		}
	}
	return NULL;
}

/* Fork one child that exits with status (n % 200) and reap whatever is done. */
static void fork_step(long *outstanding)
{
	long n = atomic_load(&born);
	pid_t p = fork();
	int st;

	if (p == 0)
		_exit(n % 200);
	if (p < 0)
		return;
	atomic_fetch_add(&born, 1);
	(*outstanding)++;
	while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
		(*outstanding)--;
		atomic_fetch_add(&gone, 1);
		if (!WIFEXITED(st))
			snprintf(failure, sizeof(failure), "child %d ended with status 0x%x", p, st);
	}
}

int main(int argc, char **argv)
{
	tst_init_opts(argc, argv, "cgroup", "forks,threads");
	long cg = tst_opt_long("cgroup", -1);
	bool forks = tst_opt_flag("forks"), threads = tst_opt_flag("threads");
	long outstanding = 0;
	pthread_t sp[2];

	if (forks == threads)
		tst_fail("give exactly one of --forks, --threads");
	if (cg >= 0)
		enter_cgroup(cg);
	if (threads)
		for (int i = 0; i < 2; i++)
			if (pthread_create(&sp[i], NULL, spawner, NULL))
				tst_fail("pthread_create: %s", strerror(errno));
	while (atomic_load(&born) < 100)
		forks ? fork_step(&outstanding) : tst_sleep_ms(1);
	tst_ready();
	while (!tst_check_requested())
		forks ? fork_step(&outstanding) : tst_sleep_ms(1);

	long target = atomic_load(&born) + 200 + (tst_corrupting() ? 1000000000 : 0);
	uint64_t deadline = tst_now_ns(CLOCK_MONOTONIC) + 20ULL * 1000000000;
	while (atomic_load(&born) < target && tst_now_ns(CLOCK_MONOTONIC) < deadline)
		forks ? fork_step(&outstanding) : tst_sleep_ms(1);
	if (atomic_load(&born) < target)
		tst_fail("the storm stalled: %ld born, wanted %ld", atomic_load(&born), target);
	if (threads) {
		atomic_store(&stop, 1);
		for (int i = 0; i < 2; i++)
			pthread_join(sp[i], NULL);
	}
	/* every child comes back, with a proper exit */
	int st;
	pid_t p;
	while ((p = waitpid(-1, &st, 0)) > 0) {
		outstanding--;
		atomic_fetch_add(&gone, 1);
		if (!WIFEXITED(st))
			snprintf(failure, sizeof(failure), "child %d ended with status 0x%x", p, st);
	}
	if (failure[0])
		tst_fail("%s", failure);
	if (forks && outstanding)
		tst_fail("%ld children never came back to wait()", outstanding);
	if (cg >= 0)
		check_cgroup(cg);
	tst_pass();
}

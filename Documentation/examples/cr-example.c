/* cr-example: checkpoint a running program with libcr and restore it, the way a
 * runtime linking libcr does, with a notify callback at each step.
 *
 *   cc cr-example.c $(pkg-config --cflags --libs libcr) -o cr-example
 *   ./cr-example [IMAGES_DIR]
 *
 * It starts a child that counts into a file, dumps it (the child is gone
 * afterwards), restores it from the images and checks that it counts on from
 * where it was.  Exit status 0 when all went as expected. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cr/cr.h>

/* The events libcr reported, in order, space-separated. */
static char events[1024];

/* A runtime would lock its network, run hooks, or learn the restored pid here;
 * returning non-zero would fail (and undo) the dump or restore. */
static int on_event(void *arg, const char *event, pid_t pid)
{
	const char *who = arg;

	printf("%s: %s (pid %d)\n", who, event, pid);
	snprintf(events + strlen(events), sizeof(events) - strlen(events), "%s%s", events[0] ? " " : "", event);
	return 0;
}

static void on_log(enum cr_log_level level, const char *msg, void *user)
{
	(void)user;
	if (level <= CR_LOG_WARN)
		fprintf(stderr, "libcr: %s\n", msg);
}

/* The child: a counter in its own session (so that it is a tree of its own). */
static pid_t start_counter(const char *file)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		unsigned long n = 0;
		int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		setsid();
		for (;;) {
			char line[32];
			int len = snprintf(line, sizeof(line), "%lu\n", ++n);
			if (fd < 0 || pwrite(fd, line, len, 0) != len)
				_exit(1);
			nanosleep(&ts, NULL);
		}
	}
	return pid;
}

static unsigned long read_count(const char *file)
{
	char buf[32] = "";
	int fd = open(file, O_RDONLY);

	if (fd < 0 || read(fd, buf, sizeof(buf) - 1) < 0)
		buf[0] = 0;
	if (fd >= 0)
		close(fd);
	return strtoul(buf, NULL, 10);
}

int main(int argc, char **argv)
{
	char dir[256], file[300];
	unsigned long before, after;
	pid_t pid, got;
	int status;

	snprintf(dir, sizeof(dir), "%s", argc > 1 ? argv[1] : "/tmp/cr-example-XXXXXX");
	if (argc <= 1 && !mkdtemp(dir))
		return perror("mkdtemp"), 1;
	mkdir(dir, 0755);
	snprintf(file, sizeof(file), "%s.count", dir);
	cr_set_log(on_log, NULL, CR_LOG_WARN);
	printf("libcr %s, images in %s\n", cr_version(), dir);

	pid = start_counter(file);
	while (read_count(file) < 5)
		usleep(10000);

	struct cr_dump_opts d = {
		.sz = sizeof(d), .pid = pid, .images_dir = dir,
		.notify = on_event, .notify_arg = "dump",
	};
	if (cr_dump(&d) < 0) {
		fprintf(stderr, "dump failed: %s\n", cr_last_error());
		kill(pid, SIGKILL);
		return 1;
	}
	waitpid(pid, &status, 0);   /* the dump killed it: it is in the images now */
	if (strcmp(events, "pre-dump network-lock post-dump")) {
		fprintf(stderr, "unexpected dump events: %s\n", events);
		return 1;
	}
	before = read_count(file);

	events[0] = 0;
	struct cr_restore_opts r = {
		.sz = sizeof(r), .images_dir = dir,
		.notify = on_event, .notify_arg = "restore",
	};
	got = cr_restore(&r);
	if (got < 0) {
		fprintf(stderr, "restore failed: %s\n", cr_last_error());
		return 1;
	}
	usleep(200 * 1000);
	after = read_count(file);
	kill(got, SIGKILL);
	waitpid(got, &status, 0);
	printf("pid %d restored as %d, counting %lu -> %lu\n", pid, got, before, after);
	if (got != pid || after <= before || !strstr(events, "setup-namespaces") || !strstr(events, "post-resume")) {
		fprintf(stderr, "unexpected restore: events %s\n", events);
		return 1;
	}
	return 0;
}

/* The sample program of `make demo`: counts in memory and appends "tick N" to the
 * log file given as its argument every 0.2 s, forever.  After a checkpoint and a
 * restore the count must go on from where it stopped, not start again at 1. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	const struct timespec period = { 0, 200 * 1000 * 1000 };
	unsigned long n;
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: demo-counter LOGFILE\n");
		return 2;
	}
	fd = open(argv[1], O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fd < 0) {
		fprintf(stderr, "demo-counter: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	for (n = 1;; n++) {
		char line[32];
		int len = snprintf(line, sizeof(line), "tick %lu\n", n);

		if (write(fd, line, len) != len)
			return 1;
		nanosleep(&period, NULL);
	}
}

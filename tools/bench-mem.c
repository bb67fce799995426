/* Memory helpers for tools/bench.sh.
 *
 *   bench-mem memcpy SIZE_MiB   print this machine's memcpy bandwidth in GB/s
 *                               (1 GB = 1e9 bytes): the median of 5 copies of
 *                               SIZE_MiB between pre-faulted buffers, after a warm-up
 *   bench-mem hold SIZE_MiB     allocate SIZE_MiB, fill it with non-zero data, write
 *                               "READY\n" to stdout, then sleep until killed
 *                               (the process that bench.sh checkpoints)
 *   bench-mem threads N         one process of N threads, all asleep, then READY
 *   bench-mem tree N            N processes (the root and N-1 children), then READY
 *   bench-mem churn SIZE_MiB    like hold, then writes 64 MiB/s over its memory and, every
 *                               millisecond, appends its CLOCK_REALTIME (ns) to the file
 *                               churn.log in its working directory: the longest gap
 *                               between two lines is how long it was stopped
 *   bench-mem tcp N             N established TCP connections on 127.0.0.1, both
 *                               ends held (100 bytes unread at each), then READY
 *   bench-mem fresh SIZE_MiB    what moving SIZE_MiB into memory the machine has to
 *                               hand out anew costs, in seconds: "WRITE COPY", WRITE
 *                               the write() of a filled buffer into a new file
 *                               fresh.bin in the working directory (a dump's least
 *                               work there), COPY that file mapped and copied into a
 *                               new anonymous area (a restore's least work); unlike
 *                               memcpy's pre-faulted buffers, every page is new
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define RUNS 5

static void usage(void)
{
	fprintf(stderr, "usage: bench-mem memcpy SIZE_MiB\n"
			"       bench-mem churn SIZE_MiB\n"
			"       bench-mem hold SIZE_MiB\n"
			"       bench-mem threads N\n"
			"       bench-mem tree N\n"
			"       bench-mem tcp N\n"
			"       bench-mem fresh SIZE_MiB\n");
	exit(2);
}

/* An anonymous area with every page already faulted in (MAP_POPULATE: page faults
 * one by one are slow on a VM and must not be measured as copy time). */
static void *map_populated(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	if (p == MAP_FAILED) {
		fprintf(stderr, "bench-mem: mmap of %zu bytes: %s\n", size, strerror(errno));
		exit(1);
	}
	return p;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Non-zero, not trivially repetitive: a 64-bit xorshift stream. */
static void fill(void *buf, size_t size, uint64_t seed)
{
	uint64_t *p = buf, x = seed | 1;

	for (size_t i = 0; i < size / sizeof(*p); i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = x | 1;
	}
}

static int do_memcpy(size_t size)
{
	char *src = map_populated(size), *dst = map_populated(size);
	double gbps[RUNS];

	fill(src, size, 0x9e3779b97f4a7c15ull);
	memcpy(dst, src, size);                 /* warm-up */
	for (int i = 0; i < RUNS; i++) {
		double t0 = now();

		memcpy(dst, src, size);
		asm volatile("" : : "r"(dst) : "memory"); /* the copy is observed */
		gbps[i] = size / (now() - t0) / 1e9;
	}
	if (memcmp(dst, src, size)) {
		fprintf(stderr, "bench-mem: memcpy result differs\n");
		return 1;
	}
	qsort(gbps, RUNS, sizeof(gbps[0]), cmp_double);
	printf("%.2f\n", gbps[RUNS / 2]);
	return 0;
}

static int do_fresh(size_t size)
{
	char *buf = map_populated(size), *src, *dst;
	double t0, t1, t2, t3;
	size_t done = 0;
	int fd;

	fill(buf, size, 0x51ed270b27f1c3a5ull);
	t0 = now();
	if ((fd = open("fresh.bin", O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		return perror("bench-mem fresh: fresh.bin"), 1;
	while (done < size) {
		ssize_t n = write(fd, buf + done, size - done);
		if (n <= 0)
			return perror("bench-mem fresh: write"), unlink("fresh.bin"), 1;
		done += n;
	}
	t1 = now();
	munmap(buf, size);
	t2 = now();
	src = mmap(NULL, size, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
	dst = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (src == MAP_FAILED || dst == MAP_FAILED)
		return perror("bench-mem fresh: mmap"), unlink("fresh.bin"), 1;
	memcpy(dst, src, size);
	asm volatile("" : : "r"(dst) : "memory");
	t3 = now();
	unlink("fresh.bin");
	printf("%.6f %.6f\n", t1 - t0, t3 - t2);
	return 0;
}

static int do_hold(size_t size)
{
	char *p = map_populated(size);
	static const char ready[] = "READY\n";

	fill(p, size, (uint64_t)getpid() * 0x9e3779b97f4a7c15ull);
	if (write(STDOUT_FILENO, ready, sizeof(ready) - 1) != sizeof(ready) - 1)
		return 1;
	for (;;)
		pause();
}

static int do_tcp(unsigned long n)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof(a);
	struct rlimit rl;
	static const char ready[] = "READY\n";
	char data[100] = { 1 };
	int ls;

	/* two fds per connection */
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur < 2 * n + 16)
		return fprintf(stderr, "bench-mem tcp: %lu connections need %lu fds\n", n, 2 * n + 16), 1;
	if ((ls = socket(AF_INET, SOCK_STREAM, 0)) < 0 || bind(ls, (struct sockaddr *)&a, l) || listen(ls, 128) ||
	    getsockname(ls, (struct sockaddr *)&a, &l))
		return perror("bench-mem tcp: listener"), 1;
	for (unsigned long i = 0; i < n; i++) {
		int c = socket(AF_INET, SOCK_STREAM, 0), s;
		if (c < 0 || connect(c, (struct sockaddr *)&a, l) || (s = accept(ls, NULL, NULL)) < 0 ||
		    write(c, data, sizeof(data)) != sizeof(data) || write(s, data, sizeof(data)) != sizeof(data))
			return perror("bench-mem tcp: connection"), 1;
	}
	if (write(STDOUT_FILENO, ready, sizeof(ready) - 1) != sizeof(ready) - 1)
		return 1;
	for (;;)
		pause();
}

static void *sleeper(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

static int do_threads(unsigned long n)
{
	static const char ready[] = "READY\n";
	pthread_attr_t attr;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 << 10);
	for (unsigned long i = 1; i < n; i++) {
		pthread_t t;
		if (pthread_create(&t, &attr, sleeper, NULL)) {
			fprintf(stderr, "bench-mem: pthread_create %lu failed\n", i);
			return 1;
		}
	}
	if (write(STDOUT_FILENO, ready, sizeof(ready) - 1) != sizeof(ready) - 1)
		return 1;
	sleeper(NULL);
	return 0;
}

static int do_tree(unsigned long n)
{
	static const char ready[] = "READY\n";
	int pipefd[2];
	char c;

	/* each child says it is up by closing its copy of the pipe's write end */
	if (pipe(pipefd))
		return 1;
	for (unsigned long i = 1; i < n; i++) {
		pid_t p = fork();
		if (p < 0) {
			fprintf(stderr, "bench-mem: fork %lu failed\n", i);
			return 1;
		}
		if (p == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			close(pipefd[0]);
			close(pipefd[1]);
			sleeper(NULL);
		}
	}
	close(pipefd[1]);
	if (read(pipefd[0], &c, 1) != 0)
		return 1;
	close(pipefd[0]);
	if (write(STDOUT_FILENO, ready, sizeof(ready) - 1) != sizeof(ready) - 1)
		return 1;
	sleeper(NULL);
	return 0;
}

static int do_churn(size_t size)
{
	static const char ready[] = "READY\n";
	const size_t per_ms = (64ul << 20) / 1000 & ~4095ul;   /* 64 MiB/s, whole pages */
	unsigned char *p = map_populated(size);
	size_t at = 0;
	uint64_t n = 0;
	FILE *log = fopen("churn.log", "a");

	if (!p || !log)
		return 1;
	memset(p, 0x5a, size);
	setvbuf(log, NULL, _IONBF, 0);
	if (write(STDOUT_FILENO, ready, sizeof(ready) - 1) != sizeof(ready) - 1)
		return 1;
	for (;;) {
		struct timespec ts, pause = { 0, 1000000 };
		for (size_t done = 0; done < per_ms; done += 4096) {
			p[at] = (unsigned char)++n;   /* one byte dirties the page */
			at = (at + 4096) % size;
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		fprintf(log, "%lld\n", (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
		nanosleep(&pause, NULL);
	}
}

int main(int argc, char **argv)
{
	char *end;
	unsigned long mib;

	if (argc != 3)
		usage();
	errno = 0;
	mib = strtoul(argv[2], &end, 10);
	if (errno || *end || !mib || mib > (1ul << 20))
		usage();
	if (!strcmp(argv[1], "memcpy"))
		return do_memcpy(mib << 20);
	if (!strcmp(argv[1], "hold"))
		return do_hold(mib << 20);
	if (!strcmp(argv[1], "threads"))
		return do_threads(mib);
	if (!strcmp(argv[1], "tree"))
		return do_tree(mib);
	if (!strcmp(argv[1], "churn"))
		return do_churn(mib << 20);
	if (!strcmp(argv[1], "tcp"))
		return do_tcp(mib);
	if (!strcmp(argv[1], "fresh"))
		return do_fresh(mib << 20);
	usage();
}

/* mem-dirty: memory that changes between pre-dump rounds (driven by test/predump.sh,
 * not by the runner).
 *
 *   mem-dirty [--size MIB]
 *
 * Prints "A=0xADDR PAGES" and "READY" when its area A is filled.  Each SIGUSR1
 * starts the next round of changes and prints "ROUND N" when it is done:
 *   round 1: writes 1000 pages of A (every 37th), zaps 100 other pages of A
 *            (MADV_DONTNEED: zero afterwards), unmaps area B, moves area C to a
 *            new address (mremap), maps and fills a new area D (256 pages);
 *   round 2: writes 500 more pages of A (every 53rd, from page 7).
 * With --mixed FILE, two more areas that a lazy restore must fill before the
 * process runs: E, a MAP_PRIVATE mapping of FILE (64 pages it writes itself),
 * every odd page written (copy-on-write; round 1 also writes pages 0, 2, .. 14);
 * S, 64 pages of MAP_SHARED anonymous memory (round 1 rewrites every 4th).
 * SIGUSR2 checks every page of A, C and D against what it must hold now, first
 * in a forked child (a fork while a lazy restore is still filling the memory
 * must give the child the same contents), then in itself, and prints "PASS" or
 * "FAIL: why", then exits 0 or 1.  A page's content is a function of its index
 * and the last round that wrote it.
 * With --listen ADDR:PORT (IPv4) it also holds a TCP socket listening there; the
 * check then wants it listening on that address still, and accepting a connection.
 * With --churn N, a thread rewrites pages of an area W of N pages all the time
 * (16 pages a millisecond, each with a new generation, then notes the generation
 * in a table), through every pre-dump round and the final dump; the check stops
 * it and wants each page of W to hold the generation the table says.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096UL
#define SMALL (1024 * PAGE)      /* B and C: 4 MiB */
#define D_PAGES 256

static volatile sig_atomic_t next_round, check_now;
static unsigned char *a, *c, *d, *e, *sh;   /* e, sh: --mixed */
#define MIXED_PAGES 64
static size_t a_pages;
static int round_done;
static int lsk = -1;                        /* --listen */
static unsigned char *w;                    /* --churn: the area, its pages' generations */
static uint64_t *w_gen;
static size_t w_pages;
static pthread_t churner;
static atomic_int churn_stop;
static struct sockaddr_in laddr;

static void fill(unsigned char *p, uint64_t seed)
{
	uint64_t *w = (uint64_t *)p, x = seed * 0x9e3779b97f4a7c15ULL + 1;

	for (size_t i = 0; i < PAGE / 8; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		w[i] = x;
	}
}

static bool same(const unsigned char *p, uint64_t seed)
{
	unsigned char want[PAGE];

	fill(want, seed);
	return !memcmp(p, want, PAGE);
}

/* What page i of A holds after round r. */
static int a_state(size_t i, int r)   /* -1: zero, else the round that wrote it last */
{
	if (r >= 2 && i % 53 == 7 && i / 53 < 500)
		return 2;
	if (r >= 1 && i % 37 == 0 && i / 37 < 1000)
		return 1;
	if (r >= 1 && i % 37 == 5 && i / 37 < 100)
		return -1;
	return 0;
}

static uint64_t seed_of(char area, size_t i, int gen)
{
	return ((uint64_t)area << 56) ^ ((uint64_t)gen << 48) ^ i;
}

static void do_round(void)
{
	round_done++;
	for (size_t i = 0; i < a_pages; i++) {
		int s = a_state(i, round_done);
		if (s == round_done)
			fill(a + i * PAGE, seed_of('A', i, s));
		else if (s == -1 && a_state(i, round_done - 1) != -1)
			madvise(a + i * PAGE, PAGE, MADV_DONTNEED);
	}
	if (round_done == 1 && e) {
		for (size_t i = 0; i < 16; i += 2)
			fill(e + i * PAGE, seed_of('E', i, 2));
		for (size_t i = 0; i < MIXED_PAGES; i += 4)
			fill(sh + i * PAGE, seed_of('S', i, 1));
	}
	if (round_done == 1) {
		unsigned char *b = a + a_pages * PAGE + PAGE;   /* B sits one guard page after A */
		void *to = mmap(NULL, SMALL + PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		munmap(b, SMALL);
		if (to == MAP_FAILED)
			exit(3);
		c = mremap(c, SMALL, SMALL, MREMAP_MAYMOVE | MREMAP_FIXED, (char *)to + PAGE);
		d = mmap(NULL, D_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (c == MAP_FAILED || d == MAP_FAILED)
			exit(3);
		for (size_t i = 0; i < D_PAGES; i++)
			fill(d + i * PAGE, seed_of('D', i, 1));
	}
	printf("ROUND %d\n", round_done);
	fflush(stdout);
}

static int check_here(const char *who);

static void *churn(void *arg)
{
	struct timespec ms = { 0, 1000000 };
	uint64_t x = 88172645463325252ULL;

	(void)arg;
	for (uint64_t g = 1; !atomic_load(&churn_stop); g++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		size_t i = x % w_pages;
		fill(w + i * PAGE, seed_of('W', i, g & 0xff) ^ (g << 8));
		w_gen[i] = g;
		if (g % 16 == 0)
			nanosleep(&ms, NULL);
	}
	return NULL;
}

static int check_churn(const char *who)
{
	for (size_t i = 0; i < w_pages; i++)
		if (w_gen[i] ? !same(w + i * PAGE, seed_of('W', i, w_gen[i] & 0xff) ^ (w_gen[i] << 8))
			     : !same(w + i * PAGE, seed_of('W', i, 0))) {
			printf("FAIL: %spage %zu of W is not generation %llu\n", who, i, (unsigned long long)w_gen[i]);
			return 1;
		}
	return 0;
}

/* The listener of --listen: still there, on its address, and it takes a connection. */
static int check_listener(void)
{
	struct sockaddr_in now;
	socklen_t l = sizeof(now);
	int on = 0, c;
	socklen_t ol = sizeof(on);

	if (getsockname(lsk, (struct sockaddr *)&now, &l) || now.sin_addr.s_addr != laddr.sin_addr.s_addr ||
	    now.sin_port != laddr.sin_port || getsockopt(lsk, SOL_SOCKET, SO_ACCEPTCONN, &on, &ol) || !on) {
		printf("FAIL: the listener is not listening on %s:%d\n", inet_ntoa(laddr.sin_addr), ntohs(laddr.sin_port));
		return 1;
	}
	c = socket(AF_INET, SOCK_STREAM, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&laddr, sizeof(laddr))) {
		printf("FAIL: can't connect to the listener: %s\n", strerror(errno));
		return 1;
	}
	int a = accept(lsk, NULL, NULL);
	if (a < 0) {
		printf("FAIL: the listener accepts nothing: %s\n", strerror(errno));
		return 1;
	}
	close(a);
	close(c);
	return 0;
}

static int check(void)
{
	pid_t child;
	int st;

	if (lsk >= 0 && check_listener()) {
		fflush(stdout);
		return 1;
	}
	if (w) {
		atomic_store(&churn_stop, 1);
		pthread_join(churner, NULL);
	}

	fflush(stdout);
	child = fork();
	if (child == 0)
		exit(check_here("the forked child: "));   /* exit: its FAIL line is flushed */
	if (child < 0 || waitpid(child, &st, 0) != child || !WIFEXITED(st) || WEXITSTATUS(st))
		return 1;
	return check_here("");
}

static int check_here(const char *who)
{
	static const unsigned char zero[PAGE];

	if (w && check_churn(who))
		return 1;

	for (size_t i = 0; i < a_pages; i++) {
		int s = a_state(i, round_done);
		if (s < 0 ? memcmp(a + i * PAGE, zero, PAGE) != 0 : !same(a + i * PAGE, seed_of('A', i, s))) {
			printf("FAIL: %spage %zu of A is not what round %d left (%s)\n", who, i, round_done,
			       s < 0 ? "zapped: zero" : s ? "rewritten" : "the first fill");
			return 1;
		}
	}
	for (size_t i = 0; i < SMALL / PAGE; i++)
		if (!same(c + i * PAGE, seed_of('C', i, 0))) {
			printf("FAIL: %spage %zu of C (moved in round 1: %d) is wrong\n", who, i, round_done >= 1);
			return 1;
		}
	for (size_t i = 0; d && i < D_PAGES; i++)
		if (!same(d + i * PAGE, seed_of('D', i, 1))) {
			printf("FAIL: %spage %zu of D (mapped in round 1) is wrong\n", who, i);
			return 1;
		}
	for (size_t i = 0; e && i < MIXED_PAGES; i++) {
		bool ok = i % 2 ? same(e + i * PAGE, seed_of('E', i, 1))
			: round_done >= 1 && i < 16 ? same(e + i * PAGE, seed_of('E', i, 2))
			: same(e + i * PAGE, seed_of('F', i, 0));
		if (!ok) {
			printf("FAIL: %spage %zu of E (a private file mapping, %s) is wrong\n", who, i,
			       i % 2 || (round_done >= 1 && i < 16) ? "written" : "as the file has it");
			return 1;
		}
	}
	for (size_t i = 0; sh && i < MIXED_PAGES; i++)
		if (!same(sh + i * PAGE, seed_of('S', i, round_done >= 1 && i % 4 == 0))) {
			printf("FAIL: %spage %zu of S (shared anonymous) is wrong\n", who, i);
			return 1;
		}
	if (!*who)
		printf("PASS\n");
	fflush(stdout);
	return 0;
}

static void on_usr1(int s)
{
	(void)s;
	next_round = 1;
}

static void on_usr2(int s)
{
	(void)s;
	check_now = 1;
}

int main(int argc, char **argv)
{
	size_t mib = 256;
	const char *mixed = NULL;

	for (int i = 1; i + 1 < argc; i += 2)
		if (!strcmp(argv[i], "--size"))
			mib = strtoul(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--mixed"))
			mixed = argv[i + 1];
		else if (!strcmp(argv[i], "--churn"))
			w_pages = strtoul(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--listen")) {
			char host[64];
			int port, one = 1;
			if (sscanf(argv[i + 1], "%63[^:]:%d", host, &port) != 2 ||
			    inet_pton(AF_INET, host, &laddr.sin_addr) != 1)
				return 2;
			laddr.sin_family = AF_INET;
			laddr.sin_port = htons(port);
			lsk = socket(AF_INET, SOCK_STREAM, 0);
			if (lsk < 0 || setsockopt(lsk, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
			    bind(lsk, (struct sockaddr *)&laddr, sizeof(laddr)) || listen(lsk, 4)) {
				fprintf(stderr, "mem-dirty: can't listen on %s: %s\n", argv[i + 1], strerror(errno));
				return 3;
			}
		}
	a_pages = mib * 256;
	if (mixed) {
		unsigned char page[PAGE];
		int fd = open(mixed, O_RDWR | O_CREAT | O_TRUNC, 0600);
		for (size_t i = 0; fd >= 0 && i < MIXED_PAGES; i++) {
			fill(page, seed_of('F', i, 0));
			if (write(fd, page, PAGE) != PAGE)
				return 3;
		}
		e = fd < 0 ? MAP_FAILED : mmap(NULL, MIXED_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
		sh = mmap(NULL, MIXED_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (e == MAP_FAILED || sh == MAP_FAILED)
			return 3;
		close(fd);
		for (size_t i = 0; i < MIXED_PAGES; i++) {
			if (i % 2)
				fill(e + i * PAGE, seed_of('E', i, 1));
			fill(sh + i * PAGE, seed_of('S', i, 0));
		}
	}
	/* A, a guard page, B, one mapping carved up: A and B stay two areas */
	a = mmap(NULL, a_pages * PAGE + PAGE + SMALL, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	c = mmap(NULL, SMALL, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED || c == MAP_FAILED)
		return 3;
	mprotect(a + a_pages * PAGE, PAGE, PROT_NONE);
	for (size_t i = 0; i < a_pages; i++)
		fill(a + i * PAGE, seed_of('A', i, 0));
	for (size_t i = 0; i < SMALL / PAGE; i++) {
		fill(c + i * PAGE, seed_of('C', i, 0));
		fill(a + a_pages * PAGE + PAGE + i * PAGE, seed_of('B', i, 0));
	}
	sigset_t block, wait_mask;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGUSR2);
	sigprocmask(SIG_BLOCK, &block, &wait_mask);
	sigdelset(&wait_mask, SIGUSR1);
	sigdelset(&wait_mask, SIGUSR2);
	signal(SIGUSR1, on_usr1);
	signal(SIGUSR2, on_usr2);
	if (w_pages) {
		w = mmap(NULL, w_pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		w_gen = calloc(w_pages, sizeof(*w_gen));
		if (w == MAP_FAILED || !w_gen)
			return 3;
		for (size_t i = 0; i < w_pages; i++)
			fill(w + i * PAGE, seed_of('W', i, 0));
		/* the signals blocked above stay blocked in it: they go to the main thread */
		if (pthread_create(&churner, NULL, churn, NULL))
			return 3;
	}
	printf("A=%p %zu\nREADY\n", (void *)a, a_pages);
	fflush(stdout);
	for (;;) {
		/* signals are let in only here: none is missed between the checks */
		sigsuspend(&wait_mask);
		if (next_round) {
			next_round = 0;
			do_round();
		}
		if (check_now)
			return check();
	}
}

/* soak: a tree that keeps working while it is dumped and restored over and over
 * (test/soak.sh drives it; it is not a runner test).
 *
 *   soak [--procs N] [--threads N]
 *
 * The root and N-1 children each run N threads.  Every thread counts in its own
 * slot of a shared page and, at each count, rewrites its own private buffer
 * with a pattern of the count.  Prints "READY" once all run.  On SIGUSR1 the
 * root asks everyone to check (each thread: its buffer holds the pattern of its
 * current count, and the count moved since the last check) and prints
 * "OK ROUND total_counts" or "FAIL: why".  SIGTERM ends the tree.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAXP 16
#define MAXT 16
#define BUF 4096

struct slot {
	atomic_ulong count;
	atomic_ulong checked;     /* count at the last check */
	atomic_int verdict;       /* 0 unknown, 1 ok, 2 fail */
};

struct shared {
	atomic_int round;         /* bumped by the root: check now */
	atomic_int started;
	struct slot s[MAXP][MAXT];
};

static struct shared *sh;
static int nthreads;

struct worker {
	int p, t;
	unsigned char buf[BUF];
};

static void fill(unsigned char *b, unsigned long n, int p, int t)
{
	uint64_t x = n * 0x9e3779b97f4a7c15ULL + (uint64_t)(p * MAXT + t) + 1;
	for (int i = 0; i < BUF; i += 8) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		memcpy(b + i, &x, 8);
	}
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct slot *sl = &sh->s[w->p][w->t];
	unsigned char want[BUF];
	int seen = atomic_load(&sh->round);

	atomic_fetch_add(&sh->started, 1);
	for (;;) {
		unsigned long n = atomic_load(&sl->count) + 1;
		fill(w->buf, n, w->p, w->t);
		atomic_store(&sl->count, n);
		int r = atomic_load(&sh->round);
		if (r != seen) {
			/* check: the buffer is the pattern of the current count, and it counted */
			unsigned long c = atomic_load(&sl->count);
			fill(want, c, w->p, w->t);
			int ok = !memcmp(want, w->buf, BUF) && c > atomic_load(&sl->checked);
			atomic_store(&sl->checked, c);
			atomic_store(&sl->verdict, ok ? 1 : 2);
			seen = r;
		}
		usleep(200);
	}
	return NULL;
}

static void run_threads(int p)
{
	pthread_t th[MAXT];
	for (int t = 0; t < nthreads; t++) {
		struct worker *w = calloc(1, sizeof(*w));
		w->p = p, w->t = t;
		if (pthread_create(&th[t], NULL, work, w))
			_exit(3);
	}
}

static volatile sig_atomic_t check_now, stop_now;
static void on_usr1(int s) { (void)s; check_now = 1; }
static void on_term(int s) { (void)s; stop_now = 1; }

int main(int argc, char **argv)
{
	int nprocs = 4;
	nthreads = 4;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--procs"))
			nprocs = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--threads"))
			nthreads = atoi(argv[i + 1]);
	}
	if (nprocs < 1 || nprocs > MAXP || nthreads < 1 || nthreads > MAXT)
		return 2;
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return 3;
	for (int p = 1; p < nprocs; p++) {
		if (fork() == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			run_threads(p);
			for (;;)
				pause();
		}
	}
	signal(SIGUSR1, on_usr1);
	signal(SIGTERM, on_term);
	run_threads(0);
	while (atomic_load(&sh->started) < nprocs * nthreads)
		usleep(1000);
	printf("READY\n");
	fflush(stdout);
	for (int round = 1; !stop_now;) {
		pause();
		if (!check_now)
			continue;
		check_now = 0;
		for (int p = 0; p < nprocs; p++)
			for (int t = 0; t < nthreads; t++)
				atomic_store(&sh->s[p][t].verdict, 0);
		atomic_store(&sh->round, round);
		unsigned long total = 0;
		const char *why = NULL;
		for (int p = 0; p < nprocs && !why; p++)
			for (int t = 0; t < nthreads && !why; t++) {
				int v = 0;
				for (int i = 0; i < 5000 && !(v = atomic_load(&sh->s[p][t].verdict)); i++)
					usleep(1000);
				if (v != 1)
					why = v ? "a thread's buffer or count is wrong" : "a thread stopped counting";
				total += atomic_load(&sh->s[p][t].count);
				if (why)
					printf("FAIL: round %d: process %d thread %d: %s\n", round, p, t, why);
			}
		if (!why)
			printf("OK %d %lu\n", round, total);
		fflush(stdout);
		round++;
	}
	kill(0, SIGKILL);
	return 0;
}

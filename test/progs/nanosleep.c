/* nanosleep: a process that spends its life in clock_nanosleep.
 *
 * Loop: sleep a relative 50 ms (clock_nanosleep, CLOCK_MONOTONIC); on EINTR
 * keep sleeping until the same 50 ms deadline (absolute); measure that every
 * sleep lasted at least 50 ms; between sleeps, poll stdin for CHECK.  The
 * dump catches it inside the sleep, so the restore must resume (or
 * interrupt) the syscall properly.  After CHECK: no sleep ever came back
 * early or failed, at least one sleep completed after READY, and three more
 * sleeps of 50 ms each take between 50 ms and 1 s.
 */
#include "tst.h"

#include <errno.h>
#include <string.h>

#define SLEEP_NS 50000000L

static long eintr;

/* One 50 ms sleep; returns how long it took in ns. */
static uint64_t sleep_once(void)
{
	uint64_t t0 = tst_now_ns(CLOCK_MONOTONIC);
	struct timespec rel = { 0, SLEEP_NS }, dl;
	dl.tv_sec = (time_t)((t0 + SLEEP_NS) / 1000000000ULL);
	dl.tv_nsec = (long)((t0 + SLEEP_NS) % 1000000000ULL);
	int r = clock_nanosleep(CLOCK_MONOTONIC, 0, &rel, NULL);
	while (r == EINTR) {
		eintr++;
		r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &dl, NULL);
	}
	if (r)
		tst_fail("clock_nanosleep: %s", strerror(r));
	uint64_t took = tst_now_ns(CLOCK_MONOTONIC) - t0;
	if (took < (uint64_t)SLEEP_NS)
		tst_fail("a 50 ms sleep came back after %llu ns", (unsigned long long)took);
	return took;
}

int main(int argc, char **argv)
{
	tst_init(argc, argv);
	sleep_once();
	tst_ready();
	long after_ready = 0;
	uint64_t longest = 0;
	for (;;) {
		uint64_t t = sleep_once();
		if (t > longest)
			longest = t;
		after_ready++;
		if (tst_check_requested())
			break;
	}
	if (tst_corrupting())
		after_ready = 0;
	if (after_ready < 1)
		tst_fail("no sleep completed after READY");
	for (int i = 0; i < 3; i++) {
		uint64_t t = sleep_once();
		if (t > 1000000000ULL)
			tst_fail("a 50 ms sleep after CHECK took %llu ms", (unsigned long long)(t / 1000000));
	}
	tst_info("%ld sleeps after READY, %ld EINTRs, longest %llu ms", after_ready, eintr,
		 (unsigned long long)(longest / 1000000));
	tst_pass();
}

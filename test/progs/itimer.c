/* itimer: armed interval timers.
 *
 * ITIMER_REAL fires every 100 ms into a SIGALRM handler (SA_RESTART) that
 * counts; ITIMER_VIRTUAL (value 5 s, interval 7 s) and ITIMER_PROF (value
 * 8 s, interval 9 s) are armed but, in a process that mostly sleeps, never
 * fire.  The program waits for CHECK in read() with the timer going off under
 * it.  After CHECK: every interval is exactly what was set, the current
 * values are sane (REAL within (0, 100 ms], VIRTUAL/PROF within (0, set +
 * 50 ms]: CPU-time values read back rounded up to a tick),
 * the tick count did not go backwards, and ticks keep arriving: 4 more within
 * 3 s, never more than one per 100 ms.
 */
#include "tst.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/time.h>

static volatile long ticks, vticks, pticks;

static void on_alarm(int sig)
{
	if (sig == SIGALRM)
		ticks++;
	else if (sig == SIGVTALRM)
		vticks++;
	else
		pticks++;
}

static long usec(struct timeval tv)
{
	return tv.tv_sec * 1000000L + tv.tv_usec;
}

static void check_timer(int which, const char *name, long interval, long value_max)
{
	struct itimerval it;
	if (getitimer(which, &it))
		tst_fail("getitimer(%s): %s", name, strerror(errno));
	if (usec(it.it_interval) != interval)
		tst_fail("%s interval is %ld us, want %ld", name, usec(it.it_interval), interval);
	/* CPU-time timers read back rounded up to a tick (and each save/restore
	 * cycle may round once more): allow 50 ms of slack. */
	long slack = which == ITIMER_REAL ? 0 : 50000;
	if (usec(it.it_value) <= 0 || usec(it.it_value) > value_max + slack)
		tst_fail("%s value is %ld us, want (0, %ld]", name, usec(it.it_value), value_max + slack);
}

int main(int argc, char **argv)
{
	tst_init(argc, argv);
	struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = SA_RESTART };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	sigaction(SIGVTALRM, &sa, NULL);
	sigaction(SIGPROF, &sa, NULL);
	struct itimerval real = { { 0, 100000 }, { 0, 100000 } };
	struct itimerval virt = { { 7, 0 }, { 5, 0 } };
	struct itimerval prof = { { 9, 0 }, { 8, 0 } };
	if (setitimer(ITIMER_REAL, &real, NULL) || setitimer(ITIMER_VIRTUAL, &virt, NULL) ||
	    setitimer(ITIMER_PROF, &prof, NULL))
		tst_fail("setitimer: %s", strerror(errno));
	tst_sleep_ms(250);
	if (ticks < 1)
		tst_fail("ITIMER_REAL did not fire before READY");
	long at_ready = ticks;

	tst_ready();
	tst_wait_check();

	long at_check = ticks;
	if (tst_corrupting()) {
		struct itimerval off = { { 0, 0 }, { 0, 0 } };
		setitimer(ITIMER_REAL, &off, NULL);
	}
	if (at_check < at_ready)
		tst_fail("tick count went back from %ld to %ld", at_ready, at_check);
	check_timer(ITIMER_REAL, "ITIMER_REAL", 100000, 100000);
	check_timer(ITIMER_VIRTUAL, "ITIMER_VIRTUAL", 7000000, 5000000);
	check_timer(ITIMER_PROF, "ITIMER_PROF", 9000000, 8000000);
	/* Ticks keep coming, 100 ms apart: 4 more within 3 s (a loaded, emulated machine
	 * may not run us for a while, and expiries meanwhile merge into one signal),
	 * and never more than the time allows. */
	uint64_t t0 = tst_now_ns(CLOCK_MONOTONIC);
	long n;
	while ((n = ticks - at_check) < 4 && tst_now_ns(CLOCK_MONOTONIC) - t0 < 3000000000ULL)
		tst_sleep_ms(10);
	long ms = (tst_now_ns(CLOCK_MONOTONIC) - t0) / 1000000;
	if (n < 4)
		tst_fail("%ld ITIMER_REAL ticks in %ld ms after CHECK, want 4 (one per 100 ms)", n, ms);
	if (n > ms / 100 + 2)
		tst_fail("%ld ITIMER_REAL ticks in %ld ms after CHECK: more than one per 100 ms", n, ms);
	if (vticks || pticks)
		tst_fail("ITIMER_VIRTUAL/PROF fired (%ld/%ld) though almost no CPU time was used", vticks, pticks);
	tst_info("%ld ticks before READY, %ld by CHECK, %ld in the %ld ms after", at_ready, at_check, n, ms);
	tst_pass();
}

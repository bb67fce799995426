/* ns-time: a process in its own time namespace.
 *
 * The program makes a time namespace (unshare CLONE_NEWTIME makes it for
 * children), sets its offsets (monotonic +1,000,000 s, boottime +2,000,000.5 s)
 * and enters it itself (setns on /proc/self/ns/time_for_children).  Until
 * CHECK it samples CLOCK_MONOTONIC and CLOCK_BOOTTIME every few milliseconds.
 * After CHECK:
 *   - /proc/self/timens_offsets shows the same offsets (so it is a time
 *     namespace of its own, made with them);
 *   - the clocks are beyond the offsets (the host's alone would be far
 *     behind: the namespace is in effect, through the vDSO too);
 *   - neither clock went back: every reading after the restore is later than
 *     the last one before the dump, and not by more than 10 minutes;
 *   - a 20 ms sleep takes 20 ms of the namespace's monotonic clock.
 */
#include "tst.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

#define MONO_OFF 1000000LL
#define BOOT_OFF 2000000LL
#define BOOT_OFF_NS 500000000LL
#define NS 1000000000ULL

static void enter_timens(void)
{
	char buf[128];
	int fd;

	if (unshare(CLONE_NEWTIME))
		tst_fail("unshare(CLONE_NEWTIME): %s", strerror(errno));
	snprintf(buf, sizeof(buf), "monotonic %lld 0\nboottime %lld %lld\n", MONO_OFF, BOOT_OFF, BOOT_OFF_NS);
	if ((fd = open("/proc/self/timens_offsets", O_WRONLY)) < 0 || write(fd, buf, strlen(buf)) != (ssize_t)strlen(buf))
		tst_fail("timens_offsets: %s", strerror(errno));
	close(fd);
	if ((fd = open("/proc/self/ns/time_for_children", O_RDONLY)) < 0 || setns(fd, CLONE_NEWTIME))
		tst_fail("entering the time namespace: %s", strerror(errno));
	close(fd);
}

static void check_offsets(void)
{
	char buf[512], name[32];
	long long sec, nsec;
	int found = 0;

	if (tst_read_file("/proc/self/timens_offsets", buf, sizeof(buf)) < 0)
		tst_fail("can't read /proc/self/timens_offsets");
	for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n")) {
		if (sscanf(l, "%31s %lld %lld", name, &sec, &nsec) != 3)
			continue;
		if (!strcmp(name, "monotonic") && sec == MONO_OFF && nsec == 0)
			found |= 1;
		else if (!strcmp(name, "boottime") && sec == BOOT_OFF && nsec == BOOT_OFF_NS)
			found |= 2;
		else
			tst_fail("timens_offsets: unexpected line '%s'", l);
	}
	if (found != 3)
		tst_fail("timens_offsets lacks an offset (found mask %d)", found);
}

int main(int argc, char **argv)
{
	uint64_t last_mono, last_boot;

	tst_init(argc, argv);
	enter_timens();
	last_mono = tst_now_ns(CLOCK_MONOTONIC);
	last_boot = tst_now_ns(CLOCK_BOOTTIME);
	if (last_mono < MONO_OFF * NS || last_boot < BOOT_OFF * NS)
		tst_fail("the offsets are not in effect before the dump (monotonic %llu ns)",
			 (unsigned long long)last_mono);
	tst_ready();
	while (!tst_check_requested()) {
		uint64_t m = tst_now_ns(CLOCK_MONOTONIC), b = tst_now_ns(CLOCK_BOOTTIME);
		if (m < last_mono || b < last_boot)
			tst_fail("a clock went back while running: monotonic %llu -> %llu", (unsigned long long)last_mono,
				 (unsigned long long)m);
		last_mono = m;
		last_boot = b;
		tst_sleep_ms(5);
	}
	uint64_t m = tst_now_ns(CLOCK_MONOTONIC), b = tst_now_ns(CLOCK_BOOTTIME);
	if (tst_corrupting())
		m = last_mono - 1;
	if (m < last_mono || b < last_boot)
		tst_fail("a clock went back across the checkpoint: monotonic %llu -> %llu ns, boottime %llu -> %llu ns",
			 (unsigned long long)last_mono, (unsigned long long)m, (unsigned long long)last_boot,
			 (unsigned long long)b);
	if (m - last_mono > 600 * NS || b - last_boot > 600 * NS)
		tst_fail("a clock jumped ahead across the checkpoint by %llu s", (unsigned long long)((m - last_mono) / NS));
	if (m < MONO_OFF * NS || b < BOOT_OFF * NS)
		tst_fail("the namespace's offsets are lost: monotonic %llu ns", (unsigned long long)m);
	check_offsets();
	tst_sleep_ms(20);
	uint64_t d = tst_now_ns(CLOCK_MONOTONIC) - m;
	if (d < 20000000ULL || d > NS)
		tst_fail("a 20 ms sleep took %llu ns of the namespace's clock", (unsigned long long)d);
	tst_pass();
}

/* signals: signal dispositions, the blocked mask and pending signals.
 *
 * Set up before READY:
 *   SIGUSR1     SA_SIGINFO|SA_RESTART, sa_mask {SIGUSR2, SIGINT}
 *   SIGUSR2     plain handler, SA_NODEFER, sa_mask {SIGHUP}
 *   SIGRTMIN+3  SA_SIGINFO|SA_RESTART, sa_mask {SIGTERM}
 *   SIGINT      SA_SIGINFO|SA_RESETHAND
 *   SIGWINCH    plain handler
 *   SIGHUP, SIGPIPE ignored; SIGCHLD default with SA_NOCLDSTOP
 *   blocked:    SIGUSR2, SIGWINCH, SIGQUIT, SIGRTMIN+3, SIGRTMAX
 *   pending:    SIGUSR2 (raise: thread-private), SIGWINCH (kill: shared),
 *               SIGRTMIN+3 twice (sigqueue with two values: shared, queued)
 *
 * After CHECK: every disposition (handler, flags, restorer, mask, read with the
 * raw rt_sigaction syscall for signals 1-64) is identical to the one at READY;
 * the blocked mask is identical; sigpending and /proc/self/status SigPnd/ShdPnd
 * show exactly those pending signals, private and shared as before; unblocking
 * delivers each of them to its handler (the queued ones once each, in order,
 * with si_code SI_QUEUE, our pid and uid, and their values); raising SIGUSR1
 * runs its handler with its sa_mask in force; SIGINT's SA_RESETHAND still
 * works.
 */
#include "tst.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

struct ksigaction {
	void *handler;
	unsigned long flags;
	void *restorer;
	uint64_t mask;
};

static struct ksigaction saved[65];

static volatile int n_usr2, n_winch, n_rt, n_usr1, n_int;
static volatile int rt_code[4], rt_pid[4], rt_uid[4];
static void *volatile rt_value[4];
static volatile int usr1_code;
static sigset_t usr1_mask;
static void *const value1 = (void *)0x1234567890abcdefULL, *const value2 = (void *)0x0fedcba987654321ULL;

static void h_plain(int sig)
{
	if (sig == SIGUSR2)
		n_usr2++;
	else if (sig == SIGWINCH)
		n_winch++;
}

static void h_info(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (sig == SIGUSR1) {
		n_usr1++;
		usr1_code = si->si_code;
		sigprocmask(SIG_BLOCK, NULL, &usr1_mask);
	} else if (sig == SIGINT) {
		n_int++;
	}
}

static void h_rt(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	int i = n_rt;
	if (i < 4) {
		rt_code[i] = si->si_code;
		rt_pid[i] = si->si_pid;
		rt_uid[i] = (int)si->si_uid;
		rt_value[i] = si->si_value.sival_ptr;
	}
	n_rt = i + 1;
}

static void set(int sig, void *handler, int flags, const int *mask)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	if (flags & SA_SIGINFO)
		sa.sa_sigaction = handler;
	else
		sa.sa_handler = handler;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	for (; mask && *mask; mask++)
		sigaddset(&sa.sa_mask, *mask);
	if (sigaction(sig, &sa, NULL))
		tst_fail("sigaction(%d): %s", sig, strerror(errno));
}

static void snapshot(struct ksigaction *out)
{
	for (int s = 1; s <= 64; s++)
		if (syscall(SYS_rt_sigaction, s, NULL, &out[s], 8))
			tst_fail("rt_sigaction(%d): %s", s, strerror(errno));
}

static uint64_t set_bits(const sigset_t *set)
{
	uint64_t b = 0;
	for (int s = 1; s <= 64; s++)
		if (sigismember(set, s) == 1)
			b |= 1ULL << (s - 1);
	return b;
}

static uint64_t status_hex(const char *field)
{
	static char buf[8192];
	tst_read_file("/proc/self/status", buf, sizeof(buf));
	char *p = strstr(buf, field);
	if (!p)
		tst_fail("no %s in /proc/self/status", field);
	return strtoull(p + strlen(field), NULL, 16);
}

#define BIT(s) (1ULL << ((s) - 1))

int main(int argc, char **argv)
{
	tst_init(argc, argv);
	const int rt = SIGRTMIN + 3;
	set(SIGUSR1, h_info, SA_SIGINFO | SA_RESTART, (const int[]){ SIGUSR2, SIGINT, 0 });
	set(SIGUSR2, h_plain, SA_NODEFER, (const int[]){ SIGHUP, 0 });
	set(rt, h_rt, SA_SIGINFO | SA_RESTART, (const int[]){ SIGTERM, 0 });
	set(SIGINT, h_info, SA_SIGINFO | SA_RESETHAND, NULL);
	set(SIGWINCH, h_plain, 0, NULL);
	set(SIGHUP, SIG_IGN, 0, NULL);
	set(SIGPIPE, SIG_IGN, 0, NULL);
	set(SIGCHLD, SIG_DFL, SA_NOCLDSTOP, NULL);

	sigset_t block;
	sigemptyset(&block);
	int blocked[] = { SIGUSR2, SIGWINCH, SIGQUIT, rt, SIGRTMAX };
	for (size_t i = 0; i < sizeof(blocked) / sizeof(blocked[0]); i++)
		sigaddset(&block, blocked[i]);
	sigprocmask(SIG_SETMASK, &block, NULL);
	const uint64_t want_mask = set_bits(&block);

	raise(SIGUSR2);
	kill(getpid(), SIGWINCH);
	if (sigqueue(getpid(), rt, (union sigval){ .sival_ptr = value1 }) ||
	    sigqueue(getpid(), rt, (union sigval){ .sival_ptr = value2 }))
		tst_fail("sigqueue: %s", strerror(errno));
	const uint64_t want_private = BIT(SIGUSR2), want_shared = BIT(SIGWINCH) | BIT(rt);
	if (status_hex("\nSigPnd:\t") != want_private || status_hex("\nShdPnd:\t") != want_shared)
		tst_fail("pending before READY: SigPnd %llx ShdPnd %llx",
			 (unsigned long long)status_hex("\nSigPnd:\t"), (unsigned long long)status_hex("\nShdPnd:\t"));
	snapshot(saved);

	tst_ready();
	tst_wait_check();

	if (tst_corrupting())
		set(SIGUSR2, h_plain, 0, NULL);
	struct ksigaction now[65];
	snapshot(now);
	for (int s = 1; s <= 64; s++)
		if (memcmp(&now[s], &saved[s], sizeof(now[s])))
			tst_fail("signal %d (%s): disposition is handler %p flags %#lx restorer %p mask %#llx, "
				 "was %p %#lx %p %#llx",
				 s, strsignal(s), now[s].handler, now[s].flags, now[s].restorer,
				 (unsigned long long)now[s].mask, saved[s].handler, saved[s].flags,
				 saved[s].restorer, (unsigned long long)saved[s].mask);
	sigset_t cur, pend;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	if (set_bits(&cur) != want_mask)
		tst_fail("blocked mask %#llx, want %#llx", (unsigned long long)set_bits(&cur),
			 (unsigned long long)want_mask);
	sigpending(&pend);
	if (set_bits(&pend) != (want_private | want_shared))
		tst_fail("pending %#llx, want %#llx", (unsigned long long)set_bits(&pend),
			 (unsigned long long)(want_private | want_shared));
	uint64_t priv = status_hex("\nSigPnd:\t"), shd = status_hex("\nShdPnd:\t");
	if (priv != want_private || shd != want_shared)
		tst_fail("pending: thread SigPnd %#llx (want %#llx), shared ShdPnd %#llx (want %#llx)",
			 (unsigned long long)priv, (unsigned long long)want_private, (unsigned long long)shd,
			 (unsigned long long)want_shared);
	if (n_usr2 || n_winch || n_rt || n_usr1 || n_int)
		tst_fail("a handler ran before unblocking");

	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (n_usr2 != 1)
		tst_fail("SIGUSR2 delivered %d times after unblocking, want 1", n_usr2);
	if (n_winch != 1)
		tst_fail("SIGWINCH delivered %d times after unblocking, want 1", n_winch);
	if (n_rt != 2)
		tst_fail("SIGRTMIN+3 delivered %d times after unblocking, want 2 (queued)", n_rt);
	for (int i = 0; i < 2; i++) {
		void *want = i ? value2 : value1;
		if (rt_code[i] != SI_QUEUE || rt_pid[i] != getpid() || rt_uid[i] != (int)getuid() ||
		    rt_value[i] != want)
			tst_fail("queued signal %d: si_code %d pid %d uid %d value %p, want %d %d %d %p", i,
				 rt_code[i], rt_pid[i], rt_uid[i], rt_value[i], SI_QUEUE, (int)getpid(),
				 (int)getuid(), want);
	}
	sigpending(&pend);
	if (set_bits(&pend))
		tst_fail("still pending after unblocking: %#llx", (unsigned long long)set_bits(&pend));

	raise(SIGUSR1);
	if (n_usr1 != 1 || usr1_code != SI_TKILL)
		tst_fail("SIGUSR1: %d deliveries, si_code %d", n_usr1, usr1_code);
	uint64_t m = set_bits(&usr1_mask);
	if (m != (BIT(SIGUSR1) | BIT(SIGUSR2) | BIT(SIGINT)))
		tst_fail("mask inside the SIGUSR1 handler is %#llx, want USR1|USR2|INT", (unsigned long long)m);
	raise(SIGINT);
	struct sigaction sa;
	sigaction(SIGINT, NULL, &sa);
	if (n_int != 1 || sa.sa_handler != SIG_DFL)
		tst_fail("SIGINT: %d deliveries, SA_RESETHAND did not reset it", n_int);
	tst_pass();
}

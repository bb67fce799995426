/* eventfd: counters and EFD_SEMAPHORE.
 *
 *   fd 20  counter 0x123456789ab (wider than eventfd()'s 32-bit initial
 *          value), O_NONBLOCK
 *   fd 21  EFD_SEMAPHORE with count 3, blocking, FD_CLOEXEC
 * After CHECK: flags and fd flags as they were; fd 20 reads its counter once,
 * then EAGAIN; fd 21 reads 1 three times (a semaphore), then nothing is left.
 */
#include "tst.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	tst_init(argc, argv);
	uint64_t big = 0x123456789abULL, v;
	int a = eventfd(0, EFD_NONBLOCK), b = eventfd(3, EFD_SEMAPHORE | EFD_CLOEXEC);
	if (a < 0 || b < 0 || write(a, &big, 8) != 8 || dup2(a, 20) != 20 || dup2(b, 21) != 21 || close(a) ||
	    close(b))
		tst_fail("eventfd: %s", strerror(errno));
	fcntl(21, F_SETFD, FD_CLOEXEC);
	int fl[2] = { fcntl(20, F_GETFL), fcntl(21, F_GETFL) }, fdfl[2] = { fcntl(20, F_GETFD), fcntl(21, F_GETFD) };
	/* before Linux 6.4 fdinfo does not say "eventfd-semaphore": no dump can know */
	static char info[512];
	tst_read_file("/proc/self/fdinfo/21", info, sizeof(info));
	int sem_known = strstr(info, "eventfd-semaphore:") != NULL;
	if (!sem_known)
		tst_info("SKIP (part): EFD_SEMAPHORE not checked, this kernel's fdinfo does not show it (Linux 6.4)");

	tst_ready();
	tst_wait_check();

	if (tst_corrupting())
		read(20, &v, 8);
	for (int i = 0; i < 2; i++)
		if (fcntl(20 + i, F_GETFL) != fl[i] || fcntl(20 + i, F_GETFD) != fdfl[i])
			tst_fail("fd %d: flags %#o/%#x, were %#o/%#x", 20 + i, fcntl(20 + i, F_GETFL),
				 fcntl(20 + i, F_GETFD), fl[i], fdfl[i]);
	if (read(20, &v, 8) != 8 || v != big)
		tst_fail("fd 20 counted %#llx, want %#llx", (unsigned long long)v, (unsigned long long)big);
	if (read(20, &v, 8) != -1 || errno != EAGAIN)
		tst_fail("fd 20 is not empty after one read");
	for (int i = 0; i < 3 && sem_known; i++)
		if (read(21, &v, 8) != 8 || v != 1)
			tst_fail("semaphore read %d gave %llu, want 1", i, (unsigned long long)v);
	struct pollfd p = { .fd = 21, .events = POLLIN };
	if (sem_known && poll(&p, 1, 0) != 0)
		tst_fail("the semaphore has more than 3");
	tst_pass();
}

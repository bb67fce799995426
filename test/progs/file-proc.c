/* file-proc: files of /proc and /sys held open (node keeps /proc/self/maps open).
 *
 * Their size and mtime are those of an inode the kernel makes anew: after a
 * restore they differ from the dump's and say nothing of a change, so the
 * restore must not refuse them as changed.  At CHECK both fds still read what
 * such files hold: the process's own maps (naming its program) and a sysfs
 * attribute.
 *
 * --corrupt: the maps fd is closed after CHECK, so the check fails.
 */
#include "tst.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define SYS_FILE "/sys/kernel/mm/transparent_hugepage/enabled"

int main(int argc, char **argv)
{
	static char buf[1 << 16];
	char self[4096];
	ssize_t n;

	tst_init(argc, argv);
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len < 0)
		tst_fail("readlink /proc/self/exe: %s", strerror(errno));
	self[len] = 0;
	int maps = open("/proc/self/maps", O_RDONLY);
	int sys = open(SYS_FILE, O_RDONLY);
	if (maps < 0)
		tst_fail("open /proc/self/maps: %s", strerror(errno));
	/* half read, as a program would be caught */
	if (read(maps, buf, 64) != 64)
		tst_fail("read /proc/self/maps: %s", strerror(errno));
	tst_ready();
	tst_wait_check();
	if (tst_corrupting())
		close(maps);
	if ((n = pread(maps, buf, sizeof(buf) - 1, 0)) <= 0)
		tst_fail("the /proc/self/maps fd reads nothing: %s", n < 0 ? strerror(errno) : "end of file");
	buf[n] = 0;
	if (!strstr(buf, self))
		tst_fail("the /proc/self/maps fd does not show %s", self);
	if (sys >= 0 && ((n = pread(sys, buf, sizeof(buf) - 1, 0)) <= 0 || !memchr(buf, '[', n)))
		tst_fail("the %s fd reads no [mode]", SYS_FILE);
	tst_pass();
}

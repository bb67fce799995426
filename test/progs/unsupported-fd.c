/* unsupported-fd: holds an fd of a kind the engine does not dump (yet).
 *
 * Used by test/errors.sh only (not by the runner): the dump must fail with a
 * message naming the fd and its kind, and leave this process running,
 * untraced, exactly as before.  The object sits at fd 5, chosen with
 * --kind K (default io_uring):
 *   io_uring     an io_uring instance (io_uring_setup, 4 entries)
 *   userfaultfd  a userfaultfd (UFFD_USER_MODE_ONLY)
 *   perf_event   a software perf event counting this task's CPU clock
 *   bpf-map      a BPF array map holding 42 at key 0
 *   socket       a unix datagram socket (one end of a socketpair; the other
 *                end is closed)
 * After CHECK the object must still be there (/proc/self/fd/5 names the same
 * object) and still work where that is cheap to tell (the perf counter reads,
 * the map holds 42, the socket is a datagram socket).
 */
#include "tst.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define FD 5
#define UFFD_USER_MODE_ONLY 1

static long bpf(int cmd, union bpf_attr *a)
{
	return syscall(SYS_bpf, cmd, a, sizeof(*a));
}

static int make(const char *kind)
{
	if (!strcmp(kind, "io_uring")) {
		char params[120] = { 0 };   /* struct io_uring_params */
		return syscall(SYS_io_uring_setup, 4, params);
	}
	if (!strcmp(kind, "userfaultfd"))
		return syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
	if (!strcmp(kind, "perf_event")) {
		struct perf_event_attr pa = { .type = PERF_TYPE_SOFTWARE, .size = sizeof(pa),
					      .config = PERF_COUNT_SW_TASK_CLOCK, .exclude_kernel = 1 };
		return syscall(SYS_perf_event_open, &pa, 0, -1, -1, 0);
	}
	if (!strcmp(kind, "bpf-map")) {
		union bpf_attr a = { .map_type = BPF_MAP_TYPE_ARRAY, .key_size = 4, .value_size = 4, .max_entries = 1 };
		int fd = bpf(BPF_MAP_CREATE, &a);
		uint32_t key = 0, val = 42;
		union bpf_attr u = { .map_fd = fd, .key = (uintptr_t)&key, .value = (uintptr_t)&val };
		if (fd >= 0 && bpf(BPF_MAP_UPDATE_ELEM, &u))
			return -1;
		return fd;
	}
	if (!strcmp(kind, "socket")) {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv))
			return -1;
		close(sv[1]);
		return sv[0];
	}
	tst_fail("unknown --kind %s", kind);
}

static void link_of(char *buf, size_t len)
{
	ssize_t n = readlink("/proc/self/fd/5", buf, len - 1);
	buf[n > 0 ? n : 0] = 0;
}

int main(int argc, char **argv)
{
	const char *kind = "io_uring";
	for (int i = 1; i + 1 < argc; i++)
		if (!strcmp(argv[i], "--kind")) {
			kind = argv[i + 1];
			memmove(argv + i, argv + i + 2, (argc - i - 1) * sizeof(*argv));
			argc -= 2;
			break;
		}
	tst_init(argc, argv);
	int f = make(kind);
	if (f < 0)
		tst_fail("can't make a %s: %s", kind, strerror(errno));
	if (f != FD && (dup2(f, FD) != FD || close(f)))
		tst_fail("dup2: %s", strerror(errno));
	char before[256], after[256];
	link_of(before, sizeof(before));
	tst_info("fd %d is %s", FD, before);

	tst_ready();
	tst_wait_check();

	link_of(after, sizeof(after));
	if (strcmp(before, after))
		tst_fail("fd %d is %s, was %s", FD, after, before);
	if (!strcmp(kind, "socket")) {
		int type = 0;
		socklen_t len = sizeof(type);
		if (getsockopt(FD, SOL_SOCKET, SO_TYPE, &type, &len) || type != SOCK_DGRAM)
			tst_fail("fd %d is not the datagram socket any more", FD);
	} else if (!strcmp(kind, "perf_event")) {
		uint64_t v;
		if (read(FD, &v, sizeof(v)) != sizeof(v))
			tst_fail("the perf counter does not read: %s", strerror(errno));
	} else if (!strcmp(kind, "bpf-map")) {
		uint32_t key = 0, val = 0;
		union bpf_attr u = { .map_fd = FD, .key = (uintptr_t)&key, .value = (uintptr_t)&val };
		if (bpf(BPF_MAP_LOOKUP_ELEM, &u) || val != 42)
			tst_fail("the map holds %u, want 42", val);
	}
	tst_pass();
}

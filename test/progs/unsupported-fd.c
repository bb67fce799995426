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
 *   packet       a packet socket (AF_PACKET, SOCK_RAW) with a PACKET_RX_RING
 *   sk-ebpf      a UDP socket with an eBPF program attached (SO_ATTACH_BPF),
 *                which the kernel can't give back as it can a classic filter
 *   pidfd        a pidfd of the process's parent (outside the tree)
 *   pidfd-thread a pidfd (PIDFD_THREAD) of a thread of the process that is not
 *                its leader
 *   memfd-future-write  a memfd sealed with F_SEAL_FUTURE_WRITE that a child
 *                holds too (the only other process this program forks)
 *   aio          a kernel AIO context (io_setup: its ring is a mapping, not
 *                an fd); fd 5 is an eventfd, which is supported
 *   netlink      a netlink socket of a protocol with state in the kernel
 *                (NETLINK_AUDIT)
 *   netlink-queued  a NETLINK_USERSOCK socket with a message waiting, sent
 *                from fd 6 (queued netlink messages can't be saved)
 *   tun-host     a persistent tun device (crtun-PID) in the network namespace
 *                the program was started in (not one of its own), fd 5 its
 *                queue; the check takes the persistence away (it goes with us)
 *   tap-host-2proc  a two-queue tap (crtap-PID) in the network namespace the
 *                program was started in, the second queue a child's fd 5
 *   tap-filter   in a network namespace of its own, a tap (crtap0) with a
 *                classic socket filter (TUNATTACHFILTER), which the kernel
 *                can't give back
 *   tap-outside  in a network namespace of its own, a two-queue tap (crtap1)
 *                whose second queue an orphaned grandchild holds (outside the
 *                tree, as slirp4netns would), until this process is gone
 * and unix sockets in states that can't be dumped:
 *   unix-rights  a unix datagram socket with a unix socket in flight
 *                (SCM_RIGHTS) sent from fd 6, the other end, whose peer a
 *                process outside the tree holds (a grandchild, orphaned)
 *   unix-rights-tree  the same with the peer held by a child process (in the
 *                tree, but not the process whose queue carries it)
 *   unix-rights-loop  the same with the peer closed, and the socket in flight
 *                in its own queue too (nesting without end)
 *   unix-rights-shared  the same with the peer kept (fd 20), and fd 5 held by a
 *                child process too (its queue is refilled by whichever makes it)
 *   unix-rights-held  the same with the socket in flight held by a child process
 *                too (and its peer closed)
 *   unix-rights-elsewhere  the same with the peer in flight on the queue of a
 *                socket an orphaned grandchild holds (outside the tree)
 *   unix-rights-pipe  the same with a pipe's read end in flight, whose write
 *                end a child process holds (the only one this program forks)
 *   unix-queued  a listening socket with a connection from fd 6 not yet
 *                accepted, holding 5 bytes
 *   unix-relative  a datagram socket bound to a relative path (in /tmp)
 * and states of supported kinds that can't be dumped:
 *   fanotify-perm-wait  a fanotify (FAN_CLASS_CONTENT) with FAN_OPEN_PERM on a
 *                file that an orphaned grandchild opens: it waits for the answer
 *   fanotify-unlinked  a fanotify with a mark on a file unlinked since, which fd 6
 *                keeps open (no path leads to the marked inode)
 *   lease-memfd  a memfd with a read lease
 *   lease-breaking  a write lease on a file that another process (gone since)
 *                tried to open: the lease is being broken (SIGIO ignored)
 * After CHECK the object must still be there (/proc/self/fd/5 names the same
 * object) and still work where that is cheap to tell (the perf counter reads,
 * the map holds 42, the socket is of its type, the fd in flight arrives, the
 * connection is accepted with its bytes).
 */
#include "tst.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/filter.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <linux/if_packet.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <string.h>
#include <linux/netlink.h>
#include <stddef.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define FD 5
#define UFFD_USER_MODE_ONLY 1

static long bpf(int cmd, union bpf_attr *a)
{
	return syscall(SYS_bpf, cmd, a, sizeof(*a));
}

static pid_t thread_tid;

static void *thread_main(void *arg)
{
	(void)arg;
	__atomic_store_n(&thread_tid, gettid(), __ATOMIC_SEQ_CST);
	for (;;)
		pause();
	return NULL;
}

/* An orphaned grandchild (outside the tree) opens path with flags, then exits. */
static void grandchild_open(const char *path, int flags)
{
	pid_t c = fork();
	if (c == 0) {
		if (fork() == 0) {
			int f = open(path, flags);
			_exit(f < 0);
		}
		_exit(0);
	}
	waitpid(c, NULL, 0);
}

static int make(const char *kind)
{
	if (!strcmp(kind, "fanotify-perm-wait")) {
		const char *path = tst_tmp_path("perm");
		int f = fanotify_init(FAN_CLASS_CONTENT, O_RDONLY), n = 0;
		if (f < 0 || close(open(path, O_CREAT | O_WRONLY, 0600)) ||
		    fanotify_mark(f, FAN_MARK_ADD, FAN_OPEN_PERM, AT_FDCWD, path))
			return -1;
		grandchild_open(path, O_RDONLY);
		/* until the event is queued: the grandchild waits for its answer */
		for (int i = 0; i < 400 && !n; i++, tst_sleep_ms(5))
			ioctl(f, FIONREAD, &n);
		return n ? f : -1;
	}
	if (!strcmp(kind, "fanotify-unlinked")) {
		const char *path = tst_tmp_path("unlinked");
		int f = fanotify_init(FAN_CLASS_NOTIF, O_RDONLY), keep = open(path, O_CREAT | O_RDONLY, 0600);
		if (f < 0 || keep < 0 || fanotify_mark(f, FAN_MARK_ADD, FAN_MODIFY, AT_FDCWD, path) || unlink(path) ||
		    dup2(keep, 6) != 6)
			return -1;
		close(keep);
		return f;
	}
	if (!strcmp(kind, "lease-memfd")) {
		int f = memfd_create("leased", 0);
		if (f < 0 || fcntl(f, F_SETLEASE, F_RDLCK))
			return -1;
		return f;
	}
	if (!strcmp(kind, "lease-breaking")) {
		const char *path = tst_tmp_path("lease");
		int f = open(path, O_CREAT | O_RDWR, 0600);
		signal(SIGIO, SIG_IGN);
		if (f < 0 || fcntl(f, F_SETLEASE, F_WRLCK))
			return -1;
		grandchild_open(path, O_RDONLY | O_NONBLOCK);
		for (int i = 0; i < 400 && fcntl(f, F_GETLEASE) == F_WRLCK; i++)
			tst_sleep_ms(5);
		return f;
	}
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
	if (!strcmp(kind, "packet")) {
		struct tpacket_req rq = { .tp_block_size = 4096, .tp_block_nr = 1, .tp_frame_size = 2048, .tp_frame_nr = 2 };
		int s = socket(AF_PACKET, SOCK_RAW, 0);
		if (s < 0 || setsockopt(s, SOL_PACKET, PACKET_RX_RING, &rq, sizeof(rq)))
			return -1;
		return s;
	}
	if (!strcmp(kind, "aio")) {
		unsigned long ctx = 0;
		if (syscall(SYS_io_setup, 16, &ctx))
			return -1;
		return eventfd(0, 0);
	}
	if (!strcmp(kind, "pidfd-thread")) {
		pthread_t t;
		if (pthread_create(&t, NULL, thread_main, NULL))
			return -1;
		while (!__atomic_load_n(&thread_tid, __ATOMIC_SEQ_CST))
			usleep(1000);
		return syscall(SYS_pidfd_open, thread_tid, O_EXCL /* PIDFD_THREAD */);
	}
	if (!strcmp(kind, "memfd-future-write")) {
		int m = memfd_create("future-write", MFD_ALLOW_SEALING);
		if (m < 0 || write(m, "sealed", 6) != 6 || fcntl(m, F_ADD_SEALS, F_SEAL_FUTURE_WRITE))
			return -1;
		pid_t child = fork();
		if (child < 0)
			return -1;
		if (!child) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() == 1)
				_exit(0);
			for (;;)
				pause();
		}
		return m;
	}
	if (!strcmp(kind, "pidfd"))
		return syscall(SYS_pidfd_open, getppid(), 0);
	if (!strcmp(kind, "sk-ebpf")) {
		/* r0 = 0xffff (keep the packet); exit */
		struct bpf_insn code[] = {
			{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0xffff },
			{ .code = BPF_JMP | BPF_EXIT },
		};
		union bpf_attr a = { .prog_type = BPF_PROG_TYPE_SOCKET_FILTER, .insn_cnt = 2,
				     .insns = (uintptr_t)code, .license = (uintptr_t)"GPL" };
		int prog = bpf(BPF_PROG_LOAD, &a), s = socket(AF_INET, SOCK_DGRAM, 0);
		if (prog < 0 || s < 0 || setsockopt(s, SOL_SOCKET, SO_ATTACH_BPF, &prog, sizeof(prog)))
			return -1;
		close(prog);
		return s;
	}
	if (!strcmp(kind, "netlink"))
		return socket(AF_NETLINK, SOCK_RAW, NETLINK_AUDIT);
	if (!strcmp(kind, "netlink-queued")) {
		int r = socket(AF_NETLINK, SOCK_RAW, NETLINK_USERSOCK), w = socket(AF_NETLINK, SOCK_RAW, NETLINK_USERSOCK);
		struct sockaddr_nl a = { .nl_family = AF_NETLINK };
		socklen_t l = sizeof(a);
		if (r < 0 || w < 0 || bind(r, (struct sockaddr *)&a, sizeof(a)) || getsockname(r, (struct sockaddr *)&a, &l) ||
		    dup2(w, 6) != 6 || close(w) ||
		    sendto(6, "waiting!", 8, 0, (struct sockaddr *)&a, sizeof(a)) != 8)
			return -1;
		return r;
	}
	if (!strncmp(kind, "unix-rights", 11)) {
		int sv[2], p[2];
		char c = 'r';
		union {
			char b[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} ctl;
		struct iovec iov = { &c, 1 };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof(ctl.b) };
		struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
		bool pipe_kind = !strcmp(kind, "unix-rights-pipe");
		if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) || (pipe_kind ? pipe(p) : socketpair(AF_UNIX, SOCK_STREAM, 0, p)))
			return -1;
		/* the peer socket, out of fd 6's way: another process holds it */
		if (!pipe_kind && (p[1] = fcntl(p[1], F_DUPFD, 20)) < 0)
			return -1;
		if (dup2(sv[1], 6) != 6)
			return -1;
		if (!strcmp(kind, "unix-rights-loop")) {
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(cm), &p[0], sizeof(int));
			if (sendmsg(p[1], &m, 0) != 1)
				return -1;
		} else if (!strcmp(kind, "unix-rights-elsewhere")) {
			/* p[1] on the queue of q[1], which a grandchild holds until we are gone */
			int q[2];
			pid_t parent = getpid(), child;
			if (socketpair(AF_UNIX, SOCK_DGRAM, 0, q))
				return -1;
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(cm), &p[1], sizeof(int));
			if (sendmsg(q[0], &m, 0) != 1 || (child = fork()) < 0)
				return -1;
			if (!child) {
				if (fork())
					_exit(0);
				for (int fd = 0; fd < 1024; fd++)
					if (fd != q[1])
						close(fd);
				while (!kill(parent, 0))
					usleep(100000);
				_exit(0);
			}
			if (waitpid(child, NULL, 0) != child)
				return -1;
			close(q[0]);
			close(q[1]);
		}
		if (pipe_kind || !strcmp(kind, "unix-rights-tree") || !strcmp(kind, "unix-rights-shared") ||
		    !strcmp(kind, "unix-rights-held")) {
			pid_t child = fork();
			if (child < 0)
				return -1;
			if (!child) {
				/* holds the write end (the peer), or fd 5's socket, until its parent is gone */
				prctl(PR_SET_PDEATHSIG, SIGKILL);
				if (getppid() == 1)
					_exit(0);
				if (!strcmp(kind, "unix-rights-shared"))
					close(p[0]), close(p[1]);
				if (!strcmp(kind, "unix-rights-held"))
					close(p[1]);
				if (!strcmp(kind, "unix-rights-tree"))
					close(p[0]);
				for (;;)
					pause();
			}
		} else if (!strcmp(kind, "unix-rights")) {
			/* a grandchild, orphaned, holds the peer: until the socket in flight is gone */
			pid_t child = fork(), gc;
			int st;
			if (child < 0)
				return -1;
			if (!child) {
				if ((gc = fork()) < 0)
					_exit(1);
				if (gc)
					_exit(0);
				for (int fd = 0; fd < 1024; fd++)
					if (fd != p[1])
						close(fd);
				while (read(p[1], &c, 1) > 0)
					;
				_exit(0);
			}
			if (waitpid(child, &st, 0) != child || !WIFEXITED(st) || WEXITSTATUS(st))
				return -1;
		}
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &p[0], sizeof(int));
		if (sendmsg(6, &m, 0) != 1)
			return -1;
		close(p[0]);
		if (strcmp(kind, "unix-rights-shared"))
			close(p[1]);
		close(sv[1]);
		return sv[0];
	}
	if (!strcmp(kind, "unix-queued")) {
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		socklen_t len = offsetof(struct sockaddr_un, sun_path) + 1 +
				snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1, "libcr-tst-%d-queued", getpid());
		int l = socket(AF_UNIX, SOCK_STREAM, 0), c = socket(AF_UNIX, SOCK_STREAM, 0);
		if (l < 0 || c < 0 || bind(l, (struct sockaddr *)&a, len) || listen(l, 4) || dup2(c, 6) != 6 ||
		    connect(6, (struct sockaddr *)&a, len) || send(6, "hello", 5, 0) != 5)
			return -1;
		close(c);
		return l;
	}
	if (!strcmp(kind, "unix-relative")) {
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		int s = socket(AF_UNIX, SOCK_DGRAM, 0);
		if (chdir(tst_tmp_path("rel")) && (mkdir(tst_tmp_path("rel"), 0700) || chdir(tst_tmp_path("rel"))))
			return -1;
		tst_tmp_path("rel/rel.sock");
		strcpy(a.sun_path, "rel.sock");
		if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)))
			return -1;
		return s;
	}
	if (!strcmp(kind, "tap-outside")) {
		struct ifreq r = { .ifr_name = "crtap1", .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_MULTI_QUEUE };
		pid_t parent = getpid(), child;
		int t, ready[2];
		if (unshare(CLONE_NEWNET) || (t = open("/dev/net/tun", O_RDWR)) < 0 || ioctl(t, TUNSETIFF, &r) ||
		    pipe(ready) || (child = fork()) < 0)
			return -1;
		if (!child) {
			if (fork())
				_exit(0);
			int q = open("/dev/net/tun", O_RDWR);
			if (q < 0 || ioctl(q, TUNSETIFF, &r))
				_exit(1);
			for (int fd = 0; fd < 1024; fd++)
				if (fd != q && fd != ready[1])
					close(fd);
			close(ready[1]);
			while (!kill(parent, 0))
				usleep(100000);
			_exit(0);
		}
		close(ready[1]);
		char b;
		if (waitpid(child, NULL, 0) != child || read(ready[0], &b, 1) != 0)
			return -1;
		close(ready[0]);
		return t;
	}
	if (!strcmp(kind, "tun-host") || !strcmp(kind, "tap-filter")) {
		bool tap = !strcmp(kind, "tap-filter");
		struct ifreq r = { .ifr_flags = (tap ? IFF_TAP : IFF_TUN) | IFF_NO_PI };
		static struct sock_filter code[] = { BPF_STMT(BPF_RET | BPF_K, 0xffff) };
		struct sock_fprog prog = { 1, code };
		int t;
		if (tap && unshare(CLONE_NEWNET))
			return -1;
		if ((t = open("/dev/net/tun", O_RDWR)) < 0)
			return -1;
		snprintf(r.ifr_name, IFNAMSIZ, tap ? "crtap0" : "crtun-%d", (int)getpid() % 100000);
		if (ioctl(t, TUNSETIFF, &r) || (tap && ioctl(t, TUNATTACHFILTER, &prog)) ||
		    (!tap && ioctl(t, TUNSETPERSIST, 1UL)))
			return -1;
		return t;
	}
	if (!strcmp(kind, "tap-host-2proc")) {
		struct ifreq r = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_MULTI_QUEUE };
		int t = open("/dev/net/tun", O_RDWR), q, ready[2];
		pid_t child;
		snprintf(r.ifr_name, IFNAMSIZ, "crtap-%d", (int)getpid() % 100000);
		if (t < 0 || ioctl(t, TUNSETIFF, &r) || pipe(ready))
			return -1;
		/* (out of fd 5's way) */
		for (int k = 0; k < 2; k++) {
			int moved = fcntl(ready[k], F_DUPFD, 20);
			if (moved < 0 || close(ready[k]))
				return -1;
			ready[k] = moved;
		}
		if ((child = fork()) < 0)
			return -1;
		if (!child) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			close(t);
			close(ready[0]);
			if ((q = open("/dev/net/tun", O_RDWR)) < 0 || ioctl(q, TUNSETIFF, &r) || dup2(q, FD) != FD ||
			    (q != FD && close(q)))
				_exit(1);
			close(ready[1]);
			for (;;)
				pause();
		}
		close(ready[1]);
		char b;
		if (read(ready[0], &b, 1) != 0)
			return -1;
		close(ready[0]);
		return t;
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
	if (!strcmp(kind, "tun-host") && ioctl(FD, TUNSETPERSIST, 0UL))
		tst_fail("fd %d is not a queue of its tun any more: %s", FD, strerror(errno));
	if (!strcmp(kind, "packet") || !strncmp(kind, "netlink", 7) || !strncmp(kind, "unix-", 5) ||
	    !strcmp(kind, "sk-ebpf")) {
		int type = 0, want = !strncmp(kind, "unix-", 5) || !strcmp(kind, "sk-ebpf") ? SOCK_DGRAM : SOCK_RAW;
		socklen_t len = sizeof(type);
		if (!strcmp(kind, "unix-queued"))
			want = SOCK_STREAM;
		if (getsockopt(FD, SOL_SOCKET, SO_TYPE, &type, &len) || type != want)
			tst_fail("fd %d is not the socket of type %d any more", FD, want);
	}
	if (!strncmp(kind, "unix-rights", 11)) {
		char c = 0;
		union {
			char b[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} ctl;
		struct iovec iov = { &c, 1 };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof(ctl.b) };
		struct cmsghdr *cm;
		int got = -1;
		if (recvmsg(FD, &m, MSG_DONTWAIT) != 1 || c != 'r' || !(cm = CMSG_FIRSTHDR(&m)) || cm->cmsg_type != SCM_RIGHTS)
			tst_fail("the message with the fd in flight is gone: %s", strerror(errno));
		memcpy(&got, CMSG_DATA(cm), sizeof(int));
		int st = 0;
		socklen_t sl = sizeof(st);
		if (!strcmp(kind, "unix-rights-pipe") ? fcntl(got, F_GETPIPE_SZ) <= 0
						      : getsockopt(got, SOL_SOCKET, SO_TYPE, &st, &sl) || st != SOCK_STREAM)
			tst_fail("the fd in flight is not the %s it was", st ? "socket" : "pipe");
	} else if (!strcmp(kind, "netlink-queued")) {
		char buf[16];
		if (recv(FD, buf, sizeof(buf), MSG_DONTWAIT) != 8 || memcmp(buf, "waiting!", 8))
			tst_fail("the waiting netlink message is gone: %s", strerror(errno));
	} else if (!strcmp(kind, "unix-queued")) {
		char buf[8];
		int c = accept(FD, NULL, NULL);
		if (c < 0 || recv(c, buf, sizeof(buf), MSG_DONTWAIT) != 5 || memcmp(buf, "hello", 5))
			tst_fail("the queued connection or its bytes are gone: %s", strerror(errno));
	} else if (!strcmp(kind, "perf_event")) {
		uint64_t v;
		if (read(FD, &v, sizeof(v)) != sizeof(v))
			tst_fail("the perf counter does not read: %s", strerror(errno));
	} else if (!strcmp(kind, "fanotify-perm-wait")) {
		/* answer it: the grandchild's open goes on */
		struct fanotify_event_metadata m;
		if (read(FD, &m, sizeof(m)) != sizeof(m) || m.mask != FAN_OPEN_PERM)
			tst_fail("the permission event is gone: %s", strerror(errno));
		struct fanotify_response r = { .fd = m.fd, .response = FAN_ALLOW };
		if (write(FD, &r, sizeof(r)) != sizeof(r))
			tst_fail("can't answer the permission event: %s", strerror(errno));
		close(m.fd);
	} else if (!strcmp(kind, "fanotify-unlinked")) {
		char buf[1024];
		tst_read_file("/proc/self/fdinfo/5", buf, sizeof(buf));
		if (!strstr(buf, "fanotify ino:"))
			tst_fail("the mark is gone:\n%s", buf);
	} else if (!strcmp(kind, "lease-memfd")) {
		if (fcntl(FD, F_GETLEASE) != F_RDLCK)
			tst_fail("the memfd's lease is gone");
	} else if (!strcmp(kind, "lease-breaking")) {
		if (fcntl(FD, F_GETLEASE) < 0 || fcntl(FD, F_SETLEASE, F_UNLCK))
			tst_fail("the lease is gone: %s", strerror(errno));
	} else if (!strcmp(kind, "bpf-map")) {
		uint32_t key = 0, val = 0;
		union bpf_attr u = { .map_fd = FD, .key = (uintptr_t)&key, .value = (uintptr_t)&val };
		if (bpf(BPF_MAP_LOOKUP_ELEM, &u) || val != 42)
			tst_fail("the map holds %u, want 42", val);
	}
	tst_pass();
}

/* The parasite: runs inside the seized task, serves the dumper's commands over a
 * unix socket.  Freestanding: no libc, only include/common/sys.h. */
#include "sys.h"
#include "parasite-args.h"

#include "blob-lib.c.inc"

#define SOL_SOCKET 1
#define SCM_RIGHTS 1
#define AF_UNIX 1
#define SOCK_SEQPACKET 5
#define SOCK_CLOEXEC 02000000
#define PR_GET_DUMPABLE 3
#define PR_GET_SECUREBITS 27
#define PR_GET_NO_NEW_PRIVS 39
#define PR_GET_TID_ADDRESS 40
#define PR_GET_PDEATHSIG 2
#define PR_GET_CHILD_SUBREAPER 37
#define PR_GET_TIMERSLACK 30
#define PR_GET_THP_DISABLE 42
#define PR_GET_MDWE 66
#define IOV_MAX 1024

static int send_reply(int sock, uint32_t cmd, int ret, uint64_t arg)
{
	struct parasite_msg m = { .cmd = cmd, .ret = ret, .arg = arg };
	struct sys_iovec iov = { &m, sizeof(m) };
	struct sys_msghdr h = { .iov = &iov, .iovlen = 1 };

	return sys_sendmsg(sock, &h, 0) == sizeof(m) ? 0 : -1;
}

/* Receive one command; with INIT and PIPE2 also a pipe fd passed by SCM_RIGHTS. */
static long recv_cmd(int sock, struct parasite_msg *m, int *fd)
{
	union { struct sys_cmsghdr h; char buf[64]; } c;
	struct sys_iovec iov = { m, sizeof(*m) };
	struct sys_msghdr h = { .iov = &iov, .iovlen = 1, .control = &c, .controllen = sizeof(c) };
	long n = sys_recvmsg(sock, &h, 0);

	if (n != sizeof(*m))
		return n < 0 ? n : -1;
	if (fd && h.controllen >= sizeof(c.h) + sizeof(int) && c.h.level == SOL_SOCKET &&
	    c.h.type == SCM_RIGHTS)
		*fd = *(int *)(c.buf + sizeof(c.h));
	return 0;
}

#define SPLICE_F_NONBLOCK 2
#define POLLOUT 4
#define EINTR 4
#define EIO 5
#define EAGAIN 11

struct sys_pollfd { int fd; short events, revents; };

/* One stream of a DUMP_PAGES batch: its next bytes of the iovs, into one pipe. */
struct page_stream {
	int fd;
	uint32_t i;     /* the iov holding the stream's next byte */
	uint64_t in;    /* that byte's offset in it */
	uint64_t left;  /* bytes still to move */
};

static void stream_seek(const struct parasite_args *a, struct page_stream *s, uint64_t at)
{
	for (s->i = 0; s->i < a->nr_iovs && at >= a->iovs[s->i].len; s->i++)
		at -= a->iovs[s->i].len;
	s->in = at;
}

/* vmsplice what the pipe takes of the stream's next IOV_MAX pieces: bytes moved or -errno. */
static long stream_move(const struct parasite_args *a, struct page_stream *s, unsigned flags)
{
	struct sys_iovec iov[IOV_MAX];
	uint64_t want = 0;
	uint32_t n = 0;

	for (uint32_t i = s->i; i < a->nr_iovs && n < IOV_MAX && want < s->left; i++, n++) {
		uint64_t off = i == s->i ? s->in : 0, len = a->iovs[i].len - off;
		if (len > s->left - want)
			len = s->left - want;
		iov[n].base = (void *)(a->iovs[i].base + off);
		iov[n].len = len;
		want += len;
	}
	long r = sys_vmsplice(s->fd, iov, n, flags);
	if (r <= 0)
		return r ? r : -EIO;
	s->left -= r;
	for (uint64_t adv = r; adv;) {
		uint64_t rest = a->iovs[s->i].len - s->in;
		if (adv < rest) {
			s->in += adv;
			break;
		}
		adv -= rest;
		s->i++;
		s->in = 0;
	}
	return r;
}

/* Move the listed pages into the pipe(s) without copying.  One stream blocks
 * while the dumper drains its pipe; two are fed in turn, each as far as its
 * pipe takes, so that both of the dumper's drainers keep writing. */
static long dump_pages(struct parasite_args *a)
{
	uint64_t total = 0, split;
	long r;

	for (uint32_t i = 0; i < a->nr_iovs; i++)
		total += a->iovs[i].len;
	split = a->split < total && a->pipe2_fd >= 0 ? a->split : total;
	struct page_stream s[2] = { { .fd = a->pipe_fd, .left = split }, { .fd = a->pipe2_fd, .left = total - split } };
	stream_seek(a, &s[0], 0);
	stream_seek(a, &s[1], split);
	if (!s[1].left) {
		while (s[0].left)
			if ((r = stream_move(a, &s[0], 0)) < 0)
				return r;
		return total;
	}
	while (s[0].left || s[1].left) {
		int moved = 0;
		for (int k = 0; k < 2; k++) {
			if (!s[k].left)
				continue;
			r = stream_move(a, &s[k], SPLICE_F_NONBLOCK);
			if (r > 0)
				moved = 1;
			else if (r != -EAGAIN)
				return r;
		}
		if (moved)
			continue;
		struct sys_pollfd p[2] = { { s[0].left ? s[0].fd : -1, POLLOUT, 0 },
					   { s[1].left ? s[1].fd : -1, POLLOUT, 0 } };
		if ((r = sys_ppoll(p, 2, 0, 0)) < 0 && r != -EINTR)
			return r;
	}
	return total;
}

/* The last PID its pid namespace gave out, as the sysctl reads it from inside (-1:
 * no procfs here, or not allowed).  Our open fd is gone before anyone sees it. */
static int32_t read_ns_last_pid(void)
{
	char buf[16];
	int32_t v = 0;
	long fd = sys_openat(-100 /* AT_FDCWD */, "/proc/sys/kernel/ns_last_pid", 0 /* O_RDONLY */, 0), n;

	if (fd < 0)
		return -1;
	n = sys_read(fd, buf, sizeof(buf));
	sys_close(fd);
	if (n <= 0)
		return -1;
	for (long i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++)
		v = v * 10 + (buf[i] - '0');
	return v;
}

static long dump_misc(struct parasite_misc *m)
{
	for (int sig = 1; sig <= 64; sig++) {
		struct sys_sigaction sa;
		if (sig == 9 || sig == 19)   /* SIGKILL, SIGSTOP */
			continue;
		long r = sys_rt_sigaction(sig, 0, &sa);
		if (r < 0)
			return r;
		m->sigactions[sig - 1].handler = (uint64_t)sa.handler;
		m->sigactions[sig - 1].flags = sa.flags;
		m->sigactions[sig - 1].restorer = (uint64_t)sa.restorer;
		m->sigactions[sig - 1].mask = sa.mask;
	}
	for (int w = 0; w < 3; w++) {
		struct sys_itimerval v;
		long r = sys_getitimer(w, &v);
		if (r < 0)
			return r;
		m->itimers[w][0] = v.interval.sec;
		m->itimers[w][1] = v.interval.usec;
		m->itimers[w][2] = v.value.sec;
		m->itimers[w][3] = v.value.usec;
	}
	m->brk = sys_brk(0);
	m->dumpable = sys_prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
	m->securebits = sys_prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
	m->no_new_privs = sys_prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
	m->tid_address = 0;
	sys_prctl(PR_GET_TID_ADDRESS, (unsigned long)&m->tid_address, 0, 0, 0);
	sys_prctl(PR_GET_PDEATHSIG, (unsigned long)&m->pdeath_sig, 0, 0, 0);
	sys_prctl(PR_GET_CHILD_SUBREAPER, (unsigned long)&m->child_subreaper, 0, 0, 0);
	m->thp_disabled = sys_prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0);
	long mdwe = sys_prctl(PR_GET_MDWE, 0, 0, 0, 0);
	m->mdwe = mdwe < 0 ? 0 : mdwe;   /* EINVAL: a kernel before 6.3, where nothing sets it */
	m->timer_slack_ns = sys_prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
	m->ns_last_pid = m->want_ns_last_pid ? read_ns_last_pid() : -1;
	/* as the task sees them: in its own pid namespace they differ from ours */
	m->pgid = SC(__NR_getpgid, 0, 0, 0, 0, 0, 0);
	m->sid = SC(__NR_getsid, 0, 0, 0, 0, 0, 0);
	struct { uint64_t sp; int32_t flags; int32_t pad; uint64_t size; } ss;
	if (SC(__NR_sigaltstack, 0, &ss, 0, 0, 0, 0) == 0) {
		m->altstack_sp = ss.sp;
		m->altstack_size = ss.size;
		m->altstack_flags = ss.flags;
	}
	return 0;
}

/* The settings of the listed POSIX timers, as their owner sees them. */
static long dump_timers(struct parasite_timers *t)
{
	for (uint32_t i = 0; i < t->nr && i < PARASITE_MAX_TIMERS; i++) {
		struct { int64_t isec, insec, vsec, vnsec; } its;
		long r = SC(__NR_timer_gettime, t->t[i].id, &its, 0, 0, 0, 0);
		if (r < 0)
			return r;
		t->t[i].interval_sec = its.isec;
		t->t[i].interval_nsec = its.insec;
		t->t[i].value_sec = its.vsec;
		t->t[i].value_nsec = its.vnsec;
		r = SC(__NR_timer_getoverrun, t->t[i].id, 0, 0, 0, 0, 0);
		if (r < 0)
			return r;
		t->t[i].overrun = r;
	}
	return 0;
}

void parasite_main(struct parasite_args *a)
{
	struct parasite_msg m;
	int sock = sys_socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	a->pipe_fd = a->pipe2_fd = -1;
	if (sock < 0)
		return;
	if (sys_connect(sock, &a->addr, a->addr_len) < 0)
		goto out;
	a->sock_fd = sock;
	for (;;) {
		int fd = -1;
		long r;
		if (recv_cmd(sock, &m, &fd))
			break;
		switch (m.cmd) {
		case PARASITE_CMD_INIT:
			a->pipe_fd = fd;
			send_reply(sock, m.cmd, fd >= 0 ? 0 : -9 /* EBADF */, 0);
			break;
		case PARASITE_CMD_PIPE2:
			a->pipe2_fd = fd;
			send_reply(sock, m.cmd, fd >= 0 ? 0 : -9 /* EBADF */, 0);
			break;
		case PARASITE_CMD_DUMP_PAGES:
			r = dump_pages(a);
			send_reply(sock, m.cmd, r < 0 ? r : 0, r < 0 ? 0 : r);
			break;
		case PARASITE_CMD_DUMP_MISC:
			r = dump_misc(&a->misc);
			send_reply(sock, m.cmd, r, 0);
			break;
		case PARASITE_CMD_DUMP_TIMERS:
			r = dump_timers(&a->timers);
			send_reply(sock, m.cmd, r, 0);
			break;
		case PARASITE_CMD_FINI:
			if (a->pipe_fd >= 0)
				sys_close(a->pipe_fd);
			if (a->pipe2_fd >= 0)
				sys_close(a->pipe2_fd);
			send_reply(sock, m.cmd, 0, 0);
			goto out;
		default:
			send_reply(sock, m.cmd, -22, 0);
		}
	}
out:
	sys_close(sock);
}

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include "infect/infect.h"
#include "log.h"
#include "ns/net.h"
#include "fault.h"
#include "util.h"
#include "parasite-blob.h"

#ifndef PTRACE_GETSIGMASK
#define PTRACE_GETSIGMASK 0x420a
#define PTRACE_SETSIGMASK 0x420b
#endif

#define PARASITE_TIMEOUT_MS 10000
#define BLOB_AREA ((parasite_blob_size + 4095) & ~4095UL)

static int poke_bytes(pid_t pid, uint64_t addr, const void *src, size_t len)
{
	for (size_t off = 0; off < len; off += sizeof(long)) {
		long word;
		memcpy(&word, (const char *)src + off, sizeof(long));
		if (ptrace(PTRACE_POKEDATA, pid, addr + off, word))
			return pr_perror("can't write to %d at 0x%lx (PTRACE_POKEDATA)", pid,
					 (unsigned long)(addr + off));
	}
	return 0;
}

static int peek_bytes(pid_t pid, uint64_t addr, void *dst, size_t len)
{
	for (size_t off = 0; off < len; off += sizeof(long)) {
		long word;
		errno = 0;
		word = ptrace(PTRACE_PEEKDATA, pid, addr + off, NULL);
		if (errno)
			return pr_perror("can't read %d at 0x%lx (PTRACE_PEEKDATA)", pid,
					 (unsigned long)(addr + off));
		memcpy((char *)dst + off, &word, sizeof(long));
	}
	return 0;
}

/* Wait for tid's next stop.  A task seized in a group stop (SIGSTOP...) traps once
 * more when first resumed (PTRACE_EVENT_STOP, naming the stop signal) before it
 * runs a single instruction: resume it again, it then does what it was sent to. */
static int wait_trap(pid_t tid, int *status, const char *what)
{
	for (int traps = 0;; traps++) {
		while (waitpid(tid, status, __WALL) < 0)
			if (errno != EINTR)
				return pr_perror("waitpid %d (%s)", tid, what);
		if (!WIFSTOPPED(*status) || *status >> 16 != PTRACE_EVENT_STOP || WSTOPSIG(*status) == SIGTRAP ||
		    traps >= 4)
			return 0;
		if (ptrace(PTRACE_CONT, tid, NULL, NULL))
			return pr_perror("can't resume %d (%s)", tid, what);
	}
}

/* Wait for the task to stop with 'sig'; any other outcome is an error. */
static int wait_stop(struct infect_ctx *ctx, int sig, const char *what)
{
	int status;

	if (wait_trap(ctx->pid, &status, what))
		return -EIO;
	if (WIFSTOPPED(status) && WSTOPSIG(status) == sig)
		return 0;
	if (WIFEXITED(status) || WIFSIGNALED(status))
		pr_err("pid %d died during %s (%s %d)", ctx->pid, what,
		       WIFEXITED(status) ? "exit status" : "signal",
		       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	else
		pr_err("pid %d stopped by signal %d (%s) during %s", ctx->pid, WSTOPSIG(status),
		       strsignal(WSTOPSIG(status)), what);
	return -ECHILD;
}

int infect_prepare(struct infect_ctx *ctx, pid_t pid, uint64_t exec_addr)
{
	uint64_t all = ~0ULL;

	memset(ctx, 0, sizeof(*ctx));
	ctx->pid = pid;
	ctx->memfd = ctx->sock = ctx->pipe_rd = ctx->pipe2_rd = -1;
	if (fault_hit("infect-prepare"))
		return -EIO;
	if (arch_get_regs(pid, &ctx->orig_regs))
		return -EIO;
	if (arch_get_xstate(pid, &ctx->orig_xstate, &ctx->orig_xstate_len))
		return -EIO;
	if (ptrace(PTRACE_GETSIGMASK, pid, sizeof(uint64_t), &ctx->orig_sigmask))
		return pr_perror("can't get the signal mask of %d (PTRACE_GETSIGMASK)", pid);
	/* from here on cure puts them back (before, they are not known: nothing changed) */
	ctx->saved = true;
	/* No handler may run while we drive the task: block everything. */
	if (ptrace(PTRACE_SETSIGMASK, pid, sizeof(uint64_t), &all))
		return pr_perror("can't block signals of %d (PTRACE_SETSIGMASK)", pid);
	ctx->site = exec_addr;
	if (peek_bytes(pid, ctx->site, ctx->site_orig, sizeof(ctx->site_orig)))
		return -EIO;
	ctx->site_known = true;
	return 0;
}

/* The syscall+trap bytes go in for one remote syscall and out right after it.
 * Left in, they would be in the dumped page (the first of the program's code, its
 * _init usually): a process caught before it ran _init trapped on it once restored.
 * They are written through 'tid', a stopped thread of the task (ptrace reaches
 * the memory only through a stopped thread; the leader may be running the parasite). */
static int plant_site(struct infect_ctx *ctx, pid_t tid)
{
	if (poke_bytes(tid, ctx->site, arch_syscall_insn, sizeof(arch_syscall_insn)))
		return -EIO;
	ctx->site_planted = true;
	return 0;
}

static int unplant_site(struct infect_ctx *ctx, pid_t tid)
{
	if (!ctx->site_planted)
		return 0;
	if (poke_bytes(tid, ctx->site, ctx->site_orig, sizeof(arch_syscall_insn)))
		return -EIO;
	ctx->site_planted = false;
	return 0;
}

int infect_syscall(struct infect_ctx *ctx, long nr, long *ret, long a0, long a1, long a2, long a3,
		   long a4, long a5)
{
	const long args[6] = { a0, a1, a2, a3, a4, a5 };
	arch_regs_t regs;

	if (!ctx->curing && fault_hit("remote-syscall"))
		return -EIO;

	arch_regs_setup_syscall(&regs, &ctx->orig_regs, ctx->site, nr, args);
	if (plant_site(ctx, ctx->pid) || arch_set_regs(ctx->pid, &regs))
		return -EIO;
	if (ptrace(PTRACE_CONT, ctx->pid, NULL, NULL))
		return pr_perror("can't resume %d for a remote syscall", ctx->pid);
	if (wait_stop(ctx, SIGTRAP, "a remote syscall"))
		return -EIO;
	if (arch_get_regs(ctx->pid, &regs) || unplant_site(ctx, ctx->pid))
		return -EIO;
	*ret = arch_regs_syscall_ret(&regs);
	return 0;
}

int infect_thread_syscall(struct infect_ctx *ctx, pid_t tid, long nr, long *ret, long a0, long a1, long a2)
{
	const long args[6] = { a0, a1, a2 };
	uint64_t all = ~0ULL, mask;
	arch_regs_t orig, regs;
	int status, err = 0;

	if (arch_get_regs(tid, &orig))
		return -EIO;
	if (ptrace(PTRACE_GETSIGMASK, tid, sizeof(mask), &mask) ||
	    ptrace(PTRACE_SETSIGMASK, tid, sizeof(all), &all))
		return pr_perror("can't block signals of thread %d", tid);
	arch_regs_setup_syscall(&regs, &orig, ctx->site, nr, args);
	if (plant_site(ctx, tid) || arch_set_regs(tid, &regs))
		err = -EIO;
	else if (ptrace(PTRACE_CONT, tid, NULL, NULL))
		err = pr_perror("can't resume thread %d for a remote syscall", tid);
	else {
		err = wait_trap(tid, &status, "a remote syscall");
		if (!err && (!WIFSTOPPED(status) || WSTOPSIG(status) != SIGTRAP))
			err = (pr_err("thread %d did not finish a remote syscall (status 0x%x)", tid, status), -EIO);
		if (!err && !arch_get_regs(tid, &regs))
			*ret = arch_regs_syscall_ret(&regs);
	}
	/* put the thread and the site back exactly as they were, whatever happened */
	if (unplant_site(ctx, tid) || arch_set_regs(tid, &orig) || ptrace(PTRACE_SETSIGMASK, tid, sizeof(mask), &mask))
		err = err ?: -EIO;
	return err;
}

uint64_t infect_scratch_remote(const struct infect_ctx *ctx)
{
	return ctx->remote + ((char *)ctx->args->thread_scratch - (char *)ctx->local);
}

static int remote_call(struct infect_ctx *ctx, const char *what, long nr, long a0, long a1, long a2,
		       long a3, long a4, long a5, long *ret)
{
	if (infect_syscall(ctx, nr, ret, a0, a1, a2, a3, a4, a5))
		return -EIO;
	if (*ret < 0 && *ret > -4096) {
		pr_err("remote %s in pid %d failed: %s", what, ctx->pid, strerror(-*ret));
		return *ret;
	}
	return 0;
}

static int accept_parasite(struct infect_ctx *ctx, int lsk)
{
	struct pollfd pfd = { .fd = lsk, .events = POLLIN };
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int waited = 0, status;

	for (;;) {
		int r = poll(&pfd, 1, 100);
		if (r > 0)
			break;
		if (r < 0 && errno != EINTR)
			return pr_perror("poll for the parasite of %d", ctx->pid);
		/* The parasite died or trapped before connecting? */
		if (waitpid(ctx->pid, &status, __WALL | WNOHANG) == ctx->pid) {
			ctx->running = false;
			if (WIFSTOPPED(status))
				return pr_err("the parasite in %d stopped with signal %d before connecting",
					      ctx->pid, WSTOPSIG(status)), -EIO;
			return pr_err("pid %d died while the parasite started", ctx->pid), -ESRCH;
		}
		if ((waited += 100) > PARASITE_TIMEOUT_MS)
			return pr_err("the parasite in %d did not connect within %d ms", ctx->pid,
				      PARASITE_TIMEOUT_MS), -ETIMEDOUT;
	}
	ctx->sock = accept4(lsk, NULL, NULL, SOCK_CLOEXEC);
	if (ctx->sock < 0)
		return pr_perror("accept the parasite of %d", ctx->pid);
	if (getsockopt(ctx->sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) || cred.pid != ctx->pid)
		return pr_err("a process other than %d connected to the parasite socket", ctx->pid), -EPERM;
	return 0;
}

static int send_with_fd(int sock, const struct parasite_msg *m, int fd)
{
	return send_fds(sock, m, sizeof(*m), &fd, 1, NULL, 0, 0) == sizeof(*m) ? 0 : -errno;
}

/* As large as we may: fewer wakeups per byte (no CAP_SYS_RESOURCE: pipe-max-size caps it). */
static void pipe_size_max(int fd)
{
	char *max = read_file("/proc/sys/fs/pipe-max-size", NULL);

	if (max) {
		fcntl(fd, F_SETPIPE_SZ, atoi(max));
		free(max);
	}
}

int infect_parasite(struct infect_ctx *ctx)
{
	size_t len = BLOB_AREA + PARASITE_ARGS_SIZE + PARASITE_STACK_SIZE;
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char path[64];
	int lsk = -1, pipefd[2] = { -1, -1 }, ret;
	socklen_t alen;
	long r;
	arch_regs_t regs;
	struct parasite_msg m = { .cmd = PARASITE_CMD_INIT };

	/* The memfd is made by the task itself and reached by us through /proc:
	 * the task may not see our /proc (its own pid namespace). */
	static const char name[] = "crtool-parasite";
	if (poke_bytes(ctx->pid, ctx->site + 8, name, sizeof(name) + (8 - sizeof(name) % 8) % 8))
		return -EIO;
	ret = remote_call(ctx, "memfd_create for the parasite", __NR_memfd_create, ctx->site + 8, MFD_CLOEXEC,
			  0, 0, 0, 0, &r);
	if (poke_bytes(ctx->pid, ctx->site + 8, ctx->site_orig + 8, 56) || ret)
		return ret ?: -EIO;
	int remote_fd = r;
	long cr;
	ret = remote_call(ctx, "ftruncate of the parasite memfd", __NR_ftruncate, remote_fd, len, 0, 0, 0, 0, &r);
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", ctx->pid, remote_fd);
	if (!ret && (ctx->memfd = open(path, O_RDWR | O_CLOEXEC)) < 0)
		ret = pr_perror("can't open the parasite memfd %s", path);
	if (ret) {
		remote_call(ctx, "close", __NR_close, remote_fd, 0, 0, 0, 0, 0, &cr);
		return ret;
	}
	ctx->local = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, ctx->memfd, 0);
	if (ctx->local == MAP_FAILED) {
		ctx->local = NULL;
		ret = pr_perror("can't map the parasite memfd");
		remote_call(ctx, "close", __NR_close, remote_fd, 0, 0, 0, 0, 0, &cr);
		return ret;
	}
	ctx->map_len = len;
	memcpy(ctx->local, parasite_blob, sizeof(parasite_blob));
	ctx->args = (struct parasite_args *)((char *)ctx->local + BLOB_AREA);

	/* Never writable and executable at once: a task under memory-deny-write-execute
	 * (PR_SET_MDWE) refuses that, and making a mapping executable later.  The
	 * whole area writable first, then the code (no data of its own) mapped again
	 * over its start, executable from birth. */
	ret = remote_call(ctx, "mmap of the parasite", __NR_mmap, 0, len, PROT_READ | PROT_WRITE, MAP_SHARED,
			  remote_fd, 0, &r);
	if (!ret) {
		ctx->remote = r;
		ret = remote_call(ctx, "mmap of the parasite's code", __NR_mmap, ctx->remote, BLOB_AREA,
				  PROT_READ | PROT_EXEC, MAP_SHARED | MAP_FIXED, remote_fd, 0, &r);
		if (ret) {
			remote_call(ctx, "munmap", __NR_munmap, ctx->remote, len, 0, 0, 0, 0, &cr);
			ctx->remote = 0;
		}
	}
	remote_call(ctx, "close", __NR_close, remote_fd, 0, 0, 0, 0, 0, &cr);
	if (ret)
		return ret;

	/* Control socket: an abstract name only we and the task know, checked by SO_PEERCRED. */
	lsk = netns_socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (lsk < 0)
		return lsk;   /* said why */
	snprintf(addr.sun_path + 1, sizeof(addr.sun_path) - 1, "crtool-parasite-%d-%d-%lx", getpid(),
		 ctx->pid, (unsigned long)ctx->remote);
	alen = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(addr.sun_path + 1);
	if (bind(lsk, (struct sockaddr *)&addr, alen) || listen(lsk, 1)) {
		ret = pr_perror("can't set up the parasite socket");
		goto out;
	}
	memcpy(&ctx->args->addr, &addr, sizeof(ctx->args->addr));
	ctx->args->addr_len = alen;

	if (fault_hit("parasite-start")) {
		ret = -EIO;
		goto out;
	}
	arch_regs_setup_call(&regs, &ctx->orig_regs, ctx->remote + parasite_blob_parasite_entry,
			     ctx->remote + ctx->map_len, ctx->remote + BLOB_AREA);
	if ((ret = arch_set_regs(ctx->pid, &regs)))
		goto out;
	if (ptrace(PTRACE_CONT, ctx->pid, NULL, NULL)) {
		ret = pr_perror("can't start the parasite in %d", ctx->pid);
		goto out;
	}
	ctx->running = true;
	if ((ret = accept_parasite(ctx, lsk)))
		goto out;

	if (pipe2(pipefd, O_CLOEXEC)) {
		ret = pr_perror("can't create the page pipe");
		goto out;
	}
	pipe_size_max(pipefd[0]);
	if (fault_hit("parasite-cmd")) {
		ret = -EIO;
		goto out;
	}
	if ((ret = send_with_fd(ctx->sock, &m, pipefd[1]))) {
		errno = -ret;
		ret = pr_perror("can't send the page pipe to the parasite");
		goto out;
	}
	ctx->pipe_rd = pipefd[0];
	pipefd[0] = -1;
	ret = infect_cmd_recv(ctx, PARASITE_CMD_INIT, NULL);
out:
	if (lsk >= 0)
		close(lsk);
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	return ret;
}

int infect_pipe2(struct infect_ctx *ctx)
{
	struct parasite_msg m = { .cmd = PARASITE_CMD_PIPE2 };
	int p[2], ret;

	if (ctx->pipe2_rd >= 0)
		return 0;
	if (pipe2(p, O_CLOEXEC))
		return pr_perror("can't create the second page pipe");
	pipe_size_max(p[0]);
	ret = send_with_fd(ctx->sock, &m, p[1]);
	close(p[1]);
	if (ret) {
		close(p[0]);
		errno = -ret;
		return pr_perror("can't send the second page pipe to the parasite in %d", ctx->pid);
	}
	ctx->pipe2_rd = p[0];
	ctx->pending = PARASITE_CMD_PIPE2;
	return infect_cmd_recv(ctx, PARASITE_CMD_PIPE2, NULL);
}

int infect_cmd_send(struct infect_ctx *ctx, enum parasite_cmd cmd)
{
	struct parasite_msg m = { .cmd = cmd };

	if (cmd != PARASITE_CMD_FINI && fault_hit("parasite-cmd"))
		return -EIO;
	if (send(ctx->sock, &m, sizeof(m), MSG_NOSIGNAL) != sizeof(m))
		return pr_perror("can't send command %d to the parasite in %d", cmd, ctx->pid);
	ctx->pending = cmd;
	return 0;
}

/* stale: how many replies to earlier commands may come first (skipped) */
static int recv_reply(struct infect_ctx *ctx, enum parasite_cmd cmd, uint64_t *arg, int stale)
{
	struct parasite_msg m;
	struct pollfd pfd = { .fd = ctx->sock, .events = POLLIN };
	int r;
	ssize_t n;

again:
	r = poll(&pfd, 1, PARASITE_TIMEOUT_MS);

	if (r == 0)
		return pr_err("the parasite in %d did not answer command %d within %d ms", ctx->pid, cmd,
			      PARASITE_TIMEOUT_MS), -ETIMEDOUT;
	n = recv(ctx->sock, &m, sizeof(m), 0);
	if (n != sizeof(m)) {
		ctx->running = false;
		return pr_err("the parasite in %d hung up during command %d", ctx->pid, cmd), -EIO;
	}
	if (m.cmd == (uint32_t)ctx->pending)
		ctx->pending = 0;
	if (m.cmd != cmd && stale-- > 0)
		goto again;
	if (m.cmd != cmd)
		return pr_err("the parasite in %d answered command %u instead of %d", ctx->pid, m.cmd, cmd), -EIO;
	if (m.ret < 0)
		return pr_err("parasite command %d in pid %d failed: %s", cmd, ctx->pid, strerror(-m.ret)), m.ret;
	if (arg)
		*arg = m.arg;
	return 0;
}

int infect_cmd_recv(struct infect_ctx *ctx, enum parasite_cmd cmd, uint64_t *arg)
{
	return recv_reply(ctx, cmd, arg, 0);
}

int infect_cmd(struct infect_ctx *ctx, enum parasite_cmd cmd, uint64_t *arg)
{
	int ret = infect_cmd_send(ctx, cmd);

	return ret ? ret : infect_cmd_recv(ctx, cmd, arg);
}

/* A dump that failed mid-stream left the parasite writing pages into the pipe:
 * read them away until it answers (closing the pipe instead would leave it a
 * SIGPIPE, pending until its signals are unblocked, that kills it). */
static void drain_pending(struct infect_ctx *ctx)
{
	struct pollfd pfd[3] = { { .fd = ctx->sock, .events = POLLIN }, { .fd = ctx->pipe_rd, .events = POLLIN },
				 { .fd = ctx->pipe2_rd, .events = POLLIN } };
	char buf[65536];

	if (!ctx->pending || ctx->sock < 0 || ctx->pipe_rd < 0)
		return;
	for (int i = 1; i < 3; i++)
		if (pfd[i].fd >= 0)
			fcntl(pfd[i].fd, F_SETFL, O_NONBLOCK);
	while (poll(pfd, 3, PARASITE_TIMEOUT_MS) > 0 && !(pfd[0].revents & (POLLIN | POLLHUP)))
		for (int i = 1; i < 3; i++)
			while (pfd[i].fd >= 0 && read(pfd[i].fd, buf, sizeof(buf)) > 0)
				;
}

int infect_cure(struct infect_ctx *ctx)
{
	int ret = 0;
	long r;

	ctx->curing = true;     /* no injected fault or cancel stops the cure */
	if (ctx->running) {
		drain_pending(ctx);
		/* Let the parasite return to its trap; if it can't, interrupt it. */
		if (ctx->sock < 0 || infect_cmd_send(ctx, PARASITE_CMD_FINI) ||
		    recv_reply(ctx, PARASITE_CMD_FINI, NULL, 1))
			ptrace(PTRACE_INTERRUPT, ctx->pid, NULL, NULL);
		int status;
		while (waitpid(ctx->pid, &status, __WALL) < 0 && errno == EINTR)
			;
		ctx->running = false;
		if (!WIFSTOPPED(status)) {
			pr_err("pid %d did not survive the parasite", ctx->pid);
			ret = -ESRCH;
			goto close;
		}
	}
	if (ctx->remote && ctx->site_known) {
		if (remote_call(ctx, "munmap of the parasite", __NR_munmap, ctx->remote, ctx->map_len, 0, 0, 0, 0, &r))
			ret = -EIO;
		ctx->remote = 0;
	}
	/* a remote syscall that failed half-way may have left the bytes in */
	if (unplant_site(ctx, ctx->pid))
		ret = -EIO;
	ctx->site_known = false;
	if (ctx->saved && arch_set_regs(ctx->pid, &ctx->orig_regs))
		ret = -EIO;
	if (ctx->saved && ctx->orig_xstate && arch_set_xstate(ctx->pid, ctx->orig_xstate, ctx->orig_xstate_len))
		ret = -EIO;
	if (ctx->saved && ptrace(PTRACE_SETSIGMASK, ctx->pid, sizeof(uint64_t), &ctx->orig_sigmask))
		ret = pr_perror("can't restore the signal mask of %d", ctx->pid);
	ctx->saved = false;
close:
	if (ctx->sock >= 0)
		close(ctx->sock);
	if (ctx->pipe_rd >= 0)
		close(ctx->pipe_rd);
	if (ctx->pipe2_rd >= 0)
		close(ctx->pipe2_rd);
	if (ctx->local)
		munmap(ctx->local, ctx->map_len);
	if (ctx->memfd >= 0)
		close(ctx->memfd);
	free(ctx->orig_xstate);
	ctx->sock = ctx->pipe_rd = ctx->pipe2_rd = ctx->memfd = -1;
	ctx->local = NULL;
	ctx->orig_xstate = NULL;
	ctx->curing = false;
	return ret;
}

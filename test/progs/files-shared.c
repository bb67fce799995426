/* files-shared: open files shared between the processes of a tree.
 *
 *   root ── P ── P1
 *        └─ Q
 *
 *   file    one open file description of a regular file, held by all four (and
 *           dup()ed in the root): one offset, kcmp says the same file
 *   pipe    write end in P1, read end in Q, made by the root, which (like P)
 *           closed both ends: 3000 bytes in flight at the dump
 *   pipe2   write end in P, read end in the root, 500 bytes in flight
 *   eventfd held by the root and Q: one counter
 *   fifo    opened twice, for reading by P and for writing by Q (two
 *           descriptions of one FIFO), 700 bytes in flight
 *
 * After CHECK each process checks its part: the bytes in flight arrive whole and
 * in order, then more written after the restore arrive too; writes through the
 * shared file move everybody's offset; the eventfd counter is one.
 *
 * --corrupt: P1 writes one byte more into the pipe after CHECK, so Q sees a
 * stream that does not match.
 */
#include "tst.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

enum { ROOT, P, P1, Q, NR };
static const char *const names[NR] = { "root", "P", "P1", "Q" };

struct ctl {
	atomic_int phase;             /* 1: check now, 2: exit */
	atomic_int started;
	atomic_int step;              /* the shared-offset handshake */
	pid_t pid[NR];
	atomic_int done[NR];          /* 1 pass, 2 fail */
	char why[NR][200];
};

static struct ctl *ctl;
static int file_fd, file_dup, pipe_r, pipe_w, pipe2_r, pipe2_w, efd, fifo_r = -1, fifo_w = -1;
static const char *fifo_path;

#define PIPE_BYTES 3000
#define PIPE2_BYTES 500
#define FIFO_BYTES 700

static unsigned char pattern(int stream, size_t i)
{
	return (unsigned char)(i * 31 + stream * 7 + (i >> 8));
}

static void fill(int stream, size_t from, unsigned char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = pattern(stream, from + i);
}

static bool verdict(int who, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool verdict(int who, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctl->why[who], sizeof(ctl->why[who]), fmt, ap);
	va_end(ap);
	atomic_store(&ctl->done[who], 2);
	return false;
}

static void write_stream(int fd, int stream, size_t from, size_t n)
{
	unsigned char buf[4096];

	fill(stream, from, buf, n);
	if (write(fd, buf, n) != (ssize_t)n)
		_exit(3);
}

/* Read exactly n bytes of stream from fd (blocking up to 10 s) and compare. */
static bool read_stream(int who, int fd, int stream, size_t from, size_t n, const char *what)
{
	unsigned char got[4096], want[4096];
	size_t have = 0;

	for (int tries = 0; have < n && tries < 2000; tries++) {
		ssize_t r = read(fd, got + have, n - have);
		if (r > 0)
			have += r;
		else if (r == 0)
			return verdict(who, "%s: end of file after %zu of %zu bytes", what, have, n);
		else if (errno == EAGAIN)
			tst_sleep_ms(5);
		else
			return verdict(who, "%s: read: %s", what, strerror(errno));
	}
	if (have < n)
		return verdict(who, "%s: only %zu of %zu bytes", what, have, n);
	fill(stream, from, want, n);
	for (size_t i = 0; i < n; i++)
		if (got[i] != want[i])
			return verdict(who, "%s: byte %zu is %02x, want %02x", what, from + i, got[i], want[i]);
	return true;
}

static bool same_file(int who, pid_t a, int fa, pid_t b, int fb, const char *what)
{
	long r = syscall(SYS_kcmp, a, b, KCMP_FILE, fa, fb);

	if (r != 0)
		return verdict(who, "%s: kcmp says pid %d fd %d and pid %d fd %d differ (%ld: %s)", what, a, fa, b, fb,
			       r, r < 0 ? strerror(errno) : "another file");
	return true;
}

/* Wait for another process to reach step n; false after 10 s or once one failed. */
static bool wait_step(int n)
{
	for (int i = 0; i < 5000 && atomic_load(&ctl->step) < n; i++) {
		for (int who = 0; who < NR; who++)
			if (atomic_load(&ctl->done[who]) == 2)
				return false;
		tst_sleep_ms(2);
	}
	return atomic_load(&ctl->step) >= n;
}

static bool check(int who)
{
	uint64_t v;

	switch (who) {
	case ROOT:
		for (int o = P; o < NR; o++)
			if (!same_file(who, getpid(), file_fd, ctl->pid[o], file_fd, "the shared file"))
				return false;
		if (!same_file(who, getpid(), file_fd, getpid(), file_dup, "the dup()ed fd"))
			return false;
		/* the offset is one: P writes 4 bytes, we see them move ours */
		off_t before = lseek(file_fd, 0, SEEK_CUR);
		atomic_store(&ctl->step, 1);
		if (!wait_step(2))
			return verdict(who, "P did not write to the shared file");
		if (lseek(file_dup, 0, SEEK_CUR) != before + 4)
			return verdict(who, "the shared file's offset is %ld after P wrote 4 bytes at %ld",
				       (long)lseek(file_dup, 0, SEEK_CUR), (long)before);
		if (!read_stream(who, pipe2_r, 2, 0, PIPE2_BYTES + 100, "pipe2 (from P)"))
			return false;
		if (!wait_step(3))   /* Q added to the eventfd */
			return verdict(who, "Q did not add to the eventfd");
		if (read(efd, &v, sizeof(v)) != sizeof(v) || v != 12 + 5)
			return verdict(who, "the eventfd counter is %llu, want 17", (unsigned long long)v);
		return true;
	case P:
		if (!wait_step(1))
			return verdict(who, "the root did not get to the shared file");
		if (write(file_fd, "abcd", 4) != 4)
			return verdict(who, "write to the shared file: %s", strerror(errno));
		atomic_store(&ctl->step, 2);
		write_stream(pipe2_w, 2, PIPE2_BYTES, 100);
		return read_stream(who, fifo_r, 3, 0, FIFO_BYTES + 50, "the FIFO (from Q)");
	case P1:
		write_stream(pipe_w, 1, PIPE_BYTES, 200);
		if (tst_corrupting())
			write_stream(pipe_w, 9, 0, 1);
		return true;
	case Q:
		write_stream(fifo_w, 3, FIFO_BYTES, 50);
		if (!read_stream(who, pipe_r, 1, 0, PIPE_BYTES + 200, "the pipe (from P1)"))
			return false;
		if (tst_corrupting()) {
			unsigned char extra;
			tst_sleep_ms(100);
			if (read(pipe_r, &extra, 1) == 1)
				return verdict(who, "the pipe (from P1): an extra byte after the stream");
		}
		v = 5;
		if (write(efd, &v, sizeof(v)) != sizeof(v))
			return verdict(who, "write to the eventfd: %s", strerror(errno));
		/* after P's step 2: P's store would overwrite an earlier 3 */
		if (!wait_step(2))
			return verdict(who, "P did not get to step 2");
		atomic_store(&ctl->step, 3);
		return true;
	}
	return false;
}

static pid_t spawn(int who);

/* A child: keep only its own ends, put its bytes in flight, wait for CHECK. */
static void child(int who)
{
	ctl->pid[who] = getpid();
	switch (who) {
	case P:
		/* P1 inherits the FIFO's read side too, and closes it */
		if ((fifo_r = open(fifo_path, O_RDONLY | O_NONBLOCK)) < 0)
			_exit(4);
		spawn(P1);
		close(pipe_r), close(pipe_w), close(pipe2_r), close(efd);
		write_stream(pipe2_w, 2, 0, PIPE2_BYTES);
		break;
	case P1:
		close(pipe_r), close(pipe2_r), close(pipe2_w), close(efd), close(fifo_r);
		write_stream(pipe_w, 1, 0, PIPE_BYTES);
		break;
	case Q:
		close(pipe_w), close(pipe2_r), close(pipe2_w);
		fcntl(pipe_r, F_SETFL, O_NONBLOCK);
		while ((fifo_w = open(fifo_path, O_WRONLY | O_NONBLOCK)) < 0)
			tst_sleep_ms(2);   /* until P has its read side open */
		write_stream(fifo_w, 3, 0, FIFO_BYTES);
		break;
	}
	atomic_fetch_add(&ctl->started, 1);
	while (atomic_load(&ctl->phase) < 1)
		tst_sleep_ms(5);
	if (check(who))
		atomic_store(&ctl->done[who], 1);
	while (atomic_load(&ctl->phase) < 2)
		tst_sleep_ms(5);
	_exit(0);
}

static pid_t spawn(int who)
{
	pid_t p = fork();

	if (p < 0)
		tst_fail("fork: %s", strerror(errno));
	if (p == 0)
		child(who);
	return p;
}

int main(int argc, char **argv)
{
	int fds[2];

	tst_init(argc, argv);
	ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ctl == MAP_FAILED)
		tst_fail("mmap: %s", strerror(errno));
	ctl->pid[ROOT] = getpid();
	if ((file_fd = open(tst_tmp_path("file"), O_RDWR | O_CREAT, 0600)) < 0 ||
	    write(file_fd, "0123456789", 10) != 10 || (file_dup = dup(file_fd)) < 0)
		tst_fail("the shared file: %s", strerror(errno));
	fifo_path = tst_tmp_path("fifo");
	if (mkfifo(fifo_path, 0600))
		tst_fail("mkfifo: %s", strerror(errno));
	if (pipe(fds))
		tst_fail("pipe: %s", strerror(errno));
	pipe_r = fds[0], pipe_w = fds[1];
	if (pipe2(fds, O_NONBLOCK))
		tst_fail("pipe: %s", strerror(errno));
	pipe2_r = fds[0], pipe2_w = fds[1];
	if ((efd = eventfd(12, 0)) < 0)
		tst_fail("eventfd: %s", strerror(errno));

	spawn(P);
	spawn(Q);
	close(pipe_r), close(pipe_w), close(pipe2_w);
	for (int i = 0; i < 2000 && atomic_load(&ctl->started) < NR - 1; i++)
		tst_sleep_ms(5);
	if (atomic_load(&ctl->started) < NR - 1)
		tst_fail("only %d of %d children started", atomic_load(&ctl->started), NR - 1);
	tst_ready();
	tst_wait_check();
	atomic_store(&ctl->phase, 1);
	bool ok = check(ROOT);
	/* a child's own failure first: the root's may only be waiting for it */
	for (int who = P; who < NR; who++)
		if (atomic_load(&ctl->done[who]) == 2) {
			atomic_store(&ctl->phase, 2);
			tst_fail("%s (pid %d): %s", names[who], ctl->pid[who], ctl->why[who]);
		}
	for (int who = P; who < NR; who++) {
		for (int i = 0; i < 4000 && !atomic_load(&ctl->done[who]); i++)
			tst_sleep_ms(5);
		if (atomic_load(&ctl->done[who]) != 1) {
			atomic_store(&ctl->phase, 2);
			tst_fail("%s (pid %d): %s", names[who], ctl->pid[who],
				 atomic_load(&ctl->done[who]) ? ctl->why[who] : "no answer");
		}
	}
	atomic_store(&ctl->phase, 2);
	if (!ok)
		tst_fail("root: %s", ctl->why[ROOT]);
	while (wait(NULL) > 0)
		;
	tst_pass();
}

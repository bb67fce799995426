/* A second CPU for the fill of a task's memory.  The restoring task copies its
 * memory in with UFFDIO_COPY (copyin.c) on one CPU.  It can't start a thread or a
 * process of its own to share the work: either takes a PID in the namespaces being
 * restored, one a restored task may need.  libcr's process is idle meanwhile,
 * waiting for the tasks: it takes the task's userfaultfd and pages image
 * (pidfd_getfd) and copies pieces of the batch from its own mapping of the image;
 * UFFDIO_COPY fills the mm the userfaultfd belongs to, whoever calls it.  Both
 * sides claim pieces from one cursor, so neither waits for the other's half; the
 * task only waits for the piece the helper is copying when none is left.
 * 1 GiB was filled in 0.15 s instead of 0.28 s on two CPUs here. */
#include <errno.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "fault.h"
#include "kerndat.h"
#include "log.h"
#include "mem/copyin-share.h"
#include "util.h"

enum {
	COPYIN_SHARE_FREE,      /* no batch */
	COPYIN_SHARE_POSTING,   /* a task is writing one */
	COPYIN_SHARE_POSTED,    /* waiting for the helper */
	COPYIN_SHARE_TAKEN,     /* the helper copies pieces */
	COPYIN_SHARE_DONE,      /* the helper has stopped (or was never coming) */
};

#define SHARE_MIN (16UL << 20)   /* smaller batches are not worth the hand-over */

static struct copyin_share *share;   /* inherited by the tasks */
static bool stopped;                 /* CR_FAULT restore-fill-helper: helps no more */

static uint64_t pidns_ino(void)
{
	struct stat st;

	return stat("/proc/self/ns/pid", &st) ? 0 : (uint64_t)st.st_ino;
}

static bool cas(uint32_t *word, uint32_t from, uint32_t to)
{
	return __atomic_compare_exchange_n(word, &from, to, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

void copyin_share_init(struct copyin_share *sh)
{
	memset(sh, 0, sizeof(*sh));
	stopped = false;
	sh->pidns = kerndat_get()->pidfd_getfd ? pidns_ino() : 0;
	share = sh->pidns ? sh : NULL;
}

void copyin_share_end(void)
{
	share = NULL;
}

uint32_t copyin_share_seq(struct copyin_share *sh)
{
	return __atomic_load_n(&sh->seq, __ATOMIC_SEQ_CST);
}

void copyin_share_wait(struct copyin_share *sh, uint32_t seq, uint32_t *word, uint32_t val,
		       const struct timespec *ts)
{
	struct futex_waitv w[2] = {
		{ .val = val, .uaddr = (uintptr_t)word, .flags = FUTEX_32 },
		{ .val = seq, .uaddr = (uintptr_t)&sh->seq, .flags = FUTEX_32 },
	};
	struct timespec until;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += ts->tv_sec + (until.tv_nsec + ts->tv_nsec) / 1000000000;
	until.tv_nsec = (until.tv_nsec + ts->tv_nsec) % 1000000000;
	/* before 5.16 only the word wakes us: a post may then wait for the timeout */
	if (syscall(SYS_futex_waitv, w, 2, 0, &until, CLOCK_MONOTONIC) < 0 && errno == ENOSYS)
		syscall(SYS_futex, word, FUTEX_WAIT, val, ts, NULL, 0);
}

/* The next unclaimed piece, or NULL. */
static const struct copyin_piece *claim(struct copyin_share *sh)
{
	uint32_t i = __atomic_fetch_add(&sh->next, 1, __ATOMIC_SEQ_CST);

	return i < sh->nr ? &sh->pieces[i] : NULL;
}

/* The window is mapped as it is: each side populates the source of a piece when it
 * claims it (one call, not a fault per page), so neither waits for the whole window. */
static char *map_window(int fd, uint64_t lo, uint64_t hi)
{
	char *m = mmap(NULL, hi - lo, PROT_READ, MAP_SHARED, fd, lo);

	return m == MAP_FAILED ? NULL : m;
}

static uint64_t copy_from_window(int uffd, const struct copyin_piece *p, char *win, uint64_t lo)
{
	char *src = win + (p->off - lo);

	madvise(src, p->len, MADV_POPULATE_READ);   /* best effort: faults do the rest */
	return copyin_piece_copy(uffd, p, src);
}

bool copyin_share_serve(struct copyin_share *sh)
{
	const struct copyin_piece *p;
	int pidfd, uffd = -1, fd = -1;
	char *win = NULL;

	if (__atomic_load_n(&sh->state, __ATOMIC_SEQ_CST) != COPYIN_SHARE_POSTED ||
	    !cas(&sh->state, COPYIN_SHARE_POSTED, COPYIN_SHARE_TAKEN))
		return false;
	pidfd = stopped ? -1 : syscall(SYS_pidfd_open, sh->pid, 0);
	if (pidfd >= 0) {
		uffd = syscall(SYS_pidfd_getfd, pidfd, sh->uffd, 0);
		fd = syscall(SYS_pidfd_getfd, pidfd, sh->fd, 0);
		close(pidfd);
	}
	if (uffd >= 0 && fd >= 0)
		win = map_window(fd, sh->lo, sh->hi);
	/* without them the task copies every piece itself */
	while (win && (p = claim(sh))) {
		struct copyin_piece part = *p;
		uint64_t done;
		/* (test: stop halfway through a piece, and help no more; the task copies the rest) */
		if (part.len >= 2 * PAGE_SIZE && fault_hit("restore-fill-helper")) {
			part.len = part.len / 2 & ~(PAGE_SIZE - 1);
			stopped = true;
		}
		done = copy_from_window(uffd, &part, win, sh->lo);
		sh->helped += done;
		if (done < p->len) {
			sh->redo = (struct copyin_piece){ p->dst + done, p->off + done, p->len - done };
			break;
		}
	}
	if (win)
		munmap(win, sh->hi - sh->lo);
	if (uffd >= 0)
		close(uffd);
	if (fd >= 0)
		close(fd);
	__atomic_store_n(&sh->state, COPYIN_SHARE_DONE, __ATOMIC_SEQ_CST);
	syscall(SYS_futex, &sh->state, FUTEX_WAKE, 1, NULL, NULL, 0);
	return true;
}

static int copy_one(int uffd, const struct copyin_piece *p, char *win, uint64_t lo)
{
	uint64_t done = copy_from_window(uffd, p, win, lo);

	if (done < p->len)
		return pr_perror("can't fill 0x%lx (%lu bytes)", (unsigned long)(p->dst + done),
				 (unsigned long)(p->len - done));
	return 0;
}

/* The task's part of a posted batch: pieces until none is left, then what the
 * helper left.  The slot is free again when it returns. */
static int fill_shared(struct copyin_share *sh, int uffd, char *win, uint64_t lo)
{
	const struct copyin_piece *p;
	uint32_t st;
	int ret = 0;

	while (!ret && (p = claim(sh)))
		ret = copy_one(uffd, p, win, lo);
	/* not taken: withdrawn; taken: wait for the helper's last piece */
	if (!cas(&sh->state, COPYIN_SHARE_POSTED, COPYIN_SHARE_DONE))
		while ((st = __atomic_load_n(&sh->state, __ATOMIC_SEQ_CST)) == COPYIN_SHARE_TAKEN)
			syscall(SYS_futex, &sh->state, FUTEX_WAIT, st, NULL, NULL, 0);
	if (!ret && sh->redo.len)
		ret = copy_one(uffd, &sh->redo, win, lo);
	__atomic_store_n(&sh->state, COPYIN_SHARE_FREE, __ATOMIC_SEQ_CST);
	return ret;
}

int copyin_share_fill(int uffd, int fd, const struct copyin_piece *p, size_t nr, uint64_t bytes)
{
	struct copyin_share *sh = share;
	uint64_t lo = p[0].off, hi = p[nr - 1].off + p[nr - 1].len;
	char *win = map_window(fd, lo, hi);
	int ret = 0;

	if (!win)
		return pr_perror("can't map %lu bytes of the pages image at %lu", (unsigned long)(hi - lo),
				 (unsigned long)lo);
	if (sh && bytes >= SHARE_MIN && pidns_ino() == sh->pidns &&
	    cas(&sh->state, COPYIN_SHARE_FREE, COPYIN_SHARE_POSTING)) {
		sh->pid = getpid();
		sh->uffd = uffd;
		sh->fd = fd;
		sh->lo = lo;
		sh->hi = hi;
		memcpy(sh->pieces, p, nr * sizeof(*p));
		sh->nr = nr;
		sh->next = 0;
		sh->redo.len = 0;
		__atomic_store_n(&sh->state, COPYIN_SHARE_POSTED, __ATOMIC_SEQ_CST);
		__atomic_add_fetch(&sh->seq, 1, __ATOMIC_SEQ_CST);
		syscall(SYS_futex, &sh->seq, FUTEX_WAKE, 1, NULL, NULL, 0);
		ret = fill_shared(sh, uffd, win, lo);
	} else {
		for (size_t i = 0; i < nr && !ret; i++)
			ret = copy_one(uffd, &p[i], win, lo);
	}
	munmap(win, hi - lo);
	return ret;
}

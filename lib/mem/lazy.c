/* Lazy restore.  Each restored task, once its memory is premapped, registers its
 * private anonymous areas (left empty) with a userfaultfd in missing mode and
 * hands it to the lazy-pages daemon over a unix socket named after the images
 * dir.  The daemon answers every fault with the page from the images
 * (UFFDIO_COPY, a few pages at once; UFFDIO_ZEROPAGE for a page the images don't
 * list) and meanwhile pushes every remaining page in address order.  A task's
 * userfaultfd is closed once all its pages are in: the kernel then drops the
 * registration and the task runs on as if restored eagerly.
 *
 * The task moves its areas into place after registering them (the restorer's
 * mremap), forks, unmaps or discards memory: the non-cooperative events (REMAP,
 * FORK, UNMAP, REMOVE) keep the daemon's picture of each task's areas right.
 * Addresses in the images are "image" addresses; an area's current base is
 * where it is in the task now. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>
#include "log.h"
#include "ns/net.h"
#include "mem/layers.h"
#include "mem/lazy.h"
#include "uapi-compat.h"
#include "util.h"

#define LAZY_MAGIC 0x6c617a79u   /* "lazy" */
#define LAZY_MAX_AREAS 8192
#define FAULT_PAGES 16            /* pages copied for one fault, where the images list them */
#define PUSH_PAGES 256            /* pages per background copy */

struct lazy_hello {
	uint32_t magic;
	int32_t vpid;                 /* 0: the restore's own session */
	uint32_t nr;
	uint32_t pad;
};

static int lazy_addr(const char *dir, struct sockaddr_un *sa, socklen_t *len)
{
	return dir_socket_addr(dir, "libcr-lazy", sa, len);
}

static int connect_daemon(const char *dir)
{
	struct sockaddr_un sa;
	socklen_t len;
	int sk, ret;

	if ((ret = lazy_addr(dir, &sa, &len)))
		return ret;
	/* from the caller's network namespace: a restored tree may have its own */
	if ((sk = netns_caller_socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) < 0)
		return pr_perror("lazy restore: socket");
	if (connect(sk, (struct sockaddr *)&sa, len)) {
		ret = errno == ECONNREFUSED ? (pr_err("no lazy-pages daemon serves %s: start `crtool lazy-pages -D %s` "
						      "first", dir, dir), -ECONNREFUSED)
					    : pr_perror("can't reach the lazy-pages daemon of %s", dir);
		close(sk);
		return ret;
	}
	return sk;
}

int lazy_session_open(const char *dir)
{
	struct lazy_hello h = { .magic = LAZY_MAGIC };
	int sk = connect_daemon(dir);

	if (sk < 0)
		return sk;
	if (send(sk, &h, sizeof(h), MSG_NOSIGNAL) != sizeof(h)) {
		close(sk);
		return pr_perror("lazy restore: can't greet the daemon of %s", dir);
	}
	return sk;
}

int lazy_register(const char *dir, pid_t vpid, const struct lazy_area *a, size_t n)
{
	struct uffdio_api api = { .api = UFFD_API,
				  .features = UFFD_FEATURE_EVENT_FORK | UFFD_FEATURE_EVENT_REMAP |
					      UFFD_FEATURE_EVENT_REMOVE | UFFD_FEATURE_EVENT_UNMAP };
	size_t len = sizeof(struct lazy_hello) + n * sizeof(*a);
	struct lazy_hello *h;
	int uffd, sk = -1, ret = 0;

	if (!n)
		return 0;
	if (n > LAZY_MAX_AREAS)
		return pr_err("pid %d: %zu areas to restore lazily, more than %d", vpid, n, LAZY_MAX_AREAS), -E2BIG;
	/* faults the kernel takes in the task's name (rseq, robust lists) are served too:
	 * no UFFD_USER_MODE_ONLY */
	if ((uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK)) < 0)
		return pr_perror("lazy restore: userfaultfd");
	if (ioctl(uffd, UFFDIO_API, &api)) {
		ret = pr_perror("lazy restore: UFFDIO_API (fork, remap, remove and unmap events)");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct uffdio_register reg = { .range = { a[i].premap, a[i].len }, .mode = UFFDIO_REGISTER_MODE_MISSING };
		if (ioctl(uffd, UFFDIO_REGISTER, &reg)) {
			ret = pr_perror("lazy restore: can't register the area of 0x%lx", (unsigned long)a[i].start);
			goto out;
		}
	}
	if (!(h = malloc(len))) {
		ret = -ENOMEM;
		goto out;
	}
	*h = (struct lazy_hello){ .magic = LAZY_MAGIC, .vpid = vpid, .nr = n };
	memcpy(h + 1, a, n * sizeof(*a));
	if ((sk = connect_daemon(dir)) < 0)
		ret = sk;
	else if (send_fds(sk, h, len, &uffd, 1, NULL, 0, MSG_NOSIGNAL) != (ssize_t)len)
		ret = pr_perror("lazy restore: can't hand pid %d's memory to the daemon", vpid);
	free(h);
out:
	if (sk >= 0)
		close(sk);
	close(uffd);   /* the daemon has its own copy: the task keeps none */
	return ret;
}

/* ---- the daemon */

struct range {
	uint64_t start, end;     /* image addresses */
};

struct proc {
	pid_t vpid;
	int uffd;
	struct layer *pages;
	struct lazy_area *areas; /* premap: the current base */
	size_t nr_areas;
	struct range *gone;      /* unmapped or discarded since: never filled */
	size_t nr_gone;
	uint64_t *retry;         /* faults to answer once the task's mappings settle */
	size_t nr_retry;
	unsigned misses;         /* pushes in a row that found no mapping where the table said */
	size_t run;              /* background push: next run of the pagemap ... */
	uint64_t at;             /* ... and the address in it */
	bool done;
};

struct daemon {
	const char *dir;
	struct proc **p;
	size_t nr;
	int sessions;            /* restores still going on */
	bool had_session;
	char *buf;               /* PUSH_PAGES pages */
	uint64_t copied, zeroed, faults;
};

static struct lazy_area *area_at(struct proc *p, uint64_t cur)
{
	for (size_t i = 0; i < p->nr_areas; i++)
		if (cur >= p->areas[i].premap && cur < p->areas[i].premap + p->areas[i].len)
			return &p->areas[i];
	return NULL;
}

static struct lazy_area *area_of_image(struct proc *p, uint64_t addr)
{
	for (size_t i = 0; i < p->nr_areas; i++)
		if (addr >= p->areas[i].start && addr < p->areas[i].start + p->areas[i].len)
			return &p->areas[i];
	return NULL;
}

static bool is_gone(const struct proc *p, uint64_t addr)
{
	for (size_t i = 0; i < p->nr_gone; i++)
		if (addr >= p->gone[i].start && addr < p->gone[i].end)
			return true;
	return false;
}

static void drop_proc(struct daemon *d, size_t i)
{
	struct proc *p = d->p[i];

	close(p->uffd);
	free(p->areas);
	free(p->gone);
	free(p->retry);
	/* the layers may be shared with a forked child: freed with the daemon */
	free(p);
	d->p[i] = d->p[--d->nr];
}

static int add_proc(struct daemon *d, struct proc *p)
{
	struct proc **n = realloc(d->p, (d->nr + 1) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	d->p = n;
	d->p[d->nr++] = p;
	return 0;
}

/* Copy len bytes of the task's image range [addr, addr + len) to cur; the number of
 * bytes that went in, or -errno (EEXIST: the first page is there already). */
static long copy_in(struct daemon *d, struct proc *p, uint64_t cur, uint64_t addr, uint64_t len)
{
	struct uffdio_copy c = { .dst = cur, .src = (uintptr_t)d->buf, .len = len };
	int ret = layers_get(p->pages, p->vpid, addr, len, d->buf);

	if (ret)
		return ret;
	if (ioctl(p->uffd, UFFDIO_COPY, &c) && c.copy <= 0)
		return c.copy < 0 ? c.copy : -errno;
	d->copied += c.copy / PAGE_SIZE;
	return c.copy;
}

static void wake(struct proc *p, uint64_t cur, uint64_t len)
{
	struct uffdio_range r = { cur, len };
	ioctl(p->uffd, UFFDIO_WAKE, &r);
}

static int serve_fault(struct daemon *d, struct proc *p, uint64_t fault)
{
	uint64_t cur = fault & ~(PAGE_SIZE - 1), addr, len = PAGE_SIZE;
	struct lazy_area *a = area_at(p, cur);
	long n;

	d->faults++;
	if (!a) {
		wake(p, cur, PAGE_SIZE);
		return 0;
	}
	addr = a->start + (cur - a->premap);
	if (is_gone(p, addr) || !layers_listed(p->pages, addr)) {
		struct uffdio_zeropage z = { .range = { cur, PAGE_SIZE } };
		if (ioctl(p->uffd, UFFDIO_ZEROPAGE, &z) && errno != EEXIST && errno != ENOENT && errno != ESRCH)
			return pr_perror("lazy-pages: pid %d: can't map a zero page at 0x%lx", p->vpid,
					 (unsigned long)cur);
		if (errno == EEXIST)
			wake(p, cur, PAGE_SIZE);
		d->zeroed++;
		return 0;
	}
	/* a few pages ahead too, while they are listed, in the same area and not gone */
	while (len < FAULT_PAGES * PAGE_SIZE && addr + len < a->start + a->len && layers_listed(p->pages, addr + len) &&
	       !is_gone(p, addr + len))
		len += PAGE_SIZE;
	n = copy_in(d, p, cur, addr, len);
	if (n == -EAGAIN) {
		/* the task's mappings are changing (an event is queued): answer after it */
		uint64_t *r = realloc(p->retry, (p->nr_retry + 1) * sizeof(*r));
		if (!r)
			return -ENOMEM;
		p->retry = r;
		p->retry[p->nr_retry++] = fault;
		return 0;
	}
	if (n == -EEXIST || (n > 0 && n < (long)PAGE_SIZE)) {
		wake(p, cur, PAGE_SIZE);   /* pushed meanwhile: just let the task go */
		return 0;
	}
	if (n == -ENOENT || n == -ESRCH)
		return 0;   /* the area or the task went away */
	if (n < 0)
		return errno = -n, pr_perror("lazy-pages: pid %d: can't fill the page at 0x%lx", p->vpid,
					     (unsigned long)cur);
	return 0;
}

/* One step of the background push; 1 when the task has all its pages. */
static int push_some(struct daemon *d, struct proc *p)
{
	while (p->run < layers_nr_runs(p->pages)) {
		uint64_t start, end;

		layers_run(p->pages, p->run, &start, &end);
		if (p->at < start)
			p->at = start;
		if (p->at >= end) {
			p->run++;
			continue;
		}
		struct lazy_area *a = area_of_image(p, p->at);
		if (!a) {
			p->at = end;   /* an area restored eagerly */
			continue;
		}
		if (end > a->start + a->len)
			end = a->start + a->len;
		uint64_t len = end - p->at;
		if (len > PUSH_PAGES * PAGE_SIZE)
			len = PUSH_PAGES * PAGE_SIZE;
		for (uint64_t o = 0; o < len; o += PAGE_SIZE)
			if (is_gone(p, p->at + o)) {
				len = o ? o : PAGE_SIZE;
				break;
			}
		if (is_gone(p, p->at)) {
			p->at += PAGE_SIZE;
			return 0;
		}
		long n = copy_in(d, p, a->premap + (p->at - a->start), p->at, len);
		if (n == -EAGAIN)
			return 0;   /* the task's mappings are changing: its events first */
		/* No mapping there: the area has moved and its REMAP event is still queued
		 * (the kernel moves first, then tells).  Skipping would leave its pages
		 * empty for good once the registration goes: read the events, try again.
		 * Only an area that stays missing (unmapped without an event) is given up. */
		if (n == -ENOENT && ++p->misses < 1000)
			return 0;
		if (n > 0 || n == -EEXIST)
			p->misses = 0;
		if (n == -EEXIST)
			n = PAGE_SIZE;   /* faulted in already: on to the next page */
		else if (n == -ENOENT || n == -ESRCH)
			n = len;         /* gone */
		else if (n < 0)
			return errno = -n, pr_perror("lazy-pages: pid %d: can't push the pages at 0x%lx", p->vpid,
						     (unsigned long)p->at);
		p->at += (uint64_t)n & ~(PAGE_SIZE - 1) ? (uint64_t)n & ~(PAGE_SIZE - 1) : PAGE_SIZE;
		return 0;
	}
	return 1;
}

static void mark_gone(struct proc *p, uint64_t cur_start, uint64_t cur_end)
{
	for (uint64_t c = cur_start; c < cur_end;) {
		struct lazy_area *a = area_at(p, c);
		if (!a) {
			c += PAGE_SIZE;
			continue;
		}
		uint64_t end = a->premap + a->len < cur_end ? a->premap + a->len : cur_end;
		struct range *n = realloc(p->gone, (p->nr_gone + 1) * sizeof(*n));
		if (n) {
			p->gone = n;
			p->gone[p->nr_gone++] = (struct range){ a->start + (c - a->premap), a->start + (end - a->premap) };
		}
		c = end;
	}
}

/* mremap of [from, from + len) to `to`: the part of the area it was in moves. */
static void remap(struct proc *p, uint64_t from, uint64_t to, uint64_t len)
{
	struct lazy_area *a = area_at(p, from);

	if (!a)
		return;
	if (from == a->premap && len >= a->len) {
		a->premap = to;
		return;
	}
	/* a piece of the area: split it in up to three */
	struct lazy_area head = *a, mid, tail;
	uint64_t off = from - a->premap, mlen = len < a->len - off ? len : a->len - off;
	mid = (struct lazy_area){ .premap = to, .start = a->start + off, .len = mlen };
	tail = (struct lazy_area){ .premap = from + mlen, .start = a->start + off + mlen, .len = a->len - off - mlen };
	head.len = off;
	struct lazy_area *n = realloc(p->areas, (p->nr_areas + 2) * sizeof(*n));
	if (!n)
		return;
	p->areas = n;
	a = &p->areas[a - p->areas];
	size_t k = 0;
	if (head.len)
		*a = head, k = 1;
	else
		*a = mid, k = 2;
	if (k == 1)
		p->areas[p->nr_areas++] = mid;
	if (tail.len)
		p->areas[p->nr_areas++] = tail;
}

static int fork_proc(struct daemon *d, struct proc *parent, int ufd)
{
	struct proc *c = calloc(1, sizeof(*c));

	if (!c || !(c->areas = malloc(parent->nr_areas * sizeof(*c->areas) + 1)) ||
	    (parent->nr_gone && !(c->gone = malloc(parent->nr_gone * sizeof(*c->gone))))) {
		if (c)
			free(c->areas);
		free(c);
		close(ufd);
		return -ENOMEM;
	}
	c->vpid = parent->vpid;
	c->uffd = ufd;
	c->pages = parent->pages;
	c->nr_areas = parent->nr_areas;
	memcpy(c->areas, parent->areas, parent->nr_areas * sizeof(*c->areas));
	c->nr_gone = parent->nr_gone;
	if (c->nr_gone)
		memcpy(c->gone, parent->gone, parent->nr_gone * sizeof(*c->gone));
	/* the kernel gave the child nothing of a wipe-on-fork area: it stays zero */
	for (size_t i = 0; i < c->nr_areas; i++)
		if (c->areas[i].flags & LAZY_WIPE_ON_FORK)
			mark_gone(c, c->areas[i].premap, c->areas[i].premap + c->areas[i].len);
	fcntl(ufd, F_SETFL, O_NONBLOCK);
	return add_proc(d, c);
}

/* Every message waiting on the task's userfaultfd; 1 when the task is gone. */
static int events(struct daemon *d, struct proc *p)
{
	struct uffd_msg m;

	for (;;) {
		ssize_t n = read(p->uffd, &m, sizeof(m));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			/* the queue is empty: the faults put off can be answered now */
			size_t nr = p->nr_retry;
			uint64_t *r = p->retry;
			p->retry = NULL;
			p->nr_retry = 0;
			int ret = 0;
			for (size_t i = 0; i < nr && !ret; i++)
				ret = serve_fault(d, p, r[i]);
			free(r);
			return ret;
		}
		if (n <= 0)
			return 1;
		switch (m.event) {
		case UFFD_EVENT_PAGEFAULT: {
			int ret = serve_fault(d, p, m.arg.pagefault.address);
			if (ret)
				return ret;
			break;
		}
		case UFFD_EVENT_FORK: {
			int ret = fork_proc(d, p, (int)m.arg.fork.ufd);
			if (ret)
				return ret;
			break;
		}
		case UFFD_EVENT_REMAP:
			remap(p, m.arg.remap.from, m.arg.remap.to, m.arg.remap.len);
			break;
		case UFFD_EVENT_REMOVE:
		case UFFD_EVENT_UNMAP:
			mark_gone(p, m.arg.remove.start, m.arg.remove.end);
			break;
		}
	}
}

static int accept_one(struct daemon *d, int lsk)
{
	size_t max = sizeof(struct lazy_hello) + LAZY_MAX_AREAS * sizeof(struct lazy_area);
	char *msg = malloc(max);
	struct lazy_hello h;
	int sk, ufd = -1, ret = 0;
	ssize_t n;

	if (!msg)
		return -ENOMEM;
	if ((sk = accept4(lsk, NULL, NULL, SOCK_CLOEXEC)) < 0) {
		free(msg);
		return 0;
	}
	n = recv_fd(sk, msg, max, &ufd);
	if (n >= (ssize_t)sizeof(h))
		memcpy(&h, msg, sizeof(h));
	if (n < (ssize_t)sizeof(h) || h.magic != LAZY_MAGIC || h.nr > LAZY_MAX_AREAS ||
	    (size_t)n != sizeof(h) + h.nr * sizeof(struct lazy_area)) {
		pr_warn("lazy-pages: a bad greeting ignored");
		goto drop;
	}
	if (h.vpid == 0) {
		/* the restore itself: served until it hangs up */
		struct proc *s = calloc(1, sizeof(*s));
		if (!s || add_proc(d, s)) {
			free(s);
			ret = -ENOMEM;
			goto drop;
		}
		s->uffd = sk;
		s->done = true;   /* marks a session, not a task */
		d->sessions++;
		d->had_session = true;
		free(msg);
		return 0;
	}
	struct proc *p = calloc(1, sizeof(*p));
	if (!p || ufd < 0) {
		free(p);
		ret = ufd < 0 ? (pr_err("lazy-pages: pid %d sent no userfaultfd", h.vpid), -EPROTO) : -ENOMEM;
		goto drop;
	}
	p->vpid = h.vpid;
	p->uffd = ufd;
	p->nr_areas = h.nr;
	if (!(p->areas = malloc(h.nr * sizeof(*p->areas) + 1)) || (ret = layers_open(d->dir, h.vpid, &p->pages)) ||
	    (ret = add_proc(d, p))) {
		free(p->areas);
		free(p);
		ret = ret ?: -ENOMEM;
		goto drop;
	}
	memcpy(p->areas, msg + sizeof(h), h.nr * sizeof(*p->areas));
	ufd = -1;
drop:
	if (ufd >= 0)
		close(ufd);
	close(sk);
	free(msg);
	return ret;
}

int lazy_serve(const char *dir, void (*ready)(void *), void *arg)
{
	struct daemon d = { .dir = dir };
	struct sockaddr_un sa;
	socklen_t len;
	int lsk, ret;

	if ((ret = lazy_addr(dir, &sa, &len)))
		return ret;
	if (!(d.buf = malloc(PUSH_PAGES * PAGE_SIZE)))
		return -ENOMEM;
	lsk = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (lsk < 0 || bind(lsk, (struct sockaddr *)&sa, len) || listen(lsk, 64)) {
		ret = errno == EADDRINUSE ? (pr_err("a lazy-pages daemon already serves %s", dir), -EADDRINUSE)
					  : pr_perror("lazy-pages: can't listen for the restore of %s", dir);
		if (lsk >= 0)
			close(lsk);
		free(d.buf);
		return ret;
	}
	if (ready)
		ready(arg);
	for (ret = 0; !ret;) {
		struct pollfd pfd[1 + d.nr];
		bool pushing = false;

		pfd[0] = (struct pollfd){ .fd = lsk, .events = POLLIN };
		for (size_t i = 0; i < d.nr; i++) {
			pfd[1 + i] = (struct pollfd){ .fd = d.p[i]->uffd, .events = POLLIN };
			pushing |= !d.p[i]->done;
		}
		/* over once the restore hung up and every task has its memory */
		if (d.had_session && !d.sessions && !pushing)
			break;
		if (poll(pfd, 1 + d.nr, pushing ? 0 : -1) < 0) {
			if (errno == EINTR)
				continue;
			ret = pr_perror("lazy-pages: poll");
			break;
		}
		if (pfd[0].revents & POLLIN)
			ret = accept_one(&d, lsk);
		size_t nr = d.nr < (size_t)(sizeof(pfd) / sizeof(pfd[0])) - 1 ? d.nr : sizeof(pfd) / sizeof(pfd[0]) - 1;
		for (size_t i = nr; !ret && i-- > 0;) {
			struct proc *p = d.p[i];
			if (!pfd[1 + i].revents)
				continue;
			if (p->done && !p->pages) {
				/* a session: any traffic is its end */
				char c;
				if (recv(p->uffd, &c, 1, MSG_DONTWAIT) <= 0) {
					d.sessions--;
					drop_proc(&d, i);
				}
				continue;
			}
			int r = events(&d, p);
			if (r == 1)
				drop_proc(&d, i);
			else
				ret = r;
		}
		/* a step of the background push for each task that still lacks pages */
		for (size_t i = d.nr; !ret && i-- > 0;) {
			struct proc *p = d.p[i];
			if (p->done)
				continue;
			int r = push_some(&d, p);
			if (r == 1) {
				p->done = true;
				drop_proc(&d, i);   /* every page is in: the registration goes with the fd */
			} else {
				ret = r;
			}
		}
	}
	pr_info("lazy-pages: stats: faults=%lu pages_copied=%lu zero_pages=%lu", (unsigned long)d.faults,
		(unsigned long)d.copied, (unsigned long)d.zeroed);
	while (d.nr)
		drop_proc(&d, d.nr - 1);
	free(d.p);
	free(d.buf);
	close(lsk);
	return ret;
}

/* Socket filters: SO_GET_FILTER gives back the classic program as it was
 * attached (the kernel keeps the original next to its translation). */
#include <errno.h>
#include <linux/filter.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "log.h"
#include "net/sk-filter.h"

#ifndef SO_GET_FILTER
#define SO_GET_FILTER SO_ATTACH_FILTER
#endif
#ifndef SO_LOCK_FILTER
#define SO_LOCK_FILTER 44
#endif

int sk_filter_dump(int sk, const char *who, SkFilterEntry **out)
{
	socklen_t n = 0;   /* in instructions, not bytes: asked with 0 it says how many */
	int locked = 0;
	socklen_t l = sizeof(locked);
	struct sock_filter *code;
	SkFilterEntry *f;

	*out = NULL;
	if (getsockopt(sk, SOL_SOCKET, SO_GET_FILTER, NULL, &n)) {
		if (errno == EACCES)
			return pr_err("%s has an eBPF program attached (SO_ATTACH_BPF), which the kernel can't "
				      "give back: it can't be checkpointed", who), -EOPNOTSUPP;
		return pr_perror("%s: can't read its socket filter", who);
	}
	if (!n)
		return 0;
	if (n > BPF_MAXINSNS)
		return pr_err("%s: a socket filter of %u instructions", who, n), -EIO;
	if (!(code = calloc(n, sizeof(*code))) || !(f = malloc(sizeof(*f)))) {
		free(code);
		return -ENOMEM;
	}
	sk_filter_entry__init(f);
	f->code.data = (uint8_t *)code;
	/* the program can't change while the tree is frozen, unless locked it could be
	 * replaced by another thread of ours: none exists */
	if (getsockopt(sk, SOL_SOCKET, SO_GET_FILTER, code, &n) ||
	    getsockopt(sk, SOL_SOCKET, SO_LOCK_FILTER, &locked, &l)) {
		int ret = pr_perror("%s: can't read its socket filter", who);
		free(code);
		free(f);
		return ret;
	}
	f->code.len = n * sizeof(*code);
	f->locked = locked;
	*out = f;
	return 0;
}

int sk_filter_restore(int sk, const SkFilterEntry *f, unsigned fd)
{
	struct sock_fprog prog = { .len = f->code.len / sizeof(struct sock_filter),
				   .filter = (struct sock_filter *)f->code.data };
	int one = 1;

	if (setsockopt(sk, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)))
		return pr_perror("fd %u: the kernel refuses its socket filter (SO_ATTACH_FILTER)", fd);
	if (f->locked && setsockopt(sk, SOL_SOCKET, SO_LOCK_FILTER, &one, sizeof(one)))
		return pr_perror("fd %u: can't lock its socket filter", fd);
	return 0;
}

int sk_filter_validate(const SkFilterEntry *f, const char *who)
{
	/* the kernel checks the program itself when it is attached */
	if (!f->code.len || f->code.len % sizeof(struct sock_filter) ||
	    f->code.len / sizeof(struct sock_filter) > BPF_MAXINSNS)
		return pr_err("%s: a socket filter of %zu bytes, not 1 to %d instructions", who, f->code.len,
			      BPF_MAXINSNS), -EINVAL;
	return 0;
}

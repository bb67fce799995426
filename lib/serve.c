/* The daemons of the other side: the page server (receives a dump's pages), the
 * lazy-pages daemon (fills a lazy restore's memory) and crtool serve (the end a
 * migration arrives at: it answers the checks, takes every round's images and
 * restores the last). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>
#include "arch.h"
#include "cr/cr.h"
#include "image/image.h"
#include "log.h"
#include "util.h"
#include "mem/lazy.h"
#include "mem/page-server.h"
#include "net/inet.h"
#include "net/local-addrs.h"
#include "restore.h"

CR_EXPORT int cr_page_server(const struct cr_page_server_opts *uopts)
{
	struct cr_page_server_opts opts = { 0 };

	cr_error_reset();
	if (!uopts || uopts->sz < offsetof(struct cr_page_server_opts, images_dir) + sizeof(char *))
		return pr_err("cr_page_server: bad options (set .sz = sizeof(struct cr_page_server_opts))"), -EINVAL;
	memcpy(&opts, uopts, uopts->sz < sizeof(opts) ? uopts->sz : sizeof(opts));
	if (opts.port <= 0 || opts.port > 65535 || !opts.images_dir)
		return pr_err("page server: a port (1-65535) and an images directory are needed"), -EINVAL;
	return ps_serve(opts.address, opts.port, opts.images_dir, opts.ready, opts.arg);
}

CR_EXPORT int cr_lazy_pages(const struct cr_lazy_pages_opts *uopts)
{
	struct cr_lazy_pages_opts opts = { 0 };

	cr_error_reset();
	if (!uopts || uopts->sz < offsetof(struct cr_lazy_pages_opts, images_dir) + sizeof(char *))
		return pr_err("cr_lazy_pages: bad options (set .sz = sizeof(struct cr_lazy_pages_opts))"), -EINVAL;
	memcpy(&opts, uopts, uopts->sz < sizeof(opts) ? uopts->sz : sizeof(opts));
	if (!opts.images_dir)
		return pr_err("lazy-pages: an images directory is needed"), -EINVAL;
	return lazy_serve(opts.images_dir, opts.ready, opts.arg);
}

/* ---- crtool serve: the receiving end of crtool migrate */

struct serve_ctx {
	const struct cr_serve_opts *o;
	int lsk;                 /* the listening socket, or -1 (--stdio) */
	pid_t lazy;              /* the lazy-pages daemon of a lazy restore, or 0 */
	char *early_lock;        /* the connections' lock taken before the restore */
};

static uint64_t mem_available(void)
{
	char *s = read_file("/proc/meminfo", NULL), *p;
	unsigned long long kb = 0;

	if (s && (p = strstr(s, "MemAvailable:")))
		sscanf(p + 13, "%llu", &kb);
	free(s);
	return kb * 1024;
}

/* What this host is: version, arch, kernel, CPU state features, free memory, the
 * verdict of every kernel feature probe, and its IP addresses. */
static int answer_info(int sk)
{
	const struct cr_feature *f;
	int n = cr_check(&f);
	struct utsname u;
	uint64_t xfeatures = 0;
	uint32_t xsize = 0;
	char *text = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);
	int ret;

	if (!m)
		return -ENOMEM;
	uname(&u);
	arch_cpu_features(&xfeatures, &xsize);
	fprintf(m, "version=%s\narch=%s\nkernel=%s\nxfeatures=0x%llx\nmem_available=%llu\n", CR_VERSION, ARCH_NAME,
		u.release, (unsigned long long)xfeatures, (unsigned long long)mem_available());
	for (int i = 0; i < n; i++)
		fprintf(m, "feature.%s=%s\n", f[i].name, f[i].ok ? "ok" : "missing");
	/* the addresses here, for the tree's sockets to bind (this network namespace's) */
	char *addrs = host_addrs();
	fprintf(m, "addrs=%s\n", addrs ? addrs : "");
	free(addrs);
	fclose(m);
	ret = ps_reply(sk, 0, text);
	free(text);
	return ret;
}

/* The paths of the list (NUL-separated) that are not here. */
static int answer_paths(int sk, uint64_t len)
{
	char *list, *missing = NULL;
	size_t mlen = 0;
	FILE *m;
	int ret;

	if ((ret = ps_recv_payload(sk, len, &list)))
		return ret;
	if (!(m = open_memstream(&missing, &mlen))) {
		free(list);
		return -ENOMEM;
	}
	for (char *p = list; p < list + len; p += strlen(p) + 1)
		if (*p && access(p, F_OK))
			fprintf(m, "%s\n", p);
	fclose(m);
	ret = ps_reply(sk, 0, missing);
	free(missing);
	free(list);
	return ret;
}

/* The pages of a round come on their own connection, into the current dir. */
static int answer_pages(struct serve_ctx *c, int sk, const char *dir)
{
	int psk, ret;

	if ((ret = ps_reply(sk, 0, "ready")))
		return ret;
	if (c->lsk < 0) {
		/* one stream (--stdio): the round's pages come on it, up to their BYE */
		ret = ps_session(sk, dir, NULL, NULL);
		if (ret == -ECONNRESET)
			return ret;
		/* after a failed round the stream is out of step: the verdict, then the end */
		return ps_reply(sk, ret, ret ? cr_last_error() : "") ?: ret;
	}
	if ((psk = ps_accept(c->lsk)) < 0)
		return psk;
	ret = ps_session(psk, dir, NULL, NULL);
	close(psk);
	return ps_reply(sk, ret, ret ? cr_last_error() : "");
}

static void lazy_ready(void *arg)
{
	int fd = *(int *)arg;
	(void)!write(fd, "", 1);
}

static int answer_restore(struct serve_ctx *c, int sk, const struct ps_hdr *h)
{
	struct cr_restore_opts ro = { .sz = sizeof(ro), .new_pidns = c->o->new_pidns };
	char dir[4096], *flags = NULL, msg[64];
	int ret;
	pid_t pid;

	if ((ret = ps_recv_payload(sk, h->len, &flags)))
		return ret;
	ro.lazy_pages = strstr(flags, "lazy") != NULL;
	free(flags);
	if (!ps_good_name(h->name))
		return ps_reply(sk, -EPERM, "a bad images directory name");
	snprintf(dir, sizeof(dir), "%s/%s", c->o->images_dir, h->name);
	ro.images_dir = dir;
	cr_error_reset();
	if (ro.lazy_pages) {
		/* the daemon that fills the memory, ready before the restore asks for it */
		int p[2];
		char b;
		if (pipe2(p, O_CLOEXEC))
			return ps_reply(sk, -errno, "can't start the lazy-pages daemon");
		if ((c->lazy = fork()) == 0) {
			struct cr_lazy_pages_opts lo = { .sz = sizeof(lo), .images_dir = dir, .ready = lazy_ready, .arg = &p[1] };
			/* the daemon outlives this session: it keeps neither its sockets nor the port */
			if (c->lsk >= 0)
				close(c->lsk);
			close(sk);
			close(p[0]);
			_exit(cr_lazy_pages(&lo) < 0);
		}
		close(p[1]);
		if (c->lazy < 0 || read(p[0], &b, 1) != 1) {
			close(p[0]);
			return ps_reply(sk, -EIO, "the lazy-pages daemon did not start");
		}
		close(p[0]);
	}
	/* The restore's own lock replaces the early one.  A failed restore leaves
	 * whichever holds in place: the address may still be here until the
	 * failed-restore hook moves it back, and a peer must not meet a reset; the
	 * session's end drops it. */
	if (c->early_lock && (ret = tcp_restore_replace(c->early_lock)))
		return ps_reply(sk, ret, "out of memory");
	restore_keep_lock(&c->early_lock);
	pid = cr_restore(&ro);
	if (pid < 0)
		return ps_reply(sk, pid, cr_last_error());
	free(c->early_lock);
	c->early_lock = NULL;
	if (c->o->pidfile) {
		FILE *f = fopen(c->o->pidfile, "w");
		if (f) {
			fprintf(f, "%d\n", pid);
			fclose(f);
		}
	}
	snprintf(msg, sizeof(msg), "pid %d", pid);
	return ps_reply(sk, 0, msg);
}

/* The TCP connections of the round's images are locked here before their
 * address moves here (the pre-restore hook): dropped, never reset. */
static int answer_lock(struct serve_ctx *c, int sk, const struct ps_hdr *h)
{
	char dir[4096];
	int ret;

	if (!ps_good_name(h->name))
		return ps_reply(sk, -EPERM, "a bad images directory name");
	snprintf(dir, sizeof(dir), "%s/%s", c->o->images_dir, h->name);
	if (c->early_lock) {
		netlock_drop(c->early_lock);
		free(c->early_lock);
		c->early_lock = NULL;
	}
	cr_error_reset();
	ret = restore_lock_early(dir, &c->early_lock);
	return ps_reply(sk, ret, ret ? cr_last_error() : c->early_lock ? c->early_lock : "no connections");
}

static int serve_request(void *arg, int sk, const struct ps_hdr *h, const char *dir)
{
	struct serve_ctx *c = arg;

	switch (h->cmd) {
	case PS_INFO:
		return answer_info(sk);
	case PS_PATHS:
		return answer_paths(sk, h->len);
	case PS_PAGES:
		return answer_pages(c, sk, dir);
	case PS_RESTORE:
		return answer_restore(c, sk, h);
	case PS_LOCK:
		return answer_lock(c, sk, h);
	}
	return pr_err("serve: unknown request %u", h->cmd), -EPROTO;
}

CR_EXPORT int cr_serve(const struct cr_serve_opts *uopts)
{
	struct cr_serve_opts opts = { 0 };
	struct serve_ctx c = { .o = &opts };
	int sk, ret;

	cr_error_reset();
	if (!uopts || uopts->sz < offsetof(struct cr_serve_opts, images_dir) + sizeof(char *))
		return pr_err("cr_serve: bad options (set .sz = sizeof(struct cr_serve_opts))"), -EINVAL;
	memcpy(&opts, uopts, uopts->sz < sizeof(opts) ? uopts->sz : sizeof(opts));
	opts.stdio = opts.sz > offsetof(struct cr_serve_opts, stdio) && opts.stdio;
	if (!opts.images_dir || (!opts.stdio && (opts.port <= 0 || opts.port > 65535)))
		return pr_err("serve: a port (1-65535) or --stdio, and an images directory are needed"), -EINVAL;
	if (opts.stdio && mkdir(opts.images_dir, 0700) && errno != EEXIST)
		return pr_perror("serve: can't make the images directory %s", opts.images_dir);
	if (access(opts.images_dir, W_OK))
		return pr_perror("serve: images directory %s", opts.images_dir);
	if (opts.stdio) {
		c.lsk = -1;
		if ((sk = ps_stdio_stream(0, 1)) < 0)
			return sk;
	} else {
		if ((c.lsk = ps_listen(opts.address, opts.port)) < 0)
			return c.lsk;
		if (opts.ready)
			opts.ready(opts.arg);
		if ((sk = ps_accept(c.lsk)) < 0) {
			close(c.lsk);
			return sk;
		}
	}
	ret = ps_session(sk, opts.images_dir, serve_request, &c);
	close(sk);
	if (c.lsk >= 0)
		close(c.lsk);
	if (c.early_lock) {   /* locked for a restore that never came */
		netlock_drop(c.early_lock);
		free(c.early_lock);
	}
	/* a lazy restore: serve until the daemon has put every page in place */
	if (c.lazy > 0) {
		int st;
		while (waitpid(c.lazy, &st, 0) < 0 && errno == EINTR)
			;
		if (!ret && (!WIFEXITED(st) || WEXITSTATUS(st)))
			ret = (pr_err("serve: the lazy-pages daemon failed"), -EIO);
	}
	return ret;
}

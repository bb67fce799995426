/* The daemons of the other side: the page server (receives a dump's pages) and
 * the lazy-pages daemon (fills a lazy restore's memory). */
#include <errno.h>
#include <string.h>
#include "cr/cr.h"
#include "log.h"
#include "mem/lazy.h"
#include "mem/page-server.h"

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

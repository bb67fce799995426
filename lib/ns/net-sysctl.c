/* The sysctls of the tree's network namespace that libcr keeps: a fixed list
 * (Documentation/netns.md), read and written below /proc/sys/net by a task in
 * the namespace (those files show the reader's namespace).  Per-link ones for
 * all, default and each saved link, in that order: writing "all" changes every
 * link, so the links' own values come last.  Only a value that differs from
 * the new namespace's is written. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "log.h"
#include "ns/net.h"
#include "util.h"

static const char *const globals[] = {
	"ipv4/ip_forward", "ipv4/ip_default_ttl", "ipv4/ip_local_port_range", "ipv4/ip_nonlocal_bind",
	"ipv4/ping_group_range", "ipv6/ip_nonlocal_bind", "core/somaxconn",
};
static const char *const conf4[] = { "forwarding", "rp_filter", "accept_redirects", "proxy_arp" };
static const char *const conf6[] = { "disable_ipv6", "forwarding", "accept_ra", "accept_dad" };

#define VALUE_MAX 64

static int read_value(const char *name, char *buf, size_t len)
{
	char path[128];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/sys/net/%s", name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	while (n > 0 && buf[n - 1] == '\n')
		n--;
	buf[n] = 0;
	return 0;
}

static int add(NetnsEntry *e, const char *name)
{
	char v[VALUE_MAX];
	NetSysctlEntry *s, **n;

	/* missing here (ipv6 off, an older kernel): nothing to keep */
	if (read_value(name, v, sizeof(v)))
		return 0;
	if (!(n = realloc(e->sysctls, (e->n_sysctls + 1) * sizeof(*n))) || !(s = malloc(sizeof(*s)))) {
		if (n)
			e->sysctls = n;
		return -ENOMEM;
	}
	e->sysctls = n;
	net_sysctl_entry__init(s);
	e->sysctls[e->n_sysctls++] = s;
	s->name = strdup(name);
	s->value = strdup(v);
	return s->name && s->value ? 0 : -ENOMEM;
}

static int add_conf(NetnsEntry *e, const char *dev)
{
	char name[96];
	int ret = 0;

	for (size_t i = 0; i < ARRAY_SIZE(conf4) && !ret; i++) {
		snprintf(name, sizeof(name), "ipv4/conf/%s/%s", dev, conf4[i]);
		ret = add(e, name);
	}
	for (size_t i = 0; i < ARRAY_SIZE(conf6) && !ret; i++) {
		snprintf(name, sizeof(name), "ipv6/conf/%s/%s", dev, conf6[i]);
		ret = add(e, name);
	}
	return ret;
}

int netsysctl_dump(NetnsEntry *e)
{
	int ret = 0;

	for (size_t i = 0; i < ARRAY_SIZE(globals) && !ret; i++)
		ret = add(e, globals[i]);
	if (!ret)
		ret = add_conf(e, "all") ?: add_conf(e, "default");
	for (size_t i = 0; i < e->n_links && !ret; i++)
		ret = add_conf(e, e->links[i]->name);
	return ret;
}

int netsysctl_restore(const NetnsEntry *e)
{
	for (size_t i = 0; i < e->n_sysctls; i++) {
		const NetSysctlEntry *s = e->sysctls[i];
		char cur[VALUE_MAX], path[128];
		int ret;

		if ((ret = read_value(s->name, cur, sizeof(cur))))
			return errno = -ret, pr_perror("network namespace: can't read sysctl net/%s", s->name);
		if (!strcmp(cur, s->value))
			continue;
		snprintf(path, sizeof(path), "/proc/sys/net/%s", s->name);
		if (write_file(path, s->value))
			return pr_perror("network namespace: can't set sysctl net/%s to %s", s->name, s->value);
	}
	return 0;
}

/* One of the list, for all, default or a saved link. */
static bool known(const NetnsEntry *e, const char *name)
{
	char dev[32], opt[32];
	int n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(globals); i++)
		if (!strcmp(name, globals[i]))
			return true;
	for (int v6 = 0; v6 < 2; v6++) {
		const char *pre = v6 ? "ipv6/conf/" : "ipv4/conf/";
		const char *const *opts = v6 ? conf6 : conf4;
		size_t nopts = v6 ? ARRAY_SIZE(conf6) : ARRAY_SIZE(conf4);
		if (strncmp(name, pre, 10) || sscanf(name + 10, "%31[^/]/%31s%n", dev, opt, &n) != 2 || name[10 + n])
			continue;
		bool dev_ok = !strcmp(dev, "all") || !strcmp(dev, "default");
		for (size_t i = 0; i < e->n_links && !dev_ok; i++)
			dev_ok = !strcmp(dev, e->links[i]->name);
		for (size_t i = 0; i < nopts && dev_ok; i++)
			if (!strcmp(opt, opts[i]))
				return true;
	}
	return false;
}

int netsysctl_validate(const NetnsEntry *e)
{
	for (size_t i = 0; i < e->n_sysctls; i++) {
		const NetSysctlEntry *s = e->sysctls[i];
		size_t l = strlen(s->value);
		bool ok = strlen(s->name) < 96 && known(e, s->name) && l < VALUE_MAX;

		for (size_t k = 0; ok && k < l; k++)
			ok = (s->value[k] >= '0' && s->value[k] <= '9') || s->value[k] == ' ' || s->value[k] == '\t' ||
			     s->value[k] == '-';
		if (!ok)
			return pr_err("netns.img: bad sysctl %.96s", s->name), -EINVAL;
	}
	return 0;
}

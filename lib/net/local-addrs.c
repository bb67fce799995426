/* The addresses a migrated tree's TCP sockets are bound to, and the addresses a
 * host has: a migration checks the first are among the second before it
 * freezes anything (a restored socket can't bind an address its host lacks). */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "log.h"
#include "util.h"
#include "net/local-addrs.h"

static const uint8_t v4_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

bool ip_addr_parse(const char *s, struct ip_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, a->b + 12) == 1) {
		memcpy(a->b, v4_prefix, 12);
		return true;
	}
	return inet_pton(AF_INET6, s, a->b) == 1;
}

void ip_addr_str(const struct ip_addr *a, char *buf, size_t len)
{
	bool v4 = !memcmp(a->b, v4_prefix, 12);

	if (!inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? a->b + 12 : a->b, buf, len))
		snprintf(buf, len, "?");
}

bool ip_addr_any(const struct ip_addr *a)
{
	static const uint8_t zero[16];

	return !memcmp(a->b, zero, 16) || (!memcmp(a->b, v4_prefix, 12) && !memcmp(a->b + 12, zero, 4));
}

/* /proc/net/tcp prints each 32-bit word of the address as the kernel holds it
 * (network order), in hex as a native integer: back to bytes on this same host. */
static bool proc_addr(const char *hex, bool v6, struct ip_addr *a)
{
	size_t words = v6 ? 4 : 1;

	if (strlen(hex) != words * 8)
		return false;
	memset(a, 0, sizeof(*a));
	if (!v6)
		memcpy(a->b, v4_prefix, 12);
	for (size_t i = 0; i < words; i++) {
		char w[9];
		uint32_t x;
		memcpy(w, hex + i * 8, 8);
		w[8] = 0;
		x = strtoul(w, NULL, 16);
		memcpy(a->b + (v6 ? i * 4 : 12), &x, 4);
	}
	return true;
}

/* The socket inodes among the tree's fds. */
static int tree_socket_inodes(const pid_t *pids, size_t nr, unsigned long **out, size_t *nr_out)
{
	for (size_t i = 0; i < nr; i++) {
		char path[64];
		DIR *d;
		struct dirent *de;
		snprintf(path, sizeof(path), "/proc/%d/fd", pids[i]);
		if (!(d = opendir(path)))
			continue;   /* gone since the walk: nothing of it moves */
		while ((de = readdir(d))) {
			char fdp[340], link[64];
			unsigned long ino;
			ssize_t n;
			snprintf(fdp, sizeof(fdp), "%s/%s", path, de->d_name);
			if ((n = readlink(fdp, link, sizeof(link) - 1)) <= 0)
				continue;
			link[n] = 0;
			if (sscanf(link, "socket:[%lu]", &ino) != 1)
				continue;
			unsigned long *m = realloc(*out, (*nr_out + 1) * sizeof(*m));
			if (!m) {
				closedir(d);
				return -ENOMEM;
			}
			*out = m;
			(*out)[(*nr_out)++] = ino;
		}
		closedir(d);
	}
	return 0;
}

static int add_addr(struct ip_addr **addrs, size_t *nr, const struct ip_addr *a)
{
	struct ip_addr *n;

	if (ip_addr_any(a))
		return 0;
	for (size_t i = 0; i < *nr; i++)
		if (!memcmp(&(*addrs)[i], a, sizeof(*a)))
			return 0;
	if (!(n = realloc(*addrs, (*nr + 1) * sizeof(*n))))
		return -ENOMEM;
	*addrs = n;
	(*addrs)[(*nr)++] = *a;
	return 0;
}

int tree_tcp_scan(const pid_t *pids, size_t nr, int *connected, struct ip_addr **addrs, size_t *nr_addrs)
{
	unsigned long *inos = NULL;
	size_t nr_inos = 0;
	int ret;

	*connected = 0;
	*addrs = NULL;
	*nr_addrs = 0;
	if ((ret = tree_socket_inodes(pids, nr, &inos, &nr_inos)))
		goto out;
	for (size_t i = 0; nr_inos && i < nr; i++)
		for (int v6 = 0; v6 < 2; v6++) {
			char *t = read_proc(pids[i], v6 ? "net/tcp6" : "net/tcp", NULL);
			for (char *l = t ? strchr(t, '\n') : NULL; !ret && l && l[1]; l = strchr(l + 1, '\n')) {
				char hex[40];
				unsigned st;
				unsigned long ino;
				struct ip_addr a;
				/* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
				if (sscanf(l + 1, "%*s %39[0-9A-Fa-f]:%*x %*s %x %*s %*s %*s %*u %*u %lu", hex, &st,
					   &ino) != 3 || !ino)
					continue;   /* inode 0: a time-wait socket, nobody's */
				for (size_t k = 0; k < nr_inos; k++) {
					if (inos[k] != ino)
						continue;
					inos[k] = 0;   /* once, though several processes share it */
					if (st != 0x0a && st != 0x07)   /* LISTEN, CLOSE */
						(*connected)++;
					if (proc_addr(hex, v6, &a))
						ret = add_addr(addrs, nr_addrs, &a);
				}
			}
			free(t);
		}
out:
	free(inos);
	if (ret) {
		free(*addrs);
		*addrs = NULL;
		*nr_addrs = 0;
	}
	return ret;
}

char *host_addrs(void)
{
	struct ifaddrs *ifa, *i;
	char *text = NULL;
	size_t len = 0;
	FILE *m;

	if (getifaddrs(&ifa))
		return NULL;
	if (!(m = open_memstream(&text, &len))) {
		freeifaddrs(ifa);
		return NULL;
	}
	for (i = ifa; i; i = i->ifa_next) {
		char buf[INET6_ADDRSTRLEN];
		int fam = i->ifa_addr ? i->ifa_addr->sa_family : AF_UNSPEC;
		const void *a = fam == AF_INET ? (const void *)&((struct sockaddr_in *)i->ifa_addr)->sin_addr
			: fam == AF_INET6 ? (const void *)&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr : NULL;
		if (a && inet_ntop(fam, a, buf, sizeof(buf)))
			fprintf(m, "%s%s", ftell(m) ? " " : "", buf);
	}
	fclose(m);
	freeifaddrs(ifa);
	return text;
}

/* The IP addresses a migration needs at the destination (local-addrs.c): those the
 * tree's TCP sockets are bound to, and those a host has. */
#ifndef LIB_NET_LOCAL_ADDRS_H
#define LIB_NET_LOCAL_ADDRS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* An address as 16 bytes: IPv4 as ::ffff:a.b.c.d, so that both families compare. */
struct ip_addr {
	uint8_t b[16];
};

/* Parse "1.2.3.4" or "fe80::1" (an IPv4-mapped IPv6 address counts as IPv4). */
bool ip_addr_parse(const char *s, struct ip_addr *a);
/* "1.2.3.4" or "fe80::1" */
void ip_addr_str(const struct ip_addr *a, char *buf, size_t len);
/* 0.0.0.0 or :: : a wildcard bind, valid on any host. */
bool ip_addr_any(const struct ip_addr *a);

/* The tree's TCP sockets, from the tables of its processes' network namespaces
 * (/proc/PID/net/tcp{,6}) matched by inode against their fds: how many are
 * connected (neither listening nor closed), and the distinct local addresses of
 * them all, wildcards left out (*addrs malloc'ed).  0, or -errno. */
int tree_tcp_scan(const pid_t *pids, size_t nr, int *connected, struct ip_addr **addrs, size_t *nr_addrs);
/* This network namespace's addresses, space-separated (malloc'ed), or NULL. */
char *host_addrs(void);

#endif

/* Integer socket options, as the socket kinds read them at the dump and set
 * them again at the restore. */
#ifndef LIB_NET_SOCKOPT_H
#define LIB_NET_SOCKOPT_H

#include <stdint.h>

/* getsockopt of an int into *v; 0 or -errno (quietly: the caller names the socket). */
int sockopt_get(int sk, int level, int name, uint32_t *v);
/* setsockopt of an int; 0, or -errno with a message naming fd and what. */
int sockopt_set(int sk, int level, int name, int v, const char *what, unsigned fd);
/* SO_RCVBUF or SO_SNDBUF (name) to want, as getsockopt showed it at the dump (the
 * kernel doubles what it is given), forced past the sysctl limits; only when it
 * differs from what the socket has now: forcing the default would turn the
 * kernel's automatic sizing off. */
int sockopt_set_buf(int sk, int name, uint32_t want, unsigned fd);

#endif

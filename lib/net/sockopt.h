/* Integer socket options, as the socket kinds read them at the dump and set
 * them again at the restore. */
#ifndef LIB_NET_SOCKOPT_H
#define LIB_NET_SOCKOPT_H

#include <stdint.h>

/* getsockopt of an int into *v; 0 or -errno (quietly: the caller names the socket). */
int sockopt_get(int sk, int level, int name, uint32_t *v);
/* setsockopt of an int; 0, or -errno with a message naming fd and what. */
int sockopt_set(int sk, int level, int name, int v, const char *what, unsigned fd);

#endif

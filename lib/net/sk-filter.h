/* Classic BPF filters attached to sockets (SO_ATTACH_FILTER): programs such as
 * udev, DHCP clients and packet capture filter what they receive with one, and a
 * restored socket without it would hand them what they never asked for. */
#ifndef LIB_NET_SK_FILTER_H
#define LIB_NET_SK_FILTER_H

#include "sk-filter.pb-c.h"

/* Read sk's filter into *out (NULL when it has none); who names the socket in
 * messages.  An eBPF program (SO_ATTACH_BPF), which the kernel can't hand back,
 * fails with -EOPNOTSUPP and a message. */
int sk_filter_dump(int sk, const char *who, SkFilterEntry **out);
/* Attach it again (and lock it if it was) to the socket restored as fd. */
int sk_filter_restore(int sk, const SkFilterEntry *f, unsigned fd);
int sk_filter_validate(const SkFilterEntry *f, const char *who);

#endif

/* The caller's notify callback (cr_dump_opts / cr_restore_opts .notify). */
#ifndef LIB_NOTIFY_H
#define LIB_NOTIFY_H

#include <sys/types.h>
#include "cr/cr.h"

/* Call fn (if set) at event; its non-zero return becomes an error naming the event. */
int notify_call(cr_notify_fn fn, void *arg, const char *event, pid_t pid);

#endif

/* The task's own state (core-<pid>.img): credentials, limits, signals, timers,
 * and each thread's registers.  Dump and restore side by side. */
#ifndef LIB_CORE_H
#define LIB_CORE_H

#include <stdbool.h>
#include <sys/types.h>
#include "core.pb-c.h"
#include "restorer-args.h"

struct seized;
struct infect_ctx;
struct parasite_misc;

/* Build the core image of a seized task while it is stopped (ctx holds its
 * registers as seized), then add what the parasite reported. */
int core_dump_seized(const struct seized *s, struct infect_ctx *ctx, CoreEntry **out);
int core_dump_misc(CoreEntry *core, const struct parasite_misc *misc);
void core_free(CoreEntry *core);
int core_validate(const CoreEntry *core, pid_t pid);

/* Restore side, run in the new task before the restorer: what needs libc. */
int core_restore_early(const CoreEntry *core);
/* Fill the restorer's share: signals, timers, creds, TLS, the sigframe. */
int core_restorer_args(const CoreEntry *core, struct restorer_args *a, void *frame_buf, size_t frame_len,
		       uint64_t frame_addr);

#endif

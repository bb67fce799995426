/* The task's own state (core-<pid>.img): credentials, limits, signals, timers,
 * and each thread's registers.  Dump and restore side by side. */
#ifndef LIB_CORE_H
#define LIB_CORE_H

#include <stdbool.h>
#include <sys/types.h>
#include "core.pb-c.h"
#include "restorer-args.h"

/* Threads per process we restore (each needs a stack and a frame in the restorer region). */
#define CORE_MAX_THREADS 32768

struct seized;
struct infect_ctx;
struct parasite_misc;

/* Build the core image of a seized task while it is stopped (ctx holds its
 * registers as seized), then add what the parasite reported. */
int core_dump_seized(const struct seized *s, struct infect_ctx *ctx, CoreEntry **out);
int core_dump_misc(CoreEntry *core, const struct parasite_misc *misc);
/* Per-thread state of the other threads that needs remote syscalls (after infection). */
int core_dump_thread_misc(CoreEntry *core, const struct seized *s, struct infect_ctx *ctx);
/* The queued signals, read once the parasite is gone (after its DUMP_MISC and
 * DUMP_TIMERS): a timer that expired meanwhile reads as disarmed, and its signal,
 * queued while the parasite ran (it blocks every signal), must be in the image, or
 * the restored process would have neither.  core_dump_seized does not read them. */
int core_dump_pending(CoreEntry *core, const struct seized *s);
void core_free(CoreEntry *core);
int core_validate(const CoreEntry *core, pid_t pid);

/* Restore side, run in the new task before the restorer: what needs libc. */
int core_restore_early(const CoreEntry *core);
/* Where one thread's signal frame and restorer stack go in the restorer region. */
struct core_thread_area {
	void *frame;
	size_t frame_len;
	void *stack;          /* RESTORER_THREAD_STACK bytes */
};
/* Fill the restorer's share: signals, timers, creds, and per thread its TLS,
 * queued signals and sigframe.  threads[] and si[] live in the restorer region. */
int core_restorer_args(const CoreEntry *core, struct restorer_args *a, struct rst_thread *threads,
		       struct rst_siginfo *si, const struct core_thread_area *areas);

#endif

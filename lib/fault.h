/* Fault injection for the failure-path tests: CR_FAULT=STEP[:N] in the
 * environment makes the N-th passage (default the first) through the named
 * step fail as if the kernel had refused it.  Counts are per process (a
 * restored task counts from what its parent had counted when it forked). */
#ifndef LIB_FAULT_H
#define LIB_FAULT_H

#include <stdbool.h>

/* Every step is also where cr_cancel() takes effect: then it fails too.
 * True (and the error recorded: "injected fault at STEP") when the step must fail. */
bool fault_hit(const char *step);

/* True (and the error recorded) once cr_cancel() was called: for the waits
 * between steps, which must not count as passages of one. */
bool fault_cancelled(const char *waiting_for);

/* Forget an earlier cr_cancel() (at the start of a dump or restore). */
void fault_cancel_reset(void);

#endif

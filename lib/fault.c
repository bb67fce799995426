#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cr/cr.h"
#include "fault.h"
#include "log.h"

/* Every step that can fail on request, in the order a dump and a restore pass them. */
static const struct cr_fault_step steps[] = {
	{ "seize", "dump", "PTRACE_SEIZE of each thread" },
	{ "infect-prepare", "dump", "saving a task's registers before infection" },
	{ "remote-syscall", "dump", "each syscall run in the task (memfd, ftruncate, mmap, ...)" },
	{ "parasite-start", "dump", "starting the parasite once it is mapped" },
	{ "parasite-cmd", "dump", "each command to the parasite (init, misc, timers, pages)" },
	{ "image-create", "dump", "creating each image file" },
	{ "image-write", "dump", "each image write (EIO)" },
	{ "image-enospc", "dump", "each image write (ENOSPC)" },
	{ "image-short-write", "dump", "each image write (half written, then ENOSPC)" },
	{ "pages-write", "dump", "each splice of pages into the pages image (ENOSPC)" },
	{ "pages-write-part1", "dump", "each batch the second thread writes into part 1 of the pages image (ENOSPC halfway)" },
	{ "restore-userns", "restore", "each helper that makes a nested user namespace, or a namespace one owns" },
	{ "restore-fork", "restore", "creating each task at its PID" },
	{ "restore-file-open", "restore", "opening each fd" },
	{ "restore-premap", "restore", "premapping each task's memory" },
	{ "restore-restorer", "restore", "each task's jump into the restorer" },
	{ "restore-fill-helper", "restore-recovers",
	  "libcr's process helping a task fill its memory stops halfway through a piece and helps no more: the task copies the rest" },
	{ 0 },
};

static volatile sig_atomic_t cancelled;
static const char *fault_step;
static unsigned long fault_nth, passes;

CR_EXPORT const struct cr_fault_step *cr_fault_steps(void)
{
	return steps;
}

static void parse(void)
{
	static bool done;
	static char buf[64];
	const char *env;
	char *colon;

	if (done)
		return;
	done = true;
	if (!(env = getenv("CR_FAULT")) || !*env)
		return;
	snprintf(buf, sizeof(buf), "%s", env);
	fault_nth = 1;
	if ((colon = strchr(buf, ':'))) {
		*colon = 0;
		fault_nth = strtoul(colon + 1, NULL, 10);
	}
	fault_step = buf;
}

CR_EXPORT void cr_cancel(void)
{
	cancelled = 1;
}

void fault_cancel_reset(void)
{
	cancelled = 0;
}

bool fault_cancelled(const char *waiting_for)
{
	if (cancelled)
		pr_err("interrupted by a signal while waiting for %s: undone", waiting_for);
	return cancelled;
}

bool fault_hit(const char *step)
{
	if (cancelled) {
		pr_err("interrupted by a signal before %s: undone", step);
		return true;
	}
	parse();
	if (!fault_step || strcmp(step, fault_step) || ++passes != fault_nth)
		return false;
	pr_err("injected fault at %s (CR_FAULT)", step);
	return true;
}

/* The /proc text parsers (lib/proc/parse.c): stat, status, smaps and limits,
 * each run on the input as if the kernel had written it. */
#include <stdlib.h>
#include "fuzz.h"
#include "proc/proc.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_log();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_str(data, size);
	struct proc_stat st;
	struct proc_status ss;
	struct proc_rlimit lim[PROC_NR_RLIMITS];
	struct proc_vma *vmas = NULL;
	int nr;

	proc_parse_stat_buf(s, &st);
	proc_parse_status_buf(s, &ss);
	proc_parse_limits_buf(s, lim);
	if (!proc_parse_smaps_buf(s, &vmas, &nr))
		free(vmas);
	free(s);
	return 0;
}

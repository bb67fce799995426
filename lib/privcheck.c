/* cr_check_unprivileged: what works for the calling user, operation by
 * operation, and which capability each needs (crtool check --unprivileged).
 * Each line rests on a probe run with the caller's own credentials (kerndat's
 * probes run as the caller too) or on the caller's capability sets. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "cr/cr.h"
#include "kerndat.h"
#include "log.h"
#include "proc/privs.h"
#include "util.h"

static struct cr_feature table[16];
static char details[16][192];
static int nr;

static void add(const char *name, bool ok, const char *needed_for, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void add(const char *name, bool ok, const char *needed_for, const char *fmt, ...)
{
	va_list ap;

	if (nr >= (int)ARRAY_SIZE(table))
		return;
	va_start(ap, fmt);
	vsnprintf(details[nr], sizeof(details[nr]), fmt, ap);
	va_end(ap);
	table[nr] = (struct cr_feature){ name, ok, needed_for, details[nr] };
	nr++;
}

/* stat through a map_files entry of a child of ours, as the dump does: the
 * kernel asks for the capability whatever the process (but not for our own) */
static int probe_map_files(void)
{
	char *maps = NULL, path[96];
	unsigned long s, e;
	struct stat st;
	int ret = ENOENT;
	pid_t pid = fork();

	if (pid == 0) {
		for (;;)
			pause();
	}
	if (pid < 0)
		return errno;
	maps = read_proc(pid, "maps", NULL);
	if (maps && sscanf(maps, "%lx-%lx", &s, &e) == 2) {
		snprintf(path, sizeof(path), "/proc/%d/map_files/%lx-%lx", pid, s, e);
		ret = stat(path, &st) ? errno : 0;
	}
	free(maps);
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	return ret;
}

static const char *has(const struct privs *p, int cap)
{
	return privs_has(p, cap) ? "held" : "missing";
}

static void build(void)
{
	const struct kerndat *kd = kerndat_get();
	char *yama = read_file("/proc/sys/kernel/yama/ptrace_scope", NULL);
	long scope = yama ? atol(yama) : -1;
	struct privs p;
	int mf;

	free(yama);
	privs_limit(true);
	if (privs_get(&p)) {
		privs_limit(false);
		return;
	}
	privs_limit(false);
	if (scope < 0)
		add("ptrace-own", kd->ptrace_seize, "dump: seizing the caller's own processes (PTRACE_SEIZE)",
		    "no Yama LSM: needs no capability for processes of the same uid with no capability the caller lacks");
	else
		add("ptrace-own", kd->ptrace_seize && (scope == 0 || (scope < 3 && privs_has(&p, CAP_SYS_PTRACE))),
		    "dump: seizing the caller's own processes (PTRACE_SEIZE)",
		    "Yama ptrace_scope=%ld: %s", scope,
		    scope == 0 ? "needs no capability" : scope == 3 ? "ptrace is disabled for everyone"
		    : privs_has(&p, CAP_SYS_PTRACE) ? "needs CAP_SYS_PTRACE (held)" : "needs CAP_SYS_PTRACE (missing)");
	mf = probe_map_files();
	add("map-files", !mf, "dump: the files each process maps (/proc/PID/map_files)",
	    "needs CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN (%s)%s%s", has(&p, CAP_CHECKPOINT_RESTORE),
	    mf ? "; stat: " : "", mf ? strerror(mf) : "");
	add("clone3-set-tid", kd->clone3_set_tid, "restore: each process at its original PID",
	    "needs CAP_CHECKPOINT_RESTORE over the pid namespace (%s)", has(&p, CAP_CHECKPOINT_RESTORE));
	add("prctl-mm-exe", kd->prctl_mm_exe, "restore: /proc/PID/exe (PR_SET_MM_MAP with exe_fd)",
	    "needs CAP_CHECKPOINT_RESTORE (%s)", has(&p, CAP_CHECKPOINT_RESTORE));
	add("prctl-mm-map", kd->prctl_mm_map, "restore: brk, stack, arg/env, auxv (PR_SET_MM_MAP)",
	    "needs no capability");
	add("own-creds", true, "restore: processes with the caller's uid, gids, groups and no more capabilities",
	    "needs no capability: another uid, gid or group, or other securebits, is refused (CAP_SETUID, "
	    "CAP_SETGID, CAP_SETPCAP are not used)");
	add("tcp-repair", kd->tcp_repair && privs_has(&p, CAP_NET_ADMIN),
	    "--tcp-established (TCP_REPAIR) and the network lock", "needs CAP_NET_ADMIN (not used by --unprivileged)");
	add("new-pidns", privs_has(&p, CAP_SYS_ADMIN), "restore --new-pidns; trees in their own pid or IPC namespace",
	    "needs CAP_SYS_ADMIN (not used by --unprivileged)");
	add("seccomp", privs_has(&p, CAP_SYS_ADMIN), "dump and restore of processes with seccomp filters",
	    "PTRACE_O_SUSPEND_SECCOMP needs CAP_SYS_ADMIN (not used by --unprivileged)");
	add("chroot", privs_has(&p, CAP_SYS_CHROOT), "restore of a process with another root directory",
	    "needs CAP_SYS_CHROOT (not used by --unprivileged)");
	privs_free(&p);
}

CR_EXPORT int cr_check_unprivileged(const struct cr_feature **out)
{
	nr = 0;
	build();
	if (out)
		*out = table;
	return nr;
}

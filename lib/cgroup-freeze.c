/* The freezer before seizing (--freeze-cgroup): a tree that forks without
 * pause can outrun PTRACE_SEIZE, but not a frozen cgroup.  Frozen, every task
 * of the cgroup and its descendants is seized and interrupted; thawed, each
 * one stops at that interrupt before it runs a single instruction, and
 * tree_seize finds them seized already (seize_adopt). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cgroup.h"
#include "log.h"
#include "proc/seize.h"
#include "util.h"

#define FREEZE_TIMEOUT_MS 10000

static char *state_of(const struct cg_freezer *fz)
{
	char path[PATH_MAX], *v;

	snprintf(path, sizeof(path), "%s/%s", fz->dir, fz->v2 ? "cgroup.events" : "freezer.state");
	if (!(v = read_file(path, NULL)))
		return NULL;
	return v;
}

static bool is_frozen(const struct cg_freezer *fz)
{
	char *v = state_of(fz);
	bool frozen = v && (fz->v2 ? strstr(v, "frozen 1") != NULL : !strncmp(v, "FROZEN", 6));

	free(v);
	return frozen;
}

static int set_frozen(const struct cg_freezer *fz, bool on)
{
	char path[PATH_MAX];
	const char *v = fz->v2 ? (on ? "1" : "0") : (on ? "FROZEN" : "THAWED");

	snprintf(path, sizeof(path), "%s/%s", fz->dir, fz->v2 ? "cgroup.freeze" : "freezer.state");
	return write_file(path, v) ? pr_perror("can't %s cgroup %s (%s)", on ? "freeze" : "thaw", fz->dir, path) : 0;
}

/* Every thread of the cgroup and its descendants, added to *tids. */
static int list_threads(const char *dir, bool v2, pid_t **tids, size_t *nr)
{
	char path[PATH_MAX], *buf, *p, *end;
	DIR *d;
	struct dirent *de;
	int ret = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, v2 ? "cgroup.threads" : "tasks");
	if (!(buf = read_file(path, NULL)))
		return pr_perror("can't list the tasks of cgroup %s", dir);
	for (p = buf;; p = end) {
		long tid = strtol(p, &end, 10);
		pid_t *n;
		if (end == p)
			break;
		if (!(n = realloc(*tids, (*nr + 1) * sizeof(*n)))) {
			free(buf);
			return -ENOMEM;
		}
		*tids = n;
		n[(*nr)++] = tid;
	}
	free(buf);
	if (!(d = opendir(dir)))
		return pr_perror("can't read cgroup %s", dir);
	while ((de = readdir(d)) && !ret) {
		struct stat st;
		if (de->d_name[0] == '.' || snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path) ||
		    stat(path, &st) || !S_ISDIR(st.st_mode))
			continue;
		ret = list_threads(path, v2, tids, nr);
	}
	closedir(d);
	return ret;
}

static int wait_frozen(const struct cg_freezer *fz)
{
	for (int ms = 0; ms < FREEZE_TIMEOUT_MS; ms++) {
		if (is_frozen(fz))
			return 0;
		/* v1 may stay FREEZING while a task resists: asking again retries it */
		if (!fz->v2 && ms % 100 == 99 && set_frozen(fz, true))
			return -EIO;
		usleep(1000);
	}
	return pr_err("cgroup %s did not freeze within %d s", fz->dir, FREEZE_TIMEOUT_MS / 1000), -ETIMEDOUT;
}

int cgroup_freeze_seize(const char *path, struct cg_freezer *fz)
{
	char file[PATH_MAX];
	pid_t *tids = NULL;
	size_t nr = 0;
	int ret;

	memset(fz, 0, sizeof(*fz));
	snprintf(file, sizeof(file), "%s/cgroup.freeze", path);
	fz->v2 = !access(file, F_OK);
	snprintf(file, sizeof(file), "%s/freezer.state", path);
	if (!fz->v2 && access(file, F_OK))
		return pr_err("--freeze-cgroup %s: neither a cgroup v2 directory (cgroup.freeze) nor a v1 freezer "
			      "cgroup (freezer.state)", path), -EINVAL;
	if (!(fz->dir = strdup(path)))
		return -ENOMEM;
	/* we must not freeze ourselves */
	if ((ret = list_threads(path, fz->v2, &tids, &nr)))
		goto fail;
	for (size_t i = 0; i < nr; i++)
		if (tids[i] == getpid()) {
			ret = (pr_err("--freeze-cgroup %s: the dumper itself is in that cgroup", path), -EINVAL);
			goto fail;
		}
	free(tids);
	tids = NULL;
	nr = 0;
	fz->was_frozen = is_frozen(fz);
	if ((ret = set_frozen(fz, true)))
		goto fail;
	fz->frozen = true;
	if ((ret = wait_frozen(fz)) || (ret = list_threads(path, fz->v2, &tids, &nr)))
		goto fail;
	for (size_t i = 0; i < nr; i++) {
		if (ptrace(PTRACE_SEIZE, tids[i], NULL, NULL)) {
			if (errno == ESRCH || errno == EPERM)   /* exited, or exiting: no task to dump */
				continue;
			ret = pr_perror("can't seize %d of the frozen cgroup %s", tids[i], path);
			goto fail;
		}
		if (ptrace(PTRACE_INTERRUPT, tids[i], NULL, NULL) || (ret = seize_adopt(tids[i]))) {
			ret = ret ? ret : pr_perror("can't interrupt %d of the frozen cgroup %s", tids[i], path);
			ptrace(PTRACE_DETACH, tids[i], NULL, NULL);
			goto fail;
		}
	}
	pr_info("froze cgroup %s: %zu threads seized", path, nr);
	free(tids);
	/* thawed, each stops at its interrupt: the stops hold, the cgroup need not */
	if ((ret = set_frozen(fz, false)))
		return ret;
	fz->frozen = false;
	return 0;
fail:
	free(tids);
	return ret;
}

int cgroup_freeze_check(const struct cg_freezer *fz)
{
	pid_t first;
	size_t n;

	if (!fz->dir || !(n = seize_adopted_left(&first)))
		return 0;
	return pr_err("pid %d is in the frozen cgroup %s but not in the tree (%zu such thread%s): dump the tree "
		      "that holds every task of the cgroup", first, fz->dir, n, n > 1 ? "s" : ""), -EOPNOTSUPP;
}

void cgroup_freeze_end(struct cg_freezer *fz)
{
	if (!fz->dir)
		return;
	/* thawed before the leftovers are waited for: frozen, they would never stop */
	if (fz->frozen)
		set_frozen(fz, false);
	seize_adopted_release();
	if (fz->was_frozen && set_frozen(fz, true) == 0)
		wait_frozen(fz);
	free(fz->dir);
	memset(fz, 0, sizeof(*fz));
}

/* cgroup: the processes' cgroups survive the checkpoint (the runner restores
 * with --manage-cgroups full).
 *
 * The program stays in its own cgroups and makes P = libcr-cg-PID below them:
 * in cgroup v2, and in the v1 pids and memory hierarchies where those are
 * mounted (this machine's v2 has neither controller).  Child A goes into P/a
 * everywhere (v1 pids: pids.max 64; v1 memory: memory.limit_in_bytes 256 MiB;
 * v2 with those controllers: pids.max and memory.max), child B into P/b of v2
 * only.  After CHECK: A and B in exactly those cgroups, A's limits as set.
 * The program removes P at the end, pass or fail.
 */
#include "tst.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

enum { V2, PIDS, MEMORY, NR_H };
static const char *const hname[NR_H] = { "", "pids", "memory" };
static char mnt[NR_H][256], own[NR_H][512], pdir[NR_H][1024];
static pid_t kids[2];
static bool v2_limits;

/* Where each hierarchy is mounted, and our cgroup in it. */
static void find_hierarchies(void)
{
	static char buf[65536];
	char *line, *save = NULL;

	tst_read_file("/proc/self/mountinfo", buf, sizeof(buf));
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char root[256], mp[256], fs[32], opts[512], *dash = strstr(line, " - ");
		if (!dash || sscanf(line, "%*d %*d %*s %255s %255s", root, mp) != 2 ||
		    sscanf(dash + 3, "%31s %*s %511s", fs, opts) != 2 || strcmp(root, "/"))
			continue;
		if (!strcmp(fs, "cgroup2") && !mnt[V2][0])
			snprintf(mnt[V2], sizeof(mnt[V2]), "%s", mp);
		for (int h = PIDS; h < NR_H && !strcmp(fs, "cgroup"); h++) {
			char want[32];
			if (snprintf(want, sizeof(want), ",%s,", hname[h]) >= (int)sizeof(want))
				tst_fail("path too long");
			char o[520];
			snprintf(o, sizeof(o), ",%s,", opts);
			if (strstr(o, want) && !mnt[h][0])
				snprintf(mnt[h], sizeof(mnt[h]), "%s", mp);
		}
	}
	tst_read_file("/proc/self/cgroup", buf, sizeof(buf));
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c2 = 0;
		for (int h = 0; h < NR_H; h++)
			if (!strcmp(c1 + 1, hname[h]))
				snprintf(own[h], sizeof(own[h]), "%s", c2 + 1);
	}
	if (!mnt[V2][0] || !own[V2][0])
		tst_fail("no cgroup v2 mounted here");
	char path[600], ctl[256] = "";
	if (snprintf(path, sizeof(path), "%s/cgroup.controllers", mnt[V2]) >= (int)sizeof(path))
		tst_fail("path too long");
	tst_read_file(path, ctl, sizeof(ctl));
	/* v2 limits only where v1 does not hold the controllers */
	v2_limits = !mnt[PIDS][0] && !mnt[MEMORY][0] && strstr(ctl, "pids") && strstr(ctl, "memory");
	for (int h = 0; h < NR_H; h++)
		if (mnt[h][0])
			if (snprintf(pdir[h], sizeof(pdir[h]), "%s%s/libcr-cg-%d", mnt[h], strcmp(own[h], "/") ? own[h] : "",
				 (int)getpid()) >= (int)sizeof(pdir[h]))
				tst_fail("path too long");
}

static void put(const char *dir, const char *file, const char *value)
{
	char path[1200];
	int fd;

	if (snprintf(path, sizeof(path), "%s/%s", dir, file) >= (int)sizeof(path))
		tst_fail("path too long");
	if ((fd = open(path, O_WRONLY)) < 0 || write(fd, value, strlen(value)) < 0)
		tst_fail("write %s to %s: %s", value, path, strerror(errno));
	close(fd);
}

static void get(const char *dir, const char *file, char *out, size_t len)
{
	char path[1200];

	if (snprintf(path, sizeof(path), "%s/%s", dir, file) >= (int)sizeof(path))
		tst_fail("path too long");
	out[0] = 0;
	tst_read_file(path, out, len);
	out[strcspn(out, "\n")] = 0;
}

static void remove_all(void)
{
	for (int i = 0; i < 2; i++)
		if (kids[i] > 0) {
			kill(kids[i], SIGKILL);
			waitpid(kids[i], NULL, 0);
		}
	for (int h = 0; h < NR_H; h++) {
		char path[1100];
		if (!pdir[h][0])
			continue;
		for (int tries = 0; tries < 100; tries++) {
			if (snprintf(path, sizeof(path), "%s/a", pdir[h]) >= (int)sizeof(path))
				tst_fail("path too long");
			rmdir(path);
			if (snprintf(path, sizeof(path), "%s/b", pdir[h]) >= (int)sizeof(path))
				tst_fail("path too long");
			rmdir(path);
			if (!rmdir(pdir[h]) || errno == ENOENT)
				break;
			usleep(10000);   /* a killed child leaves its cgroup a moment later */
		}
	}
}

#define FAIL(...) do { remove_all(); tst_fail(__VA_ARGS__); } while (0)

static const char *limit_files[NR_H][2] = { { "pids.max", "memory.max" }, { "pids.max", NULL },
					   { "memory.limit_in_bytes", NULL } };
static const char *limit_values[NR_H][2] = { { "64", "268435456" }, { "64", NULL }, { "268435456", NULL } };

static pid_t child(void)
{
	pid_t p = fork();

	if (p < 0)
		FAIL("fork: %s", strerror(errno));
	if (p == 0) {
		for (;;)
			pause();
	}
	return p;
}

static void move(pid_t pid, const char *dir)
{
	char v[32];

	snprintf(v, sizeof(v), "%d", (int)pid);
	put(dir, "cgroup.procs", v);
}

/* "0::/x/libcr-cg-N/a" etc. as they must read */
static void check_member(pid_t pid, int h, const char *sub)
{
	char path[64], buf[4096], want[1100], *line, *save = NULL;
	bool found = false;

	if (snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid) >= (int)sizeof(path))
		tst_fail("path too long");
	tst_read_file(path, buf, sizeof(buf));
	int n = sub ? snprintf(want, sizeof(want), "%s/libcr-cg-%d/%s", strcmp(own[h], "/") ? own[h] : "",
			       (int)getpid(), sub)
		    : snprintf(want, sizeof(want), "%s", own[h]);
	if (n >= (int)sizeof(want))
		tst_fail("path too long");
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c2 = 0;
		if (strcmp(c1 + 1, hname[h]))
			continue;
		found = true;
		if (strcmp(c2 + 1, want))
			FAIL("pid %d is in %s cgroup %s, want %s", (int)pid, h ? hname[h] : "v2", c2 + 1, want);
	}
	if (!found)
		FAIL("pid %d has no %s cgroup", (int)pid, h ? hname[h] : "v2");
}

int main(int argc, char **argv)
{
	tst_init(argc, argv);
	char path[1100], val[64];

	find_hierarchies();
	for (int h = 0; h < NR_H; h++) {
		if (!pdir[h][0])
			continue;
		if (mkdir(pdir[h], 0755))
			FAIL("mkdir %s: %s", pdir[h], strerror(errno));
		if (h == V2 && v2_limits)
			put(pdir[h], "cgroup.subtree_control", "+pids +memory");
		for (int s = 0; s < (h == V2 ? 2 : 1); s++) {
			if (snprintf(path, sizeof(path), "%s/%c", pdir[h], 'a' + s) >= (int)sizeof(path))
				tst_fail("path too long");
			if (mkdir(path, 0755))
				FAIL("mkdir %s: %s", path, strerror(errno));
		}
		if (snprintf(path, sizeof(path), "%s/a", pdir[h]) >= (int)sizeof(path))
			tst_fail("path too long");
		for (int l = 0; l < 2 && (h != V2 || v2_limits); l++)
			if (limit_files[h][l])
				put(path, limit_files[h][l], limit_values[h][l]);
	}
	kids[0] = child();
	kids[1] = child();
	for (int h = 0; h < NR_H; h++) {
		if (!pdir[h][0])
			continue;
		if (snprintf(path, sizeof(path), "%s/a", pdir[h]) >= (int)sizeof(path))
			tst_fail("path too long");
		move(kids[0], path);
		if (h == V2) {
			if (snprintf(path, sizeof(path), "%s/b", pdir[h]) >= (int)sizeof(path))
				tst_fail("path too long");
			move(kids[1], path);
		}
	}
	if (!v2_limits && !mnt[PIDS][0] && !mnt[MEMORY][0])
		tst_info("SKIP (part): no pids or memory controller to set limits with");

	tst_ready();
	tst_wait_check();

	for (int h = 0; h < NR_H; h++) {
		if (!pdir[h][0])
			continue;
		check_member(getpid(), h, NULL);
		check_member(kids[0], h, "a");
		check_member(kids[1], h, h == V2 ? "b" : NULL);
		if (snprintf(path, sizeof(path), "%s/a", pdir[h]) >= (int)sizeof(path))
			tst_fail("path too long");
		for (int l = 0; l < 2 && (h != V2 || v2_limits); l++) {
			if (!limit_files[h][l])
				continue;
			get(path, limit_files[h][l], val, sizeof(val));
			if (strcmp(val, limit_values[h][l]))
				FAIL("%s/%s is %s, want %s", path, limit_files[h][l], val, limit_values[h][l]);
		}
	}
	if (tst_corrupting())
		FAIL("corrupted");
	remove_all();
	tst_pass();
}

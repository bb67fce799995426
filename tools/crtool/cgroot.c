/* A cgroup root a runtime names for a restore (runc's cg_root, CRIU's
 * --cgroup-root [CTRL:]PATH): where the restored tasks go in that hierarchy.
 * They start in the engine's cgroups, so the engine goes there first: runc has
 * moved it already, LXC has not. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "criu-compat.h"

/* The controllers of one line of /proc/self/cgroup ("ID:CTRLS:PATH") name ctrl? */
static bool has_ctrl(const char *ctrls, size_t n, const char *ctrl)
{
	size_t cl = strlen(ctrl);

	for (const char *p = ctrls; p < ctrls + n;) {
		const char *c = memchr(p, ',', ctrls + n - p);
		size_t l = (c ? c : ctrls + n) - p;
		if (l == cl && !strncmp(p, ctrl, l))
			return true;
		p += l + 1;
	}
	return false;
}

static bool cg_root_ours(const char *ctrl, const char *path)
{
	FILE *f = fopen("/proc/self/cgroup", "r");
	char line[4096];
	bool ok = false;

	if (!f)
		return false;
	while (!ok && fgets(line, sizeof(line), f)) {
		char *a = strchr(line, ':'), *b = a ? strchr(a + 1, ':') : NULL;
		if (!b)
			continue;
		line[strcspn(line, "\n")] = 0;
		/* no controller: any hierarchy; "" is cgroup v2's line ("0::/path") */
		bool match_ctrl = ctrl ? has_ctrl(a + 1, b - a - 1, ctrl) || (!ctrl[0] && b == a + 1) : true;
		ok = match_ctrl && !strcmp(b + 1, path);
	}
	fclose(f);
	return ok;
}

static bool hierarchy_mount(const char *ctrl, char *out, size_t len);

/* A v1 hierarchy with controller ctrl is mounted? */
static bool v1_has(const char *ctrl)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[4096];
	bool found = false;

	while (f && !found && fgets(line, sizeof(line), f)) {
		char fstype[64], super[1024], *dash = strstr(line, " - ");
		if (dash && sscanf(dash + 3, "%63s %*s %1023s", fstype, super) == 2 && !strcmp(fstype, "cgroup"))
			found = has_ctrl(super, strlen(super), ctrl);
	}
	if (f)
		fclose(f);
	return found;
}

/* The mount point of the hierarchy of ctrl (NULL or "": cgroup v2), from mountinfo:
 * "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS ... - FSTYPE SOURCE SUPEROPTS". */
static bool hierarchy_mount(const char *ctrl, char *out, size_t len)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[4096];
	bool found = false;

	while (f && !found && fgets(line, sizeof(line), f)) {
		char root[1024], mnt[1024], fstype[64], super[1024], *dash = strstr(line, " - ");
		if (!dash || sscanf(line, "%*s %*s %*s %1023s %1023s", root, mnt) != 2 ||
		    sscanf(dash + 3, "%63s %*s %1023s", fstype, super) != 2 || strcmp(root, "/"))
			continue;
		if (!ctrl || !ctrl[0])
			found = !strcmp(fstype, "cgroup2");
		else
			found = !strcmp(fstype, "cgroup") && has_ctrl(super, strlen(super), ctrl);
		if (found)
			snprintf(out, len, "%s", mnt);
	}
	if (f)
		fclose(f);
	/* a controller no v1 hierarchy has may be cgroup v2's (hugetlb here) */
	if (!found && ctrl && ctrl[0] && hierarchy_mount(NULL, out, len)) {
		char path[1100], ctrls[1024] = "";
		FILE *c;
		snprintf(path, sizeof(path), "%s/cgroup.controllers", out);
		if ((c = fopen(path, "r"))) {
			if (fgets(ctrls, sizeof(ctrls), c))
				for (char *t = strtok(ctrls, " \n"); t && !found; t = strtok(NULL, " \n"))
					found = !strcmp(t, ctrl);
			fclose(c);
		}
	}
	return found;
}

/* Absolute, and no ".." component: the path stays inside its hierarchy's mount
 * (the runtime's request is untrusted: "/../../tmp" would make the engine
 * create a cgroup.procs file in /tmp). */
static bool cg_path_inside(const char *path)
{
	if (path[0] != '/')
		return false;
	for (const char *p = path; (p = strstr(p, "..")); p += 2)
		if (p[-1] == '/' && (p[2] == '/' || !p[2]))
			return false;
	return true;
}

int cg_root_enter(const char *ctrl, const char *path, char *msg, size_t len)
{
	char mnt[1024], procs[3072];
	FILE *f;

	if (!cg_path_inside(path)) {
		snprintf(msg, len, "cgroup root %s:%s: want an absolute path inside the hierarchy, without \"..\"",
			 ctrl ? ctrl : "", path);
		return -1;
	}
	if (cg_root_ours(ctrl, path))
		return 0;
	if (!hierarchy_mount(ctrl, mnt, sizeof(mnt))) {
		snprintf(msg, len, "cgroup root %s:%s: no mounted cgroup hierarchy has controller %s", ctrl ? ctrl : "",
			 path, ctrl && ctrl[0] ? ctrl : "(v2)");
		return -1;
	}
	snprintf(procs, sizeof(procs), "%s%s/cgroup.procs", mnt, path);
	f = fopen(procs, "w");
	if (!f || fprintf(f, "%d\n", getpid()) < 0 || fclose(f)) {
		snprintf(msg, len, "cgroup root %s:%s: can't move the engine into it (%s): %s (libcr restores the tree "
			 "in the engine's cgroups)", ctrl ? ctrl : "", path, procs, strerror(errno));
		return -1;
	}
	return 0;
}

const char *cg_root_controller(const char *ctrl)
{
	char mnt[1024];

	if (!ctrl)
		return NULL;
	if (!ctrl[0] || !strcmp(ctrl, "unified"))
		return "unified";
	/* a controller of cgroup v2 only (hugetlb here): the unified hierarchy */
	if (hierarchy_mount(ctrl, mnt, sizeof(mnt)) && !v1_has(ctrl))
		return "unified";
	return ctrl;
}

/* tst-mnt.h: what the mount namespace test programs (ns-mnt, ns-mntnest,
 * ns-mntroot) share: directories made with their parents, files of seeded
 * contents, whether a path is a mount, and a view of /proc/self/mountinfo that
 * compares across a restore (mount points, types, options, and propagation as
 * relations between the listed mounts, not peer group numbers).  Any failure
 * ends the test (tst_fail). */
#ifndef TST_MNT_H
#define TST_MNT_H

#include "tst.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static inline void tst_mkdir_p(const char *path)
{
	char buf[4096];

	if (strlen(path) >= sizeof(buf))
		tst_fail("path too long: %s", path);
	strcpy(buf, path);
	for (char *p = buf + 1; *p; p++)
		if (*p == '/') {
			*p = 0;
			if (mkdir(buf, 0755) && errno != EEXIST)
				tst_fail("mkdir %s: %s", buf, strerror(errno));
			*p = '/';
		}
	if (mkdir(buf, 0755) && errno != EEXIST)
		tst_fail("mkdir %s: %s", buf, strerror(errno));
}

/* len bytes of the stream seeded s, in a file made anew (mode 0640). */
static inline void tst_write_seeded(const char *path, size_t len, uint64_t s)
{
	char buf[len];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);

	tst_fill(buf, len, s);
	if (fd < 0 || write(fd, buf, len) != (ssize_t)len)
		tst_fail("%s: %s", path, strerror(errno));
	close(fd);
}

/* Does the file hold exactly that? */
static inline bool tst_seeded_ok(const char *path, size_t len, uint64_t s)
{
	char buf[len + 1];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, len + 1);

	if (fd >= 0)
		close(fd);
	return n == (ssize_t)len && tst_cmp_fill(buf, len, s) == -1;
}

/* A mount point: on another device than its parent directory. */
static inline bool tst_is_mount(const char *path)
{
	struct stat a, b;
	char parent[4096 + 4];

	snprintf(parent, sizeof(parent), "%.4096s/..", path);
	return !stat(path, &a) && !stat(parent, &b) && a.st_dev != b.st_dev;
}

struct tst_mount {
	char mp[600], type[64], opts[200];
	unsigned shared, master;   /* peer group ids, 0: none */
};

/* The mounts of /proc/self/mountinfo that pick() keeps (it may rewrite the mount
 * point in place, at most 600 bytes), sorted by mount point (stacked ones in
 * the order they were made); how many, at most max. */
static inline int tst_mounts(struct tst_mount *m, int max, bool (*pick)(char *mp))
{
	static char buf[512 * 1024];
	int n = 0, fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	ssize_t len = 0, r;

	if (fd < 0)
		tst_fail("mountinfo: %s", strerror(errno));
	while ((r = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += r;
	close(fd);
	buf[len] = 0;
	for (char *save, *line = strtok_r(buf, "\n", &save); line && n < max; line = strtok_r(NULL, "\n", &save)) {
		char mp[600], opts[200], *dash = strstr(line, " - "), *p, *tsave;
		int pos;
		struct tst_mount *x = &m[n];

		if (!dash || sscanf(line, "%*u %*u %*u:%*u %*s %511s %199s%n", mp, opts, &pos) != 2)
			tst_fail("bad mountinfo line %s", line);
		if (!pick(mp))
			continue;
		memset(x, 0, sizeof(*x));
		snprintf(x->mp, sizeof(x->mp), "%s", mp);
		snprintf(x->opts, sizeof(x->opts), "%s", opts);
		sscanf(dash + 3, "%63s", x->type);
		*dash = 0;
		for (p = strtok_r(line + pos, " ", &tsave); p; p = strtok_r(NULL, " ", &tsave)) {
			if (!strncmp(p, "shared:", 7))
				x->shared = atoi(p + 7);
			if (!strncmp(p, "master:", 7))
				x->master = atoi(p + 7);
		}
		n++;
	}
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && strcmp(m[j - 1].mp, m[j].mp) > 0; j--) {
			struct tst_mount t = m[j];
			m[j] = m[j - 1];
			m[j - 1] = t;
		}
	return n;
}

/* One line a mount: "MP TYPE OPTS", with " shared-with-I" (the first listed mount
 * of its peer group) and " slave-of-I" or " slave-of-outside"; ro_rw: OPTS is
 * only "ro" or "rw". */
static inline void tst_mounts_view(const struct tst_mount *m, int n, bool ro_rw, char *out, size_t len)
{
	size_t o = 0;

	out[0] = 0;
	for (int i = 0; i < n; i++) {
		int sh = -1, ms = -1;
		const char *opts = m[i].opts;

		for (int j = 0; j < n; j++) {
			if (sh < 0 && m[i].shared && m[j].shared == m[i].shared)
				sh = j;
			if (ms < 0 && m[i].master && m[j].shared == m[i].master)
				ms = j;
		}
		if (ro_rw)
			opts = !strncmp(opts, "ro", 2) && (opts[2] == ',' || !opts[2]) ? "ro" : "rw";
		o += snprintf(out + o, len - o, "%s %s %s", m[i].mp, m[i].type, opts);
		if (sh >= 0)
			o += snprintf(out + o, len - o, " shared-with-%d", sh);
		if (m[i].master)
			o += ms >= 0 ? snprintf(out + o, len - o, " slave-of-%d", ms)
				     : snprintf(out + o, len - o, " slave-of-outside");
		o += snprintf(out + o, len - o, "\n");
		if (o >= len - 1000)   /* (a line is under 1000 bytes) */
			tst_fail("too many mounts to show");
	}
}

#endif

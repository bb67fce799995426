/* /proc/PID/mountinfo (proc(5)):
 *   36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
 * id, parent id, major:minor, root, mount point, per-mount options, optional
 * fields up to "-", filesystem type, source, superblock options.  Paths escape
 * space, tab, newline and backslash as \ooo. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include "log.h"
#include "ns/mnt.h"
#include "util.h"

static char *unescape(const char *s)
{
	char *out = malloc(strlen(s) + 1), *o = out;

	if (!out)
		return NULL;
	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' &&
		    s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*o++ = *s++;
		}
	}
	*o = 0;
	return out;
}

/* Per-mount options ("rw,nosuid,relatime") as MS_* flags. */
static uint32_t mount_flags(char *opts)
{
	static const struct { const char *name; uint32_t flag; } names[] = {
		{ "ro", MS_RDONLY }, { "nosuid", MS_NOSUID }, { "nodev", MS_NODEV }, { "noexec", MS_NOEXEC },
		{ "noatime", MS_NOATIME }, { "nodiratime", MS_NODIRATIME }, { "relatime", MS_RELATIME },
		{ "nosymfollow", MS_NOSYMFOLLOW },
	};
	uint32_t flags = 0;
	char *save, *o;

	for (o = strtok_r(opts, ",", &save); o; o = strtok_r(NULL, ",", &save))
		for (size_t i = 0; i < ARRAY_SIZE(names); i++)
			if (!strcmp(o, names[i].name))
				flags |= names[i].flag;
	return flags;
}

/* Superblock options without rw/ro (that one goes to sb_ro). */
static char *sb_options(const char *opts, bool *ro)
{
	char *copy = strdup(opts), *out = calloc(1, strlen(opts) + 1), *save, *o;

	if (!copy || !out) {
		free(copy);
		free(out);
		return NULL;
	}
	*ro = false;
	for (o = strtok_r(copy, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
		if (!strcmp(o, "ro"))
			*ro = true;
		if (!strcmp(o, "ro") || !strcmp(o, "rw"))
			continue;
		if (*out)
			strcat(out, ",");
		strcat(out, o);
	}
	free(copy);
	return out;
}

static int parse_line(char *line, struct mountinfo *m)
{
	char root[4096], mp[4096], mopts[1024], *p, *dash;
	int n;

	memset(m, 0, sizeof(*m));
	if (sscanf(line, "%u %u %u:%u %4095s %4095s %1023s%n", &m->id, &m->parent, &m->major, &m->minor, root, mp,
		   mopts, &n) != 7)
		return -EINVAL;
	dash = strstr(line + n, " - ");
	if (!dash)
		return -EINVAL;
	*dash = 0;
	/* optional fields: shared:N, master:N, propagate_from:N, unbindable */
	for (p = strtok(line + n, " "); p; p = strtok(NULL, " ")) {
		if (!strncmp(p, "shared:", 7))
			m->shared = strtoul(p + 7, NULL, 10);
		else if (!strncmp(p, "master:", 7))
			m->master = strtoul(p + 7, NULL, 10);
	}
	char *fstype = strtok(dash + 3, " "), *source = strtok(NULL, " "), *sopts = strtok(NULL, " ");
	if (!fstype || !source || !sopts)
		return -EINVAL;
	m->flags = mount_flags(mopts);
	m->root = unescape(root);
	m->mountpoint = unescape(mp);
	m->fstype = unescape(fstype);
	m->source = unescape(source);
	m->options = sb_options(sopts, &m->sb_ro);
	if (!m->root || !m->mountpoint || !m->fstype || !m->source || !m->options)
		return -ENOMEM;
	return 0;
}

void mountinfo_free(struct mountinfo *m, size_t nr)
{
	for (size_t i = 0; m && i < nr; i++) {
		free(m[i].root);
		free(m[i].mountpoint);
		free(m[i].fstype);
		free(m[i].source);
		free(m[i].options);
	}
	free(m);
}

int mountinfo_parse(char *buf, const char *path, struct mountinfo **out, size_t *nr)
{
	char *save, *line;
	struct mountinfo *m = NULL;
	size_t n = 0;
	int ret = 0;

	for (line = strtok_r(buf, "\n", &save); line && !ret; line = strtok_r(NULL, "\n", &save)) {
		struct mountinfo *nm = realloc(m, (n + 1) * sizeof(*m));
		if (!nm) {
			ret = -ENOMEM;
			break;
		}
		m = nm;
		if ((ret = parse_line(line, &m[n])))
			ret = ret == -EINVAL ? (pr_err("%s: can't parse the line \"%s\"", path, line), -EIO) : ret;
		n++;
	}
	if (ret) {
		mountinfo_free(m, n);
		return ret;
	}
	*out = m;
	*nr = n;
	return 0;
}

int mountinfo_read(pid_t pid, struct mountinfo **out, size_t *nr)
{
	char path[64], *buf;
	int ret;

	snprintf(path, sizeof(path), pid ? "/proc/%d/mountinfo" : "/proc/self/mountinfo", pid);
	if (!(buf = read_file(path, NULL)))
		return pr_perror("can't read %s", path);
	ret = mountinfo_parse(buf, path, out, nr);
	free(buf);
	return ret;
}

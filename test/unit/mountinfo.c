/* Unit tests of the mountinfo parser (lib/ns/mountinfo.c): optional fields
 * (shared, master, none, several), escaped spaces and tabs in paths, per-mount
 * flags and superblock options split into ro and the rest, malformed lines
 * refused, and this process's own mountinfo parsed whole. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include "log.h"
#include "ns/mnt.h"

static int npass, nfail;
static char why[1024];

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return -1;
}

#define CHECK(cond, ...) do { if (!(cond)) return fail(__VA_ARGS__); } while (0)

static void run(const char *name, int (*fn)(void))
{
	why[0] = 0;
	if (fn() == 0) {
		printf("PASS %s\n", name);
		npass++;
	} else {
		printf("FAIL %s: %s\n", name, why);
		nfail++;
	}
	fflush(stdout);
}

static int t_crafted(void)
{
	char text[] =
		"36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n"
		"37 36 0:41 / /a\\040dir/x\\011y ro,nosuid,nodev,noexec,relatime shared:7 master:3 - tmpfs tmp ro,size=64k\n"
		"38 36 0:42 /sub\\134dir /b rw - proc proc rw\n";
	struct mountinfo *m;
	size_t n;

	CHECK(mountinfo_parse(text, "crafted", &m, &n) == 0, "%s", cr_last_error());
	CHECK(n == 3, "%zu mounts", n);
	CHECK(m[0].id == 36 && m[0].parent == 35 && m[0].major == 98 && m[0].minor == 0, "ids of line 1");
	CHECK(!strcmp(m[0].root, "/mnt1") && !strcmp(m[0].mountpoint, "/mnt2"), "paths of line 1");
	CHECK(m[0].flags == MS_NOATIME && m[0].master == 1 && !m[0].shared, "flags/propagation of line 1");
	CHECK(!strcmp(m[0].fstype, "ext3") && !strcmp(m[0].source, "/dev/root") &&
	      !strcmp(m[0].options, "errors=continue") && !m[0].sb_ro, "fs of line 1: %s", m[0].options);
	CHECK(!strcmp(m[1].mountpoint, "/a dir/x\ty"), "escaped mount point: %s", m[1].mountpoint);
	CHECK(m[1].flags == (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME), "flags of line 2");
	CHECK(m[1].shared == 7 && m[1].master == 3, "propagation of line 2");
	CHECK(m[1].sb_ro && !strcmp(m[1].options, "size=64k"), "sb options of line 2");
	CHECK(!strcmp(m[2].root, "/sub\\dir") && !m[2].shared && !m[2].master && !*m[2].options, "line 3");
	mountinfo_free(m, n);
	return 0;
}

static int t_malformed(void)
{
	const char *bad[] = {
		"36 35 98:0 /mnt1 /mnt2 rw master:1 ext3 /dev/root rw\n",   /* no separator */
		"36 35 98 /mnt1 /mnt2 rw - ext3 /dev/root rw\n",              /* no minor */
		"36 35 98:0 /mnt1 /mnt2 rw - ext3\n",                         /* no source, options */
		"x\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[256];
		struct mountinfo *m;
		size_t n;
		snprintf(text, sizeof(text), "%s", bad[i]);
		CHECK(mountinfo_parse(text, "bad", &m, &n) == -EIO, "line %zu was parsed", i);
	}
	return 0;
}

static int t_live(void)
{
	struct mountinfo *m;
	size_t n;
	bool root = false;

	CHECK(mountinfo_read(0, &m, &n) == 0, "%s", cr_last_error());
	for (size_t i = 0; i < n; i++)
		root |= !strcmp(m[i].mountpoint, "/");
	mountinfo_free(m, n);
	CHECK(n > 0 && root, "no mount at / among %zu", n);
	return 0;
}

int main(void)
{
	run("mountinfo-crafted", t_crafted);
	run("mountinfo-malformed", t_malformed);
	run("mountinfo-live", t_live);
	printf("%d passed, %d failed\n", npass, nfail);
	return nfail != 0;
}

/* Every input the fuzzers found a bug with (test/fuzz/regress/), decoded again
 * by the normal build: each must give a result or a clear error, never a crash.
 *   regress/fdinfo-text/FILE   an fdinfo text, through every fd kind's parser
 *   regress/proc/FILE          a /proc text, through the stat, status, smaps and limits parsers
 *   regress/show/KIND.img...   an image, through cr_show_image (text and JSON)
 *   regress/images/DIR/        an image directory, through restore_check_images: must fail */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cr/cr.h"
#include "files/files.h"
#include "proc/proc.h"
#include "restore.h"

#define REGRESS "test/fuzz/regress"

static int npass, nfail;

static void result(const char *what, const char *name, int ok, const char *why)
{
	printf("%s %s/%s%s%s\n", ok ? "PASS" : "FAIL", what, name, ok ? "" : ": ", ok ? "" : why);
	ok ? npass++ : nfail++;
	fflush(stdout);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t cap = 0, len = 0, n;

	if (!f)
		return NULL;
	do {
		if (len + 4096 + 1 > cap && !(buf = realloc(buf, cap = cap * 2 + 4096 + 1)))
			abort();
		n = fread(buf + len, 1, 4096, f);
		len += n;
	} while (n);
	fclose(f);
	buf[len] = 0;
	return buf;
}

static void fdinfo_one(char *text, const struct fd_ops *ops, const char *link)
{
	struct fd_dump_ctx c = { .pid = getpid(), .fd = 0, .link = (char *)link, .fdinfo = text, .dup_of = -1 };
	FdinfoEntry *e = malloc(sizeof(*e));

	fdinfo_entry__init(e);
	if (ops)
		ops->dump(&c, e);
	else
		locks_dump(&c, e);
	fdinfo_entry__free_unpacked(e, NULL);
}

static int t_fdinfo_text(const char *path)
{
	char *s = slurp(path);

	if (!s)
		return -1;
	fdinfo_one(s, &eventfd_fd_ops, "anon_inode:[eventfd]");
	fdinfo_one(s, &signalfd_fd_ops, "anon_inode:[signalfd]");
	fdinfo_one(s, &epoll_fd_ops, "anon_inode:[eventpoll]");
	fdinfo_one(s, &inotify_fd_ops, "anon_inode:inotify");
	fdinfo_one(s, NULL, "/tmp/locked");
	free(s);
	return 0;
}

static int t_proc(const char *path)
{
	char *s = slurp(path);
	struct proc_stat st;
	struct proc_status ss;
	struct proc_rlimit lim[PROC_NR_RLIMITS];
	struct proc_vma *vmas;
	int nr;

	if (!s)
		return -1;
	proc_parse_stat_buf(s, &st);
	proc_parse_status_buf(s, &ss);
	proc_parse_limits_buf(s, lim);
	if (!proc_parse_smaps_buf(s, &vmas, &nr))
		free(vmas);
	free(s);
	return 0;
}

static int t_show(const char *path)
{
	int out = open("/dev/null", O_WRONLY | O_CLOEXEC);

	cr_show_image(path, false, out);
	cr_show_image(path, true, out);
	close(out);
	return 0;
}

static void each(const char *what, int (*fn)(const char *path))
{
	char dir[256], path[512];
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), REGRESS "/%s", what);
	if (!(d = opendir(dir)))
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		result(what, de->d_name, fn(path) == 0, "can't read the input");
	}
	closedir(d);
}

/* A hostile directory must be refused, with a message. */
static void images(void)
{
	char path[512];
	struct dirent *de;
	DIR *d = opendir(REGRESS "/images");

	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), REGRESS "/images/%s", de->d_name);
		int ret = restore_check_images(path);
		result("images", de->d_name, ret < 0 && cr_last_error()[0],
		       ret < 0 ? "refused without a message" : "accepted");
	}
	if (d)
		closedir(d);
}

int main(void)
{
	each("fdinfo-text", t_fdinfo_text);
	each("proc", t_proc);
	each("show", t_show);
	images();
	printf("%d passed, %d failed\n", npass, nfail);
	return nfail != 0;
}

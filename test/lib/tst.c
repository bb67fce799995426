/* tst: the test-program side of the runner protocol (see tst.h). */
#include "tst.h"

#include <dirent.h>
#include <ftw.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_OPTS 16
#define MAX_TMP 8

static const char *name = "test";
static bool corrupt;
static struct {
	const char *name;
	const char *value; /* NULL: not given */
	bool valued;
} opts[MAX_OPTS];
static int nopts;
static char tmp_paths[MAX_TMP][128];
static int ntmp;

/* What has been read from fd 0 so far. */
static char in_buf[64];
static size_t in_len;

void tst_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(3); /* nowhere left to report to */
		p += n;
		len -= (size_t)n;
	}
}

static void add_opts(const char *list, bool valued)
{
	if (!list)
		return;
	char *copy = strdup(list);
	for (char *tok = strtok(copy, ","); tok; tok = strtok(NULL, ",")) {
		if (nopts == MAX_OPTS)
			tst_fail("tst: too many options");
		opts[nopts].name = tok;
		opts[nopts].valued = valued;
		nopts++;
	}
}

void tst_init_opts(int argc, char **argv, const char *valued, const char *flags)
{
	const char *slash = argc > 0 ? strrchr(argv[0], '/') : NULL;
	if (argc > 0)
		name = slash ? slash + 1 : argv[0];
	add_opts(valued, true);
	add_opts(flags, false);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--corrupt")) {
			corrupt = true;
			continue;
		}
		int k;
		for (k = 0; k < nopts; k++)
			if (!strncmp(a, "--", 2) && !strcmp(a + 2, opts[k].name))
				break;
		if (k == nopts)
			tst_fail("unknown argument '%s'", a);
		if (opts[k].valued) {
			if (i + 1 >= argc)
				tst_fail("%s needs a value", a);
			opts[k].value = argv[++i];
		} else {
			opts[k].value = "1";
		}
	}
}

void tst_init(int argc, char **argv)
{
	tst_init_opts(argc, argv, NULL, NULL);
}

const char *tst_name(void)
{
	return name;
}

bool tst_corrupting(void)
{
	return corrupt;
}

long tst_opt_long(const char *oname, long def)
{
	for (int k = 0; k < nopts; k++) {
		if (strcmp(opts[k].name, oname))
			continue;
		if (!opts[k].value)
			return def;
		char *end;
		errno = 0;
		long v = strtol(opts[k].value, &end, 0);
		if (errno || *end || end == opts[k].value)
			tst_fail("--%s: not a number: '%s'", oname, opts[k].value);
		return v;
	}
	tst_fail("tst: option --%s was not declared", oname);
}

bool tst_opt_flag(const char *oname)
{
	for (int k = 0; k < nopts; k++)
		if (!strcmp(opts[k].name, oname))
			return opts[k].value != NULL;
	tst_fail("tst: option --%s was not declared", oname);
}

void tst_ready(void)
{
	tst_write_all(1, "READY\n", 6);
}

/* Look at what has arrived on fd 0: true once it is exactly "CHECK\n". */
static bool input_complete(void)
{
	char *nl = memchr(in_buf, '\n', in_len);
	if (!nl) {
		if (in_len == sizeof(in_buf))
			tst_fail("garbage on stdin (no newline in %zu bytes)", in_len);
		return false;
	}
	if (nl - in_buf != 5 || memcmp(in_buf, "CHECK", 5))
		tst_fail("expected \"CHECK\\n\" on stdin, got \"%.*s\"", (int)(nl - in_buf), in_buf);
	if ((size_t)(nl + 1 - in_buf) != in_len)
		tst_fail("%zu unexpected bytes on stdin after CHECK", in_len - (size_t)(nl + 1 - in_buf));
	return true;
}

static void read_some(void)
{
	ssize_t n;
	do
		n = read(0, in_buf + in_len, sizeof(in_buf) - in_len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		tst_fail("read(stdin): %s", strerror(errno));
	if (n == 0)
		tst_fail("stdin closed before CHECK");
	in_len += (size_t)n;
}

void tst_wait_check(void)
{
	while (!input_complete())
		read_some();
}

bool tst_check_requested(void)
{
	struct pollfd p = { .fd = 0, .events = POLLIN };
	int r = poll(&p, 1, 0);
	if (r < 0 && errno != EINTR)
		tst_fail("poll(stdin): %s", strerror(errno));
	if (r <= 0)
		return false;
	if (p.revents & POLLNVAL)
		tst_fail("stdin is not open");
	read_some(); /* POLLIN or POLLHUP: read returns data or EOF, never blocks */
	return input_complete();
}

/* A temp path is a file, or a directory of files (removed with them). */
static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

/* A temp path and all below it (a test's directory tree), never across a mount. */
static void remove_tmp(const char *path)
{
	nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

static void cleanup(void)
{
	for (int i = ntmp - 1; i >= 0; i--)
		remove_tmp(tmp_paths[i]);
}

void tst_pass(void)
{
	cleanup();
	tst_write_all(1, "PASS\n", 5);
	_exit(0);
}

void tst_fail(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n = snprintf(buf, sizeof(buf), "FAIL: %s: ", name);
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	cleanup();
	tst_write_all(1, buf, (size_t)n);
	_exit(1);
}

void tst_info(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n = snprintf(buf, sizeof(buf), "# %s: ", name);
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	tst_write_all(1, buf, (size_t)n);
}

const char *tst_tmp_path(const char *tag)
{
	if (ntmp == MAX_TMP)
		tst_fail("tst: too many temp paths");
	char *p = tmp_paths[ntmp++];
	snprintf(p, sizeof(tmp_paths[0]), "/tmp/libcr-tst-%d-%s", (int)getpid(), tag);
	return p;
}

uint64_t tst_seed(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t s = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ULL ^ (uint64_t)ts.tv_sec ^
		     ((uint64_t)getpid() << 32);
	return s ? s : 0x1234567;
}

void tst_fill(void *buf, size_t len, uint64_t seed)
{
	uint64_t s = seed ? seed : 1, *w = buf;
	size_t n = len / 8;
	for (size_t i = 0; i < n; i++)
		w[i] = tst_rand(&s);
	unsigned char *b = (unsigned char *)(w + n);
	for (size_t i = 0; i < len % 8; i++)
		b[i] = (unsigned char)tst_rand(&s);
}

long tst_cmp_fill(const void *buf, size_t len, uint64_t seed)
{
	uint64_t s = seed ? seed : 1;
	const uint64_t *w = buf;
	size_t n = len / 8;
	for (size_t i = 0; i < n; i++) {
		uint64_t want = tst_rand(&s);
		if (w[i] != want) {
			const unsigned char *a = (const void *)&w[i], *b = (const void *)&want;
			long k = 0;
			while (a[k] == b[k])
				k++;
			return (long)(i * 8) + k;
		}
	}
	const unsigned char *b = (const unsigned char *)(w + n);
	for (size_t i = 0; i < len % 8; i++)
		if (b[i] != (unsigned char)tst_rand(&s))
			return (long)(n * 8 + i);
	return -1;
}

uint64_t tst_hash(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint64_t h = 0xcbf29ce484222325ULL ^ len;
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		uint64_t w;
		memcpy(&w, p + i, 8);
		h = (h ^ w) * 0x100000001b3ULL;
		h ^= h >> 29;
	}
	for (; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h ^ (h >> 32);
}

uint64_t tst_now_ns(clockid_t clk)
{
	struct timespec ts;
	if (clock_gettime(clk, &ts))
		tst_fail("clock_gettime(%d): %s", (int)clk, strerror(errno));
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void tst_sleep_ms(long ms)
{
	struct timespec dl;
	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += ms / 1000;
	dl.tv_nsec += (ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	int r;
	while ((r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &dl, NULL)) == EINTR)
		;
	if (r)
		tst_fail("clock_nanosleep: %s", strerror(r));
}

long tst_read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		tst_fail("open %s: %s", path, strerror(errno));
	size_t got = 0;
	for (;;) {
		if (got + 1 >= len)
			tst_fail("%s: larger than %zu bytes", path, len);
		ssize_t n = read(fd, buf + got, len - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			tst_fail("read %s: %s", path, strerror(errno));
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = 0;
	return (long)got;
}

int tst_read_maps(struct tst_map *maps, int max)
{
	static char buf[1 << 20];
	tst_read_file("/proc/self/maps", buf, sizeof(buf));
	int n = 0;
	for (char *line = buf, *next; *line; line = next) {
		char *nl = strchr(line, '\n');
		next = nl ? nl + 1 : line + strlen(line);
		if (nl)
			*nl = 0;
		if (n == max)
			tst_fail("more than %d maps", max);
		struct tst_map *m = &maps[n];
		unsigned maj, min;
		int pos = 0;
		if (sscanf(line, "%lx-%lx %4s %llx %x:%x %lu %n", &m->start, &m->end, m->perms,
			   &m->offset, &maj, &min, &m->inode, &pos) < 7)
			tst_fail("cannot parse maps line '%s'", line);
		snprintf(m->name, sizeof(m->name), "%s", line + pos);
		n++;
	}
	return n;
}

const struct tst_map *tst_find_map(const struct tst_map *maps, int n, const char *mname)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(maps[i].name, mname))
			return &maps[i];
	return NULL;
}

const struct tst_map *tst_map_of(const struct tst_map *maps, int n, unsigned long addr)
{
	for (int i = 0; i < n; i++)
		if (addr >= maps[i].start && addr < maps[i].end)
			return &maps[i];
	return NULL;
}

bool tst_vmflags(unsigned long start, char *out, size_t len)
{
	static char buf[4 << 20];
	tst_read_file("/proc/self/smaps", buf, sizeof(buf));
	char head[32];
	int hl = snprintf(head, sizeof(head), "%lx-", start);
	for (char *line = buf; line && *line;) {
		if (!strncmp(line, head, (size_t)hl)) {
			char *vf = strstr(line, "\nVmFlags:");
			if (!vf)
				return false;
			vf += 9;
			while (*vf == ' ')
				vf++;
			size_t k = strcspn(vf, "\n");
			if (k >= len)
				k = len - 1;
			memcpy(out, vf, k);
			out[k] = 0;
			return true;
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return false;
}

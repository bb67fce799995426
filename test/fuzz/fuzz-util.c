#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cr/cr.h"
#include "fuzz.h"
#include "image/image.h"

static char work[64];
static int base_pid;

static void drop(enum cr_log_level level, const char *msg, void *user)
{
	(void)level;
	(void)msg;
	(void)user;
}

bool fuzz_verbose(void)
{
	return getenv("FUZZ_VERBOSE") != NULL;
}

void fuzz_quiet_log(void)
{
	if (!fuzz_verbose())
		cr_set_log(drop, NULL, CR_LOG_DEBUG);
}

static void die(const char *what)
{
	fprintf(stderr, "fuzz: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void remove_work(void)
{
	DIR *d = opendir(work);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
	rmdir(work);
}

static void copy_file(int sdfd, int ddfd, const char *name)
{
	char buf[65536];
	int in = openat(sdfd, name, O_RDONLY | O_CLOEXEC), out;
	ssize_t n;

	if (in < 0)
		die(name);
	out = openat(ddfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0)
		die(name);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, n) != n)
			die(name);
	close(in);
	close(out);
}

const char *fuzz_workdir(void)
{
	const char *base = getenv("FUZZ_BASE");
	struct dirent *de;
	DIR *d;
	int ddfd;

	if (work[0])
		return work;
	if (!base)
		base = "build/fuzz/images/counter";
	snprintf(work, sizeof(work), "%s/libcr-fuzz-XXXXXX", access("/dev/shm", W_OK) ? "/tmp" : "/dev/shm");
	if (!mkdtemp(work))
		die("mkdtemp");
	atexit(remove_work);
	if (!(d = opendir(base)))
		die(base);
	if ((ddfd = open(work, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		die(work);
	while ((de = readdir(d))) {
		if (de->d_type != DT_REG || !strstr(de->d_name, ".img"))
			continue;
		copy_file(dirfd(d), ddfd, de->d_name);
		if (!strncmp(de->d_name, "core-", 5))
			base_pid = atoi(de->d_name + 5);
	}
	closedir(d);
	close(ddfd);
	if (!base_pid) {
		fprintf(stderr, "fuzz: %s holds no core-PID.img (run test/fuzz/seeds.sh)\n", base);
		exit(2);
	}
	return work;
}

int fuzz_base_pid(void)
{
	fuzz_workdir();
	return base_pid;
}

void fuzz_put(const char *name, const uint8_t *data, size_t size)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", fuzz_workdir(), name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size))
		die(path);
	close(fd);
}

char *fuzz_str(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = 0;
	return s;
}

void fuzz_put_image(const char *name, const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size ? size : 1);
	size_t pos = IMG_HDR_SIZE;
	uint32_t hdr[2];

	if (!copy)
		abort();
	memcpy(copy, data, size);
	/* each record whose length fits gets its checksum; the rest is left as it is */
	while (pos + 8 <= size) {
		memcpy(hdr, copy + pos, 8);
		if (hdr[0] > size - pos - 8)
			break;
		hdr[1] = crc32c(0, copy + pos + 8, hdr[0]);
		memcpy(copy + pos, hdr, 8);
		pos += 8 + hdr[0];
	}
	fuzz_put(name, copy, size);
	free(copy);
}

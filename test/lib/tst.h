/* tst: the protocol every libcr test program speaks with test/runner.
 *
 *   tst_init(argc, argv)   parse the common flags (--corrupt, --size N, ...)
 *   ... set up the one kind of state the program is about ...
 *   tst_ready()            write "READY\n" to fd 1: the runner may now dump
 *   tst_wait_check()       block in read(0) until the runner writes "CHECK\n"
 *                          (or poll with tst_check_requested() from a busy loop)
 *   ... verify every bit of the state ...
 *   tst_pass()             write "PASS\n", exit 0
 *   tst_fail(fmt, ...)     write "FAIL: reason\n", exit 1
 *
 * Every line goes out as one write(2): no stdio buffers that a dump could catch
 * half-flushed.  Test programs must not fork or create threads; their fds 0, 1,
 * 2 are the runner's pipes.
 */
#ifndef TST_H
#define TST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define TST_PAGE 4096UL
#define TST_MIB (1024UL * 1024UL)

/* Parse the common flags; unknown flags are an error (the program fails). */
void tst_init(int argc, char **argv);
/* The test name (basename of argv[0]). */
const char *tst_name(void);
/* --corrupt: damage the state after the check point so the check must fail. */
bool tst_corrupting(void);
/* --NAME VALUE (integer) if given, else def.  Only names passed in the
 * comma-separated list given to tst_init_opts() are accepted. */
long tst_opt_long(const char *name, long def);
/* --NAME (flag without value). */
bool tst_opt_flag(const char *name);
/* Like tst_init(), but also accept --NAME VALUE options in `valued` and
 * --NAME flags in `flags` (comma-separated lists, either may be NULL). */
void tst_init_opts(int argc, char **argv, const char *valued, const char *flags);

void tst_ready(void);
void tst_wait_check(void);
/* Non-blocking: true once a complete "CHECK\n" has been read from fd 0. */
bool tst_check_requested(void);

__attribute__((noreturn)) void tst_pass(void);
__attribute__((noreturn, format(printf, 1, 2))) void tst_fail(const char *fmt, ...);
/* A "# ..." information line (ignored by the runner, shown on failure). */
__attribute__((format(printf, 1, 2))) void tst_info(const char *fmt, ...);
/* Write a buffer to fd 1 in one write(2) (retrying only short writes). */
void tst_write_all(int fd, const void *buf, size_t len);

/* A temporary path /tmp/libcr-tst-PID-TAG, removed by tst_pass/tst_fail (a
 * directory with the files in it; paths are removed in the reverse order). */
const char *tst_tmp_path(const char *tag);

/* xorshift64* PRNG: fast, good enough to make memory contents unpredictable. */
static inline uint64_t tst_rand(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}
/* A seed that differs between runs (never 0). */
uint64_t tst_seed(void);
/* Fill buf with the PRNG stream of `seed` (len rounded down to 8 bytes,
 * the tail filled byte-wise). */
void tst_fill(void *buf, size_t len, uint64_t seed);
/* Compare buf with the stream tst_fill(seed) wrote.  Returns -1 if equal,
 * else the offset of the first differing byte. */
long tst_cmp_fill(const void *buf, size_t len, uint64_t seed);
/* A 64-bit hash of a buffer. */
uint64_t tst_hash(const void *buf, size_t len);

uint64_t tst_now_ns(clockid_t clk);
/* Sleep ms milliseconds of CLOCK_MONOTONIC, continuing through EINTR. */
void tst_sleep_ms(long ms);

/* One line of /proc/self/maps. */
struct tst_map {
	unsigned long start, end;
	char perms[5];
	unsigned long long offset;
	unsigned long inode;
	char name[256];
};
/* Read /proc/self/maps into maps[0..max); returns the count (fails the test
 * on error or overflow). */
int tst_read_maps(struct tst_map *maps, int max);
/* The map whose name is exactly `name` ("[vdso]", "[heap]", ...), or NULL. */
const struct tst_map *tst_find_map(const struct tst_map *maps, int n, const char *name);
/* The map containing addr, or NULL. */
const struct tst_map *tst_map_of(const struct tst_map *maps, int n, unsigned long addr);
/* The "VmFlags:" line of the smaps entry starting at `start` into buf. */
bool tst_vmflags(unsigned long start, char *buf, size_t len);

/* Read a whole small file (e.g. /proc/self/status) into buf, NUL-terminated. */
long tst_read_file(const char *path, char *buf, size_t len);

#endif

/* mem-stack: a deep stack.
 *
 * RLIMIT_STACK is raised to 64 MiB, then the program recurses until the stack
 * is ~8 MiB deep, each frame holding 1 KiB of data derived from its depth.
 * The deepest frame waits for CHECK; then every frame verifies its data as
 * the recursion unwinds (return addresses and saved registers on the way are
 * checked implicitly: a wrong one crashes).  Also checked: the [stack]
 * mapping spans the same range, RLIMIT_STACK is unchanged, and the stack can
 * still grow by another 4 MiB after restore (it is still VM_GROWSDOWN).
 *
 * --corrupt: the deepest frame changes its data after CHECK.
 */
#include "tst.h"

#include <errno.h>
#include <string.h>
#include <sys/resource.h>

#define FRAME_WORDS 128
#define DEPTH_BYTES (8 * TST_MIB)

static uint64_t seed;
static uintptr_t top;
static long frames, deepest;
static unsigned long stack_start, stack_end;
static struct rlimit rl_set;

static void stack_range(unsigned long *start, unsigned long *end)
{
	static struct tst_map maps[4096];
	int n = tst_read_maps(maps, 4096);
	const struct tst_map *m = tst_find_map(maps, n, "[stack]");
	if (!m)
		tst_fail("no [stack] in /proc/self/maps");
	*start = m->start;
	*end = m->end;
}

/* Grow the stack 64 KiB below here now, so that what runs at the bottom
 * (vsnprintf in tst_info, the checks) never grows it after it was recorded. */
__attribute__((noinline)) static void pregrow(void)
{
	volatile char pad[64 * 1024];
	for (size_t i = 0; i < sizeof(pad); i += TST_PAGE)
		pad[i] = 1;
	pad[sizeof(pad) - 1] = 1;
}

static void at_bottom(volatile uint64_t *buf)
{
	unsigned long s, e;
	pregrow();
	stack_range(&stack_start, &stack_end);
	if (top - (uintptr_t)buf < DEPTH_BYTES)
		tst_fail("stack only %lu bytes deep", (unsigned long)(top - (uintptr_t)buf));
	tst_info("%ld frames, %lu KiB of stack, [stack] %lx-%lx", frames,
		 (unsigned long)(top - (uintptr_t)buf) / 1024, stack_start, stack_end);
	tst_ready();
	tst_wait_check();
	if (tst_corrupting())
		buf[3] ^= 1;
	stack_range(&s, &e);
	if (s != stack_start || e != stack_end)
		tst_fail("[stack] is %lx-%lx, was %lx-%lx", s, e, stack_start, stack_end);
	struct rlimit rl;
	getrlimit(RLIMIT_STACK, &rl);
	if (rl.rlim_cur != rl_set.rlim_cur || rl.rlim_max != rl_set.rlim_max)
		tst_fail("RLIMIT_STACK is %llu/%llu, was %llu/%llu", (unsigned long long)rl.rlim_cur,
			 (unsigned long long)rl.rlim_max, (unsigned long long)rl_set.rlim_cur,
			 (unsigned long long)rl_set.rlim_max);
}

/* Returns the number of frames below and including this one. */
static long recurse(long depth, void (*bottom)(volatile uint64_t *), uintptr_t limit)
{
	volatile uint64_t buf[FRAME_WORDS];
	uint64_t s = seed ^ ((uint64_t)depth * 0x9E3779B97F4A7C15ULL);
	for (int i = 0; i < FRAME_WORDS; i++)
		buf[i] = tst_rand(&s);
	long below;
	frames = depth + 1;
	if (top - (uintptr_t)buf >= limit) {
		bottom(buf);
		below = 0;
	} else {
		below = recurse(depth + 1, bottom, limit);
	}
	s = seed ^ ((uint64_t)depth * 0x9E3779B97F4A7C15ULL);
	for (int i = 0; i < FRAME_WORDS; i++)
		if (buf[i] != tst_rand(&s))
			tst_fail("frame %ld (of %ld) word %d differs", depth, deepest ? deepest : frames, i);
	return below + 1;
}

static void deeper_bottom(volatile uint64_t *buf)
{
	(void)buf;
	unsigned long s, e;
	stack_range(&s, &e);
	if (s >= stack_start)
		tst_fail("the stack did not grow after restore: [stack] %lx-%lx", s, e);
}

int main(int argc, char **argv)
{
	tst_init(argc, argv);
	seed = tst_seed();
	rl_set.rlim_cur = 64 * TST_MIB;
	rl_set.rlim_max = RLIM_INFINITY;
	struct rlimit old;
	getrlimit(RLIMIT_STACK, &old);
	if (old.rlim_max != RLIM_INFINITY)
		rl_set.rlim_max = old.rlim_max;
	if (rl_set.rlim_max < rl_set.rlim_cur)
		tst_fail("RLIMIT_STACK hard limit %llu is below 64 MiB", (unsigned long long)rl_set.rlim_max);
	if (setrlimit(RLIMIT_STACK, &rl_set))
		tst_fail("setrlimit: %s", strerror(errno));
	volatile int marker;
	top = (uintptr_t)&marker;

	long n = recurse(0, at_bottom, DEPTH_BYTES);
	deepest = n;
	if (n != frames)
		tst_fail("unwound %ld frames of %ld", n, frames);
	/* Grow the stack past where it ever was. */
	recurse(0, deeper_bottom, DEPTH_BYTES + 4 * TST_MIB);
	tst_pass();
}

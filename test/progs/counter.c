/* counter: a busy loop that counts in registers and in memory.
 *
 * The loop is plain asm with no syscalls and no signals: the dump catches it in
 * user mode, in the middle of a batch.  Three registers move in lock step
 * (i, 3*i, and the batch countdown) and every step stores i to memory; after
 * each batch the memory copy, i and 3*i must agree and i must have grown.
 * Registers that come back wrong, a lost rip, or memory restored from a
 * different moment than the registers all break the agreement.
 *
 * --corrupt: after CHECK the memory copy is bumped, so the check must fail.
 */
#include "tst.h"

#include <inttypes.h>

static volatile uint64_t counter_mem;

/* Run `steps` increments; returns via *i and *tri the registers' values. */
static void batch(uint64_t *i, uint64_t *tri, uint64_t steps)
{
	uint64_t a = *i, b = *tri, k = steps;
#if defined(__x86_64__)
	asm volatile("1:\n\t"
		     "inc %[a]\n\t"
		     "add $3, %[b]\n\t"
		     "mov %[a], %[mem]\n\t"
		     "dec %[k]\n\t"
		     "jnz 1b\n\t"
		     : [a] "+r"(a), [b] "+r"(b), [k] "+r"(k), [mem] "=m"(counter_mem)
		     :
		     : "cc");
#elif defined(__aarch64__)
	asm volatile("1:\n\t"
		     "add %[a], %[a], #1\n\t"
		     "add %[b], %[b], #3\n\t"
		     "str %[a], %[mem]\n\t"
		     "subs %[k], %[k], #1\n\t"
		     "b.ne 1b\n\t"
		     : [a] "+r"(a), [b] "+r"(b), [k] "+r"(k), [mem] "=m"(counter_mem)
		     :
		     : "cc");
#else
#error "counter: no loop for this architecture"
#endif
	*i = a;
	*tri = b;
}

static void verify(uint64_t i, uint64_t tri, uint64_t last, const char *when)
{
	uint64_t m = counter_mem;
	if (m != i)
		tst_fail("%s: memory says %" PRIu64 ", register says %" PRIu64, when, m, i);
	if (tri != 3 * i)
		tst_fail("%s: registers disagree: i=%" PRIu64 " 3i=%" PRIu64, when, i, tri);
	if (i <= last)
		tst_fail("%s: counter went from %" PRIu64 " to %" PRIu64, when, last, i);
}

int main(int argc, char **argv)
{
	tst_init(argc, argv);
	const uint64_t steps = 2000000;
	uint64_t i = 0, tri = 0, last = 0;

	batch(&i, &tri, steps);
	verify(i, tri, last, "before READY");
	last = i;
	uint64_t at_ready = i;
	tst_ready();

	for (;;) {
		batch(&i, &tri, steps);
		verify(i, tri, last, "while counting");
		if (i - last != steps)
			tst_fail("a batch counted %" PRIu64 " steps, not %" PRIu64, i - last, steps);
		last = i;
		if (tst_check_requested())
			break;
	}
	if (tst_corrupting())
		counter_mem += 1;
	verify(i, tri, at_ready, "at CHECK");
	/* And it still counts after the check. */
	batch(&i, &tri, steps);
	verify(i, tri, last, "after CHECK");
	tst_info("counted %" PRIu64 " steps after READY", i - at_ready);
	tst_pass();
}

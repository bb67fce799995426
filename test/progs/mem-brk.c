/* mem-brk: the brk heap, grown with sbrk and filled.
 *
 * The heap is grown by 4 MiB + 1234 bytes (the break is not page aligned) and
 * filled with random data.  After restore: the contents are intact, the
 * kernel's break (brk(0), asked with the raw syscall: glibc's sbrk(0) only
 * returns its cached value) is exactly where it was, the [heap] mapping spans
 * the same range, and the heap can still grow (and shrink) from there.
 *
 * --corrupt: one heap byte is changed after CHECK.
 */
#include "tst.h"

#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define GROW (4 * TST_MIB + 1234)

static unsigned long kernel_brk(void)
{
	return (unsigned long)syscall(SYS_brk, 0UL);
}

static void heap_range(unsigned long *start, unsigned long *end)
{
	static struct tst_map maps[4096];
	int n = tst_read_maps(maps, 4096);
	const struct tst_map *m = tst_find_map(maps, n, "[heap]");
	if (!m)
		tst_fail("no [heap] in /proc/self/maps");
	if (strcmp(m->perms, "rw-p"))
		tst_fail("[heap] has permissions %s", m->perms);
	*start = m->start;
	*end = m->end;
}

int main(int argc, char **argv)
{
	tst_init(argc, argv);
	uint64_t seed = tst_seed();
	unsigned char *heap = sbrk(GROW);
	if (heap == (void *)-1)
		tst_fail("sbrk: %s", strerror(errno));
	tst_fill(heap, GROW, seed);
	unsigned long brk0 = kernel_brk(), hs0, he0;
	if (brk0 != (unsigned long)heap + GROW)
		tst_fail("brk(0) is %lx, want %lx", brk0, (unsigned long)heap + GROW);
	heap_range(&hs0, &he0);
	if ((unsigned long)heap < hs0 || brk0 > he0)
		tst_fail("heap %p..%lx is not inside [heap] %lx-%lx", heap, brk0, hs0, he0);

	tst_ready();
	tst_wait_check();

	if (tst_corrupting())
		heap[GROW / 2] ^= 4;
	unsigned long brk1 = kernel_brk(), hs1, he1;
	if (brk1 != brk0)
		tst_fail("the break moved: %lx, was %lx", brk1, brk0);
	heap_range(&hs1, &he1);
	if (hs1 != hs0 || he1 != he0)
		tst_fail("[heap] is %lx-%lx, was %lx-%lx", hs1, he1, hs0, he0);
	long off = tst_cmp_fill(heap, GROW, seed);
	if (off >= 0)
		tst_fail("heap byte %ld (address %p) differs", off, heap + off);
	if ((void *)sbrk(0) != (void *)brk0)
		tst_fail("glibc's sbrk(0) says %p, want %lx", sbrk(0), brk0);

	/* Grow further: new memory must be there, writable and zero. */
	unsigned char *more = sbrk(TST_MIB);
	if (more == (void *)-1)
		tst_fail("sbrk(1 MiB) after restore: %s", strerror(errno));
	if ((unsigned long)more != brk0)
		tst_fail("sbrk grew from %p, not from the old break %lx", more, brk0);
	if (kernel_brk() != brk0 + TST_MIB)
		tst_fail("brk(0) is %lx after growing, want %lx", kernel_brk(), brk0 + TST_MIB);
	for (size_t i = 0; i < TST_MIB; i += 512)
		if (more[i])
			tst_fail("fresh heap memory at +%zu is not zero", i);
	memset(more, 0xa5, TST_MIB);
	off = tst_cmp_fill(heap, GROW, seed);
	if (off >= 0)
		tst_fail("heap byte %ld changed when the heap grew", off);
	if (sbrk(-(intptr_t)TST_MIB) == (void *)-1 || kernel_brk() != brk0)
		tst_fail("shrinking the heap back failed (brk %lx)", kernel_brk());
	tst_pass();
}

/* shm-host: shared memory whose contents are not all in the process's page tables.
 *
 *   SysV    a segment of the host's IPC namespace (IPC_PRIVATE, not removed), 256 KiB
 *           of a pattern, attached read-write at s1 and read-only at s2: it stays in
 *           the namespace across the dump and is attached again (same id)
 *   shared  4 MiB of MAP_SHARED|MAP_ANONYMOUS: this process writes the first half,
 *           a child it forked writes the second half and exits, so those pages are
 *           in the shared object only (PostgreSQL's exited backends do this)
 *
 * After CHECK: the segment is the same (id, size, two attaches sharing pages) with
 * its pattern, and both halves of the shared area hold their patterns.
 * --corrupt: a byte of the child's half changes after CHECK.
 */
#include "tst.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#define S_SIZE (256 << 10)
#define A_SIZE (4 << 20)

static int seg = -1;

static void rm_seg(void)
{
	if (seg >= 0)
		shmctl(seg, IPC_RMID, NULL);
}

int main(int argc, char **argv)
{
	unsigned char *s1, *s2, *a;
	uint64_t seed;
	pid_t child;
	int st;

	tst_init(argc, argv);
	seed = tst_seed();
	if ((seg = shmget(IPC_PRIVATE, S_SIZE, IPC_CREAT | 0600)) < 0)
		tst_fail("shmget: %s", strerror(errno));
	if ((s1 = shmat(seg, NULL, 0)) == (void *)-1 || (s2 = shmat(seg, NULL, SHM_RDONLY)) == (void *)-1) {
		rm_seg();
		tst_fail("shmat: %s", strerror(errno));
	}
	tst_fill(s1, S_SIZE, seed);
	a = mmap(NULL, A_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED) {
		rm_seg();
		tst_fail("mmap: %s", strerror(errno));
	}
	tst_fill(a, A_SIZE / 2, seed + 1);
	if ((child = fork()) == 0) {
		tst_fill(a + A_SIZE / 2, A_SIZE / 2, seed + 2);
		_exit(0);
	}
	if (child < 0 || waitpid(child, &st, 0) != child || st) {
		rm_seg();
		tst_fail("the writer child failed");
	}

	tst_ready();
	tst_wait_check();

	if (tst_corrupting())
		a[A_SIZE - 100] ^= 0x5a;
	struct shmid_ds ds;
	long off;
	if (shmctl(seg, IPC_STAT, &ds) || ds.shm_segsz != S_SIZE || ds.shm_nattch < 2 || (ds.shm_perm.mode & SHM_DEST)) {
		rm_seg();
		tst_fail("segment %d is not the one attached twice (%s)", seg, strerror(errno));
	}
	if ((off = tst_cmp_fill(s1, S_SIZE, seed)) >= 0 || (off = tst_cmp_fill(s2, S_SIZE, seed)) >= 0) {
		rm_seg();
		tst_fail("the SysV segment differs at byte %ld", off);
	}
	s1[777] ^= 0xff;
	if (s2[777] != s1[777]) {
		rm_seg();
		tst_fail("the two attaches are not one segment any more");
	}
	rm_seg();
	if ((off = tst_cmp_fill(a, A_SIZE / 2, seed + 1)) >= 0)
		tst_fail("the shared area's own half differs at byte %ld", off);
	if ((off = tst_cmp_fill(a + A_SIZE / 2, A_SIZE / 2, seed + 2)) >= 0)
		tst_fail("the half the exited child wrote differs at byte %ld (lost with the child)", off);
	tst_pass();
	return 0;
}

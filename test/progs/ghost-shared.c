/* ghost-shared: files no path leads to, used by several processes of a tree,
 * as Python's multiprocessing uses its sem_open semaphores.
 *
 *   root, children A and B (siblings; they die with the root)
 *   sem     /dev/shm/libcr-tst-PID-sem: created, sized, mapped MAP_SHARED by
 *           the root, unlinked, then the children fork: all three map it
 *   memfd   "ghost-shared" with F_SEAL_SHRINK | F_SEAL_GROW: A and B hold it
 *           at fd 20 and map it; the root closed and unmapped its own (the one
 *           that made the tree does not hold it)
 *   file    /tmp/libcr-tst-PID-del, unlinked: A and B hold the open file
 *           description the root opened and closed, at fd 21, offset 5
 * After CHECK (each child does its part when the root asks, through a shared
 * anonymous page): every process sees the others' writes in sem and memfd; the
 * memfd keeps its seals; A's fd 21 and B's are one description (A seeks, B sees
 * the offset); and in each process each area and fd is the very inode the
 * others have (one file again, not a copy each).
 */
#include "tst.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define LEN 8192

struct ctl {
	atomic_int phase;            /* 1: A writes, 2: B checks and writes, 3: A checks, 4: exit */
	atomic_int done[2];          /* 1 pass, 2 fail */
	char why[2][160];
	uint64_t ino[2][3];          /* each child's sem, memfd and file inodes */
};

static struct ctl *ctl;
static char *sem, *mem;

static void child_fail(int who, const char *what)
{
	snprintf(ctl->why[who], sizeof(ctl->why[who]), "%s: %s (%s)", who ? "B" : "A", what, strerror(errno));
	ctl->done[who] = 2;
	for (;;)
		pause();
}

static void wait_phase(int want)
{
	while (ctl->phase < want)
		usleep(1000);
}

static uint64_t ino_of_map(const void *addr)
{
	char path[96];
	struct stat st;
	unsigned long a = (unsigned long)addr;
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned long s, e;
	char line[512];

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx", &s, &e) == 2 && a >= s && a < e) {
			fclose(f);
			snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx", s, e);
			return stat(path, &st) ? 0 : st.st_ino;
		}
	if (f)
		fclose(f);
	return 0;
}

static void child(int who)
{
	struct stat st;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if ((mem = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, 20, 0)) == MAP_FAILED)
		child_fail(who, "mmap memfd");
	ctl->done[who] = 0;
	wait_phase(1);
	ctl->ino[who][0] = ino_of_map(sem);
	ctl->ino[who][1] = ino_of_map(mem);
	ctl->ino[who][2] = fstat(21, &st) ? 0 : st.st_ino;
	if (who == 0) {
		strcpy(sem + 100, "from A");
		strcpy(mem + 100, "memfd from A");
		if (lseek(21, 42, SEEK_SET) != 42)
			child_fail(who, "lseek fd 21");
		ctl->phase = 2;
		wait_phase(3);
		if (strcmp(sem + 200, "from B") || strcmp(mem + 200, "memfd from B"))
			child_fail(who, "B's writes are not in the shared files");
	} else {
		wait_phase(2);
		if (strcmp(sem + 100, "from A") || strcmp(mem + 100, "memfd from A"))
			child_fail(who, "A's writes are not in the shared files");
		if (lseek(21, 0, SEEK_CUR) != 42)
			child_fail(who, "fd 21 is not A's open file description (offset)");
		strcpy(sem + 200, "from B");
		strcpy(mem + 200, "memfd from B");
		if (fcntl(20, F_GET_SEALS) != (F_SEAL_SHRINK | F_SEAL_GROW))
			child_fail(who, "the memfd lost its seals");
		ctl->phase = 3;
	}
	ctl->done[who] = 1;
	wait_phase(4);
	_exit(0);
}

int main(int argc, char **argv)
{
	tst_init(argc, argv);
	const char *semname = tst_tmp_path("sem"), *delname = tst_tmp_path("del");
	int fd, m;
	pid_t kids[2];

	/* tst_tmp_path names /tmp; the semaphore lives where sem_open puts them */
	char shm[128];
	snprintf(shm, sizeof(shm), "/dev/shm/%s", strrchr(semname, '/') + 1);
	ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ctl == MAP_FAILED || (fd = open(shm, O_RDWR | O_CREAT | O_EXCL, 0600)) < 0 || ftruncate(fd, LEN) ||
	    (sem = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED || close(fd) ||
	    unlink(shm))
		tst_fail("the semaphore file %s: %s", shm, strerror(errno));
	strcpy(sem, "semaphore");
	if ((m = memfd_create("ghost-shared", MFD_ALLOW_SEALING)) < 0 || ftruncate(m, LEN) ||
	    pwrite(m, "memfd", 5, 0) != 5 || fcntl(m, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) ||
	    dup2(m, 20) != 20 || close(m))
		tst_fail("memfd: %s", strerror(errno));
	if ((fd = open(delname, O_RDWR | O_CREAT | O_TRUNC, 0600)) < 0 || write(fd, "deleted file", 12) != 12 ||
	    lseek(fd, 5, SEEK_SET) != 5 || dup2(fd, 21) != 21 || close(fd) || unlink(delname))
		tst_fail("%s: %s", delname, strerror(errno));
	ctl->done[0] = ctl->done[1] = -1;
	for (int i = 0; i < 2; i++)
		if ((kids[i] = fork()) == 0)
			child(i);
		else if (kids[i] < 0)
			tst_fail("fork: %s", strerror(errno));
	for (int i = 0; i < 500 && (ctl->done[0] || ctl->done[1]); i++)
		tst_sleep_ms(2);
	if (ctl->done[0] || ctl->done[1])
		tst_fail("the children did not start: %s %s", ctl->why[0], ctl->why[1]);
	/* the root holds neither the memfd nor the deleted file any more */
	close(20);
	close(21);

	tst_ready();
	tst_wait_check();

	if (tst_corrupting())
		strcpy(sem, "spoiled");
	if (strcmp(sem, "semaphore"))
		tst_fail("the semaphore file lost its content");
	ctl->phase = 1;
	for (int i = 0; i < 2000 && (ctl->done[0] != 1 || ctl->done[1] != 1) && ctl->done[0] != 2 && ctl->done[1] != 2; i++)
		tst_sleep_ms(2);
	ctl->phase = 4;
	for (int i = 0; i < 2; i++)
		if (ctl->done[i] != 1)
			tst_fail("%s", ctl->done[i] == 2 ? ctl->why[i] : "a child did not answer");
	if (strcmp(sem + 100, "from A") || strcmp(sem + 200, "from B"))
		tst_fail("the root does not see the children's writes in the semaphore file");
	uint64_t root_sem = ino_of_map(sem);
	for (int k = 0; k < 3; k++)
		if (!ctl->ino[0][k] || ctl->ino[0][k] != ctl->ino[1][k] || (k == 0 && ctl->ino[0][0] != root_sem))
			tst_fail("file %d is inode %lu in A, %lu in B (root's semaphore %lu): not one file", k,
				 (unsigned long)ctl->ino[0][k], (unsigned long)ctl->ino[1][k], (unsigned long)root_sem);
	for (int i = 0; i < 2; i++)
		waitpid(kids[i], NULL, 0);
	tst_pass();
}

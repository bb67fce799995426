/* ipc-sysv: SysV IPC in the process's own IPC namespace (made at start with
 * unshare(CLONE_NEWIPC)), every object at the id it had:
 *
 *   shm A   key 0x11a, 1 MiB of a pattern, attached read-write at a1 and read-only
 *           at a2 (one segment: a write through a1 shows at a2)
 *   shm B   IPC_PRIVATE, 64 KiB, attached, then removed (IPC_RMID) while attached:
 *           it must still be there, and gone from the namespace's list
 *   sem S   key 0x22b, 5 semaphores with the values 0, 1, 7, 300, 32767
 *   msg Q   key 0x33c, mode 0640, three messages of types 3, 1, 2 (one of 8000 bytes)
 *
 * After CHECK: the ids by key are the same, the contents, values and messages (in
 * their order, each type received by type) are as they were; the attachments are
 * at their addresses and share their pages.
 *
 * --corrupt: one semaphore changes after CHECK.
 * --shared-ns: no namespace of its own (the objects are the host's: a dump must
 * refuse; test/errors.sh removes them with ipcrm).
 */
#include "tst.h"

#include <errno.h>
#include <stdbool.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>

#define A_SIZE (1 << 20)
#define B_SIZE (64 << 10)

union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
};

static const unsigned short sem_vals[5] = { 0, 1, 7, 300, 32767 };

struct msg {
	long mtype;
	char text[10240];
};

static size_t msg_len(int i)
{
	return i == 1 ? 8000 : 16 + i;   /* 8000: under the default msgmax */
}

static void msg_fill(struct msg *m, int i)
{
	static const long types[3] = { 3, 1, 2 };
	m->mtype = types[i];
	for (size_t k = 0; k < msg_len(i); k++)
		m->text[k] = (char)(i * 31 + k);
}

int main(int argc, char **argv)
{
	int a, b, s, q;
	unsigned char *a1, *a2, *bp;
	uint64_t seed;

	tst_init_opts(argc, argv, NULL, "shared-ns");
	seed = tst_seed();
	if (!tst_opt_flag("shared-ns") && unshare(CLONE_NEWIPC))
		tst_fail("unshare(CLONE_NEWIPC): %s", strerror(errno));
	bool shared = tst_opt_flag("shared-ns");
	/* ids that are not the first a fresh namespace hands out */
	if (!shared)
		shmget(IPC_PRIVATE, 4096, 0600);
	if ((a = shmget(0x11a, A_SIZE, IPC_CREAT | 0600)) < 0 || (b = shmget(shared ? 0x11b : IPC_PRIVATE, B_SIZE, IPC_CREAT | 0640)) < 0)
		tst_fail("shmget: %s", strerror(errno));
	if ((a1 = shmat(a, NULL, 0)) == (void *)-1 || (a2 = shmat(a, NULL, SHM_RDONLY)) == (void *)-1 ||
	    (bp = shmat(b, NULL, 0)) == (void *)-1)
		tst_fail("shmat: %s", strerror(errno));
	tst_fill(a1, A_SIZE, seed);
	tst_fill(bp, B_SIZE, seed + 1);
	if (shmctl(b, IPC_RMID, NULL))
		tst_fail("IPC_RMID: %s", strerror(errno));
	if ((s = semget(0x22b, 5, IPC_CREAT | 0600)) < 0 ||
	    semctl(s, 0, SETALL, (union semun){ .array = (unsigned short *)sem_vals }))
		tst_fail("semaphores: %s", strerror(errno));
	if (!shared)
		msgget(IPC_PRIVATE, 0600);
	if ((q = msgget(0x33c, IPC_CREAT | 0640)) < 0)
		tst_fail("msgget: %s", strerror(errno));
	for (int i = 0; i < 3; i++) {
		struct msg m;
		msg_fill(&m, i);
		if (msgsnd(q, &m, msg_len(i), 0))
			tst_fail("msgsnd: %s", strerror(errno));
	}

	tst_ready();
	tst_wait_check();

	if (tst_corrupting()) {
		struct sembuf op = { 2, 1, 0 };
		semop(s, &op, 1);
	}
	if (shmget(0x11a, 0, 0) != a || semget(0x22b, 0, 0) != s || msgget(0x33c, 0) != q)
		tst_fail("ids by key: shm %d (was %d), sem %d (was %d), msg %d (was %d)", shmget(0x11a, 0, 0), a,
			 semget(0x22b, 0, 0), s, msgget(0x33c, 0), q);
	long off = tst_cmp_fill(a1, A_SIZE, seed);
	if (off >= 0)
		tst_fail("segment A differs at byte %ld", off);
	if ((off = tst_cmp_fill(a2, A_SIZE, seed)) >= 0)
		tst_fail("the read-only attach of segment A differs at byte %ld", off);
	a1[12345] ^= 0xff;
	if (a2[12345] != a1[12345])
		tst_fail("the two attaches of segment A are not one segment any more");
	if ((off = tst_cmp_fill(bp, B_SIZE, seed + 1)) >= 0)
		tst_fail("removed segment B differs at byte %ld", off);
	struct shmid_ds ds;
	if (shmctl(b, IPC_STAT, &ds) == 0 && !(ds.shm_perm.mode & SHM_DEST))
		tst_fail("segment B is no longer marked removed");
	unsigned short vals[5];
	if (semctl(s, 0, GETALL, (union semun){ .array = vals }))
		tst_fail("GETALL: %s", strerror(errno));
	for (int i = 0; i < 5; i++)
		if (vals[i] != sem_vals[i])
			tst_fail("semaphore %d is %u, want %u", i, vals[i], sem_vals[i]);
	struct msqid_ds qs;
	if (msgctl(q, IPC_STAT, &qs) || qs.msg_qnum != 3 || (qs.msg_perm.mode & 0777) != 0640)
		tst_fail("queue: %lu messages, mode 0%o", (unsigned long)qs.msg_qnum, qs.msg_perm.mode & 0777);
	/* by type: 1, 2, 3 are messages 1, 2, 0 */
	static const int by_type[3] = { 1, 2, 0 };
	for (int t = 1; t <= 3; t++) {
		struct msg got, want;
		ssize_t n = msgrcv(q, &got, sizeof(got.text), t, IPC_NOWAIT);
		msg_fill(&want, by_type[t - 1]);
		if (n != (ssize_t)msg_len(by_type[t - 1]) || memcmp(got.text, want.text, n))
			tst_fail("message of type %d: %zd bytes, want %zu", t, n, msg_len(by_type[t - 1]));
	}
	tst_pass();
}

/* thread-creds: threads with credentials of their own.
 *
 * setresuid(), setgroups() and capset() act on the calling thread; glibc makes
 * every thread follow (its setxid broadcast), a raw syscall does not.  Here
 * each of three threads changes its own by raw syscall:
 *   euid   setresuid(-1, 1000, -1): euid and fsuid 1000, its effective capabilities gone
 *   gids   setresgid(-1, 2000, 3000), setfsgid(4000), setgroups({5, 6, 7})
 *   caps   capset: CAP_NET_RAW and CAP_SYS_TIME out of its effective and permitted sets
 * while the main thread keeps root's.  After CHECK each thread reads its own
 * again (raw syscalls: getresuid, getresgid, setfsuid(-1), getgroups, capget) and
 * must find what it set; the main thread must find root's.
 *
 * --corrupt: after CHECK the euid thread takes euid 0 back, so its check fails.
 */
#include "tst.h"

#include <errno.h>
#include <linux/capability.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

struct ids {
	uint32_t r, e, s, fs;
};

struct creds {
	struct ids uid, gid;
	int ngroups;
	uint32_t groups[8];
	uint64_t eff, prm;
};

enum { T_EUID, T_GIDS, T_CAPS, NR_THREADS };
static const char *const names[NR_THREADS] = { "euid", "gids", "caps" };

static volatile int set_done, go;
static char verdict[NR_THREADS][256];

static void read_creds(struct creds *c)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	unsigned r, e, s;

	memset(c, 0, sizeof(*c));
	syscall(SYS_getresuid, &r, &e, &s);
	c->uid = (struct ids){ r, e, s, (uint32_t)syscall(SYS_setfsuid, -1) };
	syscall(SYS_getresgid, &r, &e, &s);
	c->gid = (struct ids){ r, e, s, (uint32_t)syscall(SYS_setfsgid, -1) };
	c->ngroups = syscall(SYS_getgroups, 8, c->groups);
	syscall(SYS_capget, &hdr, data);
	c->eff = data[0].effective | (uint64_t)data[1].effective << 32;
	c->prm = data[0].permitted | (uint64_t)data[1].permitted << 32;
}

static int change(int which)
{
	static const uint32_t groups[] = { 5, 6, 7 };
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];

	switch (which) {
	case T_EUID:
		return syscall(SYS_setresuid, -1, 1000, -1);
	case T_GIDS:
		if (syscall(SYS_setresgid, -1, 2000, 3000) || syscall(SYS_setgroups, 3, groups))
			return -1;
		syscall(SYS_setfsgid, 4000);
		return 0;
	default:
		if (syscall(SYS_capget, &hdr, data))
			return -1;
		for (int k = 0; k < 2; k++) {
			uint32_t drop = k == CAP_TO_INDEX(CAP_NET_RAW) ? CAP_TO_MASK(CAP_NET_RAW) : 0;
			if (k == CAP_TO_INDEX(CAP_SYS_TIME))
				drop |= CAP_TO_MASK(CAP_SYS_TIME);
			data[k].effective &= ~drop;
			data[k].permitted &= ~drop;
		}
		return syscall(SYS_capset, &hdr, data);
	}
}

static void *thread_main(void *arg)
{
	int which = (int)(long)arg;
	struct creds want, got;

	if (change(which)) {
		snprintf(verdict[which], sizeof(verdict[which]), "can't set its credentials: %s", strerror(errno));
		__sync_fetch_and_add(&set_done, 1);
		return NULL;
	}
	read_creds(&want);
	__sync_fetch_and_add(&set_done, 1);
	while (!go)
		usleep(1000);
	if (which == T_EUID && tst_corrupting())
		syscall(SYS_setresuid, -1, 0, -1);
	read_creds(&got);
	if (memcmp(&want.uid, &got.uid, sizeof(want.uid)) || memcmp(&want.gid, &got.gid, sizeof(want.gid)))
		snprintf(verdict[which], sizeof(verdict[which]),
			 "uids %u/%u/%u/%u gids %u/%u/%u/%u, want uids %u/%u/%u/%u gids %u/%u/%u/%u", got.uid.r,
			 got.uid.e, got.uid.s, got.uid.fs, got.gid.r, got.gid.e, got.gid.s, got.gid.fs, want.uid.r,
			 want.uid.e, want.uid.s, want.uid.fs, want.gid.r, want.gid.e, want.gid.s, want.gid.fs);
	else if (want.ngroups != got.ngroups || memcmp(want.groups, got.groups, sizeof(want.groups)))
		snprintf(verdict[which], sizeof(verdict[which]), "%d groups (first %u), want %d (first %u)", got.ngroups,
			 got.groups[0], want.ngroups, want.groups[0]);
	else if (want.eff != got.eff || want.prm != got.prm)
		snprintf(verdict[which], sizeof(verdict[which]), "capabilities eff %#llx prm %#llx, want %#llx %#llx",
			 (unsigned long long)got.eff, (unsigned long long)got.prm, (unsigned long long)want.eff,
			 (unsigned long long)want.prm);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t threads[NR_THREADS];
	struct creds root, now;

	tst_init(argc, argv);
	if (geteuid())
		tst_fail("must run as root (it gives threads other ids)");
	read_creds(&root);
	for (int i = 0; i < NR_THREADS; i++)
		if (pthread_create(&threads[i], NULL, thread_main, (void *)(long)i))
			tst_fail("pthread_create failed");
	while (set_done < NR_THREADS)
		usleep(1000);
	for (int i = 0; i < NR_THREADS; i++)
		if (verdict[i][0])
			tst_fail("thread %s: %s", names[i], verdict[i]);
	tst_ready();
	tst_wait_check();
	go = 1;
	for (int i = 0; i < NR_THREADS; i++)
		pthread_join(threads[i], NULL);
	for (int i = 0; i < NR_THREADS; i++)
		if (verdict[i][0])
			tst_fail("thread %s: %s", names[i], verdict[i]);
	read_creds(&now);
	if (memcmp(&root, &now, sizeof(root)))
		tst_fail("the main thread's credentials changed: euid %u egid %u eff %#llx", now.uid.e, now.gid.e,
			 (unsigned long long)now.eff);
	tst_pass();
}

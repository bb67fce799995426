/* ns-usernest: processes of one tree in user namespaces nested below the root's.
 *
 *   root          the runner's user namespace (ours)
 *   ├── A         unshare(CLONE_NEWUSER): U1, its maps written by the root from outside
 *   │   │         (uid and gid "0 200000 1000" + "1000 300000 10", setgroups allow);
 *   │   │         then inside: ids 0, groups 0 and 1005, UTS, network, IPC and cgroup
 *   │   │         namespaces owned by U1 ("usernest-a"; lo up, a TCP listener on it; a
 *   │   │         SysV segment, filled), a file it made (owner 0:1000 inside), kept open
 *   │   └── A1    A's child: unshare(CLONE_NEWUSER): U2 below U1, maps written by A
 *   │             from U1 ("0 1000 5", setgroups deny); ids 3/3/3, gids 2/2/2 inside;
 *   │             in A's UTS namespace (inherited)
 *   └── B         joins A's UTS, network and IPC namespaces (attaches the segment) and U1
 *                 by setns; ids 7, groups 5 inside
 *
 * After CHECK each process checks itself: /proc/self/uid_map, gid_map and
 * setgroups as before, its ids and groups, the owner of its user namespace
 * (NS_GET_OWNER_UID), its hostname, and the relations between everyone's user
 * namespaces, their parents (NS_GET_PARENT), UTS namespaces and their owners
 * (NS_GET_USERNS): the same or another as before, pair by pair (not the numbers,
 * which change), and those of their network, IPC and cgroup namespaces.  B sees
 * the segment's bytes, marks it and connects to A's listener; A then accepts B's
 * connection, sees the mark and the bytes, and checks its file's owner and bytes.
 * --corrupt: A changes the hostname after CHECK (everyone's check must see it).
 * --tcp: B is connected to A's listener before READY (an established connection in a
 * network namespace U1 owns, dumped with --tcp-established); after CHECK, B sends
 * "ping" on it and A answers "pong".
 * --own-id: what a user without privileges makes (and restores, test/unpriv.sh): A
 * writes its own maps ("0 UID 1", "0 GID 1", setgroups deny) and A1's ("0 0 1", deny);
 * A keeps its ids and groups, makes no other namespace, no segment, no listener, and
 * its file stays 0:0 inside; B joins only U1 and keeps its ids.
 * --thread: A1 has a second thread (refused by the dump: test/userns-errors.sh).
 * --root-userns: the process started forks the root of the tree into a user namespace
 * and a pid namespace of its own (clone CLONE_NEWUSER | CLONE_NEWPID: the pid namespace
 * is owned by the user namespace), writes its maps ("0 100000 1000000") from outside,
 * and waits for it; the root takes its ids 0 there and a mount namespace it owns,
 * pivot_rooted into a tmpfs with our /usr and this program's directory bound in and
 * /proc of its pid namespace (a copy of ours would hold mounts locked to theirs, which
 * a restore can't bind alone).  U1 is then nested below the tree's own: dump the root,
 * the started process's child (test/pidns.sh).
 */
#include "tst-ns.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/nsfs.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

enum { ROOT, A, A1, B, NR };
static const char *const names[NR] = { "root", "A", "A1", "B" };
enum { K_USER, K_PARENT, K_UTS, K_OWNER, K_NET, K_NET_OWNER, K_IPC, K_IPC_OWNER, K_CG, K_CG_OWNER, NK };
static const char *const knames[NK] = { "user namespace", "user namespace's parent", "UTS namespace",
					"UTS namespace's owner", "network namespace", "network namespace's owner",
					"IPC namespace", "IPC namespace's owner", "cgroup namespace",
					"cgroup namespace's owner" };

#define PORT 7791
#define SHM_SIZE (16 * 4096)

#define U1_MAP "0 200000 1000\n1000 300000 10\n"
#define U2_MAP "0 1000 5\n"

struct state {
	char uid_map[256], gid_map[256], setgroups[16], host[65];
	uid_t r, e, s;
	gid_t gr, ge, gs;
	gid_t groups[8];
	int ngroups;
	uid_t owner;
	uint64_t ino[NK];
};

struct ctl {
	struct tst_ns_ctl ns;
	atomic_int go_a, go_a1, a_ready;
	pid_t pid_a;
	struct state before[NR];
	atomic_int checked[NR];    /* 1: now[] written */
	struct state now[NR];
	int shmid;
	uint64_t seed;
	atomic_int done_b_mark, b_connected;
};

static struct ctl *ctl;
static int file_fd = -1, listener = -1, conn = -1;
static unsigned char *seg;
static bool own_id;
static const char *dir;

static void must(bool failed, const char *what)
{
	if (failed)
		tst_fail("%s: %s", what, strerror(errno));
}

static void read_text(const char *path, char *buf, size_t len)
{
	long n = tst_read_file(path, buf, len - 1);

	buf[n > 0 ? n : 0] = 0;
}

static void read_state(struct state *s)
{
	struct utsname u;
	int fd;

	read_text("/proc/self/uid_map", s->uid_map, sizeof(s->uid_map));
	read_text("/proc/self/gid_map", s->gid_map, sizeof(s->gid_map));
	read_text("/proc/self/setgroups", s->setgroups, sizeof(s->setgroups));
	uname(&u);
	snprintf(s->host, sizeof(s->host), "%s", u.nodename);
	getresuid(&s->r, &s->e, &s->s);
	getresgid(&s->gr, &s->ge, &s->gs);
	s->ngroups = getgroups(8, s->groups);
	s->owner = (uid_t)-2;
	if ((fd = open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC)) >= 0) {
		ioctl(fd, NS_GET_OWNER_UID, &s->owner);
		close(fd);
	}
	s->ino[K_USER] = tst_ns_self("user", 0);
	s->ino[K_PARENT] = tst_ns_self("user", NS_GET_PARENT);
	s->ino[K_UTS] = tst_ns_self("uts", 0);
	s->ino[K_OWNER] = tst_ns_self("uts", NS_GET_USERNS);
	s->ino[K_NET] = tst_ns_self("net", 0);
	s->ino[K_NET_OWNER] = tst_ns_self("net", NS_GET_USERNS);
	s->ino[K_IPC] = tst_ns_self("ipc", 0);
	s->ino[K_IPC_OWNER] = tst_ns_self("ipc", NS_GET_USERNS);
	s->ino[K_CG] = tst_ns_self("cgroup", 0);
	s->ino[K_CG_OWNER] = tst_ns_self("cgroup", NS_GET_USERNS);
}

static void write_maps(pid_t pid, const char *uid, const char *gid, const char *sg)
{
	char path[64];
	int fd;
	const char *what[3] = { "setgroups", "uid_map", "gid_map" }, *text[3] = { sg, uid, gid };

	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "/proc/%d/%s", pid, what[i]);
		fd = open(path, O_WRONLY);
		must(fd < 0 || write(fd, text[i], strlen(text[i])) != (ssize_t)strlen(text[i]), path);
		close(fd);
	}
}

/* ---- checks */

static bool relations(int who)
{
	const struct state *w0 = &ctl->before[who], *w1 = &ctl->now[who];

	for (int j = 0; j < NR; j++) {
		if (!atomic_load(&ctl->checked[j]))
			continue;
		for (int k = 0; k < NK; k++)
			for (int l = 0; l < NK; l++) {
				uint64_t a0 = w0->ino[k], b0 = ctl->before[j].ino[l];
				uint64_t a1 = w1->ino[k], b1 = ctl->now[j].ino[l];
				if ((!a0 || !b0) != (!a1 || !b1))
					return tst_ns_fail(who, "its %s is %s, it was %s", knames[k], a1 ? "seen" : "unseen",
							   a0 ? "seen" : "unseen");
				if (a0 && b0 && (a0 == b0) != (a1 == b1))
					return tst_ns_fail(who, "its %s is %s %s's %s, it was %s", knames[k], a1 == b1 ? "the same as" : "another than",
							   names[j], knames[l], a0 == b0 ? "the same" : "another");
			}
	}
	return true;
}

static bool verify(int who)
{
	struct state *b = &ctl->before[who], *n = &ctl->now[who];

	if (who == A && tst_corrupting())
		sethostname("corrupted", 9);
	read_state(n);
	atomic_store(&ctl->checked[who], 1);
	for (int j = 0; j < NR; j++)
		for (int t = 0; !atomic_load(&ctl->checked[j]) && t < 2000; t++)
			tst_sleep_ms(5);
	/* the hostname once more: after A's change (--corrupt) */
	struct utsname u;
	uname(&u);
	snprintf(n->host, sizeof(n->host), "%s", u.nodename);
	if (strcmp(b->uid_map, n->uid_map) || strcmp(b->gid_map, n->gid_map))
		return tst_ns_fail(who, "its maps are \"%s\" / \"%s\", were \"%s\" / \"%s\"", n->uid_map, n->gid_map, b->uid_map,
				   b->gid_map);
	if (strcmp(b->setgroups, n->setgroups))
		return tst_ns_fail(who, "setgroups is \"%s\", was \"%s\"", n->setgroups, b->setgroups);
	if (b->r != n->r || b->e != n->e || b->s != n->s || b->gr != n->gr || b->ge != n->ge || b->gs != n->gs)
		return tst_ns_fail(who, "ids %u/%u/%u %u/%u/%u, were %u/%u/%u %u/%u/%u", n->r, n->e, n->s, n->gr, n->ge, n->gs, b->r,
				   b->e, b->s, b->gr, b->ge, b->gs);
	if (b->ngroups != n->ngroups || memcmp(b->groups, n->groups, sizeof(gid_t) * (b->ngroups > 0 ? b->ngroups : 0)))
		return tst_ns_fail(who, "%d groups (first %u), were %d (first %u)", n->ngroups, n->ngroups > 0 ? n->groups[0] : 0,
				   b->ngroups, b->ngroups > 0 ? b->groups[0] : 0);
	if (b->owner != n->owner)
		return tst_ns_fail(who, "its user namespace's owner is %u, was %u", n->owner, b->owner);
	if (strcmp(b->host, n->host))
		return tst_ns_fail(who, "hostname \"%s\", was \"%s\"", n->host, b->host);
	if (!relations(who))
		return false;
	if (conn >= 0) {   /* --tcp: B pings, A answers */
		struct pollfd p = { conn, POLLIN, 0 };
		char buf[8] = "";
		if (who == B && write(conn, "ping", 4) != 4)
			return tst_ns_fail(who, "can't write on its connection: %s", strerror(errno));
		if (poll(&p, 1, 5000) != 1 || read(conn, buf, 4) != 4 || strcmp(buf, who == B ? "pong" : "ping"))
			return tst_ns_fail(who, "its connection did not bring \"%s\" (\"%s\")", who == B ? "pong" : "ping", buf);
		if (who == A && write(conn, "pong", 4) != 4)
			return tst_ns_fail(who, "can't write on its connection: %s", strerror(errno));
	}
	if (who == B && !own_id) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(PORT),
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		int sk = socket(AF_INET, SOCK_STREAM, 0);
		unsigned char ref[SHM_SIZE];
		tst_fill(ref, SHM_SIZE, ctl->seed);
		if (memcmp(seg + 64, ref + 64, SHM_SIZE - 64))
			return tst_ns_fail(who, "A's SysV segment's bytes differ");
		memcpy(seg, "B was here", 11);
		if (sk < 0 || connect(sk, (struct sockaddr *)&a, sizeof(a)) || write(sk, "B", 1) != 1)
			return tst_ns_fail(who, "can't reach A's listener on 127.0.0.1:%d: %s", PORT, strerror(errno));
		close(sk);
		atomic_store(&ctl->done_b_mark, 1);
	}
	if (who == A && !own_id) {
		struct pollfd p = { listener, POLLIN, 0 };
		char c = 0;
		unsigned char ref[SHM_SIZE];
		while (!atomic_load(&ctl->done_b_mark) && tst_ns_phase() < TST_NS_EXIT)
			tst_sleep_ms(5);
		int cs = poll(&p, 1, 5000) == 1 ? accept(listener, NULL, NULL) : -1;
		if (cs < 0 || read(cs, &c, 1) != 1 || c != 'B')
			return tst_ns_fail(who, "B's connection did not come to its listener");
		close(cs);
		if (memcmp(seg, "B was here", 11))
			return tst_ns_fail(who, "B's mark is not in its SysV segment: not the same segment");
		tst_fill(ref, SHM_SIZE, ctl->seed);
		if (memcmp(seg + 64, ref + 64, SHM_SIZE - 64))
			return tst_ns_fail(who, "its SysV segment's bytes differ");
	}
	if (who == A) {
		struct stat st;
		char buf[16] = "";
		if (fstat(file_fd, &st) || st.st_uid != 0 || st.st_gid != (own_id ? 0 : 1000))
			return tst_ns_fail(who, "its file is owned by %u:%u inside, was 0:%d", st.st_uid, st.st_gid, own_id ? 0 : 1000);
		if (pread(file_fd, buf, sizeof(buf) - 1, 0) != 9 || strcmp(buf, "usernest\n"))
			return tst_ns_fail(who, "its file holds \"%s\"", buf);
	}
	return true;
}

static void __attribute__((noreturn)) serve(int who)
{
	read_state(&ctl->before[who]);
	tst_ns_started();
	tst_ns_wait_phase(TST_NS_CHECK);
	tst_ns_verdict(who, verify(who));
	tst_ns_wait_phase(TST_NS_EXIT);
	_exit(0);
}

static void *idle(void *arg)
{
	for (;;)
		pause();
	return arg;
}

/* lo up, a TCP listener on it */
static void lo_listen(void)
{
	struct ifreq r = { 0 };
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(PORT), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int sk = socket(AF_INET, SOCK_DGRAM, 0), one = 1;

	snprintf(r.ifr_name, IFNAMSIZ, "lo");
	must(sk < 0 || ioctl(sk, SIOCGIFFLAGS, &r), "A: lo");
	r.ifr_flags |= IFF_UP;
	must(ioctl(sk, SIOCSIFFLAGS, &r), "A: lo up");
	close(sk);
	must((listener = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
		     setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
		     bind(listener, (struct sockaddr *)&a, sizeof(a)) || listen(listener, 4),
	     "A: its listener");
}

static void child_a1(void)
{
	must(unshare(CLONE_NEWUSER), "A1: unshare CLONE_NEWUSER");
	atomic_store(&ctl->go_a1, 1);
	while (atomic_load(&ctl->go_a1) != 2)
		tst_sleep_ms(2);
	must(!own_id && (setresgid(2, 2, 2) || setresuid(3, 3, 3)), "A1: its ids");
	prctl(PR_SET_PDEATHSIG, SIGKILL);   /* gone with a target a test kills (after the id change, which clears it) */
	pthread_t th;
	if (tst_opt_flag("thread"))
		must((errno = pthread_create(&th, NULL, idle, NULL)) != 0, "A1: pthread_create");
	serve(A1);
}

/* --own-id: A's own maps, as any user may write them */
static void own_maps(void)
{
	char um[32], gm[32];

	snprintf(um, sizeof(um), "0 %u 1\n", (unsigned)geteuid());
	snprintf(gm, sizeof(gm), "0 %u 1\n", (unsigned)getegid());
	must(unshare(CLONE_NEWUSER), "A: unshare CLONE_NEWUSER");
	write_maps(getpid(), um, gm, "deny");
}

static void child_a(void)
{
	gid_t groups[2] = { 0, 1005 };
	char path[256];
	pid_t a1;

	if (own_id) {
		own_maps();
		snprintf(path, sizeof(path), "%s/file", dir);
		must((file_fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640)) < 0 ||
			     write(file_fd, "usernest\n", 9) != 9,
		     "A: its file");
		goto children;
	}
	must(unshare(CLONE_NEWUSER), "A: unshare CLONE_NEWUSER");
	atomic_store(&ctl->go_a, 1);
	while (atomic_load(&ctl->go_a) != 2)
		tst_sleep_ms(2);
	must(setresgid(0, 0, 0) || setresuid(0, 0, 0) || setgroups(2, groups), "A: its ids");
	/* (the id change made it undumpable: A1's /proc files would be the host root's) */
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	must(unshare(CLONE_NEWUTS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWCGROUP) || sethostname("usernest-a", 10),
	     "A: its UTS, network, IPC and cgroup namespaces");
	lo_listen();
	must((ctl->shmid = shmget(IPC_PRIVATE, SHM_SIZE, IPC_CREAT | 0666)) < 0 ||
		     (seg = shmat(ctl->shmid, NULL, 0)) == (void *)-1,
	     "A: its SysV segment");
	tst_fill(seg, SHM_SIZE, ctl->seed);
	snprintf(path, sizeof(path), "%s/file", dir);
	must((file_fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640)) < 0 || fchown(file_fd, 0, 1000) ||
		     write(file_fd, "usernest\n", 9) != 9,
	     "A: its file");
children:
	if ((a1 = fork()) == 0)
		child_a1();
	must(a1 < 0, "A: fork");
	while (!atomic_load(&ctl->go_a1))
		tst_sleep_ms(2);
	write_maps(a1, own_id ? "0 0 1\n" : U2_MAP, own_id ? "0 0 1\n" : U2_MAP, "deny");
	atomic_store(&ctl->go_a1, 2);
	ctl->pid_a = getpid();
	atomic_store(&ctl->a_ready, 1);
	if (tst_opt_flag("tcp")) {
		while (!atomic_load(&ctl->b_connected))
			tst_sleep_ms(2);
		must((conn = accept(listener, NULL, NULL)) < 0, "A: accept B's connection");
	}
	serve(A);
}

static void child_b(void)
{
	gid_t five = 5;
	char path[64];
	int fd;

	while (!atomic_load(&ctl->a_ready))
		tst_sleep_ms(2);
	if (own_id)
		goto user;
	snprintf(path, sizeof(path), "/proc/%d/ns/uts", ctl->pid_a);
	must((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || setns(fd, CLONE_NEWUTS), "B: setns into A's UTS namespace");
	close(fd);
	for (int k = 0; k < 2; k++) {
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", ctl->pid_a, k ? "ipc" : "net");
		must((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || setns(fd, 0), "B: setns into A's network or IPC namespace");
		close(fd);
	}
	must((seg = shmat(ctl->shmid, NULL, 0)) == (void *)-1, "B: shmat A's segment");
	if (tst_opt_flag("tcp")) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(PORT),
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		must((conn = socket(AF_INET, SOCK_STREAM, 0)) < 0 || connect(conn, (struct sockaddr *)&a, sizeof(a)),
		     "B: connect to A's listener");
		atomic_store(&ctl->b_connected, 1);
	}
user:
	snprintf(path, sizeof(path), "/proc/%d/ns/user", ctl->pid_a);
	must((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || setns(fd, CLONE_NEWUSER), "B: setns into A's user namespace");
	close(fd);
	must(!own_id && (setgroups(1, &five) || setresgid(7, 7, 7) || setresuid(7, 7, 7)), "B: its ids");
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	serve(B);
}

/* --root-userns: we stay outside, the root goes on (see the top). */
static void root_userns(void)
{
	int p[2], st;
	char c;
	pid_t r;

	must(pipe(p), "pipe");
	r = syscall(SYS_clone, CLONE_NEWUSER | CLONE_NEWPID | SIGCHLD, NULL, NULL, NULL, 0);
	must(r < 0, "clone CLONE_NEWUSER | CLONE_NEWPID");
	if (r == 0) {
		close(p[1]);
		must(read(p[0], &c, 1) != 1, "the root's maps");
		close(p[0]);
		must(setsid() < 0 || setresgid(0, 0, 0) || setresuid(0, 0, 0), "the root's session and ids");
		prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
		return;
	}
	close(p[0]);
	write_maps(r, "0 100000 1000000\n", "0 100000 1000000\n", "allow");
	must(write(p[1], "", 1) != 1, "the root's go");
	while (waitpid(r, &st, 0) < 0 && errno == EINTR)
		;
	_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 1);
}

/* --root-userns: a tmpfs of its own as the root (see the top). */
static void pivot_into_tmpfs(void)
{
	char exe[4096], path[4200];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	must(n <= 0, "readlink /proc/self/exe");
	exe[n] = 0;
	*strrchr(exe, '/') = 0;
	must(unshare(CLONE_NEWNS), "unshare CLONE_NEWNS");
	must(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), "make / private");
	must(mount("tmpfs", "/tmp", "tmpfs", 0, "mode=755,size=16m"), "mount the root tmpfs");
	must(chdir("/tmp"), "chdir /tmp");
	for (const char *d = "usr\0proc\0tmp\0"; *d; d += strlen(d) + 1)
		must(mkdir(d, 0755), d);
	must(chmod("tmp", 01777), "chmod tmp");
	must(symlink("usr/bin", "bin") || symlink("usr/lib", "lib") || symlink("usr/lib64", "lib64"), "symlink");
	snprintf(path, sizeof(path), "/tmp%s", exe);
	for (char *p = path + 5; (p = strchr(p, '/')); *p++ = '/') {
		*p = 0;
		must(mkdir(path, 0755) && errno != EEXIST, path);
	}
	must(mkdir(path, 0755) && errno != EEXIST, path);
	must(mount("/usr", "usr", NULL, MS_BIND, NULL), "bind /usr");
	must(mount(exe, path, NULL, MS_BIND, NULL), "bind the build directory");
	must(mount("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL), "mount /proc");
	must(syscall(SYS_pivot_root, ".", "."), "pivot_root");
	must(umount2(".", MNT_DETACH), "detach the old root");
	must(chdir("/"), "chdir /");
}

int main(int argc, char **argv)
{
	pid_t pids[NR] = { 0 };
	char tag[32];

	tst_init_opts(argc, argv, NULL, "thread,root-userns,tcp,own-id");
	own_id = tst_opt_flag("own-id");
	if (tst_opt_flag("root-userns")) {
		root_userns();
		pivot_into_tmpfs();
	}
	ctl = tst_ns_init(sizeof(*ctl), NR, names);
	ctl->seed = tst_seed();
	/* (PID 1 of its own pid namespace has the same name every time) */
	snprintf(tag, sizeof(tag), "dir-%llx", (unsigned long long)(tst_seed() & 0xffffffff));
	dir = tst_tmp_path(tag);
	/* A's own (200000 is its 0) */
	must(mkdir(dir, 0700) || (!own_id && chown(dir, 200000, 200000)), "its directory");
	read_state(&ctl->before[ROOT]);
	if ((pids[A] = fork()) == 0)
		child_a();
	must(pids[A] < 0, "fork");
	while (!own_id && !atomic_load(&ctl->go_a))
		tst_sleep_ms(2);
	if (!own_id)
		write_maps(pids[A], U1_MAP, U1_MAP, "allow");
	atomic_store(&ctl->go_a, 2);
	if ((pids[B] = fork()) == 0)
		child_b();
	must(pids[B] < 0, "fork");
	tst_ns_ready("processes started");
	tst_ns_verdict(ROOT, verify(ROOT));
	char msg[1200] = "", path[256];
	tst_ns_failed(msg, sizeof(msg), 0);
	snprintf(path, sizeof(path), "%s/file", dir);
	unlink(path);
	tst_ns_end(msg);
}

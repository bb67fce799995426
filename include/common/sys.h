/* The freestanding syscall layer shared by parasite/ and restorer/: thin typed
 * wrappers over the arch's raw entry.  Return values are raw: -errno on error. */
#ifndef COMMON_SYS_H
#define COMMON_SYS_H

#include <stdint.h>
#include <stddef.h>
#include <asm/unistd.h>
#include "syscall-arch.h"

#define SC(n, a, b, c, d, e, f) __raw_syscall6(n, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))

struct sys_iovec { void *base; size_t len; };

struct sys_msghdr {
	void *name; int namelen;
	struct sys_iovec *iov; size_t iovlen;
	void *control; size_t controllen;
	unsigned flags;
};

struct sys_cmsghdr { size_t len; int level; int type; };

struct sys_sockaddr_un { unsigned short family; char path[108]; };

struct sys_sigaction {
	void *handler;
	unsigned long flags;
	void *restorer;
	uint64_t mask;
};

struct sys_timeval { long sec, usec; };
struct sys_itimerval { struct sys_timeval interval, value; };

static inline long sys_read(int fd, void *b, size_t n) { return SC(__NR_read, fd, b, n, 0, 0, 0); }
static inline long sys_write(int fd, const void *b, size_t n) { return SC(__NR_write, fd, b, n, 0, 0, 0); }
static inline long sys_close(int fd) { return SC(__NR_close, fd, 0, 0, 0, 0, 0); }
static inline long sys_openat(int dfd, const char *path, int flags, int mode)
{ return SC(__NR_openat, dfd, path, flags, mode, 0, 0); }
static inline long sys_mmap(void *a, size_t l, int p, int f, int fd, long off)
	{ return SC(__NR_mmap, a, l, p, f, fd, off); }
static inline long sys_munmap(void *a, size_t l) { return SC(__NR_munmap, a, l, 0, 0, 0, 0); }
static inline long sys_mprotect(void *a, size_t l, int p) { return SC(__NR_mprotect, a, l, p, 0, 0, 0); }
static inline long sys_mremap(void *o, size_t ol, size_t nl, int f, void *n)
	{ return SC(__NR_mremap, o, ol, nl, f, n, 0); }
static inline long sys_madvise(void *a, size_t l, int adv) { return SC(__NR_madvise, a, l, adv, 0, 0, 0); }
static inline long sys_brk(void *b) { return SC(__NR_brk, b, 0, 0, 0, 0, 0); }
static inline long sys_rt_sigaction(int sig, const struct sys_sigaction *a, struct sys_sigaction *o)
	{ return SC(__NR_rt_sigaction, sig, a, o, 8, 0, 0); }
static inline long sys_rt_sigprocmask(int how, const uint64_t *set, uint64_t *old)
	{ return SC(__NR_rt_sigprocmask, how, set, old, 8, 0, 0); }
static inline long sys_getitimer(int which, struct sys_itimerval *v) { return SC(__NR_getitimer, which, v, 0, 0, 0, 0); }
static inline long sys_setitimer(int which, const struct sys_itimerval *v, struct sys_itimerval *o)
	{ return SC(__NR_setitimer, which, v, o, 0, 0, 0); }
static inline long sys_socket(int d, int t, int p) { return SC(__NR_socket, d, t, p, 0, 0, 0); }
static inline long sys_connect(int fd, const void *a, int l) { return SC(__NR_connect, fd, a, l, 0, 0, 0); }
static inline long sys_sendmsg(int fd, const struct sys_msghdr *m, int f) { return SC(__NR_sendmsg, fd, m, f, 0, 0, 0); }
static inline long sys_recvmsg(int fd, struct sys_msghdr *m, int f) { return SC(__NR_recvmsg, fd, m, f, 0, 0, 0); }
static inline long sys_vmsplice(int fd, const struct sys_iovec *iov, unsigned long nr, unsigned f)
	{ return SC(__NR_vmsplice, fd, iov, nr, f, 0, 0); }
static inline long sys_ppoll(void *fds, unsigned long nfds, const void *tmo, const uint64_t *mask)
	{ return SC(__NR_ppoll, fds, nfds, tmo, mask, 8, 0); }
static inline long sys_prctl(int op, unsigned long a, unsigned long b, unsigned long c, unsigned long d)
	{ return SC(__NR_prctl, op, a, b, c, d, 0); }
static inline long sys_getpid(void) { return SC(__NR_getpid, 0, 0, 0, 0, 0, 0); }
static inline long sys_gettid(void) { return SC(__NR_gettid, 0, 0, 0, 0, 0, 0); }
static inline long sys_exit_group(int code) { return SC(__NR_exit_group, code, 0, 0, 0, 0, 0); }
static inline long sys_kill(int pid, int sig) { return SC(__NR_kill, pid, sig, 0, 0, 0, 0); }
static inline long sys_rt_sigqueueinfo(int pid, int sig, void *si) { return SC(__NR_rt_sigqueueinfo, pid, sig, si, 0, 0, 0); }
static inline long sys_rt_tgsigqueueinfo(int tg, int tid, int sig, void *si)
	{ return SC(__NR_rt_tgsigqueueinfo, tg, tid, sig, si, 0, 0); }
static inline long sys_rseq(void *rseq, uint32_t len, int flags, uint32_t sig)
	{ return SC(__NR_rseq, rseq, len, flags, sig, 0, 0); }
static inline long sys_setresuid(int r, int e, int s) { return SC(__NR_setresuid, r, e, s, 0, 0, 0); }
static inline long sys_setresgid(int r, int e, int s) { return SC(__NR_setresgid, r, e, s, 0, 0, 0); }
static inline long sys_setfsuid(int u) { return SC(__NR_setfsuid, u, 0, 0, 0, 0, 0); }
static inline long sys_setfsgid(int g) { return SC(__NR_setfsgid, g, 0, 0, 0, 0, 0); }
static inline long sys_setgroups(int n, const uint32_t *g) { return SC(__NR_setgroups, n, g, 0, 0, 0, 0); }
static inline long sys_capset(void *hdr, void *data) { return SC(__NR_capset, hdr, data, 0, 0, 0, 0); }
static inline long sys_capget(void *hdr, void *data) { return SC(__NR_capget, hdr, data, 0, 0, 0, 0); }
static inline long sys_set_tid_address(void *p) { return SC(__NR_set_tid_address, p, 0, 0, 0, 0, 0); }
static inline long sys_umask(int m) { return SC(__NR_umask, m, 0, 0, 0, 0, 0); }

/* Small freestanding helpers: -fno-builtin means the compiler won't call these for us,
 * but it may still emit memset/memcpy for struct copies, so provide them. */
void *memcpy(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n);

#endif

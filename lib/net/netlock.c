/* The network lock: while a tree's connections are frozen, dumped or being
 * restored, netfilter drops their packets, so peers retransmit instead of
 * meeting a closed port (a reset).  nftables: a table of our own with two
 * sets of connections; iptables (iptables-restore) when nft is missing.  The
 * commands run with fork+execve so that a signal handler can remove the lock
 * too (SIGINT/SIGTERM while it is held).
 *
 * A tree in its own network namespace is locked inside it: the command's child
 * enters the namespace (setns) before it runs nft, so the rules live and die
 * with the namespace and the host's netfilter is untouched.
 *
 * Netfilter's tables are per network namespace: a connection of a process in a
 * nested namespace (nested.c) is locked in that one, by a lock of the same name
 * in it.  Each namespace holding connections has its own set of them (locks[]:
 * [0] the root's, then one per nested namespace, by its id); at restore a
 * nested one is installed from here once the task that makes the namespace has
 * filled it and sent it over, before any socket is in it (netlock_lock_nested). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include "log.h"
#include "net/inet.h"
#include "util.h"

enum backend { BK_NONE, BK_NFT, BK_IPT };

static const char *const nft_paths[] = { "/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft" };
static const char *const ipt_paths[] = { "/usr/sbin/iptables-restore", "/sbin/iptables-restore" };
static const char *const ip6t_paths[] = { "/usr/sbin/ip6tables-restore", "/sbin/ip6tables-restore" };

static char name[48];            /* "nft:libcr_d123" while a lock is being built or held */
static volatile sig_atomic_t armed;   /* our SIGINT/SIGTERM handlers are in place */
static struct sigaction old_int, old_term;

/* One namespace's part of the lock (same name in each). */
struct nslock {
	uint32_t id;             /* 0: the root's namespace; else a nested one's (ns.img) */
	int fd;                  /* the namespace (-1: ours; a nested one's: not made yet) */
	bool owned;              /* fd is ours to close */
	volatile sig_atomic_t locked;   /* its rules are in */
	char *rules4, *rules6;   /* element lists / rule lines, growing */
	size_t len4, len6, n4, n6;
};
/* fixed: a signal handler walks it */
static struct nslock locks[NETLOCK_MAX_NESTED + 1] = { [0] = { .fd = -1 } };
static volatile sig_atomic_t nr_locks = 1;

static const char *find(const char *const *paths, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!access(paths[i], X_OK))
			return paths[i];
	return NULL;
}

/* nftables when nft is there, else iptables; CR_NETLOCK=iptables|nft picks one
 * (tests run the fallback this way). */
static enum backend backend(void)
{
	const char *force = getenv("CR_NETLOCK");

	if (force && !strcmp(force, "iptables"))
		return find(ipt_paths, ARRAY_SIZE(ipt_paths)) && find(ip6t_paths, ARRAY_SIZE(ip6t_paths)) ? BK_IPT
													 : BK_NONE;
	if (force && !strcmp(force, "nft"))
		return find(nft_paths, ARRAY_SIZE(nft_paths)) ? BK_NFT : BK_NONE;
	if (find(nft_paths, ARRAY_SIZE(nft_paths)))
		return BK_NFT;
	if (find(ipt_paths, ARRAY_SIZE(ipt_paths)) && find(ip6t_paths, ARRAY_SIZE(ip6t_paths)))
		return BK_IPT;
	return BK_NONE;
}

/* A command started: its pid, the write end of its stdin, the read end of its stderr. */
struct cmd {
	pid_t pid;
	int in, err;
};

/* Start path with argv in namespace fd (-1: ours).  Only syscalls: safe in a signal
 * handler.  pid < 0 if it could not start. */
static struct cmd spawn(int fd, const char *path, char *const argv[])
{
	struct cmd c = { -1, -1, -1 };
	int in[2], ep[2];

	if (pipe2(in, O_CLOEXEC))
		return c;
	if (pipe2(ep, O_CLOEXEC)) {
		close(in[0]);
		close(in[1]);
		return c;
	}
	c.pid = fork();
	if (c.pid == 0) {
		static char *const envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
		int null = open("/dev/null", O_WRONLY);
		if (fd >= 0 && setns(fd, CLONE_NEWNET))
			_exit(126);
		dup2(in[0], 0);
		dup2(null, 1);
		dup2(ep[1], 2);
		execve(path, argv, envp);
		_exit(127);
	}
	close(in[0]);
	close(ep[1]);
	c.in = in[1];
	c.err = ep[0];
	return c;
}

/* Give a started command its input and wait for it; 0 if it exited 0.  Its stderr
 * goes to err (if given).  Only syscalls. */
static int finish(struct cmd c, const char *input, char *err, size_t errlen)
{
	int st;
	pid_t pid = c.pid;

	if (pid > 0) {
		size_t left = strlen(input);
		while (left) {
			ssize_t n = write(c.in, input, left);
			if (n <= 0)
				break;
			input += n;
			left -= n;
		}
	}
	if (c.in >= 0)
		close(c.in);
	if (err && errlen) {
		ssize_t n = c.err >= 0 ? read(c.err, err, errlen - 1) : -1;
		err[n > 0 ? n : 0] = 0;
		if (n > 0 && err[n - 1] == '\n')
			err[n - 1] = 0;
	}
	if (c.err >= 0)
		close(c.err);
	if (pid < 0)
		return -EAGAIN;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -ECHILD;
	return WIFEXITED(st) && !WEXITSTATUS(st) ? 0 : -EIO;
}

static int run(int fd, const char *path, char *const argv[], const char *input, char *err, size_t errlen)
{
	return finish(spawn(fd, path, argv), input, err, errlen);
}

/* An `nft -f -` started before the tree is frozen, waiting for its script: nft's
 * exec and library loading (30 ms on a VM) are then not part of the freeze.  Only
 * for the root's lock in our own namespace (nft's socket is made there). */
static volatile sig_atomic_t warm_pid = -1;
static int warm_in = -1, warm_err = -1;

static int run_nft(const struct nslock *l, const char *input, char *err, size_t errlen)
{
	const char *nft = find(nft_paths, ARRAY_SIZE(nft_paths));
	char *const argv[] = { (char *)nft, "-f", "-", NULL };
	pid_t w = warm_pid;

	if (w > 0 && l == &locks[0] && l->fd < 0) {
		warm_pid = -1;   /* ours now: a signal handler meanwhile starts its own */
		return finish((struct cmd){ w, warm_in, warm_err }, input, err, errlen);
	}
	return nft ? run(l->fd, nft, argv, input, err, errlen) : -ENOENT;
}

void netlock_warm(void)
{
	const char *nft = find(nft_paths, ARRAY_SIZE(nft_paths));
	char *const argv[] = { (char *)nft, "-f", "-", NULL };

	if (warm_pid > 0 || locks[0].fd >= 0 || backend() != BK_NFT)
		return;
	struct cmd c = spawn(-1, nft, argv);
	if (c.pid < 0)
		return;   /* the lock starts its own */
	warm_in = c.in;
	warm_err = c.err;
	warm_pid = c.pid;
}

/* A warm nft never used: no input, it does nothing and exits. */
static void warm_end(void)
{
	pid_t w = warm_pid;

	if (w <= 0)
		return;
	warm_pid = -1;
	finish((struct cmd){ w, warm_in, warm_err }, "", NULL, 0);
}

static int run_ipt(const struct nslock *l, int v6, const char *input, char *err, size_t errlen)
{
	const char *p = v6 ? find(ip6t_paths, ARRAY_SIZE(ip6t_paths)) : find(ipt_paths, ARRAY_SIZE(ipt_paths));
	char *const argv[] = { (char *)p, "-w", "--noflush", NULL };

	return p ? run(l->fd, p, argv, input, err, errlen) : -ENOENT;
}

static bool valid_name(const char *n)
{
	if (strncmp(n, "nft:libcr_", 10) && strncmp(n, "ipt:libcr_", 10))
		return false;
	for (const char *p = n + 10; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
			return false;
	return strlen(n) < 30;
}

bool netlock_valid_name(const char *n)
{
	return valid_name(n);
}

/* Remove lock n (valid_name) from l's namespace.  Signal-safe. */
static int drop(const struct nslock *l, const char *n, char *err, size_t errlen)
{
	char in[2][256];

	if (!strncmp(n, "nft:", 4)) {
		snprintf(in[0], sizeof(in[0]), "delete table inet %s\n", n + 4);
		return run_nft(l, in[0], err, errlen);
	}
	for (int v6 = 0; v6 < 2; v6++)
		snprintf(in[v6], sizeof(in[v6]), "*filter\n-D INPUT -j %s\n-D OUTPUT -j %s\n-F %s\n-X %s\nCOMMIT\n", n + 4,
			 n + 4, n + 4, n + 4);
	int r = run_ipt(l, 0, in[0], err, errlen);
	return run_ipt(l, 1, in[1], NULL, 0) ?: r;
}

const char *netlock_name(void)
{
	return name[0] ? name : NULL;
}

int netlock_begin(const char *tag)
{
	enum backend b = backend();

	if (name[0])
		return 0;
	if (b == BK_NONE)
		return pr_err("network lock: neither nft (nftables) nor iptables-restore/ip6tables-restore is "
			      "installed: TCP connections can't be locked"), -ENOENT;
	snprintf(name, sizeof(name), "%s:libcr_%s%d", b == BK_NFT ? "nft" : "ipt", tag, getpid());
	locks[0].len4 = locks[0].len6 = locks[0].n4 = locks[0].n6 = 0;
	return 0;
}

static int append(char **buf, size_t *len, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	char *nb = realloc(*buf, *len + n + 1);
	if (!nb)
		return -ENOMEM;
	memcpy(nb + *len, tmp, n + 1);
	*buf = nb;
	*len += n;
	return 0;
}

/* The addresses as the rules name them; true for IPv6. */
static bool addr_strs(int family, const uint8_t *src, const uint8_t *dst, char *s, char *d)
{
	/* an IPv6 socket talking IPv4 (::ffff:a.b.c.d): its packets are IPv4 */
	if (family == AF_INET6 && IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)src) &&
	    IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)dst)) {
		family = AF_INET;
		src += 12;
		dst += 12;
	}
	inet_ntop(family, src, s, INET6_ADDRSTRLEN);
	inet_ntop(family, dst, d, INET6_ADDRSTRLEN);
	return family == AF_INET6;
}

static struct nslock *find_lock(uint32_t id)
{
	for (int i = 0; i < nr_locks; i++)
		if (locks[i].id == id)
			return &locks[i];
	return NULL;
}

/* Nested namespace id's part (fd: where it is, dup'ed; -1: not made yet). */
static int nested_lock(uint32_t id, int fd, struct nslock **out)
{
	struct nslock *l = find_lock(id);

	if (!l) {
		if (nr_locks > NETLOCK_MAX_NESTED)
			return pr_err("network lock: connections in more than %d nested network namespaces",
				      NETLOCK_MAX_NESTED), -E2BIG;
		l = &locks[nr_locks];
		*l = (struct nslock){ .id = id, .fd = -1 };
		if (fd >= 0) {
			if ((l->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0)
				return pr_perror("network lock: can't keep nested network namespace %u", id);
			l->owned = true;
		}
		nr_locks++;   /* filled: a signal handler may see it now */
	}
	*out = l;
	return 0;
}

int netlock_add(uint32_t ns_id, int ns_fd, int family, const uint8_t *src, unsigned sport, const uint8_t *dst,
		unsigned dport)
{
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
	bool v6 = addr_strs(family, src, dst, s, d);
	struct nslock *l = &locks[0];
	const char *ch = name + 4;
	int ret;

	if (ns_id && (ret = nested_lock(ns_id, ns_fd, &l)))
		return ret;
	char **b = v6 ? &l->rules6 : &l->rules4;
	size_t *len = v6 ? &l->len6 : &l->len4;
	if (v6)
		l->n6++;
	else
		l->n4++;
	if (!strncmp(name, "nft:", 4))
		return append(b, len, "%s%s . %u . %s . %u", *len ? ", " : "", s, sport, d, dport);
	return append(b, len, "-A %s -p tcp -s %s --sport %u -d %s --dport %u -j DROP\n"
			      "-A %s -p tcp -s %s --sport %u -d %s --dport %u -j DROP\n",
		      ch, s, sport, d, dport, ch, d, dport, s, sport);
}

int netlock_release(uint32_t ns_id, int family, const uint8_t *src, unsigned sport, const uint8_t *dst,
		    unsigned dport)
{
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN], in[1024], err[256] = "";
	bool v6 = addr_strs(family, src, dst, s, d);
	const char *ch = name + 4;
	const struct nslock *l = find_lock(ns_id);
	int ret;

	if (!l || !l->locked)
		return 0;
	if (!strncmp(name, "nft:", 4)) {
		snprintf(in, sizeof(in), "delete element inet %s %s { %s . %u . %s . %u }\n", ch, v6 ? "c6" : "c4", s,
			 sport, d, dport);
		ret = run_nft(l, in, err, sizeof(err));
	} else {
		snprintf(in, sizeof(in),
			 "*filter\n-D %s -p tcp -s %s --sport %u -d %s --dport %u -j DROP\n"
			 "-D %s -p tcp -s %s --sport %u -d %s --dport %u -j DROP\nCOMMIT\n",
			 ch, s, sport, d, dport, ch, d, dport, s, sport);
		ret = run_ipt(l, v6, in, err, sizeof(err));
	}
	if (ret)
		pr_warn("network lock: can't release %s:%u -> %s:%u from %s: %s", s, sport, d, dport, name, err);
	return ret;
}

/* Whether l is (or may be, while it goes in) in force where it is. */
static bool may_hold(const struct nslock *l)
{
	return l->locked || (l->n4 + l->n6 && (l == &locks[0] || l->fd >= 0));
}

/* SIGINT/SIGTERM while a lock is being taken or held: the connections leave
 * repair mode and the lock goes, then the signal does what it would have done. */
static void on_signal(int sig)
{
	tcp_dump_abort();
	for (int i = 0; armed && i < nr_locks; i++)
		if (!i || may_hold(&locks[i]))
			drop(&locks[i], name, NULL, 0);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void arm(bool on)
{
	struct sigaction sa = { .sa_handler = on_signal };

	if (on == armed)
		return;
	if (on) {
		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, &old_int);
		sigaction(SIGTERM, &sa, &old_term);
		armed = 1;
	} else {
		armed = 0;
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGTERM, &old_term, NULL);
	}
}

static char *nft_script(const struct nslock *lk)
{
	const char *t = name + 4;
	char *s = NULL;
	size_t l = 0;

	if (append(&s, &l, "table inet %s {\n", t) ||
	    append(&s, &l, " set c4 { type ipv4_addr . inet_service . ipv4_addr . inet_service; }\n") ||
	    append(&s, &l, " set c6 { type ipv6_addr . inet_service . ipv6_addr . inet_service; }\n") ||
	    append(&s, &l, " chain in { type filter hook input priority -150; policy accept;\n"
			   "  meta mark 0x%x accept\n"
			   "  ip daddr . tcp dport . ip saddr . tcp sport @c4 drop\n"
			   "  ip6 daddr . tcp dport . ip6 saddr . tcp sport @c6 drop\n }\n", NETLOCK_MARK) ||
	    append(&s, &l, " chain out { type filter hook output priority -150; policy accept;\n"
			   "  meta mark 0x%x accept\n"
			   "  ip saddr . tcp sport . ip daddr . tcp dport @c4 drop\n"
			   "  ip6 saddr . tcp sport . ip6 daddr . tcp dport @c6 drop\n }\n}\n", NETLOCK_MARK)) {
		free(s);
		return NULL;
	}
	/* elements in add commands: one line would be too long for append's buffer */
	for (int v6 = 0; v6 < 2; v6++) {
		const char *e = v6 ? lk->rules6 : lk->rules4;
		size_t el = v6 ? lk->len6 : lk->len4;
		if (!el)
			continue;
		char *n = realloc(s, l + el + 64);
		if (!n) {
			free(s);
			return NULL;
		}
		s = n;
		l += sprintf(s + l, "add element inet %s %s { ", t, v6 ? "c6" : "c4");
		memcpy(s + l, e, el);
		l += el;
		l += sprintf(s + l, " }\n");
	}
	return s;
}

/* l's rules in its namespace (with the old locks' removal in the same nft
 * transaction, marked in gone); err says why not. */
static int install(struct nslock *l, char *const *old, size_t nr_old, bool *gone, char *err, size_t errlen)
{
	int ret;

	if (!strncmp(name, "nft:", 4)) {
		char *script = nft_script(l);
		size_t len = script ? strlen(script) : 0;
		/* the old nft locks go in the same transaction ("add" first: one that
		 * is gone already must not fail it) */
		for (size_t i = 0; script && i < nr_old; i++)
			if (!strncmp(old[i], "nft:", 4) && valid_name(old[i]) &&
			    !append(&script, &len, "add table inet %s\ndelete table inet %s\n", old[i] + 4, old[i] + 4))
				gone[i] = true;
		if (!script)
			return -ENOMEM;
		ret = run_nft(l, script, err, errlen);
		free(script);
		return ret;
	}
	char *in[2] = { NULL, NULL };
	size_t len[2] = { 0, 0 };
	ret = 0;
	for (int v6 = 0; v6 < 2 && !ret; v6++) {
		const char *rules = v6 ? l->rules6 : l->rules4;
		if (append(&in[v6], &len[v6], "*filter\n:%s - [0:0]\n-I INPUT 1 -j %s\n-I OUTPUT 1 -j %s\n"
			   "-A %s -m mark --mark 0x%x -j RETURN\n", name + 4, name + 4, name + 4, name + 4,
			   NETLOCK_MARK))
			ret = -ENOMEM;
		else {
			char *n = realloc(in[v6], len[v6] + (rules ? strlen(rules) : 0) + 16);
			if (!n) {
				ret = -ENOMEM;
				break;
			}
			in[v6] = n;
			sprintf(in[v6] + len[v6], "%sCOMMIT\n", rules ? rules : "");
			ret = run_ipt(l, v6, in[v6], err, errlen);
		}
	}
	free(in[0]);
	free(in[1]);
	if (ret)
		drop(l, name, NULL, 0);
	return ret;
}

static void where(const struct nslock *l, char *buf, size_t len)
{
	if (l->id)
		snprintf(buf, len, " in nested network namespace %u", l->id);
	else
		snprintf(buf, len, "%s", l->fd >= 0 ? " in the tree's network namespace" : "");
}

int netlock_lock(void)
{
	return netlock_lock_replacing(NULL, 0);
}

int netlock_lock_replacing(char *const *old, size_t nr_old)
{
	char err[512] = "", at[64];
	bool *gone = calloc(nr_old + 1, sizeof(*gone));
	int ret = 0;

	if (!gone)
		return -ENOMEM;
	if (!name[0])
		goto old;
	arm(true);   /* before the rules exist: a signal meanwhile still removes them */
	/* each namespace that holds connections and is there (one nested namespace
	 * being restored: netlock_lock_nested, once its maker has sent it) */
	for (int i = 0; i < nr_locks && !ret; i++) {
		struct nslock *l = &locks[i];

		if (l->locked || !(l->n4 + l->n6) || (i && l->fd < 0))
			continue;
		where(l, at, sizeof(at));
		if ((ret = install(l, i ? NULL : old, i ? 0 : nr_old, gone, err, sizeof(err)))) {
			pr_err("network lock: can't install %s%s (%zu TCP connections): %s", name, at, l->n4 + l->n6,
			       err[0] ? err : strerror(-ret));
			break;
		}
		l->locked = true;
		pr_info("network lock: %s holds %zu connections%s", name, l->n4 + l->n6, at);
	}
	if (ret) {
		for (int i = 0; i < nr_locks; i++)
			if (locks[i].locked) {
				drop(&locks[i], name, NULL, 0);
				locks[i].locked = false;
			}
		arm(false);
		name[0] = 0;
		free(gone);
		return ret;
	}
old:
	for (size_t i = 0; i < nr_old; i++)
		if (gone[i])
			pr_info("network lock: %s (the dump's) removed", old[i]);
		else
			netlock_drop(old[i]);
	free(gone);
	return 0;
}

int netlock_lock_nested(uint32_t ns_id, int fd)
{
	struct nslock *l = ns_id ? find_lock(ns_id) : NULL;
	char err[512] = "";
	int ret;

	if (!l || !name[0] || l->locked || !(l->n4 + l->n6)) {
		close(fd);
		return 0;
	}
	if (l->owned)
		close(l->fd);
	l->fd = fd;
	l->owned = true;
	arm(true);   /* before the rules exist: a signal meanwhile still removes them */
	if ((ret = install(l, NULL, 0, NULL, err, sizeof(err))))
		return pr_err("network lock: can't install %s in nested network namespace %u (%zu TCP connections): %s",
			      name, ns_id, l->n4 + l->n6, err[0] ? err : strerror(-ret)), ret;
	l->locked = true;
	pr_info("network lock: %s holds %zu connections in nested network namespace %u", name, l->n4 + l->n6, ns_id);
	return 0;
}

bool netlock_has_nested(uint32_t ns_id)
{
	const struct nslock *l = ns_id ? find_lock(ns_id) : NULL;

	return name[0] && l && l->n4 + l->n6;
}

static void reset(void)
{
	warm_end();
	arm(false);
	for (int i = 0; i < nr_locks; i++) {
		struct nslock *l = &locks[i];
		if (l->owned)
			close(l->fd);
		if (l->owned || i)
			l->fd = -1;
		l->owned = false;
		l->locked = false;
		free(l->rules4);
		free(l->rules6);
		l->rules4 = l->rules6 = NULL;
		l->len4 = l->len6 = l->n4 = l->n6 = 0;
	}
	nr_locks = 1;
	name[0] = 0;
}

void netlock_unlock(void)
{
	char err[512] = "", at[64];

	for (int i = 0; i < nr_locks; i++) {
		struct nslock *l = &locks[i];

		if (!l->locked)
			continue;
		where(l, at, sizeof(at));
		if (drop(l, name, err, sizeof(err)))
			pr_warn("network lock: can't remove %s%s: %s", name, at, err);
		else
			pr_info("network lock: %s removed%s", name, at);
		l->locked = false;
	}
	reset();
}

void netlock_keep(void)
{
	if (name[0] && locks[0].locked)
		pr_info("network lock: %s stays until the restore", name);
	reset();
}

int netlock_drop(const char *n)
{
	char err[512] = "";

	if (!valid_name(n))
		return -EINVAL;
	if (drop(&locks[0], n, err, sizeof(err))) {
		pr_debug("network lock: %s was already gone (%s)", n, err);
		return 0;
	}
	pr_info("network lock: %s (the dump's) removed", n);
	return 0;
}

bool netlock_probe(char *detail, size_t len)
{
	char err[256] = "";
	const struct nslock here = { .fd = -1 };

	switch (backend()) {
	case BK_NFT:
		if (run_nft(&here, "add table inet libcr_probe\ndelete table inet libcr_probe\n", err, sizeof(err))) {
			snprintf(detail, len, "nft is installed but fails: %s", err);
			return false;
		}
		snprintf(detail, len, "nftables (nft)");
		return true;
	case BK_IPT:
		snprintf(detail, len, "iptables (iptables-restore; nft not installed)");
		return true;
	default:
		snprintf(detail, len, "neither nft nor iptables-restore is installed");
		return false;
	}
}

void netlock_set_netns(int fd)
{
	if (locks[0].owned)
		close(locks[0].fd);
	locks[0].owned = false;
	locks[0].fd = fd;
}

void netlock_adopt(int fd)
{
	netlock_set_netns(fd);
	locks[0].owned = true;
	if (name[0] && locks[0].n4 + locks[0].n6) {
		arm(true);
		locks[0].locked = true;
		pr_info("network lock: %s holds the connections in the tree's new network namespace", name);
	}
}

bool netlock_probe_netns(char *detail, size_t len)
{
	int st;
	pid_t pid = fork();

	if (pid == 0) {
		char d[256];
		if (unshare(CLONE_NEWNET))
			_exit(2);
		_exit(netlock_probe(d, sizeof(d)) ? 0 : 3);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st)) {
		snprintf(detail, len, "the probe child failed");
		return false;
	}
	switch (WEXITSTATUS(st)) {
	case 0:
		snprintf(detail, len, "%s inside the tree's own network namespace: no host rule",
			 backend() == BK_NFT ? "nftables" : "iptables");
		return true;
	case 2:
		snprintf(detail, len, "can't create a network namespace (unshare CLONE_NEWNET)");
		return false;
	default:
		snprintf(detail, len, "neither nft nor iptables works in a new network namespace");
		return false;
	}
}

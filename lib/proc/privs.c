/* The caller's privileges and what an image may ask for with them (privs.h).
 *
 * The rules are the kernel's own (setresuid, setgroups, capset, PR_SET_SECUREBITS,
 * chown), applied to the caller's real credentials before anything is created:
 * the restorer runs with exactly these credentials, so whatever passes here the
 * kernel lets it set, and whatever the kernel would refuse is refused here first,
 * with a message naming the process and what it asked for. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include "files/files.h"
#include "log.h"
#include "proc/privs.h"
#include "restorer-args.h"
#include "util.h"

static const char *const cap_names[] = {
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
	"CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
	"CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
	"CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
	"CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
	"CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
};

const char *cap_name(int cap)
{
	static __thread char buf[32];

	if (cap >= 0 && cap < (int)ARRAY_SIZE(cap_names))
		return cap_names[cap];
	snprintf(buf, sizeof(buf), "capability %d", cap);
	return buf;
}

/* "CAP_A, CAP_B" of a mask */
static const char *caps_str(uint64_t mask, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = 0;
	for (int cap = 0; cap < 64 && n < len; cap++)
		if (mask & (1ULL << cap))
			n += snprintf(buf + n, len - n, "%s%s", n ? ", " : "", cap_name(cap));
	return buf;
}

static __thread bool limited;

void privs_limit(bool on)
{
	limited = on;
}

static int read_caps_real(uint64_t *eff, uint64_t *prm, uint64_t *inh)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &hdr, d))
		return pr_perror("capget");
	*eff = d[0].effective | (uint64_t)d[1].effective << 32;
	*prm = d[0].permitted | (uint64_t)d[1].permitted << 32;
	*inh = d[0].inheritable | (uint64_t)d[1].inheritable << 32;
	return 0;
}

static int read_caps(uint64_t *eff, uint64_t *prm, uint64_t *inh)
{
	int ret = read_caps_real(eff, prm, inh);

	if (limited) {
		*eff &= PRIVS_UNPRIV_CAPS;
		*prm &= PRIVS_UNPRIV_CAPS;
		*inh &= PRIVS_UNPRIV_CAPS;
	}
	return ret;
}

static int cmp_gid(const void *a, const void *b)
{
	gid_t x = *(const gid_t *)a, y = *(const gid_t *)b;
	return x < y ? -1 : x > y;
}

int privs_get(struct privs *p)
{
	int n, ret;

	memset(p, 0, sizeof(*p));
	if (getresuid(&p->uid[0], &p->uid[1], &p->uid[2]) || getresgid(&p->gid[0], &p->gid[1], &p->gid[2]))
		return pr_perror("getresuid/getresgid");
	/* an invalid id changes nothing and returns the current one */
	p->uid[3] = setfsuid(-1);
	p->gid[3] = setfsgid(-1);
	if ((n = getgroups(0, NULL)) < 0 || !(p->groups = malloc((n + 1) * sizeof(gid_t))) ||
	    (n = getgroups(n, p->groups)) < 0) {
		ret = n < 0 ? pr_perror("getgroups") : -ENOMEM;
		privs_free(p);
		return ret;
	}
	p->ngroups = n;
	qsort(p->groups, n, sizeof(gid_t), cmp_gid);
	if ((ret = read_caps(&p->eff, &p->prm, &p->inh))) {
		privs_free(p);
		return ret;
	}
	/* the bounding set ends where this kernel's capabilities end (EINVAL) */
	p->last_cap = -1;
	for (int cap = 0; cap < 64; cap++) {
		int r = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
		if (r < 0)
			break;
		p->last_cap = cap;
		if (r)
			p->bnd |= 1ULL << cap;
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0) > 0)
			p->amb |= 1ULL << cap;
	}
	p->securebits = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
	p->no_new_privs = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) > 0;
	return 0;
}

void privs_free(struct privs *p)
{
	free(p->groups);
	p->groups = NULL;
}

bool privs_has(const struct privs *p, int cap)
{
	return cap >= 0 && cap < 64 && (p->eff & (1ULL << cap));
}

static int need_msg(int cap, int alt, const char *op)
{
	return pr_err("%s needs %s%s%s, which the caller (uid %u) lacks", op, cap_name(cap), alt >= 0 ? " or " : "",
		      alt >= 0 ? cap_name(alt) : "", (unsigned)geteuid()), -EPERM;
}

int privs_need(int cap, int alt, const char *op)
{
	uint64_t eff, prm, inh, mask = (1ULL << cap) | (alt >= 0 ? 1ULL << alt : 0);

	if (read_caps_real(&eff, &prm, &inh))
		return -EPERM;
	if (eff & mask & (limited ? PRIVS_UNPRIV_CAPS : ~0ULL))
		return 0;
	if (eff & mask)
		return pr_err("%s needs %s%s%s, which --unprivileged does not use", op, cap_name(cap),
			      alt >= 0 ? " or " : "", alt >= 0 ? cap_name(alt) : ""), -EPERM;
	return need_msg(cap, alt, op);
}

int privs_explain(int err, int cap, int alt, const char *op)
{
	if (err != EPERM && err != EACCES)
		return 0;
	return privs_need(cap, alt, op);
}

/* ---------------------------------------------------------------- credentials */

static bool among(uint32_t v, const uint32_t *set, int n)
{
	for (int i = 0; i < n; i++)
		if (set[i] == v)
			return true;
	return false;
}

static const char *const id_what[] = { "real", "effective", "saved", "filesystem" };

/* setresuid/setresgid without CAP_SETUID/CAP_SETGID: each id one the caller has
 * as real, effective or saved; the fs id then one of the new three. */
static int check_ids(uint32_t pid, const char *kind, const uint32_t img[4], const uint32_t caller[4], int cap)
{
	for (int i = 0; i < 4; i++) {
		bool ok = i < 3 ? among(img[i], caller, 3) : among(img[3], img, 3);
		if (!ok)
			return pr_err("pid %u asks for %s %s %u (real/effective/saved/fs %u/%u/%u/%u); the caller is "
				      "%s %u/%u/%u/%u and lacks %s", pid, id_what[i], kind, img[i], img[0], img[1], img[2],
				      img[3], kind, caller[0], caller[1], caller[2], caller[3], cap_name(cap)), -EPERM;
	}
	return 0;
}

static bool in_groups(const struct privs *p, uint32_t g)
{
	for (int i = 0; i < p->ngroups; i++)
		if (p->groups[i] == g)
			return true;
	return false;
}

/* setgroups needs CAP_SETGID: without it the list must be the caller's own. */
static int check_groups(const struct privs *p, uint32_t pid, const CredsEntry *cr)
{
	size_t same = 0;

	if (privs_has(p, CAP_SETGID))
		return 0;
	for (size_t i = 0; i < cr->n_groups; i++) {
		if (!in_groups(p, cr->groups[i]))
			return pr_err("pid %u asks for supplementary group %u, which the caller (uid %u) is not in and "
				      "lacks CAP_SETGID", pid, cr->groups[i], p->uid[1]), -EPERM;
		bool dup = false;
		for (size_t j = 0; j < i; j++)
			dup |= cr->groups[j] == cr->groups[i];
		same += !dup;
	}
	if (same != (size_t)p->ngroups)
		return pr_err("pid %u had %zu supplementary groups, the caller has %d: changing them needs CAP_SETGID, "
			      "which the caller (uid %u) lacks", pid, same, p->ngroups, p->uid[1]), -EPERM;
	return 0;
}

static int check_caps(const struct privs *p, uint32_t pid, const CredsEntry *cr)
{
	uint64_t valid = p->last_cap >= 63 ? ~0ULL : (1ULL << (p->last_cap + 1)) - 1;
	uint64_t amb = cr->has_cap_amb ? cr->cap_amb : 0;
	/* capset: inheritable within the old inheritable and bounding sets, and without
	 * CAP_SETPCAP within the old inheritable and permitted ones */
	uint64_t inh_ok = (p->inh | p->bnd) & (privs_has(p, CAP_SETPCAP) ? ~0ULL : p->inh | p->prm);
	bool setpcap = privs_has(p, CAP_SETPCAP);
	char s[768];
	struct { const char *set; uint64_t beyond; } sets[] = {
		{ "permitted", cr->cap_prm & valid & ~p->prm },
		{ "effective", cr->cap_eff & valid & ~p->prm },
		{ "inheritable", cr->cap_inh & valid & ~inh_ok },
		{ "ambient", amb & valid & ~p->prm },
		{ "bounding", cr->cap_bnd & valid & ~p->bnd },
	};

	for (size_t i = 0; i < ARRAY_SIZE(sets); i++)
		if (sets[i].beyond)
			return pr_err("pid %u asks for %s capabilities the caller (uid %u) does not have: %s", pid,
				      sets[i].set, p->uid[1], caps_str(sets[i].beyond, s, sizeof(s))), -EPERM;
	if (amb & valid & ~(cr->cap_prm & cr->cap_inh))
		return pr_err("pid %u asks for ambient capabilities outside its permitted and inheritable sets: %s", pid,
			      caps_str(amb & ~(cr->cap_prm & cr->cap_inh), s, sizeof(s))), -EINVAL;
	if (cr->cap_eff & valid & ~cr->cap_prm)
		return pr_err("pid %u asks for effective capabilities outside its permitted set: %s", pid,
			      caps_str(cr->cap_eff & valid & ~cr->cap_prm, s, sizeof(s))), -EINVAL;
	if (!setpcap && (p->bnd & valid & ~cr->cap_bnd))
		return pr_err("pid %u had a smaller bounding set (without %s): dropping from it needs CAP_SETPCAP, which "
			      "the caller (uid %u) lacks", pid, caps_str(p->bnd & valid & ~cr->cap_bnd, s, sizeof(s)),
			      p->uid[1]), -EPERM;
	return 0;
}

#define SECURE_LOCKS (SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED | \
		      SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED)

/* PR_SET_SECUREBITS needs CAP_SETPCAP and never unlocks; without it only
 * keep-caps can change (PR_SET_KEEPCAPS), unless that is locked too. */
static int check_securebits(const struct privs *p, uint32_t pid, const CredsEntry *cr)
{
	uint32_t want = cr->has_securebits ? cr->securebits : 0, have = p->securebits;
	uint32_t free_bits = (have & SECBIT_KEEP_CAPS_LOCKED) ? 0 : SECBIT_KEEP_CAPS;

	if (privs_has(p, CAP_SETPCAP)) {
		if ((((have & SECURE_LOCKS) >> 1) & (have ^ want)) || (have & SECURE_LOCKS & ~want))
			return pr_err("pid %u asks for securebits 0x%x; the caller's 0x%x lock some of them", pid, want,
				      have), -EPERM;
		return 0;
	}
	if ((want ^ have) & ~free_bits)
		return pr_err("pid %u asks for securebits 0x%x, the caller has 0x%x: changing them needs CAP_SETPCAP, "
			      "which the caller (uid %u) lacks", pid, want, have, p->uid[1]), -EPERM;
	return 0;
}

static int check_creds(const struct privs *p, uint32_t pid, const CredsEntry *cr)
{
	const uint32_t uids[4] = { cr->uid, cr->euid, cr->suid, cr->fsuid };
	const uint32_t gids[4] = { cr->gid, cr->egid, cr->sgid, cr->fsgid };
	const uint32_t cu[4] = { p->uid[0], p->uid[1], p->uid[2], p->uid[3] };
	const uint32_t cg[4] = { p->gid[0], p->gid[1], p->gid[2], p->gid[3] };
	int ret;

	if (!privs_has(p, CAP_SETUID) && (ret = check_ids(pid, "uid", uids, cu, CAP_SETUID)))
		return ret;
	if (!privs_has(p, CAP_SETGID) && (ret = check_ids(pid, "gid", gids, cg, CAP_SETGID)))
		return ret;
	if ((ret = check_groups(p, pid, cr)) || (ret = check_caps(p, pid, cr)) || (ret = check_securebits(p, pid, cr)))
		return ret;
	return 0;
}

uint32_t privs_restorer_flags(const struct privs *p, const CredsEntry *cr)
{
	uint32_t f = 0;

	if (privs_has(p, CAP_SETPCAP))
		f |= RST_CREDS_SETPCAP;
	if (p->securebits & SECBIT_KEEP_CAPS_LOCKED)
		f |= RST_CREDS_KEEPCAPS_LOCKED;
	/* the same list (checked by check_groups) needs no setgroups, which needs CAP_SETGID */
	bool same = cr->n_groups >= (size_t)p->ngroups;
	for (size_t i = 0; i < cr->n_groups && same; i++)
		same = in_groups(p, cr->groups[i]);
	if (privs_has(p, CAP_SETGID) || !same)
		f |= RST_CREDS_GROUPS;
	return f;
}

/* ---------------------------------------------------------------- files */

/* The caller must be able to open path as mode says; only a refusal counts here
 * (a file gone or changed is the restore's own business, with its own message). */
static int check_access(const struct privs *p, uint32_t pid, const char *what, const char *path, int mode)
{
	if (!path || !path[0] || !faccessat(AT_FDCWD, path, mode, AT_EACCESS) || (errno != EACCES && errno != EPERM))
		return 0;
	return pr_err("pid %u asks for %s %s (%s%s%s), which the caller (uid %u) can't open: %s", pid, what, path,
		      mode & R_OK ? "read" : "", (mode & R_OK) && (mode & ~R_OK) ? "/" : "",
		      mode & W_OK ? "write" : mode & X_OK ? "search" : "", p->uid[1], strerror(errno)), -EACCES;
}

static int acc_mode(uint32_t flags)
{
	switch (flags & O_ACCMODE) {
	case O_WRONLY: return W_OK;
	case O_RDWR: return R_OK | W_OK;
	default: return R_OK;
	}
}

/* A file libcr creates and gives the image's owner: chown rules (owner: ourselves,
 * group: one we are in) unless CAP_CHOWN. */
static int check_owner(const struct privs *p, uint32_t pid, const char *what, const char *name, uint32_t uid,
		       uint32_t gid)
{
	if (privs_has(p, CAP_CHOWN))
		return 0;
	if (uid != p->uid[3])
		return pr_err("pid %u asks for %s %s owned by uid %u; the caller is uid %u and lacks CAP_CHOWN", pid, what,
			      name, uid, p->uid[3]), -EPERM;
	if (gid != p->gid[3] && !in_groups(p, gid))
		return pr_err("pid %u asks for %s %s of group %u, which the caller (uid %u) is not in and lacks "
			      "CAP_CHOWN", pid, what, name, gid, p->uid[3]), -EPERM;
	return 0;
}

static int check_fd(const struct privs *p, uint32_t pid, const FdinfoEntry *e)
{
	char what[64];

	snprintf(what, sizeof(what), "fd %u:", e->fd);
	if (e->has_dup_of)
		return 0;   /* the earlier fd's file */
	switch (e->kind) {
	case FD_KIND__FD_REG:
		if (!e->reg || e->reg->has_ghost_id || (e->flags & O_PATH))
			return 0;
		/* fallthrough */
	case FD_KIND__FD_CHR:
		return e->reg ? check_access(p, pid, what, e->reg->path, acc_mode(e->flags)) : 0;
	case FD_KIND__FD_FIFO:
		return e->fifo ? check_access(p, pid, what, e->fifo->path, acc_mode(e->flags)) : 0;
	case FD_KIND__FD_UNIX_SK:
		if (e->unix_sk && e->unix_sk->file && e->unix_sk->name.len && e->unix_sk->name.data[0])
			return check_owner(p, pid, "the socket file of", what, e->unix_sk->file->uid,
					   e->unix_sk->file->gid);
		return 0;
	default:
		return 0;
	}
}

static int check_files(const struct privs *p, uint32_t pid, const struct files_image *fi)
{
	int ret;

	for (size_t i = 0; i < fi->nr; i++)
		if ((ret = check_fd(p, pid, fi->fds[i])))
			return ret;
	for (size_t i = 0; i < fi->nr_ghosts; i++)
		if ((ret = check_owner(p, pid, "the recreated file", fi->ghosts[i]->name, fi->ghosts[i]->uid,
				       fi->ghosts[i]->gid)))
			return ret;
	return 0;
}

static int check_mm(const struct privs *p, uint32_t pid, const MmEntry *mm)
{
	int ret;

	for (size_t i = 0; i < mm->n_vmas; i++) {
		const VmaEntry *v = mm->vmas[i];
		bool file = v->kind == VMA_KIND__VMA_FILE_PRIVATE || v->kind == VMA_KIND__VMA_FILE_SHARED;
		int mode = R_OK | (v->kind == VMA_KIND__VMA_FILE_SHARED && (v->prot & PROT_WRITE) ? W_OK : 0);

		if (file && !v->has_ghost_id && (ret = check_access(p, pid, "the mapped file", v->path, mode)))
			return ret;
	}
	return check_access(p, pid, "the executable", mm->exe_path, R_OK);
}

int privs_check_task(const struct privs *p, uint32_t pid, const CoreEntry *core, const MmEntry *mm,
		     const char *cwd, const char *root, const struct files_image *fi)
{
	char op[96];
	int ret;

	if ((ret = check_creds(p, pid, core->creds)) || (ret = check_mm(p, pid, mm)) || (ret = check_files(p, pid, fi)) ||
	    (ret = check_access(p, pid, "the working directory", cwd, X_OK)))
		return ret;
	snprintf(op, sizeof(op), "changing the root of pid %u to %s (chroot)", pid, root);
	if (strcmp(root, "/") && !privs_has(p, CAP_SYS_CHROOT))
		return need_msg(CAP_SYS_CHROOT, -1, op);
	return 0;
}

/* ---------------------------------------------------------------- ptrace */

static int status_ids(const char *status, const char *key, uint32_t v[4])
{
	const char *l = strstr(status, key);
	return l && sscanf(l + strlen(key), "%u %u %u %u", &v[0], &v[1], &v[2], &v[3]) == 4 ? 0 : -1;
}

int privs_ptrace_denied(pid_t pid)
{
	struct privs p;
	char *status = read_proc(pid, "status", NULL), *l, s[768];
	uint32_t uid[4], gid[4];
	unsigned long long prm = 0;
	long scope = -1;
	char *yama = read_file("/proc/sys/kernel/yama/ptrace_scope", NULL);
	struct stat st;
	char path[64];
	int ret = 0;

	if (yama)
		scope = atol(yama);
	free(yama);
	if (!status || privs_get(&p)) {
		free(status);
		return 0;
	}
	if ((l = strstr(status, "\nCapPrm:")))
		prm = strtoull(l + 8, NULL, 16);
	snprintf(path, sizeof(path), "/proc/%d", pid);
	if (privs_has(&p, CAP_SYS_PTRACE))
		ret = 0;
	/* the kernel's rule: the target's real, effective and saved ids all the caller's real ones */
	else if (!status_ids(status, "\nUid:", uid) && !status_ids(status, "\nGid:", gid) &&
		 (uid[0] != p.uid[0] || uid[1] != p.uid[0] || uid[2] != p.uid[0] || gid[0] != p.gid[0] ||
		  gid[1] != p.gid[0] || gid[2] != p.gid[0]))
		ret = (pr_err("can't seize pid %d: it runs as uid %u gid %u, the caller as uid %u gid %u; ptrace of another "
			     "user's process needs CAP_SYS_PTRACE, which the caller lacks", pid, uid[1], gid[1], p.uid[0],
			     p.gid[0]), -EPERM);
	else if (prm & ~p.prm)
		ret = (pr_err("can't seize pid %d: it holds capabilities the caller lacks (%s); ptrace needs "
			     "CAP_SYS_PTRACE, which the caller (uid %u) lacks", pid, caps_str(prm & ~p.prm, s, sizeof(s)),
			     p.uid[1]), -EPERM);
	else if (!stat(path, &st) && st.st_uid != p.uid[1])
		ret = (pr_err("can't seize pid %d: it is not dumpable (it changed credentials or cleared PR_SET_DUMPABLE); "
			     "ptrace needs CAP_SYS_PTRACE, which the caller (uid %u) lacks", pid, p.uid[1]), -EPERM);
	else if (scope > 0)
		ret = (pr_err("can't seize pid %d: Yama ptrace_scope is %ld; ptrace of a process that is not the caller's "
			     "descendant needs CAP_SYS_PTRACE, which the caller (uid %u) lacks", pid, scope, p.uid[1]),
		      -EPERM);
	privs_free(&p);
	free(status);
	return ret;
}

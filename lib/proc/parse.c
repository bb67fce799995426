#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "log.h"
#include "proc/proc.h"
#include "util.h"

int proc_parse_stat_buf(const char *buf, struct proc_stat *st)
{
	/* comm may hold spaces and parens: the fields start after the last ')'. */
	const char *open = strchr(buf, '('), *close = strrchr(buf, ')');
	unsigned long long f[52];
	int n = 0;
	char *p;

	memset(st, 0, sizeof(*st));
	if (!open || !close || close < open || close[1] != ' ' || close[2] == 0)
		return -EINVAL;
	snprintf(st->comm, sizeof(st->comm), "%.*s", (int)(close - open - 1), open + 1);
	st->state = close[2];
	p = (char *)close + 3;
	/* fields 4.. (1-based as in proc(5)) */
	while (n < 52 && *p) {
		char *end;
		if (*p == ' ')
			p++;
		f[n] = strtoull(p, &end, 10);
		if (end == p)
			break;
		/* some fields are signed (e.g. priority, nice): strtoull wraps them, which is fine */
		if (*p == '-')
			f[n] = (unsigned long long)strtoll(p, &end, 10);
		p = end;
		n++;
	}
	if (n < 49)   /* up to env_end (field 51) exists since Linux 3.5 */
		return -EINVAL;
#define F(i) f[(i) - 4]
	st->ppid = F(4); st->pgid = F(5); st->sid = F(6);
	st->tty_nr = F(7); st->tpgid = (int)F(8);
	st->flags = F(9);
	st->start_code = F(26); st->end_code = F(27); st->start_stack = F(28);
	st->exit_signal = F(38);
	st->start_data = F(45); st->end_data = F(46); st->start_brk = F(47);
	st->arg_start = F(48); st->arg_end = F(49); st->env_start = F(50); st->env_end = F(51);
	st->exit_code = n >= 49 ? (int)F(52) : 0;
#undef F
	return 0;
}

int proc_parse_stat_quiet(pid_t pid, struct proc_stat *st)
{
	char *buf = read_proc(pid, "stat", NULL);
	int ret;

	if (!buf)
		return -errno;
	ret = proc_parse_stat_buf(buf, st);
	free(buf);
	return ret;
}

int proc_parse_stat(pid_t pid, struct proc_stat *st)
{
	char *buf = read_proc(pid, "stat", NULL);
	int ret;

	if (!buf)
		return pr_perror("can't read /proc/%d/stat", pid);
	ret = proc_parse_stat_buf(buf, st);
	if (ret)
		pr_err("can't parse /proc/%d/stat", pid);
	free(buf);
	return ret;
}

static const char *field(const char *buf, const char *name)
{
	size_t len = strlen(name);

	for (const char *p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, name, len) && p[len] == ':')
			return p + len + 1;
	return NULL;
}

int proc_nspid_all(const char *text, pid_t *out, int max)
{
	const char *p = !strncmp(text, "NSpid:", 6) ? text : strstr(text, "\nNSpid:");
	char *end;
	int levels = 0;

	if (!p)
		return 0;
	for (p += *p == '\n' ? 7 : 6;; p = end) {
		long v = strtol(p, &end, 10);
		if (end == p)
			break;
		if (levels < max)
			out[levels] = v;
		levels++;
	}
	return levels;
}

int proc_nspid(const char *text, pid_t *own)
{
	pid_t all[32];
	int levels = proc_nspid_all(text, all, 32);

	/* pid namespaces nest 32 deep at most (MAX_PID_NS_LEVEL) */
	if (levels > 0 && levels <= 32)
		*own = all[levels - 1];
	return levels;
}

int proc_parse_status_buf(const char *buf, struct proc_status *st)
{
	const char *p;

	memset(st, 0, sizeof(*st));
	st->umask = -1;
	if (!(p = field(buf, "Uid")) || sscanf(p, "%u %u %u %u", &st->uid[0], &st->uid[1], &st->uid[2],
					       &st->uid[3]) != 4)
		return -EINVAL;
	if (!(p = field(buf, "Gid")) || sscanf(p, "%u %u %u %u", &st->gid[0], &st->gid[1], &st->gid[2],
					       &st->gid[3]) != 4)
		return -EINVAL;
	if ((p = field(buf, "Groups"))) {
		char *end;
		while (st->ngroups < ARRAY_SIZE(st->groups)) {
			while (*p == ' ' || *p == '\t')
				p++;
			if (!isdigit((unsigned char)*p))
				break;
			st->groups[st->ngroups++] = strtoul(p, &end, 10);
			p = end;
		}
	}
#define HEX(name, dst) do { if (!(p = field(buf, name)) || sscanf(p, "%" SCNx64, &(dst)) != 1) return -EINVAL; } while (0)
	HEX("CapInh", st->cap_inh);
	HEX("CapPrm", st->cap_prm);
	HEX("CapEff", st->cap_eff);
	HEX("CapBnd", st->cap_bnd);
	HEX("SigPnd", st->sigpnd);
	HEX("ShdPnd", st->shdpnd);
	HEX("SigBlk", st->sigblk);
#undef HEX
	if ((p = field(buf, "CapAmb")))
		sscanf(p, "%" SCNx64, &st->cap_amb);
	if ((p = field(buf, "Umask")))
		sscanf(p, "%o", &st->umask);
	if (!(p = field(buf, "Threads")) || sscanf(p, "%d", &st->threads) != 1)
		return -EINVAL;
	if (!(p = field(buf, "TracerPid")) || sscanf(p, "%d", &st->tracer) != 1)
		return -EINVAL;
	if ((p = field(buf, "NoNewPrivs")))
		sscanf(p, "%d", &st->no_new_privs);
	if ((p = field(buf, "Seccomp")))
		sscanf(p, "%d", &st->seccomp);
	if ((p = field(buf, "VmLck")))
		sscanf(p, "%" SCNu64, &st->vm_lck_kb);
	return 0;
}

int proc_parse_status(pid_t pid, struct proc_status *st)
{
	char *buf = read_proc(pid, "status", NULL);
	int ret;

	if (!buf)
		return pr_perror("can't read /proc/%d/status", pid);
	ret = proc_parse_status_buf(buf, st);
	if (ret)
		pr_err("can't parse /proc/%d/status", pid);
	free(buf);
	return ret;
}

static int parse_maps_line(const char *line, struct proc_vma *v)
{
	char perms[5];
	unsigned long long start, end, pgoff, ino;
	unsigned maj, min;
	int pos = 0;

	memset(v, 0, sizeof(*v));
	if (sscanf(line, "%llx-%llx %4s %llx %x:%x %llu%n", &start, &end, perms, &pgoff, &maj, &min, &ino,
		   &pos) < 7 || !pos)
		return -EINVAL;
	/* the path starts after the padding, on this line only (anonymous areas have none) */
	while (line[pos] == ' ' || line[pos] == '\t')
		pos++;
	if (line[pos] == '\n' || !line[pos])
		pos = 0;
	v->start = start; v->end = end; v->pgoff = pgoff; v->ino = ino;
	v->dev_major = maj; v->dev_minor = min;
	v->prot = (perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0) |
		  (perms[2] == 'x' ? PROT_EXEC : 0);
	v->shared = perms[3] == 's';
	if (pos) {
		const char *nl = strchr(line + pos, '\n');
		size_t len = nl ? (size_t)(nl - line - pos) : strlen(line + pos);
		static const char del[] = " (deleted)";

		if (len >= sizeof(v->path))
			return -ENAMETOOLONG;
		memcpy(v->path, line + pos, len);
		v->path[len] = 0;
		if (v->path[0] == '/' && len > sizeof(del) - 1 && !strcmp(v->path + len - (sizeof(del) - 1), del)) {
			v->deleted = true;
			v->path[len - (sizeof(del) - 1)] = 0;
		}
	}
	return 0;
}

/* VmFlags: two-letter codes; keep those a restore must recreate. */
static void parse_vmflags(const char *p, struct proc_vma *v)
{
	static const struct { char code[3]; int madv; } advice[] = {
		{ "hg", MADV_HUGEPAGE }, { "nh", MADV_NOHUGEPAGE }, { "dd", MADV_DONTDUMP },
		{ "dc", MADV_DONTFORK }, { "wf", MADV_WIPEONFORK }, { "mg", MADV_MERGEABLE },
	};

	for (; *p && *p != '\n'; p++) {
		if (*p == ' ' || !p[1] || p[1] == ' ' || p[1] == '\n')
			continue;
		if (p[0] == 'g' && p[1] == 'd')
			v->growsdown = true;
		if (p[0] == 'l' && (p[1] == 'o' || p[1] == 'f'))
			v->lock |= p[1] == 'o' ? 1 : 2;
		for (size_t i = 0; i < ARRAY_SIZE(advice); i++)
			if (p[0] == advice[i].code[0] && p[1] == advice[i].code[1])
				v->madv |= 1ULL << advice[i].madv;
		p++;
	}
}

int proc_parse_smaps_buf(const char *buf, struct proc_vma **vmas, int *nr)
{
	struct proc_vma *arr = NULL;
	int n = 0, cap = 0;

	for (const char *line = buf; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		if (isxdigit((unsigned char)line[0]) && strchr(line, '-') && strchr(line, '-') < strchr(line, ' ')) {
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				struct proc_vma *na = realloc(arr, cap * sizeof(*arr));
				if (!na) {
					free(arr);
					return -ENOMEM;
				}
				arr = na;
			}
			if (parse_maps_line(line, &arr[n])) {
				free(arr);
				return -EINVAL;
			}
			n++;
		} else if (!strncmp(line, "VmFlags:", 8) && n) {
			parse_vmflags(line + 8, &arr[n - 1]);
		} else if (!strncmp(line, "Rss:", 4) && n) {
			arr[n - 1].rss_kb = strtoull(line + 4, NULL, 10);
		} else if (!strncmp(line, "Swap:", 5) && n) {
			arr[n - 1].swap_kb = strtoull(line + 5, NULL, 10);
		}
	}
	*vmas = arr;
	*nr = n;
	return 0;
}

int proc_parse_smaps(pid_t pid, struct proc_vma **vmas, int *nr)
{
	char *buf = read_proc(pid, "smaps", NULL);
	int ret;

	if (!buf)
		return pr_perror("can't read /proc/%d/smaps", pid);
	ret = proc_parse_smaps_buf(buf, vmas, nr);
	if (ret)
		pr_err("can't parse /proc/%d/smaps", pid);
	free(buf);
	return ret;
}

int proc_parse_maps(pid_t pid, struct proc_vma **vmas, int *nr)
{
	char *buf = read_proc(pid, "maps", NULL);
	int ret;

	if (!buf)
		return pr_perror("can't read /proc/%d/maps", pid);
	ret = proc_parse_smaps_buf(buf, vmas, nr);   /* the same lines, without the VmFlags */
	if (ret)
		pr_err("can't parse /proc/%d/maps", pid);
	free(buf);
	return ret;
}

static uint64_t parse_limit(const char *p)
{
	while (*p == ' ')
		p++;
	if (!strncmp(p, "unlimited", 9))
		return UINT64_MAX;
	return strtoull(p, NULL, 10);
}

int proc_parse_limits_buf(const char *buf, struct proc_rlimit lim[PROC_NR_RLIMITS])
{
	/* Lines follow the RLIMIT_* order; values start at fixed columns 26 and 47. */
	const char *line = strchr(buf, '\n');
	int i = 0;

	while (line && line[1] && i < PROC_NR_RLIMITS) {
		line++;
		if (strlen(line) < 47)
			return -EINVAL;
		lim[i].cur = parse_limit(line + 26);
		lim[i].max = parse_limit(line + 47);
		i++;
		line = strchr(line, '\n');
	}
	return i == PROC_NR_RLIMITS ? 0 : -EINVAL;
}

int proc_parse_limits(pid_t pid, struct proc_rlimit lim[PROC_NR_RLIMITS])
{
	char *buf = read_proc(pid, "limits", NULL);
	int ret;

	if (!buf)
		return pr_perror("can't read /proc/%d/limits", pid);
	ret = proc_parse_limits_buf(buf, lim);
	if (ret)
		pr_err("can't parse /proc/%d/limits", pid);
	free(buf);
	return ret;
}

int proc_parse_fdinfo(pid_t pid, int fd, uint64_t *pos, uint32_t *flags)
{
	char name[32];
	char *buf;
	const char *p;
	int ret = 0;

	snprintf(name, sizeof(name), "fdinfo/%d", fd);
	buf = read_proc(pid, name, NULL);
	if (!buf)
		return pr_perror("can't read /proc/%d/fdinfo/%d", pid, fd);
	if (!(p = field(buf, "pos")) || sscanf(p, "%" SCNu64, pos) != 1 ||
	    !(p = field(buf, "flags")) || sscanf(p, "%o", flags) != 1) {
		pr_err("can't parse /proc/%d/fdinfo/%d", pid, fd);
		ret = -EINVAL;
	}
	free(buf);
	return ret;
}

int proc_list_threads(pid_t pid, pid_t **tids)
{
	char path[64];
	struct dirent *de;
	DIR *d;
	int n = 0, cap = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return pr_perror("can't open %s", path);
	*tids = NULL;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			pid_t *nt = realloc(*tids, cap * sizeof(pid_t));
			if (!nt) {
				closedir(d);
				free(*tids);
				return -ENOMEM;
			}
			*tids = nt;
		}
		(*tids)[n++] = atoi(de->d_name);
	}
	closedir(d);
	return n;
}

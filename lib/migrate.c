/* Live migration: move a running tree to the host where crtool serve listens.
 *
 *   1. checks, before anything is frozen: the receiver's libcr version and arch,
 *      the CPU state features the images need, its free memory against the
 *      tree's, the files the tree has open or mapped, the kernel features a
 *      lazy restore needs, the addresses its TCP sockets are bound to;
 *   2. pre-copy: rounds of pre-dump, pages streamed to the receiver, the other
 *      images sent after them; they stop when a round no longer stores fewer
 *      pages than the one before;
 *   3. the final dump (only the pages written since), the tree left stopped;
 *      the receiver restores it (lazily with --lazy); on success the source
 *      tree is killed, on any failure it is continued and serves on.
 * Hooks (executables in hook_dir) run at pre-dump, post-dump, pre-restore,
 * post-restore and failed-restore, with CR_HOOK, CR_PID, CR_IMAGES_DIR and
 * CR_MIGRATE_TO in their environment. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "arch.h"
#include "cr/cr.h"
#include "dump.h"
#include "image/image.h"
#include "files/files.h"
#include "log.h"
#include "mem/page-server.h"
#include "net/local-addrs.h"
#include "ns/ns.h"
#include "mm.pb-c.h"
#include "util.h"

struct migration {
	struct cr_migrate_opts o;
	struct page_server ctl;
	char pages_to[160];       /* where the rounds' pages go: to, or "fd:N" (the ssh stream) */
	pid_t ssh;                /* --via ssh: the ssh process, or 0 */
	int ssh_err;              /* its stderr, read once it has failed */
	bool held;                /* the final dump holds the tree's connections */
	pid_t *pids;              /* the tree, once it is stopped */
	size_t nr_pids;
	uint64_t round_pages[33];
	int rounds_done;
};

static void say(const struct migration *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const struct migration *m, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	pr_info("migrate: %s", line);
	if (m->o.progress)
		m->o.progress(m->o.arg, line);
}

/* ---- the transport: a TCP connection to crtool serve, or ssh starting it there */

/* s in single quotes for the remote shell */
static void shell_quote(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++)
		if (*s == '\'')
			fputs("'\\''", f);
		else
			fputc(*s, f);
	fputc('\'', f);
}

/* ssh [-F CONFIG] [-p PORT] [USER@]HOST CRTOOL serve --stdio -D DIR [ARGS...], its
 * stdin and stdout one end of a socketpair: the stream of the whole migration. */
static int ssh_connect(struct migration *m)
{
	char host[256], port[16] = "", *cmd = NULL, *argv[16];
	const char *colon = strrchr(m->o.to, ':');
	int sp[2], errp[2], execp[2], argc = 0, err = 0;
	size_t cmdlen = 0;
	FILE *f;

	snprintf(host, sizeof(host), "%s", m->o.to);
	if (colon && colon[1] && strspn(colon + 1, "0123456789") == strlen(colon + 1) && !strchr(colon + 1, ']')) {
		snprintf(host, sizeof(host), "%.*s", (int)(colon - m->o.to), m->o.to);
		snprintf(port, sizeof(port), "%s", colon + 1);
	}
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = 0;
	}
	if (!host[0] || host[0] == '-')
		return pr_err("migrate: --to %s: want [USER@]HOST[:SSH_PORT] for --via ssh", m->o.to), -EINVAL;
	if (!(f = open_memstream(&cmd, &cmdlen)))
		return -ENOMEM;
	shell_quote(f, m->o.remote_crtool ? m->o.remote_crtool : "crtool");
	fputs(" serve --stdio -D ", f);
	shell_quote(f, m->o.remote_dir ? m->o.remote_dir : "/var/tmp/crtool-migrate");
	for (const char *const *a = m->o.serve_args; a && *a; a++) {
		fputc(' ', f);
		shell_quote(f, *a);
	}
	fclose(f);
	argv[argc++] = "ssh";
	argv[argc++] = "-T";                    /* no terminal: a clean byte stream */
	argv[argc++] = "-oBatchMode=yes";       /* never a password prompt: a refusal */
	argv[argc++] = "-oConnectTimeout=10";
	if (m->o.ssh_config) {
		argv[argc++] = "-F";
		argv[argc++] = (char *)m->o.ssh_config;
	}
	if (port[0]) {
		argv[argc++] = "-p";
		argv[argc++] = port;
	}
	argv[argc++] = "--";
	argv[argc++] = host;
	argv[argc++] = cmd;
	argv[argc] = NULL;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp)) {
		free(cmd);
		return pr_perror("migrate: socketpair");
	}
	if (pipe2(errp, O_CLOEXEC) || pipe2(execp, O_CLOEXEC)) {
		free(cmd);
		return pr_perror("migrate: pipe");
	}
	fcntl(errp[0], F_SETFL, O_NONBLOCK);
	if ((m->ssh = fork()) == 0) {
		dup2(sp[1], 0);
		dup2(sp[1], 1);
		dup2(errp[1], 2);
		setpgid(0, 0);   /* a ^C goes to migrate, which decides what ssh gets */
		execvp("ssh", argv);
		err = errno;
		(void)!write(execp[1], &err, sizeof(err));
		_exit(127);
	}
	free(cmd);
	close(sp[1]);
	close(errp[1]);
	close(execp[1]);
	m->ssh_err = errp[0];
	if (m->ssh < 0) {
		m->ssh = 0;
		close(sp[0]);
		close(execp[0]);
		return pr_perror("migrate: can't start ssh");
	}
	if (read(execp[0], &err, sizeof(err)) == sizeof(err)) {
		close(execp[0]);
		close(sp[0]);
		waitpid(m->ssh, NULL, 0);
		m->ssh = 0;
		errno = err;
		return pr_perror("migrate --via ssh: can't run ssh%s", err == ENOENT ? " (install openssh-client)" : "");
	}
	close(execp[0]);
	m->ctl.sk = sp[0];
	snprintf(m->ctl.where, sizeof(m->ctl.where), "%s", m->o.to);
	snprintf(m->pages_to, sizeof(m->pages_to), "fd:%d", sp[0]);
	return 0;
}

/* The last line ssh (or the remote crtool) wrote on stderr. */
static void ssh_last_line(struct migration *m, char *line, size_t len)
{
	char buf[8192];
	ssize_t n, total = 0;

	line[0] = 0;
	while (total < (ssize_t)sizeof(buf) - 1 && (n = read(m->ssh_err, buf + total, sizeof(buf) - 1 - total)) > 0)
		total += n;
	while (total && (buf[total - 1] == '\n' || buf[total - 1] == '\r'))
		total--;
	buf[total] = 0;
	char *l = strrchr(buf, '\n');
	l = l ? l + 1 : buf;
	if (!strncmp(l, "Error: ", 7))
		l += 7;
	snprintf(line, len, "%.*s", (int)(len - 1), l);
}

/* A failure that may be the stream's: ssh gone (given up to 3 s when err looks
 * like a broken stream), its status and last words say why, in one line. */
static void ssh_diagnose(struct migration *m, int err)
{
	bool broken = err == -ECONNRESET || err == -EPIPE || err == -EIO || err == -ENOTCONN;
	char line[1024];
	int st = 0;
	pid_t r = 0;

	if (m->ssh <= 0)
		return;
	for (int i = 0; i < (broken ? 300 : 1) && (r = waitpid(m->ssh, &st, WNOHANG)) == 0; i++)
		usleep(10000);
	if (r != m->ssh)
		return;   /* ssh lives on: the failure was not the transport's */
	m->ssh = 0;
	ssh_last_line(m, line, sizeof(line));
	cr_error_reset();
	if (WIFEXITED(st) && WEXITSTATUS(st) == 255 && (strstr(line, "Permission denied") ||
							 strstr(line, "Host key verification failed") ||
							 strstr(line, "authentication")))
		pr_err("ssh to %s: the login was refused: %s", m->o.to, line);
	else if (WIFEXITED(st) && WEXITSTATUS(st) == 255 && (strstr(line, "connect to host") ||
							      strstr(line, "resolve") || strstr(line, "Connection")))
		pr_err("ssh can't reach %s: %s", m->o.to, line);
	else if (WIFEXITED(st) && (WEXITSTATUS(st) == 127 || WEXITSTATUS(st) == 126))
		pr_err("crtool is not there on %s (--remote-crtool %s): %s", m->o.to,
		       m->o.remote_crtool ? m->o.remote_crtool : "crtool", line[0] ? line : "command not found");
	else
		pr_err("the receiver on %s (crtool serve --stdio over ssh) went away (ssh exit status %d)%s%s", m->o.to,
		       WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), line[0] ? ": " : "", line);
}

static int receiver_connect(struct migration *m)
{
	if (!m->o.ssh) {
		snprintf(m->pages_to, sizeof(m->pages_to), "%s", m->o.to);
		return ps_connect(&m->ctl, m->o.to);
	}
	return ssh_connect(m);
}

/* The end of the stream; ssh goes once the receiver is done (a lazy restore's
 * pages all in place), or at once after a failure. */
static void receiver_close(struct migration *m, bool failed)
{
	if (m->ctl.sk >= 0) {
		if (failed) {
			close(m->ctl.sk);
			m->ctl.sk = -1;
		} else {
			ps_close(&m->ctl);
		}
	}
	if (m->ssh > 0) {
		int st;
		if (failed)
			kill(m->ssh, SIGTERM);
		while (waitpid(m->ssh, &st, 0) < 0 && errno == EINTR)
			;
		m->ssh = 0;
	}
	if (m->o.ssh && m->ssh_err >= 0)
		close(m->ssh_err);
}

/* ---- the tree as it is now */

static int walk_tree(pid_t pid, pid_t **out, size_t *nr)
{
	char path[64];
	DIR *d;
	struct dirent *de;
	pid_t *n = realloc(*out, (*nr + 1) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	*out = n;
	(*out)[(*nr)++] = pid;
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	if (!(d = opendir(path)))
		return 0;
	while ((de = readdir(d))) {
		char name[300], *kids;
		if (de->d_name[0] == '.')
			continue;
		snprintf(name, sizeof(name), "task/%s/children", de->d_name);
		if (!(kids = read_proc(pid, name, NULL)))
			continue;
		for (char *t = strtok(kids, " \n"); t; t = strtok(NULL, " \n"))
			walk_tree(atoi(t), out, nr);
		free(kids);
	}
	closedir(d);
	return 0;
}

/* Resident and swapped memory of the tree, in bytes. */
static uint64_t tree_memory(const pid_t *pids, size_t nr)
{
	uint64_t total = 0;

	for (size_t i = 0; i < nr; i++) {
		char *s = read_proc(pids[i], "status", NULL), *p;
		unsigned long long kb;
		if (!s)
			continue;
		if ((p = strstr(s, "VmRSS:")) && sscanf(p + 6, "%llu", &kb) == 1)
			total += kb * 1024;
		if ((p = strstr(s, "VmSwap:")) && sscanf(p + 7, "%llu", &kb) == 1)
			total += kb * 1024;
		free(s);
	}
	return total;
}

/* The files the tree has open or mapped by path (NUL-separated, each once). */
static int tree_paths(const pid_t *pids, size_t nr, char **out, size_t *len)
{
	FILE *m = open_memstream(out, len);
	char **seen = NULL;
	size_t nr_seen = 0;

	if (!m)
		return -ENOMEM;
	for (size_t i = 0; i < nr; i++) {
		char path[64], *maps;
		DIR *d;
		struct dirent *de;

		snprintf(path, sizeof(path), "/proc/%d/fd", pids[i]);
		if ((d = opendir(path))) {
			while ((de = readdir(d))) {
				char fdp[300], *l;
				if (de->d_name[0] == '.')
					continue;
				snprintf(fdp, sizeof(fdp), "/proc/%d/fd/%s", pids[i], de->d_name);
				if (!(l = xreadlink(fdp)))
					continue;
				if (l[0] == '/' && !strstr(l, " (deleted)") && strncmp(l, "/dev/", 5) && strncmp(l, "/proc/", 6)) {
					bool dup = false;
					for (size_t k = 0; k < nr_seen && !dup; k++)
						dup = !strcmp(seen[k], l);
					char **n = dup ? NULL : realloc(seen, (nr_seen + 1) * sizeof(*n));
					if (n) {
						seen = n;
						seen[nr_seen++] = l;
						fwrite(l, 1, strlen(l) + 1, m);
						continue;
					}
				}
				free(l);
			}
			closedir(d);
		}
		if (!(maps = read_proc(pids[i], "maps", NULL)))
			continue;
		for (char *line = strtok(maps, "\n"); line; line = strtok(NULL, "\n")) {
			char *p = strchr(line, '/');
			bool dup = false;
			if (!p || strstr(p, " (deleted)"))
				continue;
			for (size_t k = 0; k < nr_seen && !dup; k++)
				dup = !strcmp(seen[k], p);
			char **n = dup ? NULL : realloc(seen, (nr_seen + 1) * sizeof(*n));
			if (!n)
				continue;
			seen = n;
			seen[nr_seen++] = strdup(p);
			fwrite(p, 1, strlen(p) + 1, m);
		}
		free(maps);
	}
	for (size_t k = 0; k < nr_seen; k++)
		free(seen[k]);
	free(seen);
	fclose(m);
	return 0;
}

/* ---- checks */

/* The value of "KEY=VALUE" in the receiver's info text (key given with its '='). */
static const char *info_value(const char *info, const char *key)
{
	static char v[256];
	const char *l = fdinfo_value(info, key);

	if (!l)
		return NULL;
	snprintf(v, sizeof(v), "%.*s", (int)strcspn(l, "\n"), l);
	return v;
}

static int check(struct migration *m, bool ok, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int check(struct migration *m, bool ok, const char *name, const char *fmt, ...)
{
	char detail[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	say(m, "check %-10s %s  %s", name, ok ? "OK  " : "FAIL", detail);
	return ok ? 0 : 1;
}

/* Is a in the receiver's "addrs=" list (its words up to the line's end)? */
static bool receiver_has(const char *list, const struct ip_addr *a)
{
	char word[64];
	struct ip_addr b;

	for (const char *p = list; *p && *p != '\n';) {
		size_t n = strcspn(p, " \n");
		snprintf(word, sizeof(word), "%.*s", (int)(n < sizeof(word) - 1 ? n : sizeof(word) - 1), p);
		if (ip_addr_parse(word, &b) && !memcmp(&b, a, sizeof(b)))
			return true;
		p += n;
		p += *p == ' ';
	}
	return false;
}

static bool moved_by_hooks(const struct migration *m, const struct ip_addr *a)
{
	struct ip_addr b;

	for (const char *const *p = m->o.ip_moves; p && *p; p++)
		if (ip_addr_parse(*p, &b) && !memcmp(&b, a, sizeof(b)))
			return true;
	return false;
}

/* The addresses the tree's TCP sockets are bound to must be there when it is
 * restored: the receiver has them, the hooks move them (--ip-moves), or the
 * tree's own network namespace takes them along.  Sets *connected. */
static int check_addrs(struct migration *m, const pid_t *pids, size_t nr, const char *info, int *connected)
{
	struct ip_addr *addrs;
	size_t nr_addrs, missing = 0;
	const char *there = fdinfo_value(info, "addrs=");
	char *text = NULL, a[INET6_ADDRSTRLEN + 8];
	size_t len = 0;
	FILE *f;
	int ret = tree_tcp_scan(pids, nr, connected, &addrs, &nr_addrs);

	if (ret)
		return pr_err("migrate: can't list the TCP sockets of the tree of %d: %s", m->o.pid, strerror(-ret)), ret;
	if (!nr_addrs) {
		free(addrs);
		return check(m, true, "ip", "no TCP socket bound to a particular address");
	}
	if (ns_own(pids[0], "net") == 1) {
		free(addrs);
		return check(m, true, "ip", "the tree's own network namespace takes its addresses along");
	}
	if (!(f = open_memstream(&text, &len))) {
		free(addrs);
		return -ENOMEM;
	}
	/* the missing ones first: the line names them */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < nr_addrs; i++) {
			bool has = there && receiver_has(there, &addrs[i]), moves = !has && moved_by_hooks(m, &addrs[i]);
			if ((pass == 0) != (!has && !moves))
				continue;
			ip_addr_str(&addrs[i], a, sizeof(a));
			missing += !has && !moves;
			fprintf(f, "%s%s %s", ftell(f) ? ", " : "", a, has ? "is there" : moves ? "moves (--ip-moves)"
				    : "is not an address there");
		}
	if (missing)
		fprintf(f, " (%s; if a hook moves %s there, say --ip-moves ADDR)",
			there ? "the receiver's network namespace lacks it" : "the receiver lists no address",
			missing == 1 ? "it" : "them");
	fclose(f);
	free(addrs);
	ret = check(m, !missing, "ip", "%s", text ? text : "");
	free(text);
	return ret;
}

static int validate(struct migration *m, const pid_t *pids, size_t nr)
{
	char *info = NULL, *paths = NULL, *missing = NULL;
	const char *v;
	size_t plen = 0;
	uint64_t ours = 0, theirs = 0, need, avail;
	uint32_t xsize;
	int failed = 0, ret, tcp = 0;

	if ((ret = ps_request(&m->ctl, PS_INFO, NULL, NULL, 0, &info)))
		return ret;
	v = info_value(info, "version=");
	failed += check(m, v && !strcmp(v, CR_VERSION), "version", "libcr %s here, %s on %s", CR_VERSION,
			v ? v : "?", m->o.to);
	v = info_value(info, "arch=");
	failed += check(m, v && !strcmp(v, ARCH_NAME), "arch", "%s here, %s there", ARCH_NAME, v ? v : "?");
	arch_cpu_features(&ours, &xsize);
	v = info_value(info, "xfeatures=");
	theirs = v ? strtoull(v, NULL, 0) : 0;
	failed += check(m, !(ours & ~theirs), "cpu", "state features 0x%llx here, 0x%llx there%s",
			(unsigned long long)ours, (unsigned long long)theirs,
			ours & ~theirs ? " (the destination lacks some the registers need)" : "");
	need = tree_memory(pids, nr);
	v = info_value(info, "mem_available=");
	avail = v ? strtoull(v, NULL, 10) : 0;
	failed += check(m, avail >= need, "memory", "the tree uses %llu MiB, %llu MiB available there",
			(unsigned long long)(need >> 20), (unsigned long long)(avail >> 20));
	if (m->o.lazy) {
		v = info_value(info, "feature.userfaultfd=");
		failed += check(m, v && !strcmp(v, "ok"), "lazy", "userfaultfd %s there", v ? v : "unknown");
	}
	if ((ret = check_addrs(m, pids, nr, info, &tcp)) < 0)
		goto out;
	failed += ret;
	failed += check(m, !tcp || m->o.tcp_established, "tcp", "%d connected TCP socket%s%s", tcp, tcp == 1 ? "" : "s",
			!tcp ? "" : m->o.tcp_established ? ", taken along" : " (take them along with --tcp-established)");
	if ((ret = tree_paths(pids, nr, &paths, &plen)) ||
	    (ret = ps_request(&m->ctl, PS_PATHS, NULL, paths, plen, &missing)))
		goto out;
	if (missing && *missing) {
		for (char *p = missing; (p = strchr(p, '\n')); p++)
			if (p[1])
				*p = ' ';
		missing[strcspn(missing, "\n")] = 0;
	}
	failed += check(m, !missing || !*missing, "files", "%s", missing && *missing ? missing
			: "every file the tree has open or mapped is there");
	ret = failed;
out:
	free(info);
	free(paths);
	free(missing);
	return ret;
}

/* ---- hooks */

static int run_hook(struct migration *m, const char *phase, const char *images)
{
	char path[4096], pid[32];
	int st;
	pid_t child;

	if (!m->o.hook_dir)
		return 0;
	snprintf(path, sizeof(path), "%s/%s", m->o.hook_dir, phase);
	if (access(path, X_OK))
		return 0;
	snprintf(pid, sizeof(pid), "%d", m->o.pid);
	if ((child = fork()) == 0) {
		setenv("CR_HOOK", phase, 1);
		setenv("CR_PID", pid, 1);
		setenv("CR_IMAGES_DIR", images ? images : "", 1);
		setenv("CR_MIGRATE_TO", m->o.to, 1);
		execl(path, path, phase, (char *)NULL);
		_exit(127);
	}
	if (child < 0)
		return pr_perror("can't run the hook %s", path);
	while (waitpid(child, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		return pr_err("the %s hook (%s) failed (status 0x%x)", phase, path, st), -ECANCELED;
	say(m, "hook %s done", phase);
	return 0;
}

/* ---- rounds */

/* Pages a round stored (its pagemap's runs not in a parent). */
static uint64_t round_pages(const char *dir)
{
	struct img_dir d = { .dfd = -1 };
	DIR *dd;
	struct dirent *de;
	uint64_t pages = 0;

	if (img_dir_open(&d, dir) || !(dd = opendir(dir))) {
		img_dir_close(&d);
		return 0;
	}
	while ((de = readdir(dd))) {
		unsigned id;
		struct img *img;
		PagemapEntry *pe;
		ProtobufCMessage *head;
		if (sscanf(de->d_name, "pagemap-%u.img", &id) != 1 || !(img = img_open(&d, IMG_PAGEMAP, id)))
			continue;
		if (img_read_one(img, &pagemap_head__descriptor, &head) == 0) {
			img_free_msg(head);
			while (img_read_msg(img, &pagemap_entry__descriptor, (ProtobufCMessage **)&pe) > 0) {
				if (!pe->in_parent)
					pages += pe->nr_pages;
				img_free_msg(&pe->base);
			}
		}
		img_close(img);
	}
	closedir(dd);
	img_dir_close(&d);
	cr_error_reset();
	return pages;
}

/* Every image of the round but the pages (which went to the receiver already). */
static int send_images(struct migration *m, const char *dir, const char *name, const char *parent)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int ret = 0;

	if (!d)
		return pr_perror("can't read %s", dir);
	while (!ret && (de = readdir(d))) {
		char path[4400], *buf;
		size_t len;
		if (de->d_type != DT_REG || !strncmp(de->d_name, "pages-", 6))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (!(buf = read_file(path, &len))) {
			ret = pr_perror("can't read %s", path);
			break;
		}
		ret = ps_file_open(&m->ctl, de->d_name) ?: ps_file_data(&m->ctl, len);
		if (!ret && len)
			ret = write_all(m->ctl.sk, buf, len) ? pr_perror("can't send %s to %s", path, m->o.to) : 0;
		if (!ret)
			ret = ps_file_close(&m->ctl);
		free(buf);
	}
	closedir(d);
	if (!ret && parent) {
		char target[PS_NAME_MAX + 4];
		snprintf(target, sizeof(target), "../%s", parent);
		ret = ps_simple(&m->ctl, PS_SYMLINK, "parent", target, strlen(target));
	}
	(void)name;
	return ret;
}


/* One round into work_dir/name and the receiver's name: the pages stream to the
 * receiver while the other images are written here, then follow. */
static int round_trip(struct migration *m, const char *name, const char *parent, bool final, double *frozen_at)
{
	char dir[4096], prev[4096], *reply = NULL;
	struct cr_dump_opts d = { .sz = sizeof(d), .pid = m->o.pid, .images_dir = dir, .page_server = m->pages_to,
				  .shell_job = m->o.shell_job, .stop_after = true,
				  .tcp_established = m->o.tcp_established };
	int ret, pages_ret;

	snprintf(dir, sizeof(dir), "%s/%s", m->o.work_dir, name);
	if (mkdir(dir, 0700) && errno != EEXIST)
		return pr_perror("can't make %s", dir);
	if (parent) {
		snprintf(prev, sizeof(prev), "%s/%s", m->o.work_dir, parent);
		d.prev_images_dir = prev;
	}
	if ((ret = ps_simple(&m->ctl, PS_DIR, name, NULL, 0)))
		return ret;
	if ((ret = ps_request(&m->ctl, PS_PAGES, NULL, NULL, 0, &reply)))
		goto out;
	free(reply);
	reply = NULL;
	if (final)
		*frozen_at = now_ms();
	ret = final ? dump_tree(&d, true) : cr_pre_dump(&d);
	m->held = final && !ret;
	/* The receiver's verdict on the page connection.  A dump that failed before it
	 * connected leaves the receiver waiting for one: a connection that says bye at
	 * once lets it go (over ssh: a bye on the one stream). */
	pages_ret = ps_read_reply(&m->ctl, ret ? 1000 : -1, &reply);
	if (pages_ret == -ETIMEDOUT) {
		struct page_server empty;
		if (!ps_connect(&empty, m->pages_to))
			ps_close(&empty);
		pages_ret = ps_read_reply(&m->ctl, 10000, &reply);
	}
	if (!ret && pages_ret)
		ret = (pr_err("the receiver %s could not store round %s: %s", m->o.to, name,
			      reply && *reply ? reply : "no reason given"), pages_ret < 0 ? pages_ret : -EIO);
out:
	free(reply);
	if (ret)
		return ret;
	return send_images(m, dir, name, parent);
}

static void signal_tree(struct migration *m, int sig)
{
	for (size_t i = 0; i < m->nr_pids; i++)
		kill(m->pids[i], sig);
}

CR_EXPORT int cr_migrate(const struct cr_migrate_opts *uopts)
{
	struct migration m = { .ctl = { .sk = -1 }, .ssh_err = -1 };
	char name[16], prev[16] = "", *reply = NULL, final_dir[4096];
	double t0 = now_ms(), frozen_at = 0;
	pid_t *pids = NULL;
	size_t nr = 0;
	int ret;

	cr_error_reset();
	if (!uopts || uopts->sz < offsetof(struct cr_migrate_opts, work_dir) + sizeof(char *))
		return pr_err("cr_migrate: bad options (set .sz = sizeof(struct cr_migrate_opts))"), -EINVAL;
	memcpy(&m.o, uopts, uopts->sz < sizeof(m.o) ? uopts->sz : sizeof(m.o));
	if (m.o.pid <= 0 || !m.o.to || !m.o.work_dir)
		return pr_err("migrate: a pid, a receiver (HOST:PORT) and a work directory are needed"), -EINVAL;
	if (m.o.rounds < 0 || m.o.rounds > 32)
		return pr_err("migrate: 0 to 32 pre-copy rounds"), -EINVAL;
	for (const char *const *p = m.o.ip_moves; p && *p; p++) {
		struct ip_addr a;
		if (!ip_addr_parse(*p, &a))
			return pr_err("migrate: --ip-moves %s: not an IP address", *p), -EINVAL;
	}
	if (kill(m.o.pid, 0))
		return pr_perror("can't migrate pid %d", m.o.pid);
	if ((ret = receiver_connect(&m)))
		goto out;
	say(&m, "connected to %s%s", m.o.to, m.o.ssh ? " (ssh)" : "");
	if ((ret = walk_tree(m.o.pid, &pids, &nr)))
		goto out;
	ret = validate(&m, pids, nr);
	free(pids);
	pids = NULL;
	if (ret < 0)
		goto out;
	if (ret > 0 && (m.o.dry_run || !m.o.force)) {
		ret = (pr_err("migrate: %d check%s failed (see above)%s", ret, ret > 1 ? "s" : "",
			      m.o.dry_run ? "" : "; --force goes on regardless"), -EINVAL);
		goto out;
	}
	if (m.o.dry_run) {
		say(&m, "dry run: every check passed, nothing was frozen");
		ret = 0;
		goto out;
	}
	if ((ret = run_hook(&m, "pre-dump", NULL)))
		goto out;
	/* pre-copy, while the written set shrinks */
	for (int r = 1; r <= m.o.rounds; r++) {
		double t = now_ms();
		snprintf(name, sizeof(name), "r%d", r);
		if ((ret = round_trip(&m, name, prev[0] ? prev : NULL, false, NULL)))
			goto out;
		snprintf(final_dir, sizeof(final_dir), "%s/%s", m.o.work_dir, name);
		m.round_pages[m.rounds_done++] = round_pages(final_dir);
		say(&m, "round %d: %llu pages (%llu MiB) in %.0f ms", r, (unsigned long long)m.round_pages[r - 1],
		    (unsigned long long)(m.round_pages[r - 1] * PAGE_SIZE >> 20), now_ms() - t);
		snprintf(prev, sizeof(prev), "%s", name);
		if (r > 1 && m.round_pages[r - 1] >= m.round_pages[r - 2])
			break;   /* no longer shrinking: the next round would not pay */
	}
	/* the final round: the tree stays stopped until the receiver has restored it */
	ret = round_trip(&m, "final", prev[0] ? prev : NULL, true, &frozen_at);
	if (!ret || kill(m.o.pid, 0) == 0)
		walk_tree(m.o.pid, &m.pids, &m.nr_pids);
	if (ret)
		goto resume;
	snprintf(final_dir, sizeof(final_dir), "%s/final", m.o.work_dir);
	say(&m, "final dump: %llu pages", (unsigned long long)round_pages(final_dir));
	/* the connections are dropped there, not reset, from before their address moves */
	if (m.o.tcp_established) {
		if ((ret = ps_request(&m.ctl, PS_LOCK, "final", NULL, 0, &reply))) {
			pr_err("%s could not lock the connections: %s", m.o.to, reply && *reply ? reply : cr_last_error());
			ret = ret < 0 ? ret : -EIO;
			goto resume;
		}
		say(&m, "%s holds the connections (%s)", m.o.to, reply);
		free(reply);
		reply = NULL;
	}
	if ((ret = run_hook(&m, "post-dump", final_dir)) || (ret = run_hook(&m, "pre-restore", final_dir)))
		goto resume;
	ret = ps_request(&m.ctl, PS_RESTORE, "final", m.o.lazy ? "lazy" : "", m.o.lazy ? 4 : 0, &reply);
	if (ret) {
		char why[512];
		/* the receiver's own reason, or what became of the connection to it */
		snprintf(why, sizeof(why), "%s", reply && *reply ? reply : cr_error_isset() ? cr_last_error()
												   : "no reason given");
		cr_error_reset();
		pr_err("the restore on %s failed: %s; the source runs on", m.o.to, why);
		ret = ret < 0 ? ret : -EIO;
		goto resume;
	}
	/* it runs there: the source goes (its connections silently) */
	signal_tree(&m, SIGKILL);
	dump_release_net(true);
	m.held = false;
	say(&m, "restored on %s (%s); frozen %.0f ms, total %.0f ms, %d pre-copy round%s", m.o.to, reply, now_ms() - frozen_at,
	    now_ms() - t0, m.rounds_done, m.rounds_done == 1 ? "" : "s");
	run_hook(&m, "post-restore", final_dir);
	cr_error_reset();
	ret = 0;
	goto out;
resume:
	{
		int err = ret;
		char saved[1024];
		ssh_diagnose(&m, err);
		snprintf(saved, sizeof(saved), "%s", cr_last_error());
		run_hook(&m, "failed-restore", final_dir);
		if (m.held)
			dump_release_net(false);
		m.held = false;
		signal_tree(&m, SIGCONT);
		cr_error_reset();
		pr_err("%s", saved);
		ret = err;
	}
out:
	if (ret && m.ssh > 0) {
		char saved[1024];
		snprintf(saved, sizeof(saved), "%s", cr_last_error());
		ssh_diagnose(&m, ret);
		if (!cr_error_isset())
			pr_err("%s", saved);
	}
	free(reply);
	free(m.pids);
	receiver_close(&m, ret != 0);
	return ret;
}

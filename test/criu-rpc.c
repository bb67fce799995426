/* test/criu-rpc.c: plays a container runtime's side of the RPC against crtool
 * run as `criu swrk FD` (what runc and podman do), for a plain process:
 *
 *   version    VERSION answers >= 3.16 and names libcr
 *   features   FEATURE_CHECK answers mem_track / lazy_pages as `crtool check` does
 *   check      CHECK succeeds
 *   dump       DUMP with notify_scripts: pre-dump, network-lock, post-dump are sent
 *              and acknowledged; the counter process is gone afterwards; the log
 *              file is in the work dir; status_fd gets its zero byte
 *   restore    RESTORE with rst_sibling: the notifications in order, the pid in
 *              post-restore and in the answer; the restored counter is *our* child
 *              (we reap it) and counts on from where it was
 *   predump    PRE_DUMP, then DUMP with parent_img (where the kernel tracks pages)
 *   extnet     a process in a network namespace the runtime made: dumped with the
 *              external net[INODE]:extRootNetNS, restored with inherit_fd extRootNetNS
 *              (the namespace's fd, as runc and podman pass it): back in that namespace
 *   refused    a notification the runtime refuses fails the dump, the process runs on
 *   unsupported an option libcr cannot honour (lsm_profile) and an unsupported
 *              request (PAGE_SERVER) get an error reply naming them
 *   errors     each malformed or refused request gets an error reply naming what
 *              (a missing pid, a bad fd, a log path, a foreign cgroup root, one
 *              with ".." out of its hierarchy, ...)
 *              and the engine goes on to exit cleanly
 *
 * usage: criu-rpc CRTOOL      (prints "N passed, N failed"; $CRIU_RPC_SAVE: see save_req)
 *        criu-rpc --counter FILE   (the process dumped: appends a count every 20 ms) */
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "criu-rpc.pb-c.h"

static int pass, fail;
static char work[64];
static const char *crtool;

#define PASS(name, ...) do { printf("PASS %s: ", name); printf(__VA_ARGS__); printf("\n"); pass++; } while (0)
#define FAIL(name, ...) do { printf("FAIL %s: ", name); printf(__VA_ARGS__); printf("\n"); fail++; } while (0)

static int counter_main(const char *file)
{
	volatile unsigned long n = 0;
	int fd = open(file, O_WRONLY | O_CREAT | O_APPEND, 0644);
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	char line[32];

	if (fd < 0)
		return 1;
	for (;;) {
		int len = snprintf(line, sizeof(line), "%lu\n", ++n);
		if (write(fd, line, len) != len)
			return 1;
		nanosleep(&ts, NULL);
	}
}

/* The last number the counter wrote. */
static unsigned long last_count(const char *file)
{
	char buf[64] = "";
	int fd = open(file, O_RDONLY);
	off_t end;
	ssize_t n;
	char *nl;

	if (fd < 0)
		return 0;
	end = lseek(fd, 0, SEEK_END);
	n = pread(fd, buf, sizeof(buf) - 1, end > 40 ? end - 40 : 0);
	close(fd);
	if (n <= 1)
		return 0;
	buf[n - 1] = 0;   /* the last newline */
	nl = strrchr(buf, '\n');
	return strtoul(nl ? nl + 1 : buf, NULL, 10);
}

static pid_t start_counter(const char *self, const char *file)
{
	pid_t pid = fork();

	if (pid == 0) {
		setsid();
		int nul = open("/dev/null", O_RDWR);
		dup2(nul, 0);
		dup2(nul, 1);
		dup2(nul, 2);
		execl(self, self, "--counter", file, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200 && last_count(file) < 3; i++)
		usleep(10000);
	return pid;
}

/* The engine, as runc starts it: `criu swrk 3`, our end of the socket pair kept. */
struct engine {
	int sk;
	pid_t pid;
};

static int engine_start(struct engine *e)
{
	int sv[2];
	char link[128];

	snprintf(link, sizeof(link), "%s/bin/criu", work);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return -1;
	e->pid = fork();
	if (e->pid == 0) {
		dup2(sv[1], 3);   /* dup2 clears close-on-exec */
		execl(link, "criu", "swrk", "3", (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	e->sk = sv[0];
	return e->pid > 0 ? 0 : -1;
}

/* Close our end, as runc does once answered, and collect the engine's status. */
static int engine_end(struct engine *e)
{
	int status;

	close(e->sk);
	while (waitpid(e->pid, &status, 0) < 0 && errno == EINTR)
		;
	return status;
}

/* $CRIU_RPC_SAVE=DIR: each request is also written to DIR/req-N (the seeds of
 * the rpc fuzz target, test/fuzz/seeds.sh). */
static void save_req(const uint8_t *buf, size_t len)
{
	static int n;
	const char *dir = getenv("CRIU_RPC_SAVE");
	char path[4096];
	FILE *f;

	if (!dir)
		return;
	snprintf(path, sizeof(path), "%s/req-%d-%d", dir, (int)getpid(), n++);
	if ((f = fopen(path, "w"))) {
		fwrite(buf, 1, len, f);
		fclose(f);
	}
}

static int send_req(int sk, RpcReq *r)
{
	size_t len = rpc_req__get_packed_size(r);
	uint8_t buf[len ? len : 1];

	rpc_req__pack(r, buf);
	save_req(buf, len);
	return send(sk, buf, len, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

static RpcResp *recv_resp(int sk)
{
	uint8_t buf[40960];
	ssize_t n = recv(sk, buf, sizeof(buf), 0);

	if (n <= 0 || n == (ssize_t)sizeof(buf))
		return NULL;
	return rpc_resp__unpack(NULL, n, buf);
}

/* One request: the final answer, after acknowledging every notification
 * (refusing the one named refuse); events get the scripts seen, "name:pid ...". */
static RpcResp *call(struct engine *e, RpcReq *req, const char *refuse, char *events, size_t len)
{
	RpcResp *r;

	if (events)
		events[0] = 0;
	if (send_req(e->sk, req))
		return NULL;
	/* a notification succeeds; a failed NOTIFY answers a stray acknowledgement */
	while ((r = recv_resp(e->sk)) && r->type == RPC_TYPE__RPC_NOTIFY && r->success) {
		RpcReq ack = RPC_REQ__INIT;
		if (events && r->notify)
			snprintf(events + strlen(events), len - strlen(events), "%s%s:%d", events[0] ? " " : "",
				 r->notify->script, r->notify->has_pid ? r->notify->pid : 0);
		ack.type = RPC_TYPE__RPC_NOTIFY;
		ack.has_notify_success = true;
		ack.notify_success = !(refuse && r->notify && !strcmp(r->notify->script, refuse));
		rpc_resp__free_unpacked(r, NULL);
		if (send_req(e->sk, &ack))
			return NULL;
	}
	return r;
}

static RpcResp *simple(RpcType t, RpcFeatures *f)
{
	struct engine e;
	RpcReq req = RPC_REQ__INIT;
	RpcResp *r;

	if (engine_start(&e))
		return NULL;
	req.type = t;
	req.features = f;
	r = call(&e, &req, NULL, NULL, 0);
	engine_end(&e);
	return r;
}

static void test_version(void)
{
	RpcResp *r = simple(RPC_TYPE__RPC_VERSION, NULL);

	if (!r || !r->success || !r->version)
		FAIL("version", "no version answer");
	else if (r->version->major_number * 100 + r->version->minor_number < 316 || !r->version->name ||
		 strcmp(r->version->name, "libcr"))
		FAIL("version", "%d.%d name %s", r->version->major_number, r->version->minor_number,
		     r->version->name ? r->version->name : "(none)");
	else
		PASS("version", "%d.%d, name %s, gitid %s", r->version->major_number, r->version->minor_number,
		     r->version->name, r->version->gitid ? r->version->gitid : "");
	if (r)
		rpc_resp__free_unpacked(r, NULL);
}

/* crtool check says OK for this feature? */
static bool probe(const char *name)
{
	char cmd[512], line[512];
	bool ok = false;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "%s check 2>/dev/null", crtool);
	if (!(f = popen(cmd, "r")))
		return false;
	while (fgets(line, sizeof(line), f)) {
		char state[16], feat[64];
		if (sscanf(line, " %15s %63s", state, feat) == 2 && !strcmp(feat, name))
			ok = !strcmp(state, "OK");
	}
	pclose(f);
	return ok;
}

static bool mem_track;

static void test_features(void)
{
	RpcFeatures want = RPC_FEATURES__INIT;
	bool dirty = probe("dirty-tracking"), uffd = probe("userfaultfd");
	RpcResp *r;

	want.has_mem_track = want.has_lazy_pages = true;
	want.mem_track = want.lazy_pages = true;
	r = simple(RPC_TYPE__RPC_FEATURE_CHECK, &want);
	if (!r || !r->success || !r->features || !r->features->has_mem_track || !r->features->has_lazy_pages)
		FAIL("features", "no features answer");
	else if (r->features->mem_track != dirty || r->features->lazy_pages != uffd)
		FAIL("features", "mem_track %d lazy_pages %d, crtool check: %d %d", r->features->mem_track,
		     r->features->lazy_pages, dirty, uffd);
	else
		PASS("features", "mem_track %d, lazy_pages %d (as crtool check probes)", dirty, uffd);
	mem_track = r && r->features && r->features->mem_track;
	if (r)
		rpc_resp__free_unpacked(r, NULL);
	r = simple(RPC_TYPE__RPC_CHECK, NULL);
	if (!r || !r->success)
		FAIL("check", "%s", r && r->cr_errmsg ? r->cr_errmsg : "no answer");
	else
		PASS("check", "success");
	if (r)
		rpc_resp__free_unpacked(r, NULL);
}

/* what runc adds for a container in a network namespace it made */
static char *dump_external;
/* the runtime's status fd (its own table): a zero byte once the dump is done */
static int status_fd = -1;
static RpcInheritFd *restore_inherit;

static int open_dir(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", work, name);
	mkdir(path, 0755);
	return open(path, O_RDONLY | O_DIRECTORY);
}

/* A DUMP (or PRE_DUMP) of pid into work/IMG, logs in work/wd. */
static RpcResp *dump(RpcType t, pid_t pid, const char *img, const char *parent, const char *refuse,
		     const char *lsm, char *events, size_t len)
{
	RpcReq req = RPC_REQ__INIT;
	RpcOpts o = RPC_OPTS__INIT;
	struct engine e;
	int dfd = open_dir(img), wfd = open_dir("wd");
	RpcResp *r = NULL;

	/* what runc sets for a container's dump */
	o.images_dir_fd = dfd;
	o.has_work_dir_fd = true;
	o.work_dir_fd = wfd;
	o.has_pid = true;
	o.pid = pid;
	o.has_log_level = true;
	o.log_level = 4;
	o.log_file = t == RPC_TYPE__RPC_DUMP ? "dump.log" : "pre-dump.log";
	o.has_notify_scripts = o.has_orphan_pts_master = o.has_file_locks = o.has_shell_job = true;
	o.notify_scripts = o.orphan_pts_master = true;
	o.has_leave_running = o.has_tcp_established = o.has_ext_unix_sk = true;
	o.parent_img = (char *)parent;
	o.has_track_mem = parent != NULL;
	o.track_mem = parent != NULL;
	o.lsm_profile = (char *)lsm;
	o.n_external = dump_external ? 1 : 0;
	o.external = &dump_external;
	o.has_status_fd = status_fd >= 0;
	o.status_fd = status_fd;
	req.type = t;
	req.opts = &o;
	if (dfd >= 0 && wfd >= 0 && !engine_start(&e)) {
		r = call(&e, &req, refuse, events, len);
		engine_end(&e);
	}
	close(dfd);
	close(wfd);
	return r;
}

static RpcResp *restore(const char *img, char *events, size_t len)
{
	RpcReq req = RPC_REQ__INIT;
	RpcOpts o = RPC_OPTS__INIT;
	struct engine e;
	int dfd = open_dir(img), wfd = open_dir("wd");
	RpcResp *r = NULL;

	/* what runc sets for a restore */
	o.images_dir_fd = dfd;
	o.has_work_dir_fd = true;
	o.work_dir_fd = wfd;
	o.has_log_level = true;
	o.log_level = 4;
	o.log_file = "restore.log";
	o.has_rst_sibling = o.has_notify_scripts = o.has_evasive_devices = o.has_orphan_pts_master = true;
	o.rst_sibling = o.notify_scripts = o.evasive_devices = o.orphan_pts_master = true;
	o.n_inherit_fd = restore_inherit ? 1 : 0;
	o.inherit_fd = &restore_inherit;
	req.type = RPC_TYPE__RPC_RESTORE;
	req.opts = &o;
	if (dfd >= 0 && wfd >= 0 && !engine_start(&e)) {
		r = call(&e, &req, NULL, events, len);
		engine_end(&e);
	}
	close(dfd);
	close(wfd);
	return r;
}

static bool gone(pid_t pid)
{
	int status;

	for (int i = 0; i < 300; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid || (kill(pid, 0) && errno == ESRCH))
			return true;
		usleep(10000);
	}
	return false;
}

static void test_dump_restore(const char *self, const char *img, const char *parent)
{
	char file[128], events[1024], want[512], name[32];
	unsigned long before, after;
	pid_t pid;
	RpcResp *r;

	snprintf(file, sizeof(file), "%s/count-%s", work, img);
	pid = start_counter(self, file);
	if (parent) {
		snprintf(name, sizeof(name), "predump");
		r = dump(RPC_TYPE__RPC_PRE_DUMP, pid, parent, NULL, NULL, NULL, events, sizeof(events));
		if (!r || !r->success || r->type != RPC_TYPE__RPC_PRE_DUMP) {
			FAIL(name, "pre-dump: %s", r && r->cr_errmsg ? r->cr_errmsg : "no answer");
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return;
		}
		rpc_resp__free_unpacked(r, NULL);
	} else {
		snprintf(name, sizeof(name), "dump");
	}
	int st[2] = { -1, -1 };
	char byte = 1;
	if (pipe2(st, O_NONBLOCK | O_CLOEXEC))
		st[0] = st[1] = -1;
	status_fd = st[1];
	r = dump(RPC_TYPE__RPC_DUMP, pid, img, parent ? "../predump-parent" : NULL, NULL, NULL, events, sizeof(events));
	status_fd = -1;
	bool status_ok = st[0] >= 0 && read(st[0], &byte, 1) == 1 && byte == 0;
	close(st[0]);
	close(st[1]);
	snprintf(want, sizeof(want), "pre-dump:%d network-lock:%d post-dump:%d", pid, pid, pid);
	if (!r || !r->success || r->type != RPC_TYPE__RPC_DUMP) {
		FAIL(name, "%s", r && r->cr_errmsg ? r->cr_errmsg : "no answer");
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		if (r)
			rpc_resp__free_unpacked(r, NULL);
		return;
	}
	rpc_resp__free_unpacked(r, NULL);
	char log[128];
	snprintf(log, sizeof(log), "%s/wd/dump.log", work);
	if (strcmp(events, want))
		FAIL(name, "notifications '%s', want '%s'", events, want);
	else if (!gone(pid))
		FAIL(name, "the dumped process %d still runs", pid);
	else if (access(log, F_OK))
		FAIL(name, "no dump.log in the work dir");
	else if (!status_ok)
		FAIL(name, "no zero byte on the status fd");
	else
		PASS(name, "notified and acknowledged: %s; the process is gone; dump.log in the work dir; "
		     "the status fd got its byte", events);
	before = last_count(file);
	r = restore(img, events, sizeof(events));
	snprintf(name, sizeof(name), parent ? "predump-restore" : "restore");
	if (!r || !r->success || !r->restore) {
		FAIL(name, "%s", r && r->cr_errmsg ? r->cr_errmsg : "no answer");
		if (r)
			rpc_resp__free_unpacked(r, NULL);
		return;
	}
	pid_t got = r->restore->pid;
	rpc_resp__free_unpacked(r, NULL);
	snprintf(want, sizeof(want), "pre-restore:0 network-lock:0 setup-namespaces:%d post-setup-namespaces:%d "
		 "network-unlock:%d post-restore:%d pre-resume:%d post-resume:%d", pid, pid, pid, pid, pid, pid);
	usleep(300 * 1000);
	after = last_count(file);
	int status;
	pid_t w = waitpid(got, &status, WNOHANG);
	if (got != pid)
		FAIL(name, "restored pid %d, dumped %d", got, pid);
	else if (strcmp(events, want))
		FAIL(name, "notifications '%s', want '%s'", events, want);
	else if (w != 0)
		FAIL(name, "the restored process is not our running child (waitpid: %d, %s)", w,
		     w < 0 ? strerror(errno) : "exited");
	else if (after <= before)
		FAIL(name, "the counter stopped at %lu", before);
	else
		PASS(name, "rst_sibling: pid %d is our child, counting %lu -> %lu; notified: %s", got, before, after,
		     events);
	kill(got, SIGKILL);
	waitpid(got, NULL, 0);
}

static ino_t netns_of(pid_t pid)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	return stat(path, &st) ? 0 : st.st_ino;
}

static void test_extnet(const char *self)
{
	char file[128], ext[64], events[1024];
	RpcInheritFd ifd = RPC_INHERIT_FD__INIT;
	unsigned long before, after;
	ino_t ino;
	int nsfd = -1;
	pid_t pid;
	RpcResp *r;

	snprintf(file, sizeof(file), "%s/count-extnet", work);
	pid = fork();
	if (pid == 0) {
		int nul = open("/dev/null", O_RDWR);
		if (unshare(CLONE_NEWNET))
			_exit(126);
		setsid();
		dup2(nul, 0);
		dup2(nul, 1);
		dup2(nul, 2);
		execl(self, self, "--counter", file, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200 && last_count(file) < 3; i++)
		usleep(10000);
	ino = netns_of(pid);
	if (ino == netns_of(getpid())) {
		FAIL("extnet", "the process is not in a namespace of its own");
		goto out;
	}
	/* the runtime's handle on the namespace: inherited by the engine at this number */
	snprintf(ext, sizeof(ext), "/proc/%d/ns/net", pid);
	nsfd = open(ext, O_RDONLY);
	if (nsfd >= 0 && nsfd < 20) {   /* above the engine's socket (fd 3) */
		int high = fcntl(nsfd, F_DUPFD, 20);
		close(nsfd);
		nsfd = high;
	}
	snprintf(ext, sizeof(ext), "net[%lu]:extRootNetNS", (unsigned long)ino);
	dump_external = ext;
	r = dump(RPC_TYPE__RPC_DUMP, pid, "img-extnet", NULL, NULL, NULL, events, sizeof(events));
	dump_external = NULL;
	if (!r || !r->success || !gone(pid)) {
		FAIL("extnet", "dump: %s", r && r->cr_errmsg ? r->cr_errmsg : r ? "the process still runs" : "no answer");
		if (r)
			rpc_resp__free_unpacked(r, NULL);
		goto out;
	}
	rpc_resp__free_unpacked(r, NULL);
	before = last_count(file);
	ifd.key = "extRootNetNS";
	ifd.fd = nsfd;
	restore_inherit = &ifd;
	r = restore("img-extnet", events, sizeof(events));
	restore_inherit = NULL;
	if (!r || !r->success || !r->restore) {
		FAIL("extnet", "restore: %s", r && r->cr_errmsg ? r->cr_errmsg : "no answer");
		if (r)
			rpc_resp__free_unpacked(r, NULL);
		goto out;
	}
	rpc_resp__free_unpacked(r, NULL);
	usleep(300 * 1000);
	after = last_count(file);
	if (netns_of(pid) != ino)
		FAIL("extnet", "restored in namespace %lu, not the runtime's %lu", (unsigned long)netns_of(pid),
		     (unsigned long)ino);
	else if (after <= before)
		FAIL("extnet", "the counter stopped at %lu", before);
	else
		PASS("extnet", "restored into the runtime's namespace %lu (inherit_fd extRootNetNS), counting %lu -> %lu",
		     (unsigned long)ino, before, after);
out:
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	if (nsfd >= 0)
		close(nsfd);
}

static void test_refused(const char *self)
{
	char file[128], events[512];
	pid_t pid;
	RpcResp *r;

	snprintf(file, sizeof(file), "%s/count-refused", work);
	pid = start_counter(self, file);
	r = dump(RPC_TYPE__RPC_DUMP, pid, "img-refused", NULL, "post-dump", NULL, events, sizeof(events));
	unsigned long a = last_count(file);
	usleep(200 * 1000);
	if (!r || r->success)
		FAIL("refused", "the dump succeeded though post-dump was refused");
	else if (!r->cr_errmsg || !strstr(r->cr_errmsg, "post-dump"))
		FAIL("refused", "message '%s' does not name post-dump", r->cr_errmsg ? r->cr_errmsg : "");
	else if (waitpid(pid, NULL, WNOHANG) != 0 || last_count(file) <= a)
		FAIL("refused", "the process does not run on");
	else
		PASS("refused", "%s; the process runs on", r->cr_errmsg);
	if (r)
		rpc_resp__free_unpacked(r, NULL);
	r = dump(RPC_TYPE__RPC_DUMP, pid, "img-refused", NULL, NULL, "apparmor:x", events, sizeof(events));
	if (!r || r->success || !r->cr_errmsg || !strstr(r->cr_errmsg, "lsm_profile") || events[0])
		FAIL("unsupported", "lsm_profile: %s", r && r->cr_errmsg ? r->cr_errmsg : "accepted");
	else
		PASS("unsupported", "%s", r->cr_errmsg);
	if (r)
		rpc_resp__free_unpacked(r, NULL);
	r = simple(RPC_TYPE__RPC_PAGE_SERVER, NULL);
	if (!r || r->success || !r->cr_errmsg || !strstr(r->cr_errmsg, "PAGE_SERVER"))
		FAIL("unsupported", "PAGE_SERVER: %s", r && r->cr_errmsg ? r->cr_errmsg : "accepted");
	else
		PASS("unsupported", "%s", r->cr_errmsg);
	if (r)
		rpc_resp__free_unpacked(r, NULL);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* One bad request each: the reply fails and its cr_errmsg names the problem. */
static void test_errors(void)
{
	static const struct { const char *what, *want; } cases[] = {
		{ "no pid", "pid is required" },
		{ "bad images_dir_fd", "images_dir_fd 999" },
		{ "log_file with a path", "a file name in the work directory" },
		{ "foreign cg_root", "cgroup root cpu:/libcr-not-ours" },
		{ "malformed external", "want TYPE[KEY]" },
		{ "empty_ns beyond net", "empty_ns" },
		{ "props cgroup mode", "manage_cgroups_mode" },
		{ "parent_img on restore", "parent_img belongs to a dump" },
		{ "inherit_fd the engine lacks", "the engine has no fd 77" },
		{ "rst_sibling on a dump", "belong to a restore" },
		{ "no options", "without options" },
		{ "stray notify ack", "no notification is pending" },
		{ "cg_root out of its hierarchy", "cgroup root :/../../tmp: want an absolute path" },
	};
	int dfd = open_dir("img-errors");

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		RpcReq req = RPC_REQ__INIT;
		RpcOpts o = RPC_OPTS__INIT;
		RpcCgroupRoot cg = RPC_CGROUP_ROOT__INIT;
		RpcInheritFd ifd = RPC_INHERIT_FD__INIT;
		RpcCgroupRoot *cgs[1] = { &cg };
		RpcInheritFd *ifds[1] = { &ifd };
		char *ext[1] = { "mnt/nobrackets:x" };
		struct engine e;
		RpcResp *r = NULL;
		int status;

		req.type = RPC_TYPE__RPC_DUMP;
		req.opts = &o;
		o.images_dir_fd = dfd;
		o.has_pid = true;
		o.pid = getpid();
		switch (i) {
		case 0: o.has_pid = false; break;
		case 1: o.images_dir_fd = 999; break;
		case 2: o.log_file = "../x.log"; break;
		case 3:
			req.type = RPC_TYPE__RPC_RESTORE;
			cg.ctrl = "cpu";
			cg.path = "/libcr-not-ours";
			o.n_cg_root = 1;
			o.cg_root = cgs;
			break;
		case 4: o.n_external = 1; o.external = ext; break;
		case 5: o.has_empty_ns = true; o.empty_ns = 0x20000000 /* CLONE_NEWPID */ | 0x40000000 /* CLONE_NEWNET */; break;
		case 6: o.has_manage_cgroups_mode = true; o.manage_cgroups_mode = RPC_CG_MODE__RPC_CG_PROPS; break;
		case 7: req.type = RPC_TYPE__RPC_RESTORE; o.parent_img = "../x"; break;
		case 8:
			req.type = RPC_TYPE__RPC_RESTORE;
			ifd.key = "pipe:[1]";
			ifd.fd = 77;
			o.n_inherit_fd = 1;
			o.inherit_fd = ifds;
			break;
		case 9: o.has_rst_sibling = o.rst_sibling = true; break;
		case 10: req.opts = NULL; break;
		case 11: req.type = RPC_TYPE__RPC_NOTIFY; req.opts = NULL; break;
		case 12:
			req.type = RPC_TYPE__RPC_RESTORE;
			cg.ctrl = "";
			cg.path = "/../../tmp";
			o.n_cg_root = 1;
			o.cg_root = cgs;
			break;
		}
		if (!engine_start(&e)) {
			r = call(&e, &req, NULL, NULL, 0);
			status = engine_end(&e);
		} else {
			status = -1;
		}
		if (!r || r->success || !r->cr_errmsg || !strstr(r->cr_errmsg, cases[i].want))
			FAIL("errors", "%s: %s", cases[i].what, r ? (r->cr_errmsg ? r->cr_errmsg : "no message") : "no reply");
		else if (!WIFEXITED(status) || WEXITSTATUS(status))
			FAIL("errors", "%s: the engine did not exit cleanly (status 0x%x)", cases[i].what, status);
		else
			PASS("errors", "%s: %s", cases[i].what, r->cr_errmsg);
		if (r)
			rpc_resp__free_unpacked(r, NULL);
	}
	close(dfd);
}

int main(int argc, char **argv)
{
	char self[4096], link[128];
	ssize_t n;

	if (argc == 3 && !strcmp(argv[1], "--counter"))
		return counter_main(argv[2]);
	if (argc != 2) {
		fprintf(stderr, "usage: criu-rpc CRTOOL\n");
		return 2;
	}
	crtool = argv[1];
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return 2;
	self[n] = 0;
	snprintf(work, sizeof(work), "/tmp/libcr-rpc-XXXXXX");
	if (!mkdtemp(work))
		return 2;
	/* the runtime finds the engine as `criu` (runc --criu PATH, or PATH) */
	snprintf(link, sizeof(link), "%s/bin", work);
	mkdir(link, 0755);
	snprintf(link, sizeof(link), "%s/bin/criu", work);
	if (symlink(crtool, link))
		return 2;
	signal(SIGPIPE, SIG_IGN);
	test_version();
	test_features();
	test_dump_restore(self, "img", NULL);
	if (mem_track)
		test_dump_restore(self, "img-layered", "predump-parent");
	else
		printf("(no dirty-page tracking: the predump case is skipped)\n");
	test_extnet(self);
	test_refused(self);
	test_errors();
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", work);
	if (!fail && system(cmd))
		fprintf(stderr, "can't remove %s\n", work);
	printf("%d passed, %d failed\n", pass, fail);
	return fail ? 1 : 0;
}

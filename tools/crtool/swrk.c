/* criu swrk FD: the RPC container runtimes speak with their checkpoint engine.
 * One protobuf message per packet on an inherited SOCK_SEQPACKET socket; each
 * request gets one response, and during a dump or restore the engine sends
 * NOTIFY messages the runtime must acknowledge before it goes on.  Served until
 * the runtime closes its end. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include "criu-compat.h"
#include "crtool.h"

/* runc reads a response into 40 KiB and refuses one that fills it */
#define MAX_RESP 40000

struct swrk {
	int sk;
	pid_t peer;             /* the runtime: its fds are reached through /proc */
	bool notify;            /* the runtime asked for notifications */
	bool notify_failed;     /* it refused one (or went away) */
};

static int send_resp(struct swrk *s, RpcResp *r)
{
	size_t len = rpc_resp__get_packed_size(r);
	uint8_t *buf;
	ssize_t n;

	if (len >= MAX_RESP && r->cr_errmsg && strlen(r->cr_errmsg) > 1000)
		r->cr_errmsg[1000] = 0;   /* an overlong message: cut it rather than lose the reply */
	len = rpc_resp__get_packed_size(r);
	if (!(buf = malloc(len ? len : 1)))
		return -1;
	rpc_resp__pack(r, buf);
	n = send(s->sk, buf, len, MSG_NOSIGNAL);
	free(buf);
	return n == (ssize_t)len ? 0 : -1;
}

/* The next request; NULL at the end of the conversation (or a broken one). */
static RpcReq *recv_req(struct swrk *s, bool *eof)
{
	uint8_t *buf;
	ssize_t n;
	RpcReq *req;

	*eof = false;
	/* the packet's size, without taking it */
	n = recv(s->sk, NULL, 0, MSG_PEEK | MSG_TRUNC);
	if (n <= 0) {
		*eof = n == 0;
		return NULL;
	}
	if (!(buf = malloc(n)))
		return NULL;
	n = recv(s->sk, buf, n, 0);
	req = n > 0 ? rpc_req__unpack(NULL, n, buf) : NULL;
	free(buf);
	if (!req)
		fprintf(stderr, "Error: swrk: a request that does not decode (%zd bytes)\n", n);
	return req;
}

static int reply_error(struct swrk *s, RpcType t, int err, const char *msg)
{
	RpcResp r = RPC_RESP__INIT;

	r.type = t;
	r.success = false;
	r.has_cr_errno = true;
	r.cr_errno = err > 0 ? err : EINVAL;
	r.cr_errmsg = strdup(msg ? msg : "failed");
	/* also on stderr: runc passes ours to its caller on a restore */
	fprintf(stderr, "Error: %s\n", r.cr_errmsg ? r.cr_errmsg : msg);
	int ret = send_resp(s, &r);
	free(r.cr_errmsg);
	return ret;
}

/* libcr's notify callback: tell the runtime, wait for its acknowledgement. */
static int notify_runtime(void *arg, const char *event, pid_t pid)
{
	struct swrk *s = arg;
	RpcResp r = RPC_RESP__INIT;
	RpcNotify n = RPC_NOTIFY__INIT;
	RpcReq *ack;
	bool eof, ok;

	if (!s->notify)
		return 0;
	n.script = (char *)event;
	n.has_pid = pid > 0;
	n.pid = pid;
	r.type = RPC_TYPE__RPC_NOTIFY;
	r.success = true;
	r.notify = &n;
	if (send_resp(s, &r)) {
		fprintf(stderr, "Error: swrk: can't send the %s notification: %s\n", event, strerror(errno));
		s->notify_failed = true;
		return -1;
	}
	ack = recv_req(s, &eof);
	ok = ack && ack->type == RPC_TYPE__RPC_NOTIFY && ack->has_notify_success && ack->notify_success;
	if (!ok) {
		fprintf(stderr, "Error: swrk: the runtime did not acknowledge the %s notification\n", event);
		s->notify_failed = true;
	}
	if (ack)
		rpc_req__free_unpacked(ack, NULL);
	return ok ? 0 : -1;
}

/* libcr's pts_master callback: the "orphan-pts-master" notification carries the
 * new master (SCM_RIGHTS); the runtime passes it on (runc: to its console
 * socket) and acknowledges.  Sent whether or not other notifications were asked. */
static int pts_master_to_runtime(void *arg, int master_fd, unsigned index)
{
	struct swrk *s = arg;
	RpcResp r = RPC_RESP__INIT;
	RpcNotify n = RPC_NOTIFY__INIT;
	RpcReq *ack;
	uint8_t *buf;
	size_t len;
	bool eof, ok;

	n.script = "orphan-pts-master";
	r.type = RPC_TYPE__RPC_NOTIFY;
	r.success = true;
	r.notify = &n;
	len = rpc_resp__get_packed_size(&r);
	if (!(buf = malloc(len)))
		return -1;
	rpc_resp__pack(&r, buf);
	ok = crtool_send_fd(s->sk, buf, len, master_fd, MSG_NOSIGNAL) == (ssize_t)len;
	free(buf);
	if (!ok) {
		fprintf(stderr, "Error: swrk: can't send the master of pty %u: %s\n", index, strerror(errno));
		s->notify_failed = true;
		return -1;
	}
	ack = recv_req(s, &eof);
	ok = ack && ack->type == RPC_TYPE__RPC_NOTIFY && ack->has_notify_success && ack->notify_success;
	if (!ok) {
		fprintf(stderr, "Error: swrk: the runtime did not take the master of pty %u (orphan-pts-master)\n", index);
		s->notify_failed = true;
	}
	if (ack)
		rpc_req__free_unpacked(ack, NULL);
	return ok ? 0 : -1;
}

static int do_version(struct swrk *s)
{
	RpcResp r = RPC_RESP__INIT;
	RpcVersion v = RPC_VERSION__INIT;
	char gitid[64];

	snprintf(gitid, sizeof(gitid), "libcr-%s", cr_version());
	v.major_number = COMPAT_MAJOR;
	v.minor_number = COMPAT_MINOR;
	v.gitid = gitid;
	v.name = "libcr";
	r.type = RPC_TYPE__RPC_VERSION;
	r.success = true;
	r.version = &v;
	return send_resp(s, &r);
}

static bool feature_ok(const char *name)
{
	const struct cr_feature *f;
	int n = cr_check(&f);

	for (int i = 0; i < n; i++)
		if (!strcmp(f[i].name, name))
			return f[i].ok;
	return false;
}

/* What the runtime asks about, answered from libcr's kernel probe. */
static int do_features(struct swrk *s, const RpcReq *req)
{
	RpcResp r = RPC_RESP__INIT;
	RpcFeatures f = RPC_FEATURES__INIT;
	const RpcFeatures *want = req->features;

	r.type = RPC_TYPE__RPC_FEATURE_CHECK;
	r.success = true;
	r.features = &f;
	/* memory tracking: PAGEMAP_SCAN with write-protect dirty tracking; lazy pages: userfaultfd */
	f.has_mem_track = !want || want->has_mem_track;
	f.mem_track = f.has_mem_track && feature_ok("dirty-tracking");
	f.has_lazy_pages = !want || want->has_lazy_pages;
	f.lazy_pages = f.has_lazy_pages && feature_ok("userfaultfd");
	f.has_pidfd_store = !want || want->has_pidfd_store;
	f.pidfd_store = false;
	return send_resp(s, &r);
}

static int do_check(struct swrk *s)
{
	static const char *const required[] = { "ptrace-seize", "clone3-set-tid", "prctl-mm-map", "memfd", "vmsplice" };
	RpcResp r = RPC_RESP__INIT;

	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (!feature_ok(required[i])) {
			char msg[128];
			snprintf(msg, sizeof(msg), "the kernel lacks %s (crtool check names every feature)", required[i]);
			return reply_error(s, RPC_TYPE__RPC_CHECK, EOPNOTSUPP, msg);
		}
	r.type = RPC_TYPE__RPC_CHECK;
	r.success = true;
	return send_resp(s, &r);
}

/* The runtime's status fd: one zero byte once the work is done (as a page
 * server or lazy restore tells it is ready). */
static void status_ready(struct rpc_mapped *m)
{
	if (m->status_fd >= 0 && write(m->status_fd, "", 1) != 1)
		fprintf(stderr, "Warning: swrk: can't write to the status fd: %s\n", strerror(errno));
}

/* The error line of a failed operation: the runtime shows cr_errmsg (runc shows
 * the log file, so it goes there too). */
static int op_failed(struct swrk *s, RpcType t, int ret)
{
	const char *msg = cr_last_error();

	if (s->notify_failed && (!msg || !msg[0]))
		msg = "the runtime refused a notification";
	crtool_log_line("Error: %s", msg && msg[0] ? msg : strerror(-ret));
	return reply_error(s, t, -ret, msg && msg[0] ? msg : strerror(-ret));
}

/* A dump's or restore's options mapped and its log opened: 0, or 1 with the
 * error reply already sent (*rc: how sending it went). */
static int begin_op(struct swrk *s, const RpcReq *req, RpcType t, const char *what, struct rpc_mapped *m, int *rc)
{
	char msg[1024];

	if (!req->opts) {
		snprintf(msg, sizeof(msg), "a %s request without options", what);
		return *rc = reply_error(s, t, EINVAL, msg), 1;
	}
	if (rpc_opts_map(req->opts, t, s->peer, m, msg, sizeof(msg))) {
		*rc = reply_error(s, t, EINVAL, msg);
		rpc_opts_free(m);
		return 1;
	}
	if (crtool_log_setup(m->verbosity, m->log_path)) {
		snprintf(msg, sizeof(msg), "can't open the log file %s", req->opts->log_file);
		*rc = reply_error(s, t, EIO, msg);
		rpc_opts_free(m);
		return 1;
	}
	s->notify = m->notify;
	s->notify_failed = false;
	return 0;
}

static int do_dump(struct swrk *s, const RpcReq *req, bool pre)
{
	RpcType t = pre ? RPC_TYPE__RPC_PRE_DUMP : RPC_TYPE__RPC_DUMP;
	RpcResp r = RPC_RESP__INIT;
	RpcDumpResp d = RPC_DUMP_RESP__INIT;
	struct rpc_mapped m;
	int ret;

	if (begin_op(s, req, t, "dump", &m, &ret))
		return ret;
	m.dump.notify = notify_runtime;
	m.dump.notify_arg = s;
	ret = pre ? cr_pre_dump(&m.dump) : cr_dump(&m.dump);
	if (ret < 0) {
		ret = op_failed(s, t, ret);
	} else {
		status_ready(&m);
		r.type = t;
		r.success = true;
		r.dump = &d;
		d.has_restored = true;
		d.restored = false;
		ret = send_resp(s, &r);
	}
	rpc_opts_free(&m);
	return ret;
}

static int do_restore(struct swrk *s, const RpcReq *req)
{
	RpcType t = RPC_TYPE__RPC_RESTORE;
	RpcResp r = RPC_RESP__INIT;
	RpcRestoreResp rr = RPC_RESTORE_RESP__INIT;
	struct rpc_mapped m;
	int ret;

	if (begin_op(s, req, t, "restore", &m, &ret))
		return ret;
	m.restore.notify = notify_runtime;
	m.restore.notify_arg = s;
	if (m.orphan_pts_master) {
		m.restore.pts_master = pts_master_to_runtime;
		m.restore.pts_master_arg = s;
	}
	ret = cr_restore(&m.restore);
	if (ret < 0) {
		ret = op_failed(s, t, ret);
	} else {
		status_ready(&m);
		r.type = t;
		r.success = true;
		r.restore = &rr;
		rr.pid = ret;
		ret = send_resp(s, &r);
	}
	rpc_opts_free(&m);
	return ret;
}

static int serve_one(struct swrk *s, const RpcReq *req)
{
	char msg[128];

	switch (req->type) {
	case RPC_TYPE__RPC_VERSION: return do_version(s);
	case RPC_TYPE__RPC_FEATURE_CHECK: return do_features(s, req);
	case RPC_TYPE__RPC_CHECK: return do_check(s);
	case RPC_TYPE__RPC_DUMP: return do_dump(s, req, false);
	case RPC_TYPE__RPC_PRE_DUMP:
	case RPC_TYPE__RPC_SINGLE_PRE_DUMP: return do_dump(s, req, true);
	case RPC_TYPE__RPC_RESTORE: return do_restore(s, req);
	case RPC_TYPE__RPC_NOTIFY:
		return reply_error(s, req->type, EINVAL, "a notify acknowledgement when no notification is pending");
	default:
		/* the enum's names carry our RPC_ prefix: the runtime knows them without */
		const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(&rpc_type__descriptor, req->type);
		snprintf(msg, sizeof(msg), "request type %d (%s) is not supported by libcr's compatibility mode",
			 req->type, v ? v->name + 4 : "unknown");
		return reply_error(s, req->type, EOPNOTSUPP, msg);
	}
}

int criu_swrk(int argc, char **argv)
{
	struct swrk s = { .sk = -1 };
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int type = 0;
	socklen_t tlen = sizeof(type);
	char *end;

	if (argc != 2 || (s.sk = strtol(argv[1], &end, 10), *end) || s.sk < 0)
		return crtool_fail("swrk: usage: criu swrk FD (FD: an inherited SOCK_SEQPACKET socket)");
	if (getsockopt(s.sk, SOL_SOCKET, SO_TYPE, &type, &tlen) || type != SOCK_SEQPACKET)
		return crtool_fail("swrk: fd %d is not a SOCK_SEQPACKET socket", s.sk);
	if (getsockopt(s.sk, SOL_SOCKET, SO_PEERCRED, &cred, &len) || cred.pid <= 0)
		return crtool_fail("swrk: can't tell the peer of fd %d (SO_PEERCRED): %s", s.sk, strerror(errno));
	s.peer = cred.pid;
	for (;;) {
		bool eof;
		RpcReq *req = recv_req(&s, &eof);
		int ret;

		if (!req)
			return eof ? 0 : 1;
		ret = serve_one(&s, req);
		rpc_req__free_unpacked(req, NULL);
		if (ret)
			return crtool_fail("swrk: can't answer the runtime: %s", strerror(errno));
	}
}

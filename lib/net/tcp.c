/* Established TCP connections, through TCP_REPAIR: the dump puts the socket
 * (the target's own, reached with pidfd_getfd) in repair mode and reads its
 * sequence numbers, both queues (the send queue with what is sent but not
 * acknowledged), the negotiated options and the window; restore builds a new
 * socket into the same connection without a packet on the wire (connect in
 * repair mode sends no SYN), refills it and lets it go. */
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <linux/sockios.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include "files/files.h"
#include "log.h"
#include "proc/privs.h"
#include "net/inet.h"
#include "ns/nested.h"
#include "ns/net.h"
#include "proc/tree.h"
#include "util.h"

#define TCP_MIN_MSS 88   /* the kernel's smallest TCP_MAXSEG */

/* Sockets of the dumped tree in repair mode: our copies, until the dump ends.
 * Plain ints: a signal handler may walk them (tcp_dump_abort). */
static int *held;
static volatile int nr_held;
static int cap_held;

/* Connections locked because no process holds them: in flight (SCM_RIGHTS) on a
 * unix socket's queue, maybe the tree's (read only when the tree's are dumped);
 * found: it was (the others leave the lock when it stays after the dump). */
static struct flying_conn {
	struct inet_diag_sk s;
	uint32_t ns_id;           /* its network namespace (0: the root's) */
	bool found;
} *flying;
static size_t nr_flying;
static bool established;   /* --tcp-established */
static bool nested_conns;  /* a connection of a nested network namespace is locked */

static int repair(int sk, int on)
{
	return setsockopt(sk, IPPROTO_TCP, TCP_REPAIR, &on, sizeof(on)) ? -errno : 0;
}

static int hold(int sk)
{
	if (nr_held == cap_held) {
		int *n = realloc(held, (cap_held = cap_held ? cap_held * 2 : 64) * sizeof(*held));
		if (!n)
			return -ENOMEM;
		held = n;
	}
	if ((held[nr_held] = dup(sk)) < 0)
		return -errno;
	nr_held++;
	return 0;
}

void tcp_dump_finish(bool keep_repair)
{
	/* the lock stays for the tree's connections only */
	for (size_t i = 0; keep_repair && i < nr_flying; i++)
		if (!flying[i].found)
			netlock_release(flying[i].ns_id, flying[i].s.family, flying[i].s.src, flying[i].s.sport,
					flying[i].s.dst, flying[i].s.dport);
	free(flying);
	flying = NULL;
	nr_flying = 0;
	for (int i = 0; i < nr_held; i++) {
		if (!keep_repair)
			repair(held[i], 0);
		close(held[i]);
	}
	nr_held = 0;
}

void tcp_dump_abort(void)
{
	for (int i = 0; i < nr_held; i++)
		repair(held[i], 0);
}

/* Read one queue (MSG_PEEK works on both queues in repair mode) and its sequence. */
static int read_queue(int sk, int q, int ioc, uint32_t *seq, ProtobufCBinaryData *data, const char *who)
{
	int len = 0;
	socklen_t l = sizeof(*seq);
	ssize_t n;

	if (setsockopt(sk, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q)) ||
	    getsockopt(sk, IPPROTO_TCP, TCP_QUEUE_SEQ, seq, &l) || ioctl(sk, ioc, &len))
		return pr_perror("%s: can't read the %s queue in repair mode", who, q == TCP_RECV_QUEUE ? "receive" : "send");
	data->len = 0;
	if (!(data->data = malloc(len + 1)))
		return -ENOMEM;
	if (len && (n = recv(sk, data->data, len + 1, MSG_PEEK | MSG_DONTWAIT)) < 0)
		return pr_perror("%s: can't read the %d bytes of its %s queue", who, len,
				 q == TCP_RECV_QUEUE ? "receive" : "send");
	else if (len)
		data->len = n;
	/* all of it in one peek (the send queue's count may include our FIN) */
	if (len && (n > len || n < len - (q == TCP_SEND_QUEUE)))
		return pr_err("%s: read %zd of the %d bytes in its %s queue", who, n, len,
			      q == TCP_RECV_QUEUE ? "receive" : "send"), -EIO;
	return 0;
}

int tcp_dump_stream(int sk, const struct inet_diag_sk *d, InetSkEntry *e, pid_t pid, int fd)
{
	TcpStreamEntry *t = malloc(sizeof(*t));
	struct tcp_repair_window w;
	struct tcp_info ti;
	socklen_t l;
	int unsent = 0, ret, q = TCP_NO_QUEUE;
	char who[64];
	const char *lock = netlock_name();

	snprintf(who, sizeof(who), "pid %d fd %d", pid, fd);
	if (!t)
		return -ENOMEM;
	tcp_stream_entry__init(t);
	e->tcp = t;
	if (!lock)
		return pr_err("%s: TCP connection not locked (internal error)", who), -EINVAL;
	if ((ret = repair(sk, 1)))
		return pr_err("%s: can't put the connection in repair mode (TCP_REPAIR): %s", who, strerror(-ret)), ret;
	if ((ret = hold(sk))) {
		repair(sk, 0);
		return ret;
	}
	if (!(t->netlock = strdup(lock)))
		return -ENOMEM;
	t->fin_sent = d->state == INET_TCP_FIN_WAIT1 || d->state == INET_TCP_FIN_WAIT2 ||
		      d->state == INET_TCP_CLOSING || d->state == INET_TCP_LAST_ACK;
	t->fin_received = d->state == INET_TCP_CLOSE_WAIT || d->state == INET_TCP_LAST_ACK ||
			  d->state == INET_TCP_CLOSING;
	if ((ret = read_queue(sk, TCP_RECV_QUEUE, SIOCINQ, &t->inq_seq, &t->inq, who)) ||
	    (ret = read_queue(sk, TCP_SEND_QUEUE, SIOCOUTQ, &t->outq_seq, &t->outq, who)))
		return ret;
	setsockopt(sk, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q));
	if (ioctl(sk, SIOCOUTQNSD, &unsent))
		return pr_perror("%s: SIOCOUTQNSD", who);
	/* SIOCOUTQNSD counts a queued FIN that is not out yet (it is always last) */
	if (t->fin_sent && unsent > 0)
		unsent--;
	t->unsent = unsent > (int)t->outq.len ? t->outq.len : (uint32_t)unsent;
	l = sizeof(ti);
	memset(&ti, 0, sizeof(ti));
	if (getsockopt(sk, IPPROTO_TCP, TCP_INFO, &ti, &l))
		return pr_perror("%s: TCP_INFO", who);
	t->opts = ti.tcpi_options;
	t->snd_wscale = ti.tcpi_snd_wscale;
	t->rcv_wscale = ti.tcpi_rcv_wscale;
	l = sizeof(t->mss);
	if (getsockopt(sk, IPPROTO_TCP, TCP_MAXSEG, &t->mss, &l))
		return pr_perror("%s: TCP_MAXSEG", who);
	l = sizeof(t->timestamp);
	if (getsockopt(sk, IPPROTO_TCP, TCP_TIMESTAMP, &t->timestamp, &l))
		return pr_perror("%s: TCP_TIMESTAMP", who);
	l = sizeof(w);
	if (getsockopt(sk, IPPROTO_TCP, TCP_REPAIR_WINDOW, &w, &l))
		return pr_perror("%s: TCP_REPAIR_WINDOW", who);
	t->snd_wl1 = w.snd_wl1;
	t->snd_wnd = w.snd_wnd;
	t->max_window = w.max_window;
	t->rcv_wnd = w.rcv_wnd;
	t->rcv_wup = w.rcv_wup;
	return 0;
}

/* Sockets already locked: one held by several processes (or fds) counts once. */
static uint64_t *seen;
static size_t nr_seen, cap_seen;

static int seen_before(uint64_t ino)
{
	for (size_t i = 0; i < nr_seen; i++)
		if (seen[i] == ino)
			return 1;
	if (nr_seen == cap_seen) {
		uint64_t *n = realloc(seen, (cap_seen = cap_seen ? cap_seen * 2 : 64) * sizeof(*seen));
		if (!n)
			return -ENOMEM;
		seen = n;
	}
	seen[nr_seen++] = ino;
	return 0;
}

static void seen_reset(void)
{
	free(seen);
	seen = NULL;
	nr_seen = cap_seen = 0;
}

/* What tcp_dump_prepare has found: connections locked, named for the message. */
struct prep {
	int found;
	bool maybe_unix;   /* a socket of the tree that is not an inet one of the namespace */
	char msg[512];
	size_t ml;
};

/* (ns_id, ns_fd: its network namespace, 0 and -1 for the root's) */
static int lock_one(struct prep *p, const struct inet_diag_sk *s, pid_t pid, const char *fd, uint32_t ns_id, int ns_fd)
{
	int again = seen_before(s->ino), ret = 0;

	if (again)
		return again < 0 ? again : 0;
	if (!p->found++)
		ret = netlock_begin("d");
	if (!ret)
		ret = netlock_add(ns_id, ns_fd, s->family, s->src, s->sport, s->dst, s->dport);
	nested_conns |= ns_id != 0;
	if (!pid)
		return ret;
	if (p->ml < sizeof(p->msg) - 100) {
		char a[80], b[80];
		inet_addr_str(a, sizeof(a), s->family, s->src, s->sport);
		inet_addr_str(b, sizeof(b), s->family, s->dst, s->dport);
		char ns[48] = "";
		if (ns_id)
			snprintf(ns, sizeof(ns), ", nested network namespace %u", ns_id);
		p->ml += snprintf(p->msg + p->ml, sizeof(p->msg) - p->ml, "%spid %d fd %s %s -> %s (%s%s)", p->ml ? ", " : "",
				  pid, fd, a, b, inet_state_name(s->state), ns);
	} else if (!strstr(p->msg, ", ..."))
		p->ml += snprintf(p->msg + p->ml, sizeof(p->msg) - p->ml, ", ...");
	return ret;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The inodes of every socket some process has open (as we see /proc), sorted. */
static int held_sockets(uint64_t **out, size_t *n)
{
	uint64_t *v = NULL;
	size_t cap = 0;
	struct dirent *pe, *fe;
	DIR *procs = opendir("/proc");

	*n = 0;
	if (!procs)
		return pr_perror("can't list /proc");
	while ((pe = readdir(procs))) {
		char path[300], link[64];
		int pid = atoi(pe->d_name);
		DIR *fds;

		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd", pid);
		if (!(fds = opendir(path)))
			continue;
		while ((fe = readdir(fds))) {
			unsigned long ino;
			ssize_t l;

			snprintf(path, sizeof(path), "/proc/%d/fd/%s", pid, fe->d_name);
			if ((l = readlink(path, link, sizeof(link) - 1)) <= 0 || (link[l] = 0, sscanf(link, "socket:[%lu]", &ino) != 1))
				continue;
			if (*n == cap) {
				uint64_t *m = realloc(v, (cap = cap ? cap * 2 : 256) * sizeof(*v));
				if (!m) {
					closedir(fds);
					closedir(procs);
					free(v);
					return -ENOMEM;
				}
				v = m;
			}
			v[(*n)++] = ino;
		}
		closedir(fds);
	}
	closedir(procs);
	qsort(v, *n, sizeof(*v), cmp_u64);
	*out = v;
	return 0;
}

/* Every socket some process has open, listed once for all namespaces. */
struct held_list {
	uint64_t *inos;
	size_t n;
	bool scanned;
};

/* With --tcp-established: the connections of the namespace (sock_diag's table now:
 * ns_id's, ns_fd) that no process holds are in flight on some unix socket's queue
 * (the tree's, maybe): locked with the tree's, so that one found on a queue of the
 * tree is saved like an fd's.  (Reading the queues now would hide their empty
 * datagrams from the dump's own read: the kernel skips an empty datagram once
 * peeked with SO_PEEK_OFF.) */
static int lock_unheld(struct prep *p, uint32_t ns_id, int ns_fd, struct held_list *h)
{
	const struct inet_diag_sk *all;
	size_t n;
	int err, ret = 0;

	if (!(all = inet_diag_all(&n, &err)))
		return err;
	for (size_t i = 0; i < n && !ret; i++) {
		const struct inet_diag_sk *s = &all[i];

		if (!s->ino || s->protocol != IPPROTO_TCP || !inet_tcp_connected(s->state))
			continue;
		if (!h->scanned && (ret = held_sockets(&h->inos, &h->n)))
			break;
		h->scanned = true;
		if (bsearch(&s->ino, h->inos, h->n, sizeof(*h->inos), cmp_u64))
			continue;
		struct flying_conn *f = realloc(flying, (nr_flying + 1) * sizeof(*f));
		if (!f) {
			ret = -ENOMEM;
			break;
		}
		flying = f;
		flying[nr_flying++] = (struct flying_conn){ .s = *s, .ns_id = ns_id };
		ret = lock_one(p, s, 0, NULL, ns_id, ns_fd);
	}
	return ret;
}

int tcp_flying_check(const struct inet_diag_sk *d, pid_t pid, int fd)
{
	char a[80], b[80];

	for (size_t i = 0; i < nr_flying; i++)
		if (flying[i].s.ino == d->ino) {
			flying[i].found = true;
			return 0;
		}
	inet_addr_str(a, sizeof(a), d->family, d->src, d->sport);
	inet_addr_str(b, sizeof(b), d->family, d->dst, d->dport);
	if (!established)
		return pr_err("pid %d: fd %d: an established TCP connection (%s -> %s) is in flight (SCM_RIGHTS) in the "
			      "unix socket's queue: dump with --tcp-established to save it", pid, fd, a, b), -EOPNOTSUPP;
	return pr_err("pid %d: fd %d: the TCP connection %s -> %s in flight (SCM_RIGHTS) in the unix socket's queue "
		      "is open in another process too: that can't be checkpointed", pid, fd, a, b), -EOPNOTSUPP;
}

/* pid's connections (it is in network namespace ns_id, ns_fd) locked.  sock_diag
 * lists one namespace's sockets: its table is switched to (*cur) on the first
 * socket of a process in another, so that a tree with no socket in a nested
 * namespace loads no other table. */
static int lock_task(struct prep *p, pid_t pid, uint32_t ns_id, int ns_fd, int *cur)
{
	char path[64], link[64];
	struct dirent *de;
	int ret = 0, err;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	if (!(d = opendir(path)))
		return pr_perror("can't list %s", path);
	while ((de = readdir(d)) && !ret) {
		unsigned long ino;
		const struct inet_diag_sk *s;
		char lp[sizeof(path) + 260];
		ssize_t n;

		snprintf(lp, sizeof(lp), "%s/%s", path, de->d_name);
		if ((n = readlink(lp, link, sizeof(link) - 1)) <= 0)
			continue;
		link[n] = 0;
		if (sscanf(link, "socket:[%lu]", &ino) != 1)
			continue;
		if (*cur != ns_fd) {
			inet_diag_reset();
			netns_dump_target(ns_fd);
			*cur = ns_fd;
		}
		if (!(s = inet_diag_find(ino, &err))) {
			ret = err;
			p->maybe_unix = true;
			continue;
		}
		if (s->protocol != IPPROTO_TCP || !inet_tcp_connected(s->state))
			continue;
		ret = lock_one(p, s, pid, de->d_name, ns_id, ns_fd);
	}
	closedir(d);
	return ret;
}

/* Before any task is dumped: find the tree's TCP connections, refuse them
 * unless asked to save them, and lock them (and, asked to save them, those in
 * flight: lock_unheld), each in its network namespace: the root's (root_fd, -1
 * when it is ours) or a nested one (nd). */
int tcp_dump_prepare(const struct tree *t, bool tcp_established, const struct nested_dump *nd, int root_fd)
{
	struct prep p = { 0 };
	struct held_list h = { 0 };
	int ret = 0, cur = root_fd;

	established = tcp_established;
	nested_conns = false;
	/* the root's namespace first, then each nested one: one sock_diag table each */
	for (size_t k = 0; k <= nd->nr && !ret; k++) {
		uint32_t id = 0;
		int fd = root_fd;

		if (k) {
			if (nd->inst[k - 1].kind != NEST_NET)
				continue;
			id = nd->inst[k - 1].id;
			fd = nd->inst[k - 1].fd;
		}
		for (int i = 0; i < t->nr && !ret; i++)
			if (!t->tasks[i].zombie && (nd->ids ? nd->ids[i][NEST_NET] : 0) == id)
				ret = lock_task(&p, t->tasks[i].s.pid, id, fd, &cur);
	}
	/* a connection in flight is on a unix socket's queue: with none in the tree,
	 * none of its queues holds one, and every process's fds need no look
	 * (hundreds of them on a busy host, while the tree is frozen); one is in
	 * the namespace of the process whose queue holds it (inet.c refuses others) */
	for (size_t k = 0; k <= nd->nr && !ret && tcp_established && p.maybe_unix; k++) {
		if (k && nd->inst[k - 1].kind != NEST_NET)
			continue;
		int fd = k ? nd->inst[k - 1].fd : root_fd;
		if (cur != fd) {
			inet_diag_reset();
			netns_dump_target(fd);
			cur = fd;
		}
		ret = lock_unheld(&p, k ? nd->inst[k - 1].id : 0, fd, &h);
	}
	free(h.inos);
	if (cur != root_fd) {
		inet_diag_reset();
		netns_dump_target(root_fd);
	}
	seen_reset();
	if (!ret && p.found && !tcp_established)
		ret = (pr_err("the tree has %d established TCP connection%s: %s; dump with --tcp-established to "
			      "save them", p.found, p.found > 1 ? "s" : "", p.msg), -EOPNOTSUPP);
	if (!ret && p.found)
		ret = privs_need(CAP_NET_ADMIN, -1, "dumping established TCP connections (TCP_REPAIR and the network lock)");
	if (!ret && p.found)
		ret = netlock_lock();
	if (ret)
		netlock_unlock();
	return ret;
}

bool tcp_dump_nested(void)
{
	return nested_conns;
}

/* ---------------------------------------------------------------- restore */

static int set_queue(int sk, int q, uint32_t seq, unsigned fd)
{
	if (setsockopt(sk, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q)) ||
	    setsockopt(sk, IPPROTO_TCP, TCP_QUEUE_SEQ, &seq, sizeof(seq)))
		return pr_perror("fd %u: can't set the %s sequence in repair mode", fd, q == TCP_RECV_QUEUE ? "receive" : "send");
	return 0;
}

static int fill_queue(int sk, int q, const ProtobufCBinaryData *d, unsigned fd)
{
	size_t off = 0;

	if (setsockopt(sk, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q)))
		return pr_perror("fd %u: TCP_REPAIR_QUEUE", fd);
	while (off < d->len) {
		/* the receive queue takes at most what fits the socket's memory at once */
		size_t chunk = d->len - off > 65536 ? 65536 : d->len - off;
		ssize_t n = send(sk, d->data + off, chunk, MSG_DONTWAIT);
		if (n <= 0)
			return pr_perror("fd %u: can't refill the %s queue (%zu of %zu bytes in)", fd,
					 q == TCP_RECV_QUEUE ? "receive" : "send", off, d->len);
		off += n;
	}
	return 0;
}

int tcp_restore_stream(int sk, const InetSkEntry *e, unsigned fd)
{
	const TcpStreamEntry *t = e->tcp;
	struct tcp_repair_opt o[4];
	struct tcp_repair_window w = { t->snd_wl1, t->snd_wnd, t->max_window, t->rcv_wnd, t->rcv_wup };
	int no = 0, ret, q = TCP_NO_QUEUE;

	if ((ret = repair(sk, 1)))
		return pr_err("fd %u: can't put a new socket in repair mode (TCP_REPAIR): %s", fd, strerror(-ret)), ret;
	/* the sequences of the first byte in each queue: the queues are written after */
	if ((ret = set_queue(sk, TCP_SEND_QUEUE, t->outq_seq - t->outq.len - t->fin_sent, fd)) ||
	    (ret = set_queue(sk, TCP_RECV_QUEUE, t->inq_seq - t->inq.len - t->fin_received, fd)))
		return ret;
	/* The kernel sizes the segments at connect, before TCP_REPAIR_OPTIONS can
	 * give the peer's MSS: without this clamp they would stay 536 bytes (which
	 * takes at most 32767, MAX_TCP_WINDOW; the options then say the rest). */
	int mss = t->mss > 32767 ? 32767 : t->mss;
	if (mss >= TCP_MIN_MSS && setsockopt(sk, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof(mss)))
		return pr_perror("fd %u: can't set the segment size (TCP_MAXSEG %d)", fd, mss);
	if ((ret = inet_bind(sk, e, fd)) || (ret = inet_connect(sk, e, fd)))
		return ret;
	o[no++] = (struct tcp_repair_opt){ TCPOPT_MAXSEG, t->mss };
	if (t->opts & TCPI_OPT_WSCALE)
		o[no++] = (struct tcp_repair_opt){ TCPOPT_WINDOW, t->snd_wscale | t->rcv_wscale << 16 };
	if (t->opts & TCPI_OPT_SACK)
		o[no++] = (struct tcp_repair_opt){ TCPOPT_SACK_PERMITTED, 0 };
	if (t->opts & TCPI_OPT_TIMESTAMPS)
		o[no++] = (struct tcp_repair_opt){ TCPOPT_TIMESTAMP, 0 };
	if (setsockopt(sk, IPPROTO_TCP, TCP_REPAIR_OPTIONS, o, no * sizeof(o[0])))
		return pr_perror("fd %u: TCP_REPAIR_OPTIONS", fd);
	if ((t->opts & TCPI_OPT_TIMESTAMPS) &&
	    setsockopt(sk, IPPROTO_TCP, TCP_TIMESTAMP, &t->timestamp, sizeof(t->timestamp)))
		return pr_perror("fd %u: TCP_TIMESTAMP", fd);
	/* the buffers as they were (autotuned or set): the queues fit them */
	int sb = e->opts->sndbuf / 2, rb = e->opts->rcvbuf / 2;
	if (setsockopt(sk, SOL_SOCKET, SO_SNDBUFFORCE, &sb, sizeof(sb)) ||
	    setsockopt(sk, SOL_SOCKET, SO_RCVBUFFORCE, &rb, sizeof(rb)))
		return pr_perror("fd %u: can't size the socket buffers", fd);
	/* Data written to the send queue in repair mode counts as sent: only what
	 * had gone out (the peer may acknowledge it).  The rest would wait for a
	 * retransmission timeout (1 s on a new socket) after the lock is gone:
	 * tcp_restore_resume() sends it then, as new data. */
	ProtobufCBinaryData sent = { t->outq.len - t->unsent, t->outq.data };
	if ((ret = fill_queue(sk, TCP_RECV_QUEUE, &t->inq, fd)) || (ret = fill_queue(sk, TCP_SEND_QUEUE, &sent, fd)))
		return ret;
	setsockopt(sk, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q));
	/* the window refers to rcv_nxt: after the receive queue is in; the peer's
	 * FIN comes later, so its sequence is not ours yet */
	if (t->fin_received && (int32_t)(w.rcv_wup - (t->inq_seq - 1)) > 0)
		w.rcv_wup = t->inq_seq - 1;
	if (setsockopt(sk, IPPROTO_TCP, TCP_REPAIR_WINDOW, &w, sizeof(w)))
		return pr_perror("fd %u: TCP_REPAIR_WINDOW", fd);
	if ((ret = repair(sk, 0)))
		return pr_err("fd %u: can't leave repair mode: %s", fd, strerror(-ret)), ret;
	/* Half-closed: the peer's FIN now (ESTABLISHED -> CLOSE_WAIT); ours goes
	 * again after the queued data, in tcp_restore_resume() */
	if (t->fin_received &&
	    (ret = tcp_send_peer_fin(e, t->inq_seq - 1, t->outq_seq - t->outq.len - t->fin_sent,
				     t->snd_wnd >> t->snd_wscale > 0xffff ? 0xffff : t->snd_wnd >> t->snd_wscale, fd)))
		return ret;
	if (e->shutdown & 1 && !t->fin_received && shutdown(sk, SHUT_RD))
		return pr_perror("fd %u: can't shut down the receiving side", fd);
	return 0;
}

int tcp_validate(const InetSkEntry *e, unsigned fd)
{
	const TcpStreamEntry *t = e->tcp;

	if (t->unsent > t->outq.len || t->snd_wscale > 14 || t->rcv_wscale > 14 || t->mss > 65535 ||
	    t->outq.len > (1u << 30) || t->inq.len > (1u << 30) || (t->fin_sent && t->fin_received) ||
	    (t->netlock && !netlock_valid_name(t->netlock)))
		return pr_err("fdinfo: fd %u: invalid TCP connection state", fd), -EINVAL;
	return 0;
}

/* ---------------------------------------------------------------- restore lock */

static char **stale;     /* locks the dumps left, removed once ours holds */
static size_t nr_stale;

/* The connections of the entries (and of the files in flight on their queues, at any depth). */
static int collect_entries(FdinfoEntry *const *fds, size_t nr, bool tcp_close, const char *tag, uint32_t ns_id)
{
	int ret = 0;

	for (size_t i = 0; i < nr && !ret; i++) {
		const InetSkEntry *e = fds[i]->inet;
		bool seen = false;

		for (size_t k = 0; k < fds[i]->n_in_flight && !ret; k++)
			ret = collect_entries(&fds[i]->in_flight[k]->file, 1, tcp_close, tag, ns_id);
		if (ret || !e || !e->tcp)
			continue;
		int again = seen_before(e->ino);
		if (again) {
			ret = again < 0 ? again : 0;
			continue;
		}
		if ((!tcp_close || e->tcp->netlock) &&
		    (ret = privs_need(CAP_NET_ADMIN, -1, tcp_close ? "dropping the network lock of a dumped TCP connection"
				      : "restoring established TCP connections (TCP_REPAIR and the network lock; "
					"--tcp-close brings them back closed)")))
			break;
		if (!tcp_close && !(ret = netlock_begin(tag)))
			ret = netlock_add(ns_id, -1, e->family, e->src_addr.data, e->src_port, e->dst_addr.data,
					  e->dst_port);
		/* the dump's lock of a nested namespace went with the namespace */
		if (ret || !e->tcp->netlock || ns_id)
			continue;
		for (size_t k = 0; k < nr_stale && !seen; k++)
			seen = !strcmp(stale[k], e->tcp->netlock);
		if (!seen && (ret = tcp_restore_replace(e->tcp->netlock)))
			return ret;
	}
	return ret;
}

int tcp_restore_collect(const struct files_image *fi, bool tcp_close, const char *tag, uint32_t ns_id)
{
	return collect_entries(fi->fds, fi->nr, tcp_close, tag, ns_id);
}

/* The stale locks' names, and the connections seen, forgotten */
static void stale_forget(void)
{
	seen_reset();
	for (size_t k = 0; k < nr_stale; k++)
		free(stale[k]);
	free(stale);
	stale = NULL;
	nr_stale = 0;
}

void tcp_restore_lock_elsewhere(void)
{
	stale_forget();
}

int tcp_restore_replace(const char *lock)
{
	char **n = realloc(stale, (nr_stale + 1) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	stale = n;
	if (!(stale[nr_stale] = strdup(lock)))
		return -ENOMEM;
	nr_stale++;
	return 0;
}

int tcp_restore_lock(void)
{
	/* ours holds the connections now (or they come back closed): the dump's goes */
	int ret = netlock_lock_replacing(stale, nr_stale);

	stale_forget();
	return ret;
}

/* Once the lock is gone and before the tree runs: each connection sends what
 * it had queued but not sent yet, then its FIN again if it had queued one.  Through pidfd_getfd: the sockets are at their place in
 * the restored processes (pid: as seen from here). */
int tcp_restore_resume(pid_t pid, const struct files_image *fi)
{
	int ret = 0;

	for (size_t i = 0; i < fi->nr && !ret; i++) {
		const FdinfoEntry *fe = fi->fds[i];
		const InetSkEntry *e = fe->inet;
		const TcpStreamEntry *t = e ? e->tcp : NULL;
		size_t off = 0;
		int sk, again;

		if (!t || fi->tcp_close || (!t->unsent && !t->fin_sent))
			continue;
		if ((again = seen_before(e->ino))) {
			ret = again < 0 ? again : 0;
			continue;
		}
		if ((sk = files_getfd(pid, fe->fd)) < 0)
			return sk;
		/* They fit the buffer once, in the segments the kernel had made; written
		 * again at once, while the peer's window may be shut, their bookkeeping
		 * may not: room for them, then the saved size again (what is queued stays). */
		uint64_t want = (uint64_t)t->outq.len * 4 + e->opts->sndbuf;
		int room = want > INT32_MAX / 2 ? INT32_MAX / 2 : (int)want, sb = e->opts->sndbuf / 2;
		if (setsockopt(sk, SOL_SOCKET, SO_SNDBUFFORCE, &room, sizeof(room)))
			pr_warn("pid %d fd %u: can't make room for the bytes not sent yet: %s", pid, fe->fd, strerror(errno));
		off = t->outq.len - t->unsent;
		while (off < t->outq.len && !ret) {
			struct pollfd p = { .fd = sk, .events = POLLOUT };
			ssize_t n = send(sk, t->outq.data + off, t->outq.len - off, MSG_DONTWAIT | MSG_NOSIGNAL);

			if (n > 0)
				off += n;
			else if (n < 0 && errno == EAGAIN && poll(&p, 1, 10000) == 1)
				continue;
			else
				ret = pr_perror("pid %d fd %u: can't queue the %u bytes the connection had not sent yet",
						pid, fe->fd, t->unsent);
		}
		if (!ret && t->fin_sent && shutdown(sk, SHUT_WR))
			ret = pr_perror("pid %d fd %u: can't shut the sending side down again", pid, fe->fd);
		if (!ret && setsockopt(sk, SOL_SOCKET, SO_SNDBUFFORCE, &sb, sizeof(sb)))
			ret = pr_perror("pid %d fd %u: can't size the send buffer again", pid, fe->fd);
		close(sk);
	}
	return ret;
}

void tcp_restore_resume_end(void)
{
	seen_reset();
}

/* The page server: a sink of the page pipeline on another host.  The dumper sends
 * framed requests over one TCP connection; page contents follow their DATA
 * header as raw bytes, spliced from the page pipe straight into the socket, and
 * from the socket straight into the file on the server.
 *
 *   OPEN  name        create (truncate) name in the server's images dir
 *   DATA  len         len bytes of the open file follow
 *   CLOSE             fsync and close it; the server answers with a status
 *   BYE               the round is complete; the server answers and exits
 *   DIR   name        (a session) files go into the subdirectory name from now on
 *   SYMLINK name len  a symbolic link name to the len bytes that follow
 *   anything else     the session's own handler (crtool serve: INFO, PATHS,
 *                     PAGES, RESTORE), which answers with a status and a text
 *
 * Both ends are the same build of libcr on the same architecture: the header is
 * in host byte order, with a magic and version that catch anything else. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include "log.h"
#include "mem/page-server.h"
#include "util.h"

#define PS_MAGIC 0x6c637270u   /* "lcrp" */
#define PS_VERSION 1

static int send_all(int sk, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = send(sk, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -errno ?: -EIO;
		p += n;
		len -= n;
	}
	return 0;
}

static int recv_all(int sk, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = recv(sk, p, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n ? -errno : -ECONNRESET;
		p += n;
		len -= n;
	}
	return 0;
}

static int send_hdr(struct page_server *ps, int cmd, uint64_t len, const char *name)
{
	struct ps_hdr h = { .magic = PS_MAGIC, .version = PS_VERSION, .cmd = cmd, .len = len };
	int ret;

	if (name)
		snprintf(h.name, sizeof(h.name), "%s", name);
	if ((ret = send_all(ps->sk, &h, sizeof(h))))
		return errno = -ret, pr_perror("page server %s", ps->where);
	return 0;
}

static int wait_status(struct page_server *ps, const char *what)
{
	int32_t status;
	int ret = recv_all(ps->sk, &status, sizeof(status));

	if (ret)
		return errno = -ret, pr_perror("page server %s did not confirm %s", ps->where, what);
	if (status)
		return errno = -status, pr_perror("page server %s failed to store %s", ps->where, what);
	return 0;
}

int ps_connect(struct page_server *ps, const char *addr_port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	char host[128];
	const char *colon = strrchr(addr_port, ':');
	int ret, one = 1;

	ps->sk = -1;
	snprintf(ps->where, sizeof(ps->where), "%s", addr_port);
	/* "fd:N": a stream the caller has connected already (crtool migrate --via
	 * ssh: the ssh connection); ours is a copy, so closing it ends nothing */
	if (!strncmp(addr_port, "fd:", 3)) {
		char *end;
		long fd = strtol(addr_port + 3, &end, 10);
		if (*end || end == addr_port + 3 || fd < 0 || fd > INT_MAX)
			return pr_err("page server %s: want fd:N", addr_port), -EINVAL;
		if ((ps->sk = fcntl(fd, F_DUPFD_CLOEXEC, 3)) < 0)
			return pr_perror("page server %s", addr_port);
		return 0;
	}
	if (!colon || colon == addr_port || (size_t)(colon - addr_port) >= sizeof(host) || !colon[1])
		return pr_err("page server address %s: want ADDR:PORT", addr_port), -EINVAL;
	snprintf(host, sizeof(host), "%.*s", (int)(colon - addr_port), addr_port);
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = 0;
	}
	if ((ret = getaddrinfo(host, colon + 1, &hints, &res)))
		return pr_err("page server %s: %s", addr_port, gai_strerror(ret)), -EINVAL;
	for (ai = res; ai; ai = ai->ai_next) {
		ps->sk = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (ps->sk >= 0 && !connect(ps->sk, ai->ai_addr, ai->ai_addrlen))
			break;
		ret = errno;
		if (ps->sk >= 0)
			close(ps->sk);
		ps->sk = -1;
	}
	freeaddrinfo(res);
	if (ps->sk < 0)
		return errno = ret, pr_perror("can't connect to the page server %s", addr_port);
	setsockopt(ps->sk, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return 0;
}

int ps_request(struct page_server *ps, int cmd, const char *name, const void *payload, uint64_t len, char **reply)
{
	int32_t status;
	uint32_t rlen;
	int ret;

	*reply = NULL;
	if ((ret = send_hdr(ps, cmd, len, name)))
		return ret;
	if (len && (ret = send_all(ps->sk, payload, len)))
		return errno = -ret, pr_perror("receiver %s", ps->where);
	if ((ret = recv_all(ps->sk, &status, sizeof(status))) || (ret = recv_all(ps->sk, &rlen, sizeof(rlen))))
		return errno = -ret, pr_perror("receiver %s did not answer", ps->where);
	if (rlen > PS_PAYLOAD_MAX)
		return pr_err("receiver %s: an answer of %u bytes", ps->where, rlen), -EPROTO;
	if ((ret = ps_recv_payload(ps->sk, rlen, reply)))
		return errno = -ret, pr_perror("receiver %s", ps->where);
	return status;
}

int ps_read_reply(struct page_server *ps, int timeout_ms, char **reply)
{
	struct pollfd pfd = { .fd = ps->sk, .events = POLLIN };
	int32_t status;
	uint32_t rlen;
	int ret;

	*reply = NULL;
	if (timeout_ms >= 0 && poll(&pfd, 1, timeout_ms) == 0)
		return -ETIMEDOUT;
	if ((ret = recv_all(ps->sk, &status, sizeof(status))) || (ret = recv_all(ps->sk, &rlen, sizeof(rlen))))
		return errno = -ret, pr_perror("receiver %s did not answer", ps->where);
	if (rlen > PS_PAYLOAD_MAX)
		return pr_err("receiver %s: an answer of %u bytes", ps->where, rlen), -EPROTO;
	if ((ret = ps_recv_payload(ps->sk, rlen, reply)))
		return errno = -ret, pr_perror("receiver %s", ps->where);
	return status;
}

int ps_simple(struct page_server *ps, int cmd, const char *name, const void *payload, uint64_t len)
{
	int ret = send_hdr(ps, cmd, len, name);

	if (!ret && len && (ret = send_all(ps->sk, payload, len)))
		return errno = -ret, pr_perror("receiver %s", ps->where);
	return ret ?: wait_status(ps, name ? name : "a request");
}

int ps_file_open(struct page_server *ps, const char *name)
{
	return send_hdr(ps, PS_OPEN, 0, name);
}

int ps_file_data(struct page_server *ps, uint64_t len)
{
	return send_hdr(ps, PS_DATA, len, NULL);
}

int ps_file_close(struct page_server *ps)
{
	return send_hdr(ps, PS_CLOSE, 0, NULL) ?: wait_status(ps, "a file");
}

int ps_close(struct page_server *ps)
{
	int ret = 0;

	if (ps->sk < 0)
		return 0;
	ret = send_hdr(ps, PS_BYE, 0, NULL) ?: wait_status(ps, "the end of the round");
	close(ps->sk);
	ps->sk = -1;
	return ret;
}

/* ---- the server */

/* A file name the server accepts: one component, no "..", image-like characters. */
bool ps_good_name(const char *n)
{
	if (!n[0] || n[0] == '.' || strnlen(n, PS_NAME_MAX) == PS_NAME_MAX)
		return false;
	for (const char *p = n; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_'))
			return false;
	return true;
}

/* len bytes from the socket into the file: socket -> pipe -> file, no copies. */
static int receive_data(int sk, int fd, int pipefd[2], uint64_t len)
{
	while (len) {
		ssize_t in = splice(sk, NULL, pipefd[1], NULL, len < (1 << 20) ? len : (1 << 20), SPLICE_F_MOVE);
		if (in < 0 && errno == EINTR)
			continue;
		if (in <= 0)
			return in ? -errno : -ECONNRESET;
		for (ssize_t left = in; left;) {
			ssize_t out = splice(pipefd[0], NULL, fd, NULL, left, SPLICE_F_MOVE);
			if (out < 0 && errno == EINTR)
				continue;
			if (out <= 0)
				return out ? -errno : -EIO;
			left -= out;
		}
		len -= in;
	}
	return 0;
}

int ps_reply(int sk, int32_t status, const char *text)
{
	uint32_t len = text ? strlen(text) : 0;
	int ret = send_all(sk, &status, sizeof(status));

	if (!ret)
		ret = send_all(sk, &len, sizeof(len));
	if (!ret && len)
		ret = send_all(sk, text, len);
	return ret;
}

int ps_recv_payload(int sk, uint64_t len, char **out)
{
	char *buf;
	int ret;

	if (len > PS_PAYLOAD_MAX)
		return pr_err("a request of %lu bytes, more than %d", (unsigned long)len, PS_PAYLOAD_MAX), -E2BIG;
	if (!(buf = malloc(len + 1)))
		return -ENOMEM;
	if ((ret = recv_all(sk, buf, len))) {
		free(buf);
		return ret;
	}
	buf[len] = 0;
	*out = buf;
	return 0;
}

int ps_session(int sk, const char *base, ps_handler_fn handler, void *arg)
{
	int fd = -1, pipefd[2], ret = 0, dfd;
	char name[PS_NAME_MAX] = "", dir[4096];

	snprintf(dir, sizeof(dir), "%s", base);
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return pr_perror("images directory %s", dir);
	if (pipe2(pipefd, O_CLOEXEC)) {
		close(dfd);
		return pr_perror("page server: pipe");
	}
	fcntl(pipefd[1], F_SETPIPE_SZ, 1 << 20);
	for (;;) {
		struct ps_hdr h;
		int32_t status = 0;

		if ((ret = recv_all(sk, &h, sizeof(h)))) {
			errno = -ret;
			ret = pr_perror("page server: the dumper went away%s%s", name[0] ? " while sending " : "", name);
			break;
		}
		if (h.magic != PS_MAGIC || h.version != PS_VERSION) {
			ret = (pr_err("page server: a request that is not libcr's (magic 0x%x, version %u)", h.magic,
				      h.version), -EPROTO);
			break;
		}
		h.name[PS_NAME_MAX - 1] = 0;
		if (h.cmd == PS_OPEN) {
			if (fd >= 0 || !ps_good_name(h.name)) {
				ret = (pr_err("page server: refused to create \"%s\" in %s", h.name, dir), -EPERM);
				break;
			}
			snprintf(name, sizeof(name), "%s", h.name);
			if ((fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0) {
				ret = pr_perror("page server: can't create %s/%s", dir, name);
				break;
			}
			continue;
		}
		if (h.cmd == PS_DATA) {
			if (fd < 0) {
				ret = (pr_err("page server: data for no open file"), -EPROTO);
				break;
			}
			if ((ret = receive_data(sk, fd, pipefd, h.len))) {
				errno = -ret;
				ret = pr_perror("page server: can't store %s/%s", dir, name);
				break;
			}
			continue;
		}
		if (h.cmd == PS_CLOSE) {
			if (fd < 0 || fsync(fd) || close(fd))
				status = fd < 0 ? -EPROTO : -errno;
			fd = -1;
			name[0] = 0;
		} else if (h.cmd == PS_DIR) {
			int nd;
			if (!ps_good_name(h.name)) {
				ret = (pr_err("page server: refused the directory \"%s\"", h.name), -EPERM);
				break;
			}
			snprintf(dir, sizeof(dir), "%s/%s", base, h.name);
			mkdir(dir, 0700);
			if ((nd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
				status = -errno;
			} else {
				close(dfd);
				dfd = nd;
			}
		} else if (h.cmd == PS_SYMLINK) {
			char *target = NULL;
			if (!ps_good_name(h.name) || (ret = ps_recv_payload(sk, h.len, &target))) {
				ret = ret ?: (pr_err("page server: refused the link \"%s\"", h.name), -EPERM);
				break;
			}
			unlinkat(dfd, h.name, 0);
			status = symlinkat(target, dfd, h.name) ? -errno : 0;
			free(target);
		} else if (h.cmd == PS_BYE) {
			status = 0;
		} else if (handler) {
			if ((ret = handler(arg, sk, &h, dir)))
				break;
			continue;   /* the handler answered */
		} else {
			ret = (pr_err("page server: unknown request %u", h.cmd), -EPROTO);
			break;
		}
		if ((ret = send_all(sk, &status, sizeof(status))) || h.cmd == PS_BYE)
			break;
	}
	if (fd >= 0)
		close(fd);
	close(dfd);
	close(pipefd[0]);
	close(pipefd[1]);
	return ret;
}

int ps_listen(const char *addr, int port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE }, *res;
	char service[16];
	int lsk, ret, one = 1;

	snprintf(service, sizeof(service), "%d", port);
	if ((ret = getaddrinfo(addr, service, &hints, &res)))
		return pr_err("page server address %s: %s", addr ? addr : "(any)", gai_strerror(ret)), -EINVAL;
	lsk = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, res->ai_protocol);
	if (lsk < 0 || setsockopt(lsk, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(lsk, res->ai_addr, res->ai_addrlen) || listen(lsk, 4)) {
		ret = pr_perror("can't listen on %s:%d", addr ? addr : "*", port);
		freeaddrinfo(res);
		if (lsk >= 0)
			close(lsk);
		return ret;
	}
	freeaddrinfo(res);
	return lsk;
}

int ps_accept(int lsk)
{
	int sk;

	while ((sk = accept4(lsk, NULL, NULL, SOCK_CLOEXEC)) < 0 && errno == EINTR)
		;
	return sk < 0 ? pr_perror("page server: accept") : sk;
}

int ps_serve(const char *addr, int port, const char *dir, void (*ready)(void *), void *arg)
{
	int lsk, sk, ret;

	if (access(dir, W_OK))
		return pr_perror("images directory %s", dir);
	if ((lsk = ps_listen(addr, port)) < 0)
		return lsk;
	if (ready)
		ready(arg);
	sk = ps_accept(lsk);
	close(lsk);
	if (sk < 0)
		return sk;
	ret = ps_session(sk, dir, NULL, NULL);
	close(sk);
	return ret;
}

/* ---- a stream over two fds (crtool serve --stdio) */

/* Copy from -> to until from ends, through a pipe of our own (splice needs a
 * pipe at one end; either side may be a pipe or a socket). */
static void __attribute__((noreturn)) pump(int from, int to)
{
	int p[2];

	signal(SIGPIPE, SIG_IGN);
	if (pipe(p))
		_exit(1);
	for (;;) {
		ssize_t in = splice(from, NULL, p[1], NULL, 1 << 16, SPLICE_F_MOVE);
		if (in < 0 && errno == EINTR)
			continue;
		if (in <= 0)
			break;
		while (in > 0) {
			ssize_t out = splice(p[0], NULL, to, NULL, in, SPLICE_F_MOVE);
			if (out < 0 && errno == EINTR)
				continue;
			if (out <= 0)
				_exit(1);
			in -= out;
		}
	}
	shutdown(to, SHUT_WR);   /* a socket: the other end reads its end; a pipe: no-op */
	_exit(0);
}

int ps_stdio_stream(int in, int out)
{
	struct stat a, b;
	int sp[2], null;

	if (fstat(in, &a) || fstat(out, &b))
		return pr_perror("serve: standard input or output");
	if (S_ISSOCK(a.st_mode) && a.st_ino == b.st_ino && a.st_dev == b.st_dev) {
		int sk = fcntl(in, F_DUPFD_CLOEXEC, 3);
		return sk < 0 ? pr_perror("serve: standard input") : sk;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp))
		return pr_perror("serve: socketpair");
	for (int dir = 0; dir < 2; dir++) {
		pid_t pid = fork();
		if (pid < 0) {
			close(sp[0]);
			close(sp[1]);
			return pr_perror("serve: can't start the stream pump");
		}
		if (pid == 0) {
			/* only the end it copies to stays open: the other side sees its end */
			close(sp[0]);
			close(dir ? in : out);
			pump(dir ? sp[1] : in, dir ? out : sp[1]);
		}
	}
	close(sp[1]);
	/* our copies of stdin and stdout must not keep the session open */
	if ((null = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0) {
		dup2(null, in);
		dup2(null, out);
		close(null);
	}
	return sp[0];
}

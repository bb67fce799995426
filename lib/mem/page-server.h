/* The page server: pages streamed over TCP to another host's images dir (page-server.c). */
#ifndef LIB_MEM_PAGE_SERVER_H
#define LIB_MEM_PAGE_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#define PS_NAME_MAX 64
#define PS_PAYLOAD_MAX (1 << 20)

enum ps_cmd {
	PS_OPEN = 1, PS_DATA, PS_CLOSE, PS_BYE,     /* a page server round */
	PS_DIR, PS_SYMLINK,                         /* a session's files */
	PS_INFO, PS_PATHS, PS_PAGES, PS_RESTORE,    /* crtool serve (lib/serve.c) */
	PS_LOCK,
};

/* Every request starts with this (host byte order: the same build at both ends). */
struct ps_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t cmd;
	uint64_t len;           /* DATA: bytes that follow; other requests: their payload */
	char name[PS_NAME_MAX];
};

/* The client side, held by the images dir whose pages go to the server. */
struct page_server {
	int sk;
	char where[128];        /* "ADDR:PORT", for messages */
};

/* Connect to "ADDR:PORT" (IPv4, IPv6 in brackets, or a host name), or take a copy
 * of a connected stream: "fd:N". */
int ps_connect(struct page_server *ps, const char *addr_port);
/* Start the file `name` in the server's dir (created or truncated). */
int ps_file_open(struct page_server *ps, const char *name);
/* The next len bytes written to ps->sk are the open file's. */
int ps_file_data(struct page_server *ps, uint64_t len);
/* The file is complete: the server syncs it and says so. */
int ps_file_close(struct page_server *ps);
/* The round is over: the server exits. */
int ps_close(struct page_server *ps);

/* A request with a payload, answered by a status and a text (*reply, malloc'ed):
 * the status (0 or -errno) or a transport error. */
int ps_request(struct page_server *ps, int cmd, const char *name, const void *payload, uint64_t len, char **reply);
/* Another answer to the last request (PAGES answers twice), within timeout_ms
 * (-1: no limit; -ETIMEDOUT without a message if none came). */
int ps_read_reply(struct page_server *ps, int timeout_ms, char **reply);
/* A request answered by a status only (DIR, SYMLINK). */
int ps_simple(struct page_server *ps, int cmd, const char *name, const void *payload, uint64_t len);

/* The server: take one connection on addr:port and write what it sends into dir;
 * ready (if not NULL) is called once it listens. */
int ps_serve(const char *addr, int port, const char *dir, void (*ready)(void *), void *arg);

/* Server pieces crtool serve builds on. */
int ps_listen(const char *addr, int port);
int ps_accept(int lsk);
/* A request the session does not know itself: the handler reads its payload and
 * answers (ps_reply); non-zero ends the session. */
typedef int (*ps_handler_fn)(void *arg, int sk, const struct ps_hdr *h, const char *dir);
/* Serve one connection into base (DIR requests move below it) until BYE. */
int ps_session(int sk, const char *base, ps_handler_fn handler, void *arg);
int ps_reply(int sk, int32_t status, const char *text);
int ps_recv_payload(int sk, uint64_t len, char **out);
/* One stream socket for the two ends of a byte stream (crtool serve --stdio: what
 * sshd gives, pipes or a socket): in and out themselves when they are one
 * socket, else a socketpair end pumped to and from them by a child.  -errno. */
int ps_stdio_stream(int in, int out);
bool ps_good_name(const char *name);

#endif

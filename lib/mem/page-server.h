/* The page server: pages streamed over TCP to another host's images dir (page-server.c). */
#ifndef LIB_MEM_PAGE_SERVER_H
#define LIB_MEM_PAGE_SERVER_H

#include <stdint.h>

/* The client side, held by the images dir whose pages go to the server. */
struct page_server {
	int sk;
	char where[128];        /* "ADDR:PORT", for messages */
};

/* Connect to "ADDR:PORT" (IPv4, IPv6 in brackets, or a host name). */
int ps_connect(struct page_server *ps, const char *addr_port);
/* Start the file `name` in the server's dir (created or truncated). */
int ps_file_open(struct page_server *ps, const char *name);
/* The next len bytes written to ps->sk are the open file's. */
int ps_file_data(struct page_server *ps, uint64_t len);
/* The file is complete: the server syncs it and says so. */
int ps_file_close(struct page_server *ps);
/* The round is over: the server exits. */
int ps_close(struct page_server *ps);

/* The server: take one connection on addr:port and write what it sends into dir;
 * ready (if not NULL) is called once it listens. */
int ps_serve(const char *addr, int port, const char *dir, void (*ready)(void *), void *arg);

#endif

/* sock_diag for AF_UNIX through libnl: what the kernel knows of one unix
 * socket, looked up by its inode number. */
#ifndef LIB_NET_UNIX_DIAG_H
#define LIB_NET_UNIX_DIAG_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/un.h>

struct unix_diag {
	uint32_t ino;
	uint8_t type;            /* SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET */
	uint8_t state;           /* TCP_ESTABLISHED, TCP_CLOSE, TCP_LISTEN */
	bool has_peer;           /* it has a peer pointer (connected) */
	uint32_t peer;           /* inode of the peer, 0: closed (or, of a client, not yet accepted) */
	int name_len;            /* bytes of sun_path in name (abstract: name[0] == 0); 0: unnamed */
	char name[sizeof(((struct sockaddr_un *)0)->sun_path)];
	bool has_vfs;            /* bound to a path: the socket file's inode at bind time */
	uint32_t vfs_ino, vfs_dev;
	uint32_t rqueue, wqueue; /* bytes queued (listener: connections, backlog) */
	uint8_t shutdown;        /* RCV_SHUTDOWN 1 | SEND_SHUTDOWN 2 */
	uint32_t *icons;         /* listener: inodes of the clients of queued connections */
	int nr_icons;
};

/* Look the socket up; 0, -ENOENT if no unix socket has that inode, or -errno
 * (with a message).  Free with unix_diag_free(). */
int unix_diag_get(uint32_t ino, struct unix_diag *d);
void unix_diag_free(struct unix_diag *d);

#endif

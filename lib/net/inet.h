/* AF_INET/AF_INET6 sockets: what inet.c (UDP, TCP listening), tcp.c (established
 * connections in TCP_REPAIR), inet-diag.c (sock_diag) and netlock.c share. */
#ifndef LIB_NET_INET_H
#define LIB_NET_INET_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "fdinfo.pb-c.h"

/* One socket as sock_diag reports it. */
struct inet_diag_sk {
	uint64_t ino;
	uint8_t family, protocol, state;
	uint8_t src[16], dst[16];   /* 4 bytes used for AF_INET */
	uint16_t sport, dport;      /* host order */
	uint32_t ifindex;
	uint32_t rqueue, wqueue;    /* listening: queued connections, backlog */
	uint8_t shutdown;
};

/* The TCP and UDP sockets of the network namespace we run in, read once per
 * dump (the tree is frozen by then): the one with inode ino, or NULL.  Sets
 * *err when sock_diag could not be read. */
const struct inet_diag_sk *inet_diag_find(uint64_t ino, int *err);
/* The whole table, sorted by inode (*n entries), or NULL with *err set. */
const struct inet_diag_sk *inet_diag_all(size_t *n, int *err);
/* Forget the table (each dump reads its own). */
void inet_diag_reset(void);

/* TCP states (include/net/tcp_states.h) */
enum {
	INET_TCP_ESTABLISHED = 1, INET_TCP_SYN_SENT, INET_TCP_SYN_RECV, INET_TCP_FIN_WAIT1, INET_TCP_FIN_WAIT2,
	INET_TCP_TIME_WAIT, INET_TCP_CLOSE, INET_TCP_CLOSE_WAIT, INET_TCP_LAST_ACK, INET_TCP_LISTEN,
	INET_TCP_CLOSING,
};
const char *inet_state_name(unsigned state);
/* "1.2.3.4:80" or "[::1]:80" */
void inet_addr_str(char *buf, size_t len, int family, const void *addr, unsigned port);
/* A socket's addresses and state from its own names, for the sockets sock_diag's
 * TCP and UDP tables lack (raw, ICMP, never bound): connected is TCP_ESTABLISHED. */
int inet_sock_names(int sk, uint32_t family, uint32_t proto, uint64_t ino, struct inet_diag_sk *d, const char *who);

/* ---- raw and ICMP (ping) sockets (raw.c) */
bool raw_kind(uint32_t type, uint32_t proto);
int raw_dump_opts(int sk, const InetSkEntry *e, InetSkOpts *o, const char *who);
int raw_restore_opts(int sk, const InetSkEntry *e, unsigned fd);
/* 0, or -EINVAL (the caller names the fd). */
int raw_validate(const InetSkEntry *e);

/* bind/connect to the saved local/remote address; the message names it. */
int inet_bind(int sk, const InetSkEntry *e, unsigned fd);
int inet_connect(int sk, const InetSkEntry *e, unsigned fd);
/* The family of pid's socket fd (SO_DOMAIN), or -1; prints nothing. */
int sock_domain(pid_t pid, int fd);
/* A connection TCP_REPAIR can save: established or half-closed. */
bool inet_tcp_connected(unsigned state);

/* ---- tcp.c: established connections */
/* Put the socket (our copy of the target's fd) in repair mode and read its
 * streams into e->tcp.  The socket stays in repair mode, held by tcp.c, until
 * tcp_dump_finish(). */
int tcp_dump_stream(int sk, const struct inet_diag_sk *d, InetSkEntry *e, pid_t pid, int fd);
/* End of the dump: leave repair mode (the tree runs on, or the dump failed),
 * or close the sockets while still in repair mode (the tree was killed: the
 * connections go silently, the network lock keeps the peers waiting). */
void tcp_dump_finish(bool keep_repair);
/* Turn a new socket into the saved connection (bound, in repair mode), refill
 * it and leave repair mode. */
int tcp_restore_stream(int sk, const InetSkEntry *e, unsigned fd);
int tcp_validate(const InetSkEntry *e, unsigned fd);
/* tcp-fin.c: hand the restored socket its peer's FIN (seq, ack, raw window). */
int tcp_send_peer_fin(const InetSkEntry *e, uint32_t seq, uint32_t ack, uint16_t win, unsigned fd);
/* Packets with this mark pass the network lock (the FIN handed over). */
#define NETLOCK_MARK 0x6c696263

struct tree;
struct nested_dump;
/* Before any task is dumped: find the tree's TCP connections; without
 * tcp_established fail naming them, else lock them (netlock), each in its
 * network namespace: the root's (root_fd; -1: ours) or a nested one (nd). */
int tcp_dump_prepare(const struct tree *t, bool tcp_established, const struct nested_dump *nd, int root_fd);
/* Whether it locked a connection of a nested network namespace. */
bool tcp_dump_nested(void);
/* Dump: may the connection d, in flight (SCM_RIGHTS) on the queue of pid's fd, be
 * saved?  0, or -errno with a message (no --tcp-established, or not locked:
 * another process holds it too). */
int tcp_flying_check(const struct inet_diag_sk *d, pid_t pid, int fd);
/* From a signal handler: take every held socket out of repair mode. */
void tcp_dump_abort(void);
struct files_image;
/* Restore: lock the connections of one process's images (unless tcp_close)
 * and note the dump's lock to remove; tcp_restore_lock() then takes the lock.
 * ns_id: the process's network namespace (0: the root's; else a nested one,
 * whose maker takes its part: netlock_lock_nested). */
int tcp_restore_collect(const struct files_image *fi, bool tcp_close, const char *tag, uint32_t ns_id);
/* Another lock for the next tcp_restore_lock() to replace (a migration's early one). */
int tcp_restore_replace(const char *lock);
int tcp_restore_lock(void);
/* The restored root takes the lock in its new network namespace (it has the
 * connections, copied at fork): ours only forgets them. */
void tcp_restore_lock_elsewhere(void);
/* Every task's sockets in place, nothing runs yet: after netlock_unlock(), each
 * connection of pid's images sends the bytes it had not sent yet (and its FIN). */
int tcp_restore_resume(pid_t pid, const struct files_image *fi);
void tcp_restore_resume_end(void);

/* ---- netlock.c: netfilter drops the packets of the locked connections */
/* Start a lock (named after tag and our pid) and add connections to it: of the
 * root's network namespace (ns_id 0) or of nested one ns_id (nested.c), whose
 * namespace is ns_fd (kept: a dup; -1 while it is not made yet, at restore). */
int netlock_begin(const char *tag);
#define NETLOCK_MAX_NESTED 256
int netlock_add(uint32_t ns_id, int ns_fd, int family, const uint8_t *src, unsigned sport, const uint8_t *dst,
		unsigned dport);
/* Take one connection out of the lock in force in its namespace (one locked in case
 * it was the tree's). */
int netlock_release(uint32_t ns_id, int family, const uint8_t *src, unsigned sport, const uint8_t *dst,
		    unsigned dport);
/* Start the command that will install it while the tree still runs (nft only; the
 * lock's next command, or the end of the lock, takes it). */
void netlock_warm(void);
/* Install it in each namespace that holds connections and whose fd is known (a
 * no-op without connections); handlers for SIGINT/SIGTERM remove it. */
int netlock_lock(void);
/* The same, removing the locks named in old (a dump's) once it holds. */
int netlock_lock_replacing(char *const *old, size_t nr_old);
/* Its name ("nft:libcr_d123"), saved with each connection; NULL when none. */
const char *netlock_name(void);
/* Remove it / leave it in place for the restore (forgetting it). */
void netlock_unlock(void);
void netlock_keep(void);
/* Remove a lock a dump left (name from the images). */
int netlock_drop(const char *name);
bool netlock_valid_name(const char *name);
/* Which backend works, for crtool check. */
bool netlock_probe(char *detail, size_t len);
/* The tree's own network namespace is the lock's place: its rules go in there, and
 * no host rule is needed (fd stays the caller's; -1: ours again). */
void netlock_set_netns(int fd);
/* A lock of this name that a restored root took in its new namespace (fd, now
 * ours): netlock_unlock() removes it there. */
void netlock_adopt(int fd);
/* Restore: nested namespace ns_id (fd, now ours), just made, before any socket is
 * in it: its connections' part of the lock, which netlock_unlock() removes. */
int netlock_lock_nested(uint32_t ns_id, int fd);
/* Whether nested namespace ns_id has connections in the lock. */
bool netlock_has_nested(uint32_t ns_id);
/* Whether a lock works inside a new network namespace, for crtool check. */
bool netlock_probe_netns(char *detail, size_t len);

#endif

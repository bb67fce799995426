#ifndef LIB_UTIL_H
#define LIB_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct stat;

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#ifndef PAGE_SIZE
#define PAGE_SIZE 4096UL
#endif
#define PAGE_ALIGN(x) (((x) + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1))

/* Read a whole small file (e.g. under /proc) into a malloc'ed NUL-terminated buffer. */
char *read_file(const char *path, size_t *len);
/* Same, for /proc/<pid>/<name>. */
char *read_proc(pid_t pid, const char *name, size_t *len);
/* Write/read exactly len bytes; -errno on failure, -EIO on a short transfer. */
int write_all(int fd, const void *buf, size_t len);
int read_all(int fd, void *buf, size_t len);
/* Write s into an existing file (a sysctl, a cgroup or /proc control file):
 * 0, or -errno with errno set, for the caller's message. */
int write_file(const char *path, const char *s);
/* readlink into a malloc'ed string. */
char *xreadlink(const char *path);
/* An image's path is what the kernel showed at dump: absolute, no "." or ".."
 * components.  Anything else (e.g. "/dev/../etc/shadow") is hostile. */
bool path_is_clean(const char *path);
void *xzalloc(size_t size);
/* CLOCK_MONOTONIC in milliseconds, for the stats lines. */
double now_ms(void);
/* A file's modification time in nanoseconds, as images keep it. */
uint64_t stat_mtime_ns(const struct stat *st);
/* Is the file's mtime the one the dump saw?  Exactly, or that time in whole
 * seconds: an archive that carried the file to the restore (tar's ustar, podman's
 * rootfs diff) keeps whole seconds only, truncated or rounded to the nearest. */
bool mtime_unchanged(uint64_t dumped_ns, const struct stat *st);

/* sendmsg of len bytes (to addr, when given) with nr fds attached (SCM_RIGHTS,
 * up to 253): the bytes sent, or -1 with errno. */
struct sockaddr;
ssize_t send_fds(int sk, const void *buf, size_t len, const int *fds, int nr, const struct sockaddr *addr,
		 unsigned addr_len, int flags);
/* recvmsg of up to len bytes and at most one fd (-1 in *fd when none came;
 * close-on-exec): what recvmsg returned. */
ssize_t recv_fd(int sk, void *buf, size_t len, int *fd);

/* Fds a restored task keeps for libcr until it jumps into the restorer (libcr's
 * old root, mounts of the restored tree that others cover): each added gets a
 * slot; files_restore moves them above the task's own fds, which may not land
 * on them.  kept_fds_close() closes them all. */
int kept_fd_add(int fd);              /* the slot, or -ENOSPC */
int kept_fd_get(int slot);            /* its fd now, or -1 */
bool kept_fd_is(int fd);
int kept_fds_move_above(int top);     /* 0 or -errno */
void kept_fds_close(void);

/* Paths of libcr's own view (the images dir and its parents) once a restored
 * task has pivot_rooted into its own mount tree: resolved under the old root,
 * a kept fd (host_root_set), instead of the task's root.  Without one set,
 * plain open() and stat(). */
void host_root_set(int fd);
/* Our root now, as the host's, unless one is set already (before a pivot_root or a
 * setns that moves it): 0 or -errno. */
int host_root_keep(void);
int host_open(const char *path, int flags);
int host_stat(const char *path, struct stat *st);

struct sockaddr_un;
/* The abstract unix socket name "\0PREFIX-DEV-INO" of directory dir (a daemon serving
 * that images dir); 0 or -errno with a message. */
int dir_socket_addr(const char *dir, const char *prefix, struct sockaddr_un *sa, unsigned *len);

#endif

#ifndef CRTOOL_H
#define CRTOOL_H

#include <stddef.h>
#include <sys/types.h>

/* One function per subcommand; argv[0] is the subcommand name. */
int cmd_dump(int argc, char **argv);
int cmd_pre_dump(int argc, char **argv);
int cmd_page_server(int argc, char **argv);
int cmd_lazy_pages(int argc, char **argv);
int cmd_migrate(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_exec_pidns(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_show(int argc, char **argv);

/* Print "Error: " and the message (NULL: libcr's last error); returns 1. */
int crtool_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* --manage-cgroups MODE: ignore, soft, full or strict (NULL: soft); -1 if unknown. */
int crtool_cgroup_mode(const char *arg);
/* Set up logging to stderr (or a file) at the given verbosity. */
int crtool_log_setup(int verbosity, const char *log_file);
/* One line into the log file, if there is one (not stderr). */
void crtool_log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

struct cr_external;
/* Parse one --external TYPE[KEY]:VALUE into ext[*nr] (0, or crtool_fail's 1). */
int crtool_external(const char *cmd, const char *arg, struct cr_external *ext, unsigned long *nr, unsigned long max);

/* sendmsg of len bytes with fd attached (SCM_RIGHTS): what sendmsg returned. */
ssize_t crtool_send_fd(int sk, const void *buf, size_t len, int fd, int flags);
/* cr_restore_opts.pts_master for --console-socket PATH (arg: the path): connect,
 * send "/dev/pts/N" with the master attached, hang up.  0, or -1 with a message. */
int crtool_console_socket(void *arg, int master_fd, unsigned index);

#endif

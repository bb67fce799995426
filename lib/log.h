/* Internal logging and error reporting.  pr_err() records the message as the
 * operation's error (the first one wins: it is the root cause) and logs it. */
#ifndef LIB_LOG_H
#define LIB_LOG_H

#include <errno.h>
#include <string.h>
#include "cr/cr.h"

#define CR_EXPORT __attribute__((visibility("default")))

void cr_logf(enum cr_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cr_errf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cr_error_reset(void);
int cr_error_isset(void);
/* ret, after giving a failure (ret < 0) that set no message one naming WHAT and errno:
 * an API call never fails with an empty cr_last_error() */
int cr_error_named(int ret, const char *what);
enum cr_log_level cr_log_level_get(void);

#define pr_err(fmt, ...)   cr_errf(fmt, ##__VA_ARGS__)
#define pr_warn(fmt, ...)  cr_logf(CR_LOG_WARN, fmt, ##__VA_ARGS__)
#define pr_info(fmt, ...)  cr_logf(CR_LOG_INFO, fmt, ##__VA_ARGS__)
#define pr_debug(fmt, ...) do { if (cr_log_level_get() >= CR_LOG_DEBUG) \
		cr_logf(CR_LOG_DEBUG, fmt, ##__VA_ARGS__); } while (0)
/* pr_perror: message plus ": <errno text>", returns -errno for convenience. */
#define pr_perror(fmt, ...) ({ int __e = errno; \
		cr_errf(fmt ": %s", ##__VA_ARGS__, strerror(__e)); -__e; })

#endif

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "log.h"

static cr_log_fn log_fn;
static void *log_user;
static enum cr_log_level log_level = CR_LOG_WARN;
static __thread char last_error[1024];

CR_EXPORT void cr_set_log(cr_log_fn fn, void *user, enum cr_log_level level)
{
	log_fn = fn;
	log_user = user;
	log_level = level;
}

CR_EXPORT const char *cr_last_error(void)
{
	return last_error;
}

CR_EXPORT const char *cr_version(void)
{
	return CR_VERSION;
}

enum cr_log_level cr_log_level_get(void)
{
	return log_fn ? log_level : 0;
}

static void vlog(enum cr_log_level level, const char *fmt, va_list ap)
{
	char msg[1024];

	if (!log_fn || level > log_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	log_fn(level, msg, log_user);
}

void cr_logf(enum cr_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, fmt, ap);
	va_end(ap);
}

void cr_errf(const char *fmt, ...)
{
	va_list ap;

	if (!last_error[0]) {
		va_start(ap, fmt);
		vsnprintf(last_error, sizeof(last_error), fmt, ap);
		va_end(ap);
	}
	va_start(ap, fmt);
	vlog(CR_LOG_ERROR, fmt, ap);
	va_end(ap);
}

void cr_error_reset(void)
{
	last_error[0] = 0;
}

int cr_error_named(int ret, const char *what)
{
	if (ret < 0 && !last_error[0])
		cr_errf("%s failed (%s) without a message saying where: a libcr bug; crtool -v (or the log "
			"callback at debug level) shows the last step", what, strerror(-ret));
	return ret;
}

int cr_error_isset(void)
{
	return last_error[0] != 0;
}

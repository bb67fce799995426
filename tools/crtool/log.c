#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "cr/cr.h"
#include "crtool.h"

static FILE *log_out;

static void log_cb(enum cr_log_level level, const char *msg, void *user)
{
	static const char *tags[] = { "", "Error", "Warn", "Info", "Debug" };
	struct timespec ts;

	(void)user;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	/* Errors reach stderr once, at the end, through crtool_fail(); a log file gets all. */
	if (log_out == stderr && level == CR_LOG_ERROR)
		return;
	fprintf(log_out, "(%ld.%06ld) %s: %s\n", (long)ts.tv_sec, ts.tv_nsec / 1000, tags[level], msg);
	fflush(log_out);
}

int crtool_log_setup(int verbosity, const char *log_file)
{
	enum cr_log_level level = CR_LOG_WARN + verbosity;

	if (log_out && log_out != stderr)
		fclose(log_out);
	log_out = stderr;
	if (log_file) {
		log_out = fopen(log_file, "a");
		if (!log_out) {
			fprintf(stderr, "Error: can't open log file %s: %s\n", log_file, strerror(errno));
			return -1;
		}
		if (level < CR_LOG_DEBUG)
			level = CR_LOG_DEBUG;
	}
	if (level > CR_LOG_DEBUG)
		level = CR_LOG_DEBUG;
	cr_set_log(log_cb, NULL, level);
	return 0;
}

void crtool_log_line(const char *fmt, ...)
{
	va_list ap;

	if (!log_out || log_out == stderr)
		return;
	va_start(ap, fmt);
	vfprintf(log_out, fmt, ap);
	va_end(ap);
	fputc('\n', log_out);
	fflush(log_out);
}

int crtool_fail(const char *fmt, ...)
{
	va_list ap;

	if (!fmt) {
		fprintf(stderr, "Error: %s\n", cr_last_error());
		return 1;
	}
	fputs("Error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

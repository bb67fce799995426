/* crtool check: the kernel features libcr uses, as probed on this machine. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include "cr/cr.h"
#include "crtool.h"

/* Without these, neither dump nor restore works at all; the rest is optional. */
static const char *const required_all[] = {
	"ptrace-seize", "clone3-set-tid", "prctl-mm-map", "prctl-mm-exe", "memfd", "vmsplice",
};
/* --unprivileged: what dump and restore need of the caller's rights */
static const char *const required_unpriv[] = {
	"ptrace-own", "map-files", "clone3-set-tid", "prctl-mm-exe", "prctl-mm-map",
};
static const char *const *required = required_all;
static size_t NR_REQUIRED = sizeof(required_all) / sizeof(required_all[0]);

static bool is_required(const char *name)
{
	for (size_t i = 0; i < NR_REQUIRED; i++)
		if (!strcmp(name, required[i]))
			return true;
	return false;
}

/* A required feature counts as missing when it is false or absent from the table. */
static bool required_ok(const struct cr_feature *f, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(f[i].name, name))
			return f[i].ok;
	return false;
}

static void json_str(const char *s)
{
	putchar('"');
	for (; s && *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c == '\n')
			printf("\\n");
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void print_json(const struct cr_feature *f, int n, const char *release, bool ok)
{
	bool first = true;

	printf("{\n  \"kernel\": ");
	json_str(release);
	printf(",\n  \"features\": [\n");
	for (int i = 0; i < n; i++) {
		printf("    {\"name\": ");
		json_str(f[i].name);
		printf(", \"ok\": %s, \"required\": %s, \"needed_for\": ", f[i].ok ? "true" : "false",
		       is_required(f[i].name) ? "true" : "false");
		json_str(f[i].needed_for);
		printf(", \"detail\": ");
		json_str(f[i].detail);
		printf("}%s\n", i + 1 < n ? "," : "");
	}
	printf("  ],\n  \"ok\": %s,\n  \"missing_required\": [", ok ? "true" : "false");
	for (size_t i = 0; i < NR_REQUIRED; i++) {
		if (required_ok(f, n, required[i]))
			continue;
		printf("%s", first ? "" : ", ");
		json_str(required[i]);
		first = false;
	}
	printf("]\n}\n");
}

static void print_text(const struct cr_feature *f, int n)
{
	int width = 0, nok = 0, nmissing = 0;

	for (int i = 0; i < n; i++)
		if ((int)strlen(f[i].name) > width)
			width = strlen(f[i].name);
	for (int i = 0; i < n; i++) {
		printf("  %-8s %-*s  (needed for: %s)%s%s\n", f[i].ok ? "OK" : "MISSING", width, f[i].name,
		       f[i].needed_for, f[i].detail && f[i].detail[0] ? " " : "", f[i].detail ? f[i].detail : "");
		nok += f[i].ok;
	}
	printf("%d of %d features available", nok, n);
	for (int i = 0; i < n; i++) {
		if (f[i].ok || is_required(f[i].name))
			continue;
		printf("%s%s", nmissing ? ", " : "; missing, optional: ", f[i].name);
		nmissing++;
	}
	printf("\n");
}

static void usage(FILE *out)
{
	fprintf(out, "usage: crtool check [--unprivileged] [--json] [-v]\n"
		     "  Probe every kernel feature libcr uses.  Exit status 0 when everything\n"
		     "  dump and restore need is there, 1 otherwise.\n"
		     "  --unprivileged: what works for the calling user with only\n"
		     "  CAP_CHECKPOINT_RESTORE (and CAP_SYS_PTRACE), operation by operation.\n");
}

int cmd_check(int argc, char **argv)
{
	const struct cr_feature *f;
	struct utsname u;
	char msg[512];
	int verbosity = 0, nmissing = 0, n, len;
	bool json = false, ok = true, unpriv = false;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--unprivileged")) {
			unpriv = true;
		} else if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose")) {
			verbosity++;
		} else if (!strncmp(argv[i], "-v", 2) && strspn(argv[i] + 1, "v") == strlen(argv[i] + 1)) {
			verbosity += strlen(argv[i] + 1);
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "Error: check: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (crtool_log_setup(verbosity, NULL))
		return 1;

	if (unpriv) {
		required = required_unpriv;
		NR_REQUIRED = sizeof(required_unpriv) / sizeof(required_unpriv[0]);
	}
	n = unpriv ? cr_check_unprivileged(&f) : cr_check(&f);
	for (size_t i = 0; i < NR_REQUIRED; i++)
		ok &= required_ok(f, n, required[i]);

	if (json)
		print_json(f, n, uname(&u) ? "" : u.release, ok);
	else
		print_text(f, n);
	fflush(stdout);
	if (ok)
		return 0;

	len = snprintf(msg, sizeof(msg), unpriv ? "unprivileged dump and restore can't work for this user:"
						: "kernel features needed by dump and restore are missing:");
	for (size_t i = 0; i < NR_REQUIRED && len < (int)sizeof(msg); i++) {
		const char *detail = "";

		if (required_ok(f, n, required[i]))
			continue;
		for (int j = 0; j < n; j++)
			if (!strcmp(f[j].name, required[i]) && f[j].detail)
				detail = f[j].detail;
		len += snprintf(msg + len, sizeof(msg) - len, "%s %s%s%s", nmissing++ ? ";" : "", required[i],
				detail[0] ? ": " : "", detail);
	}
	return crtool_fail(msg);
}

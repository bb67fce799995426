/* One target per record image kind (built with -DFUZZ_KIND=IMG_...): the input
 * replaces that image in a copy of a real dump, and the directory is loaded and
 * validated exactly as a restore does before it creates anything.  Every
 * record decoder and validator on the restore path sees hostile bytes.  The
 * dump ($FUZZ_BASE) is counter's, or for a namespace's images that of the
 * program with that namespace (run.sh picks it). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cr/cr.h"
#include "fuzz.h"
#include "image/image.h"
#include "restore.h"

#ifndef FUZZ_KIND
#error "build with -DFUZZ_KIND=IMG_..."
#endif
#define IMG_MOUNTPOINTS IMG_MNTS   /* the target is named after the image's file */

static char name[64];

/* A tmpfs image is named by its mount's id: the base dump's largest (the one
 * with the most files) is replaced. */
static void pick_tmpfs(void)
{
	DIR *d = opendir(fuzz_workdir());
	struct dirent *de;
	off_t best = -1;
	struct stat st;

	while (d && (de = readdir(d)))
		if (!strncmp(de->d_name, "tmpfs-", 6) && !fstatat(dirfd(d), de->d_name, &st, 0) && st.st_size > best) {
			best = st.st_size;
			snprintf(name, sizeof(name), "%s", de->d_name);
		}
	if (d)
		closedir(d);
	if (best < 0) {
		fprintf(stderr, "fuzz: %s holds no tmpfs image (FUZZ_BASE: a dump of ns-mnt)\n", fuzz_workdir());
		exit(2);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_log();
	if (FUZZ_KIND == IMG_TMPFS)
		pick_tmpfs();
	else
		snprintf(name, sizeof(name), img_desc(FUZZ_KIND)->name, fuzz_base_pid());
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_put_image(name, data, size);
	int ret = restore_check_images(fuzz_workdir());

	if (fuzz_verbose())
		fprintf(stderr, "fuzz: %s: restore_check_images: %d %s\n", name, ret, ret ? cr_last_error() : "");
	return 0;
}

/* One target per record image kind (built with -DFUZZ_KIND=IMG_...): the input
 * replaces that image in a copy of a real dump, and the directory is loaded and
 * validated exactly as a restore does before it creates anything.  Every
 * record decoder and validator on the restore path sees hostile bytes. */
#include <stdio.h>
#include "fuzz.h"
#include "image/image.h"
#include "restore.h"

#ifndef FUZZ_KIND
#error "build with -DFUZZ_KIND=IMG_..."
#endif

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_log();
	fuzz_workdir();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char name[64];

	snprintf(name, sizeof(name), img_desc(FUZZ_KIND)->name, fuzz_base_pid());
	fuzz_put(name, data, size);
	restore_check_images(fuzz_workdir());
	return 0;
}

/* crtool show: cr_show_image() on any record image, text or JSON.  The kind is
 * the one whose magic the input carries (so seeds of every kind keep theirs);
 * the input's length picks text or JSON. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "cr/cr.h"
#include "fuzz.h"
#include "image/image.h"

static int null_fd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_log();
	fuzz_workdir();
	null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum img_kind kind = IMG_INVENTORY;
	char name[64], path[160];
	uint32_t magic = 0;

	if (size >= 8)
		memcpy(&magic, data + 4, 4);
	for (int k = 0; k < IMG__NR; k++)
		if (!img_kind_is_raw(k) && img_desc(k)->magic == magic)
			kind = k;
	snprintf(name, sizeof(name), img_desc(kind)->name, 1);
	fuzz_put_image(name, data, size);
	snprintf(path, sizeof(path), "%s/%s", fuzz_workdir(), name);
	cr_show_image(path, size & 1, null_fd);
	return 0;
}

/* The page layer of a restore: the input is pagemap-PID.img of the base dump,
 * and premap_build() maps that dump's areas (its mm image, validated) in a
 * region reserved once, then reads the pagemap runs and fills them from the
 * dump's own pages image, as a restored task does before the restorer. */
#include <stdio.h>
#include <stdlib.h>
#include "cr/cr.h"
#include "fuzz.h"
#include "image/image.h"
#include "kerndat.h"
#include "mem/mem.h"
#include "mem/premap.h"
#include "mem/shmem.h"
#include "restorer-args.h"

static struct img_dir dir = { .dfd = -1 };
static MmEntry *mm;
static uint64_t premap_start;
static struct rst_vma *rv;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct img *img;

	(void)argc;
	(void)argv;
	fuzz_quiet_log();
	if (img_dir_open(&dir, fuzz_workdir()) || !(img = img_open(&dir, IMG_MM, fuzz_base_pid())) ||
	    img_read_one(img, &mm_entry__descriptor, (ProtobufCMessage **)&mm) ||
	    mem_validate(mm, kerndat_get()->task_size) ||
	    premap_reserve(mm, premap_size(mm), kerndat_get()->task_size, &premap_start) ||
	    !(rv = calloc(mm->n_vmas + 1, sizeof(*rv)))) {
		fprintf(stderr, "fuzz: can't set up the base dump's memory: %s\n", cr_last_error());
		exit(2);
	}
	img_close(img);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct shmem_set shm = { 0 };
	char name[64];
	uint32_t nr;
	size_t nr_lazy = 0;

	snprintf(name, sizeof(name), img_desc(IMG_PAGEMAP)->name, fuzz_base_pid());
	fuzz_put_image(name, data, size);
	premap_build(&dir, fuzz_base_pid(), mm, &shm, premap_start, rv, &nr, NULL, &nr_lazy);
	return 0;
}

/* Shared by the libFuzzer targets: a private image directory in tmpfs, seeded
 * from a real dump, into which each input is written as one image file. */
#ifndef TEST_FUZZ_H
#define TEST_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Route libcr's messages (all levels) to nowhere: formatting them is still
 * exercised, printing them would only slow the fuzzer down.  With $FUZZ_VERBOSE
 * set they are printed, and the targets say what they returned (to see that a
 * seed passes, e.g. FUZZ_VERBOSE=1 build/fuzz/fuzz-ns SEED). */
void fuzz_quiet_log(void);
bool fuzz_verbose(void);
/* The base dump ($FUZZ_BASE, default build/fuzz/images/counter) copied into a
 * fresh directory; returns its path.  Exits on failure: nothing to fuzz. */
const char *fuzz_workdir(void);
/* The PID of the base dump's (single) process: its core-PID.img. */
int fuzz_base_pid(void);
/* Replace file name in the work directory by data. */
void fuzz_put(const char *name, const uint8_t *data, size_t size);
/* The same for a record image, with each record's checksum made right first:
 * else nearly every mutation of a record would stop at its checksum, and the
 * decoder and validators behind it would see only the seeds (a wrong checksum
 * is test/unit/image.c's).  Lengths, headers and all else stay as given. */
void fuzz_put_image(const char *name, const uint8_t *data, size_t size);
/* data as a NUL-terminated string (malloc'ed). */
char *fuzz_str(const uint8_t *data, size_t size);

#endif

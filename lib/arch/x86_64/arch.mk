# x86_64: the blobs must not touch SSE/AVX state (it belongs to the task);
# fpu-avx512 assembles AVX-512.
BLOB_ARCH_CFLAGS := -mno-sse -mno-mmx -mno-avx -mno-red-zone
TEST_ARCH_CFLAGS := -mavx512f
